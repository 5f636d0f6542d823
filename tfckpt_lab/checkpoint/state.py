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
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

__all__ = [
    "STATE_FILENAME",
    "CheckpointState",
    "read_checkpoint_state",
    "get_checkpoint_state",
    "latest_checkpoint",
    "checkpoint_exists",
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


def _proto_class():
    from ..protos.checkpoint_state_pb2 import CheckpointState as P

    return P


def parse_state_text(text: str, *, path=None):
    """Parse the text of a state file into a CheckpointState proto (raises text_format.ParseError)."""
    from google.protobuf import text_format

    proto = _proto_class()()
    text_format.Merge(text, proto)
    return proto


def _state_path(checkpoint_dir, latest_filename) -> str:
    return os.path.join(os.fspath(checkpoint_dir), latest_filename or STATE_FILENAME)


def read_checkpoint_state(path) -> CheckpointState:
    """Read one state file exactly as stored (no path joining).  Raises on bad text."""
    path = os.fspath(path)
    with open(path, encoding="utf-8") as f:
        proto = parse_state_text(f.read(), path=path)
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
    except (OSError, UnicodeDecodeError) as exc:
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
        if checkpoint_exists(st.model_checkpoint_path) or os.path.exists(st.model_checkpoint_path):
            return st.model_checkpoint_path
    return None
