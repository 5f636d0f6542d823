"""A partitioned variable saved only in part is a valid checkpoint (issue 16, item 1).

A TF1 Saver given one piece of a partitioned variable, or a default Saver after an
ExponentialMovingAverage of some partitions, writes a full entry whose slices do not cover
its shape.  TensorFlow lists it, restores it (``Saver.restore``) and reads the stored slices
(``RestoreV2`` with a slice spec); only reading the whole refuses.  The fixture
``tf/tf1_partial_partitioned`` was written by TensorFlow 2.21 and records what its reader and
``RestoreV2`` returned.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TF_FIXTURES, load_expected

import tfckpt_lab as tl
from tfckpt_lab.bundle import BundleWriter, Extent, TensorSlice
from tfckpt_lab.checkpoint.verify import verify_checkpoint
from tfckpt_lab.cli import main as cli_main
from tfckpt_lab.views.diff import diff_checkpoints

CASE = TF_FIXTURES / "tf1_partial_partitioned"
PREFIXES = ["ema", "one_piece"]


def _listing(exp_part):
    return [(n, s) for n, s in exp_part["list_variables"]]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_listed_and_verified_as_tf_does(prefix, capsys):
    exp = load_expected(CASE.name)
    part = exp if exp["prefix"] == prefix else exp["other_prefixes"][prefix]
    assert tl.list_variables(CASE / prefix) == _listing(part)
    report = verify_checkpoint(CASE / prefix)
    assert report.ok, report.problems
    assert cli_main(["verify", str(CASE / prefix)]) == 0
    capsys.readouterr()


def test_whole_read_refuses_naming_what_is_missing():
    exp = load_expected(CASE.name)
    refused = {n for n, t in exp["tensors"].items() if "read_error" in t}
    refused |= {n for n, t in exp["other_prefixes"]["one_piece"]["tensors"].items() if "read_error" in t}
    assert refused == {"emb", "emb/ExponentialMovingAverage"}  # what TF's get_tensor refused
    with pytest.raises(tl.PartialTensorError) as info:
        tl.load_checkpoint(CASE / "one_piece").get_tensor("emb")
    message = str(info.value)
    assert "saved only in part" in message and "4,3:0,3" in message and "9 of its 30 elements" in message
    assert "missing: 0,4:- and 7,3:-" in message and "one_piece.index" in message
    assert isinstance(info.value, ValueError) and not isinstance(info.value, tl.CorruptionError)
    with pytest.raises(tl.PartialTensorError, match="missing: 4,3:-"):
        tl.load_checkpoint(CASE / "ema").get_tensor("emb/ExponentialMovingAverage")


def test_stored_slices_read_as_tf_restorev2_reads_them():
    exp = load_expected(CASE.name)
    npz = np.load(CASE / "slice_reads.npz")
    reads = exp["restorev2_slice_reads"].values()
    assert len(reads) == 6
    for item in reads:
        reader = tl.load_checkpoint(CASE / item["prefix"])
        if "error" in item:  # TF cannot read a slice the stored pieces do not cover; neither can we
            with pytest.raises(tl.PartialTensorError, match="do not cover slice 2,6:0,3"):
                reader.get_slice(item["key"], item["shape_and_slice"])
            continue
        expected = npz[item["values"].split(":")[1]]
        got = reader.get_slice(item["key"], item["shape_and_slice"])
        assert got.dtype == expected.dtype and got.tobytes() == expected.tobytes(), item
    reader = tl.load_checkpoint(CASE / "one_piece")
    assert [str(s) for s in reader.stored_slices("emb")] == ["4,3:0,3"]
    np.testing.assert_array_equal(reader.get_slice("emb", TensorSlice.parse("4,3:0,3")),
                                  reader.get_slice("emb", "4,3:-"))
    assert tl.load_checkpoint(CASE / "ema").stored_slices("w") == []


def test_get_slice_of_a_whole_tensor_and_bad_specs():
    reader = tl.load_checkpoint(CASE / "ema")
    w = reader.get_tensor("w")
    np.testing.assert_array_equal(reader.get_slice("w", "1,1"), w[1:2])
    with pytest.raises(ValueError, match="has shape"):
        reader.get_slice("w", "5 1,1")  # the full shape given does not match
    with pytest.raises(ValueError, match="outside"):
        reader.get_slice("w", "1,5")
    with pytest.raises(ValueError, match="rank"):
        reader.get_slice("w", "-:-")
    with pytest.raises(ValueError, match="start,length"):
        TensorSlice.parse("1:2")


def test_diff_compares_what_is_stored():
    rows = {r["name"]: r for r in diff_checkpoints(CASE / "ema", CASE / "ema")}
    assert rows["emb/ExponentialMovingAverage"]["status"] == "same"
    rows = {r["name"]: r for r in diff_checkpoints(CASE / "ema", CASE / "one_piece")}
    assert rows["emb"]["status"] == "changed"  # saved in other slices: not compared element-wise


def _partitioned(tmp_path, pieces, shape=(6, 2)):
    full = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    with BundleWriter(tmp_path / "p") as w:
        for start, length in pieces:
            w.add_slice("v", shape, TensorSlice((Extent(start, length), Extent())), full[start:start + length])
        w.add("other", np.ones(2, np.float32))
    return tmp_path / "p", full


def test_our_own_partial_bundle(tmp_path):
    prefix, full = _partitioned(tmp_path, [(0, 2), (4, 2)])
    report = verify_checkpoint(prefix)
    assert report.ok, report.problems
    reader = tl.load_checkpoint(prefix)
    with pytest.raises(tl.PartialTensorError, match="missing: 2,2:-"):
        reader.get_tensor("v")
    np.testing.assert_array_equal(reader.get_slice("v", "4,2:-"), full[4:])
    np.testing.assert_array_equal(reader.get_slice("v", "5,1:1,1"), full[5:, 1:])
    np.testing.assert_array_equal(reader.get_slice("v", "0,2:-"), full[:2])


def test_overlapping_pieces_are_still_malformed(tmp_path):
    prefix, _ = _partitioned(tmp_path, [(0, 3), (2, 2)])
    report = verify_checkpoint(prefix)
    assert [p.kind for p in report.problems] == ["MalformedError"]
    assert "overlaps" in report.problems[0].message
    with pytest.raises(tl.MalformedError, match="overlaps"):
        tl.load_checkpoint(prefix).get_tensor("v")


@pytest.mark.tf
def test_tf_agrees_on_our_partial_bundle(tf, tmp_path):
    prefix, full = _partitioned(tmp_path, [(0, 2), (4, 2)])
    reader = tf.train.load_checkpoint(str(prefix))
    assert reader.get_variable_to_shape_map() == {"v": [6, 2], "other": [2]}
    with pytest.raises(Exception, match="Does not have sufficient slices"):
        reader.get_tensor("v")
    got = tf.raw_ops.RestoreV2(prefix=str(prefix), tensor_names=["v"], shape_and_slices=["6 2 5,1:1,1"],
                               dtypes=[tf.float32])[0].numpy()
    np.testing.assert_array_equal(got, tl.load_checkpoint(prefix).get_slice("v", "6 2 5,1:1,1"))
