"""TensorFlow's DataType numbers, their names, and the numpy dtypes that hold them.

bfloat16, the float8 types, int4/uint4, int2/uint2 and float4_e2m1fn come from
``ml_dtypes``, imported only when one of those types is first needed (ml_dtypes 0.7
takes most of a second to import, where everything else here takes milliseconds).  TensorFlow
stores every element in its natural little-endian width (bool and int4 take one
byte each); strings have a layout of their own (see :mod:`tfckpt_lab.bundle.tensor_bytes`).
"""

from __future__ import annotations

import numpy as np

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

class _ML(str):
    """The name of a numpy dtype that ``ml_dtypes`` provides, looked up when first needed."""


_ml_cache: dict[str, object] = {}


def _ml_dtype(name: str):
    """``ml_dtypes.NAME``, or None when ml_dtypes (a declared dependency) is missing or lacks it."""
    if name not in _ml_cache:
        try:
            import ml_dtypes
        except ImportError:  # pragma: no cover - ml_dtypes is a declared dependency
            ml_dtypes = None
        _ml_cache[name] = getattr(ml_dtypes, name, None)
    return _ml_cache[name]


# number -> (TensorFlow's name, numpy dtype, the name of an ml_dtypes type, or None)
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
    14: ("bfloat16", _ML("bfloat16")),
    15: ("qint16", np.int16),
    16: ("quint16", np.uint16),
    17: ("uint16", np.uint16),
    18: ("complex128", np.complex128),
    19: ("float16", np.float16),
    20: ("resource", None),
    21: ("variant", None),
    22: ("uint32", np.uint32),
    23: ("uint64", np.uint64),
    24: ("float8_e5m2", _ML("float8_e5m2")),
    25: ("float8_e4m3fn", _ML("float8_e4m3fn")),
    26: ("float8_e4m3fnuz", _ML("float8_e4m3fnuz")),
    27: ("float8_e4m3b11fnuz", _ML("float8_e4m3b11fnuz")),
    28: ("float8_e5m2fnuz", _ML("float8_e5m2fnuz")),
    29: ("int4", _ML("int4")),
    30: ("uint4", _ML("uint4")),
    31: ("int2", _ML("int2")),
    32: ("uint2", _ML("uint2")),
    33: ("float4_e2m1fn", _ML("float4_e2m1fn")),
}

ALL_DATATYPES = tuple(sorted(_TABLE))

# numpy dtype -> number, for writing.  The quantized types share numpy dtypes with
# plain integers, so only the plain ones are chosen when writing.  The ml_dtypes types
# join the first time a dtype is not found here (an array of one means ml_dtypes is loaded).
_FROM_NUMPY: dict[np.dtype, int] = {}
for _num, (_name, _np) in _TABLE.items():
    if _np is None or _np is object or isinstance(_np, _ML) or _name.startswith("q"):
        continue
    _FROM_NUMPY.setdefault(np.dtype(_np), _num)
_ml_joined = False


def _join_ml_dtypes() -> None:
    global _ml_joined
    for num, (_name, ml) in _TABLE.items():
        if isinstance(ml, _ML) and _ml_dtype(ml) is not None:
            _FROM_NUMPY.setdefault(np.dtype(_ml_dtype(ml)), num)
    _ml_joined = True


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
    held = _ml_dtype(entry[1]) if isinstance(entry[1], _ML) else entry[1]
    return None if held is None else np.dtype(held)


def is_string(datatype: int) -> bool:
    return base_type(datatype) == DT_STRING


def datatype_for(dtype) -> int:
    """The DataType number to store a numpy dtype as (strings: object, ``S`` or ``U`` dtypes)."""
    dt = np.dtype(dtype)
    if dt.kind in "OSU":
        return DT_STRING
    key = dt.newbyteorder("=") if dt.byteorder not in "=|" else dt
    if key not in _FROM_NUMPY and not _ml_joined:
        _join_ml_dtypes()
    try:
        return _FROM_NUMPY[key]
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
