"""Checkpoint-level file names: numbering a save, the ``.meta`` beside it, deleting one.

Names, as TensorFlow builds them::

    TF1 Saver:           SAVE_PATH-STEP          model-1000    (pad_step_number: model-00001000)
                         SAVE_PATH               model         (no global_step)
    TF2 manager:         DIRECTORY/NAME-N        ckpt-3        (N = save counter or checkpoint_number)
    meta graph (TF1):    PREFIX.meta             model-1000.meta
    one checkpoint:      PREFIX.index  PREFIX.data-SSSSS-of-NNNNN ...  [PREFIX.meta]

Deleting a checkpoint removes its ``.meta`` (if any), its ``.index`` and every
file matching ``.data-?????-of-?????``, and nothing else.
"""

from __future__ import annotations

import glob
import os
import re

from ..bundle.naming import index_path

__all__ = [
    "STEP_PAD_WIDTH",
    "checkpoint_path",
    "meta_graph_filename",
    "checkpoint_files",
    "remove_checkpoint",
    "get_checkpoint_mtimes",
]

STEP_PAD_WIDTH = 8  # Saver(pad_step_number=True): model-00001000
_DATA_GLOB = ".data-?????-of-?????"
_SHARD_SPEC_RE = re.compile(r"-[\d?]+-of-\d+$")  # the V1 sharded suffix -00001-of-00002


def checkpoint_path(save_path, global_step=None, *, pad_step_number: bool = False) -> str:
    """The prefix a TF1 ``Saver.save(save_path, global_step)`` writes.

    >>> checkpoint_path("run/model", 1000), checkpoint_path("run/model", 7, pad_step_number=True)
    ('run/model-1000', 'run/model-00000007')
    >>> checkpoint_path("run/model")
    'run/model'
    """
    save_path = os.fspath(save_path)
    if global_step is None:
        return save_path
    step = int(global_step)
    if pad_step_number:
        return f"{save_path}-{step:0{STEP_PAD_WIDTH}d}"
    return "%s-%d" % (save_path, step)


def meta_graph_filename(checkpoint_prefix, meta_graph_suffix: str = "meta") -> str:
    """``PREFIX.meta`` (a V1 ``-?????-of-NNNNN`` shard suffix is dropped first).

    >>> meta_graph_filename("run/model-1000")
    'run/model-1000.meta'
    """
    base = _SHARD_SPEC_RE.sub("", os.fspath(checkpoint_prefix))
    return f"{base}.{meta_graph_suffix}"


def checkpoint_files(checkpoint_prefix, *, meta_graph_suffix: str | None = "meta") -> list[str]:
    """The existing files of one checkpoint: ``.meta`` (if asked), ``.index``, every data shard."""
    prefix = os.fspath(checkpoint_prefix)
    out = []
    if meta_graph_suffix:
        out += glob.glob(glob.escape(meta_graph_filename(prefix, meta_graph_suffix)))
    out += glob.glob(glob.escape(index_path(prefix)))
    out += sorted(glob.glob(glob.escape(prefix) + _DATA_GLOB))
    return out


def remove_checkpoint(checkpoint_prefix, *, meta_graph_suffix: str | None = "meta") -> list[str]:
    """Delete one checkpoint's files, as TensorFlow does when rotating; return what was removed.

    Files already gone (another process deleting too) are skipped silently.
    ``meta_graph_suffix=None`` leaves a ``.meta`` alone (TF2's manager never touches one).
    """
    removed = []
    for path in checkpoint_files(checkpoint_prefix, meta_graph_suffix=meta_graph_suffix):
        try:
            os.remove(path)
        except FileNotFoundError:
            continue
        removed.append(path)
    return removed


def get_checkpoint_mtimes(checkpoint_prefixes) -> list[float]:
    """Modification times (seconds) of the ``.index`` files of the checkpoints that exist.

    Like TensorFlow's, the list is shorter than the input when some are missing.
    """
    mtimes = []
    for prefix in checkpoint_prefixes:
        prefix = os.fspath(prefix)
        for candidate in (index_path(prefix), prefix):
            try:
                st = os.stat(candidate)
            except OSError:
                continue
            mtimes.append(st.st_mtime_ns / 1e9)
            break
    return mtimes
