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
    except OSError as exc:  # permission denied, a file where a directory should be...
        from .errors import os_error

        raise os_error(exc, path, "opening") from None
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
    """True for ``scheme://...`` strings other than ``file://`` (see :mod:`tfckpt_lab.remote`)."""
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


# -- writing: durable, atomic, observable ---------------------------------------------------------
__all__ += ["FileEvent", "FileOps", "fsync_dir", "temp_name", "write_new_file", "atomic_write_bytes",
            "atomic_write_text"]
#
# Everything that writes, renames or deletes a checkpoint file goes through FileOps, so that a
# caller (a teaching simulator, a crash test) can watch each operation as it happens through
# one callback, instead of patching ``os`` for the whole process.

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)


class FileEvent:
    """One file operation that has just completed.

    Attributes:
        kind: ``"write"`` (``path`` was created and its bytes written), ``"rename"``
            (``path`` moved to ``dest``, replacing what was there), ``"link"`` (``dest`` is a
            new name for the file at ``path``: a hard link, or a copy where links are not
            possible) or ``"delete"`` (``path`` removed).
        path: the file concerned.
        dest: the new name, for ``"rename"`` and ``"link"``; else None.
    """

    __slots__ = ("kind", "path", "dest")

    def __init__(self, kind: str, path: str, dest: str | None = None):
        self.kind, self.path, self.dest = kind, path, dest

    def __repr__(self) -> str:
        tail = f" -> {self.dest!r}" if self.dest is not None else ""
        return f"FileEvent({self.kind} {self.path!r}{tail})"

    def __eq__(self, other) -> bool:
        return isinstance(other, FileEvent) and (self.kind, self.path, self.dest) == (
            other.kind, other.path, other.dest)

    __hash__ = None


def fsync_dir(directory) -> None:
    """``fsync`` a directory, so that renames and deletes in it survive a power loss.

    A no-op where directories cannot be opened (Windows).
    """
    try:
        fd = os.open(os.fspath(directory) or os.curdir, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on directories
        pass
    finally:
        os.close(fd)


class FileOps:
    """Rename, link, delete and report: each operation, once done, is passed to ``on_event``.

    ``on_event(FileEvent)`` is called *after* the operation.  An exception it raises
    propagates (tests use that to stop a save after any chosen step).
    """

    def __init__(self, on_event=None, *, durable: bool = False):
        self.on_event = on_event
        self.durable = durable

    def emit(self, kind: str, path, dest=None) -> None:
        if self.on_event is not None:
            self.on_event(FileEvent(kind, os.fspath(path), None if dest is None else os.fspath(dest)))

    def wrote(self, path) -> None:
        self.emit("write", path)

    def rename(self, src, dst) -> None:
        os.replace(src, dst)
        self.emit("rename", src, dst)

    def remove(self, path, *, dir_fd: int | None = None, name: str | None = None,
               missing_ok: bool = True) -> bool:
        """Delete ``path``; False if it was already gone.

        With ``dir_fd``, the file deleted is ``name`` inside that open directory (``path`` is
        only what the event reports), so no symlink in ``path`` is followed.
        """
        try:
            if dir_fd is None:
                os.remove(path)
            else:
                os.remove(name, dir_fd=dir_fd)
        except FileNotFoundError:
            if not missing_ok:
                raise
            return False
        self.emit("delete", path)
        return True

    def link(self, src, dst) -> None:
        """Make ``dst`` a second name of the file ``src`` (hard link; a copy where links fail).

        ``dst`` must not exist.  A copy is written to a temporary name and renamed, so ``dst``
        appears complete or not at all.
        """
        try:
            os.link(src, dst, follow_symlinks=False)
        except OSError as exc:
            if isinstance(exc, (FileNotFoundError, FileExistsError)):
                raise
            import shutil

            tmp = temp_name(dst)
            try:
                shutil.copyfile(src, tmp, follow_symlinks=False)
                if self.durable:
                    _fsync_path(tmp)
                os.replace(tmp, dst)
            except BaseException:
                _remove_quietly(tmp)
                raise
        self.emit("link", src, dst)

    def fsync_dir(self, directory) -> None:
        if self.durable:
            fsync_dir(directory)

    def tolerant(self) -> "FileOps":
        """The same operations and events, but an exception raised by ``on_event`` is ignored.

        For undoing a failed save: the undo must run to its end whatever the observer does.
        """
        callback = self.on_event

        def quiet(event):
            try:
                callback(event)
            except Exception:  # noqa: BLE001 - an observer must not stop an undo half-way
                pass

        return FileOps(quiet if callback is not None else None, durable=self.durable)


def _fsync_path(path) -> None:
    fd = os.open(path, os.O_RDONLY | _O_BINARY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_quietly(path) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def temp_name(path) -> str:
    """A fresh temporary name beside ``path``: ``PATH.tmp`` + 32 hex digits."""
    import uuid

    return f"{os.fspath(path)}.tmp{uuid.uuid4().hex}"


def write_new_file(path, data, *, durable: bool = False, ops: FileOps | None = None) -> None:
    """Create ``path`` (which must not exist, and is never followed if a symlink) holding ``data``.

    ``data`` is ``bytes`` or an iterable of bytes-like chunks.  With ``durable`` the file is
    ``fsync``ed before this returns.  On any failure the partial file is removed.
    """
    path = os.fspath(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_BINARY, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(data, (bytes, bytearray, memoryview)):
                f.write(data)
            else:
                for chunk in data:
                    f.write(chunk)
            f.flush()
            if durable:
                os.fsync(f.fileno())
    except BaseException:
        _remove_quietly(path)
        raise
    if ops is not None:
        ops.wrote(path)


def atomic_write_bytes(path, data, *, durable: bool = False, ops: FileOps | None = None) -> None:
    """Replace ``path`` with ``data`` so that readers see the old file or the new one, never a part.

    The bytes go to a temporary name beside ``path`` (see :func:`temp_name`), created
    exclusively and never through a symlink, then ``os.replace`` moves it over ``path``.
    With ``durable`` the file and then the directory are ``fsync``ed (survives power loss).
    A failure removes the temporary file and leaves ``path`` as it was.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "state")
    >>> atomic_write_bytes(p, b"one"); atomic_write_bytes(p, b"two")
    >>> with open(p, "rb") as f:
    ...     f.read(), os.listdir(os.path.dirname(p))
    (b'two', ['state'])
    """
    path = os.fspath(path)
    ops = ops or FileOps(durable=durable)
    tmp = temp_name(path)
    try:
        write_new_file(tmp, data, durable=durable, ops=ops)
        ops.rename(tmp, path)
    except BaseException:
        _remove_quietly(tmp)
        raise
    if durable:
        fsync_dir(os.path.dirname(os.path.abspath(path)))


def atomic_write_text(path, text: str, *, durable: bool = False, ops: FileOps | None = None) -> None:
    """:func:`atomic_write_bytes` of ``text`` encoded as UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"), durable=durable, ops=ops)
