"""``layout``, ``verify`` and ``inspect`` on the same footing as the other commands (issue 12)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata

import numpy as np
import pytest

import tfckpt_lab as tl


# Each test starts the command-line tool in a new Python process (about a second each).
pytestmark = pytest.mark.slow


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tfckpt_lab", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, "PYTHONWARNINGS": "ignore",
                                        "PYTHONPATH": os.pathsep.join(sys.path)})


def _two_steps(tmp_path):
    saver = tl.Saver()
    for step in (1, 2):
        saver.save({"w": np.full(3, step, np.float32), "b": np.zeros(2)}, str(tmp_path / "run" / "model"),
                   global_step=step)
    return tmp_path / "run"


def test_layout_takes_a_prefix_and_a_directory(tmp_path):
    run = _two_steps(tmp_path)
    prefix = run / "model-2"
    by_prefix = cli("layout", prefix)
    assert by_prefix.returncode == 0, by_prefix.stderr
    heads = [line[3:] for line in by_prefix.stdout.splitlines() if line.startswith("== ")]
    assert heads == [f"{prefix}.index", f"{prefix}.data-00000-of-00001", f"{prefix}.meta"]
    assert f"[0, {os.path.getsize(str(prefix) + '.index')}) file model-2.index" in by_prefix.stdout
    by_dir = cli("layout", run)  # a directory: its latest checkpoint, like inspect and verify
    assert by_dir.returncode == 0 and by_dir.stdout == by_prefix.stdout
    doc = json.loads(cli("layout", run, "--json", "--depth", "1").stdout)
    assert doc["prefix"] == str(prefix) and list(doc["files"]) == heads
    tree = doc["files"][f"{prefix}.data-00000-of-00001"]
    # the Saver writes in name order, as TF's does: b (float64 [2]) before w (float32 [3])
    assert [c["label"] for c in tree["children"]] == ["b", "w"] and tree["end"] == 8 * 2 + 4 * 3
    one = json.loads(cli("layout", f"{prefix}.index", "--json", "--depth", "0").stdout)  # a file: as before
    assert one["kind"] == "file" and one["end"] == os.path.getsize(f"{prefix}.index")


def test_layout_errors_are_one_line(tmp_path):
    run = _two_steps(tmp_path)
    missing = cli("layout", run / "model-7")
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert missing.stderr == f"tfckpt-lab: error: {run / 'model-7'}: no such file, and no checkpoint with this " \
                             "prefix (no model-7.index)\n"
    (tmp_path / "empty").mkdir()
    empty = cli("layout", tmp_path / "empty")
    assert empty.returncode == 1 and "no 'checkpoint' state file" in empty.stderr and "Traceback" not in empty.stderr
    at = cli("layout", run / "model-2", "--at", "3")
    assert at.returncode == 2 and at.stderr.startswith("tfckpt-lab: error: --at needs one file;")
    ok = cli("layout", f"{run / 'model-2'}.index", "--at", "3")
    assert ok.returncode == 0 and ok.stdout.startswith("[0, ")


def test_verify_counts_the_tensors_that_failed_too(tmp_path):
    prefix = str(tmp_path / "m")
    tl.write_bundle(prefix, {"a": np.arange(10, dtype=np.float32), "b": np.ones(3)})
    e = tl.load_checkpoint(prefix).entry("b")
    with open(prefix + ".data-00000-of-00001", "r+b") as f:
        f.seek(e.offset + 1)
        f.write(b"\x07")
    out = cli("verify", prefix)
    assert out.returncode == 1
    last = out.stdout.splitlines()[-1]
    assert last.startswith(f"{prefix}: FAILED (1 problem(s)): 3 index blocks, 2 tensors (failing ones included), ")
    assert json.loads(cli("verify", prefix, "--json").stdout)["tensors_checked"] == 2
    good = str(tmp_path / "g")
    tl.write_bundle(good, {"a": np.zeros(1, np.float32)})
    assert ": OK: 3 index blocks, 1 tensor (failing ones included), " in cli("verify", good).stdout


def _cols(text: str) -> int:
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def test_inspect_header_aligns_with_its_rows(tmp_path):
    import ml_dtypes

    prefix = str(tmp_path / "m")
    tl.write_bundle(prefix, {"a": np.zeros(2, ml_dtypes.float8_e4m3fnuz), "日本語": np.zeros((2, 3)),
                             "cafe\u0301": np.zeros(1, np.complex128), "x\ny": np.zeros(1, np.int8)})
    lines = cli("inspect", prefix).stdout.splitlines()
    assert lines[0].split() == ["name", "dtype", "shape"]
    dtype_col, shape_col = _cols(lines[0][:lines[0].index("dtype")]), _cols(lines[0][:lines[0].index("shape")])
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == {"a", "日本語", "cafe\u0301", "x\\ny"}  # one line each, the newline shown as an escape
    for name, line in rows.items():
        dtype = line.split()[1]
        assert _cols(line[:line.index(dtype, len(name))]) == dtype_col, line
        assert _cols(line[:line.index("[")]) == shape_col, line
