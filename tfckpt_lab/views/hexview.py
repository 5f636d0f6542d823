"""A hex dump as HTML, each byte tinted by the region it belongs to (a pure function).

The colours come from the region kinds (:mod:`.palette`); hovering a byte shows
its innermost region's description.  The bytes shown are the file's raw bytes;
what they *mean* comes from the region model only.
"""

from __future__ import annotations

import html
import re

from ..explain.region import leaves_between
from .palette import INK, INK_MUTED, TINTS, kind_color, tint_css

__all__ = ["hex_html", "region_breadcrumb_html", "region_html", "region_name", "region_tip"]


def _words(s: str) -> str:
    return re.sub(r"[\s_]+", " ", s).strip().lower()


def region_name(region) -> str:
    """The region's kind and label in words, saying nothing twice.

    ``footer`` (not "footer footer"), ``metaindex block`` (not "metaindex_block metaindex
    block"), ``data block 0``, ``metaindex handle`` (a block handle), ``block trailer``, but
    ``entry w`` and ``varint offset``, where the kind adds something.
    """
    kind, label = region.kind, region.label
    k, lab = _words(kind), _words(label)
    if not label:
        return k
    last = k.split(" ")[-1]
    if lab == k or lab.startswith(k + " ") or (lab.endswith(" " + last) and lab != last):
        return label
    if lab == last:  # "trailer" of a block_trailer
        return k
    return f"{k} {label}"


def region_tip(region, limit: int = 60) -> str:
    """``[start, end) name = value``: one line for a tooltip or a list."""
    from ..explain.region import short_value as _short

    v = "" if region.value is None else f" = {_short(region.value, limit)}"
    return f"[{region.start}, {region.end}) {region_name(region)}{v}"


def hex_html(tree, start: int = 0, nbytes: int = 256, *, selected=None, cursor: int | None = None,
             width: int = 16, changed: dict[int, int] | None = None) -> str:
    """HTML of ``nbytes`` of the file from ``start`` (rounded down to a row).

    Args:
        tree: a file's region tree (:func:`tfckpt_lab.explain.layout`).
        selected: a region whose bytes are outlined and shown in full colour.
        cursor: a byte offset to mark (underlined, bold).
        changed: ``{offset: new byte}``: bytes to show with a value other than the file's
            (the checksum lab's flipped byte, shown as it is in the damaged copy); their
            tooltip says what they were.
    """
    root = tree.root
    start = max(0, (start // width) * width)
    end = min(root.end, start + nbytes)
    data = bytearray(root.read(start, end))
    was = {}
    for off, new in (changed or {}).items():
        if start <= off < start + len(data):
            was[off] = data[off - start]
            data[off - start] = new
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
        bg = tint_css(kind_color(kind), TINTS[0] if in_sel else TINTS[1 + parity])
        style = f"background:{bg};"
        if in_sel:
            style += f"box-shadow:inset 0 -2px 0 {INK},inset 0 2px 0 {INK};font-weight:bold;"
        if cursor == off:
            style += "text-decoration:underline;outline:2px solid #D55E00;"
        tip = region_tip(leaf) + (f" -- {leaf.explanation}" if leaf.explanation else "") if leaf is not None else ""
        if off in was:
            style += "text-decoration:underline wavy;font-weight:bold;"
            tip = f"changed: was {was[off]:#04x}, now {byte:#04x}; {tip}"
        tip = html.escape(tip, quote=True)
        cells.append(f'<span style="{style}" title="{tip}" data-offset="{off}">{byte:02x}</span>')
        ch = chr(byte) if 32 <= byte < 127 else "·"
        chars.append(f'<span style="background:{bg}">{html.escape(ch)}</span>')
        if (i + 1) % width == 0 or i == len(data) - 1:
            row_start = off - (i % width)
            pad = "   " * (width - len(cells))
            rows.append(f'<span style="color:{INK_MUTED}">{row_start:08x}</span>  {" ".join(cells)}{pad}  {"".join(chars)}')
            cells, chars = [], []
    if not rows:
        rows.append("(no bytes)")
    return (f'<pre style="font-family:monospace;font-size:12px;line-height:1.35;margin:0;color:{INK};'
            'background:none">'
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
