"""Protocol-buffer wire format as byte regions, driven by a small schema.

Byte grammar::

    message : field*
    field   : tag varint (field_number << 3 | wire_type), payload
    payload : varint                      (wire type 0: ints, bools, enums)
            | fixed64                     (wire type 1)
            | length varint, bytes        (wire type 2: strings, bytes, messages, packed)
            | fixed32                     (wire type 5)

Every field becomes a region whose children are its tag, its length (wire type 2)
and its payload; a sub-message's payload is expanded into fields again, lazily.
Unknown fields are shown with their number and wire type; bytes that do not
parse become one ``unparsed`` region, so the tiling never breaks.
"""

from __future__ import annotations

import struct
from typing import Callable

from ..codecs import decode_varint
from .region import Region

__all__ = ["Field", "SCHEMAS", "message_regions", "WIRE_TYPE_NAMES"]

WIRE_TYPE_NAMES = {0: "varint", 1: "fixed64", 2: "length-delimited", 5: "fixed32"}


class Field:
    """One field of a schema: name, value type, sub-message name, and what it means."""

    __slots__ = ("name", "type", "message", "explanation", "enum")

    def __init__(self, name: str, type: str, explanation: str = "", *, message: str | None = None,
                 enum: Callable[[int], str] | dict | None = None):
        self.name = name
        self.type = type  # int32 int64 uint bool enum fixed32 fixed64 float double string bytes message packed
        self.message = message
        self.explanation = explanation
        self.enum = enum


def _dtype_name(n: int) -> str:
    from ..dtypes import dtype_name

    return dtype_name(n)


# message name -> {field number: Field}
SCHEMAS: dict[str, dict[int, Field]] = {
    "BundleHeaderProto": {
        1: Field("num_shards", "int32", "how many .data-NNNNN-of-NNNNN files this checkpoint has"),
        2: Field("endianness", "enum", "byte order of the tensor data (0 = little)", enum={0: "LITTLE", 1: "BIG"}),
        3: Field("version", "message", "format version of the bundle", message="VersionDef"),
    },
    "VersionDef": {
        1: Field("producer", "int32", "version of the code that wrote this"),
        2: Field("min_consumer", "int32", "oldest reader version allowed to read it"),
        3: Field("bad_consumers", "packed", "reader versions that must not read it"),
    },
    "BundleEntryProto": {
        1: Field("dtype", "enum", "the tensor's element type (a DataType number)", enum=_dtype_name),
        2: Field("shape", "message", "the tensor's shape, one dim per axis", message="TensorShapeProto"),
        3: Field("shard_id", "int32", "which data shard holds the bytes"),
        4: Field("offset", "int64", "where the tensor's bytes start in that shard"),
        5: Field("size", "int64", "how many bytes the tensor takes in the shard"),
        6: Field("crc32c", "fixed32", "masked CRC-32C of the tensor's bytes"),
        7: Field("slices", "message", "one saved piece of a partitioned variable", message="TensorSliceProto"),
    },
    "TensorShapeProto": {
        2: Field("dim", "message", "one axis of the shape", message="Dim"),
        3: Field("unknown_rank", "bool", "true if even the number of axes is unknown"),
    },
    "Dim": {
        1: Field("size", "int64", "length of this axis"),
        2: Field("name", "string", "optional name of this axis"),
    },
    "TensorSliceProto": {
        1: Field("extent", "message", "the range taken along one axis (empty = all of it)", message="Extent"),
    },
    "Extent": {
        1: Field("start", "int64", "first index along this axis"),
        2: Field("length", "int64", "how many indices"),
    },
    # --- the older V1 checkpoint format: one SSTable of SavedTensorSlices
    "SavedTensorSlices": {
        1: Field("meta", "message", "the header: every tensor's name, shape, dtype and slices",
                 message="SavedTensorSliceMeta"),
        2: Field("data", "message", "the values of one slice of one tensor", message="SavedSlice"),
    },
    "SavedTensorSliceMeta": {
        1: Field("tensor", "message", "one tensor of the checkpoint", message="SavedSliceMeta"),
        2: Field("versions", "message", "format version", message="VersionDef"),
    },
    "SavedSliceMeta": {
        1: Field("name", "string", "the tensor's name"),
        2: Field("shape", "message", "its full shape", message="TensorShapeProto"),
        3: Field("type", "enum", "its element type (a DataType number)", enum=_dtype_name),
        4: Field("slice", "message", "one stored slice (empty extents = the whole axis)", message="TensorSliceProto"),
    },
    "SavedSlice": {
        1: Field("name", "string", "the tensor this slice belongs to"),
        2: Field("slice", "message", "which part of the tensor", message="TensorSliceProto"),
        3: Field("data", "message", "the values, as a TensorProto", message="TensorProto"),
    },
    "TensorProto": {
        1: Field("dtype", "enum", "element type", enum=_dtype_name),
        2: Field("tensor_shape", "message", "shape", message="TensorShapeProto"),
        4: Field("tensor_content", "bytes", "the values as raw little-endian bytes"),
        5: Field("half_val", "packed", "float16/bfloat16 values, as their 16 bits in int32s"),
        6: Field("float_val", "packed", "float32 values"),
        7: Field("double_val", "packed", "float64 values"),
        8: Field("int_val", "packed", "int32/int16/int8/uint8 values"),
        9: Field("string_val", "bytes", "one string element"),
        10: Field("scomplex_val", "packed", "complex64 values as (real, imaginary) pairs"),
        11: Field("int64_val", "packed", "int64 values"),
        12: Field("bool_val", "packed", "bool values"),
        13: Field("dcomplex_val", "packed", "complex128 values as (real, imaginary) pairs"),
    },
    # --- MetaGraphDef (only the parts worth pointing at; the rest stay opaque payloads)
    "MetaGraphDef": {
        1: Field("meta_info_def", "message", "versions, tags and the ops the graph uses", message="MetaInfoDef"),
        2: Field("graph_def", "message", "the graph: every node (op) and its inputs", message="GraphDef"),
        3: Field("saver_def", "message", "how to save and restore: tensor and op names", message="SaverDef"),
        4: Field("collection_def", "message", "one named collection (map entry)", message="MapEntry"),
        5: Field("signature_def", "message", "one named signature (map entry)", message="MapEntry"),
        6: Field("asset_file_def", "bytes", "an asset file the graph needs"),
        7: Field("object_graph_def", "bytes", "SavedObjectGraph (SavedModel only)"),
    },
    "MetaInfoDef": {
        1: Field("meta_graph_version", "string", "user-given version string"),
        2: Field("stripped_op_list", "bytes", "definitions of the ops the graph uses (OpList)"),
        3: Field("any_info", "bytes", "user-supplied Any message"),
        4: Field("tags", "string", "a tag (SavedModel)"),
        5: Field("tensorflow_version", "string", "TensorFlow version that wrote this"),
        6: Field("tensorflow_git_version", "string", "its git version"),
        7: Field("stripped_default_attrs", "bool", "default-valued attrs were removed"),
        8: Field("function_aliases", "bytes", "a function alias (map entry)"),
    },
    "GraphDef": {
        1: Field("node", "message", "one node of the graph", message="NodeDef"),
        2: Field("library", "bytes", "function definitions (FunctionDefLibrary)"),
        3: Field("version", "int32", "deprecated graph version"),
        4: Field("versions", "message", "graph format versions", message="VersionDef"),
    },
    "NodeDef": {
        1: Field("name", "string", "the node's unique name"),
        2: Field("op", "string", "the operation it runs"),
        3: Field("input", "string", "an input: 'node', 'node:k' or '^node' (control)"),
        4: Field("device", "string", "requested device"),
        5: Field("attr", "message", "one attribute (map entry: name -> AttrValue)", message="MapEntry"),
        6: Field("experimental_debug_info", "bytes", "where the node came from"),
        7: Field("experimental_type", "bytes", "full type information"),
    },
    "SaverDef": {
        1: Field("filename_tensor_name", "string", "tensor fed with the checkpoint path"),
        2: Field("save_tensor_name", "string", "tensor to fetch to save"),
        3: Field("restore_op_name", "string", "op to run to restore"),
        4: Field("max_to_keep", "int32", "how many recent checkpoints to keep"),
        5: Field("sharded", "bool", "save one shard per device"),
        6: Field("keep_checkpoint_every_n_hours", "float", "also keep one checkpoint every N hours"),
        7: Field("version", "enum", "checkpoint format (2 = V2: .index + .data)", enum={0: "LEGACY", 1: "V1", 2: "V2"}),
    },
    "MapEntry": {
        1: Field("key", "string", "the map key"),
        2: Field("value", "bytes", "the map value (a serialized message)"),
    },
}

# How to label a repeated sub-message region from its own fields (field number of a string).
_LABEL_FIELD = {"NodeDef": 1, "MapEntry": 1}

_F32 = struct.Struct("<f")
_F64 = struct.Struct("<d")


def _int64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _peek_string_field(buf, start: int, end: int, number: int) -> str | None:
    """The value of the first string field ``number`` in ``buf[start:end]`` (cheap, for labels)."""
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


def message_regions(buf, start: int, end: int, message: str | None, *, base: int = 0) -> list[Region]:
    """Regions for the fields of one serialized message ``buf[start:end]``.

    ``base`` is added to every offset (``buf``'s position in its file).
    ``message`` names the schema (None: every field shown by number only).
    """
    schema = SCHEMAS.get(message or "", {})
    out: list[Region] = []
    pos = start
    while pos < end:
        fstart = pos
        try:
            tag, pos = decode_varint(buf, pos)
            number, wt = tag >> 3, tag & 7
            f = schema.get(number)
            name = f.name if f else f"field {number}"
            tag_r = Region(base + fstart, base + pos, "tag", "tag", tag,
                           f"field {number} ({name}), wire type {wt} ({WIRE_TYPE_NAMES.get(wt, '?')})")
            if number == 0 or wt not in WIRE_TYPE_NAMES:
                raise ValueError("bad tag")
            if wt == 0:
                pstart = pos
                raw, pos = decode_varint(buf, pos)
                value, text = _scalar_varint(raw, f)
                kids = [tag_r, Region(base + pstart, base + pos, "varint", name, value, text)]
                shown = value
            elif wt in (1, 5):
                n = 8 if wt == 1 else 4
                if pos + n > end:
                    raise ValueError("truncated")
                chunk = bytes(buf[pos:pos + n])
                value, text = _scalar_fixed(chunk, f)
                kids = [tag_r, Region(base + pos, base + pos + n, "fixed64" if n == 8 else "fixed32",
                                      name, value, text)]
                pos += n
                shown = value
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
            out.append(Region(base + fstart, base + end, "unparsed", "unparsed", bytes(buf[fstart:min(end, fstart + 32)]),
                              "bytes that do not parse as a protobuf field"))
            return out
        label = name
        if f is not None and f.type == "message" and f.message in _LABEL_FIELD and kids[-1].kind == "message":
            sub = _peek_string_field(buf, kids[-1].start - base, kids[-1].end - base, _LABEL_FIELD[f.message])
            if sub is not None:
                label = sub
        expl = f.explanation if f else "a field this schema does not describe"
        out.append(Region(base + fstart, base + pos, "field", label, shown, f"{name} (field {number}): {expl}",
                          children=kids))
    return out


def _scalar_varint(raw: int, f: Field | None):
    t = f.type if f else "uint"
    if t == "bool":
        return bool(raw), f"varint {raw} = {bool(raw)}"
    if t in ("int32", "int64"):
        v = _int64(raw)
        return v, f"varint {v}"
    if t == "enum" and f.enum is not None:
        name = f.enum(raw) if callable(f.enum) else f.enum.get(raw, str(raw))
        return raw, f"enum {raw} = {name}"
    return raw, f"varint {raw}"


def _scalar_fixed(chunk: bytes, f: Field | None):
    t = f.type if f else ""
    if t == "float":
        v = _F32.unpack(chunk)[0]
        return v, f"float32 {v:g} (little-endian)"
    if t == "double":
        v = _F64.unpack(chunk)[0]
        return v, f"float64 {v:g} (little-endian)"
    v = int.from_bytes(chunk, "little")
    if f is not None and f.name == "crc32c":
        from ..codecs import unmask_crc

        return v, f"masked CRC {v:#010x} (the real CRC-32C is {unmask_crc(v):#010x})"
    return v, f"little-endian {8 * len(chunk)}-bit {v}"


def _payload(buf, start: int, end: int, f: Field | None, name: str, base: int):
    t = f.type if f else "bytes"
    raw = buf[start:end]
    if t == "message":
        msg = f.message

        def load(_r, buf=buf, start=start, end=end, msg=msg):
            return message_regions(buf, start, end, msg, base=base)

        r = Region(base + start, base + end, "message", msg, None, f"a serialized {msg}", loader=load)
        return r, f"<{msg}, {end - start} bytes>"
    if t == "string":
        s = bytes(raw).decode("utf-8", "backslashreplace")
        return Region(base + start, base + end, "string", name, s, f"UTF-8 text, {end - start} bytes"), s
    if t == "packed":
        vals = []
        pos = start
        while pos < end:
            v, pos = decode_varint(buf, pos)
            vals.append(_int64(v))
        return Region(base + start, base + end, "packed", name, vals, "packed varints"), vals
    return (Region(base + start, base + end, "bytes", name, None, f"{end - start} opaque bytes"),
            f"<{end - start} bytes>")
