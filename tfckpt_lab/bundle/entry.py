"""Index entries: the header and one BundleEntryProto per tensor, as friendly objects.

Each :class:`BundleEntry` keeps the proto it came from (``.lowlevel``) and the raw
index key (``.key``), so a curious reader can always go one level deeper.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import dtypes
from .._deprecation import renamed
from ..errors import MalformedError
from .slices import TensorSlice

__all__ = ["BundleEntry", "BundleHeader", "parse_entry", "parse_entries", "summarize_entries", "parse_header",
           "key_to_name", "keys_to_names",
           "TENSOR_BUNDLE_VERSION", "TENSOR_BUNDLE_MIN_CONSUMER", "HEADER_KEY"]

HEADER_KEY = b""
TENSOR_BUNDLE_VERSION = 1       # VersionDef.producer TensorFlow writes
TENSOR_BUNDLE_MIN_CONSUMER = 0  # VersionDef.min_consumer TensorFlow writes

_DecodeError = None


def _decode_error():
    global _DecodeError
    if _DecodeError is None:
        from google.protobuf.message import DecodeError

        _DecodeError = DecodeError
    return _DecodeError


def _pb():
    from ..protos import tensor_bundle_pb2

    return tensor_bundle_pb2


@dataclass(frozen=True)
class BundleHeader:
    """The bundle's header (the entry under the empty key).

    Attributes:
        num_shards: how many data shards the bundle has.
        endianness: ``"little"`` or ``"big"``.
        producer, min_consumer, bad_consumers: the format version TensorFlow checks.
        lowlevel: one level deeper, the ``BundleHeaderProto`` message itself
            (``.proto`` is an old name for it).
    """

    num_shards: int
    endianness: str  # "little" or "big"
    producer: int
    min_consumer: int
    bad_consumers: tuple[int, ...]
    lowlevel: object = field(repr=False, compare=False)

    proto = renamed("proto", "lowlevel")


@dataclass(frozen=True)
class BundleEntry:
    """Where one tensor (or one partitioned variable's description) lives.

    Attributes:
        name: the tensor's name (the decoded key).
        key: the raw index key (differs from ``name.encode()`` for slice pieces).
        dtype: TensorFlow's DataType number; ``dtype_name`` gives its name.
        shape: the full shape.
        shard_id, offset, size: the byte range ``[offset, offset + size)`` in data shard ``shard_id``.
        crc32c: the masked CRC-32C as stored (``crc32c_unmasked`` for the real CRC).
        slices: for a partitioned variable, the pieces it was saved in.
        lowlevel: one level deeper, the ``BundleEntryProto`` message itself
            (``.proto`` is an old name for it).
    """

    name: str
    key: bytes
    dtype: int
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int
    slices: tuple[TensorSlice, ...]
    lowlevel: object = field(repr=False, compare=False)

    proto = renamed("proto", "lowlevel")

    @property
    def dtype_name(self) -> str:
        return dtypes.dtype_name(self.dtype)

    @property
    def crc32c_unmasked(self) -> int:
        from ..codecs import unmask_crc

        return unmask_crc(self.crc32c)

    @property
    def num_elements(self) -> int:
        return math.prod(self.shape)

    @property
    def end(self) -> int:
        return self.offset + self.size

    @property
    def is_partitioned(self) -> bool:
        return bool(self.slices)

    def numpy_dtype(self) -> np.dtype | None:
        return dtypes.numpy_dtype(self.dtype)

    def _repr_html_(self) -> str:
        import html

        where = (f"{len(self.slices)} slices (partitioned: the bytes are in the pieces)" if self.slices else
                 f"shard {self.shard_id}, bytes [{self.offset}, {self.end}), masked CRC-32C {self.crc32c:#010x}")
        return (f"<code>{html.escape(self.name)}</code>: {self.dtype_name} {list(self.shape)} &mdash; "
                f"{html.escape(where)}")


def _entry_from_proto(p, key: bytes, name: str, path) -> BundleEntry:
    if p.shape.unknown_rank:
        raise MalformedError(f"entry {name!r} has a shape of unknown rank", path=path)
    shape = tuple(int(d.size) for d in p.shape.dim)
    if any(d < 0 for d in shape):
        raise MalformedError(f"entry {name!r} has a negative dimension in shape {shape}", path=path)
    if p.shard_id < 0 or p.offset < 0 or p.size < 0:
        raise MalformedError(f"entry {name!r} has a negative shard, offset or size", path=path)
    return BundleEntry(
        name=name,
        key=key,
        dtype=int(p.dtype),
        shape=shape,
        shard_id=int(p.shard_id),
        offset=int(p.offset),
        size=int(p.size),
        crc32c=int(p.crc32c),
        slices=tuple(TensorSlice.from_proto(s) for s in p.slices),
        lowlevel=p,
    )


def key_to_name(key: bytes) -> str:
    """Tensor names are UTF-8 in practice; anything else is shown with escapes rather than failing."""
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError:
        return key.decode("utf-8", errors="backslashreplace")


def parse_entry(key: bytes, value: bytes, *, path=None) -> BundleEntry:
    """Parse one index value into a :class:`BundleEntry`."""
    p = _pb().BundleEntryProto()
    try:
        p.ParseFromString(value)
    except _decode_error() as exc:
        raise MalformedError(f"index entry {key!r} is not a valid BundleEntryProto: {exc}", path=path) from None
    return _entry_from_proto(p, bytes(key), key_to_name(key), path)


_LEN1 = [b"\x0a" + bytes((n,)) for n in range(128)]  # field-1 tag + one-byte length


def _frame(items) -> bytes:
    """Frame each value as field 1 (length-delimited) so one parse reads them all."""
    from ..codecs import encode_varint

    lens = _LEN1
    return b"".join([lens[len(v)] + v if len(v) < 128 else b"\x0a" + encode_varint(len(v)) + v
                     for _, v in items])


def _parse_list(msg, items, path):
    try:
        msg.ParseFromString(_frame(items))
    except _decode_error():
        # Find the culprit for a precise message.
        for k, v in items:
            parse_entry(k, v, path=path)
        raise MalformedError("index entries are not valid BundleEntryProtos", path=path) from None
    return msg.entry


def _shape_of(p, name: str, path) -> tuple[int, ...]:
    """A TensorShapeProto as a tuple, checked (no unknown rank, no negative sizes)."""
    if p.unknown_rank:
        raise MalformedError(f"entry {name!r} has a shape of unknown rank", path=path)
    shape = tuple(int(d.size) for d in p.dim)
    if any(d < 0 for d in shape):
        raise MalformedError(f"entry {name!r} has a negative dimension in shape {shape}", path=path)
    return shape


_new_object = object.__new__


def parse_entries(items, *, path=None) -> list[BundleEntry]:
    """Parse many ``(key, value)`` pairs with one protobuf call.

    Each value is framed as field 1 of a ``BundleEntryList`` and the whole list
    is parsed at once, which is several times faster than one parse per entry.
    Equal shapes are decoded (and checked) once, by their serialized bytes.
    """
    if not items:
        return []
    protos = _parse_list(_pb().BundleEntryList(), items, path)
    shapes: dict[bytes, tuple[int, ...]] = {}
    out = []
    append = out.append
    for (k, _), p in zip(items, protos):
        if type(k) is not bytes:
            k = bytes(k)
        name = key_to_name(k)
        ps = p.shape
        sk = ps.SerializeToString()
        shape = shapes.get(sk)
        if shape is None:
            shape = shapes[sk] = _shape_of(ps, name, path)
        shard, offset, size = p.shard_id, p.offset, p.size
        if shard < 0 or offset < 0 or size < 0:
            raise MalformedError(f"entry {name!r} has a negative shard, offset or size", path=path)
        slices = p.slices
        # What the dataclass __init__ would do, without its per-field frozen setattr
        # (a third of the cost of listing a big index).
        e = _new_object(BundleEntry)
        e.__dict__.update(name=name, key=k, dtype=p.dtype, shape=shape, shard_id=shard, offset=offset,
                          size=size, crc32c=p.crc32c,
                          slices=tuple(TensorSlice.from_proto(s) for s in slices) if slices else (),
                          lowlevel=p)
        append(e)
    return out


def keys_to_names(keys) -> list[str]:
    """:func:`key_to_name` of many keys at once (one decode when they are all plain UTF-8)."""
    try:
        names = b"\n".join(keys).decode("utf-8").split("\n")
        if len(names) == len(keys):  # else some key holds a newline itself
            return names
    except UnicodeDecodeError:
        pass
    return [key_to_name(bytes(k)) for k in keys]


def summarize_entries(items, *, path=None):
    """Names, shapes and dtypes of many entries: only what a listing needs, fast.

    Parses the values through the narrower ``BundleEntrySummary`` message (shape
    left serialized, offsets skipped), so listing 100,000 entries costs about one
    microsecond each.  Returns ``(names, shapes, dtypes, partitioned)`` where
    ``partitioned`` holds the indices of entries that have slices -- looked for
    only when some key is a slice key (starts with 0x00): without one, no
    entry's pieces can be hidden from a listing.  ``items`` must be in key
    order, as the table reader returns them.
    """
    if not items:
        return [], [], [], []
    summaries = list(_parse_list(_pb().BundleEntrySummaryList(), items, path))
    keys = [k for k, _ in items]
    names = keys_to_names(keys)
    shape_keys = [p.shape for p in summaries]
    distinct = len(set(shape_keys))
    cache: dict[bytes, tuple[int, ...]] = {}
    from ..protos.tensor_shape_pb2 import TensorShapeProto

    for i, sk in enumerate(shape_keys):  # decode and check each distinct shape once
        if sk not in cache:
            sp = TensorShapeProto()
            try:
                sp.ParseFromString(sk)
            except _decode_error() as exc:
                raise MalformedError(f"entry {names[i]!r} has an invalid shape: {exc}", path=path) from None
            cache[sk] = _shape_of(sp, names[i], path)
            if len(cache) == distinct:
                break
    shapes = list(map(cache.__getitem__, shape_keys))
    dtypes_ = [p.dtype for p in summaries]
    # ``items`` come in key order (the table reader checks it), so slice keys, if any, come first.
    partitioned = [i for i, p in enumerate(summaries) if p.slices] if keys[0][:1] == b"\x00" else []
    return names, shapes, dtypes_, partitioned


def parse_header(value: bytes, *, path=None) -> BundleHeader:
    p = _pb().BundleHeaderProto()
    try:
        p.ParseFromString(value)
    except _decode_error() as exc:
        raise MalformedError(f"header entry is not a valid BundleHeaderProto: {exc}", path=path) from None
    return BundleHeader(
        num_shards=int(p.num_shards),
        endianness="big" if p.endianness == 1 else "little",
        producer=int(p.version.producer),
        min_consumer=int(p.version.min_consumer),
        bad_consumers=tuple(p.version.bad_consumers),
        lowlevel=p,
    )
