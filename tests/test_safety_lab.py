"""``tfckpt-lab lab`` only ever writes into a folder that is safely the user's (issue 13 item 10)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tfckpt_lab.cli import lab
from tfckpt_lab.cli import main as cli_main
from tfckpt_lab.errors import UnsafePathError

ROOT = Path(__file__).resolve().parent.parent
posix_only = pytest.mark.skipif(not hasattr(os, "geteuid"), reason="file owners")
root_only = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                               reason="giving a file to another user needs root")
OTHER = 65534  # nobody


def quiet(*_):
    pass


def tree(d: Path) -> dict:
    return {str(p.relative_to(d)): (p.is_symlink(), p.read_bytes() if p.is_file() and not p.is_symlink() else None)
            for p in sorted(d.rglob("*"))}


def test_a_fresh_folder_is_prepared_and_prepared_again(tmp_path):
    d = lab.prepare(tmp_path / "tut", log=quiet)
    names = set(os.listdir(d))
    assert {"demo_checkpoint", "work", lab.FIRST_NOTEBOOK} <= names
    lab.prepare(d, log=quiet)
    assert set(os.listdir(d)) == names


@posix_only
def test_a_symlinked_folder_is_refused_and_nothing_written_through_it(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "tut").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="symlink"):
        lab.prepare(tmp_path / "tut", log=quiet)
    assert os.listdir(elsewhere) == []


@posix_only
@pytest.mark.parametrize("planted", ["notebook", "demo_checkpoint", "work", "state file"])
def test_planted_symlinks_inside_are_refused_and_never_followed(tmp_path, planted):
    d = tmp_path / "tut"
    d.mkdir()
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious").write_text("precious")
    if planted == "notebook":
        (d / lab.FIRST_NOTEBOOK).symlink_to(victim / "precious")
    elif planted == "state file":
        (d / "demo_checkpoint").mkdir()
        (d / "demo_checkpoint" / "checkpoint").symlink_to(victim / "precious")
    else:
        (d / planted).symlink_to(victim, target_is_directory=True)
    before = tree(victim)
    with pytest.raises(UnsafePathError, match="symlink"):
        lab.prepare(d, log=quiet)
    assert tree(victim) == before


@posix_only
def test_a_world_writable_folder_is_refused(tmp_path):
    d = tmp_path / "tut"
    d.mkdir()
    os.chmod(d, 0o777)
    with pytest.raises(UnsafePathError, match="everyone"):
        lab.prepare(d, log=quiet)
    assert os.listdir(d) == []


@posix_only
def test_a_folder_of_another_user_is_refused(tmp_path):
    if os.geteuid() == 0:
        d = tmp_path / "theirs"
        d.mkdir()
        os.chown(d, OTHER, OTHER)
    else:  # a folder root owns, such as /usr, is someone else's
        d = Path("/usr")
    before = set(os.listdir(d))
    with pytest.raises(UnsafePathError, match="another user"):
        lab.prepare(d, log=quiet)
    assert set(os.listdir(d)) == before


@root_only
def test_entries_and_parents_of_another_user_are_refused(tmp_path):
    d = tmp_path / "tut"
    lab.prepare(d, log=quiet)
    nb = d / lab.FIRST_NOTEBOOK
    planted = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    nb.write_bytes(planted)
    os.chown(nb, OTHER, OTHER)  # a notebook someone else placed: never kept and opened
    with pytest.raises(UnsafePathError, match="another user"):
        lab.prepare(d, log=quiet)
    with pytest.raises(UnsafePathError, match="another user"):
        lab.prepare(d, reset=True, log=quiet)
    assert nb.read_bytes() == planted
    parent = tmp_path / "shared"
    parent.mkdir()
    os.chown(parent, OTHER, OTHER)  # its owner could swap anything below it
    with pytest.raises(UnsafePathError, match="another user"):
        lab.prepare(parent / "mine", log=quiet)
    assert os.listdir(parent) == []


@posix_only
def test_cli_refuses_in_one_line(tmp_path, capsys):
    d = tmp_path / "tut"
    d.mkdir()
    os.chmod(d, 0o777)
    assert cli_main(["lab", "--prepare-only", "--dir", str(d)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tfckpt-lab: error: ") and "Traceback" not in err


def test_the_default_folder_is_ignored_by_git():
    try:
        inside = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--is-inside-work-tree"],
                                capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        pytest.skip("git is not installed")
    if inside.returncode != 0:
        pytest.skip("not a git checkout")
    probe = f"{lab.DEFAULT_DIR}/{lab.FIRST_NOTEBOOK}"
    r = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", probe], timeout=30)
    assert r.returncode == 0, f"{probe} is not ignored: running the tutorial from a clone dirties it"
