"""Compare two checkpoints, or a checkpoint with what a model expects, tensor by tensor.

One implementation for ``tfckpt-lab diff``, :func:`tfckpt_lab.views.diff.diff_checkpoints`
and the explorer's Diff tab.  Either side may be:

* a checkpoint (prefix, directory or URL; V2 or V1, TF1 or TF2),
* a ``.meta`` file: the variables its default ``Saver`` saves (``global_variables``, partitioned
  ones under their full name and shape); names, shapes and dtypes only, no values,
* a ``.safetensors`` or ``.npz`` file.

The result sorts every name into one list: ``only_in_a``, ``only_in_b``, ``mismatched`` (shape or
dtype differ), ``changed`` (values differ by more than ``atol``; the largest absolute difference is
given) and ``same``; ``renames`` suggests names of one side that are likely names of the other
(same shape and dtype, similar path, e.g. TF1 ``dense/kernel`` and TF2
``model/layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE``).

Values are compared in bounded pieces (:data:`CHUNK_BYTES` of each side at a time): a V2
checkpoint's tensor is read from its shard range by range, with its CRC-32C checked as it streams,
so comparing two 4 GiB tensors does not need 8 GiB.  Two V2 tensors with the same stored CRC-32C
and size are taken as the same without reading them.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from dataclasses import dataclass, field

import numpy as np

from .errors import ChecksumMismatchError, UnsupportedError

__all__ = ["compare", "DiffResult", "open_side", "CHUNK_BYTES"]

#: Bytes of each side held at once while comparing values.
CHUNK_BYTES = 4 * 2**20
_MATH_BLOCK = 2**18  # elements converted to float64 at a time


# -- the two sides ----------------------------------------------------------------------------------


class _Side:
    """Names -> (shape, dtype name) of one side, and its values in pieces (None: no values)."""

    kind = ""
    has_values = True

    def __init__(self, label: str):
        self.label = label
        self.specs: dict[str, tuple[tuple, str]] = {}

    def stored_crc(self, name: str):
        return None

    def partial_pieces(self, name: str):
        """For a partitioned variable saved only in part: its stored slices; otherwise None."""
        return None

    def chunks(self, name: str):
        raise NotImplementedError

    def close(self) -> None:
        pass


class _CheckpointSide(_Side):
    kind = "checkpoint"

    def __init__(self, src):
        from .checkpoint.reader import load_checkpoint

        self.reader = src if hasattr(src, "entry") else load_checkpoint(src)
        super().__init__(self.reader.prefix)
        shapes = self.reader.get_variable_to_shape_map()
        for n, d in self.reader.get_variable_to_dtype_map().items():
            self.specs[n] = (tuple(shapes[n]), d)

    def partial_pieces(self, name: str):
        """The slices a partitioned variable saved only in part holds (as text), else None."""
        e = self.reader.entry(name)
        if not e.slices:
            return None
        shape = tuple(e.shape)
        held = sum(math.prod(s.shape(shape)) for s in e.slices)
        return None if held == e.num_elements else tuple(str(s) for s in e.slices)

    def stored_crc(self, name: str):
        e = self.reader.entry(name)
        crc = getattr(e, "crc32c", None)
        return None if crc is None or e.slices else (crc, e.size)

    def chunks(self, name: str):
        from .bundle.reader import BundleReader
        from .dtypes import numpy_dtype

        bundle = self.reader.lowlevel
        e = self.reader.entry(name)
        if e.slices:  # partitioned: the whole if its pieces cover it, else the pieces a Saver stored
            from .errors import PartialTensorError

            try:
                whole = self.reader.get_tensor(name)
            except PartialTensorError:
                for s in e.slices:
                    yield np.asarray(self.reader.get_slice(name, s)).reshape(-1)
                return
            yield np.asarray(whole).reshape(-1)
            return
        dt = numpy_dtype(e.dtype)
        if (not isinstance(bundle, BundleReader) or e.slices or dt is None or dt == object
                or bundle.header.endianness == "big" or e.size != e.num_elements * dt.itemsize):
            yield np.asarray(self.reader.get_tensor(name)).reshape(-1)  # the reader's own checks apply
            return
        yield from _bundle_chunks(bundle, e, dt)

    def close(self) -> None:
        self.reader.close()


def _bundle_chunks(bundle, e, dt):
    """A V2 tensor's elements from its shard, :data:`CHUNK_BYTES` at a time, CRC-32C checked at the end."""
    from .codecs import crc32c_extend, unmask_crc

    f = bundle.data_file(e.shard_id)
    per = max(dt.itemsize, CHUNK_BYTES - CHUNK_BYTES % dt.itemsize)
    crc = 0
    verify = bundle.verify
    if e.offset + e.size > f.size:
        bundle.read_raw(e)  # raises the reader's TruncatedError
    for start in range(0, e.size, per):
        n = min(per, e.size - start)
        buf = np.empty(n // dt.itemsize, dtype=dt)
        f.readinto(e.offset + start, buf.view(np.uint8))
        if verify:
            crc = crc32c_extend(crc, buf.view(np.uint8))
        yield buf
    if verify and crc != unmask_crc(e.crc32c):
        raise ChecksumMismatchError(f"tensor {e.name!r} checksum mismatch (stored {unmask_crc(e.crc32c):#010x}, "
                                    f"computed {crc:#010x})", path=f.path, offset=e.offset, end=e.offset + e.size)


class _TensorFileSide(_Side):
    def __init__(self, path):
        from .tensorfiles import TensorFile

        self.file = TensorFile(path)
        super().__init__(self.file.path)
        self.kind = self.file.kind
        self.specs = dict(self.file.specs)

    def chunks(self, name: str):
        yield from self.file.chunks(name, CHUNK_BYTES)

    def close(self) -> None:
        self.file.close()


class _MetaSide(_Side):
    kind = "meta"
    has_values = False

    def __init__(self, path):
        from .checkpoint.meta_graph import read_meta_graph

        mg = read_meta_graph(path)
        super().__init__(mg.path)
        for v in mg.global_variables:
            if v.partition:
                self.specs[v.partition.full_name] = (tuple(v.partition.full_shape), v.dtype or "?")
            else:
                self.specs[v.name] = (tuple(v.shape) if v.shape is not None else None, v.dtype or "?")


def open_side(src) -> _Side:
    """Open one side of a comparison: a checkpoint (or open reader), a ``.meta``, ``.safetensors`` or ``.npz``."""
    if hasattr(src, "entry"):
        return _CheckpointSide(src)
    p = os.fspath(src)
    low = p.lower()
    if low.endswith((".safetensors", ".npz")):
        return _TensorFileSide(p)
    if low.endswith(".meta"):
        return _MetaSide(p)
    return _CheckpointSide(p)


# -- the result -------------------------------------------------------------------------------------


@dataclass
class DiffResult:
    """What :func:`compare` found.  Each list holds one dict per tensor name (see :meth:`to_dict`)."""

    a: str
    b: str
    atol: float = 0.0
    only_in_a: list[dict] = field(default_factory=list)
    only_in_b: list[dict] = field(default_factory=list)
    mismatched: list[dict] = field(default_factory=list)
    changed: list[dict] = field(default_factory=list)
    same: list[dict] = field(default_factory=list)
    renames: list[dict] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        """Nothing only on one side, no mismatch, no value changed beyond ``atol``."""
        return not (self.only_in_a or self.only_in_b or self.mismatched or self.changed)

    def to_dict(self) -> dict:
        """The JSON document ``tfckpt-lab diff --json`` prints (NaN and infinities as strings)."""
        return _json_safe({"a": self.a, "b": self.b, "atol": self.atol, "identical": self.identical,
                           "only_in_a": self.only_in_a, "only_in_b": self.only_in_b,
                           "mismatched": self.mismatched, "changed": self.changed, "same": self.same,
                           "renames": self.renames})

    def rows(self) -> list[dict]:
        """One row per name, most changed first, in the shape the diff views draw (see
        :func:`tfckpt_lab.views.diff.diff_checkpoints`)."""
        rows = []
        for status, items in (("changed", self.changed), ("shape/dtype changed", self.mismatched),
                              ("only in a", self.only_in_a), ("only in b", self.only_in_b), ("same", self.same)):
            for it in items:
                if status == "shape/dtype changed":
                    row = {"name": it["name"], "status": status, "dtype": it["b"]["dtype"],
                           "shape": it["b"]["shape"], "shape_a": it["a"]["shape"], "dtype_a": it["a"]["dtype"]}
                else:
                    row = {"name": it["name"], "status": status, "dtype": it["dtype"], "shape": it["shape"]}
                row.setdefault("max_abs_diff", it.get("max_abs_diff"))
                row.setdefault("relative_change", it.get("relative_change"))
                row["identical_bytes"] = it.get("identical_bytes", False)
                rows.append(row)
        order = {"changed": 0, "shape/dtype changed": 1, "only in a": 2, "only in b": 3, "same": 4}
        rows.sort(key=lambda r: (order[r["status"]], -(r["relative_change"] or 0), r["name"]))
        return rows

    def summary(self) -> str:
        return (f"{len(self.same)} same, {len(self.changed)} changed, {len(self.mismatched)} shape/dtype "
                f"mismatches, {len(self.only_in_a)} only in A, {len(self.only_in_b)} only in B, "
                f"{len(self.renames)} possible renames")


def _json_safe(x):
    if isinstance(x, float) and not math.isfinite(x):
        return "NaN" if x != x else ("Infinity" if x > 0 else "-Infinity")
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    return x


# -- comparing --------------------------------------------------------------------------------------


def compare(a, b, *, atol: float = 0.0, values: bool = True) -> DiffResult:
    """Compare ``a`` with ``b`` (each: checkpoint, open reader, ``.meta``, ``.safetensors`` or ``.npz``).

    Args:
        atol: a value counts as changed when some element differs by more than this.
        values: compare values (False: names, shapes and dtypes only).

    >>> import tempfile, os, numpy as np, tfckpt_lab as tl
    >>> d = tempfile.mkdtemp()
    >>> _ = tl.write_bundle(os.path.join(d, "a"), {"w": np.zeros(3, np.float32), "step": np.int64(1)})
    >>> _ = tl.write_bundle(os.path.join(d, "b"), {"w": np.array([0, 0.5, 0], np.float32), "step": np.int64(1)})
    >>> r = compare(os.path.join(d, "a"), os.path.join(d, "b"))
    >>> [c["name"] for c in r.changed], r.changed[0]["max_abs_diff"], [s["name"] for s in r.same]
    (['w'], 0.5, ['step'])
    """
    sa = open_side(a)
    try:
        sb = open_side(b)
    except BaseException:
        sa.close()
        raise
    try:
        return _compare(sa, sb, atol, values)
    finally:
        if not hasattr(a, "entry"):
            sa.close()
        if not hasattr(b, "entry"):
            sb.close()


def _spec(shape, dtype) -> dict:
    return {"shape": None if shape is None else list(shape), "dtype": dtype}


def _shapes_agree(x, y) -> bool:
    """Unknown dimensions (None, from a ``.meta``) agree with any size; an unknown shape with any shape."""
    if x is None or y is None:
        return True
    return len(x) == len(y) and all(p is None or q is None or p == q for p, q in zip(x, y))


def _dtypes_agree(x: str, y: str) -> bool:
    return x == y or "?" in (x, y)


def _compare(sa: _Side, sb: _Side, atol: float, values: bool) -> DiffResult:
    from .checkpoint.object_graph import OBJECT_GRAPH_KEY as OBJECT_GRAPH_KEY_NAME

    r = DiffResult(sa.label, sb.label, atol)
    names_a, names_b = set(sa.specs), set(sb.specs)
    # The object graph describes each TF2 checkpoint's own structure: compared only between two TF2 ones.
    for names, other in ((names_a, names_b), (names_b, names_a)):
        if OBJECT_GRAPH_KEY_NAME in names and OBJECT_GRAPH_KEY_NAME not in other:
            names.discard(OBJECT_GRAPH_KEY_NAME)
    for n in sorted(names_a - names_b):
        r.only_in_a.append({"name": n, **_spec(*sa.specs[n])})
    for n in sorted(names_b - names_a):
        r.only_in_b.append({"name": n, **_spec(*sb.specs[n])})
    for n in sorted(names_a & names_b):
        (sh_a, dt_a), (sh_b, dt_b) = sa.specs[n], sb.specs[n]
        if not (_shapes_agree(sh_a, sh_b) and _dtypes_agree(dt_a, dt_b)):
            r.mismatched.append({"name": n, "a": _spec(sh_a, dt_a), "b": _spec(sh_b, dt_b)})
            continue
        item = {"name": n, **_spec(sh_b if sh_b is not None else sh_a, dt_b if dt_b != "?" else dt_a)}
        if not (values and sa.has_values and sb.has_values):
            item["values_compared"] = False
            r.same.append(item)
            continue
        item.update(_compare_values(sa, sb, n, dt_a, atol))
        (r.changed if item.pop("differs") else r.same).append(item)
    r.renames = suggest_renames(r.only_in_a, r.only_in_b)
    return r


def _compare_values(sa: _Side, sb: _Side, name: str, dtype: str, atol: float) -> dict:
    ca, cb = sa.stored_crc(name), sb.stored_crc(name)
    if ca is not None and ca == cb:
        numeric = dtype not in ("string", "variant", "resource")
        return {"differs": False, "values_compared": True, "identical_bytes": True,
                "max_abs_diff": 0.0 if numeric else None, "relative_change": 0.0 if numeric else None}
    pa, pb = sa.partial_pieces(name), sb.partial_pieces(name)
    if (pa is not None or pb is not None) and pa != pb:  # saved in part, as other pieces: nothing to line up
        return {"differs": True, "values_compared": False, "identical_bytes": False,
                "max_abs_diff": None, "relative_change": None}
    if dtype in ("variant", "resource"):  # not decodable: the stored checksums are all there is
        return {"differs": True, "values_compared": False, "identical_bytes": False,
                "max_abs_diff": None, "relative_change": None}
    stats = _Stats(dtype == "string")
    for xa, xb in _aligned(sa.chunks(name), sb.chunks(name)):
        stats.add(xa, xb)
    return stats.result(atol)


def _aligned(gen_a, gen_b):
    """Pairs of equally long flat pieces from two generators that cut the same elements differently."""
    ia, ib = iter(gen_a), iter(gen_b)
    ra = rb = None
    while True:
        if ra is None or not len(ra):
            ra = next(ia, None)
        if rb is None or not len(rb):
            rb = next(ib, None)
        if ra is None or rb is None:
            if (ra is not None and len(ra)) or (rb is not None and len(rb)):
                raise UnsupportedError("the two sides hold different numbers of elements")
            return
        n = min(len(ra), len(rb))
        if n:
            yield ra[:n], rb[:n]
        ra, rb = ra[n:], rb[n:]


class _Stats:
    """Running comparison of two tensors: max |a - b|, ||b - a|| and ||a||, elements that differ."""

    def __init__(self, strings: bool):
        self.strings = strings
        self.max = 0.0
        self.sq_diff = 0.0
        self.sq_a = 0.0
        self.count = 0
        self.different = 0
        self.bytes_equal = True

    def add(self, xa: np.ndarray, xb: np.ndarray) -> None:
        self.count += len(xa)
        if self.strings or xa.dtype == object or xa.dtype.kind in "SU":
            ba, bb = [_as_bytes(v) for v in xa.tolist()], [_as_bytes(v) for v in xb.tolist()]
            diff = sum(p != q for p, q in zip(ba, bb))
            self.different += diff
            self.bytes_equal &= diff == 0
            return
        for start in range(0, len(xa), _MATH_BLOCK):  # float64 temporaries stay a few MiB
            self._add_numbers(xa[start:start + _MATH_BLOCK], xb[start:start + _MATH_BLOCK])

    def _add_numbers(self, xa: np.ndarray, xb: np.ndarray) -> None:
        if self.bytes_equal:
            self.bytes_equal = xa.dtype == xb.dtype and np.array_equal(xa.view(np.uint8), xb.view(np.uint8))
        wide = np.complex128 if "c" in (xa.dtype.kind, xb.dtype.kind) else np.float64
        fa, fb = xa.astype(wide), xb.astype(wide)
        d = np.abs(fb - fa)
        both_nan = np.isnan(fa) & np.isnan(fb)  # NaN in the same place on both sides is no change
        if both_nan.any():
            d[both_nan] = 0.0
        d[np.isnan(d)] = np.inf  # NaN on one side only
        self.different += int(np.count_nonzero(d))
        if d.size:
            self.max = max(self.max, float(d.max()))
            self.sq_diff += float(np.dot(d, d)) if np.isfinite(self.max) else math.inf
            fa[~np.isfinite(fa)] = 0
            self.sq_a += float(np.vdot(fa, fa).real)

    def result(self, atol: float) -> dict:
        out = {"values_compared": True, "identical_bytes": self.bytes_equal, "elements_changed": self.different}
        if self.strings:
            out.update(differs=self.different > 0, max_abs_diff=None, relative_change=None)
            return out
        norm = math.sqrt(self.sq_a)
        rel = math.sqrt(self.sq_diff) / norm if norm else (0.0 if self.sq_diff == 0 else math.inf)
        out.update(differs=self.max > atol, max_abs_diff=self.max, relative_change=rel)
        return out


def _as_bytes(v) -> bytes:
    return v.encode("utf-8") if isinstance(v, str) else bytes(v)


# -- renames ----------------------------------------------------------------------------------------

_NOISE = {"model", ".ATTRIBUTES", "VARIABLE_VALUE", "_functional", "_operations", "_layers", "layers"}
_LAYER_INDEX = re.compile(r"^(?:layer_with_weights|layer)-(\d+)$|^.*?_(\d+)$|^(\d+)$")


def _path_elements(name: str) -> list[str]:
    parts = [p for p in name.removesuffix(":0").split("/") if p and p not in _NOISE]
    return [p.lstrip("_") or p for p in parts]


def _layer_index(elements: list[str]) -> int | None:
    """The layer number a path names: ``dense`` 0, ``dense_1`` 1, ``layer_with_weights-1`` 1, ``1`` 1."""
    for e in elements[:-1]:
        m = _LAYER_INDEX.match(e)
        if m:
            return int(next(g for g in m.groups() if g is not None))
    return 0 if len(elements) > 1 else None


def _similarity(a: str, b: str) -> float:
    ea, eb = _path_elements(a), _path_elements(b)
    if not ea or not eb:
        return 0.0
    score = difflib.SequenceMatcher(None, "/".join(ea), "/".join(eb)).ratio()
    if ea[-1] == eb[-1]:  # kernel vs kernel, bias vs bias
        score += 0.5
    ia, ib = _layer_index(ea), _layer_index(eb)
    if ia is not None and ib is not None:
        score += 0.25 if ia == ib else -0.25
    return score


def suggest_renames(only_a: list[dict], only_b: list[dict], *, threshold: float = 0.6) -> list[dict]:
    """Pairs (one name only in A, one only in B) with equal shape and dtype and similar paths, best first.

    Each name is used at most once; pairs are chosen greedily by score, then listed by A's name.

    >>> a = [{"name": "dense/kernel", "shape": [4, 8], "dtype": "float32"},
    ...      {"name": "dense_1/kernel", "shape": [8, 8], "dtype": "float32"}]
    >>> b = [{"name": "model/layer_with_weights-1/kernel/.ATTRIBUTES/VARIABLE_VALUE", "shape": [8, 8], "dtype": "float32"},
    ...      {"name": "model/layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE", "shape": [4, 8], "dtype": "float32"}]
    >>> [(r["a"], r["b"].split("/")[1]) for r in suggest_renames(a, b)]
    [('dense/kernel', 'layer_with_weights-0'), ('dense_1/kernel', 'layer_with_weights-1')]
    """
    pairs = []
    for x in only_a:
        for y in only_b:
            if x["shape"] is not None and y["shape"] is not None and not _shapes_agree(x["shape"], y["shape"]):
                continue
            if not _dtypes_agree(x["dtype"], y["dtype"]):
                continue
            s = _similarity(x["name"], y["name"])
            if s >= threshold:
                pairs.append((s, x, y))
    pairs.sort(key=lambda p: (-p[0], p[1]["name"], p[2]["name"]))
    used_a, used_b, out = set(), set(), []
    for s, x, y in pairs:
        if x["name"] in used_a or y["name"] in used_b:
            continue
        used_a.add(x["name"])
        used_b.add(y["name"])
        out.append({"a": x["name"], "b": y["name"], "shape": x["shape"] if x["shape"] is not None else y["shape"],
                    "dtype": x["dtype"], "score": round(s, 3)})
    return sorted(out, key=lambda r: r["a"])
