"""Big byte ranges read and checksummed in bounded chunks.

A verified read is two jobs on the same bytes: the kernel copying them from the
page cache (``preadv``) and the CRC-32C.  Done one after the other over a whole
tensor, the CRC reads back from memory what the copy has just pushed out of the
CPU cache.  :func:`read_with_crc` copies one chunk and checksums it while it is
still in cache, then the next.

Overlapping the two on two threads was tried, twice (see docs/performance.md):
a reader thread handing each chunk to the checksumming caller, and two threads
each reading and checksumming half of the tensor (the CRC called outside the
GIL, the halves joined with a CRC combine).  On the shared two-core machine both
cost more CPU time and more wall time than one thread reading in chunks, even
at a load average of 3, so one thread does it all.

:func:`crc_of_range` checksums a range without keeping it, reusing one chunk
buffer, so verifying a 10 GiB tensor needs about a MiB of memory.
"""

from __future__ import annotations

import numpy as np

from ..codecs import crc32c_extend

__all__ = ["CHUNK", "REMOTE_CHUNK", "read_with_crc", "crc_of_range"]

CHUNK = 1 << 20  # bytes per chunk: still in cache when the CRC reads them right after the copy
REMOTE_CHUNK = 64 << 20  # a remote file (fsspec) is read in few, big requests


def _local(f) -> bool:
    return getattr(f, "_fd", None) is not None


def read_with_crc(f, offset: int, view, *, chunk: int = CHUNK) -> int:
    """Fill the writable ``view`` with ``f``'s bytes at ``offset``, chunk by chunk; return their (unmasked) CRC-32C."""
    view = memoryview(view).cast("B")
    n = len(view)
    if not _local(f):
        chunk = max(n, 1)  # one request
    crc, pos = 0, 0
    while pos < n:
        part = view[pos:pos + chunk]
        f.readinto(offset + pos, part)
        crc = crc32c_extend(crc, part)
        pos += len(part)
    return crc


def crc_of_range(f, offset: int, size: int, crc: int = 0, *, chunk: int = CHUNK) -> int:
    """Extend ``crc`` with ``f``'s bytes ``[offset, offset + size)``, reusing one chunk buffer."""
    if not _local(f):
        chunk = max(chunk, REMOTE_CHUNK)
    buf = np.empty(min(size, chunk), np.uint8)
    pos = 0
    while pos < size:
        n = min(len(buf), size - pos)
        f.readinto(offset + pos, buf[:n])
        crc = crc32c_extend(crc, buf[:n])
        pos += n
    return crc
