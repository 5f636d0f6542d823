"""The friendly reader: TensorFlow's ``tf.train.load_checkpoint`` API, without TensorFlow."""

from __future__ import annotations

import html
import operator
import os
from collections.abc import Mapping
from itertools import islice
from typing import Protocol, runtime_checkable


from .. import dtypes
from .._deprecation import renamed
from .._perf import paused_gc
from ..bundle.entry import BundleEntry
from ..bundle.reader import BundleReader
from ..errors import CheckpointNotFoundError, UnsupportedError
from ..fileio import is_url
from .state import latest_checkpoint

__all__ = ["CheckpointReader", "LowLevelReader", "load_checkpoint", "list_variables", "load_variable",
           "resolve_prefix", "detect_format", "open_low_level"]


def resolve_prefix(ckpt_dir_or_prefix) -> str:
    """A checkpoint prefix from a prefix, a directory (its latest checkpoint), or a file of the bundle."""
    p = os.fspath(ckpt_dir_or_prefix)
    if is_url(p):
        return _resolve_url(p)
    if os.path.isdir(p):
        latest = latest_checkpoint(p)
        if latest is None:
            latest = _v1_glob_from_state(p)
        if latest is None:
            found = sorted(n[: -len(".index")] for n in os.listdir(p) if n.endswith(".index"))
            if os.path.exists(os.path.join(p, "variables", "variables.index")):  # a SavedModel
                found.append(os.path.join("variables", "variables"))
            hint = ""
            if found:  # e.g. tf.train.Checkpoint.write() or a SavedModel's variables/: no state file
                shown = ", ".join(os.path.join(p, n) for n in found[:3]) + (", ..." if len(found) > 3 else "")
                hint = f"; it holds checkpoint(s) you can open by prefix: {shown}"
            raise CheckpointNotFoundError(
                "no 'checkpoint' state file naming an existing checkpoint in this directory" + hint, path=p)
        return latest
    if p.endswith(("/", os.sep)):
        raise CheckpointNotFoundError("no such directory", path=p)
    return _strip_file_suffix(p)


def _strip_file_suffix(p: str) -> str:
    """``PREFIX.index``, ``PREFIX.meta`` or ``PREFIX.data-00000-of-00001`` -> ``PREFIX``."""
    for suffix in (".index", ".meta"):
        if p.endswith(suffix):
            return p[: -len(suffix)]
    import re

    m = re.search(r"\.data-\d{5,}-of-\d{5,}$", p)
    if m:
        return p[: m.start()]
    return p


def _resolve_url(url: str) -> str:
    """A prefix URL as given (a file of the bundle: its prefix); a directory URL: its latest checkpoint."""
    from .. import remote

    if not url.endswith("/"):
        url = _strip_file_suffix(url)
        if remote.exists(url + ".index") or not remote.isdir(url):
            return url
    latest = latest_checkpoint(url)
    if latest is None:
        raise CheckpointNotFoundError("no 'checkpoint' state file naming an existing checkpoint under this URL",
                                      path=url)
    return latest


def _v1_glob_from_state(directory: str) -> str | None:
    """A sharded V1 save records a glob (``model-?????-of-00003``) as its path; accept it if files match."""
    from ..v1.reader import v1_files
    from .state import get_checkpoint_state

    st = get_checkpoint_state(directory)
    path = st.model_checkpoint_path if st is not None else ""
    return path if path and v1_files(path) else None


@runtime_checkable
class LowLevelReader(Protocol):
    """What the reader of each checkpoint format offers: V2's :class:`~tfckpt_lab.bundle.BundleReader`
    and V1's :class:`~tfckpt_lab.v1.V1Reader` both implement it.

    The friendly :class:`CheckpointReader`, the region model
    (:func:`tfckpt_lab.explain.layouts`), the verifier and the views use only
    these members, so each of them works on both formats.  Entries are
    :class:`~tfckpt_lab.bundle.entry.BundleEntry` or :class:`~tfckpt_lab.v1.V1Entry`
    (the same attribute names: ``name``, ``key``, ``dtype``, ``shape``, ``shard_id``,
    ``offset``, ``size``, ``end``, ``crc32c``, ``slices``).
    """

    prefix: str
    format: str  # "v2" or "v1"

    @property
    def num_shards(self) -> int: ...

    def data_paths(self) -> list[str]:
        """The files tensor bytes are stored in."""

    def table_paths(self) -> list[str]:
        """The SSTable files (V2: the ``.index``; V1: every file)."""

    def meta_path(self) -> str:
        """Where the ``.meta`` graph saved with this checkpoint would be."""

    def variables(self) -> list:
        """What a listing shows (no partition pieces), in name order."""

    def variable_map(self) -> dict:
        """``{name: (shape, dtype number)}`` of :meth:`variables`."""

    def variable_columns(self) -> tuple[list, list, list]:
        """``(names, shapes, dtype numbers)`` of :meth:`variables`."""

    def entries(self) -> dict:
        """Every stored entry (partition pieces / stored slices too): a mapping raw key -> entry,
        in key order.  (What ``entries()`` means wherever it exists; an SSTable block's list of
        every stored entry, duplicates included, is :meth:`Block.records
        <tfckpt_lab.sstable.block.Block.records>`.)"""

    def entry(self, name):
        """The entry of ``name`` (TensorNotFoundError if none)."""

    def has_entry(self, name) -> bool: ...

    def read_tensor(self, name_or_entry, *, verify: bool | None = None, copy: bool = True):
        """A tensor's value as a numpy array."""

    def close(self) -> None: ...


def detect_format(prefix) -> str:
    """``"v2"`` if ``PREFIX.index`` exists (also at a URL), else ``"v1"`` if V1 file(s) are there.

    Anything else is ``"v2"``, so that opening it reports the missing ``.index``.
    V1 files: a table at ``PREFIX``, shards ``PREFIX-?????-of-?????``, or a glob of them.
    """
    prefix = os.fspath(prefix)
    if not (_url_exists(prefix + ".index") if is_url(prefix) else os.path.exists(prefix + ".index")):
        from ..v1.reader import v1_files

        if v1_files(prefix):
            return "v1"
    return "v2"


def open_low_level(prefix, *, verify: bool = True) -> LowLevelReader:
    """The reader of the checkpoint at ``prefix``, for its format (:func:`detect_format`): the one sniffer."""
    prefix = os.fspath(prefix)
    if detect_format(prefix) == "v1":
        from ..v1.reader import V1Reader

        return V1Reader(prefix, verify=verify)
    return BundleReader(prefix, verify=verify)


def _url_exists(url: str) -> bool:
    from ..remote import exists

    return exists(url)


class CheckpointReader(Mapping):
    """Read a checkpoint's tensors by name; a read-only mapping of name -> numpy array.

    Method names follow TensorFlow's ``CheckpointReader`` so code written for
    ``tf.train.load_checkpoint`` works unchanged.

    >>> import tempfile, os, numpy as np
    >>> from tfckpt_lab import write_bundle
    >>> prefix = os.path.join(tempfile.mkdtemp(), "model")
    >>> _ = write_bundle(prefix, {"w1": np.ones(2, np.float32), "w2": np.zeros(5, np.float32)})
    >>> reader = CheckpointReader(prefix)
    >>> reader.get_variable_to_shape_map()
    {'w1': [2], 'w2': [5]}
    >>> reader["w1"]
    array([1., 1.], dtype=float32)

    Args:
        prefix: the checkpoint prefix (``dir/model-1000``), or anything
            :func:`resolve_prefix` accepts.
        verify: check CRC-32Cs on every read (default True).

    Attributes:
        lowlevel: one level deeper, the reader of this checkpoint's format (a
            :class:`LowLevelReader`): a :class:`~tfckpt_lab.bundle.BundleReader` for V2, or
            for a V1 checkpoint (table file(s), no ``.index``) a :class:`~tfckpt_lab.v1.V1Reader`
            (``bundle`` is an old name for it).
        format: ``"v2"`` or ``"v1"``.
    """

    def __init__(self, prefix, *, verify: bool = True):
        self.prefix = resolve_prefix(prefix)
        self.lowlevel: LowLevelReader = open_low_level(self.prefix, verify=verify)
        self._vars: dict[str, BundleEntry] | None = None

    @property
    def format(self) -> str:
        return self.lowlevel.format

    # the old name (it is a V1Reader, not a bundle, for V1 checkpoints)
    bundle = renamed("bundle", "lowlevel")

    # -- listing --------------------------------------------------------------
    def _variables(self) -> dict[str, BundleEntry]:
        if self._vars is None:
            self._vars = {e.name: e for e in self.lowlevel.variables()}
        return self._vars

    def _variable_map(self) -> dict[str, tuple[tuple[int, ...], int]]:
        """``{name: (shape, dtype number)}``: the low-level reader's fast listing."""
        return self.lowlevel.variable_map()

    def _columns(self) -> tuple[list[str], list[tuple[int, ...]], list[int]]:
        """``(names, shapes, dtype numbers)`` in key order: the low-level reader's fast listing."""
        return self.lowlevel.variable_columns()

    def get_variable_to_shape_map(self) -> dict[str, list[int]]:
        """``{name: shape as a list}``, as TensorFlow's reader answers."""
        names, shapes, _ = self._columns()
        with paused_gc():
            return dict(zip(names, map(list, shapes)))

    def get_variable_to_dtype_map(self) -> dict[str, str]:
        """``{name: dtype name}`` with TensorFlow's names (``'float32'``, ``'bfloat16'``, ``'string'``...)."""
        names: dict[int, str] = {}
        out = {}
        for n, (_, d) in self._variable_map().items():
            dn = names.get(d)
            if dn is None:
                dn = names[d] = dtypes.dtype_name(d)
            out[n] = dn
        return out

    def entry(self, name: str) -> BundleEntry:
        """The low-level index entry of ``name`` (shard, offset, size, checksum, ``.lowlevel`` proto...)."""
        return self.lowlevel.entry(name)

    def entries(self) -> dict[bytes, BundleEntry]:
        """Every stored entry (partition pieces / V1 slices included): raw key -> entry, in key order.

        The low-level reader's own mapping (:meth:`LowLevelReader.entries`); iterate
        ``.values()`` for the entries.
        """
        return self.lowlevel.entries()

    # -- values ---------------------------------------------------------------
    def has_tensor(self, name: str) -> bool:
        return self.lowlevel.has_entry(name)

    def get_tensor(self, name: str, *, verify: bool | None = None, copy: bool = True):
        """The tensor's value as a numpy array (string tensors: object arrays of ``bytes``).

        Scalars come back as numpy scalars (``bytes`` for strings), as TensorFlow's
        reader returns them.  ``verify=False, copy=False`` returns a read-only view
        of the memory-mapped data file, without copying (numeric tensors only).
        """
        value = self.lowlevel.read_tensor(name, verify=verify, copy=copy)
        if value.ndim == 0:  # TensorFlow hands back numpy scalars (and bytes for strings)
            return value[()]
        return value

    def stored_slices(self, name: str) -> list:
        """The slices a partitioned variable was saved in, as :class:`~tfckpt_lab.TensorSlice`\\ s
        (``[]`` for a tensor saved whole).  ``str()`` of one is TensorFlow's notation (``"4,3:-"``)."""
        return self.lowlevel.stored_slices(name)

    def get_slice(self, name: str, tensor_slice, *, verify: bool | None = None):
        """Part of a tensor: what TensorFlow's ``RestoreV2`` reads for a ``shape_and_slices`` spec.

        ``tensor_slice`` is a :class:`~tfckpt_lab.TensorSlice` or TensorFlow's notation: ``"4,3:-"``
        (start,length per dimension, ``-`` = all of it), optionally after the full shape as
        in ``shape_and_slices`` (``"10 3 4,3:-"``).  This is how to read a partitioned variable
        that was saved only in part, whose whole :meth:`get_tensor` refuses
        (:class:`~tfckpt_lab.PartialTensorError`): any slice its stored pieces cover can be read.
        """
        if isinstance(tensor_slice, str):
            from ..bundle.slices import TensorSlice

            *shape, spec = tensor_slice.split(" ") if tensor_slice else [""]
            if shape and [int(d) for d in shape] != list(self.entry(name).shape):
                raise ValueError(f"{tensor_slice!r}: {name!r} has shape {list(self.entry(name).shape)}")
            tensor_slice = TensorSlice.parse(spec)
        read = getattr(self.lowlevel, "read_slice", None)
        if read is None:
            raise UnsupportedError("reading a slice is implemented for V2 checkpoints only", path=self.prefix)
        value = read(name, tensor_slice, verify=verify)
        return value[()] if value.ndim == 0 else value

    # -- Mapping protocol -----------------------------------------------------
    def __getitem__(self, name: str):
        return self.get_tensor(name)

    def __contains__(self, name) -> bool:
        return isinstance(name, str) and name in self._variable_map() or (
            isinstance(name, str) and self.has_tensor(name))

    def __iter__(self):
        return iter(self._variable_map())

    def __len__(self) -> int:
        return len(self._variable_map())

    def keys(self):
        return self._variable_map().keys()

    # -- notebook manners -----------------------------------------------------
    def __repr__(self) -> str:
        return f"<CheckpointReader {self.prefix!r}>"

    def _repr_html_(self) -> str:
        rows = []
        vars_ = self._variables()
        for i, (n, e) in enumerate(vars_.items()):
            if i == 50:
                rows.append(f"<tr><td colspan=6>... {len(vars_) - 50} more</td></tr>")
                break
            where = "(partitioned)" if e.slices else f"{e.shard_id}"
            rows.append(
                f"<tr><td><code>{html.escape(n)}</code></td><td>{e.dtype_name}</td>"
                f"<td>{list(e.shape)}</td><td>{where}</td><td>{e.offset}</td><td>{e.size}</td></tr>")
        return (f"<b>Checkpoint</b> <code>{html.escape(self.prefix)}</code>: {len(vars_)} tensors, "
                f"{self.lowlevel.num_shards} data shard(s)"
                "<table><tr><th>name</th><th>dtype</th><th>shape</th><th>shard</th><th>offset</th>"
                f"<th>bytes</th></tr>{''.join(rows)}</table>")

    def close(self) -> None:
        self.lowlevel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def load_checkpoint(ckpt_dir_or_prefix, *, verify: bool = True) -> CheckpointReader:
    """Open a checkpoint by prefix, or a directory's latest checkpoint (``tf.train.load_checkpoint``)."""
    return CheckpointReader(ckpt_dir_or_prefix, verify=verify)


def list_variables(ckpt_dir_or_prefix) -> list[tuple[str, list[int]]]:
    """``[(name, shape), ...]`` sorted by name (``tf.train.list_variables``)."""
    with CheckpointReader(ckpt_dir_or_prefix) as r:
        names, shapes, _ = r._columns()
        with paused_gc():  # 100,000 new tuples; see tfckpt_lab._perf
            if all(map(operator.lt, names, islice(names, 1, None))):  # key order is name order (UTF-8)
                return list(zip(names, map(list, shapes)))
            m = r.get_variable_to_shape_map()
            return [(n, m[n]) for n in sorted(m)]


def load_variable(ckpt_dir_or_prefix, name: str):
    """One tensor's value (``tf.train.load_variable``); a trailing ``:0`` is ignored as in TF."""
    if name.endswith(":0"):
        name = name[:-2]
    with CheckpointReader(ckpt_dir_or_prefix) as r:
        return r.get_tensor(name)
