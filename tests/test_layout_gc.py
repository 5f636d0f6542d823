"""Regions are built with the cyclic garbage collector paused.

In a process holding many objects (TensorFlow's, a notebook's), collections
that run while a block's entries are built walk them again and again: that made
the layout of a 100,000-entry ``.index`` cost about 0.9 s instead of 0.4 s
(benchmarks/run.py). The tests spy on the loaders that build children and
record whether the collector was running when each was called; the collector
may run between loads, where it finds the finished objects once.
"""

from __future__ import annotations

import gc
import json

import numpy as np
import pytest

from tfckpt_lab import write_bundle
from tfckpt_lab.explain import layout
from tfckpt_lab.explain.region import Region

N = 3000  # entries: tens of thousands of objects when expanded, far past the collector's first threshold


@pytest.fixture
def index_path(tmp_path):
    prefix = str(tmp_path / "many")
    write_bundle(prefix, {f"layer_{i // 100:03d}/var_{i % 100:02d}": np.float32(i) for i in range(N)})
    return prefix + ".index"


def _spy(regions, seen: list[bool]) -> None:
    """Wrap each region's pending loader so that it records ``gc.isenabled()`` when called."""
    for r in regions:
        loader = r._loader
        assert loader is not None, r.describe()

        def spied(region, loader=loader):
            seen.append(gc.isenabled())
            return loader(region)

        r._loader = spied


def _blocks(tree):
    return [b for b in tree.children if b.kind == "data_block"]


def test_blocks_and_entries_are_built_with_the_collector_paused(index_path):
    tree = layout(index_path)
    seen: list[bool] = []
    blocks = _blocks(tree)
    _spy(blocks, seen)
    entries = [e for b in blocks for e in b.children if e.kind == "entry"]
    assert len(entries) == N + 1  # every variable and the header entry
    _spy(entries, seen)
    fields = sum(len(e.children) for e in entries)
    assert fields == 5 * len(entries) - 1  # shared, non_shared, value_length, key delta, value; the header's key is empty
    assert len(seen) == len(blocks) + len(entries)
    assert not any(seen)
    assert gc.isenabled()


def test_streamed_json_builds_with_the_collector_paused_and_matches_to_dict(index_path):
    tree = layout(index_path)
    seen: list[bool] = []
    _spy(_blocks(tree), seen)
    streamed = "".join(tree.iter_json())
    assert seen and not any(seen)
    assert gc.isenabled()
    assert json.loads(streamed) == layout(index_path).to_dict()


def test_a_failing_loader_leaves_the_collector_running():
    def broken(_region):
        raise RuntimeError("loader failed")

    r = Region(0, 4, "x", loader=broken)
    with pytest.raises(RuntimeError, match="loader failed"):
        r.children
    assert gc.isenabled()


def test_a_caller_that_paused_the_collector_keeps_it_paused(index_path):
    gc.disable()
    try:
        for b in _blocks(layout(index_path)):
            assert b.children
        assert not gc.isenabled()
    finally:
        gc.enable()
