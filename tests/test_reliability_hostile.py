"""Hostile inputs (valid checksums, malicious sizes/offsets/shapes) are refused cheaply.

Every case in :mod:`hostile_cases` must raise a CheckpointError from every way of reading
it (never another exception type) and be reported by ``verify_checkpoint``, within a time
limit, with a peak Python allocation (``tracemalloc``: numpy buffers included) far below
100 MB; a fresh process running every case must also stay below 100 MB of extra peak RSS.
The figures are printed and written to ``tests/artifacts/hostile_alloc.txt``.
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

ARTIFACTS = Path(__file__).parent / "artifacts"
LIMIT = 100 * 2**20
_results: dict[str, tuple[int, float, str]] = {}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_index_is_refused_cheaply(tmp_path, name):
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
    _results[name] = (peak, elapsed, f"{type(reading[0][1]).__name__}: {reading[0][1].message[:60]}")
    assert peak < LIMIT, f"{name}: peak allocation {peak / 2**20:.1f} MB"
    assert elapsed < 5, f"{name}: took {elapsed:.1f} s"


def test_hostile_cases_peak_rss_in_a_fresh_process(tmp_path):
    """RSS counts what tracemalloc cannot see (upb arenas, Rust/C allocations)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    code = ("import sys, hostile_cases, tfckpt_lab.bundle.reader, tfckpt_lab.checkpoint.verify, "
            "tfckpt_lab.protos.tensor_bundle_pb2; hostile_cases.main(sys.argv[1])")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    fields = dict(kv.split("=") for kv in out.stdout.split()[-2:])
    growth = int(fields["peak_rss"]) - int(fields["baseline_rss"])
    _results["(fresh process, all cases) peak RSS growth"] = (growth, 0.0, "")
    assert growth < LIMIT, f"peak RSS grew by {growth / 2**20:.1f} MB"


def test_zz_write_figures(capsys):
    """Print and save the table of peak allocations (runs last in this module)."""
    if not _results:
        pytest.skip("no results collected")
    lines = [f"{'case':42} {'peak':>10} {'time':>7}  refused with"]
    for name, (peak, t, first) in sorted(_results.items(), key=lambda kv: -kv[1][0]):
        lines.append(f"{name:42} {peak / 2**20:8.2f}MB {t * 1000:6.0f}ms  {first}")
    text = "\n".join(lines)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "hostile_alloc.txt").write_text(text + "\n")
    with capsys.disabled():
        print("\n" + text)
