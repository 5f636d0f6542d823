"""See inside: every byte of every checkpoint file, as a tree of labelled regions.

:func:`layout` gives the tree of one file; :func:`innermost_region` answers "what
is byte N?".  Views (plots, widgets, the ``layout`` command) draw these trees;
they never parse bytes themselves.

>>> import os, tempfile, numpy as np
>>> from tfckpt_lab import write_bundle
>>> prefix = os.path.join(tempfile.mkdtemp(), "model")
>>> _ = write_bundle(prefix, {"w": np.arange(3, dtype=np.float32)})
>>> tree = layout(prefix + ".index")
>>> [c.kind for c in tree.children]
['data_block', 'metaindex_block', 'index_block', 'footer']
>>> innermost_region(tree, tree.end - 1).label
'magic'
>>> innermost_region(layout(prefix + ".data-00000-of-00001"), 4).label
'w[1]'
"""

from __future__ import annotations

import os

from .region import FileRegion, Region, check_tiling, innermost_region, leaves_between, region_path

__all__ = ["layout", "layouts", "detect_kind", "innermost_region", "region_path", "leaves_between", "check_tiling",
           "Region", "FileRegion"]

_TABLE_MAGIC = (0xDB4775248B80FB57).to_bytes(8, "little")


def detect_kind(path) -> str:
    """``"index"``, ``"data"``, ``"meta"``, ``"state"`` or ``"unknown"``: by name, then by content."""
    from ..bundle.naming import DATA_SUFFIX_RE

    p = os.fspath(path)
    name = os.path.basename(p)
    if name.endswith(".index"):
        return "index"
    if DATA_SUFFIX_RE.search(name):
        return "data"
    if name.endswith(".meta"):
        return "meta"
    if name == "checkpoint":
        return "state"
    from ..errors import CheckpointError
    from ..fileio import RandomAccessFile

    try:
        with RandomAccessFile(p) as f:  # a FIFO or device is refused here, never read
            head = f.pread(0, min(64, f.size))
            if f.size >= 48 and f.pread(f.size - 8, 8) == _TABLE_MAGIC:
                return "index"
    except (OSError, CheckpointError):
        return "unknown"
    if head.lstrip().startswith((b"model_checkpoint_path", b"all_model_checkpoint_paths")):
        return "state"
    return "unknown"


def layout(path, kind: str | None = None) -> FileRegion:
    """The region tree of one checkpoint file (kind detected from its name, or its magic number).

    Args:
        path: a ``.index``, ``.data-NNNNN-of-NNNNN``, ``.meta`` or ``checkpoint`` file.
        kind: force ``"index"``, ``"data"``, ``"meta"``, ``"state"`` or ``"unknown"``.

    Returns:
        A :class:`FileRegion` (the root :class:`Region`); children are built on first access.
    """
    from ..fileio import RandomAccessFile

    p = os.fspath(path)
    with RandomAccessFile(p) as f:  # one check for every kind: a FIFO or device is refused, never read
        size = f.size
    kind = kind or detect_kind(p)
    if kind == "index":
        from .index import index_layout

        return index_layout(p)
    if kind == "data":
        from .data import data_layout

        return data_layout(p)
    if kind == "meta":
        from .text import meta_layout

        return meta_layout(p)
    if kind == "state":
        from .text import state_layout

        return state_layout(p)
    return FileRegion(p, "unknown", size, explanation="a file this library does not know",
                      children=[Region(0, size, "bytes", "bytes", None, "unrecognised bytes")] if size else [])


def layouts(prefix) -> dict[str, FileRegion]:
    """``{path: tree}`` for every file of one checkpoint: ``.index``, each data shard, ``.meta`` if present.

    The data-shard trees share one open reader of the index.
    """
    from ..bundle.reader import BundleReader
    from ..errors import CheckpointError
    from .data import data_layout
    from .index import index_layout

    prefix = os.fspath(prefix)
    out = {prefix + ".index": index_layout(prefix + ".index")}
    reader = BundleReader(prefix, verify=False)
    for p in reader.data_paths():
        if os.path.exists(p):
            out[p] = data_layout(p, reader=reader)
    if os.path.exists(prefix + ".meta"):
        try:
            out[prefix + ".meta"] = layout(prefix + ".meta")
        except (CheckpointError, OSError) as exc:  # a FIFO, device, directory, oversized or unreadable .meta:
            import warnings  # the checkpoint itself is still shown

            warnings.warn(f"{exc}; not shown", RuntimeWarning, stacklevel=2)
    return out
