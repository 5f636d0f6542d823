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
    entries = block.entries()
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
