"""The ``checkpoint`` state file: which checkpoints a directory holds and which is the latest.

It is a CheckpointState protocol buffer in text format, e.g.::

    model_checkpoint_path: "model-2000"
    all_model_checkpoint_paths: "model-1000"
    all_model_checkpoint_paths: "model-2000"
    all_model_checkpoint_timestamps: 1700000000.5     (TF2 CheckpointManager, and TF1 Saver)
    all_model_checkpoint_timestamps: 1700000100.25
    last_preserved_timestamp: 1699999990.0

Relative paths are relative to the directory holding the file; readers join
them onto it (as TensorFlow's ``get_checkpoint_state`` does).

Writing (:func:`update_checkpoint_state`) follows TensorFlow's rules:

* the text is ``text_format.MessageToString(CheckpointState)``: fields in
  number order, one ``name: value`` line each, unset fields (timestamps that
  were never given, a zero ``last_preserved_timestamp``) left out;
* the newest checkpoint is appended to ``all_model_checkpoint_paths`` if it is
  not already its last element;
* when the save directory is a relative path, paths are written relative to it;
  when it is absolute they are written as given (absolute), unless
  ``save_relative_paths=True`` (what ``CheckpointManager`` always passes);
* the file is replaced atomically: written to ``checkpoint.tmp<hex>`` in the
  same directory, then renamed over the old one.

Reading is forgiving where TensorFlow 2.21 is not: an empty or field-less state file
(what a power loss can leave) is "no state" with a warning instead of a ``ValueError``,
and :func:`latest_checkpoint` then answers the newest complete checkpoint on disk.  It
also re-reads the state file when the checkpoint it names vanished because a writer moved
on meanwhile, and answers the backup a replacement in progress keeps (see
:mod:`tfckpt_lab.bundle.swap`).
"""

from __future__ import annotations

import glob
import math
import os
import re
import stat
import warnings
from dataclasses import dataclass, field

from .._deprecation import renamed
from ..fileio import is_url

__all__ = [
    "STATE_FILENAME",
    "CheckpointState",
    "read_checkpoint_state",
    "get_checkpoint_state",
    "latest_checkpoint",
    "checkpoint_exists",
    "generate_checkpoint_state_proto",
    "checkpoint_state_text",
    "update_checkpoint_state",
    "is_inside_directory",
    "confine_to_directory",
    "repoint_checkpoint_state",
    "newest_complete_checkpoint",
    "retry_on_rotation",
]

STATE_FILENAME = "checkpoint"


@dataclass
class CheckpointState:
    """The decoded ``checkpoint`` file (paths as stored, or joined onto the directory).

    ``lowlevel`` is one level deeper: the ``CheckpointState`` protobuf message the file
    was parsed into (``proto`` is an old name for it).
    """

    model_checkpoint_path: str
    all_model_checkpoint_paths: list[str]
    all_model_checkpoint_timestamps: list[float]
    last_preserved_timestamp: float
    path: str | None = None
    lowlevel: object = field(default=None, repr=False, compare=False)
    #: Paths left out by :func:`confine_to_directory` (outside the directory, ``..``, symlinked away).
    refused: list[str] = field(default_factory=list)

    proto = renamed("proto", "lowlevel")

    def _repr_html_(self) -> str:
        import html
        from datetime import datetime, timezone

        def when(ts):
            return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if ts else ""

        stamps = list(self.all_model_checkpoint_timestamps) + [0.0] * len(self.all_model_checkpoint_paths)
        rows = "".join(
            f"<tr><td><code>{html.escape(p)}</code>{' &larr; latest' if p == self.model_checkpoint_path else ''}"
            f"</td><td>{when(t)}</td></tr>" for p, t in zip(self.all_model_checkpoint_paths, stamps))
        kept = (f"<br>last preserved (keep-every-N-hours): {when(self.last_preserved_timestamp)}"
                if self.last_preserved_timestamp else "")
        return (f"<b>checkpoint state</b> <code>{html.escape(self.path or '')}</code>: latest "
                f"<code>{html.escape(self.model_checkpoint_path)}</code>{kept}"
                f"<table><tr><th>kept checkpoints, oldest first</th><th>saved at</th></tr>{rows}</table>")


def _proto_class():
    from ..protos.checkpoint_state_pb2 import CheckpointState as P

    return P


#: Larger state files are refused (read as "no state").  TensorFlow writes one short line per
#: kept checkpoint; 16 MiB is >100,000 of them.
MAX_STATE_FILE_BYTES = 16 * 2**20
#: Text that is not in the one-field-per-line form TensorFlow writes goes through protobuf's
#: pure-Python text_format parser (~50 us a line); past this size it is refused instead.
MAX_SLOW_PARSE_BYTES = 2**20

_STATE_LINES = re.compile(
    r'^[ \t]*(model_checkpoint_path|all_model_checkpoint_paths|all_model_checkpoint_timestamps'
    r'|last_preserved_timestamp)[ \t]*:[ \t]*(?:"([^"\\\x00-\x1f]*)"|([-+.0-9eE]+))[ \t\r]*$', re.M)
_NONBLANK_LINE = re.compile(r"^[ \t\r]*[^ \t\r\n]", re.M)


class StateParseError(ValueError):
    """A state file that is too large, or too convoluted to parse cheaply."""


_EXACT = {f: f + ": " for f in ("model_checkpoint_path", "all_model_checkpoint_paths",
                                 "all_model_checkpoint_timestamps", "last_preserved_timestamp")}
_UNPLAIN = re.compile(r'["\\\x00-\x1f\x7f]')
_DECIMALS = re.compile(r"[-+.0-9eE]*")


def _parse_exact(text: str, proto) -> bool:
    """Fill ``proto`` from exactly the text :func:`checkpoint_state_text` writes; False if it is not that.

    The fast path for long files: each field's lines are found with ``str.find`` and checked by
    joining them back together, so the work per line is one slice; no per-line regex.
    """
    if not text.endswith("\n"):
        return False
    body = "\n" + text[:-1]
    starts = sorted((i, name) for name, head in _EXACT.items() if (i := body.find("\n" + head)) >= 0)
    names = [name for _, name in starts]
    if not starts or starts[0][0] != 0 or names != [name for name in _EXACT if name in names]:
        return False  # the fields must come in TensorFlow's order, from the first line on
    groups = {}
    for (i, name), j in zip(starts, [i for i, _ in starts[1:]] + [len(body)]):
        segment, head = body[i + 1:j], _EXACT[name]
        values = [line[len(head):] for line in segment.split("\n")]
        if head + ("\n" + head).join(values) != segment:
            return False
        groups[name] = values
    latest = groups.get("model_checkpoint_path", [])
    last = groups.get("last_preserved_timestamp", [])
    if len(latest) > 1 or len(last) > 1:
        return False
    quoted = latest + groups.get("all_model_checkpoint_paths", [])
    inner = [q[1:-1] for q in quoted]
    if quoted and '"' + '""'.join(inner) + '"' != "".join(quoted):  # every value is "..."
        return False
    if _UNPLAIN.search("".join(inner)):
        return False
    stamps = groups.get("all_model_checkpoint_timestamps", [])
    if not _DECIMALS.fullmatch("".join(stamps + last)):
        return False
    try:
        stamps, last = list(map(float, stamps)), list(map(float, last))
    except ValueError:
        return False
    if latest:
        proto.model_checkpoint_path = inner[0]
    proto.all_model_checkpoint_paths.extend(inner[len(latest):])
    proto.all_model_checkpoint_timestamps.extend(stamps)
    if last:
        proto.last_preserved_timestamp = last[0]
    return True


def _parse_canonical(text: str, proto) -> bool:
    """Fill ``proto`` from text of one ``field: value`` per line (what TensorFlow writes); False if not that.

    Two passes of one regular expression over the whole text (linear, in C): every line that
    is not blank must be one ``field: value``.
    """
    lines = _STATE_LINES.findall(text)
    if len(lines) != len(_NONBLANK_LINE.findall(text)):
        return False
    paths, stamps = [], []
    for name, sval, nval in lines:
        if name == "all_model_checkpoint_paths":
            if nval:  # a number where a string belongs
                return False
            paths.append(sval)
        elif name == "all_model_checkpoint_timestamps":
            if not nval:
                return False
            stamps.append(nval)
        elif name == "model_checkpoint_path":
            if nval:
                return False
            proto.model_checkpoint_path = sval
        else:
            if not nval:
                return False
            try:
                proto.last_preserved_timestamp = float(nval)
            except ValueError:
                return False
    try:
        proto.all_model_checkpoint_timestamps.extend([float(x) for x in stamps])
    except ValueError:
        return False
    proto.all_model_checkpoint_paths.extend(paths)
    return True


def parse_state_text(text: str, *, path=None):
    """Parse the text of a state file into a CheckpointState proto.

    TensorFlow's own one-field-per-line text is parsed directly; anything else (comments,
    escapes, other spellings) goes to ``text_format`` (raises ``text_format.ParseError``),
    but only up to :data:`MAX_SLOW_PARSE_BYTES` (:class:`StateParseError` beyond).
    """
    proto = _proto_class()()
    if _parse_exact(text, proto):
        return proto
    proto = _proto_class()()
    if _parse_canonical(text, proto):
        return proto
    if len(text) > MAX_SLOW_PARSE_BYTES:
        raise StateParseError(f"{len(text)} characters not in the form TensorFlow "
                              f"writes (more than {MAX_SLOW_PARSE_BYTES} are not parsed)")
    from google.protobuf import text_format

    proto = _proto_class()()
    text_format.Merge(text, proto)
    return proto


def _read_state_file(path: str) -> str:
    """The text of a state file: a regular file of at most :data:`MAX_STATE_FILE_BYTES` (never blocks)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not wait for a writer
    except OSError as exc:
        from ..errors import os_error

        raise os_error(exc, path, "reading the checkpoint state file") from exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise StateParseError("not a regular file (a directory, FIFO, device or socket)")
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as f:
        data = f.read(MAX_STATE_FILE_BYTES + 1)
    if len(data) > MAX_STATE_FILE_BYTES:
        raise StateParseError(f"larger than {MAX_STATE_FILE_BYTES} bytes")
    return data.decode("utf-8")


def _state_path(checkpoint_dir, latest_filename) -> str:
    return os.path.join(os.fspath(checkpoint_dir), latest_filename or STATE_FILENAME)


_BLANK = " \t\r\n\0"  # a power loss can leave a file of zeros


def read_checkpoint_state(path) -> CheckpointState:
    """Read one state file exactly as stored (no path joining).  Raises on bad text."""
    path = os.fspath(path)
    return _state_from_proto(parse_state_text(_read_state_file(path), path=path), path)


def _state_from_proto(proto, path: str) -> CheckpointState:
    return CheckpointState(
        model_checkpoint_path=proto.model_checkpoint_path,
        all_model_checkpoint_paths=list(proto.all_model_checkpoint_paths),
        all_model_checkpoint_timestamps=list(proto.all_model_checkpoint_timestamps),
        last_preserved_timestamp=proto.last_preserved_timestamp,
        path=path,
        lowlevel=proto,
    )


class _Unusable(str):
    """Why a state file is unusable; ``blank`` if it is what a power loss leaves (empty, field-less)."""

    blank = False


def _load_state(checkpoint_dir: str, latest_filename) -> tuple[CheckpointState | None, _Unusable | None]:
    """``(state with joined paths, None)``; ``(None, None)`` if there is no state file;
    ``(None, why)`` if there is one but it is unusable (unreadable, unparsable, empty, field-less)."""
    path = _state_path(checkpoint_dir, latest_filename)
    if not os.path.lexists(path):
        return None, None
    try:
        text = _read_state_file(path)
        st = _state_from_proto(parse_state_text(text, path=path), path) if text.strip(_BLANK) else None
    except (OSError, UnicodeDecodeError, StateParseError) as exc:
        return None, _Unusable(f"{path}: {exc}")
    except Exception as exc:  # text_format.ParseError
        if type(exc).__name__ != "ParseError":
            raise
        return None, _Unusable(f"{path}: {exc}")
    if st is None or not st.model_checkpoint_path:
        why = _Unusable(f"{path}: the checkpoint state file is "
                        + ("empty" if st is None or not st.all_model_checkpoint_paths
                           else "naming no latest checkpoint"))
        why.blank = True
        return None, why
    join = _joiner(checkpoint_dir)
    st.model_checkpoint_path = join(st.model_checkpoint_path)
    st.all_model_checkpoint_paths = [join(p) for p in st.all_model_checkpoint_paths]
    return st, None


_POSIX = os.sep == "/" and not os.altsep


def _joiner(directory: str):
    """``p -> os.path.join(directory, p)`` for relative ``p``; absolute ``p`` unchanged (fast on POSIX)."""
    if not _POSIX:  # pragma: no cover
        return lambda p: p if os.path.isabs(p) else os.path.join(directory, p)
    if not directory:
        return lambda p: p
    head = directory if directory.endswith("/") else directory + "/"
    return lambda p: p if p.startswith("/") else head + p


def _split(path: str) -> tuple[str, str]:
    """``os.path.split``, except that the head may keep trailing slashes (same directory)."""
    if not _POSIX:  # pragma: no cover
        return os.path.split(path)
    head, sep, tail = path.rpartition("/")
    return ((head or "/") if sep else ""), tail


def get_checkpoint_state(checkpoint_dir, latest_filename: str | None = None) -> CheckpointState | None:
    """What TensorFlow's ``tf.train.get_checkpoint_state`` returns, as a :class:`CheckpointState`.

    Relative paths are joined onto ``checkpoint_dir``.  Returns None when there is no state
    file, and (with a ``RuntimeWarning``) when it cannot be read or parsed, as TensorFlow does.
    An empty or field-less file (no ``model_checkpoint_path``: what a power loss can leave)
    is also None with a warning; TensorFlow 2.21 raises ``ValueError("Invalid checkpoint
    state loaded from DIR")`` there, which stops a training job from restarting.
    """
    checkpoint_dir = os.fspath(checkpoint_dir)
    if is_url(checkpoint_dir):
        return _get_url_state(checkpoint_dir, latest_filename)
    st, why = _load_state(checkpoint_dir, latest_filename)
    if why is not None:
        warnings.warn(f"{why}; checkpoint state ignored", RuntimeWarning, stacklevel=2)
    return st


def checkpoint_exists(prefix) -> bool:
    """True if a V2 checkpoint (its ``.index``) exists at ``prefix``."""
    return os.path.exists(os.fspath(prefix) + ".index")


#: How often :func:`latest_checkpoint` re-reads a state file that changed while it looked.
STATE_RACE_RETRIES = 20


def _file_signature(path: str):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def latest_checkpoint(checkpoint_dir, latest_filename: str | None = None) -> str | None:
    """The prefix of the newest checkpoint in ``checkpoint_dir``, as ``tf.train.latest_checkpoint`` answers.

    None if there is no state file, or the checkpoint it names has no files.  Beyond
    TensorFlow:

    * if the state file was replaced while we looked (a writer saved and rotated the
      checkpoint we were told about away), it is read again;
    * while a save replaces the named checkpoint in place (or after one was killed doing
      so), the complete backup it keeps is answered (``PREFIX.tfckpt-old-HEX``);
    * an empty (or all-zero) or field-less state file, what a power loss can leave (see
      :func:`get_checkpoint_state`), gives the newest complete checkpoint on disk
      (:func:`newest_complete_checkpoint`), with a warning.  A state file that is unusable
      otherwise (unparsable text, not a regular file, too large) is "no state", as in TF.
    """
    checkpoint_dir = os.fspath(checkpoint_dir)
    if is_url(checkpoint_dir):
        st = _get_url_state(checkpoint_dir, latest_filename)
        return _url_checkpoint_exists(st.model_checkpoint_path) if st is not None else None
    path = _state_path(checkpoint_dir, latest_filename)
    for _ in range(STATE_RACE_RETRIES):
        before = _file_signature(path)
        st, why = _load_state(checkpoint_dir, latest_filename)
        if why is not None:
            found = newest_complete_checkpoint(checkpoint_dir) if why.blank else None
            warnings.warn(f"{why}; checkpoint state ignored" + (
                "" if not why.blank else f"; using the newest complete checkpoint on disk, {found}" if found
                else "; no complete checkpoint found on disk"), RuntimeWarning, stacklevel=2)
            return found
        if st is None:
            return None
        p = st.model_checkpoint_path
        # V2: PREFIX.index; V1: the file itself, or a shard pattern like model.ckpt-5-?????-of-00003
        # (TensorFlow matches both as glob patterns).
        if checkpoint_exists(p) or os.path.exists(p) or glob.glob(p):
            return p
        backup = _complete_backup(p)
        if backup is not None:
            return backup
        if _file_signature(path) == before:  # nobody moved on: the state names a missing checkpoint
            return None
    return None


def retry_on_rotation(path, run, *, resolve, succeeded=lambda result: True, attempts: int = 5):
    """``run(resolve(path))``, again on the new latest checkpoint if a writer moved the directory on meanwhile.

    For reading a directory's latest checkpoint while a training job saves into it: the
    checkpoint can be rotated away, or replaced, between finding it and reading all of it.
    When ``run`` raises a :class:`~tfckpt_lab.errors.CheckpointError` or its result does not
    satisfy ``succeeded``, and ``path`` is a directory whose latest checkpoint is now another
    one (or the same prefix with another index), ``run`` is called again, up to ``attempts``
    times.  A failure of a checkpoint that stayed put is returned (or raised) as it is.
    """
    from ..errors import CheckpointError

    for attempt in range(attempts):
        prefix = resolve(path)
        before = _file_signature(os.fspath(prefix) + ".index")
        try:
            result, error = run(prefix), None
        except CheckpointError as exc:
            result, error = None, exc
        if error is None and succeeded(result):
            return result
        if attempt + 1 == attempts or not os.path.isdir(os.fspath(path)):
            break
        if latest_checkpoint(path) == prefix and _file_signature(os.fspath(prefix) + ".index") == before:
            break  # nothing moved: the failure is the checkpoint's own
    if error is not None:
        raise error
    return result


def _complete_backup(prefix: str) -> str | None:
    """The newest complete ``PREFIX.tfckpt-old-HEX`` backup of an interrupted replacement, if any."""
    from ..bundle.swap import BACKUP_MARK

    directory, base = os.path.split(prefix)
    head = base + BACKUP_MARK
    try:
        names = [n for n in os.listdir(directory or os.curdir) if n.startswith(head) and n.endswith(".index")]
    except OSError:
        return None
    found = []
    for n in names:
        try:
            found.append((os.stat(os.path.join(directory, n)).st_mtime_ns, n[:-len(".index")]))
        except OSError:
            continue
    return os.path.join(directory, max(found)[1]) if found else None


def _is_complete(prefix: str) -> bool:
    """A V2 checkpoint whose index reads with good checksums and whose shards hold every entry."""
    from ..bundle.reader import BundleReader
    from ..errors import CheckpointError

    try:
        with BundleReader(prefix) as r:
            sizes = [os.stat(p).st_size for p in r.data_paths()]
            return all(0 <= e.shard_id < len(sizes) and e.offset + e.size <= sizes[e.shard_id]
                       for e in r.entries().values() if not e.slices)
    except (CheckpointError, OSError, ValueError):
        return False


def newest_complete_checkpoint(checkpoint_dir, name_re: re.Pattern | None = None) -> str | None:
    """The newest V2 checkpoint in ``checkpoint_dir`` that is complete (by ``.index`` mtime); or None.

    Complete: its index reads with good checksums, every data shard exists and is long enough
    for every entry.  ``name_re`` restricts the prefixes' base names (e.g. ``ckpt-\\d+``).
    Files of unfinished saves (temporary and staging names) are never candidates.
    """
    from ..bundle.naming import TEMP_MARKER
    from ..bundle.swap import STAGE_MARK

    checkpoint_dir = os.fspath(checkpoint_dir)
    try:
        names = os.listdir(checkpoint_dir or os.curdir)
    except OSError:
        return None
    candidates = []
    for n in names:
        if not n.endswith(".index") or TEMP_MARKER in n or STAGE_MARK in n:
            continue
        base = n[:-len(".index")]
        if name_re is not None and not name_re.fullmatch(base):
            continue
        try:
            st = os.stat(os.path.join(checkpoint_dir, n))
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            candidates.append((st.st_mtime_ns, base))
    for _, base in sorted(candidates, reverse=True):
        prefix = os.path.join(checkpoint_dir, base)
        if _is_complete(prefix):
            return prefix
    return None


# -- URLs (see tfckpt_lab.remote) -------------------------------------------------


def _get_url_state(url: str, latest_filename: str | None) -> CheckpointState | None:
    """:func:`get_checkpoint_state` for a directory URL: the state file read by ranged reads.

    Paths are joined onto the URL; an absolute local path (a state file written elsewhere,
    then uploaded) is looked up by file name in the same remote directory.
    """
    from .. import remote

    path = remote.join(url, latest_filename or STATE_FILENAME)
    if not remote.exists(path):
        return None
    try:
        proto = parse_state_text(remote.read_bytes(path, MAX_STATE_FILE_BYTES).decode("utf-8"), path=path)
    except Exception as exc:  # bad UTF-8, StateParseError, text_format.ParseError, too large
        if not isinstance(exc, (UnicodeDecodeError, StateParseError)) and type(exc).__name__ not in (
                "ParseError", "UnsupportedError"):
            raise
        warnings.warn(f"{path}: {exc}; checkpoint state ignored", RuntimeWarning, stacklevel=3)
        return None
    if not proto.model_checkpoint_path:  # what a power loss can leave: "no state", as for local files
        warnings.warn(f"{path}: the checkpoint state file names no latest checkpoint; checkpoint state "
                      "ignored", RuntimeWarning, stacklevel=3)
        return None
    return CheckpointState(
        model_checkpoint_path=remote.join(url, proto.model_checkpoint_path),
        all_model_checkpoint_paths=[remote.join(url, p) for p in proto.all_model_checkpoint_paths],
        all_model_checkpoint_timestamps=list(proto.all_model_checkpoint_timestamps),
        last_preserved_timestamp=proto.last_preserved_timestamp,
        path=path,
        lowlevel=proto,
    )


def _url_checkpoint_exists(prefix: str) -> str | None:
    """``prefix`` if a V2 index, a V1 file or V1 shards exist at that URL, else None."""
    from .. import remote

    if remote.exists(prefix + ".index") or remote.exists(prefix) or remote.glob(prefix):
        return prefix
    return None


# -- writing -------------------------------------------------------------------


def generate_checkpoint_state_proto(save_dir, model_checkpoint_path: str,
                                    all_model_checkpoint_paths=None,
                                    all_model_checkpoint_timestamps=None,
                                    last_preserved_timestamp: float | None = None):
    """Build the CheckpointState proto TensorFlow would write for ``save_dir``.

    The newest path is appended to the list if it is not its last element.  If
    ``save_dir`` is relative, relative paths are rewritten relative to it
    (``run/model-3`` in ``run`` becomes ``model-3``); absolute paths stay as given.

    >>> p = generate_checkpoint_state_proto("run", "run/model-2", ["run/model-1"])
    >>> list(p.all_model_checkpoint_paths)
    ['model-1', 'model-2']
    """
    save_dir = os.fspath(save_dir)
    model_checkpoint_path = os.fspath(model_checkpoint_path)
    paths = [os.fspath(p) for p in (all_model_checkpoint_paths or [])]
    if not paths or paths[-1] != model_checkpoint_path:
        paths.append(model_checkpoint_path)
    timestamps = list(all_model_checkpoint_timestamps or [])
    if timestamps and len(timestamps) != len(paths):
        raise ValueError(f"checkpoint timestamps must match checkpoint paths (got paths {paths} "
                         f"and timestamps {timestamps})")
    if not os.path.isabs(save_dir):
        if not os.path.isabs(model_checkpoint_path):
            model_checkpoint_path = _relpath(model_checkpoint_path, save_dir)
        paths = [p if os.path.isabs(p) else _relpath(p, save_dir) for p in paths]
    proto = _proto_class()()
    proto.model_checkpoint_path = model_checkpoint_path
    proto.all_model_checkpoint_paths.extend(paths)
    proto.all_model_checkpoint_timestamps.extend(float(t) for t in timestamps)
    if last_preserved_timestamp is not None:
        proto.last_preserved_timestamp = float(last_preserved_timestamp)
    return proto


_PLAIN = re.compile(r'[ !#-&(-\[\]-~]*')  # printable ASCII that text_format writes as it is


def checkpoint_state_text(proto) -> str:
    """The state file's text for a CheckpointState proto (TensorFlow's ``MessageToString``).

    Paths of plain printable ASCII (the usual case) are written directly, in the same bytes
    ``text_format`` produces (one line per field, doubles as Python's ``repr``), which keeps a
    state file of 100,000 checkpoints at a fraction of a second; anything else goes through
    ``text_format`` itself.

    >>> print(checkpoint_state_text(generate_checkpoint_state_proto("/ckpts", "/ckpts/model-1")), end="")
    model_checkpoint_path: "/ckpts/model-1"
    all_model_checkpoint_paths: "/ckpts/model-1"
    """
    paths = list(proto.all_model_checkpoint_paths)
    if _PLAIN.fullmatch(proto.model_checkpoint_path + "".join(paths)):
        lines = []
        if proto.model_checkpoint_path:
            lines.append(f'model_checkpoint_path: "{proto.model_checkpoint_path}"\n')
        lines += [f'all_model_checkpoint_paths: "{p}"\n' for p in paths]
        lines += [f"all_model_checkpoint_timestamps: {t!r}\n" for t in proto.all_model_checkpoint_timestamps]
        last = proto.last_preserved_timestamp
        if last != 0.0 or math.isnan(last) or math.copysign(1.0, last) < 0:
            lines.append(f"last_preserved_timestamp: {last!r}\n")
        return "".join(lines)
    from google.protobuf import text_format

    return text_format.MessageToString(proto)


def _relpath(path: str, start: str) -> str:
    """``os.path.relpath``, without its cost for the usual ``START/NAME``."""
    head, tail = _split(path)
    if head == start and tail not in ("", ".", ".."):
        return tail
    return os.path.relpath(path, start)


def _dir_identity(path: str):
    """``(st_dev, st_ino)`` of the directory the kernel reaches by ``path``, or None."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None


class _Inside:
    """``is_inside_directory`` for many prefixes: each distinct parent is looked up once."""

    def __init__(self, directory):
        self.target = _dir_identity(os.fspath(directory) or os.curdir)
        self.cache: dict[str, object] = {}

    def __call__(self, prefix) -> bool:
        parent, base = _split(os.fspath(prefix))
        if not base or base in (".", "..") or self.target is None:
            return False
        ident = self.cache.get(parent, self)
        if ident is self:
            ident = self.cache[parent] = _dir_identity(parent or os.curdir)
        return ident == self.target


def is_inside_directory(prefix, directory) -> bool:
    """True if checkpoint ``prefix``'s files lie directly in ``directory``, as the kernel resolves paths.

    The parent of ``prefix`` (its text before the last ``/``, never collapsed) and
    ``directory`` must be the same directory once the kernel has followed every symlink and
    ``..`` in them, in order: ``run/link/../ckpt-1`` with ``link -> /elsewhere/sub`` is in
    ``/elsewhere``, not in ``run``.  ``dir/ckpt-1`` is inside ``dir`` even when ``dir`` is
    itself a symlink.  A parent that does not exist is inside nothing.

    >>> import tempfile, os
    >>> run = tempfile.mkdtemp()
    >>> is_inside_directory(os.path.join(run, "ckpt-3"), run), is_inside_directory(os.path.join(run, "..", "x"), run)
    (True, False)
    """
    return _Inside(directory)(prefix)


def confine_to_directory(state: CheckpointState, directory) -> CheckpointState:
    """Move every listed checkpoint that is not directly inside ``directory`` to ``state.refused``.

    For anything that may *delete* what a state file lists (a manager or saver taking over a
    directory): a crafted ``checkpoint`` file with absolute paths, ``..`` or paths through
    symlinks must never make it delete files elsewhere.  Warns once, naming what was refused.
    The latest checkpoint path is left alone (it is only ever read).  Timestamps stay paired.
    """
    keep, stamps, refused = [], [], []
    ts = list(state.all_model_checkpoint_timestamps)
    inside = _Inside(directory)
    for i, p in enumerate(state.all_model_checkpoint_paths):
        if inside(p):
            keep.append(p)
            if i < len(ts):
                stamps.append(ts[i])
        else:
            refused.append(p)
    if refused:
        warnings.warn(f"{state.path or directory}: ignoring {len(refused)} checkpoint path(s) outside "
                      f"{os.fspath(directory)!r}, which will never be deleted from here: {refused!r}",
                      RuntimeWarning, stacklevel=2)
    state.all_model_checkpoint_paths = keep
    if ts:
        state.all_model_checkpoint_timestamps = stamps
    state.refused = state.refused + refused
    return state


def _write_state(path: str, proto, durable: bool, ops) -> None:
    from ..errors import os_error
    from ..fileio import atomic_write_text

    try:
        atomic_write_text(path, checkpoint_state_text(proto), durable=durable, ops=ops)
    except OSError as exc:
        raise os_error(exc, path, "writing the checkpoint state file") from exc


def update_checkpoint_state(save_dir, model_checkpoint_path: str,
                            all_model_checkpoint_paths=None, latest_filename: str | None = None,
                            *, save_relative_paths: bool = False,
                            all_model_checkpoint_timestamps=None,
                            last_preserved_timestamp: float | None = None,
                            durable: bool = False, ops=None):
    """Write ``save_dir/checkpoint`` (or ``latest_filename``) atomically; return the proto written.

    ``ops``: a :class:`~tfckpt_lab.fileio.FileOps` that sees the file operations.

    What ``tf.compat.v1.train.update_checkpoint_state`` (and TensorFlow's internal
    variant with ``save_relative_paths``) does.  With ``save_relative_paths``
    absolute paths are first made relative to ``save_dir``.

    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = update_checkpoint_state(d, os.path.join(d, "model-2"), [os.path.join(d, "model-1")],
    ...                             save_relative_paths=True, all_model_checkpoint_timestamps=[10.0, 20.5],
    ...                             last_preserved_timestamp=9.0)
    >>> from pathlib import Path
    >>> print(Path(d, "checkpoint").read_text(), end="")
    model_checkpoint_path: "model-2"
    all_model_checkpoint_paths: "model-1"
    all_model_checkpoint_paths: "model-2"
    all_model_checkpoint_timestamps: 10.0
    all_model_checkpoint_timestamps: 20.5
    last_preserved_timestamp: 9.0
    """
    save_dir = os.fspath(save_dir)
    model_checkpoint_path = os.fspath(model_checkpoint_path)
    state_path = _state_path(save_dir, latest_filename)
    paths = [os.fspath(p) for p in (all_model_checkpoint_paths or [])]
    if save_relative_paths:
        if os.path.isabs(model_checkpoint_path):
            model_checkpoint_path = _relpath(model_checkpoint_path, save_dir)
        paths = [_relpath(p, save_dir) if os.path.isabs(p) else p for p in paths]
    proto = generate_checkpoint_state_proto(
        save_dir, model_checkpoint_path, paths,
        all_model_checkpoint_timestamps=all_model_checkpoint_timestamps,
        last_preserved_timestamp=last_preserved_timestamp)
    if state_path == proto.model_checkpoint_path:
        raise RuntimeError(f"Save path {model_checkpoint_path!r} conflicts with the path used for the "
                           "checkpoint state; use a different save path")
    _write_state(state_path, proto, durable, ops)
    return proto


def repoint_checkpoint_state(state_path, old_prefix, new_prefix, *, durable: bool = False, ops=None) -> bool:
    """Make the state file name ``new_prefix`` wherever it names ``old_prefix``; True if it changed.

    Both prefixes must be in the same directory.  A path matches when it reaches the same
    file as ``old_prefix`` (same parent directory, same base name); it is rewritten in its own
    style (relative stays relative).  Timestamps and everything else stay as they are.
    A missing or unusable state file is left alone.
    """
    state_path = os.fspath(state_path)
    try:
        st = read_checkpoint_state(state_path)
    except Exception:  # noqa: BLE001 - missing or unusable: nothing names old_prefix
        return False
    directory = os.path.dirname(state_path)
    old_prefix, new_base = os.fspath(old_prefix), os.path.basename(os.fspath(new_prefix))
    inside = _Inside(os.path.dirname(old_prefix) or os.curdir)
    old_base = os.path.basename(old_prefix)

    def swap(stored: str) -> str | None:
        if os.path.basename(stored) != old_base:
            return None
        full = stored if os.path.isabs(stored) else os.path.join(directory, stored)
        return os.path.join(os.path.dirname(stored), new_base) if inside(full) else None

    proto, changed = st.lowlevel, False
    new = swap(proto.model_checkpoint_path)
    if new is not None:
        proto.model_checkpoint_path, changed = new, True
    paths = list(proto.all_model_checkpoint_paths)
    for i, p in enumerate(paths):
        new = swap(p)
        if new is not None:
            paths[i], changed = new, True
    if changed:
        del proto.all_model_checkpoint_paths[:]
        proto.all_model_checkpoint_paths.extend(paths)
        _write_state(state_path, proto, durable, ops)
    return changed


def state_names(state_path, prefix) -> bool:
    """True if the state file at ``state_path`` names ``prefix`` (as latest or in its list)."""
    state_path = os.fspath(state_path)
    try:
        st = read_checkpoint_state(state_path)
    except Exception:  # noqa: BLE001 - missing or unusable
        return False
    directory = os.path.dirname(state_path)
    prefix = os.fspath(prefix)
    inside = _Inside(os.path.dirname(prefix) or os.curdir)
    base = os.path.basename(prefix)
    for stored in [st.model_checkpoint_path, *st.all_model_checkpoint_paths]:
        if stored and os.path.basename(stored) == base:
            if inside(stored if os.path.isabs(stored) else os.path.join(directory, stored)):
                return True
    return False
