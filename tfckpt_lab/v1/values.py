"""How a V1 checkpoint stores one slice's elements: a TensorProto's typed repeated field.

    SavedSlice.data : TensorProto
      <field>_val : repeated   exactly one element per entry of the slice, row-major;
                               dtype, tensor_shape and tensor_content are left unset

    DataType                                  field          element
    float32                                   float_val      float
    float64                                   double_val     double
    int32, qint32                             int_val        int32
    int8, int16, uint8, uint16,
      qint8, quint8, quint16                  int_val        int32, truncated to the width
    int64                                     int64_val      int64
    uint32                                    uint32_val     uint32
    uint64                                    uint64_val     uint64
    bool                                      bool_val       bool
    float16                                   half_val       int32 holding the 16 raw bits
    complex64                                 scomplex_val   float pair (real, imag)
    complex128                                dcomplex_val   double pair (real, imag)
    string                                    string_val     bytes

Unlike a TensorProto inside a graph, there is no "fewer values repeat the last
one" rule: the count must equal the slice's element count, or TensorFlow's
reader refuses the slice, and so do we.  TensorFlow 2.21's writer refuses
bfloat16, qint16, quint16, uint32, uint64, the float8 and the 4-bit types; the
table lists uint32/uint64 anyway because the reader side has a field for them.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..errors import MalformedError, UnsupportedError

__all__ = ["V1_FIELDS", "decode_slice_values", "v1_field"]

# DataType number -> the TensorProto field that holds its elements in a V1 file
V1_FIELDS: dict[int, str] = {
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
    16: "int_val",       # quint16
    17: "int_val",       # uint16
    18: "dcomplex_val",  # complex128
    19: "half_val",      # float16
    22: "uint32_val",    # uint32
    23: "uint64_val",    # uint64
}

_COMPLEX_FIELDS = ("scomplex_val", "dcomplex_val")


def v1_field(datatype: int) -> str:
    """The TensorProto field a V1 file keeps elements of ``datatype`` in (UnsupportedError if none)."""
    field = V1_FIELDS.get(dtypes.base_type(datatype))
    if field is None:
        raise UnsupportedError(f"V1 checkpoints have no element encoding for {dtypes.dtype_name(datatype)}")
    return field


def decode_slice_values(tensor_proto, datatype: int, shape: tuple[int, ...], *, what: str = "slice",
                        path=None, offset: int | None = None) -> np.ndarray:
    """The elements of one V1 slice as a numpy array of ``shape``.

    ``tensor_proto`` is the ``SavedSlice.data`` message; ``shape`` is the slice's
    own shape (its element count must match exactly).  Strings come back as an
    object array of ``bytes``.

    >>> from tfckpt_lab.protos.tensor_pb2 import TensorProto
    >>> decode_slice_values(TensorProto(half_val=[0x3C00, 0xC000]), 19, (2,))
    array([ 1., -2.], dtype=float16)
    """
    field = v1_field(datatype)
    np_dtype = dtypes.numpy_dtype(datatype)
    values = getattr(tensor_proto, field)
    count = 1
    for d in shape:
        count *= d
    stored = len(values) // 2 if field in _COMPLEX_FIELDS else len(values)
    if (field in _COMPLEX_FIELDS and len(values) % 2) or stored != count:
        extra = "" if not tensor_proto.tensor_content else " (it has tensor_content, which V1 never uses)"
        raise MalformedError(
            f"{what}: {dtypes.dtype_name(datatype)} slice of shape {list(shape)} needs {count} values in "
            f"{field}, found {len(values)}{extra}", path=path, offset=offset)
    if field == "string_val":
        out = np.empty(count, object)
        out[:] = list(values)
    elif field == "half_val":
        out = np.array(values, np.int32).astype(np.uint16).view(np_dtype)
    elif field in _COMPLEX_FIELDS:
        parts = np.array(values, np.float32 if field == "scomplex_val" else np.float64)
        out = parts.view(np_dtype)
    elif field == "int_val":
        out = np.array(values, np.int32).astype(np_dtype)  # C++ static_cast: keep the low bits
    else:
        out = np.array(values, np_dtype)
    return out.reshape(shape)
