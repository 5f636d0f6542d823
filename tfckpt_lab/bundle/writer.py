"""Writing a bundle: tensor bytes into data shards, then the sorted index.

What TensorFlow's ``SaveV2`` does, step by step, and what we do the same way:

1. Each tensor is appended to its shard's data file in the order given, with no
   padding; its entry records ``shard_id``, ``offset``, ``size`` and the masked
   CRC-32C of the bytes (see :mod:`.tensor_bytes`).
2. The index is an SSTable: the header under the empty key, then one entry per
   tensor **sorted by name** (so the index order is not the data order).
3. Everything is written to ``PATH.tempstate<random>`` names, flushed, and
   renamed into place: data shards first, the index last.  A crash therefore
   never leaves an index pointing at missing data.  When the prefix already holds
   a bundle, it is replaced as :mod:`.swap` describes (old index removed before any
   new data arrives, old files kept under a backup name until the new index is in
   place), so no reader ever pairs an old index with new data.
"""

from __future__ import annotations

import bisect
import os
import secrets
import sys

import numpy as np

from .. import dtypes
from ..codecs import crc32c_extend, mask_crc
from ..dtypes import as_tensor
from ..errors import os_error
from ..fileio import FileOps
from ..sstable.builder import TableBuilder
from .entry import HEADER_KEY, TENSOR_BUNDLE_MIN_CONSUMER, TENSOR_BUNDLE_VERSION
from .naming import TEMP_MARKER, data_path, index_path
from .slices import TensorSlice, encode_slice_key
from .swap import PrefixSwap, remove_stale_temps
from .tensor_bytes import encode_strings, to_little_endian

__all__ = ["BundleWriter", "write_bundle"]

_CHUNK = 64 * 1024 * 1024  # CRC and write huge tensors in pieces to keep memory flat
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)


_FALLOC_FL_KEEP_SIZE = 1
_fallocate = None


def _preallocate(f, offset: int, nbytes: int) -> None:
    """Ask the file system for ``nbytes`` at ``offset`` in one go, leaving the file size alone.

    Linux ``fallocate(2)`` with ``FALLOC_FL_KEEP_SIZE``: blocks are allocated
    up front instead of write by write: 512 MiB in 64 writes took 84 ms instead
    of 113 ms on ext4 (median of 9).  The bytes written are unchanged.
    Where the call is missing or unsupported nothing happens (unlike
    ``posix_fallocate``, it never falls back to writing zeros).
    """
    global _fallocate
    if nbytes <= 0 or _fallocate is False or not sys.platform.startswith("linux"):
        return
    try:
        if _fallocate is None:
            import ctypes

            fn = ctypes.CDLL(None, use_errno=True).fallocate
            fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
            fn.restype = ctypes.c_int
            _fallocate = fn
        _fallocate(f.fileno(), _FALLOC_FL_KEEP_SIZE, offset, nbytes)  # a failure is only a missed speed-up
    except (OSError, AttributeError, ValueError):  # pragma: no cover - no libc fallocate here
        _fallocate = False


class BundleWriter:
    """Streams tensors into a bundle.

    >>> import tempfile, os, numpy as np
    >>> d = tempfile.mkdtemp()
    >>> w = BundleWriter(os.path.join(d, "model"))
    >>> w.add("w1", np.zeros(2, np.float32))
    >>> w.finish()
    >>> sorted(os.listdir(d))
    ['model.data-00000-of-00001', 'model.index']

    Args:
        prefix: the checkpoint prefix (``dir/model`` writes ``dir/model.index`` ...).
        num_shards: number of data files.
        durable: ``fsync`` files and the directory before and after the renames
            (survives power loss, not only a killed process; slower).
        on_file_event: called with a :class:`~tfckpt_lab.fileio.FileEvent` after each file
            is written, renamed or deleted (see :class:`~tfckpt_lab.fileio.FileOps`).
    """

    def __init__(self, prefix, *, num_shards: int = 1, durable: bool = False, on_file_event=None):
        if num_shards < 1:
            raise ValueError("num_shards must be >= 1")
        self.prefix = os.fspath(prefix)
        self.num_shards = num_shards
        self.durable = durable
        self._ops = FileOps(on_file_event, durable=durable)
        self._swap = None
        parent = os.path.dirname(os.path.abspath(self.prefix))
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError as exc:
            raise os_error(exc, parent, "creating the checkpoint's directory") from exc
        tag = TEMP_MARKER + secrets.token_hex(8)
        self._final_data = [data_path(self.prefix, i, num_shards) for i in range(num_shards)]
        self._tmp_data = [p + tag for p in self._final_data]
        self._final_index = index_path(self.prefix)
        self._tmp_index = self._final_index + tag
        self._files = []
        self._sizes = [0] * num_shards
        self._entries: dict[bytes, object] = {}
        self._slice_shards: dict[bytes, list[int]] = {}  # add_slice: the shard of each listed slice
        self._done = False
        remove_stale_temps(self.prefix, self._ops)  # what killed writes of this prefix left
        try:
            for p in self._tmp_data:  # new files only, never through a symlink planted at the name
                fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_BINARY, 0o666)
                self._files.append(os.fdopen(fd, "wb"))
        except BaseException as exc:
            self.abort()
            if isinstance(exc, OSError):
                raise os_error(exc, self._tmp_data[len(self._files)], "creating a data shard") from exc
            raise

    # -- adding tensors -------------------------------------------------------
    @staticmethod
    def _entry_proto(dtype, shape):
        from ..protos.tensor_bundle_pb2 import BundleEntryProto

        e = BundleEntryProto()
        e.dtype = dtypes.datatype_for(dtype)
        e.shape.SetInParent()  # TensorFlow always writes the shape, even for scalars
        for d in shape:
            e.shape.dim.add().size = d
        return e

    def _store(self, key: bytes, arr: np.ndarray, shard: int) -> None:
        """Append ``arr``'s bytes to shard ``shard`` and record its entry under ``key``."""
        if not 0 <= shard < self.num_shards:
            raise ValueError(f"shard {shard} out of range for {self.num_shards} shards")
        entry = self._entry_proto(arr.dtype, arr.shape)
        entry.shard_id = shard
        entry.offset = self._sizes[shard]
        size, crc = self._write_data(arr, shard)
        entry.size = size
        entry.crc32c = mask_crc(crc)
        self._sizes[shard] += size
        self._entries[key] = entry

    def _write_data(self, arr: np.ndarray, shard: int) -> tuple[int, int]:
        try:
            return self._write_data_unchecked(arr, shard)
        except OSError as exc:  # e.g. the disk is full
            raise os_error(exc, self._tmp_data[shard], "writing tensor data") from exc

    def _write_data_unchecked(self, arr: np.ndarray, shard: int) -> tuple[int, int]:
        f = self._files[shard]
        if arr.dtype == object:
            chunks, size, crc = encode_strings(arr.reshape(-1))
            for c in chunks:
                f.write(c)
            return size, crc
        arr = to_little_endian(arr)
        flat = arr.reshape(-1).view(np.uint8)
        crc = 0
        n = flat.size
        for start in range(0, n, _CHUNK):
            piece = flat[start:start + _CHUNK]
            crc = crc32c_extend(crc, piece)
            f.write(piece)
        return n, crc

    def _reserve(self, nbytes: int, shard: int = 0) -> None:
        """Preallocate the next ``nbytes`` of shard ``shard`` (a hint; see :func:`_preallocate`)."""
        _preallocate(self._files[shard], self._sizes[shard], nbytes)

    def add(self, name: str, value, *, shard: int = 0) -> None:
        """Append one tensor to data shard ``shard``."""
        key = name.encode("utf-8") if isinstance(name, str) else bytes(name)
        self._check_key(key)
        self._store(key, as_tensor(value), shard)

    def add_slice(self, name: str, full_shape, tensor_slice: TensorSlice, value, *, shard: int = 0) -> None:
        """Store one piece of a partitioned variable, as TF1's partitioned savers do.

        The first piece of ``name`` creates its description entry (dtype, full
        shape, list of slices, no bytes); every piece is stored under its slice key.

        With several shards the description entry is what TensorFlow's
        ``MergeV2Checkpoints`` makes of the per-device bundles it merges: the
        slices are listed shard by shard (in the order added within a shard), and
        the entry's ``shard_id`` is the lowest shard holding a piece -- the first
        merged bundle in which the merge met the variable.
        """
        arr = as_tensor(value)
        full_shape = tuple(int(d) for d in full_shape)
        if tensor_slice.shape(full_shape) != arr.shape:
            raise ValueError(f"slice {tensor_slice} of {full_shape} has shape "
                             f"{tensor_slice.shape(full_shape)}, but the value has shape {arr.shape}")
        key = name.encode("utf-8") if isinstance(name, str) else bytes(name)
        desc = self._entries.get(key)
        if desc is None:
            self._check_key(key)
            desc = self._entry_proto(arr.dtype, full_shape)
        elif not desc.slices:
            raise ValueError(f"{name!r} was already added as a whole tensor")
        elif tuple(d.size for d in desc.shape.dim) != full_shape:
            raise ValueError(f"{name!r} was first given full shape {[d.size for d in desc.shape.dim]}, "
                             f"now {list(full_shape)}")
        elif dtypes.datatype_for(arr.dtype) != desc.dtype:
            raise ValueError(f"slice {tensor_slice} of {name!r} has dtype {arr.dtype}, unlike the pieces before it")
        piece_key = encode_slice_key(key, tensor_slice)
        if piece_key in self._entries:
            raise ValueError(f"slice {tensor_slice} of {name!r} added twice")
        self._store(piece_key, arr, shard)
        shards = self._slice_shards.setdefault(key, [])
        at = bisect.bisect_right(shards, shard)
        shards.insert(at, shard)
        slices = list(desc.slices)
        slices.insert(at, tensor_slice.to_proto())
        del desc.slices[:]
        desc.slices.extend(slices)
        desc.shard_id = shards[0]
        self._entries[key] = desc

    def _check_key(self, key: bytes) -> None:
        if key == HEADER_KEY:
            raise ValueError("the empty name is reserved for the bundle header")
        if key in self._entries:
            raise ValueError(f"duplicate tensor name {key.decode('utf-8', 'replace')!r}")

    # -- finishing ------------------------------------------------------------
    def _header_bytes(self) -> bytes:
        from ..protos.tensor_bundle_pb2 import BundleHeaderProto

        h = BundleHeaderProto()
        h.num_shards = self.num_shards
        h.endianness = BundleHeaderProto.LITTLE
        h.version.producer = TENSOR_BUNDLE_VERSION
        h.version.min_consumer = TENSOR_BUNDLE_MIN_CONSUMER
        return h.SerializeToString()

    def finish(self) -> None:
        """Write the index, then move every file into place (data first, index last).

        An existing bundle at the prefix is replaced without a moment where its index could
        be paired with the new data (see :mod:`.swap`).  On any failure the prefix is left as
        it was and the temporary files are removed.
        """
        if self._done:
            raise ValueError("bundle already finished")
        ops = self._ops
        try:
            for f, tmp in zip(self._files, self._tmp_data):
                f.flush()
                if self.durable:
                    os.fsync(f.fileno())
                f.close()
                ops.wrote(tmp)
            with open(self._tmp_index, "xb") as f:
                tb = TableBuilder(f)
                tb.add(HEADER_KEY, self._header_bytes())
                for key in sorted(self._entries):
                    tb.add(key, self._entries[key].SerializeToString())
                tb.finish()
                f.flush()
                if self.durable:
                    os.fsync(f.fileno())
            ops.wrote(self._tmp_index)
            self._swap = PrefixSwap(self.prefix, ops=ops)
            self._swap.install(list(zip(self._tmp_data, self._final_data)), (self._tmp_index, self._final_index))
        except BaseException as exc:
            self.abort()
            if isinstance(exc, OSError):
                raise os_error(exc, None, "writing the bundle") from exc
            raise
        self._done = True
        try:  # the new bundle is in place: the write is complete whatever happens to the backup
            self._swap.finish()
        except OSError as exc:
            import warnings

            warnings.warn(f"{self.prefix}: could not delete the backup of the replaced bundle ({exc}); "
                          "the next save in this directory removes it", RuntimeWarning, stacklevel=2)

    def abort(self) -> None:
        """Close and delete the temporary files; a replacement under way is undone."""
        for f in self._files:
            try:
                f.close()
            except OSError:
                pass
        if self._swap is not None:
            try:
                self._swap.rollback()
            except OSError:  # left for a later save's recovery (see .swap)
                pass
        for p in [*self._tmp_data, self._tmp_index]:
            try:
                os.remove(p)
            except OSError:
                pass
        self._done = True

    @property
    def paths(self) -> list[str]:
        """The files this bundle consists of: the index, then the data shards."""
        return [self._final_index, *self._final_data]

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.finish()
        else:
            self.abort()


def write_bundle(prefix, tensors, *, num_shards: int = 1, shard_of=None, durable: bool = False,
                 on_file_event=None) -> str:
    """Write ``tensors`` (a mapping of name -> array-like) as a TensorFlow checkpoint bundle.

    Tensor bytes go to the data files in the mapping's order -- ``write_bundle``
    never reorders -- and the index is sorted by name, exactly as TensorFlow's
    ``SaveV2`` does, so for one shard the files are byte-identical to what
    ``SaveV2`` writes given the tensors in the same order.  (TensorFlow's TF1
    ``Saver`` sorts its variables by name first: :class:`~tfckpt_lab.Saver` does
    too; ``tf.train.Checkpoint`` writes in object-graph order:
    :func:`~tfckpt_lab.write_object_checkpoint` does too.)  With ``num_shards > 1``
    tensor ``i`` goes to shard ``shard_of(name, i)`` (default: ``i % num_shards``).

    ``on_file_event`` sees every file operation (see :class:`BundleWriter`).

    Returns the prefix.

    >>> import tempfile, os, numpy as np
    >>> from tfckpt_lab import load_checkpoint
    >>> prefix = os.path.join(tempfile.mkdtemp(), "model")
    >>> _ = write_bundle(prefix, {"w1": np.arange(2, dtype=np.float32), "step": np.int64(1000)})
    >>> int(load_checkpoint(prefix)["step"])
    1000
    """
    with BundleWriter(prefix, num_shards=num_shards, durable=durable, on_file_event=on_file_event) as w:
        plan = [(name, value, 0 if num_shards == 1 else (shard_of(name, i) if shard_of else i % num_shards))
                for i, (name, value) in enumerate(tensors.items())]
        known = [0] * num_shards  # bytes of the numeric arrays, known before writing
        for _, value, shard in plan:
            if isinstance(value, np.ndarray) and value.dtype.kind not in "OUS" and 0 <= shard < num_shards:
                known[shard] += value.nbytes
        for shard, nbytes in enumerate(known):
            w._reserve(nbytes, shard)
        for name, value, shard in plan:
            w.add(name, value, shard=shard)
    return os.fspath(prefix)
