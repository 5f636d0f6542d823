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
    "remove_stale_temp_files",
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


def remove_checkpoint(checkpoint_prefix, *, meta_graph_suffix: str | None = "meta", directory=None) -> list[str]:
    """Delete one checkpoint's files, as TensorFlow does when rotating; return what was removed.

    Files already gone (another process deleting too) are skipped silently.
    ``meta_graph_suffix=None`` leaves a ``.meta`` alone (TF2's manager never touches one).
    With ``directory``, refuse (:class:`~tfckpt_lab.errors.UnsafePathError`, nothing deleted)
    unless the checkpoint lies directly in that directory once symlinks and ``..`` are resolved.
    The ``.index`` goes before the data shards, so a deletion cut short never leaves an index
    that names missing data.
    """
    if directory is not None:
        from ..errors import UnsafePathError
        from .state import is_inside_directory

        if not is_inside_directory(checkpoint_prefix, directory):
            raise UnsafePathError(f"refusing to delete a checkpoint outside {os.fspath(directory)!r}",
                                  path=os.fspath(checkpoint_prefix))
    removed = []
    for path in checkpoint_files(checkpoint_prefix, meta_graph_suffix=meta_graph_suffix):
        try:
            os.remove(path)
        except FileNotFoundError:
            continue
        removed.append(path)
    return removed


STALE_TEMP_AGE = 60.0  # seconds; younger temporary files may belong to a save still running


def remove_stale_temp_files(directory, stem: str, latest_filename: str = "checkpoint",
                            min_age: float | None = None) -> list[str]:
    """Delete what killed saves of checkpoints named ``stem`` or ``stem-N`` left in ``directory``.

    Only our (and TensorFlow's) temporary names are touched: ``STEM[-N].index.tempstateHEX``,
    ``STEM[-N].data-SSSSS-of-NNNNN.tempstateHEX``, ``STEM[-N].meta.tmpPID`` and
    ``LATEST.tmpHEX``, and only if older than ``min_age`` seconds (default
    :data:`STALE_TEMP_AGE`) so that a save still in progress elsewhere is left alone.
    Readers ignore these files anyway: no state file or prefix ever names them.
    """
    import time

    directory = os.fspath(directory) or os.curdir
    age = STALE_TEMP_AGE if min_age is None else min_age
    pattern = re.compile(
        rf"^{re.escape(stem)}(-\d+)?\.(index|data-\d{{5,}}-of-\d{{5,}})\.tempstate[0-9a-f]+$"
        rf"|^{re.escape(stem)}(-\d+)?\.meta\.tmp\d+$"
        rf"|^{re.escape(latest_filename)}\.tmp[0-9a-f]{{32}}$")
    now = time.time()
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        if not pattern.match(name):
            continue
        path = os.path.join(directory, name)
        try:
            st = os.lstat(path)
            if now - st.st_mtime >= age:
                os.remove(path)
                removed.append(path)
        except OSError:
            continue
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
