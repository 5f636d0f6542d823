"""A ``TensorProto``'s values: the one table of typed fields and the one decoder.

``TensorProto`` holds a tensor's elements in one of two forms::

    tensor_content : bytes     every element, packed little-endian (numeric types)
    <typed>_val    : repeated  one field per element type, one entry per element:

    DataType                                   field          each entry
    float32                                    float_val      float
    float64                                    double_val     double
    int32, qint32, int16, int8, uint8,
      uint16, qint8, quint8, qint16, quint16   int_val        int32 (narrower types: the low bits)
    int64                                      int64_val      int64
    uint32                                     uint32_val     uint32
    uint64                                     uint64_val     uint64
    bool                                       bool_val       bool
    float16, bfloat16                          half_val       int32 holding the 16 raw bits
    complex64                                  scomplex_val   float pair (real, imaginary)
    complex128                                 dcomplex_val   double pair (real, imaginary)
    string                                     string_val     bytes
    int4, uint4, int2, uint2                   int_val        int32 (the low bits)
    float8 (all five), float4_e2m1fn           float8_val     one byte per element (a bytes field)

Two readers use it with different rules: a V1 checkpoint slice
(:mod:`tfckpt_lab.v1.values`) must hold exactly one value per element, in the
typed field; a graph's ``Const`` (:mod:`tfckpt_lab.meta.tensors`) may hold
fewer, and the last one is repeated (none at all: zeros), as
``tf.make_ndarray`` does.

Narrower integers take the low bits of each ``int_val`` entry and a complex
field with an odd count drops its last number: what TensorFlow's C++ runtime
does (checked with TF 2.21: a GraphDef ``Const`` of uint8 with ``int_val``
``[300, 1, 258]`` evaluates to ``[44, 1, 2]``, one of complex64 shape ``[2]``
with ``scomplex_val`` ``[1, 2, 3]`` to ``[1+2j, 1+2j]``; Python's
``tf.make_ndarray`` raises on the first instead).
"""

from __future__ import annotations

import numpy as np

from . import dtypes
from .errors import MalformedError, UnsupportedError

__all__ = ["TYPED_FIELDS", "typed_field", "decode_values"]

TYPED_FIELDS: dict[int, str] = {
    1: "float_val",      # float32
    2: "double_val",     # float64
    3: "int_val",        # int32
    4: "int_val",        # uint8
    5: "int_val",        # int16
    6: "int_val",        # int8
    7: "string_val",     # string
    8: "scomplex_val",   # complex64
    9: "int64_val",      # int64
    10: "bool_val",      # bool
    11: "int_val",       # qint8
    12: "int_val",       # quint8
    13: "int_val",       # qint32
    14: "half_val",      # bfloat16
    15: "int_val",       # qint16
    16: "int_val",       # quint16
    17: "int_val",       # uint16
    18: "dcomplex_val",  # complex128
    19: "half_val",      # float16
    22: "uint32_val",    # uint32
    23: "uint64_val",    # uint64
    # the narrow types TF 2.x added: one int per element, or one byte per element
    29: "int_val",       # int4
    30: "int_val",       # uint4
    31: "int_val",       # int2
    32: "int_val",       # uint2
    24: "float8_val",    # float8_e5m2
    25: "float8_val",    # float8_e4m3fn
    26: "float8_val",    # float8_e4m3fnuz
    27: "float8_val",    # float8_e4m3b11fnuz
    28: "float8_val",    # float8_e5m2fnuz
    33: "float8_val",    # float4_e2m1fn
}

_PAIRS = {"scomplex_val": np.float32, "dcomplex_val": np.float64}


def typed_field(datatype: int) -> str | None:
    """The repeated field of TensorProto that holds elements of ``datatype`` one by one (None if none)."""
    return TYPED_FIELDS.get(dtypes.base_type(datatype))


def decode_values(proto, datatype: int, shape, *, field: str | None = None, repeat_last: bool = False,
                  what: str = "tensor", path=None, offset: int | None = None) -> np.ndarray:
    """The elements of ``proto`` as a numpy array of ``shape`` (strings: an object array of ``bytes``).

    Args:
        datatype: the DataType the elements have (the caller's, not ``proto.dtype``).
        field: the typed field to read (default: :func:`typed_field`); ``tensor_content``
            is read instead when it is set and ``repeat_last`` is on.
        repeat_last: a graph's rule: fewer values than elements repeat the last one
            (none: zeros).  Off (a V1 slice's rule): the count must be exact.

    The count is checked before anything the size of ``shape`` is allocated.

    >>> from tfckpt_lab.protos.tensor_pb2 import TensorProto
    >>> decode_values(TensorProto(half_val=[0x3C00, 0xC000]), 19, (2,))
    array([ 1., -2.], dtype=float16)
    >>> decode_values(TensorProto(float_val=[7.0]), 1, (3,), repeat_last=True)
    array([7., 7., 7.], dtype=float32)
    """
    np_dtype = dtypes.numpy_dtype(datatype)
    if np_dtype is None:
        raise UnsupportedError(f"cannot decode a TensorProto of dtype {dtypes.dtype_name(datatype)}", path=path)
    shape = tuple(int(d) for d in shape)
    count = 1
    for d in shape:  # exact Python ints: no wrap-around
        count *= d
    if repeat_last and proto.tensor_content and np_dtype != object:
        raw = proto.tensor_content
        if len(raw) != count * np_dtype.itemsize:
            raise MalformedError(f"{what}: tensor_content has {len(raw)} bytes, {list(shape)} of "
                                 f"{dtypes.dtype_name(datatype)} needs {count * np_dtype.itemsize}",
                                 path=path, offset=offset)
        return np.frombuffer(raw, np_dtype.newbyteorder("<")).astype(np_dtype).reshape(shape)
    field = field or typed_field(datatype)
    if field is None:
        raise UnsupportedError(f"cannot decode a TensorProto of dtype {dtypes.dtype_name(datatype)}", path=path)
    values = getattr(proto, field)
    per = 2 if field in _PAIRS else 1
    stored, odd = divmod(len(values), per)
    if odd and repeat_last:  # TensorFlow's runtime takes whole pairs and ignores a lone last number
        values, odd = values[:stored * per], 0
    if odd or stored > count or (stored != count and not (repeat_last and stored < count)):
        extra = "" if not proto.tensor_content else " (it has tensor_content, which is not read here)"
        raise MalformedError(
            f"{what}: {dtypes.dtype_name(datatype)} of shape {list(shape)} needs "
            f"{'at most ' if repeat_last else ''}{count} values in {field}, found {len(values)}"
            f"{' numbers (pairs expected)' if odd else ''}{extra}", path=path, offset=offset)
    flat = _typed_array(values, field, np_dtype)
    if stored == count:
        return flat.reshape(shape)
    out = np.empty(count, np_dtype)  # count > stored: bounded by the shape the caller trusts
    out[:stored] = flat
    if count:
        out[stored:] = flat[-1] if stored else np.zeros((), np_dtype)[()]
    if np_dtype == object and not stored:
        out[:] = b""
    return out.reshape(shape)


def _typed_array(values, field: str, np_dtype: np.dtype) -> np.ndarray:
    """The entries of one typed field as a flat array of ``np_dtype``, bit-exact."""
    if field == "string_val":
        out = np.empty(len(values), object)
        out[:] = list(values)
        return out
    if field == "float8_val":  # one byte per element, all in one bytes field
        return np.frombuffer(bytes(values), np.uint8).view(np_dtype).copy()
    if field == "half_val":  # the 16 bits of each element, kept in an int32
        return np.array(values, np.int32).astype(np.uint16).view(np_dtype)
    if field in _PAIRS:
        return np.array(values, _PAIRS[field]).view(np_dtype)
    if field == "int_val":
        return np.array(values, np.int32).astype(np_dtype)  # C++ static_cast: keep the low bits
    return np.array(values, np_dtype)
