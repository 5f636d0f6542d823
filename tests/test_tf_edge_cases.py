"""Checkpoints TensorFlow writes that the golden fixtures do not cover, and the errors a user meets.

The TensorFlow cases are written live (CI installs TensorFlow; they skip without it):
a ``tf.data`` iterator (a DT_VARIANT entry), a lookup table (one object attribute stored as
two tensors) and a SavedModel's ``variables/`` directory.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import tfckpt_lab as tl
from conftest import TF_FIXTURES
from tfckpt_lab.checkpoint.verify import verify_checkpoint
from tfckpt_lab.cli import main as cli_main


@pytest.fixture(scope="module")
def tf_written(tmp_path_factory, request):
    tf = request.getfixturevalue("tf")
    root = tmp_path_factory.mktemp("tf_written")
    it = iter(tf.data.Dataset.range(10))
    next(it)
    tf.train.Checkpoint(it=it, v=tf.Variable(3.0)).write(str(root / "iter" / "ck"))
    table = tf.lookup.experimental.MutableHashTable(tf.string, tf.int64, -1)
    table.insert(tf.constant(["a", "b"]), tf.constant([1, 2], tf.int64))
    tf.train.Checkpoint(t=table).write(str(root / "table" / "ck"))
    module = tf.Module()
    module.v = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3))
    tf.saved_model.save(module, str(root / "sm"))
    return tf, root


@pytest.mark.tf
def test_variant_entry_lists_verifies_and_refuses_to_read(tf_written):
    tf, root = tf_written
    prefix = str(root / "iter" / "ck")
    assert tl.list_variables(prefix) == tf.train.list_variables(prefix)
    reader = tl.load_checkpoint(prefix)
    assert reader.get_variable_to_dtype_map()["it/.ATTRIBUTES/ITERATOR_STATE"] == "variant"
    with pytest.raises(tl.UnsupportedError, match="variant"):
        reader.get_tensor("it/.ATTRIBUTES/ITERATOR_STATE")
    report = verify_checkpoint(prefix)  # a valid TF checkpoint: its variant checksums hold
    assert report.ok, report.problems
    assert report.tensors_checked == 3


@pytest.mark.tf
def test_verify_finds_a_flipped_byte_in_a_variant_tensor(tf_written, tmp_path, capsys):
    _, root = tf_written
    e = tl.load_checkpoint(str(root / "iter" / "ck")).entry("it/.ATTRIBUTES/ITERATOR_STATE")
    for name in os.listdir(root / "iter"):
        (tmp_path / name).write_bytes((root / "iter" / name).read_bytes())
    data = tmp_path / "ck.data-00000-of-00001"
    b = bytearray(data.read_bytes())
    b[e.offset + e.size - 10] ^= 0x40
    data.write_bytes(bytes(b))
    report = verify_checkpoint(str(tmp_path / "ck"))
    [p] = report.problems
    assert p.kind == "ChecksumMismatchError" and p.path.endswith("ck.data-00000-of-00001")
    assert e.offset <= p.start < p.end <= e.offset + e.size
    assert cli_main(["verify", str(tmp_path / "ck")]) == 1


@pytest.mark.tf
def test_object_tree_shows_a_value_stored_as_several_tensors(tf_written):
    _, root = tf_written
    tree = tl.read_object_graph(str(root / "table" / "ck")).tree()
    assert "missing" not in tree
    assert "-keys: string[2]" in tree and "-values: int64[2]" in tree


@pytest.mark.tf
def test_saved_model_directory_names_its_variables_prefix(tf_written):
    tf, root = tf_written
    prefix = str(root / "sm" / "variables" / "variables")
    assert tl.list_variables(prefix) == tf.train.list_variables(prefix)
    with pytest.raises(tl.CheckpointNotFoundError, match="variables/variables"):
        tl.load_checkpoint(root / "sm")


def test_directory_without_state_file_names_the_prefixes_it_holds(tmp_path):
    tl.write_bundle(tmp_path / "model", {"w": np.ones(2, np.float32)})
    with pytest.raises(FileNotFoundError, match="open by prefix: .*model"):
        tl.load_checkpoint(tmp_path)
    with pytest.raises(tl.CheckpointNotFoundError, match="no such directory"):
        tl.load_checkpoint(str(tmp_path / "missing") + os.sep)


def test_manager_hands_num_shards_to_its_writer(tmp_path):
    manager = tl.CheckpointManager(tmp_path, max_to_keep=2, num_shards=3, writer=tl.write_object_checkpoint)
    prefix = manager.save({"model": {"a": np.ones(3), "b": np.zeros(2), "c": np.ones(1)}})
    assert tl.load_checkpoint(prefix).lowlevel.num_shards == 3
    assert sorted(n for n in os.listdir(tmp_path) if ".data-" in n) == [
        f"ckpt-1.data-0000{i}-of-00003" for i in range(3)]


def test_inspect_json_prints_every_string_tensor(capsys):
    prefix = str(TF_FIXTURES / "savev2_strings" / "bundle")
    reader = tl.load_checkpoint(prefix)
    for name in reader.keys():  # rank 0, 1 and 2; UTF-8, NULs and bytes that are not UTF-8
        assert cli_main(["inspect", prefix, "--json", "--tensor", name]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["shape"] == list(reader.entry(name).shape)
    assert cli_main(["inspect", prefix, "--json", "--tensor", "matrix_2x3"]) == 0
    value = json.loads(capsys.readouterr().out)["value"]
    assert len(value) == 2 and len(value[0]) == 3
    assert value[0][0] == "r0c0" and value[1][2] == {"hex": "ff"}
