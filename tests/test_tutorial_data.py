"""The TensorFlow-written files notebook 08 opens (tfckpt_lab/data/saved_model, keras3) read as TensorFlow said."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

import tfckpt_lab as tl
from tfckpt_lab import tutorial
from tfckpt_lab.codecs import decode_varint
from tfckpt_lab.protos import meta_graph_pb2


def _says(name):
    return json.loads((tutorial.data_path(name) / "tensorflow_says.json").read_text())


def test_the_saved_models_variables_are_a_bundle_with_tensorflows_values():
    says = _says("saved_model")
    assert says["tf_version"] == "2.21.0"
    prefix = str(tutorial.data_path("saved_model") / "variables" / "variables")
    assert [[n, s] for n, s in tl.list_variables(prefix)] == says["list_variables"]
    with tl.load_checkpoint(prefix) as reader:
        for key, value in says["values"].items():
            assert np.array_equal(reader[key], np.array(value, np.float32)), key
    assert tl.read_object_graph(prefix).key("dense/kernel") == "dense/kernel/.ATTRIBUTES/VARIABLE_VALUE"


def test_saved_model_pb_holds_one_meta_graph():
    """What notebook 08 parses with varints: field 1 a version, field 2 the MetaGraphDef."""
    raw = (tutorial.data_path("saved_model") / "saved_model.pb").read_bytes()
    tag, pos = decode_varint(raw, 0)
    assert tag == (1 << 3) | 0
    _, pos = decode_varint(raw, pos)
    tag, pos = decode_varint(raw, pos)
    assert tag == (2 << 3) | 2
    length, pos = decode_varint(raw, pos)
    assert pos + length == len(raw)
    meta = meta_graph_pb2.MetaGraphDef.FromString(raw[pos:])
    says = _says("saved_model")["saved_model_pb"]
    assert len(meta.graph_def.node) == says["graph_nodes"] and sorted(meta.signature_def) == says["signatures"]
    assert tl.MetaGraph(meta).op_counts["VarHandleOp"] == 2


def test_keras_files_are_a_zip_and_an_hdf5_file_not_bundles():
    folder = tutorial.data_path("keras3")
    says = _says("keras3")
    for name, head in says["first_bytes_hex"].items():
        assert (folder / name).read_bytes()[:8].hex() == head
        with pytest.raises(tl.CheckpointError):
            tl.load_checkpoint(str(folder / name))
    assert zipfile.ZipFile(folder / "tiny.keras").namelist() == says["keras_zip_names"]
    assert says["save_weights_other_suffix"].startswith("ValueError") and ".weights.h5" in says["save_weights_other_suffix"]
