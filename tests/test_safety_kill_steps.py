"""A save that overwrites a checkpoint, stopped after every single file operation.

Four ways of saving over an existing prefix (issue 13 item 2), plus a bare
``write_object_checkpoint`` over a prefix a state file names:

* ``Saver`` without ``global_step``, twice to one prefix (with ``.meta``);
* ``CheckpointManager`` with ``checkpoint_number`` equal to the latest;
* a manager restarted without restoring, which overwrites ``ckpt-1`` (and rotates ``ckpt-2`` away);
* a manager whose writer is ``write_object_checkpoint``, same number twice;
* ``write_object_checkpoint`` alone, over the prefix the ``checkpoint`` file names.

Each save is first run to its end while its file operations are counted (``FileOps`` reports
every write, rename, link and delete).  Then, for every k, a fresh copy of the setup is made
and a forked child runs the save and SIGKILLs itself right after operation k (no cleanup
code runs: a real kill).  After each kill, ``latest_checkpoint`` must name a checkpoint that
reads back -- with and without checksums -- as exactly the old save or exactly the new one,
with its ``.meta`` where the save writes one.  Then a later save in the same directory must
finish or undo what the kill left: no staging, backup or temporary file remains, and every
checkpoint the state file lists reads back whole.

The same saves are also stopped by an ``OSError(ENOSPC)`` after each operation, in process:
then the save either raises and leaves the directory exactly as it was (same files, same
state file bytes), or it had already completed (the error hit the rotation, which only warns).
"""

from __future__ import annotations

import errno
import os
import signal
import warnings

import numpy as np
import pytest
from conftest import slow_params

import tfckpt_lab as tl
from tfckpt_lab.checkpoint import files
from tfckpt_lab.checkpoint.manager import CheckpointManager
from tfckpt_lab.checkpoint.saver import Saver
from tfckpt_lab.checkpoint.state import update_checkpoint_state
from tfckpt_lab.checkpoint.verify import verify_checkpoint
from tfckpt_lab.errors import CheckpointIOError
from tfckpt_lab.fileio import FileOps
from tfckpt_lab.checkpoint.object_writer import write_object_checkpoint

posix_only = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork() and SIGKILL")
LEFTOVER_MARKS = (".tfckpt-new-", ".tfckpt-old-", ".tempstate", ".tmp", ".tfckpt_lab.lock")


def model(step: int) -> dict:
    return {"dense/kernel": np.full((16, 8), step, np.float32), "dense/bias": np.full(8, -step, np.float64),
            "step": np.int64(step), "note": np.array([b"step %d" % step] * 3, dtype=object)}


def tree(step: int) -> dict:
    return {"model": {"kernel": np.full((4, 4), step, np.float32), "bias": np.full(4, step, np.float32)},
            "note": np.array(b"tree %d" % step, dtype=object)}


# -- the scenarios: setup(d) -> action(d) ----------------------------------------------------------

def saver_same_prefix(d):
    saver = Saver(max_to_keep=3)
    saver.save(model(1), os.path.join(d, "model"))
    return lambda: saver.save(model(2), os.path.join(d, "model"))


def manager_same_number(d):
    m = CheckpointManager(d, max_to_keep=2)
    m.save(model(1), checkpoint_number=5)
    return lambda: m.save(model(2), checkpoint_number=5)


def manager_restarted(d):
    m = CheckpointManager(d, max_to_keep=2)
    for _ in range(3):
        m.save(model(1))
    fresh = CheckpointManager(d, max_to_keep=2)  # no restore_or_initialize: counter 0 -> ckpt-1
    return lambda: fresh.save(model(2))


def manager_object_writer(d):
    m = CheckpointManager(d, max_to_keep=2, writer=write_object_checkpoint)
    m.save(tree(1), checkpoint_number=7)
    return lambda: m.save(tree(2), checkpoint_number=7)


def object_checkpoint_alone(d):
    prefix = os.path.join(d, "ckpt")
    write_object_checkpoint(prefix, tree(1))
    update_checkpoint_state(d, prefix)
    return lambda: write_object_checkpoint(prefix, tree(2))


SCENARIOS = [saver_same_prefix, manager_same_number, manager_restarted, manager_object_writer,
             object_checkpoint_alone]
WRITES_META = {saver_same_prefix}


# -- observing and stopping a save ------------------------------------------------------------------

class Stop:
    """Patches FileOps.emit: counts operations, and acts after the k-th one."""

    def __init__(self, monkeypatch, after: int | None, act):
        self.count, self.after, self.act = 0, after, act
        real = FileOps.emit

        def emit(ops, kind, path, dest=None):
            real(ops, kind, path, dest)
            self.count += 1
            if self.count == self.after:
                self.act()

        monkeypatch.setattr(FileOps, "emit", emit)


def read_all(prefix: str, verify: bool) -> dict:
    with tl.load_checkpoint(prefix, verify=verify) as r:
        return {name: np.asarray(r.get_tensor(name)) for name in r.keys()}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and
        (a[k].tolist() == b[k].tolist()) for k in a)


def snapshot(d: str) -> tuple:
    names = sorted(os.listdir(d))
    with open(os.path.join(d, "checkpoint"), "rb") as f:
        state = f.read()
    return names, state


def leftovers(d: str) -> list[str]:
    return [n for n in os.listdir(d) if any(mark in n for mark in LEFTOVER_MARKS)]


def reference(tmp_path, scenario, monkeypatch):
    """Old and new values of the latest checkpoint, and the number of file operations of the save."""
    d = str(tmp_path / "reference")
    os.makedirs(d)
    action = scenario(d)
    old = read_all(tl.latest_checkpoint(d), True)
    with monkeypatch.context() as m:
        stop = Stop(m, None, None)
        action()
    new = read_all(tl.latest_checkpoint(d), True)
    assert not same(old, new) and not leftovers(d)
    return old, new, stop.count


def check_latest(d: str, old: dict, new: dict, meta: bool) -> str:
    latest = tl.latest_checkpoint(d)
    assert latest is not None, f"no latest checkpoint: {sorted(os.listdir(d))}"
    checked = read_all(latest, True)
    unchecked = read_all(latest, False)
    assert same(checked, unchecked), f"{latest}: verify=True and verify=False read different values"
    assert same(checked, old) or same(checked, new), f"{latest} is a mix of two saves"
    if meta:
        assert os.path.exists(latest + ".meta"), f"{latest} has no .meta"
    return "old" if same(checked, old) else "new"


def follow_up_save(d: str, scenario) -> None:
    """A later save in the same directory, which must clean up whatever the kill left."""
    if scenario is saver_same_prefix:
        Saver(max_to_keep=3).save(model(3), os.path.join(d, "model"))
    elif scenario is object_checkpoint_alone:
        CheckpointManager(d, max_to_keep=5, checkpoint_name="ckpt").save(model(3), checkpoint_number=99)
    else:
        writer = write_object_checkpoint if scenario is manager_object_writer else None
        CheckpointManager(d, max_to_keep=3, writer=writer).save(
            tree(3) if writer else model(3), checkpoint_number=50)
    assert not leftovers(d), leftovers(d)
    st = tl.get_checkpoint_state(d)
    for p in st.all_model_checkpoint_paths:
        if os.path.exists(p + ".index"):
            assert verify_checkpoint(p).ok, p


@posix_only
@pytest.mark.parametrize("scenario", slow_params(  # the fast suite kills one scenario; --full kills them all
    SCENARIOS, *[s.__name__ for s in SCENARIOS if s.__name__ != "object_checkpoint_alone"], ids=lambda s: s.__name__))
def test_kill_after_every_file_operation(tmp_path, scenario, monkeypatch):
    monkeypatch.setattr(files, "STALE_TEMP_AGE", 0.0)  # one writer here: debris of a kill is stale at once
    old, new, steps = reference(tmp_path, scenario, monkeypatch)
    outcomes = {"old": 0, "new": 0}
    for k in range(1, steps + 1):
        d = str(tmp_path / f"kill{k}")
        os.makedirs(d)
        action = scenario(d)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads (3.12+)
            pid = os.fork()
        if pid == 0:  # the child: save, and die by SIGKILL right after operation k
            try:
                Stop(monkeypatch, k, lambda: os.kill(os.getpid(), signal.SIGKILL))
                action()
            finally:
                os._exit(3)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (k, status)
        outcomes[check_latest(d, old, new, scenario in WRITES_META)] += 1
        follow_up_save(d, scenario)
    assert outcomes["old"] and outcomes["new"], outcomes
    print(f"{scenario.__name__}: {steps} kills survived; latest was the old save {outcomes['old']} times, "
          f"the new one {outcomes['new']} times")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.__name__ for s in SCENARIOS])
def test_disk_full_after_every_file_operation(tmp_path, scenario, monkeypatch):
    old, new, steps = reference(tmp_path, scenario, monkeypatch)
    raised = completed = 0
    for k in range(1, steps + 1):
        d = str(tmp_path / f"enospc{k}")
        os.makedirs(d)
        action = scenario(d)
        before = snapshot(d)

        def disk_full():
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        with monkeypatch.context() as m, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            Stop(m, k, disk_full)
            try:
                action()
            except CheckpointIOError as exc:
                assert exc.errno == errno.ENOSPC and "No space left" in str(exc)
                raised += 1
                assert snapshot(d) == before, f"step {k}: a failed save changed the directory"
                assert same(read_all(tl.latest_checkpoint(d), False), old)
                continue
        completed += 1  # the error hit the rotation after the save was complete: a warning only
        assert caught and all(issubclass(w.category, RuntimeWarning) for w in caught), [str(w.message) for w in caught]
        assert same(read_all(tl.latest_checkpoint(d), False), new)
        follow_up_save(d, scenario)
    assert raised, (raised, completed)


def test_a_bare_write_cleans_what_killed_writes_of_its_prefix_left(tmp_path, monkeypatch):
    """Temporary files and partial backups of the prefix, once older than swap.STALE_TEMP_AGE."""
    from tfckpt_lab.bundle import swap

    prefix = str(tmp_path / "ckpt")
    write_object_checkpoint(prefix, tree(1))
    debris = ["ckpt.index.tempstate00ff", "ckpt.data-00000-of-00001.tempstate00ff",
              "ckpt.tfckpt-old-0123456789abcdef.data-00000-of-00001"]
    complete = ["ckpt.tfckpt-old-fedcba9876543210.index", "ckpt.tfckpt-old-fedcba9876543210.data-00000-of-00001"]
    others = ["other.index.tempstate00ff", "other.tfckpt-old-0123456789abcdef.data-00000-of-00001"]
    for name in debris + complete + others:
        (tmp_path / name).write_bytes(b"x")
    write_object_checkpoint(prefix, tree(2))  # too young: kept (another write may still be running)
    assert set(debris) <= set(os.listdir(tmp_path))
    monkeypatch.setattr(swap, "STALE_TEMP_AGE", 0.0)
    write_object_checkpoint(prefix, tree(3))
    names = set(os.listdir(tmp_path))
    assert not set(debris) & names and set(complete + others) <= names


@posix_only
@pytest.mark.tf
def test_tensorflow_restores_the_backup_a_killed_replacement_left(tf, tmp_path, monkeypatch):
    """Killed while ckpt-7 is being replaced, the state file names the backup: TensorFlow restores it."""
    ref = str(tmp_path / "reference")
    os.makedirs(ref)
    action = manager_object_writer(ref)
    events = []
    real = FileOps.emit

    def log(ops, kind, path, dest=None):
        real(ops, kind, path, dest)
        events.append((kind, os.path.basename(path), dest and os.path.basename(dest)))

    with monkeypatch.context() as m:
        m.setattr(FileOps, "emit", log)
        action()
    k = next(i + 1 for i, (kind, _, dest) in enumerate(events)
             if kind == "rename" and dest == "checkpoint" and any(e[0] == "link" for e in events[:i]))
    d = str(tmp_path / "killed")
    os.makedirs(d)
    action = manager_object_writer(d)
    pid = os.fork()
    if pid == 0:
        try:
            Stop(monkeypatch, k, lambda: os.kill(os.getpid(), signal.SIGKILL))
            action()
        finally:
            os._exit(3)
    os.waitpid(pid, 0)
    latest = tf.train.latest_checkpoint(d)
    assert ".tfckpt-old-" in latest and latest == tl.latest_checkpoint(d)
    model = tf.train.Checkpoint(kernel=tf.Variable(np.zeros((4, 4), np.float32)),
                                bias=tf.Variable(np.zeros(4, np.float32)))
    root = tf.train.Checkpoint(model=model, note=tf.Variable(b""))
    root.restore(latest).assert_existing_objects_matched()
    assert (model.kernel.numpy() == 1).all() and root.note.numpy() == b"tree 1"
