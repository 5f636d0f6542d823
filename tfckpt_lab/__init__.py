"""tfckpt_lab: TensorFlow's checkpoint format, implemented in plain Python so you can watch it work.

The public API is small and named like ``tf.train`` where it does the same job::

    import tfckpt_lab as tl
    tl.write_bundle("out/model", {"w1": w1, "w2": w2})
    reader = tl.load_checkpoint("out/model")      # or a directory: its latest checkpoint
    reader.get_tensor("w1"), reader.get_variable_to_shape_map()
    tl.list_variables("out"), tl.latest_checkpoint("out")

Importing this package is light: it loads numpy and nothing else until a name
below is first used (protobuf when a checkpoint is read, matplotlib and
ipywidgets only when a view is drawn).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# name -> module that defines it (imported on first use)
_EXPORTS = {
    # errors
    "CheckpointError": "tfckpt_lab.errors",
    "CheckpointNotFoundError": "tfckpt_lab.errors",
    "TensorNotFoundError": "tfckpt_lab.errors",
    "CorruptionError": "tfckpt_lab.errors",
    "ChecksumMismatchError": "tfckpt_lab.errors",
    "TruncatedError": "tfckpt_lab.errors",
    "MalformedError": "tfckpt_lab.errors",
    "UnsupportedError": "tfckpt_lab.errors",
    "FileTooLargeError": "tfckpt_lab.errors",
    "UnsafePathError": "tfckpt_lab.errors",
    # bundle level
    "write_bundle": "tfckpt_lab.bundle.writer",
    "BundleWriter": "tfckpt_lab.bundle.writer",
    "BundleReader": "tfckpt_lab.bundle.reader",
    "TensorSlice": "tfckpt_lab.bundle.slices",
    "Extent": "tfckpt_lab.bundle.slices",
    "V1Reader": "tfckpt_lab.v1.reader",
    # checkpoint level
    "CheckpointReader": "tfckpt_lab.checkpoint.reader",
    "load_checkpoint": "tfckpt_lab.checkpoint.reader",
    "list_variables": "tfckpt_lab.checkpoint.reader",
    "load_variable": "tfckpt_lab.checkpoint.reader",
    "latest_checkpoint": "tfckpt_lab.checkpoint.state",
    "get_checkpoint_state": "tfckpt_lab.checkpoint.state",
    "CheckpointState": "tfckpt_lab.checkpoint.state",
    # graphs: .meta files and TF2 object graphs
    "write_meta_graph": "tfckpt_lab.meta.writer",
    "read_meta_graph": "tfckpt_lab.meta.reader",
    "MetaGraph": "tfckpt_lab.meta.reader",
    "read_object_graph": "tfckpt_lab.meta.object_graph",
    "ObjectGraph": "tfckpt_lab.meta.object_graph",
    "write_object_checkpoint": "tfckpt_lab.meta.object_writer",
    "update_checkpoint_state": "tfckpt_lab.checkpoint.state",
    "generate_checkpoint_state_proto": "tfckpt_lab.checkpoint.state",
    "Saver": "tfckpt_lab.checkpoint.saver",
    "CheckpointManager": "tfckpt_lab.checkpoint.manager",
    "remove_checkpoint": "tfckpt_lab.checkpoint.files",
    # see inside (byte regions)
    "layout": "tfckpt_lab.explain",
    "innermost_region": "tfckpt_lab.explain",
    "explore": "tfckpt_lab.widgets",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tfckpt_lab' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
