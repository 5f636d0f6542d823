"""write_object_checkpoint writes the files tf.train.Checkpoint writes (issue 16, item 5).

``tf.train.Checkpoint(**tree)`` attaches its keyword arguments in ``sorted()`` order, so the
root's children are sorted by name; a nested dict keeps its insertion order; ``save()`` adds
``save_counter`` after the others; node ids are breadth first; the data file holds the values
in node-id order with the object graph last.  The fixture ``tf/tf2_object_order`` holds a dozen
structures TensorFlow 2.21 wrote with ``write()`` and ``save()``; every file must be identical.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import TF_FIXTURES, b64

import tfckpt_lab as tl
from tfckpt_lab.checkpoint.object_graph import OBJECT_GRAPH_KEY

CASE = TF_FIXTURES / "tf2_object_order"


def _tree(spec: dict) -> dict:
    out = {}
    for name, item in spec.items():
        if "children" in item:
            out[name] = _tree(item["children"])
        elif item["dtype"] == "string":
            arr = np.empty(len(item["b64"]), dtype=object)
            arr[:] = [b64(x) for x in item["b64"]]
            out[name] = arr.reshape(item["shape"])
        else:
            out[name] = np.array(item["values"], dtype=item["dtype"]).reshape(item["shape"])
    return out


STRUCTURES = {k: _tree(v) for k, v in json.loads((CASE / "structures.json").read_text()).items()}


def _same_files(ours, theirs):
    for suffix in (".index", ".data-00000-of-00001"):
        a, b = Path(f"{ours}{suffix}").read_bytes(), Path(f"{theirs}{suffix}").read_bytes()
        assert a == b, suffix


def test_a_dozen_structures():
    assert len(STRUCTURES) >= 12
    assert sum(list(t) != sorted(t) for t in STRUCTURES.values()) >= 6  # most are not given in order


@pytest.mark.parametrize("name", sorted(STRUCTURES))
@pytest.mark.parametrize("how", ["written", "saved-1"])
def test_same_files_as_tf(tmp_path, name, how):
    save_counter = 1 if how == "saved-1" else None
    ours = tl.write_object_checkpoint(tmp_path / how, STRUCTURES[name], save_counter=save_counter)
    theirs = CASE / name / how
    with tl.load_checkpoint(theirs) as a, tl.load_checkpoint(ours) as b:
        assert b[OBJECT_GRAPH_KEY] == a[OBJECT_GRAPH_KEY]  # the TrackableObjectGraph, byte for byte
    _same_files(ours, theirs)


def test_root_sorted_nested_in_order_counter_last(tmp_path):
    tree = {"b": {"z": np.float32(1), "a": np.float32(2)}, "a": np.float32(3)}
    graph = tl.read_object_graph(tl.write_object_checkpoint(tmp_path / "c", tree))
    assert list(graph.root.children) == ["a", "b", "save_counter"]
    assert list(graph.node("b").children) == ["z", "a"]
    assert [n.path for n in graph.nodes] == ["", "a", "b", "save_counter", "b/z", "b/a"]


def _to_tf(tf, tree):
    return {k: (_to_tf(tf, v) if isinstance(v, dict) else tf.Variable(v, name=k)) for k, v in tree.items()}


@pytest.mark.tf
@pytest.mark.parametrize("seed", range(6))
def test_live_random_structures(tf, tmp_path, seed):
    rng = np.random.default_rng(seed)
    names = ["a", "B", "_c", "d.e", "f/g", "ü", "10", "9", "zz", "Aa", "save", "x y"]

    def grow(depth):
        tree = {}
        for name in rng.choice(names, size=int(rng.integers(1, 5)), replace=False):
            if depth < 3 and rng.random() < 0.4:
                tree[str(name)] = grow(depth + 1)
            else:
                tree[str(name)] = rng.standard_normal(int(rng.integers(0, 4))).astype(np.float32)
        return tree

    tree = {k: v for k, v in grow(0).items() if k != "save"}  # Checkpoint.save is a method
    tree = tree or {"a": np.float32(1)}
    ckpt = tf.train.Checkpoint(**_to_tf(tf, tree))
    _same_files(tl.write_object_checkpoint(tmp_path / "ours" / "w", tree, save_counter=None),
                ckpt.write(str(tmp_path / "tf" / "w")))
    _same_files(tl.write_object_checkpoint(tmp_path / "ours" / "s-1", tree, save_counter=1),
                ckpt.save(str(tmp_path / "tf" / "s")))


def test_variables_on_several_devices_in_one_shard(tmp_path):
    """TF2's default policy puts every device's variables in one shard, in node order, as we do."""
    source = TF_FIXTURES / "tf2_multishard" / "ckpt"
    with tl.load_checkpoint(source) as reader:
        model = {n: reader[f"model/{n}/.ATTRIBUTES/VARIABLE_VALUE"] for n in ("v0", "w0", "v1", "w1", "v2", "w2")}
    _same_files(tl.write_object_checkpoint(tmp_path / "ckpt", {"model": model}, save_counter=None), source)


@pytest.mark.tf
def test_live_manager_saves_the_same_files(tf, tmp_path):
    tree = {"step": np.int64(3), "model": {"w": np.arange(4, dtype=np.float32), "b": np.float32(1)}}
    ckpt = tf.train.Checkpoint(**_to_tf(tf, tree))
    theirs = tf.train.CheckpointManager(ckpt, str(tmp_path / "tf"), max_to_keep=2)
    ours = tl.CheckpointManager(tmp_path / "ours", max_to_keep=2, writer=tl.write_object_checkpoint)
    for _ in range(3):
        theirs.save()
        ours.save(tree)
    assert sorted(os.listdir(tmp_path / "tf")) == sorted(os.listdir(tmp_path / "ours"))
    _same_files(tmp_path / "ours" / "ckpt-3", tmp_path / "tf" / "ckpt-3")
