"""Huge files in bounded memory: verify reads in chunks (issue 13 item 7), layout caps per-element regions (item 6).

Sparse files (``truncate``) stand in for real big ones: they cost no disk, and reading them costs
what reading real bytes from the page cache costs.  Peak memory is measured in a fresh process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import tfckpt_lab as tl
from tfckpt_lab.checkpoint.verify import verify_checkpoint
from tfckpt_lab.codecs import crc32c_extend, mask_crc

sys.path.insert(0, str(Path(__file__).parent))
from hostile_cases import DT_FLOAT, entry, write  # noqa: E402

MiB, GiB = 1 << 20, 1 << 30
ROOT = Path(__file__).resolve().parents[1]

_FRESH = textwrap.dedent("""
    import json, sys, time
    def hwm():
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) * 1024
    {setup}
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # reset the high-water mark: count only what follows
    base = hwm()
    t = time.perf_counter()
    {run}
    print(json.dumps(dict(out, seconds=time.perf_counter() - t, peak=hwm() - base)))
""")


def fresh(setup: str, run: str) -> dict:
    code = _FRESH.format(setup=setup, run=run)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _zeros_crc(n: int) -> int:
    zeros = np.zeros(64 * MiB, np.uint8)
    crc = 0
    for pos in range(0, n, len(zeros)):
        crc = crc32c_extend(crc, zeros[: min(len(zeros), n - pos)])
    return crc


@pytest.mark.slow
def test_verify_of_a_10_gib_sparse_shard_needs_little_memory(tmp_path):
    prefix = str(tmp_path / "sparse")
    crc = mask_crc(_zeros_crc(GiB))
    items = {b"t%02d" % i: entry(DT_FLOAT, (GiB // 4,), 0, i * GiB, GiB, crc) for i in range(10)}
    # twenty more entries over the first gigabyte, with the same checksum: checked once, not twenty times
    items.update({b"u%02d" % i: entry(DT_FLOAT, (GiB // 4,), 0, 0, GiB, crc) for i in range(20)})
    write(prefix, items)
    with open(prefix + ".data-00000-of-00001", "r+b") as f:
        f.truncate(10 * GiB)
    got = fresh("from tfckpt_lab.checkpoint.verify import verify_checkpoint",
                f"r = verify_checkpoint({prefix!r}); out = dict(checked=r.bytes_checked, "
                "tensors=r.tensors_checked, problems=[p.message for p in r.problems])")
    assert got["peak"] < 150 * MiB, got
    assert got["tensors"] == 30
    assert 10 * GiB <= got["checked"] < 10 * GiB + MiB  # each byte read once
    assert got["problems"] and all("more than one tensor" in m for m in got["problems"]), got["problems"]
    print(f"verify, 10 GiB sparse shard: {got['seconds']:.1f} s, peak {got['peak'] / MiB:.1f} MiB")


def test_verify_rereads_overlapping_bytes_a_bounded_number_of_times(tmp_path):
    prefix = str(tmp_path / "ovl")
    size = 16 * MiB
    good = mask_crc(_zeros_crc(8 * MiB))
    # 40 entries of 8 MiB sliding by 128 KiB: every byte of the middle is claimed ~40 times
    items = {b"w%02d" % i: entry(DT_FLOAT, (2 * MiB,), 0, i * 128 * 1024, 8 * MiB, good) for i in range(40)}
    write(prefix, items)
    with open(prefix + ".data-00000-of-00001", "r+b") as f:
        f.truncate(size)
    report = verify_checkpoint(prefix)
    assert report.bytes_checked <= 2 * size + 8 * MiB  # the shard once, plus at most its size again
    skipped = [p for p in report.problems if "not checked" in p.message]
    assert skipped and report.tensors_checked + len(skipped) == 40
    assert any("more than one tensor" in p.message for p in report.problems)  # the overlap itself is reported


def test_duplicate_entries_share_one_check_and_name_each_other(tmp_path):
    prefix = str(tmp_path / "dup")
    items = {b"a": entry(DT_FLOAT, (4,), 0, 0, 16, 12345), b"b": entry(DT_FLOAT, (4,), 0, 0, 16, 12345)}
    write(prefix, items, data=b"\1" * 16)
    report = verify_checkpoint(prefix)
    msgs = [p.message for p in report.problems]
    assert any(m.startswith("tensor 'a' checksum mismatch") for m in msgs)
    assert any(m.startswith("tensor 'b' has the same bytes and checksum as 'a'") for m in msgs)


def test_chunked_verified_read_matches_one_pass(tmp_path):
    """A tensor bigger than several chunks is read and checksummed in pieces: the same value, the same errors."""
    from tfckpt_lab.bundle import chunks

    prefix = str(tmp_path / "m")
    big = np.random.default_rng(0).standard_normal(3 * chunks.CHUNK // 4 + 123, dtype=np.float32)
    tl.write_bundle(prefix, {"big": big, "s": np.array([b"x" * 100, b""] * 50_000, object)})
    with tl.load_checkpoint(prefix) as r:
        assert np.array_equal(r["big"], big)
        r.lowlevel.check_tensor("big")
        r.lowlevel.check_tensor("s")
    data = prefix + ".data-00000-of-00001"
    e = tl.load_checkpoint(prefix).entry("big")
    raw = bytearray(Path(data).read_bytes())
    raw[e.offset + e.size - 1] ^= 1  # the last byte, in the last chunk
    Path(data).write_bytes(bytes(raw))
    with tl.load_checkpoint(prefix) as r:
        with pytest.raises(tl.ChecksumMismatchError) as read_err:
            r["big"]
        with pytest.raises(tl.ChecksumMismatchError) as check_err:
            r.lowlevel.check_tensor("big")
    assert str(read_err.value) == str(check_err.value)
    assert (read_err.value.offset, read_err.value.end) == (e.offset, e.end)


@pytest.mark.slow
def test_layout_json_of_two_million_empty_strings_streams_in_bounded_memory(tmp_path):
    prefix = str(tmp_path / "strings")
    n = 2_000_000
    tl.write_bundle(prefix, {"s": np.array([b""] * n, object)})
    shard = prefix + ".data-00000-of-00001"
    out = tmp_path / "layout.json"
    got = fresh("import sys\nfrom tfckpt_lab.cli import main",
                f"sys.stdout = open({str(out)!r}, 'w')\nmain(['layout', {shard!r}, '--json'])\n"
                "sys.stdout.close()\nsys.stdout = sys.__stdout__\nout = {}")
    assert got["peak"] < 150 * MiB, got
    varints, tail = 0, ""
    with open(out) as f:  # count the regions without loading 300+ MB of JSON
        while chunk := f.read(1 << 24):
            text = tail + chunk
            varints += text.count('"kind": "varint"')
            tail = text[-20:]
            varints -= tail.count('"kind": "varint"')
    varints += tail.count('"kind": "varint"')
    assert varints == n  # every element's length is there, in its group
    print(f"layout --json, {n:,} empty strings: {got['seconds']:.1f} s, peak {got['peak'] / MiB:.1f} MiB, "
          f"{out.stat().st_size / MiB:.0f} MiB of JSON")


def test_chunked_reads_and_crcs_agree_with_one_pass(tmp_path):
    from tfckpt_lab.bundle import chunks
    from tfckpt_lab.codecs import crc32c
    from tfckpt_lab.errors import TruncatedError
    from tfckpt_lab.fileio import RandomAccessFile

    data = os.urandom(3 * MiB + 12345)
    path = tmp_path / "bytes"
    path.write_bytes(data)
    with RandomAccessFile(path) as f:
        out = np.empty(len(data) - 7, np.uint8)
        assert chunks.read_with_crc(f, 7, out) == crc32c(data[7:]) and out.tobytes() == data[7:]
        assert chunks.crc_of_range(f, 100, len(data) - 200) == crc32c(data[100:-100])
        assert chunks.crc_of_range(f, 0, 10, crc32c(b"x")) == crc32c(b"x" + data[:10])
        with pytest.raises(TruncatedError):  # a range past the end fails in the chunk that runs off it
            chunks.read_with_crc(f, len(data) - MiB, np.empty(2 * MiB, np.uint8))


def test_file_region_reads_a_window_of_a_big_file_not_all_of_it(tmp_path):
    from tfckpt_lab.explain import layout

    prefix = str(tmp_path / "w")
    tl.write_bundle(prefix, {"w": np.arange(4, dtype=np.float32)})
    shard = prefix + ".data-00000-of-00001"
    with open(shard, "r+b") as f:
        f.truncate(64 * MiB)  # a big shard: 16 bytes of tensor, the rest unreferenced
    tree = layout(shard)
    assert tree.read(4, 8) == np.float32(1).tobytes() and tree.read(64 * MiB - 2) == b"\0\0"
    assert tree._data is None  # nothing kept
