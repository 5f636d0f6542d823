"""The smallest pieces of the format: integers and checksums.

Byte grammar::

    fixed32   : 4 bytes, little-endian unsigned
    fixed64   : 8 bytes, little-endian unsigned
    varint32  : 1-5 bytes, 7 bits per byte, low groups first, high bit = "more follows"
    varint64  : 1-10 bytes, the same with up to 64 bits
    crc32c    : CRC-32C (Castagnoli) of some bytes
    masked    : ((crc >> 15) | (crc << 17)) + 0xa282ead8, modulo 2**32

TensorFlow stores *masked* CRCs so that a CRC of data that itself contains CRCs
does not degenerate.  CRC-32C comes from ``google-crc32c`` (C-accelerated);
where no wheel exists a pure-Python table implementation is used instead.
"""

from __future__ import annotations

import struct

import numpy as np

from .errors import MalformedError, TruncatedError

__all__ = [
    "MASK_DELTA",
    "crc32c",
    "crc32c_extend",
    "mask_crc",
    "unmask_crc",
    "encode_varint",
    "decode_varint",
    "decode_varint32",
    "decode_varints",
    "encode_fixed32",
    "decode_fixed32",
    "encode_fixed64",
    "decode_fixed64",
    "CRC32C_BACKEND",
]

MASK_DELTA = 0xA282EAD8
_U32 = 0xFFFFFFFF
_U64 = 0xFFFFFFFFFFFFFFFF

_FIXED32 = struct.Struct("<I")
_FIXED64 = struct.Struct("<Q")


# --- CRC-32C ---------------------------------------------------------------

def _make_pure_crc32c():
    poly = 0x82F63B78  # Castagnoli polynomial, reflected
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)

    def extend(crc: int, data) -> int:
        c = crc ^ _U32
        for b in bytes(data):
            c = table[(c ^ b) & 0xFF] ^ (c >> 8)
        return c ^ _U32

    return extend


try:  # pragma: no cover - which branch runs depends on the machine
    import google_crc32c as _gcrc

    if _gcrc.implementation != "c":
        raise ImportError("google-crc32c has no C extension here")

    _gextend = _gcrc.extend

    def crc32c_extend(crc: int, data) -> int:
        """Extend ``crc`` (an unmasked CRC-32C) with more bytes (any contiguous buffer)."""
        if type(data) is not bytes and type(data) is not np.ndarray:
            # google-crc32c takes bytes and numpy arrays but not memoryviews; wrap without copying.
            data = np.frombuffer(data, dtype=np.uint8)
        return _gextend(crc, data)

    CRC32C_BACKEND = "google-crc32c (C)"
except ImportError:  # pragma: no cover
    crc32c_extend = _make_pure_crc32c()
    CRC32C_BACKEND = "pure Python (slow; install google-crc32c)"

_pure_crc32c_extend = _make_pure_crc32c()


def crc32c(data) -> int:
    """CRC-32C of a bytes-like object (unmasked)."""
    return crc32c_extend(0, data)


def mask_crc(crc: int) -> int:
    """TensorFlow's (and LevelDB's) CRC mask."""
    return ((((crc >> 15) | (crc << 17)) & _U32) + MASK_DELTA) & _U32


def unmask_crc(masked: int) -> int:
    """Inverse of :func:`mask_crc`."""
    rot = (masked - MASK_DELTA) & _U32
    return ((rot >> 17) | (rot << 15)) & _U32


# --- fixed-width -----------------------------------------------------------

def encode_fixed32(value: int) -> bytes:
    return _FIXED32.pack(value)


def encode_fixed64(value: int) -> bytes:
    return _FIXED64.pack(value)


def decode_fixed32(buf, pos: int = 0, *, path=None, base: int = 0) -> int:
    if pos < 0 or pos + 4 > len(buf):
        raise TruncatedError("fixed32 runs past the end of the data", path=path, offset=base + pos)
    return _FIXED32.unpack_from(buf, pos)[0]


def decode_fixed64(buf, pos: int = 0, *, path=None, base: int = 0) -> int:
    if pos < 0 or pos + 8 > len(buf):
        raise TruncatedError("fixed64 runs past the end of the data", path=path, offset=base + pos)
    return _FIXED64.unpack_from(buf, pos)[0]


# --- varints ---------------------------------------------------------------

def encode_varint(value: int) -> bytes:
    """Encode a non-negative integer (up to 64 bits) as a varint."""
    if value < 0 or value > _U64:
        raise ValueError(f"varint out of range: {value}")
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_varint(buf, pos: int = 0, *, max_bytes: int = 10, path=None, base: int = 0) -> tuple[int, int]:
    """Decode a varint at ``buf[pos]``; return ``(value, position after it)``.

    ``max_bytes`` is 5 for varint32 and 10 for varint64.  ``path`` and ``base``
    only feed error messages (``base`` is ``buf``'s offset within its file).
    """
    result = 0
    shift = 0
    n = len(buf)
    start = pos
    for _ in range(max_bytes):
        if pos >= n:
            raise TruncatedError("varint runs past the end of the data", path=path, offset=base + start)
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            limit = _U32 if max_bytes <= 5 else _U64
            if result > limit:
                raise MalformedError(f"varint overflows {('32' if max_bytes <= 5 else '64')} bits",
                                     path=path, offset=base + start)
            return result, pos
        shift += 7
    raise MalformedError(f"varint longer than {max_bytes} bytes", path=path, offset=base + start)


def decode_varint32(buf, pos: int = 0, *, path=None, base: int = 0) -> tuple[int, int]:
    """Decode a varint32 at ``buf[pos]``; return ``(value, position after it)``."""
    return decode_varint(buf, pos, max_bytes=5, path=path, base=base)


def decode_varints(buf, count: int, *, path=None, base: int = 0, starts: bool = False):
    """Decode up to ``count`` varint64s lying back to back at the start of ``buf``, all at once (numpy).

    Returns ``(values, consumed)``: a ``uint64`` array and the number of bytes
    they took (with ``starts``, also an ``int64`` array of where each varint
    starts: ``(values, consumed, starts)``).  Fewer than ``count`` come back when
    ``buf`` ends first (a varint cut off at the end is left for the caller's next
    buffer).  The same rules as :func:`decode_varint`: at most 10 bytes, at most 64 bits.

    >>> decode_varints(bytes([1, 0x96, 0x01, 0x7F, 0x80]), 5)
    (array([  1, 150, 127], dtype=uint64), 4)
    """
    a = buf if isinstance(buf, np.ndarray) else np.frombuffer(buf, np.uint8)
    ends = np.flatnonzero(a < 0x80)[:count]  # the last byte of each varint
    n = len(ends)
    tail = len(a) - (int(ends[-1]) + 1 if n else 0)
    if n < count and tail >= 10:
        raise MalformedError("varint longer than 10 bytes", path=path, offset=base + len(a) - tail)
    if not n:
        empty = np.zeros(0, np.uint64)
        return (empty, 0, np.zeros(0, np.int64)) if starts else (empty, 0)
    first = np.empty(n, np.int64)
    first[0] = 0
    first[1:] = ends[:-1] + 1
    sizes = ends - first + 1
    if int(sizes.max()) > 10:
        i = int(np.argmax(sizes > 10))
        raise MalformedError("varint longer than 10 bytes", path=path, offset=base + int(first[i]))
    ten = np.flatnonzero((sizes == 10) & (a[ends] > 1))
    if len(ten):
        raise MalformedError("varint overflows 64 bits", path=path, offset=base + int(first[ten[0]]))
    used = int(ends[-1]) + 1
    if used == n:  # every varint one byte long: the common case
        values = a[:n].astype(np.uint64)
    else:
        which = np.repeat(np.arange(n), sizes)
        shift = ((np.arange(used) - first[which]) * 7).astype(np.uint64)
        values = np.bitwise_or.reduceat((a[:used] & 0x7F).astype(np.uint64) << shift, first)
    return (values, used, first) if starts else (values, used)
