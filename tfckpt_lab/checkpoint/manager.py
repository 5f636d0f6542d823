"""``CheckpointManager``: TF2's ``tf.train.CheckpointManager``, for a mapping of numpy arrays.

One ``save()`` does, in this order (as TensorFlow does):

1. ``save_counter += 1`` -- on *every* save, also when ``checkpoint_number`` is given;
2. prefix ``DIRECTORY/NAME-N`` with N = ``checkpoint_number`` or else the counter;
3. write the checkpoint: the variables plus the counter itself, stored as the
   int64 tensor ``save_counter/.ATTRIBUTES/VARIABLE_VALUE`` (see the ``writer`` hook);
4. with ``t = clock()`` (``time.time()`` by default): move the prefix to the end of
   the managed list with time ``t``; write the state file; sweep; write the state
   file again.

Steps 3 and 4 run as one transaction (:mod:`.transaction`), as for :class:`~tfckpt_lab.Saver`:
a save killed at any moment leaves the latest checkpoint complete, and a failed one
leaves nothing.  Creating a manager finishes or undoes what killed saves left in the
directory, unless another writer is saving there at that moment.

The sweep (TF2's rules, which differ from TF1's :class:`~tfckpt_lab.Saver`):

* ``max_to_keep=None`` keeps and *lists* every checkpoint (0 is an error);
* while more than ``max_to_keep`` are managed, the oldest leaves the list; it
  is kept on disk if ``its time - N h >= last_preserved_timestamp`` and then
  ``last_preserved_timestamp = its time`` (so the next one kept must be N hours
  younger than *this* one); otherwise its ``.index`` and data shards are deleted;
* ``last_preserved_timestamp`` starts at "time the manager was created minus 1
  second" and is written to the state file with the checkpoints' timestamps,
  so a new manager on the same directory continues the rule where it stopped
  (TF1 forgets everything on restart).
"""

from __future__ import annotations

import os
import re
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping

import numpy as np

from ..bundle.writer import write_bundle
from ..errors import CheckpointError, UnsafePathError, os_error
from ..fileio import FileOps
from .files import remove_checkpoints
from .saver import global_step_value
from .state import (
    STATE_FILENAME,
    _load_state,
    confine_to_directory,
    newest_complete_checkpoint,
    update_checkpoint_state,
)
from .transaction import DirectoryLock, SaveTransaction, StateWatch, recover_save_directory

__all__ = ["CheckpointManager", "SAVE_COUNTER_KEY", "write_flat_checkpoint"]

SAVE_COUNTER_KEY = "save_counter/.ATTRIBUTES/VARIABLE_VALUE"

Writer = Callable[[str, Mapping, int], object]


def write_flat_checkpoint(prefix: str, variables: Mapping, save_counter: int, *, num_shards: int = 1,
                          shard_of=None, durable: bool = False, on_file_event=None) -> None:
    """The manager's default writer: the variables as given, plus the save counter.

    TensorFlow would also store ``_CHECKPOINTABLE_OBJECT_GRAPH`` and name each
    variable by its path in the object graph; pass ``writer=`` to the manager
    to write that form instead.
    """
    tensors = dict(variables)
    tensors[SAVE_COUNTER_KEY] = np.int64(save_counter)
    write_bundle(prefix, tensors, num_shards=num_shards, shard_of=shard_of, durable=durable,
                 on_file_event=on_file_event)


class CheckpointManager:
    """Save numbered checkpoints into a directory and keep only some, like ``tf.train.CheckpointManager``.

    >>> import tempfile, os, numpy as np
    >>> d = tempfile.mkdtemp()
    >>> manager = CheckpointManager(d, max_to_keep=2)
    >>> for _ in range(3):
    ...     path = manager.save({"w": np.zeros(2, np.float32)})
    >>> [os.path.basename(p) for p in manager.checkpoints], manager.save_counter
    (['ckpt-2', 'ckpt-3'], 3)
    >>> int(manager.restore()["save_counter/.ATTRIBUTES/VARIABLE_VALUE"])
    3
    >>> sorted(os.listdir(d))
    ['checkpoint', 'ckpt-2.data-00000-of-00001', 'ckpt-2.index', 'ckpt-3.data-00000-of-00001', 'ckpt-3.index']

    Args:
        directory: where checkpoints and the ``checkpoint`` state file go.
        max_to_keep: how many checkpoints to keep, or None for all (must not be <= 0).
        keep_checkpoint_every_n_hours: keep one checkpoint per N hours on top
            (TF2's rule, see the module docstring); None turns it off.
        checkpoint_name: the file name stem, ``ckpt`` -> ``ckpt-1``.
        num_shards: number of data files per checkpoint.
        shard_of: ``shard_of(name, index) -> shard`` (default round robin).
        durable: fsync the bundle's files.
        writer: ``writer(prefix, variables, save_counter, **options)`` writes one checkpoint,
            where ``options`` holds ``num_shards``, ``shard_of`` and ``durable`` when they are not
            the defaults;
            the hook for object-graph checkpoints.  Default: :func:`write_flat_checkpoint`.
            The ``prefix`` it is given is a staging name (``ckpt-3.tfckpt-new-HEX``); the
            manager then moves every ``PREFIX.*`` file it wrote to ``ckpt-3.*``, the index last.
            ``writer=tfckpt_lab.checkpoint.object_writer.write_object_checkpoint`` writes
            TF2's object form (nested mappings as the object tree), which
            ``tf.train.Checkpoint.restore`` accepts.

    Like TensorFlow's, a new manager starts with ``save_counter == 0`` even if
    the directory has checkpoints; call :meth:`restore_or_initialize` to take
    the counter from the latest one (TF restores it with the checkpoint object).

    An empty or field-less ``checkpoint`` file (what a power loss can leave) is taken as
    "no state" with a warning (TensorFlow 2.21 raises ``ValueError`` there); the newest
    complete ``NAME-N`` checkpoint on disk becomes :attr:`latest_checkpoint`, so
    :meth:`restore_or_initialize` resumes from it.  The manager does not take over (and so
    never deletes) the checkpoints such a file no longer lists.

    More keyword arguments: ``clock`` (zero-argument callable returning seconds, default
    ``time.time`` looked up at each call) and ``on_file_event`` (called with a
    :class:`~tfckpt_lab.fileio.FileEvent` after each file operation), as for
    :class:`~tfckpt_lab.Saver`.  A second writer in the directory is refused with
    :class:`~tfckpt_lab.errors.ConcurrentWriterError`.
    """

    def __init__(self, directory, max_to_keep: int | None, keep_checkpoint_every_n_hours: float | None = None,
                 checkpoint_name: str = "ckpt", *, num_shards: int = 1, shard_of=None,
                 durable: bool = False, writer: Writer | None = None,
                 clock: Callable[[], float] | None = None, on_file_event=None):
        if max_to_keep is not None and max_to_keep <= 0:
            raise ValueError(f"Expected a positive integer or None for max_to_keep, got {max_to_keep}.")
        self._max_to_keep = max_to_keep
        self._keep_checkpoint_every_n_hours = keep_checkpoint_every_n_hours
        self._directory = os.fspath(directory)
        self._checkpoint_name = checkpoint_name
        self._prefix = os.path.join(self._directory, checkpoint_name)
        self._state_path = os.path.join(self._directory, STATE_FILENAME)
        self.num_shards = num_shards
        self.shard_of = shard_of
        self.durable = durable
        self._writer = writer
        self.clock = clock if clock is not None else (lambda: time.time())
        self.on_file_event = on_file_event
        self._watch = StateWatch()
        self.save_counter = 0
        #: What the manager found and cleaned up after killed saves when it started.
        self.recovered: list = self._recover_if_free()

        self._watch.remember(self._state_path)
        recovered, why = _load_state(self._directory, None)
        found = None
        if why is not None:
            if why.blank:
                found = newest_complete_checkpoint(self._directory,
                                                   re.compile(re.escape(checkpoint_name) + r"-\d+"))
            warnings.warn(f"{why}; checkpoint state ignored" + (
                "" if not why.blank else f"; latest checkpoint recovered from disk: {found}" if found
                else "; no complete checkpoint found on disk"), RuntimeWarning, stacklevel=2)
        if recovered is not None:
            # TF2's manager takes over (and may later delete) what the state file lists:
            # never anything outside this directory (warns, and lists it in .refused).
            recovered = confine_to_directory(recovered, self._directory)
        self.refused = list(recovered.refused) if recovered is not None else []
        now = self.clock()
        self._maybe_delete: OrderedDict[str, float] = OrderedDict()
        if recovered is None:
            self._latest_checkpoint = found if why is not None else None
            self._last_preserved_timestamp = now - 1.0  # TF's margin against quick re-creation
            return
        self._latest_checkpoint = recovered.model_checkpoint_path
        self._last_preserved_timestamp = recovered.last_preserved_timestamp
        if now < self._last_preserved_timestamp:  # the clock went backwards
            self._last_preserved_timestamp = now
        paths = recovered.all_model_checkpoint_paths
        stamps = recovered.all_model_checkpoint_timestamps or [self._last_preserved_timestamp] * len(paths)
        for path, stamp in zip(paths, stamps):
            stamp = min(stamp, now)
            if stamp > self._last_preserved_timestamp:
                self._maybe_delete[path] = stamp

    def _recover_if_free(self) -> list:
        """Clean up after killed saves, if no other writer is saving here right now."""
        if not os.path.isdir(self._directory):
            return []
        lock = DirectoryLock(self._directory)
        try:
            if not lock.acquire(wait_free=False):
                return []
        except CheckpointError:  # e.g. a read-only directory: only reading is possible here
            return []
        try:
            return recover_save_directory(self._directory, state_path=self._state_path,
                                          stems=[self._checkpoint_name], ops=self._ops())
        except OSError as exc:
            warnings.warn(f"could not clean up after an earlier save: {exc}", RuntimeWarning, stacklevel=3)
            return []
        finally:
            lock.release()

    def _ops(self) -> FileOps:
        return FileOps(self.on_file_event, durable=self.durable)

    # -- what TensorFlow exposes ---------------------------------------------------
    @property
    def directory(self) -> str:
        return self._directory

    @property
    def latest_checkpoint(self) -> str | None:
        """The newest checkpoint's prefix, or None (what ``tf.train.latest_checkpoint(directory)`` says)."""
        return self._latest_checkpoint

    @property
    def checkpoints(self) -> list[str]:
        """Managed checkpoints, oldest first (ones kept by the N-hours rule are not listed)."""
        return list(self._maybe_delete)

    @property
    def last_preserved_timestamp(self) -> float:
        """Time of the last checkpoint kept by the N-hours rule (the rule's reference point)."""
        return self._last_preserved_timestamp

    # -- saving ---------------------------------------------------------------------
    def save(self, variables: Mapping, checkpoint_number=None) -> str:
        """Write a new checkpoint of ``variables`` (name -> array-like), rotate old ones, return its prefix.

        ``checkpoint_number`` (int or 0-d integer array) names it ``ckpt-NUMBER``;
        the save counter still goes up by one.  A save that fails changes nothing: no file,
        and the counter keeps its value (TensorFlow's would have counted the failed save).
        """
        counter_before = self.save_counter
        try:
            return self._save(variables, checkpoint_number)
        except BaseException:
            self.save_counter = counter_before
            raise

    def _save(self, variables: Mapping, checkpoint_number) -> str:
        self.save_counter += 1
        number = self.save_counter if checkpoint_number is None else global_step_value(checkpoint_number)
        prefix = "%s-%d" % (self._prefix, number)
        try:
            os.makedirs(self._directory or os.curdir, exist_ok=True)
        except OSError as exc:
            raise os_error(exc, self._directory, "creating the checkpoint directory") from exc
        ops = self._ops()
        before = (OrderedDict(self._maybe_delete), self._latest_checkpoint, self._last_preserved_timestamp)
        try:
            with SaveTransaction(self._directory, prefix, state_path=self._state_path, watch=self._watch,
                                 who="CheckpointManager", stems=[self._checkpoint_name], ops=ops) as tx:
                self._write_checkpoint(tx.staged, variables)
                tx.install()
                try:
                    stamp = self.clock()
                    self._maybe_delete.pop(prefix, None)  # an overwritten checkpoint moves to the end
                    self._maybe_delete[prefix] = stamp
                    self._latest_checkpoint = prefix
                    self._record_state(ops)  # name the new checkpoint before deleting anything
                except BaseException:
                    self._maybe_delete, self._latest_checkpoint, self._last_preserved_timestamp = before
                    raise
                tx.commit()
                try:
                    self._sweep(ops)
                    self._record_state(ops)
                except CheckpointError as exc:  # the save is complete; the next one retries
                    warnings.warn(f"rotation after saving {prefix} failed: {exc}", RuntimeWarning, stacklevel=2)
                self._watch.remember(self._state_path)
        except OSError as exc:
            raise os_error(exc, None, "saving " + prefix) from exc
        return prefix

    def _write_checkpoint(self, prefix: str, variables: Mapping) -> None:
        if self._writer is not None:
            # Settings that differ from the defaults are handed on (write_object_checkpoint takes
            # them all); a writer that cannot take them fails loudly rather than ignoring them.
            options = {}
            if self.num_shards != 1:
                options["num_shards"] = self.num_shards
            if self.shard_of is not None:
                options["shard_of"] = self.shard_of
            if self.durable:
                options["durable"] = True
            self._writer(prefix, variables, self.save_counter, **options)
        else:
            write_flat_checkpoint(prefix, variables, self.save_counter, num_shards=self.num_shards,
                                  shard_of=self.shard_of, durable=self.durable, on_file_event=self.on_file_event)

    def _sweep(self, ops=None) -> None:
        if not self._max_to_keep:
            return
        hours = self._keep_checkpoint_every_n_hours
        doomed = []
        while len(self._maybe_delete) > self._max_to_keep:
            prefix, stamp = self._maybe_delete.popitem(last=False)
            if hours and stamp - hours * 3600.0 >= self._last_preserved_timestamp:
                self._last_preserved_timestamp = stamp
                continue
            doomed.append(prefix)
        if not doomed:
            return
        try:  # all at once: one directory listing however many there are
            remove_checkpoints(doomed, meta_graph_suffix=None, directory=self._directory, ops=ops)
        except UnsafePathError:  # name the ones refused, delete the others
            for prefix in doomed:
                try:
                    remove_checkpoints([prefix], meta_graph_suffix=None, directory=self._directory, ops=ops)
                except UnsafePathError as exc:
                    warnings.warn(f"not deleting old checkpoint: {exc}", RuntimeWarning, stacklevel=3)

    def _record_state(self, ops=None) -> None:
        update_checkpoint_state(
            self._directory, self._latest_checkpoint, list(self._maybe_delete),
            save_relative_paths=True,
            all_model_checkpoint_timestamps=list(self._maybe_delete.values()),
            last_preserved_timestamp=self._last_preserved_timestamp, durable=self.durable, ops=ops)

    # -- reading back ---------------------------------------------------------------
    def restore(self, save_path=None) -> dict[str, np.ndarray]:
        """Every tensor of ``save_path`` (default: the latest checkpoint), as numpy arrays."""
        from .reader import CheckpointReader

        save_path = save_path or self._latest_checkpoint
        if save_path is None:
            raise ValueError(f"no checkpoint to restore in {self._directory!r}")
        with CheckpointReader(save_path) as reader:
            return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}

    def restore_or_initialize(self) -> str | None:
        """Take ``save_counter`` from the latest checkpoint and return its prefix; None if there is none."""
        if self._latest_checkpoint is None:
            return None
        from .reader import CheckpointReader

        with CheckpointReader(self._latest_checkpoint) as reader:
            if reader.has_tensor(SAVE_COUNTER_KEY):
                self.save_counter = int(reader.get_tensor(SAVE_COUNTER_KEY))
        return self._latest_checkpoint
