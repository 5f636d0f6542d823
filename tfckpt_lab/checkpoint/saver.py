"""``Saver``: TF1's ``tf.compat.v1.train.Saver``, saving numpy arrays instead of graph variables.

One ``save()`` does, in this order (as TensorFlow does):

1. pick the prefix: ``SAVE_PATH-STEP`` (``%d``; 8 digits with ``pad_step_number``)
   or ``SAVE_PATH`` when there is no step; check every name and value, and build
   the ``.meta`` graph, *before* anything is written (a name or dtype that cannot be
   saved leaves no file behind);
2. write the bundle (``PREFIX.index`` + ``PREFIX.data-*``) with the variables
   **sorted by name**, as TensorFlow's Saver sorts its ``var_list`` before saving,
   so the data file's bytes are TensorFlow's whatever the order of the mapping;
   any older checkpoint of the same name is replaced;
3. if ``write_meta_graph``: write ``PREFIX.meta`` (TensorFlow writes it last; we
   write it before the state file so that the checkpoint the state file names
   is always complete -- see ``docs/reliability.md``);
4. if ``write_state``: move the prefix to the end of ``last_checkpoints`` with
   the time of the save; if that list is now longer than ``max_to_keep``, its
   oldest entry leaves the list and is queued for deletion;
5. write the ``checkpoint`` state file (no timestamps: TF1 never writes them),
   atomically (temporary name, then rename);
6. delete at most one queued checkpoint (``.meta``, ``.index``, every data
   shard) -- unless the keep-every-N-hours rule below preserves it.  Only a
   checkpoint directly in the directory being saved to is ever deleted
   (``..``, absolute paths elsewhere and symlinked directories are refused
   with a warning).

Every save is one transaction (:mod:`.transaction`): under a lock on the
directory, the new checkpoint is written completely under a staging name,
then put at its prefix (an older checkpoint there stays reachable under a
backup name that the state file points at until the new one is complete), so
a save killed at any moment leaves the previous checkpoint and state file
usable, and a failed save leaves nothing.  The next save finishes or undoes
what a killed one left (``docs/reliability.md``).

Rules worth knowing (all observed with TensorFlow 2.21):

* ``max_to_keep=0`` or ``None`` keeps every checkpoint *and* forgets them all:
  ``last_checkpoints`` stays empty and the state file lists only the newest.
* keep every N hours (TF1 flavour): a clock starts at ``Saver()`` creation,
  ``deadline = creation + N h``.  A checkpoint leaving the list is kept if it
  was saved strictly after ``deadline``, and then ``deadline += N h`` (a fixed
  grid, not "N h after the last kept one").  Kept checkpoints are no longer
  listed anywhere.  N is stored as a 32-bit float, as in ``SaverDef``.
* State-file paths are relative when ``SAVE_PATH``'s directory is relative,
  absolute when it is absolute, relative in both cases with
  ``save_relative_paths=True``.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Mapping

import numpy as np

from ..bundle.writer import write_bundle
from ..dtypes import as_tensor, datatype_for
from ..errors import CheckpointError, UnsafePathError, UnsupportedError, os_error
from ..fileio import FileOps, write_new_file
from .files import (
    checkpoint_path,
    get_checkpoint_mtimes,
    meta_graph_filename,
    remove_checkpoint,
)
from .state import STATE_FILENAME, update_checkpoint_state
from .transaction import SaveTransaction, StateWatch

__all__ = ["Saver", "global_step_value"]


def global_step_value(global_step) -> int:
    """An int from an int, a numpy integer or a 0-d integer array (what TF reads from a step tensor)."""
    arr = np.asarray(global_step)
    if arr.ndim != 0 or arr.dtype.kind not in "iu":
        raise TypeError(f"global_step must be an integer or a 0-d integer array, not {global_step!r}")
    return int(arr)


def _as_float32(x: float) -> float:
    return float(np.float32(x))


def _sorted_tensors(variables: Mapping) -> dict[str, np.ndarray]:
    """The variables as arrays, sorted by name (what TF's Saver saves in); names and dtypes checked."""
    for name in variables:
        if not isinstance(name, str):
            raise TypeError(f"variable names must be str, not {type(name).__name__} ({name!r})")
        if not name:
            raise ValueError("a variable name must not be empty (the empty key is the bundle header)")
    out = {}
    for name in sorted(variables):
        arr = as_tensor(variables[name])
        datatype_for(arr.dtype)  # TypeError for a dtype no checkpoint can hold
        out[name] = arr
    return out


class Saver:
    """Save and rotate checkpoints the way ``tf.compat.v1.train.Saver`` does.

    >>> import tempfile, os, numpy as np
    >>> d = tempfile.mkdtemp()
    >>> saver = Saver(max_to_keep=2)
    >>> for step in (1, 2, 3):
    ...     prefix = saver.save({"w": np.full(2, step, np.float32)}, os.path.join(d, "model"), global_step=step)
    >>> os.path.basename(prefix), [os.path.basename(p) for p in saver.last_checkpoints]
    ('model-3', ['model-2', 'model-3'])
    >>> sorted(os.listdir(d))  # model-1 was deleted; a .meta graph comes with each save, as in TF
    ['checkpoint', 'model-2.data-00000-of-00001', 'model-2.index', 'model-2.meta', 'model-3.data-00000-of-00001', 'model-3.index', 'model-3.meta']
    >>> saver.restore(prefix)["w"]
    array([3., 3.], dtype=float32)

    Args:
        max_to_keep: how many recent checkpoints to keep; 0 or None keeps all of
            them (and lists only the newest in the state file).
        keep_checkpoint_every_n_hours: additionally keep one checkpoint per N
            hours of run time (the TF1 rule described in the module docstring).
        pad_step_number: name ``model-00001000`` instead of ``model-1000``.
        save_relative_paths: write paths relative to the directory into the
            state file even when ``save_path`` is absolute.
        sharded: TF1's per-device sharding.  TensorFlow writes each device's
            part to ``PREFIX_temp/part-SSSSS-of-NNNNN`` and merges them into
            ``PREFIX.index`` + ``PREFIX.data-SSSSS-of-NNNNN``; we write the merged
            result directly (same files in the end).  As in TF, a sharded save
            needs ``save_path``'s directory to exist already (a plain one creates
            it), and the guard against ``save_path`` being named like the state
            file is lifted.
        num_shards: number of data files (implies ``sharded`` when > 1); on a
            one-CPU machine TF writes 1.
        shard_of: ``shard_of(name, index) -> shard`` (``index`` counts in name order;
            default: round robin), the
            stand-in for TF's "one shard per device".
        durable: fsync every file written (bundle, ``.meta``, state file) and the
            directory after each rename, so a save survives a power loss.
        clock: a zero-argument callable returning the time in seconds, used for the
            keep-every-N-hours rule and the checkpoints' save times (default: ``time.time``,
            looked up at each call).  A simulator passes its own.
        on_file_event: called with a :class:`~tfckpt_lab.fileio.FileEvent` after every file
            the save writes, renames, links or deletes (rotation included), in order.

    Two writers in one directory are refused with
    :class:`~tfckpt_lab.errors.ConcurrentWriterError`: one save at a time holds the
    directory's lock (``.tfckpt_lab.lock``, removed after the save), and a save refuses to
    start if the state file changed since this Saver last wrote it.
    """

    def __init__(self, *, max_to_keep: int | None = 5, keep_checkpoint_every_n_hours: float = 10000.0,
                 pad_step_number: bool = False, save_relative_paths: bool = False,
                 sharded: bool = False, num_shards: int | None = None, shard_of=None,
                 durable: bool = False, clock: Callable[[], float] | None = None, on_file_event=None):
        # SaverDef keeps these as int32 / float32 fields; None becomes 0.
        self.max_to_keep = int(max_to_keep or 0)
        self.keep_checkpoint_every_n_hours = _as_float32(keep_checkpoint_every_n_hours)
        self.pad_step_number = pad_step_number
        self.save_relative_paths = save_relative_paths
        self.num_shards = int(num_shards or 1)
        if self.num_shards < 1:
            raise ValueError("num_shards must be >= 1")
        self.sharded = bool(sharded or self.num_shards > 1)
        self.shard_of = shard_of
        self.durable = durable
        self.clock = clock if clock is not None else (lambda: time.time())
        self.on_file_event = on_file_event
        self._watch = StateWatch()
        self._last_checkpoints: list[tuple[str, float]] = []
        self._checkpoints_to_be_deleted: list[tuple[str, float]] = []
        self._next_checkpoint_time = self.clock() + self.keep_checkpoint_every_n_hours * 3600

    # -- the list of recent checkpoints ------------------------------------------
    @property
    def last_checkpoints(self) -> list[str]:
        """Prefixes of the checkpoints still managed, oldest first."""
        return [name for name, _ in self._last_checkpoints]

    def set_last_checkpoints(self, last_checkpoints: list[str]) -> None:
        """Replace the list; these checkpoints get time +inf, so the N-hours rule always keeps them."""
        self._last_checkpoints = [(os.fspath(p), math.inf) for p in last_checkpoints]
        self._watch.forget()  # the caller takes the directory over as it is now

    def set_last_checkpoints_with_time(self, last_checkpoints_with_time: list[tuple[str, float]]) -> None:
        """Replace the list with ``(prefix, save time)`` pairs, oldest first."""
        self._last_checkpoints = [(os.fspath(p), float(t)) for p, t in last_checkpoints_with_time]
        self._watch.forget()

    def recover_last_checkpoints(self, checkpoint_paths) -> None:
        """Rebuild the list after a restart from prefixes (e.g. a state file's), timed by file mtime.

        Prefixes whose files are gone are dropped.
        """
        pairs = []
        for p in checkpoint_paths:
            mtimes = get_checkpoint_mtimes([p])
            if mtimes:
                pairs.append((os.fspath(p), mtimes[0]))
        self.set_last_checkpoints_with_time(pairs)

    def _record_last_checkpoint(self, prefix: str) -> None:
        if not self.max_to_keep:
            return
        self._last_checkpoints = [p for p in self._last_checkpoints if p[0] != prefix]
        self._last_checkpoints.append((prefix, self.clock()))
        if len(self._last_checkpoints) > self.max_to_keep:
            self._checkpoints_to_be_deleted.append(self._last_checkpoints.pop(0))

    def _maybe_delete_old_checkpoints(self, meta_graph_suffix: str, directory=None, ops=None) -> None:
        if not self._checkpoints_to_be_deleted:
            return
        prefix, saved_at = self._checkpoints_to_be_deleted.pop(0)
        if saved_at > self._next_checkpoint_time:
            self._next_checkpoint_time += self.keep_checkpoint_every_n_hours * 3600
            return
        try:
            remove_checkpoint(prefix, meta_graph_suffix=meta_graph_suffix,
                              directory=directory if directory is not None else os.path.dirname(prefix), ops=ops)
        except UnsafePathError as exc:
            warnings.warn(f"not deleting old checkpoint: {exc}", RuntimeWarning, stacklevel=3)
        except CheckpointError as exc:  # the save itself is complete; a later save retries
            warnings.warn(f"could not delete old checkpoint: {exc}", RuntimeWarning, stacklevel=3)

    # -- saving and restoring -------------------------------------------------------
    def save(self, variables: Mapping, save_path, global_step=None, latest_filename: str | None = None,
             meta_graph_suffix: str = "meta", write_meta_graph: bool = True,
             write_state: bool = True) -> str:
        """Write ``variables`` (name -> array-like) as a checkpoint; return its prefix.

        ``global_step`` (an int or a 0-d integer array) is appended to
        ``save_path`` as ``-STEP``.  The state file goes next to the checkpoint,
        named ``latest_filename`` (default ``checkpoint``).
        """
        if latest_filename is None:
            latest_filename = STATE_FILENAME
        if os.path.split(latest_filename)[0]:
            raise ValueError("'latest_filename' must not contain path components")
        if not variables:
            raise ValueError("No variables to save")
        arrays = _sorted_tensors(variables)
        save_path = os.fspath(save_path)
        if global_step is not None:
            prefix = checkpoint_path(save_path, global_step_value(global_step),
                                     pad_step_number=self.pad_step_number)
        else:
            prefix = save_path
            if os.path.basename(save_path) == latest_filename and not self.sharded:
                raise ValueError(f"'latest_filename' collides with 'save_path': "
                                 f"{latest_filename!r} and {save_path!r}")
        if self.sharded and not os.path.isdir(os.path.dirname(save_path) or os.curdir):
            # TF's sharded save makes PREFIX_temp/ with a non-recursive mkdir, so it fails here.
            raise ValueError(f"Parent directory of {save_path} doesn't exist, can't save.")
        meta_path = meta_graph_filename(prefix, meta_graph_suffix)
        # The graph lists the variables in the caller's order (TF: creation order); it is
        # built, and so validated, before anything is written.
        meta = self._build_meta(meta_path, {k: arrays[k] for k in variables}) if write_meta_graph else None
        save_dir = os.path.dirname(save_path)
        # Everything that can be refused is refused before any file is touched.
        meta_bytes = meta.SerializeToString(deterministic=True) if meta is not None else None
        try:
            os.makedirs(save_dir or os.curdir, exist_ok=True)
        except OSError as exc:
            raise os_error(exc, save_dir, "creating the save directory") from exc
        ops = FileOps(self.on_file_event, durable=self.durable)
        state_path = os.path.join(save_dir, latest_filename)
        before = (list(self._last_checkpoints), list(self._checkpoints_to_be_deleted))
        try:
            with SaveTransaction(save_dir, prefix, state_path=state_path, watch=self._watch, who="Saver",
                                 stems=[os.path.basename(save_path)], meta_graph_suffix=meta_graph_suffix,
                                 ops=ops) as tx:
                try:
                    self._write_bundle(tx.staged, arrays)
                    if meta_bytes is not None:
                        write_new_file(meta_graph_filename(tx.staged, meta_graph_suffix), meta_bytes,
                                       durable=self.durable, ops=ops)
                    tx.install()
                    if write_state:
                        self._record_last_checkpoint(prefix)
                        update_checkpoint_state(save_dir, prefix, self.last_checkpoints,
                                                latest_filename, save_relative_paths=self.save_relative_paths,
                                                durable=self.durable, ops=ops)
                except BaseException:
                    self._last_checkpoints, self._checkpoints_to_be_deleted = before
                    raise
                tx.commit()
                if write_state:
                    self._maybe_delete_old_checkpoints(meta_graph_suffix, save_dir or os.curdir, ops)
        except OSError as exc:
            raise os_error(exc, None, "saving " + prefix) from exc
        return prefix

    def _write_bundle(self, prefix: str, variables: Mapping) -> None:
        write_bundle(prefix, variables, num_shards=self.num_shards, shard_of=self.shard_of,
                     durable=self.durable, on_file_event=self.on_file_event)

    def _build_meta(self, meta_path: str, variables: Mapping):
        """The MetaGraphDef for ``PREFIX.meta``, from :mod:`tfckpt_lab.meta.writer` (imported only when asked for)."""
        try:
            from ..meta import writer as meta_writer
        except ModuleNotFoundError as exc:
            if exc.name is None or not exc.name.startswith(("tfckpt_lab.meta", "tfckpt_lab")):
                raise
            raise UnsupportedError("write_meta_graph=True needs tfckpt_lab.meta.writer, which this "
                                   "installation does not have", path=meta_path) from None
        return meta_writer.build_meta_graph(
            variables,
            max_to_keep=self.max_to_keep,
            keep_checkpoint_every_n_hours=self.keep_checkpoint_every_n_hours,
            sharded=self.sharded,
            global_step_name=None)

    def restore(self, save_path) -> dict[str, np.ndarray]:
        """Every tensor of the checkpoint at ``save_path`` (a prefix), as numpy arrays."""
        from .reader import CheckpointReader

        if save_path is None:
            raise ValueError("Can't load save_path when it is None.")
        with CheckpointReader(save_path) as reader:
            return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}
