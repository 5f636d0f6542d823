"""Big byte ranges read and checksummed in bounded chunks, on two cores when there are two.

A verified read is two jobs on the same bytes: the kernel copying them from the
page cache (``preadv``) and the CRC-32C.  Done one after the other over a whole
tensor, the CRC reads back from memory what the copy has just pushed out of the
CPU cache.  :func:`read_with_crc` copies one chunk and checksums it while it is
still in cache, then the next.

A big range is also split in two halves: a worker thread reads and checksums
the second while the caller does the first, and the two CRCs are joined with
:func:`~tfckpt_lab.codecs.crc32c_combine`.  Both threads run outside the GIL
(``preadv`` releases it; the CRC is google-crc32c's C function called through
:mod:`ctypes`, because its Python binding keeps the GIL for anything but
``bytes``; it is checked against the binding once before it is trusted).  The
halves never wait for each other until the end (a pipeline that handed each
chunk from a reader thread to the checksumming caller was tried first and was
slower than reading in sequence on the shared two-core machine).  The second
thread is used only when :func:`spare_core` says a core is likely idle: with
the machine's cores busy with other work, two threads cost more CPU time and
more wall time than one.  Without the C function, for a small range, or on a
busy machine, one thread does it all.

:func:`crc_of_range` checksums a range without keeping it, with one chunk
buffer per thread, so verifying a 10 GiB tensor needs a few MiB of memory.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..codecs import crc32c_combine, crc32c_extend

__all__ = ["CHUNK", "REMOTE_CHUNK", "PARALLEL_MIN", "read_with_crc", "crc_of_range", "released_crc32c", "spare_core"]

CHUNK = 1 << 20  # bytes per chunk: still in cache when the CRC reads them right after the copy
REMOTE_CHUNK = 64 << 20  # a remote file (fsspec) is read in few, big requests
PARALLEL_MIN = 4 << 20  # smaller ranges are done by the calling thread alone

_UNSET = object()
_released = _UNSET
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def released_crc32c():
    """``extend(crc, uint8 array) -> crc`` running outside the GIL, or None where it cannot be had.

    It is the C function inside the google-crc32c wheel, found next to its
    extension module and checked against :func:`tfckpt_lab.codecs.crc32c_extend`.
    """
    global _released
    if _released is _UNSET:
        _released = _load_released()
    return _released


def _load_released():
    import ctypes
    import glob

    try:
        import google_crc32c
    except ImportError:
        return None
    here = os.path.dirname(google_crc32c.__file__)
    for path in sorted(glob.glob(os.path.join(here, "..", "google_crc32c.libs", "libcrc32c*"))):
        try:
            fn = ctypes.CDLL(path).crc32c_extend
        except (OSError, AttributeError):
            continue
        fn.argtypes = (ctypes.c_uint32, ctypes.c_void_p, ctypes.c_size_t)
        fn.restype = ctypes.c_uint32

        def extend(crc: int, a: np.ndarray, fn=fn) -> int:
            return fn(crc, a.ctypes.data, a.nbytes)

        probe = np.frombuffer(bytes(range(256)) * 4099, np.uint8)[3:]
        if extend(0x1234, probe) == crc32c_extend(0x1234, probe) and extend(7, probe[:0]) == 7:
            return extend
    return None


def _worker() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(1, thread_name_prefix="tfckpt-read")
    return _pool


def _forget_worker() -> None:  # a forked child has the executor object but not its thread
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_worker)


def _local(f) -> bool:
    return getattr(f, "_fd", None) is not None


def spare_core() -> bool:
    """Whether a second thread would likely find an idle core: 2+ usable CPUs, 1-minute load below their count - 1.

    On a machine busy with other work a second thread only adds hand-offs and
    cache traffic (measured: more CPU time and more wall time than one thread).
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        cpus = os.cpu_count() or 1
    if cpus < 2:
        return False
    try:
        return os.getloadavg()[0] <= cpus - 1
    except (AttributeError, OSError):  # pragma: no cover - Windows
        return True


def _split(f, n: int):
    """The GIL-free CRC and the split point if ``n`` bytes of ``f`` are worth two threads, else (None, n)."""
    if n < PARALLEL_MIN or not _local(f) or not spare_core():
        return None, n
    extend = released_crc32c()
    if extend is None:
        return None, n
    return extend, (n // 2 // CHUNK) * CHUNK


def _fill(f, offset: int, arr: np.ndarray, extend, chunk: int) -> int:
    crc, pos, n = 0, 0, len(arr)
    while pos < n:
        part = arr[pos:pos + chunk]
        f.readinto(offset + pos, part)
        crc = extend(crc, part)
        pos += len(part)
    return crc


def read_with_crc(f, offset: int, view, *, chunk: int = CHUNK) -> int:
    """Fill the writable ``view`` with ``f``'s bytes at ``offset``; return their (unmasked) CRC-32C."""
    arr = np.frombuffer(memoryview(view).cast("B"), np.uint8)
    n = len(arr)
    if not _local(f):
        return _fill(f, offset, arr, crc32c_extend, max(n, 1))  # one request
    extend, half = _split(f, n)
    if extend is None:
        return _fill(f, offset, arr, crc32c_extend, chunk)
    second = _worker().submit(_fill, f, offset + half, arr[half:], extend, chunk)
    try:
        first = _fill(f, offset, arr[:half], extend, chunk)
    finally:
        crc2 = second.result()  # never leave the worker writing into a buffer we no longer own
    return crc32c_combine(first, crc2, n - half)


def _crc_alone(f, offset: int, size: int, crc: int, extend, chunk: int) -> int:
    buf = np.empty(min(size, chunk), np.uint8)
    pos = 0
    while pos < size:
        m = min(len(buf), size - pos)
        f.readinto(offset + pos, buf[:m])
        crc = extend(crc, buf[:m])
        pos += m
    return crc


def crc_of_range(f, offset: int, size: int, crc: int = 0, *, chunk: int = CHUNK) -> int:
    """Extend ``crc`` with ``f``'s bytes ``[offset, offset + size)``, one chunk buffer per thread."""
    if not _local(f):
        return _crc_alone(f, offset, size, crc, crc32c_extend, max(chunk, REMOTE_CHUNK))
    extend, half = _split(f, size)
    if extend is None:
        return _crc_alone(f, offset, size, crc, crc32c_extend, chunk)
    second = _worker().submit(_crc_alone, f, offset + half, size - half, 0, extend, chunk)
    try:
        first = _crc_alone(f, offset, half, crc, extend, chunk)
    finally:
        crc2 = second.result()
    return crc32c_combine(first, crc2, size - half)
