"""Checkpoints by URL: ``http(s)://``, ``s3://``, ``gs://``, ``memory://`` and anything else fsspec opens.

Every read of a remote checkpoint is a ranged read of exactly the bytes asked for:
opening a bundle reads the ``.index`` footer and index block, a tensor read fetches
that tensor's byte range from its shard, and nothing is cached ahead
(:class:`~tfckpt_lab.fileio.RandomAccessFile` over fsspec opens files with
``cache_type="none"``; fsspec's default read-ahead cache would fetch 5 MiB blocks).
A server that ignores ``Range`` requests is refused rather than downloaded whole.

A *directory* URL (``s3://bucket/run/``, or any URL with a ``checkpoint`` state
file under it) means its latest checkpoint, as for a local directory.  Relative
paths in the state file are joined onto the URL; absolute local paths (a state
file written on another machine, then uploaded) are looked up by file name in
the same remote directory.

Which packages each scheme needs (none of them is imported until a URL is opened)::

    http://, https://   fsspec + aiohttp      pip install 'tfckpt-lab[remote]'
    s3://               fsspec + s3fs         pip install 'tfckpt-lab[remote]' s3fs
    gs://               fsspec + gcsfs        pip install 'tfckpt-lab[remote]' gcsfs
    memory://           fsspec only

Long reads draw a progress bar (:mod:`tfckpt_lab.progress`) on stderr when
:func:`set_progress` turned it on; the command line does.
"""

from __future__ import annotations

import posixpath

from .errors import CheckpointNotFoundError, UnsupportedError
from .fileio import is_url

__all__ = ["filesystem", "exists", "isdir", "size", "read_bytes", "join", "dirname", "glob", "file_size", "read_file",
           "path_exists", "list_files",
           "set_progress", "progress_factory", "PROGRESS_MIN_BYTES", "CHUNK_BYTES"]

#: A single read of at least this many bytes reports progress (when a progress bar is on).
PROGRESS_MIN_BYTES = 8 * 2**20
#: Long reads are split into ranged requests of this size (each one bounded in memory and time).
CHUNK_BYTES = 4 * 2**20

_PACKAGE_FOR = {"http": "aiohttp", "https": "aiohttp", "s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs"}

_progress = None  # None: off; else a callable(total, label) -> bar with update(n) and close()


def filesystem(url: str):
    """``(fsspec filesystem, path inside it)`` for ``url``; a clear error if a package is missing."""
    try:
        import fsspec
    except ImportError:
        raise UnsupportedError("reading URLs needs fsspec: pip install 'tfckpt-lab[remote]'", path=url) from None
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as exc:
        scheme = url.split("://", 1)[0].lower()
        need = _PACKAGE_FOR.get(scheme, "the fsspec implementation for this scheme")
        raise UnsupportedError(f"reading {scheme}:// URLs needs {need} ({exc})", path=url) from None
    except ValueError as exc:  # unknown protocol
        raise UnsupportedError(f"cannot open this URL: {exc}", path=url) from None


def exists(url: str) -> bool:
    """True if a file (not only a directory listing) exists at ``url``."""
    fs, p = filesystem(url)
    try:
        # info(), not isfile()/exists(): fsspec's HTTP filesystem answers those with a GET of the whole file
        return fs.info(p).get("type", "file") == "file"
    except (FileNotFoundError, OSError):
        return False


def isdir(url: str) -> bool:
    """True if ``url`` names a checkpoint directory: it ends in ``/``, or holds a ``checkpoint`` state file.

    HTTP has no directories, so only the state file can tell; object stores would call a bare
    prefix a directory, which is not a checkpoint directory unless it has a state file.
    """
    if url.endswith("/"):
        return True
    return exists(join(url, "checkpoint"))


def size(url: str) -> int:
    fs, p = filesystem(url)
    try:
        return int(fs.size(p))
    except FileNotFoundError:
        raise CheckpointNotFoundError("file not found", path=url) from None


def read_bytes(url: str, limit: int) -> bytes:
    """The whole file at ``url`` (ranged reads), refusing files larger than ``limit`` bytes."""
    from .fileio import open_random_access

    f = open_random_access(url)
    try:
        if f.size > limit:
            raise UnsupportedError(f"{f.size} bytes is more than the {limit} read whole from a URL", path=url)
        return f.pread(0, f.size)
    finally:
        f.close()


def dirname(url: str) -> str:
    """The directory part of a URL (``s3://b/run/ckpt-1`` -> ``s3://b/run``)."""
    scheme, _, rest = url.rstrip("/").partition("://")
    return f"{scheme}://{posixpath.dirname(rest) if '/' in rest else rest}"


def join(directory: str, name: str) -> str:
    """``name`` inside the URL ``directory``.

    ``name`` may be relative (joined), a URL (returned as is) or an absolute local path (a state file
    written on another machine): then only its file name is used, inside ``directory``.
    """
    if is_url(name):
        return name
    if name.startswith("/") or (len(name) > 2 and name[1] == ":" and name[2] in "\\/"):
        name = name.replace("\\", "/").rsplit("/", 1)[-1]
    return directory.rstrip("/") + "/" + name


def glob(pattern: str) -> list[str]:
    """URLs matching a glob (object stores and ``memory://``; HTTP servers cannot list files)."""
    fs, p = filesystem(pattern)
    scheme = pattern.split("://", 1)[0]
    if scheme in ("http", "https"):
        return []
    try:
        found = fs.glob(p)
    except (FileNotFoundError, OSError, NotImplementedError):
        return []
    return sorted(f if is_url(f) else fs.unstrip_protocol(f) for f in found)


def set_progress(enabled=True) -> None:
    """Draw a progress bar on stderr for long remote reads (``True``), none (``False``), or pass a factory.

    A factory is ``callable(total_bytes, label) -> bar`` whose bar has ``update(nbytes)`` and ``close()``.
    """
    global _progress
    if enabled is True:
        from .progress import ProgressBar

        _progress = ProgressBar
    elif not enabled:
        _progress = None
    else:
        _progress = enabled


def progress_factory():
    """The current progress-bar factory, or None."""
    return _progress


# -- local path or URL alike (for modules that read whole small files) -------------------------


def file_size(path) -> int:
    """The size of a local file or of a URL's file."""
    import os

    p = os.fspath(path)
    return size(p) if is_url(p) else os.path.getsize(p)


def read_file(path, limit: int = 2**31 - 1, what: str = "file") -> bytes:
    """The bytes of a local file (a regular file of at most ``limit`` bytes, see
    :func:`~tfckpt_lab.fileio.read_whole_file`), or of a URL's file by ranged reads."""
    import os

    p = os.fspath(path)
    if is_url(p):
        return read_bytes(p, limit)
    from .fileio import read_whole_file

    return read_whole_file(p, limit=limit, what=what)


def path_exists(path) -> bool:
    """``os.path.exists`` for local paths, :func:`exists` for URLs."""
    import os

    p = os.fspath(path)
    return exists(p) if is_url(p) else os.path.exists(p)


def list_files(directory: str) -> list[tuple[str, int]]:
    """``[(file name, size)]`` directly under a directory URL, where the store can list (not HTTP)."""
    fs, p = filesystem(directory)
    if directory.split("://", 1)[0] in ("http", "https"):
        return []
    try:
        entries = fs.ls(p.rstrip("/"), detail=True)
    except (FileNotFoundError, OSError, NotImplementedError):
        return []
    return sorted((e["name"].rstrip("/").rsplit("/", 1)[-1], int(e.get("size") or 0))
                  for e in entries if e.get("type") == "file")
