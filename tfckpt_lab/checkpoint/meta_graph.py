"""The ``.meta`` graph of a checkpoint, named the ways a checkpoint is named.

:func:`tfckpt_lab.meta.reader.read_meta_file` reads a ``.meta`` by file name or prefix;
this adds what needs the ``checkpoint`` state file: a directory (local or URL) means the
``.meta`` of its latest checkpoint.
"""

from __future__ import annotations

import os

from ..fileio import is_url
from ..meta.reader import MetaGraph, read_meta_file

__all__ = ["read_meta_graph"]


def read_meta_graph(path) -> MetaGraph:
    """Parse a checkpoint's ``.meta`` into a :class:`~tfckpt_lab.lowlevel.MetaGraph`.

    ``path`` is a ``.meta`` file, a checkpoint prefix (its ``.meta``), or a directory
    (the ``.meta`` of the latest checkpoint its ``checkpoint`` file names); local or a URL.

    Raises :class:`~tfckpt_lab.CheckpointNotFoundError` if the file is missing (or a
    directory names no checkpoint), :class:`~tfckpt_lab.UnsupportedError` if it is not a
    regular file (a FIFO, a link to ``/dev/zero``...) or is larger than any MetaGraphDef can
    be (:class:`~tfckpt_lab.FileTooLargeError`), and :class:`~tfckpt_lab.MalformedError` if
    its bytes are not a MetaGraphDef.

    >>> import tempfile, os, numpy as np
    >>> import tfckpt_lab as tl
    >>> d = tempfile.mkdtemp()
    >>> _ = tl.Saver().save({"w": np.zeros(3, np.float32)}, os.path.join(d, "model"), global_step=1)
    >>> tl.read_meta_graph(d).path.endswith("model-1.meta")
    True
    """
    p = os.fspath(path)
    if (is_url(p) and not p.endswith(".meta")) or (not is_url(p) and os.path.isdir(p)):
        from .reader import resolve_prefix  # a directory: its latest checkpoint (URLs: a prefix as given)

        p = resolve_prefix(p) + ".meta"
    return read_meta_file(p)
