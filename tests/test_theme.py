"""Colours that read in every theme, text that is big enough, labels that are whole (no browser).

The same properties are measured in Chromium, in JupyterLab's light and dark themes, by
tests/test_browser_widgets.py::test_widgets_read_in_light_and_dark_themes.
"""

from __future__ import annotations

import io
import re
import struct
import zlib

import numpy as np
import pytest

from tfckpt_lab import write_bundle
from tfckpt_lab.views import palette
from tfckpt_lab.views.palette import (AA_TEXT, REFERENCE_THEMES, contrast_ratio, ink_on, kind_color, mix,
                                      relative_luminance, tint_strength)


def test_contrast_ratio_matches_wcag_reference_values():
    # WCAG 2's own examples and well-known pairs
    assert contrast_ratio("#000000", "#ffffff") == 21.0
    assert contrast_ratio("#ffffff", "#ffffff") == 1.0
    assert contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)  # the lightest AA grey on white
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)  # ... and one step too light
    assert relative_luminance("#ff0000") == pytest.approx(0.2126, abs=1e-4)
    assert mix("#000000", "#ffffff", 0.5) == "#808080"  # what CSS color-mix(in srgb, black 50%, white) gives


@pytest.mark.parametrize("theme", sorted(REFERENCE_THEMES))
@pytest.mark.parametrize("amount", palette.TINTS + (0.6,))
def test_every_kind_tint_keeps_text_readable(theme, amount):
    """Every region kind's tint, at every strength used, under the theme's own text colour."""
    bg, fg = REFERENCE_THEMES[theme]
    for kind in list(palette._KIND) + ["some kind no one named"]:
        colour = kind_color(kind)
        tinted = mix(colour, bg, tint_strength(colour, amount))
        assert contrast_ratio(fg, tinted) >= AA_TEXT, (kind, theme, amount, tinted)


def test_old_tints_fail_in_the_dark_theme():
    """Why the tints are mixed into the page's background: the old white-mixed pastels under
    JupyterLab dark's white text were unreadable (issue 12)."""
    _, white = REFERENCE_THEMES["dark"]
    pastel = mix(palette.OKABE_ITO["yellow"], "#ffffff", 0.45)
    assert contrast_ratio(white, pastel) < 1.5


def test_ink_on_solid_colours():
    for colour in set(palette._KIND.values()) | set(palette.OKABE_ITO.values()):
        assert contrast_ratio(ink_on(colour), colour) >= AA_TEXT, colour
    assert ink_on(palette.OKABE_ITO["blue"]) == "#ffffff" and ink_on(palette.OKABE_ITO["yellow"]) == "#000000"


def test_css_uses_the_page_theme_with_light_fallbacks():
    css = palette.tint_css("#56B4E9", 0.45)
    assert css == "color-mix(in srgb, #56B4E9 45%, var(--jp-layout-color0, #ffffff))"
    assert palette.INK == "var(--jp-content-font-color0, #000000)"
    assert "var(--jp-content-font-color0" in palette.highlight_css() and "#F0E442" in palette.highlight_css()
    assert palette.TABLE_OPEN.endswith('<table class="tfk-table">')
    assert "white-space:nowrap" in palette.TABLE_STYLE and "padding" in palette.TABLE_STYLE


def test_plot_ink_reads_on_white_and_on_jupyterlab_dark():
    for bg, _ in REFERENCE_THEMES.values():
        assert contrast_ratio(palette.PLOT_INK, bg) >= 4.0


def _png_text(png: bytes) -> dict:
    """The tEXt chunks of a PNG, checking every chunk's CRC on the way."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    out, pos = {}, 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos:pos + 4])
        kind, body = png[pos + 4:pos + 8], png[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        if kind == b"tEXt":
            key, value = body.split(b"\0", 1)
            out[key.decode("latin-1")] = value.decode("latin-1")
        pos += 12 + length
    return out


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    p = str(tmp_path_factory.mktemp("theme") / "model-100")
    write_bundle(p, {"dense/kernel": np.arange(224, dtype=np.float32).reshape(8, 28),
                     "dense/bias": np.zeros(28, np.float32), "step": np.int64(100),
                     "a/very/long/name/of/an/optimizer/slot/that/keeps/going/.ATTRIBUTES/VARIABLE_VALUE":
                         np.ones((4, 8), np.float32)})
    return p


def test_plots_are_transparent_with_text_of_at_least_the_minimum(prefix):
    pytest.importorskip("matplotlib")
    from PIL import Image

    from tfckpt_lab.views.diff import diff_checkpoints
    from tfckpt_lab.views.plots import (MIN_FONT_PT, diff_bars, figure_png, index_anatomy, shard_map,
                                        smallest_text_pt, tensor_values)

    figures = {"anatomy": index_anatomy(prefix + ".index"), "shards": shard_map(prefix, selected="dense/kernel"),
               "heatmap": tensor_values(np.ones((8, 28)), "dense/kernel"),
               "long title": tensor_values(np.ones((4, 8)), "a/very/long/name/of/an/optimizer/slot/that/keeps/going/"
                                                          ".ATTRIBUTES/VARIABLE_VALUE"),
               "diff": diff_bars(diff_checkpoints(prefix, prefix))}
    for name, fig in figures.items():
        png = figure_png(fig, dpi=90)
        smallest = smallest_text_pt(fig)
        assert smallest >= MIN_FONT_PT, (name, smallest)
        assert float(_png_text(png)["tfckpt_lab:min_font_px"]) == pytest.approx(smallest * 90 / 72, abs=0.01)
        image = Image.open(io.BytesIO(png)).convert("RGBA")
        corner = image.getpixel((0, 0))
        assert corner[3] == 0, (name, corner)  # no white box on a dark page
        # no text drawn past the figure's edges (a long tensor name is shortened, not cut)
        renderer = fig.canvas.get_renderer()
        width = fig.bbox.width
        for text in fig.findobj(lambda a: hasattr(a, "get_window_extent") and hasattr(a, "get_text")):
            if text.get_visible() and text.get_text().strip() and not text.get_clip_on():
                box = text.get_window_extent(renderer)
                assert box.x0 >= -1 and box.x1 <= width + 1, (name, text.get_text(), box)


def test_widget_tables_highlight_and_labels(prefix):
    pytest.importorskip("ipywidgets")
    from tfckpt_lab.widgets import EntriesTable, RotationSimulator
    from tfckpt_lab.widgets._common import PAGE_CSS, ROOT_CLASS, tab_widget

    table = EntriesTable(prefix)
    table.selected = "dense/kernel"
    page = table.to_html(with_status=False)  # the static table (the live one is the clickable front end)
    assert palette.TABLE_OPEN in page
    row = re.search(r'<tr style="([^"]*)"><td><code>dense/kernel</code>', page)
    assert row and row.group(1) == palette.highlight_css()  # a theme-aware tint and the theme's text colour
    assert ROOT_CLASS in table._dom_classes and table.children[-1].value == PAGE_CSS
    table.children = list(table.children[:2])  # whatever the children become, the <style> stays, once, last
    assert [c for c in table.children if getattr(c, "value", None) == PAGE_CSS] == [table.children[-1]]
    assert len(table.children) == 3

    sim = RotationSimulator()
    try:
        ctl = sim._controls
        assert ctl["max_to_keep"].style.description_width == "initial"  # "max_to_keep", not "max_to_k..."
        assert ctl["mode"].style.button_width == "auto"  # "CheckpointManager", not "CheckpointMana..."
    finally:
        sim.close()
    tabs = tab_widget([table], ["Entries"])
    assert tabs.get_title(0) == "Entries" and "tfk-tabs" in tabs._dom_classes
    assert "min-width: fit-content" in PAGE_CSS and ".tfk-tabs" in PAGE_CSS
