"""Every view, widget and CLI command works on every format the reader reads (V2 bundles and TF's V1 files).

The V1 checkpoints are TensorFlow's own (tests/fixtures/tf_v1/); what the views show is
checked against the reader's listing and against the bytes themselves.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import slow_params

import tfckpt_lab as tl
from tfckpt_lab.checkpoint.reader import LowLevelReader, detect_format, open_low_level
from tfckpt_lab.checkpoint.verify import verify_checkpoint
from tfckpt_lab.explain import check_tiling, innermost_region, layouts, table_tree, tensor_files, tensor_map
from tfckpt_lab.protos import saved_tensor_slice_pb2 as sts_pb2
from tfckpt_lab.v1 import V1Reader

V1 = Path(__file__).parent / "fixtures" / "tf_v1"
V1_PREFIXES = {  # case -> the prefix the state file (or TF's own writer) names
    "v1_saver_basic": "model.ckpt-1000",
    "v1_partitioned": "model.ckpt",
    "v1_sharded": "model.ckpt-5-?????-of-00003",
    "v1_dtypes": "dtypes.ckpt",
    "v1_multiblock": "big.ckpt",
}


def _v2(tmp_path) -> str:
    prefix = str(tmp_path / "v2" / "model")
    tl.write_bundle(prefix, {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "s": np.array([b"ab", b"c"], object)},
                    num_shards=2)
    return prefix


@pytest.mark.parametrize("case", sorted(V1_PREFIXES))
def test_one_sniffer_one_protocol(case):
    prefix = str(V1 / case / V1_PREFIXES[case])
    assert detect_format(prefix) == "v1"
    with tl.load_checkpoint(prefix) as r:
        assert isinstance(r.lowlevel, V1Reader) and isinstance(r.lowlevel, LowLevelReader)
        assert r.format == "v1"
        assert r.lowlevel.table_paths() == r.lowlevel.data_paths() == sorted(r.lowlevel.table_paths())


def test_v2_reader_implements_the_protocol(tmp_path):
    prefix = _v2(tmp_path)
    assert detect_format(prefix) == "v2"
    with open_low_level(prefix) as low:
        assert isinstance(low, LowLevelReader) and low.format == "v2"
        assert low.table_paths() == [prefix + ".index"] and low.meta_path() == prefix + ".meta"


@pytest.mark.parametrize("case", sorted(V1_PREFIXES))
def test_v1_layouts_tile_and_show_every_stored_slice_as_a_tensor_region(case):
    prefix = str(V1 / case / V1_PREFIXES[case])
    reader = V1Reader(prefix)
    trees = layouts(prefix)
    files = tensor_files(trees)
    assert [t.path for t in files] == reader.paths and all(t.file_kind == "v1" for t in files)
    meta = reader.meta_path()
    assert (meta in trees) == os.path.exists(meta)
    stored = reader.entries()
    seen = {}
    for shard, tree in enumerate(files):
        check_tiling(tree)
        bars = tensor_map(tree)
        assert bars[0].start == 0 and bars[-1].end == tree.end
        assert all(a.end == b.start for a, b in zip(bars, bars[1:]))
        raw = Path(tree.path).read_bytes()
        for r in bars:
            if r.kind != "tensor":
                continue
            e = r.lowlevel
            seen[e.key] = e
            assert (r.start, r.end) == (e.offset, e.end) == (stored[e.key].offset, stored[e.key].end)
            assert e.shard_id == shard and r.label == e.name and r.value["dtype"] == e.dtype_name
            msg = sts_pb2.SavedTensorSlices.FromString(raw[r.start:r.end])  # the bytes are that slice
            assert msg.data.name.decode("utf-8", "backslashreplace") == e.name
            assert innermost_region(tree, r.start + 1).lineage()[3] is r  # file, block, entry, value
    assert set(seen) == set(stored)


@pytest.mark.parametrize("case", slow_params(["v1_saver_basic", "v1_sharded", "v1_partitioned"], "v1_saver_basic", "v1_partitioned"))
def test_explorer_tabs_shard_map_and_checksum_lab_on_v1(case):
    pytest.importorskip("ipywidgets")
    pytest.importorskip("matplotlib")
    from tfckpt_lab.views.plots import index_anatomy, shard_map
    from tfckpt_lab.widgets.explorer import TABS

    ex = tl.explore(V1 / case)
    try:
        assert ex.reader.format == "v1"
        for i in range(len(TABS)):
            ex.tab = i
        name = sorted(ex.reader)[0]
        ex.selected = name
        sm = ex.view("Shard map")
        assert len(sm.trees) == ex.reader.lowlevel.num_shards
        bar = next(r for r in tensor_map(sm.trees[0]) if r.kind == "tensor")
        assert sm.click(0, bar.start) == bar.label
        fig = shard_map(ex.trees)
        assert len(fig.axes[0].get_yticklabels()) == len(sm.trees)
        index_anatomy(table_tree(ex.trees))
        lab = ex.view("Checksum lab")
        victim = bar.start + bar.size // 2  # inside a stored value: V1 has only block checksums
        result = lab.flip(os.path.basename(sm.trees[0].path), victim)
        assert result["caught"] and lab.flipped_kind != ""
        assert any(p["covers_flip"] and p["kind"] == "ChecksumMismatchError" for p in lab.problems)
        assert "<table>" in ex.to_html()
    finally:
        ex.close()


def test_cli_on_v1(capsys):
    from tfckpt_lab.cli import main

    d = V1 / "v1_sharded"
    assert main(["inspect", str(d), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["num_shards"] == 3 and {t["name"] for t in doc["tensors"]} == set(tl.load_checkpoint(d))
    assert main(["verify", str(d)]) == 0
    assert "OK" in capsys.readouterr().out
    shard = d / "model.ckpt-5-00001-of-00003"
    assert main(["layout", str(shard), "--json"]) == 0
    tree = json.loads(capsys.readouterr().out)
    tensors = [c for b in tree["children"] if b["kind"] == "data_block" for e in b["children"]
               if e["kind"] == "entry" for c in e["children"] if c["kind"] == "tensor"]
    assert sorted(t["label"] for t in tensors) == ["dev/b0", "spread"]


def test_damage_copies_flips_and_verifies_without_touching_the_original(tmp_path):
    from tfckpt_lab.checkpoint.damage import checkpoint_files, copy_checkpoint, flip_and_verify, flip_byte

    prefix = _v2(tmp_path)
    files = checkpoint_files(prefix)
    assert [os.path.basename(p) for p in files] == ["model.index", "model.data-00000-of-00002",
                                                    "model.data-00001-of-00002"]
    before = {p: Path(p).read_bytes() for p in files}
    work = tmp_path / "work"
    work.mkdir()
    e = tl.load_checkpoint(prefix).entry("w")
    shard = prefix + f".data-0000{e.shard_id}-of-00002"
    result = flip_and_verify(prefix, shard, e.offset + 5, 0x80, workdir=work)
    assert result.caught and result.old ^ result.new == 0x80
    assert [p.kind for p in result.covering] == ["ChecksumMismatchError"]
    assert result.covering[0].start == e.offset and result.covering[0].end == e.end
    assert {p: Path(p).read_bytes() for p in files} == before  # only the copy was damaged
    copy = copy_checkpoint(prefix, tmp_path / "copy")
    assert tl.load_checkpoint(copy)["w"].tolist() == [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(ValueError):
        flip_byte(copy + ".index", 10**6)
    # V1: the copy keeps its glob prefix and is verified as V1
    v1_copy = copy_checkpoint(V1 / "v1_sharded" / V1_PREFIXES["v1_sharded"], tmp_path / "v1copy")
    assert v1_copy.endswith("?????-of-00003") and verify_checkpoint(v1_copy).ok


def test_anatomy_takes_trailers_from_the_region_tree(tmp_path):
    pytest.importorskip("matplotlib")
    from tfckpt_lab.views.plots import _anatomy_parts

    prefix = _v2(tmp_path)
    tree = tl.layout(prefix + ".index")
    parts = _anatomy_parts(tree)
    trailers = [(s, e) for s, e, kind, _ in parts if kind == "block_trailer"]
    from_tree = [(b.children[-1].start, b.children[-1].end) for b in tree.children if b.kind.endswith("_block")]
    assert trailers == from_tree and all(e - s == 5 for s, e in trailers)


def test_short_value_is_public():
    from tfckpt_lab.explain.region import short_value

    assert short_value(b"x" * 100, 10) == repr(b"x" * 10) + "..."


def test_hex_view_finds_v1_tensors_by_name():
    pytest.importorskip("ipywidgets")
    from tfckpt_lab.widgets.hexview import HexView

    hv = HexView(V1 / "v1_saver_basic" / "model.ckpt-1000", interactive=False)
    hv.find("ints")
    assert hv.tensor == "ints" and hv.selected_label == "ints"
    entry = tl.load_checkpoint(V1 / "v1_saver_basic").entry("ints")
    assert hv.selection[0] <= entry.offset < entry.end <= hv.selection[1]
    hv.close()
