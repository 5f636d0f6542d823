#!/usr/bin/env bash
# CI: install the tutorial's environment from the file Binder builds from, so the two cannot drift.
# Called by .ci/run (it runs every .ci/install_*.sh) from the repository root, with .venv already made.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/pip install -q -r binder/requirements.txt
