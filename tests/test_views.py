"""Plots render (Agg), widgets are driven through their traitlets, no browser needed."""

from __future__ import annotations

import base64
import io

import os
import subprocess
import sys
import time
from unittest import mock

import numpy as np

import tfckpt_lab as tl
import pytest

from conftest import TF_FIXTURES
from tfckpt_lab.sstable.format import BLOCK_TRAILER_SIZE, FOOTER_SIZE
from tfckpt_lab.sstable.reader import TableReader
from tfckpt_lab.views.palette import kind_color
from tfckpt_lab import write_bundle
from tfckpt_lab.views.palette import TABLE_OPEN

pytest.importorskip("matplotlib")
pytest.importorskip("ipywidgets")

MULTI = TF_FIXTURES / "savev2_multiblock" / "bundle"
TF2 = TF_FIXTURES / "tf2_checkpoint"


@pytest.fixture
def small(tmp_path):
    prefix = str(tmp_path / "model-100")
    write_bundle(prefix, {"w": np.arange(12, dtype=np.float32).reshape(3, 4), "s": np.array([b"ab", b"c"], object),
                          "step": np.int64(100)}, num_shards=2)
    write_bundle(str(tmp_path / "model-200"), {"w": np.arange(12, dtype=np.float32).reshape(3, 4) * 2,
                                               "s": np.array([b"ab", b"c"], object), "step": np.int64(200)})
    return prefix


# -- plots ----------------------------------------------------------------------------------

def _render(fig):
    """The figure renders to a PNG of the figure's own size (not an empty or default canvas)."""
    from PIL import Image

    from tfckpt_lab.views.plots import figure_png

    png = figure_png(fig, dpi=50)
    with Image.open(io.BytesIO(png)) as img:
        width, height = fig.get_size_inches() * 50
        assert img.format == "PNG" and abs(img.width - width) <= 2 and abs(img.height - height) <= 2
        colours = img.convert("RGBA").getcolors(maxcolors=1 << 20)
        assert colours is None or len(colours) > 2, "the picture is blank"


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def _bars(collection) -> list[tuple[float, float, tuple]]:
    """(x start, x end, face colour) of every rectangle a ``broken_barh`` call drew."""
    colours = collection.get_facecolor()
    out = []
    for i, path in enumerate(collection.get_paths()):
        xs = path.vertices[:, 0]
        out.append((float(xs.min()), float(xs.max()), tuple(colours[i % len(colours)]) if len(colours) else ()))
    return out


@pytest.mark.parametrize("case", ["tf1_sharded/model-5", "tf2_checkpoint/ckpt-3", "savev2_strings/bundle",
                                  "savev2_dtypes/bundle", "savev2_empty/bundle"])
def test_shard_map_and_anatomy_render(case):
    from tfckpt_lab.views.plots import index_anatomy, shard_map

    prefix = str(TF_FIXTURES / case)
    reader = tl.load_checkpoint(prefix)
    fig = shard_map(prefix)
    _render(fig)
    # every tensor whose bytes lie in a shard is drawn there, named, on an axis as long as its shard
    stored = {e.name for e in reader.entries().values() if e.size and not e.slices}
    named = {t for t in _texts(fig) if t in stored}
    assert named, "no tensor is named on the shard map"
    if len(stored) <= 8:  # few tensors: every one is labelled
        assert named == stored, stored - named
    longest = max((e.end for e in reader.entries().values() if not e.slices), default=0)
    assert max(ax.get_xlim()[1] for ax in fig.axes) >= longest
    # each shard's row has a bar exactly where the reader says each tensor's bytes are, in its dtype's colour
    rows = {c.get_gid(): _bars(c) for c in fig.axes[0].collections if (c.get_gid() or "").startswith("shard")}
    key = fig.axes[0].get_legend()
    legend = {t.get_text(): tuple(h.get_facecolor()) for t, h in zip(key.get_texts(), key.legend_handles)} if key else {}
    for e in reader.entries().values():
        if e.size and not e.slices:
            bars = {(s, t): colour for s, t, colour in rows[f"shard{e.shard_id}"]}
            assert (e.offset, e.offset + e.size) in bars, (e.name, e.offset, e.size)
            assert bars[e.offset, e.offset + e.size] == legend[e.dtype_name], e.name
    fig = index_anatomy(prefix + ".index")
    _render(fig)
    size = os.path.getsize(prefix + ".index")
    assert fig.axes[0].get_xlim() == (0.0, float(size))  # drawn to scale: the axis is the file
    assert any(t.startswith("footer") for t in _texts(fig))
    # the top row tiles the file; its trailers are the 5 bytes after every block the footer and index point at
    bars = sorted(b for c in fig.axes[0].collections for b in _bars(c) if b[2][3] > 0)
    assert bars[0][0] == 0 and bars[-1][1] == size and all(a[1] == b[0] for a, b in zip(bars, bars[1:]))
    table = TableReader(prefix + ".index")
    handles = [h for _, h in table.index_entries] + [table.footer.metaindex_handle, table.footer.index_handle]
    from matplotlib.colors import to_rgba

    trailer = to_rgba(kind_color("block_trailer"))
    assert sorted((s, t) for s, t, colour in bars if colour == trailer) == \
        sorted((h.end, h.end + BLOCK_TRAILER_SIZE) for h in handles)
    assert (size - FOOTER_SIZE, size) in {(s, t) for s, t, _ in bars}


@pytest.mark.parametrize("value", [
    np.float32(3.5), np.zeros((0, 3), np.float32), np.arange(10, dtype=np.int32),
    np.random.default_rng(0).normal(size=(40, 50)).astype("bfloat16"),
    np.random.default_rng(1).normal(size=(5, 4, 3)).astype(np.float16),
    (np.arange(200) + 1j * np.arange(200)[::-1]).astype(np.complex64),
    np.array([[1 + 2j, 3j], [0, 1]], np.complex128), np.array([True, False, True]),
    np.array([b"a", b"bcd", b""], dtype=object), np.array([np.nan, np.inf, 1.0, 2.0] * 30),
], ids=["scalar", "empty", "int1d", "bf16-2d", "f16-3d", "c64-1d", "c128-2d", "bool", "strings", "nonfinite"])
def test_tensor_values_render(value):
    import ml_dtypes  # noqa: F401  (bfloat16 via astype)
    from tfckpt_lab.views.plots import tensor_values

    fig = tensor_values(value, "t")
    _render(fig)
    ax = fig.axes[0]
    titles = [a.get_title() for a in fig.axes] + ([fig._suptitle.get_text()] if fig._suptitle else [])
    assert any(t.startswith("t ") for t in titles), titles  # the tensor's name, then its dtype and shape
    if value.dtype != object and value.ndim == 2 and value.size and value.dtype.kind in "fiu":
        shown = np.asarray(ax.get_images()[0].get_array(), np.float64)
        np.testing.assert_array_equal(shown, np.asarray(value, np.float64))  # the heatmap is the values
    elif value.dtype.kind in "iu" and value.ndim == 1:
        assert ax.lines[0].get_ydata().tolist() == value.tolist()  # the stems stand at the values
    elif value.ndim == 0:
        assert str(value) in _texts(fig)


def test_figures_show_themselves_as_a_cell_result(small):
    """A returned figure is the cell's picture in a notebook: IPython finds a PNG for it (no pyplot)."""
    from IPython.core.formatters import DisplayFormatter

    from tfckpt_lab.views.plots import index_anatomy, shard_map, tensor_values

    for fig in (shard_map(small), index_anatomy(small + ".index"), tensor_values(np.ones((2, 3)), "t")):
        data, _ = DisplayFormatter().format(fig)
        png = data["image/png"]
        png = base64.b64decode(png) if isinstance(png, str) else png
        from PIL import Image

        with Image.open(io.BytesIO(png)) as img:  # this figure's own picture: its aspect ratio, not blank
            w_in, h_in = fig.get_size_inches()
            assert abs(img.width / img.height - w_in / h_in) < 0.02
            colours = img.convert("RGBA").getcolors(maxcolors=1 << 20)
            assert colours is None or len(colours) > 2


def test_heatmap_and_stem_ticks_are_element_indices():
    from tfckpt_lab.views.plots import tensor_values

    ax = tensor_values(np.arange(12.0).reshape(3, 4), "t").axes[0]
    assert all(float(t).is_integer() for t in ax.get_yticks()), ax.get_yticks()
    assert all(float(t).is_integer() for t in ax.get_xticks()), ax.get_xticks()
    ax = tensor_values(np.linspace(-1, 1, 20), "t").axes[0]
    assert all(float(t).is_integer() for t in ax.get_xticks()), ax.get_xticks()


@pytest.mark.timing
@pytest.mark.slow
def test_shard_map_of_10000_tensors_is_quick():
    from tfckpt_lab.views.plots import shard_map

    t = time.perf_counter()
    _render(shard_map(str(MULTI)))
    assert time.perf_counter() - t < 5


def test_hex_html_marks_selection_and_cursor(small):
    from tfckpt_lab.explain import layout
    from tfckpt_lab.views.hexview import hex_html

    tree = layout(small + ".index")
    footer = tree.children[-1]
    out = hex_html(tree, footer.start, 64, selected=footer, cursor=tree.end - 1)
    assert out.count("box-shadow") == footer.size
    assert f'data-offset="{tree.end - 1}"' in out and "outline:2px" in out
    assert "magic" in out  # the tooltip of the magic number's bytes


# -- widgets -------------------------------------------------------------------------------

@pytest.mark.parametrize("interactive", [True, False], ids=["anywidget", "html"])
def test_hexview_links_regions_and_bytes(small, interactive):
    from tfckpt_lab.widgets import HexView

    if interactive:
        pytest.importorskip("anywidget")
    hv = HexView(small + ".index", interactive=interactive)
    footer = hv.tree.children[-1]
    hv.select_region(footer)  # pick a region: its bytes light up
    assert hv.selection == [footer.start, footer.end] and hv.selected_kind == "footer"
    if interactive:
        assert hv._grid.selection == [footer.start, footer.end] and hv._hex.value == ""
    else:
        assert hv._grid is None and "box-shadow" in hv._hex.value
    assert footer.explanation in hv._info.value
    assert hv.window <= footer.start < hv.window + hv.nbytes
    hv.cursor = footer.end - 3  # pick a byte: the innermost region is selected
    assert hv.selected_kind == "magic" and hv.region.parent is footer
    hv._nav.value = 0  # the navigator lists the footer's children; choose the first
    assert hv.selected_label == "metaindex handle"
    hv._up.click()
    assert hv.region is footer
    r = hv.find("w")
    assert r is not None and r.kind == "entry" and hv.selection == [r.start, r.end]
    data = HexView(small + ".data-00000-of-00002", interactive=interactive)
    data.cursor = 5
    assert data.selected_kind in ("element", "tensor", "varint", "checksum", "string_bytes")
    assert "text/html" in data._repr_mimebundle_()


def test_hex_window_sends_the_visible_bytes_and_their_regions(small):
    from tfckpt_lab.explain import innermost_region, layout
    from tfckpt_lab.views.frontdata import MAX_WINDOW, hex_window

    tree = layout(small + ".index")
    d = hex_window(tree, 21, 64)
    assert d["window"] == 16 and bytes.fromhex(d["hex"]) == tree.read(16, 80)
    starts = [s[0] for s in d["spans"]]
    assert starts[0] <= 16 < d["spans"][0][1] and d["spans"][-1][1] >= 80
    assert all(a[1] == b[0] for a, b in zip(d["spans"], d["spans"][1:]))  # the leaves tile the window
    leaf = innermost_region(tree, 40)
    span = next(s for s in d["spans"] if s[0] <= 40 < s[1])
    assert d["kinds"][span[2]][0] == leaf.kind and leaf.kind in span[3]
    assert len(hex_window(tree, 0, 10**6)["hex"]) <= 2 * MAX_WINDOW


@pytest.mark.timing
def test_hex_grid_clicks_and_selections_round_trip(small, tmp_path):
    """What the browser does to the grid (set cursor, window) and what it gets back."""
    pytest.importorskip("anywidget")
    from tfckpt_lab.widgets import HexView

    hv = HexView(small + ".index")
    grid = hv._grid
    grid.cursor = hv.tree.end - 3  # a click on a byte of the magic number
    assert hv.cursor == hv.tree.end - 3 and hv.selected_kind == "magic"
    assert grid.selection == hv.selection == [hv.region.start, hv.region.end] and "magic" in grid.status
    entry = hv.find("w")  # a region picked in Python lights up in the browser
    assert grid.selection == [entry.start, entry.end] and grid.cursor == entry.start and hv.tensor == "w"
    hv.select_region(entry.children[-1])  # still inside entry "w": the tensor stays
    assert hv.tensor == "w" and grid.selection == hv.selection

    big = str(tmp_path / "big")  # a 10 MB shard: only the window goes to the browser
    write_bundle(big, {f"t{i}": np.full(50_000, i, np.float32) for i in range(50)})
    t = time.perf_counter()
    data = HexView(big + ".data-00000-of-00001", nbytes=10**6)
    assert data.nbytes == 4096 and len(data._grid.hex) == 2 * 4096
    data._grid.window = 5_000_003  # the slider / page buttons
    assert data.window == data._grid.window == 5_000_000 and len(data._grid.hex) == 2 * 4096
    data._grid.cursor = 5_000_100
    assert data.tensor == "t25" and data._grid.selection == [5_000_000, 5_200_000]
    assert time.perf_counter() - t < 2


@pytest.mark.timing
def test_entries_table_pages_sorts_filters_10000_entries():
    from tfckpt_lab.widgets import EntriesTable

    t = time.perf_counter()
    table = EntriesTable(str(MULTI), page_size=20)
    assert time.perf_counter() - t < 3
    assert len(table.rows) >= 10000 and len(table.visible_rows()) == 20
    first = table.visible_rows()[0]["name"]
    table.page = 3
    assert table.visible_rows()[0]["name"] != first and "page 4" in table._status.value
    t = time.perf_counter()
    table.filter = "layer_0042"
    assert table.page == 0 and 0 < table.num_matching < 200
    assert all("layer_0042" in r["name"] for r in table.visible_rows())
    table.sort_by, table.ascending = "size", False
    sizes = [r["size"] for r in table.visible_rows()]
    assert sizes == sorted(sizes, reverse=True)
    assert time.perf_counter() - t < 1.5
    name = table.visible_rows()[1]["name"]
    if table._rows is not None:  # a click on the row
        assert table._rows.names[1] == name and table._rows.rows[1][0] == name
        table._rows.selected = name
    else:  # without anywidget: the list box beside the HTML table
        table._pick.value = name
        assert "#F0E442" in table._table.value
    assert table.selected == name
    assert table.visible_rows()[0]["entry"].lowlevel is not None


def test_shard_map_click_selects_a_tensor(small):
    from tfckpt_lab.bundle.reader import BundleReader
    from tfckpt_lab.widgets import ShardMap

    sm = ShardMap(small)
    e = BundleReader(small).entry("w")
    assert sm.click(e.shard_id, e.offset + 5) == "w" and sm.selected == "w"
    assert "w" in sm._info.value and sm.tensor_region().start == e.offset
    assert sm.click(0, 10**6) is None
    assert "<img" in sm.to_html()


def test_shard_bars_click_selects_a_tensor(small):
    pytest.importorskip("anywidget")
    from tfckpt_lab.bundle.reader import BundleReader
    from tfckpt_lab.widgets import ShardMap

    sm = ShardMap(small)
    bars = sm._bars
    assert sm._image is None and bars is not None
    reader = BundleReader(small)
    spans = {name: (shard, start, end) for shard, start, end, name, _ in bars.spans if name}
    assert set(spans) == {"w", "s", "step"}
    for name, (shard, start, end) in spans.items():
        e = reader.entry(name)
        assert (shard, start, end) == (e.shard_id, e.offset, e.end)
    assert [s[0] for s in bars.shards] == [os.path.basename(small) + f".data-0000{i}-of-00002" for i in (0, 1)]
    bars.selected = "s"  # a click on the bar of "s"
    assert sm.selected == "s" and "selected s" in bars.status
    sm.click(*spans["w"][:2])  # and Python-side picks reach the browser
    assert bars.selected == "w" and "selected w" in bars.status
    assert "<img" in sm.to_html()  # the static fallback is still the matplotlib picture
    plain = ShardMap(small, interactive=False)
    assert plain._bars is None and plain._image is not None


def test_checksum_lab_catches_flips_and_says_where(small):
    from tfckpt_lab.widgets import ChecksumLab

    lab = ChecksumLab(small)
    fresh = lab.to_html()  # before any flip, the static page still names the files to try
    assert "nothing flipped yet" in fresh and os.path.basename(small) + ".index" in fresh
    e_off = None
    from tfckpt_lab.bundle.reader import BundleReader

    e = BundleReader(small).entry("w")
    data = os.path.basename(small) + f".data-{e.shard_id:05d}-of-00002"
    out = lab.flip(data, e.offset + 1)
    assert lab.flipped_kind == "element" and lab.caught
    assert any(p["kind"] == "ChecksumMismatchError" and p["covers_flip"] for p in lab.problems)
    lab.flip(small + ".index", 2)  # inside data block 0: the block checksum catches it
    assert lab.caught and any(p["kind"] == "ChecksumMismatchError" for p in lab.problems)
    size = os.path.getsize(small + ".index")
    lab.flip(small + ".index", size - 48 + 30)  # footer padding: nothing checks it
    assert lab.flipped_kind == "padding" and not lab.caught and "not caught" in lab.to_html()
    with open(small + ".index", "rb") as f:  # the original is untouched
        assert f.read()[size - 18] == 0
    lab.close()
    del e_off


def test_checkpoint_diff(small):
    from tfckpt_lab.widgets import CheckpointDiff

    d = CheckpointDiff(small, small.replace("model-100", "model-200"))
    by = {r["name"]: r for r in d.rows}
    assert by["w"]["status"] == "changed" and by["w"]["relative_change"] == pytest.approx(1.0)
    assert by["s"]["status"] == "same" and by["step"]["status"] == "changed"
    assert d.num_changed == 2
    d.b = d.a
    assert d.num_changed == 0
    _render(d.plot())
    assert TABLE_OPEN in d.to_html()


def test_explorer_tabs_and_shared_selection(small, tmp_path):
    from tfckpt_lab.widgets import explore
    from tfckpt_lab.widgets.explorer import TABS, group_files

    groups = group_files(tmp_path)
    assert [g["step"] for g in groups] == [100, 200] and len(groups[0]["files"]) == 3
    ex = explore(tmp_path)  # no state file: the last step
    assert ex.prefix.endswith("model-200")
    ex.prefix = small
    for i in range(len(TABS)):
        ex.tab = i
    ex.selected = "w"
    assert ex.view("Entries").selected == "w" and ex.view("Shard map").selected == "w"
    hv = ex.view("Bytes").children[1]
    assert hv.selected_label == "w"
    assert isinstance(ex.view("Values").children[-1], type(ex.view("Files").children[-1]))  # an Image
    ex.view("Shard map").click(0, 0)
    assert ex.selected == ex.view("Shard map").selected
    if ex.view("Shard map")._bars is not None:  # clicks in the browser select everywhere
        ex.view("Shard map")._bars.selected = "s"
        assert ex.selected == "s" and ex.view("Entries").selected == "s" and hv.tensor == "s"
        assert "<code>s</code>" in ex.view("Values").children[0].value
        hv._grid.cursor = hv.region.start + 1  # a byte of an index entry's value
        assert ex.selected == "s" and hv.region.start <= hv.cursor < hv.region.end
        w_entry = hv.tree.find_tensor("w")
        hv._grid.cursor = w_entry.end - 1  # a byte of entry "w": w is selected, the byte stays picked
        assert ex.selected == "w" and ex.view("Shard map").selected == "w" and hv.cursor == w_entry.end - 1
        assert hv.region is not w_entry
    assert ex.view("Diff").num_changed == 2
    assert "text/html" in ex._repr_mimebundle_()
    ex.close()


@pytest.mark.timing
@pytest.mark.slow
def test_explorer_on_10000_entries_is_quick():
    from tfckpt_lab.widgets import explore

    t = time.perf_counter()
    ex = explore(str(MULTI))
    ex.tab = 1  # Entries
    ex.tab = 2  # Bytes
    name = ex.view("Entries").rows[5000]["name"]
    ex.selected = name
    assert ex.view("Bytes").children[1].selected_label == name
    assert time.perf_counter() - t < 4


# -- the rotation simulator runs the real Saver / CheckpointManager ---------------------------

def _reference(kind, directory, n, max_to_keep, keep_hours, hours_per_save, steps):
    """The same saves, made directly, with time.time patched the plain way.

    The Saver saves to ``directory`` as given: pass a relative one (from the right working
    directory) for what ``saver.save(sess, "ckpt/model")`` writes.
    """
    from tfckpt_lab import CheckpointManager, Saver
    from tfckpt_lab.widgets.simulator import START_TIME

    now = [START_TIME]
    with mock.patch("time.time", lambda: now[0]):
        if kind == "Saver":
            impl = Saver(max_to_keep=max_to_keep, keep_checkpoint_every_n_hours=keep_hours or 10000.0)
        else:
            impl = CheckpointManager(directory, max_to_keep=max_to_keep or None,
                                     keep_checkpoint_every_n_hours=keep_hours or None)
        listings = []
        for i in range(1, n + 1):
            now[0] += hours_per_save * 3600
            v = {"w": np.full(2, i * steps, np.float32), "global_step": np.int64(i * steps)}
            if kind == "Saver":
                impl.save(v, os.path.join(directory, "model"), global_step=i * steps)
            else:
                impl.save(v, checkpoint_number=i * steps)
            with open(os.path.join(directory, "checkpoint")) as f:
                listings.append((sorted(os.listdir(directory)), f.read()))
    return listings


@pytest.mark.parametrize("kind,max_to_keep,keep_hours", [
    ("Saver", 2, 0.0), ("Saver", 2, 3.0), ("Saver", 0, 0.0),
    ("CheckpointManager", 2, 0.0), ("CheckpointManager", 2, 3.0)])
def test_rotation_simulator_matches_the_real_classes(tmp_path, monkeypatch, kind, max_to_keep, keep_hours):
    from tfckpt_lab.widgets import RotationSimulator
    from tfckpt_lab.widgets.simulator import natural_key

    sim_dir, ref_dir = tmp_path / "sim", tmp_path / "ref"
    sim_dir.mkdir()
    ref_dir.mkdir()
    monkeypatch.chdir(tmp_path)  # the reference Saver saves to "ref/model", a relative path
    sim = RotationSimulator(directory=str(sim_dir))
    sim.mode = kind
    sim.max_to_keep = max_to_keep
    sim.keep_every_n_hours = keep_hours
    sim.hours_per_save = 1.0
    events = sim.run(8)
    expected = _reference(kind, "ref", 8, max_to_keep, keep_hours, 1.0, 1000)
    for ev, (files, state) in zip(events, expected):
        assert ev["files"] == sorted(files, key=natural_key)
    assert sim.state_text == expected[-1][1]  # relative paths, as a relative save path writes them
    assert str(tmp_path) not in sim.state_text
    assert sim.global_step == 8000 and sim.clock - sim.history[0]["hours"] * 3600 > 0
    deleted = [f for ev in events for f in ev["deleted"]]
    renamed = [b for ev in events for _, b in ev["renamed"]]
    assert "checkpoint" in renamed and any(f.endswith(".index") for f in renamed)
    if max_to_keep and not keep_hours:
        assert len(sim.checkpoints()) == max_to_keep and deleted
    if keep_hours:
        assert len(sim.checkpoints()) > max_to_keep  # some kept for good
    assert TABLE_OPEN in sim.to_html()
    sim.reset()
    assert sim.files == [] and sim.history == []


def test_views_and_widgets_import_lazily():
    code = ("import sys, tfckpt_lab, tfckpt_lab.views, tfckpt_lab.widgets, tfckpt_lab.explain; "
            "tfckpt_lab.layout; tfckpt_lab.explore; "
            "print([m for m in ('matplotlib', 'ipywidgets', 'anywidget') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
