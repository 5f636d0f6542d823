"""Shared test helpers: fixture locations and the TensorFlow / browser skips."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def artifacts_dir() -> Path:
    """Where tests leave figures, screenshots and logs for a person to look at afterwards.

    ``$TFCKPT_LAB_ARTIFACTS`` if set, else a folder under the system's temporary directory:
    never the checkout, never the home folder.
    """
    import tempfile

    d = Path(os.environ.get("TFCKPT_LAB_ARTIFACTS") or Path(tempfile.gettempdir()) / "tfckpt_lab-test-artifacts")
    d.mkdir(parents=True, exist_ok=True)
    return d
TF_FIXTURES = FIXTURES / "tf"

HAVE_TF = importlib.util.find_spec("tensorflow") is not None


def pytest_addoption(parser):
    parser.addoption("--full", action="store_true", default=False,
                     help="also run the tests marked 'slow' (notebooks, browsers, kill tests, long walks); "
                          "plain 'pytest' runs the fast suite a contributor reruns while editing")


def pytest_report_header(config):
    if not config.getoption("--full"):
        return "fast suite: tests marked 'slow' are not run (pytest --full runs everything)"
    return None


def pytest_collection_modifyitems(config, items):
    """Without ``--full``, tests marked ``slow`` or ``tf`` are deselected (the fast suite).

    Tests marked ``tf`` are skipped cleanly when TensorFlow is not installed.

    Real-browser tests (marked ``browser``) drive JupyterLab in Chromium, and ``timing`` tests
    compare wall-clock times; on a shared, sometimes loaded machine either can be slow once,
    so they are retried up to twice (pytest-rerunfailures) rather than failing the whole run.
    A real regression fails all three attempts.  Every other test runs once.
    """
    if not config.getoption("--full"):
        # Tests against real TensorFlow pay for importing it (seconds): they count as slow too.
        slow = [item for item in items if "slow" in item.keywords or "tf" in item.keywords]
        if slow:
            config.hook.pytest_deselected(items=slow)
            items[:] = [item for item in items if "slow" not in item.keywords]
    have_rerun = config.pluginmanager.hasplugin("rerunfailures")
    skip = pytest.mark.skip(reason="TensorFlow is not installed (pip install 'tfckpt-lab[tf]')")
    for item in items:
        if not HAVE_TF and "tf" in item.keywords:
            item.add_marker(skip)
        if have_rerun and ("browser" in item.keywords or "timing" in item.keywords):
            item.add_marker(pytest.mark.flaky(reruns=2, reruns_delay=5))


@pytest.fixture(scope="session")
def tf():
    """The real TensorFlow module (tests using it should also be marked ``@pytest.mark.tf``)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if not HAVE_TF:
        pytest.skip("TensorFlow is not installed")
    import tensorflow

    return tensorflow


def fixture_cases() -> list[str]:
    return sorted(p.name for p in TF_FIXTURES.iterdir() if (p / "expected.json").exists()) if TF_FIXTURES.exists() else []


def load_expected(case: str) -> dict:
    return json.loads((TF_FIXTURES / case / "expected.json").read_text())


def b64(s: str) -> bytes:
    return base64.b64decode(s)


def assert_same_tensor(actual, expected) -> None:
    """Equal values, dtype and shape; NaNs equal; string tensors compared element by element."""
    a = np.asarray(actual) if not isinstance(actual, bytes) else np.array(actual, dtype=object)
    e = np.asarray(expected) if not isinstance(expected, bytes) else np.array(expected, dtype=object)
    assert a.shape == e.shape, (a.shape, e.shape)
    if e.dtype == object:
        assert [bytes(x) for x in a.reshape(-1)] == [bytes(x) for x in e.reshape(-1)]
        return
    assert a.dtype == e.dtype, (a.dtype, e.dtype)
    assert a.tobytes() == e.tobytes()


def decode_name(name: str) -> bytes:
    """Fixture JSON names: UTF-8 text, or ``b64:<base64>`` for names that are not UTF-8."""
    return b64(name[4:]) if name.startswith("b64:") else name.encode("utf-8")


def _typed(arr: np.ndarray, tf_dtype: str) -> np.ndarray:
    """Undo the fixtures' raw unsigned-int storage of ml_dtypes types."""
    from tfckpt_lab import dtypes as dt

    want = next((dt.numpy_dtype(n) for n in dt.ALL_DATATYPES if dt.dtype_name(n) == tf_dtype), None)
    if want is not None and want != object and want != arr.dtype:
        return arr.view(want)
    return arr


def _strings(spec: dict) -> np.ndarray:
    flat = [b64(s) for s in spec["elements_b64"]]
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(spec["shape"])


def expected_values(case: str, which: dict | None = None, npz: str = "values.npz") -> dict[bytes, np.ndarray]:
    """Tensor values as TensorFlow's own reader returned them, keyed by raw name."""
    exp = which or load_expected(case)
    case_dir = TF_FIXTURES / case
    out: dict[bytes, np.ndarray] = {}
    if "stacked_values" in exp:
        stacked = np.load(case_dir / npz)["all"]
        for i, (name, _shape) in enumerate(exp["list_variables"]):
            out[decode_name(name)] = stacked[i]
        return out
    values = np.load(case_dir / npz) if (case_dir / npz).exists() else {}
    for name, t in exp["tensors"].items():
        if "read_error" in t:  # TF's reader refused it (e.g. a partitioned variable saved only in part)
            continue
        if "strings" in t:
            out[decode_name(name)] = _strings(t["strings"])
        else:
            arr = values[t["values"].split(":", 1)[1]]
            out[decode_name(name)] = _typed(arr, t["dtype"])
    return out


def save_order_inputs(case: str) -> list[tuple[bytes, np.ndarray]]:
    """The tensors, in the order they were passed to TF's SaveV2, for byte-exact writer tests."""
    exp = load_expected(case)
    case_dir = TF_FIXTURES / case
    inputs = np.load(case_dir / "inputs.npz") if (case_dir / "inputs.npz").exists() else {}
    out = []
    for i, item in enumerate(exp["save_order"]):
        if isinstance(item, str):  # big cases: a list of names sharing save_order_common
            out.append((decode_name(item), _typed(np.asarray(inputs["all"][i]),
                                                  exp["save_order_common"]["tf_dtype"])))
            continue
        name = b64(item["name_b64"]) if "name_b64" in item else decode_name(item["name"])
        if "strings" in item:
            out.append((name, _strings(item["strings"])))
            continue
        arr = inputs[item["values"].split(":", 1)[1]]
        out.append((name, _typed(np.asarray(arr), item["tf_dtype"])))
    return out


# -- real-browser tests ----------------------------------------------------------------------
CHROMIUM = os.environ.get("TFCKPT_LAB_CHROMIUM", "/usr/bin/chromium")
# As root on a machine whose network reaches only package registries: no sandbox, no GPU, and no
# background connections (Chromium would otherwise retry unreachable Google hosts).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def playwright_or_skip(*modules: str):
    """Playwright's sync API, after skipping cleanly unless Debian's Chromium and ``modules`` are there."""
    if not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set TFCKPT_LAB_CHROMIUM)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    for m in ("jupyterlab", *modules):
        pytest.importorskip(m)
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")  # never download a browser of its own
    return sync_api


def launch_chromium(playwright, profile_dir, *, width: int = 1400, height: int = 1000):
    """A headless Chromium context with a new, empty profile, using Debian's browser."""
    return playwright.chromium.launch_persistent_context(
        str(profile_dir), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        viewport={"width": width, "height": height})
