"""Cheap guards against performance regressions, as ratios measured in the same run.

No wall-clock absolutes (CI machines and a shared laptop differ by 10x): each
check times our code against a reference doing the unavoidable part of the
same job in the same process, takes medians, and allows a wide margin over
what benchmarks/run.py measures (see docs/performance.md), so that only a real
regression -- an extra copy, a per-entry protobuf parse, a heavy import --
trips them.  The timed tests take about 15 seconds together, so they are marked ``slow``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import pytest

import tfckpt_lab as tl

MiB = 1 << 20

pytestmark = pytest.mark.timing


def median_ratio(ours, reference, reps: int = 9, before=None, timer=time.perf_counter) -> float:
    """The median, over ``reps`` paired runs, of our time divided by the reference's time.

    Each pair times ``ours`` and ``reference`` back to back (which of the two goes first
    alternates from pair to pair), so a burst of load from another process slows both halves of
    one pair and largely cancels in its ratio; the median of the ratios then ignores the few
    pairs where it did not.  ``before()`` runs untimed before every timing (e.g. to flush
    earlier writes).  ``timer`` is the clock (a fake one in the helper's own test).
    """
    ratios = []
    for i in range(reps):
        pair = {}
        for fn in ((ours, reference) if i % 2 == 0 else (reference, ours)):
            if before is not None:
                before()
            t = timer()
            fn()
            pair[fn] = timer() - t
        ratios.append(pair[ours] / pair[reference])
    return statistics.median(ratios)


def test_median_ratio_is_the_median_of_paired_ratios():
    """The helper does what its name says: one slow pair (noise) does not move it, and it is not a best-of-N."""
    ours_times = iter([1.0, 1.0, 9.0, 1.0, 1.0])  # pair 3 hit a burst of load
    ref_times = iter([0.5, 0.25, 1.0, 0.5, 0.5])
    clock = [0.0]

    def timed(times):
        def fn():
            clock[0] += next(times)
        return fn

    r = median_ratio(timed(ours_times), timed(ref_times), reps=5, timer=lambda: clock[0])
    # ratios 2, 4, 9, 2, 2: median 2 (best-of-N would give 1.0 / 0.25 = 4, a mean 3.8)
    assert r == 2.0


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A 64 MiB checkpoint: 8 float32 tensors of 8 MiB."""
    prefix = str(tmp_path_factory.mktemp("perf") / "big")
    rng = np.random.default_rng(0)
    tl.write_bundle(prefix, {f"t{i}": rng.standard_normal(2 * MiB, dtype=np.float32) for i in range(8)})
    data = prefix + ".data-00000-of-00001"
    with open(data, "rb") as f:  # warm the page cache for everyone
        f.read()
    return prefix, data


def _raw_read(data, n=8, size=8 * MiB):
    with open(data, "rb", buffering=0) as f:
        for _ in range(n):
            f.readinto(np.empty(size, np.uint8))


@pytest.mark.slow
def test_read_without_verify_is_close_to_a_raw_read(big):
    prefix, data = big

    def ours():
        with tl.load_checkpoint(prefix, verify=False) as r:
            for i in range(8):
                r.get_tensor(f"t{i}", verify=False)

    r = median_ratio(ours, lambda: _raw_read(data))
    assert r < 4.0, f"reading without verification took {r:.2f}x a raw read (measured 1.2-2x)"


@pytest.mark.slow
def test_read_with_verify_costs_about_one_crc_pass(big):
    prefix, data = big

    def ours():
        with tl.load_checkpoint(prefix) as r:
            for i in range(8):
                r.get_tensor(f"t{i}")

    r = median_ratio(ours, lambda: _raw_read(data))
    assert r < 6.0, f"reading with verification took {r:.2f}x a raw read (measured 1.4-2.6x)"


@pytest.mark.slow
def test_zero_copy_read_does_not_touch_the_bytes(big):
    prefix, data = big

    def ours():
        with tl.load_checkpoint(prefix, verify=False) as r:
            for i in range(8):
                r.get_tensor(f"t{i}", verify=False, copy=False)

    r = median_ratio(ours, lambda: _raw_read(data))
    assert r < 0.5, f"zero-copy views took {r:.2f}x a raw read: something copies (measured < 0.1x)"


@pytest.mark.slow
def test_write_is_close_to_a_raw_write(tmp_path):
    rng = np.random.default_rng(1)
    tensors = {f"t{i}": rng.standard_normal(2 * MiB, dtype=np.float32) for i in range(4)}

    def ours():
        tl.write_bundle(str(tmp_path / "ours"), tensors)

    def raw():
        with open(tmp_path / "raw.bin", "wb") as f:
            for a in tensors.values():
                f.write(a.data)

    r = median_ratio(ours, raw, before=os.sync)  # no contender pays for another's writeback
    assert r < 5.0, f"writing took {r:.2f}x a raw write (measured 1.6-2.3x at this small size)"


@pytest.mark.slow
def test_listing_20000_entries(tmp_path):
    """Listing must stay a small multiple of building its own output from ready-made Python data."""
    n = 20_000
    names = [f"model/layer_{i // 100:03d}/var_{i % 100:02d}/kernel" for i in range(n)]
    prefix = str(tmp_path / "many")
    tl.write_bundle(prefix, {name: np.zeros((3, 4), np.float32) for name in names})
    keys = [name.encode() for name in names]
    shapes = [(3, 4)] * n

    def ours():
        with tl.load_checkpoint(prefix) as r:
            assert len(r.get_variable_to_shape_map()) == n

    def floor():  # decode every key and build the answer: any Python reader does at least this
        assert len({k.decode(): list(s) for k, s in zip(keys, shapes)}) == n

    r = median_ratio(ours, floor)
    # Measured 9-11x; before the summary parse (a BundleEntry and shape walk per entry) it was ~37x.
    assert r < 25, f"listing {n:,} entries took {r:.1f}x the floor (measured 9-11x)"


_FORBIDDEN = ["matplotlib", "ipywidgets", "IPython", "google.protobuf.text_format", "tensorflow",
              "fsspec", "cramjam", "psutil", "pandas"]

_IMPORT_PROBE = """
import json, sys, time
t = time.perf_counter()
import tfckpt_lab
dt = time.perf_counter() - t
light = sorted(m for m in {forbidden!r} if m in sys.modules)
tfckpt_lab.load_checkpoint, tfckpt_lab.write_bundle, tfckpt_lab.BundleReader
import tfckpt_lab.checkpoint.reader, tfckpt_lab.bundle.writer
used = sorted(m for m in {forbidden!r} if m in sys.modules)
print(json.dumps({{"seconds": dt, "after_import": light, "after_first_use": used}}))
"""


@pytest.mark.slow
def test_import_is_light():
    """``import tfckpt_lab`` (and first use of the reader/writer) loads none of the heavy optional modules."""
    results = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", _IMPORT_PROBE.format(forbidden=_FORBIDDEN)],
                             capture_output=True, text=True, check=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    assert results[0]["after_import"] == [], results[0]
    assert results[0]["after_first_use"] == [], results[0]
    seconds = statistics.median(r["seconds"] for r in results)
    assert seconds < 0.3, f"import tfckpt_lab took {seconds:.3f} s (target < 0.3 s; measured ~2 ms)"
