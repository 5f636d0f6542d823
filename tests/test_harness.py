"""The test harness itself (tests/conftest.py): which tests the fast suite runs, and the no-trace guard."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

import conftest


class _Item:
    def __init__(self, name, *marks):
        self.name = name
        self.keywords = {name: 1, **{m: 1 for m in marks}}
        self.added = []

    def add_marker(self, marker):
        self.added.append(marker)


def _select(full: bool, items):
    deselected = []
    config = SimpleNamespace(
        getoption=lambda name: full if name == "--full" else None,
        hook=SimpleNamespace(pytest_deselected=lambda items: deselected.extend(items)),
        pluginmanager=SimpleNamespace(hasplugin=lambda name: False))
    conftest.pytest_collection_modifyitems(config, items)
    return [i.name for i in items], [i.name for i in deselected]


def test_the_fast_suite_runs_neither_slow_nor_tf_tests():
    items = [_Item("plain"), _Item("heavy", "slow"), _Item("interop", "tf"), _Item("both", "slow", "tf")]
    kept, deselected = _select(False, items)
    assert kept == ["plain"]
    assert sorted(deselected) == ["both", "heavy", "interop"]


def test_full_runs_everything():
    items = [_Item("plain"), _Item("heavy", "slow"), _Item("interop", "tf")]
    kept, deselected = _select(True, items)
    assert kept == ["plain", "heavy", "interop"] and deselected == []


def test_slow_params_marks_only_the_named_members():
    params = conftest.slow_params(["small", "big", "other"], "big")
    assert [p.id for p in params] == ["small", "big", "other"]
    assert [[m.name for m in p.marks] for p in params] == [[], ["slow"], []]
    with pytest.raises(AssertionError, match="renamed"):
        conftest.slow_params(["small"], "renamed")


def test_declared_fixtures_reads_the_make_scripts_lists():
    assert "savev2_multiblock" in conftest.fixture_cases()
    assert conftest.declared_fixtures("make_v1_fixtures.py", "CASES")[0] == "v1_saver_basic"
    assert "tf2_clock_back" in conftest.declared_fixtures("make_saver_sequences.py", "SEQUENCES")
    with pytest.raises(LookupError):
        conftest.declared_fixtures("make_v1_fixtures.py", "NO_SUCH_LIST")


def test_the_guard_names_what_was_written_into_the_checkout_or_home(tmp_path):
    checkout, home = tmp_path / "checkout", tmp_path / "home"
    for d in (checkout / "tests", checkout / ".git", checkout / ".venv-tf", checkout / "__pycache__",
              home / ".jupyter" / "lab", home / ".cache"):
        d.mkdir(parents=True)
    (checkout / "tests" / "test_x.py").write_text("x = 1\n")
    (home / ".cache" / "pip-log").write_text("")
    before = conftest.trace_snapshot(checkout, home)
    assert conftest.trace_changes(before, conftest.trace_snapshot(checkout, home)) == []

    (checkout / "tests" / "artifacts").mkdir()
    (checkout / "tests" / "artifacts" / "figure.txt").write_text("made by a test")
    (checkout / "tests" / "test_x.py").write_text("x = 22\n")  # changed in place
    (checkout / ".git" / "index").write_text("")  # not ours to watch
    (checkout / ".venv-tf" / "pyvenv.cfg").write_text("")
    (checkout / "__pycache__" / "m.pyc").write_text("")
    (home / ".jupyter" / "lab" / "workspaces").mkdir()
    (home / ".keras").mkdir()
    (home / ".cache" / "pip-log").write_text("other processes write here")  # not watched below the top level
    changed = conftest.trace_changes(before, conftest.trace_snapshot(checkout, home))
    assert changed == sorted([
        "checkout: tests/artifacts" + os.sep, "checkout: tests/artifacts/figure.txt", "checkout: tests/test_x.py",
        "~/.jupyter/lab/workspaces" + os.sep, "~/.keras"])


def test_library_caches_are_where_the_harness_put_them():
    """matplotlib and Hypothesis follow the variables the harness set, which point outside checkout and home."""
    import matplotlib
    from hypothesis.configuration import storage_directory

    assert os.path.realpath(matplotlib.get_cachedir()) == os.path.realpath(os.environ["MPLCONFIGDIR"])
    hyp = storage_directory("examples", intent_to_write=False).path
    assert os.path.realpath(hyp.parent) == os.path.realpath(os.environ["HYPOTHESIS_STORAGE_DIRECTORY"])
    assert not os.path.realpath(hyp).startswith(str(conftest.CHECKOUT) + os.sep)
    home = os.path.realpath(os.path.expanduser("~")) + os.sep
    for var, path in conftest.REDIRECTED.items():
        assert os.environ[var] == path and not os.path.realpath(path).startswith(home), var
