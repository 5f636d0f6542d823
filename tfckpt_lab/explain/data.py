"""A ``.data-NNNNN-of-NNNNN`` shard as byte regions.

A shard has no structure of its own: it is tensors' bytes back to back, and only
the ``.index`` says where each one starts.  So this layout reads the index of the
same checkpoint, takes the entries whose ``shard_id`` is this shard, and lays
them out by offset.  Bytes no entry points at are shown as such.

String tensors are split further (see :mod:`tfckpt_lab.bundle.tensor_bytes`)::

    lengths varint64 * n, length_crc fixed32, bytes of element 0, 1, ...
"""

from __future__ import annotations

import os

import numpy as np

from ..bundle.naming import DATA_SUFFIX_RE
from ..bundle.reader import BundleReader
from ..bundle.tensor_bytes import parse_string_layout
from ..dtypes import DT_STRING
from ..errors import CheckpointError
from ..remote import file_size
from .region import FileRegion, Region

__all__ = ["data_layout", "ELEMENT_REGION_LIMIT"]

VALUE_BYTES_LIMIT = 256  # a string element's region keeps at most this many bytes as its value
ELEMENT_REGION_LIMIT = 1024  # numeric tensors up to this many elements get one region per element


def data_layout(path, *, reader: BundleReader | None = None) -> FileRegion:
    """The region tree of one data shard (``reader``: an open bundle of the same checkpoint)."""
    path = os.fspath(path)
    m = DATA_SUFFIX_RE.search(path)
    if m is None:
        raise ValueError(f"not a data shard name (PREFIX.data-NNNNN-of-NNNNN): {path}")
    shard = int(m.group(1))
    size = file_size(path)
    try:
        if reader is None:
            reader = BundleReader(path[: m.start()], verify=False)
        entries = sorted((e for e in reader.entries().values() if e.shard_id == shard and not e.slices),
                         key=lambda e: (e.offset, e.size))
    except CheckpointError as exc:  # no usable index: the shard's bytes cannot be attributed
        kids = [Region(0, size, "unreferenced", "unattributed bytes", None,
                       f"the index could not be read, so nothing says what these bytes are: {exc.message}")]
        return FileRegion(path, "data", size, value={"shard": shard, "tensors": None},
                          explanation=f"data shard {shard} (its .index is unreadable)",
                          children=kids if size else [])
    root = FileRegion(path, "data", size, value={"shard": shard, "tensors": len(entries)},
                      explanation=f"data shard {shard}: tensors' bytes back to back; the .index says where",
                      loader=lambda r: _tensor_regions(reader, entries, size), record=reader)
    return root


def _tensor_regions(reader: BundleReader, entries, size: int) -> list[Region]:
    out: list[Region] = []
    pos = 0
    for e in entries:
        if e.size == 0:
            continue  # an empty tensor takes no bytes (its entry still exists in the index)
        if e.offset < pos or e.end > size:
            continue  # overlapping or out of range: the verifier reports it; keep the tiling honest
        if e.offset > pos:
            out.append(_unreferenced(pos, e.offset))
        out.append(_tensor_region(reader, e))
        pos = e.end
    if pos < size:
        out.append(_unreferenced(pos, size))
    return out


def _unreferenced(start: int, end: int) -> Region:
    return Region(start, end, "unreferenced", "unreferenced bytes", None,
                  f"{end - start} bytes no index entry points at (padding, or left over)")


def _tensor_region(reader: BundleReader, e) -> Region:
    shape = list(e.shape)
    expl = (f"{e.name!r}: {e.dtype_name} {shape}, {e.size} bytes; masked CRC-32C {e.crc32c:#010x} "
            f"(in the index)")
    value = {"name": e.name, "dtype": e.dtype_name, "shape": shape, "offset": e.offset, "size": e.size}
    if e.dtype == DT_STRING:
        loader = lambda r: _string_parts(reader, e)  # noqa: E731
    elif 1 < e.num_elements <= ELEMENT_REGION_LIMIT and e.numpy_dtype() is not None:
        loader = lambda r: _element_parts(reader, e)  # noqa: E731
    else:
        loader = None
    return Region(e.offset, e.end, "tensor", e.name, value, expl, record=e, loader=loader)


def _element_parts(reader: BundleReader, e) -> list[Region]:
    dt = e.numpy_dtype()
    if dt is None or dt == object or dt.itemsize * e.num_elements != e.size:
        return []
    raw = reader.read_raw(e)
    values = np.frombuffer(raw, dtype=dt.newbyteorder("<") if dt.itemsize > 1 else dt)
    shape = e.shape
    out = []
    w = dt.itemsize
    for i in range(e.num_elements):
        idx = list(np.unravel_index(i, shape)) if shape else []
        v = values[i]
        shown = v.item() if dt.kind in "biufc" else float(v)
        out.append(Region(e.offset + i * w, e.offset + (i + 1) * w, "element",
                          f"{e.name}[{', '.join(map(str, idx))}]", shown,
                          f"element {i} (row-major) of {e.name!r}: {e.dtype_name}, {w} byte(s), little-endian"))
    return out


def _string_parts(reader: BundleReader, e) -> list[Region]:
    raw = reader.read_raw(e)
    try:
        lay = parse_string_layout(raw, e.num_elements, base=e.offset, verify=True)
        crc_note = "matches the lengths"
    except Exception:
        try:
            lay = parse_string_layout(raw, e.num_elements, base=e.offset, verify=False)
            crc_note = "does NOT match the lengths"
        except Exception as exc:
            return [Region(e.offset, e.end, "unparsed", "unparsed string tensor", None, str(exc))]
    o = e.offset
    out = []
    for i, ((s, t), n) in enumerate(zip(lay.length_spans, lay.lengths)):
        out.append(Region(o + s, o + t, "varint", f"length {i}", n, f"varint64: element {i} is {n} bytes long"))
    c = lay.length_crc_offset
    stored = int.from_bytes(raw[c:c + 4], "little")
    out.append(Region(o + c, o + c + 4, "checksum", "length checksum", stored,
                      f"masked CRC-32C of the lengths (as fixed-width ints): {crc_note}"))
    for i, (s, n) in enumerate(zip(lay.data_offsets, lay.lengths)):
        if n:
            b = raw[s:s + min(n, VALUE_BYTES_LIMIT)]
            more = f" (value shows the first {VALUE_BYTES_LIMIT})" if n > VALUE_BYTES_LIMIT else ""
            out.append(Region(o + s, o + s + n, "string_bytes", f"element {i}", b,
                              f"the {n} bytes of element {i}{more}"))
    return out
