"""A large tensor's summary as HTML and as a picture (pure functions of a ``TensorSummary``).

The summary comes from :func:`tfckpt_lab.checkpoint.summary.summarize_tensor`; these
functions draw it and say plainly whether it is the whole tensor, a sample or a
streamed scan.
"""

from __future__ import annotations

import html

import numpy as np

__all__ = ["summary_html", "summary_figure"]

_HOW = {"whole": "the whole tensor", "sample": "SAMPLE", "scan": "every element (streamed)"}


def _num(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    return f"{float(v):.6g}"


def summary_html(s) -> str:
    """What was read, and the statistics, as a small table.

    >>> from tfckpt_lab.checkpoint.summary import TensorSummary
    >>> st = {"min": 0.0, "max": 1.0, "mean": 0.5, "std": 0.5, "nan": 0, "posinf": 0, "neginf": 0, "zero": 1,
    ...       "finite": 2}
    >>> s = TensorSummary("w", "float32", (2,), 2, 8, "sample", 2, st, None, None, "", "a sample: 2 of 2")
    >>> "SAMPLE" in summary_html(s) and "a sample: 2 of 2" in summary_html(s)
    True
    """
    st = s.stats
    over = "of the sample" if s.method == "sample" else "of the tensor"
    magnitude = " (of the magnitude)" if "complex" in s.dtype else ""
    rows = [("elements counted", _num(s.counted)), ("finite", _num(st.get("finite"))),
            ("min", _num(st["min"])), ("max", _num(st["max"])), ("mean", _num(st["mean"])),
            ("std", _num(st["std"])), ("zeros", _num(st["zero"])), ("NaN", _num(st["nan"])),
            ("+inf / -inf", f"{_num(st['posinf'])} / {_num(st['neginf'])}")]
    table = "".join(f"<tr><td>{k}</td><td style='text-align:right'><code>{v}</code></td></tr>" for k, v in rows)
    check = ""
    if s.checksum is not None:
        check = ("<br>stored CRC-32C: <b>matches</b> every byte read" if s.checksum == "ok" else
                 "<br>stored CRC-32C: <b>does not match</b> the bytes read (the data shard is damaged)")
    return (f"<div><b>{_HOW[s.method]}</b>: {html.escape(s.note)}{check}<br>"
            f"statistics {over}{magnitude}:<table>{table}</table>"
            f"picture: {html.escape(s.head_note)} (read exactly), and a histogram "
            f"{'of the sample' if s.method == 'sample' else 'of the elements shown in its title'}</div>")


def summary_figure(s, *, width: float = 9.0):
    """Two panels: the leading slice (heatmap or stem plot) and the histogram of the sample."""
    from .plots import OKABE_ITO, _as_plottable, _figure, _values_on

    fig = _figure(width, 3.2)
    left, right = fig.subplots(1, 2, width_ratios=[1.3, 1])
    head = np.asarray(s.head)
    if head.dtype.kind == "c":
        head = np.abs(head)
    _values_on(left, _as_plottable(head), "|value|" if "complex" in s.dtype else "value",
               512, fig)
    left.set_title(s.head_note, fontsize=9)
    sample = np.asarray(s.sample).reshape(-1)
    if sample.dtype.kind == "c":
        sample = np.abs(sample)
    values = _as_plottable(sample) if sample.size else sample.astype(np.float64)
    finite = values[np.isfinite(values)]
    if finite.size:
        right.hist(finite, bins=min(60, max(1, int(np.sqrt(finite.size)))), color=OKABE_ITO["blue"])
    right.set_xlabel("value")
    right.set_ylabel("count")
    what = {"sample": "the sample", "scan": "a strided sample of every element", "whole": "all elements"}[s.method]
    right.set_title(f"histogram of {what} ({finite.size:,} finite values)", fontsize=9)
    fig.suptitle(f"{s.name}  {s.dtype} {list(s.shape)}" + ("  (SAMPLE)" if s.method == "sample" else ""),
                 fontsize=10)
    return fig
