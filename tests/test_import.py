"""tl.import_tensors / tfckpt-lab import: TensorFlow restores what we write (TF1 Saver,
tf.train.load_checkpoint, tf.train.Checkpoint(...).restore(...).assert_consumed())."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tfckpt_lab as tl
from tfckpt_lab.cli import main
from tfckpt_lab.exporting import export
from tfckpt_lab.importing import import_tensors, object_tree
from tfckpt_lab.tensorfiles import write_tensor_file

FIXTURES = Path(__file__).parent / "fixtures" / "tf"


def _weights():
    rng = np.random.default_rng(1)
    return {"dense/kernel": rng.standard_normal((4, 3)).astype(np.float32),
            "dense/bias": rng.standard_normal(3).astype(np.float32),
            "head/kernel": rng.standard_normal((3, 2)).astype(np.float64),
            "step": np.int64(7)}


@pytest.mark.tf
@pytest.mark.parametrize("suffix", ["safetensors", "npz"])
def test_name_based_import_restores_in_tf1_saver(tf, tmp_path, suffix):
    pytest.importorskip("safetensors")
    src = write_tensor_file(tmp_path / f"w.{suffix}", _weights())
    prefix = str(tmp_path / "model")
    assert main(["import", src, prefix]) == 0
    tf1 = tf.compat.v1
    g = tf1.Graph()
    with g.as_default():
        made = {n: tf1.get_variable(n, shape=np.shape(v), dtype=tf.as_dtype(np.asarray(v).dtype))
                for n, v in _weights().items()}
        saver = tf1.train.Saver()
        with tf1.Session() as sess:
            saver.restore(sess, prefix)
            for n, v in made.items():
                np.testing.assert_array_equal(sess.run(v), _weights()[n])
    r = tf.train.load_checkpoint(prefix)
    assert r.get_variable_to_shape_map() == {n: list(np.shape(v)) for n, v in _weights().items()}


@pytest.mark.tf
def test_object_import_restores_with_assert_consumed(tf, tmp_path):
    pytest.importorskip("safetensors")
    import ml_dtypes

    w = {"model/dense/kernel": np.arange(12, dtype=np.float32).reshape(4, 3),
         "model/dense/bias": np.array([1.5, -2, 0.25], ml_dtypes.bfloat16),
         "model/head/w": np.ones((3, 2), np.float64)}
    src = write_tensor_file(tmp_path / "w.safetensors", w)
    prefix = str(tmp_path / "ckpt-1")
    assert main(["import", src, prefix, "--object"]) == 0

    class Dense(tf.Module):
        def __init__(self, shape, dtype):
            super().__init__()
            self.kernel = tf.Variable(tf.zeros(shape, dtype))
            self.bias = tf.Variable(tf.zeros(shape[-1:], tf.bfloat16))

    class Model(tf.Module):
        def __init__(self):
            super().__init__()
            self.dense = Dense((4, 3), tf.float32)
            self.head = {"w": tf.Variable(tf.zeros((3, 2), tf.float64))}

    model = Model()
    tf.train.Checkpoint(model=model).restore(prefix).assert_consumed()
    np.testing.assert_array_equal(model.dense.kernel.numpy(), w["model/dense/kernel"])
    assert model.dense.bias.numpy().tobytes() == w["model/dense/bias"].tobytes()
    np.testing.assert_array_equal(model.head["w"].numpy(), w["model/head/w"])


@pytest.mark.tf
def test_tf2_round_trip_through_object_paths(tf, tmp_path):
    """TF saves a module with awkward local names; export with object paths, import, TF restores it."""
    class M(tf.Module):
        def __init__(self):
            super().__init__()
            self.layers = {"a.b/c": tf.Variable(tf.random.normal((2, 3))), "d": tf.Variable([1, 2], dtype=tf.int32)}
            self.opt_like = tf.Variable(3.0)

    src_model = M()
    saved = tf.train.Checkpoint(model=src_model).write(str(tmp_path / "orig"))
    export(saved, tmp_path / "m.npz", names="object-paths")
    import_tensors(tmp_path / "m.npz", tmp_path / "back", object_checkpoint=True)
    dst = M()
    for v in dst.trainable_variables:
        v.assign(tf.zeros_like(v))
    tf.train.Checkpoint(model=dst).restore(str(tmp_path / "back")).assert_consumed()
    for a, b in zip(src_model.variables, dst.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_object_tree_rules():
    assert object_tree(["m/a..b.Sc", "m/d/.ATTRIBUTES/VARIABLE_VALUE"]) == {
        "m": {"a.b/c": "m/a..b.Sc", "d": "m/d/.ATTRIBUTES/VARIABLE_VALUE"}}
    with pytest.raises(tl.UnsupportedError, match="'dense' is a value, but 'dense/kernel'"):
        object_tree(["dense", "dense/kernel"])
    with pytest.raises(tl.UnsupportedError, match="'dense/kernel' is a value, but 'dense/kernel/x'"):
        object_tree(["dense/kernel/x", "dense/kernel"])
    with pytest.raises(tl.UnsupportedError, match="empty path element"):
        object_tree(["a//b"])
    with pytest.raises(tl.UnsupportedError, match="optimizer slot"):
        object_tree(["w/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE"])


def test_import_errors_write_nothing(tmp_path, capsys):
    np.savez(tmp_path / "bad.npz", **{"a": np.zeros(2), "a/b": np.ones(2)})
    assert main(["import", str(tmp_path / "bad.npz"), str(tmp_path / "out" / "ckpt"), "--object"]) == 1
    assert "is a value" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    (tmp_path / "v.npz").write_bytes(b"not a zip")
    assert main(["import", str(tmp_path / "v.npz"), str(tmp_path / "x")]) == 1
    assert "not a .npz file" in capsys.readouterr().err
    np.save(tmp_path / "plain.npy", np.zeros(2))
    assert main(["import", str(tmp_path / "plain.npy"), str(tmp_path / "x")]) == 1


def test_strings_from_npz_become_string_tensors(tmp_path):
    np.savez(tmp_path / "s.npz", words=np.array(["héllo", "b"]), raw=np.array([b"\x00x", b""]))
    prefix = import_tensors(tmp_path / "s.npz", tmp_path / "s")
    with tl.load_checkpoint(prefix) as r:
        assert r.get_variable_to_dtype_map() == {"raw": "string", "words": "string"}
        assert list(r.get_tensor("words")) == ["héllo".encode(), b"b"]
        assert list(r.get_tensor("raw")) == [b"\x00x", b""]


def test_export_import_round_trip_is_bit_exact(tmp_path):
    pytest.importorskip("safetensors")
    src = FIXTURES / "tf1_partitioned" / "model"
    export(str(src), tmp_path / "p.safetensors")
    import_tensors(tmp_path / "p.safetensors", tmp_path / "p")
    from tfckpt_lab.diff import compare

    assert compare(str(src), str(tmp_path / "p")).identical
