"""Our BundleWriter rebuilds TensorFlow's sharded and partitioned checkpoints byte for byte (issue 16, item 6).

TensorFlow writes a sharded checkpoint as one bundle per device (TF1 ``Saver(sharded=True)``)
or per shard of a sharding policy (TF2 ``MaxShardSizePolicy``) and merges them with
``MergeV2Checkpoints``.  The merge lists a partitioned variable's slices bundle by bundle and
gives its full (description) entry the shard id of the first bundle that holds a piece of it.

Each test reads a checkpoint TensorFlow 2.21 wrote (tests/fixtures/tf), replays every stored
tensor into a :class:`~tfckpt_lab.BundleWriter` -- each piece with ``add_slice`` on its shard,
shards visited in *reverse* order so that nothing depends on the order of the calls across
shards -- and compares the ``.index`` and every ``.data`` file with TensorFlow's.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from conftest import TF_FIXTURES, fixture_cases, load_expected, slow_params

import tfckpt_lab as tl
from tfckpt_lab.bundle import BundleWriter
from tfckpt_lab.bundle.naming import data_path
from tfckpt_lab.bundle.slices import encode_slice_key


def _prefixes():
    out = []
    for case in fixture_cases():
        exp = load_expected(case)
        for prefix in [exp["prefix"], *exp.get("other_prefixes", {})]:
            if os.path.exists(TF_FIXTURES / case / (prefix + ".index")):
                out.append(f"{case}/{prefix}")
    return out


PREFIXES = _prefixes()
SHARDED_OR_SLICED = ["tf1_sharded/model-5", "tf1_sharded_partitioned/model", "tf2_maxshard_slices/max48/ckpt",
                     "tf2_maxshard_slices/max100/ckpt", "tf2_multishard/maxshard/ckpt",
                     "tf2_multishard/bydevice/ckpt", "tf1_partitioned/model", "tf1_big_meta/model",
                     "tf1_partial_partitioned/one_piece", "tf1_partial_partitioned/ema"]


def replay(source, target) -> None:
    """Write every tensor of checkpoint ``source`` again at ``target``, as TF's writers would."""
    with tl.load_checkpoint(source) as checkpoint:
        _replay(checkpoint.lowlevel, target)


def _replay(reader, target) -> None:
    entries = reader.entries()
    pieces = {encode_slice_key(e.key, s): (e.key, e.shape, s) for e in entries.values() for s in e.slices}
    by_shard: dict[int, list] = {}
    for e in entries.values():
        if not e.slices:
            by_shard.setdefault(e.shard_id, []).append(e)
    with BundleWriter(target, num_shards=reader.num_shards) as w:
        for shard in sorted(by_shard, reverse=True):
            for e in sorted(by_shard[shard], key=lambda x: x.offset):  # data order within a shard
                value = reader.read_tensor(e)
                if e.key in pieces:
                    name, full_shape, piece = pieces[e.key]
                    w.add_slice(name, full_shape, piece, value, shard=shard)
                else:
                    w.add(e.key, value, shard=shard)


def _num_shards(prefix) -> int:
    with tl.load_checkpoint(prefix) as reader:
        return reader.lowlevel.num_shards


def _assert_same_files(ours, theirs, num_shards):
    files = [".index"] + [data_path("", i, num_shards) for i in range(num_shards)]
    for suffix in files:
        a, b = Path(f"{ours}{suffix}").read_bytes(), Path(f"{theirs}{suffix}").read_bytes()
        if a != b:
            at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            pytest.fail(f"{suffix} differs from TensorFlow's first at byte {at} (sizes {len(a)}, {len(b)})")


def test_the_cases_that_matter_are_there():
    assert set(SHARDED_OR_SLICED) <= set(PREFIXES)
    shards = {p: _num_shards(TF_FIXTURES / p) for p in SHARDED_OR_SLICED}
    assert shards["tf1_sharded_partitioned/model"] == 4 and shards["tf2_maxshard_slices/max48/ckpt"] >= 5
    # the rule at work: a description entry whose first piece is not in shard 0
    with tl.load_checkpoint(TF_FIXTURES / "tf2_maxshard_slices/max48/ckpt") as reader:
        entries = reader.entries()
    assert any(e.slices and e.shard_id > 0 for e in entries.values())


@pytest.mark.parametrize("prefix", slow_params(PREFIXES, "savev2_multiblock/bundle"))
def test_replay_is_byte_identical(prefix, tmp_path):
    source = TF_FIXTURES / prefix
    replay(source, tmp_path / "ours")
    _assert_same_files(tmp_path / "ours", source, _num_shards(source))


def test_description_entry_takes_the_lowest_shard(tmp_path):
    from tfckpt_lab.bundle import Extent, TensorSlice

    full = np.arange(12, dtype=np.float32).reshape(6, 2)
    with BundleWriter(tmp_path / "p", num_shards=4) as w:
        for shard, start in [(3, 4), (1, 2), (2, 0)]:
            w.add_slice("v", full.shape, TensorSlice((Extent(start, 2), Extent())), full[start:start + 2],
                        shard=shard)
        w.add("w", np.zeros(1, np.float32), shard=0)
    with tl.load_checkpoint(tmp_path / "p") as reader:
        e = reader.entry("v")
        assert e.shard_id == 1
        assert [str(s) for s in e.slices] == ["2,2:-", "0,2:-", "4,2:-"]  # shard 1, 2, 3
        np.testing.assert_array_equal(reader.get_tensor("v"), full)


@pytest.mark.tf
@pytest.mark.parametrize("max_shard_size", [24, 40, 64, 1000])
def test_live_maxshardsize_policy_replays_byte_identical(tf, tmp_path, max_shard_size):
    from tensorflow.python.checkpoint.sharding import sharding_policies

    rng = np.random.default_rng(max_shard_size)
    root = tf.Module()
    for k, shape in enumerate([(7, 3), (11,), (), (2, 5, 2), (13, 1)]):
        setattr(root, f"v{k}", tf.Variable(rng.standard_normal(shape).astype(np.float32 if k % 2 else np.float64)))
    root.text = tf.Variable([b"a" * 9, b"", b"bb"])
    options = tf.train.CheckpointOptions(
        experimental_sharding_callback=sharding_policies.MaxShardSizePolicy(max_shard_size=max_shard_size))
    theirs = tf.train.Checkpoint(model=root).write(str(tmp_path / "tf" / "ckpt"), options=options)
    replay(theirs, tmp_path / "ours")
    _assert_same_files(tmp_path / "ours", theirs, _num_shards(theirs))
