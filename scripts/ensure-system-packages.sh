#!/usr/bin/env bash
# Some tests drive Debian packages: Chromium (the browser tests) and nginx with openssl (the tested
# deploy/nginx.conf). Install what is missing when we may; otherwise say how.
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium fonts-dejavu-core)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || missing+=(nginx)
command -v openssl >/dev/null || missing+=(openssl)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's ${missing[*]} for the tests…"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  exit 0
fi
cat >&2 <<MSG
Missing for the tests: ${missing[*]}; the tests that need them will be skipped.
Install Debian's packages as root:   sudo apt-get install -y ${missing[*]}
(the browser tests drive /usr/bin/chromium through Playwright and never download a browser; the nginx
test runs nginx as the current user in a temporary folder).
MSG
