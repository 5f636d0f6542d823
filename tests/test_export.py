"""tl.export / tfckpt-lab export: values equal TensorFlow's reading, files read back with the real
safetensors library, dtypes kept or refused by name, optimizer state found for TF1 and TF2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tfckpt_lab as tl
from tfckpt_lab.cli import main
from tfckpt_lab.exporting import export

safetensors = pytest.importorskip("safetensors")

FIXTURES = Path(__file__).parent / "fixtures" / "tf"
ROOT = Path(__file__).parent.parent


def _load_safetensors(path) -> dict:
    """Every tensor through the safetensors library itself (deserialize: it also knows float8)."""
    import ml_dtypes

    codes = {"F8_E4M3": ml_dtypes.float8_e4m3fn, "F8_E5M2": ml_dtypes.float8_e5m2, "BF16": ml_dtypes.bfloat16,
             "F16": np.float16, "F32": np.float32, "F64": np.float64, "I8": np.int8, "U8": np.uint8,
             "I16": np.int16, "U16": np.uint16, "I32": np.int32, "U32": np.uint32, "I64": np.int64,
             "U64": np.uint64, "BOOL": np.bool_, "C64": np.complex64}
    out = {}
    for name, v in safetensors.deserialize(Path(path).read_bytes()):
        dt = codes[v["dtype"]]
        out[name] = np.frombuffer(bytes(v["data"]), dtype=dt).reshape(v["shape"])
    return out


def _bits_equal(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.tf
def test_every_numeric_dtype_bit_exact_against_tf(tf, tmp_path):
    """TensorFlow writes one tensor per dtype; the export holds TF's own reading, bit for bit."""
    import ml_dtypes

    prefix = str(tmp_path / "dtypes")
    rng = np.random.default_rng(0)
    vals = {
        "f32": tf.constant(rng.standard_normal((3, 4)).astype(np.float32)),
        "f32_nan": tf.constant(np.array([np.nan, -0.0, np.inf, 1e-45], np.float32)),
        "f64": tf.constant(rng.standard_normal(5)),
        "f16": tf.constant(rng.standard_normal(5).astype(np.float16)),
        "bf16": tf.cast(tf.constant(rng.standard_normal((2, 3)).astype(np.float32)), tf.bfloat16),
        "f8e4m3": np.array([0.5, -1.25, 448.0], np.float32).astype(ml_dtypes.float8_e4m3fn),
        "f8e5m2": np.array([0.5, -1.25, 57344.0], np.float32).astype(ml_dtypes.float8_e5m2),
        "i8": tf.constant([-128, 127], tf.int8), "u8": tf.constant([0, 255], tf.uint8),
        "i16": tf.constant([-3], tf.int16), "u16": tf.constant([65535], tf.uint16),
        "i32": tf.constant([[1, -2]], tf.int32), "u32": tf.constant([2**32 - 1], tf.uint32),
        "i64": tf.constant(-(2**62), tf.int64), "u64": tf.constant([2**64 - 1], tf.uint64),
        "bool": tf.constant([True, False]), "c64": tf.constant([1 + 2j], tf.complex64),
        "empty": tf.zeros((0, 3)), "scalar": tf.constant(3.5),
        "text": tf.constant(["a", "bc"]),
    }
    names = sorted(vals)
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[vals[n] for n in names])
    tf_reader = tf.train.load_checkpoint(prefix)
    out = tmp_path / "all.safetensors"
    report = export(prefix, out)
    assert report.skipped == [("text", "a string tensor: .safetensors files hold numbers only")]
    got = _load_safetensors(out)
    assert sorted(got) == [n for n in names if n != "text"]
    for n in got:
        want = tf_reader.get_tensor(n)
        assert _bits_equal(got[n], want), n
    with safetensors.safe_open(str(out), "np") as f:  # the library's lazy reader agrees (where numpy can)
        assert f.get_slice("bf16").get_dtype() == "BF16" and f.get_slice("f8e4m3").get_dtype() == "F8_E4M3"
        assert _bits_equal(f.get_tensor("bf16"), tf_reader.get_tensor("bf16"))
    # .npz keeps every plain numpy dtype, bit for bit, and refuses bfloat16 by name
    with pytest.raises(tl.UnsupportedError, match="'bf16' has dtype bfloat16.*npz"):
        export(prefix, tmp_path / "all.npz")
    assert not (tmp_path / "all.npz").exists()  # refused before anything was written


@pytest.mark.tf
def test_npz_and_refusals(tf, tmp_path):
    prefix = str(tmp_path / "c")
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=["c128", "w"], shape_and_slices=["", ""],
                      tensors=[tf.constant([1 + 1j, -2j], tf.complex128), tf.constant([[1.5, 2.0]])])
    export(prefix, tmp_path / "c.npz")
    r = tf.train.load_checkpoint(prefix)
    with np.load(tmp_path / "c.npz", allow_pickle=False) as z:
        assert sorted(z.files) == ["c128", "w"]
        for n in z.files:
            assert _bits_equal(z[n], r.get_tensor(n))
    with pytest.raises(tl.UnsupportedError, match=r"'c128' has dtype complex128.*\.safetensors cannot keep"):
        export(prefix, tmp_path / "c.safetensors")
    with pytest.raises(tl.UnsupportedError, match="must end in .safetensors or .npz"):
        export(prefix, tmp_path / "c.pt")


def test_int4_refused_by_name(tmp_path):
    import ml_dtypes

    tl.write_bundle(str(tmp_path / "q"), {"q4": np.array([1, -2], ml_dtypes.int4), "w": np.ones(2, np.float32)})
    for suffix in ("safetensors", "npz"):
        with pytest.raises(tl.UnsupportedError, match=f"'q4' has dtype int4.*{suffix}"):
            export(str(tmp_path / "q"), tmp_path / f"q.{suffix}")


@pytest.mark.tf
def test_partitioned_tf1_checkpoint_exports_whole_variables(tf):
    import tempfile

    src = FIXTURES / "tf1_partitioned" / "model"
    tf_reader = tf.train.load_checkpoint(str(src))
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "p.safetensors"
        export(str(src), out)
        got = _load_safetensors(out)
    assert sorted(got) == sorted(tf_reader.get_variable_to_shape_map())
    for n, v in got.items():
        assert _bits_equal(v, tf_reader.get_tensor(n)), n


def _tf1_checkpoint(tf, directory: Path, optimizers) -> str:
    """A TF1 graph with two dense layers and the given tf.compat.v1.train optimizers, saved once."""
    tf1 = tf.compat.v1
    g = tf1.Graph()
    with g.as_default():
        gs = tf1.train.get_or_create_global_step()
        x = tf1.constant(np.ones((2, 4), np.float32))
        with tf1.variable_scope("dense"):
            k = tf1.get_variable("kernel", [4, 3])
            b = tf1.get_variable("bias", [3], initializer=tf1.zeros_initializer())
        with tf1.variable_scope("dense_1"):
            k1 = tf1.get_variable("kernel", [3, 2])
        loss = tf1.reduce_sum(tf1.matmul(tf1.matmul(x, k) + b, k1) ** 2)
        train = [opt.minimize(loss, global_step=gs if i == 0 else None) for i, opt in enumerate(optimizers(tf1))]
        saver = tf1.train.Saver()
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            sess.run(train)
            prefix = saver.save(sess, str(directory / "model"), global_step=1)
        return prefix, sorted(v.op.name for v in tf1.global_variables())


@pytest.mark.tf
@pytest.mark.slow
def test_skip_optimizer_tf1_conventions(tf, tmp_path):
    """Adam (+ its beta powers), Momentum, RMSProp (centered: 3 slots), Ftrl, Adagrad, Adadelta in one graph."""
    def optimizers(tf1):
        return [tf1.train.AdamOptimizer(0.1), tf1.train.MomentumOptimizer(0.1, 0.9),
                tf1.train.RMSPropOptimizer(0.1, momentum=0.5, centered=True), tf1.train.FtrlOptimizer(0.1),
                tf1.train.AdagradOptimizer(0.1), tf1.train.AdadeltaOptimizer(0.1)]

    prefix, all_vars = _tf1_checkpoint(tf, tmp_path, optimizers)
    model = ["dense/bias", "dense/kernel", "dense_1/kernel", "global_step"]
    assert set(model) < set(all_vars) and len(all_vars) > 20  # TF really made the slots
    report = export(prefix, tmp_path / "m.npz", skip_optimizer=True)
    assert [k for _, k in report.written] == model
    assert sorted(k for k, _ in report.skipped) == sorted(set(all_vars) - set(model))
    with np.load(tmp_path / "m.npz") as z:
        r = tf.train.load_checkpoint(prefix)
        for n in model:
            assert _bits_equal(z[n], r.get_tensor(n))


def test_tf1_conventions_need_the_variable():
    from tfckpt_lab.keys import tf1_optimizer_keys

    keys = ["w", "w/Adam", "w/Adam_1", "beta1_power", "beta2_power_1", "scope/beta1_power", "x/Adam",
            "w/ExponentialMovingAverage", "w/RMSProp_2", "w/Momentum", "w/Adamant"]
    assert tf1_optimizer_keys(keys) == {"w/Adam", "w/Adam_1", "beta1_power", "beta2_power_1", "scope/beta1_power",
                                        "w/RMSProp_2", "w/Momentum"}


@pytest.mark.parametrize("case, model_keys, paths", [
    ("tf_keras_adam",  # tf.keras 2: Adam's m and v are slot variables of the optimizer node
     [f"model/layer_with_weights-{i}/{w}/.ATTRIBUTES/VARIABLE_VALUE" for i in (0, 1) for w in ("bias", "kernel")],
     [f"model/layer_with_weights-{i}/{w}" for i in (0, 1) for w in ("bias", "kernel")]),
    ("keras_adam",  # Keras 3: moments are plain children of the optimizer; weights' keys go through it
     [f"optimizer/_trainable_variables/{i}/.ATTRIBUTES/VARIABLE_VALUE" for i in range(4)],
     ["model/_functional/_operations/1/_kernel", "model/_functional/_operations/1/bias",
      "model/_functional/_operations/2/_kernel", "model/_functional/_operations/2/bias"]),
])
def test_skip_optimizer_tf2_from_the_object_graph(case, model_keys, paths, tmp_path):
    src = str(FIXTURES / case / "ckpt")
    report = export(src, tmp_path / "m.safetensors", skip_optimizer=True)
    assert sorted(k for _, k in report.written) == sorted(model_keys)
    expected = json.loads((FIXTURES / case / "expected.json").read_text())
    assert {k for k, _ in report.skipped} == set(expected["dtypes"]) - set(model_keys)
    named = export(src, tmp_path / "n.safetensors", skip_optimizer=True, names="object-paths")
    assert sorted(n for n, _ in named.written) == sorted(paths)
    got = _load_safetensors(tmp_path / "n.safetensors")
    with tl.load_checkpoint(src) as r:
        for name, key in named.written:
            assert _bits_equal(got[name], r.get_tensor(key))


def test_object_paths_need_an_object_graph(tmp_path):
    with pytest.raises(tl.UnsupportedError, match="object-paths.*TF2"):
        export(str(FIXTURES / "tf1_saver_basic" / "model-1000"), tmp_path / "x.npz", names="object-paths")


def test_object_graph_never_exported_and_escaped_paths(tmp_path):
    prefix = str(tmp_path / "ckpt-1")
    tl.write_object_checkpoint(prefix, {"net": {"a.b/c": np.arange(3.0), "w": np.ones(2, np.float32)}})
    report = export(prefix, tmp_path / "x.npz", names="object-paths")
    assert [n for n, _ in report.written] == ["net/a..b.Sc", "net/w", "save_counter"]
    assert report.skipped[0][0] == "_CHECKPOINTABLE_OBJECT_GRAPH"
    with np.load(tmp_path / "x.npz") as z:
        assert "_CHECKPOINTABLE_OBJECT_GRAPH" not in z.files


@pytest.mark.slow
def test_cli_export_notices_and_errors(tmp_path):
    env_py = [sys.executable, "-c", "from tfckpt_lab.cli import main; raise SystemExit(main())"]
    out = tmp_path / "m.safetensors"
    p = subprocess.run(env_py + ["export", str(FIXTURES / "tf_keras_adam" / "ckpt"), str(out), "--skip-optimizer",
                                 "--names", "object-paths"], capture_output=True, text=True, cwd=ROOT,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert p.returncode == 0, p.stderr
    assert "skipped _CHECKPOINTABLE_OBJECT_GRAPH:" in p.stderr and "optimizer state" in p.stderr
    assert p.stdout.strip().endswith("(14 skipped)") and ": 4 tensors" in p.stdout
    p = subprocess.run(env_py + ["export", str(FIXTURES / "savev2_dtypes" / "bundle"), str(tmp_path / "d.npz")],
                       capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and "Traceback" not in p.stderr
    assert "bfloat16" in p.stderr and not (tmp_path / "d.npz").exists()


def test_cli_export_json(tmp_path, capsys):
    assert main(["export", str(FIXTURES / "tf1_saver_basic" / "model-1000"), str(tmp_path / "m.npz"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [w["name"] for w in doc["written"]] == [n for n, _ in tl.list_variables(
        str(FIXTURES / "tf1_saver_basic" / "model-1000"))]


def test_tl_export_is_the_function_even_after_importing_the_module(tmp_path):
    import tfckpt_lab.exporting  # noqa: F401  (a module named like the function would shadow it)

    assert callable(tl.export) and callable(tl.import_tensors) and callable(tl.compare)
    tl.write_bundle(str(tmp_path / "m"), {"w": np.ones(2, np.float32)})
    assert tl.export(str(tmp_path / "m"), tmp_path / "m.npz").written == [("w", "w")]
