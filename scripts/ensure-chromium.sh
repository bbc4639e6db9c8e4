#!/usr/bin/env bash
# Browser tests drive Debian's Chromium. Install it when missing and we may; otherwise say how.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's chromium for the browser tests…"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
  exit 0
fi
cat >&2 <<'MSG'
Chromium is missing: the browser tests will be skipped.
Install Debian's package as root:   sudo apt-get install -y chromium
(the tests drive /usr/bin/chromium through Playwright; they never download a browser).
MSG
