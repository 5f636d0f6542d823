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

from ..errors import CheckpointError
from ..remote import path_exists
from .region import FileRegion, Region, check_tiling, innermost_region, leaves_between, region_path

__all__ = ["layout", "layouts", "detect_kind", "innermost_region", "region_path", "leaves_between", "check_tiling",
           "tensor_files", "tensor_map", "table_tree", "TENSOR_FILE_KINDS", "Region", "FileRegion"]

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
        from ..fileio import open_random_access

        with open_random_access(p) as f:
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
    from ..fileio import open_random_access

    p = os.fspath(path)
    with open_random_access(p) as f:  # one check for every kind: a FIFO or device is refused, never read
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
    """``{path: tree}`` for every file of one checkpoint, in either format, and its ``.meta`` if present.

    V2: the ``.index`` and each data shard (the shard trees share one open reader
    of the index).  V1: each table file (``file_kind == "v1"``), whose slice
    values are ``tensor`` regions.
    """
    from ..checkpoint.reader import open_low_level
    from .data import data_layout
    from .index import index_layout

    prefix = os.fspath(prefix)
    reader = open_low_level(prefix, verify=False)
    out = {}
    for p in reader.table_paths():
        out[p] = index_layout(p, v1=reader if reader.format == "v1" else None)
    if reader.format == "v2":
        for p in reader.data_paths():
            if path_exists(p):
                out[p] = data_layout(p, reader=reader)
    meta = reader.meta_path()
    if path_exists(meta):
        try:
            out[meta] = layout(meta)
        except (CheckpointError, OSError) as exc:  # a FIFO, device, directory, oversized or unreadable .meta:
            import warnings  # the checkpoint itself is still shown

            warnings.warn(f"{exc}; not shown", RuntimeWarning, stacklevel=2)
    return out


TENSOR_FILE_KINDS = ("data", "v1")  # file trees whose bytes include tensor values


def table_tree(trees) -> FileRegion | None:
    """The tree of a checkpoint's (first) table file among ``trees``: its ``.index``, or a V1 file."""
    trees = trees.values() if isinstance(trees, dict) else trees
    return next((t for t in trees if getattr(t, "file_kind", None) in ("index", "v1")), None)


def tensor_files(trees) -> list[FileRegion]:
    """The trees (of a ``layouts()`` dict, or a list) of files that hold tensor values, in order."""
    trees = trees.values() if isinstance(trees, dict) else trees
    return [t for t in trees if getattr(t, "file_kind", None) in TENSOR_FILE_KINDS]


def tensor_map(tree: FileRegion) -> list[Region]:
    """Where each tensor's bytes are in one file: ``tensor`` regions and the bytes between them, tiling the file.

    A data shard's top level is exactly that.  In a V1 file the tensors' values
    lie inside table entries, so the bytes between them (keys, block structure,
    the index and footer) come back as ``table`` regions made for the purpose
    (not part of the tree).
    """
    if tree.file_kind != "v1":
        return list(tree.children)
    out: list[Region] = []
    pos = 0
    values = (entry.children[-1] for block in tree.children if block.kind == "data_block"
              for entry in block.children if entry.kind == "entry" and entry.children)
    for r in values:
        if r.kind != "tensor":
            continue
        if r.start > pos:
            out.append(Region(pos, r.start, "table", "table structure", None,
                              "keys, block structure, index and footer around the values"))
        out.append(r)
        pos = r.end
    if pos < tree.end:
        out.append(Region(pos, tree.end, "table", "table structure", None,
                          "keys, block structure, index and footer around the values"))
    return out
