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
TF_FIXTURES = FIXTURES / "tf"

HAVE_TF = importlib.util.find_spec("tensorflow") is not None


def pytest_collection_modifyitems(config, items):
    """Tests marked ``tf`` are skipped cleanly when TensorFlow is not installed."""
    if HAVE_TF:
        return
    skip = pytest.mark.skip(reason="TensorFlow is not installed (pip install 'tfckpt-lab[tf]')")
    for item in items:
        if "tf" in item.keywords:
            item.add_marker(skip)


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
