"""The inspect and verify subcommands, run as a user would (the console script in a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import tfckpt_lab as tl
from conftest import TF_FIXTURES


# Each test starts the command-line tool in a new Python process (about a second each).
pytestmark = pytest.mark.slow


def cli(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "tfckpt_lab", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_inspect_lists_like_tf():
    out = cli("inspect", TF_FIXTURES / "tf1_saver_basic").stdout.splitlines()
    assert out[0].split() == ["name", "dtype", "shape"]
    assert any(line.split()[:2] == ["w1", "float32"] and line.endswith("[2]") for line in out)
    assert any(line.split()[:2] == ["w2", "float32"] and line.endswith("[5]") for line in out)


def test_inspect_json_has_offsets_and_checksums():
    prefix = TF_FIXTURES / "tf1_sharded" / "model-5"
    doc = json.loads(cli("inspect", prefix, "--json").stdout)
    reader = tl.load_checkpoint(prefix)
    assert doc["num_shards"] == 3
    by_name = {t["name"]: t for t in doc["tensors"]}
    assert set(by_name) == set(reader.keys())
    for name, t in by_name.items():
        e = reader.entry(name)
        assert (t["shard"], t["offset"], t["size"], t["crc32c_masked"]) == (e.shard_id, e.offset, e.size, e.crc32c)


def test_inspect_tensor_values():
    proc = cli("inspect", TF_FIXTURES / "tf1_saver_basic", "--tensor", "w2", "--json")
    doc = json.loads(proc.stdout)
    expected = tl.load_checkpoint(TF_FIXTURES / "tf1_saver_basic").get_tensor("w2")
    np.testing.assert_allclose(doc["value"], expected)


def test_inspect_missing_tensor_fails_cleanly():
    proc = cli("inspect", TF_FIXTURES / "tf1_saver_basic", "--tensor", "nope", check=False)
    assert proc.returncode == 1
    assert "no tensor named 'nope'" in proc.stderr and "Traceback" not in proc.stderr


def test_verify_ok_and_broken(tmp_path):
    prefix = tmp_path / "m"
    tl.write_bundle(prefix, {"a": np.arange(100, dtype=np.float32), "b": np.ones(10)})
    assert "OK" in cli("verify", prefix).stdout
    data = tmp_path / "m.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[5] ^= 1
    data.write_bytes(bytes(raw))
    proc = cli("verify", prefix, check=False)
    assert proc.returncode == 1
    assert "ChecksumMismatchError" in proc.stdout and "m.data-00000-of-00001" in proc.stdout


def test_demo_writes_a_checkpoint(tmp_path):
    out = cli("demo", tmp_path / "demo").stdout
    assert "my_test_model-1000" in out
    assert tl.list_variables(tl.latest_checkpoint(tmp_path / "demo") or
                             str(tmp_path / "demo" / "my_test_model-1000")) == [("w1", [2]), ("w2", [5])]


def test_inspect_json_on_a_v1_checkpoint():
    d = TF_FIXTURES.parent / "tf_v1" / "v1_saver_basic"
    doc = json.loads(cli("inspect", d, "--json").stdout)
    names = {t["name"] for t in doc["tensors"]}
    assert names == set(tl.load_checkpoint(d).keys())
    assert all(t["crc32c"] is None for t in doc["tensors"])  # V1 has no tensor checksums


def test_inspect_json_is_strict_json_with_nan_and_inf(tmp_path):
    prefix = tmp_path / "n"
    tl.write_bundle(prefix, {"x": np.array([1.0, np.nan, np.inf, -np.inf], np.float32),
                             "c": np.array([complex(np.nan, 1)], np.complex64)})
    for name, want in [("x", [1.0, "NaN", "Infinity", "-Infinity"]), ("c", {"real": ["NaN"], "imag": [1.0]})]:
        out = cli("inspect", prefix, "--tensor", name, "--json").stdout
        assert "NaN" not in out.replace('"NaN"', "")  # no bare NaN token
        assert json.loads(out, parse_constant=lambda c: pytest.fail(c))["value"] == want
