"""Hostile inputs (valid checksums, malicious sizes/offsets/shapes) are refused cheaply.

Every case in :mod:`hostile_cases` must raise a CheckpointError from every way of reading
it (never another exception type) and be reported by ``verify_checkpoint``, within a time
limit, with a peak Python allocation (``tracemalloc``: numpy buffers included) far below
100 MB; a fresh process running every case must also stay below 100 MB of extra peak RSS.
Each test asserts its own figures, prints them (``pytest -rP`` shows them) and records them as
test properties (``--junitxml`` keeps them); nothing is written to disk.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from corruptlib import time_limit
from hostile_cases import CASES, exercise

from tfckpt_lab.errors import CheckpointError

LIMIT = 100 * 2**20  # bytes: peak Python allocation per case, and peak RSS growth of a fresh process
TIME_LIMIT = 5.0  # seconds per case, every way of reading it


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_index_is_refused_cheaply(tmp_path, name, record_property):
    prefix = CASES[name](str(tmp_path / "h"))
    size = os.path.getsize(prefix + ".index")
    assert size <= 10 * 1024, f"{name}: the hostile index should be small ({size} bytes)"
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with time_limit(10):
            raised = exercise(prefix)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - t0
    assert raised, f"{name}: nothing refused it"
    assert ("verify", None) not in raised, f"{name}: verify_checkpoint reported no problem"
    reading = [(s, e) for s, e in raised if s != "verify"]
    assert reading, f"{name}: every read succeeded"
    for _, exc in reading:
        assert isinstance(exc, CheckpointError)
        assert exc.path, f"{name}: error names no file: {exc}"
    first = f"{type(reading[0][1]).__name__}: {reading[0][1].message[:60]}"
    record_property("peak_alloc_bytes", peak)
    record_property("seconds", round(elapsed, 4))
    print(f"{name}: peak allocation {peak / 2**20:.2f} MB, {elapsed * 1000:.0f} ms, refused with {first}")
    assert peak < LIMIT, f"{name}: peak allocation {peak / 2**20:.1f} MB"
    assert elapsed < TIME_LIMIT, f"{name}: took {elapsed:.1f} s"


@pytest.mark.slow
def test_hostile_cases_peak_rss_in_a_fresh_process(tmp_path, record_property):
    """RSS counts what tracemalloc cannot see (upb arenas, Rust/C allocations)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    code = ("import sys, hostile_cases, tfckpt_lab.bundle.reader, tfckpt_lab.checkpoint.verify, "
            "tfckpt_lab.protos.tensor_bundle_pb2; hostile_cases.main(sys.argv[1])")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    fields = dict(kv.split("=") for kv in out.stdout.split()[-2:])
    growth = int(fields["peak_rss"]) - int(fields["baseline_rss"])
    assert int(fields["baseline_rss"]) > 0 and growth >= 0, out.stdout  # real measurements, not zeros
    record_property("peak_rss_growth_bytes", growth)
    print(f"fresh process, all {len(CASES)} cases: peak RSS grew by {growth / 2**20:.2f} MB")
    assert growth < LIMIT, f"peak RSS grew by {growth / 2**20:.1f} MB"
