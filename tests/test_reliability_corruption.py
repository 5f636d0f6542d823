"""Every single-byte flip and every truncation of small real checkpoints is caught or provably harmless.

For each damaged copy, every tensor is read (by listing and by lookup, CRCs on).  The outcome
must be a CheckpointError or exactly the original values; anything else (another exception,
different values, a hang) fails.  "Unchanged" outcomes are only allowed in the bytes TensorFlow's
format does not protect and no read depends on (footer padding, the unused metaindex block and
its handle, a block-handle varint that still decodes to the same number), and for every one of
them ``verify_checkpoint`` must still report the damage.  The tally of which check caught what
is printed (``pytest -s``) and written to ``corruption_walk.txt`` in the test artifacts folder (see ``conftest.artifacts_dir``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from conftest import TF_FIXTURES, artifacts_dir
from corruptlib import (
    Outcome,
    Tally,
    copy_checkpoint,
    damaged,
    data_regions,
    index_regions,
    read_everything,
    region_of,
    try_read,
)

from tfckpt_lab.bundle.writer import write_bundle
from tfckpt_lab.checkpoint.verify import verify_checkpoint
from tfckpt_lab.sstable.format import FOOTER_SIZE, Footer


# Regions where a change may leave every value unchanged (nothing read depends on them).
HARMLESS = {"footer: padding", "metaindex block", "footer: metaindex handle", "uncovered"}


def _strings_checkpoint(directory) -> str:
    """A small checkpoint with string tensors of every shape (our writer is byte-identical to TF's)."""
    prefix = os.path.join(directory, "strings")
    s = np.empty((2, 3), dtype=object)
    s[:] = [[b"", b"a", b"hello"], [b"\x00\xff", "ü".encode(), b"x" * 130]]
    write_bundle(prefix, {
        "scalar": b"one string",
        "empty_list": np.empty((0,), dtype=object),
        "matrix": s,
        "f": np.arange(6, dtype=np.float32).reshape(2, 3),
        "step": np.int64(7),
    })
    return prefix


def _multiblock_checkpoint(directory) -> str:
    """A bundle whose index has many small data blocks (TF's layout, with a 256-byte block size)."""
    from tfckpt_lab.bundle.reader import BundleReader
    from tfckpt_lab.sstable.builder import TableBuilder

    prefix = os.path.join(directory, "multi")
    write_bundle(prefix, {f"layer_{i:02d}/kernel": np.full(i % 3 + 1, i, np.float32) for i in range(24)})
    with BundleReader(prefix) as r:
        items = r.table.all_items()
    with open(prefix + ".index", "wb") as f:
        tb = TableBuilder(f, block_size=256)
        for k, v in items:
            tb.add(k, v)
        tb.finish()
    return prefix


CASES = {
    "tf1_partitioned": lambda d: copy_checkpoint(TF_FIXTURES / "tf1_partitioned" / "model", d),
    "tf1_sharded": lambda d: copy_checkpoint(TF_FIXTURES / "tf1_sharded" / "model-5", d),
    "savev2_dtypes": lambda d: copy_checkpoint(TF_FIXTURES / "savev2_dtypes" / "bundle", d),
    "strings": _strings_checkpoint,
    "multiblock": _multiblock_checkpoint,
}
ONE_MASK = {"savev2_dtypes"}  # the biggest: one bit flip per byte (the others also get 0xff)


def _files(prefix: str) -> list[str]:
    d, base = os.path.split(prefix)
    return [prefix + ".index"] + sorted(os.path.join(d, n) for n in os.listdir(d) if n.startswith(base + ".data-"))


def _same_index_handle(orig: bytes, new: bytes) -> bool:
    """The footer of ``new`` decodes to the same index block handle as ``orig``'s."""
    try:
        a = Footer.decode(orig[-FOOTER_SIZE:])
        b = Footer.decode(new[-FOOTER_SIZE:])
    except Exception:  # noqa: BLE001
        return False
    return a.index_handle == b.index_handle


def walk(prefix: str, tally: Tally, case: str) -> None:
    original = read_everything(prefix)
    assert original, "fixture has no tensors"
    for f in _files(prefix):
        kind = "index" if f.endswith(".index") else "data"
        regions = index_regions(f) if kind == "index" else data_regions(prefix, f)
        orig = Path(f).read_bytes()
        variants = []
        for pos in range(len(orig)):
            for mask in (1 << (pos % 8),) + (() if case in ONE_MASK else (0xFF,)):
                b = bytearray(orig)
                b[pos] ^= mask
                variants.append((region_of(regions, pos), bytes(b), f"{case}:{os.path.basename(f)}@{pos}^{mask:#04x}"))
        for n in range(len(orig)):
            variants.append(("truncation", orig[:n], f"{case}:{os.path.basename(f)} cut to {n}"))
        variants.append(("extension", orig + b"\0", f"{case}:{os.path.basename(f)} + 1 byte"))
        for region, data, where in variants:
            with damaged(f, data, orig):
                outcome = try_read(prefix, original)
                if outcome.kind == "unchanged":
                    # Prove it is harmless: only where no read depends on the bytes, or where the
                    # footer still decodes to the very same index block handle.
                    if region == "footer: index handle" and _same_index_handle(orig, data):
                        outcome = Outcome("unchanged", "index handle decodes to the same value")
                    elif region in HARMLESS or (region == "extension" and kind == "data"):
                        outcome = Outcome("unchanged", "bytes no read depends on")
                    else:
                        outcome = Outcome("SILENT", f"unchanged values after damage in {region}")
                report = verify_checkpoint(prefix)
                if report.ok:
                    outcome = Outcome("SILENT", f"verify_checkpoint missed damage in {region}: {outcome.detail}")
            tally.add(kind, region, outcome, where)


@pytest.mark.slow
def test_every_byte_flip_and_truncation(tmp_path, capsys):
    tally = Tally()
    for case, make in CASES.items():
        os.makedirs(tmp_path / case)
        prefix = make(tmp_path / case)
        walk(prefix, tally, case)
    text = tally.table()
    (artifacts_dir() / "corruption_walk.txt").write_text(text + "\n")
    with capsys.disabled():
        print("\n" + text)
    assert not tally.bugs, "\n".join(map(str, tally.bugs[:20]))
    kinds = {k[2] for k in tally.counts}
    assert kinds <= {"caught", "unchanged"}
    # The walk really exercised every kind of region.
    regions = {k[1] for k in tally.counts}
    for r in ["data block", "index block", "metaindex block", "footer: index handle", "footer: magic",
              "footer: padding", "footer: metaindex handle", "tensor bytes", "truncation"]:
        assert r in regions, r
    assert tally.tried > 10_000


@pytest.mark.slow
@pytest.mark.parametrize("case", ["savev2_multiblock", "savev2_strings"])
def test_sampled_walk_of_bigger_fixtures(tmp_path, case):
    """Multi-block index and a 50 KB string shard: every footer/index-block byte, a stride elsewhere."""
    prefix = copy_checkpoint(TF_FIXTURES / case / "bundle", tmp_path)
    original = read_everything(prefix)
    lookups = list(original)[:: max(1, len(original) // 20)]  # 10,000 lookups per variant would be slow
    samples = 40 if len(original) > 1000 else 150
    tally = Tally()
    for f in _files(prefix):
        kind = "index" if f.endswith(".index") else "data"
        regions = index_regions(f) if kind == "index" else data_regions(prefix, f)
        orig = Path(f).read_bytes()
        tail = set(range(max(0, len(orig) - FOOTER_SIZE), len(orig))) if kind == "index" else set()
        if kind == "index":
            ih = [r for r in regions if r[2] == "index block"][0]
            tail |= set(range(ih[0], ih[1], max(1, (ih[1] - ih[0]) // 20)))
        positions = sorted(set(range(0, len(orig), max(1, len(orig) // samples))) | tail)
        for pos in positions:
            b = bytearray(orig)
            b[pos] ^= 1 << (pos % 8)
            region = region_of(regions, pos)
            with damaged(f, bytes(b), orig):
                outcome = try_read(prefix, original, lookups)
                if outcome.kind == "unchanged" and not (region in HARMLESS or (
                        region == "footer: index handle" and _same_index_handle(orig, bytes(b)))):
                    outcome = Outcome("SILENT", f"unchanged values after damage in {region}")
            tally.add(kind, region, outcome, f"{case}@{pos}")
    assert not tally.bugs, "\n".join(map(str, tally.bugs[:20]))
    assert any(k[1] == "data block" and k[2] == "caught" for k in tally.counts)


def test_data_flip_without_verify_is_not_detected_by_design(tmp_path):
    """With ``verify=False`` tensor bytes are not checksummed: documented, and the reason verify is the default."""
    from tfckpt_lab.bundle.reader import BundleReader

    prefix = os.path.join(tmp_path, "m")
    write_bundle(prefix, {"w": np.zeros(4, np.float32)})
    data = prefix + ".data-00000-of-00001"
    raw = bytearray(Path(data).read_bytes())
    raw[0] ^= 0x40
    Path(data).write_bytes(bytes(raw))
    with BundleReader(prefix, verify=False) as r:
        assert r.read_tensor("w")[0] != 0  # silently different: that is what verify=False means
    with BundleReader(prefix) as r, pytest.raises(Exception) as info:
        r.read_tensor("w")
    assert type(info.value).__name__ == "ChecksumMismatchError"
