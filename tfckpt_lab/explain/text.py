"""The ``.meta`` file (a serialized MetaGraphDef) and the ``checkpoint`` state file as byte regions.

``.meta`` grammar: one protobuf message, MetaGraphDef::

    1 meta_info_def, 2 graph_def (1 node*, 4 versions, 2 library), 3 saver_def,
    4 collection_def (map), 5 signature_def (map), 6 asset_file_def, 7 object_graph_def

``checkpoint`` grammar: CheckpointState in protobuf text format, one ``field: value`` per line.
"""

from __future__ import annotations

import os

from ..fileio import MAX_META_BYTES
from ..remote import read_file
from .protowire import message_regions
from .region import FileRegion, Region

__all__ = ["meta_layout", "state_layout", "STATE_FIELDS"]

STATE_FIELDS = {
    "model_checkpoint_path": "the latest checkpoint's prefix: what latest_checkpoint() returns",
    "all_model_checkpoint_paths": "one checkpoint still kept on disk (oldest first)",
    "all_model_checkpoint_timestamps": "when that kept checkpoint was saved (seconds since 1970)",
    "last_preserved_timestamp": "when the last checkpoint kept for good (keep_checkpoint_every_n_hours) was saved",
}


def meta_layout(path) -> FileRegion:
    """The region tree of a ``.meta`` file: MetaGraphDef's fields, the graph's nodes by byte range."""
    path = os.fspath(path)
    data = read_file(path, MAX_META_BYTES, ".meta file")
    root = FileRegion(path, "meta", len(data),
                      explanation="a MetaGraphDef protocol buffer: the graph, the saver and collections",
                      loader=lambda r: message_regions(data, 0, len(data), "MetaGraphDef"))
    root._data = data
    return root


def state_layout(path) -> FileRegion:
    """The region tree of a ``checkpoint`` state file: one region per line."""
    from ..checkpoint.state import MAX_STATE_FILE_BYTES

    path = os.fspath(path)
    data = read_file(path, MAX_STATE_FILE_BYTES, "checkpoint state file")

    def lines(_r):
        out = []
        pos = 0
        for line in data.splitlines(keepends=True):
            text = line.decode("utf-8", "replace").strip()
            field, _, value = text.partition(":")
            field = field.strip()
            value = value.strip()
            if value.startswith('"') and value.endswith('"') and len(value) >= 2:
                value = value[1:-1]
            meaning = STATE_FIELDS.get(field)
            if meaning is None:
                meaning = "a blank line" if not text else "not a CheckpointState field"
            if field.endswith("timestamps") or field == "last_preserved_timestamp":
                try:
                    import time

                    value_num = float(value)
                    meaning += f" ({time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(value_num))})"
                except ValueError:
                    pass
            out.append(Region(pos, pos + len(line), "state_line", field or "(blank)", value,
                              f"{field}: {meaning}" if field else meaning))
            pos += len(line)
        return out

    root = FileRegion(path, "state", len(data),
                      explanation="the 'checkpoint' state file: CheckpointState in protobuf text format",
                      loader=lines)
    root._data = data
    return root
