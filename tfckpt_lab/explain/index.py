"""The ``.index`` file (an SSTable) as byte regions, built from what the table reader saw.

File grammar (see :mod:`tfckpt_lab.sstable.format` and :mod:`tfckpt_lab.sstable.block`)::

    file    : data_block*, metaindex_block, index_block, footer
    block   : entry*, restart fixed32 * n, n fixed32, trailer (type u8, masked crc fixed32)
    entry   : shared varint, non_shared varint, value_length varint, key_delta, value
    footer  : metaindex handle, index handle, zero padding, magic fixed64

Data-block values are BundleEntryProtos (the first, under the empty key, is the
BundleHeaderProto); index-block values are block handles.

Nothing here decodes table bytes: the spans between blocks come from
:meth:`TableReader.spans <tfckpt_lab.sstable.reader.TableReader.spans>`, each
block's entries and field boundaries from the block cursor
(:meth:`Block.records <tfckpt_lab.sstable.block.Block.records>`), trailer
verdicts from :class:`~tfckpt_lab.sstable.format.BlockTrailer`, and handle
boundaries from the decoded :class:`~tfckpt_lab.sstable.format.BlockHandle`.
Only the protobuf values are taken apart further, by :mod:`.protowire`.
"""

from __future__ import annotations

import os

from ..bundle.entry import key_to_name, keys_to_names
from ..codecs import unmask_crc
from ..sstable.format import (
    BLOCK_TRAILER_SIZE,
    COMPRESSION_NAMES,
    FOOTER_SIZE,
    MAX_BLOCK_HANDLE_SIZE,
    TABLE_MAGIC_NUMBER,
    BlockHandle,
    BlockTrailer,
)
from ..sstable.reader import TableReader, TableSpan
from .protowire import message_regions
from .region import FileRegion, Region

__all__ = ["index_layout"]

_BLOCK_TEXT = {
    "metaindex_block": ("metaindex block", "the metaindex block (empty in TensorFlow: no filters or stats)", "meta"),
    "index_block": ("index block", "the index block: one entry per data block, key = separator, "
                    "value = block handle", "index"),
}
_VALUE_TEXT = {
    "data": "a BundleEntryProto",
    "v1": "SavedTensorSlices holding one slice's values",
    "index": "the handle of the data block holding keys up to this one",
    "meta": "a metaindex entry",
}
_HEADER_TEXT = {
    "data": "the bundle header (BundleHeaderProto)",
    "v1": "SavedTensorSlices with the list of every tensor",
}


def _key_label(key: bytes) -> str:
    """``(header)``, a tensor's name, or for a slice key (0x00 first) ``name [slice]``.

    A slice key of a whole tensor (V1 stores every tensor as slices) is labelled by the name alone.
    """
    if key == b"":
        return "(header)"
    if key[:1] == b"\x00":
        from ..bundle.slices import decode_slice_key
        from ..errors import CheckpointError

        try:
            raw, s = decode_slice_key(key)
        except CheckpointError:  # not a well-formed slice key: shown as it is
            return key_to_name(key)
        whole = all(x.is_full for x in s.extents)
        return key_to_name(raw) if whole else f"{key_to_name(raw)} [{s}]"
    return key_to_name(key)


def index_layout(path, *, v1=None) -> FileRegion:
    """The region tree of one ``.index`` file, or of one V1 checkpoint file (another SSTable).

    Opening reads the footer and the index block only; each block is read, its
    checksum computed and its entries decoded when its children are first asked for.
    A V1 file (``file_kind == "v1"``) is recognised by its header entry; ``v1``
    may pass its open :class:`~tfckpt_lab.v1.V1Reader` (of this file, or of all
    the shards it belongs to).  Its slice values are ``tensor`` regions.
    """
    path = os.fspath(path)
    table = TableReader(path, verify=False, cache_blocks=0)
    size = table.file.size
    if v1 is None and not path.endswith(".index"):
        v1 = _v1_reader(path)
    shard = v1.paths.index(path) if v1 is not None and path in v1.paths else 0
    what = "SavedTensorSlices (a V1 checkpoint)" if v1 is not None else "BundleEntryProto"
    role = _Role("v1", v1, shard) if v1 is not None else _Role("data")
    return FileRegion(path, "v1" if v1 is not None else "index", size, value={"data_blocks": table.num_data_blocks},
                      explanation=f"an SSTable: sorted key -> {what}, in blocks, then the index and footer",
                      loader=lambda r: _top_regions(table, role), lowlevel=table)


def _v1_reader(path: str):
    """An open V1Reader of this one file if its header entry holds V1's SavedTensorSlices metadata."""
    from ..errors import CheckpointError
    from ..v1.reader import V1Reader

    try:
        return V1Reader(path, verify=False)
    except CheckpointError:  # not V1, or damaged: laid out as a plain table
        return None


class _Role:
    """What a block's values are: ``data`` (BundleEntryProtos), ``v1`` (SavedTensorSlices), ``index``, ``meta``."""

    __slots__ = ("name", "v1", "shard")

    def __init__(self, name: str, v1=None, shard: int = 0):
        self.name, self.v1, self.shard = name, v1, shard


def _top_regions(table: TableReader, data_role: _Role) -> list[Region]:
    out: list[Region] = []
    for span in table.spans():
        if span.overlaps:
            continue  # a hostile handle; the verifier reports it, the tiling stays honest
        if span.kind == "gap":
            out.append(Region(span.start, span.end, "unexplained", "unexplained bytes", None,
                              "bytes no block handle points at (TensorFlow never leaves any)"))
        elif span.kind == "footer":
            out.append(_footer(table, span.start))
        else:
            out.append(_block_region(table, span, data_role))
    return out


def _block_region(table: TableReader, span: TableSpan, data_role: _Role) -> Region:
    h = span.handle
    if span.kind == "data_block":
        label = f"data block {span.index}"
        expl = (f"data block {span.index}: entries with keys <= {_key_label(span.separator)!r} "
                "(separator in the index block)")
        role = data_role
    else:
        label, expl, name = _BLOCK_TEXT[span.kind]
        role = _Role(name)
    value = {"offset": h.offset, "size": h.size, "trailer": [h.end, span.end]}  # trailer: its byte range
    return Region(span.start, span.end, span.kind, label, value,
                  f"{expl}; {h.size} bytes + {BLOCK_TRAILER_SIZE}-byte trailer", lowlevel=h,
                  loader=lambda r: _block_regions(table, h, role))


def _footer(table: TableReader, fstart: int) -> Region:
    foot = table.footer
    kids = []
    pos = fstart
    for name, h in (("metaindex handle", foot.metaindex_handle), ("index handle", foot.index_handle)):
        kids.append(_handle_region(h, pos, name, f"where the {name.split()[0]} block is"))
        pos = kids[-1].end
    pad_end = fstart + 2 * MAX_BLOCK_HANDLE_SIZE
    if pad_end > pos:
        kids.append(Region(pos, pad_end, "padding", "padding", None,
                           f"zero bytes padding the two handles to {2 * MAX_BLOCK_HANDLE_SIZE} bytes"))
    kids.append(Region(pad_end, fstart + FOOTER_SIZE, "magic", "magic", f"{TABLE_MAGIC_NUMBER:#018x}",
                       "fixed64 magic number 0xdb4775248b80fb57: 'this is an SSTable'"))
    return Region(fstart, fstart + FOOTER_SIZE, "footer", "footer", None,
                  f"the last {FOOTER_SIZE} bytes: where the metaindex and index blocks are, and the magic number",
                  children=kids, lowlevel=foot)


def _handle_region(h: BlockHandle, start: int, label: str, expl: str) -> Region:
    """A decoded handle's bytes at file offset ``start`` (its varint lengths as the decoder found them)."""
    mid, end = start + h.offset_length, start + h.encoded_length
    kids = [Region(start, mid, "varint", "offset", h.offset, f"varint: block starts at byte {h.offset}"),
            Region(mid, end, "varint", "size", h.size,
                   f"varint: {h.size} bytes of contents (the {BLOCK_TRAILER_SIZE}-byte trailer not counted)")]
    return Region(start, end, "block_handle", label, {"offset": h.offset, "size": h.size},
                  f"{expl}: [{h.offset}, {h.offset + h.size})", children=kids, lowlevel=h)


def _block_regions(table: TableReader, h: BlockHandle, role: _Role) -> list[Region]:
    found = table.inspect_block(h)
    trailer = found.trailer
    if trailer is None:  # not even the trailer could be read
        return [Region(h.offset, h.end + BLOCK_TRAILER_SIZE, "unparsed", "unreadable block", None,
                       f"a block that cannot be read: {found.error.message}")]
    out: list[Region] = []
    if trailer.block_type != 0:
        out.append(Region(h.offset, h.end, "compressed", "compressed contents", None,
                          f"{COMPRESSION_NAMES.get(trailer.block_type, trailer.block_type)}-compressed block contents"))
    elif found.block is None:  # a broken block is still shown, as one region
        out.append(Region(h.offset, h.end, "unparsed", "unparsed block contents", None,
                          f"block contents that do not parse: {found.error}"))
    else:
        block = found.block
        handles = [hh for _, hh in table.index_entries] if role.name == "index" else None
        out.extend(_entry_regions(block, h.offset, role, handles))
        out.append(_restart_array(block, h.offset))
        out.append(Region(h.offset + h.size - 4, h.end, "fixed32", "restart count", block.num_restarts,
                          f"fixed32: {block.num_restarts} restart point(s) listed just before"))
    out.append(_trailer(trailer))
    return out


def _trailer(t: BlockTrailer) -> Region:
    h = t.handle
    ok = t.checksum_ok
    verdict = "matches" if ok else f"MISMATCH: the contents give {t.computed_crc:#010x}"
    kids = [Region(h.end, h.end + 1, "u8", "compression type", t.block_type,
                   f"compression: {t.block_type} = {COMPRESSION_NAMES.get(t.block_type, 'unknown')}"),
            Region(h.end + 1, h.end + BLOCK_TRAILER_SIZE, "checksum", "masked crc32c", t.stored_crc,
                   f"masked CRC-32C of the contents and the type byte: {unmask_crc(t.stored_crc):#010x} "
                   f"unmasked, {verdict}")]
    return Region(h.end, h.end + BLOCK_TRAILER_SIZE, "block_trailer", "trailer", {"checksum_ok": ok},
                  "block trailer: compression type and checksum", children=kids, lowlevel=t)


def _restart_array(block, base: int) -> Region:
    start = base + block.restarts_offset
    kids = [Region(start + 4 * i, start + 4 * i + 4, "fixed32", f"restart {i}", r,
                   f"fixed32: entry {i}'s first key is stored whole at block offset {r}")
            for i, r in enumerate(block.restarts)]
    return Region(start, start + 4 * block.num_restarts, "restart_array", "restart array", block.restarts,
                  "offsets of the entries whose keys are stored whole (for binary search)", children=kids)


def _entry_regions(block, base: int, role: _Role, handles) -> list[Region]:
    keyed = role.name in ("data", "v1")
    what = ", value = " + _VALUE_TEXT[role.name]
    header_what = ", value = " + _HEADER_TEXT.get(role.name, _VALUE_TEXT[role.name])
    entries = block.records()
    if handles is not None and len(handles) != len(entries):
        handles = None  # the index block changed under us; its values are shown as plain bytes
    keys = [e[0] for e in entries]
    labels = keys_to_names(keys)
    if keyed:  # the header and slice keys (0x00 first: they sort first) get readable labels
        i = 0
        while i < len(keys) and keys[i][:1] in (b"", b"\x00"):
            labels[i] = _key_label(keys[i])
            i += 1
    parts = _EntryParts(entries, base, role, handles)  # one loader for the block's entries
    # (BlockEntry fields by position: key, value, offset, shared_end, non_shared_end, key_offset, value_offset)
    return [Region(base + e[2], base + e[6] + len(e[1]), "entry", label, None,
                   f"entry: key {label!r}{what if e[0] else header_what}", lowlevel=e, loader=parts)
            for e, label in zip(entries, labels)]


class _EntryParts:
    """Builds an entry region's field regions when it is first opened (one of these per block)."""

    def __init__(self, entries, base: int, role: _Role, handles):
        self.entries, self.base, self.role, self.handles = entries, base, role, handles
        self._index: dict[int, int] | None = None

    def __call__(self, region) -> list[Region]:
        if self._index is None:
            self._index = {e.offset: i for i, e in enumerate(self.entries)}
        i = self._index[region.lowlevel.offset]
        e = self.entries[i]
        prev = self.entries[i - 1].key if i else b""
        handle = self.handles[i] if self.handles else None
        base, role = self.base, self.role.name
        o1, o2, o3 = base + e.offset, base + e.shared_end, base + e.non_shared_end
        ko, vo = base + e.key_offset, base + e.value_offset
        shared = e.shared
        parts = [
            Region(o1, o2, "varint", "shared", shared,
                   f"varint: reuse the first {shared} bytes of the previous key"
                   + (f" ({prev[:shared]!r})" if shared else
                      " (a restart point: whole key stored)" if e.is_restart else
                      " (nothing in common with the previous key)")),
            Region(o2, o3, "varint", "non_shared", e.non_shared, f"varint: {e.non_shared} new key bytes follow"),
            Region(o3, ko, "varint", "value_length", e.value_length, f"varint: the value is {e.value_length} bytes"),
            Region(ko, vo, "key_delta", "key delta", e.key[shared:], f"the new key bytes; full key = {e.key!r}"),
        ]
        end = vo + e.value_length
        if role == "data":
            msg = "BundleHeaderProto" if e.key == b"" else "BundleEntryProto"
            value = Region(vo, end, "value", msg, None, f"the value: a serialized {msg}",
                           loader=lambda r: message_regions(e.value, 0, len(e.value), msg, base=vo))
        elif role == "v1":
            value = self._v1_value(e, vo, end)
        elif role == "index" and handle is not None and handle.encoded_length == e.value_length:
            value = _handle_region(handle, vo, "block handle", "the data block's location")
        elif role == "index":
            value = Region(vo, end, "value", "value", None, "not exactly one block handle")
        else:
            value = Region(vo, end, "value", "value", e.value, "metaindex value")
        parts.append(value)
        return [r for r in parts if r.end > r.start]

    def _v1_value(self, e, vo: int, end: int) -> Region:
        """A V1 value: the header's metadata, or one stored slice (a ``tensor`` region)."""
        def load(_r):
            return message_regions(e.value, 0, len(e.value), "SavedTensorSlices", base=vo)

        stored = self.role.v1.describe_key(e.key, self.role.shard, vo, e.value_length)
        if stored is None:
            return Region(vo, end, "value", "SavedTensorSlices", None, "the value: a serialized SavedTensorSlices",
                          loader=load)
        whole = all(x.is_full for x in stored.tensor_slice.extents)
        where = "all of it" if whole else f"slice {stored.tensor_slice}"
        value = {"name": stored.name, "dtype": stored.dtype_name, "shape": list(stored.shape),
                 "slice": str(stored.tensor_slice), "offset": vo, "size": e.value_length}
        return Region(vo, end, "tensor", stored.name, value,
                      f"{stored.name!r} ({where}): {stored.dtype_name} {list(stored.shape)}, a serialized "
                      "SavedTensorSlices whose TensorProto holds the values", lowlevel=stored, loader=load)
