"""Glob characters in a checkpoint's path: TensorFlow fails there, we do not (issue 16, item 9).

TensorFlow looks a checkpoint's files up with glob patterns, so ``[`` and ``]`` in a directory
or prefix (a character class) match nothing: ``tf.train.latest_checkpoint`` returns None and no
checkpoint is ever deleted by rotation.  We look files up by name and keep working; the live
test records what TensorFlow 2.21 does.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import tfckpt_lab as tl


def test_we_work_in_a_bracketed_directory(tmp_path):
    d = tmp_path / "run[1]"
    manager = tl.CheckpointManager(d, max_to_keep=2, writer=tl.write_object_checkpoint)
    for step in range(4):
        manager.save({"v": np.float32(step)})
    assert tl.latest_checkpoint(d) == str(d / "ckpt-4")
    assert sorted(n for n in os.listdir(d) if n.endswith(".index")) == ["ckpt-3.index", "ckpt-4.index"]
    assert float(tl.load_checkpoint(d)["v/.ATTRIBUTES/VARIABLE_VALUE"]) == 3.0
    saver = tl.Saver(max_to_keep=1)
    for step in range(3):
        prefix = saver.save({"w": np.full(2, step, np.float32)}, str(d / "model[2]"), global_step=step)
    assert sorted(n for n in os.listdir(d) if n.startswith("model")) == [
        "model[2]-2.data-00000-of-00001", "model[2]-2.index", "model[2]-2.meta"]
    assert tl.latest_checkpoint(d) == prefix


@pytest.mark.tf
def test_tensorflow_fails_where_we_work(tf, tmp_path):
    d = tmp_path / "run[1]"
    ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    manager = tf.train.CheckpointManager(ckpt, str(d), max_to_keep=2)
    for _ in range(4):
        manager.save()
    assert tf.train.latest_checkpoint(str(d)) is None  # TF: "Couldn't match files for checkpoint"
    assert len([n for n in os.listdir(d) if n.endswith(".index")]) == 4  # rotation deleted nothing
    assert tl.latest_checkpoint(d) == str(d / "ckpt-4")  # the state file names it, the files are there
    with tf.Graph().as_default():
        v = tf.compat.v1.Variable(1.0)
        saver = tf.compat.v1.train.Saver(max_to_keep=1)
        with tf.compat.v1.Session() as sess:
            sess.run(v.initializer)
            for step in range(3):
                saver.save(sess, str(d / "model[2]"), global_step=step)
    assert len([n for n in os.listdir(d) if n.startswith("model[2]") and n.endswith(".index")]) == 3
