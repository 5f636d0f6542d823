"""One test per error kind, each built from deliberately broken bytes; every message names the file."""

from __future__ import annotations


import numpy as np
import pytest

import tfckpt_lab as tl
from tfckpt_lab.errors import (
    CheckpointError,
    CheckpointNotFoundError,
    ChecksumMismatchError,
    MalformedError,
    TensorNotFoundError,
    TruncatedError,
    UnsupportedError,
)


@pytest.fixture
def ckpt(tmp_path):
    prefix = tmp_path / "model"
    tl.write_bundle(prefix, {"w1": np.arange(4, dtype=np.float32), "w2": np.arange(6, dtype=np.int64),
                             "s": np.array([b"ab", b"cde"], dtype=object)})
    return prefix


def test_missing_checkpoint_is_also_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError) as exc:
        tl.load_checkpoint(tmp_path / "nope")
    assert isinstance(exc.value, CheckpointNotFoundError)
    assert "nope.index" in str(exc.value)


def test_directory_without_state_file(tmp_path):
    with pytest.raises(CheckpointNotFoundError, match="checkpoint"):
        tl.load_checkpoint(tmp_path)


def test_missing_tensor_is_also_key_error(ckpt):
    r = tl.load_checkpoint(ckpt)
    with pytest.raises(KeyError) as exc:
        r.get_tensor("w3")
    assert isinstance(exc.value, TensorNotFoundError)
    assert "'w3'" in str(exc.value) and "model.index" in str(exc.value)
    assert "w3" not in r and "w1" in r


def test_flipped_data_byte_is_a_checksum_mismatch_with_range(ckpt):
    r0 = tl.load_checkpoint(ckpt)
    e = r0.entry("w2")
    data = ckpt.with_name("model.data-00000-of-00001")
    raw = bytearray(data.read_bytes())
    raw[e.offset + 3] ^= 0x40
    data.write_bytes(bytes(raw))
    r = tl.load_checkpoint(ckpt)
    with pytest.raises(ChecksumMismatchError) as exc:
        r.get_tensor("w2")
    assert exc.value.path == str(data)
    assert (exc.value.offset, exc.value.end) == (e.offset, e.offset + e.size)
    np.testing.assert_array_equal(r.get_tensor("w1"), np.arange(4, dtype=np.float32))  # others unaffected
    # With verification off the flipped value comes through: the checksum is what protects you.
    assert not np.array_equal(r.get_tensor("w2", verify=False), np.arange(6))


def test_flipped_string_length_checksum(ckpt):
    e = tl.load_checkpoint(ckpt).entry("s")
    data = ckpt.with_name("model.data-00000-of-00001")
    raw = bytearray(data.read_bytes())
    raw[e.offset + 2] ^= 0x01  # first byte of the 4-byte length checksum (after two 1-byte lengths)
    data.write_bytes(bytes(raw))
    with pytest.raises(ChecksumMismatchError, match="length checksum"):
        tl.load_checkpoint(ckpt).get_tensor("s")


def test_truncated_data_file(ckpt):
    data = ckpt.with_name("model.data-00000-of-00001")
    data.write_bytes(data.read_bytes()[:10])
    with pytest.raises(TruncatedError) as exc:
        tl.load_checkpoint(ckpt).get_tensor("w2")
    assert str(data) in str(exc.value)


def test_bad_magic(ckpt):
    index = ckpt.with_name("model.index")
    raw = bytearray(index.read_bytes())
    raw[-1] ^= 0xFF
    index.write_bytes(bytes(raw))
    with pytest.raises(MalformedError, match="magic") as exc:
        tl.load_checkpoint(ckpt)
    assert exc.value.offset == len(raw) - 8


def test_unsupported_dtype_is_clear(tmp_path):
    from tfckpt_lab.protos.tensor_bundle_pb2 import BundleEntryProto, BundleHeaderProto
    from tfckpt_lab.sstable import TableBuilder

    prefix = tmp_path / "variant"
    h = BundleHeaderProto(num_shards=1)
    h.version.producer = 1
    e = BundleEntryProto(dtype=21, size=0)  # DT_VARIANT
    e.shape.SetInParent()
    with open(str(prefix) + ".index", "wb") as f:
        tb = TableBuilder(f)
        tb.add(b"", h.SerializeToString())
        tb.add(b"v", e.SerializeToString())
        tb.finish()
    open(str(prefix) + ".data-00000-of-00001", "wb").close()
    r = tl.load_checkpoint(prefix)
    assert r.get_variable_to_dtype_map() == {"v": "variant"}
    with pytest.raises(UnsupportedError, match="variant"):
        r.get_tensor("v")


def test_every_error_is_a_checkpoint_error():
    for cls in (CheckpointNotFoundError, TensorNotFoundError, ChecksumMismatchError, TruncatedError,
                MalformedError, UnsupportedError):
        assert issubclass(cls, CheckpointError)


def test_writer_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="reserved"):
        tl.write_bundle(tmp_path / "a", {"": np.zeros(1)})
    with pytest.raises(TypeError, match="no TensorFlow"):
        tl.write_bundle(tmp_path / "b", {"x": np.array(["2020-01-01"], dtype="datetime64[D]")})
    w = tl.BundleWriter(tmp_path / "c")
    w.add("x", np.zeros(1))
    with pytest.raises(ValueError, match="duplicate"):
        w.add("x", np.zeros(1))
    w.abort()
    assert list(tmp_path.iterdir()) == []  # nothing left behind, not even temp files


def test_add_slice_rejects_inconsistent_pieces(tmp_path):
    from tfckpt_lab.bundle import Extent, TensorSlice

    w = tl.BundleWriter(tmp_path / "p")
    first = TensorSlice((Extent(0, 2), Extent()))
    w.add_slice("v", (4, 3), first, np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="added twice"):
        w.add_slice("v", (4, 3), first, np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="full shape"):
        w.add_slice("v", (5, 3), TensorSlice((Extent(2, 2), Extent())), np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="dtype"):
        w.add_slice("v", (4, 3), TensorSlice((Extent(2, 2), Extent())), np.zeros((2, 3), np.int32))
    with pytest.raises(ValueError, match="has shape"):
        w.add_slice("v", (4, 3), TensorSlice((Extent(2, 2), Extent())), np.zeros((3, 3), np.float32))
    w.add_slice("v", (4, 3), TensorSlice((Extent(2, 2), Extent())), np.ones((2, 3), np.float32))
    w.finish()
    got = tl.load_checkpoint(tmp_path / "p").get_tensor("v")
    np.testing.assert_array_equal(got, np.r_[np.zeros((2, 3)), np.ones((2, 3))].astype(np.float32))
