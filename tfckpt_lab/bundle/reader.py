"""Reading a bundle: the header, the entries, and tensors from the data shards.

Opening a bundle reads only the ``.index`` footer and index block.  Looking up
one tensor reads one index data block and then exactly that tensor's bytes from
its shard.  Listing every entry reads every index block once and parses all the
BundleEntryProtos with a single protobuf call.

Every size, offset and shape is checked against the files before anything is
allocated, so a hostile index cannot make the reader allocate more than the
files actually hold.
"""

from __future__ import annotations

import math
import os
import threading
from itertools import compress

import numpy as np

from .. import dtypes
from ..codecs import crc32c_extend, unmask_crc
from ..errors import (
    ChecksumMismatchError,
    CheckpointNotFoundError,
    MalformedError,
    PartialTensorError,
    TensorNotFoundError,
    TruncatedError,
    UnsupportedError,
)
from .._perf import paused_gc
from ..fileio import RandomAccessFile, open_random_access
from ..sstable.reader import TableReader
from .entry import (
    HEADER_KEY,
    TENSOR_BUNDLE_VERSION,
    BundleEntry,
    BundleHeader,
    parse_entries,
    parse_entry,
    parse_header,
    summarize_entries,
)
from .naming import data_path, index_path
from .chunks import crc_of_range, read_with_crc
from .slices import TensorSlice, encode_slice_key
from .tensor_bytes import StringLengthScan, check_variant_bytes, decode_strings

__all__ = ["BundleReader"]

_MAX_SHARDS = 1 << 20  # far beyond anything real; stops absurd headers early
_NUMPY_MAX_DIMS = 64   # numpy's limit (TensorFlow allows 254)
_MAX_NBYTES = (1 << 63) - 1


class BundleReader:
    """Low-level access to one checkpoint bundle (``PREFIX.index`` + data shards).

    Args:
        prefix: the checkpoint prefix (a path without ``.index``), or an fsspec URL.
        verify: check block and tensor CRC-32Cs on every read (default True).

    Attributes:
        table: the underlying :class:`~tfckpt_lab.sstable.TableReader` of the index.
    """

    def __init__(self, prefix, *, verify: bool = True):
        self.prefix = os.fspath(prefix)
        self.index_path = index_path(self.prefix)
        self.verify = verify
        try:
            self.table = TableReader(self.index_path, verify=verify)
        except CheckpointNotFoundError:
            raise CheckpointNotFoundError(
                "no checkpoint here: the index file is missing", path=self.index_path) from None
        self._header: BundleHeader | None = None
        self._items: list[tuple[bytes, bytes]] | None = None
        self._entries: dict[bytes, BundleEntry] | None = None
        self._variable_map: dict[str, tuple[tuple[int, ...], int]] | None = None
        self._columns: tuple[list, list, list] | None = None
        self._entry_cache: dict[bytes, BundleEntry] = {}
        self._data: dict[int, RandomAccessFile] = {}
        self._lock = threading.Lock()
        self._closed = False

    # -- header & entries -----------------------------------------------------
    @property
    def header(self) -> BundleHeader:
        """The BundleHeaderProto stored under the empty key."""
        if self._header is None:
            value = self.table.get(HEADER_KEY)
            if value is None:
                raise MalformedError("index has no header entry (empty key)", path=self.index_path)
            h = parse_header(value, path=self.index_path)
            if not 1 <= h.num_shards <= _MAX_SHARDS:
                raise MalformedError(f"header says num_shards={h.num_shards}", path=self.index_path)
            if h.lowlevel.endianness not in (0, 1):
                raise MalformedError(f"header has unknown endianness {h.lowlevel.endianness}", path=self.index_path)
            if h.min_consumer > TENSOR_BUNDLE_VERSION or TENSOR_BUNDLE_VERSION in h.bad_consumers:
                raise UnsupportedError(
                    f"bundle version {h.producer} needs a reader of version >= {h.min_consumer}"
                    f" (this one is {TENSOR_BUNDLE_VERSION})", path=self.index_path)
            self._header = h
        return self._header

    format = "v2"

    @property
    def num_shards(self) -> int:
        return self.header.num_shards

    def data_paths(self) -> list[str]:
        """The data shards' paths (whether or not they exist)."""
        return [data_path(self.prefix, i, self.num_shards) for i in range(self.num_shards)]

    def table_paths(self) -> list[str]:
        """The SSTable files of this checkpoint: the ``.index``."""
        return [self.index_path]

    def meta_path(self) -> str:
        """Where a ``.meta`` graph saved with this checkpoint would be (it may not exist)."""
        return self.prefix + ".meta"

    def _index_items(self) -> list[tuple[bytes, bytes]]:
        """Every ``(key, value)`` of the index after the header (read once, cached)."""
        if self._items is None:
            with paused_gc():
                items = self.table.all_items()
            if not items or items[0][0] != HEADER_KEY:
                raise MalformedError("index does not start with the header entry", path=self.index_path)
            _ = self.header  # validates the header before trusting the entries
            del items[0]
            self._items = items
        return self._items

    def entries(self) -> dict[bytes, BundleEntry]:
        """Every entry except the header, keyed by raw key, in key order (parsed once, cached)."""
        if self._entries is None:
            items = self._index_items()
            with paused_gc():
                parsed = parse_entries(items, path=self.index_path)
                self._entries = {e.key: e for e in parsed}
            self._items = None  # the entries hold everything now
        return self._entries

    def variable_columns(self) -> tuple[list[str], list[tuple[int, ...]], list[int]]:
        """``(names, shapes, dtype numbers)`` of what :meth:`variables` lists, as parallel lists in key order.

        The fast path behind listings (cached): it decodes only names, shapes and
        dtypes (see :func:`~tfckpt_lab.bundle.entry.summarize_entries`) and builds no
        :class:`BundleEntry` objects unless the bundle has partitioned variables.
        """
        if self._columns is None:
            if self._entries is not None:
                vs = self.variables()
                cols = ([e.name for e in vs], [e.shape for e in vs], [e.dtype for e in vs])
            else:
                items = self._index_items()
                with paused_gc():
                    names, shapes, dts, partitioned = summarize_entries(items, path=self.index_path)
                    if partitioned:
                        hidden = set()
                        for i in partitioned:
                            e = parse_entry(*items[i], path=self.index_path)
                            hidden.update(encode_slice_key(e.key, s) for s in e.slices)
                        keep = [k not in hidden for k, _ in items]
                        names, shapes, dts = (list(compress(c, keep)) for c in (names, shapes, dts))
                cols = (names, shapes, dts)
            self._columns = cols
        return self._columns

    def variable_map(self) -> dict[str, tuple[tuple[int, ...], int]]:
        """``{name: (shape, dtype number)}`` of what :meth:`variables` lists, in key order (cached)."""
        if self._variable_map is None:
            names, shapes, dts = self.variable_columns()
            with paused_gc():
                self._variable_map = dict(zip(names, zip(shapes, dts)))
        return self._variable_map

    def entry(self, name) -> BundleEntry:
        """The entry stored under ``name`` (str or raw bytes key)."""
        key = name.encode("utf-8") if isinstance(name, str) else bytes(name)
        if self._entries is not None:
            e = self._entries.get(key)
        else:
            e = self._entry_cache.get(key)
            if e is None and key != HEADER_KEY:
                value = self.table.get(key)
                if value is not None:
                    e = parse_entry(key, value, path=self.index_path)
                    self._entry_cache[key] = e
        if e is None:
            shown = name if isinstance(name, str) else repr(name)
            raise TensorNotFoundError(f"no tensor named {shown!r} in this checkpoint", path=self.index_path)
        return e

    def has_entry(self, name) -> bool:
        try:
            self.entry(name)
        except TensorNotFoundError:
            return False
        return True

    def slice_piece_keys(self) -> set[bytes]:
        """Keys of the pieces of partitioned variables (what TensorFlow's listing hides)."""
        out = set()
        for e in self.entries().values():
            for s in e.slices:
                out.add(encode_slice_key(e.key, s))
        return out

    def variables(self) -> list[BundleEntry]:
        """The entries TensorFlow's reader lists: everything except partition pieces."""
        hidden = self.slice_piece_keys()
        if not hidden:
            return list(self.entries().values())
        return [e for k, e in self.entries().items() if k not in hidden]

    # -- data -----------------------------------------------------------------
    def data_file(self, shard: int) -> RandomAccessFile:
        if not 0 <= shard < self.num_shards:
            raise MalformedError(f"entry refers to shard {shard}, but the header says there are "
                                 f"{self.num_shards}", path=self.index_path)
        with self._lock:
            f = self._data.get(shard)
            if f is None:
                if self._closed:
                    raise ValueError(f"I/O operation on a closed checkpoint reader: {self.prefix}")
                f = open_random_access(data_path(self.prefix, shard, self.num_shards))
                try:
                    self._check_not_replaced()  # after opening: the shard we hold is then surely ours
                except BaseException:
                    f.close()
                    raise
                self._data[shard] = f
        return f

    def _check_not_replaced(self) -> None:
        """Refuse a data shard unless the ``.index`` at our path is still the file we opened.

        Shards are opened lazily.  A save replacing the checkpoint deletes the old index
        *before* it renames any new data shard into place, and a rotation deletes the index
        first too; so if the index we opened is still there after the shard was opened,
        the shard is the one it describes.  If it is gone or another file, the shard may hold
        another save's bytes, which our offsets would misread.
        """
        fd = getattr(self.table.file, "_fd", None)
        if fd is None:  # fsspec: no way to tell
            return
        opened = os.fstat(fd)
        try:
            now = os.stat(self.index_path)
        except OSError:
            raise CheckpointNotFoundError(
                "the index was removed after this reader opened it (the checkpoint was deleted, or is "
                "being replaced by a new save at the same prefix); its data shards can no longer be "
                "trusted (open the checkpoint again)", path=self.index_path) from None
        if (now.st_dev, now.st_ino) != (opened.st_dev, opened.st_ino):
            raise CheckpointNotFoundError(
                "this checkpoint was replaced by a newer save at the same prefix after the reader opened "
                "it; its data shards belong to the new save (open the checkpoint again)", path=self.index_path)

    def _check_range(self, e: BundleEntry) -> RandomAccessFile:
        f = self.data_file(e.shard_id)
        if e.offset + e.size > f.size:
            raise TruncatedError(
                f"tensor {e.name!r} claims bytes [{e.offset}, {e.offset + e.size}) but the shard has "
                f"only {f.size} bytes", path=f.path, offset=e.offset, end=e.offset + e.size)
        return f

    def read_raw(self, e: BundleEntry) -> bytes:
        """The stored bytes of one entry, unchecked."""
        f = self._check_range(e)
        return f.pread(e.offset, e.size)

    def read_tensor(self, name_or_entry, *, verify: bool | None = None, copy: bool = True) -> np.ndarray:
        """Read one tensor (assembling partitioned variables from their pieces).

        Args:
            verify: check the CRC-32C (defaults to the reader's setting).
            copy: with ``verify=False`` and a numeric tensor, ``copy=False`` returns a
                read-only view of the memory-mapped shard instead of a copy.
        """
        e = name_or_entry if isinstance(name_or_entry, BundleEntry) else self.entry(name_or_entry)
        verify = self.verify if verify is None else verify
        if e.slices:
            return self._assemble(e, verify)
        return self._read_whole(e, verify, copy)

    def _numpy_dtype(self, e: BundleEntry) -> np.dtype:
        dt = dtypes.numpy_dtype(e.dtype)
        if dt is None:
            raise UnsupportedError(f"tensor {e.name!r} has dtype {e.dtype_name}, which has no numpy "
                                   f"equivalent (not readable here)", path=self.index_path)
        return dt

    def _check_shape(self, e: BundleEntry, dt: np.dtype) -> None:
        """Refuse shapes numpy cannot hold, before anything is allocated for them."""
        if len(e.shape) > _NUMPY_MAX_DIMS:
            raise UnsupportedError(f"tensor {e.name!r} has rank {len(e.shape)}; numpy arrays have at most "
                                   f"{_NUMPY_MAX_DIMS} dimensions", path=self.index_path)
        n = max(dt.itemsize, 1)
        for d in e.shape:
            n *= max(d, 1)  # numpy refuses these sizes even when another dimension is 0
        if n > _MAX_NBYTES:
            cls = UnsupportedError if 0 in e.shape else MalformedError
            raise cls(f"tensor {e.name!r} has shape {list(e.shape)}: more bytes than any array can hold",
                      path=self.index_path)

    def _read_whole(self, e: BundleEntry, verify: bool, copy: bool) -> np.ndarray:
        dt = self._numpy_dtype(e)
        self._check_shape(e, dt)
        f = self._check_range(e)
        if dt == object:
            raw = f.pread(e.offset, e.size)
            return decode_strings(raw, e.shape, path=f.path, base=e.offset, verify=verify,
                                  expected_crc=unmask_crc(e.crc32c))
        count = e.num_elements
        if count * dt.itemsize != e.size:
            raise MalformedError(
                f"tensor {e.name!r}: shape {list(e.shape)} of {e.dtype_name} needs "
                f"{count * dt.itemsize} bytes but the entry says {e.size}", path=self.index_path)
        big = self.header.endianness == "big"
        if not verify and not copy and not big:
            arr = np.frombuffer(f.view(e.offset, e.size), dtype=dt, count=count)
            return arr.reshape(e.shape)
        out = np.empty(count, dtype=dt)
        raw = out.view(np.uint8)
        if verify:  # read and checksum one chunk at a time, each checksummed while still in cache
            self._compare_crc(e, f, read_with_crc(f, e.offset, raw))
        elif e.size:
            f.readinto(e.offset, raw)
        if big:
            out = out.byteswap()
        return out.reshape(e.shape)

    def _compare_crc(self, e: BundleEntry, f: RandomAccessFile, actual: int) -> None:
        stored = unmask_crc(e.crc32c)
        if actual != stored:
            raise ChecksumMismatchError(
                f"tensor {e.name!r} checksum mismatch (stored {stored:#010x}, computed {actual:#010x})",
                path=f.path, offset=e.offset, end=e.offset + e.size)

    def check_tensor(self, name_or_entry) -> None:
        """Check one stored tensor as ``read_tensor(verify=True)`` would, without building its value.

        The same errors, raised for the same reasons, but the bytes are read in
        bounded chunks and only checksummed (:func:`~tfckpt_lab.bundle.chunks.crc_of_range`),
        so checking a 10 GiB tensor takes a few MiB of memory.  String tensors
        are walked the same way (:class:`~tfckpt_lab.bundle.tensor_bytes.StringLengthScan`).
        Variant tensors are checked with
        :func:`~tfckpt_lab.bundle.tensor_bytes.check_variant_bytes`; a partitioned
        variable is assembled from its pieces (which are entries of their own).
        """
        e = name_or_entry if isinstance(name_or_entry, BundleEntry) else self.entry(name_or_entry)
        if e.slices:
            self._assemble(e, True)
            return
        if e.dtype == dtypes.DT_VARIANT:  # no numpy value, but its bytes carry checksums all the same
            f = self._check_range(e)
            check_variant_bytes(f.pread(e.offset, e.size), e.num_elements, base=e.offset, path=f.path,
                                expected_crc=unmask_crc(e.crc32c))
            return
        dt = self._numpy_dtype(e)
        self._check_shape(e, dt)
        f = self._check_range(e)
        if dt != object:
            if e.num_elements * dt.itemsize != e.size:
                raise MalformedError(
                    f"tensor {e.name!r}: shape {list(e.shape)} of {e.dtype_name} needs "
                    f"{e.num_elements * dt.itemsize} bytes but the entry says {e.size}", path=self.index_path)
            self._compare_crc(e, f, crc_of_range(f, e.offset, e.size))
            return
        scan = StringLengthScan(lambda o, n: f.pread(e.offset + o, n), e.num_elements, e.size, path=f.path,
                                base=e.offset).run()
        length_crc = f.pread(e.offset + scan.end, 4)
        stored = unmask_crc(int.from_bytes(length_crc, "little"))
        if stored != scan.crc:
            raise ChecksumMismatchError(
                f"string length checksum mismatch (stored {stored:#010x}, computed {scan.crc:#010x})",
                path=f.path, offset=e.offset + scan.end, end=e.offset + scan.end + 4)
        data_start = scan.end + 4
        if data_start + scan.total != e.size:
            pos = data_start + scan.total
            raise MalformedError(f"string tensor's elements end at byte {pos} of its {e.size} stored bytes",
                                 path=f.path, offset=e.offset + min(pos, e.size), end=e.offset + e.size)
        crc = crc_of_range(f, e.offset + data_start, scan.total, crc32c_extend(scan.crc, length_crc))
        actual, expected = crc, unmask_crc(e.crc32c)
        if actual != expected:
            raise ChecksumMismatchError(f"tensor checksum mismatch (stored {expected:#010x}, computed {actual:#010x})",
                                        path=f.path, offset=e.offset, end=e.offset + e.size)

    def _pieces(self, e: BundleEntry) -> list[tuple[TensorSlice, BundleEntry]]:
        """The stored pieces of partitioned variable ``e``, every one checked (in bounds, stored,
        shape / dtype / size as listed, within its shard, no two overlapping) before anything
        is allocated.  They need not cover ``e``: a Saver given some pieces saves only those."""
        dt = self._numpy_dtype(e)
        self._check_shape(e, dt)
        pieces = []
        used: dict[int, int] = {}  # bytes claimed per shard, to bound the allocation by the files
        for s in e.slices:
            if len(s.extents) != len(e.shape):
                raise MalformedError(f"slice {s} has rank {len(s.extents)} but {e.name!r} has rank "
                                     f"{len(e.shape)}", path=self.index_path)
            for ext, dim in zip(s.extents, e.shape):
                if not ext.is_full and (ext.start < 0 or ext.length < 0 or ext.start + ext.length > dim):
                    raise MalformedError(f"slice {s} lies outside {e.name!r}'s shape {list(e.shape)}",
                                         path=self.index_path)
            try:
                piece = self.entry(encode_slice_key(e.key, s))
            except TensorNotFoundError:
                raise MalformedError(f"piece {s} of {e.name!r} is listed but not stored",
                                     path=self.index_path) from None
            if piece.shape != s.shape(e.shape) or piece.dtype != e.dtype:
                raise MalformedError(f"piece {s} of {e.name!r} has shape {list(piece.shape)} / dtype "
                                     f"{piece.dtype_name}, expected {list(s.shape(e.shape))} / "
                                     f"{e.dtype_name}", path=self.index_path)
            # Check each piece's bytes against its shard *before* allocating the whole variable.
            f = self._check_range(piece)
            n = piece.num_elements
            if (n > piece.size) if dt == object else (n * dt.itemsize != piece.size):
                raise MalformedError(f"piece {s} of {e.name!r}: shape {list(piece.shape)} does not fit its "
                                     f"{piece.size} stored bytes", path=f.path, offset=piece.offset,
                                     end=piece.end)
            used[piece.shard_id] = used.get(piece.shard_id, 0) + piece.size
            if used[piece.shard_id] > f.size:
                raise MalformedError(f"the pieces of {e.name!r} claim more bytes than shard "
                                     f"{piece.shard_id} holds", path=f.path)
            pieces.append((s, piece))
        overlap = _first_overlap([_box(s, e.shape) for s, _ in pieces])
        if overlap is not None:
            raise MalformedError(f"piece {pieces[overlap[1]][0]} of {e.name!r} overlaps piece "
                                 f"{pieces[overlap[0]][0]}", path=self.index_path)
        return pieces

    def check_pieces(self, name_or_entry) -> int:
        """Check how a partitioned variable's pieces fit together (see :meth:`read_slice`);
        return how many of its elements they hold.  Raises :class:`MalformedError` if they do not fit."""
        e = name_or_entry if isinstance(name_or_entry, BundleEntry) else self.entry(name_or_entry)
        return sum(piece.num_elements for _, piece in self._pieces(e))

    def stored_slices(self, name_or_entry) -> list[TensorSlice]:
        """The slices a partitioned variable was saved in (``[]`` for a tensor saved whole), in the
        order its entry lists them (TensorFlow's ``LookupTensorSlices``)."""
        e = name_or_entry if isinstance(name_or_entry, BundleEntry) else self.entry(name_or_entry)
        return list(e.slices)

    def _assemble(self, e: BundleEntry, verify: bool) -> np.ndarray:
        pieces = self._pieces(e)
        covered = sum(piece.num_elements for _, piece in pieces)
        if covered != e.num_elements:  # in bounds and no overlaps: fewer elements = not covered
            raise PartialTensorError(_partial_message(e, pieces, covered), path=self.index_path)
        out = np.empty(e.shape, dtype=self._numpy_dtype(e))
        for s, piece in pieces:
            out[s.index(e.shape)] = self._read_whole(piece, verify, True)
        return out

    def read_slice(self, name_or_entry, tensor_slice: TensorSlice, *, verify: bool | None = None) -> np.ndarray:
        """One slice of a tensor, from the pieces that hold it (TensorFlow's ``RestoreV2`` with a
        ``shape_and_slices`` spec): works for a partitioned variable saved only in part as long as
        its stored pieces cover the slice, and for a tensor saved whole.

        Raises :class:`PartialTensorError` if the stored pieces do not cover ``tensor_slice``.
        """
        e = name_or_entry if isinstance(name_or_entry, BundleEntry) else self.entry(name_or_entry)
        verify = self.verify if verify is None else verify
        want = tensor_slice
        if len(want.extents) != len(e.shape):
            raise ValueError(f"slice {want} has rank {len(want.extents)} but {e.name!r} has shape {list(e.shape)}")
        for ext, dim in zip(want.extents, e.shape):
            if not ext.is_full and (ext.start < 0 or ext.length < 0 or ext.start + ext.length > dim):
                raise ValueError(f"slice {want} lies outside {e.name!r}'s shape {list(e.shape)}")
        if not e.slices:
            return np.array(self.read_tensor(e, verify=verify)[want.index(e.shape)])
        target = _box(want, e.shape)
        out = np.empty(want.shape(e.shape), dtype=self._numpy_dtype(e))
        parts, covered = [], 0
        for s, piece in self._pieces(e):
            common = _intersect(_box(s, e.shape), target)
            if common is not None:
                parts.append((s, piece, common))
                covered += math.prod(hi - lo for lo, hi in common)
        if covered != out.size:
            raise PartialTensorError(
                f"the stored slices of {e.name!r} ({_listed(e.slices)}) do not cover slice {want} "
                f"({covered} of its {out.size} elements)", path=self.index_path)
        for s, piece, common in parts:
            value = self._read_whole(piece, verify, True)
            start = _box(s, e.shape)
            out[tuple(slice(lo - t0, hi - t0) for (lo, hi), (t0, _) in zip(common, target))] = \
                value[tuple(slice(lo - p0, hi - p0) for (lo, hi), (p0, _) in zip(common, start))]
        return out

    # -- lifecycle ------------------------------------------------------------
    def close(self) -> None:
        self.table.close()
        with self._lock:
            self._closed = True
            for f in self._data.values():
                f.close()
            self._data.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _box(s: TensorSlice, shape) -> list[tuple[int, int]]:
    """A slice as ``[(start, end), ...]`` per dimension of ``shape``."""
    return [(0, dim) if ext.is_full else (ext.start, ext.start + ext.length) for ext, dim in zip(s.extents, shape)]


def _intersect(a, b) -> list[tuple[int, int]] | None:
    """The common part of two boxes, or None when it holds no element."""
    out = [(max(lo1, lo2), min(hi1, hi2)) for (lo1, hi1), (lo2, hi2) in zip(a, b)]
    return out if all(lo < hi for lo, hi in out) else None


def _first_overlap(boxes) -> tuple[int, int] | None:
    """Indices of two boxes sharing an element, or None (a sweep along the first dimension)."""
    if boxes and not boxes[0]:  # rank 0: every slice is the whole scalar
        return (0, 1) if len(boxes) > 1 else None
    order = sorted((i for i, b in enumerate(boxes) if all(lo < hi for lo, hi in b)), key=lambda i: boxes[i][0])
    active: list[int] = []
    for i in order:
        start = boxes[i][0][0]
        active = [j for j in active if boxes[j][0][1] > start]
        for j in active:
            if _intersect(boxes[i], boxes[j]) is not None:
                return (j, i)
        active.append(i)
    return None


def _listed(slices) -> str:
    shown = "; ".join(str(s) for s in slices[:8])
    return shown + (f", ... ({len(slices)} slices)" if len(slices) > 8 else "")


def _partial_message(e: BundleEntry, pieces, covered: int) -> str:
    """Why the whole of ``e`` cannot be read: which slices are stored and which part is missing."""
    missing = f"{e.num_elements - covered} elements"
    shape = list(e.shape)
    boxes = [_box(s, e.shape) for s, _ in pieces]
    # The usual case: pieces along one axis, each whole in the others -- name the missing ranges.
    for axis in range(len(shape)):
        if all(lo == 0 and hi == dim for b in boxes for k, ((lo, hi), dim) in enumerate(zip(b, shape)) if k != axis):
            gaps, pos = [], 0
            for lo, hi in sorted(b[axis] for b in boxes):
                if lo > pos:
                    gaps.append((pos, lo))
                pos = max(pos, hi)
            if pos < shape[axis]:
                gaps.append((pos, shape[axis]))
            missing = " and ".join(
                ":".join(f"{lo},{hi - lo}" if k == axis else "-" for k in range(len(shape))) for lo, hi in gaps)
            break
    hint = f"; read what is stored with get_slice(name, {str(pieces[0][0])!r})" if pieces else ""
    return (f"{e.name!r} {shape} is a partitioned variable saved only in part: its stored slices "
            f"({_listed(e.slices)}) hold {covered} of its {e.num_elements} elements, so the whole value "
            f"cannot be read (TensorFlow refuses too); missing: {missing}{hint}")
