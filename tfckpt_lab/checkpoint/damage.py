"""Damage a *copy* of a checkpoint on purpose and see which check notices: the checksum lab's engine.

The lab widget (:class:`tfckpt_lab.widgets.checksum.ChecksumLab`) only draws what
:func:`flip_and_verify` returns; the copying, the flipping and the verifying
happen here, below the views, on either checkpoint format.

>>> import os, tempfile, numpy as np
>>> from tfckpt_lab import write_bundle
>>> prefix = os.path.join(tempfile.mkdtemp(), "m")
>>> _ = write_bundle(prefix, {"w": np.zeros(3, np.float32)})
>>> result = flip_and_verify(prefix, prefix + ".data-00000-of-00001", 4, workdir=tempfile.mkdtemp())
>>> result.caught, result.problems[0].kind, result.covering[0].kind
(True, 'ChecksumMismatchError', 'ChecksumMismatchError')
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from ..errors import CheckpointError
from .verify import Problem, VerifyReport, verify_checkpoint

__all__ = ["checkpoint_files", "copy_checkpoint", "flip_byte", "flip_and_verify", "FlipResult"]


def checkpoint_files(prefix) -> list[str]:
    """The files of one checkpoint that exist, in either format: tables, data shards, ``.meta``.

    Falls back to every file named like the prefix when the checkpoint cannot be opened
    (so a damaged one can still be copied).
    """
    from .reader import open_low_level

    prefix = os.fspath(prefix)
    try:
        with open_low_level(prefix, verify=False) as r:
            out = list(dict.fromkeys(r.table_paths() + r.data_paths() + [r.meta_path()]))
    except CheckpointError:
        d, base = os.path.split(prefix)
        out = [prefix + ".index"] + sorted(os.path.join(d, f) for f in os.listdir(d or ".")
                                           if f.startswith(base + ".data-")) + [prefix + ".meta"]
    return [p for p in out if os.path.isfile(p)]


def copy_checkpoint(prefix, directory, *, meta: bool = True) -> str:
    """Copy every file of the checkpoint at ``prefix`` into ``directory``; return the copy's prefix.

    The prefix keeps its base name (a V1 shard glob stays a glob), so the copy opens the same way.
    ``meta=False`` leaves the ``.meta`` out (verifying never reads it, and it can be large).
    """
    prefix = os.fspath(prefix)
    os.makedirs(directory, exist_ok=True)
    for p in checkpoint_files(prefix):
        if meta or not p.endswith(".meta"):
            shutil.copyfile(p, os.path.join(directory, os.path.basename(p)))
    return os.path.join(directory, os.path.basename(prefix))


def flip_byte(path, offset: int, mask: int = 1) -> tuple[int, int]:
    """XOR ``mask`` into byte ``offset`` of ``path``, in place; return ``(old byte, new byte)``."""
    if not 1 <= mask <= 255:
        raise ValueError(f"mask must be 1..255, not {mask}")
    with open(path, "r+b") as f:
        f.seek(offset)
        got = f.read(1)
        if not got or offset < 0:
            raise ValueError(f"byte {offset} is outside {os.path.basename(os.fspath(path))}")
        old = got[0]
        f.seek(offset)
        f.write(bytes((old ^ mask,)))
    return old, old ^ mask


@dataclass
class FlipResult:
    """What :func:`flip_and_verify` did and found.

    Attributes:
        copy_prefix, victim: the damaged copy's prefix, and the file of it that was flipped.
        offset, old, new: where, and the byte before and after.
        report: the :class:`~tfckpt_lab.checkpoint.verify.VerifyReport` of the copy.
        problems: every problem found; ``covering``: those whose byte range includes the flip.
        caught: did a check that guards values fail? (Problems a reader never sees --
            footer padding, gaps no tensor covers -- are in ``problems`` but do not count.)
    """

    copy_prefix: str
    victim: str
    offset: int
    old: int
    new: int
    report: VerifyReport

    @property
    def problems(self) -> list[Problem]:
        return self.report.problems

    @property
    def covering(self) -> list[Problem]:
        return [p for p in self.problems if covers(p, self.victim, self.offset)]

    @property
    def caught(self) -> bool:
        return any(p.affects_values for p in self.problems)


def covers(problem: Problem, path, offset: int) -> bool:
    """Whether ``problem`` names byte ``offset`` of file ``path`` (by its base name)."""
    if problem.path is None or problem.start is None:
        return False
    if os.path.basename(problem.path) != os.path.basename(os.fspath(path)):
        return False
    end = problem.end if problem.end is not None else problem.start + 1
    return problem.start <= offset < end


def flip_and_verify(prefix, target, offset: int, mask: int = 1, *, workdir) -> FlipResult:
    """Copy the checkpoint into ``workdir`` (emptied first), flip one byte of ``target``'s copy, verify the copy.

    ``target`` is one of the checkpoint's files (a path or a base name); the
    original files are never written.
    """
    names = os.listdir(workdir)
    for name in names:
        os.remove(os.path.join(workdir, name))
    victim = os.path.join(workdir, os.path.basename(os.fspath(target)))
    # the .meta is copied only when it is the file flipped: verify never reads it
    copy_prefix = copy_checkpoint(prefix, workdir, meta=victim.endswith(".meta"))
    old, new = flip_byte(victim, offset, mask)
    return FlipResult(copy_prefix, victim, offset, old, new, verify_checkpoint(copy_prefix))
