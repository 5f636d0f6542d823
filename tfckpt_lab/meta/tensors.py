"""numpy arrays <-> ``TensorProto``, the form a tensor takes inside a graph (a Const's value).

    TensorProto
      dtype:          DataType
      tensor_shape:   TensorShapeProto
      tensor_content: bytes    all elements, packed little-endian (numeric types)
      <typed>_val:    repeated one field per element type (float_val, int64_val, string_val...);
                               fewer values than elements means "repeat the last one"

We pick the form TensorFlow's ``make_tensor_proto`` picks (see :func:`make_tensor_proto`);
:func:`make_ndarray` reads either form (like ``tf.make_ndarray``).  The typed fields and their
decoder are shared with V1 checkpoints: :mod:`tfckpt_lab.tensor_proto`.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..dtypes import as_tensor
from ..errors import UnsupportedError
from ..protos import tensor_pb2, tensor_shape_pb2
from ..tensor_proto import decode_values, typed_field

__all__ = ["make_tensor_proto", "make_ndarray", "shape_proto"]

# DataTypes whose elements TensorFlow packs into tensor_content (when there are several):
# float16/32/64, int32, uint8, int16, int8, int64, the quantized ones, uint32, uint64,
# the float8 types, float4_e2m1fn and bfloat16.  Not uint16, bool, complex, int4/int2, strings.
_CONTENT_TYPES = frozenset({19, 1, 2, 3, 4, 5, 6, 9, 11, 12, 15, 16, 13, 22, 23, 24, 25, 26, 27, 28, 33, 14})


def shape_proto(shape) -> tensor_shape_pb2.TensorShapeProto:
    """A fully known shape as a TensorShapeProto."""
    return tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=int(d)) for d in shape])


def make_tensor_proto(value, *, fill: bool = False) -> tensor_pb2.TensorProto:
    """A TensorProto holding ``value`` (a numpy array; strings as an object array of bytes).

    The storage form is the one TensorFlow's ``make_tensor_proto`` picks: ``tensor_content``
    for a tensor of more than one element whose dtype packs plainly (floats, bfloat16, float8,
    the integer types but uint16 and int4/int2), the typed field otherwise (strings, bool,
    complex, int4/int2, any single element).  With ``fill=True`` only the first element is
    stored, in the typed field; a reader repeats it over the whole shape (how a zeros
    initializer stays small).

    >>> p = make_tensor_proto(np.array([1.5, 2.0], np.float32))
    >>> p.dtype, [d.size for d in p.tensor_shape.dim], p.tensor_content.hex()
    (1, [2], '0000c03f00000040')
    >>> list(make_tensor_proto(np.int32(7)).int_val)
    [7]
    """
    arr = as_tensor(value)
    datatype = dtypes.datatype_for(arr.dtype)
    proto = tensor_pb2.TensorProto(dtype=datatype, tensor_shape=shape_proto(arr.shape))
    values = arr.reshape(-1)[:1] if fill else arr.reshape(-1)
    if not fill and datatype in _CONTENT_TYPES and arr.size > 1:
        proto.tensor_content = np.ascontiguousarray(arr, arr.dtype.newbyteorder("<")).tobytes()
        return proto
    field = typed_field(datatype)
    if field is None:
        raise UnsupportedError(f"cannot store values of dtype {dtypes.dtype_name(datatype)} in a TensorProto")
    if field == "string_val":
        proto.string_val.extend(values)
    elif field == "half_val":
        proto.half_val.extend(int(x) for x in values.view(np.uint16))
    elif field == "float8_val":
        proto.float8_val = values.view(np.uint8).tobytes()
    elif field in ("scomplex_val", "dcomplex_val"):
        getattr(proto, field).extend(float(x) for c in values for x in (c.real, c.imag))
    elif field in ("int_val", "int64_val", "uint32_val", "uint64_val"):
        getattr(proto, field).extend(int(x) for x in values)
    else:
        getattr(proto, field).extend(values.tolist())
    return proto


def make_ndarray(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """The numpy array a TensorProto holds (``tf.make_ndarray``): either storage form.

    Fewer typed values than elements repeat the last one (none: zeros), as TensorFlow does.
    """
    shape = tuple(d.size for d in proto.tensor_shape.dim)
    return decode_values(proto, proto.dtype, shape, repeat_last=True, what="TensorProto")
