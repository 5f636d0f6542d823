"""Writing a whole table: data blocks, metaindex block, index block, footer.

Layout of a table file::

    data block 0, trailer
    data block 1, trailer
    ...
    metaindex block (always empty in checkpoints), trailer
    index block, trailer      -- one entry per data block: separator key -> block handle
    footer (48 bytes)

A data block is closed once its size estimate reaches ``block_size`` (256 KiB in
TensorFlow).  The index key for a finished block is the shortest key that is
``>=`` the block's last key and ``<`` the next block's first key (or, for the
last block, a short key ``>=`` its last key): that is what
:func:`find_shortest_separator` and :func:`find_short_successor` compute, byte
for byte as TensorFlow does, so our index blocks are identical to TF's.
"""

from __future__ import annotations

from .block import DEFAULT_RESTART_INTERVAL, BlockBuilder
from .format import (
    NO_COMPRESSION,
    SNAPPY_COMPRESSION,
    BlockHandle,
    Footer,
    block_trailer,
    snappy_compress,
)

__all__ = ["TableBuilder", "find_shortest_separator", "find_short_successor", "DEFAULT_BLOCK_SIZE"]

DEFAULT_BLOCK_SIZE = 256 * 1024  # TensorFlow's table::Options::block_size


def find_shortest_separator(start: bytes, limit: bytes) -> bytes:
    """A short key ``k`` with ``start <= k < limit`` (bytewise), or ``start`` itself.

    Where the keys first differ, if ``start``'s byte can be incremented and still
    stay below ``limit``'s byte, increment it and cut the key there.
    """
    n = min(len(start), len(limit))
    i = 0
    while i < n and start[i] == limit[i]:
        i += 1
    if i >= n:  # one is a prefix of the other: leave it alone
        return start
    b = start[i]
    if b < 0xFF and b + 1 < limit[i]:
        return start[:i] + bytes((b + 1,))
    return start


def find_short_successor(key: bytes) -> bytes:
    """A short key ``>= key``: increment the first byte that is not 0xff and cut there."""
    for i, b in enumerate(key):
        if b != 0xFF:
            return key[:i] + bytes((b + 1,))
    return key


class TableBuilder:
    """Streams a table to a binary file object.

    >>> import io
    >>> f = io.BytesIO()
    >>> tb = TableBuilder(f)
    >>> tb.add(b"a", b"1"); tb.add(b"b", b"2")
    >>> footer = tb.finish()
    >>> footer.index_handle
    BlockHandle(offset=36, size=14)
    >>> len(f.getvalue())  # 23 data block + 13 metaindex + 19 index + 48 footer
    103
    """

    def __init__(self, file, *, block_size: int = DEFAULT_BLOCK_SIZE,
                 restart_interval: int = DEFAULT_RESTART_INTERVAL, compression: str | None = None):
        self.file = file
        self.block_size = block_size
        if compression in (None, "none"):
            self.compression = NO_COMPRESSION
        elif compression == "snappy":
            self.compression = SNAPPY_COMPRESSION
        else:
            raise ValueError(f"unknown compression {compression!r} (use None or 'snappy')")
        self.offset = 0
        self.num_entries = 0
        self._data_block = BlockBuilder(restart_interval)
        self._index_block = BlockBuilder(1)  # every index entry is a restart point
        self._last_key = b""
        self._pending_handle: BlockHandle | None = None
        self.data_handles: list[BlockHandle] = []
        self._closed = False

    def add(self, key: bytes, value: bytes) -> None:
        """Add one entry; keys must be strictly increasing."""
        if self._closed:
            raise ValueError("table already finished")
        if self.num_entries and key <= self._last_key:
            raise ValueError(f"keys must be added in increasing order: {key!r} after {self._last_key!r}")
        if self._pending_handle is not None:
            sep = find_shortest_separator(self._last_key, key)
            self._index_block.add(sep, self._pending_handle.encode())
            self._pending_handle = None
        self._last_key = bytes(key)
        self.num_entries += 1
        self._data_block.add(key, value)
        if self._data_block.current_size_estimate() >= self.block_size:
            self.flush()

    def flush(self) -> None:
        """Close the current data block (if any) and write it out."""
        if self._data_block.empty():
            return
        self._pending_handle = self._write_block(self._data_block)
        self.data_handles.append(self._pending_handle)

    def _write_block(self, builder: BlockBuilder, compress: bool = True) -> BlockHandle:
        raw = builder.finish()
        builder.reset()
        block_type = NO_COMPRESSION
        contents = raw
        if compress and self.compression == SNAPPY_COMPRESSION:
            packed = snappy_compress(raw)
            if len(packed) < len(raw) - len(raw) // 8:  # keep it only if it saves 12.5%
                contents, block_type = packed, SNAPPY_COMPRESSION
        handle = BlockHandle(self.offset, len(contents))
        self.file.write(contents)
        self.file.write(block_trailer(contents, block_type))
        self.offset += len(contents) + 5
        return handle

    def finish(self) -> Footer:
        """Write the remaining data block, the metaindex and index blocks and the footer."""
        self.flush()
        meta_handle = self._write_block(BlockBuilder())
        if self._pending_handle is not None:
            self._index_block.add(find_short_successor(self._last_key), self._pending_handle.encode())
            self._pending_handle = None
        index_handle = self._write_block(self._index_block)
        footer = Footer(meta_handle, index_handle)
        encoded = footer.encode()
        self.file.write(encoded)
        self.offset += len(encoded)
        self._closed = True
        return footer
