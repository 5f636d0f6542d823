"""Notebook widgets (ipywidgets 7.7 or 8) over the region model and the readers.

Each widget keeps its state in traitlets, so it can be driven from Python (and
from tests) without a browser, and each has a static fallback: ``to_html()``
(used by ``_repr_mimebundle_`` for nbconvert / GitHub) and, where a picture
says more, ``plot()`` returning a matplotlib Figure.

* :func:`explore` -- the one-stop explorer for a checkpoint directory or prefix
* :class:`EntriesTable` -- the index entries: sortable, filterable, paged
* :class:`HexView` -- bytes with highlighted regions, linked both ways with the region tree
* :class:`ShardMap` -- the shard byte map; picking a tensor selects it
* :class:`RotationSimulator` -- ``Saver`` / ``CheckpointManager`` rotation, step by step
* :class:`ChecksumLab` -- flip a byte in a copy and see which check catches it
* :class:`CheckpointDiff` -- which tensors changed between two checkpoints

ipywidgets and matplotlib are imported when a widget is first used.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Explorer": ".explorer",
    "EntriesTable": ".entries",
    "HexView": ".hexview",
    "ShardMap": ".shardmap",
    "RotationSimulator": ".simulator",
    "ChecksumLab": ".checksum",
    "CheckpointDiff": ".diff",
}

__all__ = sorted(_EXPORTS) + ["explore"]


def explore(path):
    """Open the explorer on a checkpoint directory (its latest checkpoint) or a prefix.

    Returns an :class:`~tfckpt_lab.widgets.explorer.Explorer`; see ``docs/views.md``.
    ipywidgets and matplotlib are imported here, on the first call.
    """
    from .explorer import explore as _explore

    return _explore(path)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tfckpt_lab.widgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
