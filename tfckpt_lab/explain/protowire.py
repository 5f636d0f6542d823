"""Protocol-buffer wire format as byte regions, driven by the compiled descriptors.

Byte grammar::

    message : field*
    field   : tag varint (field_number << 3 | wire_type), payload
    payload : varint                      (wire type 0: ints, bools, enums)
            | fixed64                     (wire type 1)
            | length varint, bytes        (wire type 2: strings, bytes, messages, packed)
            | fixed32                     (wire type 5)

The schema -- field numbers, names, types, nested message and enum types -- is
read from the descriptors of the compiled ``tfckpt_lab/protos/*_pb2.py``
modules, the same ones the readers parse with; nothing here repeats a field
number.  What this module adds is :data:`EXPLANATIONS`, one human sentence per
``Message.field``.

Every field becomes a region whose children are its tag, its length (wire type 2)
and its payload; a sub-message's payload is expanded into fields again, lazily.
Unknown fields are shown with their number and wire type; bytes that do not
parse become one ``unparsed`` region, so the tiling never breaks.
"""

from __future__ import annotations

import importlib
import struct

from ..codecs import decode_varint, unmask_crc
from .region import Region

__all__ = ["EXPLANATIONS", "WIRE_TYPE_NAMES", "find_message", "message_regions"]

WIRE_TYPE_NAMES = {0: "varint", 1: "fixed64", 2: "length-delimited", 5: "fixed32"}

# The modules whose descriptors name the messages a checkpoint file holds at top level.
_PROTO_MODULES = ("tensor_bundle_pb2", "saved_tensor_slice_pb2", "meta_graph_pb2", "tensor_pb2",
                  "trackable_object_graph_pb2", "checkpoint_state_pb2", "graph_pb2", "node_def_pb2",
                  "saver_pb2", "tensor_shape_pb2", "tensor_slice_pb2", "versions_pb2", "attr_value_pb2",
                  "op_def_pb2", "variable_pb2")

# "Message.field" -> what the field means (the schema itself comes from the descriptors).
EXPLANATIONS: dict[str, str] = {
    # the .index file
    "BundleHeaderProto.num_shards": "how many .data-NNNNN-of-NNNNN files this checkpoint has",
    "BundleHeaderProto.endianness": "byte order of the tensor data (0 = little)",
    "BundleHeaderProto.version": "format version of the bundle",
    "VersionDef.producer": "version of the code that wrote this",
    "VersionDef.min_consumer": "oldest reader version allowed to read it",
    "VersionDef.bad_consumers": "reader versions that must not read it",
    "BundleEntryProto.dtype": "the tensor's element type (a DataType number)",
    "BundleEntryProto.shape": "the tensor's shape, one dim per axis",
    "BundleEntryProto.shard_id": "which data shard holds the bytes",
    "BundleEntryProto.offset": "where the tensor's bytes start in that shard",
    "BundleEntryProto.size": "how many bytes the tensor takes in the shard",
    "BundleEntryProto.crc32c": "masked CRC-32C of the tensor's bytes",
    "BundleEntryProto.slices": "one saved piece of a partitioned variable",
    "TensorShapeProto.dim": "one axis of the shape",
    "TensorShapeProto.unknown_rank": "true if even the number of axes is unknown",
    "Dim.size": "length of this axis",
    "Dim.name": "optional name of this axis",
    "TensorSliceProto.extent": "the range taken along one axis (empty = all of it)",
    "Extent.start": "first index along this axis",
    "Extent.length": "how many indices",
    # V1 checkpoints: one SSTable of SavedTensorSlices
    "SavedTensorSlices.meta": "the header: every tensor's name, shape, dtype and slices",
    "SavedTensorSlices.data": "the values of one slice of one tensor",
    "SavedTensorSliceMeta.tensor": "one tensor of the checkpoint",
    "SavedTensorSliceMeta.versions": "format version",
    "SavedSliceMeta.name": "the tensor's name",
    "SavedSliceMeta.shape": "its full shape",
    "SavedSliceMeta.type": "its element type (a DataType number)",
    "SavedSliceMeta.slice": "one stored slice (empty extents = the whole axis)",
    "SavedSlice.name": "the tensor this slice belongs to",
    "SavedSlice.slice": "which part of the tensor",
    "SavedSlice.data": "the values, as a TensorProto",
    # a tensor's value inside a graph or a V1 slice
    "TensorProto.dtype": "element type",
    "TensorProto.tensor_shape": "shape",
    "TensorProto.version_number": "serialization version (unused)",
    "TensorProto.tensor_content": "the values as raw little-endian bytes",
    "TensorProto.half_val": "float16/bfloat16 values, as their 16 bits in int32s",
    "TensorProto.float_val": "float32 values",
    "TensorProto.double_val": "float64 values",
    "TensorProto.int_val": "int32/int16/int8/uint8 values",
    "TensorProto.string_val": "one string element",
    "TensorProto.scomplex_val": "complex64 values as (real, imaginary) pairs",
    "TensorProto.int64_val": "int64 values",
    "TensorProto.bool_val": "bool values",
    "TensorProto.dcomplex_val": "complex128 values as (real, imaginary) pairs",
    "TensorProto.uint32_val": "uint32 values",
    "TensorProto.uint64_val": "uint64 values",
    # the .meta file
    "MetaGraphDef.meta_info_def": "versions, tags and the ops the graph uses",
    "MetaGraphDef.graph_def": "the graph: every node (op) and its inputs",
    "MetaGraphDef.saver_def": "how to save and restore: tensor and op names",
    "MetaGraphDef.collection_def": "one named collection (map entry)",
    "MetaGraphDef.signature_def": "one named signature (map entry)",
    "MetaInfoDef.meta_graph_version": "user-given version string",
    "MetaInfoDef.stripped_op_list": "definitions of the ops the graph uses (OpList)",
    "MetaInfoDef.any_info": "user-supplied Any message",
    "MetaInfoDef.tags": "a tag (SavedModel)",
    "MetaInfoDef.tensorflow_version": "TensorFlow version that wrote this",
    "MetaInfoDef.tensorflow_git_version": "its git version",
    "MetaInfoDef.stripped_default_attrs": "default-valued attrs were removed",
    "MetaInfoDef.function_aliases": "a function alias (map entry)",
    "GraphDef.node": "one node of the graph",
    "GraphDef.version": "deprecated graph version",
    "GraphDef.versions": "graph format versions",
    "NodeDef.name": "the node's unique name",
    "NodeDef.op": "the operation it runs",
    "NodeDef.input": "an input: 'node', 'node:k' or '^node' (control)",
    "NodeDef.device": "requested device",
    "NodeDef.attr": "one attribute (map entry: name -> AttrValue)",
    "SaverDef.filename_tensor_name": "tensor fed with the checkpoint path",
    "SaverDef.save_tensor_name": "tensor to fetch to save",
    "SaverDef.restore_op_name": "op to run to restore",
    "SaverDef.max_to_keep": "how many recent checkpoints to keep",
    "SaverDef.sharded": "save one shard per device",
    "SaverDef.keep_checkpoint_every_n_hours": "also keep one checkpoint every N hours",
    "SaverDef.version": "checkpoint format (2 = V2: .index + .data)",
}

_MAP_ENTRY_TEXT = {"key": "the map key", "value": "the map value"}

# FieldDescriptor.type -> (wire type, short name)
_TYPES = {
    1: (1, "double"), 2: (5, "float"), 3: (0, "int64"), 4: (0, "uint64"), 5: (0, "int32"), 6: (1, "fixed64"),
    7: (5, "fixed32"), 8: (0, "bool"), 9: (2, "string"), 10: (3, "group"), 11: (2, "message"), 12: (2, "bytes"),
    13: (0, "uint32"), 14: (0, "enum"), 15: (5, "sfixed32"), 16: (1, "sfixed64"), 17: (0, "sint32"),
    18: (0, "sint64"),
}
_PACKABLE_WIRE = (0, 1, 5)

_F32 = struct.Struct("<f")
_F64 = struct.Struct("<d")
_I32 = struct.Struct("<i")
_I64 = struct.Struct("<q")


def find_message(name: str):
    """The descriptor of top-level message ``name`` (e.g. ``"BundleEntryProto"``) from the compiled protos."""
    for module in _PROTO_MODULES:
        mod = importlib.import_module(f"..protos.{module}", __package__)
        desc = mod.DESCRIPTOR.message_types_by_name.get(name)
        if desc is not None:
            return desc
    return None


def _is_repeated(f) -> bool:
    rep = getattr(f, "is_repeated", None)
    return rep if rep is not None else f.label == 3  # LABEL_REPEATED (protobuf < 5.28)


def _explanation(desc, f) -> str:
    text = EXPLANATIONS.get(f"{desc.name}.{f.name}")
    if text is None and desc.GetOptions().map_entry:
        text = _MAP_ENTRY_TEXT.get(f.name)
    if text is None:
        kind = f.message_type.name if f.message_type is not None else (
            f.enum_type.name if f.enum_type is not None else _TYPES[f.type][1])
        text = f"{'repeated ' if _is_repeated(f) else ''}{kind}"
    return text


def _label_field(desc):
    """The string field that names a message of this type (a map entry's key, a node's name), if any."""
    if desc.GetOptions().map_entry:
        return desc.fields_by_name.get("key")
    f = desc.fields_by_name.get("name")
    return f if f is not None and f.type in (9, 12) else None


def _signed64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _varint_value(raw: int, f):
    """The value a varint holds as field ``f`` says, and a one-line reading of it."""
    t = f.type if f is not None else 4
    if t == 8:
        return bool(raw), f"varint {raw} = {bool(raw)}"
    if t in (3, 5):
        v = _signed64(raw)
        return v, f"varint {v}"
    if t in (17, 18):
        v = (raw >> 1) ^ -(raw & 1)
        return v, f"zigzag varint {raw} = {v}"
    if t == 14:
        return raw, f"enum {raw} = {_enum_name(f.enum_type, raw)}"
    return raw, f"varint {raw}"


def _enum_name(enum, n: int) -> str:
    value = enum.values_by_number.get(n)
    name = value.name if value is not None else "(not a known value)"
    if enum.name == "DataType":
        from ..dtypes import dtype_name

        return f"{name} ({dtype_name(n)})"
    return name


def _fixed_value(chunk: bytes, f, owner: str):
    t = f.type if f is not None else (6 if len(chunk) == 8 else 7)
    if t == 2:
        v = _F32.unpack(chunk)[0]
        return v, f"float32 {v:g} (little-endian)"
    if t == 1:
        v = _F64.unpack(chunk)[0]
        return v, f"float64 {v:g} (little-endian)"
    if t in (15, 16):
        v = (_I32 if t == 15 else _I64).unpack(chunk)[0]
        return v, f"little-endian signed {8 * len(chunk)}-bit {v}"
    v = int.from_bytes(chunk, "little")
    if f is not None and f"{owner}.{f.name}" == "BundleEntryProto.crc32c":
        return v, f"masked CRC {v:#010x} (the real CRC-32C is {unmask_crc(v):#010x})"
    return v, f"little-endian {8 * len(chunk)}-bit {v}"


def _peek_string_field(buf, start: int, end: int, number: int) -> str | None:
    """The value of the first length-delimited field ``number`` in ``buf[start:end]`` (cheap, for labels)."""
    pos = start
    try:
        while pos < end:
            tag, pos = decode_varint(buf, pos)
            wt = tag & 7
            if wt == 0:
                _, pos = decode_varint(buf, pos)
            elif wt == 1:
                pos += 8
            elif wt == 5:
                pos += 4
            elif wt == 2:
                n, pos = decode_varint(buf, pos)
                if tag >> 3 == number:
                    return bytes(buf[pos:pos + n]).decode("utf-8", "backslashreplace")
                pos += n
            else:
                return None
    except Exception:
        return None
    return None


def message_regions(buf, start: int, end: int, message, *, base: int = 0) -> list[Region]:
    """Regions for the fields of one serialized message ``buf[start:end]``.

    ``base`` is added to every offset (``buf``'s position in its file).
    ``message`` is a message descriptor or the name of a top-level message of
    the compiled protos (:func:`find_message`); None shows every field by number only.
    """
    desc = find_message(message) if isinstance(message, str) else message
    fields = desc.fields_by_number if desc is not None else {}
    owner = desc.name if desc is not None else ""
    out: list[Region] = []
    pos = start
    while pos < end:
        fstart = pos
        try:
            tag, pos = decode_varint(buf, pos)
            number, wt = tag >> 3, tag & 7
            f = fields.get(number)
            if f is not None and not _wire_fits(f, wt):
                f = None  # the bytes disagree with the schema: show the field by number
            name = f.name if f is not None else f"field {number}"
            tag_r = Region(base + fstart, base + pos, "tag", "tag", tag,
                           f"field {number} ({name}), wire type {wt} ({WIRE_TYPE_NAMES.get(wt, '?')})")
            if number == 0 or wt not in WIRE_TYPE_NAMES:
                raise ValueError("bad tag")
            if wt == 0:
                pstart = pos
                raw, pos = decode_varint(buf, pos)
                shown, text = _varint_value(raw, f)
                kids = [tag_r, Region(base + pstart, base + pos, "varint", name, shown, text)]
            elif wt in (1, 5):
                n = 8 if wt == 1 else 4
                if pos + n > end:
                    raise ValueError("truncated")
                shown, text = _fixed_value(bytes(buf[pos:pos + n]), f, owner)
                kids = [tag_r, Region(base + pos, base + pos + n, "fixed64" if n == 8 else "fixed32",
                                      name, shown, text)]
                pos += n
            else:
                lstart = pos
                n, pos = decode_varint(buf, pos)
                if pos + n > end:
                    raise ValueError("truncated")
                len_r = Region(base + lstart, base + pos, "length", "length", n, f"{n} payload bytes follow")
                payload, shown = _payload(buf, pos, pos + n, f, name, base)
                kids = [tag_r, len_r]
                if n:
                    kids.append(payload)
                pos += n
        except Exception:
            out.append(Region(base + fstart, base + end, "unparsed", "unparsed",
                              bytes(buf[fstart:min(end, fstart + 32)]), "bytes that do not parse as a protobuf field"))
            return out
        label = name
        if f is not None and f.message_type is not None and kids[-1].kind == "message":
            lf = _label_field(f.message_type)
            if lf is not None:
                sub = _peek_string_field(buf, kids[-1].start - base, kids[-1].end - base, lf.number)
                if sub is not None:
                    label = sub
        expl = _explanation(desc, f) if f is not None else "a field this schema does not describe"
        out.append(Region(base + fstart, base + pos, "field", label, shown, f"{name} (field {number}): {expl}",
                          children=kids, lowlevel=f))
    return out


def _wire_fits(f, wt: int) -> bool:
    expected = _TYPES[f.type][0]
    return wt == expected or (wt == 2 and _is_repeated(f) and expected in _PACKABLE_WIRE)


def _payload(buf, start: int, end: int, f, name: str, base: int):
    if f is None:
        return (Region(base + start, base + end, "bytes", name, None, f"{end - start} opaque bytes"),
                f"<{end - start} bytes>")
    t = f.type
    if t == 11:
        sub = f.message_type

        def load(_r, buf=buf, start=start, end=end, sub=sub):
            return message_regions(buf, start, end, sub, base=base)

        return (Region(base + start, base + end, "message", sub.name, None, f"a serialized {sub.name}", loader=load),
                f"<{sub.name}, {end - start} bytes>")
    if t == 9:
        s = bytes(buf[start:end]).decode("utf-8", "backslashreplace")
        return Region(base + start, base + end, "string", name, s, f"UTF-8 text, {end - start} bytes"), s
    if t == 12:
        return (Region(base + start, base + end, "bytes", name, None, f"{end - start} opaque bytes"),
                f"<{end - start} bytes>")
    # a packed repeated scalar field
    vals = []
    wire = _TYPES[t][0]
    pos = start
    while pos < end:
        if wire == 0:
            raw, pos = decode_varint(buf, pos)
            vals.append(_varint_value(raw, f)[0])
        else:
            n = 8 if wire == 1 else 4
            if pos + n > end:
                raise ValueError("truncated packed field")
            vals.append(_fixed_value(bytes(buf[pos:pos + n]), f, "")[0])
            pos += n
    what = "varints" if wire == 0 else f"{_TYPES[t][1]}s"
    return Region(base + start, base + end, "packed", name, vals, f"packed {what}"), vals
