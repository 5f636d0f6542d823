#!/usr/bin/env bash
# The generated protobuf modules must work across the whole protobuf range pyproject.toml declares,
# not only with the newest runtime: rerun the format tests (no TensorFlow, no views) against the
# oldest protobuf and numpy we accept.  Called by .ci/run from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .venv-oldest
python3 -m venv .venv-oldest
.venv-oldest/bin/pip install -q "protobuf==4.21.12" "numpy<2.1" google-crc32c ml_dtypes pytest hypothesis
PYTHONPATH="$PWD" .venv-oldest/bin/python -m pytest -q -p no:cacheprovider -o addopts="" \
  tests/test_golden.py tests/test_roundtrip.py tests/test_errors.py tests/test_sstable.py tests/test_codecs.py
