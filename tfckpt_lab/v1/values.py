"""How a V1 checkpoint stores one slice's elements: a TensorProto's typed repeated field.

    SavedSlice.data : TensorProto
      <field>_val : repeated   exactly one element per entry of the slice, row-major;
                               dtype, tensor_shape and tensor_content are left unset

The field of each DataType is TensorProto's own (:data:`tfckpt_lab.tensor_proto.TYPED_FIELDS`),
decoded by :func:`tfckpt_lab.tensor_proto.decode_values`, the decoder graph
constants use too.  Two rules are V1's own:

* Unlike a TensorProto inside a graph, there is no "fewer values repeat the last
  one" rule: the count must equal the slice's element count, or TensorFlow's
  reader refuses the slice, and so do we.
* Only the types V1's reader has an element encoding for are accepted
  (:data:`V1_DTYPES`: not bfloat16, qint16, the float8 or the 4-bit types).
  TensorFlow 2.21's writer also refuses quint16, uint32 and uint64; they are
  accepted here because the reader side has a field for them.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from ..tensor_proto import TYPED_FIELDS, decode_values

__all__ = ["V1_DTYPES", "V1_FIELDS", "decode_slice_values", "v1_field"]

# DataType numbers a V1 slice can hold: float32, float64, int32, uint8, int16, int8, string,
# complex64, int64, bool, qint8, quint8, qint32, quint16, uint16, complex128, float16, uint32, uint64
V1_DTYPES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 17, 18, 19, 22, 23)
# DataType number -> the TensorProto field that holds its elements in a V1 file
V1_FIELDS: dict[int, str] = {dt: TYPED_FIELDS[dt] for dt in V1_DTYPES}


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
    return decode_values(tensor_proto, datatype, shape, field=v1_field(datatype), what=what, path=path,
                         offset=offset)
