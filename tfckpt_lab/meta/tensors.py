"""numpy arrays <-> ``TensorProto``, the form a tensor takes inside a graph (a Const's value).

    TensorProto
      dtype:          DataType
      tensor_shape:   TensorShapeProto
      tensor_content: bytes    all elements, packed little-endian (numeric types)
      <typed>_val:    repeated one field per element type (float_val, int64_val, string_val...);
                               fewer values than elements means "repeat the last one"

We write numeric tensors as ``tensor_content`` and strings as ``string_val``;
:func:`make_ndarray` reads either form (like ``tf.make_ndarray``).  The typed
fields and their decoder are shared with V1 checkpoints: :mod:`tfckpt_lab.tensor_proto`.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from ..protos import tensor_pb2, tensor_shape_pb2
from ..tensor_proto import decode_values, typed_field

__all__ = ["make_tensor_proto", "make_ndarray", "shape_proto"]


def shape_proto(shape) -> tensor_shape_pb2.TensorShapeProto:
    """A fully known shape as a TensorShapeProto."""
    return tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=int(d)) for d in shape])


def make_tensor_proto(value, *, fill: bool = False) -> tensor_pb2.TensorProto:
    """A TensorProto holding ``value`` (a numpy array; strings as an object array of bytes).

    With ``fill=True`` only the first element is stored, in the typed field;
    a reader repeats it over the whole shape (how a zeros initializer stays small).

    >>> p = make_tensor_proto(np.array([1.5, 2.0], np.float32))
    >>> p.dtype, [d.size for d in p.tensor_shape.dim], p.tensor_content.hex()
    (1, [2], '0000c03f00000040')
    """
    from ..bundle.writer import as_tensor

    arr = as_tensor(value)
    datatype = dtypes.datatype_for(arr.dtype)
    proto = tensor_pb2.TensorProto(dtype=datatype, tensor_shape=shape_proto(arr.shape))
    if datatype == dtypes.DT_STRING:
        proto.string_val.extend(arr.flat[:1] if fill else arr.reshape(-1))
    elif fill:
        field = typed_field(datatype)
        if field is None:
            raise UnsupportedError(f"cannot store a fill value of dtype {dtypes.dtype_name(datatype)}")
        first = np.asarray(arr.flat[:1])
        if field == "half_val":
            getattr(proto, field).extend(int(x) for x in first.view(np.uint16))
        elif field in ("scomplex_val", "dcomplex_val"):
            getattr(proto, field).extend([float(first[0].real), float(first[0].imag)] if first.size else [])
        else:
            getattr(proto, field).extend(first.tolist())
    else:
        proto.tensor_content = np.ascontiguousarray(arr, arr.dtype.newbyteorder("<")).tobytes()
    return proto


def make_ndarray(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """The numpy array a TensorProto holds (``tf.make_ndarray``): either storage form.

    Fewer typed values than elements repeat the last one (none: zeros), as TensorFlow does.
    """
    shape = tuple(d.size for d in proto.tensor_shape.dim)
    return decode_values(proto, proto.dtype, shape, repeat_last=True, what="TensorProto")
