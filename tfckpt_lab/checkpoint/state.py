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
"""

from __future__ import annotations

import glob
import os
import re
import uuid
import warnings
from dataclasses import dataclass, field

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
]

STATE_FILENAME = "checkpoint"


@dataclass
class CheckpointState:
    """The decoded ``checkpoint`` file (paths as stored, or joined onto the directory).

    ``proto`` is the CheckpointState message itself.
    """

    model_checkpoint_path: str
    all_model_checkpoint_paths: list[str]
    all_model_checkpoint_timestamps: list[float]
    last_preserved_timestamp: float
    path: str | None = None
    proto: object = field(default=None, repr=False, compare=False)
    #: Paths left out by :func:`confine_to_directory` (outside the directory, ``..``, symlinked away).
    refused: list[str] = field(default_factory=list)

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

_STATE_LINE = re.compile(r'[ \t]*(model_checkpoint_path|all_model_checkpoint_paths|all_model_checkpoint_timestamps'
                         r'|last_preserved_timestamp)[ \t]*:[ \t]*(?:"([^"\\\n]*)"|([-+.0-9eE]+))[ \t]*')
_STRING_FIELDS = {"model_checkpoint_path": False, "all_model_checkpoint_paths": True}


class StateParseError(ValueError):
    """A state file that is too large, or too convoluted to parse cheaply."""


def _parse_canonical(text: str, proto) -> bool:
    """Fill ``proto`` from text of one ``field: value`` per line (what TensorFlow writes); False if not that."""
    fullmatch = _STATE_LINE.fullmatch
    for line in text.splitlines():
        m = fullmatch(line)
        if m is None:
            if line.strip():
                return False
            continue
        name, sval, nval = m.groups()
        if name in _STRING_FIELDS:
            if sval is None:
                return False
            if _STRING_FIELDS[name]:
                proto.all_model_checkpoint_paths.append(sval)
            else:
                proto.model_checkpoint_path = sval
        else:
            if nval is None:
                return False
            try:
                x = float(nval)
            except ValueError:
                return False
            if name == "last_preserved_timestamp":
                proto.last_preserved_timestamp = x
            else:
                proto.all_model_checkpoint_timestamps.append(x)
    return True


def parse_state_text(text: str, *, path=None):
    """Parse the text of a state file into a CheckpointState proto.

    TensorFlow's own one-field-per-line text is parsed directly; anything else (comments,
    escapes, other spellings) goes to ``text_format`` (raises ``text_format.ParseError``),
    but only up to :data:`MAX_SLOW_PARSE_BYTES` (:class:`StateParseError` beyond).
    """
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
    from ..errors import UnsupportedError
    from ..fileio import read_whole_file

    try:
        data = read_whole_file(path, limit=MAX_STATE_FILE_BYTES, what="checkpoint state file")
    except UnsupportedError as exc:  # a FIFO, a device, or over the cap
        raise StateParseError(exc.message) from None
    return data.decode("utf-8")


def _state_path(checkpoint_dir, latest_filename) -> str:
    return os.path.join(os.fspath(checkpoint_dir), latest_filename or STATE_FILENAME)


def read_checkpoint_state(path) -> CheckpointState:
    """Read one state file exactly as stored (no path joining).  Raises on bad text."""
    path = os.fspath(path)
    proto = parse_state_text(_read_state_file(path), path=path)
    return CheckpointState(
        model_checkpoint_path=proto.model_checkpoint_path,
        all_model_checkpoint_paths=list(proto.all_model_checkpoint_paths),
        all_model_checkpoint_timestamps=list(proto.all_model_checkpoint_timestamps),
        last_preserved_timestamp=proto.last_preserved_timestamp,
        path=path,
        proto=proto,
    )


def get_checkpoint_state(checkpoint_dir, latest_filename: str | None = None) -> CheckpointState | None:
    """What TensorFlow's ``tf.train.get_checkpoint_state`` returns, as a :class:`CheckpointState`.

    Relative paths are joined onto ``checkpoint_dir``.  Returns None when there is
    no state file, or (with a warning, as TensorFlow logs one) when it cannot be parsed.
    Raises ValueError when it parses but names no checkpoint.
    """
    checkpoint_dir = os.fspath(checkpoint_dir)
    path = _state_path(checkpoint_dir, latest_filename)
    if not os.path.exists(path):
        return None
    try:
        st = read_checkpoint_state(path)
    except (OSError, UnicodeDecodeError, StateParseError) as exc:
        warnings.warn(f"{path}: {exc}; checkpoint state ignored", RuntimeWarning, stacklevel=2)
        return None
    except Exception as exc:  # text_format.ParseError
        if type(exc).__name__ != "ParseError":
            raise
        warnings.warn(f"{path}: {exc}; checkpoint state ignored", RuntimeWarning, stacklevel=2)
        return None
    if not st.model_checkpoint_path:
        raise ValueError("Invalid checkpoint state loaded from " + checkpoint_dir)
    if not os.path.isabs(st.model_checkpoint_path):
        st.model_checkpoint_path = os.path.join(checkpoint_dir, st.model_checkpoint_path)
    st.all_model_checkpoint_paths = [
        p if os.path.isabs(p) else os.path.join(checkpoint_dir, p) for p in st.all_model_checkpoint_paths
    ]
    return st


def checkpoint_exists(prefix) -> bool:
    """True if a V2 checkpoint (its ``.index``) exists at ``prefix``."""
    return os.path.exists(os.fspath(prefix) + ".index")


def latest_checkpoint(checkpoint_dir, latest_filename: str | None = None) -> str | None:
    """The prefix of the newest checkpoint in ``checkpoint_dir``, as ``tf.train.latest_checkpoint`` answers.

    None if there is no state file, or the checkpoint it names has no files.
    """
    st = get_checkpoint_state(checkpoint_dir, latest_filename)
    if st is not None and st.model_checkpoint_path:
        p = st.model_checkpoint_path
        # V2: PREFIX.index; V1: the file itself, or a shard pattern like model.ckpt-5-?????-of-00003
        # (TensorFlow matches both as glob patterns).
        if checkpoint_exists(p) or os.path.exists(p) or glob.glob(p):
            return p
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
            model_checkpoint_path = os.path.relpath(model_checkpoint_path, save_dir)
        paths = [p if os.path.isabs(p) else os.path.relpath(p, save_dir) for p in paths]
    proto = _proto_class()()
    proto.model_checkpoint_path = model_checkpoint_path
    proto.all_model_checkpoint_paths.extend(paths)
    proto.all_model_checkpoint_timestamps.extend(float(t) for t in timestamps)
    if last_preserved_timestamp is not None:
        proto.last_preserved_timestamp = float(last_preserved_timestamp)
    return proto


def checkpoint_state_text(proto) -> str:
    """The state file's text for a CheckpointState proto (TensorFlow's ``MessageToString``).

    >>> print(checkpoint_state_text(generate_checkpoint_state_proto("/ckpts", "/ckpts/model-1")), end="")
    model_checkpoint_path: "/ckpts/model-1"
    all_model_checkpoint_paths: "/ckpts/model-1"
    """
    from google.protobuf import text_format

    return text_format.MessageToString(proto)


def is_inside_directory(prefix, directory) -> bool:
    """True if checkpoint ``prefix`` lies directly in ``directory`` once symlinks and ``..`` are resolved.

    Only the *parent* is resolved: ``dir/ckpt-1`` is inside ``dir`` even when ``dir`` itself is a
    symlink, but ``dir/link/ckpt-1`` with ``link -> /elsewhere`` and ``dir/../x/ckpt-1`` are not.

    >>> is_inside_directory("/ckpts/run/ckpt-3", "/ckpts/run"), is_inside_directory("/ckpts/run/../x", "/ckpts/run")
    (True, False)
    """
    prefix, directory = os.fspath(prefix), os.fspath(directory)
    if not prefix or os.path.basename(prefix) in ("", ".", ".."):
        return False
    parent = os.path.dirname(os.path.abspath(prefix))
    return os.path.realpath(parent) == os.path.realpath(directory)


def confine_to_directory(state: CheckpointState, directory) -> CheckpointState:
    """Move every listed checkpoint that is not directly inside ``directory`` to ``state.refused``.

    For anything that may *delete* what a state file lists (a manager or saver taking over a
    directory): a crafted ``checkpoint`` file with absolute paths, ``..`` or paths through
    symlinks must never make it delete files elsewhere.  Warns once, naming what was refused.
    The latest checkpoint path is left alone (it is only ever read).  Timestamps stay paired.
    """
    keep, stamps, refused = [], [], []
    ts = list(state.all_model_checkpoint_timestamps)
    for i, p in enumerate(state.all_model_checkpoint_paths):
        if is_inside_directory(p, directory):
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


def _atomic_write_text(path: str, text: str, durable: bool = False) -> None:
    tmp = path + ".tmp" + uuid.uuid4().hex
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
        if durable:
            from ..bundle.writer import _fsync_dir

            _fsync_dir(path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise


def update_checkpoint_state(save_dir, model_checkpoint_path: str,
                            all_model_checkpoint_paths=None, latest_filename: str | None = None,
                            *, save_relative_paths: bool = False,
                            all_model_checkpoint_timestamps=None,
                            last_preserved_timestamp: float | None = None,
                            durable: bool = False):
    """Write ``save_dir/checkpoint`` (or ``latest_filename``) atomically; return the proto written.

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
            model_checkpoint_path = os.path.relpath(model_checkpoint_path, save_dir)
        paths = [os.path.relpath(p, save_dir) if os.path.isabs(p) else p for p in paths]
    proto = generate_checkpoint_state_proto(
        save_dir, model_checkpoint_path, paths,
        all_model_checkpoint_timestamps=all_model_checkpoint_timestamps,
        last_preserved_timestamp=last_preserved_timestamp)
    if state_path == proto.model_checkpoint_path:
        raise RuntimeError(f"Save path {model_checkpoint_path!r} conflicts with the path used for the "
                           "checkpoint state; use a different save path")
    _atomic_write_text(state_path, checkpoint_state_text(proto), durable)
    return proto
