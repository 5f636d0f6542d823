"""What a tensor holds, without holding all of it: statistics, a histogram and a leading slice.

A checkpoint can hold a 2.4 GB tensor. Reading it whole to draw a picture costs
its size in memory several times over (the array, float copies, masks). So above
:data:`WHOLE_LIMIT` bytes, :func:`summarize_tensor` never reads the whole tensor at once:

* by default it reads a **sample**: :data:`SAMPLE_RUNS` runs of consecutive elements,
  evenly spaced from the first element to the last (:data:`SAMPLE_ELEMENTS` in all),
  and computes the statistics and the histogram from them;
* with ``scan=True`` it **streams** every element through a buffer of
  :data:`CHUNK_BYTES` bytes: exact statistics, a histogram of an evenly strided sample,
  and the stored CRC-32C checked on the way;
* either way the **leading slice** is read exactly: the first rows and columns of the
  tensor folded to 2-D (``[shape[0], rest]``), or the first elements of a 1-D tensor.

Memory stays within a few buffers of :data:`CHUNK_BYTES` and the sample, whatever
the tensor's size. Smaller tensors are read whole, as before. The summary says which
it did (``method``, ``note``), so a view can tell the reader it is looking at a sample.

Bytes are read through the bundle reader's data files (ranged reads); only where a
format keeps no separate data files (V1) is the tensor read whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import dtypes
from ..codecs import crc32c_extend, unmask_crc
from ..errors import TruncatedError, UnsupportedError

__all__ = ["TensorSummary", "summarize_tensor", "WHOLE_LIMIT", "SAMPLE_ELEMENTS", "SAMPLE_RUNS", "CHUNK_BYTES",
           "HEAD_ROWS", "HEAD_COLS"]

WHOLE_LIMIT = 8 * 2**20  # bytes: tensors up to this size are read whole
SAMPLE_ELEMENTS = 1 << 20  # elements in a sample (and at most in a scan's histogram sample)
SAMPLE_RUNS = 64  # evenly spaced runs of consecutive elements that make up a sample
CHUNK_BYTES = 4 * 2**20  # the buffer a scan streams through
HEAD_ROWS, HEAD_COLS = 64, 512  # the leading slice of a tensor folded to 2-D
HEAD_ELEMENTS = 64  # the leading slice of a 1-D tensor


@dataclass
class TensorSummary:
    """What :func:`summarize_tensor` found.

    Attributes:
        method: ``"whole"`` (read whole), ``"sample"`` (evenly spaced runs) or ``"scan"``
            (every element, streamed).
        counted: how many elements the statistics cover (all of them, or the sample's).
        stats: ``min``, ``max``, ``mean``, ``std`` (over finite values), ``nan``, ``posinf``,
            ``neginf``, ``zero`` (counts). Complex tensors: statistics of the magnitude.
        sample: the values the histogram is drawn from (1-D).
        head: the leading slice (see ``head_note``); for ``"whole"``, the whole value.
        checksum: for a scan, ``"ok"`` or ``"mismatch"`` (None when not checked).
        value: the whole value when ``method == "whole"``, else None.
    """

    name: str
    dtype: str
    shape: tuple
    num_elements: int
    nbytes: int
    method: str
    counted: int
    stats: dict
    sample: np.ndarray
    head: np.ndarray
    head_note: str
    note: str
    checksum: str | None = None
    value: np.ndarray | None = field(default=None, repr=False)


class _Moments:
    """Running count, mean and sum of squared deviations (Chan et al.), min, max, special values."""

    def __init__(self):
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.min = None
        self.max = None
        self.nan = self.posinf = self.neginf = self.zero = 0

    def add(self, x: np.ndarray) -> None:
        if x.size == 0:
            return
        if x.dtype.kind == "c":
            x = np.abs(x)
        f = x.astype(np.float64, copy=False)
        if x.dtype.kind not in "iub" and not np.isfinite(f).all():
            self.nan += int(np.isnan(f).sum())
            self.posinf += int(np.isposinf(f).sum())
            self.neginf += int(np.isneginf(f).sum())
            keep = np.isfinite(f)
            f, x = f[keep], (x[keep] if x.dtype.kind in "iub" else f[keep])
            if f.size == 0:
                return
        exact = x if x.dtype.kind in "iub" else f  # integer min/max without rounding through float64
        lo, hi = exact.min().item(), exact.max().item()
        self.min = lo if self.min is None else min(self.min, lo)
        self.max = hi if self.max is None else max(self.max, hi)
        self.zero += int(f.size - np.count_nonzero(f))
        n_b = f.size
        mean_b = float(f.mean())
        d = f - mean_b
        m2_b = float(np.einsum("i,i->", d, d))  # (np.dot goes through BLAS: 10x slower here)
        n = self.n + n_b
        delta = mean_b - self.mean
        self.mean += delta * n_b / n
        self.m2 += m2_b + delta * delta * self.n * n_b / n
        self.n = n

    def as_dict(self) -> dict:
        std = math.sqrt(self.m2 / self.n) if self.n else None
        return {"min": self.min, "max": self.max, "mean": self.mean if self.n else None, "std": std,
                "nan": self.nan, "posinf": self.posinf, "neginf": self.neginf, "zero": self.zero,
                "finite": self.n}


class _Stored:
    """A tensor's stored elements as segments ``(file, byte offset, count, entry)`` in element order.

    A whole tensor is one segment; a partitioned variable is one segment per stored piece.
    """

    def __init__(self, low, e, dt: np.dtype):
        self.dt = dt
        self.segments = []
        self.head_piece = None
        if e.slices:
            from ..bundle.slices import encode_slice_key

            for s in e.slices:
                piece = low.entry(encode_slice_key(e.key, s))
                self._add(low, piece)
                if all(ext.is_full or ext.start == 0 for ext in s.extents):
                    self.head_piece = (piece, s)
        else:
            self._add(low, e)
        self.total = sum(seg[2] for seg in self.segments)

    def _add(self, low, e) -> None:
        f = low.data_file(e.shard_id)
        if e.offset + e.size > f.size:
            raise TruncatedError(f"tensor {e.name!r} claims bytes [{e.offset}, {e.offset + e.size}) but the shard has "
                                 f"only {f.size} bytes", path=f.path, offset=e.offset, end=e.offset + e.size)
        if e.num_elements * self.dt.itemsize != e.size:
            from ..errors import MalformedError

            raise MalformedError(f"tensor {e.name!r}: shape {list(e.shape)} of {e.dtype_name} needs "
                                 f"{e.num_elements * self.dt.itemsize} bytes but the entry says {e.size}",
                                 path=f.path, offset=e.offset, end=e.end)
        self.segments.append((f, e.offset, e.num_elements, e))

    def read(self, start: int, count: int) -> np.ndarray:
        """Elements ``[start, start + count)`` of the segments laid end to end."""
        out = np.empty(count, self.dt)
        raw = out.view(np.uint8)
        w = self.dt.itemsize
        done = 0
        base = 0
        for f, off, n, _ in self.segments:
            if done == count:
                break
            if start + done < base + n:
                i = start + done - base
                k = min(n - i, count - done)
                f.readinto(off + i * w, raw[done * w:(done + k) * w])
                done += k
            base += n
        return out


def _native(a: np.ndarray) -> np.ndarray:
    """Big-endian elements (a bundle written on a big-endian machine) as native numbers."""
    return a.astype(a.dtype.newbyteorder("="), copy=False) if a.dtype.byteorder == ">" else a


def _human(n: int) -> str:
    """``512 bytes``, ``4.0 MiB``, ``2.2 GiB``."""
    if n < 1024:
        return f"{n:,} bytes"
    power = min(3, int(math.log(n, 1024)))
    return f"{n / 1024 ** power:,.1f} {('KiB', 'MiB', 'GiB')[power - 1]}"


def _head(stored: _Stored, e) -> tuple[np.ndarray, str]:
    """The leading slice, read exactly (a few small reads)."""
    if stored.head_piece is not None:
        src, s = stored.head_piece
        where = f" of the stored piece {s}"
        seg = next(sg for sg in stored.segments if sg[3] is src)
    elif e.slices:  # no piece starts at the origin (a partly saved variable): show the first piece
        seg = stored.segments[0]
        src = seg[3]
        where = " of its first stored piece"
    else:
        seg, src, where = stored.segments[0], e, ""
    f, off, n, _ = seg
    shape = tuple(src.shape)
    w = stored.dt.itemsize
    if len(shape) >= 2 and shape[0] > 0 and n // shape[0] > 0:
        rest = n // shape[0]
        rows, cols = min(shape[0], HEAD_ROWS), min(rest, HEAD_COLS)
        out = np.empty((rows, cols), stored.dt)
        for r in range(rows):
            f.readinto(off + r * rest * w, out[r].view(np.uint8))
        folded = "" if len(shape) == 2 else " (trailing axes flattened)"
        return _native(out), f"rows 0-{rows - 1}, columns 0-{cols - 1} of {list(shape)}{folded}{where}"
    k = min(n, HEAD_ELEMENTS)
    out = np.empty(k, stored.dt)
    if k:
        f.readinto(off, out.view(np.uint8))
    return _native(out), (f"elements 0-{k - 1} of {n:,}{where}" if k else "no elements")


def summarize_tensor(reader, name: str, *, scan: bool = False, whole_limit: int | None = None,
                     sample_elements: int | None = None, runs: int | None = None,
                     chunk_bytes: int | None = None) -> TensorSummary:
    """Summarize tensor ``name`` of ``reader`` (a :class:`~tfckpt_lab.CheckpointReader`) in bounded memory.

    Tensors of at most ``whole_limit`` bytes are read whole (``method="whole"``, exact).
    Larger ones: a sample of ``sample_elements`` in ``runs`` evenly spaced runs
    (``"sample"``), or with ``scan=True`` every element streamed through a
    ``chunk_bytes`` buffer with the CRC-32C checked (``"scan"``).  Each limit left
    as None is the module's constant of that name at the time of the call.

    >>> import os, tempfile, numpy as np
    >>> from tfckpt_lab import load_checkpoint, write_bundle
    >>> prefix = os.path.join(tempfile.mkdtemp(), "m")
    >>> _ = write_bundle(prefix, {"w": np.arange(100_000, dtype=np.float32)})
    >>> s = summarize_tensor(load_checkpoint(prefix), "w", whole_limit=1000, sample_elements=1000, runs=10)
    >>> s.method, s.counted, s.stats["min"], s.stats["max"]
    ('sample', 1000, 0.0, 99999.0)
    >>> s = summarize_tensor(load_checkpoint(prefix), "w", scan=True, whole_limit=1000, chunk_bytes=4096)
    >>> s.method, s.counted, s.stats["mean"], s.checksum
    ('scan', 100000, 49999.5, 'ok')
    """
    whole_limit = WHOLE_LIMIT if whole_limit is None else whole_limit
    sample_elements = SAMPLE_ELEMENTS if sample_elements is None else sample_elements
    runs = SAMPLE_RUNS if runs is None else runs
    chunk_bytes = CHUNK_BYTES if chunk_bytes is None else chunk_bytes
    e = reader.entry(name)
    shape = tuple(e.shape)
    dt = dtypes.numpy_dtype(e.dtype)
    n = e.num_elements
    nbytes = (e.size or 0) if (dt is None or dt == object) else n * dt.itemsize  # (V1: size unknown until read)
    low = getattr(reader, "lowlevel", reader)
    if dt == object and nbytes > whole_limit:
        raise UnsupportedError(f"string tensor {name!r} ({_human(nbytes)}) is not shown: string tensors are "
                               f"read whole, and only up to {_human(whole_limit)} here")
    if dt is None or dt == object or nbytes <= whole_limit or not hasattr(low, "data_file"):
        # small; or no numpy dtype (the reader says so); or a format without data files (V1),
        # whose reader decodes a tensor from its table in one piece anyway
        return _whole(name, e, np.asarray(reader.get_tensor(name)), nbytes, sample_elements)
    big = getattr(getattr(low, "header", None), "endianness", "little") == "big"
    stored = _Stored(low, e, dt.newbyteorder(">") if big and dt.itemsize > 1 else dt)
    head, head_note = _head(stored, e)
    moments = _Moments()
    if scan:
        sample, checksum = _scan(stored, moments, sample_elements, chunk_bytes)
        step = max(1, -(-stored.total // sample_elements))
        note = (f"every element read, streamed through a {_human(chunk_bytes)} buffer (never the whole "
                f"{_human(nbytes)} at once); exact statistics; the histogram is of "
                + ("every element" if step == 1 else f"one element in {step:,}"))
        method, counted = "scan", stored.total
    else:
        sample = _sample(stored, sample_elements, runs)
        moments.add(sample)
        checksum = None
        note = (f"a sample: {sample.size:,} of {stored.total:,} elements, in {min(runs, sample.size)} evenly "
                f"spaced runs of consecutive elements (the tensor is {_human(nbytes)}, more than the "
                f"{_human(whole_limit)} read whole); the statistics and the histogram are the sample's")
        method, counted = "sample", sample.size
    if stored.total != n:
        note += f"; only {stored.total:,} of the variable's {n:,} elements are stored (in its pieces)"
    return TensorSummary(name, e.dtype_name, shape, n, nbytes, method, counted, moments.as_dict(), sample,
                         head, head_note, note, checksum)


def _whole(name, e, value: np.ndarray, nbytes: int, sample_elements: int) -> TensorSummary:
    moments = _Moments()
    if value.dtype != object:
        moments.add(value.reshape(-1))
    flat = value.reshape(-1)
    step = max(1, -(-flat.size // sample_elements))
    return TensorSummary(name, e.dtype_name, tuple(e.shape), e.num_elements, nbytes, "whole", value.size,
                         moments.as_dict(), flat[::step], value, "the whole tensor", "the whole tensor, read",
                         None, value)


def _sample(stored: _Stored, sample_elements: int, runs: int) -> np.ndarray:
    total = stored.total
    if total <= sample_elements:
        return _native(stored.read(0, total))
    runs = max(1, min(runs, sample_elements))
    length = sample_elements // runs
    starts = [round(i * (total - length) / max(1, runs - 1)) for i in range(runs)]
    return _native(np.concatenate([stored.read(s, length) for s in starts]))


def _scan(stored: _Stored, moments: _Moments, sample_elements: int, chunk_bytes: int):
    w = stored.dt.itemsize
    per = max(1, chunk_bytes // w)
    buf = np.empty(per, stored.dt)
    raw = buf.view(np.uint8)
    step = max(1, -(-stored.total // sample_elements))
    picked = []
    ok = True
    g = 0  # global element index of the chunk's first element
    for f, off, n, entry in stored.segments:
        crc = 0
        for i in range(0, n, per):
            k = min(per, n - i)
            f.readinto(off + i * w, raw[:k * w])
            crc = crc32c_extend(crc, raw[:k * w])
            chunk = _native(buf[:k])
            moments.add(chunk)
            picked.append(chunk[(-g) % step::step].copy())
            g += k
        if entry.crc32c is not None and crc != unmask_crc(entry.crc32c):
            ok = False
    sample = np.concatenate(picked) if picked else np.empty(0, stored.dt)
    return sample, "ok" if ok else "mismatch"
