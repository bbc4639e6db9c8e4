#!/usr/bin/env bash
# Prints the Python 3.11 that `make` builds .venv from.
#
# A distribution's CPython (Debian's /usr/bin/python3.11, say) is built with profile-guided and
# link-time optimisation; a version manager's build (pyenv's default) is not, and with it the web
# workers spend about a fifth more CPU on each vote (bench/README.md). So the distribution's interpreter
# comes first when it can make a virtual environment, then /usr/local's (the official Docker images'
# optimised build), then whatever python3.11 or python3 is on PATH.
# `make PYTHON=/path/to/python3.11 …` chooses another.
set -euo pipefail

usable() {
  "$1" -c 'import sys, ensurepip, venv; sys.exit(sys.version_info[:2] != (3, 11))' >/dev/null 2>&1
}

for candidate in /usr/bin/python3.11 /usr/local/bin/python3.11 python3.11 python3; do
  if command -v "$candidate" >/dev/null && usable "$candidate"; then
    command -v "$candidate"
    exit 0
  fi
done
echo "No Python 3.11 with venv found: install one (Debian: apt-get install python3.11-venv)" >&2
echo python3  # let `python3 -m venv` say what is wrong
