"""The rotation simulator as a class reads it: numbers sorted as numbers, newest first, what a save
deleted up front, relative paths, an "advance the clock" control; compared with the real classes
(and, for the state file's paths, with TensorFlow's own TF1 Saver)."""

from __future__ import annotations

import os
import re
from unittest import mock

import numpy as np
import pytest

import tfckpt_lab as tl

pytest.importorskip("ipywidgets")


def _sim(tmp_path, **rules):
    from tfckpt_lab.widgets import RotationSimulator

    d = tmp_path / "sim"
    d.mkdir()
    sim = RotationSimulator(directory=str(d))
    for k, v in rules.items():
        setattr(sim, k, v)
    return sim


def _replay(directory, times, steps, **saver_args):
    """The same saves made directly on a Saver at the given clock times (hours); the files after each."""
    from tfckpt_lab.widgets.simulator import START_TIME

    now = [START_TIME]
    out = []
    with mock.patch("time.time", lambda: now[0]):
        saver = tl.Saver(**saver_args)
        for hours, step in zip(times, steps):
            now[0] = START_TIME + hours * 3600
            saver.save({"w": np.full(2, step, np.float32), "global_step": np.int64(step)},
                       os.path.join(directory, "model"), global_step=step)
            out.append(sorted(os.listdir(directory)))
    return out


def test_files_sort_as_numbers_and_checkpoints_list_newest_first(tmp_path):
    from tfckpt_lab.widgets.simulator import natural_key

    sim = _sim(tmp_path, max_to_keep=3)
    sim.run(12)  # model-1000 ... model-12000
    assert sim.checkpoints() == ["model-10000", "model-11000", "model-12000"]
    assert [f for f in sim.files if f.endswith(".index")] == ["model-10000.index", "model-11000.index",
                                                               "model-12000.index"]
    assert sorted(["model-2000.index", "model-10000.index"], key=natural_key) == ["model-2000.index",
                                                                                  "model-10000.index"]
    html = sim.to_html()
    rows = re.findall(r"<tr><td><code[^>]*>(model-\d+)</code></td><td><code>([^<]*)</code>", html)
    assert [r[0] for r in rows] == ["model-12000", "model-11000", "model-10000"]  # one line each, newest first
    assert rows[0][1] == ".data-00000-of-00001  .index  .meta"  # its files on the same line
    assert html.count("<li>") == 0  # no bullet per file


def test_what_a_save_deleted_comes_first(tmp_path):
    sim = _sim(tmp_path, max_to_keep=2)
    sim.run(5)
    last = sim.history[-1]
    assert [f for f in last["deleted"]] == ["model-3000.data-00000-of-00001", "model-3000.index", "model-3000.meta"]
    html = sim.to_html()
    banner = re.search(r"save 5 \(step 5,000, at \+5\.0 h\): wrote <b>model-5000</b> · "
                       r"<span[^>]*>deleted <b>model-3000</b></span>", html)
    assert banner is not None
    assert banner.start() < html.index("checkpoint (newest first)") < html.index("every save (newest first)")
    history = html[html.index("every save"):]
    assert re.findall(r"<tr><td>(\d+)</td>", history) == ["5", "4", "3", "2", "1"]  # newest first
    assert "tempstate" not in html  # the temp-rename lines are gone from the page (still in history)
    assert any("tempstate" in a for a, _ in last["renamed"])


def test_state_file_paths_are_relative_or_absolute_as_the_saver_writes_them(tmp_path, monkeypatch):
    sim = _sim(tmp_path, max_to_keep=2)
    sim.run(3)
    assert sim.state_text.splitlines()[:3] == ['model_checkpoint_path: "model-3000"',
                                               'all_model_checkpoint_paths: "model-2000"',
                                               'all_model_checkpoint_paths: "model-3000"']
    assert 'saver.save(sess, &quot;ckpt/model&quot;' in sim.to_html()
    sim.relative_paths = False  # saver.save(sess, "/abs/.../model"): TF1 writes absolute paths
    assert sim.history == []  # a rule change starts over
    sim.run(3)
    assert f'model_checkpoint_path: "{sim.directory}/model-3000"' in sim.state_text
    ref = tmp_path / "ref"
    ref.mkdir()
    monkeypatch.chdir(tmp_path)
    from tfckpt_lab.widgets.simulator import START_TIME

    now = [START_TIME]
    with mock.patch("time.time", lambda: now[0]):
        saver = tl.Saver(max_to_keep=2)
        for i in (1, 2, 3):
            now[0] += 3600
            saver.save({"w": np.full(2, i * 1000, np.float32), "global_step": np.int64(i * 1000)},
                       str(ref / "model"), global_step=i * 1000)
    assert sim.state_text == (ref / "checkpoint").read_text().replace(str(ref), sim.directory)
    sim.mode = "CheckpointManager"  # always relative; the toggle does not apply
    assert sim._controls["relative_paths"].disabled
    sim.close()


def test_advance_the_clock_lets_keep_every_n_hours_keep_one(tmp_path):
    sim = _sim(tmp_path, max_to_keep=1, keep_every_n_hours=2.0, hours_per_save=0.5)
    sim.run(2)  # +0.5 h, +1.0 h
    assert sim.advance(3) == pytest.approx(4.0)  # three hours of training with no save
    assert sim.history[-1]["hours"] == 1.0 and sim.global_step == 2000
    assert "+3 h with no save since the last one" in sim.to_html()
    sim.run(2)  # +4.5 h, +5.0 h
    assert sim.history[2]["idle_hours"] == 3 and sim.history[3]["idle_hours"] == 0
    assert [e["hours"] for e in sim.history] == [0.5, 1.0, 4.5, 5.0]
    ref = tmp_path / "ref"
    ref.mkdir()
    expected = _replay(str(ref), [0.5, 1.0, 4.5, 5.0], [1000, 2000, 3000, 4000], max_to_keep=1,
                       keep_checkpoint_every_n_hours=2.0)
    assert [e["files"] for e in sim.history] == expected
    kept = sim.checkpoints()
    assert kept == ["model-3000", "model-4000"]  # model-3000, saved after the deadline, kept for good
    sim.reset()
    sim.run(4)  # the same saves with no idle hours: nothing is old enough to be kept
    assert sim.checkpoints() == ["model-4000"]
    with pytest.raises(ValueError, match="positive number of hours"):
        sim.advance(0)
    sim._idle.value = 2.5
    sim._advance.click()  # the button
    assert sim.clock == pytest.approx(sim.history[-1]["hours"] * 3600 + 2.5 * 3600 + 1_700_000_000.0)
    sim.close()


def test_simulator_shows_errors_in_place(tmp_path):
    import traitlets

    sim = _sim(tmp_path, max_to_keep=2)
    sim.run(2)
    with pytest.raises(traitlets.TraitError, match="max_to_keep must be 0"):
        sim.max_to_keep = -1
    with pytest.raises(traitlets.TraitError, match="hours_per_save must be 0 or more"):
        sim.hours_per_save = -1
    history = list(sim.history)
    with mock.patch.object(sim._impl, "save", side_effect=OSError(28, "No space left on device")):
        sim._save.click()
    assert sim.error == "[Errno 28] No space left on device" and sim.history == history
    assert "No space left" in sim._error_line.value
    sim._save.click()
    assert sim.error == "" and len(sim.history) == 3
    sim.close()


@pytest.mark.tf
def test_relative_state_paths_are_what_tensorflow_writes(tf, tmp_path, monkeypatch):
    """TF1's Saver, given a relative save path, writes the paths the simulator shows."""
    monkeypatch.chdir(tmp_path)
    os.makedirs("ckpt")
    with tf.Graph().as_default():
        w = tf.compat.v1.Variable(np.zeros(2, np.float32), name="w")
        saver = tf.compat.v1.train.Saver([w], max_to_keep=2)
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for step in (1000, 2000, 3000):
                saver.save(sess, "ckpt/model", global_step=step)
    tf_paths = [line for line in (tmp_path / "ckpt" / "checkpoint").read_text().splitlines() if "timestamp" not in line]
    sim = _sim(tmp_path, max_to_keep=2)
    sim.run(3)
    assert [line for line in sim.state_text.splitlines() if "timestamp" not in line] == tf_paths
    sim.close()
