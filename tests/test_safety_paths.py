"""Rotation never deletes outside its directory, however symlinks and ``..`` combine (issue 13 item 1).

The kernel resolves ``run/link/../ckpt-1`` by following ``link`` first and then going up from
where it points; a textual ``..`` collapse would say ``run/ckpt-1``.  Every test builds real
symlinks in ``tmp_path`` and checks both directions: what lies outside survives, and what
lies inside (reached through symlinks) is rotated normally, without warnings.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

import tfckpt_lab as tl
from tfckpt_lab.checkpoint import files
from tfckpt_lab.checkpoint.manager import CheckpointManager
from tfckpt_lab.checkpoint.saver import Saver
from tfckpt_lab.checkpoint.state import is_inside_directory
from tfckpt_lab.errors import UnsafePathError

pytestmark = pytest.mark.skipif(os.name != "posix", reason="symlinks")


def victims(outside, names=("ckpt-1", "model-1", "model")):
    """Checkpoints (index, data, .meta) in ``outside`` that nothing may delete."""
    outside.mkdir(parents=True, exist_ok=True)
    out = []
    for n in names:
        tl.write_bundle(str(outside / n), {"precious": np.ones(3, np.float32)})
        (outside / (n + ".meta")).write_bytes(b"meta")
        out += [outside / (n + ".index"), outside / (n + ".data-00000-of-00001"), outside / (n + ".meta")]
    return out


@pytest.fixture
def layout(tmp_path):
    """run/ (the save directory), elsewhere/sub/, and run/link -> elsewhere/sub."""
    run = tmp_path / "run"
    sub = tmp_path / "elsewhere" / "sub"
    run.mkdir()
    sub.mkdir(parents=True)
    (run / "link").symlink_to(sub, target_is_directory=True)
    return run, sub.parent


def test_dotdot_after_a_symlink_is_where_the_kernel_goes(layout):
    run, elsewhere = layout
    assert not is_inside_directory(str(run / "link" / ".." / "ckpt-1"), str(run))
    assert is_inside_directory(str(run / "link" / ".." / "ckpt-1"), str(elsewhere))
    assert is_inside_directory(str(run / "link" / ".." / ".." / "run" / "ckpt-1"), str(run))
    assert is_inside_directory(str(run / "ckpt-1"), str(run / "link" / ".." / ".." / "run"))
    assert not is_inside_directory(str(run / "link" / "ckpt-1"), str(run))
    assert not is_inside_directory(str(run / "missing" / ".." / "ckpt-1"), str(run))  # the kernel fails too
    for bad in ("", str(run) + "/", str(run / ".."), str(run / ".")):
        assert not is_inside_directory(bad, str(run))


def test_remove_checkpoint_refuses_link_dotdot_and_deletes_real_inside(layout):
    run, elsewhere = layout
    outside = victims(elsewhere)
    for p in (run / "link" / ".." / "ckpt-1", run / "link" / ".." / "model"):
        with pytest.raises(UnsafePathError):
            files.remove_checkpoint(str(p), directory=str(run))
    assert all(v.exists() for v in outside)
    inside = victims(run)  # the same names, really inside
    removed = files.remove_checkpoint(str(run / "link" / ".." / ".." / "run" / "ckpt-1"), directory=str(run))
    assert sorted(os.path.basename(p) for p in removed) == ["ckpt-1.data-00000-of-00001", "ckpt-1.index",
                                                            "ckpt-1.meta"]
    assert not any(v.exists() for v in inside[:3]) and all(v.exists() for v in inside[3:] + outside)


def crafted_state(run, stem):
    paths = [f"link/../{stem}-1", f"{stem}-8", f"{stem}-9"]
    text = f'model_checkpoint_path: "{stem}-9"\n' + "".join(f'all_model_checkpoint_paths: "{p}"\n' for p in paths)
    (run / "checkpoint").write_text(text + "".join(f"all_model_checkpoint_timestamps: {i}.0\n" for i in range(3)))


def test_manager_never_follows_link_dotdot_out(layout):
    run, elsewhere = layout
    outside = victims(elsewhere)
    crafted_state(run, "ckpt")
    with pytest.warns(RuntimeWarning, match="outside"):
        m = CheckpointManager(str(run), max_to_keep=1)
    assert m.refused == [str(run / "link" / ".." / "ckpt-1")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            m.save({"w": np.zeros(2, np.float32)})
    assert all(v.exists() for v in outside)


def test_saver_never_follows_link_dotdot_out(layout):
    run, elsewhere = layout
    outside = victims(elsewhere)
    crafted_state(run, "model")
    saver = Saver(max_to_keep=1)
    saver.recover_last_checkpoints([str(run / "link" / ".." / "model-1")])
    with pytest.warns(RuntimeWarning, match="not deleting"):
        for step in range(2, 5):
            saver.save({"w": np.full(2, step, np.float32)}, str(run / "model"), global_step=step)
    assert all(v.exists() for v in outside)


@pytest.mark.parametrize("kind", ["Saver", "CheckpointManager"])
def test_a_save_path_through_link_dotdot_rotates_normally(layout, kind):
    """``run/link/../model`` is ``elsewhere/model``: saved there, and rotated there, without warnings."""
    run, elsewhere = layout
    outside = victims(run, ("model-1", "ckpt-1"))  # same names in run/: must survive
    via = run / "link" / ".."
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if kind == "Saver":
            saver = Saver(max_to_keep=2)
            for step in range(1, 6):
                saver.save({"w": np.full(2, step, np.float32)}, str(via / "model"), global_step=step)
        else:
            m = CheckpointManager(str(via), max_to_keep=2)
            for _ in range(5):
                m.save({"w": np.zeros(2, np.float32)})
    stem = "model" if kind == "Saver" else "ckpt"
    assert sorted(n for n in os.listdir(elsewhere) if n.endswith(".index")) == [f"{stem}-4.index", f"{stem}-5.index"]
    assert tl.latest_checkpoint(str(elsewhere)).endswith(f"{stem}-5")
    assert all(v.exists() for v in outside)


def test_symlinked_save_directory_and_symlinked_files(layout, tmp_path):
    """A save directory that is a symlink rotates; a checkpoint file that is a symlink is unlinked, not followed."""
    run, elsewhere = layout
    alias = tmp_path / "alias"
    alias.symlink_to(run, target_is_directory=True)
    outside = victims(elsewhere, ("target",))
    m = CheckpointManager(str(alias), max_to_keep=1)
    m.save({"w": np.zeros(2, np.float32)})
    os.remove(run / "ckpt-1.index")
    (run / "ckpt-1.index").symlink_to(elsewhere / "target.index")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.save({"w": np.ones(2, np.float32)})
    assert not os.path.lexists(run / "ckpt-1.index") and all(v.exists() for v in outside)


def test_deletion_goes_to_the_directory_that_was_checked(layout, monkeypatch):
    """Swapping a symlink after the inside-check must not redirect the deletion (it uses the open directory)."""
    run, elsewhere = layout
    if os.unlink not in os.supports_dir_fd:
        pytest.skip("no unlinkat() here")
    outside = victims(elsewhere, ("ckpt-1",))
    mid = run / "mid"
    mid.mkdir()
    tl.write_bundle(str(mid / "ckpt-1"), {"w": np.zeros(2)})
    (run / "hop").symlink_to(mid, target_is_directory=True)
    real_open = os.open

    def swap_then_open(path, *a, **k):  # the attacker wins the race right after the check
        if os.fspath(path) == str(run / "hop"):
            os.remove(run / "hop")
            (run / "hop").symlink_to(elsewhere, target_is_directory=True)
        return real_open(path, *a, **k)

    monkeypatch.setattr(os, "open", swap_then_open)
    with pytest.raises(UnsafePathError, match="changed"):
        files.remove_checkpoint(str(run / "hop" / "ckpt-1"), directory=str(mid))
    assert all(v.exists() for v in outside)
