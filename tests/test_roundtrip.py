"""Property-based round trips: whatever we write, we read back exactly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tfckpt_lab as tl
from tfckpt_lab import dtypes
from tfckpt_lab.bundle import BundleWriter, Extent, TensorSlice
from tfckpt_lab.bundle.slices import (
    decode_slice_key,
    encode_slice_key,
    read_signed_num_increasing,
    write_signed_num_increasing,
)

NUMERIC = [np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
           np.uint32, np.uint64, np.bool_, np.complex64, np.complex128]

shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)


@st.composite
def tensors(draw):
    kind = draw(st.sampled_from(["numeric", "bfloat16", "string"]))
    shape = draw(shapes)
    if kind == "numeric":
        dt = draw(st.sampled_from(NUMERIC))
        return draw(hnp.arrays(dt, shape))
    if kind == "bfloat16":
        raw = draw(hnp.arrays(np.uint16, shape))
        return raw.view(dtypes.numpy_dtype(14))
    flat = draw(st.lists(st.binary(max_size=300), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(shape)


names = st.text(min_size=1, max_size=40).filter(lambda s: "\x00" not in s[:1])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(st.dictionaries(names, tensors(), min_size=1, max_size=12), st.integers(1, 3))
def test_write_then_read(tmp_path, tensors_by_name, num_shards):
    prefix = tmp_path / f"m{np.random.randint(1 << 30)}"
    tl.write_bundle(prefix, tensors_by_name, num_shards=num_shards)
    reader = tl.load_checkpoint(prefix)
    assert sorted(reader.keys()) == sorted(tensors_by_name)
    for name, value in tensors_by_name.items():
        got = reader.lowlevel.read_tensor(name)
        assert got.shape == value.shape
        if value.dtype == object:
            assert got.reshape(-1).tolist() == value.reshape(-1).tolist()
        else:
            assert got.dtype == value.dtype and got.tobytes() == value.tobytes()
        assert reader.get_variable_to_dtype_map()[name] == dtypes.dtype_name(dtypes.datatype_for(value.dtype))
    reader.close()


@given(st.integers(-(2**63), 2**63 - 1))
def test_signed_ordered_code_roundtrip(v):
    enc = write_signed_num_increasing(v)
    assert read_signed_num_increasing(enc, 0) == (v, len(enc))


@given(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=2, max_size=10))
def test_signed_ordered_code_preserves_order(values):
    encoded = [write_signed_num_increasing(v) for v in sorted(values)]
    assert encoded == sorted(encoded)


@given(st.binary(max_size=20), st.lists(st.tuples(st.integers(0, 1000), st.integers(-1, 1000)), max_size=4))
def test_slice_key_roundtrip(name, extents):
    sl = TensorSlice(tuple(Extent(0, -1) if ln == -1 else Extent(s, ln) for s, ln in extents))
    assert decode_slice_key(encode_slice_key(name, sl)) == (name, sl)


def test_slice_key_matches_tensorflow_bytes():
    # From the tf1_partitioned fixture: part_axis0 rows 4..6 (start 4, length 3; whole second dim).
    key = bytes.fromhex("00706172745f617869733000010102848380" "84")
    name, sl = decode_slice_key(key)
    assert name == b"part_axis0"
    assert sl == TensorSlice((Extent(4, 3), Extent(0, 4)))


def test_partitioned_write_read(tmp_path):
    full = np.arange(40, dtype=np.float32).reshape(10, 4)
    prefix = tmp_path / "p"
    with BundleWriter(prefix) as w:
        for start, length in [(0, 4), (4, 3), (7, 3)]:
            w.add_slice("part", full.shape, TensorSlice((Extent(start, length), Extent(0, -1))),
                        full[start:start + length])
        w.add("plain", np.ones(3, np.int32))
    r = tl.load_checkpoint(prefix)
    assert tl.list_variables(prefix) == [("part", [10, 4]), ("plain", [3])]
    np.testing.assert_array_equal(r.get_tensor("part"), full)
    assert len(r.entries()) == 5  # part (description), three pieces, plain


def test_scalars_come_back_as_tensorflow_returns_them(tmp_path):
    prefix = tmp_path / "s"
    tl.write_bundle(prefix, {"f": np.float32(2.5), "s": b"bytes", "u": "text"})
    r = tl.load_checkpoint(prefix)
    assert r["f"] == np.float32(2.5) and isinstance(r["f"], np.float32)
    assert r["s"] == b"bytes" and r["u"] == "text".encode()


def test_zero_copy_view(tmp_path):
    prefix = tmp_path / "v"
    a = np.arange(1000, dtype=np.float64)
    tl.write_bundle(prefix, {"a": a})
    r = tl.load_checkpoint(prefix)
    view = r.get_tensor("a", verify=False, copy=False)
    np.testing.assert_array_equal(view, a)
    assert not view.flags.writeable
    with pytest.raises(ValueError):
        view[0] = 1


def test_big_endian_input_is_stored_little_endian(tmp_path):
    prefix = tmp_path / "be"
    a = np.arange(6, dtype=">i4")
    tl.write_bundle(prefix, {"a": a})
    got = tl.load_checkpoint(prefix)["a"]
    assert got.dtype == np.dtype("<i4")
    np.testing.assert_array_equal(got, a)
    assert (tmp_path / "be.data-00000-of-00001").read_bytes() == np.arange(6, dtype="<i4").tobytes()
