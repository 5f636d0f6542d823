"""Hand-made hostile checkpoints: valid CRCs, malicious contents.

Each builder writes a small ``.index`` (made with our own TableBuilder / BlockBuilder and
hand-made protos, so every checksum is right) plus a small data file, and returns the prefix.
:func:`exercise` then does everything a user might do with it and collects what was raised.

Run as a script (``python tests/hostile_cases.py DIR``) it exercises every case in a fresh
process and prints the peak RSS, which also counts memory that ``tracemalloc`` cannot see
(protobuf's upb arena, cramjam's Rust allocations).
"""

from __future__ import annotations

import os
import resource
import sys
import time

import numpy as np

from tfckpt_lab.codecs import crc32c, encode_fixed32, encode_varint, mask_crc
from tfckpt_lab.errors import CheckpointError
from tfckpt_lab.protos.tensor_bundle_pb2 import BundleEntryProto, BundleHeaderProto
from tfckpt_lab.sstable.block import BlockBuilder
from tfckpt_lab.sstable.builder import TableBuilder
from tfckpt_lab.sstable.format import SNAPPY_COMPRESSION, BlockHandle, Footer, block_trailer

DT_FLOAT, DT_STRING, DT_INT64 = 1, 7, 9


def header(num_shards: int = 1, endianness: int = 0) -> bytes:
    h = BundleHeaderProto()
    h.num_shards = num_shards
    h.endianness = endianness
    h.version.producer = 1
    return h.SerializeToString()


def entry(dtype=DT_FLOAT, shape=(), shard=0, offset=0, size=0, crc=0, slices=()) -> bytes:
    e = BundleEntryProto()
    e.dtype = dtype
    e.shape.SetInParent()
    for d in shape:
        e.shape.dim.add().size = d
    e.shard_id, e.offset, e.size, e.crc32c = shard, offset, size, crc
    for s in slices:
        sp = e.slices.add()
        for start, length in s:
            x = sp.extent.add()
            if length != -1:
                x.start, x.length = start, length
    return e.SerializeToString()


def write(prefix, items: dict[bytes, bytes], *, hdr: bytes | None = None, data: bytes = b"",
          num_data: int = 1, block_size: int = 4096) -> str:
    """A table of ``{b'': header} | items`` (keys sorted) and ``num_data`` data files holding ``data``."""
    with open(prefix + ".index", "wb") as f:
        tb = TableBuilder(f, block_size=block_size)
        tb.add(b"", header() if hdr is None else hdr)
        for k in sorted(items):
            tb.add(k, items[k])
        tb.finish()
    for i in range(num_data):
        with open(f"{prefix}.data-{i:05d}-of-{num_data:05d}", "wb") as f:
            f.write(data)
    return prefix


def raw_table(prefix, data_blocks: list[tuple[bytes, int]], index_values=None, footer: bytes | None = None,
              data: bytes = b"") -> str:
    """A table from raw block contents ``[(contents, type)]``, each with a correct trailer.

    ``index_values``: the index block's ``[(key, value)]`` (default: real handles to the blocks).
    """
    out = bytearray()
    handles = []
    for contents, btype in data_blocks:
        handles.append(BlockHandle(len(out), len(contents)))
        out += contents + block_trailer(contents, btype)
    meta = BlockBuilder().finish()
    meta_h = BlockHandle(len(out), len(meta))
    out += meta + block_trailer(meta, 0)
    if index_values is None:
        index_values = [(bytes([0x7F]) * (i + 1), h.encode()) for i, h in enumerate(handles)]
    index = unchecked_block(index_values, restart_interval=1)
    index_h = BlockHandle(len(out), len(index))
    out += index + block_trailer(index, 0)
    out += footer if footer is not None else Footer(meta_h, index_h).encode()
    with open(prefix + ".index", "wb") as f:
        f.write(out)
    with open(prefix + ".data-00000-of-00001", "wb") as f:
        f.write(data)
    return prefix


def unchecked_block(entries: list[tuple[bytes, bytes]], restart_interval: int = 16) -> bytes:
    """Block contents with whole keys, in the order given (BlockBuilder refuses disorder)."""
    bb, restarts = bytearray(), []
    for i, (k, v) in enumerate(entries):
        if i % restart_interval == 0:
            restarts.append(len(bb))
        bb += encode_varint(0) + encode_varint(len(k)) + encode_varint(len(v)) + k + v
    for r in restarts or [0]:
        bb += encode_fixed32(r)
    return bytes(bb + encode_fixed32(len(restarts or [0])))


def block_with(entries: list[tuple[bytes, bytes]]) -> bytes:
    b = BlockBuilder()
    for k, v in entries:
        b.add(k, v)
    return b.finish()


def string_bytes(lengths, elements=b"") -> bytes:
    """TF's string layout with a correct length checksum (the entry CRC is left to the caller)."""
    import struct

    crc_in = b"".join(struct.pack("<I", n) if n < 2**32 else struct.pack("<Q", n) for n in lengths)
    return b"".join(encode_varint(n) for n in lengths) + encode_fixed32(mask_crc(crc32c(crc_in))) + elements


# -- the cases: name -> builder(prefix) -----------------------------------------------------------

def huge_shape(p):  # 2**60 float32 elements claimed, 4 bytes stored
    return write(p, {b"w": entry(shape=(2**30, 2**30), size=4)}, data=b"\0" * 4)


def huge_size(p):  # size says 2**42 bytes; the shard has 16
    return write(p, {b"w": entry(shape=(2**40,), size=4 * 2**40)}, data=b"\0" * 16)


def negative_offset(p):
    return write(p, {b"w": entry(shape=(1,), offset=-(2**62), size=4)}, data=b"\0" * 4)


def string_count_huge(p):  # 2**40 strings in 9 bytes
    return write(p, {b"s": entry(DT_STRING, shape=(2**40,), size=9)}, data=string_bytes([0]) + b"\0" * 4)


def string_count_wraps_int64(p):  # numpy's int64 product of the shape wraps round to 8
    data = string_bytes([1] * 8, b"x" * 8)
    return write(p, {b"s": entry(DT_STRING, shape=(2**61 + 1, 8), size=len(data))}, data=data)


def string_length_2_40(p):  # one string claiming 2**40 bytes
    data = string_bytes([2**40], b"x")
    return write(p, {b"s": entry(DT_STRING, shape=(1,), size=len(data))}, data=data)


def many_empty_strings(p, n: int = 2_000_000, damage: str = "length checksum"):
    """``n - 1`` empty strings and one ``b"z"`` (a 2 MB shard); ``damage``: ``"length checksum"``,
    ``"element"`` (the last byte) or ``"none"``."""
    lengths = np.zeros(n, np.uint32)
    lengths[-1] = 1
    length_crc = mask_crc(crc32c(lengths.astype("<u4").tobytes()))
    data = bytearray(lengths.astype(np.uint8).tobytes() + encode_fixed32(length_crc) + b"z")
    crc = mask_crc(crc32c(lengths.astype("<u4").tobytes() + bytes(data[n:])))
    if damage == "length checksum":
        data[n] ^= 1
    elif damage == "element":
        data[-1] ^= 1
    return write(p, {b"s": entry(DT_STRING, shape=(n,), size=len(data), crc=crc)}, data=bytes(data))


def rank_65(p):
    return write(p, {b"w": entry(shape=(1,) * 65, size=4)}, data=b"\0" * 4)


def rank_300(p):  # TensorFlow itself allows at most 254
    return write(p, {b"w": entry(shape=(1,) * 300, size=4)}, data=b"\0" * 4)


def unknown_dtype(p):
    return write(p, {b"w": entry(dtype=999, shape=(1,), size=4)}, data=b"\0" * 4)


def variant_dtype(p):
    return write(p, {b"w": entry(dtype=21, shape=(1,), size=4)}, data=b"\0" * 4)


def shard_out_of_range(p):
    return write(p, {b"w": entry(shape=(1,), shard=7, size=4)}, data=b"\0" * 4)


def num_shards_huge(p):
    return write(p, {b"w": entry(shape=(1,), size=4)}, hdr=header(num_shards=2**31 - 1), data=b"\0" * 4)


def num_shards_max_allowed(p):  # 2**20 shards, none of them present
    return write(p, {b"w": entry(shape=(1,), size=4)}, hdr=header(num_shards=2**20), num_data=0)


def bad_endianness(p):
    return write(p, {b"w": entry(shape=(1,), size=4)}, hdr=header(endianness=7), data=b"\0" * 4)


def deeply_nested_proto(p):  # 8000 nested start-group tags of an unknown field
    return write(p, {b"w": b"\x5b" * 8000}, data=b"")


def deeply_nested_header(p):
    return write(p, {}, hdr=b"\x5b" * 8000)


def no_header(p):
    return raw_table(p, [(block_with([(b"w", entry(shape=(1,), size=4))]), 0)], data=b"\0" * 4)


def handle_past_end(p):
    return raw_table(p, [(block_with([(b"", header())]), 0)],
                     index_values=[(b"\x7f", BlockHandle(2**40, 100).encode())])


def handle_size_huge(p):
    return raw_table(p, [(block_with([(b"", header())]), 0)],
                     index_values=[(b"\x7f", BlockHandle(0, 2**62).encode())])


def footer_handle_huge(p):
    f = Footer(BlockHandle(0, 8), BlockHandle(0, 2**60)).encode()
    return raw_table(p, [(block_with([(b"", header())]), 0)], footer=f)


def varint_never_ends(p):
    contents = b"\xff" * 24 + encode_fixed32(0) + encode_fixed32(1)
    return raw_table(p, [(contents, 0)])


def restart_count_huge(p):
    contents = block_with([(b"", header())])[:-4] + encode_fixed32(2**32 - 1)
    return raw_table(p, [(contents, 0)])


def restarts_out_of_order(p):
    contents = bytes(block_with([(b"", header())])[:-8]) + encode_fixed32(10**6) + encode_fixed32(1)
    return raw_table(p, [(contents, 0)])


def index_points_every_entry_at_one_block(p):  # read amplification: 400 handles, one 5 KB block
    blk = block_with([(b"", header())] + [(b"k%04d" % i, b"v" * 8) for i in range(300)])
    h = BlockHandle(0, len(blk)).encode()
    return raw_table(p, [(blk, 0)], index_values=[(b"k%04d" % i, h) for i in range(400)])


def index_keys_out_of_order(p):
    b1 = block_with([(b"", header()), (b"a", entry(shape=(1,), size=4))])
    b2 = block_with([(b"b", entry(shape=(1,), size=4))])
    h1, h2 = BlockHandle(0, len(b1)), BlockHandle(len(b1) + 5, len(b2))
    return raw_table(p, [(b1, 0), (b2, 0)], index_values=[(b"z", h1.encode()), (b"c", h2.encode())],
                     data=b"\0" * 4)


def duplicate_keys_in_block(p):
    e = entry(shape=(1,), size=4)
    return raw_table(p, [(unchecked_block([(b"", header()), (b"w", e), (b"w", e)]), 0)], data=b"\0" * 4)


def quadratic_keys(p):  # every entry adds one byte to the previous key: ~1,900 keys, ~1.8 MB in total
    bb = bytearray()
    bb += encode_varint(0) + encode_varint(0) + encode_varint(len(header())) + header()
    n = 1900
    for i in range(n):
        bb += encode_varint(i) + encode_varint(1) + encode_varint(0) + b"a"
    bb += encode_fixed32(0) + encode_fixed32(1)
    return raw_table(p, [(bytes(bb), 0)])


def snappy_bomb(p):  # a snappy block announcing 4 GiB of output
    contents = encode_varint(2**32 - 1) + b"\0" * 64
    return raw_table(p, [(contents, SNAPPY_COMPRESSION)])


def partitioned_huge(p):  # a 2**62-byte variable made of one piece that claims it all
    from tfckpt_lab.bundle.slices import Extent, TensorSlice, encode_slice_key

    s = TensorSlice((Extent(0, 2**31), Extent(0, 2**29)))
    piece = encode_slice_key(b"v", s)
    return write(p, {b"v": entry(shape=(2**31, 2**29), slices=[[(0, 2**31), (0, 2**29)]]),
                     piece: entry(shape=(2**31, 2**29), size=4)}, data=b"\0" * 4)


def partitioned_overlap(p):  # pieces [0,3) and [1,2) cover 4 elements, but overlap (element 3 unwritten)
    from tfckpt_lab.bundle.slices import Extent, TensorSlice, encode_slice_key

    data = np.arange(4, dtype=np.float32).tobytes()
    k1 = encode_slice_key(b"v", TensorSlice((Extent(0, 3),)))
    k2 = encode_slice_key(b"v", TensorSlice((Extent(1, 1),)))
    return write(p, {b"v": entry(shape=(4,), slices=[[(0, 3)], [(1, 1)]]),
                     k1: entry(shape=(3,), size=12, crc=mask_crc(crc32c(data[:12]))),
                     k2: entry(shape=(1,), offset=12, size=4, crc=mask_crc(crc32c(data[12:])))}, data=data)


def partitioned_many_missing_pieces(p):
    return write(p, {b"v": entry(shape=(900,), slices=[[(i, 1)] for i in range(900)])}, data=b"")


def partitioned_pieces_exceed_shard(p):  # 3 pieces of 8 bytes, all at offset 0 of an 8-byte shard
    from tfckpt_lab.bundle.slices import Extent, TensorSlice, encode_slice_key

    data = b"\0" * 8
    items = {b"v": entry(shape=(6,), slices=[[(2 * i, 2)] for i in range(3)])}
    for i in range(3):
        items[encode_slice_key(b"v", TensorSlice((Extent(2 * i, 2),)))] = entry(
            shape=(2,), size=8, crc=mask_crc(crc32c(data)))
    return write(p, items, data=data)


# -- hostile TF2 object graphs (valid checksums; the TrackableObjectGraph proto built directly) -----

def object_graph_checkpoint(prefix, graph, tensors=None) -> str:
    """A bundle holding ``graph`` (a TrackableObjectGraph) under ``_CHECKPOINTABLE_OBJECT_GRAPH``."""
    from tfckpt_lab.bundle.writer import write_bundle

    write_bundle(prefix, {"_CHECKPOINTABLE_OBJECT_GRAPH": np.array(graph.SerializeToString(), dtype=object),
                          **(tensors or {})})
    return prefix


def _tog():
    from tfckpt_lab.protos.trackable_object_graph_pb2 import TrackableObjectGraph

    return TrackableObjectGraph()


def graph_chain(prefix, n: int = 5_000, *, values: str = "last", name: str = "c") -> str:
    """Node i's only child is node i + 1; ``values``: ``"last"`` (the deepest node holds a variable),
    ``"all"`` (every node does) or ``"none"``.  All values share one stored key, ``v``."""
    g = _tog()
    for i in range(n):
        node = g.nodes.add()
        if i + 1 < n:
            node.children.add(node_id=i + 1, local_name=name)
        if values == "all" or (values == "last" and i == n - 1):
            node.attributes.add(name="VARIABLE_VALUE", checkpoint_key="v")
    return object_graph_checkpoint(prefix, g, {"v": np.float32(1)})


def _star(n: int, key_of):
    """A root with ``n`` children ``n0``, ``n1``...; child i is a variable stored under ``key_of(i)``."""
    g = _tog()
    root = g.nodes.add()
    for i in range(n):
        root.children.add(node_id=i + 1, local_name=f"n{i}")
    for i in range(n):
        g.nodes.add().attributes.add(name="VARIABLE_VALUE", checkpoint_key=key_of(i))
    return g


def graph_missing_keys(prefix, n: int = 20_000) -> str:
    """``n`` variables whose keys the checkpoint lacks, beside ``n`` tensors no object names."""
    return object_graph_checkpoint(prefix, _star(n, lambda i: f"missing{i:06d}"),
                                   {f"k{i:06d}": np.float32(i) for i in range(n)})


def graph_wide(prefix, n: int = 1_000_000) -> str:
    """A root with ``n`` variable children (a 38 MB graph for 10**6)."""
    return object_graph_checkpoint(prefix, _star(n, lambda i: "v"), {"v": np.float32(1)})


def graph_slot_doubling(prefix, n: int = 80) -> str:
    """Slot variables of slot variables, each named through the previous one twice (as variable and as
    optimizer): path lengths double at every level, 2**80 characters at the end if spelled out."""
    g = _tog()
    root = g.nodes.add()
    root.children.add(node_id=1, local_name="v")
    g.nodes.add().attributes.add(name="VARIABLE_VALUE", checkpoint_key="v")
    for i in range(n):
        prev = i + 1
        slot = g.nodes.add()
        slot.attributes.add(name="VARIABLE_VALUE", checkpoint_key="v")
        g.nodes[prev].slot_variables.add(original_variable_node_id=prev, slot_name="m",
                                          slot_variable_node_id=i + 2)
    return object_graph_checkpoint(prefix, g, {"v": np.float32(1)})


def graph_duplicate_edges(prefix, n: int = 60) -> str:
    """Each node reaches the next by two edges of the same name: 2**60 ways down; a walk must take
    each node once (and show both edges)."""
    g = _tog()
    for i in range(n):
        node = g.nodes.add()
        if i + 1 < n:
            node.children.add(node_id=i + 1, local_name="d")
            node.children.add(node_id=i + 1, local_name="d")
        node.attributes.add(name="VARIABLE_VALUE", checkpoint_key="v")
    return object_graph_checkpoint(prefix, g, {"v": np.float32(1)})


GRAPH_CASES = {f.__name__: f for f in [graph_chain, graph_missing_keys, graph_wide, graph_slot_doubling,
                                        graph_duplicate_edges]}


CASES = {f.__name__: f for f in [
    huge_shape, huge_size, negative_offset, string_count_huge, string_count_wraps_int64, string_length_2_40,
    many_empty_strings,
    rank_65, rank_300, unknown_dtype, variant_dtype, shard_out_of_range, num_shards_huge,
    num_shards_max_allowed, bad_endianness, deeply_nested_proto, deeply_nested_header, no_header,
    handle_past_end, handle_size_huge, footer_handle_huge, varint_never_ends, restart_count_huge,
    restarts_out_of_order, index_points_every_entry_at_one_block, index_keys_out_of_order,
    duplicate_keys_in_block, quadratic_keys, snappy_bomb, partitioned_huge, partitioned_overlap,
    partitioned_many_missing_pieces, partitioned_pieces_exceed_shard,
]}


def exercise(prefix) -> list[tuple[str, BaseException]]:
    """Everything a user might do with a checkpoint; returns ``[(step, CheckpointError)]``.

    Any exception that is not a CheckpointError propagates (that is a bug).
    """
    from tfckpt_lab.bundle.reader import BundleReader
    from tfckpt_lab.checkpoint.reader import CheckpointReader, list_variables
    from tfckpt_lab.checkpoint.verify import verify_checkpoint

    raised = []

    def step(name, fn):
        try:
            fn()
        except CheckpointError as exc:
            raised.append((name, exc.with_traceback(None)))  # keep the error, not the frames it left

    def read_all():
        with BundleReader(prefix) as r:
            for e in list(r.entries().values()):
                r.read_tensor(e)

    def lookup_all():
        with BundleReader(prefix) as r:
            for k in [b"w", b"s", b"v", b"k0001", b"a", b"b"]:
                try:
                    r.read_tensor(k)
                except KeyError:
                    pass

    def friendly():
        with CheckpointReader(prefix) as r:
            for name in r.get_variable_to_shape_map():
                r[name]

    step("read every entry", read_all)
    step("look up names", lookup_all)
    step("CheckpointReader", friendly)
    step("list_variables", lambda: list_variables(prefix))
    report = verify_checkpoint(prefix)  # never raises
    if report.ok:
        raised.append(("verify", None))
    return raised


def main(directory) -> None:
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for name, build in CASES.items():
        d = os.path.join(directory, name)
        os.makedirs(d, exist_ok=True)
        exercise(build(os.path.join(d, "h")))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    print(f"baseline_rss={baseline * scale} peak_rss={peak * scale}")


if __name__ == "__main__":
    t = time.time()
    main(sys.argv[1])
