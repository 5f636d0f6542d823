#!/usr/bin/env bash
# CI: a second environment of the ipywidgets 7 era, the one Google Colab ships (ipywidgets 7.7 with
# its own widget manager), for tests/test_ipywidgets7.py:
#   * the tutorial notebooks run in a kernel of this venv (ipywidgets 7.7, ipykernel 6);
#   * classic Notebook 6.4 (its own Tornado server; 6.5 runs on nbclassic and fails to start with the
#     current jupyter_server) with widgetsnbextension 3.6 serves one notebook of our widgets to Chromium.
# Called by .ci/run (it runs every .ci/install_*.sh) from the repository root. The venv's place can
# be changed with TFCKPT_LAB_IPYWIDGETS7_VENV (the tests read the same variable).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${TFCKPT_LAB_IPYWIDGETS7_VENV:-.venv-ipywidgets7}"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
# tfckpt_lab's own dependencies and [views] extra, but with ipywidgets 7.7 instead of 8.
"$venv/bin/pip" install -q \
  "numpy>=1.24,<3" "protobuf>=4.21,<8" "google-crc32c>=1.5,<2" "ml_dtypes>=0.3,<1" "cramjam>=2.7,<3" \
  "matplotlib>=3.7,<4" "anywidget>=0.9,<0.12" \
  "ipywidgets==7.7.*" "widgetsnbextension==3.6.*" "ipykernel>=6.25,<7" "notebook==6.4.*"
# tfckpt_lab itself is not installed here: the tests put this checkout on the kernel's PYTHONPATH,
# so the code under test is always the checkout's.
"$venv/bin/python" -c "import ipywidgets, anywidget; assert ipywidgets.__version__.startswith('7.7'), ipywidgets.__version__"
