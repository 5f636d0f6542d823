"""Check every byte of a checkpoint that carries a checksum, and report every problem found.

Unlike a reader, which stops at the first bad byte, :func:`verify_checkpoint`
keeps going: each index block, the header, every entry and every tensor is
checked on its own, so one run lists everything that is wrong.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..bundle.entry import HEADER_KEY, parse_entry, parse_header
from ..bundle.naming import data_path, index_path
from ..bundle.reader import BundleReader
from ..errors import CheckpointError

__all__ = ["Problem", "VerifyReport", "verify_checkpoint"]


@dataclass(frozen=True)
class Problem:
    """One thing found wrong: the file, the byte range (if known) and what failed."""

    path: str | None
    start: int | None
    end: int | None
    kind: str
    message: str

    @classmethod
    def from_error(cls, exc: CheckpointError) -> "Problem":
        return cls(exc.path, exc.offset, exc.end, type(exc).__name__, exc.message)

    def __str__(self) -> str:
        where = self.path or "?"
        if self.start is not None:
            where += f" [{self.start}, {self.end})" if self.end is not None else f" @{self.start}"
        return f"{where}: {self.kind}: {self.message}"


@dataclass
class VerifyReport:
    prefix: str
    blocks_checked: int = 0
    tensors_checked: int = 0
    bytes_checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {
            "prefix": self.prefix,
            "ok": self.ok,
            "blocks_checked": self.blocks_checked,
            "tensors_checked": self.tensors_checked,
            "bytes_checked": self.bytes_checked,
            "problems": [p.__dict__ for p in self.problems],
        }


def verify_checkpoint(prefix) -> VerifyReport:
    """Verify every block checksum, every entry and every tensor checksum of one checkpoint."""
    prefix = os.fspath(prefix)
    report = VerifyReport(prefix)
    try:
        reader = BundleReader(prefix, verify=True)
    except CheckpointError as exc:  # no footer / index block: nothing else can be located
        report.problems.append(Problem.from_error(exc))
        return report
    with reader:
        table = reader.table
        report.blocks_checked += 1  # the index block, checked on open
        items = []
        for _, handle in table.index_entries:
            try:
                items.extend(table.read_block(handle).items())
                report.bytes_checked += handle.size + 5
            except CheckpointError as exc:
                report.problems.append(Problem.from_error(exc))
            report.blocks_checked += 1
        header = None
        if items and items[0][0] == HEADER_KEY:
            try:
                header = parse_header(items[0][1], path=reader.index_path)
                _ = reader.header  # range checks
            except CheckpointError as exc:
                report.problems.append(Problem.from_error(exc))
                header = None
            items = items[1:]
        else:
            report.problems.append(Problem(reader.index_path, None, None, "MalformedError",
                                           "index has no header entry"))
        entries = []
        for key, value in items:
            try:
                entries.append(parse_entry(key, value, path=reader.index_path))
            except CheckpointError as exc:
                report.problems.append(Problem.from_error(exc))
        if header is None:
            return report
        for shard in range(header.num_shards):
            p = data_path(prefix, shard, header.num_shards)
            if not os.path.exists(p):
                report.problems.append(Problem(p, None, None, "CheckpointNotFoundError", "data shard missing"))
        for e in entries:
            if e.slices:
                continue  # its pieces are checked as entries of their own
            try:
                reader.read_tensor(e, verify=True)
                report.tensors_checked += 1
                report.bytes_checked += e.size
            except CheckpointError as exc:
                report.problems.append(Problem.from_error(exc))
    return report
