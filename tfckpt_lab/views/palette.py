"""Colours: the Okabe-Ito palette (safe for the common kinds of colour blindness), one per region kind,
and the theme-aware CSS every HTML view and browser front end builds its colours from.

Theme-aware means: the page's own colours come from JupyterLab's CSS variables
(``--jp-layout-color0`` for the background, ``--jp-content-font-color0`` for text), with
light fallbacks where a page has none (classic Notebook, Colab, GitHub).  A region's tint is
that background mixed with the kind's colour (CSS ``color-mix``), and the text on it is the
theme's text colour.  How much colour goes in is chosen here, per kind, so that the text keeps
a WCAG AA contrast of at least 4.5:1 in both reference themes (:data:`REFERENCE_THEMES`):

>>> contrast_ratio("#000000", "#ffffff")
21.0
>>> all(contrast_ratio(fg, mix(kind_color(k), bg, tint_strength(kind_color(k), 0.6))) >= AA_TEXT
...     for k in _KIND for bg, fg in REFERENCE_THEMES.values())
True
"""

from __future__ import annotations

__all__ = ["OKABE_ITO", "GREY", "kind_color", "dtype_color", "PAGE_BG", "INK", "INK_MUTED", "BORDER",
           "REFERENCE_THEMES", "AA_TEXT", "relative_luminance", "contrast_ratio", "mix", "ink_on",
           "tint_strength", "tint_css", "TINTS", "HIGHLIGHT", "highlight_css", "badge_css", "PLOT_INK",
           "TABLE_STYLE", "TABLE_OPEN"]

OKABE_ITO = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "black": "#000000",
}
GREY = "#BBBBBB"
_CYCLE = [OKABE_ITO[k] for k in ("blue", "orange", "bluish_green", "reddish_purple", "sky_blue",
                                 "vermillion", "yellow")]

_KIND = {
    # sstable structure
    "data_block": OKABE_ITO["sky_blue"],
    "metaindex_block": OKABE_ITO["yellow"],
    "index_block": OKABE_ITO["bluish_green"],
    "footer": OKABE_ITO["reddish_purple"],
    "block_trailer": OKABE_ITO["vermillion"],
    "restart_array": OKABE_ITO["yellow"],
    "magic": OKABE_ITO["reddish_purple"],
    "padding": GREY,
    # entries and fields
    "varint": OKABE_ITO["orange"],
    "key_delta": OKABE_ITO["sky_blue"],
    "tag": OKABE_ITO["yellow"],
    "length": OKABE_ITO["orange"],
    "fixed32": OKABE_ITO["bluish_green"],
    "fixed64": OKABE_ITO["bluish_green"],
    "checksum": OKABE_ITO["vermillion"],
    "u8": OKABE_ITO["reddish_purple"],
    "string": OKABE_ITO["sky_blue"],
    "bytes": "#DDDDDD",
    "packed": OKABE_ITO["orange"],
    # data shards
    "tensor": OKABE_ITO["blue"],
    "element": OKABE_ITO["sky_blue"],
    "string_bytes": OKABE_ITO["sky_blue"],
    "unreferenced": GREY,
    "unexplained": GREY,
    "unparsed": GREY,
    "state_line": OKABE_ITO["bluish_green"],
}


def kind_color(kind: str) -> str:
    """The colour used for regions of this kind everywhere (plots, hex view, tables)."""
    return _KIND.get(kind, GREY)


def dtype_color(dtype_name: str, order: list[str] | None = None) -> str:
    """A stable colour per dtype (the position in ``order`` if given, else a hash)."""
    if order is not None and dtype_name in order:
        return _CYCLE[order.index(dtype_name) % len(_CYCLE)]
    return _CYCLE[sum(map(ord, dtype_name)) % len(_CYCLE)]


# -- the page's colours, as CSS -----------------------------------------------------------------
PAGE_BG = "var(--jp-layout-color0, #ffffff)"
INK = "var(--jp-content-font-color0, #000000)"
INK_MUTED = "var(--jp-content-font-color2, #595959)"
BORDER = "var(--jp-border-color2, #e0e0e0)"
# (page background, text colour) of JupyterLab's light and dark themes; the light pair is also the
# fallback of the variables above, so pages without JupyterLab's variables get it.
REFERENCE_THEMES = {"light": ("#ffffff", "#000000"), "dark": ("#111111", "#ffffff")}
AA_TEXT = 4.5  # WCAG 2 level AA, normal text
_MARGIN = 0.15  # browsers round mixed colours to 8 bits: stay a little above the line
HIGHLIGHT = OKABE_ITO["yellow"]  # the selected row of a table
# how much of a region's colour its bytes get: (selected, and the two alternating shades of neighbours)
TINTS = (0.65, 0.45, 0.3)
# Text and lines of plots, whose PNGs have a transparent background: the grey with the same contrast
# (about 4.1:1 to 4.6:1) on a white page and on JupyterLab's dark one.
PLOT_INK = "#757575"


def _rgb(colour: str) -> tuple[int, int, int]:
    c = colour.lstrip("#")
    if len(c) == 3:
        c = "".join(ch * 2 for ch in c)
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def relative_luminance(colour: str) -> float:
    """WCAG 2 relative luminance of a ``#rrggbb`` colour (0 = black, 1 = white)."""
    def lin(v: int) -> float:
        s = v / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(v) for v in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two colours, 1 to 21 (4.5 or more: readable text, level AA)."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return round((la + 0.05) / (lb + 0.05), 2)


def mix(colour: str, base: str, amount: float) -> str:
    """``amount`` of ``colour`` mixed into ``base`` in sRGB, as CSS ``color-mix`` does it.

    >>> mix("#F0E442", "#ffffff", 0.5)
    '#f8f2a1'
    """
    return "#" + "".join(f"{int(c * amount + b * (1 - amount) + 0.5):02x}" for c, b in zip(_rgb(colour), _rgb(base)))


def ink_on(colour: str) -> str:
    """Black or white, whichever reads better on a solid ``colour`` (labels inside bars)."""
    return "#000000" if contrast_ratio("#000000", colour) >= contrast_ratio("#ffffff", colour) else "#ffffff"


def tint_strength(colour: str, wanted: float) -> float:
    """The largest amount of ``colour`` up to ``wanted`` whose mix with each reference theme's
    background keeps that theme's text at :data:`AA_TEXT` or more."""
    amount = round(wanted, 2)
    while amount > 0:
        if all(contrast_ratio(fg, mix(colour, bg, amount)) >= AA_TEXT + _MARGIN
               for bg, fg in REFERENCE_THEMES.values()):
            return amount
        amount = round(amount - 0.05, 2)
    return 0.0


def tint_css(colour: str, wanted: float) -> str:
    """A CSS background: ``colour`` mixed into the page's background, as strong as text allows.

    >>> tint_css("#56B4E9", 0.3)
    'color-mix(in srgb, #56B4E9 30%, var(--jp-layout-color0, #ffffff))'
    """
    return f"color-mix(in srgb, {colour} {round(100 * tint_strength(colour, wanted))}%, {PAGE_BG})"


def highlight_css() -> str:
    """Inline CSS for a highlighted (selected) table row: a yellow tint with the theme's text colour."""
    return f"background:{tint_css(HIGHLIGHT, 0.6)};color:{INK}"


def badge_css(colour: str) -> str:
    """Inline CSS for a word set off by a tint of ``colour`` (a status: "caught", "changed"...)."""
    return f"background:{tint_css(colour, 0.6)};color:{INK};padding:0 4px;border-radius:2px"


# Every HTML table of the views and widgets: room between columns, headers ruled off, and no line
# breaks inside a cell (a shape "[8, 28]" or a byte range "[8, 28)" stays on one line) except in the
# columns marked ``tfk-wrap`` (messages, lists of files).  The <style> travels with the table, so
# it also applies in static HTML (nbconvert) and in every front end.
TABLE_STYLE = (
    "<style>"
    ".tfk-table{border-collapse:collapse;margin:4px 0;color:%(ink)s}"
    ".tfk-table th,.tfk-table td{padding:3px 14px 3px 4px;text-align:left;vertical-align:top;"
    "white-space:nowrap;border:none;background:none;color:inherit}"
    ".tfk-table th{border-bottom:1px solid %(border)s;font-weight:bold}"
    ".tfk-table td.tfk-wrap{white-space:normal;min-width:16em}"
    ".tfk-table tr{background:none}"
    "</style>"
) % {"ink": INK, "border": "var(--jp-border-color1, #bdbdbd)"}
TABLE_OPEN = TABLE_STYLE + '<table class="tfk-table">'
