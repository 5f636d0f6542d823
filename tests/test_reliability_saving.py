"""Crash-safe saving, deletes that stay in their directory, and readers that outlive rotation.

* A child process saving a ~4 MB model in a loop, in six ways (Saver and CheckpointManager,
  four of them overwriting existing checkpoints), is SIGKILLed at random moments, many times.
  After every kill: ``latest_checkpoint`` is None or a complete checkpoint that loads,
  verifies and holds one save's values (no mix, also read without checksums); every
  checkpoint the state file lists that still has an ``.index`` verifies.  Leftover files are
  ignored by readers and removed by the next save.
* Crafted ``checkpoint`` files (absolute paths, ``..``, symlinks) never make rotation delete a
  file outside the directory; what was refused is reported.
* Several threads share one reader; a reader on an old checkpoint keeps reading while newer
  saves rotate it away (POSIX: open descriptors keep deleted files alive).
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from conftest import TF_FIXTURES, expected_values

import tfckpt_lab as tl
from tfckpt_lab.checkpoint import files
from tfckpt_lab.checkpoint.manager import CheckpointManager
from tfckpt_lab.checkpoint.saver import Saver
from tfckpt_lab.checkpoint.verify import verify_checkpoint
from tfckpt_lab.errors import CheckpointError, UnsafePathError

KILLS = int(os.environ.get("TFCKPT_KILLS", "40"))
TEMP_RE = re.compile(r"\.tempstate[0-9a-f]+|\.tmp[0-9a-f]+$|\.tfckpt-(new|old)-[0-9a-f]{16}")
FOLDERS = ["saver", "manager", "saver_same", "manager_same", "manager_restart", "object_same"]

posix_only = pytest.mark.skipif(os.name != "posix", reason="SIGKILL and unlinking open files are POSIX")


def _step_of(values: dict) -> int:
    [step] = [int(v) for n, v in values.items() if n == "step" or n.endswith("/step/.ATTRIBUTES/VARIABLE_VALUE")]
    return step


def _check_directory(d: str, kind: str):
    """Everything that must hold after a kill; returns (latest's name, its step), or None."""
    if not os.path.isdir(d):
        return None
    latest = tl.latest_checkpoint(d)
    if latest is None:
        st = tl.get_checkpoint_state(d)
        assert st is None or not os.path.exists(st.model_checkpoint_path + ".index"), d
        return None
    report = verify_checkpoint(latest)
    assert report.ok, f"latest {latest} does not verify: {[str(p) for p in report.problems]}"
    steps = set()
    for verify in (True, False):  # a torn checkpoint read without checksums must not look whole either
        with tl.load_checkpoint(latest, verify=verify) as r:
            values = {n: r[n] for n in r.keys()}
        step = _step_of(values)
        steps.add(step)
        for name, v in values.items():
            if np.asarray(v).dtype.kind == "f":
                assert (np.asarray(v) == step).all(), f"{latest} (verify={verify}): {name} mixes saves"
                if name.startswith("a_pad") or "/a_pad/" in name:
                    assert np.asarray(v).shape == (step % 5 + 1,), f"{latest}: a_pad of another save"
    assert len(steps) == 1, f"{latest}: verify=True and verify=False read different saves"
    if kind in ("saver", "saver_same"):
        assert os.path.exists(latest + ".meta"), latest
    if kind == "saver":
        assert latest.endswith(f"-{step}") or ".tfckpt-old-" in latest, latest
    state = tl.get_checkpoint_state(d)
    for p in state.all_model_checkpoint_paths:
        if os.path.exists(p + ".index"):
            rep = verify_checkpoint(p)
            assert rep.ok, f"listed {p} has an index but does not verify: {[str(x) for x in rep.problems]}"
    return os.path.basename(latest), step


def _leftovers(root: str) -> list[str]:
    out = []
    for sub in FOLDERS:
        d = os.path.join(root, sub)
        if os.path.isdir(d):
            out += [n for n in os.listdir(d) if TEMP_RE.search(n)]
    return out


def _moment(names: list[str]) -> str:
    """Which step of a save the kill interrupted, judged by the files it left."""
    if not names:
        return "between files (no temporary file left)"
    kinds = set()
    for n in names:
        if ".tfckpt-old-" in n:
            kinds.add("replacing a checkpoint (backup present)")
        elif ".tfckpt-new-" in n:
            kinds.add("writing the new checkpoint (staging)")
        elif n.startswith("checkpoint.tmp"):
            kinds.add("writing the state file")
        else:
            kinds.add("writing a file")
    return "while " + " + ".join(sorted(kinds))


def _wait_ready(child, timeout: float = 120.0) -> None:
    """Wait for the child's "ready" line (imports and recovery done), however loaded the machine is."""
    import select

    ready, _, _ = select.select([child.stdout], [], [], timeout)
    line = child.stdout.readline() if ready else b""
    if line.strip() != b"ready":
        child.kill()
        child.wait()
        pytest.fail(f"child did not get ready: {child.stderr.read().decode()[-2000:]}")


@posix_only
@pytest.mark.slow
def test_sigkill_during_saves_never_breaks_the_latest_checkpoint(tmp_path):
    """Random SIGKILLs of a child saving in six ways, four of them over existing checkpoints."""
    rng = random.Random(8)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    moments = Counter()
    seen = {name: [] for name in FOLDERS}
    t0 = time.time()
    for i in range(KILLS):
        child = subprocess.Popen([sys.executable, str(Path(__file__).parent / "crash_child.py"), str(tmp_path)],
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _wait_ready(child)
        time.sleep(rng.uniform(0.0, 1.5))
        if child.poll() is not None:
            pytest.fail(f"child exited by itself: {child.stderr.read().decode()[-2000:]}")
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stderr.close()
        child.stdout.close()
        moments[_moment(_leftovers(str(tmp_path)))] += 1
        for name in FOLDERS:
            found = _check_directory(str(tmp_path / name), name)
            if found is not None:
                seen[name].append(found[1])
    # One more run that is allowed to finish a save: it clears the debris of the kills.
    child = subprocess.Popen([sys.executable, str(Path(__file__).parent / "crash_child.py"), str(tmp_path)],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_ready(child)
    time.sleep(1.0)
    child.send_signal(signal.SIGSTOP)  # freeze it between two file operations, not inside one
    before = set(_leftovers(str(tmp_path)))
    child.kill()
    child.wait()
    child.stdout.close()
    child.stderr.close()
    for name, steps in seen.items():
        assert steps == sorted(steps), f"{name}: the latest checkpoint went backwards: {steps}"
    assert len(seen["saver"]) > KILLS // 2 and seen["saver"][-1] > KILLS // 2, "the child hardly ever saved"
    lines = [f"kills: {KILLS} in {time.time() - t0:.0f} s, all survived; latest Saver step after the last "
             f"kill: {seen['saver'][-1]}",
             *(f"  {n:3d}  killed {m}" for m, n in moments.most_common()),
             f"temporary files left at the end (of the save in progress only): {sorted(before)}"]
    (tmp_path / "kill_during_save.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    assert len(before) <= 8, f"temporary files pile up: {sorted(before)}"


def test_stale_temp_files_are_removed_fresh_ones_kept(tmp_path):
    d = str(tmp_path)
    stale = ["model-3.index.tempstate0123456789abcdef", "model-3.data-00000-of-00001.tempstate0123456789abcdef",
             "model-4.meta.tmp1234", "checkpoint.tmp" + "a" * 32]
    unrelated = ["model-3.index", "other-3.index.tempstate0123456789abcdef", "notes.tmp1", "model-3.indexx"]
    for n in stale + unrelated:
        Path(d, n).write_bytes(b"x")
    old = time.time() - 3600
    for n in stale + unrelated:
        os.utime(os.path.join(d, n), (old, old))
    fresh = "model-5.index.tempstate00000000000000ff"
    Path(d, fresh).write_bytes(b"x")
    Saver(max_to_keep=2).save({"w": np.zeros(2, np.float32)}, os.path.join(d, "model"), global_step=6,
                              write_meta_graph=False)
    left = set(os.listdir(d))
    assert not left & set(stale)
    assert set(unrelated) <= left and fresh in left  # a save younger than a minute may still be running


# -- deletes stay in their lane ---------------------------------------------------------------

def _victims(outside: Path) -> list[Path]:
    outside.mkdir(parents=True, exist_ok=True)
    out = []
    for n in ("ckpt-1", "ckpt-2", "model-1", "model-2"):
        tl.write_bundle(str(outside / n), {"precious": np.ones(3, np.float32)})
        (outside / (n + ".meta")).write_bytes(b"meta")
        out += [outside / (n + ".index"), outside / (n + ".data-00000-of-00001"), outside / (n + ".meta")]
    return out


def _crafted_state(d: Path, outside: Path, stem: str) -> None:
    (d / "link").symlink_to(outside, target_is_directory=True)
    paths = [str(outside / f"{stem}-1"), f"../{outside.name}/{stem}-2", f"link/{stem}-1", f"{stem}-9"]
    text = f'model_checkpoint_path: "{stem}-9"\n' + "".join(f'all_model_checkpoint_paths: "{p}"\n' for p in paths)
    text += "".join("all_model_checkpoint_timestamps: 1.0\n" for _ in paths)
    (d / "checkpoint").write_text(text)


@posix_only
def test_manager_never_deletes_outside_its_directory(tmp_path):
    outside = tmp_path / "outside"
    victims = _victims(outside)
    d = tmp_path / "run"
    d.mkdir()
    _crafted_state(d, outside, "ckpt")
    with pytest.warns(RuntimeWarning, match="outside"):
        manager = CheckpointManager(str(d), max_to_keep=1)
    assert len(manager.refused) == 3 and all("ckpt-" in p for p in manager.refused)
    for step in range(4):
        manager.save({"w": np.full(2, step, np.float32)})
    for v in victims:
        assert v.exists(), f"{v} was deleted"
    assert [os.path.basename(p) for p in manager.checkpoints] == ["ckpt-4"]
    st = tl.get_checkpoint_state(str(d))
    from tfckpt_lab.checkpoint.state import confine_to_directory

    with pytest.warns(RuntimeWarning):
        assert confine_to_directory(_reload_crafted(d, outside), str(d)).refused


def _reload_crafted(d: Path, outside: Path):
    _crafted_state_text = (d / "checkpoint").read_text()
    (d / "checkpoint").write_text(_crafted_state_text.replace('"ckpt-4"', f'"{outside}/ckpt-2"', 1)
                                  + f'all_model_checkpoint_paths: "{outside}/ckpt-2"\n')
    return tl.get_checkpoint_state(str(d))


@posix_only
def test_saver_recovering_a_crafted_state_never_deletes_outside(tmp_path):
    outside = tmp_path / "outside"
    victims = _victims(outside)
    d = tmp_path / "run"
    d.mkdir()
    _crafted_state(d, outside, "model")
    saver = Saver(max_to_keep=1)
    saver.recover_last_checkpoints(tl.get_checkpoint_state(str(d)).all_model_checkpoint_paths)
    with pytest.warns(RuntimeWarning, match="not deleting"):
        for step in range(1, 6):
            saver.save({"w": np.full(2, step, np.float32)}, str(d / "model"), global_step=step)
    for v in victims:
        assert v.exists(), f"{v} was deleted"
    # TF1 deletes at most one queued checkpoint per save: the 3 refused ones used up 3 turns.
    assert os.path.exists(str(d / "model-5.index")) and not os.path.exists(str(d / "model-1.index"))


def test_remove_checkpoint_refuses_paths_outside(tmp_path):
    outside = tmp_path / "outside"
    victims = _victims(outside)
    d = tmp_path / "run"
    d.mkdir()
    for p in [str(outside / "ckpt-1"), str(d / ".." / "outside" / "ckpt-1"), "..", ""]:
        with pytest.raises(UnsafePathError):
            files.remove_checkpoint(p, directory=str(d))
    assert all(v.exists() for v in victims)


# -- concurrency --------------------------------------------------------------------------------

def test_threads_share_one_reader():
    expected = expected_values("savev2_dtypes")
    with tl.load_checkpoint(str(TF_FIXTURES / "savev2_dtypes" / "bundle")) as r:
        names = list(expected)

        def read(i):
            key = names[i % len(names)]
            v = np.asarray(r.get_tensor(key.decode("utf-8", "backslashreplace")))
            return key, v

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(read, range(len(names) * 20)))
    for key, v in results:
        e = np.asarray(expected[key])
        if e.dtype == object:
            assert [bytes(x) for x in v.reshape(-1)] == [bytes(x) for x in e.reshape(-1)]
        else:
            assert v.tobytes() == e.tobytes() and v.shape == e.shape


def test_threads_share_one_reader_on_a_multiblock_index():
    prefix = str(TF_FIXTURES / "savev2_multiblock" / "bundle")
    with tl.load_checkpoint(prefix) as r:
        names = sorted(r.keys())
        truth = {n: r[n].tobytes() for n in names[::97]}
    with tl.load_checkpoint(prefix) as r:  # fresh reader: threads race to fill its block cache
        def read(n):
            return n, r[n].tobytes()

        with ThreadPoolExecutor(8) as pool:
            got = list(pool.map(read, list(truth) * 10))
    assert all(truth[n] == b for n, b in got)


@posix_only
def test_reader_on_an_old_checkpoint_survives_rotation(tmp_path):
    manager = CheckpointManager(str(tmp_path), max_to_keep=1)
    first = manager.save({"w": np.full(1000, 1.0, np.float32), "v": np.arange(10)})
    reader = tl.load_checkpoint(first)
    assert reader["w"][0] == 1.0  # data shard now open (shards are opened on first use)
    lazy = tl.load_checkpoint(first)  # index open, data shard not yet opened
    for step in range(2, 5):
        manager.save({"w": np.full(1000, float(step), np.float32), "v": np.arange(10)})
    assert not os.path.exists(first + ".index")  # rotated away
    # The open descriptors keep the deleted files' bytes: same values, checksums still match.
    assert (reader["w"] == 1.0).all() and (reader["v"] == np.arange(10)).all()
    with pytest.raises(CheckpointError):  # never wrong values: a clear "file not found"
        lazy["w"]
    reader.close()
    lazy.close()


@pytest.mark.slow
def test_reader_during_concurrent_saves_sees_whole_checkpoints(tmp_path):
    """A thread reads the latest checkpoint while another keeps saving and rotating."""
    import threading

    manager = CheckpointManager(str(tmp_path), max_to_keep=2)
    manager.save({"w": np.full(50_000, 0.0, np.float32)})
    stop = threading.Event()
    errors: list[BaseException] = []

    def saver():
        step = 0
        while not stop.is_set():
            step += 1
            manager.save({"w": np.full(50_000, float(step), np.float32)})

    t = threading.Thread(target=saver)
    t.start()
    reads = 0
    try:
        deadline = time.time() + 3
        while time.time() < deadline:
            latest = tl.latest_checkpoint(str(tmp_path))
            if latest is None:  # the state named a checkpoint rotated away before we looked
                continue
            try:
                with tl.load_checkpoint(latest) as r:
                    w = r["w"]
                    assert (w == w[0]).all(), "a torn checkpoint"
                    reads += 1
            except CheckpointError:
                pass  # rotated away between latest_checkpoint() and opening it: a clear error
            except AssertionError as exc:
                errors.append(exc)
    finally:
        stop.set()
        t.join()
    assert not errors, errors
    assert reads > 5
