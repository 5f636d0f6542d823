"""The ``.index`` file (an SSTable) as byte regions.

File grammar (see :mod:`tfckpt_lab.sstable.format` and :mod:`tfckpt_lab.sstable.block`)::

    file    : data_block*, metaindex_block, index_block, footer
    block   : entry*, restart fixed32 * n, n fixed32, trailer (type u8, masked crc fixed32)
    entry   : shared varint, non_shared varint, value_length varint, key_delta, value
    footer  : metaindex handle, index handle, zero padding, magic fixed64

Data-block values are BundleEntryProtos (the first, under the empty key, is the
BundleHeaderProto); index-block values are block handles.
"""

from __future__ import annotations

import os

from ..bundle.entry import key_to_name
from ..codecs import crc32c_extend, decode_varint, unmask_crc
from ..sstable.block import Block
from ..sstable.format import (
    BLOCK_TRAILER_SIZE,
    COMPRESSION_NAMES,
    FOOTER_SIZE,
    MAX_BLOCK_HANDLE_SIZE,
    NO_COMPRESSION,
    TABLE_MAGIC_NUMBER,
    BlockHandle,
)
from ..sstable.reader import TableReader
from .protowire import message_regions
from .region import FileRegion, Region

__all__ = ["index_layout"]


def _nonempty(regions):
    return [r for r in regions if r.end > r.start]


def _key_label(key: bytes) -> str:
    return "(header)" if key == b"" else key_to_name(key)


def index_layout(path) -> FileRegion:
    """The region tree of one ``.index`` file.

    Opening reads the footer and the index block only; each block's entries are
    decoded when that block's children are first asked for.
    """
    path = os.fspath(path)
    table = TableReader(path, verify=False, cache_blocks=0)
    size = table.file.size
    v1 = not path.endswith(".index") and _is_v1(path)
    what = "SavedTensorSlices (a V1 checkpoint)" if v1 else "BundleEntryProto"
    root = FileRegion(path, "index", size, value={"data_blocks": table.num_data_blocks},
                      explanation=f"an SSTable: sorted key -> {what}, in blocks, then the index and footer",
                      loader=lambda r: _top_regions(table, size, "v1" if v1 else "data"), record=table)
    return root


def _is_v1(path: str) -> bool:
    """A table file not named .index whose header entry holds V1's SavedTensorSlices metadata."""
    from ..v1.reader import is_v1_checkpoint

    try:
        return is_v1_checkpoint(path)
    except Exception:  # damaged files are laid out as plain tables
        return False


def _top_regions(table: TableReader, size: int, data_role: str = "data") -> list[Region]:
    foot = table.footer
    blocks = []
    for i, (sep, h) in enumerate(table.index_entries):
        blocks.append((h, "data_block", f"data block {i}",
                       f"data block {i}: entries with keys <= {_key_label(sep)!r} (separator in the index block)",
                       data_role))
    blocks.append((foot.metaindex_handle, "metaindex_block", "metaindex block",
                   "the metaindex block (empty in TensorFlow: no filters or stats)", "meta"))
    blocks.append((foot.index_handle, "index_block", "index block",
                   "the index block: one entry per data block, key = separator, value = block handle", "index"))
    blocks.sort(key=lambda b: b[0].offset)
    out: list[Region] = []
    pos = 0
    for h, kind, label, expl, role in blocks:
        if h.offset > pos:
            out.append(_gap(pos, h.offset))
        end = h.offset + h.size + BLOCK_TRAILER_SIZE
        out.append(Region(h.offset, end, kind, label, {"offset": h.offset, "size": h.size},
                          f"{expl}; {h.size} bytes + {BLOCK_TRAILER_SIZE}-byte trailer", record=h,
                          loader=lambda r, h=h, role=role: _block_regions(table, h, role)))
        pos = max(pos, end)
    fstart = size - FOOTER_SIZE
    if fstart > pos:
        out.append(_gap(pos, fstart))
    out.append(_footer(table, fstart))
    return out


def _gap(start, end):
    return Region(start, end, "unexplained", "unexplained bytes", None,
                  "bytes no block handle points at (TensorFlow never leaves any)")


def _footer(table: TableReader, fstart: int) -> Region:
    raw = table.file.pread(fstart, FOOTER_SIZE)
    kids = []
    pos = 0
    for name, h in (("metaindex handle", table.footer.metaindex_handle),
                    ("index handle", table.footer.index_handle)):
        kids.append(_handle_region(raw, pos, fstart, name, f"where the {name.split()[0]} block is"))
        pos = kids[-1].end - fstart
    pad_end = 2 * MAX_BLOCK_HANDLE_SIZE
    if pad_end > pos:
        kids.append(Region(fstart + pos, fstart + pad_end, "padding", "padding", None,
                           f"zero bytes padding the two handles to {pad_end} bytes"))
    kids.append(Region(fstart + pad_end, fstart + FOOTER_SIZE, "magic", "magic", f"{TABLE_MAGIC_NUMBER:#018x}",
                       "fixed64 magic number 0xdb4775248b80fb57: 'this is an SSTable'"))
    return Region(fstart, fstart + FOOTER_SIZE, "footer", "footer", None,
                  f"the last {FOOTER_SIZE} bytes: where the metaindex and index blocks are, and the magic number",
                  children=kids, record=table.footer)


def _handle_region(buf, pos: int, base: int, label: str, expl: str) -> Region:
    start = pos
    off, p1 = decode_varint(buf, pos)
    size, p2 = decode_varint(buf, p1)
    kids = [Region(base + start, base + p1, "varint", "offset", off, f"varint: block starts at byte {off}"),
            Region(base + p1, base + p2, "varint", "size", size,
                   f"varint: {size} bytes of contents (the {BLOCK_TRAILER_SIZE}-byte trailer not counted)")]
    return Region(base + start, base + p2, "block_handle", label, {"offset": off, "size": size},
                  f"{expl}: [{off}, {off + size})", children=kids, record=BlockHandle(off, size))


def _block_regions(table: TableReader, h: BlockHandle, role: str) -> list[Region]:
    raw = table.file.pread(h.offset, h.size + BLOCK_TRAILER_SIZE)
    block_type = raw[h.size]
    out: list[Region] = []
    if block_type != NO_COMPRESSION:
        out.append(Region(h.offset, h.end, "compressed", "compressed contents", None,
                          f"{COMPRESSION_NAMES.get(block_type, block_type)}-compressed block contents"))
    else:
        try:
            block = Block(raw[:h.size], path=table.path, base=h.offset)
            out.extend(_entry_regions(block, h.offset, role))
            out.append(_restart_array(block, h.offset))
            out.append(Region(h.offset + h.size - 4, h.end, "fixed32", "restart count", block.num_restarts,
                              f"fixed32: {block.num_restarts} restart point(s) listed just before"))
        except Exception as exc:  # a broken block is still shown, as one region
            out = [Region(h.offset, h.end, "unparsed", "unparsed block contents", None,
                          f"block contents that do not parse: {exc}")]
    out.append(_trailer(raw, h, block_type))
    return out


def _trailer(raw: bytes, h: BlockHandle, block_type: int) -> Region:
    stored = int.from_bytes(raw[h.size + 1:h.size + 5], "little")
    computed = crc32c_extend(crc32c_extend(0, raw[:h.size]), bytes((block_type,)))
    ok = unmask_crc(stored) == computed
    verdict = "matches" if ok else f"MISMATCH: the contents give {computed:#010x}"
    kids = [Region(h.end, h.end + 1, "u8", "compression type", block_type,
                   f"compression: {block_type} = {COMPRESSION_NAMES.get(block_type, 'unknown')}"),
            Region(h.end + 1, h.end + 5, "checksum", "masked crc32c", stored,
                   f"masked CRC-32C of the contents and the type byte: {unmask_crc(stored):#010x} unmasked, "
                   f"{verdict}")]
    return Region(h.end, h.end + BLOCK_TRAILER_SIZE, "block_trailer", "trailer", {"checksum_ok": ok},
                  "block trailer: compression type and checksum", children=kids)


def _restart_array(block: Block, base: int) -> Region:
    start = base + block.restarts_offset
    kids = [Region(start + 4 * i, start + 4 * i + 4, "fixed32", f"restart {i}", r,
                   f"fixed32: entry {i}'s first key is stored whole at block offset {r}")
            for i, r in enumerate(block.restarts)]
    return Region(start, start + 4 * block.num_restarts, "restart_array", "restart array", block.restarts,
                  "offsets of the entries whose keys are stored whole (for binary search)", children=kids)


def _entry_regions(block: Block, base: int, role: str) -> list[Region]:
    out = []
    prev = b""
    for e in block.entries():
        label = _key_label(e.key) if role in ("data", "v1") else key_to_name(e.key)
        if role == "data":
            what = "the bundle header (BundleHeaderProto)" if e.key == b"" else "a BundleEntryProto"
        elif role == "v1":
            what = ("SavedTensorSlices with the list of every tensor" if e.key == b"" else
                    "SavedTensorSlices holding one slice's values")
        elif role == "index":
            what = "the handle of the data block holding keys up to this one"
        else:
            what = "a metaindex entry"
        out.append(Region(base + e.offset, base + e.end, "entry", label, None,
                          f"entry: key {label!r}, value = {what}", record=e,
                          loader=lambda r, e=e, prev=prev: _entry_parts(e, prev, base, role)))
        prev = e.key
    return out


def _entry_parts(e, prev: bytes, base: int, role: str) -> list[Region]:
    o = base + e.offset
    ko = base + e.key_offset
    vo = base + e.value_offset
    # the three varints: find where each ends by re-encoding their lengths
    from ..codecs import encode_varint

    l1 = len(encode_varint(e.shared))
    l2 = len(encode_varint(e.non_shared))
    parts = [
        Region(o, o + l1, "varint", "shared", e.shared,
               f"varint: reuse the first {e.shared} bytes of the previous key"
               + (f" ({prev[:e.shared]!r})" if e.shared else
                  " (a restart point: whole key stored)" if e.is_restart else
                  " (nothing in common with the previous key)")),
        Region(o + l1, o + l1 + l2, "varint", "non_shared", e.non_shared,
               f"varint: {e.non_shared} new key bytes follow"),
        Region(o + l1 + l2, ko, "varint", "value_length", e.value_length,
               f"varint: the value is {e.value_length} bytes"),
        Region(ko, vo, "key_delta", "key delta", e.key[e.shared:],
               f"the new key bytes; full key = {e.key!r}"),
    ]
    if role == "data":
        msg = "BundleHeaderProto" if e.key == b"" else "BundleEntryProto"
        value = Region(vo, vo + e.value_length, "value", msg, None, f"the value: a serialized {msg}",
                       loader=lambda r: message_regions(e.value, 0, len(e.value), msg, base=vo))
    elif role == "v1":
        value = Region(vo, vo + e.value_length, "value", "SavedTensorSlices", None,
                       "the value: a serialized SavedTensorSlices",
                       loader=lambda r: message_regions(e.value, 0, len(e.value), "SavedTensorSlices", base=vo))
    elif role == "index":
        h, n = BlockHandle.decode(e.value, 0)
        value = _handle_region(e.value, 0, vo, "block handle", "the data block's location")
        if n != len(e.value):
            value = Region(vo, vo + e.value_length, "value", "value", None, "not exactly one block handle")
    else:
        value = Region(vo, vo + e.value_length, "value", "value", e.value, "metaindex value")
    parts.append(value)
    return _nonempty(parts)
