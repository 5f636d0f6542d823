"""Two writers in one directory are refused; readers ride out a writer's rotations (issue 13 item 11)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import tfckpt_lab as tl
from tfckpt_lab.checkpoint import state as state_mod
from tfckpt_lab.checkpoint.manager import CheckpointManager
from tfckpt_lab.checkpoint.saver import Saver
from tfckpt_lab.checkpoint.transaction import LOCK_FILENAME, DirectoryLock
from tfckpt_lab.cli import main as cli_main
from tfckpt_lab.errors import CheckpointIOError, ConcurrentWriterError

ROOT = Path(__file__).resolve().parent.parent
posix_only = pytest.mark.skipif(os.name != "posix", reason="flock and SIGKILL are POSIX")


def w(step: int) -> dict:
    return {"w": np.full(3, step, np.float32)}


def test_two_managers_in_one_directory(tmp_path):
    a = CheckpointManager(str(tmp_path), max_to_keep=3)
    b = CheckpointManager(str(tmp_path), max_to_keep=3)
    a.save(w(1))
    with pytest.raises(ConcurrentWriterError, match="another writer") as info:
        b.save(w(2))  # would overwrite a's ckpt-1
    assert info.value.path == str(tmp_path / "checkpoint")
    with tl.load_checkpoint(str(tmp_path / "ckpt-1")) as r:
        assert (r["w"] == 1).all()
    a.save(w(3))  # the first writer goes on undisturbed
    assert sorted(os.listdir(tmp_path)) == ["checkpoint", "ckpt-1.data-00000-of-00001", "ckpt-1.index",
                                            "ckpt-2.data-00000-of-00001", "ckpt-2.index"]
    c = CheckpointManager(str(tmp_path), max_to_keep=3)  # a new manager takes the directory over
    c.restore_or_initialize()
    c.save(w(4))
    with pytest.raises(ConcurrentWriterError):
        a.save(w(5))


def test_two_savers_sharing_a_state_file(tmp_path):
    s1, s2 = Saver(max_to_keep=2), Saver(max_to_keep=2)
    s1.save(w(1), str(tmp_path / "model"), global_step=1)
    s2.save(w(2), str(tmp_path / "model"), global_step=2)  # a fresh Saver is a restart: allowed
    with pytest.raises(ConcurrentWriterError):
        s1.save(w(3), str(tmp_path / "model"), global_step=3)
    assert sorted(n for n in os.listdir(tmp_path) if n.endswith(".index")) == ["model-1.index", "model-2.index"]
    s1.recover_last_checkpoints(tl.get_checkpoint_state(str(tmp_path)).all_model_checkpoint_paths)
    s1.save(w(3), str(tmp_path / "model"), global_step=3)  # told what is there: it takes over


def test_state_file_deleted_between_saves_is_not_a_second_writer(tmp_path):
    m = CheckpointManager(str(tmp_path), max_to_keep=2)
    m.save(w(1))
    os.remove(tmp_path / "checkpoint")
    m.save(w(2))
    assert tl.latest_checkpoint(str(tmp_path)).endswith("ckpt-2")


HOLDER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from tfckpt_lab.checkpoint.transaction import DirectoryLock
    lock = DirectoryLock({d!r})
    lock.acquire()
    print("locked", flush=True)
    time.sleep(120)
""")


@posix_only
@pytest.mark.slow
def test_a_save_while_another_process_saves_is_refused_and_a_dead_holder_blocks_nothing(tmp_path):
    m = CheckpointManager(str(tmp_path), max_to_keep=2)
    m.save(w(1))
    assert not (tmp_path / LOCK_FILENAME).exists()  # a clean save leaves no lock file
    holder = subprocess.Popen([sys.executable, "-c", HOLDER.format(root=str(ROOT), d=str(tmp_path))],
                              stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == b"locked"
        before = sorted(os.listdir(tmp_path))
        t = time.perf_counter()
        with pytest.raises(ConcurrentWriterError, match=f"process {holder.pid}"):
            m.save(w(2))
        assert time.perf_counter() - t < 2  # refused at once, never waits
        with pytest.raises(ConcurrentWriterError):
            Saver().save(w(2), str(tmp_path / "model"))
        assert sorted(os.listdir(tmp_path)) == before
        CheckpointManager(str(tmp_path), max_to_keep=2)  # only reads while the other one writes
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        holder.stdout.close()
    assert (tmp_path / LOCK_FILENAME).exists()  # the killed holder's file stays, but its lock died with it
    m.save(w(2))
    assert not (tmp_path / LOCK_FILENAME).exists()


def test_lock_file_is_never_followed_as_a_symlink(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    d = tmp_path / "run"
    d.mkdir()
    (d / LOCK_FILENAME).symlink_to(victim)
    with pytest.raises(CheckpointIOError, match="lock file") as info:
        CheckpointManager(str(d), max_to_keep=1).save(w(1))
    assert info.value.errno == errno.ELOOP and info.value.path == str(d / LOCK_FILENAME)
    assert victim.read_text() == "precious" and sorted(os.listdir(d)) == [LOCK_FILENAME]


def test_lock_taken_on_a_file_its_holder_deleted_is_retaken(tmp_path):
    """Whoever locks checks that the file it locked is still the one at the path."""
    first = DirectoryLock(str(tmp_path))
    first.acquire()
    fd = os.open(first.path, os.O_RDWR)  # a second writer opened the file just before its release
    first.release()
    second = DirectoryLock(str(tmp_path))
    assert second.acquire()
    third = DirectoryLock(str(tmp_path))
    assert not third.acquire(wait_free=False)
    second.release()
    os.close(fd)


def test_latest_checkpoint_rereads_a_state_file_that_changed_under_it(tmp_path, monkeypatch):
    m = CheckpointManager(str(tmp_path), max_to_keep=1)
    m.save(w(1))
    real = state_mod._load_state
    calls = []

    def load_then_writer_moves_on(*a, **k):
        result = real(*a, **k)
        if not calls:  # right after our read, a save names ckpt-2 and rotates ckpt-1 away
            m.save(w(2))
        calls.append(result)
        return result

    monkeypatch.setattr(state_mod, "_load_state", load_then_writer_moves_on)
    assert tl.latest_checkpoint(str(tmp_path)) == str(tmp_path / "ckpt-2")
    assert len(calls) == 2


WRITER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    import numpy as np
    from tfckpt_lab.checkpoint.manager import CheckpointManager
    m = CheckpointManager({d!r}, max_to_keep=1)
    m.save({{"w": np.zeros(200000, np.float32)}})
    print("ready", flush=True)
    i = 0
    while True:
        i += 1
        m.save({{"w": np.full(200000, i, np.float32), "v": np.arange(i % 7 + 1)}})
""")


@posix_only
@pytest.mark.slow
def test_verify_a_directory_while_a_job_saves_into_it(tmp_path, capsys):
    """``tfckpt-lab verify DIR`` while another process saves (max_to_keep=1: every save rotates)."""
    writer = subprocess.Popen([sys.executable, "-c", WRITER.format(root=str(ROOT), d=str(tmp_path))],
                              stdout=subprocess.PIPE)
    codes = []
    try:
        assert writer.stdout.readline().strip() == b"ready"
        deadline = time.time() + 4
        while time.time() < deadline:
            codes.append(cli_main(["verify", str(tmp_path)]))
    finally:
        writer.kill()
        writer.wait()
        writer.stdout.close()
    out = capsys.readouterr()
    assert codes.count(0) == len(codes) >= 10, (codes, out.err[-2000:], out.out[-2000:])
    print(f"verify DIR during saves: {len(codes)} runs, all OK")


@pytest.mark.tf
def test_tensorflow_ignores_our_lock_file(tf, tmp_path):
    m = CheckpointManager(str(tmp_path), max_to_keep=2, writer=tl.write_object_checkpoint)
    m.save({"v": np.float32(3.0)})
    (tmp_path / LOCK_FILENAME).write_text("12345\n")  # what a killed save leaves
    assert tf.train.latest_checkpoint(str(tmp_path)) == str(tmp_path / "ckpt-1")
    v = tf.Variable(0.0)
    tf.train.Checkpoint(v=v).restore(tf.train.latest_checkpoint(str(tmp_path))).assert_existing_objects_matched()
    assert float(v.numpy()) == 3.0
