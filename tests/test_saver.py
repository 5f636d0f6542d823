"""Saver, CheckpointManager and state-file writing: unit tests, and TensorFlow reading what they wrote."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

import tfckpt_lab as tl
from tfckpt_lab.checkpoint.files import remove_checkpoint
from tfckpt_lab.checkpoint.manager import SAVE_COUNTER_KEY
from tfckpt_lab.checkpoint.state import get_checkpoint_state, update_checkpoint_state

VALUES = {
    "dense/kernel": np.arange(12, dtype=np.float32).reshape(3, 4),
    "dense/bias": np.array([0.5, -1.5, 2.0, 3.25], np.float32),
    "global_step": np.int64(1000),
    "note": b"hello",
    "counts": np.arange(5, dtype=np.int32),
}


@pytest.fixture
def clock(monkeypatch):
    now = {"t": 1_700_000_000.5}
    monkeypatch.setattr(time, "time", lambda: now["t"])
    return now


def _same(a, b):
    if isinstance(b, bytes):
        assert bytes(np.asarray(a, dtype=object).item()) == b
    else:
        np.testing.assert_array_equal(a, b)
        assert np.asarray(a).dtype == np.asarray(b).dtype


# -- state file ---------------------------------------------------------------------------
def test_state_file_text_and_roundtrip(tmp_path):
    d = str(tmp_path)
    update_checkpoint_state(d, os.path.join(d, "m-2"), [os.path.join(d, "m-1")],
                            all_model_checkpoint_timestamps=[1.5, 2.25], last_preserved_timestamp=0.5)
    text = (tmp_path / "checkpoint").read_text()
    assert text == (f'model_checkpoint_path: "{d}/m-2"\n'
                    f'all_model_checkpoint_paths: "{d}/m-1"\n'
                    f'all_model_checkpoint_paths: "{d}/m-2"\n'
                    "all_model_checkpoint_timestamps: 1.5\n"
                    "all_model_checkpoint_timestamps: 2.25\n"
                    "last_preserved_timestamp: 0.5\n")
    st = get_checkpoint_state(d)
    assert st.all_model_checkpoint_paths == [f"{d}/m-1", f"{d}/m-2"]
    assert st.all_model_checkpoint_timestamps == [1.5, 2.25]
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint"]  # no temp file left behind


def test_state_file_errors(tmp_path):
    d = str(tmp_path)
    with pytest.raises(ValueError, match="timestamps"):
        update_checkpoint_state(d, "m-2", ["m-1"], all_model_checkpoint_timestamps=[1.0])
    with pytest.raises(RuntimeError, match="conflicts"):
        update_checkpoint_state(d, os.path.join(d, "checkpoint"))


# -- Saver --------------------------------------------------------------------------------
def test_saver_deletes_meta_index_and_every_shard(tmp_path, clock):
    saver = tl.Saver(max_to_keep=1, num_shards=3)
    first = saver.save(VALUES, tmp_path / "model", global_step=1)
    (tmp_path / "model-1.meta").write_bytes(b"")
    (tmp_path / "model-1.other").write_bytes(b"")  # not part of the checkpoint: left alone
    saver.save(VALUES, tmp_path / "model", global_step=2)
    assert not any(p.name.startswith("model-1.") and p.name != "model-1.other" for p in tmp_path.iterdir())
    assert tl.latest_checkpoint(tmp_path) == str(tmp_path / "model-2")
    assert first == str(tmp_path / "model-1")


def test_saver_argument_errors(tmp_path):
    saver = tl.Saver()
    with pytest.raises(ValueError, match="path components"):
        saver.save(VALUES, tmp_path / "m", latest_filename="a/b")
    with pytest.raises(ValueError, match="collides"):
        saver.save(VALUES, tmp_path / "checkpoint")
    with pytest.raises(ValueError, match="No variables"):
        saver.save({}, tmp_path / "m")
    with pytest.raises(TypeError):
        saver.save(VALUES, tmp_path / "m", global_step=1.5)
    with pytest.raises(ValueError, match="Parent directory"):
        tl.Saver(sharded=True).save(VALUES, tmp_path / "missing" / "m")
    with pytest.raises(ValueError):
        saver.restore(None)


def test_saver_write_meta_graph(tmp_path):
    import importlib.util

    if importlib.util.find_spec("tfckpt_lab.meta.writer") is None:
        with pytest.raises(tl.UnsupportedError, match="meta"):
            tl.Saver().save(VALUES, tmp_path / "m", write_meta_graph=True)
        return
    floats = {k: v for k, v in VALUES.items() if k != "note"}
    saver = tl.Saver(max_to_keep=1)
    saver.save(floats, tmp_path / "m", global_step=1, write_meta_graph=True)
    assert (tmp_path / "m-1.meta").exists()
    saver.save(floats, tmp_path / "m", global_step=2, write_meta_graph=True)
    assert sorted(p.name for p in tmp_path.glob("*.meta")) == ["m-2.meta"]


def test_saver_keep_hours_uses_float32_and_a_fixed_grid(tmp_path, clock):
    saver = tl.Saver(max_to_keep=1, keep_checkpoint_every_n_hours=0.1)
    assert saver.keep_checkpoint_every_n_hours == float(np.float32(0.1))
    assert saver._next_checkpoint_time == clock["t"] + float(np.float32(0.1)) * 3600


def test_saver_recover_and_set_last_checkpoints(tmp_path):  # real clock: recovery uses file mtimes
    saver = tl.Saver(max_to_keep=2)
    for step in (1, 2):
        saver.save(VALUES, tmp_path / "m", global_step=step)
    paths = get_checkpoint_state(tmp_path).all_model_checkpoint_paths
    again = tl.Saver(max_to_keep=2)
    again.recover_last_checkpoints(paths + [str(tmp_path / "gone")])
    assert again.last_checkpoints == paths
    again.save(VALUES, tmp_path / "m", global_step=3)
    assert not (tmp_path / "m-1.index").exists()
    never = tl.Saver(max_to_keep=1, keep_checkpoint_every_n_hours=1.0)
    never.set_last_checkpoints([str(tmp_path / "m-2")])  # time +inf: always preserved
    never.save(VALUES, tmp_path / "m", global_step=4)
    assert (tmp_path / "m-2.index").exists()
    never.set_last_checkpoints_with_time([(str(tmp_path / "m-3"), 0.0)])
    never.save(VALUES, tmp_path / "m", global_step=5)
    assert not (tmp_path / "m-3.index").exists()


def test_saver_restore_roundtrip(tmp_path):
    prefix = tl.Saver().save(VALUES, tmp_path / "m", global_step=np.asarray(7))
    assert prefix.endswith("m-7")
    got = tl.Saver().restore(prefix)
    for k, v in VALUES.items():
        _same(got[k], v)
    with pytest.raises(tl.CheckpointNotFoundError):
        tl.Saver().restore(tmp_path / "nope")


def test_remove_checkpoint_reports_what_it_removed(tmp_path):
    tl.write_bundle(tmp_path / "x", VALUES, num_shards=2)
    removed = remove_checkpoint(tmp_path / "x")
    assert sorted(os.path.basename(p) for p in removed) == [
        "x.data-00000-of-00002", "x.data-00001-of-00002", "x.index"]
    assert remove_checkpoint(tmp_path / "x") == []


# -- CheckpointManager --------------------------------------------------------------------
def test_manager_rejects_zero(tmp_path):
    with pytest.raises(ValueError, match="positive integer"):
        tl.CheckpointManager(tmp_path, max_to_keep=0)


def test_manager_counter_restore_or_initialize_and_writer_hook(tmp_path, clock):
    m = tl.CheckpointManager(tmp_path, max_to_keep=3)
    assert m.restore_or_initialize() is None
    m.save(VALUES)
    m.save(VALUES, checkpoint_number=np.int64(50))
    assert m.save_counter == 2 and m.latest_checkpoint == os.path.join(str(tmp_path), "ckpt-50")
    assert int(m.restore()[SAVE_COUNTER_KEY]) == 2
    fresh = tl.CheckpointManager(tmp_path, max_to_keep=3)
    assert fresh.save_counter == 0 and fresh.checkpoints == m.checkpoints
    assert fresh.restore_or_initialize() == m.latest_checkpoint and fresh.save_counter == 2
    assert fresh.directory == str(tmp_path)
    calls = []
    hooked = tl.CheckpointManager(tmp_path / "h", max_to_keep=1,
                                  writer=lambda p, v, n: (calls.append((p, n)), tl.write_bundle(p, v)))
    hooked.save(VALUES)
    # The writer writes under a staging name; the manager then moves the files to ckpt-1.
    [(staged, counter)] = calls
    assert counter == 1 and staged.startswith(os.path.join(str(tmp_path / "h"), "ckpt-1.tfckpt-new-"))
    assert sorted(os.listdir(tmp_path / "h")) == ["checkpoint", "ckpt-1.data-00000-of-00001", "ckpt-1.index"]


def test_manager_keep_hours_is_relative_to_last_preserved(tmp_path, clock):
    start = clock["t"]
    m = tl.CheckpointManager(tmp_path, max_to_keep=1, keep_checkpoint_every_n_hours=1.0)
    assert m.last_preserved_timestamp == start - 1.0
    for hours in (0.1, 1.5, 1.6, 1.7, 2.6, 2.7):
        clock["t"] = start + hours * 3600
        m.save(VALUES)
    kept = sorted(p.name[:-6] for p in tmp_path.glob("*.index"))
    # 1.5 h is the first >= 1 h after the start; 2.6 h is the first >= 1 h after 1.5 h
    assert kept == ["ckpt-2", "ckpt-5", "ckpt-6"]
    assert m.last_preserved_timestamp == start + 2.6 * 3600


def test_demo_checkpoint_has_a_state_file(tmp_path):
    from tfckpt_lab.demo import make_demo_checkpoint

    prefix = make_demo_checkpoint(tmp_path)
    assert tl.latest_checkpoint(tmp_path) == prefix
    assert sorted(tl.load_checkpoint(tmp_path).keys()) == ["w1", "w2"]


# -- TensorFlow reads what we wrote --------------------------------------------------------
def _tf_values(tf, prefix):
    reader = tf.train.load_checkpoint(prefix)
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()}


@pytest.mark.tf
@pytest.mark.parametrize("num_shards", [1, 3])
def test_tensorflow_restores_what_saver_wrote(tf, tmp_path, num_shards):
    saver = tl.Saver(max_to_keep=2, num_shards=num_shards)
    for step in (1, 2, 3):
        prefix = saver.save(VALUES, str(tmp_path / "model"), global_step=step)
    assert tf.train.latest_checkpoint(str(tmp_path)) == prefix
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert list(state.all_model_checkpoint_paths) == saver.last_checkpoints
    assert len(list(tmp_path.glob("model-3.data-*"))) == num_shards
    got = _tf_values(tf, prefix)
    assert sorted(got) == sorted(VALUES)
    for k, v in VALUES.items():
        _same(got[k], v)
    # and a TF1 graph-mode Saver restores it into variables
    floats = {k: v for k, v in VALUES.items() if isinstance(v, np.ndarray) and v.dtype == np.float32}
    with tf.Graph().as_default():
        variables = {k: tf.compat.v1.Variable(np.zeros_like(v), name=k.replace("/", "_"))
                     for k, v in floats.items()}
        tf_saver = tf.compat.v1.train.Saver(variables)
        with tf.compat.v1.Session() as sess:
            tf_saver.restore(sess, prefix)
            for k, v in floats.items():
                np.testing.assert_array_equal(sess.run(variables[k]), v)


@pytest.mark.tf
@pytest.mark.parametrize("num_shards", [1, 3])
def test_tensorflow_reads_what_manager_wrote(tf, tmp_path, num_shards):
    m = tl.CheckpointManager(str(tmp_path), max_to_keep=2, num_shards=num_shards)
    for _ in range(3):
        prefix = m.save(VALUES)
    got = _tf_values(tf, prefix)
    assert int(got[SAVE_COUNTER_KEY]) == 3
    for k, v in VALUES.items():
        _same(got[k], v)
    # TF's own manager picks up our state file: same list, same latest
    tf_manager = tf.train.CheckpointManager(tf.train.Checkpoint(), str(tmp_path), max_to_keep=2)
    assert tf_manager.checkpoints == m.checkpoints
    assert tf_manager.latest_checkpoint == m.latest_checkpoint
    # (restoring into tf.train.Checkpoint objects needs _CHECKPOINTABLE_OBJECT_GRAPH,
    # which the default writer does not write; see the manager's writer= hook)


@pytest.mark.tf
def test_manager_with_object_writer_restores_into_tf_checkpoint(tf, tmp_path):
    object_writer = pytest.importorskip("tfckpt_lab.checkpoint.object_writer")
    m = tl.CheckpointManager(str(tmp_path), max_to_keep=2, writer=object_writer.write_object_checkpoint)
    for i in range(3):
        m.save({"model": {"w": np.full(3, i, np.float32)}})
    module = tf.Module()
    module.w = tf.Variable(np.zeros(3, np.float32))
    ckpt = tf.train.Checkpoint(model=module)
    ckpt.restore(tf.train.latest_checkpoint(str(tmp_path))).assert_consumed()
    np.testing.assert_array_equal(module.w.numpy(), np.full(3, 2, np.float32))
    assert int(ckpt.save_counter.numpy()) == 3
