"""Compare two checkpoints tensor by tensor (e.g. step 1000 against step 2000)."""

from __future__ import annotations

import html

import numpy as np

__all__ = ["diff_checkpoints", "diff_html"]


def diff_checkpoints(a, b) -> list[dict]:
    """One row per tensor name in either checkpoint, most changed first.

    Each row: ``name``, ``status`` (``"same"``, ``"changed"``, ``"only in a"``,
    ``"only in b"``, ``"shape/dtype changed"``), ``dtype``, ``shape``,
    ``max_abs_diff``, ``relative_change`` (``||b - a|| / ||a||``, L2; None when
    not numeric), and ``identical_bytes`` (the stored CRC-32Cs are equal and
    the sizes too, so the bytes almost surely are).

    ``a`` and ``b`` are prefixes (or anything :func:`tfckpt_lab.load_checkpoint` takes).
    """
    from ..checkpoint.reader import load_checkpoint

    ra = a if hasattr(a, "entry") else load_checkpoint(a)
    rb = b if hasattr(b, "entry") else load_checkpoint(b)
    names = sorted(set(ra.keys()) | set(rb.keys()))
    rows = []
    for n in names:
        if n not in ra.keys():
            e = rb.entry(n)
            rows.append(_row(n, "only in b", e))
            continue
        if n not in rb.keys():
            e = ra.entry(n)
            rows.append(_row(n, "only in a", e))
            continue
        ea, eb = ra.entry(n), rb.entry(n)
        if ea.dtype != eb.dtype or ea.shape != eb.shape:
            rows.append(_row(n, "shape/dtype changed", eb, shape_a=list(ea.shape), dtype_a=ea.dtype_name))
            continue
        same_crc = not ea.slices and ea.crc32c == eb.crc32c and ea.size == eb.size
        if same_crc:
            numeric = eb.dtype_name != "string"
            rows.append(_row(n, "same", eb, identical_bytes=True, max_abs_diff=0.0 if numeric else None,
                             relative_change=0.0 if numeric else None))
            continue
        va, vb = np.asarray(ra.get_tensor(n)), np.asarray(rb.get_tensor(n))
        if va.dtype == object or va.dtype.kind in "SU":
            same = [bytes(x) for x in va.reshape(-1)] == [bytes(x) for x in vb.reshape(-1)]
            rows.append(_row(n, "same" if same else "changed", eb, identical_bytes=same))
            continue
        fa = va.astype(np.complex128 if va.dtype.kind == "c" else np.float64)
        fb = vb.astype(fa.dtype)
        d = np.abs(fb - fa)
        mad = float(d.max()) if d.size else 0.0
        norm = float(np.linalg.norm(fa)) if fa.size else 0.0
        rel = float(np.linalg.norm(fb - fa)) / norm if norm else (0.0 if mad == 0 else float("inf"))
        rows.append(_row(n, "same" if mad == 0 else "changed", eb, identical_bytes=va.tobytes() == vb.tobytes(),
                         max_abs_diff=mad, relative_change=rel))
    order = {"changed": 0, "shape/dtype changed": 1, "only in a": 2, "only in b": 3, "same": 4}
    rows.sort(key=lambda r: (order[r["status"]], -(r["relative_change"] or 0), r["name"]))
    return rows


def _row(name, status, e, **kw) -> dict:
    row = {"name": name, "status": status, "dtype": e.dtype_name, "shape": list(e.shape),
           "max_abs_diff": None, "relative_change": None, "identical_bytes": False}
    row.update(kw)
    return row


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
