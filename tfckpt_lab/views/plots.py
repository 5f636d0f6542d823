"""Pictures of a checkpoint, as pure functions returning a matplotlib ``Figure``.

Every function builds its own ``Figure`` (no pyplot, no global state), so they
work under the Agg backend, in tests, in notebooks and in scripts alike::

    fig = shard_map("ckpt/model-1000")
    fig.savefig("shards.png")

They draw what the region model (:mod:`tfckpt_lab.explain`) says; none of them
reads checkpoint bytes itself.

**Any theme.** A figure has a transparent background and mid-grey text and axes
(:data:`~tfckpt_lab.views.palette.PLOT_INK`), so it reads on a white page and on
JupyterLab's dark one alike; text on a coloured bar is black or white, whichever
contrasts more with that bar.  No text is smaller than :data:`MIN_FONT_PT` points
(at the widgets' 90 dpi, 11 px on the page), and :func:`figure_png` records the
smallest text size in the PNG itself (the ``tfckpt_lab:min_font_px`` text chunk),
so a browser test can check what a reader sees.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from .palette import GREY, OKABE_ITO, PLOT_INK, dtype_color, ink_on, kind_color

__all__ = ["shard_map", "index_anatomy", "tensor_values", "diff_bars", "figure_png", "smallest_text_pt",
           "MIN_FONT_PT", "PLOT_STYLE"]

MIN_FONT_PT = 9
PLOT_STYLE = {
    "figure.facecolor": "none", "axes.facecolor": "none", "savefig.transparent": True,
    "text.color": PLOT_INK, "axes.labelcolor": PLOT_INK, "axes.titlecolor": PLOT_INK,
    "axes.edgecolor": PLOT_INK, "xtick.color": PLOT_INK, "ytick.color": PLOT_INK,
    "font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "xtick.labelsize": 9.5,
    "ytick.labelsize": 9.5, "legend.fontsize": 9.5, "figure.titlesize": 11,
}
_SMALL = MIN_FONT_PT  # labels inside bars, tick labels of long names


def _themed(plot):
    """Build the figure under :data:`PLOT_STYLE` (matplotlib reads rcParams as artists are made)."""
    @functools.wraps(plot)
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(PLOT_STYLE):
            return plot(*args, **kwargs)

    return wrapper


_FIGURE_CLASS = None


def _figure_class():
    """``Figure`` plus ``_repr_png_``, so a returned figure shows itself as a notebook cell's result.

    Without pyplot no inline backend registers a formatter for ``Figure``, and a plain
    ``Figure`` would print as ``<Figure size ...>`` only.
    """
    global _FIGURE_CLASS
    if _FIGURE_CLASS is None:
        from matplotlib.figure import Figure

        class NotebookFigure(Figure):
            def _repr_png_(self):
                return figure_png(self)

        _FIGURE_CLASS = NotebookFigure
    return _FIGURE_CLASS


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = _figure_class()(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_png(fig, dpi: int = 100) -> bytes:
    """The figure as PNG bytes, transparent (what the widgets show, and a static fallback).

    The PNG carries the size of its smallest text in pixels at its natural size, as a
    ``tEXt`` chunk keyed ``tfckpt_lab:min_font_px``.
    """
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, transparent=True)
    png = buf.getvalue()
    smallest = smallest_text_pt(fig)
    if smallest is not None:
        png = _with_text_chunk(png, "tfckpt_lab:min_font_px", f"{smallest * dpi / 72:.2f}")
    return png


def smallest_text_pt(fig) -> float | None:
    """The size in points of the smallest visible text of a drawn figure (None: no text)."""
    from matplotlib.text import Text

    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return min(sizes) if sizes else None


def _with_text_chunk(png: bytes, key: str, value: str) -> bytes:
    """``png`` with a ``tEXt`` chunk ``key``/``value`` added right after its IHDR chunk."""
    import struct
    import zlib

    body = b"tEXt" + key.encode("latin-1") + b"\0" + value.encode("latin-1")
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    ihdr_end = 8 + 8 + 13 + 4  # signature, IHDR length + type, IHDR data, CRC
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def _human(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _data_trees(source) -> list:
    from ..explain import layouts, tensor_files

    if isinstance(source, (dict, list, tuple)):
        return tensor_files(source)
    return tensor_files(layouts(source))


@_themed
def shard_map(source, *, selected: str | None = None, width: float = 10.0, label_min_fraction: float = 0.05):
    """Tensors as bars along each data shard's byte axis, one row per shard.

    Args:
        source: a checkpoint prefix, the dict :func:`tfckpt_lab.explain.layouts` returns,
            or a list of data-shard region trees.
        selected: a tensor name to outline.
        label_min_fraction: label a tensor only if its bar is at least this fraction of the row.

    Bars are coloured by dtype (Okabe-Ito); bytes no entry points at are grey and hatched.
    """
    from ..explain import tensor_map

    trees = _data_trees(source)
    bars = [tensor_map(tree) for tree in trees]
    dtypes_seen: list[str] = []
    for regions in bars:
        for r in regions:
            if r.kind == "tensor" and r.value["dtype"] not in dtypes_seen:
                dtypes_seen.append(r.value["dtype"])
    legend_cols = 1 + len(dtypes_seen) // 12
    legend_rows = -(-(len(dtypes_seen) + 1) // legend_cols)
    fig = _figure(width, max(0.9 + 0.55 * max(1, len(trees)), 0.6 + 0.2 * legend_rows))
    ax = fig.add_subplot()
    longest = max((t.end for t in trees), default=1) or 1
    for row, regions in enumerate(bars):
        spans, colors, hatches = [], [], []
        for r in regions:
            spans.append((r.start, r.size))
            if r.kind == "tensor":
                dt = r.value["dtype"]
                if dt not in dtypes_seen:
                    dtypes_seen.append(dt)
                colors.append(dtype_color(dt, dtypes_seen))
                hatches.append(None)
            else:
                colors.append(GREY)
                hatches.append("//")
        lw = 0.5 if len(spans) < 400 else 0
        if spans:
            coll = ax.broken_barh(spans, (row - 0.38, 0.76), facecolors=colors, edgecolors="white", linewidths=lw)
            # (white hairlines part neighbouring tensors; they read as gaps on any background)
            coll.set_gid(f"shard{row}")
            for r, (x, w), h in zip(regions, spans, hatches):
                if h:
                    ax.broken_barh([(x, w)], (row - 0.38, 0.76), facecolors="none", edgecolors="#777777",
                                   hatch=h, linewidths=0)
                frac = w / longest
                if r.kind == "tensor" and frac >= label_min_fraction:
                    chars = max(3, int(frac * width * 0.8 / _inches_per_char(_SMALL)))
                    name = r.label if len(r.label) <= chars else "…" + r.label[-(chars - 1):]
                    ax.text(x + w / 2, row, name, ha="center", va="center", fontsize=_SMALL, clip_on=True,
                            color=ink_on(colors[spans.index((x, w))]))
                if r.kind == "tensor" and selected is not None and r.label == selected:
                    ax.broken_barh([(x, max(w, longest / 400))], (row - 0.48, 0.96), facecolors="none",
                                   edgecolors=PLOT_INK, linewidths=2.5)
    ax.set_yticks(range(len(trees)))
    ax.set_yticklabels([f"{os.path.basename(t.path)}\n{_human(t.end)}" for t in trees], fontsize=_SMALL)
    ax.set_ylim(len(trees) - 0.5, -0.5)
    ax.set_xlim(0, longest)
    ax.set_xlabel("byte offset in the shard")
    ax.set_title("Data shards: where each tensor's bytes are")
    if dtypes_seen:
        from matplotlib.patches import Patch

        handles = [Patch(color=dtype_color(d, dtypes_seen), label=d) for d in dtypes_seen]
        handles.append(Patch(facecolor=GREY, hatch="//", label="unreferenced"))
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False,
                  ncols=legend_cols)
    return fig


def _anatomy_parts(tree):
    """(start, end, kind, label) for blocks' contents, trailers, and the rest of the top level."""
    parts = []
    for r in tree.children:
        trailer = r.value.get("trailer") if isinstance(r.value, dict) else None
        if trailer is not None:  # a block: the region model says where its trailer is
            parts.append((r.start, trailer[0], r.kind, r.label))
            parts.append((trailer[0], trailer[1], "block_trailer", "trailer"))
        else:
            parts.append((r.start, r.end, r.kind, r.label))
    return parts


def _inches_per_char(points: float) -> float:
    """The width of an average sans-serif character of this size, roughly (0.055 in at 7 pt)."""
    return 0.055 * points / 7


def _draw_parts(ax, parts, lo, hi, label_all: bool, axes_inches: float):
    for s, e, kind, label in parts:
        if e <= lo or s >= hi:
            continue
        ax.broken_barh([(s, e - s)], (0, 1), facecolors=kind_color(kind), edgecolors="white", linewidths=0.8)
        frac = (min(e, hi) - max(s, lo)) / max(hi - lo, 1)
        if frac > 0.07 or (label_all and frac > 0.025):
            fits = frac * axes_inches / _inches_per_char(_SMALL)  # characters that fit across this part
            text = f"{label}\n{e - s} B" if fits >= len(label) else f"{e - s} B" if fits >= len(f"{e - s} B") else ""
            if text:
                ax.text((max(s, lo) + min(e, hi)) / 2, 0.5, text, ha="center", va="center", fontsize=_SMALL,
                        clip_on=True, color=ink_on(kind_color(kind)))
    ax.set_xlim(lo, hi)
    ax.set_ylim(0, 1)
    ax.set_yticks([])


@_themed
def index_anatomy(source, *, zoom: bool = True, width: float = 10.0):
    """The ``.index`` file to scale: data blocks, trailers, metaindex, index block, footer.

    Args:
        source: a ``.index`` path or its region tree (:func:`tfckpt_lab.explain.layout`).
        zoom: add a second row magnifying the file's tail (metaindex, index block,
            footer), which is invisible at full scale once the data blocks are large.
    """
    from ..explain import layout

    tree = source if hasattr(source, "children") else layout(source)
    parts = _anatomy_parts(tree)
    tail_start = min((r.start for r in tree.children if r.kind in ("metaindex_block", "index_block", "footer")),
                     default=0)
    need_zoom = zoom and tree.end > 0 and (tree.end - tail_start) / tree.end < 0.25
    fig = _figure(width, 2.6 if need_zoom else 1.6)
    axes = fig.subplots(2, 1) if need_zoom else [fig.add_subplot()]
    axes_inches = width * 0.8  # the legend takes the rest
    _draw_parts(axes[0], parts, 0, max(tree.end, 1), label_all=False, axes_inches=axes_inches)
    axes[0].set_title(f"{os.path.basename(getattr(tree, 'path', ''))}: {tree.end} bytes, to scale")
    if need_zoom:
        lo = max(0, tail_start - (tree.end - tail_start) // 4)
        _draw_parts(axes[1], parts, lo, tree.end, label_all=True, axes_inches=axes_inches)
        axes[1].set_title(f"zoom: bytes {lo}..{tree.end} (the tail)", fontsize=10)
        axes[0].axvspan(lo, tree.end, ymin=0, ymax=1, facecolor="none", edgecolor=PLOT_INK, linewidth=1.5)
    axes[-1].set_xlabel("byte offset")
    from matplotlib.patches import Patch

    kinds = []
    for _, _, k, _ in parts:
        if k not in kinds:
            kinds.append(k)
    axes[0].legend(handles=[Patch(color=kind_color(k), label=k.replace("_", " ")) for k in kinds],
                   loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return fig


def _as_plottable(a: np.ndarray) -> np.ndarray:
    """bfloat16 / float8 / bool / int4... as float64; complex kept complex."""
    if a.dtype.kind == "c":
        return a.astype(np.complex128)
    if a.dtype.kind == "b":
        return a.astype(np.float64)
    return a.astype(np.float64)


@_themed
def tensor_values(value, name: str = "", *, width: float = 6.0, max_cells: int = 512):
    """A picture of one tensor's values.

    * a scalar: its value as text;
    * 2-D (or more, folded to 2-D as ``[shape[0], rest]``): a heatmap (cividis colour map);
    * 1-D up to 64 values: a stem plot; otherwise a histogram;
    * complex: real and imaginary parts side by side;
    * bfloat16, float16, float8, ints, bools: shown as numbers;
    * strings: a histogram of the elements' byte lengths.
    """
    a = np.asarray(value)
    title = _fit_title(name, f"{a.dtype.name} {list(a.shape)}", width * (1.6 if a.dtype.kind == "c" else 1))
    if a.dtype == object or a.dtype.kind in "SU":
        fig = _figure(width, 3)
        ax = fig.add_subplot()
        lengths = [len(x) for x in a.reshape(-1)]
        ax.hist(lengths, bins=min(30, max(1, len(set(lengths)))), color=OKABE_ITO["blue"])
        ax.set_xlabel("element length (bytes)")
        ax.set_ylabel("count")
        ax.set_title(title + " (strings)", fontsize=10)
        return fig
    if a.dtype.kind == "c":
        fig = _figure(width * 1.6, 3)
        axes = fig.subplots(1, 2)
        b = _as_plottable(a)
        for ax, part, label in ((axes[0], b.real, "real"), (axes[1], b.imag, "imaginary")):
            _values_on(ax, part, label, max_cells, fig)
        fig.suptitle(title, fontsize=10)
        return fig
    fig = _figure(width, 3)
    ax = fig.add_subplot()
    _values_on(ax, _as_plottable(a), "value", max_cells, fig)
    nonfinite = int(np.size(a) - np.isfinite(_as_plottable(a)).sum()) if a.size else 0
    ax.set_title(title + (f"  ({nonfinite} non-finite)" if nonfinite else ""), fontsize=10)
    return fig


def _fit_title(name: str, what: str, inches: float, points: float = 10) -> str:
    """``name  what`` on one line if it fits across ``inches``, else on two, the name shortened
    from the left (the end of a TensorFlow name is its most telling part)."""
    chars = int(inches * 0.95 / _inches_per_char(points))
    if len(name) + 2 + len(what) <= chars:
        return f"{name}  {what}".strip()
    if len(name) > chars:
        name = "…" + name[-(chars - 1):]
    return f"{name}\n{what}"


def _integer_ticks(axis, step: int = 1) -> None:
    """Ticks only at whole element positions, labelled with the element's index (``step`` apart)."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{int(round(v)) * step}"))


def _values_on(ax, b: np.ndarray, label: str, max_cells: int, fig) -> None:
    if b.size == 0:
        ax.text(0.5, 0.5, "empty tensor (no elements)", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    if b.ndim == 0:
        ax.text(0.5, 0.5, f"{b.item():.6g}", ha="center", va="center", fontsize=20, transform=ax.transAxes)
        ax.set_axis_off()
        ax.set_title(label, fontsize=_SMALL)
        return
    finite = b[np.isfinite(b)]
    if b.ndim >= 2 and b.shape[0] > 1 and b.size // b.shape[0] > 1:
        m = b.reshape(b.shape[0], -1)
        rs = max(1, -(-m.shape[0] // max_cells))
        cs = max(1, -(-m.shape[1] // max_cells))
        m = m[::rs, ::cs]
        im = ax.imshow(m, cmap="cividis", aspect="auto", interpolation="nearest")
        fig.colorbar(im, ax=ax, label=label)
        _integer_ticks(ax.xaxis, cs)
        _integer_ticks(ax.yaxis, rs)
        ax.set_xlabel("column" + (f" (one in {cs} shown)" if cs > 1 else "") + (" (trailing axes flattened)" if b.ndim > 2 else ""))
        ax.set_ylabel("row" + (f" (one in {rs} shown)" if rs > 1 else ""))
        return
    flat = b.reshape(-1)
    if flat.size <= 64:
        ax.stem(np.arange(flat.size), flat, linefmt=OKABE_ITO["blue"], markerfmt="o", basefmt=GREY)
        _integer_ticks(ax.xaxis)
        ax.set_xlabel("index")
        ax.set_ylabel(label)
        return
    if finite.size:
        ax.hist(finite, bins=min(60, max(1, int(np.sqrt(finite.size)))), color=OKABE_ITO["blue"])
    ax.set_xlabel(label)
    ax.set_ylabel("count")


@_themed
def diff_bars(rows, *, top: int = 30, width: float = 8.0):
    """Horizontal bars: relative change ``|b - a| / |a|`` (L2) of the most-changed tensors.

    ``rows`` are what :func:`tfckpt_lab.views.diff.diff_checkpoints` returns.
    """
    changed = [r for r in rows if r.get("relative_change") is not None]
    changed.sort(key=lambda r: -r["relative_change"])
    changed = changed[:top]
    fig = _figure(width, 0.9 + 0.3 * max(1, len(changed)))
    ax = fig.add_subplot()
    if not changed:
        ax.text(0.5, 0.5, "no numeric tensor in common", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    names = [r["name"] for r in changed][::-1]
    vals = [r["relative_change"] for r in changed][::-1]
    colors = [OKABE_ITO["vermillion"] if v > 0 else GREY for v in vals]
    ax.barh(range(len(vals)), vals, color=colors)
    ax.set_yticks(range(len(vals)))
    ax.set_yticklabels([n if len(n) < 45 else "…" + n[-44:] for n in names], fontsize=_SMALL)
    ax.set_xlabel("relative change ‖b − a‖ / ‖a‖")
    ax.set_title("Which tensors changed, and by how much")
    return fig
