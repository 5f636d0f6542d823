"""Random-access reads from a checkpoint file: local files by ``os.pread``, anything else by fsspec.

Everything above this module asks for byte ranges and never seeks, so readers are
safe to share between threads.  Local files can also be memory-mapped for
zero-copy tensor views.
"""

from __future__ import annotations

import mmap
import os
import stat
import threading

from .errors import CheckpointNotFoundError, TruncatedError, UnsupportedError

__all__ = ["RandomAccessFile", "open_random_access", "is_url"]

_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def is_url(path) -> bool:
    """True for ``scheme://...`` strings other than ``file://`` (see :mod:`tfckpt_lab.remote`)."""
    return isinstance(path, str) and "://" in path and not path.startswith("file://")


class RandomAccessFile:
    """A read-only file addressed by byte offsets."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self._fd = None
        try:
            # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
            # (It has no effect on regular files, the only kind accepted below.)
            fd = os.open(self.path, os.O_RDONLY | _O_NONBLOCK | getattr(os, "O_BINARY", 0))
        except FileNotFoundError:
            raise CheckpointNotFoundError("file not found", path=self.path) from None
        except IsADirectoryError:
            raise CheckpointNotFoundError("is a directory, not a file", path=self.path) from None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            if stat.S_ISDIR(st.st_mode):
                raise CheckpointNotFoundError("is a directory, not a file", path=self.path)
            raise UnsupportedError("not a regular file (a FIFO, device or socket); checkpoint files must be "
                                   "regular files", path=self.path)
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
    """The same interface over an fsspec URL (s3://, gs://, http://, memory://...).

    Reads are ranged requests of exactly the bytes asked for: the file is opened with
    ``cache_type="none"``, because fsspec's default read-ahead cache turns a 16-byte
    footer read into a 5 MiB download.  Reads longer than :data:`tfckpt_lab.remote.CHUNK_BYTES`
    go out as several requests, reporting to a progress bar if one is on.  An HTTP server that
    ignores ``Range`` (answers 200 with the whole file) is refused, not downloaded.
    """

    def __init__(self, url: str):
        from . import remote

        self.path = url
        self._fd = None
        self._mmap = None
        self._lock = threading.Lock()
        self._file = None
        fs, fspath = remote.filesystem(url)
        try:
            f = fs.open(fspath, "rb", cache_type="none")
        except FileNotFoundError:
            raise CheckpointNotFoundError("file not found", path=url) from None
        except IsADirectoryError:
            raise CheckpointNotFoundError("is a directory, not a file", path=url) from None
        except OSError as exc:
            raise CheckpointNotFoundError(f"cannot open: {exc}", path=url) from None
        if not hasattr(f, "seek") or not f.seekable():
            f.close()
            raise UnsupportedError("the server does not answer ranged reads (no size, or 'Accept-Ranges: "
                                   "none'); checkpoints are only read by byte range", path=url)
        self._file = f
        self.size = int(f.size)

    def pread(self, offset: int, n: int) -> bytes:
        if offset < 0 or n < 0 or offset + n > self.size:
            raise TruncatedError(f"read of {n} bytes at offset {offset} runs past the end of the "
                                 f"{self.size}-byte file", path=self.path, offset=offset, end=offset + n)
        if n == 0:
            return b""
        buf = bytearray(n)
        self._read_ranges(offset, memoryview(buf))
        return bytes(buf)

    def readinto(self, offset: int, buffer) -> None:
        view = memoryview(buffer).cast("B")
        n = len(view)
        if offset < 0 or offset + n > self.size:
            raise TruncatedError(f"read of {n} bytes at offset {offset} runs past the end of the "
                                 f"{self.size}-byte file", path=self.path, offset=offset, end=offset + n)
        if n:
            self._read_ranges(offset, view)

    def _read_ranges(self, offset: int, view: memoryview) -> None:
        from . import remote

        f = self._file
        if f is None:
            raise ValueError(f"I/O operation on a closed checkpoint file: {self.path}")
        n = len(view)
        factory = remote.progress_factory()
        bar = factory(n, self.path.rsplit("/", 1)[-1]) if factory and n >= remote.PROGRESS_MIN_BYTES else None
        done = 0
        try:
            while done < n:
                want = min(remote.CHUNK_BYTES, n - done)
                with self._lock:  # seek + read must not interleave between threads
                    f.seek(offset + done)
                    try:
                        data = f.read(want)
                    except ValueError as exc:  # fsspec: "server doesn't appear to support range requests"
                        raise UnsupportedError(f"ranged read refused: {exc}", path=self.path,
                                               offset=offset + done, end=offset + done + want) from None
                if len(data) != want:
                    raise TruncatedError(f"short read: {len(data)} of {want} bytes (the file changed, or the "
                                         "server ignored the byte range)", path=self.path,
                                         offset=offset + done, end=offset + done + want)
                view[done:done + want] = data
                done += want
                if bar is not None:
                    bar.update(want)
        finally:
            if bar is not None:
                bar.close()

    def view(self, offset: int, n: int) -> memoryview:
        return memoryview(self.pread(offset, n))

    def close(self) -> None:
        f, self._file = self._file, None
        if f is not None:
            f.close()

    def __del__(self):
        pass


def open_random_access(path) -> RandomAccessFile:
    """Open ``path`` (a local path or an fsspec URL) for random access."""
    if is_url(path):
        return _FsspecFile(path)
    p = os.fspath(path)
    if p.startswith("file://"):
        p = p[len("file://"):]
    return RandomAccessFile(p)
