"""The .meta writer and reader: structure without TensorFlow, import/restore and parse comparisons with it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

import tfckpt_lab as tl
from tfckpt_lab.cli import main as cli_main
from tfckpt_lab.meta.op_defs import OP_TABLE, op_def
from tfckpt_lab.meta.tensors import make_ndarray, make_tensor_proto
from tfckpt_lab.meta.writer import build_meta_graph, graph_node_name

from conftest import FIXTURES, TF_FIXTURES, fixture_cases

# make_meta_expected.py records TF's parse of every golden case that has a .meta file
META_CASES = [c for c in fixture_cases() if any((TF_FIXTURES / c).glob("*.meta"))]

VALUES = {
    "w1": np.arange(6, dtype=np.float32).reshape(2, 3),
    "scope/b": np.array([1.5, -2.0]),
    "global_step": np.int64(42),
    "name": np.array([b"a", b"bc\x00"], dtype=object),
    "flags": np.array([True, False]),
    "half": np.array([1.5, 2.25], np.float16),
    "empty": np.zeros((0, 3), np.int32),
}


def _meta_path(case: str) -> str:
    return str(next((TF_FIXTURES / case).glob("*.meta")))


# -- writer, no TensorFlow ---------------------------------------------------------------
@pytest.mark.parametrize("sharded", [False, True])
def test_writer_graph_structure(sharded):
    meta = build_meta_graph(VALUES, sharded=sharded, max_to_keep=3, keep_checkpoint_every_n_hours=2.5)
    nodes = {n.name: n for n in meta.graph_def.node}
    sd = meta.saver_def
    assert (sd.filename_tensor_name, sd.restore_op_name) == ("save/Const:0", "save/restore_all")
    assert sd.save_tensor_name == ("save/Identity:0" if sharded else "save/control_dependency:0")
    assert (sd.max_to_keep, sd.keep_checkpoint_every_n_hours, sd.sharded, sd.version) == (3, 2.5, sharded, 2)
    for name in VALUES:  # resource variables, as TF 2.x's tf.compat.v1 makes them
        assert nodes[name].op == "VarHandleOp" and nodes[name].attr["shared_name"].s == name.encode()
        assert nodes[f"{name}/Assign"].op == "AssignVariableOp"
        assert nodes[f"{name}/Assign"].input == [name, f"{name}/Initializer/zeros"]
        assert nodes[f"{name}/Read/ReadVariableOp"].input == [name]
        assert nodes[f"{name}/IsInitialized/VarIsInitializedOp"].input == [name]
    names = sorted(VALUES)
    assert make_ndarray(nodes["save/SaveV2/tensor_names"].attr["value"].tensor).tolist() == [
        n.encode() for n in names]
    assert list(nodes["save/SaveV2"].input[3:]) == [f"{n}/Read/ReadVariableOp" for n in names]
    assigns = [n for n in meta.graph_def.node if n.name.startswith("save/AssignVariableOp")]
    assert [a.input[0] for a in assigns] == names
    reads = [nodes[a.input[1]] for a in assigns]
    assert [r.input[0] for r in reads] == ["save/RestoreV2"] + [f"save/RestoreV2:{i}" for i in range(1, len(names))]
    # every op used is in the stripped op list, and nothing else
    assert [op.name for op in meta.meta_info_def.stripped_op_list.op] == sorted({n.op for n in nodes.values()})
    # every input names an existing node; control inputs come last, sorted (as TF serializes them)
    for n in meta.graph_def.node:
        for i in n.input:
            assert i.lstrip("^").split(":")[0] in nodes, (n.name, i)
        control = [i for i in n.input if i.startswith("^")]
        assert control == sorted(control) and list(n.input[len(n.input) - len(control):]) == control


def test_writer_collections_and_reader_roundtrip(tmp_path):
    path = tl.write_meta_graph(tmp_path / "m.meta", VALUES, trainable=["w1"], initial_values="values")
    mg = tl.read_meta_graph(path)
    got = {v.name: (v.dtype, v.shape, v.trainable, v.is_resource, v.checkpoint_key) for v in mg.variables}
    assert got == {
        "w1": ("float32", [2, 3], True, True, "w1"), "scope/b": ("float64", [2], False, True, "scope/b"),
        "global_step": ("int64", [], False, True, "global_step"), "name": ("string", [2], False, True, "name"),
        "flags": ("bool", [2], False, True, "flags"), "half": ("float16", [2], False, True, "half"),
        "empty": ("int32", [0, 3], False, True, "empty")}
    assert [v.variable_name for v in mg.collection("global_step")] == ["global_step:0"]
    assert mg.collections["trainable_variables"] == ("bytes_list", 1)
    # initial_values="values": the arrays are embedded, as tf.Variable(array) would
    for name, value in VALUES.items():
        init = make_ndarray(mg.nodes[f"{name}/Initializer/initial_value"].attr["value"].tensor)
        assert init.shape == np.shape(value) and init.tolist() == np.asarray(value).tolist()


def test_writer_zeros_are_one_value(tmp_path):
    big = {"big": np.ones((300, 300), np.float32), "s": np.array([b"x"] * 4, dtype=object)}
    path = tl.write_meta_graph(tmp_path / "m.meta", big)  # the default: zeros initializers
    assert os.path.getsize(path) < 4096
    mg = tl.read_meta_graph(path)
    z = make_ndarray(mg.nodes["big/Initializer/zeros"].attr["value"].tensor)
    assert z.shape == (300, 300) and not z.any()
    assert make_ndarray(mg.nodes["s/Initializer/zeros"].attr["value"].tensor).tolist() == [b""] * 4


def test_meta_size_does_not_depend_on_the_values(tmp_path):
    """Issue 11: the .meta is the recipe, the values live in .data only."""
    big = tl.Saver().save({"w": np.random.default_rng(0).standard_normal((1000, 1000)).astype(np.float32)},
                          str(tmp_path / "big" / "model"))
    small = tl.Saver().save({"w": np.ones((2, 2), np.float32)}, str(tmp_path / "small" / "model"))
    assert abs(os.path.getsize(big + ".meta") - os.path.getsize(small + ".meta")) <= 4
    assert os.path.getsize(big + ".meta") < 3000
    one = tl.Saver().save({"w": np.full((50, 7), 1.5, np.float32), "s": np.int64(1)}, str(tmp_path / "a" / "m"))
    two = tl.Saver().save({"w": np.full((50, 7), -9.0, np.float32), "s": np.int64(99)}, str(tmp_path / "b" / "m"))
    assert Path(one + ".meta").read_bytes() == Path(two + ".meta").read_bytes()


def test_writer_is_deterministic(tmp_path):
    a = tl.write_meta_graph(tmp_path / "a.meta", VALUES)
    b = tl.write_meta_graph(tmp_path / "b.meta", VALUES)
    assert Path(a).read_bytes() == Path(b).read_bytes()


def test_writer_name_clashes_get_tf_suffixes():
    meta = build_meta_graph({"save/x": np.zeros(1), "w": np.zeros(1), "w/Assign": np.zeros(1)})
    nodes = {n.name: n for n in meta.graph_def.node}
    assert meta.saver_def.restore_op_name == "save_1/restore_all"
    assert nodes["w/Assign"].op == "VarHandleOp" and nodes["w/Assign_1"].op == "AssignVariableOp"


@pytest.mark.parametrize("key, node", [
    ("with space", "with_space"), ("ünï/cödé", "var_n_/c_d_"), ("a:b", "a_b"), ("_private", "var_private"),
    ("-x", "var-x"), ("/abs", "var/abs"), ("dir/", "dir_"), ("x\\y", "x_y"), ("a>b", "a>b"), ("a>", "a_"),
    ("a//b", "a//b"), (".hidden", ".hidden"), ("layer_1/kernel:0", "layer_1/kernel_0"),
])
def test_graph_node_name(key, node):
    assert graph_node_name(key) == node


def test_keys_and_node_names_are_separate():
    """Issue 16: any checkpoint key TF's Saver accepts; the graph's nodes get valid names."""
    keys = {"with space": np.ones(2, np.float32), "a:b": np.int64(3), "a_b": np.zeros(1), "ünï/cödé": np.zeros(2)}
    meta = build_meta_graph(keys)
    nodes = {n.name: n for n in meta.graph_def.node}
    # a key that is already a valid name keeps it; the one mapped onto it gets a suffix
    assert {"with_space", "a_b", "a_b_1", "var_n_/c_d_"} <= {n for n, v in nodes.items() if v.op == "VarHandleOp"}
    assert make_ndarray(nodes["save/SaveV2/tensor_names"].attr["value"].tensor).tolist() == [
        k.encode() for k in sorted(keys)]
    from tfckpt_lab.meta.reader import MetaGraph

    mg = MetaGraph(meta)
    assert {v.name: v.checkpoint_key for v in mg.variables} == {
        "with_space": "with space", "a_b_1": "a:b", "a_b": "a_b", "var_n_/c_d_": "ünï/cödé"}


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(variables={}), ValueError, "no variables"),
    (dict(variables={"": np.zeros(1)}), ValueError, "empty name"),
    (dict(variables={1: np.zeros(1)}), TypeError, "must be str"),
    (dict(variables={"w": np.zeros(1)}, trainable=["v"]), ValueError, "trainable"),
    (dict(variables={"w": np.zeros(1)}, global_step_name="step"), ValueError, "global_step_name"),
    (dict(variables={"w": np.zeros(1)}, initial_values="random"), ValueError, "initial_values"),
    (dict(variables={"w": np.zeros(1, ml_dtypes.float8_e4m3fnuz)}), tl.UnsupportedError, "no kernel"),
])
def test_writer_rejects(kwargs, error, message):
    with pytest.raises(error, match=message):
        build_meta_graph(**kwargs)


def test_tensor_proto_forms():
    for value in (np.arange(5, dtype=np.int64), np.array([[1 + 2j]], np.complex64), np.float64(2.5),
                  np.array([b"q", b""], dtype=object), np.array([1.5], np.float16)):
        back = make_ndarray(make_tensor_proto(value))
        assert back.dtype == np.asarray(value).dtype and back.tolist() == np.asarray(value).tolist()
    filled = make_ndarray(make_tensor_proto(np.full((2, 2), 7, np.int32), fill=True))
    assert filled.tolist() == [[7, 7], [7, 7]]


# -- reader on TensorFlow's files, no TensorFlow ------------------------------------------
@pytest.mark.parametrize("case", META_CASES)
def test_reader_matches_tf_parse(case):
    """Compare with TensorFlow's own parse, recorded by tests/fixtures/make_meta_expected.py."""
    expected = json.loads((FIXTURES / "meta" / f"{case}.json").read_text())
    mg = tl.read_meta_graph(_meta_path(case))
    got = [{"name": v.name, "dtype": v.dtype, "shape": v.shape, "trainable": v.trainable, "device": v.device,
            "partition": v.to_dict().get("partition")} for v in mg.global_variables]
    assert got == expected["global_variables"]
    assert mg.to_dict()["saver_def"] == expected["saver_def"]


def test_reader_big_meta_summary():
    mg = tl.read_meta_graph(TF_FIXTURES / "tf1_big_meta")  # a directory: its latest checkpoint
    assert len(mg.variables) > 2000 and len(mg.lowlevel.graph_def.node) > 10000
    assert {d for d in mg.devices if d} == {"/device:CPU:0", "/device:CPU:1"}
    parts = mg.partitioned_variables
    assert parts and all(len(p) > 1 for p in parts.values())
    assert mg.op_counts["VariableV2"] == len(mg.variables)
    # the keys a Saver saves them under are the checkpoint's keys
    assert {v.checkpoint_key for v in mg.variables} == set(tl.load_checkpoint(TF_FIXTURES / "tf1_big_meta").keys())


def test_reader_keeps_unknown_fields_byte_exact():
    data = Path(_meta_path("tf1_partitioned")).read_bytes()
    assert tl.read_meta_graph(_meta_path("tf1_partitioned")).lowlevel.SerializeToString(deterministic=True) == data


def test_reader_errors(tmp_path):
    with pytest.raises(tl.CheckpointNotFoundError):
        tl.read_meta_graph(tmp_path / "missing.meta")
    bad = tmp_path / "bad.meta"
    bad.write_bytes(b"\x12\xff\xff\xff\x0f")  # graph_def with a length running past the end
    with pytest.raises(tl.MalformedError, match="not a MetaGraphDef"):
        tl.read_meta_graph(bad)
    good = build_meta_graph({"w": np.zeros(1)})
    good.collection_def["variables"].bytes_list.value.append(b"\x0a\xff")
    broken = tmp_path / "broken.meta"
    broken.write_bytes(good.SerializeToString())
    with pytest.raises(tl.MalformedError, match="VariableDef"):
        tl.read_meta_graph(broken).variables


def test_cli_meta(capsys):
    assert cli_main(["meta", _meta_path("tf1_partitioned"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["variables"]) == 12 and out["saver_def"]["restore_op_name"] == "save/restore_all"
    assert cli_main(["meta", _meta_path("tf1_saver_basic")]) == 0
    text = capsys.readouterr().out
    assert "w1" in text and "save/restore_all" in text


# -- with TensorFlow ---------------------------------------------------------------------------
def _tf_restore(tf, prefix, names):
    """Import PREFIX.meta into a fresh graph, run the initializers, restore; return values and the saver.

    ``names`` are node names; a resource variable's value is read through its ReadVariableOp.
    """
    with tf.Graph().as_default():
        saver = tf.compat.v1.train.import_meta_graph(prefix + ".meta")
        listed = [v.op.name for v in tf.compat.v1.global_variables()]
        step = tf.compat.v1.train.get_global_step()
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saver.restore(sess, prefix)
            values = {n: sess.run(f"{n}/Read/ReadVariableOp:0") for n in names}
            again = saver.save(sess, prefix + "-again", write_meta_graph=False)
    return values, listed, step, again


@pytest.mark.tf
@pytest.mark.parametrize("sharded", [False, True])
@pytest.mark.parametrize("initial_values", ["values", "zeros"])
def test_tf_imports_and_restores(tf, tmp_path, sharded, initial_values):
    prefix = str(tmp_path / "model-42")
    saved = dict(VALUES)
    tl.write_bundle(prefix, saved)
    tl.write_meta_graph(prefix + ".meta", saved, sharded=sharded, initial_values=initial_values)
    values, listed, step, again = _tf_restore(tf, prefix, saved)
    assert listed == list(saved)
    assert step is not None and step.op.name == "global_step"
    for name, value in saved.items():
        got = values[name]
        assert np.asarray(got).tolist() == np.asarray(value).tolist(), name
        assert np.asarray(got).dtype == np.asarray(value).dtype or np.asarray(value).dtype == object
    # TF's save through our graph writes a checkpoint we read back unchanged
    reader = tl.load_checkpoint(again)
    assert sorted(reader.keys()) == sorted(saved)
    assert reader["w1"].tolist() == saved["w1"].tolist()
    assert not any("_temp" in p for p in os.listdir(tmp_path))


def undocumented(op):
    """A copy of an OpDef without its documentation: what a stripped op list holds."""
    stripped = type(op)()
    stripped.CopyFrom(op)
    stripped.ClearField("summary")
    stripped.ClearField("description")
    for group in (stripped.input_arg, stripped.output_arg, stripped.attr):
        for item in group:
            item.ClearField("description")
    return stripped


@pytest.mark.tf
def test_op_defs_match_tf_registry(tf):
    from tensorflow.python.framework import op_def_registry

    for name in OP_TABLE:
        ours, theirs = op_def(name), undocumented(op_def_registry.get(name))
        assert ours.SerializeToString(deterministic=True) == theirs.SerializeToString(deterministic=True), name


@pytest.mark.tf
@pytest.mark.parametrize("case", ["tf1_saver_basic", "tf1_partitioned", "tf1_big_meta"])
def test_reader_matches_live_tf_parse(tf, case):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_meta_expected", FIXTURES / "make_meta_expected.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.tf_meta_summary(_meta_path(case))
    mg = tl.read_meta_graph(_meta_path(case))
    assert [(v.name, v.dtype, v.shape, v.trainable) for v in mg.global_variables] == [
        (v["name"], v["dtype"], v["shape"], v["trainable"]) for v in expected["global_variables"]]


@pytest.mark.tf
def test_tf_restores_through_our_saver_meta(tf, tmp_path):
    """The Saver's default writes a .meta beside each checkpoint; TF restores from it."""
    saver = tl.Saver()
    prefix = saver.save({"w": np.array([3.0, 4.0], np.float32), "global_step": np.int64(7)},
                        str(tmp_path / "model"), global_step=7)
    assert os.path.exists(prefix + ".meta")
    values, _, _, _ = _tf_restore(tf, prefix, ["w", "global_step"])
    assert values["w"].tolist() == [3.0, 4.0] and values["global_step"] == 7


def test_meta_graph_draws_itself_in_a_notebook(tmp_path):
    """A MetaGraph as a cell's result is a table of its variables, the saver and the ops."""
    saver = tl.Saver()
    prefix = saver.save({"w1": np.ones(2, np.float32)}, str(tmp_path / "m"), global_step=1, write_meta_graph=True)
    page = tl.read_meta_graph(prefix + ".meta")._repr_html_()
    assert "<table>" in page and "<code>w1</code>" in page and "save/restore_all" in page and "VarHandleOp" in page


# -- one TensorProto decoder, two rules (graph constants here, V1 slices in test_v1) ------------

_CONST_CASES = [  # (dtype number, shape, typed field, values)
    (4, [3], "int_val", [300, 1, 258]),        # uint8: the low bits, as TF's runtime
    (1, [3], "float_val", [7.0]),              # fewer values: the last one repeats
    (1, [3], "float_val", []),                 # none: zeros
    (8, [2], "scomplex_val", [1.0, 2.0, 3.0]),  # a lone last number is dropped
    (19, [2], "half_val", [0x3C00, 0xC000]),
    (14, [2], "half_val", [0x3F80]),           # bfloat16 bits
    (10, [4], "bool_val", [True, False]),
    (7, [2], "string_val", [b"a"]),
]


@pytest.mark.parametrize("datatype, shape, field, values", _CONST_CASES)
def test_make_ndarray_rules(datatype, shape, field, values):
    from tfckpt_lab.protos.tensor_pb2 import TensorProto
    from tfckpt_lab.meta.tensors import shape_proto

    p = TensorProto(dtype=datatype, tensor_shape=shape_proto(shape))
    getattr(p, field).extend(values)
    got = make_ndarray(p)
    assert list(got.shape) == shape
    if datatype == 4:
        assert got.tolist() == [44, 1, 2]
    elif datatype == 8:
        assert got.tolist() == [1 + 2j, 1 + 2j]
    elif field == "float_val":
        assert got.tolist() == ([7.0] * 3 if values else [0.0] * 3)
    elif datatype == 7:
        assert got.tolist() == [b"a", b"a"]


def test_make_ndarray_refuses_what_tensorflow_refuses():
    from tfckpt_lab.errors import MalformedError
    from tfckpt_lab.meta.tensors import shape_proto
    from tfckpt_lab.protos.tensor_pb2 import TensorProto

    with pytest.raises(MalformedError, match="at most 3 values in float_val, found 4"):
        make_ndarray(TensorProto(dtype=1, tensor_shape=shape_proto([3]), float_val=[1, 2, 3, 4]))
    with pytest.raises(MalformedError, match="tensor_content has 8 bytes"):
        make_ndarray(TensorProto(dtype=1, tensor_shape=shape_proto([3]), tensor_content=b"\0" * 8))


@pytest.mark.tf
@pytest.mark.parametrize("datatype, shape, field, values", _CONST_CASES)
def test_make_ndarray_matches_tensorflow_runtime(tf, datatype, shape, field, values):
    """What a graph's Const evaluates to in TensorFlow, bit for bit."""
    from tensorflow.core.framework import graph_pb2

    from tfckpt_lab.meta.tensors import shape_proto
    from tfckpt_lab.protos.tensor_pb2 import TensorProto

    ours = TensorProto(dtype=datatype, tensor_shape=shape_proto(shape))
    getattr(ours, field).extend(values)
    g = graph_pb2.GraphDef()
    node = g.node.add(name="c", op="Const")
    node.attr["value"].tensor.ParseFromString(ours.SerializeToString())
    node.attr["dtype"].type = datatype
    with tf.Graph().as_default() as graph:
        tf.graph_util.import_graph_def(g, name="")
        with tf.compat.v1.Session(graph=graph) as sess:
            want = sess.run("c:0")
    got = make_ndarray(ours)
    if datatype == 7:
        assert got.tolist() == want.tolist()
    else:
        assert got.dtype.itemsize == want.dtype.itemsize and got.tobytes() == want.tobytes()
