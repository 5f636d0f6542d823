"""A ``.data-NNNNN-of-NNNNN`` shard as byte regions.

A shard has no structure of its own: it is tensors' bytes back to back, and only
the ``.index`` says where each one starts.  So this layout reads the index of the
same checkpoint, takes the entries whose ``shard_id`` is this shard, and lays
them out by offset.  Bytes no entry points at are shown as such.

String tensors are split further (see :mod:`tfckpt_lab.bundle.tensor_bytes`)::

    lengths varint64 * n, length_crc fixed32, bytes of element 0, 1, ...

A tensor of more than :data:`ELEMENT_REGION_LIMIT` strings gets its per-element
regions in groups of at most that many (groups of groups beyond that), each
built when it is first opened, from boundaries recorded by one walk over the
lengths (:class:`~tfckpt_lab.bundle.tensor_bytes.StringLengthScan`): opening a
shard of two million strings costs one pass over their lengths and a few
kilobytes, and only the groups a view looks at become regions.
"""

from __future__ import annotations

import os

import numpy as np

from ..bundle.naming import DATA_SUFFIX_RE
from ..bundle.reader import BundleReader
from ..bundle.tensor_bytes import parse_string_layout
from ..dtypes import DT_STRING
from ..errors import CheckpointError
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
    from ..fileio import open_random_access

    with open_random_access(path) as f:  # the shard must be there and readable (a clear error if not)
        size = f.size
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
                      loader=lambda r: _tensor_regions(reader, entries, size), lowlevel=reader)
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
    return Region(e.offset, e.end, "tensor", e.name, value, expl, lowlevel=e, loader=loader)


def _element_parts(reader: BundleReader, e) -> list[Region]:
    dt = e.numpy_dtype()
    if dt is None or dt == object or dt.itemsize * e.num_elements != e.size:
        return []
    try:  # the values as the reader decodes them (byte order included), not a second decoder
        values = reader.read_tensor(e, verify=False).reshape(-1)
    except CheckpointError:
        return []
    order = "big-endian" if reader.header.endianness == "big" and dt.itemsize > 1 else "little-endian"
    shape = e.shape
    out = []
    w = dt.itemsize
    for i in range(e.num_elements):
        idx = list(np.unravel_index(i, shape)) if shape else []
        v = values[i]
        shown = v.item() if dt.kind in "biufc" else float(v)
        out.append(Region(e.offset + i * w, e.offset + (i + 1) * w, "element",
                          f"{e.name}[{', '.join(map(str, idx))}]", shown,
                          f"element {i} (row-major) of {e.name!r}: {e.dtype_name}, {w} byte(s), {order}"))
    return out


def _string_parts(reader: BundleReader, e) -> list[Region]:
    if e.num_elements > ELEMENT_REGION_LIMIT:
        return _grouped_string_parts(reader, e)
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


def _grouped_string_parts(reader: BundleReader, e) -> list[Region]:
    """A big string tensor: lengths and bytes as groups of element regions, built when opened."""
    try:
        f = reader.data_file(e.shard_id)
        if e.end > f.size:
            raise CheckpointError("tensor runs past the end of its shard", path=f.path, offset=e.offset)
        groups = _StringGroups(f, e)
    except CheckpointError as exc:
        return [Region(e.offset, e.end, "unparsed", "unparsed string tensor", None, exc.message)]
    o = e.offset
    c = groups.crc_offset
    ok = "matches the lengths" if groups.length_crc_ok else "does NOT match the lengths"
    out = [Region(o, o + c, "lengths", "lengths", e.num_elements,
                  f"the {e.num_elements} elements' lengths, varint64 each (in groups)",
                  loader=lambda r: groups.regions(0, e.num_elements, "lengths")),
           Region(o + c, o + c + 4, "checksum", "length checksum", groups.stored_crc,
                  f"masked CRC-32C of the lengths (as fixed-width ints): {ok}")]
    if groups.total:
        out.append(Region(o + c + 4, e.end, "string_data", "elements' bytes", groups.total,
                          f"the elements' bytes, {groups.total} in all (in groups)",
                          loader=lambda r: groups.regions(0, e.num_elements, "data")))
    return out


class _StringGroups:
    """Where every ``ELEMENT_REGION_LIMIT``-th element's length and bytes start (one walk, kept small)."""

    def __init__(self, f, e):
        from ..bundle.tensor_bytes import StringLengthScan

        self.f, self.e = f, e
        g = ELEMENT_REGION_LIMIT
        scan = StringLengthScan(lambda off, n: f.pread(e.offset + off, n), e.num_elements, e.size, path=f.path,
                                base=e.offset)
        varint_at, sums_at = [], []  # at every g-th element: where its varint starts, bytes before it
        before = 0
        for first, starts, values in scan:
            sums = np.cumsum(values, dtype=np.uint64)
            picks = np.arange((-first) % g, len(values), g)
            varint_at.extend(starts[picks].tolist())
            sums_at.extend((before + (sums[picks] - values[picks])).tolist())
            before += int(sums[-1])
        self.crc_offset, self.total = scan.end, scan.total
        self.varint_at = varint_at + [scan.end]
        data_start = scan.end + 4
        self.data_at = [data_start + int(x) for x in sums_at] + [data_start + scan.total]
        self.stored_crc = int.from_bytes(f.pread(e.offset + scan.end, 4), "little")
        from ..codecs import unmask_crc

        self.length_crc_ok = unmask_crc(self.stored_crc) == scan.crc

    def _at(self, k: int, part: str) -> int:
        """Tensor-relative offset where element ``k`` (a multiple of the limit, or the count) starts in ``part``."""
        table = self.varint_at if part == "lengths" else self.data_at
        return table[-1] if k >= self.e.num_elements else table[k // ELEMENT_REGION_LIMIT]

    def regions(self, i: int, j: int, part: str) -> list[Region]:
        """The regions of elements ``[i, j)``: leaves for one group, else sub-groups (each at most a limit's worth)."""
        g = ELEMENT_REGION_LIMIT
        if j - i <= g:
            return self._leaves(i, j, part)
        size = g
        while size * g < j - i:
            size *= g
        o = self.e.offset
        what = "lengths" if part == "lengths" else "bytes"
        out = []
        for a in range(i, j, size):
            b = min(a + size, j)
            lo, hi = self._at(a, part), self._at(b, part)
            if hi > lo:
                out.append(Region(o + lo, o + hi, "element_group", f"elements {a}..{b - 1}", None,
                                  f"the {what} of elements {a} to {b - 1}",
                                  loader=lambda r, a=a, b=b: self.regions(a, b, part)))
        return out

    def _leaves(self, i: int, j: int, part: str) -> list[Region]:
        from ..codecs import decode_varints

        o = self.e.offset
        lo, hi = self._at(i, "lengths"), self._at(j, "lengths")
        values, _, starts = decode_varints(self.f.pread(o + lo, hi - lo), j - i, starts=True)
        lengths = values.tolist()
        if part == "lengths":
            ends = starts[1:].tolist() + [hi - lo]
            return [Region(o + lo + s, o + lo + t, "varint", f"length {i + k}", n,
                           f"varint64: element {i + k} is {n} bytes long")
                    for k, (s, t, n) in enumerate(zip(starts.tolist(), ends, lengths))]
        out = []
        pos = o + self._at(i, "data")
        for k, n in enumerate(lengths):
            if n:
                out.append(_string_element(self.f, pos, n, i + k))
            pos += n
        return out


def _string_element(f, start: int, n: int, index: int) -> Region:
    """One element's bytes (its value: the first ``VALUE_BYTES_LIMIT`` of them, read when its group opens)."""
    b = f.pread(start, min(n, VALUE_BYTES_LIMIT))
    more = f" (value shows the first {VALUE_BYTES_LIMIT})" if n > VALUE_BYTES_LIMIT else ""
    return Region(start, start + n, "string_bytes", f"element {index}", b, f"the {n} bytes of element {index}{more}")
