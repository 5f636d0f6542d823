"""``tfckpt-lab verify`` reports every problem in one run, with file and byte range, and exits non-zero."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from tfckpt_lab.bundle.reader import BundleReader
from tfckpt_lab.bundle.writer import write_bundle
from tfckpt_lab.cli import main


def _two_tensor_checkpoint(tmp_path) -> tuple[str, dict]:
    prefix = str(tmp_path / "model")
    write_bundle(prefix, {"a": np.arange(100, dtype=np.float32), "b": np.arange(50, dtype=np.int64),
                          "c": np.ones(10, np.float32)})
    with BundleReader(prefix) as r:
        entries = {e.name: e for e in r.entries().values()}
    return prefix, entries


def _flip(path: str, pos: int) -> None:
    raw = bytearray(Path(path).read_bytes())
    raw[pos] ^= 0x10
    Path(path).write_bytes(bytes(raw))


def test_two_corrupted_tensors_both_reported(tmp_path, capsys):
    prefix, e = _two_tensor_checkpoint(tmp_path)
    data = prefix + ".data-00000-of-00001"
    _flip(data, e["a"].offset + 7)
    _flip(data, e["c"].offset + 3)
    assert main(["verify", prefix]) == 1
    out = capsys.readouterr().out
    problems = [line for line in out.splitlines() if line.startswith("PROBLEM")]
    assert len(problems) == 2, out
    assert f"{data} [{e['a'].offset}, {e['a'].end})" in problems[0] and "'a'" in problems[0]
    assert f"{data} [{e['c'].offset}, {e['c'].end})" in problems[1] and "'c'" in problems[1]
    assert "FAILED (2 problem(s))" in out


def test_index_and_data_damage_both_reported_as_json(tmp_path, capsys):
    prefix, e = _two_tensor_checkpoint(tmp_path)
    data = prefix + ".data-00000-of-00001"
    index = prefix + ".index"
    _flip(data, e["b"].offset)
    size = os.path.getsize(index)
    _flip(index, size - 48 + 30)  # footer padding: no read depends on it, verify still flags it
    assert main(["verify", "--json", prefix]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    by_file = {(os.path.basename(p["path"]), p["kind"]): p for p in report["problems"]}
    tensor = by_file[("model.data-00000-of-00001", "ChecksumMismatchError")]
    assert (tensor["start"], tensor["end"]) == (e["b"].offset, e["b"].end) and tensor["affects_values"]
    footer = by_file[("model.index", "MalformedError")]
    assert footer["start"] == size - 48 + 30 and footer["affects_values"] is False


def test_clean_checkpoint_exits_zero(tmp_path, capsys):
    prefix, _ = _two_tensor_checkpoint(tmp_path)
    assert main(["verify", prefix]) == 0
    assert ": OK:" in capsys.readouterr().out


def test_missing_shard_and_bad_tensor_in_one_run(tmp_path, capsys):
    prefix = str(tmp_path / "m")
    write_bundle(prefix, {"x": np.zeros(3, np.float32), "y": np.ones(3, np.float32)}, num_shards=2)
    os.remove(prefix + ".data-00001-of-00002")  # y's shard
    _flip(prefix + ".data-00000-of-00002", 2)  # inside x
    assert main(["verify", "--json", prefix]) == 1
    report = json.loads(capsys.readouterr().out)
    found = {(os.path.basename(p["path"]), p["kind"]) for p in report["problems"]}
    assert ("m.data-00000-of-00002", "ChecksumMismatchError") in found
    assert ("m.data-00001-of-00002", "CheckpointNotFoundError") in found
