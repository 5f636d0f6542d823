"""Big byte ranges read and checksummed in bounded chunks.

A verified read is two jobs on the same bytes: the kernel copying them from the
page cache (``preadv``) and the CRC-32C.  Done one after the other over a whole
tensor, the CRC reads back from memory what the copy has just pushed out of the
CPU cache.  :func:`read_with_crc` copies one chunk and checksums it while it is
still in cache, then the next.

Overlapping the two on two threads was tried three times (see docs/performance.md):
a reader thread handing each chunk to the checksumming caller; two threads each
reading and checksumming half of the tensor (the CRC called outside the GIL, the
halves joined with a CRC combine); and two threads taking chunks from one counter.
google-crc32c releases the GIL only for ``bytes`` of 1 MiB or more, never for the
writable arrays read into, so the overlap needs the ``crc32c`` package's CRC.
On the shared two-core machine, where another process keeps one core busy,
none beat one thread: the halves cost about the same CPU and 5-10% more wall
time, the shared counter 60% more CPU. So one thread does it all, and a
verified read costs the raw read plus one CRC pass over data in cache
(google-crc32c: ~14 GB/s here, against ~7 GB/s for the kernel's copy).

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
