"""Every read of a checkpoint file goes through here: local files by ``os.pread``, anything else by fsspec.

Everything above this module asks for byte ranges and never seeks, so readers are
safe to share between threads.  Local files can also be memory-mapped for
zero-copy tensor views.

Opening is the one place that decides what may be read (:func:`open_regular_file`):
the file is opened with ``O_NONBLOCK`` (a FIFO with no writer cannot make the open
wait), then ``fstat`` must say it is a regular file (a FIFO, ``/dev/zero`` or a
socket would otherwise block or never end).  Files read whole -- a ``.meta``, the
``checkpoint`` state file -- also have a size cap per kind (:func:`read_whole_file`).
"""

from __future__ import annotations

import mmap
import os
import stat
import threading

from .errors import CheckpointNotFoundError, FileTooLargeError, TruncatedError, UnsupportedError

__all__ = ["RandomAccessFile", "open_random_access", "is_url", "open_regular_file", "read_whole_file",
           "MAX_META_BYTES"]

_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)

#: A ``.meta`` is one serialized MetaGraphDef.  Protobuf refuses to serialize (and TensorFlow
#: therefore to write) a message of more than 2**31 - 1 bytes, the largest C ``int``; no
#: larger ``.meta`` can come from TensorFlow, and a larger one would not parse anyway.
MAX_META_BYTES = 2**31 - 1


def open_regular_file(path) -> tuple[int, os.stat_result]:
    """Open ``path`` read-only without blocking; return ``(fd, stat)`` if it is a regular file.

    Raises :class:`~tfckpt_lab.CheckpointNotFoundError` for a missing file or a directory and
    :class:`~tfckpt_lab.UnsupportedError` for a FIFO, device or socket (symlinks are followed,
    so a link to ``/dev/zero`` is refused too).  The caller owns (and closes) the descriptor.
    """
    path = os.fspath(path)
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
        # (It has no effect on regular files, the only kind accepted below.)
        fd = os.open(path, os.O_RDONLY | _O_NONBLOCK | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise CheckpointNotFoundError("file not found", path=path) from None
    except IsADirectoryError:
        raise CheckpointNotFoundError("is a directory, not a file", path=path) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        if stat.S_ISDIR(st.st_mode):
            raise CheckpointNotFoundError("is a directory, not a file", path=path)
        raise UnsupportedError("not a regular file (a FIFO, device or socket); checkpoint files must be "
                               "regular files", path=path)
    return fd, st


def read_whole_file(path, *, limit: int, what: str = "file") -> bytes:
    """All the bytes of the regular file ``path``, refused unread if it holds more than ``limit``.

    ``what`` names the kind of file in the error (``".meta file"``).  Raises as
    :func:`open_regular_file`, and :class:`~tfckpt_lab.FileTooLargeError` beyond the cap.
    """
    with RandomAccessFile(path) as f:
        if f.size > limit:
            raise FileTooLargeError(f"{what} of {f.size:,} bytes is larger than the {limit:,} bytes "
                                    f"any {what} can hold; not read", path=f.path)
        return f.pread(0, f.size)


def is_url(path) -> bool:
    return isinstance(path, str) and "://" in path and not path.startswith("file://")


class RandomAccessFile:
    """A read-only file addressed by byte offsets."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self._fd = None
        fd, st = open_regular_file(self.path)
        self._fd = fd
        self.size = st.st_size
        self._mmap = None
        self._lock = threading.Lock()

    def pread(self, offset: int, n: int) -> bytes:
        """Exactly ``n`` bytes at ``offset``, or :class:`TruncatedError`."""
        fd = self._open_fd()
        if offset < 0 or n < 0 or offset + n > self.size:
            raise TruncatedError(f"read of {n} bytes at offset {offset} runs past the end of the "
                                 f"{self.size}-byte file", path=self.path, offset=offset, end=offset + n)
        out = os.pread(fd, n, offset)
        while len(out) < n:  # short reads are legal; finish the job
            more = os.pread(fd, n - len(out), offset + len(out))
            if not more:
                raise TruncatedError("file shrank while reading", path=self.path, offset=offset + len(out))
            out += more
        return out

    def readinto(self, offset: int, buffer) -> None:
        """Fill the writable ``buffer`` with the bytes at ``offset``."""
        fd = self._open_fd()
        view = memoryview(buffer).cast("B")
        n = len(view)
        if offset < 0 or offset + n > self.size:
            raise TruncatedError(f"read of {n} bytes at offset {offset} runs past the end of the "
                                 f"{self.size}-byte file", path=self.path, offset=offset, end=offset + n)
        done = 0
        preadv = getattr(os, "preadv", None)
        while done < n:
            if preadv is not None:
                got = preadv(fd, [view[done:]], offset + done)
            else:  # pragma: no cover - Windows/macOS without preadv
                chunk = os.pread(fd, n - done, offset + done)
                got = len(chunk)
                view[done:done + got] = chunk
            if got <= 0:
                raise TruncatedError("file shrank while reading", path=self.path, offset=offset + done)
            done += got

    def view(self, offset: int, n: int) -> memoryview:
        """A zero-copy, read-only view of ``n`` bytes at ``offset`` (memory-mapped)."""
        if offset < 0 or n < 0 or offset + n > self.size:
            raise TruncatedError(f"view of {n} bytes at offset {offset} runs past the end of the "
                                 f"{self.size}-byte file", path=self.path, offset=offset, end=offset + n)
        if n == 0:
            return memoryview(b"")
        with self._lock:
            if self._mmap is None:
                self._mmap = mmap.mmap(self._open_fd(), 0, access=mmap.ACCESS_READ)
        return memoryview(self._mmap)[offset:offset + n]

    def _open_fd(self) -> int:
        fd = self._fd
        if fd is None:
            raise ValueError(f"I/O operation on a closed checkpoint file: {self.path}")
        return fd

    def close(self) -> None:
        # A mapped region stays valid for views already handed out (the mmap object
        # lives as long as they do); we only drop our own references.
        self._mmap = None
        if self._fd is not None:
            try:
                os.close(self._fd)
            finally:
                self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            if getattr(self, "_fd", None) is not None:
                os.close(self._fd)
        except OSError:
            pass


class _FsspecFile(RandomAccessFile):
    """The same interface over an fsspec URL (s3://, gs://, http://, memory://...)."""

    def __init__(self, url: str):
        try:
            import fsspec
        except ImportError:
            raise CheckpointNotFoundError(
                "reading URLs needs fsspec: pip install 'tfckpt-lab[remote]'", path=url) from None
        self.path = url
        self._fs, self._fspath = fsspec.core.url_to_fs(url)
        try:
            self.size = int(self._fs.size(self._fspath))
        except FileNotFoundError:
            raise CheckpointNotFoundError("file not found", path=url) from None
        self._fd = None
        self._mmap = None
        self._lock = threading.Lock()

    def pread(self, offset: int, n: int) -> bytes:
        if offset < 0 or n < 0 or offset + n > self.size:
            raise TruncatedError(f"read of {n} bytes at offset {offset} runs past the end of the "
                                 f"{self.size}-byte file", path=self.path, offset=offset, end=offset + n)
        if n == 0:
            return b""
        data = self._fs.cat_file(self._fspath, start=offset, end=offset + n)
        if len(data) != n:
            raise TruncatedError("short read", path=self.path, offset=offset, end=offset + n)
        return data

    def readinto(self, offset: int, buffer) -> None:
        view = memoryview(buffer).cast("B")
        view[:] = self.pread(offset, len(view))

    def view(self, offset: int, n: int) -> memoryview:
        return memoryview(self.pread(offset, n))

    def close(self) -> None:
        pass


def open_random_access(path) -> RandomAccessFile:
    """Open ``path`` (a local path or an fsspec URL) for random access."""
    if is_url(path):
        return _FsspecFile(path)
    p = os.fspath(path)
    if p.startswith("file://"):
        p = p[len("file://"):]
    return RandomAccessFile(p)
