"""The SSTable layer on its own, run as one harness over a matrix of settings (as LevelDB's tests do)."""

from __future__ import annotations

import io
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tfckpt_lab.errors import ChecksumMismatchError, MalformedError, TruncatedError, UnsupportedError
from tfckpt_lab.sstable import (
    Block,
    BlockBuilder,
    TableBuilder,
    TableReader,
    find_short_successor,
    find_shortest_separator,
)
from tfckpt_lab.sstable.format import FOOTER_SIZE, TABLE_MAGIC_NUMBER, Footer


def _random_items(rng: random.Random, n: int, key_len=(1, 40), value_len=(0, 60)):
    keys = set()
    while len(keys) < n:
        prefix = rng.choice([b"", b"layer/", b"layer/0/", b"\xff\xff", b"\x00"])
        k = prefix + bytes(rng.randrange(256) for _ in range(rng.randint(*key_len)))
        keys.add(k)
    return [(k, bytes(rng.randrange(256) for _ in range(rng.randint(*value_len)))) for k in sorted(keys)]


def _build(items, **opts) -> bytes:
    f = io.BytesIO()
    tb = TableBuilder(f, **opts)
    for k, v in items:
        tb.add(k, v)
    tb.finish()
    return f.getvalue()


@pytest.mark.parametrize("restart_interval", [1, 16, 1024])
@pytest.mark.parametrize("block_size", [64, 4096, 256 * 1024])
@pytest.mark.parametrize("n", [0, 1, 17, 500])
def test_table_harness(tmp_path, restart_interval, block_size, n):
    items = _random_items(random.Random(n * 31 + block_size + restart_interval), n)
    path = tmp_path / "t.index"
    path.write_bytes(_build(items, block_size=block_size, restart_interval=restart_interval))
    with TableReader(path) as t:
        assert list(t.items()) == items
        assert t.all_items() == items
        for k, v in items:
            assert t.get(k) == v
        # Keys that are absent: just below, just above, between.
        for k, _ in items[:50]:
            assert t.get(k + b"\x00") in (None, dict(items).get(k + b"\x00"))
        assert t.get(b"\xff" * 50) is None or (b"\xff" * 50) in dict(items)
        if n > 1 and block_size == 64:
            assert t.num_data_blocks > 1


def test_block_entries_offsets_are_consistent():
    bb = BlockBuilder(restart_interval=4)
    items = [(b"apple", b"1"), (b"applesauce", b"22"), (b"apply", b""), (b"banana", b"3"), (b"band", b"4")]
    for k, v in items:
        bb.add(k, v)
    block = Block(bb.finish())
    entries = block.records()
    assert [(e.key, e.value) for e in entries] == items
    assert entries[1].shared == 5 and entries[1].non_shared == 5  # "apple" + "sauce"
    assert entries[4].shared == 0 and entries[4].is_restart  # restart point after 4 entries
    assert entries[3].shared == 0 and not entries[3].is_restart  # "banana" shares nothing, yet no restart
    assert block.restarts == [0, entries[4].offset]
    for a, b in zip(entries, entries[1:]):
        assert a.end == b.offset
    assert entries[-1].end == block.restarts_offset
    assert block.seek(b"appl") == (b"apple", b"1")
    assert block.seek(b"bana") == (b"banana", b"3")
    assert block.seek(b"zzz") is None


@pytest.mark.parametrize("start,limit,want", [
    (b"abc", b"abd", b"abc"),          # differ by one: cannot shorten
    (b"abc1", b"abz", b"abd"),         # increment the first differing byte
    (b"ab", b"abc", b"ab"),            # prefix: unchanged
    (b"a\xffz", b"b", b"a\xffz"),      # next byte too close
    (b"\xff\x01", b"\xff\x05", b"\xff\x02"),
])
def test_shortest_separator(start, limit, want):
    assert find_shortest_separator(start, limit) == want
    assert start <= want < limit or want == start


@pytest.mark.parametrize("key,want", [(b"abc", b"b"), (b"\xff\xffa", b"\xff\xffb"), (b"\xff\xff", b"\xff\xff"),
                                      (b"", b"")])
def test_short_successor(key, want):
    assert find_short_successor(key) == want


@given(st.binary(max_size=8), st.binary(max_size=8))
def test_separator_property(a, b):
    if a >= b:
        a, b = b, a
    if a == b:
        return
    sep = find_shortest_separator(a, b)
    assert a <= sep < b


def test_empty_table_layout():
    data = _build([])
    # empty data block is not written; metaindex (8+5) + index (8+5) + footer
    assert len(data) == 13 + 13 + FOOTER_SIZE
    footer = Footer.decode(data[-FOOTER_SIZE:])
    assert footer.metaindex_handle.offset == 0 and footer.metaindex_handle.size == 8
    assert int.from_bytes(data[-8:], "little") == TABLE_MAGIC_NUMBER


def test_snappy_blocks_roundtrip(tmp_path):
    pytest.importorskip("cramjam")
    items = [(b"key%06d" % i, b"value " * 20) for i in range(2000)]
    p = tmp_path / "snappy.index"
    raw = _build(items, compression="snappy")
    p.write_bytes(raw)
    assert len(raw) < len(_build(items)) / 2  # it really compressed
    with TableReader(p) as t:
        assert t.all_items() == items
        assert t.get(b"key001234") == b"value " * 20


def test_snappy_without_cramjam_is_a_clear_error(tmp_path, monkeypatch):
    pytest.importorskip("cramjam")
    items = [(b"key%06d" % i, b"value " * 20) for i in range(200)]
    p = tmp_path / "snappy.index"
    p.write_bytes(_build(items, compression="snappy"))
    import sys

    monkeypatch.setitem(sys.modules, "cramjam", None)
    with pytest.raises(UnsupportedError, match="snappy"):
        TableReader(p).all_items()


def test_corrupt_block_checksum(tmp_path):
    items = [(b"k%d" % i, b"v") for i in range(10)]
    raw = bytearray(_build(items))
    raw[3] ^= 0x01
    p = tmp_path / "bad.index"
    p.write_bytes(bytes(raw))
    with pytest.raises(ChecksumMismatchError) as exc:
        TableReader(p).all_items()
    assert exc.value.path == str(p) and exc.value.offset == 0


def test_bad_magic_and_short_file(tmp_path):
    p = tmp_path / "x.index"
    p.write_bytes(b"\x00" * 100)
    with pytest.raises(MalformedError, match="magic"):
        TableReader(p)
    p.write_bytes(b"\x00" * 10)
    with pytest.raises(TruncatedError):
        TableReader(p)


def test_keys_must_increase():
    tb = TableBuilder(io.BytesIO())
    tb.add(b"b", b"")
    with pytest.raises(ValueError):
        tb.add(b"a", b"")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.binary(min_size=1, max_size=30), st.binary(max_size=50)), max_size=200),
       st.sampled_from([1, 2, 16]), st.sampled_from([32, 256, 4096]))
def test_table_roundtrip_property(tmp_path_factory, pairs, restart_interval, block_size):
    items = sorted(dict(pairs).items())
    p = tmp_path_factory.mktemp("t") / "t.index"
    p.write_bytes(_build(items, restart_interval=restart_interval, block_size=block_size))
    with TableReader(p) as t:
        assert t.all_items() == items
        for k, v in items:
            assert t.get(k) == v


# -- the block cursor: one decoder, every field boundary recorded --------------------------------


def _raw_table(block_contents: bytes) -> bytes:
    """A table whose only data block has exactly these contents (hand-made bytes allowed)."""
    from tfckpt_lab.sstable.format import BlockHandle, block_trailer

    out = bytearray()
    data = BlockHandle(0, len(block_contents))
    out += block_contents + block_trailer(block_contents, 0)
    meta_contents = BlockBuilder().finish()
    meta = BlockHandle(len(out), len(meta_contents))
    out += meta_contents + block_trailer(meta_contents, 0)
    ib = BlockBuilder(1)
    ib.add(b"zzz", data.encode())
    index_contents = ib.finish()
    index = BlockHandle(len(out), len(index_contents))
    out += index_contents + block_trailer(index_contents, 0)
    out += Footer(meta, index).encode()
    return bytes(out)


def test_cursor_records_field_boundaries_of_long_and_short_headers():
    bb = BlockBuilder(restart_interval=16)
    bb.add(b"key-a", b"x" * 200)  # value_length 200: a two-byte varint
    bb.add(b"key-b" + b"k" * 300, b"")  # non_shared 303: two bytes
    bb.add(b"key-c", b"v")
    block = Block(bb.finish())
    e0, e1, e2 = block.records()
    assert (e0.offset, e0.shared_end, e0.non_shared_end, e0.key_offset) == (0, 1, 2, 4)
    assert e0.value_offset == 4 + 5 and e0.value_length == 200 and e0.end == e1.offset
    assert (e1.shared_end - e1.offset, e1.non_shared_end - e1.shared_end, e1.key_offset - e1.non_shared_end) == (1, 2, 1)
    assert e1.shared == 4 and e1.non_shared == 301
    assert (e2.shared_end - e2.offset, e2.key_offset - e2.offset) == (1, 3)
    # every use goes through the same scan: the fast listing agrees with the recording walk
    assert block.items() == [(e.key, e.value) for e in block.records()]


def test_cursor_records_non_minimal_varints_as_found():
    # entry: shared=0 written as two bytes (0x80 0x00), non_shared=1, value_length=2 as 0x82 0x00
    contents = bytes([0x80, 0x00, 0x01, 0x82, 0x00]) + b"k" + b"vv"
    contents += (0).to_bytes(4, "little") + (1).to_bytes(4, "little")
    block = Block(contents)
    (e,) = block.records()
    assert (e.key, e.value) == (b"k", b"vv")
    assert (e.offset, e.shared_end, e.non_shared_end, e.key_offset, e.value_offset, e.end) == (0, 2, 3, 5, 6, 8)


def test_layout_shows_non_minimal_varints_where_they_are(tmp_path):
    """The region model takes field boundaries from the cursor (re-encoding the values would get them wrong)."""
    from tfckpt_lab.explain import check_tiling, layout

    contents = bytes([0x80, 0x00, 0x01, 0x82, 0x00]) + b"k" + b"vv"
    contents += (0).to_bytes(4, "little") + (1).to_bytes(4, "little")
    p = tmp_path / "odd.index"
    p.write_bytes(_raw_table(contents))
    tree = layout(p, kind="index")
    check_tiling(tree)
    entry = tree.children[0].children[0]
    parts = {c.label: (c.start, c.end) for c in entry.children}
    assert parts["shared"] == (0, 2) and parts["non_shared"] == (2, 3) and parts["value_length"] == (3, 5)
    assert parts["key delta"] == (5, 6)
    assert (entry.children[-1].start, entry.children[-1].end) == (6, 8)


def test_block_items_refuse_keys_out_of_order():
    contents = b"".join(bytes([0, 1, 1]) + k + b"v" for k in (b"a", b"c", b"b"))
    contents += (0).to_bytes(4, "little") + (1).to_bytes(4, "little")
    with pytest.raises(MalformedError, match="out of order") as exc:
        Block(contents, base=1000).items()
    assert exc.value.offset == 1000 + 10  # the third entry, where the order breaks


def test_trailer_verdict_is_computed_once_by_the_reader_and_shared(tmp_path):
    """Reading, explaining and verifying see the same BlockTrailer verdict."""
    from tfckpt_lab.explain import layout
    from tfckpt_lab.sstable.format import BlockTrailer

    items = [(b"k%03d" % i, b"v" * 10) for i in range(50)]
    raw = bytearray(_build(items))
    raw[5] ^= 0x10
    p = tmp_path / "bad.index"
    p.write_bytes(bytes(raw))
    t = TableReader(p, verify=False)
    found = t.inspect_block(t.index_entries[0][1])
    assert isinstance(found.trailer, BlockTrailer) and found.trailer.checksum_ok is False
    assert found.block is not None  # still parsed, so it can be shown
    with pytest.raises(ChecksumMismatchError) as exc:
        TableReader(p).read_block(t.index_entries[0][1])
    assert str(exc.value) == str(found.trailer.error(str(p)))
    trailer_region = layout(p).children[0].children[-1]
    assert trailer_region.lowlevel == found.trailer and trailer_region.value == {"checksum_ok": False}


def test_footer_records_a_noncanonical_encoding():
    items = [(b"a", b"1")]
    raw = bytearray(_build(items))
    assert Footer.decode(bytes(raw[-FOOTER_SIZE:])).noncanonical_at is None
    raw[-9] = 7  # the last padding byte before the magic number
    footer = Footer.decode(bytes(raw[-FOOTER_SIZE:]))
    assert footer.noncanonical_at == FOOTER_SIZE - 9
    assert footer.index_handle.encoded_length == 2 and footer.metaindex_handle.offset_length == 1


def test_spans_tile_the_file_and_flag_gaps(tmp_path):
    items = [(b"k%04d" % i, b"v" * 30) for i in range(300)]
    p = tmp_path / "t.index"
    p.write_bytes(_build(items, block_size=1024))
    with TableReader(p) as t:
        spans = t.spans()
        assert [s.kind for s in spans[-3:]] == ["metaindex_block", "index_block", "footer"]
        assert all(a.end == b.start for a, b in zip(spans, spans[1:])) and spans[-1].end == t.file.size
        assert [s.handle for s in spans if s.kind == "data_block"] == [h for _, h in t.index_entries]
