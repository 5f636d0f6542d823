"""The committed golden fixtures are all there, and each is one its make_*.py script declares.

Tests are parametrized over the names the scripts declare (``conftest.declared_fixtures``), so a
deleted fixture fails the tests that read it; this file says so once, by name, in one place.
"""

from __future__ import annotations

import pytest

from conftest import FIXTURES, TF_FIXTURES, declared_fixtures, fixture_cases

V1 = declared_fixtures("make_v1_fixtures.py", "CASES")
SEQUENCES = declared_fixtures("make_saver_sequences.py", "SEQUENCES")


@pytest.mark.parametrize("folder, names, must_hold", [
    (TF_FIXTURES, fixture_cases(), "expected.json"),
    (FIXTURES / "tf_v1", V1, "expected.json"),
])
def test_every_declared_case_is_committed_and_nothing_else(folder, names, must_hold):
    assert len(names) == len(set(names)) >= 5
    missing = [n for n in names if not (folder / n / must_hold).is_file()]
    assert not missing, f"committed fixtures missing from {folder}: {missing} (regenerate them, see tests/fixtures/README.md)"
    on_disk = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "__")))
    assert sorted(on_disk) == sorted(names), "fixture folders no make_*.py script declares: " \
                                             f"{sorted(set(on_disk) - set(names))}"


def test_every_saver_sequence_is_committed():
    folder = FIXTURES / "saver_sequences"
    assert len(SEQUENCES) >= 20
    missing = [n for n in SEQUENCES if not (folder / f"{n}.json").is_file()]
    assert not missing, f"recorded saver sequences missing: {missing}"
    assert sorted(p.stem for p in folder.glob("*.json")) == sorted(SEQUENCES)


def test_every_meta_case_has_tensorflows_parse():
    with_meta = [c for c in fixture_cases() if any((TF_FIXTURES / c).glob("*.meta"))]
    assert "tf1_big_meta" in with_meta and "tf1_saver_basic" in with_meta
    assert sorted(p.stem for p in (FIXTURES / "meta").glob("*.json")) == sorted(with_meta)
