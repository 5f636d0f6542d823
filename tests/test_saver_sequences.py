"""Saver and CheckpointManager replay TensorFlow's save sequences exactly.

The golden records in fixtures/saver_sequences/ were written by
fixtures/make_saver_sequences.py with real TensorFlow (version inside each
file).  Each test replays one sequence with our classes under the same
controlled clock and compares, after every save: the returned prefix, every
file left on disk, the ``checkpoint`` file's text (timestamps included) and the
list of managed checkpoints.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time

import numpy as np
import pytest

from conftest import FIXTURES, declared_fixtures
from tfckpt_lab import CheckpointManager, Saver
from tfckpt_lab.checkpoint.files import meta_graph_filename

SEQ_DIR = FIXTURES / "saver_sequences"
SEQ_FILES = sorted(SEQ_DIR / f"{name}.json" for name in declared_fixtures("make_saver_sequences.py", "SEQUENCES"))


def _generator():
    spec = importlib.util.spec_from_file_location("make_saver_sequences", FIXTURES / "make_saver_sequences.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


GEN = _generator()


def run_ours(seq: dict, root: str, monkeypatch, *, clock_argument: bool = False) -> list[dict]:
    """Replay ``seq`` with tfckpt_lab in ``root`` (the cwd while it runs).

    The controlled clock is ``time.time`` patched, or with ``clock_argument`` the ``clock=``
    argument of ``Saver`` / ``CheckpointManager`` (``time.time`` then says something else).
    """
    clock = {"now": GEN.T0}
    if clock_argument:
        monkeypatch.setattr(time, "time", lambda: 4e9)  # 2096: any use of the real clock would show
    else:
        monkeypatch.setattr(time, "time", lambda: clock["now"])
    timing = {"clock": lambda: clock["now"]} if clock_argument else {}
    monkeypatch.chdir(root)
    base = GEN.run_dir_path(seq, root)
    values = GEN.variable_values()
    out, obj = [], None
    for op in seq["ops"]:
        clock["now"] = op["t"]
        kind = op["op"]
        if kind == "mkdir":
            os.makedirs(os.path.join(root, seq["dir"]), exist_ok=True)
        elif kind == "create":
            obj = (Saver(**seq["options"], **timing) if seq["kind"] == "saver"
                   else CheckpointManager(base, **seq["options"], **timing))
        elif kind == "restore_or_initialize":
            obj.restore_or_initialize()
        elif seq["kind"] == "saver":
            step = op.get("global_step")
            if step is not None and op.get("step_as_array"):
                step = np.asarray(np.int64(step))
            try:
                prefix = obj.save(values, os.path.join(base, op.get("save_path", "model")), global_step=step,
                                  latest_filename=op.get("latest_filename"),
                                  write_state=op.get("write_state", True), write_meta_graph=False)
            except (ValueError, RuntimeError) as exc:
                out.append({"error": type(exc).__name__, "files": GEN.list_files(root)})
                continue
            if op.get("write_meta_graph"):
                # TF writes PREFIX.meta last, after rotating; a stand-in file shows the same life cycle.
                open(meta_graph_filename(prefix), "wb").close()
            out.append(GEN.record(root, seq["dir"], prefix, obj.last_checkpoints, op.get("latest_filename")))
        else:
            prefix = obj.save(values, checkpoint_number=op.get("checkpoint_number"))
            out.append(GEN.record(root, seq["dir"], prefix, obj.checkpoints, save_counter=obj.save_counter))
    return out


def _compare(ours: list[dict], theirs: list[dict]) -> None:
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert a == b, f"save #{i + 1} differs:\nours:   {a}\nTF:     {b}"


def test_fixtures_present():
    assert len(SEQ_FILES) == len(GEN.SEQUENCES)


@pytest.mark.parametrize("path", SEQ_FILES, ids=[p.stem for p in SEQ_FILES])
def test_replay_matches_tensorflow(path, tmp_path, monkeypatch):
    doc = json.loads(path.read_text())
    root = os.path.realpath(tmp_path)
    _compare(run_ours(doc["sequence"], root, monkeypatch), doc["records"])


@pytest.mark.tf
@pytest.mark.slow
@pytest.mark.parametrize("name", ["tf1_hours_gap", "tf1_keep0_rel", "tf1_sharded3",
                                  "tf2_hours_gap", "tf2_reopen", "tf2_sharded3"])
def test_live_against_tensorflow(tf, name, tmp_path, monkeypatch):
    seq = GEN.SEQUENCES_BY_NAME[name]
    (tmp_path / "tf").mkdir()
    (tmp_path / "ours").mkdir()
    theirs = GEN.run_tf(seq, str(tmp_path / "tf"))
    ours = run_ours(seq, os.path.realpath(tmp_path / "ours"), monkeypatch)
    _compare(ours, theirs)
