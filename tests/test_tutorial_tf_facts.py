"""What the tutorial says about TensorFlow, checked against real TensorFlow (skipped without it).

Each test backs a sentence of a notebook or an exercise checker (see docs/teaching.md, "Fact check").
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

import tfckpt_lab as tl
from tfckpt_lab import tutorial
from tfckpt_lab.tutorial import exercises

pytestmark = pytest.mark.tf


class FakeClock:
    """Stands in for time.time while TensorFlow's savers run (they read the time through it)."""

    def __init__(self, monkeypatch, start=1_700_000_000.125):
        self.now = start
        monkeypatch.setattr(time, "time", lambda: self.now)


def _names(prefix):
    return [k for k, _ in tl.list_variables(prefix)]


def test_a_restarted_manager_without_restore_overwrites_ckpt_1(tf, tmp_path):
    """Notebook 03 'Restarting a run', exercise 03-4, docs/saving.md."""
    first = tf.train.CheckpointManager(tf.train.Checkpoint(w=tf.Variable(1.0)), str(tmp_path), max_to_keep=3)
    for _ in range(5):
        first.save()
    again = tf.train.CheckpointManager(tf.train.Checkpoint(w=tf.Variable(0.0)), str(tmp_path), max_to_keep=3)
    assert os.path.basename(again.save()) == "ckpt-1"
    listed = [os.path.basename(p) for p in tf.train.get_checkpoint_state(str(tmp_path)).all_model_checkpoint_paths]
    assert listed == tutorial.EXERCISES["03-4"].reference_answer() == ["ckpt-4", "ckpt-5", "ckpt-1"]
    assert not os.path.exists(tmp_path / "ckpt-3.index")
    assert float(tf.train.load_checkpoint(str(tmp_path)).get_tensor("w/.ATTRIBUTES/VARIABLE_VALUE")) == 0.0


def test_restore_or_initialize_restores_the_counter(tf, tmp_path):
    first = tf.train.CheckpointManager(tf.train.Checkpoint(w=tf.Variable(1.0)), str(tmp_path), max_to_keep=3)
    for _ in range(5):
        first.save()
    ckpt = tf.train.Checkpoint(w=tf.Variable(0.0))
    again = tf.train.CheckpointManager(ckpt, str(tmp_path), max_to_keep=3)
    assert again.restore_or_initialize() == os.path.join(str(tmp_path), "ckpt-5")
    assert float(ckpt.w.numpy()) == 1.0 and int(ckpt.save_counter.numpy()) == 5
    assert os.path.basename(again.save()) == "ckpt-6"
    called = []
    empty = tf.train.CheckpointManager(tf.train.Checkpoint(w=tf.Variable(0.0)), str(tmp_path / "new"), max_to_keep=3,
                                       init_fn=lambda: called.append(1))
    assert empty.restore_or_initialize() is None and called == [1]


def test_save_counter_comes_with_save_not_with_write(tf, tmp_path):
    ckpt = tf.train.Checkpoint(v=tf.Variable(3.0))
    assert _names(ckpt.write(str(tmp_path / "w"))) == ["_CHECKPOINTABLE_OBJECT_GRAPH", "v/.ATTRIBUTES/VARIABLE_VALUE"]
    assert "save_counter/.ATTRIBUTES/VARIABLE_VALUE" in _names(ckpt.save(str(tmp_path / "s")))


def test_the_manager_with_the_object_writer_writes_tensorflows_keys(tf, tmp_path):
    """Notebook 03's TF2 run uses writer=write_object_checkpoint: the same keys as tf.train.Checkpoint(w1=, w2=)."""
    ckpt = tf.train.Checkpoint(w1=tf.Variable(np.ones(2, np.float32)), w2=tf.Variable(np.ones(5, np.float32)))
    theirs = tf.train.CheckpointManager(ckpt, str(tmp_path / "tf"), max_to_keep=3)
    theirs.save()
    ours = tl.CheckpointManager(tmp_path / "tl", max_to_keep=3, writer=tl.write_object_checkpoint)
    ours.save({"w1": np.ones(2, np.float32), "w2": np.ones(5, np.float32)})
    assert _names(theirs.latest_checkpoint) == _names(ours.latest_checkpoint)
    restored = tf.train.Checkpoint(w1=tf.Variable(np.zeros(2, np.float32)), w2=tf.Variable(np.zeros(5, np.float32)))
    restored.restore(ours.latest_checkpoint).assert_consumed()


class _Net:
    @staticmethod
    def make(tf, attribute="kernel", variable_name="w", extra=False):
        net = tf.Module()
        setattr(net, attribute, tf.Variable([0.0, 0.0], name=variable_name))
        if extra:
            net.bias = tf.Variable([0.0])
        return net


def test_restore_status_when_the_checkpoint_holds_more(tf, tmp_path):
    """Exercise 06-5 and the table in notebook 08."""
    big = tf.Module()
    big.kernel, big.bias = tf.Variable([1.0, 2.0]), tf.Variable([3.0])
    prefix = tf.train.Checkpoint(net=big).save(str(tmp_path / "ckpt"))
    status = tf.train.Checkpoint(net=_Net.make(tf)).restore(prefix)
    raises = {}
    for name in exercises.STATUS_CHECKPOINT_HAS_MORE:
        try:
            getattr(status, name)()
            raises[name] = False
        except AssertionError:
            raises[name] = True
    status.expect_partial()
    assert raises == exercises.STATUS_CHECKPOINT_HAS_MORE
    assert tutorial.check("06-5", {k for k, v in raises.items() if v and k != "assert_nontrivial_match"}).ok


def test_attribute_names_matter_variable_names_do_not(tf, tmp_path):
    """Notebook 06 and exercise 06-6: renaming an attribute or the Checkpoint's keyword loses the value silently;
    tf.Variable(name=) is ignored."""
    saved = _Net.make(tf)
    saved.kernel.assign([1.0, 2.0])
    prefix = tf.train.Checkpoint(net=saved).save(str(tmp_path / "ckpt"))
    other_name = _Net.make(tf, variable_name="kernel_w")
    tf.train.Checkpoint(net=other_name).restore(prefix).assert_consumed()
    assert other_name.kernel.numpy().tolist() == [1.0, 2.0]
    renamed = _Net.make(tf, attribute="weights")
    status = tf.train.Checkpoint(net=renamed).restore(prefix)  # no exception here
    assert renamed.weights.numpy().tolist() == [0.0, 0.0]
    with pytest.raises(AssertionError):
        status.assert_consumed()
    status.expect_partial()
    by_keyword = _Net.make(tf)  # exercise 06-6: the Checkpoint's keyword is the first element of every path
    status = tf.train.Checkpoint(model=by_keyword).restore(prefix)
    assert by_keyword.kernel.numpy().tolist() == [0.0, 0.0]
    with pytest.raises(AssertionError):
        status.assert_consumed()
    status.expect_partial()
    assert tutorial.check("06-6", "b").ok and not tutorial.check("06-6", "c").ok


def test_a_name_based_checkpoint_restores_by_variable_name(tf, tmp_path):
    """Notebook 08, section 5: TF2 falls back to tf.Variable names for a TF1 checkpoint."""
    prefix = tl.Saver().save({"dense/kernel": np.ones((3, 1), np.float32)}, str(tmp_path / "tf1"), global_step=1)
    net = tf.Module()
    net.kernel = tf.Variable(tf.zeros((3, 1)), name="dense/kernel")
    status = tf.train.Checkpoint(model=net).restore(prefix)
    assert type(status).__name__ == "NameBasedSaverStatus"
    assert net.kernel.numpy().ravel().tolist() == [1.0, 1.0, 1.0]


def test_tf2_checkpoint_write_order(tf, tmp_path):
    """Notebook 05: breadth first through the object graph, Checkpoint's keyword arguments sorted, an object's
    attributes in the order they were set, the object graph itself last."""
    module = tf.Module()
    module.zeta, module.alpha = tf.Variable(1.0), tf.Variable(2.0)
    prefix = tf.train.Checkpoint(zz=tf.Variable(0.0), b=module, a=tf.Variable(0.0)).write(str(tmp_path / "c"))
    reader = tl.load_checkpoint(prefix)
    in_file = [n for _, n in sorted((reader.entry(n).offset, n) for n in reader)]
    assert in_file == ["a/.ATTRIBUTES/VARIABLE_VALUE", "zz/.ATTRIBUTES/VARIABLE_VALUE",
                       "b/zeta/.ATTRIBUTES/VARIABLE_VALUE", "b/alpha/.ATTRIBUTES/VARIABLE_VALUE",
                       "_CHECKPOINTABLE_OBJECT_GRAPH"]
    raw = str(tmp_path / "raw")  # SaveV2 itself writes in the order it is given
    tf.raw_ops.SaveV2(prefix=raw, tensor_names=["zeta", "alpha"], shape_and_slices=["", ""],
                      tensors=[tf.constant([1.0, 2.0, 3.0]), tf.constant([4.0, 5.0])])
    reader = tl.load_checkpoint(raw)
    assert (reader.entry("zeta").offset, reader.entry("alpha").offset) == (0, 12)


def test_tf1_saver_sorts_by_name_and_refuses_a_missing_key(tf, tmp_path):
    """Notebooks 02 and 06."""
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        z = v1.Variable(np.arange(3, dtype=np.float32), name="zeta")
        a = v1.Variable(np.arange(2, dtype=np.float32), name="alpha")
        bias = v1.Variable([0.0], name="bias")
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            prefix = v1.train.Saver([z, a]).save(sess, str(tmp_path / "order"))
            with pytest.raises(tf.errors.NotFoundError, match="Key bias not found in checkpoint"):
                v1.train.Saver([z, a, bias]).restore(sess, prefix)
    reader = tl.load_checkpoint(prefix)
    assert (reader.entry("alpha").offset, reader.entry("zeta").offset) == (0, 8)
    with tf.Graph().as_default():  # exercise 02-2: w2 created (and listed) first still lands after w1
        w2 = v1.Variable(np.zeros(5, np.float32), name="w2")
        w1 = v1.Variable(np.zeros(2, np.float32), name="w1")
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            prefix = v1.train.Saver({"w2": w2, "w1": w1}).save(sess, str(tmp_path / "my_test_model"), global_step=1000)
    assert tutorial.check("02-2", tl.load_checkpoint(prefix).entry("w2").offset).ok


def test_a_training_checkpoint_holds_optimizer_variables_but_no_gradients(tf, tmp_path):
    """Notebook 01: variables and the optimizer's slots are saved; gradients are not."""
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        w = v1.Variable([1.0, 2.0], name="w")
        loss = tf.reduce_sum(w * w)
        step = v1.train.get_or_create_global_step()
        train = v1.train.AdamOptimizer(0.1).minimize(loss, global_step=step)
        gradient = v1.gradients(loss, [w])[0]
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            sess.run(train)
            prefix = v1.train.Saver().save(sess, str(tmp_path / "adam"), global_step=step)
    names = _names(prefix)
    assert names == ["beta1_power", "beta2_power", "global_step", "w", "w/Adam", "w/Adam_1"]
    assert gradient.op.name.split("/")[0] not in names


def test_the_classic_program_needs_compat_v1_and_makes_resource_variables(tf, tmp_path):
    """Notebook 02: the TF1 program fails on TF2 as written; through tf.compat.v1 it writes VarHandleOps."""
    with pytest.raises(AttributeError, match="random_normal"):
        tf.random_normal(shape=[2])
    assert not hasattr(tf.train, "Saver") and not hasattr(tf, "Session")
    v1 = tf.compat.v1
    with tf.Graph().as_default() as graph:
        v1.Variable(v1.random_normal(shape=[2]), name="w1")
        saver = v1.train.Saver()
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            saver.save(sess, str(tmp_path / "my_test_model"), global_step=1000)
        ops = {n.op for n in graph.as_graph_def().node}
        assert {"VarHandleOp", "AssignVariableOp", "ReadVariableOp"} <= ops and "VariableV2" not in ops
        assert (saver.saver_def.filename_tensor_name, saver.saver_def.restore_op_name) == ("save/Const:0",
                                                                                           "save/restore_all")
    assert sorted(os.listdir(tmp_path)) == ["checkpoint", "my_test_model-1000.data-00000-of-00001",
                                            "my_test_model-1000.index", "my_test_model-1000.meta"]


def test_an_imported_saver_keeps_the_max_to_keep_of_its_saver_def(tf, tmp_path):
    """Exercise 06-4: import_meta_graph's Saver rotates with the SaverDef's max_to_keep, not the default 5."""
    run = tmp_path / "run"
    prefix = tl.Saver(max_to_keep=2).save({"w1": np.ones(2, np.float32)}, str(run / "my_test_model"), global_step=3000)
    v1 = tf.compat.v1
    with tf.Graph().as_default(), v1.Session() as sess:
        saver = v1.train.import_meta_graph(prefix + ".meta")
        saver.restore(sess, prefix)
        for step in range(4000, 8001, 1000):
            saver.save(sess, str(run / "my_test_model"), global_step=step)
    new = [n for n in os.listdir(run) if n.endswith(".index") and n != "my_test_model-3000.index"]
    assert len(new) == 2 and os.path.exists(prefix + ".index")
    assert tutorial.check("06-4", len(new)).ok


@pytest.mark.slow
@pytest.mark.parametrize("switch, variable_class, ops", [
    ("disable_eager_execution", "ResourceVariable", ["AssignVariableOp", "ReadVariableOp", "VarHandleOp", "VarIsInitializedOp"]),
    ("disable_v2_behavior", "RefVariable", ["VariableV2"]),
])
def test_which_compat_v1_switch_gives_which_variables(tf, switch, variable_class, ops):
    """Notebook 02 and the glossary: compat.v1 graphs make resource variables unless v2 behaviour is off.
    (The switches are global, so each runs in its own process.)"""
    code = (f"import tensorflow as tf; v1 = tf.compat.v1; v1.{switch}(); "
            "w = v1.Variable([1.0], name='w1'); "
            "print(type(w).__name__, sorted({n.op for n in v1.get_default_graph().as_graph_def().node if 'Var' in n.op}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")).stdout.strip().splitlines()[-1]
    assert out == f"{variable_class} {ops}"


def test_keras_export_writes_a_saved_model_with_a_variables_bundle(tf, tmp_path):
    """Notebook 08, section 4."""
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    model.export(str(tmp_path / "exported"), verbose=False)
    assert (tmp_path / "exported" / "saved_model.pb").is_file()
    shapes = sorted(s for _, s in tl.list_variables(str(tmp_path / "exported" / "variables" / "variables")) if s)
    assert [2, 3] in shapes and [3] in shapes


def test_a_restored_graph_feeds_placeholders_and_variables_are_handles(tf, tmp_path):
    """Notebook 08, section 6 (the classic tutorial's last part)."""
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        w1, w2 = v1.placeholder(tf.float32, name="w1"), v1.placeholder(tf.float32, name="w2")
        bias = v1.Variable(2.0, name="bias")
        tf.multiply(tf.add(w1, w2), bias, name="op_to_restore")
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            saved = v1.train.Saver().save(sess, str(tmp_path / "m"), global_step=1000)
    with tf.Graph().as_default() as graph, v1.Session() as sess:
        v1.train.import_meta_graph(saved + ".meta").restore(sess, saved)
        feed = {graph.get_tensor_by_name("w1:0"): 13.0, graph.get_tensor_by_name("w2:0"): 17.0}
        op = graph.get_tensor_by_name("op_to_restore:0")
        assert sess.run(op, feed) == 60.0 and sess.run(tf.multiply(op, 2), feed) == 120.0
        assert graph.get_tensor_by_name("bias:0").dtype == tf.resource
        assert sess.run(graph.get_tensor_by_name("bias/Read/ReadVariableOp:0")) == 2.0


def test_05_3_with_a_real_sharded_saver(tf, tmp_path):
    """Exercise 05-3: TF1's Saver(sharded=True) over two CPU devices puts kernel where the checker says."""
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        for name, device in exercises._DEVICES_05_3.items():
            with tf.device(device):
                v1.Variable(np.zeros(3, np.float32), name=name)
        saver = v1.train.Saver(sharded=True)
        with v1.Session(config=v1.ConfigProto(device_count={"CPU": 2})) as sess:
            sess.run(v1.global_variables_initializer())
            prefix = saver.save(sess, str(tmp_path / "model"))
    reader = tl.load_checkpoint(prefix)
    assert reader.lowlevel.header.num_shards == 2
    got = {name: (reader.entry(name).shard_id, reader.entry(name).offset) for name in exercises._DEVICES_05_3}
    assert got == exercises.tf_sharded_layout(exercises._DEVICES_05_3)
    assert tutorial.check("05-3", got["kernel"]).ok


@pytest.mark.slow
@pytest.mark.parametrize("minutes, hours, saves", [(50, 2, 10), (90, 2, 12)])
def test_keep_every_n_hours_rules_with_tensorflows_savers(tf, tmp_path, monkeypatch, minutes, hours, saves):
    """Exercise 03-2 (50 min) and notebook 03's table (1.5 h): TF's own Saver and manager under a fake clock."""
    clock = FakeClock(monkeypatch)
    start = clock.now
    times = [minutes * 60.0 * (i + 1) for i in range(saves)]
    steps = list(range(1, saves + 1))
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        v1.Variable([1.0], name="w")
        saver = v1.train.Saver(max_to_keep=3, keep_checkpoint_every_n_hours=hours)
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            for step, t in zip(steps, times):
                clock.now = start + t
                saver.save(sess, str(tmp_path / "tf1" / "model"), global_step=step, write_meta_graph=False)
    kept_tf1 = sorted(int(n[len("model-"):-len(".index")]) for n in os.listdir(tmp_path / "tf1") if n.endswith(".index"))
    clock.now = start
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(w=tf.Variable(1.0)), str(tmp_path / "tf2"), max_to_keep=3,
                                         keep_checkpoint_every_n_hours=hours)
    for t in times:
        clock.now = start + t
        manager.save()
    kept_tf2 = sorted(int(n[len("ckpt-"):-len(".index")]) for n in os.listdir(tmp_path / "tf2") if n.endswith(".index"))
    assert kept_tf1 == tutorial.kept_after(steps, times, 3, hours, rule="tf1")
    assert kept_tf2 == tutorial.kept_after(steps, times, 3, hours, rule="tf2")
    assert kept_tf1 != kept_tf2
    if minutes == 50:
        want = tutorial.EXERCISES["03-2"].reference_answer()
        assert [100 * s for s in kept_tf1] == want["saver"] and [100 * s for s in kept_tf2] == want["manager"]


def test_keras3_weights_files_are_not_checkpoints(tf, tmp_path):
    """Notebook 08, section 4."""
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        model.save_weights(str(tmp_path / "m.ckpt"))
    model.save_weights(str(tmp_path / "m.weights.h5"))
    assert (tmp_path / "m.weights.h5").read_bytes()[:4] == b"\x89HDF"
    with pytest.raises(tl.CheckpointError):
        tl.load_checkpoint(str(tmp_path / "m.weights.h5"))


def test_a_checkpoint_restores_from_a_saved_model_folder(tf):
    """Notebook 08, section 3: tf.train.Checkpoint(...).restore(savedmodel_dir) reads variables/."""
    root = tf.Module()
    root.dense = tf.Module()
    root.dense.kernel, root.dense.bias = tf.Variable(tf.zeros((2, 3))), tf.Variable(tf.zeros(3))
    tf.train.Checkpoint(root).restore(str(tutorial.data_path("saved_model"))).expect_partial()
    assert np.allclose(root.dense.bias.numpy(), [0.5, -0.5, 0.25])
    assert np.allclose(root.dense.kernel.numpy(), np.arange(6).reshape(2, 3) / 10)


@pytest.mark.slow
def test_adams_last_update_can_be_recomputed_from_the_checkpoint(tf):
    """Notebook 07: -alpha * m / (sqrt(v) + eps) with the stored m, v, lr and iterations is the last step."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])
    optimizer = keras.optimizers.Adam(0.01)
    model.compile(optimizer=optimizer, loss="mse")
    x, y = np.random.rand(16, 4).astype("float32"), np.random.rand(16, 3).astype("float32")
    model.fit(x[:8], y[:8], batch_size=8, epochs=1, verbose=0)
    before = model.layers[0].kernel.numpy().copy()
    model.fit(x[8:], y[8:], batch_size=8, epochs=1, verbose=0)
    t, lr = int(optimizer.iterations.numpy()), float(optimizer.learning_rate.numpy())
    m, v = optimizer._momentums[0].numpy(), optimizer._velocities[0].numpy()
    alpha = lr * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
    assert np.allclose(model.layers[0].kernel.numpy() - before, -alpha * m / (np.sqrt(v) + 1e-7), atol=1e-6)
