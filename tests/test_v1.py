"""V1 ("tensor slice") checkpoints: read TF 2.21's own files, compare with TF's readers; hostile bytes.

Fixtures: tests/fixtures/tf_v1/ (tests/fixtures/make_v1_fixtures.py).  Expected values
come from ``tf.raw_ops.Restore``; names, shapes and dtypes from ``tf.train.list_variables``
and ``get_variable_to_dtype_map``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import tfckpt_lab as tl
from tfckpt_lab.bundle.slices import Extent, TensorSlice, encode_slice_key
from tfckpt_lab.errors import ChecksumMismatchError, CheckpointError, MalformedError, TensorNotFoundError
from tfckpt_lab.protos import saved_tensor_slice_pb2 as sts_pb2
from tfckpt_lab.sstable import TableBuilder
from tfckpt_lab.v1 import V1Reader, is_v1_checkpoint, v1_files

from conftest import declared_fixtures

V1_FIXTURES = Path(__file__).parent / "fixtures" / "tf_v1"
CASES = sorted(declared_fixtures("make_v1_fixtures.py", "CASES"))


def _load(case):
    d = V1_FIXTURES / case
    exp = json.loads((d / "expected.json").read_text())
    npz = np.load(d / "values.npz") if (d / "values.npz").exists() else None
    return d, exp, npz


def _check_value(name, got, spec, npz):
    got = np.asarray(got) if not isinstance(got, bytes) else got
    if "strings" in spec:
        want = [base64.b64decode(x) for x in spec["strings"]["elements_b64"]]
        arr = np.empty((), object) if isinstance(got, bytes) else got
        if isinstance(got, bytes):
            arr[()] = got
        assert list(arr.shape) == spec["strings"]["shape"], name
        assert arr.reshape(-1).tolist() == want, name
        return
    assert list(got.shape) == spec["shape"], name
    if "values_sha256" in spec:
        assert hashlib.sha256(np.ascontiguousarray(got).tobytes()).hexdigest() == spec["values_sha256"], name
        return
    want = npz[spec["values"].split(":", 1)[1]]
    assert got.dtype.itemsize == want.dtype.itemsize, name
    assert np.ascontiguousarray(got).tobytes() == want.tobytes(), name  # bit-exact: NaN, -0, extremes


@pytest.mark.parametrize("case", CASES)
def test_listing_and_values_match_tensorflow(case):
    d, exp, npz = _load(case)
    prefix = d / exp["prefix"]
    assert is_v1_checkpoint(prefix)
    assert [[n, s] for n, s in tl.list_variables(prefix)] == exp["list_variables"]
    with tl.load_checkpoint(prefix) as r:
        assert isinstance(r.lowlevel, V1Reader)
        assert r.get_variable_to_dtype_map() == exp["dtypes"]
        assert len(r) == len(exp["tensors"]) and set(r) == set(exp["tensors"])
        for name, spec in exp["tensors"].items():
            got = r.get_tensor(name)
            if spec["shape"] == []:
                assert not isinstance(got, np.ndarray), name  # numpy scalars / bytes, as TF returns
            _check_value(name, got, spec, npz)


@pytest.mark.parametrize("case", [c for c in CASES if _load(c)[1]["checkpoint_state_text"]])
def test_directory_resolves_like_tensorflow(case):
    d, exp, _ = _load(case)
    r = tl.load_checkpoint(d)
    assert Path(r.prefix).name == Path(exp["tf_latest_checkpoint"]).name
    assert sorted(r) == sorted(exp["tensors"])


def test_sharded_by_stem_glob_and_single_shard():
    d, exp, npz = _load("v1_sharded")
    assert exp["prefix"] == "model.ckpt-5-?????-of-00003"
    assert len(v1_files(d / "model.ckpt-5")) == 3
    assert tl.list_variables(d / "model.ckpt-5") == tl.list_variables(d / exp["prefix"])
    one = tl.load_checkpoint(d / "model.ckpt-5-00001-of-00003")  # TF reads one shard alone, too
    assert sorted(one) == ["dev/b0", "spread"]
    with pytest.raises(MalformedError, match="slices of 'spread' hold 6 elements"):
        one["spread"]  # only the middle third of it lives in this file


def test_partitioned_slices_and_byte_ranges():
    d, exp, _ = _load("v1_partitioned")
    r = V1Reader(d / "model.ckpt")
    e = r.entry("part_axis0")
    assert [str(s) for s in e.slices] == ["0,4:0,4", "4,3:0,4", "7,3:0,4"]
    assert e.offset is None
    plain = r.entry("plain")
    assert plain.slices == () and plain.offset is not None
    raw = (d / "model.ckpt").read_bytes()
    pieces = r.entries()
    assert sum(1 for p in pieces.values() if p.name == "part_axis0") == 3
    for key, p in pieces.items():
        msg = sts_pb2.SavedTensorSlices.FromString(raw[p.offset:p.offset + p.size])
        assert msg.data.name.decode() == p.name
        assert TensorSlice.from_proto(msg.data.slice) == p.tensor_slice
        assert key == encode_slice_key(p.name, p.tensor_slice)
    full = np.array(exp["full_values_expected"]["part_axis1"], np.float32)
    assert np.array_equal(r.read_tensor("part_axis1"), full)


def test_value_larger_than_a_block():
    d, exp, _ = _load("v1_multiblock")
    r = V1Reader(d / "big.ckpt")
    assert r.tables[0].num_data_blocks >= 2
    big = r.entry("layer_07/w")
    assert big.size > 256 * 1024


@pytest.mark.tf
def test_tensorflow_restores_what_we_list(tf):  # live cross-check on one fixture, in TF's own graph op
    d, exp, _ = _load("v1_dtypes")
    with tl.load_checkpoint(d / "dtypes.ckpt") as r:
        got = r["f16"]
    want = tf.raw_ops.Restore(file_pattern=str(d / "dtypes.ckpt"), tensor_name="f16", dt=tf.float16).numpy()
    assert got.tobytes() == want.tobytes()


# -- hostile bytes ----------------------------------------------------------------


def _write_v1(path, metas, data):
    """A V1 table from ``metas`` [(name, shape, dtype, [TensorSlice])] and ``data`` {key: value bytes}."""
    sts = sts_pb2.SavedTensorSlices()
    sts.meta.versions.producer = 1
    for name, shape, dtype, slices in metas:
        t = sts.meta.tensor.add(name=name.encode(), type=dtype)
        for d in shape:
            t.shape.dim.add(size=d)
        for s in slices:
            t.slice.add().CopyFrom(s.to_proto())
    items = {b"": sts.SerializeToString(), **data}
    f = io.BytesIO()
    tb = TableBuilder(f)
    for k in sorted(items):
        tb.add(k, items[k])
    tb.finish()
    Path(path).write_bytes(f.getvalue())
    return path


def _slice_value(name, s, **typed):
    sts = sts_pb2.SavedTensorSlices()
    sts.data.name = name.encode()
    sts.data.slice.CopyFrom(s.to_proto())
    for field, values in typed.items():
        getattr(sts.data.data, field).extend(values)
    return sts.SerializeToString()


FULL1 = TensorSlice((Extent(),))


def test_hostile_shape_is_refused_without_allocating(tmp_path):
    key = encode_slice_key("w", FULL1)
    p = _write_v1(tmp_path / "huge.ckpt", [("w", [1 << 40], 1, [FULL1])],
                  {key: _slice_value("w", FULL1, float_val=[1.0, 2.0, 3.0])})
    r = tl.load_checkpoint(p)
    assert r.get_variable_to_shape_map() == {"w": [1 << 40]}
    with pytest.raises(MalformedError, match="needs 1099511627776 values in float_val, found 3") as exc:
        r["w"]
    assert exc.value.path == str(p) and exc.value.offset is not None


def test_garbage_value_is_a_checkpoint_error_naming_file_and_offset(tmp_path):
    key = encode_slice_key("w", FULL1)
    p = _write_v1(tmp_path / "bad.ckpt", [("w", [2], 1, [FULL1])], {key: b"\x12\xff\xff\xff\xff\x0f"})
    with pytest.raises(MalformedError, match="not a SavedTensorSlices") as exc:
        tl.load_checkpoint(p)["w"]
    assert "bad.ckpt" in str(exc.value) and exc.value.offset > 0


def test_overlapping_slices_are_refused(tmp_path):
    a, b = TensorSlice((Extent(0, 2),)), TensorSlice((Extent(1, 2),))
    p = _write_v1(tmp_path / "ovl.ckpt", [("w", [4], 1, [a, b])],
                  {encode_slice_key("w", a): _slice_value("w", a, float_val=[1, 2]),
                   encode_slice_key("w", b): _slice_value("w", b, float_val=[3, 4])})
    with pytest.raises(MalformedError, match="overlaps"):
        V1Reader(p).read_tensor("w")


@pytest.mark.parametrize("bad", ["negative_dim", "slice_outside", "no_meta", "missing_data"])
def test_bad_metadata(tmp_path, bad):
    p = tmp_path / "m.ckpt"
    if bad == "negative_dim":
        _write_v1(p, [("w", [-3], 1, [FULL1])], {})
    elif bad == "slice_outside":
        _write_v1(p, [("w", [3], 1, [TensorSlice((Extent(2, 5),))])], {})
    elif bad == "missing_data":
        _write_v1(p, [("w", [3], 1, [FULL1])], {})
    else:
        f = io.BytesIO()
        tb = TableBuilder(f)
        tb.add(b"", sts_pb2.SavedTensorSlices(data=sts_pb2.SavedSlice(name=b"x")).SerializeToString())
        tb.finish()
        p.write_bytes(f.getvalue())
    with pytest.raises(MalformedError) as exc:
        V1Reader(p).read_tensor("w")
    assert str(p) in str(exc.value)


def test_flipped_byte_fails_the_block_checksum(tmp_path):
    src = V1_FIXTURES / "v1_saver_basic" / "model.ckpt-1000"
    p = tmp_path / "model.ckpt-1000"
    shutil.copy(src, p)
    raw = bytearray(p.read_bytes())
    raw[40] ^= 0x01  # inside the one data block
    p.write_bytes(bytes(raw))
    with pytest.raises(ChecksumMismatchError):
        tl.load_checkpoint(p)
    assert not is_v1_checkpoint(p)


def test_missing_names(tmp_path):
    d, _, _ = _load("v1_saver_basic")
    r = tl.load_checkpoint(d)
    with pytest.raises(TensorNotFoundError):
        r["nope"]
    with pytest.raises(KeyError):
        r["nope"]
    assert "nope" not in r and "ints" in r
    with pytest.raises(CheckpointError):
        tl.load_checkpoint(tmp_path / "none")


def test_latest_checkpoint_matches_a_sharded_v1_pattern():
    import tfckpt_lab as tl
    from conftest import FIXTURES

    d = FIXTURES / "tf_v1" / "v1_sharded"
    latest = tl.latest_checkpoint(d)
    assert latest is not None and latest.endswith("-?????-of-00003")
    assert sorted(tl.load_checkpoint(d).keys()) == sorted(tl.load_checkpoint(latest).keys())


def test_verify_v1_checkpoints(tmp_path):
    import shutil

    from conftest import FIXTURES
    from tfckpt_lab.checkpoint.verify import verify_checkpoint

    for case in ("v1_saver_basic", "v1_sharded", "v1_partitioned"):
        d = FIXTURES / "tf_v1" / case
        import tfckpt_lab as tl

        report = verify_checkpoint(tl.latest_checkpoint(d))
        assert report.ok, report.problems
        assert report.tensors_checked == len(tl.load_checkpoint(d).keys())
    bad = tmp_path / "bad"
    shutil.copytree(FIXTURES / "tf_v1" / "v1_saver_basic", bad)
    f = bad / "model.ckpt-1000"
    raw = bytearray(f.read_bytes())
    raw[100] ^= 1
    f.write_bytes(bytes(raw))
    report = verify_checkpoint(str(f))
    assert not report.ok
    assert report.problems[0].kind == "ChecksumMismatchError" and report.problems[0].path == str(f)


def test_layout_of_v1_files_tiles_and_names_savedtensorslices():
    from conftest import FIXTURES
    from tfckpt_lab.explain import check_tiling, layout

    files = [p for p in (FIXTURES / "tf_v1").glob("*/model.ckpt*") if not p.name.endswith(".meta")]
    assert len(files) >= 5
    for p in files:
        tree = layout(p)
        check_tiling(tree)
        assert "SavedTensorSlices" in tree.explanation
        first_entry = tree.children[0].children[0]
        assert first_entry.children[-1].label == "SavedTensorSlices"
