"""The byte-region model: every fixture file is tiled exactly, and the regions agree with the readers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import TF_FIXTURES, slow_params
from tfckpt_lab import write_bundle
from tfckpt_lab.bundle.reader import BundleReader
from tfckpt_lab.explain import check_tiling, detect_kind, innermost_region, layout, layouts, region_path
from tfckpt_lab.explain.region import Region


def _fixture_files():
    out = []
    for p in sorted(TF_FIXTURES.rglob("*")):
        if p.is_file() and p.suffix not in (".npz", ".json") and not p.name.startswith("."):
            out.append(p)
    return out


FILES = _fixture_files()
PREFIXES = sorted({str(p)[: -len(".index")] for p in FILES if p.name.endswith(".index")})


@pytest.mark.parametrize("path", slow_params(FILES, "tf1_big_meta/model.meta", "tf1_big_meta/model.index",
                                              "savev2_multiblock/bundle.index", "savev2_multiblock/bundle.data-00000-of-00001",
                                              "savev2_binary_keys/bundle.index",
                                              ids=lambda p: str(p.relative_to(TF_FIXTURES))))
def test_leaves_tile_the_file_exactly(path):
    tree = layout(path)
    assert tree.file_kind != "unknown"
    assert (tree.start, tree.end) == (0, os.path.getsize(path))
    check_tiling(tree)  # every level: children tile their parent, so the leaves tile the file
    pos = 0
    for leaf in tree.leaves():
        assert leaf.start == pos and leaf.end > leaf.start, leaf
        pos = leaf.end
    assert pos == tree.end


@pytest.mark.parametrize("prefix", slow_params(PREFIXES, "savev2_multiblock/bundle", "savev2_binary_keys/bundle",
                                                ids=lambda p: os.path.relpath(p, TF_FIXTURES)))
def test_regions_agree_with_the_reader(prefix):
    reader = BundleReader(prefix, verify=False)
    entries = reader.entries()
    trees = layouts(prefix)
    index = trees[prefix + ".index"]
    # index: each entry region carries the right key, and its proto fields decode to the reader's values
    seen = {}
    for block in index.children:
        if block.kind != "data_block":
            continue
        for r in block.children:
            if r.kind == "entry":
                seen[r.lowlevel.key] = r
    assert set(seen) == set(entries) | {b""}
    for key, e in list(entries.items())[:200]:
        r = seen[key]
        value = next(c for c in r.children if c.kind == "value")
        fields = {f.children[0].value >> 3: f.value for f in value.children}
        assert fields.get(4, 0) == e.offset and fields.get(5, 0) == e.size
        assert fields.get(3, 0) == e.shard_id and fields.get(6, 0) == e.crc32c
    # the index block's handles are the table reader's handles
    handles = [c.lowlevel for c in index.children if c.kind == "data_block"]
    assert handles == [h for _, h in reader.table.index_entries]
    # data shards: every non-empty tensor is one region at the entry's offsets
    for shard, path in enumerate(reader.data_paths()):
        tree = trees[path]
        tensors = {r.lowlevel.key: r for r in tree.children if r.kind == "tensor"}
        for e in entries.values():
            if e.shard_id == shard and e.size and not e.slices:
                r = tensors[e.key]
                assert (r.start, r.end) == (e.offset, e.end)
                assert innermost_region(tree, e.offset).lineage()[1] is r


def test_index_structure_and_innermost_region(tmp_path):
    prefix = str(tmp_path / "m")
    write_bundle(prefix, {"a": np.arange(4, dtype=np.float32), "b": np.array([b"xy", b"z"], dtype=object)})
    tree = layout(prefix + ".index")
    assert [c.kind for c in tree.children] == ["data_block", "metaindex_block", "index_block", "footer"]
    footer = tree.children[-1]
    assert [c.label for c in footer.children] == ["metaindex handle", "index handle", "padding", "magic"]
    assert innermost_region(tree, tree.end - 1).kind == "magic"
    assert innermost_region(tree, tree.end) is None
    block = tree.children[0]
    kinds = [c.kind for c in block.children]
    assert kinds[:3] == ["entry"] * 3 and kinds[-3:] == ["restart_array", "fixed32", "block_trailer"]
    assert block.children[-1].value == {"checksum_ok": True}
    header, a = block.children[0], block.children[1]
    assert header.label == "(header)" and a.label == "a"
    assert [c.label for c in a.children] == ["shared", "non_shared", "value_length", "key delta", "BundleEntryProto"]
    chain = region_path(tree, a.children[-1].start)
    assert [r.kind for r in chain][:4] == ["file", "data_block", "entry", "value"]
    data = layout(prefix + ".data-00000-of-00001")
    ra, rb = data.children
    assert ra.label == "a" and [c.value for c in ra.children] == [0.0, 1.0, 2.0, 3.0]
    assert [c.kind for c in rb.children] == ["varint", "varint", "checksum", "string_bytes", "string_bytes"]
    assert rb.children[3].value == b"xy"
    assert data.find_tensor("b") is rb
    json.dumps(tree.to_dict())  # JSON-ready all the way down
    assert "<table>" in tree._repr_html_()


def test_corrupt_block_shows_in_the_trailer_and_unreferenced_bytes(tmp_path):
    prefix = str(tmp_path / "m")
    write_bundle(prefix, {"a": np.arange(4, dtype=np.float32)})
    index = tmp_path / "m.index"
    raw = bytearray(index.read_bytes())
    raw[3] ^= 0x40  # inside the header entry's value: num_shards becomes 0
    index.write_bytes(bytes(raw))
    tree = layout(prefix + ".index")
    trailer = tree.children[0].children[-1]
    assert trailer.value == {"checksum_ok": False}
    assert "MISMATCH" in trailer.children[1].explanation
    check_tiling(tree)
    data = layout(prefix + ".data-00000-of-00001")  # the index is unusable now: nothing attributed
    assert [c.kind for c in data.children] == ["unreferenced"]
    prefix = str(tmp_path / "n")
    write_bundle(prefix, {"a": np.arange(4, dtype=np.float32)})
    with open(prefix + ".data-00000-of-00001", "ab") as f:
        f.write(b"\0" * 7)
    data = layout(prefix + ".data-00000-of-00001")
    assert data.children[-1].kind == "unreferenced" and data.children[-1].size == 7
    check_tiling(data)


def test_detect_kind_by_name_and_magic(tmp_path):
    prefix = str(tmp_path / "m")
    write_bundle(prefix, {"a": np.zeros(2, np.int32)})
    shutil.copy(prefix + ".index", tmp_path / "renamed.bin")
    assert detect_kind(tmp_path / "renamed.bin") == "index"
    (tmp_path / "notes.txt").write_text("hello")
    tree = layout(tmp_path / "notes.txt")
    assert tree.file_kind == "unknown" and tree.children[0].size == 5


@pytest.mark.timing
@pytest.mark.slow
def test_region_tree_is_fast_on_a_10000_entry_index():
    prefix = TF_FIXTURES / "savev2_multiblock" / "bundle"
    t = time.perf_counter()
    tree = layout(str(prefix) + ".index")
    r = innermost_region(tree, tree.end // 2)
    data = layout(str(prefix) + ".data-00000-of-00001")
    innermost_region(data, data.end // 2)
    elapsed = time.perf_counter() - t
    assert r.kind != "data_block"
    assert elapsed < 3.0, elapsed


def test_cli_layout_json_and_at(tmp_path, capsys):
    from tfckpt_lab.cli import main

    prefix = str(tmp_path / "m")
    write_bundle(prefix, {"a": np.zeros(2, np.int32)})
    assert main(["layout", prefix + ".index", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["kind"] == "file" and d["children"][-1]["kind"] == "footer"

    def leaves(n):
        return [n] if not n["children"] else [x for c in n["children"] for x in leaves(c)]

    ls = leaves(d)
    assert ls[0]["start"] == 0 and ls[-1]["end"] == d["end"]
    assert all(x["end"] == y["start"] for x, y in zip(ls, ls[1:]))
    assert main(["layout", prefix + ".index", "--at", str(d["end"] - 1)]) == 0
    assert "magic" in capsys.readouterr().out.splitlines()[-1]
    assert main(["layout", prefix + ".data-00000-of-00001"]) == 0
    assert "tensor a" in capsys.readouterr().out


def test_region_basics():
    kids = [Region(0, 2, "x", "first"), Region(2, 5, "y", "second")]
    root = Region(0, 5, "file", children=kids)
    assert root.child_at(4) is kids[1] and kids[1].parent is root
    with pytest.raises(AssertionError):
        check_tiling(Region(0, 6, "file", children=[Region(0, 2, "x"), Region(3, 6, "y")]))


@pytest.mark.slow
def test_import_stays_light():
    code = ("import sys, tfckpt_lab; tfckpt_lab.layout; import tfckpt_lab.explain.index, "
            "tfckpt_lab.explain.data, tfckpt_lab.explain.text; "
            "bad = [m for m in ('matplotlib', 'ipywidgets') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_wire_explanations_come_from_the_compiled_descriptors():
    """Field names, numbers and types are read from the *_pb2 descriptors; only the prose is ours."""
    from tfckpt_lab.explain import protowire

    for key in protowire.EXPLANATIONS:  # every explained field exists in the schema, under that name
        message, field = key.split(".")
        found = []
        for module in protowire._PROTO_MODULES:
            import importlib

            mod = importlib.import_module(f"tfckpt_lab.protos.{module}")
            stack = list(mod.DESCRIPTOR.message_types_by_name.values())
            while stack:
                d = stack.pop()
                stack.extend(d.nested_types)
                if d.name == message and field in d.fields_by_name:
                    found.append(d)
        assert found, key
    # no hand-copied schema is left in the module
    assert not hasattr(protowire, "SCHEMAS") and not hasattr(protowire, "Field")


def test_meta_layout_expands_every_message_the_schema_knows():
    from conftest import FIXTURES

    tree = layout(FIXTURES / "tf_v1" / "v1_saver_basic" / "model.ckpt-1000.meta")
    check_tiling(tree)
    info = tree.children[0]
    ops = next(c for c in info.children[-1].children if c.children[0].value >> 3 == 2)  # stripped_op_list
    assert ops.children[-1].kind == "message" and ops.children[-1].label == "OpList"
    op_names = [c.label for c in ops.children[-1].children]
    assert "VariableV2" in op_names and "SaveSlices" in op_names  # OpDef regions labelled by their name
    for r in tree.walk():  # each field region knows its descriptor, and the tag agrees with it
        if r.kind == "field" and r.lowlevel is not None:
            assert r.children[0].value >> 3 == r.lowlevel.number


def test_bundle_entry_fields_carry_their_descriptors(tmp_path):
    from tfckpt_lab.protos.tensor_bundle_pb2 import BundleEntryProto

    prefix = str(tmp_path / "m")
    write_bundle(prefix, {"a": np.zeros((2, 3), np.float32)})
    entry = layout(prefix + ".index").children[0].children[1]
    fields = entry.children[-1].children
    assert [f.lowlevel.full_name for f in fields] == [
        BundleEntryProto.DESCRIPTOR.fields_by_name[n].full_name for n in ("dtype", "shape", "size", "crc32c")]
    assert "DT_FLOAT (float32)" in fields[0].children[1].explanation


def test_element_values_are_the_readers_big_endian_included(tmp_path):
    """Element regions show what the reader decodes (a big-endian bundle's bytes are swapped, as read_tensor does)."""
    import sys

    sys.path.insert(0, os.path.dirname(__file__))
    from hostile_cases import DT_FLOAT, entry, header, write

    from tfckpt_lab.codecs import crc32c, mask_crc

    raw = np.arange(3, dtype=">f4").tobytes()
    prefix = write(str(tmp_path / "be"), {b"w": entry(DT_FLOAT, (3,), 0, 0, 12, mask_crc(crc32c(raw)))},
                   hdr=header(endianness=1), data=raw)
    tree = layout(prefix + ".data-00000-of-00001")
    assert [c.value for c in tree.find_tensor("w").children] == [0.0, 1.0, 2.0]
    assert "big-endian" in tree.find_tensor("w").children[1].explanation
