#!/usr/bin/env bash
# CI, machine level: Debian's Chromium (/usr/bin/chromium) for the real-browser tests.  Playwright's
# Python API comes from the [test] extra and must use this browser: never `playwright install` (it
# downloads a browser of its own, which this machine cannot reach).  Without root or apt, this says
# so and the browser tests skip themselves.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "install_browser.sh: no /usr/bin/chromium and no root apt-get; the browser tests will skip" >&2
  fi
fi
