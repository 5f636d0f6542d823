"""Check every byte of a checkpoint that carries a checksum, and report every problem found.

Unlike a reader, which stops at the first bad byte, :func:`verify_checkpoint`
keeps going: each index block, the header, every entry and every tensor is
checked on its own, so one run lists everything that is wrong.

It also checks the bytes a reader never looks at, because TensorFlow always
writes them the same way: the footer must be exactly the encoding of its two
block handles followed by zero padding, the metaindex block must be the empty
block with a good checksum, the blocks of the ``.index`` must follow each other
with no gaps, and every byte of every data shard must belong to exactly one
tensor.  So a single flipped byte anywhere in a checkpoint is reported here,
even where it cannot change a value that is read (see ``docs/reliability.md``).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

from ..bundle.entry import HEADER_KEY, parse_entry, parse_header
from ..bundle.naming import DATA_SUFFIX_RE, data_path
from ..bundle.reader import BundleReader
from ..errors import CheckpointError
from ..fileio import is_url
from ..sstable.format import BLOCK_TRAILER_SIZE, FOOTER_SIZE

_MAX_LISTED = 20  # missing shards / uncovered ranges listed one by one before summarising

__all__ = ["Problem", "VerifyReport", "verify_checkpoint"]


@dataclass(frozen=True)
class Problem:
    """One thing found wrong: the file, the byte range (if known) and what failed."""

    path: str | None
    start: int | None
    end: int | None
    kind: str
    message: str
    #: False for damage no reader can see: bytes TensorFlow always writes the same way but that
    #: no value depends on (footer padding, the unused metaindex block, gaps no tensor covers).
    affects_values: bool = True

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

    def _repr_html_(self) -> str:
        import html

        status = ("<b style='color:#009E73'>OK</b>" if self.ok else
                  f"<b style='color:#D55E00'>{len(self.problems)} problem(s)</b>")
        rows = "".join(
            f"<tr><td><code>{html.escape(os.path.basename(p.path or '?'))}</code></td>"
            f"<td>{'' if p.start is None else f'[{p.start}, {p.end})' if p.end is not None else p.start}</td>"
            f"<td>{html.escape(p.kind)}</td><td>{html.escape(p.message)}</td></tr>"
            for p in self.problems[:50])
        table = ("<table><tr><th>file</th><th>bytes</th><th>check</th><th>what</th></tr>" + rows + "</table>"
                 if rows else "")
        return (f"<div><code>{html.escape(self.prefix)}</code>: {status} &mdash; {self.blocks_checked} index "
                f"blocks, {self.tensors_checked} tensors, {self.bytes_checked:,} bytes checked{table}</div>")

    def to_dict(self) -> dict:
        return {
            "prefix": self.prefix,
            "ok": self.ok,
            "blocks_checked": self.blocks_checked,
            "tensors_checked": self.tensors_checked,
            "bytes_checked": self.bytes_checked,
            "problems": [p.__dict__ for p in self.problems],
        }


def _check_table(table, report: VerifyReport) -> list[tuple[bytes, bytes]]:
    """Walk one table (a ``.index``, or a V1 file) the way its reader does, reporting instead of stopping.

    The index block was checked when the table was opened.  Then: every data block
    through :meth:`TableReader.inspect_block <tfckpt_lab.sstable.reader.TableReader.inspect_block>`
    (trailer checksum, entries, key order), the parts no reader needs (the
    footer's encoding, the empty metaindex block) and the spans between blocks
    (:meth:`TableReader.spans <tfckpt_lab.sstable.reader.TableReader.spans>`).
    Returns the ``(key, value)`` pairs of the data blocks that passed, in order.
    """
    path = table.path
    report.blocks_checked += 1  # the index block, checked on open
    footer = table.footer
    if footer.noncanonical_at is not None:
        report.problems.append(Problem(
            path, table.footer_offset + footer.noncanonical_at, table.footer_offset + FOOTER_SIZE - 8,
            "MalformedError", "footer is not the canonical encoding of its block handles followed by zero padding "
            "(values are unaffected, but TensorFlow never writes this)", affects_values=False))
    meta = table.inspect_block(footer.metaindex_handle)
    report.blocks_checked += 1
    for exc in _block_errors(meta, path):
        report.problems.append(dataclasses.replace(Problem.from_error(exc), affects_values=False))
    if meta.block is not None and meta.block.records():
        report.problems.append(Problem(path, meta.handle.offset, meta.handle.end, "MalformedError",
                                       "metaindex block is not empty (checkpoints never have meta blocks)",
                                       affects_values=False))
    pos = 0
    spans = table.spans()
    order = [sp.kind for sp in spans if sp.kind != "gap"]
    if order != ["data_block"] * (len(order) - 3) + ["metaindex_block", "index_block", "footer"]:
        report.problems.append(Problem(path, None, None, "MalformedError",
                                       "blocks are not in the order TensorFlow writes them (data blocks, "
                                       "metaindex block, index block)", affects_values=False))
    for span in spans:
        if span.overlaps:
            report.problems.append(Problem(path, span.start, pos, "MalformedError",
                                           "blocks that overlap or are out of order"))
        elif span.kind == "gap":
            report.problems.append(Problem(path, span.start, span.end, "MalformedError",
                                           "bytes that no block covers", affects_values=False))
        pos = max(pos, span.end)
    items: list[tuple[bytes, bytes]] = []
    last = None
    for _, handle in table.index_entries:
        found = table.inspect_block(handle)
        report.blocks_checked += 1
        errors = _block_errors(found, path)
        for exc in errors:
            report.problems.append(Problem.from_error(exc))
        if errors:
            continue
        report.bytes_checked += handle.size + BLOCK_TRAILER_SIZE
        block_items = found.block.items()
        if block_items and last is not None and block_items[0][0] <= last:
            report.problems.append(Problem(path, handle.offset, handle.end, "MalformedError",
                                           f"keys out of order across blocks: {block_items[0][0]!r} after {last!r}"))
            continue
        if block_items:
            last = block_items[-1][0]
        items.extend(block_items)
    return items


def _block_errors(found, path) -> list[CheckpointError]:
    """The checksum mismatch (if any) and the parse error (if any) of one inspected block."""
    out = []
    if found.trailer is not None and found.trailer.checksum_ok is False:
        out.append(found.trailer.error(path))
    if found.error is not None:
        out.append(found.error)
    return out


def _check_shards_present(prefix: str, num_shards: int, report: VerifyReport) -> set[int]:
    """Report missing data shards with one directory listing (cheap even for absurd shard counts).

    Returns the shard numbers that are present.
    """
    directory = os.path.dirname(prefix) or "."
    base = os.path.basename(prefix) + ".data-"
    found = set()
    if is_url(prefix):
        names = _url_shard_names(prefix, num_shards)
    else:
        try:
            names = os.listdir(directory)
        except OSError:
            names = []
    for name in names:
        if name.startswith(base):
            m = DATA_SUFFIX_RE.search(name)
            if m and name == base[:-6] + m.group(0) and int(m.group(2)) == num_shards \
                    and int(m.group(1)) < num_shards:
                found.add(int(m.group(1)))
    missing = num_shards - len(found)
    if not missing:
        return found
    listed = 0
    for shard in range(num_shards):
        if shard not in found:
            report.problems.append(Problem(data_path(prefix, shard, num_shards), None, None,
                                           "CheckpointNotFoundError", "data shard missing"))
            listed += 1
            if listed == _MAX_LISTED and missing > listed:
                report.problems.append(Problem(data_path(prefix, 0, num_shards), None, None,
                                               "CheckpointNotFoundError",
                                               f"... and {missing - listed} more data shards missing"))
                break
    return found


def _check_data_coverage(reader: BundleReader, entries, num_shards: int, present: set[int],
                         report: VerifyReport) -> None:
    """Every byte of every data shard belongs to exactly one tensor (TensorFlow writes no gaps)."""
    by_shard: dict[int, list[tuple[int, int]]] = {}
    for e in entries:
        if not e.slices and e.size and 0 <= e.shard_id < num_shards:
            by_shard.setdefault(e.shard_id, []).append((e.offset, e.end))
    for shard in sorted(present):
        spans = sorted(by_shard.get(shard, ()))
        p = data_path(reader.prefix, shard, num_shards)
        try:
            size = reader.data_file(shard).size if is_url(p) else os.path.getsize(p)
        except (OSError, CheckpointError):
            continue  # reported as missing
        pos, listed = 0, 0
        for start, end in spans + [(size, size)]:
            if start == size and start < pos:
                break  # spans running past the end of the file are reported as truncated, not overlapping
            if start != pos and listed < _MAX_LISTED:
                what = ("bytes that no tensor covers (values are unaffected, but TensorFlow never writes gaps)"
                        if start > pos else "bytes claimed by more than one tensor")
                report.problems.append(Problem(p, min(pos, start), max(pos, start), "MalformedError", what,
                                               affects_values=start < pos))
                listed += 1
            pos = max(pos, end)


def verify_checkpoint(prefix) -> VerifyReport:
    """Verify every block checksum, every entry and every tensor checksum of one checkpoint.

    Also checks the bytes whose damage could not change a value read (footer
    padding, the unused metaindex block, gaps), so that any damage is reported.
    Never raises for a damaged checkpoint: every problem goes into the report.
    """
    from .reader import detect_format

    prefix = os.fspath(prefix)
    report = VerifyReport(prefix)
    if detect_format(prefix) == "v1":  # no .index but table file(s) at the prefix: the older format
        return _verify_v1(prefix, report)
    try:
        reader = BundleReader(prefix, verify=True)
    except CheckpointError as exc:  # no footer / index block: nothing else can be located
        report.problems.append(Problem.from_error(exc))
        return report
    with reader:
        items = _check_table(reader.table, report)
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
            return _dedupe(report)
        present = _check_shards_present(prefix, header.num_shards, report)
        _check_data_coverage(reader, entries, header.num_shards, present, report)
        same, skipped = _overlap_plan(reader, entries, header.num_shards, present)
        verdicts: dict[tuple, tuple[str, CheckpointError | None]] = {}
        for e in entries:
            if id(e) in skipped:
                report.problems.append(Problem(
                    reader.data_file(e.shard_id).path, e.offset, e.end, "MalformedError",
                    f"tensor {e.name!r} not checked: its bytes overlap bytes already checked for other "
                    "tensors (see the overlap reported above), and re-reading them once per overlapping "
                    "tensor could take without end"))
                continue
            if not e.slices:
                report.tensors_checked += 1  # counted whether it passes or fails
            try:
                if e.slices:  # its pieces are checked as entries of their own; here, how they fit together
                    reader.check_pieces(e)  # need not cover the variable: a Saver may save only some pieces
                    continue
                key = same.get(id(e))
                if key is not None and key in verdicts:  # the same bytes and checksum as a tensor checked before
                    first, bad = verdicts[key]
                    if bad is not None:
                        report.problems.append(Problem(bad.path, bad.offset, bad.end, type(bad).__name__,
                                                       f"tensor {e.name!r} has the same bytes and checksum as "
                                                       f"{first!r}: {bad.message}"))
                        continue
                else:
                    try:
                        reader.check_tensor(e)  # bounded memory, whatever the size
                    except CheckpointError as exc:
                        if key is not None:
                            verdicts[key] = (e.name, exc)
                        raise
                    if key is not None:
                        verdicts[key] = (e.name, None)
                    report.bytes_checked += e.size
            except CheckpointError as exc:
                report.problems.append(Problem.from_error(exc))
    return _dedupe(report)


def _overlap_plan(reader, entries, num_shards: int, present: set[int]):
    """Which tensors share bytes, and which to leave unchecked so that no byte is read again and again.

    TensorFlow never writes two tensors over the same bytes (the coverage check
    reports it).  A hostile index can point thousands of entries at the same
    gigabyte, so: entries with the same bytes, dtype, shape and checksum get one
    check between them (``same`` maps each to a shared key), and in each shard the
    bytes re-read for partly overlapping entries may add up to at most the shard's
    size (so verify reads at most about twice what the files hold); entries past
    that budget are ``skipped`` and reported.
    """
    same: dict[int, tuple] = {}
    skipped: set[int] = set()
    by_shard: dict[int, list] = {}
    for e in entries:
        if not e.slices and e.size and e.shard_id in present and 0 <= e.shard_id < num_shards:
            by_shard.setdefault(e.shard_id, []).append(e)
    for shard, es in by_shard.items():
        try:
            budget = reader.data_file(shard).size
        except CheckpointError:
            continue
        checked_until = 0
        firsts: set[tuple] = set()
        for e in sorted(es, key=lambda e: (e.offset, e.size)):
            key = (shard, e.offset, e.size, e.crc32c, e.dtype, e.shape)
            if key in firsts:
                same[id(e)] = key
                continue
            again = max(0, min(e.end, checked_until) - e.offset)
            if again > budget:
                skipped.add(id(e))
                continue
            budget -= again
            firsts.add(key)
            same[id(e)] = key
            checked_until = max(checked_until, e.end)
    return same, skipped


def _verify_v1(prefix: str, report: VerifyReport) -> VerifyReport:
    """V1 checkpoints carry no tensor checksums: check every table block's CRC, then decode every tensor."""
    from ..sstable.reader import TableReader
    from ..v1.reader import V1Reader, v1_files

    for path in v1_files(prefix):
        try:
            table = TableReader(path, verify=True)
        except CheckpointError as exc:
            report.problems.append(Problem.from_error(exc))
            continue
        with table:
            _check_table(table, report)
    if any(p.affects_values for p in report.problems):
        return _dedupe(report)
    try:
        reader = V1Reader(prefix, verify=True)
    except CheckpointError as exc:
        report.problems.append(Problem.from_error(exc))
        return _dedupe(report)
    with reader:
        for e in reader.variables():
            report.tensors_checked += 1  # counted whether it passes or fails
            try:
                reader.read_tensor(e, verify=True)
            except CheckpointError as exc:
                report.problems.append(Problem.from_error(exc))
    return _dedupe(report)


#: Where a URL's directory cannot be listed (HTTP), at most this many data shards are probed one by one;
#: beyond it, missing shards are found when their tensors are read.
_MAX_URL_SHARD_PROBES = 256


def _exists(path: str) -> bool:
    if is_url(path):
        from ..remote import exists

        return exists(path)
    return os.path.exists(path)


def _url_shard_names(prefix: str, num_shards: int) -> list[str]:
    """File names of the data shards present at a URL: listed where the store can list, else probed."""
    import glob

    from .. import remote

    base = prefix.rsplit("/", 1)[-1]
    listed = remote.glob(glob.escape(prefix) + ".data-*")
    if listed:
        return [u.rsplit("/", 1)[-1] for u in listed]
    expected = [(i, f"{base}{data_path('', i, num_shards)}") for i in range(num_shards)]
    if num_shards > _MAX_URL_SHARD_PROBES:  # no listing and too many to probe: reading them will tell
        return [name for _, name in expected]
    return [name for i, name in expected if remote.exists(data_path(prefix, i, num_shards))]


def _dedupe(report: VerifyReport) -> VerifyReport:
    """One line per problem: a bad piece is otherwise reported again by the variable it belongs to."""
    seen = set()
    unique = []
    for p in report.problems:
        key = (p.path, p.start, p.end, p.kind, p.message)
        if key not in seen:
            seen.add(key)
            unique.append(p)
    report.problems = unique
    return report
