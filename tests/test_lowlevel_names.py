"""One name for "one level deeper": every friendly object hands back its record as ``.lowlevel``.

Built from checkpoints real TensorFlow wrote (tests/fixtures), each ``.lowlevel`` is checked
against what TensorFlow's own classes decoded when the fixture was made (expected.json) or
against the bytes the reader used.  The old names (``.proto``, ``.record``, ``.bundle``)
still answer, with a DeprecationWarning.
"""

from __future__ import annotations

import json
import os

import pytest
from google.protobuf import json_format, text_format

import tfckpt_lab as tl
from conftest import FIXTURES, TF_FIXTURES
from tfckpt_lab.bundle.reader import BundleReader
from tfckpt_lab.checkpoint.reader import CheckpointReader
from tfckpt_lab.sstable.block import BlockEntry
from tfckpt_lab.sstable.format import BlockHandle
from tfckpt_lab.v1.reader import V1Reader

BASIC = TF_FIXTURES / "tf1_saver_basic"          # TF1 Saver: .index, one shard, .meta, state file
OBJECTS = TF_FIXTURES / "tf2_checkpoint"         # tf.train.Checkpoint: object graph, two kept
V1_BASIC = FIXTURES / "tf_v1" / "v1_saver_basic"  # V1 tensor-slice table


def expected(case_dir):
    return json.loads((case_dir / "expected.json").read_text())


def as_dict(message) -> dict:
    return json_format.MessageToDict(message)


@pytest.mark.parametrize("case_dir, kind", [(BASIC, BundleReader), (OBJECTS, BundleReader),
                                            (V1_BASIC, V1Reader)])
def test_reader_lowlevel_is_the_format_reader(case_dir, kind):
    exp = expected(case_dir)
    with tl.load_checkpoint(str(case_dir / exp["prefix"])) as reader:
        low = reader.lowlevel
        assert type(low) is kind and low.prefix == reader.prefix
        name = exp["list_variables"][0][0]
        assert (low.read_tensor(name) == reader.get_tensor(name)).all()


@pytest.mark.parametrize("case_dir", [BASIC, OBJECTS], ids=["tf1", "tf2"])
def test_entry_lowlevel_is_the_bundle_entry_proto_tensorflow_wrote(case_dir):
    exp = expected(case_dir)
    prefix = str(case_dir / exp["prefix"])
    raw = exp["index"]["raw_entries"]  # every tensor's entry (the header's is apart)
    assert raw
    with tl.load_checkpoint(prefix) as reader:
        entries = reader.entries()
        for r in raw:
            e = entries[bytes.fromhex(r["key_hex"])]
            assert type(e.lowlevel).__name__ == "BundleEntryProto"
            assert as_dict(e.lowlevel) == r["entry"]  # what TF's own proto class decoded
            assert e.lowlevel.SerializeToString() == bytes.fromhex(r["value_hex"])  # the stored bytes
            assert (e.lowlevel.offset, e.lowlevel.size, e.lowlevel.crc32c) == (e.offset, e.size, e.crc32c)


def test_data_shard_regions_hand_back_the_entry_whose_bytes_they_are():
    exp = expected(BASIC)
    prefix = str(BASIC / exp["prefix"])
    reader = tl.load_checkpoint(prefix)
    shard = tl.layout(reader.lowlevel.data_paths()[0])
    assert type(shard.lowlevel) is BundleReader
    tensors = [r for r in shard.children if r.kind == "tensor"]
    assert [r.label for r in tensors] == [name for name, _ in exp["list_variables"]]
    for region in tensors:
        entry = region.lowlevel
        assert entry == reader.entry(region.label)
        # the region is the byte range the reader read the tensor from
        assert (region.start, region.end) == (entry.lowlevel.offset, entry.lowlevel.offset + entry.lowlevel.size)


def test_index_regions_hand_back_handles_and_block_entries():
    exp = expected(BASIC)
    sst = exp["index"]["sstable"]
    index = tl.layout(str(BASIC / (exp["prefix"] + ".index")))
    blocks = [r for r in index.children if r.kind == "data_block"]
    assert [(b.lowlevel.offset, b.lowlevel.size) for b in blocks] == [
        (d["offset"], d["size"]) for d in sst["data_blocks"]]
    assert all(type(b.lowlevel) is BlockHandle for b in blocks)
    (meta_block,) = [r for r in index.children if r.kind == "metaindex_block"]
    (index_block,) = [r for r in index.children if r.kind == "index_block"]
    assert [meta_block.lowlevel.offset, meta_block.lowlevel.size] == sst["metaindex_handle"]
    assert [index_block.lowlevel.offset, index_block.lowlevel.size] == sst["index_handle"]
    entries = [c for c in blocks[0].children if c.kind == "entry"]
    raw = exp["index"]["raw_entries"]  # the tensors' entries; the header's is header_entry_hex
    assert all(type(c.lowlevel) is BlockEntry for c in entries)
    assert [c.lowlevel.key.hex() for c in entries] == [""] + [r["key_hex"] for r in raw]
    assert [c.lowlevel.value.hex() for c in entries] == [exp["index"]["header_entry_hex"]] + [
        r["value_hex"] for r in raw]
    for c in entries:  # the entry's bytes start where the block cursor found it
        assert c.start == blocks[0].start + c.lowlevel.offset


def test_header_lowlevel_is_the_bundle_header_proto():
    exp = expected(BASIC)
    with tl.load_checkpoint(str(BASIC / exp["prefix"])) as reader:
        header = reader.lowlevel.header
        assert type(header.lowlevel).__name__ == "BundleHeaderProto"
        assert json_format.MessageToDict(header.lowlevel, preserving_proto_field_name=True) == exp["index"]["header"]
        assert header.lowlevel.SerializeToString().hex() == exp["index"]["header_entry_hex"]
        assert header.num_shards == header.lowlevel.num_shards == 1


@pytest.mark.parametrize("case_dir", [BASIC, OBJECTS], ids=["tf1", "tf2"])
def test_state_lowlevel_is_the_checkpoint_state_proto(case_dir):
    state = tl.get_checkpoint_state(str(case_dir))
    assert type(state.lowlevel).__name__ == "CheckpointState"
    want = text_format.Parse(expected(case_dir)["checkpoint_state_text"], type(state.lowlevel)())
    assert state.lowlevel == want
    assert os.path.basename(state.model_checkpoint_path) == state.lowlevel.model_checkpoint_path


def test_meta_graph_and_variable_lowlevel_are_the_meta_graph_def_and_variable_defs():
    path = BASIC / expected(BASIC)["meta_graph"]
    mg = tl.read_meta_graph(path)
    want = type(mg.lowlevel)()
    want.ParseFromString(path.read_bytes())
    assert type(mg.lowlevel).__name__ == "MetaGraphDef" and mg.lowlevel == want
    assert [v.name for v in mg.variables] == ["w1", "w2"]
    for v in mg.variables:
        assert type(v.lowlevel).__name__ == "VariableDef"
        assert v.lowlevel.variable_name == v.name + ":0"
        assert v.lowlevel in [type(v.lowlevel).FromString(b) for b in
                              want.collection_def["variables"].bytes_list.value]


def test_object_graph_and_node_lowlevel_are_the_trackable_object_graph():
    exp = expected(OBJECTS)
    graph = tl.read_object_graph(str(OBJECTS / exp["prefix"]))
    assert type(graph.lowlevel).__name__ == "TrackableObjectGraph"
    assert json_format.MessageToDict(graph.lowlevel, preserving_proto_field_name=True) == exp["object_graph"]
    assert len(graph.nodes) == len(exp["object_graph"]["nodes"])
    for node, want in zip(graph.nodes, exp["object_graph"]["nodes"]):
        assert type(node.lowlevel).__name__ == "TrackableObject"
        assert node.lowlevel == graph.lowlevel.nodes[node.id]
        assert [(c.node_id, c.local_name) for c in node.lowlevel.children] == [
            (c["node_id"], c["local_name"]) for c in want.get("children", [])]
    assert type(graph.reader) is CheckpointReader


def test_v1_entry_lowlevel_is_the_saved_slice_meta():
    exp = expected(V1_BASIC)
    with tl.load_checkpoint(str(V1_BASIC / exp["prefix"])) as reader:
        for name, shape in exp["list_variables"]:
            e = reader.entry(name)
            assert type(e.lowlevel).__name__ == "SavedSliceMeta"
            assert e.lowlevel.name == name.encode()
            assert [d.size for d in e.lowlevel.shape.dim] == shape


def test_old_names_still_answer_with_a_deprecation_warning():
    exp = expected(BASIC)
    reader = tl.load_checkpoint(str(BASIC / exp["prefix"]))
    entry = reader.entry("w1")
    header = reader.lowlevel.header
    state = tl.get_checkpoint_state(str(BASIC))
    mg = tl.read_meta_graph(BASIC / exp["meta_graph"])
    graph = tl.read_object_graph(str(OBJECTS / expected(OBJECTS)["prefix"]))
    region = tl.layout(reader.lowlevel.data_paths()[0]).children[0]
    v1 = expected(V1_BASIC)
    v1_entry = tl.load_checkpoint(str(V1_BASIC / v1["prefix"])).entry(v1["list_variables"][0][0])
    cases = [(reader, "bundle"), (entry, "proto"), (header, "proto"), (state, "proto"), (mg, "proto"),
             (mg.variables[0], "proto"), (graph, "proto"), (graph.root, "proto"), (region, "record"),
             (v1_entry, "proto")]
    for obj, old in cases:
        cls = type(obj).__name__
        with pytest.warns(DeprecationWarning, match=rf"^{cls}\.{old} is deprecated: use {cls}\.lowlevel$"):
            value = getattr(obj, old)
        assert value is obj.lowlevel or value == obj.lowlevel, (cls, old)
        assert obj.lowlevel is not None, cls


# -- entries(): one meaning, a mapping raw key -> entry in key order ----------------------------

@pytest.mark.parametrize("prefix", [
    TF_FIXTURES / "tf1_partitioned" / "model",          # V2 with partition pieces
    TF_FIXTURES / "tf1_sharded_partitioned" / "model",  # V2, several shards
    V1_BASIC / "model.ckpt-1000",                       # V1, one file
    FIXTURES / "tf_v1" / "v1_sharded" / "model.ckpt-5-?????-of-00003",  # V1, three files, slices spread
], ids=["v2-partitioned", "v2-sharded", "v1", "v1-sharded"])
def test_entries_is_one_mapping_at_both_levels(prefix):
    with tl.load_checkpoint(str(prefix)) as reader:
        friendly, low = reader.entries(), reader.lowlevel.entries()
        assert isinstance(friendly, dict) and friendly == low
        assert list(friendly) == list(low) == sorted(friendly)  # key order
        assert all(isinstance(k, bytes) and e.key == k for k, e in friendly.items())
        # the same keys the tables store (the header excepted), seen through each block's records
        stored = sorted(r.key for t in (reader.lowlevel.tables if reader.format == "v1" else [reader.lowlevel.table])
                        for i in range(t.num_data_blocks) for r in t.data_block(i).records() if r.key)
        assert list(friendly) == stored
        # every listed variable is there, and partition pieces / stored slices beside them
        names = {name for name, _ in tl.list_variables(str(prefix))}
        assert names <= {e.name for e in friendly.values()} and len(friendly) >= len(names)


def test_entries_keys_are_what_tensorflow_stored():
    exp = expected(TF_FIXTURES / "tf1_partitioned")
    with tl.load_checkpoint(str(TF_FIXTURES / "tf1_partitioned" / exp["prefix"])) as reader:
        assert [k.hex() for k in reader.entries()] == [r["key_hex"] for r in exp["index"]["raw_entries"]]


def test_block_records_list_every_stored_entry_with_its_boundaries():
    exp = expected(BASIC)
    table = tl.load_checkpoint(str(BASIC / exp["prefix"])).lowlevel.table
    (block,) = [table.data_block(i) for i in range(table.num_data_blocks)]
    records = block.records()
    assert isinstance(records, list)
    assert [r.key.hex() for r in records] == [""] + [r["key_hex"] for r in exp["index"]["raw_entries"]]
    assert [(r.key, r.value) for r in records] == block.items()
    assert all(a.end == b.offset for a, b in zip(records, records[1:]))  # back to back, from byte 0
    assert records[0].offset == 0
