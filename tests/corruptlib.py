"""Helpers for the reliability tests: read *everything* in a checkpoint, damage its files, classify outcomes.

An outcome of reading a damaged checkpoint is one of:

* ``caught``    -- a :class:`~tfckpt_lab.errors.CheckpointError` was raised; its category is the
                   error class plus the message with numbers blanked out ("which check caught it");
* ``unchanged`` -- every tensor (by listing and by lookup) read back exactly as before;
* ``SILENT``    -- something read back different without an error (always a bug);
* ``BUG``       -- some other exception escaped, or the read took too long (always a bug).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tfckpt_lab.bundle.reader import BundleReader
from tfckpt_lab.errors import CheckpointError
from tfckpt_lab.sstable.format import BLOCK_TRAILER_SIZE, FOOTER_SIZE, MAX_BLOCK_HANDLE_SIZE
from tfckpt_lab.sstable.reader import TableReader

READ_TIME_LIMIT = 5.0  # seconds for one full read of a tiny checkpoint; anything slower is a hang


class ReadTimeout(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise ReadTimeout if the body runs longer than ``seconds`` (SIGALRM; main thread on Unix only)."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:  # pragma: no cover
        yield
        return

    def on_alarm(signum, frame):
        raise ReadTimeout(f"read took longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def canon(arr) -> tuple:
    """A hashable, exact form of a tensor value (dtype, shape and every byte; strings element-wise)."""
    a = np.asarray(arr)
    if a.dtype == object:
        return ("object", a.shape, tuple(bytes(x) for x in a.reshape(-1)))
    return (a.dtype.str, a.shape, a.tobytes())


def read_everything(prefix, keys=None) -> dict[bytes, tuple]:
    """Read every entry of the bundle twice -- via the full listing and via point lookups -- with CRCs on.

    ``keys`` (the original checkpoint's keys) are looked up one by one in a fresh reader, so a
    damaged index block that hides or renames a key is noticed too.  Returns ``{key: canon(value)}``
    and raises whatever the reader raises.
    """
    out: dict[bytes, tuple] = {}
    with BundleReader(prefix, verify=True) as r:
        for key, e in r.entries().items():
            out[key] = canon(r.read_tensor(e))
    if keys is not None:
        with BundleReader(prefix, verify=True) as r:
            for key in keys:
                looked_up = canon(r.read_tensor(key))
                if out.get(key) != looked_up:
                    out[(b"lookup:" + key)] = looked_up  # makes the comparison fail
    return out


_NUM = re.compile(r"0x[0-9a-f]+|\d+")


def category(exc: BaseException) -> str:
    """Which check caught it: the error class and its message with numbers blanked."""
    msg = exc.message if isinstance(exc, CheckpointError) else str(exc)
    msg = re.sub(r"'[^']*'|\"[^\"]*\"|b'[^']*'", "'…'", msg)  # tensor names vary
    msg = _NUM.sub("#", msg)
    return f"{type(exc).__name__}: {msg[:70]}"


@dataclass
class Outcome:
    kind: str         # caught / unchanged / SILENT / BUG
    detail: str       # category, or region for unchanged
    error: BaseException | None = None


def try_read(prefix, original: dict[bytes, tuple], lookup_keys=None) -> Outcome:
    """Read everything from a (possibly damaged) checkpoint and compare with ``original``.

    ``lookup_keys``: the keys also read by point lookup (default: all of them).
    """
    t0 = time.perf_counter()
    try:
        with time_limit(READ_TIME_LIMIT):
            got = read_everything(prefix, keys=list(original) if lookup_keys is None else lookup_keys)
    except CheckpointError as exc:
        return Outcome("caught", category(exc), exc)
    except ReadTimeout as exc:
        return Outcome("BUG", f"hang: {exc}", exc)
    except Exception as exc:  # noqa: BLE001 - anything else escaping is exactly what we look for
        return Outcome("BUG", f"{type(exc).__name__}: {exc}", exc)
    if time.perf_counter() - t0 > READ_TIME_LIMIT:
        return Outcome("BUG", "slow read")
    if got != original:
        changed = sorted(set(got) ^ set(original)) or [k for k in got if got[k] != original.get(k)]
        return Outcome("SILENT", f"values differ for {changed[:3]!r}")
    return Outcome("unchanged", "")


# -- where each byte of a bundle belongs -----------------------------------------------------


def index_regions(path) -> list[tuple[int, int, str]]:
    """``[(start, end, name)]`` covering every byte of an ``.index`` file (as written by TensorFlow)."""
    with TableReader(path) as t:
        size = t.file.size
        foot = t.footer_offset
        handles_len = len(t.footer.metaindex_handle.encode()) + len(t.footer.index_handle.encode())
        meta_len = len(t.footer.metaindex_handle.encode())
        regions = []
        for i, (_, h) in enumerate(t.index_entries):
            regions.append((h.offset, h.end + BLOCK_TRAILER_SIZE, "data block"))
        m = t.footer.metaindex_handle
        regions.append((m.offset, m.end + BLOCK_TRAILER_SIZE, "metaindex block"))
        ih = t.footer.index_handle
        regions.append((ih.offset, ih.end + BLOCK_TRAILER_SIZE, "index block"))
        regions.append((foot, foot + meta_len, "footer: metaindex handle"))
        regions.append((foot + meta_len, foot + handles_len, "footer: index handle"))
        regions.append((foot + handles_len, foot + 2 * MAX_BLOCK_HANDLE_SIZE, "footer: padding"))
        regions.append((size - 8, size, "footer: magic"))
    regions.sort()
    pos = 0
    for s, e, _ in regions:
        assert s == pos, f"gap or overlap in {path} at {pos}"
        pos = e
    assert pos == size
    assert size - foot == FOOTER_SIZE
    return regions


def data_regions(prefix, shard_path) -> list[tuple[int, int, str]]:
    """``[(start, end, name)]`` of every tensor's bytes in one data shard, plus any uncovered bytes."""
    with BundleReader(prefix) as r:
        shard = next(i for i, p in enumerate(r.data_paths()) if os.path.samefile(p, shard_path))
        spans = sorted((e.offset, e.end, "tensor " + e.name) for e in r.entries().values()
                       if not e.slices and e.shard_id == shard and e.size)
    size = os.path.getsize(shard_path)
    out, pos = [], 0
    for s, e, n in spans:
        if s > pos:
            out.append((pos, s, "uncovered"))
        out.append((s, e, n))
        pos = max(pos, e)
    if pos < size:
        out.append((pos, size, "uncovered"))
    return out


def region_of(regions, pos: int) -> str:
    for s, e, name in regions:
        if s <= pos < e:
            return "tensor bytes" if name.startswith("tensor ") else name
    return "?"


@dataclass
class Tally:
    """Counts of outcomes by (file kind, region, outcome, detail)."""

    counts: dict = field(default_factory=dict)
    bugs: list = field(default_factory=list)
    tried: int = 0

    def add(self, file_kind: str, region: str, outcome: Outcome, where: str) -> None:
        self.tried += 1
        key = (file_kind, region, outcome.kind, outcome.detail)
        self.counts[key] = self.counts.get(key, 0) + 1
        if outcome.kind in ("SILENT", "BUG"):
            self.bugs.append((where, outcome.kind, outcome.detail))

    def table(self) -> str:
        lines = [f"{'file':6} {'region':26} {'outcome':9} {'n':>6}  check"]
        for (fk, region, kind, detail), n in sorted(self.counts.items()):
            lines.append(f"{fk:6} {region:26} {kind:9} {n:6}  {detail}")
        lines.append(f"total tried: {self.tried}")
        return "\n".join(lines)


def copy_checkpoint(src_prefix, dst_dir) -> str:
    """Copy a bundle's ``.index`` and data shards into ``dst_dir``; return the new prefix."""
    src = Path(src_prefix)
    dst_dir = Path(dst_dir)
    dst_dir.mkdir(parents=True, exist_ok=True)
    for f in src.parent.iterdir():
        if f.name.startswith(src.name + ".index") or f.name.startswith(src.name + ".data-"):
            if f.name == src.name + ".index" or re.fullmatch(re.escape(src.name) + r"\.data-\d+-of-\d+", f.name):
                shutil.copyfile(f, dst_dir / f.name)
    return str(dst_dir / src.name)


@contextlib.contextmanager
def damaged(path, new_bytes: bytes, orig: bytes | None = None):
    """Temporarily replace the contents of the file at ``path`` with ``new_bytes``.

    Only the bytes that differ are rewritten in place (opening with truncation is slow
    on some file systems, and the walks below do it thousands of times).
    """
    path = os.fspath(path)
    if orig is None:
        orig = Path(path).read_bytes()
    fd = os.open(path, os.O_RDWR)
    try:
        _rewrite(fd, orig, new_bytes)
        yield
    finally:
        _rewrite(fd, new_bytes, orig)
        os.close(fd)


def _rewrite(fd: int, old: bytes, new: bytes) -> None:
    n = min(len(old), len(new))
    start = next((i for i in range(n) if old[i] != new[i]), n)
    if len(new) < len(old):
        os.ftruncate(fd, len(new))
    end = n
    while end > start and old[end - 1] == new[end - 1]:
        end -= 1
    if len(new) > n:
        end = len(new)
    if end > start:
        os.pwrite(fd, new[start:end], start)
