"""Block handles, the footer and block trailers.

Byte grammar::

    block_handle : offset varint64, size varint64          (at most 20 bytes)
    block        : contents (size bytes), trailer
    trailer      : type u8 (0 = none, 1 = snappy), masked_crc32c fixed32
                   -- the CRC covers contents followed by the type byte
    footer       : metaindex_handle block_handle, index_handle block_handle,
                   zero padding to 40 bytes, magic fixed64 (0xdb4775248b80fb57)

``size`` in a handle counts the contents only, never the 5-byte trailer.

This module is the one place a trailer's checksum is computed and compared
(:func:`split_block`): readers raise on a bad verdict, the verifier reports it,
and the region model shows it, all from the same :class:`BlockTrailer`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..codecs import (
    crc32c_extend,
    decode_fixed32,
    decode_fixed64,
    decode_varint,
    encode_fixed32,
    encode_fixed64,
    encode_varint,
    mask_crc,
    unmask_crc,
)
from ..errors import ChecksumMismatchError, MalformedError, TruncatedError, UnsupportedError

__all__ = [
    "TABLE_MAGIC_NUMBER",
    "FOOTER_SIZE",
    "BLOCK_TRAILER_SIZE",
    "MAX_BLOCK_HANDLE_SIZE",
    "NO_COMPRESSION",
    "SNAPPY_COMPRESSION",
    "BlockHandle",
    "BlockTrailer",
    "Footer",
    "block_trailer",
    "check_block",
    "split_block",
    "decompress_block",
]

TABLE_MAGIC_NUMBER = 0xDB4775248B80FB57
MAX_BLOCK_HANDLE_SIZE = 20  # two varint64s
FOOTER_SIZE = 2 * MAX_BLOCK_HANDLE_SIZE + 8  # 48
BLOCK_TRAILER_SIZE = 5
NO_COMPRESSION = 0
SNAPPY_COMPRESSION = 1
COMPRESSION_NAMES = {NO_COMPRESSION: "none", SNAPPY_COMPRESSION: "snappy"}


@dataclass(frozen=True)
class BlockHandle:
    """Where a block's contents lie in the file: ``[offset, offset + size)``.

    A decoded handle also remembers how many bytes its two varints took
    (``offset_length``, ``encoded_length``), so the region model can show where
    each one ends without decoding the bytes again.  They do not take part in
    comparisons.
    """

    offset: int
    size: int
    offset_length: int = field(default=0, compare=False, repr=False)
    encoded_length: int = field(default=0, compare=False, repr=False)

    def encode(self) -> bytes:
        return encode_varint(self.offset) + encode_varint(self.size)

    @classmethod
    def decode(cls, buf, pos: int = 0, *, path=None, base: int = 0) -> tuple["BlockHandle", int]:
        start = pos
        offset, mid = decode_varint(buf, pos, path=path, base=base)
        size, pos = decode_varint(buf, mid, path=path, base=base)
        return cls(offset, size, mid - start, pos - start), pos

    @property
    def end(self) -> int:
        """End of the contents (the trailer follows)."""
        return self.offset + self.size


@dataclass(frozen=True)
class Footer:
    """The last 48 bytes of a table.

    ``noncanonical_at`` is None when the 48 bytes are exactly what :meth:`encode`
    writes for these handles (TensorFlow always writes that); otherwise it is the
    footer-relative position of the first byte that differs (a non-minimal varint,
    or non-zero padding), which no reader needs but the verifier reports.
    """

    metaindex_handle: BlockHandle
    index_handle: BlockHandle
    noncanonical_at: int | None = field(default=None, compare=False)

    def encode(self) -> bytes:
        handles = self.metaindex_handle.encode() + self.index_handle.encode()
        return handles + b"\0" * (2 * MAX_BLOCK_HANDLE_SIZE - len(handles)) + encode_fixed64(TABLE_MAGIC_NUMBER)

    @classmethod
    def decode(cls, buf, *, path=None, base: int = 0) -> "Footer":
        """Decode a footer from exactly :data:`FOOTER_SIZE` bytes starting at file offset ``base``."""
        if len(buf) < FOOTER_SIZE:
            raise TruncatedError(f"file too short for a table footer ({len(buf)} < {FOOTER_SIZE} bytes)",
                                 path=path, offset=base)
        magic = decode_fixed64(buf, FOOTER_SIZE - 8)
        if magic != TABLE_MAGIC_NUMBER:
            raise MalformedError(f"bad magic number {magic:#018x} (not an SSTable / .index file)",
                                 path=path, offset=base + FOOTER_SIZE - 8)
        meta, pos = BlockHandle.decode(buf, 0, path=path, base=base)
        index, pos = BlockHandle.decode(buf, pos, path=path, base=base)
        if pos > 2 * MAX_BLOCK_HANDLE_SIZE:
            raise MalformedError("footer block handles overrun the padding", path=path, offset=base)
        canonical = cls(meta, index).encode()
        differs = next((i for i in range(FOOTER_SIZE) if buf[i] != canonical[i]), None)
        return cls(meta, index, differs)


def block_trailer(contents, block_type: int) -> bytes:
    """The 5-byte trailer TensorFlow writes after a block's contents."""
    crc = crc32c_extend(crc32c_extend(0, contents), bytes((block_type,)))
    return bytes((block_type,)) + encode_fixed32(mask_crc(crc))


@dataclass(frozen=True)
class BlockTrailer:
    """A block's 5-byte trailer as read, with the checksum verdict computed when it was read.

    Attributes:
        handle: the block it follows (the trailer starts at ``handle.end``).
        block_type: the compression byte (0 none, 1 snappy).
        stored_crc: the masked CRC-32C as stored.
        computed_crc: the unmasked CRC-32C of the contents and the type byte, or
            None if the reader was asked not to compute it.
    """

    handle: BlockHandle
    block_type: int
    stored_crc: int
    computed_crc: int | None

    @property
    def offset(self) -> int:
        return self.handle.end

    @property
    def checksum_ok(self) -> bool | None:
        """True or False once computed; None when the checksum was not computed."""
        return None if self.computed_crc is None else unmask_crc(self.stored_crc) == self.computed_crc

    def error(self, path=None) -> ChecksumMismatchError | None:
        """The error a reader raises for this trailer (None if the checksum matches or was not computed)."""
        if self.checksum_ok is not False:
            return None
        return ChecksumMismatchError(
            f"block checksum mismatch (stored {unmask_crc(self.stored_crc):#010x}, computed "
            f"{self.computed_crc:#010x})", path=path, offset=self.handle.offset,
            end=self.handle.end + BLOCK_TRAILER_SIZE)


def split_block(raw, handle: BlockHandle, *, path=None, checksum: bool = True):
    """Split a block read from disk (``raw`` = contents + trailer) into ``(contents, BlockTrailer)``.

    Computes the trailer's CRC verdict if ``checksum`` (the one place it is
    computed); raises only when ``raw`` is not exactly one block long.
    """
    if len(raw) != handle.size + BLOCK_TRAILER_SIZE:
        raise TruncatedError(
            f"truncated block read: wanted {handle.size + BLOCK_TRAILER_SIZE} bytes, got {len(raw)}",
            path=path, offset=handle.offset, end=handle.offset + handle.size + BLOCK_TRAILER_SIZE)
    contents = memoryview(raw)[: handle.size]
    block_type = raw[handle.size]
    computed = crc32c_extend(crc32c_extend(0, contents), bytes((block_type,))) if checksum else None
    return contents, BlockTrailer(handle, block_type, decode_fixed32(raw, handle.size + 1), computed)


def decompress_block(contents, trailer: BlockTrailer, *, path=None) -> bytes | memoryview:
    """A block's contents with its compression (the trailer's type byte) undone."""
    if trailer.block_type == NO_COMPRESSION:
        return contents
    if trailer.block_type == SNAPPY_COMPRESSION:
        return _snappy_decompress(contents, trailer.handle, path)
    raise MalformedError(f"unknown block compression type {trailer.block_type}", path=path,
                         offset=trailer.handle.end)


def check_block(raw, handle: BlockHandle, *, path=None, verify: bool = True) -> bytes | memoryview:
    """Validate a block read from disk (``raw`` = contents + trailer) and return its contents.

    Checks the trailer CRC (if ``verify``), then undoes compression.
    """
    contents, trailer = split_block(raw, handle, path=path, checksum=verify)
    bad = trailer.error(path)
    if bad is not None:
        raise bad
    return decompress_block(contents, trailer, path=path)


def _snappy_decompress(contents, handle: BlockHandle, path) -> bytes:
    try:
        import cramjam
    except ImportError:
        raise UnsupportedError(
            "block is snappy-compressed; install the optional extra: pip install 'tfckpt-lab[snappy]'",
            path=path, offset=handle.offset) from None
    try:
        return bytes(cramjam.snappy.decompress_raw(bytes(contents)))
    except Exception as exc:  # cramjam raises its own DecompressionError
        raise MalformedError(f"corrupt snappy block: {exc}", path=path, offset=handle.offset,
                             end=handle.end) from None


def snappy_compress(contents) -> bytes:
    """Raw snappy compression (used only when building tables with ``compression='snappy'``)."""
    try:
        import cramjam
    except ImportError:
        raise UnsupportedError(
            "snappy compression needs the optional extra: pip install 'tfckpt-lab[snappy]'") from None
    return bytes(cramjam.snappy.compress_raw(bytes(contents)))
