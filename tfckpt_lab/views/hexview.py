"""A hex dump as HTML, each byte tinted by the region it belongs to (a pure function).

The colours come from the region kinds (:mod:`.palette`); hovering a byte shows
its innermost region's description.  The bytes shown are the file's raw bytes;
what they *mean* comes from the region model only.
"""

from __future__ import annotations

import html

from ..explain.region import leaves_between
from .palette import kind_color

__all__ = ["hex_html", "region_breadcrumb_html", "region_html"]


def _tint(hex_color: str, amount: float) -> str:
    """Mix a ``#rrggbb`` colour with white (amount 0 = colour, 1 = white)."""
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    mix = [round(c + (255 - c) * amount) for c in (r, g, b)]
    return "#" + "".join(f"{c:02x}" for c in mix)


def hex_html(tree, start: int = 0, nbytes: int = 256, *, selected=None, cursor: int | None = None,
             width: int = 16) -> str:
    """HTML of ``nbytes`` of the file from ``start`` (rounded down to a row).

    Args:
        tree: a file's region tree (:func:`tfckpt_lab.explain.layout`).
        selected: a region whose bytes are outlined and shown in full colour.
        cursor: a byte offset to mark (underlined, bold).
    """
    root = tree.root
    start = max(0, (start // width) * width)
    end = min(root.end, start + nbytes)
    data = root.read(start, end)
    leaves = leaves_between(root, start, end)
    sel = (selected.start, selected.end) if selected is not None else (0, 0)
    rows = []
    li = 0
    parity = 0
    cells, chars = [], []
    for i, byte in enumerate(data):
        off = start + i
        while li < len(leaves) and leaves[li].end <= off:
            li += 1
            parity ^= 1
        leaf = leaves[li] if li < len(leaves) else None
        kind = leaf.kind if leaf is not None else "unexplained"
        in_sel = sel[0] <= off < sel[1]
        bg = _tint(kind_color(kind), 0.15 if in_sel else (0.55 if parity else 0.7))
        style = f"background:{bg};"
        if in_sel:
            style += "box-shadow:inset 0 -2px 0 #000,inset 0 2px 0 #000;font-weight:bold;"
        if cursor == off:
            style += "text-decoration:underline;outline:2px solid #D55E00;"
        tip = html.escape(leaf.describe(), quote=True) if leaf is not None else ""
        cells.append(f'<span style="{style}" title="{tip}" data-offset="{off}">{byte:02x}</span>')
        ch = chr(byte) if 32 <= byte < 127 else "·"
        chars.append(f'<span style="background:{bg}">{html.escape(ch)}</span>')
        if (i + 1) % width == 0 or i == len(data) - 1:
            row_start = off - (i % width)
            pad = "   " * (width - len(cells))
            rows.append(f'<span style="color:#777">{row_start:08x}</span>  {" ".join(cells)}{pad}  {"".join(chars)}')
            cells, chars = [], []
    if not rows:
        rows.append("(no bytes)")
    return ('<pre style="font-family:monospace;font-size:12px;line-height:1.35;margin:0">'
            + "\n".join(rows) + "</pre>")


def region_breadcrumb_html(region) -> str:
    """``file > block > entry > field`` with each level's kind and range."""
    parts = [f"<code>{html.escape(r.label or r.kind)}</code>" for r in region.lineage()]
    return " &rsaquo; ".join(parts)


def region_html(region) -> str:
    """One region's range, kind, value and explanation as a short HTML block."""
    if region is None:
        return "<i>nothing selected</i>"
    from ..explain.region import short_value

    value = "" if region.value is None else f"<br><b>value</b>: <code>{html.escape(short_value(region.value, 200))}</code>"
    swatch = (f'<span style="display:inline-block;width:10px;height:10px;background:{kind_color(region.kind)};'
              f'margin-right:4px"></span>')
    return (f"<div>{region_breadcrumb_html(region)}<br>{swatch}<b>{html.escape(region.kind)}</b> "
            f"bytes [{region.start}, {region.end}) ({region.size} bytes){value}"
            f"<br>{html.escape(region.explanation)}</div>")
