"""One block of an SSTable: prefix-compressed keys with restart points.

Byte grammar::

    block      : entry*, restart fixed32 * num_restarts, num_restarts fixed32
    entry      : shared varint32, non_shared varint32, value_length varint32,
                 key_delta (non_shared bytes), value (value_length bytes)

An entry's key is the first ``shared`` bytes of the previous key followed by
``key_delta``.  Every ``restart_interval``-th entry (16 in data blocks, 1 in the
index block) stores its whole key (``shared == 0``) and its offset is listed in
the restart array, so a reader can binary-search the restarts and then scan
forward at most ``restart_interval`` entries.
"""

from __future__ import annotations

import bisect
import struct
from typing import NamedTuple

from ..codecs import decode_varint32, encode_fixed32, encode_varint
from ..errors import MalformedError, TruncatedError

__all__ = ["BlockBuilder", "Block", "BlockEntry", "DEFAULT_RESTART_INTERVAL"]

DEFAULT_RESTART_INTERVAL = 16


class BlockBuilder:
    """Accumulates sorted key/value pairs into one block's contents."""

    def __init__(self, restart_interval: int = DEFAULT_RESTART_INTERVAL):
        if restart_interval < 1:
            raise ValueError("restart_interval must be >= 1")
        self.restart_interval = restart_interval
        self.reset()

    def reset(self) -> None:
        self._buffer = bytearray()
        self._restarts = [0]
        self._counter = 0
        self._last_key = b""
        self._finished = False
        self.num_entries = 0

    def add(self, key: bytes, value: bytes) -> None:
        """Append one entry; keys must arrive in strictly increasing order."""
        assert not self._finished
        if self.num_entries and key <= self._last_key:
            raise ValueError(f"keys must be added in increasing order: {key!r} after {self._last_key!r}")
        shared = 0
        if self._counter < self.restart_interval:
            last = self._last_key
            limit = min(len(last), len(key))
            while shared < limit and last[shared] == key[shared]:
                shared += 1
        else:
            self._restarts.append(len(self._buffer))
            self._counter = 0
        buf = self._buffer
        buf += encode_varint(shared)
        buf += encode_varint(len(key) - shared)
        buf += encode_varint(len(value))
        buf += key[shared:]
        buf += value
        self._last_key = bytes(key)
        self._counter += 1
        self.num_entries += 1

    def current_size_estimate(self) -> int:
        """Size of the block if finished now (what TensorFlow compares with the block size)."""
        return len(self._buffer) + 4 * len(self._restarts) + 4

    def empty(self) -> bool:
        return self.num_entries == 0

    def finish(self) -> bytes:
        """Append the restart array and return the block contents."""
        for r in self._restarts:
            self._buffer += encode_fixed32(r)
        self._buffer += encode_fixed32(len(self._restarts))
        self._finished = True
        return bytes(self._buffer)


class BlockEntry(NamedTuple):
    """One entry of a block with the byte offsets (relative to the block start) of every field.

    ``offset`` is where the entry's first varint (``shared``) starts;
    ``shared_end`` and ``non_shared_end`` where the first and second varints end;
    ``key_offset`` where the third varint ends and the key delta starts;
    ``value_offset`` where the value starts; ``end`` is one past the value.
    These are the positions the block cursor passed while decoding the entry,
    not recomputed from the values.
    """

    key: bytes
    value: bytes
    offset: int
    shared_end: int
    non_shared_end: int
    key_offset: int
    value_offset: int
    is_restart: bool = False  # listed in the block's restart array (its key is stored whole)

    @property
    def non_shared(self) -> int:
        return self.value_offset - self.key_offset

    @property
    def shared(self) -> int:
        return len(self.key) - self.non_shared

    @property
    def value_length(self) -> int:
        return len(self.value)

    @property
    def end(self) -> int:
        return self.value_offset + len(self.value)


_U32 = struct.Struct("<I")

# Prefix compression lets a hostile block make each key one byte longer than the last, so
# n entries of 4 bytes would expand to n**2/2 key bytes.  A TensorFlow block (a full key at
# least every 16 entries) copies at most ~15x its own size in shared prefixes; more than
# this many times its size is refused.  (One-byte ``shared`` values, the fast path, copy
# at most 127 bytes per 3-byte entry, so they are bounded without counting.)
MAX_SHARED_EXPANSION = 64


class Block:
    """A parsed view of one block's contents, with its one entry decoder (:meth:`scan`).

    ``path`` and ``base`` (the block's offset in its file) are used only to make
    error messages point at the right place.  ``trailer`` is the
    :class:`~tfckpt_lab.sstable.format.BlockTrailer` the reader found after the
    contents (None for a block built in memory).
    """

    def __init__(self, contents, *, path=None, base: int = 0, trailer=None):
        self.data = bytes(contents)
        self.path = path
        self.base = base
        self.trailer = trailer
        self._records: list[BlockEntry] | None = None
        n = len(self.data)
        if n < 4:
            raise TruncatedError("block too short for its restart count", path=path, offset=base)
        (num_restarts,) = _U32.unpack_from(self.data, n - 4)
        max_restarts = (n - 4) // 4
        if num_restarts == 0 or num_restarts > max_restarts:
            raise MalformedError(f"bad restart count {num_restarts} for a {n}-byte block",
                                 path=path, offset=base + n - 4)
        self.num_restarts = num_restarts
        self.restarts_offset = n - 4 - 4 * num_restarts
        self.restarts = list(struct.unpack_from(f"<{num_restarts}I", self.data, self.restarts_offset))
        for i, r in enumerate(self.restarts):
            if r > self.restarts_offset or (i and r <= self.restarts[i - 1]):
                raise MalformedError(f"restart point {i} = {r} out of order or past the entries",
                                     path=path, offset=base + self.restarts_offset + 4 * i)

    # -- errors -------------------------------------------------------------
    def _corrupt(self, msg: str, pos: int):
        return MalformedError(msg, path=self.path, offset=self.base + pos)

    def _expansion(self, pos: int):
        return MalformedError(f"shared key prefixes expand this {len(self.data)}-byte block more than "
                              f"{MAX_SHARED_EXPANSION}-fold (no TensorFlow table does that)", path=self.path,
                              offset=self.base + pos, end=self.base + len(self.data))

    # -- the cursor ---------------------------------------------------------
    def scan(self, pos: int = 0, *, record: bool = False, target: bytes | None = None, count: int = -1):
        """Decode entries from ``pos`` (0 or a restart point): the only entry decoder of the package.

        Every use of a block goes through here: listing (:meth:`items`), lookups
        (:meth:`seek`, which stops at the first key ``>= target``), the restart keys
        a lookup bisects (``count=1``), and the explanatory walk (:meth:`records`).
        Each entry is checked as it is passed: lengths inside the entries area,
        ``shared`` no longer than the previous key, keys strictly increasing, and
        the total of shared prefixes bounded (:data:`MAX_SHARED_EXPANSION`).

        Returns ``(items, entries)``: ``items`` is ``[(key, value), ...]``; with
        ``record``, ``entries`` lists a :class:`BlockEntry` for each -- every field
        boundary passed, as found -- else it is None.
        """
        data = self.data
        limit = self.restarts_offset
        items: list[tuple[bytes, bytes]] = []
        append = items.append
        entries: list[BlockEntry] | None = [] if record else None
        restarts = self.restarts
        ri = bisect.bisect_left(restarts, pos)  # the next restart point at or after ``pos``
        next_restart = restarts[ri] if ri < len(restarts) else -1
        new = tuple.__new__  # what BlockEntry(...) does, without its Python-level __new__
        key = b""
        copied, budget = 0, MAX_SHARED_EXPANSION * len(data)
        stops = target is not None or count >= 0
        while pos < limit:
            # Three varint32s, almost always one byte each: that case is decoded inline.
            # (pos + 2 < len(data): the restart count's 4 bytes follow ``limit``.)
            shared = data[pos]
            non_shared = data[pos + 1]
            vlen = data[pos + 2]
            if shared | non_shared | vlen < 0x80:
                kstart = pos + 3
            else:  # a length of 128 or more: the careful decoder
                shared, p1 = self._varint(pos, limit)
                non_shared, p2 = self._varint(p1, limit)
                vlen, kstart = self._varint(p2, limit)
                copied += shared
                if copied > budget:
                    raise self._expansion(pos)
            kend = kstart + non_shared
            vend = kend + vlen
            if vend > limit or shared > len(key):
                raise self._corrupt("bad entry in block (shared prefix or lengths out of range)", pos)
            last = key
            key = key[:shared] + data[kstart:kend] if shared else data[kstart:kend]
            if key <= last and items:
                raise self._corrupt(f"keys out of order (or repeated) within a block: {key!r} after {last!r}",
                                    pos)
            append((key, data[kend:vend]))
            if entries is not None:
                if kstart == pos + 3:  # three one-byte varints
                    p1, p2 = pos + 1, pos + 2
                restart = pos == next_restart
                if restart:
                    ri += 1
                    next_restart = restarts[ri] if ri < len(restarts) else -1
                entries.append(new(BlockEntry, (key, items[-1][1], pos, p1, p2, kstart, kend, restart)))
            pos = vend
            if stops and (target is not None and key >= target or len(items) == count):
                break
        return items, entries

    def items(self) -> list[tuple[bytes, bytes]]:
        """All ``(key, value)`` pairs in order (the fast path: no offsets recorded)."""
        return self.scan()[0]

    def records(self) -> list[BlockEntry]:
        """Every entry, in the order stored, with the byte offsets of its fields (computed once).

        A list, not a mapping: it is what explaining and verifying a block walk, so every
        stored entry is in it, each with its own field boundaries.  (``entries()`` on the
        readers is the other thing: a mapping raw key -> entry.)
        """
        if self._records is None:
            self._records = self.scan(record=True)[1]
        return self._records

    def _varint(self, pos: int, limit: int) -> tuple[int, int]:
        value, new = decode_varint32(self.data, pos, path=self.path, base=self.base)
        if new > limit:
            raise TruncatedError("entry header runs into the restart array", path=self.path,
                                 offset=self.base + pos)
        return value, new

    def _key_at_restart(self, index: int) -> bytes:
        pos = self.restarts[index]
        items, _ = self.scan(pos, count=1)  # from a restart point, ``shared`` must be 0
        if not items:
            raise self._corrupt(f"restart point {index} does not start an entry", pos)
        return items[0][0]

    def seek(self, target: bytes) -> tuple[bytes, bytes] | None:
        """The first ``(key, value)`` with ``key >= target``, or None.

        Binary search over the restart points (whose keys are stored whole), then
        a scan of at most one restart interval.
        """
        if self.restarts_offset == 0:  # no entries at all
            return None
        keys = _RestartKeys(self)
        # Last restart whose key is < target (or 0).
        idx = max(bisect.bisect_left(keys, target) - 1, 0)
        items, _ = self.scan(self.restarts[idx], target=target)
        if items and items[-1][0] >= target:
            return items[-1]
        return None


class _RestartKeys:
    """A lazy sequence of restart-point keys, so ``bisect`` decodes only O(log n) of them."""

    def __init__(self, block: Block):
        self.block = block

    def __len__(self) -> int:
        return self.block.num_restarts

    def __getitem__(self, i: int) -> bytes:
        return self.block._key_at_restart(i)
