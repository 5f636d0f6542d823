"""Block handles, the footer and block trailers.

Byte grammar::

    block_handle : offset varint64, size varint64          (at most 20 bytes)
    block        : contents (size bytes), trailer
    trailer      : type u8 (0 = none, 1 = snappy), masked_crc32c fixed32
                   -- the CRC covers contents followed by the type byte
    footer       : metaindex_handle block_handle, index_handle block_handle,
                   zero padding to 40 bytes, magic fixed64 (0xdb4775248b80fb57)

``size`` in a handle counts the contents only, never the 5-byte trailer.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    "Footer",
    "block_trailer",
    "check_block",
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
    """Where a block's contents lie in the file: ``[offset, offset + size)``."""

    offset: int
    size: int

    def encode(self) -> bytes:
        return encode_varint(self.offset) + encode_varint(self.size)

    @classmethod
    def decode(cls, buf, pos: int = 0, *, path=None, base: int = 0) -> tuple["BlockHandle", int]:
        offset, pos = decode_varint(buf, pos, path=path, base=base)
        size, pos = decode_varint(buf, pos, path=path, base=base)
        return cls(offset, size), pos

    @property
    def end(self) -> int:
        """End of the contents (the trailer follows)."""
        return self.offset + self.size


@dataclass(frozen=True)
class Footer:
    """The last 48 bytes of a table."""

    metaindex_handle: BlockHandle
    index_handle: BlockHandle

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
        return cls(meta, index)


def block_trailer(contents, block_type: int) -> bytes:
    """The 5-byte trailer TensorFlow writes after a block's contents."""
    crc = crc32c_extend(crc32c_extend(0, contents), bytes((block_type,)))
    return bytes((block_type,)) + encode_fixed32(mask_crc(crc))


def check_block(raw, handle: BlockHandle, *, path=None, verify: bool = True) -> bytes | memoryview:
    """Validate a block read from disk (``raw`` = contents + trailer) and return its contents.

    Checks the trailer CRC (if ``verify``), then undoes compression.
    """
    if len(raw) != handle.size + BLOCK_TRAILER_SIZE:
        raise TruncatedError(
            f"truncated block read: wanted {handle.size + BLOCK_TRAILER_SIZE} bytes, got {len(raw)}",
            path=path, offset=handle.offset, end=handle.offset + handle.size + BLOCK_TRAILER_SIZE)
    contents = memoryview(raw)[: handle.size]
    block_type = raw[handle.size]
    if verify:
        stored = unmask_crc(decode_fixed32(raw, handle.size + 1))
        actual = crc32c_extend(crc32c_extend(0, contents), bytes((block_type,)))
        if stored != actual:
            raise ChecksumMismatchError(
                f"block checksum mismatch (stored {stored:#010x}, computed {actual:#010x})",
                path=path, offset=handle.offset, end=handle.end + BLOCK_TRAILER_SIZE)
    if block_type == NO_COMPRESSION:
        return contents
    if block_type == SNAPPY_COMPRESSION:
        return _snappy_decompress(contents, handle, path)
    raise MalformedError(f"unknown block compression type {block_type}", path=path, offset=handle.end)


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
