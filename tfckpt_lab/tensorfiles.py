"""Flat tensor files: ``.safetensors`` and ``.npz``, read and written for export, import and diff.

Neither format is parsed here byte by byte: ``.safetensors`` files are written and
read by the ``safetensors`` library (``serialize_file``, ``safe_open``), ``.npz``
files by ``zipfile`` and numpy's own ``.npy`` header functions.  What this module
adds is the mapping between those files' dtypes and TensorFlow's, and reading in
bounded pieces so that a diff never holds a whole huge tensor twice.

dtypes (TensorFlow name -> what each file keeps)::

    TF dtype                        .safetensors        .npz
    float16/32/64, (u)int8..64,     same                same
    bool, complex64
    complex128                      refused             same
    bfloat16                        BF16                refused (.npy has no bfloat16)
    float8_e4m3fn, float8_e5m2,     F8_E4M3, F8_E5M2,   refused
    float8_e4m3fnuz, float8_e5m2fnuz  F8_E4M3FNUZ ...
    float8_e4m3b11fnuz, int4,       refused             refused
    uint4, int2, uint2, float4_e2m1fn (TF keeps one element per byte)
    qint8, quint8, qint16, quint16, qint32   stored as the plain integer type (same bits)
    string, variant, resource       skipped by export (neither format holds them)

Which dtypes ``.safetensors`` accepts is asked of the installed library itself
(its ``TensorSpec`` validates the name), so a newer safetensors that learns a type
is used without a change here.
"""

from __future__ import annotations

import os
import zipfile

import numpy as np

from . import dtypes
from .errors import CheckpointNotFoundError, MalformedError, TensorNotFoundError, UnsupportedError

__all__ = ["tensor_file_kind", "numpy_dtype_named", "TensorFile", "open_tensor_file", "write_tensor_file", "check_exportable",
           "SAFETENSORS_DTYPES"]

#: safetensors' dtype codes -> TensorFlow dtype names (codes with no TensorFlow type are refused on import).
SAFETENSORS_DTYPES = {
    "BOOL": "bool", "U8": "uint8", "I8": "int8", "U16": "uint16", "I16": "int16", "U32": "uint32",
    "I32": "int32", "U64": "uint64", "I64": "int64", "F16": "float16", "BF16": "bfloat16", "F32": "float32",
    "F64": "float64", "C64": "complex64", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2",
    "F8_E4M3FNUZ": "float8_e4m3fnuz", "F8_E5M2FNUZ": "float8_e5m2fnuz",
}

_NPY_MEMBER = ".npy"


def tensor_file_kind(path) -> str:
    """``"safetensors"`` or ``"npz"`` from the file name, else :class:`UnsupportedError`."""
    p = os.fspath(path).lower()
    if p.endswith(".safetensors"):
        return "safetensors"
    if p.endswith(".npz"):
        return "npz"
    raise UnsupportedError("not a tensor file: the name must end in .safetensors or .npz", path=os.fspath(path))


def _tf_dtype_name(dt: np.dtype) -> str | None:
    try:
        return dtypes.dtype_name(dtypes.datatype_for(dt))
    except TypeError:
        return None


def numpy_dtype_named(tf_name: str) -> np.dtype | None:
    """The numpy dtype of a TensorFlow dtype name (``"bfloat16"`` -> ml_dtypes' bfloat16), or None."""
    for d in dtypes.ALL_DATATYPES:
        if dtypes.dtype_name(d) == tf_name:
            return dtypes.numpy_dtype(d)
    return None


# -- writing ---------------------------------------------------------------------------------------


def check_exportable(kind: str, name: str, dtype_name: str, np_dtype, *, path=None) -> None:
    """Raise :class:`UnsupportedError` naming the tensor if a ``kind`` file cannot keep its dtype."""
    try:
        _check_exportable(kind, name, dtype_name, np_dtype)
    except UnsupportedError as exc:
        raise UnsupportedError(exc.message, path=path) from None


def _check_exportable(kind: str, name: str, dtype_name: str, np_dtype) -> None:
    if np_dtype is None or np.dtype(np_dtype) == object:
        raise UnsupportedError(f"tensor {name!r} has dtype {dtype_name}, which a .{kind} file cannot hold")
    dt = np.dtype(np_dtype)
    if kind == "npz":
        if dt.kind == "V" or dt.type.__module__.startswith("ml_dtypes"):
            raise UnsupportedError(f"tensor {name!r} has dtype {dtype_name}, which .npz cannot keep (.npy files "
                                   "have no such type; it would read back as raw bytes): export to "
                                   ".safetensors, which keeps bfloat16 and float8")
        return
    if dt.name in ("int4", "uint4", "int2", "uint2", "float4_e2m1fn"):
        why = "safetensors has no such type" if dt.name != "float4_e2m1fn" else (
            "safetensors stores float4 packed two to a byte, TensorFlow one to a byte")
        raise UnsupportedError(f"tensor {name!r} has dtype {dtype_name}, which .safetensors cannot keep ({why})")
    from safetensors import TensorSpec

    try:
        TensorSpec(dtype=dt.name, shape=[0], data_ptr=0, data_len=0)
    except Exception as exc:  # the library's own word on which dtypes it knows
        raise UnsupportedError(f"tensor {name!r} has dtype {dtype_name}, which .safetensors cannot keep "
                               f"({exc})") from None


def write_tensor_file(path, tensors, *, metadata: dict[str, str] | None = None) -> str:
    """Write ``tensors`` (``(name, array)`` pairs, or a mapping) to ``path`` (.safetensors or .npz).

    ``.npz`` is written one tensor at a time (memory: the largest tensor); ``.safetensors``
    hands every tensor to ``safetensors.serialize_file`` at once (memory: all of them).
    The file appears complete or not at all (written beside it, then renamed).
    """
    path = os.fspath(path)
    kind = tensor_file_kind(path)
    items = tensors.items() if hasattr(tensors, "items") else tensors
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        if kind == "npz":
            _write_npz(tmp, items)
        else:
            _write_safetensors(tmp, items, metadata)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    return path


def _c_order(arr: np.ndarray) -> np.ndarray:
    """``arr`` in C order (``np.ascontiguousarray`` would turn a scalar into shape ``(1,)``)."""
    return arr if arr.flags.c_contiguous else arr.copy(order="C")


def _write_npz(path: str, items) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, arr in items:
            arr = np.asarray(arr)
            check_exportable("npz", name, str(arr.dtype), arr.dtype)
            with zf.open(name + _NPY_MEMBER, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, _c_order(arr), allow_pickle=False)


def _write_safetensors(path: str, items, metadata) -> None:
    from safetensors import TensorSpec, serialize_file

    keep = []  # the arrays must outlive serialize_file: the specs hold raw pointers into them
    specs = {}
    for name, arr in items:
        arr = _c_order(np.asarray(arr))
        check_exportable("safetensors", name, str(arr.dtype), arr.dtype)
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        keep.append(arr)
        specs[name] = TensorSpec(dtype=arr.dtype.name, shape=list(arr.shape), data_ptr=arr.ctypes.data,
                                 data_len=arr.nbytes)
    serialize_file(specs, path, metadata=metadata)
    del keep


# -- reading ---------------------------------------------------------------------------------------


class TensorFile:
    """A ``.safetensors`` or ``.npz`` file read tensor by tensor.

    ``specs`` maps each name to ``(shape, TensorFlow dtype name)``; :meth:`read` returns one
    tensor; :meth:`chunks` yields it flat, in row-major order, in pieces of at most ``max_bytes``.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        self.kind = tensor_file_kind(self.path)
        if not os.path.isfile(self.path):
            raise CheckpointNotFoundError("file not found", path=self.path)
        self.specs: dict[str, tuple[tuple[int, ...], str]] = {}
        self._np_dtypes: dict[str, np.dtype | None] = {}
        self._whole = None  # safetensors fallback: every tensor, for dtypes numpy's loader lacks
        if self.kind == "npz":
            self._open_npz()
        else:
            self._open_safetensors()

    # -- opening --------------------------------------------------------------------------
    def _open_safetensors(self) -> None:
        from safetensors import safe_open

        try:
            self._st = safe_open(self.path, framework="np")
        except Exception as exc:  # SafetensorError: the header is not valid
            raise MalformedError(f"not a .safetensors file: {exc}", path=self.path) from None
        for name in self._st.keys():
            s = self._st.get_slice(name)
            code = s.get_dtype()
            tf_name = SAFETENSORS_DTYPES.get(code)
            self.specs[name] = (tuple(int(d) for d in s.get_shape()), tf_name or f"safetensors:{code}")
            self._np_dtypes[name] = None if tf_name is None else numpy_dtype_named(tf_name)

    def _open_npz(self) -> None:
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise MalformedError(f"not a .npz file: {exc}", path=self.path) from None
        self._members: dict[str, tuple[zipfile.ZipInfo, tuple, bool, np.dtype]] = {}
        for info in self._zip.infolist():
            if not info.filename.endswith(_NPY_MEMBER):
                continue
            name = info.filename[: -len(_NPY_MEMBER)]
            with self._zip.open(info) as f:
                shape, fortran, dt = self._npy_header(f, name)
            self._members[name] = (info, shape, fortran, dt)
            self.specs[name] = (tuple(shape), _tf_dtype_name(dt) or f"numpy:{dt.str}")
            self._np_dtypes[name] = None if _tf_dtype_name(dt) is None else dt

    def _npy_header(self, f, name: str):
        fmt = np.lib.format
        try:
            version = fmt.read_magic(f)
            if version == (1, 0):
                shape, fortran, dt = fmt.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dt = fmt.read_array_header_2_0(f)
            else:
                raise ValueError(f".npy format version {version} is not read here")
        except ValueError as exc:
            raise MalformedError(f"member {name!r}: not a .npy array: {exc}", path=self.path) from None
        return shape, fortran, dt

    # -- reading --------------------------------------------------------------------------
    def numpy_dtype(self, name: str) -> np.dtype:
        """The numpy dtype of tensor ``name``; :class:`UnsupportedError` if TensorFlow has no such type."""
        if name not in self.specs:
            raise TensorNotFoundError(f"no tensor named {name!r} in this file", path=self.path)
        dt = self._np_dtypes[name]
        if dt is None:
            raise UnsupportedError(f"tensor {name!r} has dtype {self.specs[name][1]}, which has no TensorFlow "
                                   "equivalent", path=self.path)
        return dt

    def read(self, name: str) -> np.ndarray:
        """One tensor, as an array of its own dtype (native byte order)."""
        dt = self.numpy_dtype(name)
        if self.kind == "safetensors":
            return self._read_safetensors(name, dt)
        info, shape, fortran, file_dt = self._members[name]
        with self._zip.open(info) as f:
            self._npy_header(f, name)
            count = int(np.prod(shape, dtype=np.int64))
            data = f.read(count * file_dt.itemsize)
        if len(data) != count * file_dt.itemsize:
            raise MalformedError(f"member {name!r} is shorter than its header says", path=self.path)
        arr = np.frombuffer(data, dtype=file_dt).reshape(shape, order="F" if fortran else "C")
        return _c_order(arr.astype(file_dt.newbyteorder("="), copy=False))

    def _read_safetensors(self, name: str, dt: np.dtype) -> np.ndarray:
        if self._whole is None:
            try:
                return np.asarray(self._st.get_tensor(name))
            except (AttributeError, TypeError):
                # safetensors' numpy loader looks float8 types up on numpy, which lacks them; the
                # library's deserialize() still decodes the file (whole, into memory).
                from safetensors import deserialize

                with open(self.path, "rb") as f:
                    self._whole = {k: v for k, v in deserialize(f.read())}
        v = self._whole[name]
        return np.frombuffer(bytes(v["data"]), dtype=dt).reshape(v["shape"])

    def chunks(self, name: str, max_bytes: int = 4 * 2**20):
        """The tensor flat, row-major, in consecutive pieces of at most ``max_bytes`` (at least one row)."""
        dt = self.numpy_dtype(name)
        shape = self.specs[name][0]
        if self.kind == "npz":
            info, shape, fortran, file_dt = self._members[name]
            if fortran:
                yield self.read(name).reshape(-1)
                return
            count = int(np.prod(shape, dtype=np.int64))
            per = max(1, max_bytes // max(file_dt.itemsize, 1))
            with self._zip.open(info) as f:
                self._npy_header(f, name)
                for start in range(0, count, per):
                    n = min(per, count - start)
                    data = f.read(n * file_dt.itemsize)
                    if len(data) != n * file_dt.itemsize:
                        raise MalformedError(f"member {name!r} is shorter than its header says", path=self.path)
                    yield np.frombuffer(data, dtype=file_dt).astype(file_dt.newbyteorder("="), copy=False)
            return
        if len(shape) == 0 or self._whole is not None:
            yield self._read_safetensors(name, dt).reshape(-1)
            return
        row = int(np.prod(shape[1:], dtype=np.int64)) * dt.itemsize
        rows = max(1, max_bytes // max(row, 1))
        sl = self._st.get_slice(name)
        for start in range(0, shape[0], rows):
            try:
                piece = sl[start:min(start + rows, shape[0])]
            except (AttributeError, TypeError):
                yield self._read_safetensors(name, dt).reshape(-1)[start * (row // dt.itemsize):]
                return
            yield np.asarray(piece).reshape(-1)

    def close(self) -> None:
        if self.kind == "npz":
            self._zip.close()
        else:
            self._st = None
        self._whole = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"<TensorFile {self.path!r}: {len(self.specs)} tensors>"


def open_tensor_file(path) -> TensorFile:
    """Open a ``.safetensors`` or ``.npz`` file for reading (see :class:`TensorFile`)."""
    return TensorFile(path)
