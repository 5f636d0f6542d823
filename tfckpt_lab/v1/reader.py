"""Reading a V1 checkpoint: TensorFlow's older "tensor slice" format.

A V1 checkpoint is one SSTable file (``model.ckpt``) or several that are read as
one (``model.ckpt-00000-of-00003`` ...; the ``checkpoint`` state file then names
the glob ``model.ckpt-?????-of-00003``).  There is no ``.index`` and no separate
data file: the table holds the metadata *and* the elements::

    file   : SSTable (see tfckpt_lab.sstable), keys in byte order
    key "" : SavedTensorSlices { meta: SavedTensorSliceMeta }
               meta.tensor[]  : SavedSliceMeta { name, shape, type, slice[] }
                                every tensor in this file, the slices of it this file holds
               meta.versions  : VersionDef { producer: 1, min_consumer: 0 }
    key K  : SavedTensorSlices { data: SavedSlice { name, slice, data: TensorProto } }
               K = slice key of (name, slice)   (see tfckpt_lab.bundle.slices; the same
                   ordered code that V2 uses for partition pieces; an unpartitioned
                   tensor is one slice whose extents all cover the whole dimension)
               data: the slice's elements in a typed repeated field (tfckpt_lab.v1.values)

A tensor's slices may lie in different files of a sharded checkpoint; the
reader merges every file's ``meta`` and requires the slices of each tensor to
tile its shape exactly, with no gaps and no overlaps.

Opening reads each file's footer, index block and header entry.  Reading a
tensor reads only the blocks holding its slices.  Element counts are checked
against the stored values before the output is allocated, so a hostile shape
cannot make the reader allocate more than the files hold.  There are no
per-tensor checksums in V1; each table block's CRC-32C is checked (``verify``).
"""

from __future__ import annotations

import bisect
import glob
import math
import os
import re
from dataclasses import dataclass, field

import numpy as np

from .. import dtypes
from .._deprecation import renamed
from ..bundle.entry import key_to_name
from ..bundle.slices import Extent, TensorSlice, decode_slice_key, encode_slice_key, is_slice_key
from ..errors import CheckpointError, CheckpointNotFoundError, MalformedError, TensorNotFoundError, UnsupportedError
from ..fileio import is_url
from ..sstable.reader import TableReader
from .values import decode_slice_values, v1_field

__all__ = [
    "V1Entry",
    "V1Reader",
    "v1_files",
    "is_v1_checkpoint",
    "HEADER_KEY",
    "V1_VERSION",
    "SHARD_SUFFIX_GLOB",
]

HEADER_KEY = b""               # the key of the metadata entry (sorts first)
V1_VERSION = 1                 # VersionDef.producer TensorFlow writes; our reader's version
V1_MIN_CONSUMER = 0            # VersionDef.min_consumer TensorFlow writes
SHARD_SUFFIX_GLOB = "-?????-of-?????"   # sharded files: PREFIX-00000-of-00003
_SHARD_NAME = re.compile(r"-\d{5}-of-\d{5}$")
_SHARD_PATTERN = re.compile(r"-(\d{5}|\?{5})-of-(\d{5}|\?{5})$")  # a shard's name, or the glob of all
_GLOB_CHARS = re.compile(r"[*?\[]")
_MAX_RANK = 254                # TensorShape's limit in TensorFlow
_MAX_FILES = 1 << 16


def _pb():
    from ..protos import saved_tensor_slice_pb2

    return saved_tensor_slice_pb2


def _decode_error():
    from google.protobuf.message import DecodeError

    return DecodeError


# -- finding the files ------------------------------------------------------------


def v1_files(prefix) -> list[str]:
    """The files of the V1 checkpoint at ``prefix``, sorted; ``[]`` if there are none.

    ``prefix`` may be a file (``model.ckpt``, or one shard), a glob as TensorFlow
    writes into the ``checkpoint`` state file (``model.ckpt-?????-of-00003``), or
    the stem of sharded files (``model.ckpt`` for ``model.ckpt-0000k-of-0000N``).
    """
    p = os.fspath(prefix)
    if is_url(p):
        return _v1_url_files(p)
    if _GLOB_CHARS.search(p):
        return sorted(f for f in glob.glob(p) if os.path.isfile(f))
    if os.path.isfile(p):
        return [p]
    shards = sorted(f for f in glob.glob(glob.escape(p) + SHARD_SUFFIX_GLOB) if os.path.isfile(f))
    return shards


def _v1_url_files(url: str) -> list[str]:
    """:func:`v1_files` for a URL (shards are found by listing, which HTTP servers cannot do)."""
    from .. import remote

    if _GLOB_CHARS.search(url.split("://", 1)[1]):
        return remote.glob(url)
    if remote.exists(url):
        return [url]
    return remote.glob(glob.escape(url) + SHARD_SUFFIX_GLOB)


def is_v1_checkpoint(prefix) -> bool:
    """True if ``prefix`` names V1 file(s) whose first table's header key holds a SavedTensorSlices ``meta``.

    Reads only the first file's footer, index block and first data block.
    """
    p = os.fspath(prefix)
    if os.path.exists(p + ".index"):
        return False
    files = v1_files(p)
    if not files:
        return False
    try:
        with TableReader(files[0]) as t:
            value = t.get(HEADER_KEY)
        if value is None:
            return False
        msg = _pb().SavedTensorSlices.FromString(value)
    except (CheckpointError, _decode_error()):
        return False
    return msg.HasField("meta")


# -- entries ----------------------------------------------------------------------


@dataclass(frozen=True)
class V1Entry:
    """One tensor of a V1 checkpoint, or one stored slice of it.

    Shaped like :class:`~tfckpt_lab.bundle.entry.BundleEntry` so the friendly
    reader can treat both formats alike.

    Attributes:
        name: the tensor's name.
        key: the table key of the stored slice (for a partitioned tensor: the
            header key ``b""``, where its description lives).
        dtype: TensorFlow's DataType number; ``dtype_name`` gives its name.
        shape: the full shape (for a slice entry: the slice's own shape).
        shard_id: which file (index into ``V1Reader.paths``) holds the slice.
        offset, size: the byte range of the stored SavedTensorSlices value in that
            file; None until located (listings do not read data blocks; ``entry()`` does).
        slices: for a tensor saved in several slices, the slices (like V2's
            partitioned variables); empty for a tensor stored whole.
        tensor_slice: for a slice entry, the slice it holds; None for a tensor entry.
        lowlevel: one level deeper, the ``SavedSliceMeta`` message (tensor entry) or None
            (slice entry); ``.proto`` is an old name for it.
    """

    name: str
    key: bytes
    dtype: int
    shape: tuple[int, ...]
    shard_id: int
    offset: int | None
    size: int | None
    slices: tuple[TensorSlice, ...]
    tensor_slice: TensorSlice | None = None
    lowlevel: object = field(default=None, repr=False, compare=False)
    crc32c: int | None = None  # V1 has no per-tensor checksum

    proto = renamed("proto", "lowlevel")

    @property
    def dtype_name(self) -> str:
        return dtypes.dtype_name(self.dtype)

    @property
    def num_elements(self) -> int:
        return math.prod(self.shape)

    @property
    def end(self) -> int | None:
        """One past the stored value's last byte (None until located)."""
        return None if self.offset is None or self.size is None else self.offset + self.size

    @property
    def is_partitioned(self) -> bool:
        return bool(self.slices)


@dataclass
class _Tensor:
    name: str
    raw_name: bytes
    dtype: int
    shape: tuple[int, ...]
    pieces: list[tuple[TensorSlice, int]]   # (slice, file index)
    protos: list[object]


def _normalize(s: TensorSlice, shape) -> TensorSlice:
    """The same slice with every extent explicit (so 'full' and '0,dim' compare equal)."""
    return TensorSlice(tuple(Extent(0, d) if e.is_full else e for e, d in zip(s.extents, shape)))


# -- the reader -------------------------------------------------------------------


class V1Reader:
    """Low-level access to a V1 checkpoint (one file, or several shards read as one).

    Args:
        prefix: a V1 file, a shard glob, or the stem of shard files (see :func:`v1_files`).
        verify: check every table block's CRC-32C when it is read (default True).

    Attributes:
        paths: the files, sorted; ``shard_id`` indexes this list.
        tables: one :class:`~tfckpt_lab.sstable.TableReader` per file.
        metas: the SavedTensorSliceMeta of each file (the escape hatch).
    """

    def __init__(self, prefix, *, verify: bool = True):
        self.prefix = os.fspath(prefix)
        self.verify = verify
        self.paths = v1_files(self.prefix)
        if not self.paths:
            raise CheckpointNotFoundError("no V1 checkpoint file(s) here", path=self.prefix)
        if len(self.paths) > _MAX_FILES:
            raise UnsupportedError(f"{len(self.paths)} files match; refusing more than {_MAX_FILES}",
                                   path=self.prefix)
        self.tables: list[TableReader] = []
        try:
            for p in self.paths:
                self.tables.append(TableReader(p, verify=verify))
            self.metas = [self._read_meta(i) for i in range(len(self.tables))]
            self._tensors = self._merge()
        except BaseException:
            self.close()
            raise

    # -- metadata -------------------------------------------------------------
    def _value_offset(self, i: int, key: bytes) -> int | None:
        loc = self._locate(i, key)
        return None if loc is None else loc[1]

    def _parse(self, i: int, key: bytes, value: bytes):
        try:
            return _pb().SavedTensorSlices.FromString(value)
        except _decode_error() as exc:
            raise MalformedError(f"value under key {key!r} is not a SavedTensorSlices ({exc})",
                                 path=self.paths[i], offset=self._value_offset(i, key)) from None

    def _read_meta(self, i: int):
        path = self.paths[i]
        value = self.tables[i].get(HEADER_KEY)
        if value is None:
            raise MalformedError("not a V1 checkpoint: the table has no header entry (empty key)", path=path)
        msg = self._parse(i, HEADER_KEY, value)
        if not msg.HasField("meta") or msg.HasField("data"):
            raise MalformedError("not a V1 checkpoint: the header entry holds no SavedTensorSliceMeta",
                                 path=path, offset=self._value_offset(i, HEADER_KEY))
        v = msg.meta.versions
        if v.min_consumer > V1_VERSION or V1_VERSION in v.bad_consumers:
            raise UnsupportedError(f"V1 checkpoint version {v.producer} needs a reader of version >= "
                                   f"{v.min_consumer} (this one is {V1_VERSION})", path=path)
        return msg.meta

    def _merge(self) -> dict[str, _Tensor]:
        out: dict[str, _Tensor] = {}
        for i, meta in enumerate(self.metas):
            path = self.paths[i]
            for t in meta.tensor:
                raw = t.name
                name = key_to_name(raw)
                if t.shape.unknown_rank:
                    raise MalformedError(f"tensor {name!r} has a shape of unknown rank", path=path)
                shape = tuple(d.size for d in t.shape.dim)
                if len(shape) > _MAX_RANK or any(d < 0 for d in shape):
                    raise MalformedError(f"tensor {name!r} has an invalid shape {list(shape)}", path=path)
                known = out.get(name)
                if known is None:
                    known = out[name] = _Tensor(name, raw, t.type, shape, [], [])
                elif known.shape != shape or known.dtype != t.type:
                    raise MalformedError(
                        f"tensor {name!r} is {dtypes.dtype_name(t.type)} {list(shape)} here but "
                        f"{dtypes.dtype_name(known.dtype)} {list(known.shape)} in another file", path=path)
                known.protos.append(t)
                for sp in t.slice:
                    s = TensorSlice.from_proto(sp)
                    self._check_slice(s, shape, name, path)
                    known.pieces.append((s, i))
        return dict(sorted(out.items()))

    @staticmethod
    def _check_slice(s: TensorSlice, shape, name: str, path) -> None:
        if len(s.extents) != len(shape):
            raise MalformedError(f"slice {s} has rank {len(s.extents)} but {name!r} has rank {len(shape)}",
                                 path=path)
        for e, d in zip(s.extents, shape):
            if not e.is_full and (e.start < 0 or e.length < 0 or e.start + e.length > d):
                raise MalformedError(f"slice {s} lies outside {name!r}'s shape {list(shape)}", path=path)

    # -- listing --------------------------------------------------------------
    format = "v1"

    @property
    def num_shards(self) -> int:
        return len(self.paths)

    def data_paths(self) -> list[str]:
        """The files holding tensor values: for V1, the table files themselves."""
        return list(self.paths)

    def table_paths(self) -> list[str]:
        """The SSTable files of this checkpoint (every file, for V1)."""
        return list(self.paths)

    def meta_path(self) -> str:
        """Where a ``.meta`` graph saved with this checkpoint would be (``STEM.meta``; it may not exist)."""
        m = _SHARD_PATTERN.search(self.prefix)
        return (self.prefix[: m.start()] if m else self.prefix) + ".meta"

    def _tensor(self, name) -> _Tensor:
        if isinstance(name, bytes):
            name = key_to_name(name)
        t = self._tensors.get(name)
        if t is None:
            raise TensorNotFoundError(f"no tensor named {name!r} in this V1 checkpoint", path=self.prefix)
        return t

    def _entry(self, t: _Tensor, *, locate: bool) -> V1Entry:
        proto = t.protos[0] if len(t.protos) == 1 else None
        whole = len(t.pieces) == 1 and all(e.is_full or (e.start == 0 and e.length == d)
                                           for e, d in zip(t.pieces[0][0].extents, t.shape))
        if not whole:
            return V1Entry(t.name, HEADER_KEY, t.dtype, t.shape, t.pieces[0][1] if t.pieces else 0, None, None,
                           tuple(s for s, _ in t.pieces), None, proto)
        s, i = t.pieces[0]
        key = encode_slice_key(t.raw_name, s)
        offset = size = None
        if locate:
            loc = self._locate(i, key)
            if loc is not None:
                _, offset, size = loc
        return V1Entry(t.name, key, t.dtype, t.shape, i, offset, size, (), None, proto)

    def variables(self) -> list[V1Entry]:
        """One entry per tensor, sorted by name, from the metadata alone (byte ranges not located)."""
        return [self._entry(t, locate=False) for t in self._tensors.values()]

    def variable_map(self) -> dict[str, tuple[tuple[int, ...], int]]:
        """``{name: (shape, dtype number)}``, sorted by name."""
        return {n: (t.shape, t.dtype) for n, t in self._tensors.items()}

    def variable_columns(self) -> tuple[list[str], list[tuple[int, ...]], list[int]]:
        """``(names, shapes, dtype numbers)``, sorted by name."""
        ts = list(self._tensors.values())
        return [t.name for t in ts], [t.shape for t in ts], [t.dtype for t in ts]

    def entry(self, name) -> V1Entry:
        """The entry of tensor ``name``, with the byte range of its stored value if stored whole.

        ``name`` may also be a raw slice key (bytes starting with 0x00): the entry of that stored slice.
        """
        if isinstance(name, bytes) and is_slice_key(name):
            for e in self._slice_entries(name):
                return e
            raise TensorNotFoundError(f"no stored slice under key {name!r}", path=self.prefix)
        return self._entry(self._tensor(name), locate=True)

    def has_entry(self, name) -> bool:
        if isinstance(name, bytes):
            name = key_to_name(name)
        return name in self._tensors

    def describe_key(self, key: bytes, shard_id: int = 0, offset: int | None = None,
                     size: int | None = None) -> V1Entry | None:
        """The stored slice a table key names (tensor, dtype, the slice's shape), or None if it names none."""
        if key == HEADER_KEY:
            return None
        try:
            raw, s = decode_slice_key(key)
        except MalformedError:
            return None  # TensorFlow ignores keys it does not look up
        t = self._tensors.get(key_to_name(raw))
        if t is None or len(s.extents) != len(t.shape):
            return None
        return V1Entry(t.name, key, t.dtype, s.shape(t.shape), shard_id, offset, size, (), s)

    def _slice_entries(self, only: bytes | None = None) -> list[V1Entry]:
        out = []
        for i, table in enumerate(self.tables):
            for _, handle in table.index_entries:
                block = table.read_block(handle)
                for be in block.records():
                    if only is not None and be.key != only:
                        continue
                    e = self.describe_key(be.key, i, block.base + be.value_offset, be.value_length)
                    if e is not None:
                        out.append(e)
        return out

    def entries(self) -> dict[bytes, V1Entry]:
        """Every stored slice with its byte range, keyed by raw key, in key order (reads every block)."""
        return dict(sorted(((e.key, e) for e in self._slice_entries()), key=lambda item: item[0]))

    # -- data -----------------------------------------------------------------
    def _locate(self, i: int, key: bytes) -> tuple[bytes, int, int] | None:
        """``(value, offset, size)`` of ``key`` in file ``i``, or None."""
        table = self.tables[i]
        j = bisect.bisect_left([k for k, _ in table.index_entries], key)
        if j >= len(table.index_entries):
            return None
        block = table.data_block(j)
        for be in block.records():
            if be.key == key:
                return be.value, block.base + be.value_offset, be.value_length
        return None

    def _read_slice(self, t: _Tensor, s: TensorSlice, i: int) -> np.ndarray:
        path = self.paths[i]
        key = encode_slice_key(t.raw_name, s)
        value = self.tables[i].get(key)
        if value is None:
            raise MalformedError(f"the metadata lists slice {s} of {t.name!r}, but there is no value "
                                 f"under its key {key!r}", path=path)
        msg = self._parse(i, key, value)
        if not msg.HasField("data"):
            raise MalformedError(f"value under key {key!r} holds no SavedSlice", path=path,
                                 offset=self._value_offset(i, key))
        ss = msg.data
        stored = TensorSlice.from_proto(ss.slice)
        if ss.name != t.raw_name or len(stored.extents) != len(t.shape) or \
                _normalize(stored, t.shape) != _normalize(s, t.shape):
            raise MalformedError(f"value under key {key!r} is slice {stored} of {key_to_name(ss.name)!r}, "
                                 f"expected slice {s} of {t.name!r}", path=path, offset=self._value_offset(i, key))
        try:
            return decode_slice_values(ss.data, t.dtype, s.shape(t.shape), what=f"tensor {t.name!r}, slice {s}",
                                       path=path)
        except MalformedError as exc:
            raise MalformedError(exc.message, path=path, offset=self._value_offset(i, key)) from None

    def read_tensor(self, name_or_entry, *, verify: bool | None = None, copy: bool = True) -> np.ndarray:
        """The full value of one tensor, assembled from its slices (strings: object arrays of bytes).

        ``verify`` and ``copy`` are accepted for the same signature as
        :meth:`BundleReader.read_tensor <tfckpt_lab.bundle.BundleReader.read_tensor>`;
        block CRCs are checked as set when opening, and the result is always a fresh array.
        """
        name = name_or_entry.name if isinstance(name_or_entry, V1Entry) else name_or_entry
        t = self._tensor(name)
        np_dtype = dtypes.numpy_dtype(t.dtype)
        if np_dtype is None:
            raise UnsupportedError(f"tensor {t.name!r} has dtype {dtypes.dtype_name(t.dtype)}, which has no "
                                   "numpy equivalent (not readable here)", path=self.paths[t.pieces[0][1]]
                                   if t.pieces else self.prefix)
        v1_field(t.dtype)
        total = 1
        for d in t.shape:
            total *= d
        claimed = sum(int(np.prod(s.shape(t.shape), dtype=object)) for s, _ in t.pieces)
        if claimed != total:
            raise MalformedError(f"the slices of {t.name!r} hold {claimed} elements, the tensor has {total}",
                                 path=self.paths[t.pieces[0][1]] if t.pieces else self.prefix)
        pieces = [(s, self._read_slice(t, s, i)) for s, i in t.pieces]
        if len(pieces) == 1:
            return pieces[0][1].reshape(t.shape)
        # every element count is now backed by stored values, so these allocations are bounded
        out = np.empty(t.shape, dtype=np_dtype)
        seen = np.zeros(t.shape, dtype=bool)
        for s, arr in pieces:
            idx = s.index(t.shape)
            if seen[idx].any():
                raise MalformedError(f"slice {s} of {t.name!r} overlaps another slice",
                                     path=self.paths[t.pieces[0][1]])
            seen[idx] = True
            out[idx] = arr
        return out

    # -- lifecycle ------------------------------------------------------------
    def close(self) -> None:
        for t in self.tables:
            t.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"<V1Reader {self.prefix!r}: {len(self._tensors)} tensors in {len(self.paths)} file(s)>"

