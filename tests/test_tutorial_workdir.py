"""tutorial.workdir(): a notebook's first cell can run again without nesting folders (work/01/work/01/...)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tfckpt_lab import tutorial


@pytest.fixture
def no_env(tmp_path, monkeypatch):
    monkeypatch.delenv(tutorial.WORKDIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _first_cell(name: str) -> Path:
    """What every notebook's first cell does."""
    work = tutorial.workdir(name)
    os.chdir(work)
    return work


def test_running_the_first_cell_twice_gives_the_same_folder(no_env):
    first = _first_cell("01")
    (first / "my_test_model-1000.index").write_bytes(b"x")
    again = _first_cell("01")  # the cwd is now work/01
    assert again.resolve() == first.resolve() == (no_env / "work" / "01").resolve()
    assert not (no_env / "work" / "01" / "work").exists()
    assert sorted(p.name for p in again.iterdir()) == [".tfckpt_lab_work"]  # fresh again
    third = _first_cell("01")
    assert third.resolve() == first.resolve()


def test_another_notebook_from_inside_a_workdir_lands_next_to_it(no_env):
    _first_cell("03")
    os.makedirs("run1/deeper")
    os.chdir("run1/deeper")  # a learner wandered into a subfolder
    assert tutorial.workdir("04").resolve() == (no_env / "work" / "04").resolve()
    demo = tutorial.demo_checkpoint()  # workdir("demo", fresh=False) under the same base
    assert Path(demo).parent.resolve() == (no_env / "work" / "demo").resolve()


def test_a_relative_env_var_does_not_nest_either(no_env, monkeypatch):
    monkeypatch.setenv(tutorial.WORKDIR_ENV, "lab_work")
    first = _first_cell("02")
    assert first.resolve() == (no_env / "lab_work" / "02").resolve()
    assert _first_cell("02").resolve() == first.resolve()


def test_an_absolute_env_var_is_used_as_it_is(no_env, monkeypatch, tmp_path):
    base = tmp_path / "elsewhere"
    monkeypatch.setenv(tutorial.WORKDIR_ENV, str(base))
    assert _first_cell("05") == base / "05"
    assert _first_cell("05") == base / "05"


def test_a_folder_not_made_by_workdir_is_never_emptied(no_env):
    (no_env / "work" / "06").mkdir(parents=True)
    (no_env / "work" / "06" / "mine.txt").write_text("keep")
    with pytest.raises(FileExistsError):
        tutorial.workdir("06")
    assert (no_env / "work" / "06" / "mine.txt").read_text() == "keep"


def test_workdir_never_inside_the_package(monkeypatch, tmp_path):
    monkeypatch.setenv(tutorial.WORKDIR_ENV, str(Path(tutorial.__file__).parent / "work"))
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    d = tutorial.workdir("probe")
    assert tutorial.PACKAGE_DIR not in d.resolve().parents
    assert tutorial.workdir("probe").exists()  # emptied and made again


def test_data_path_names_what_is_shipped():
    assert (tutorial.data_path("saved_model") / "variables" / "variables.index").is_file()
    with pytest.raises(FileNotFoundError, match="keras3, keras_adam, saved_model, tf_keras_adam"):
        tutorial.data_path("nope")
    with pytest.raises(FileNotFoundError):
        tutorial.data_path("../tutorial")
