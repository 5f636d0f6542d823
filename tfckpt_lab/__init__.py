"""tfckpt_lab: TensorFlow's checkpoint format, implemented in plain Python so you can watch it work.

The public API is small and named like ``tf.train`` where it does the same job::

    import tfckpt_lab as tl
    tl.write_bundle("out/model", {"w1": w1, "w2": w2})
    reader = tl.load_checkpoint("out/model")      # or a directory: its latest checkpoint
    reader.get_tensor("w1"), reader.get_variable_to_shape_map()
    tl.list_variables("out"), tl.latest_checkpoint("out")
    tl.export("out/model", "model.safetensors"), tl.compare("out/model", "model.safetensors")

The verbs at the top: ``load_checkpoint``, ``list_variables``, ``load_variable``,
``latest_checkpoint``, ``get_checkpoint_state``, ``read_meta_graph``, ``read_object_graph``,
``write_bundle``, ``write_object_checkpoint``, ``Saver``, ``CheckpointManager``,
``verify_checkpoint``, ``layout``, ``explore``, ``export``, ``import_tensors``, ``compare``, and
the errors.  One level deeper (readers of each file format, codecs, byte regions):
``tl.lowlevel``; figures: ``tl.plots``; widgets: ``tl.widgets``.

Importing this package is light: it loads numpy and nothing else until a name
below is first used (protobuf when a checkpoint is read, matplotlib and
ipywidgets only when a view is drawn).
"""

from __future__ import annotations

import importlib

from ._version import __version__

# The public verbs: name -> module that defines it (imported on first use).
_EXPORTS = {
    # read
    "load_checkpoint": "tfckpt_lab.checkpoint.reader",
    "list_variables": "tfckpt_lab.checkpoint.reader",
    "load_variable": "tfckpt_lab.checkpoint.reader",
    "latest_checkpoint": "tfckpt_lab.checkpoint.state",
    "get_checkpoint_state": "tfckpt_lab.checkpoint.state",
    "read_meta_graph": "tfckpt_lab.checkpoint.meta_graph",
    "read_object_graph": "tfckpt_lab.checkpoint.object_graph",
    # write
    "write_bundle": "tfckpt_lab.bundle.writer",
    "write_object_checkpoint": "tfckpt_lab.checkpoint.object_writer",
    "Saver": "tfckpt_lab.checkpoint.saver",
    "CheckpointManager": "tfckpt_lab.checkpoint.manager",
    # check, see inside, convert, compare
    "verify_checkpoint": "tfckpt_lab.checkpoint.verify",
    "layout": "tfckpt_lab.explain",
    "explore": "tfckpt_lab.widgets",
    "export": "tfckpt_lab.exporting",
    "import_tensors": "tfckpt_lab.importing",
    "compare": "tfckpt_lab.diff",
    # errors (one hierarchy: see tfckpt_lab.errors)
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
    "PartialTensorError": "tfckpt_lab.errors",
    "CheckpointIOError": "tfckpt_lab.errors",
    "CheckpointPermissionError": "tfckpt_lab.errors",
    "ConcurrentWriterError": "tfckpt_lab.errors",
}

# Namespaces, imported on first use: one level deeper, the plots, the widgets.
_NAMESPACES = {"lowlevel": "tfckpt_lab.lowlevel", "plots": "tfckpt_lab.views.plots",
               "widgets": "tfckpt_lab.widgets", "tutorial": "tfckpt_lab.tutorial"}

__all__ = sorted(_EXPORTS) + sorted(_NAMESPACES) + ["__version__"]


def __getattr__(name: str):
    if name in _NAMESPACES:
        value = importlib.import_module(_NAMESPACES[name])
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    else:
        # Names that were top-level before the API was narrowed still work (tl.BundleReader ...);
        # they are documented in tfckpt_lab.lowlevel.
        from . import lowlevel

        if name not in lowlevel._NAMES:
            raise AttributeError(f"module 'tfckpt_lab' has no attribute {name!r}")
        value = getattr(lowlevel, name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
