"""Compare with checkpoints real TensorFlow wrote (tests/fixtures/tf, see its README).

* Reading: every fixture's variable list, dtypes and values equal what TF's own reader returned.
* Writing: for every SaveV2 fixture, our writer given the same tensors in the same order
  produces byte-identical .index and .data files.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import (
    TF_FIXTURES,
    assert_same_tensor,
    decode_name,
    expected_values,
    fixture_cases,
    slow_params,
    load_expected,
    save_order_inputs,
)

import tfckpt_lab as tl
from tfckpt_lab.bundle.slices import decode_slice_key, encode_slice_key
from tfckpt_lab.bundle.writer import BundleWriter

CASES = fixture_cases()
SAVEV2_CASES = [c for c in CASES if "save_order" in load_expected(c)]


def _prefix(case: str, prefix: str | None = None) -> str:
    return str(TF_FIXTURES / case / (prefix or load_expected(case)["prefix"]))


def test_fixtures_present():
    assert len(CASES) >= 10, CASES
    assert len(SAVEV2_CASES) >= 5, SAVEV2_CASES


@pytest.mark.parametrize("case", slow_params(CASES, "savev2_multiblock"))
def test_list_variables_matches_tf(case):
    exp = load_expected(case)
    reader = tl.load_checkpoint(_prefix(case))
    theirs = sorted((decode_name(n), s) for n, s in exp["list_variables"])
    ours = sorted((e.key, list(e.shape)) for e in reader.lowlevel.variables())
    assert ours == theirs
    if not any(n.startswith("b64:") for n, _ in exp["list_variables"]):
        # The public function gives exactly TF's answer, order included.
        assert tl.list_variables(_prefix(case)) == [(n, s) for n, s in exp["list_variables"]]


@pytest.mark.parametrize("case", CASES)
def test_dtypes_match_tf(case):
    exp = load_expected(case)
    reader = tl.load_checkpoint(_prefix(case))
    ours = {e.key: e.dtype_name for e in reader.lowlevel.variables()}
    assert ours == {decode_name(n): d for n, d in exp["dtypes"].items()}


@pytest.mark.parametrize("case", slow_params(CASES, "savev2_multiblock"))
def test_values_match_tf(case):
    reader = tl.load_checkpoint(_prefix(case))
    expected = expected_values(case)
    assert expected
    for key, value in expected.items():
        assert_same_tensor(reader.lowlevel.read_tensor(key), value)


@pytest.mark.parametrize("case", [c for c in CASES if "other_prefixes" in load_expected(c)])
def test_other_checkpoints_in_the_directory(case):
    exp = load_expected(case)
    for name, other in exp["other_prefixes"].items():
        npz = f"values_{name.replace('/', '_')}.npz"
        if not (TF_FIXTURES / case / npz).exists():
            npz = f"values_{name}.npz"
        reader = tl.load_checkpoint(_prefix(case, other["prefix"]))
        names = sorted(e.key for e in reader.lowlevel.variables())
        assert names == sorted(decode_name(n) for n, _ in other["list_variables"])
        if (TF_FIXTURES / case / npz).exists() and "tensors" in other:
            for key, value in expected_values(case, other, npz).items():
                assert_same_tensor(reader.lowlevel.read_tensor(key), value)


@pytest.mark.parametrize("case", [c for c in CASES if "checkpoint_state_text" in load_expected(c)])
def test_latest_checkpoint_matches_state_file(case):
    exp = load_expected(case)
    d = TF_FIXTURES / case / os.path.dirname(exp["prefix"])  # the state file sits next to the prefix
    latest = tl.latest_checkpoint(d)
    assert latest == os.path.join(str(d), os.path.basename(exp["prefix"]))
    # A directory opens its latest checkpoint.
    assert sorted(tl.load_checkpoint(d).keys()) == sorted(tl.load_checkpoint(latest).keys())


@pytest.mark.parametrize("case", CASES)
def test_header_matches_tf(case):
    exp = load_expected(case)
    reader = tl.load_checkpoint(_prefix(case))
    assert reader.lowlevel.table.get(b"").hex() == exp["index"]["header_entry_hex"]
    assert reader.lowlevel.num_shards == exp["index"]["header"].get("num_shards", 0)


@pytest.mark.parametrize("case", slow_params(SAVEV2_CASES, "savev2_multiblock"))
def test_writer_is_byte_identical_to_savev2(case, tmp_path):
    exp = load_expected(case)
    prefix = tmp_path / "bundle"
    with BundleWriter(prefix) as w:
        for name, value in save_order_inputs(case):
            w.add(name, value)
    theirs = TF_FIXTURES / case / exp["prefix"]
    for suffix in (".index", ".data-00000-of-00001"):
        ours_b = (tmp_path / ("bundle" + suffix)).read_bytes()
        theirs_b = theirs.with_name(theirs.name + suffix).read_bytes()
        assert len(ours_b) == len(theirs_b), suffix
        if ours_b != theirs_b:
            i = next(i for i, (a, b) in enumerate(zip(ours_b, theirs_b)) if a != b)
            pytest.fail(f"{suffix} differs first at byte {i}")


def test_multiblock_fixture_really_has_several_blocks():
    reader = tl.load_checkpoint(_prefix("savev2_multiblock"))
    assert reader.lowlevel.table.num_data_blocks >= 3
    exp = load_expected("savev2_multiblock")
    assert len(exp["list_variables"]) >= 7000


def test_partitioned_variables_are_assembled():
    case = "tf1_partitioned"
    exp = load_expected(case)
    reader = tl.load_checkpoint(_prefix(case))
    for name, full in exp["full_values_expected"].items():
        value = reader.get_tensor(name)
        np.testing.assert_array_equal(value, np.array(full, dtype=value.dtype))
    partitioned = [n for n in reader.keys() if reader.entry(n).is_partitioned]
    assert sorted(partitioned) == ["part_axis0", "part_axis1", "scope/part_sizebased"]
    # Every slice piece decodes back to (name, slice) and re-encodes to the same key.
    pieces = [e for e in reader.entries().values() if e.key[:1] == b"\x00"]
    assert pieces
    for e in pieces:
        name, sl = decode_slice_key(e.key)
        assert encode_slice_key(name, sl) == e.key


def test_sharded_fixture_spreads_over_shards():
    reader = tl.load_checkpoint(_prefix("tf1_sharded"))
    assert reader.lowlevel.num_shards == 3
    assert {e.shard_id for e in reader.lowlevel.variables()} == {0, 1, 2}
