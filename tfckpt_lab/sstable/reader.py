"""Opening a table: footer, index block, point lookups, ordered iteration.

Opening reads only the footer and the index block.  A point lookup bisects the
index block's separator keys to find the one data block that can hold the key,
reads and checks that block, and binary-searches its restart points.  Ordered
iteration reads the data blocks in file order.

Every block goes through :meth:`TableReader.read_block` (checksum verdict,
decompression) and then :meth:`Block.scan <tfckpt_lab.sstable.block.Block.scan>`
(entries), whether it is read for a value, explained byte by byte
(:mod:`tfckpt_lab.explain.index`) or verified
(:mod:`tfckpt_lab.checkpoint.verify`).  :meth:`TableReader.inspect_block` is the
same read for those two, recording problems instead of raising them, and
:meth:`TableReader.spans` says what every byte range of the file is.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from dataclasses import dataclass

from ..errors import CheckpointError, MalformedError, TruncatedError
from ..fileio import RandomAccessFile, open_random_access
from .block import Block
from .format import BLOCK_TRAILER_SIZE, FOOTER_SIZE, BlockHandle, BlockTrailer, Footer, decompress_block, split_block

__all__ = ["TableReader", "TableSpan", "InspectedBlock"]


@dataclass(frozen=True)
class TableSpan:
    """One byte range of a table file, as the reader located it.

    ``kind`` is ``"data_block"`` (``index`` = its position in the index block),
    ``"metaindex_block"``, ``"index_block"``, ``"footer"`` or ``"gap"`` (bytes no
    handle points at).  Block spans include their 5-byte trailer.  ``overlaps``
    is True for a block that starts before the previous span ended (never in a
    TensorFlow file; such a span is listed but does not advance the tiling).
    """

    start: int
    end: int
    kind: str
    handle: BlockHandle | None = None
    index: int | None = None
    separator: bytes | None = None
    overlaps: bool = False


@dataclass
class InspectedBlock:
    """A block read for explaining or verifying: what was found, with problems recorded, not raised.

    ``trailer`` always holds the checksum verdict; ``block`` is the parsed block
    with every entry's field boundaries (None if it could not be parsed, and for
    a compressed block when ``error`` says why); ``error`` is the first problem
    met after the checksum (truncation, unknown compression, a bad entry).
    """

    handle: BlockHandle
    trailer: BlockTrailer | None
    block: Block | None
    error: CheckpointError | None

    @property
    def compressed(self) -> bool:
        return self.trailer is not None and self.trailer.block_type != 0


class TableReader:
    """Read-only access to one SSTable file.

    Args:
        file: a path, an fsspec URL, or an open :class:`~tfckpt_lab.fileio.RandomAccessFile`.
        verify: check every block's CRC when it is read (default True).
        cache_blocks: how many parsed data blocks to keep.

    Attributes:
        footer: the decoded :class:`~tfckpt_lab.sstable.format.Footer`.
        index_entries: ``[(separator_key, BlockHandle), ...]`` from the index block.
    """

    def __init__(self, file, *, verify: bool = True, cache_blocks: int = 8):
        self.file = file if isinstance(file, RandomAccessFile) else open_random_access(file)
        self.path = self.file.path
        self.verify = verify
        size = self.file.size
        if size < FOOTER_SIZE:
            raise TruncatedError(f"file too short to be a table ({size} bytes; the footer alone is "
                                 f"{FOOTER_SIZE})", path=self.path, offset=0, end=size)
        self.footer_offset = size - FOOTER_SIZE
        self.footer = Footer.decode(self.file.pread(self.footer_offset, FOOTER_SIZE), path=self.path,
                                    base=self.footer_offset)
        self._check_handle(self.footer.metaindex_handle, "metaindex")
        self._check_handle(self.footer.index_handle, "index")
        self.index_block = self._read_index_block(self.footer.index_handle)
        entries = []
        prev_key, prev_end = None, 0
        for key, value in self.index_block.items():
            handle, pos = BlockHandle.decode(value, 0, path=self.path, base=self.footer.index_handle.offset)
            if pos != len(value):
                raise MalformedError("index entry value is not exactly one block handle", path=self.path,
                                     offset=self.footer.index_handle.offset)
            self._check_handle(handle, "data")
            # Data blocks are written one after another and indexed by increasing separator
            # keys.  Insisting on that keeps lookups (which bisect the keys) sound, and means
            # reading every block reads each byte of the file at most once.
            if prev_key is not None and key <= prev_key:
                raise MalformedError(f"index block keys out of order: {key!r} after {prev_key!r}",
                                     path=self.path, offset=self.footer.index_handle.offset,
                                     end=self.footer.index_handle.end)
            if handle.offset < prev_end:
                raise MalformedError(f"data block [{handle.offset}, +{handle.size}) overlaps the previous "
                                     f"one (which ends at byte {prev_end})", path=self.path,
                                     offset=handle.offset, end=handle.end)
            prev_key, prev_end = key, handle.end + BLOCK_TRAILER_SIZE
            entries.append((key, handle))
        self.index_entries = entries
        self._index_keys = [k for k, _ in entries]
        self._cache: OrderedDict[int, Block] = OrderedDict()
        self._cache_size = cache_blocks
        self._lock = threading.Lock()

    # -- blocks -------------------------------------------------------------
    def _check_handle(self, handle: BlockHandle, what: str) -> None:
        if handle.offset + handle.size + BLOCK_TRAILER_SIZE > self.footer_offset:
            raise MalformedError(
                f"{what} block handle [{handle.offset}, +{handle.size}) points past the data region "
                f"(which ends at the footer, byte {self.footer_offset})", path=self.path,
                offset=handle.offset)

    def read_block(self, handle: BlockHandle) -> Block:
        """Read, check and parse the block at ``handle`` (no caching).

        Raises :class:`~tfckpt_lab.errors.ChecksumMismatchError` on a bad trailer
        CRC when the reader verifies.
        """
        return self._load(handle, "requested", checksum=self.verify, strict=True)

    def _read_index_block(self, handle: BlockHandle) -> Block:
        """The index block, its checksum computed even when not verifying (the verdict is kept)."""
        return self._load(handle, "index", checksum=True, strict=self.verify)

    def _split(self, handle: BlockHandle, what: str, checksum: bool):
        self._check_handle(handle, what)
        raw = self.file.pread(handle.offset, handle.size + BLOCK_TRAILER_SIZE)
        return split_block(raw, handle, path=self.path, checksum=checksum)

    def _load(self, handle: BlockHandle, what: str, *, checksum: bool, strict: bool) -> Block:
        contents, trailer = self._split(handle, what, checksum)
        bad = trailer.error(self.path)
        if bad is not None and strict:
            raise bad
        return Block(decompress_block(contents, trailer, path=self.path), path=self.path, base=handle.offset,
                     trailer=trailer)

    def inspect_block(self, handle: BlockHandle, *, entries: bool = True) -> InspectedBlock:
        """Read the block at ``handle`` the way :meth:`read_block` does, recording instead of raising.

        The checksum is always computed (``trailer.checksum_ok``); the contents are
        parsed even when it does not match, so a damaged block can still be shown.
        With ``entries`` every entry is decoded, with its field boundaries
        (:meth:`Block.records <tfckpt_lab.sstable.block.Block.records>`).
        """
        trailer = None
        try:
            contents, trailer = self._split(handle, "requested", True)
            block = Block(decompress_block(contents, trailer, path=self.path), path=self.path,
                          base=handle.offset, trailer=trailer)
            if entries:
                block.records()
        except CheckpointError as exc:
            return InspectedBlock(handle, trailer, None, exc)
        return InspectedBlock(handle, trailer, block, None)

    def spans(self) -> list[TableSpan]:
        """Every byte range of the file, in file order: blocks (with trailers), gaps, the footer.

        Gaps between blocks are ``"gap"`` spans; a block starting before the
        previous span ends is listed with ``overlaps=True``.
        """
        foot = self.footer
        blocks = [TableSpan(h.offset, h.end + BLOCK_TRAILER_SIZE, "data_block", h, i, sep)
                  for i, (sep, h) in enumerate(self.index_entries)]
        blocks.append(TableSpan(foot.metaindex_handle.offset, foot.metaindex_handle.end + BLOCK_TRAILER_SIZE,
                                "metaindex_block", foot.metaindex_handle))
        blocks.append(TableSpan(foot.index_handle.offset, foot.index_handle.end + BLOCK_TRAILER_SIZE,
                                "index_block", foot.index_handle))
        blocks.sort(key=lambda b: (b.start, b.end))
        blocks.append(TableSpan(self.footer_offset, self.footer_offset + FOOTER_SIZE, "footer"))
        out: list[TableSpan] = []
        pos = 0
        for b in blocks:
            if b.start > pos:
                out.append(TableSpan(pos, b.start, "gap"))
            if b.start < pos:
                out.append(TableSpan(b.start, b.end, b.kind, b.handle, b.index, b.separator, overlaps=True))
            else:
                out.append(b)
            pos = max(pos, b.end)
        return out

    def data_block(self, i: int) -> Block:
        """The ``i``-th data block (cached)."""
        handle = self.index_entries[i][1]
        with self._lock:
            block = self._cache.get(handle.offset)
            if block is not None:
                self._cache.move_to_end(handle.offset)
                return block
        block = self.read_block(handle)
        with self._lock:
            self._cache[handle.offset] = block
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return block

    @property
    def num_data_blocks(self) -> int:
        return len(self.index_entries)

    # -- lookups ------------------------------------------------------------
    def get(self, key: bytes) -> bytes | None:
        """The value stored under ``key``, or None."""
        i = bisect.bisect_left(self._index_keys, key)
        if i >= len(self._index_keys):
            return None
        found = self.data_block(i).seek(key)
        if found is not None and found[0] == key:
            return found[1]
        return None

    def items(self):
        """Yield every ``(key, value)`` in key order, checking that order as it goes."""
        last = None
        for i in range(len(self.index_entries)):
            block = self.data_block(i) if self._cache_size else self.read_block(self.index_entries[i][1])
            for key, value in block.items():
                if last is not None and key <= last:
                    raise MalformedError(f"keys out of order: {key!r} after {last!r}", path=self.path,
                                         offset=self.index_entries[i][1].offset)
                last = key
                yield key, value

    def all_items(self) -> list[tuple[bytes, bytes]]:
        """Every ``(key, value)`` in order, reading each block once without polluting the cache.

        (Each block's scan checks the order within it; this checks it across blocks.)
        """
        out: list[tuple[bytes, bytes]] = []
        last = None
        for _, handle in self.index_entries:
            items = self.read_block(handle).items()
            if items:
                if last is not None and items[0][0] <= last:
                    raise MalformedError(f"keys out of order across blocks: {items[0][0]!r} after {last!r}",
                                         path=self.path, offset=handle.offset)
                last = items[-1][0]
            out.extend(items)
        return out

    def close(self) -> None:
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
