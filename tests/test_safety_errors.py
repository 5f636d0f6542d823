"""Clear errors instead of raw OS errors and tracebacks; a blank state file is "no state" (issue 13 item 9).

Permission tests need a user the kernel checks: as root (which bypasses file permissions) they
run in a forked child that first switches to ``nobody``; every module they need is imported
before the switch.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile

import numpy as np
import pytest

import tfckpt_lab as tl
from tfckpt_lab.checkpoint.manager import CheckpointManager
from tfckpt_lab.checkpoint.saver import Saver
from tfckpt_lab.cli import main as cli_main
from tfckpt_lab.errors import (
    CheckpointError,
    CheckpointIOError,
    CheckpointNotFoundError,
    CheckpointPermissionError,
)

posix_only = pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX permissions and fork()")
NOBODY = 65534


@pytest.fixture
def shared_dir():
    """A temporary folder another user can reach (tmp_path's parents are private to root)."""
    d = tempfile.mkdtemp(prefix="tfckpt-safety-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def as_unprivileged(fn):
    """Run ``fn()`` where permissions apply; return (exit code, stdout, stderr, exception repr)."""
    if os.geteuid() != 0:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                return fn(), out.getvalue(), err.getvalue(), None
            except BaseException as exc:  # noqa: BLE001
                return None, out.getvalue(), err.getvalue(), exc
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        code, exc = 0, None
        out, err = io.StringIO(), io.StringIO()
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = fn()
        except BaseException as e:  # noqa: BLE001
            exc = e
        import pickle

        try:
            payload = pickle.dumps((code, out.getvalue(), err.getvalue(), exc))
        except Exception:  # noqa: BLE001 - an exception that does not pickle: send its repr
            payload = pickle.dumps((code, out.getvalue(), err.getvalue(), RuntimeError(repr(exc))))
        os.write(w, payload)
        os._exit(0)
    os.close(w)
    chunks = []
    while True:
        chunk = os.read(r, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(r)
    os.waitpid(pid, 0)
    import pickle

    return pickle.loads(b"".join(chunks))


def warm_up(d):
    """Import everything the CLI and readers use, before a child drops privileges."""
    import gettext  # noqa: F401  (argparse)
    import locale  # noqa: F401

    p = os.path.join(d, "warm", "m")
    Saver().save({"w": np.zeros(2)}, p, write_meta_graph=True)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for cmd in (["inspect", p], ["verify", p], ["layout", p + ".index"], ["meta", p], ["objects", p]):
            cli_main(cmd)
    with tl.load_checkpoint(p) as r:
        r["w"]


@posix_only
def test_permission_denied_is_our_error_with_the_path(shared_dir):
    warm_up(shared_dir)
    prefix = os.path.join(shared_dir, "ck", "model")
    tl.write_bundle(prefix, {"w": np.arange(3.0)})
    os.chmod(prefix + ".data-00000-of-00001", 0o600)

    def read():
        with tl.load_checkpoint(prefix) as r:
            r["w"]

    _, _, _, exc = as_unprivileged(read)
    assert isinstance(exc, CheckpointPermissionError) and isinstance(exc, PermissionError)
    assert exc.path == prefix + ".data-00000-of-00001" and "Permission denied" in str(exc)
    os.chmod(prefix + ".index", 0o600)
    _, _, _, exc = as_unprivileged(lambda: tl.load_checkpoint(prefix))
    assert isinstance(exc, CheckpointPermissionError) and exc.path == prefix + ".index"


@posix_only
def test_saving_into_a_folder_without_permission_is_our_error(shared_dir):
    warm_up(shared_dir)
    locked = os.path.join(shared_dir, "locked")
    os.mkdir(locked, 0o755)
    for save in (lambda: Saver().save({"w": np.zeros(2)}, os.path.join(locked, "model"), global_step=1),
                 lambda: CheckpointManager(locked, max_to_keep=1).save({"w": np.zeros(2)}),
                 lambda: tl.write_bundle(os.path.join(locked, "x"), {"w": np.zeros(2)})):
        _, _, _, exc = as_unprivileged(save)
        assert isinstance(exc, CheckpointPermissionError), repr(exc)
        assert locked in str(exc)
    assert os.listdir(locked) == []


def test_a_file_where_a_directory_should_be(tmp_path):
    (tmp_path / "file").write_text("x")
    prefix = str(tmp_path / "file" / "model")
    with pytest.raises(CheckpointNotFoundError, match="file/model.index"):
        tl.load_checkpoint(prefix)
    for save in (lambda: Saver().save({"w": np.zeros(2)}, prefix, global_step=1),
                 lambda: CheckpointManager(prefix, max_to_keep=1).save({"w": np.zeros(2)}),
                 lambda: tl.write_bundle(prefix, {"w": np.zeros(2)})):
        with pytest.raises(CheckpointError) as info:
            save()
        assert isinstance(info.value, OSError) and str(tmp_path / "file") in str(info.value)
        assert "Traceback" not in str(info.value)


@posix_only
@pytest.mark.parametrize("args", [
    ["inspect", "{d}/ck/model", "--tensor", "w"], ["verify", "{d}/ck/model"], ["layout", "{d}/ck/model.data-00000-of-00001"],
    ["inspect", "{d}/afile/model"], ["verify", "{d}/afile/model"], ["demo", "{d}/afile/demo"],
    ["meta", "{d}/ck/secret.meta"], ["layout", "{d}/ck/secret.meta"]])
def test_cli_prints_one_line_and_no_traceback(shared_dir, args):
    warm_up(shared_dir)
    d = shared_dir
    tl.write_bundle(os.path.join(d, "ck", "model"), {"w": np.arange(3.0)})
    os.chmod(os.path.join(d, "ck", "model.data-00000-of-00001"), 0o600)
    with open(os.path.join(d, "ck", "secret.meta"), "wb") as f:
        f.write(b"\x0a\x00")
    os.chmod(os.path.join(d, "ck", "secret.meta"), 0o600)
    with open(os.path.join(d, "afile"), "w") as f:
        f.write("x")
    code, out, err, exc = as_unprivileged(lambda: cli_main([a.format(d=d) for a in args]))
    assert exc is None, repr(exc)
    assert code == 1, (code, out, err)
    assert "Traceback" not in err + out
    if args[0] != "verify":  # verify lists problems on stdout; the others say one line on stderr
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("tfckpt-lab: error: ") and d in lines[0], err
    else:
        assert "FAILED" in out


# -- a blank state file: what a power loss can leave ------------------------------------------------

BLANK_STATES = {"empty": "", "zeros": "\0" * 64, "whitespace": "\n \n", "no latest": 'all_model_checkpoint_paths: "ckpt-1"\n',
                "empty latest": 'model_checkpoint_path: ""\n'}


@pytest.mark.parametrize("text", BLANK_STATES.values(), ids=BLANK_STATES.keys())
def test_blank_state_file_is_no_state_and_the_newest_complete_checkpoint_is_found(tmp_path, text):
    m = CheckpointManager(str(tmp_path), max_to_keep=5)
    for step in range(1, 4):
        m.save({"w": np.full(2, step, np.float32)})
    os.remove(tmp_path / "ckpt-3.data-00000-of-00001")  # the newest is incomplete: not a candidate
    (tmp_path / "checkpoint").write_text(text)
    with pytest.warns(RuntimeWarning, match="ignored"):
        assert tl.get_checkpoint_state(str(tmp_path)) is None
    with pytest.warns(RuntimeWarning, match="newest complete checkpoint on disk"):
        assert tl.latest_checkpoint(str(tmp_path)) == str(tmp_path / "ckpt-2")
    with pytest.warns(RuntimeWarning):
        with tl.load_checkpoint(str(tmp_path)) as r:
            assert (r["w"] == 2).all()
    with pytest.warns(RuntimeWarning, match="recovered from disk"):
        resumed = CheckpointManager(str(tmp_path), max_to_keep=5)
    assert resumed.latest_checkpoint == str(tmp_path / "ckpt-2") and resumed.checkpoints == []
    assert resumed.restore_or_initialize() == str(tmp_path / "ckpt-2") and resumed.save_counter == 2
    resumed.save({"w": np.full(2, 3, np.float32)})
    assert tl.latest_checkpoint(str(tmp_path)) == str(tmp_path / "ckpt-3")
    assert os.path.exists(tmp_path / "ckpt-1.index")  # never taken over, so never deleted


def test_unparsable_state_is_no_state_as_in_tensorflow(tmp_path):
    CheckpointManager(str(tmp_path), max_to_keep=2).save({"w": np.zeros(2)})
    (tmp_path / "checkpoint").write_text("garbage {{{")
    with pytest.warns(RuntimeWarning, match="ignored"):
        assert tl.latest_checkpoint(str(tmp_path)) is None


@pytest.mark.tf
@pytest.mark.parametrize("text", ["", 'all_model_checkpoint_paths: "ckpt-1"\n', "garbage {{{"])
def test_what_tensorflow_does_with_a_blank_state_file(tf, tmp_path, text):
    """TF 2.21 raises ValueError for an empty or field-less file (we warn and recover instead) and
    returns None for unparsable text (as we do): what docs/reliability.md says."""
    ck = tf.train.Checkpoint(v=tf.Variable(1.0))
    ck.write(str(tmp_path / "ckpt-1"))
    (tmp_path / "checkpoint").write_text(text)
    if text.startswith("garbage"):
        assert tf.train.latest_checkpoint(str(tmp_path)) is None
        return
    with pytest.raises(ValueError, match="Invalid checkpoint state"):
        tf.train.latest_checkpoint(str(tmp_path))
    with pytest.raises(ValueError, match="Invalid checkpoint state"):
        tf.train.CheckpointManager(ck, str(tmp_path), max_to_keep=2)
    with pytest.warns(RuntimeWarning):
        assert tl.latest_checkpoint(str(tmp_path)) == str(tmp_path / "ckpt-1")


def test_state_file_without_read_permission_is_no_state(tmp_path, monkeypatch):
    """An unreadable state file is "no state" with a warning, as TF logs and returns None."""
    CheckpointManager(str(tmp_path), max_to_keep=2).save({"w": np.zeros(2)})
    real_open = os.open

    def deny(path, *a, **k):
        if os.fspath(path) == str(tmp_path / "checkpoint"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_open(path, *a, **k)

    monkeypatch.setattr(os, "open", deny)
    with pytest.warns(RuntimeWarning, match="Permission denied"):
        assert tl.get_checkpoint_state(str(tmp_path)) is None


def test_checkpoint_io_errors_keep_errno():
    import errno

    from tfckpt_lab.errors import os_error

    e = os_error(OSError(errno.ENOSPC, "No space left on device"), "run/m.meta", "writing")
    assert isinstance(e, CheckpointIOError) and e.errno == errno.ENOSPC and e.path == "run/m.meta"
    assert str(e) == "run/m.meta: writing: No space left on device"
