"""Varints, fixed-width integers, CRC-32C and TensorFlow's CRC mask."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tfckpt_lab import codecs
from tfckpt_lab.errors import MalformedError, TruncatedError


def test_crc32c_known_vectors():
    # RFC 3720 / iSCSI test vectors.
    assert codecs.crc32c(b"123456789") == 0xE3069283
    assert codecs.crc32c(b"\x00" * 32) == 0x8A9136AA
    assert codecs.crc32c(b"\xff" * 32) == 0x62A8AB43
    assert codecs.crc32c(bytes(range(32))) == 0x46DD794E


def test_crc32c_accepts_any_buffer():
    import numpy as np

    data = bytes(range(256)) * 3
    want = codecs.crc32c(data)
    assert codecs.crc32c(memoryview(data)) == want
    assert codecs.crc32c(bytearray(data)) == want
    assert codecs.crc32c(np.frombuffer(data, np.uint8)) == want
    assert codecs.crc32c_extend(codecs.crc32c(data[:100]), data[100:]) == want


def test_pure_fallback_agrees_with_c():
    pure = codecs._pure_crc32c_extend
    for data in [b"", b"a", b"123456789", bytes(range(256)) * 5]:
        assert pure(0, data) == codecs.crc32c(data)


def test_mask_matches_tensorflow_constant():
    # mask(0) is the delta itself: the CRC of empty data as TF stores it.
    assert codecs.mask_crc(0) == 0xA282EAD8
    assert codecs.mask_crc(codecs.crc32c(b"foo")) != codecs.crc32c(b"foo")


@given(st.integers(0, 2**32 - 1))
def test_mask_roundtrip(crc):
    assert codecs.unmask_crc(codecs.mask_crc(crc)) == crc


@given(st.integers(0, 2**64 - 1))
def test_varint_roundtrip(v):
    enc = codecs.encode_varint(v)
    assert codecs.decode_varint(enc) == (v, len(enc))
    assert len(enc) == max(1, (v.bit_length() + 6) // 7)


@pytest.mark.parametrize("value,encoded", [(0, b"\x00"), (1, b"\x01"), (127, b"\x7f"), (128, b"\x80\x01"),
                                           (300, b"\xac\x02"), (2**32 - 1, b"\xff\xff\xff\xff\x0f")])
def test_varint_known(value, encoded):
    assert codecs.encode_varint(value) == encoded


def test_varint_errors_name_the_offset():
    with pytest.raises(TruncatedError) as exc:
        codecs.decode_varint(b"\x80\x80", path="x.index", base=100)
    assert exc.value.offset == 100 and "x.index" in str(exc.value)
    with pytest.raises(MalformedError):
        codecs.decode_varint(b"\x80" * 11)
    with pytest.raises(MalformedError):  # 5 bytes but more than 32 bits
        codecs.decode_varint32(b"\xff\xff\xff\xff\x7f")
    with pytest.raises(ValueError):
        codecs.encode_varint(-1)


def test_fixed():
    assert codecs.encode_fixed32(0x01020304) == b"\x04\x03\x02\x01"
    assert codecs.decode_fixed64(codecs.encode_fixed64(2**63 + 5)) == 2**63 + 5
    with pytest.raises(TruncatedError):
        codecs.decode_fixed32(b"\x00\x00\x00")
