"""One exception hierarchy for everything that can go wrong with a checkpoint.

Every error caused by a checkpoint's bytes (or by its files being missing) is a
:class:`CheckpointError`.  Messages name the file and, where it makes sense, the
byte offset or range, so ``tfckpt-lab verify`` and a notebook user see *where*
the problem is, not only *what* it is.

    CheckpointError
    |-- CheckpointNotFoundError   (also FileNotFoundError)
    |-- TensorNotFoundError       (also KeyError)
    |-- CorruptionError           bytes that cannot be what TensorFlow wrote
    |   |-- ChecksumMismatchError a CRC-32C did not match
    |   |-- TruncatedError        a read ran past the end of a file
    |   `-- MalformedError        a varint, proto, handle, magic... is invalid
    |-- UnsupportedError          valid, but not something this library reads
    |   `-- FileTooLargeError     larger than any file of its kind can be (never read)
    |-- PartialTensorError        a partitioned variable saved only in part, read whole (also ValueError)
    |-- UnsafePathError           a path in a state file that we refuse to touch
    |-- CheckpointIOError         the OS refused a file operation (also OSError)
    |   `-- CheckpointPermissionError   permission denied (also PermissionError)
    `-- ConcurrentWriterError     another writer is saving into the same directory
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "CheckpointNotFoundError",
    "TensorNotFoundError",
    "CorruptionError",
    "ChecksumMismatchError",
    "TruncatedError",
    "MalformedError",
    "UnsupportedError",
    "FileTooLargeError",
    "UnsafePathError",
    "CheckpointIOError",
    "CheckpointPermissionError",
    "ConcurrentWriterError",
    "os_error",
    "PartialTensorError",
]


class CheckpointError(Exception):
    """Base class of every error this library raises about a checkpoint.

    Attributes:
        path: the file concerned, or None.
        offset: the byte offset (or start of the byte range) concerned, or None.
        end: the end of the byte range concerned, or None.
    """

    def __init__(self, message: str, *, path=None, offset: int | None = None, end: int | None = None):
        self.message = message
        self.path = None if path is None else str(path)
        self.offset = offset
        self.end = end
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.path is not None:
            where.append(self.path)
        if self.offset is not None:
            if self.end is not None:
                where.append(f"bytes [{self.offset}, {self.end})")
            else:
                where.append(f"byte {self.offset}")
        return f"{': '.join([', '.join(where)] if where else [])}{': ' if where else ''}{self.message}"

    def __str__(self) -> str:  # KeyError would otherwise wrap the text in quotes
        return self._format()


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """A checkpoint, or one of its files, does not exist."""


class TensorNotFoundError(CheckpointError, KeyError):
    """The checkpoint has no tensor of that name."""


class CorruptionError(CheckpointError):
    """The bytes cannot be what TensorFlow wrote."""


class ChecksumMismatchError(CorruptionError):
    """A stored CRC-32C does not match the bytes it covers."""


class TruncatedError(CorruptionError):
    """A structure runs past the end of its file or block."""


class MalformedError(CorruptionError):
    """A varint, protocol buffer, block handle, magic number or similar is invalid."""


class UnsupportedError(CheckpointError):
    """Valid format, but a feature this library does not read (or a missing optional extra)."""


class FileTooLargeError(UnsupportedError):
    """A file read whole (a ``.meta``, the ``checkpoint`` state file) is over the cap for its kind."""


class UnsafePathError(CheckpointError):
    """A path (e.g. in a ``checkpoint`` state file) points outside the directory it belongs to."""


class PartialTensorError(CheckpointError, ValueError):
    """A valid checkpoint whose partitioned variable was saved only in part (a Saver given some
    of its pieces): the stored slices do not cover what was asked for.  TensorFlow refuses the
    same read; the stored slices can still be read (``get_slice``)."""


class CheckpointIOError(CheckpointError, OSError):
    """The operating system refused a file operation on a checkpoint: not a directory, disk full...

    Also an :class:`OSError`; ``errno`` is the system's error number (``errno.ENOSPC`` ...).
    """


class CheckpointPermissionError(CheckpointIOError, PermissionError):
    """Permission denied on a checkpoint file or directory (also a :class:`PermissionError`)."""


class _NotADirectoryError(CheckpointNotFoundError, NotADirectoryError):
    """A component of the path is a file, so nothing can exist below it (also NotADirectoryError)."""


class ConcurrentWriterError(CheckpointError):
    """Another writer is saving into the same directory (or wrote its state file since our last save)."""


def os_error(exc: OSError, path=None, doing: str = "") -> CheckpointError:
    """The :class:`CheckpointError` for an ``OSError`` met while ``doing`` something with ``path``.

    ``FileNotFoundError`` and ``NotADirectoryError`` become :class:`CheckpointNotFoundError`,
    ``PermissionError`` :class:`CheckpointPermissionError`, anything else
    :class:`CheckpointIOError`; each stays an instance of the original ``OSError`` kind and
    keeps its ``errno``.  Raise it ``from exc``.

    >>> import errno
    >>> e = os_error(OSError(errno.ENOSPC, "No space left on device"), "run/model.meta", "writing")
    >>> print(e)
    run/model.meta: writing: No space left on device
    >>> isinstance(e, OSError), e.errno == errno.ENOSPC
    (True, True)
    """
    if isinstance(exc, CheckpointError):
        return exc
    if path is None:
        path = exc.filename
    what = exc.strerror or str(exc)
    message = f"{doing}: {what}" if doing else what
    if isinstance(exc, NotADirectoryError):
        cls = _NotADirectoryError
        message += " (a component of the path is a file, not a directory)"
    elif isinstance(exc, FileNotFoundError):
        cls = CheckpointNotFoundError
    elif isinstance(exc, PermissionError):
        cls = CheckpointPermissionError
    else:
        cls = CheckpointIOError
    out = cls(message, path=path)
    out.errno = exc.errno
    out.strerror = exc.strerror
    return out
