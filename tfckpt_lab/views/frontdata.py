"""What the browser front ends draw: JSON-ready data built from the region model (pure functions).

The anywidget front ends (:mod:`tfckpt_lab.widgets._front`) never decode a byte.
Python sends them the window of raw bytes as hex text plus the regions that
cover it, each with its colour and a one-line description, and they draw that.

    hex_window(tree, start, nbytes):
        window: int              first byte shown (a multiple of ``width``)
        hex: str                 the raw bytes [window, window + n) as hex, 2 characters a byte
        spans: [[start, end, kind_index, tip], ...]   the leaves overlapping the window
        kinds: [[kind, selected, tint_a, tint_b], ...] backgrounds per kind: CSS that mixes the kind's
                                 colour into the page's theme (:func:`.palette.tint_css`)

    shard_spans(trees):
        shards: [[file name, size], ...]
        spans: [[shard, start, end, name, colour], ...]   name "" = unreferenced bytes
        legend: [[dtype, colour], ...]
"""

from __future__ import annotations

import os

from ..explain.region import leaves_between
from .hexview import region_tip
from .palette import GREY, TINTS, dtype_color, kind_color, tint_css

__all__ = ["hex_window", "shard_spans", "MAX_WINDOW"]

MAX_WINDOW = 4096  # bytes sent to the browser at once


def _tip(r) -> str:
    return region_tip(r, 40)


def hex_window(tree, start: int = 0, nbytes: int = 512, *, width: int = 16) -> dict:
    """The bytes ``[start, start + nbytes)`` (start rounded down to a row) and the leaves over them.

    >>> import os, pathlib, tempfile
    >>> from tfckpt_lab.explain.region import FileRegion, Region
    >>> path = os.path.join(tempfile.mkdtemp(), "f")
    >>> _ = pathlib.Path(path).write_bytes(bytes([8, 150, 1]))
    >>> root = FileRegion(path, "unknown", 3, children=[Region(0, 1, "tag"), Region(1, 3, "varint")])
    >>> d = hex_window(root, 0, 16)
    >>> d["hex"], [s[:3] for s in d["spans"]], [k[0] for k in d["kinds"]]
    ('089601', [[0, 1, 0], [1, 3, 1]], ['tag', 'varint'])
    """
    root = tree.root
    nbytes = max(width, min(nbytes, MAX_WINDOW))
    start = max(0, min(start, max(0, root.end - 1)))
    start = (start // width) * width
    end = min(root.end, start + nbytes)
    data = root.read(start, end)
    kinds: list[str] = []
    spans = []
    for leaf in leaves_between(root, start, end):
        if leaf.kind not in kinds:
            kinds.append(leaf.kind)
        spans.append([leaf.start, leaf.end, kinds.index(leaf.kind), _tip(leaf)])
    colours = [[k, *(tint_css(kind_color(k), amount) for amount in TINTS)] for k in kinds]
    return {"window": start, "hex": data.hex(), "spans": spans, "kinds": colours}


def shard_spans(trees) -> dict:
    """Every data shard's top-level regions (tensors and unreferenced bytes) as bars.

    ``trees``: region trees of the files holding tensors (:func:`tfckpt_lab.explain.tensor_files`), in order.
    """
    from ..explain import tensor_map

    dtypes: list[str] = []
    shards, spans = [], []
    for row, tree in enumerate(trees):
        shards.append([os.path.basename(tree.path), tree.end])
        for r in tensor_map(tree):
            if r.kind == "tensor":
                dt = r.value["dtype"]
                if dt not in dtypes:
                    dtypes.append(dt)
                spans.append([row, r.start, r.end, r.label, dtype_color(dt, dtypes)])
            else:
                spans.append([row, r.start, r.end, "", GREY])
    legend = [[d, dtype_color(d, dtypes)] for d in dtypes]
    return {"shards": shards, "spans": spans, "legend": legend}
