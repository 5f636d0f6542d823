"""TensorFlow's DataType numbers, their names, and the numpy dtypes that hold them.

bfloat16, the float8 types and int4/uint4 come from ``ml_dtypes``.  TensorFlow
stores every element in its natural little-endian width (bool and int4 take one
byte each); strings have a layout of their own (see :mod:`tfckpt_lab.bundle.tensor_bytes`).
"""

from __future__ import annotations

import numpy as np

try:
    import ml_dtypes as _mld
except ImportError:  # pragma: no cover - ml_dtypes is a declared dependency
    _mld = None

__all__ = [
    "DT_STRING",
    "DT_RESOURCE",
    "DT_VARIANT",
    "dtype_name",
    "numpy_dtype",
    "datatype_for",
    "is_string",
    "as_tensor",
    "ALL_DATATYPES",
]

DT_INVALID = 0
DT_STRING = 7
DT_RESOURCE = 20
DT_VARIANT = 21
REF_OFFSET = 100

# number -> (TensorFlow's name, numpy dtype or None)
_TABLE: dict[int, tuple[str, object]] = {
    1: ("float32", np.float32),
    2: ("float64", np.float64),
    3: ("int32", np.int32),
    4: ("uint8", np.uint8),
    5: ("int16", np.int16),
    6: ("int8", np.int8),
    7: ("string", object),
    8: ("complex64", np.complex64),
    9: ("int64", np.int64),
    10: ("bool", np.bool_),
    11: ("qint8", np.int8),
    12: ("quint8", np.uint8),
    13: ("qint32", np.int32),
    14: ("bfloat16", getattr(_mld, "bfloat16", None)),
    15: ("qint16", np.int16),
    16: ("quint16", np.uint16),
    17: ("uint16", np.uint16),
    18: ("complex128", np.complex128),
    19: ("float16", np.float16),
    20: ("resource", None),
    21: ("variant", None),
    22: ("uint32", np.uint32),
    23: ("uint64", np.uint64),
    24: ("float8_e5m2", getattr(_mld, "float8_e5m2", None)),
    25: ("float8_e4m3fn", getattr(_mld, "float8_e4m3fn", None)),
    26: ("float8_e4m3fnuz", getattr(_mld, "float8_e4m3fnuz", None)),
    27: ("float8_e4m3b11fnuz", getattr(_mld, "float8_e4m3b11fnuz", None)),
    28: ("float8_e5m2fnuz", getattr(_mld, "float8_e5m2fnuz", None)),
    29: ("int4", getattr(_mld, "int4", None)),
    30: ("uint4", getattr(_mld, "uint4", None)),
    31: ("int2", getattr(_mld, "int2", None)),
    32: ("uint2", getattr(_mld, "uint2", None)),
    33: ("float4_e2m1fn", getattr(_mld, "float4_e2m1fn", None)),
}

ALL_DATATYPES = tuple(sorted(_TABLE))

# numpy dtype -> number, for writing.  The quantized types share numpy dtypes with
# plain integers, so only the plain ones are chosen when writing.
_FROM_NUMPY: dict[np.dtype, int] = {}
for _num, (_name, _np) in _TABLE.items():
    if _np is None or _np is object or _name.startswith("q"):
        continue
    _FROM_NUMPY.setdefault(np.dtype(_np), _num)


def base_type(datatype: int) -> int:
    """Strip the reference bit (``DT_FLOAT_REF`` -> ``DT_FLOAT``)."""
    return datatype - REF_OFFSET if datatype > REF_OFFSET else datatype


def dtype_name(datatype: int) -> str:
    """TensorFlow's name for a DataType number: ``1 -> 'float32'``, ``101 -> 'float32_ref'``."""
    base = base_type(datatype)
    name = _TABLE.get(base, (f"unknown_dtype_{base}", None))[0]
    return name + "_ref" if datatype > REF_OFFSET else name


def numpy_dtype(datatype: int) -> np.dtype | None:
    """The numpy dtype that holds elements of this DataType (``object`` for strings), or None."""
    entry = _TABLE.get(base_type(datatype))
    if entry is None or entry[1] is None:
        return None
    return np.dtype(entry[1])


def is_string(datatype: int) -> bool:
    return base_type(datatype) == DT_STRING


def datatype_for(dtype) -> int:
    """The DataType number to store a numpy dtype as (strings: object, ``S`` or ``U`` dtypes)."""
    dt = np.dtype(dtype)
    if dt.kind in "OSU":
        return DT_STRING
    try:
        return _FROM_NUMPY[dt.newbyteorder("=") if dt.byteorder not in "=|" else dt]
    except KeyError:
        raise TypeError(f"numpy dtype {dt} has no TensorFlow checkpoint equivalent") from None


def as_tensor(value) -> np.ndarray:
    """The numpy array a Python or numpy value is stored as (in a bundle, a graph ``Const`` ...).

    numpy arrays keep their dtype.  ``str``/``bytes`` (and arrays of them) become
    string tensors (an object array of ``bytes``).  Python scalars and lists go
    through ``numpy.asarray`` (so ``1.0`` is float64, as numpy decides).

    >>> as_tensor("hi")
    array(b'hi', dtype=object)
    >>> as_tensor([1, 2]).shape, as_tensor(np.float32(1)).dtype
    ((2,), dtype('float32'))
    """
    if isinstance(value, (str, bytes)):
        return np.array(value if isinstance(value, bytes) else value.encode("utf-8"), dtype=object)
    arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    if arr.dtype.kind == "U":
        flat = [s.encode("utf-8") for s in arr.reshape(-1).tolist()]
        out = np.empty(len(flat), dtype=object)
        out[:] = flat
        return out.reshape(arr.shape)
    if arr.dtype.kind == "S":
        out = np.empty(arr.size, dtype=object)
        out[:] = arr.reshape(-1).tolist()
        return out.reshape(arr.shape)
    return arr
