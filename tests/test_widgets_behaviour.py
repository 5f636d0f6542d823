"""Widget behaviour, driven from Python through traitlets: errors shown in place, row clicks,
the checksum lab's flipped byte, the navigator's names, the explorer's paths and tabs, and
large tensors in the Values tab (summaries in bounded memory)."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

import tfckpt_lab as tl
from tfckpt_lab import write_bundle

pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")

BOTH = pytest.mark.parametrize("interactive", [True, False], ids=["anywidget", "html"])


def _front(interactive):
    if interactive:
        pytest.importorskip("anywidget")
    return interactive


@pytest.fixture
def ckpt(tmp_path):
    """Two steps of a small checkpoint in one directory (no state file); returns the first prefix."""
    d = tmp_path / "ck"
    write_bundle(str(d / "model-100"), {"w": np.arange(12, dtype=np.float32).reshape(3, 4),
                                        "b": np.ones(3, np.float64), "step": np.int64(100)})
    write_bundle(str(d / "model-200"), {"w": np.arange(12, dtype=np.float32).reshape(3, 4) * 2,
                                        "b": np.ones(3, np.float64), "step": np.int64(200)})
    return str(d / "model-100")


# -- ranged reads ------------------------------------------------------------------------------

def test_file_region_reads_only_the_window(tmp_path, monkeypatch):
    """FileRegion.read asks the file for the bytes shown, never the whole file."""
    from tfckpt_lab.explain import layout
    from tfckpt_lab.fileio import RandomAccessFile
    from tfckpt_lab.views.frontdata import hex_window

    prefix = str(tmp_path / "m")
    write_bundle(prefix, {f"t{i}": np.full(20_000, i, np.float32) for i in range(20)})  # 1.6 MB shard
    path = prefix + ".data-00000-of-00001"
    tree = layout(path)
    reads = []
    real = RandomAccessFile.pread
    monkeypatch.setattr(RandomAccessFile, "pread", lambda self, off, n: reads.append((off, n)) or real(self, off, n))
    d = hex_window(tree, 1_000_003, 512)
    with open(path, "rb") as f:
        f.seek(1_000_000)
        assert bytes.fromhex(d["hex"]) == f.read(512)
    assert reads and all(n <= 512 for _, n in reads) and (1_000_000, 512) in reads
    assert tree.read(tree.end - 4, tree.end + 100) == tree.read(tree.end - 4)  # cut to the file, like a slice
    assert len(tree.read(tree.end - 4)) == 4 and tree.read(10, 5) == b""


# -- the hex view ------------------------------------------------------------------------------

@BOTH
def test_hexview_refuses_bad_input_in_place(ckpt, interactive):
    from tfckpt_lab.widgets import HexView

    hv = HexView(ckpt + ".index", interactive=_front(interactive))
    entry = hv.find("w")
    before = (list(hv.selection), hv.cursor, hv.region)
    assert hv.error == "" and hv._error_line.layout.display == "none"
    hv._find.value = "no/such/tensor"  # the search box
    assert hv.error == "no index entry named 'no/such/tensor' in model-100.index"
    assert hv._error_line.layout.display != "none" and "no/such/tensor" in hv._error_line.value
    assert (list(hv.selection), hv.cursor, hv.region) == before  # nothing else changed
    hv.cursor = hv.tree.end + 10
    assert hv.error == f"byte {hv.tree.end + 10} is outside model-100.index (bytes 0 to {hv.tree.end - 1})"
    assert (list(hv.selection), hv.cursor, hv.region) == before
    if interactive:
        assert hv._grid.cursor == before[1] and hv._grid.selection == before[0]
    hv.cursor = entry.start + 1  # a good input clears the message
    assert hv.error == "" and hv._error_line.layout.display == "none"
    data = HexView(ckpt + ".data-00000-of-00001", interactive=_front(interactive))
    assert data.find("nope") is None and data.error.startswith("no tensor with bytes named 'nope'")


def test_hexview_names_regions_without_saying_them_twice(ckpt):
    from tfckpt_lab.views.hexview import region_name
    from tfckpt_lab.widgets import HexView

    hv = HexView(ckpt + ".index", interactive=False)
    labels = [label for label, _ in hv._nav.options]  # the navigator: the file's four parts
    assert [re.sub(r"^\[\d+, \d+\) ", "", s) for s in labels] == [
        "data block 0", "metaindex block", "index block", "footer"]
    footer = hv.tree.children[-1]
    hv.select_region(footer)
    assert [re.sub(r"^\[\d+, \d+\) ", "", s) for s, _ in hv._nav.options] == [
        "metaindex handle", "index handle", "padding", "magic"]
    assert region_name(hv.tree.find("entry", "w")) == "entry w"
    assert region_name(hv.tree.find("block_trailer")) == "block trailer"
    assert region_name(hv.tree.find("varint", "offset")) == "varint offset"
    html = hv._hex.value
    magic = footer.children[-1]
    assert "footer footer" not in html and "magic magic" not in html
    assert f'title="[{magic.start}, {magic.end}) magic = ' in html


# -- the checksum lab --------------------------------------------------------------------------

def test_checksum_lab_refuses_a_byte_past_the_end_in_place(ckpt):
    from tfckpt_lab.widgets import ChecksumLab

    lab = ChecksumLab(ckpt)
    index = ckpt + ".index"
    size = os.path.getsize(index)
    lab.flip(index, 20)
    shown, problems, caught = lab._out.value, list(lab.problems), lab.caught
    lab.offset = 5000  # the byte box
    lab._go.click()  # "flip & verify"
    assert lab.error == f"byte 5000 is outside model-100.index, which has {size:,} bytes (offsets 0 to {size - 1:,})"
    assert "byte 5000" in lab._error_line.value and lab._error_line.layout.display != "none"
    assert lab._out.value == shown and lab.problems == problems and lab.caught == caught
    with pytest.raises(ValueError, match="outside"):
        lab.flip(offset=size)
    lab.offset, lab.mask = 3, 0
    with pytest.raises(ValueError, match="from 1 to 255"):
        lab.flip()
    with pytest.raises(ValueError, match="not a file of checkpoint model-100"):
        lab.flip("model-200.index", 3)
    assert lab._out.value == shown
    lab.mask = 1
    lab._go.click()
    assert lab.error == "" and lab._error_line.layout.display == "none" and lab._out.value != shown
    lab.close()


def test_checksum_lab_hex_dump_shows_the_flipped_byte(ckpt):
    from tfckpt_lab.widgets import ChecksumLab

    lab = ChecksumLab(ckpt)
    data = ckpt + ".data-00000-of-00001"
    e = tl.load_checkpoint(ckpt).entry("w")
    off = e.offset + 5
    with open(data, "rb") as f:
        original = f.read()[off]
    lab.flip(data, off, 0x80)
    cell = re.search(rf'<span style="([^"]*)" title="([^"]*)" data-offset="{off}">([0-9a-f]{{2}})</span>',
                     lab.to_html())
    assert cell is not None
    assert int(cell.group(3), 16) == original ^ 0x80  # the damaged copy's byte, not the original
    assert f"was {original:#04x}, now {original ^ 0x80:#04x}" in cell.group(2)
    assert f"{original:#04x} → {original ^ 0x80:#04x}" in lab.to_html()
    with open(data, "rb") as f:
        assert f.read()[off] == original  # the checkpoint itself is untouched
    lab.close()


# -- the entries table -------------------------------------------------------------------------

def test_entries_table_rows_are_the_control(ckpt):
    pytest.importorskip("anywidget")
    from tfckpt_lab.widgets import EntriesTable

    table = EntriesTable(ckpt, page_size=2)
    rows = table._rows
    assert table._pick not in table.children  # no separate list box
    assert rows.columns == ["name", "dtype", "shape", "shard", "offset", "size", "crc32c"]
    assert rows.names == ["b", "step"] and rows.rows[0][:3] == ["b", "float64", "[3]"]
    e = tl.load_checkpoint(ckpt).entry("step")
    assert rows.rows[1] == ["step", "int64", "[]", "0", str(e.offset), "8", f"{e.crc32c:#010x}"]
    rows.selected = "step"  # a click on the second row
    assert table.selected == "step"
    table.selected = "w"  # selected elsewhere (another tab): the table turns to its page
    assert table.page == 1 and rows.names == ["w"] and rows.selected == "w"


@BOTH
def test_entries_table_says_what_is_wrong(ckpt, interactive):
    from tfckpt_lab.widgets import EntriesTable

    table = EntriesTable(ckpt, page_size=2, interactive=_front(interactive))
    table.selected = "b"
    table.selected = "no/such/entry"
    assert table.error == "no entry named 'no/such/entry' in this checkpoint"
    table.filter = "zzz"
    assert table.num_matching == 0 and table.page == 0
    shown = table._rows.empty if interactive else table._table.value
    assert "no entry name contains &#x27;zzz&#x27;" in shown or "no entry name contains 'zzz'" in shown
    table.filter = ""
    table.page = 99
    assert table.page == table.num_pages - 1 == 1
    with pytest.raises(Exception, match="page_size must be at least 1"):
        table.page_size = 0
    assert table.page_size == 2


# -- the shard map -----------------------------------------------------------------------------

def test_shard_map_refuses_picks_outside_the_shards(ckpt):
    from tfckpt_lab.widgets import ShardMap

    sm = ShardMap(ckpt, interactive=False)
    assert sm.click(0, 1) == "w" or sm.selected
    chosen = sm.selected
    size = os.path.getsize(ckpt + ".data-00000-of-00001")
    assert sm.click(3, 0) is None and sm.error == "there is no shard row 3: this checkpoint has 1 data shard(s)"
    assert sm.click(0, size) is None and sm.error.startswith(f"byte {size} is outside model-100.data-00000-of-00001")
    assert sm.selected == chosen and "outside" in sm._error_line.value
    sm.selected = "nope"
    assert sm.error == "no tensor named 'nope' in this checkpoint"
    sm.click(0, 0)
    assert sm.error == ""


# -- the diff ----------------------------------------------------------------------------------

def test_checkpoint_diff_shows_a_bad_checkpoint_in_place(ckpt, tmp_path):
    from tfckpt_lab.widgets import CheckpointDiff

    other = ckpt.replace("model-100", "model-200")
    broken = str(tmp_path / "broken")
    write_bundle(broken, {"w": np.zeros(2, np.float32)})
    with open(broken + ".index", "r+b") as f:
        f.truncate(10)
    d = CheckpointDiff(ckpt, other, choices=[ckpt, other, broken])
    rows = list(d.rows)
    d.b = broken
    assert "broken.index" in d.error and d.rows == rows and d._error_line.layout.display != "none"
    d.b = other
    assert d.error == "" and d.rows == rows


# -- the explorer ------------------------------------------------------------------------------

def _saver_with_absolute_paths(directory, steps):
    """What TF1's ``saver.save(sess, "/abs/dir/model", global_step=s)`` leaves: absolute state paths."""
    saver = tl.Saver()
    for s in steps:
        saver.save({"w": np.full(2, s, np.float32)}, os.path.join(os.path.abspath(directory), "model"),
                   global_step=s)


def test_explorer_on_a_relative_directory_with_absolute_state_paths(tmp_path, monkeypatch):
    from tfckpt_lab.widgets import explore

    run = tmp_path / "run"
    _saver_with_absolute_paths(run, [1, 2, 3])
    assert f'model_checkpoint_path: "{run}/model-3"' in (run / "checkpoint").read_text()
    monkeypatch.chdir(tmp_path)
    ex = explore("run")  # relative
    assert ex.prefix == str(run / "model-3") == ex.latest and ex.reader.prefix == ex.prefix
    assert ex._pick.value == ex.prefix and ex._pick.label == "model-3"
    html = ex.to_html()  # was a KeyError
    assert "model-3</code> ← latest" in html
    ex.prefix = "run/model-1"  # relative again: the same checkpoint as the listed one
    assert ex.prefix == str(run / "model-1") and len(ex._pick.options) == 3
    ex.close()


@pytest.mark.tf
def test_explorer_on_a_state_file_tensorflow_wrote_with_absolute_paths(tf, tmp_path, monkeypatch):
    """TF1's ``saver.save(sess, "/abs/run/model", global_step=s)``, then explore("run") from its parent."""
    from tfckpt_lab.widgets import explore

    run = tmp_path / "run"
    run.mkdir()
    with tf.Graph().as_default():
        w = tf.compat.v1.Variable(np.zeros(3, np.float32), name="w")
        bump = w.assign_add(np.ones(3, np.float32))
        saver = tf.compat.v1.train.Saver([w])
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for step in (10, 20):
                sess.run(bump)
                saver.save(sess, str(run / "model"), global_step=step)
    state = (run / "checkpoint").read_text()
    assert f'model_checkpoint_path: "{run}/model-20"' in state  # what TF wrote: absolute paths
    monkeypatch.chdir(tmp_path)
    assert tf.train.latest_checkpoint("run") == str(run / "model-20")
    ex = explore("run")
    assert ex.prefix == tf.train.latest_checkpoint("run") and ex._pick.label == "model-20"
    np.testing.assert_array_equal(ex.reader.get_tensor("w"), [2, 2, 2])
    assert "model-20</code> ← latest" in ex.to_html()
    ex.tab = 6
    assert [r["status"] for r in ex.view("Diff").rows] == ["changed"]
    ex.close()


def test_explorer_stays_on_its_tab_when_the_checkpoint_changes(ckpt):
    from tfckpt_lab.widgets import explore
    from tfckpt_lab.widgets.explorer import TABS

    ex = explore(ckpt)
    pages = list(ex._tabs.children)
    changes = []
    ex._tabs.observe(changes.append, "children")
    ex.tab = TABS.index("Diff")
    diff = ex.view("Diff")
    assert (os.path.basename(diff.a), os.path.basename(diff.b)) == ("model-100", "model-200")
    ex.selected = "w"
    ex.prefix = ckpt.replace("model-100", "model-200")  # the checkpoint dropdown
    assert ex.tab == TABS.index("Diff") and ex._tabs.selected_index == ex.tab
    assert list(ex._tabs.children) == pages and changes == []  # the Tab itself never changed
    diff = ex.view("Diff")
    assert (os.path.basename(diff.a), os.path.basename(diff.b)) == ("model-100", "model-200")
    assert diff.num_changed == 2 and ex._pages[ex.tab].children == (diff,)
    assert ex.selected == "w"  # still in the new checkpoint, so still selected
    ex.close()


def test_explorer_shows_what_it_cannot_open_in_place(ckpt, tmp_path, monkeypatch):
    from tfckpt_lab.errors import MalformedError
    from tfckpt_lab.widgets import explore, shardmap
    from tfckpt_lab.widgets.explorer import TABS

    d = os.path.dirname(ckpt)
    write_bundle(os.path.join(d, "model-300"), {"w": np.zeros(2, np.float32)})
    with open(os.path.join(d, "model-300.index"), "r+b") as f:
        f.truncate(20)
    ex = explore(ckpt)
    ex.tab = TABS.index("Entries")
    table = ex.view("Entries")
    ex.prefix = os.path.join(d, "model-300")  # picked in the dropdown: cannot be opened
    assert ex.error.startswith("cannot open model-300: ") and "model-300.index" in ex.error
    assert ex.prefix == ckpt and ex.view("Entries") is table  # nothing else changed
    with pytest.raises(Exception, match="cannot open"):
        ex.prefix = str(tmp_path / "nowhere")
    with pytest.raises(Exception, match="tab must be 0 to 7"):
        ex.tab = 8
    assert ex.tab == TABS.index("Entries")
    ex.tab = TABS.index("Bytes")
    hv = ex.view("Bytes").children[1]
    hv._find.value = "not/a/tensor"  # the Bytes tab's search box
    assert hv.error == "no index entry named 'not/a/tensor' in model-100.index"

    def broken(*a, **k):
        raise MalformedError("bad bytes here", path="x.data-00000-of-00001", offset=7)
    monkeypatch.setattr(shardmap.ShardMap, "__init__", broken)
    ex.tab = TABS.index("Shard map")
    assert "the Shard map tab cannot show this checkpoint: x.data-00000-of-00001, byte 7: bad bytes here" in \
        ex.view("Shard map").value
    ex.close()


def test_bytes_tab_follows_the_selection_to_the_shard_that_holds_it(tmp_path):
    from tfckpt_lab.widgets import explore
    from tfckpt_lab.widgets.explorer import TABS

    prefix = str(tmp_path / "m")
    write_bundle(prefix, {"a": np.zeros(4, np.float32), "b": np.ones(4, np.float32)}, num_shards=2)
    where = {n: tl.load_checkpoint(prefix).entry(n).shard_id for n in ("a", "b")}
    assert sorted(where.values()) == [0, 1]
    ex = explore(prefix)
    ex.tab = TABS.index("Bytes")
    box = ex.view("Bytes")
    box.children[0].value = prefix + f".data-0000{where['a']}-of-00002"
    ex.selected = "b"  # picked in another tab: its bytes are in the other shard
    hv = box.children[1]
    assert box.children[0].value == prefix + f".data-0000{where['b']}-of-00002"
    assert hv.tensor == "b" and hv.error == ""
    box.children[0].value = prefix + ".meta" if os.path.exists(prefix + ".meta") else prefix + ".index"
    ex.selected = "a"
    assert box.children[1].error == ""
    ex.close()


def test_explorer_diff_tab_with_one_checkpoint_offers_another(tmp_path):
    from tfckpt_lab.widgets import explore
    from tfckpt_lab.widgets.diff import CheckpointDiff
    from tfckpt_lab.widgets.explorer import TABS

    a, b = str(tmp_path / "one" / "m"), str(tmp_path / "two" / "m")
    write_bundle(a, {"w": np.zeros(3, np.float32)})
    write_bundle(b, {"w": np.ones(3, np.float32)})
    ex = explore(a)
    ex.tab = TABS.index("Diff")
    box = ex.view("Diff")
    assert "only checkpoint in this directory" in box.children[0].value
    box.children[1].value = str(tmp_path / "nowhere")
    assert "nowhere" in box.children[2].value and "tfk-error" in box.children[2].value
    box.children[1].value = b
    diff = box.children[2]
    assert isinstance(diff, CheckpointDiff) and diff.num_changed == 1 and diff.b == a
    ex.close()


def test_the_demo_explorer_has_two_steps_to_compare(tmp_path):
    from tfckpt_lab.demo import TRAINING_STEP, demo_variables, make_demo_checkpoint
    from tfckpt_lab.widgets import explore

    prefix = make_demo_checkpoint(tmp_path / "demo")
    assert tl.latest_checkpoint(tmp_path / "demo") == prefix and prefix.endswith("my_test_model-1000")
    ex = explore(tmp_path / "demo")
    assert ex.prefix == prefix
    ex.tab = 6
    rows = {r["name"]: r for r in ex.view("Diff").rows}
    assert rows["w1"]["status"] == "changed" and rows["w2"]["status"] == "same"
    assert rows["w1"]["max_abs_diff"] == pytest.approx(float(TRAINING_STEP))
    np.testing.assert_array_equal(tl.load_checkpoint(prefix)["w1"], demo_variables()["w1"])
    ex.close()


# -- the Values tab on large tensors ------------------------------------------------------------

@pytest.mark.slow
def test_values_tab_summarizes_a_large_tensor_from_a_sample(tmp_path, monkeypatch):
    from tfckpt_lab.checkpoint import summary
    from tfckpt_lab.widgets import explore
    from tfckpt_lab.widgets.explorer import TABS

    rng = np.random.default_rng(3)
    big = rng.normal(2.0, 0.5, size=(300, 200)).astype(np.float32)
    prefix = str(tmp_path / "m")
    write_bundle(prefix, {"big": big, "small": np.arange(6, dtype=np.int32)})
    monkeypatch.setattr(summary, "WHOLE_LIMIT", 4096)  # "large" = more than 4 KiB here
    monkeypatch.setattr(summary, "SAMPLE_ELEMENTS", 6400)
    reads = []
    real_get = tl.CheckpointReader.get_tensor
    monkeypatch.setattr(tl.CheckpointReader, "get_tensor", lambda self, n, **k: reads.append(n) or real_get(self, n, **k))
    ex = explore(prefix)
    ex.tab = TABS.index("Values")
    ex.selected = "big"
    assert reads == []  # never read whole
    text = " ".join(getattr(c, "value", "") for c in ex.view("Values").children if isinstance(getattr(c, "value", 0), str))
    assert "SAMPLE" in text and "6,400 of 60,000 elements, in 64 evenly spaced runs" in text
    assert "rows 0-63, columns 0-199 of [300, 200]" in text
    scan = next(c for c in ex.view("Values").children if getattr(c, "description", "").startswith("scan all"))
    scan.click()
    text = " ".join(getattr(c, "value", "") for c in ex.view("Values").children if isinstance(getattr(c, "value", 0), str))
    assert "every element (streamed)" in text and "stored CRC-32C: <b>matches</b>" in text
    assert f"<code>{float(big.astype(np.float64).mean()):.6g}</code>" in text
    assert isinstance(ex.view("Values").children[-1], type(ex.view("Files").children[-1]))  # the picture
    ex.selected = "small"  # small: read whole, as before
    assert reads == ["small"]
    ex.close()


def _stats(a):
    f = a.astype(np.float64).reshape(-1)
    fin = f[np.isfinite(f)]
    return {"min": fin.min(), "max": fin.max(), "mean": fin.mean(), "std": fin.std(), "nan": int(np.isnan(f).sum()),
            "posinf": int(np.isposinf(f).sum()), "neginf": int(np.isneginf(f).sum()), "zero": int((fin == 0).sum())}


def _assert_same_bits(got, want):
    """Same dtype, shape and bytes (NaN included: numpy < 2.4 does not treat a bfloat16 NaN as equal to itself)."""
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(np.ascontiguousarray(got).view(np.uint8), np.ascontiguousarray(want).view(np.uint8))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bfloat16", "uint8", "bool"])
def test_scan_statistics_are_exact_and_the_sample_is_of_the_tensor(tmp_path, dtype):
    import ml_dtypes

    from tfckpt_lab.checkpoint.summary import summarize_tensor

    rng = np.random.default_rng(7)
    dt = np.dtype(getattr(ml_dtypes, dtype, dtype))
    if dt.kind == "f" or dtype == "bfloat16":
        a = (rng.standard_normal((1000, 37)) * 100).astype(dt)
        a[3, 4], a[500, 0], a[999, 36], a[7, 7] = np.nan, np.inf, -np.inf, 0
    elif dtype == "bool":
        a = rng.integers(0, 2, (1000, 37)).astype(bool)
    else:
        info = np.iinfo(dt)
        a = rng.integers(info.min, info.max, (1000, 37), dtype=dt, endpoint=True)
        a[0, 0], a[1, 1] = info.min, info.max  # beyond float64's exact integers for int64
    prefix = str(tmp_path / "m")
    write_bundle(prefix, {"t": a})
    reader = tl.load_checkpoint(prefix)
    s = summarize_tensor(reader, "t", scan=True, whole_limit=100, chunk_bytes=4096, sample_elements=1000)
    want = _stats(a)
    assert s.method == "scan" and s.counted == a.size and s.checksum == "ok"
    for k in ("nan", "posinf", "neginf", "zero"):
        assert s.stats[k] == want[k], k
    for k in ("mean", "std"):
        assert s.stats[k] == pytest.approx(want[k], rel=1e-9, abs=1e-12), k
    if dt.kind in "iu":
        assert (s.stats["min"], s.stats["max"]) == (int(a.min()), int(a.max()))  # exact, as integers
    else:
        assert (float(s.stats["min"]), float(s.stats["max"])) == (want["min"], want["max"])
    _assert_same_bits(s.head, a[:64, :37])
    assert s.head_note == "rows 0-63, columns 0-36 of [1000, 37]"
    flat = a.reshape(-1)
    step = -(-a.size // 1000)
    _assert_same_bits(s.sample, flat[::step])
    sampled = summarize_tensor(reader, "t", whole_limit=100, sample_elements=640, runs=8)
    assert sampled.method == "sample" and sampled.counted == 640 and sampled.checksum is None
    run = 640 // 8
    starts = [round(i * (a.size - run) / 7) for i in range(8)]
    _assert_same_bits(sampled.sample, np.concatenate([flat[s:s + run] for s in starts]))


def test_scan_of_a_partitioned_variable_and_a_damaged_shard(tmp_path):
    from tfckpt_lab.bundle.slices import Extent, TensorSlice, encode_slice_key
    from tfckpt_lab.checkpoint.summary import summarize_tensor

    full = np.arange(40 * 6, dtype=np.float32).reshape(40, 6)
    prefix = str(tmp_path / "p")
    with tl.BundleWriter(prefix) as w:
        w.add_slice("v", (40, 6), TensorSlice((Extent(20, 20), Extent(0, -1))), full[20:])
        w.add_slice("v", (40, 6), TensorSlice((Extent(0, 20), Extent(0, -1))), full[:20])
    reader = tl.load_checkpoint(prefix)
    s = summarize_tensor(reader, "v", scan=True, whole_limit=10, chunk_bytes=64)
    assert s.counted == full.size and s.stats["mean"] == pytest.approx(full.mean()) and s.checksum == "ok"
    np.testing.assert_array_equal(s.head, full[:20])  # the piece that starts at the origin
    assert s.head_note == "rows 0-19, columns 0-5 of [20, 6] of the stored piece 0,20:-"
    e = reader.lowlevel.entry(b"v")
    piece = reader.lowlevel.entry(encode_slice_key(e.key, e.slices[0]))
    with open(prefix + ".data-00000-of-00001", "r+b") as f:
        f.seek(piece.offset + 2)
        f.write(b"\xff")
    damaged = summarize_tensor(tl.load_checkpoint(prefix, verify=False), "v", scan=True, whole_limit=10)
    assert damaged.checksum == "mismatch"


def test_values_tab_says_why_a_tensor_cannot_be_shown(tmp_path, monkeypatch):
    from tfckpt_lab.checkpoint import summary
    from tfckpt_lab.widgets import explore

    prefix = str(tmp_path / "s")
    write_bundle(prefix, {"words": np.array([b"x" * 100] * 100, dtype=object)})
    monkeypatch.setattr(summary, "WHOLE_LIMIT", 1000)
    ex = explore(prefix)
    ex.tab = 4
    ex.selected = "words"
    shown = ex.view("Values").children[-1].value
    assert "string tensor &#x27;words&#x27; (10.3 KiB) is not shown" in shown or "is not shown" in shown
    ex.selected = "missing"
    assert "no tensor named" in ex.view("Values").children[-1].value or "missing" in ex.view("Values").children[-1].value
    ex.close()
