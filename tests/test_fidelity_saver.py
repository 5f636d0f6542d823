"""tl.Saver writes what TensorFlow 2.21's tf.compat.v1 Saver writes (issue 11 items 1-2, issue 16 items 3-4).

* the ``.index`` and ``.data`` of a save are TF's bytes for a dict in any order (TF sorts);
* the ``.meta`` graph is TF's graph for resource variables with zeros initializers, node by
  node (names, ops, inputs, devices, attrs; TF's private ``_*`` attrs and ``debug_name`` aside);
* keys that are not node names (``"with space"``, ``"ünï/cödé"``, ``"a:b"``) are saved under
  the key, the node gets a valid name, and everything is checked before a file is written;
* TF imports the ``.meta``, runs ``global_variables_initializer()`` and restores, for every
  dtype ``write_bundle`` takes (the three float8 ``fnuz`` types have no variable kernel in TF:
  refused up front).

The fixture ``tf/tf1_saver_unsorted`` comes from ``tests/fixtures/make_fixtures.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from conftest import TF_FIXTURES, b64, load_expected
from test_meta import undocumented

import tfckpt_lab as tl
from tfckpt_lab import dtypes
from tfckpt_lab.meta.writer import NO_VARIABLE_KERNEL, build_meta_graph, graph_node_name
from tfckpt_lab.protos import meta_graph_pb2, variable_pb2

CASE = TF_FIXTURES / "tf1_saver_unsorted"


def _inputs() -> dict[str, np.ndarray]:
    """The Saver's var_list, in the (unsorted) order TF was given it."""
    exp = load_expected(CASE.name)
    npz = np.load(CASE / "inputs.npz")
    out = {}
    for item in exp["saver_var_list_order"]:
        if "strings" in item:
            arr = np.empty(len(item["strings"]["elements_b64"]), dtype=object)
            arr[:] = [b64(x) for x in item["strings"]["elements_b64"]]
            out[item["key"]] = arr.reshape(item["shape"])
        else:
            raw = npz[item["values"].split(":")[1]]
            want = next(dtypes.numpy_dtype(n) for n in dtypes.ALL_DATATYPES if dtypes.dtype_name(n) == item["tf_dtype"])
            out[item["key"]] = raw.view(want) if raw.dtype != want else raw
    return out


def _same_files(ours: str, theirs: Path) -> None:
    for suffix in (".index", ".data-00000-of-00001"):
        assert Path(ours + suffix).read_bytes() == Path(str(theirs) + suffix).read_bytes(), suffix


# -- bytes of a save ------------------------------------------------------------------------
def test_inputs_are_unsorted_and_odd():
    keys = list(_inputs())
    assert keys != sorted(keys)
    assert {"with space", "a:b", "ünï/cödé"} <= set(keys)


@pytest.mark.parametrize("sharded", [False, True])
def test_saver_bytes_equal_tf_for_an_unsorted_dict(tmp_path, sharded):
    save_path = tmp_path / ("sharded/model" if sharded else "model")
    save_path.parent.mkdir(exist_ok=True)
    prefix = tl.Saver(sharded=sharded).save(_inputs(), str(save_path), global_step=7)
    _same_files(prefix, CASE / ("sharded/model-7" if sharded else "model-7"))


def test_sharded_by_device_equals_tf1_sharded_saver(tmp_path):
    """TF1 Saver(sharded=True) over 3 devices: one shard per device, each in key order."""
    case = TF_FIXTURES / "tf1_sharded"
    devices = load_expected(case.name)["variable_devices"]
    with tl.load_checkpoint(case / "model-5") as reader:
        values = {name: reader[name] for name in reversed(list(reader.keys()))}
    shard = {name: int(device.rsplit(":", 1)[1]) for name, device in devices.items()}
    prefix = tl.Saver(num_shards=3, shard_of=lambda name, i: shard[name]).save(
        values, str(tmp_path / "model"), global_step=5)
    for suffix in [".index"] + [f".data-0000{i}-of-00003" for i in range(3)]:
        assert Path(prefix + suffix).read_bytes() == (case / ("model-5" + suffix)).read_bytes(), suffix


def test_any_order_gives_the_same_bytes(tmp_path):
    values = _inputs()
    rng = np.random.default_rng(0)
    first = None
    for k in range(4):
        keys = list(values)
        rng.shuffle(keys)
        prefix = tl.Saver().save({key: values[key] for key in keys}, str(tmp_path / f"run{k}" / "model"))
        files = [Path(prefix + s).read_bytes() for s in (".index", ".data-00000-of-00001", ".meta")]
        first = first or files
        assert files[:2] == first[:2]


# -- the .meta graph, node by node ------------------------------------------------------------
def _nodes(graph_def):
    out = []
    for n in graph_def.node:
        attrs = {k: v.SerializeToString(deterministic=True) for k, v in n.attr.items()
                 if not k.startswith("_") and k != "debug_name"}
        out.append((n.name, n.op, list(n.input), n.device, attrs))
    return out


def _variable_defs(meta, name):
    out = []
    for raw in meta.collection_def[name].bytes_list.value:
        vd = variable_pb2.VariableDef()
        vd.ParseFromString(raw)
        out.append(vd)
    return out


def _assert_same_graph(ours, theirs):
    assert [n[0] for n in _nodes(ours.graph_def)] == [n[0] for n in _nodes(theirs.graph_def)]
    for a, b in zip(_nodes(ours.graph_def), _nodes(theirs.graph_def)):
        assert a == b, a[0]
    assert ours.saver_def == theirs.saver_def
    assert sorted(ours.collection_def) == sorted(theirs.collection_def)
    for name in ours.collection_def:
        assert _variable_defs(ours, name) == _variable_defs(theirs, name), name
    for op_ours, op_theirs in zip(ours.meta_info_def.stripped_op_list.op, theirs.meta_info_def.stripped_op_list.op):
        assert op_ours == undocumented(op_theirs), op_ours.name
    assert len(ours.meta_info_def.stripped_op_list.op) == len(theirs.meta_info_def.stripped_op_list.op)


@pytest.mark.parametrize("sharded", [False, True])
def test_meta_graph_is_tfs_node_by_node(sharded):
    theirs = meta_graph_pb2.MetaGraphDef()
    theirs.ParseFromString((CASE / ("sharded/model-7.meta" if sharded else "model-7.meta")).read_bytes())
    ours = build_meta_graph(_inputs(), sharded=sharded)
    _assert_same_graph(ours, theirs)
    assert load_expected(CASE.name)["node_names"] == {k: graph_node_name(k) for k in _inputs()}


def test_our_saver_meta_reads_back_with_the_keys():
    mg = tl.read_meta_graph(CASE / "model-7.meta")  # TF's file: keys found through SaveV2
    assert {v.name: v.checkpoint_key for v in mg.variables} == {graph_node_name(k): k for k in _inputs()}


# -- validation before writing ----------------------------------------------------------------
@pytest.mark.parametrize("variables, error", [
    ({1: np.zeros(1)}, TypeError),
    ({"": np.zeros(1)}, ValueError),
    ({"w": np.zeros(1), "t": np.array(["2020-01-01"], "datetime64[D]")}, TypeError),
    ({"w": np.zeros(1), "f8": np.zeros(2, ml_dtypes.float8_e5m2fnuz)}, tl.UnsupportedError),
])
def test_nothing_is_written_when_a_save_is_refused(tmp_path, variables, error):
    with pytest.raises(error):
        tl.Saver().save(variables, str(tmp_path / "model"), global_step=1)
    assert os.listdir(tmp_path) == []
    # without a graph the float8 fnuz value is saved: TF reads it with load_checkpoint
    if error is tl.UnsupportedError:
        prefix = tl.Saver().save(variables, str(tmp_path / "model"), write_meta_graph=False)
        assert tl.load_checkpoint(prefix)["f8"].dtype == ml_dtypes.float8_e5m2fnuz


def test_odd_keys_are_saved_under_the_key(tmp_path):
    prefix = tl.Saver().save({"with space": np.ones(2), "a:b": np.int32(1), "ünï/cödé": np.zeros(3)},
                             str(tmp_path / "m"))
    assert sorted(tl.load_checkpoint(prefix).keys()) == ["a:b", "with space", "ünï/cödé"]
    assert {v.name for v in tl.read_meta_graph(prefix + ".meta").variables} == {"with_space", "a_b", "var_n_/c_d_"}


# -- with TensorFlow ----------------------------------------------------------------------------
def _dtype_cases():
    rng = np.random.default_rng(3)
    out = {}
    for num in dtypes.ALL_DATATYPES:
        dt, name = dtypes.numpy_dtype(num), dtypes.dtype_name(num)
        if dt is None or name.startswith("q"):
            continue
        if dt == object:
            value = np.array([b"a", b"", b"x\x00y"], dtype=object)
        elif name == "bool":
            value = np.array([True, False, True])
        elif name.startswith("complex"):
            value = np.array([1 + 2j, -3j, 0.5], dt)
        else:
            value = rng.integers(0, 2, size=(2, 3)).astype(dt)
        out[name] = value
    return out


DTYPE_CASES = _dtype_cases()


def _tf_restore(tf, prefix, keys):
    """Import PREFIX.meta, initialize, restore; the values by key and what the imported Saver saves."""
    with tf.Graph().as_default():
        saver = tf.compat.v1.train.import_meta_graph(prefix + ".meta")
        by_node = {v.op.name: v for v in tf.compat.v1.global_variables()}
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            zeros = {k: sess.run(by_node[n]) for k, n in keys.items()}
            saver.restore(sess, prefix)
            values = {k: sess.run(by_node[n]) for k, n in keys.items()}
            again = saver.save(sess, prefix + "-again", write_meta_graph=False)
    return zeros, values, again


def _equal(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if b.dtype == object:
        return a.reshape(-1).tolist() == b.reshape(-1).tolist()
    return a.shape == b.shape and a.tobytes() == b.astype(a.dtype).tobytes()


@pytest.mark.tf
@pytest.mark.parametrize("sharded", [False, True])
@pytest.mark.parametrize("name", sorted(DTYPE_CASES))
def test_tf_restores_every_dtype_through_our_meta(tf, tmp_path, name, sharded):
    value = DTYPE_CASES[name]
    variables = {f"v/{name}": value, "global_step": np.int64(5)}
    if dtypes.datatype_for(value.dtype) in NO_VARIABLE_KERNEL:
        with pytest.raises(tl.UnsupportedError, match="no kernel"):
            tl.Saver(sharded=sharded).save(variables, str(tmp_path / "model"), global_step=5)
        assert os.listdir(tmp_path) == []
        return
    prefix = tl.Saver(sharded=sharded).save(variables, str(tmp_path / "model"), global_step=5)
    zeros, values, again = _tf_restore(tf, prefix, {k: graph_node_name(k) for k in variables})
    assert not np.asarray(zeros[f"v/{name}"]).astype(bool).any()  # the graph held no value
    assert _equal(values[f"v/{name}"], value) and int(values["global_step"]) == 5
    assert _equal(tl.load_checkpoint(again)[f"v/{name}"], value)


@pytest.mark.tf
@pytest.mark.parametrize("datatype", sorted(NO_VARIABLE_KERNEL))
def test_tf_fnuz_types_have_no_variable_kernel(tf, datatype):
    """Why they are refused: TF 2.21 registers no AssignVariableOp kernel for them."""
    from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2

    zeros = tensor_pb2.TensorProto(dtype=datatype, float8_val=b"\x00\x00", tensor_shape=tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=2)]))
    with tf.Graph().as_default():
        dtype = tf.dtypes.as_dtype(datatype)
        handle = tf.raw_ops.VarHandleOp(dtype=dtype, shape=[2], shared_name="v")
        assign = tf.raw_ops.AssignVariableOp(resource=handle, value=tf.raw_ops.Const(value=zeros, dtype=dtype))
        with tf.compat.v1.Session() as sess:
            with pytest.raises(tf.errors.InvalidArgumentError, match="No OpKernel was registered"):
                sess.run(assign)


@pytest.mark.tf
def test_tf_restores_odd_keys(tf, tmp_path):
    variables = {"with space": np.arange(3, dtype=np.float32), "a:b": np.int64(4), "a_b": np.int64(5),
                 "ünï/cödé": np.array([b"q"], dtype=object), "_x": np.float64(2.5), "x\\y": np.int8(1),
                 "a>_b": np.int8(2), "a>b": np.int8(3), "dir/": np.int8(4)}
    prefix = tl.Saver().save(variables, str(tmp_path / "m"), global_step=1)
    nodes = {v.name: v.checkpoint_key for v in tl.read_meta_graph(prefix + ".meta").variables}
    _, values, again = _tf_restore(tf, prefix, {key: node for node, key in nodes.items()})
    for key, value in variables.items():
        assert _equal(values[key], value), key
    assert sorted(tl.load_checkpoint(again).keys()) == sorted(variables)


@pytest.mark.tf
def test_tf_initializes_a_big_variable_from_one_value(tf, tmp_path):
    prefix = tl.Saver().save({"big": np.ones((1000, 1000), np.float32)}, str(tmp_path / "m"))
    assert os.path.getsize(prefix + ".meta") < 3000
    zeros, values, _ = _tf_restore(tf, prefix, {"big": "big"})
    assert zeros["big"].shape == (1000, 1000) and not zeros["big"].any()
    assert values["big"].shape == (1000, 1000) and values["big"].all()


def _tf_saver_files(tf, variables, path, *, sharded):
    """TF's own Saver over resource variables holding ``variables``, given the dict in its order."""
    with tf.Graph().as_default():
        var_list = {}
        for key, value in variables.items():
            dtype = tf.string if value.dtype == object else tf.as_dtype(value.dtype)
            var_list[key] = tf.compat.v1.get_variable(graph_node_name(key), shape=value.shape, dtype=dtype,
                                                      initializer=tf.compat.v1.zeros_initializer())
        init = tf.compat.v1.global_variables_initializer()
        saver = tf.compat.v1.train.Saver(var_list, sharded=sharded)
        with tf.compat.v1.Session() as sess:
            sess.run(init)
            for key, v in var_list.items():
                v.load(variables[key], sess)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            return saver.save(sess, path, global_step=3)


@pytest.mark.tf
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("sharded", [False, True])
def test_live_saver_bytes_equal_tf(tf, tmp_path, seed, sharded):
    rng = np.random.default_rng(seed)
    names = ["zz", "b/c", "B", "a", "a/b", "layer_10/w", "layer_9/w", "é", "with space", "x:y"]
    rng.shuffle(names)
    cases = list(DTYPE_CASES.items())
    variables = {}
    for i, name in enumerate(names):
        dname, value = cases[(i + seed * 7) % len(cases)]
        if dtypes.datatype_for(value.dtype) in NO_VARIABLE_KERNEL:
            value = value.astype(np.float32)
        variables[name] = value
    theirs = _tf_saver_files(tf, variables, str(tmp_path / "tf" / "model"), sharded=sharded)
    (tmp_path / "ours").mkdir()  # a sharded save, like TF's, needs the directory to exist
    ours = tl.Saver(sharded=sharded).save(variables, str(tmp_path / "ours" / "model"), global_step=3)
    _same_files(ours, Path(theirs))
