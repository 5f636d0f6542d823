"""How one tensor's values are laid out in a data shard, and the entry checksum.

Numeric tensors::

    values : every element, row-major, little-endian, natural width
             (bool and int4/uint4: one byte each)
    crc32c : CRC-32C of exactly those bytes

String tensors (``DT_STRING``)::

    lengths     : varint64 * n      -- byte length of each element
    length_crc  : fixed32           -- masked CRC-32C of the lengths, where each
                                       length is fed to the CRC as a little-endian
                                       uint32 (uint64 if it exceeds 2**32-1), NOT
                                       as its varint bytes
    bytes       : the n elements' bytes, concatenated
    crc32c      : CRC over (lengths as uint32/uint64, length_crc, bytes)

Variant tensors (``DT_VARIANT``, e.g. a ``tf.data`` iterator's state), per element::

    length   : varint64       -- byte length of the serialized VariantTensorDataProto
    proto    : byte[length]
    elem_crc : fixed32        -- the running CRC so far, masked: over every earlier element's
                                 (length as little-endian uint64, proto, elem_crc), then this
                                 element's length (as uint64) and proto
    crc32c   : the running CRC after the last elem_crc (stored in the entry, as always)

They cannot be read into numpy, but :func:`check_variant_bytes` verifies both checksums.

The entry's ``crc32c`` field stores the *masked* checksum in every case.
"""

from __future__ import annotations

import struct

import numpy as np

from ..codecs import crc32c_extend, decode_varint, encode_varint, mask_crc, unmask_crc
from ..errors import ChecksumMismatchError, MalformedError, TruncatedError

__all__ = [
    "to_little_endian",
    "encode_strings",
    "StringLayout",
    "parse_string_layout",
    "decode_strings",
    "check_variant_bytes",
]

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_MAX_U32 = 0xFFFFFFFF


def to_little_endian(arr: np.ndarray) -> np.ndarray:
    """A C-contiguous, little-endian version of ``arr`` (no copy when it already is one)."""
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return np.ascontiguousarray(arr)


def _as_bytes(x) -> bytes:
    if isinstance(x, bytes):
        return x
    if isinstance(x, str):
        return x.encode("utf-8")
    if isinstance(x, (bytearray, memoryview, np.bytes_)):
        return bytes(x)
    if isinstance(x, np.str_):
        return str(x).encode("utf-8")
    raise TypeError(f"string tensors hold bytes or str, not {type(x).__name__}")


def encode_strings(values) -> tuple[list[bytes], int, int]:
    """Encode the flat sequence ``values`` in TensorFlow's string layout.

    Returns ``(chunks, size, crc)``: the byte chunks to write in order, their total
    length, and the unmasked CRC-32C TensorFlow stores (masked) in the entry.
    """
    elems = [_as_bytes(v) for v in values]
    lengths = bytearray()
    length_crc_input = bytearray()
    for e in elems:
        n = len(e)
        lengths += encode_varint(n)
        length_crc_input += _U32.pack(n) if n <= _MAX_U32 else _U64.pack(n)
    crc = crc32c_extend(0, length_crc_input)
    masked = _U32.pack(mask_crc(crc))
    crc = crc32c_extend(crc, masked)
    for e in elems:
        crc = crc32c_extend(crc, e)
    chunks = [bytes(lengths), masked, *elems]
    return chunks, len(lengths) + 4 + sum(len(e) for e in elems), crc


class StringLayout:
    """Where each piece of a stored string tensor lies (offsets relative to the tensor's start).

    The per-element facts are kept in two compact arrays, ``length_array`` (uint64, the
    element lengths) and ``width_array`` (uint8, the bytes of each length varint): 9 bytes
    per element, never more than 9 times the bytes the tensor occupies.  The list
    properties (``lengths``, ``length_spans``, ``data_offsets``) build Python objects for
    every element on each call; use them only for tensors you mean to show element by element.
    """

    def __init__(self, length_array: np.ndarray, width_array: np.ndarray, length_crc_offset: int,
                 lengths_crc: int | None = None):
        self.length_array = length_array
        self.width_array = width_array
        self.length_crc_offset = length_crc_offset
        self.data_start = length_crc_offset + 4
        self.lengths_crc = lengths_crc  # unmasked CRC-32C of the lengths (None when not verified)

    def __len__(self) -> int:
        return len(self.length_array)

    @property
    def lengths(self) -> list[int]:
        return self.length_array.tolist()

    @property
    def length_spans(self) -> list[tuple[int, int]]:
        """``[(start, end)]`` of each length varint."""
        ends = np.cumsum(self.width_array, dtype=np.int64)
        return list(zip((ends - self.width_array).tolist(), ends.tolist()))

    @property
    def data_offsets(self) -> list[int]:
        """The start of each element's bytes."""
        ends = np.cumsum(self.length_array, dtype=np.uint64)
        return (ends - self.length_array + np.uint64(self.data_start)).tolist()


_STEP = 1 << 18  # lengths examined per step: bounds the temporaries to a few MB whatever the tensor


def _decode_length_varints(buf, a: np.ndarray, count: int, *, path, base) -> tuple[np.ndarray, np.ndarray, int]:
    """The first ``count`` varint64s of ``a`` (``buf`` as uint8): ``(values, widths, end position)``.

    Vectorised a window at a time; a bad varint is handed to :func:`decode_varint`, so its error
    (runs past the end, longer than 10 bytes, overflows 64 bits) is the scalar decoder's, word for word.
    """
    values = np.empty(count, np.uint64)
    widths = np.empty(count, np.uint8)
    span = max(_STEP, 10)  # a window always has room for one whole varint
    pos = done = 0
    while done < count:
        window = a[pos:pos + span]
        ends = np.flatnonzero(window < 0x80)[:count - done]  # the last byte of each varint
        k = len(ends)
        if k == 0:  # no varint ends in this window: too long, or cut off by the end of the data
            decode_varint(buf, pos, path=path, base=base)
            raise AssertionError("unreachable: decode_varint accepted an unterminated varint")  # pragma: no cover
        starts = np.empty(k, np.int64)
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
        w = ends - starts + 1
        bad = (w > 10) | ((w == 10) & (window[ends] > 1))
        if bad.any():
            decode_varint(buf, pos + int(starts[int(np.argmax(bad))]), path=path, base=base)
            raise AssertionError("unreachable: decode_varint accepted a bad varint")  # pragma: no cover
        n = int(ends[-1]) + 1
        chunk = window[:n]
        if n == k:  # every length is one byte (elements shorter than 128 bytes): the common case
            values[done:done + k] = chunk
        else:
            shifts = (np.arange(n, dtype=np.int64) - np.repeat(starts, w)).astype(np.uint64) * np.uint64(7)
            parts = (chunk & 0x7F).astype(np.uint64) << shifts
            values[done:done + k] = np.add.reduceat(parts, starts)  # the 7-bit groups never overlap
        widths[done:done + k] = w
        done += k
        pos += n
    return values, widths, pos


def _lengths_crc(values: np.ndarray) -> int:
    """CRC-32C of the lengths as TensorFlow feeds them: little-endian uint32, or uint64 above 2**32-1."""
    crc = 0
    for i in range(0, len(values), _STEP):
        v = values[i:i + _STEP]
        if int(v.max()) <= _MAX_U32:
            crc = crc32c_extend(crc, v.astype("<u4"))
        else:  # mixed widths: keep all 8 bytes of the long lengths, the low 4 of the others
            keep = np.ones((len(v), 8), dtype=bool)
            keep[:, 4:] = (v > _MAX_U32)[:, None]
            crc = crc32c_extend(crc, v.astype("<u8").view(np.uint8).reshape(-1, 8)[keep])
    return crc


def _check_element_sizes(values: np.ndarray, data_start: int, total: int, *, path, base) -> None:
    """The elements must exactly fill ``[data_start, total)``; raise naming the first that does not."""
    avail = total - data_start
    used = 0
    for i in range(0, len(values), _STEP):
        # clipping keeps the running sum far from 2**64; a clipped length overruns anyway
        v = np.minimum(values[i:i + _STEP], np.uint64(avail + 1))
        cs = np.cumsum(v, dtype=np.uint64)
        if used + int(cs[-1]) > avail:
            j = int(np.argmax(cs > np.uint64(avail - used)))
            start = data_start + used + int(cs[j] - v[j])
            raise MalformedError(f"string element of {int(values[i + j])} bytes runs past the tensor's {total} "
                                 "stored bytes", path=path, offset=base + start)
        used += int(cs[-1])
    if used != avail:
        raise MalformedError(f"string tensor has {avail - used} unexplained trailing bytes", path=path,
                             offset=base + data_start + used, end=base + total)


def parse_string_layout(buf, count: int, *, path=None, base: int = 0, verify: bool = True) -> StringLayout:
    """Parse the lengths and length checksum of a stored string tensor of ``count`` elements.

    Checks, in TensorFlow's order and before anything per element is built: the ``count``
    length varints, the length checksum (when ``verify``), then that the elements exactly
    fill the rest of ``buf``.  Memory: 9 bytes per element plus a few MB, bounded by ``len(buf)``.
    """
    total = len(buf)
    if count > total:  # every element needs at least one length byte: memory stays within 9 * len(buf)
        raise MalformedError(f"string tensor claims {count} elements but has only {total} bytes",
                             path=path, offset=base)
    a = np.frombuffer(buf, dtype=np.uint8)
    values, widths, pos = _decode_length_varints(buf, a, count, path=path, base=base)
    if pos + 4 > total:
        raise TruncatedError("string tensor ends inside its length checksum", path=path, offset=base + pos)
    crc = None
    if verify:
        crc = _lengths_crc(values)
        stored = _U32.unpack_from(buf, pos)[0]
        if unmask_crc(stored) != crc:
            raise ChecksumMismatchError(
                f"string length checksum mismatch (stored {unmask_crc(stored):#010x}, computed {crc:#010x})",
                path=path, offset=base + pos, end=base + pos + 4)
    _check_element_sizes(values, pos + 4, total, path=path, base=base)
    return StringLayout(values, widths, pos, crc)


def _split_elements(buf, layout: StringLayout) -> np.ndarray:
    """The elements as an object array of ``bytes`` (empty ones share the one ``b""``)."""
    lengths = layout.length_array
    out = np.empty(len(lengths), dtype=object)
    out.fill(b"")
    nonempty = np.flatnonzero(lengths)
    if len(nonempty) == 0:
        return out
    sizes = lengths[nonempty]
    starts = np.cumsum(sizes, dtype=np.uint64) - sizes + np.uint64(layout.data_start)
    data = buf if isinstance(buf, bytes) else memoryview(buf).cast("B")
    wrap = (lambda x: x) if isinstance(buf, bytes) else bytes
    for i in range(0, len(nonempty), _STEP):
        for j, s, n in zip(nonempty[i:i + _STEP].tolist(), starts[i:i + _STEP].tolist(),
                           sizes[i:i + _STEP].tolist()):
            out[j] = wrap(data[s:s + n])
    return out


def decode_strings(buf, shape, *, path=None, base: int = 0, verify: bool = True,
                   expected_crc: int | None = None) -> np.ndarray:
    """Decode a stored string tensor into an object array of ``bytes``.

    ``expected_crc`` is the entry's unmasked CRC; it is checked when ``verify``, like the
    length checksum, before any element is built.
    """
    count = 1
    for d in shape:  # exact Python ints: numpy's int64 product can wrap round to a small number
        count *= int(d)
    layout = parse_string_layout(buf, count, path=path, base=base, verify=verify)
    if verify and expected_crc is not None:
        # The entry CRC covers the lengths as fixed-width ints (the length checksum's own input),
        # then the four stored length-checksum bytes, then the elements' bytes.
        mv = memoryview(buf).cast("B")
        crc = crc32c_extend(layout.lengths_crc, mv[layout.length_crc_offset:layout.data_start])
        actual = crc32c_extend(crc, mv[layout.data_start:])
        if actual != expected_crc:
            raise ChecksumMismatchError(
                f"tensor checksum mismatch (stored {expected_crc:#010x}, computed {actual:#010x})",
                path=path, offset=base, end=base + len(buf))
    return _split_elements(buf, layout).reshape(tuple(shape))


def check_variant_bytes(buf, count: int, *, path=None, base: int = 0, expected_crc: int | None = None) -> None:
    """Walk a stored variant tensor of ``count`` elements and check every checksum in it.

    ``expected_crc`` is the entry's unmasked CRC.  Raises a CorruptionError naming the byte range.
    """
    total = len(buf)
    mv = memoryview(buf)
    pos = 0
    crc = 0
    for _ in range(count):
        start = pos
        n, pos = decode_varint(buf, pos, path=path, base=base)
        if pos + n + 4 > total:
            raise TruncatedError(f"variant element of {n} bytes runs past the tensor's {total} stored bytes",
                                 path=path, offset=base + start, end=base + total)
        crc = crc32c_extend(crc32c_extend(crc, _U64.pack(n)), mv[pos:pos + n])
        stored = _U32.unpack_from(buf, pos + n)[0]
        if unmask_crc(stored) != crc:
            raise ChecksumMismatchError(
                f"variant element checksum mismatch (stored {unmask_crc(stored):#010x}, computed "
                f"{crc:#010x})", path=path, offset=base + start, end=base + pos + n + 4)
        crc = crc32c_extend(crc, mv[pos + n:pos + n + 4])
        pos += n + 4
    if pos != total:
        raise MalformedError(f"variant tensor has {total - pos} unexplained trailing bytes", path=path,
                             offset=base + pos, end=base + total)
    if expected_crc is not None and crc != expected_crc:
        raise ChecksumMismatchError(
            f"tensor checksum mismatch (stored {expected_crc:#010x}, computed {crc:#010x})",
            path=path, offset=base, end=base + total)


class StringLengthScan:
    """Walk the lengths of a stored string tensor in batches, without holding them all.

    ``read(offset, n)`` returns the tensor's bytes ``[offset, offset + n)`` (offsets
    relative to the tensor's start; ``size`` is its stored size).  Iterating yields
    ``(first element index, varint start positions, lengths)`` per batch (numpy
    arrays); afterwards ``end`` is where the length checksum starts, ``crc`` the
    CRC-32C of the lengths as TensorFlow feeds them to it (fixed-width, see the
    module docstring) and ``total`` the sum of the lengths.  Memory is bounded by
    ``chunk``, however many elements there are; the varints are decoded by
    :func:`tfckpt_lab.codecs.decode_varints`.
    """

    def __init__(self, read, count: int, size: int, *, path=None, base: int = 0, chunk: int = 1 << 18):
        self.read, self.count, self.size, self.path, self.base, self.chunk = read, count, size, path, base, chunk
        self.end = self.crc = self.total = None

    def __iter__(self):
        from ..codecs import decode_varints

        if self.count > self.size:  # every element needs at least one length byte
            raise MalformedError(f"string tensor claims {self.count} elements but has only {self.size} bytes",
                                 path=self.path, offset=self.base)
        pos, done, crc, total = 0, 0, 0, 0
        while done < self.count:
            n = min(self.chunk, self.size - pos)
            if n <= 0:
                raise TruncatedError("varint runs past the end of the data", path=self.path, offset=self.base + pos)
            values, used, starts = decode_varints(self.read(pos, n), self.count - done, path=self.path,
                                                  base=self.base + pos, starts=True)
            if not used:
                if pos + n >= self.size:
                    raise TruncatedError("varint runs past the end of the data", path=self.path,
                                         offset=self.base + pos)
                self.chunk *= 2  # a varint longer than what is left of this chunk: read more next time
                continue
            biggest = int(values.max())
            if biggest > self.size:
                i = int(np.argmax(values))
                raise MalformedError(f"string element of {biggest} bytes runs past the tensor's {self.size} "
                                     "stored bytes", path=self.path, offset=self.base + pos + int(starts[i]))
            if biggest <= _MAX_U32:
                crc = crc32c_extend(crc, values.astype("<u4"))
            else:
                for v in values.tolist():
                    crc = crc32c_extend(crc, _U32.pack(v) if v <= _MAX_U32 else _U64.pack(v))
            total += int(values.sum(dtype=np.uint64))  # at most chunk * size: no wrap-around
            yield done, starts + pos, values
            done += len(values)
            pos += used
        if pos + 4 > self.size:
            raise TruncatedError("string tensor ends inside its length checksum", path=self.path,
                                 offset=self.base + pos)
        self.end, self.crc, self.total = pos, crc, total

    def run(self) -> "StringLengthScan":
        """Walk every length (discarding the batches) and return self, with ``end``, ``crc`` and ``total`` set."""
        for _ in self:
            pass
        return self
