"""TF2 object graphs: decoding TensorFlow's, writing ours, and TensorFlow restoring ours."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from conftest import TF_FIXTURES, load_expected
from hypothesis import given
from hypothesis import strategies as st

import tfckpt_lab as tl
from tfckpt_lab.cli import main as cli_main
from tfckpt_lab.checkpoint.object_graph import (
    OBJECT_GRAPH_KEY,
    escape_local_name,
    parse_object_graph,
    unescape_local_name,
)
from tfckpt_lab.checkpoint.object_writer import build_object_graph
from tfckpt_lab.protos import trackable_object_graph_pb2

TF2_CASES = ["tf2_checkpoint", "keras_adam", "tf_keras_adam"]  # committed fixtures: a missing one fails

TREE = {
    "model": {
        "dense": {"kernel": np.arange(6, dtype=np.float32).reshape(2, 3), "bias": np.array([1.0, 2.0, 3.0], np.float32)},
        "odd.name/with slash": np.int32(4),
        "label": np.array(b"hi", dtype=object),
    },
    "step": np.int64(9),
}


def _prefix(case: str) -> str:
    return str(TF_FIXTURES / case / load_expected(case)["prefix"])


# -- escaping ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["plain", "a.b", "a/b", "..//", ".S", "S.", "x.Sy", "", "dots..and//slashes"])
def test_escape_roundtrip(name):
    escaped = escape_local_name(name)
    assert "/" not in escaped
    assert unescape_local_name(escaped) == name


@given(st.text())
@pytest.mark.slow
def test_escape_is_a_bijection(name):
    assert unescape_local_name(escape_local_name(name)) == name


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.integers(-5, 5), min_size=1, max_size=5))
def test_written_keys_parse_back_to_local_names(tree):
    proto, tensors = build_object_graph(tree)
    graph = parse_object_graph(proto.SerializeToString())
    assert list(graph.root.children) == sorted(tree)  # the root sorts its children, as tf.train.Checkpoint does
    for name in tree:
        key = graph.key(escape_local_name(name))
        assert key in tensors and int(tensors[key]) == tree[name]


# -- reading TensorFlow's checkpoints ------------------------------------------------------------
@pytest.mark.parametrize("case", TF2_CASES)
def test_decode_matches_tf_message_to_dict(case):
    """expected.json's object_graph is TF's MessageToDict(preserving_proto_field_name=True)."""
    graph = tl.read_object_graph(_prefix(case))
    assert graph.to_dict() == load_expected(case)["object_graph"]


@pytest.mark.parametrize("case", TF2_CASES)
def test_every_key_is_in_the_checkpoint(case):
    graph = tl.read_object_graph(_prefix(case))
    keys = set(tl.load_checkpoint(_prefix(case)).keys())
    assert set(graph.checkpoint_keys()) | {OBJECT_GRAPH_KEY} == keys
    for path, key in graph.value_paths().items():  # paths are escaped, so they are key prefixes
        assert key.startswith(path + "/.ATTRIBUTES/"), (path, key)


def test_tf2_checkpoint_paths_and_escaping():
    graph = tl.read_object_graph(TF_FIXTURES / "tf2_checkpoint")  # directory -> latest
    assert graph.root.children == {"model": 1, "note": 2, "save_counter": 3}
    assert graph.key("model/encoder/inner/kernel") == "model/encoder/inner/kernel/.ATTRIBUTES/VARIABLE_VALUE"
    assert graph.key("model/weird..name.Swith slash") == "model/weird..name.Swith slash/.ATTRIBUTES/VARIABLE_VALUE"
    node = graph.node("model/dots....and.S.Sslashes")
    assert sorted(node.children) == ["bias", "kernel"]
    assert graph.get_tensor("model/encoder/kernel").shape == (3, 4)
    assert all(n.has_checkpoint_values for n in graph.nodes)


def test_legacy_optimizer_slot_variables():
    graph = tl.read_object_graph(_prefix("tf_keras_adam"))
    optimizer = graph.node("optimizer")
    assert sorted({s.slot_name for s in optimizer.slot_variables}) == ["m", "v"]
    kernel = graph.node("model/layer_with_weights-0/kernel")
    slot = next(graph.nodes[s.slot_variable_node_id] for s in optimizer.slot_variables
                if s.original_variable_node_id == kernel.id and s.slot_name == "m")
    assert slot.path == "model/layer_with_weights-0/kernel/.OPTIMIZER_SLOT/optimizer/m"
    assert graph.key(slot.path) == slot.path + "/.ATTRIBUTES/VARIABLE_VALUE"
    assert "slot 'm' of 'model/layer_with_weights-0/kernel'" in graph.tree()


def test_keras3_aliases_resolve_to_the_same_variable():
    graph = tl.read_object_graph(_prefix("keras_adam"))
    layer_kernel = graph.node("model/_functional/_operations/1/_kernel")
    assert layer_kernel.path == "optimizer/_trainable_variables/0"  # TF names it by the shortest path
    assert graph.key("model/_functional/_operations/1/_kernel") == graph.key("optimizer/_trainable_variables/0")


def test_errors(tmp_path):
    with pytest.raises(tl.TensorNotFoundError, match="TF1"):
        tl.read_object_graph(TF_FIXTURES / "tf1_saver_basic")
    with pytest.raises(tl.MalformedError):
        parse_object_graph(b"\x0a\xff\xff")
    bad = trackable_object_graph_pb2.TrackableObjectGraph()
    bad.nodes.add().children.add(node_id=5, local_name="x")
    with pytest.raises(tl.MalformedError, match="points to node 5"):
        parse_object_graph(bad.SerializeToString())
    tl.write_bundle(tmp_path / "c", {OBJECT_GRAPH_KEY: np.float32(1)})
    with pytest.raises(tl.MalformedError, match="string scalar"):
        tl.read_object_graph(tmp_path / "c")


# -- writing -----------------------------------------------------------------------------------------
def test_writer_roundtrip(tmp_path):
    prefix = tl.write_object_checkpoint(tmp_path / "ckpt-1", TREE)
    graph = tl.read_object_graph(prefix)
    assert [n.path for n in graph.nodes] == [
        "", "model", "step", "save_counter", "model/dense", "model/odd..name.Swith slash", "model/label",
        "model/dense/kernel", "model/dense/bias"]
    assert graph.node("model").children == {"dense": 4, "odd.name/with slash": 5, "label": 6}
    assert graph.get_tensor("model/dense/kernel").tolist() == TREE["model"]["dense"]["kernel"].tolist()
    assert graph.get_tensor("model/label") == b"hi"
    assert int(graph.get_tensor("save_counter")) == 1
    assert graph.nodes[7].attributes[0].full_name == "kernel"


def test_writer_empty_branch_and_errors(tmp_path):
    graph = tl.read_object_graph(tl.write_object_checkpoint(tmp_path / "c", {"a": {}, "b": np.zeros(1)},
                                                            save_counter=None))
    assert [n.has_checkpoint_values for n in graph.nodes] == [True, False, True]
    shared = {"x": np.zeros(1)}
    with pytest.raises(ValueError, match="twice"):
        tl.write_object_checkpoint(tmp_path / "d", {"a": shared, "b": shared})
    with pytest.raises(TypeError):
        tl.write_object_checkpoint(tmp_path / "d", [np.zeros(1)])
    with pytest.raises(ValueError, match="non-empty"):
        tl.write_object_checkpoint(tmp_path / "d", {"": np.zeros(1)})


def test_manager_writes_object_checkpoints(tmp_path):
    manager = tl.CheckpointManager(tmp_path, max_to_keep=2, writer=tl.write_object_checkpoint)
    for _ in range(3):
        prefix = manager.save(TREE)
    graph = tl.read_object_graph(tmp_path)
    assert graph.prefix == prefix
    assert int(graph.get_tensor("save_counter")) == 3


def test_cli_objects(capsys):
    prefix = _prefix("tf2_checkpoint")
    assert cli_main(["objects", prefix, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == load_expected("tf2_checkpoint")["object_graph"]
    assert cli_main(["objects", prefix]) == 0
    assert "kernel = model/encoder/kernel/.ATTRIBUTES/VARIABLE_VALUE" in capsys.readouterr().out
    assert cli_main(["objects", prefix, "--paths"]) == 0
    assert "model/head/bias  ->  model/head/bias/.ATTRIBUTES/VARIABLE_VALUE" in capsys.readouterr().out
    assert cli_main(["objects", str(TF_FIXTURES / "tf1_saver_basic")]) == 1


# -- with TensorFlow ------------------------------------------------------------------------------------
@pytest.mark.tf
@pytest.mark.parametrize("case", TF2_CASES)
def test_decode_matches_tf_live(tf, case):
    from google.protobuf import json_format
    from tensorflow.core.protobuf import trackable_object_graph_pb2 as tf_pb2

    theirs = tf_pb2.TrackableObjectGraph()
    theirs.ParseFromString(tf.train.load_checkpoint(_prefix(case)).get_tensor(OBJECT_GRAPH_KEY))
    expected = json_format.MessageToDict(theirs, preserving_proto_field_name=True)
    assert tl.read_object_graph(_prefix(case)).to_dict() == expected


def _module_tree(tf, tree, *, as_dicts=False):
    """tf.Modules (or dicts) with the same structure as ``tree``, holding zero-valued variables."""
    if not isinstance(tree, dict):
        value = np.asarray(tree)
        if value.dtype == object:
            return tf.Variable(b"" if value.ndim == 0 else [b""] * value.size)
        return tf.Variable(np.zeros_like(value))
    if as_dicts:
        return {k: _module_tree(tf, v, as_dicts=True) for k, v in tree.items()}
    module = tf.Module()
    for k, v in tree.items():
        setattr(module, k, _module_tree(tf, v))
    return module


def _lookup(obj, path):
    for name in path:
        obj = obj[name] if isinstance(obj, dict) else getattr(obj, name)
    return obj


@pytest.mark.tf
@pytest.mark.parametrize("as_dicts", [False, True])
def test_tf_restores_ours_with_assert_consumed(tf, tmp_path, as_dicts):
    prefix = tl.write_object_checkpoint(tmp_path / "ckpt-1", TREE)
    model = _module_tree(tf, TREE["model"], as_dicts=as_dicts)
    step = tf.Variable(np.int64(0))
    ckpt = tf.train.Checkpoint(model=model, step=step)
    ckpt.restore(prefix).assert_consumed()
    assert int(step.numpy()) == 9 and int(ckpt.save_counter.numpy()) == 1
    for path in (("dense", "kernel"), ("dense", "bias"), ("odd.name/with slash",), ("label",)):
        got = _lookup(model, path).numpy()
        assert np.asarray(got).tolist() == np.asarray(_lookup(TREE["model"], path)).tolist(), path


@pytest.mark.tf
def test_tf_restores_manager_output_and_writes_the_same_graph(tf, tmp_path):
    manager = tl.CheckpointManager(tmp_path / "ours", max_to_keep=1, writer=tl.write_object_checkpoint)
    manager.save(TREE)
    prefix = manager.save(TREE)
    model = _module_tree(tf, TREE["model"])
    ckpt = tf.train.Checkpoint(model=model, step=tf.Variable(np.int64(0)))
    ckpt.restore(tf.train.latest_checkpoint(str(tmp_path / "ours"))).assert_consumed()
    assert int(ckpt.save_counter.numpy()) == 2
    # TF writing the same structure produces the same object graph and keys (full_name aside:
    # it is the tf.Variable's own name, "Variable" when none was given)
    theirs = ckpt.write(str(tmp_path / "theirs" / "ckpt"))

    def without_full_names(graph):
        for node in graph.lowlevel.nodes:
            for attribute in node.attributes:
                attribute.full_name = ""
        return graph.to_dict()

    assert without_full_names(tl.read_object_graph(theirs)) == without_full_names(tl.read_object_graph(prefix))


# -- values stored as several tensors, or under another name (issue 16 item 7) -----------------------------
TABLES = TF_FIXTURES.parent / "tf_objects" / "tables_iterator"


def _tables_expected() -> dict:
    return json.loads((TABLES / "expected.json").read_text())


def test_tables_and_iterators_list_what_is_really_stored():
    """TF stores a lookup table's attribute 'table' as table-keys and table-values, and an iterator's
    attribute 'ITERATOR' as ITERATOR_STATE: the paths name those tensors, never a key with nothing behind it."""
    expected = _tables_expected()
    graph = tl.read_object_graph(TABLES / "ck")
    assert graph.to_dict() == expected["object_graph"]
    assert graph.value_paths() == {
        "dt/table-keys": "dt/.ATTRIBUTES/table-keys", "dt/table-values": "dt/.ATTRIBUTES/table-values",
        "it/ITERATOR_STATE": "it/.ATTRIBUTES/ITERATOR_STATE",
        "t/table-keys": "t/.ATTRIBUTES/table-keys", "t/table-values": "t/.ATTRIBUTES/table-values",
        "v": "v/.ATTRIBUTES/VARIABLE_VALUE"}
    stored = {name for name, _ in expected["list_variables"]} - {OBJECT_GRAPH_KEY}
    assert sorted(graph.value_paths().values()) == sorted(stored)  # each stored tensor named once
    assert graph.stored_keys("t/.ATTRIBUTES/table") == ("t/.ATTRIBUTES/table-keys", "t/.ATTRIBUTES/table-values")
    assert graph.stored_keys("it/.ATTRIBUTES/ITERATOR") == ("it/.ATTRIBUTES/ITERATOR_STATE",)
    for path, key in graph.value_paths().items():
        assert graph.key(path) == key
        want = expected["tensors"].get(key)
        if want is None:  # the iterator's state is a DT_VARIANT: listed and verified, not decoded
            assert expected["dtypes"][key] == "variant"
            with pytest.raises(tl.UnsupportedError, match="variant"):
                graph.get_tensor(path)
            continue
        got = np.asarray(graph.get_tensor(path))
        assert list(got.shape) == want["shape"]
        if want["dtype"] == "string":
            assert [base64.b64encode(x).decode() for x in got.reshape(-1)] == want["strings_b64"]
        else:
            assert got.reshape(-1).tolist() == want["values"]
    with pytest.raises(KeyError, match="'t/table-keys', 't/table-values'"):
        graph.key("t/table")


def test_table_tensors_hold_what_tensorflow_restores():
    restored = _tables_expected()["restored"]
    graph = tl.read_object_graph(TABLES / "ck")
    keys, values = graph.get_tensor("t/table-keys"), graph.get_tensor("t/table-values")
    assert {k.decode(): int(v) for k, v in zip(keys, values)} == {k: v for k, v in restored["t"].items() if v != -1}
    dense = dict(zip(graph.get_tensor("dt/table-keys").ravel().tolist(), graph.get_tensor("dt/table-values").ravel().tolist()))
    dense.pop(0)  # the empty_key marks free buckets
    assert {str(k): v for k, v in dense.items()} == {k: v for k, v in restored["dt"].items() if v != -1}
    assert graph.get_tensor("v") == restored["v"]


def test_tables_tree_and_cli_paths(capsys):
    tree = tl.read_object_graph(TABLES / "ck").tree()
    assert "|-- .table = t/.ATTRIBUTES/table  (-keys: string[2], -values: int64[2])" not in tree  # t is last
    assert "`-- .table = t/.ATTRIBUTES/table  (-keys: string[2], -values: int64[2])" in tree
    assert ".ITERATOR = it/.ATTRIBUTES/ITERATOR  (_STATE: variant[3])" in tree
    assert "missing" not in tree
    assert cli_main(["objects", str(TABLES / "ck"), "--paths"]) == 0
    assert "it/ITERATOR_STATE  ->  it/.ATTRIBUTES/ITERATOR_STATE" in capsys.readouterr().out


def test_a_suffixed_tensor_belongs_to_the_longest_attribute_key(tmp_path):
    """Attribute 'table' is stored in parts, attribute 'table2' under its own key: 'table2' is not a part of 'table'."""
    proto = trackable_object_graph_pb2.TrackableObjectGraph()
    proto.nodes.add().children.add(node_id=1, local_name="t")
    node = proto.nodes.add()
    node.attributes.add(name="table", checkpoint_key="t/.ATTRIBUTES/table")
    node.attributes.add(name="table2", checkpoint_key="t/.ATTRIBUTES/table2")
    node.attributes.add(name="gone", checkpoint_key="t/.ATTRIBUTES/gone")
    tensors = {k: np.zeros(1, np.int64) for k in ("t/.ATTRIBUTES/table-keys", "t/.ATTRIBUTES/table2",
                                                   "t/.ATTRIBUTES/table2-x")}
    prefix = str(tmp_path / "c")
    tl.write_bundle(prefix, {OBJECT_GRAPH_KEY: np.array(proto.SerializeToString(), dtype=object), **tensors})
    graph = tl.read_object_graph(prefix)
    assert graph.stored_keys("t/.ATTRIBUTES/table") == ("t/.ATTRIBUTES/table-keys",)
    assert graph.stored_keys("t/.ATTRIBUTES/table2") == ("t/.ATTRIBUTES/table2",)
    assert graph.stored_keys("t/.ATTRIBUTES/gone") == ()
    assert graph.value_paths() == {"t/table-keys": "t/.ATTRIBUTES/table-keys", "t/table2": "t/.ATTRIBUTES/table2",
                                   "t/gone": "t/.ATTRIBUTES/gone"}
    assert "(missing from the checkpoint!)" in graph.tree()


@pytest.mark.tf
def test_tables_and_iterator_written_live_by_tf(tf, tmp_path):
    table = tf.lookup.experimental.MutableHashTable(tf.int64, tf.string, default_value=b"?")
    table.insert(tf.constant([3, 4, 5], tf.int64), tf.constant([b"x", b"y", b"z"]))
    it = iter(tf.data.Dataset.from_tensor_slices([1.0, 2.0]))
    prefix = tf.train.Checkpoint(lookup=table, data=it).write(str(tmp_path / "ck"))
    graph = tl.read_object_graph(prefix)
    theirs = {name for name, _ in tf.train.list_variables(prefix)} - {OBJECT_GRAPH_KEY}
    assert set(graph.value_paths().values()) == theirs
    reader = tf.train.load_checkpoint(prefix)
    for path, key in graph.value_paths().items():
        if key.endswith("ITERATOR_STATE"):
            continue
        assert graph.get_tensor(path).tolist() == reader.get_tensor(key).tolist()
