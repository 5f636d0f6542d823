"""Real model sizes, measured in a fresh process: exploring a 10 GiB checkpoint, and the Values tab
on a 2.4 GB tensor (issue 12 "real model sizes", issue 16 item 8).  The checkpoints are sparse
files (benchmarks/views.py builds them), so they cost a few MB of disk."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")

_spec = importlib.util.spec_from_file_location("bench_views", Path(__file__).parent.parent / "benchmarks" / "views.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


@pytest.mark.slow
def test_exploring_a_10_gib_checkpoint_stays_under_150_mib(tmp_path):
    prefix = bench.sparse_checkpoint(str(tmp_path / "model-1"), bench.BIG_TENSORS, checksums=False)
    r = bench.in_fresh_process("explore_everything", prefix, 500, False)
    assert r["bytes"] > 10 * 2**30
    assert r["peak_mib"] < 150, r["steps"]
    steps = {s["step"].split(":")[0]: s for s in r["steps"]}
    assert "Bytes" in steps and any(k.startswith("select 'model/embedding/table'") for k in steps)
    assert r["last_byte"] == "tensor"  # the very last byte of the 10 GiB shard was picked and explained
    assert r["selected_at_the_end"] == "step"  # ... and selected the tensor it belongs to
    assert r["lab_error"].startswith("this checkpoint is 10,") and "copies at most 512 MiB" in r["lab_error"]
    assert "a sample: 1,048,576 of 2,150,400,000 elements" in r["values_note"]


@pytest.mark.slow
def test_values_tab_on_a_2_4_gb_tensor_in_bounded_memory(tmp_path):
    prefix = bench.sparse_checkpoint(str(tmp_path / "model-1"), bench.TENSOR_2G4, checksums=False)
    r = bench.in_fresh_process("values_tab", prefix, "huge", False)
    assert "SAMPLE" in r["sample_note"] and "1,048,576 of 600,000,000 elements" in r["sample_note"]
    assert r["after_sample_mib"] - r["before_mib"] < 60 and r["peak_mib"] < 200
    assert r["sample_seconds"] < 20  # was 42 s and 12.1 GB; about 2 s here, most of it drawing the picture


@pytest.mark.slow
def test_scan_streams_a_large_tensor_in_bounded_memory(tmp_path):
    prefix = bench.sparse_checkpoint(str(tmp_path / "model-1"), [("big", "float32", (150_000, 1000))])
    r = bench.in_fresh_process("values_tab", prefix, "big", True)
    assert "every element read, streamed through a 4.0 MiB buffer" in r["scan_note"]
    assert "stored CRC-32C: matches every byte read" in r["scan_note"]
    assert r["peak_mib"] - r["after_sample_mib"] < 40  # 572 MiB scanned through a few 4 MiB buffers
