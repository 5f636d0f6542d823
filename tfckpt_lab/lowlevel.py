"""One level deeper: the format's own building blocks, for the curious and for tools.

``tfckpt_lab`` itself exports a dozen verbs (``load_checkpoint``, ``Saver``, ``layout`` ...).
Everything below them that a notebook or a tool may want to hold in its hands lives here,
under one documented name, so nobody has to import from deep module paths::

    import tfckpt_lab as tl
    tl.lowlevel.BundleReader(prefix).entries()        # every index entry, pieces included
    tl.lowlevel.crc32c(b"abc"), tl.lowlevel.mask_crc(0x364B3FB7)
    tl.lowlevel.decode_varint(b"\\xac\\x02")            # (300, 2)
    tl.lowlevel.detect_kind("model.index")             # 'index'

Every friendly object hands back the record it came from as ``.lowlevel`` (a
``CheckpointReader``'s low-level reader, an entry's ``BundleEntryProto``, a state
file's ``CheckpointState`` proto, a region's block handle or entry ...).

Layers, bottom up (see ``docs/architecture.md``):

=================  ==================================================================
codecs             ``crc32c``, ``mask_crc``, ``unmask_crc``, varints, fixed-width ints
sstable            ``TableReader``, ``TableBuilder``, ``Block``, ``BlockHandle``, ``Footer``
bundle / v1        ``BundleReader``, ``BundleWriter``, ``BundleEntry``, ``TensorSlice``,
                   ``Extent``, ``V1Reader``
checkpoint         ``CheckpointReader``, ``CheckpointState``, ``update_checkpoint_state``,
                   ``generate_checkpoint_state_proto``, ``checkpoint_path``,
                   ``meta_graph_filename``, ``remove_checkpoint``, ``VerifyReport``
graphs             ``MetaGraph``, ``read_meta_file``, ``write_meta_graph``, ``build_meta_graph``,
                   ``make_tensor_proto``, ``make_ndarray`` (.meta files); ``ObjectGraph``,
                   ``escape_local_name`` (TF2 object graphs, in the checkpoint layer)
byte regions       ``Region``, ``FileRegion``, ``layouts``, ``innermost_region``,
                   ``region_path``, ``detect_kind``
=================  ==================================================================

Plots and widgets have namespaces of their own: ``tfckpt_lab.plots`` (matplotlib figures,
also ``tfckpt_lab.views.plots``) and ``tfckpt_lab.widgets``.
"""

from __future__ import annotations

import importlib

# name -> module that defines it (imported on first use, so this namespace costs nothing)
_NAMES = {
    # codecs
    "crc32c": "tfckpt_lab.codecs",
    "crc32c_extend": "tfckpt_lab.codecs",
    "mask_crc": "tfckpt_lab.codecs",
    "unmask_crc": "tfckpt_lab.codecs",
    "encode_varint": "tfckpt_lab.codecs",
    "decode_varint": "tfckpt_lab.codecs",
    "encode_fixed32": "tfckpt_lab.codecs",
    "decode_fixed32": "tfckpt_lab.codecs",
    "encode_fixed64": "tfckpt_lab.codecs",
    "decode_fixed64": "tfckpt_lab.codecs",
    # sstable
    "TableReader": "tfckpt_lab.sstable.reader",
    "TableBuilder": "tfckpt_lab.sstable.builder",
    "Block": "tfckpt_lab.sstable.block",
    "BlockHandle": "tfckpt_lab.sstable.format",
    "Footer": "tfckpt_lab.sstable.format",
    # bundle and the older V1 format
    "BundleReader": "tfckpt_lab.bundle.reader",
    "BundleWriter": "tfckpt_lab.bundle.writer",
    "BundleEntry": "tfckpt_lab.bundle.entry",
    "TensorSlice": "tfckpt_lab.bundle.slices",
    "Extent": "tfckpt_lab.bundle.slices",
    "V1Reader": "tfckpt_lab.v1.reader",
    # checkpoint level
    "CheckpointReader": "tfckpt_lab.checkpoint.reader",
    "CheckpointState": "tfckpt_lab.checkpoint.state",
    "update_checkpoint_state": "tfckpt_lab.checkpoint.state",
    "generate_checkpoint_state_proto": "tfckpt_lab.checkpoint.state",
    "checkpoint_path": "tfckpt_lab.checkpoint.files",
    "meta_graph_filename": "tfckpt_lab.checkpoint.files",
    "remove_checkpoint": "tfckpt_lab.checkpoint.files",
    "VerifyReport": "tfckpt_lab.checkpoint.verify",
    # graphs
    "MetaGraph": "tfckpt_lab.meta.reader",
    "read_meta_file": "tfckpt_lab.meta.reader",
    "write_meta_graph": "tfckpt_lab.meta.writer",
    "build_meta_graph": "tfckpt_lab.meta.writer",
    "ObjectGraph": "tfckpt_lab.checkpoint.object_graph",
    "escape_local_name": "tfckpt_lab.checkpoint.object_graph",
    "make_tensor_proto": "tfckpt_lab.meta.tensors",
    "make_ndarray": "tfckpt_lab.meta.tensors",
    # byte regions
    "Region": "tfckpt_lab.explain",
    "FileRegion": "tfckpt_lab.explain",
    "layouts": "tfckpt_lab.explain",
    "innermost_region": "tfckpt_lab.explain",
    "region_path": "tfckpt_lab.explain",
    "detect_kind": "tfckpt_lab.explain",
    # comparisons
    "DiffResult": "tfckpt_lab.diff",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str):
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'tfckpt_lab.lowlevel' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
