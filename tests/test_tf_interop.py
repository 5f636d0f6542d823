"""Live interop with real TensorFlow (skipped cleanly when it is not installed; CI installs it).

TensorFlow reads what we write, and what TensorFlow writes live (not only the stored
fixtures) is byte-identical to our writer's output.
"""

from __future__ import annotations

import numpy as np
import pytest

import tfckpt_lab as tl
from tfckpt_lab import dtypes
from tfckpt_lab.bundle import BundleWriter, Extent, TensorSlice

pytestmark = pytest.mark.tf

RNG = np.random.default_rng(1234)


def _every_dtype() -> dict[str, np.ndarray]:
    out = {}
    for num in dtypes.ALL_DATATYPES:
        dt = dtypes.numpy_dtype(num)
        name = dtypes.dtype_name(num)
        if dt is None or name.startswith("q"):
            continue
        if dt == object:
            flat = [RNG.bytes(int(n)) for n in RNG.integers(0, 300, size=6)]
            arr = np.empty(6, dtype=object)
            arr[:] = flat
            out[f"v/{name}"] = arr.reshape(2, 3)
            continue
        if name.startswith(("float", "bfloat")):
            arr = RNG.uniform(-4, 4, size=(4, 5)).astype(np.float32).astype(dt)
        elif name.startswith("complex"):
            arr = (RNG.standard_normal((4, 5)) + 1j * RNG.standard_normal((4, 5))).astype(dt)
        elif name == "bool":
            arr = RNG.integers(0, 2, size=(4, 5)).astype(bool)
        elif name in ("int4", "uint4", "int2", "uint2"):
            lo, hi = {"int4": (-8, 8), "uint4": (0, 16), "int2": (-2, 2), "uint2": (0, 4)}[name]
            arr = RNG.integers(lo, hi, size=(4, 5)).astype(dt)
        else:
            arr = RNG.integers(0, 256, size=4 * 5 * dt.itemsize, dtype=np.uint8).view(dt).reshape(4, 5)
        out[f"v/{name}"] = arr
    out["scalar"] = np.float64(3.25)
    out["empty"] = np.zeros((2, 0, 3), np.int32)
    out["string_scalar"] = np.array(b"a\x00b", dtype=object)
    return out


def _tf_value(tf, value):
    if value.dtype == object:
        return tf.constant(value.tolist() if value.ndim else value.item(), dtype=tf.string)
    return tf.constant(value)


def _check_tf_reads(tf, prefix, expected):
    reader = tf.train.load_checkpoint(str(prefix))
    assert sorted(reader.get_variable_to_shape_map()) == sorted(expected)
    for name, value in expected.items():
        got = reader.get_tensor(name)
        if value.dtype == object:
            got = np.array(got, dtype=object)
            assert got.reshape(-1).tolist() == value.reshape(-1).tolist(), name
        else:
            got = np.asarray(got)
            assert got.shape == value.shape, name
            assert got.tobytes() == value.astype(got.dtype).tobytes(), name
        assert reader.get_variable_to_dtype_map()[name].name == dtypes.dtype_name(
            dtypes.datatype_for(value.dtype)), name


def test_tf_reads_every_dtype_we_write(tf, tmp_path):
    tensors = _every_dtype()
    tl.write_bundle(tmp_path / "all", tensors)
    _check_tf_reads(tf, tmp_path / "all", tensors)
    assert tf.train.list_variables(str(tmp_path / "all")) == tl.list_variables(tmp_path / "all")


@pytest.mark.parametrize("num_shards", [2, 3, 5])
def test_tf_reads_our_shards(tf, tmp_path, num_shards):
    tensors = {f"layer{i}/w": RNG.standard_normal((i + 1, 3)).astype(np.float32) for i in range(7)}
    tl.write_bundle(tmp_path / "sh", tensors, num_shards=num_shards)
    assert len(list(tmp_path.glob("sh.data-*"))) == num_shards
    _check_tf_reads(tf, tmp_path / "sh", tensors)


def test_tf_reads_our_partitioned_variable(tf, tmp_path):
    full = RNG.standard_normal((10, 6)).astype(np.float32)
    with BundleWriter(tmp_path / "p", num_shards=2) as w:
        for i, (start, length) in enumerate([(0, 4), (4, 3), (7, 3)]):
            w.add_slice("part", full.shape, TensorSlice((Extent(start, length), Extent())),
                        full[start:start + length], shard=i % 2)
        for i, (start, length) in enumerate([(0, 2), (2, 4)]):
            w.add_slice("cols", (3, 6), TensorSlice((Extent(), Extent(start, length))),
                        full[:3, start:start + length], shard=1)
    reader = tf.train.load_checkpoint(str(tmp_path / "p"))
    assert reader.get_variable_to_shape_map() == {"part": [10, 6], "cols": [3, 6]}
    np.testing.assert_array_equal(reader.get_tensor("part"), full)
    np.testing.assert_array_equal(reader.get_tensor("cols"), full[:3])


def test_live_savev2_is_byte_identical(tf, tmp_path):
    tensors = _every_dtype()
    order = list(tensors)
    RNG.shuffle(order)
    theirs = tmp_path / "tf" / "m"
    tf.raw_ops.SaveV2(prefix=str(theirs), tensor_names=order, shape_and_slices=[""] * len(order),
                      tensors=[_tf_value(tf, tensors[n]) for n in order])
    ours = tmp_path / "ours" / "m"
    tl.write_bundle(ours, {n: tensors[n] for n in order})
    for suffix in (".index", ".data-00000-of-00001"):
        assert (ours.parent / ("m" + suffix)).read_bytes() == (theirs.parent / ("m" + suffix)).read_bytes()


def test_live_multiblock_index_is_byte_identical(tf, tmp_path):
    names = [f"model/block_{i // 40:04d}/layer_{i % 40:02d}/kernel/.ATTRIBUTES/VARIABLE_VALUE" for i in range(9000)]
    RNG.shuffle(names)
    values = [np.full(2, i, np.float32) for i in range(len(names))]
    theirs = tmp_path / "tf" / "m"
    tf.raw_ops.SaveV2(prefix=str(theirs), tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[tf.constant(v) for v in values])
    ours = tmp_path / "ours" / "m"
    tl.write_bundle(ours, dict(zip(names, values)))
    assert tl.load_checkpoint(ours).lowlevel.table.num_data_blocks >= 2
    for suffix in (".index", ".data-00000-of-00001"):
        assert (ours.parent / ("m" + suffix)).read_bytes() == (theirs.parent / ("m" + suffix)).read_bytes()


def test_we_read_what_tf_writes_live(tf, tmp_path):
    tensors = _every_dtype()
    prefix = tmp_path / "m"
    tf.raw_ops.SaveV2(prefix=str(prefix), tensor_names=list(tensors), shape_and_slices=[""] * len(tensors),
                      tensors=[_tf_value(tf, v) for v in tensors.values()])
    reader = tl.load_checkpoint(prefix)
    for name, value in tensors.items():
        got = reader.lowlevel.read_tensor(name)
        if value.dtype == object:
            assert got.reshape(-1).tolist() == value.reshape(-1).tolist()
        else:
            assert got.dtype == value.dtype and got.tobytes() == value.tobytes()
