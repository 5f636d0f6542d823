"""String tensors: both checksums are checked before anything per element is built, in memory
bounded by the tensor's bytes.

Layout (docs/format.md): ``varint64 length * n``, a masked CRC-32C of the lengths fed as
little-endian uint32 (uint64 above 2**32-1), then the elements.  TensorFlow's reader
(``ReadStringTensor``) checks the length checksum before it reads any element; so do we, and the
element objects are only made once the entry's CRC over everything has matched too.

The vectorised length decoder is compared with a scalar reference built on
:func:`tfckpt_lab.codecs.decode_varint` over random bytes, with windows as small as 1 byte so
that varints straddle every window boundary.
"""

from __future__ import annotations

import struct
import time
import tracemalloc

import numpy as np
import pytest
from conftest import slow_params
from hostile_cases import many_empty_strings
from hypothesis import given, settings
from hypothesis import strategies as st

import tfckpt_lab as tl
from tfckpt_lab.bundle import tensor_bytes as tb
from tfckpt_lab.checkpoint.verify import verify_checkpoint
from tfckpt_lab.codecs import crc32c, crc32c_extend, decode_varint, encode_varint, mask_crc, unmask_crc
from tfckpt_lab.errors import ChecksumMismatchError, CorruptionError, MalformedError, TruncatedError


def _reference_layout(buf: bytes, count: int, verify: bool = True):
    """The straightforward element-by-element parse (what the reader did before): the expected answer."""
    if count > len(buf):
        raise MalformedError("claims", offset=0)
    pos, lengths, widths, crc = 0, [], [], 0
    for _ in range(count):
        n, end = decode_varint(buf, pos)
        lengths.append(n)
        widths.append(end - pos)
        crc = crc32c_extend(crc, struct.pack("<I", n) if n <= 0xFFFFFFFF else struct.pack("<Q", n))
        pos = end
    if pos + 4 > len(buf):
        raise TruncatedError("checksum", offset=pos)
    if verify and unmask_crc(struct.unpack_from("<I", buf, pos)[0]) != crc:
        raise ChecksumMismatchError("length checksum", offset=pos)
    data = pos + 4
    for n in lengths:
        if data + n > len(buf):
            raise MalformedError("runs past", offset=data)
        data += n
    if data != len(buf):
        raise MalformedError("trailing", offset=data)
    return lengths, widths, pos


def _outcome(fn):
    try:
        return fn()
    except CorruptionError as exc:
        return type(exc).__name__, exc.offset


def _string_tensor(lengths, *, fill=b"x", noncanonical=()) -> bytes:
    """Lengths (some written as non-canonical varints), a correct length checksum, then the elements."""
    varints = b"".join(encode_varint(n) if i not in noncanonical else encode_varint(n)[:-1]
                       + bytes([encode_varint(n)[-1] | 0x80, 0x00]) for i, n in enumerate(lengths))
    crc = 0
    for n in lengths:
        crc = crc32c_extend(crc, struct.pack("<I", n) if n <= 0xFFFFFFFF else struct.pack("<Q", n))
    return varints + struct.pack("<I", mask_crc(crc)) + (b"".join(fill * n for n in lengths) if fill else b"")


@pytest.mark.parametrize("step", slow_params([1, 3, 16, 1 << 18], "1", "3"))  # 150 examples each
@given(data=st.data())
@settings(max_examples=150, deadline=None)
def test_vectorised_parse_matches_the_scalar_reference(step, data):
    kind = data.draw(st.sampled_from(["valid", "noncanonical", "random bytes", "flipped"]))
    if kind == "random bytes":
        buf = data.draw(st.binary(max_size=64))
        count = data.draw(st.integers(0, 70))
    else:
        lengths = data.draw(st.lists(st.sampled_from([0, 1, 5, 127, 128, 300, 16383, 16384]), max_size=12))
        nc = set(data.draw(st.lists(st.integers(0, 11), max_size=3))) if kind == "noncanonical" else set()
        buf = _string_tensor(lengths, noncanonical=nc)
        count = len(lengths)
        if kind == "flipped" and buf:
            b = bytearray(buf)
            b[data.draw(st.integers(0, len(b) - 1))] ^= 1 << data.draw(st.integers(0, 7))
            buf = bytes(b)
    for verify in (True, False):
        expected = _outcome(lambda: _reference_layout(buf, count, verify))
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(tb, "_STEP", step)  # windows of `step` bytes (and CRC/size chunks of `step` lengths)
            got = _outcome(lambda: tb.parse_string_layout(buf, count, verify=verify))
        if isinstance(got, tb.StringLayout):
            got = (got.lengths, got.width_array.tolist(), got.length_crc_offset)
        assert got == expected, (kind, buf, count, verify)


def test_layout_views_give_spans_offsets_and_lengths():
    buf = _string_tensor([3, 0, 200], noncanonical={1})
    lay = tb.parse_string_layout(buf, 3)
    assert lay.lengths == [3, 0, 200]
    assert lay.length_spans == [(0, 1), (1, 3), (3, 5)]  # the 0 is the two bytes 80 00
    assert lay.length_crc_offset == 5 and lay.data_start == 9
    assert lay.data_offsets == [9, 12, 12]
    assert isinstance(lay.lengths[2], int) and isinstance(lay.data_offsets[0], int)


def test_lengths_over_4_gib_enter_the_crc_as_8_bytes():
    """TF's rule (tensor_bundle.cc): a length that fits 32 bits is fed to the CRC as uint32, else as uint64."""
    lengths = np.array([5, 2**32 - 1, 2**32, 7, 2**40 + 3], dtype=np.uint64)
    reference = crc32c(struct.pack("<IIQIQ", 5, 2**32 - 1, 2**32, 7, 2**40 + 3))
    assert tb._lengths_crc(lengths) == reference
    assert tb._lengths_crc(lengths[[0, 1, 3]]) == crc32c(struct.pack("<III", 5, 2**32 - 1, 7))
    # and the vectorised decoder reads such lengths back exactly (the elements then run past the end)
    buf = _string_tensor([2**40 + 3, 2**63 + 5], fill=b"")
    with pytest.raises(MalformedError, match="element of 1099511627779 bytes runs past") as info:
        tb.parse_string_layout(buf, 2)
    assert info.value.offset == len(buf)


def test_the_length_checksum_is_checked_before_the_elements_are_sized():
    """TensorFlow's order: a wrong length checksum is the error even when the lengths also overrun."""
    buf = bytearray(_string_tensor([100, 100])[:8])  # lengths, checksum, then 2 of the 200 bytes
    with pytest.raises(MalformedError, match="runs past"):
        tb.parse_string_layout(bytes(buf), 2)
    buf[2] ^= 0xFF
    with pytest.raises(ChecksumMismatchError, match="length checksum") as info:
        tb.parse_string_layout(bytes(buf), 2, path="f", base=1000)
    assert (info.value.path, info.value.offset, info.value.end) == ("f", 1002, 1006)
    with pytest.raises(MalformedError, match="runs past"):  # without verify the lengths are still checked
        tb.parse_string_layout(bytes(buf), 2, verify=False)


@pytest.mark.parametrize("damage", ["length checksum", "element", "none"])
def test_two_million_empty_strings_cost_memory_bounded_by_the_file(tmp_path, damage):
    """Before: 202 MB (length checksum), 280 MB (element CRC) and 295 MB (good) of peak allocation and
    4-10 s, because a tuple, an int and a list slot per element were made before either check."""
    prefix = many_empty_strings(str(tmp_path / "s"), damage=damage)
    with tl.load_checkpoint(prefix) as reader:
        _measure(reader, damage)
    assert verify_checkpoint(prefix).ok == (damage == "none")


def _measure(reader, damage: str) -> None:
    e = reader.entry("s")
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        if damage == "none":
            value = reader.get_tensor("s")
            assert value.shape == (2_000_000,) and value[0] == b"" and value[-1] == b"z"
            assert sum(len(x) for x in value) == 1
            del value
        else:
            with pytest.raises(ChecksumMismatchError) as info:
                reader.get_tensor("s")
            if damage == "length checksum":
                assert "string length checksum mismatch" in str(info.value)
                assert (info.value.offset, info.value.end) == (e.offset + 2_000_000, e.offset + 2_000_004)
            else:
                assert "tensor checksum mismatch" in str(info.value)
        elapsed = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # 2 MB read + 9 bytes of lengths per element + a few MB of temporaries; the good read adds the
    # 16 MB object array it returns
    assert peak < (50 if damage == "none" else 35) * 2**20, f"peak {peak / 2**20:.1f} MB"
    assert elapsed < 5, f"{elapsed:.1f} s"


def test_split_shares_empty_elements_and_reads_from_any_buffer():
    buf = _string_tensor([0, 2, 0, 3], fill=b"a")
    for source in (buf, bytearray(buf), memoryview(buf)):
        out = tb.decode_strings(source, (2, 2), expected_crc=None)
        assert out.tolist() == [[b"", b"aa"], [b"", b"aaa"]]
        assert all(type(x) is bytes for x in out.ravel())
    full = crc32c_extend(crc32c_extend(tb.parse_string_layout(buf, 4).lengths_crc, buf[4:8]), buf[8:])
    assert tb.decode_strings(buf, (4,), expected_crc=full).tolist() == [b"", b"aa", b"", b"aaa"]
    with pytest.raises(ChecksumMismatchError, match="tensor checksum"):
        tb.decode_strings(buf, (4,), expected_crc=full ^ 1)
