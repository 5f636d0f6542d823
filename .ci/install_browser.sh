#!/usr/bin/env bash
# CI: Chromium (Debian's package, /usr/bin/chromium) and Playwright's Python API for
# tests/test_browser.py. Playwright must use this Chromium: never `playwright install`
# (it downloads its own browser, which CI machines may not reach). Without root or apt,
# this says so and the browser test skips itself.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "install_browser.sh: no /usr/bin/chromium and no root apt-get; the browser test will skip" >&2
  fi
fi
.venv/bin/pip install -q "playwright>=1.40,<2"
