"""The friendly reader: TensorFlow's ``tf.train.load_checkpoint`` API, without TensorFlow."""

from __future__ import annotations

import html
import operator
import os
from collections.abc import Mapping
from itertools import islice


from .. import dtypes
from .._perf import paused_gc
from ..bundle.entry import BundleEntry
from ..bundle.reader import BundleReader
from ..errors import CheckpointNotFoundError
from ..fileio import is_url
from .state import latest_checkpoint

__all__ = ["CheckpointReader", "load_checkpoint", "list_variables", "load_variable", "resolve_prefix"]


def resolve_prefix(ckpt_dir_or_prefix) -> str:
    """A checkpoint prefix from a prefix, a directory (its latest checkpoint), or a file of the bundle."""
    p = os.fspath(ckpt_dir_or_prefix)
    if not is_url(p) and os.path.isdir(p):
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
    if not is_url(p) and p.endswith(("/", os.sep)):
        raise CheckpointNotFoundError("no such directory", path=p)
    for suffix in (".index", ".meta"):
        if p.endswith(suffix):
            return p[: -len(suffix)]
    import re

    m = re.search(r"\.data-\d{5,}-of-\d{5,}$", p)
    if m:
        return p[: m.start()]
    return p


def _v1_glob_from_state(directory: str) -> str | None:
    """A sharded V1 save records a glob (``model-?????-of-00003``) as its path; accept it if files match."""
    from ..v1.reader import v1_files
    from .state import get_checkpoint_state

    st = get_checkpoint_state(directory)
    path = st.model_checkpoint_path if st is not None else ""
    return path if path and v1_files(path) else None


def _open_low_level(prefix: str, verify: bool):
    """V2 if ``PREFIX.index`` exists; else V1 file(s) at ``PREFIX`` (a table, or ``PREFIX-?????-of-?????``)."""
    if not is_url(prefix) and not os.path.exists(prefix + ".index"):
        from ..v1.reader import V1Reader, v1_files

        if v1_files(prefix):
            return V1Reader(prefix, verify=verify)
    return BundleReader(prefix, verify=verify)


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
        bundle: the low-level :class:`~tfckpt_lab.bundle.BundleReader`, or for a V1
            checkpoint (one table file, no ``.index``) a :class:`~tfckpt_lab.v1.V1Reader`.
    """

    def __init__(self, prefix, *, verify: bool = True):
        self.prefix = resolve_prefix(prefix)
        self.bundle = _open_low_level(self.prefix, verify)
        self._vars: dict[str, BundleEntry] | None = None

    # -- listing --------------------------------------------------------------
    def _variables(self) -> dict[str, BundleEntry]:
        if self._vars is None:
            self._vars = {e.name: e for e in self.bundle.variables()}
        return self._vars

    def _variable_map(self) -> dict[str, tuple[tuple[int, ...], int]]:
        """``{name: (shape, dtype number)}``: the low-level reader's fast listing."""
        return self.bundle.variable_map()

    def _columns(self) -> tuple[list[str], list[tuple[int, ...]], list[int]]:
        """``(names, shapes, dtype numbers)`` in key order: the low-level reader's fast listing."""
        return self.bundle.variable_columns()

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
        """The low-level index entry of ``name`` (shard, offset, size, checksum, proto...)."""
        return self.bundle.entry(name)

    def entries(self) -> list[BundleEntry]:
        """Every index entry (partition pieces included), in key order."""
        return list(self.bundle.entries().values())

    # -- values ---------------------------------------------------------------
    def has_tensor(self, name: str) -> bool:
        return self.bundle.has_entry(name)

    def get_tensor(self, name: str, *, verify: bool | None = None, copy: bool = True):
        """The tensor's value as a numpy array (string tensors: object arrays of ``bytes``).

        Scalars come back as numpy scalars (``bytes`` for strings), as TensorFlow's
        reader returns them.  ``verify=False, copy=False`` returns a read-only view
        of the memory-mapped data file, without copying (numeric tensors only).
        """
        value = self.bundle.read_tensor(name, verify=verify, copy=copy)
        if value.ndim == 0:  # TensorFlow hands back numpy scalars (and bytes for strings)
            return value[()]
        return value

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
                f"{self.bundle.num_shards} data shard(s)"
                "<table><tr><th>name</th><th>dtype</th><th>shape</th><th>shard</th><th>offset</th>"
                f"<th>bytes</th></tr>{''.join(rows)}</table>")

    def close(self) -> None:
        self.bundle.close()

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
