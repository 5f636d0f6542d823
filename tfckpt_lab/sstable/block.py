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
from dataclasses import dataclass

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


@dataclass(frozen=True)
class BlockEntry:
    """One entry of a block with the byte offsets (relative to the block start) of its parts.

    ``offset`` is where the entry's first varint starts; ``key_offset`` where the
    key delta starts; ``value_offset`` where the value starts; ``end`` is one past
    the value.
    """

    key: bytes
    value: bytes
    offset: int
    shared: int
    non_shared: int
    value_length: int
    key_offset: int
    value_offset: int
    is_restart: bool = False  # listed in the block's restart array (its key is stored whole)

    @property
    def end(self) -> int:
        return self.value_offset + self.value_length


_U32 = struct.Struct("<I")

# Prefix compression lets a hostile block make each key one byte longer than the last, so
# n entries of 4 bytes would expand to n**2/2 key bytes.  A TensorFlow block (a full key at
# least every 16 entries) copies at most ~15x its own size in shared prefixes; more than
# this many times its size is refused.  (One-byte ``shared`` values, the fast path, copy
# at most 127 bytes per 3-byte entry, so they are bounded without counting.)
MAX_SHARED_EXPANSION = 64


class Block:
    """A parsed view of one block's contents.

    ``path`` and ``base`` (the block's offset in its file) are used only to make
    error messages point at the right place.
    """

    def __init__(self, contents, *, path=None, base: int = 0):
        self.data = bytes(contents)
        self.path = path
        self.base = base
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

    # -- iteration ----------------------------------------------------------
    def items(self) -> list[tuple[bytes, bytes]]:
        """All ``(key, value)`` pairs in order (the fast path: no offsets recorded)."""
        data = self.data
        limit = self.restarts_offset
        out = []
        append = out.append
        pos = 0
        key = b""
        copied, budget = 0, MAX_SHARED_EXPANSION * len(data)
        while pos < limit:
            # Three varint32s; almost always one byte each, so special-case that.
            # (pos + 2 < len(data): the restart count's 4 bytes follow ``limit``.)
            shared = data[pos]
            non_shared = data[pos + 1]
            vlen = data[pos + 2]
            if shared | non_shared | vlen < 0x80:
                kend = pos + 3 + non_shared
                vend = kend + vlen
                if vend > limit or shared > len(key):
                    raise self._corrupt("bad entry in block (shared prefix or lengths out of range)", pos + 3)
                key = key[:shared] + data[pos + 3:kend] if shared else data[pos + 3:kend]
                append((key, data[kend:vend]))
                pos = vend
                continue
            # Rare: a length of 128 or more.  Decode the three varints the careful way.
            start = pos
            shared, pos = self._varint(pos, limit)
            non_shared, pos = self._varint(pos, limit)
            vlen, pos = self._varint(pos, limit)
            kend = pos + non_shared
            vend = kend + vlen
            if shared > len(key) or vend > limit:
                raise self._corrupt("bad entry in block (shared prefix or lengths out of range)", start)
            copied += shared
            if copied > budget:
                raise self._expansion(start)
            key = key[:shared] + data[pos:kend]
            append((key, data[kend:vend]))
            pos = vend
        return out

    def _walk(self, pos: int = 0):
        """Decode entries from ``pos`` (a restart point) to the restart array, checking each.

        Yields ``(start, shared, non_shared, value_length, key_offset, value_offset, key)``.
        """
        data = self.data
        limit = self.restarts_offset
        key = b""
        copied, budget = 0, MAX_SHARED_EXPANSION * len(data)
        while pos < limit:
            start = pos
            shared, pos = self._varint(pos, limit)
            non_shared, pos = self._varint(pos, limit)
            vlen, pos = self._varint(pos, limit)
            kend = pos + non_shared
            vend = kend + vlen
            if shared > len(key) or vend > limit:
                raise self._corrupt("bad entry in block (shared prefix or lengths out of range)", start)
            copied += shared
            if copied > budget:
                raise self._expansion(start)
            key = key[:shared] + data[pos:kend]
            yield start, shared, non_shared, vlen, pos, kend, key
            pos = vend

    def entries(self) -> list[BlockEntry]:
        """Every entry with its byte offsets (the slower, explanatory path)."""
        data = self.data
        restarts = set(self.restarts)
        return [BlockEntry(key, data[vo:vo + vlen], start, shared, non_shared, vlen, ko, vo, start in restarts)
                for start, shared, non_shared, vlen, ko, vo, key in self._walk()]

    def _varint(self, pos: int, limit: int) -> tuple[int, int]:
        value, new = decode_varint32(self.data, pos, path=self.path, base=self.base)
        if new > limit:
            raise TruncatedError("entry header runs into the restart array", path=self.path,
                                 offset=self.base + pos)
        return value, new

    def _key_at_restart(self, index: int) -> bytes:
        pos = self.restarts[index]
        limit = self.restarts_offset
        shared, pos = self._varint(pos, limit)
        non_shared, pos = self._varint(pos, limit)
        _vlen, pos = self._varint(pos, limit)
        if shared != 0 or pos + non_shared > limit:
            raise self._corrupt(f"restart point {index} does not start a full key", self.restarts[index])
        return self.data[pos:pos + non_shared]

    def seek(self, target: bytes) -> tuple[bytes, bytes] | None:
        """The first ``(key, value)`` with ``key >= target``, or None.

        Binary search over the restart points (whose keys are stored whole), then
        a scan of at most one restart interval.
        """
        keys = _RestartKeys(self)
        # Last restart whose key is < target (or 0).
        idx = max(bisect.bisect_left(keys, target) - 1, 0)
        for _start, _shared, _non_shared, vlen, _ko, vo, key in self._walk(self.restarts[idx]):
            if key >= target:
                return key, self.data[vo:vo + vlen]
        return None


class _RestartKeys:
    """A lazy sequence of restart-point keys, so ``bisect`` decodes only O(log n) of them."""

    def __init__(self, block: Block):
        self.block = block

    def __len__(self) -> int:
        return self.block.num_restarts

    def __getitem__(self, i: int) -> bytes:
        return self.block._key_at_restart(i)
