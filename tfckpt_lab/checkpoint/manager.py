"""``CheckpointManager``: TF2's ``tf.train.CheckpointManager``, for a mapping of numpy arrays.

One ``save()`` does, in this order (as TensorFlow does):

1. ``save_counter += 1`` -- on *every* save, also when ``checkpoint_number`` is given;
2. prefix ``DIRECTORY/NAME-N`` with N = ``checkpoint_number`` or else the counter;
3. write the checkpoint: the variables plus the counter itself, stored as the
   int64 tensor ``save_counter/.ATTRIBUTES/VARIABLE_VALUE`` (see the ``writer`` hook);
4. with ``t = time.time()``: move the prefix to the end of the managed list with
   time ``t``; write the state file; sweep; write the state file again.

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
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping

import numpy as np

from ..bundle.writer import write_bundle
from ..errors import UnsafePathError
from .files import remove_checkpoint, remove_stale_temp_files
from .saver import global_step_value
from .state import confine_to_directory, get_checkpoint_state, update_checkpoint_state

__all__ = ["CheckpointManager", "SAVE_COUNTER_KEY", "write_flat_checkpoint"]

SAVE_COUNTER_KEY = "save_counter/.ATTRIBUTES/VARIABLE_VALUE"

Writer = Callable[[str, Mapping, int], object]


def write_flat_checkpoint(prefix: str, variables: Mapping, save_counter: int, *, num_shards: int = 1,
                          shard_of=None, durable: bool = False) -> None:
    """The manager's default writer: the variables as given, plus the save counter.

    TensorFlow would also store ``_CHECKPOINTABLE_OBJECT_GRAPH`` and name each
    variable by its path in the object graph; pass ``writer=`` to the manager
    to write that form instead.
    """
    tensors = dict(variables)
    tensors[SAVE_COUNTER_KEY] = np.int64(save_counter)
    write_bundle(prefix, tensors, num_shards=num_shards, shard_of=shard_of, durable=durable)


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
            ``writer=tfckpt_lab.meta.object_writer.write_object_checkpoint`` writes
            TF2's object form (nested mappings as the object tree), which
            ``tf.train.Checkpoint.restore`` accepts.

    Like TensorFlow's, a new manager starts with ``save_counter == 0`` even if
    the directory has checkpoints; call :meth:`restore_or_initialize` to take
    the counter from the latest one (TF restores it with the checkpoint object).
    """

    def __init__(self, directory, max_to_keep: int | None, keep_checkpoint_every_n_hours: float | None = None,
                 checkpoint_name: str = "ckpt", *, num_shards: int = 1, shard_of=None,
                 durable: bool = False, writer: Writer | None = None):
        if max_to_keep is not None and max_to_keep <= 0:
            raise ValueError(f"Expected a positive integer or None for max_to_keep, got {max_to_keep}.")
        self._max_to_keep = max_to_keep
        self._keep_checkpoint_every_n_hours = keep_checkpoint_every_n_hours
        self._directory = os.fspath(directory)
        self._prefix = os.path.join(self._directory, checkpoint_name)
        self.num_shards = num_shards
        self.shard_of = shard_of
        self.durable = durable
        self._writer = writer
        self.save_counter = 0

        recovered = get_checkpoint_state(self._directory)
        if recovered is not None:
            # TF2's manager takes over (and may later delete) what the state file lists:
            # never anything outside this directory (warns, and lists it in .refused).
            recovered = confine_to_directory(recovered, self._directory)
        self.refused = list(recovered.refused) if recovered is not None else []
        now = time.time()
        self._maybe_delete: OrderedDict[str, float] = OrderedDict()
        if recovered is None:
            self._latest_checkpoint = None
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
        the save counter still goes up by one.
        """
        self.save_counter += 1
        number = self.save_counter if checkpoint_number is None else global_step_value(checkpoint_number)
        prefix = "%s-%d" % (self._prefix, number)
        remove_stale_temp_files(self._directory, os.path.basename(self._prefix))
        self._write_checkpoint(prefix, variables)
        self._record_and_sweep(prefix)
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
                                  shard_of=self.shard_of, durable=self.durable)

    def _record_and_sweep(self, prefix: str) -> None:
        stamp = time.time()
        self._maybe_delete.pop(prefix, None)  # an overwritten checkpoint moves to the end
        self._maybe_delete[prefix] = stamp
        self._latest_checkpoint = prefix
        self._record_state()  # name the new checkpoint before deleting anything
        self._sweep()
        self._record_state()

    def _sweep(self) -> None:
        if not self._max_to_keep:
            return
        hours = self._keep_checkpoint_every_n_hours
        while len(self._maybe_delete) > self._max_to_keep:
            prefix, stamp = self._maybe_delete.popitem(last=False)
            if hours and stamp - hours * 3600.0 >= self._last_preserved_timestamp:
                self._last_preserved_timestamp = stamp
                continue
            try:
                remove_checkpoint(prefix, meta_graph_suffix=None, directory=self._directory)
            except UnsafePathError as exc:
                warnings.warn(f"not deleting old checkpoint: {exc}", RuntimeWarning, stacklevel=3)

    def _record_state(self) -> None:
        update_checkpoint_state(
            self._directory, self._latest_checkpoint, list(self._maybe_delete),
            save_relative_paths=True,
            all_model_checkpoint_timestamps=list(self._maybe_delete.values()),
            last_preserved_timestamp=self._last_preserved_timestamp, durable=self.durable)

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
