"""Compare two checkpoints tensor by tensor (e.g. step 1000 against step 2000)."""

from __future__ import annotations

import html

__all__ = ["diff_checkpoints", "diff_html"]


def diff_checkpoints(a, b, *, atol: float = 0.0) -> list[dict]:
    """One row per tensor name in either checkpoint, most changed first.

    Each row: ``name``, ``status`` (``"same"``, ``"changed"``, ``"only in a"``,
    ``"only in b"``, ``"shape/dtype changed"``), ``dtype``, ``shape``,
    ``max_abs_diff``, ``relative_change`` (``||b - a|| / ||a||``, L2; None when
    not numeric), and ``identical_bytes`` (the stored CRC-32Cs are equal and
    the sizes too, so the bytes almost surely are; or the values were read and
    their bytes are equal).

    ``a`` and ``b`` are anything :func:`tfckpt_lab.diff.compare` takes (prefixes,
    directories, URLs, open readers, ``.meta``, ``.safetensors`` or ``.npz`` files);
    this is that comparison, drawn as rows.
    """
    from ..diff import compare

    return compare(a, b, atol=atol).rows()


def diff_html(rows, *, limit: int = 200, title: str = "") -> str:
    """The rows as an HTML table (a static fallback for the diff widget)."""
    from .palette import GREY, OKABE_ITO, TABLE_OPEN, badge_css

    colors = {"changed": OKABE_ITO["orange"], "same": GREY, "only in a": OKABE_ITO["sky_blue"],
              "only in b": OKABE_ITO["bluish_green"], "shape/dtype changed": OKABE_ITO["vermillion"]}
    body = []
    for r in rows[:limit]:
        rel = "" if r["relative_change"] is None else f"{r['relative_change']:.3g}"
        mad = "" if r["max_abs_diff"] is None else f"{r['max_abs_diff']:.3g}"
        body.append(f'<tr><td><code>{html.escape(r["name"])}</code></td>'
                    f'<td><span style="{badge_css(colors[r["status"]])}">{r["status"]}</span></td><td>{r["dtype"]}</td>'
                    f'<td>{r["shape"]}</td><td>{mad}</td><td>{rel}</td></tr>')
    more = f"<tr><td colspan=6>... {len(rows) - limit} more</td></tr>" if len(rows) > limit else ""
    counts = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    summary = ", ".join(f"{v} {k}" for k, v in counts.items())
    return (f"<b>{html.escape(title)}</b> {summary}{TABLE_OPEN}<tr><th>tensor</th><th>status</th><th>dtype</th>"
            f"<th>shape</th><th>max |b-a|</th><th>relative change</th></tr>{''.join(body)}{more}</table>")
