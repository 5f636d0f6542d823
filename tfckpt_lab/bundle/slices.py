"""Partitioned variables: slices and the binary keys their pieces are stored under.

A variable saved in pieces (``partitioner=...`` in TF1) has one entry under its
own name that holds no bytes but lists its pieces in ``slices``, plus one entry
per piece under a key made with TensorFlow's *ordered code*::

    slice_key : num_increasing(0)          -- one 0x00 byte: sorts before any name
                string(name)               -- name bytes, 0x00 -> 00 ff, 0xff -> ff 00,
                                              then the terminator 00 01
                num_increasing(rank)       -- length byte, then big-endian bytes
                (signed(start), signed(length)) * rank
                                           -- a whole dimension is start 0, length -1

``signed`` is ordered code's signed varint: the top bits of the first byte(s)
count the total length, the rest is the two's-complement value, so that byte
order matches numeric order.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import MalformedError

__all__ = [
    "Extent",
    "TensorSlice",
    "encode_slice_key",
    "decode_slice_key",
    "write_num_increasing",
    "write_signed_num_increasing",
    "write_ordered_string",
]

FULL = -1  # length of an extent that covers the whole dimension


def write_num_increasing(value: int) -> bytes:
    """Ordered code for an unsigned integer: a length byte, then the big-endian bytes."""
    if value < 0:
        raise ValueError("unsigned ordered code needs value >= 0")
    body = value.to_bytes((value.bit_length() + 7) // 8, "big") if value else b""
    return bytes((len(body),)) + body


def write_ordered_string(s: bytes) -> bytes:
    """Ordered code for a byte string: escape 0x00 and 0xff, then append 00 01."""
    return _escape(s) + b"\x00\x01"


def _escape(s: bytes) -> bytes:
    out = bytearray()
    for b in s:
        if b == 0x00:
            out += b"\x00\xff"
        elif b == 0xFF:
            out += b"\xff\x00"
        else:
            out.append(b)
    return bytes(out)


def _signed_length(value: int) -> int:
    x = ~value if value < 0 else value
    bits = x.bit_length()
    return 10 if bits >= 63 else bits // 7 + 1


def write_signed_num_increasing(value: int) -> bytes:
    """Ordered code for a signed 64-bit integer (1 to 10 bytes)."""
    if not -(1 << 63) <= value < (1 << 63):
        raise ValueError("signed ordered code holds 64-bit integers")
    n = _signed_length(value)
    header = ((1 << n) - 1) << (7 * n)
    raw = (value % (1 << (8 * n))) ^ header
    return raw.to_bytes(n, "big")


def read_num_increasing(buf: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(buf):
        raise ValueError("ordered-code number runs past the key")
    n = buf[pos]
    if n > 8 or pos + 1 + n > len(buf):
        raise ValueError("bad ordered-code number")
    return int.from_bytes(buf[pos + 1:pos + 1 + n], "big"), pos + 1 + n


def read_ordered_string(buf: bytes, pos: int) -> tuple[bytes, int]:
    out = bytearray()
    n = len(buf)
    while pos + 1 < n:
        b = buf[pos]
        if b == 0x00:
            nxt = buf[pos + 1]
            if nxt == 0x01:
                return bytes(out), pos + 2
            if nxt != 0xFF:
                raise ValueError("bad escape in ordered-code string")
            out.append(0)
            pos += 2
        elif b == 0xFF:
            if buf[pos + 1] != 0x00:
                raise ValueError("bad escape in ordered-code string")
            out.append(0xFF)
            pos += 2
        else:
            out.append(b)
            pos += 1
    raise ValueError("ordered-code string has no terminator")


def read_signed_num_increasing(buf: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(buf):
        raise ValueError("ordered-code signed number runs past the key")
    negative = not (buf[pos] & 0x80)
    # Count the leading bits equal to the sign-adjusted 1s across the first two bytes.
    first2 = buf[pos:pos + 2] + b"\x00"
    word = (first2[0] << 8) | first2[1]
    if negative:
        word ^= 0xFFFF
    n = 0
    while n < 10 and word & (0x8000 >> n):
        n += 1
    if n == 0 or n > 10 or pos + n > len(buf):
        raise ValueError("bad ordered-code signed number")
    raw = int.from_bytes(buf[pos:pos + n], "big") ^ (((1 << n) - 1) << (7 * n))
    if raw >= 1 << (8 * n - 1):
        raw -= 1 << (8 * n)
    return raw, pos + n


@dataclass(frozen=True)
class Extent:
    start: int = 0
    length: int = FULL  # FULL (-1): the whole dimension

    @property
    def is_full(self) -> bool:
        return self.length == FULL


@dataclass(frozen=True)
class TensorSlice:
    """Which part of a tensor a piece holds: one :class:`Extent` per dimension."""

    extents: tuple[Extent, ...]

    @classmethod
    def from_proto(cls, proto) -> "TensorSlice":
        return cls(tuple(Extent(e.start, e.length if e.HasField("length") else FULL) for e in proto.extent))

    def to_proto(self):
        from ..protos.tensor_slice_pb2 import TensorSliceProto

        p = TensorSliceProto()
        for e in self.extents:
            x = p.extent.add()
            if not e.is_full:
                x.start = e.start
                x.length = e.length
        return p

    @classmethod
    def parse(cls, spec: str) -> "TensorSlice":
        """Parse TensorFlow's slice notation: ``"4,3:-"`` (start,length per dimension, ``-`` = whole).

        >>> TensorSlice.parse("4,3:-")
        TensorSlice(extents=(Extent(start=4, length=3), Extent(start=0, length=-1)))
        """
        if not spec:
            return cls(())
        extents = []
        for part in spec.split(":"):
            if part == "-":
                extents.append(Extent())
                continue
            try:
                start, length = (int(x) for x in part.split(","))
            except ValueError:
                raise ValueError(f"bad slice {spec!r}: each dimension is 'start,length' or '-'") from None
            if start < 0 or length < 0:
                raise ValueError(f"bad slice {spec!r}: negative start or length")
            extents.append(Extent(start, length))
        return cls(tuple(extents))

    def index(self, full_shape) -> tuple[slice, ...]:
        """The numpy index that selects this piece from the full tensor."""
        out = []
        for e, dim in zip(self.extents, full_shape):
            out.append(slice(0, dim) if e.is_full else slice(e.start, e.start + e.length))
        return tuple(out)

    def shape(self, full_shape) -> tuple[int, ...]:
        return tuple((dim if e.is_full else e.length) for e, dim in zip(self.extents, full_shape))

    def __str__(self) -> str:  # TensorFlow's debug form: "0,5:-" (start,length per dim, '-' = full)
        return ":".join("-" if e.is_full else f"{e.start},{e.length}" for e in self.extents)


def encode_slice_key(name: str | bytes, tensor_slice: TensorSlice) -> bytes:
    """The index key under which TensorFlow stores one piece of a partitioned variable."""
    raw = name.encode("utf-8") if isinstance(name, str) else bytes(name)
    out = bytearray(write_num_increasing(0))
    out += write_ordered_string(raw)
    out += write_num_increasing(len(tensor_slice.extents))
    for e in tensor_slice.extents:
        out += write_signed_num_increasing(0 if e.is_full else e.start)
        out += write_signed_num_increasing(FULL if e.is_full else e.length)
    return bytes(out)


def decode_slice_key(key: bytes) -> tuple[bytes, TensorSlice]:
    """Inverse of :func:`encode_slice_key`; raises MalformedError if ``key`` is not a slice key."""
    try:
        tag, pos = read_num_increasing(key, 0)
        if tag != 0:
            raise ValueError("slice keys start with ordered-code 0")
        name, pos = read_ordered_string(key, pos)
        rank, pos = read_num_increasing(key, pos)
        extents = []
        for _ in range(rank):
            start, pos = read_signed_num_increasing(key, pos)
            length, pos = read_signed_num_increasing(key, pos)
            extents.append(Extent(start, length) if length != FULL else Extent(0, FULL))
        if pos != len(key):
            raise ValueError("trailing bytes after the slice")
    except ValueError as exc:
        raise MalformedError(f"not a valid slice key {key!r}: {exc}") from None
    return name, TensorSlice(tuple(extents))


def is_slice_key(key: bytes) -> bool:
    """Slice keys start with a 0x00 byte; tensor names never do."""
    return key[:1] == b"\x00"
