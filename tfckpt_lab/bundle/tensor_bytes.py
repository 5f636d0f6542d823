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
    """Where each piece of a stored string tensor lies (offsets relative to the tensor's start)."""

    def __init__(self, length_spans, lengths, length_crc_offset, data_offsets):
        self.length_spans = length_spans  # [(start, end)] of each varint
        self.lengths = lengths
        self.length_crc_offset = length_crc_offset
        self.data_offsets = data_offsets  # start of each element's bytes


def parse_string_layout(buf, count: int, *, path=None, base: int = 0, verify: bool = True) -> StringLayout:
    """Parse the lengths and length checksum of a stored string tensor of ``count`` elements."""
    total = len(buf)
    pos = 0
    spans = []
    lengths = []
    crc = 0
    for _ in range(count):
        start = pos
        n, pos = decode_varint(buf, pos, path=path, base=base)
        spans.append((start, pos))
        lengths.append(n)
        if verify:
            crc = crc32c_extend(crc, _U32.pack(n) if n <= _MAX_U32 else _U64.pack(n))
    if pos + 4 > total:
        raise TruncatedError("string tensor ends inside its length checksum", path=path, offset=base + pos)
    stored = _U32.unpack_from(buf, pos)[0]
    if verify and unmask_crc(stored) != crc:
        raise ChecksumMismatchError(
            f"string length checksum mismatch (stored {unmask_crc(stored):#010x}, computed {crc:#010x})",
            path=path, offset=base + pos, end=base + pos + 4)
    crc_offset = pos
    pos += 4
    offsets = []
    for n in lengths:
        offsets.append(pos)
        pos += n
        if pos > total:
            raise MalformedError(f"string element of {n} bytes runs past the tensor's {total} stored bytes",
                                 path=path, offset=base + offsets[-1])
    if pos != total:
        raise MalformedError(f"string tensor has {total - pos} unexplained trailing bytes", path=path,
                             offset=base + pos, end=base + total)
    return StringLayout(spans, lengths, crc_offset, offsets)


def decode_strings(buf, shape, *, path=None, base: int = 0, verify: bool = True,
                   expected_crc: int | None = None) -> np.ndarray:
    """Decode a stored string tensor into an object array of ``bytes``.

    ``expected_crc`` is the entry's unmasked CRC; it is checked when ``verify``.
    """
    count = 1
    for d in shape:  # exact Python ints: numpy's int64 product can wrap round to a small number
        count *= int(d)
    if count > len(buf):  # every element needs at least one length byte
        raise MalformedError(f"string tensor claims {count} elements but has only {len(buf)} bytes",
                             path=path, offset=base)
    layout = parse_string_layout(buf, count, path=path, base=base, verify=verify)
    if verify and expected_crc is not None:
        # The entry CRC covers lengths as fixed-width ints, not the varint bytes we read,
        # so rebuild it: CRC(lengths as u32/u64) -> CRC(masked length crc) -> CRC(data).
        crc = 0
        for n in layout.lengths:
            crc = crc32c_extend(crc, _U32.pack(n) if n <= _MAX_U32 else _U64.pack(n))
        crc = crc32c_extend(crc, bytes(buf[layout.length_crc_offset:layout.length_crc_offset + 4]))
        data_start = layout.length_crc_offset + 4
        actual = crc32c_extend(crc, buf[data_start:])
        if actual != expected_crc:
            raise ChecksumMismatchError(
                f"tensor checksum mismatch (stored {expected_crc:#010x}, computed {actual:#010x})",
                path=path, offset=base, end=base + len(buf))
    out = np.empty(count, dtype=object)
    mv = memoryview(buf)
    for i, (start, n) in enumerate(zip(layout.data_offsets, layout.lengths)):
        out[i] = bytes(mv[start:start + n])
    return out.reshape(tuple(shape))


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
