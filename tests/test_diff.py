"""tfckpt-lab diff / tfckpt_lab.diff.compare: against values TensorFlow reads, .meta and tensor-file
sides, TF1 -> TF2 rename suggestions, bounded memory, exit codes."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import tfckpt_lab as tl
from tfckpt_lab.cli import main
from tfckpt_lab.diff import compare

FIXTURES = Path(__file__).parent / "fixtures" / "tf"


@pytest.mark.tf
def test_changed_values_match_tf_reading(tf):
    a, b = str(FIXTURES / "tf2_checkpoint" / "ckpt-2"), str(FIXTURES / "tf2_checkpoint" / "ckpt-3")
    ra, rb = tf.train.load_checkpoint(a), tf.train.load_checkpoint(b)
    r = compare(a, b)
    assert not r.identical and not (r.only_in_a or r.only_in_b or r.mismatched)
    for item in r.changed:
        va, vb = ra.get_tensor(item["name"]), rb.get_tensor(item["name"])
        if isinstance(va, bytes):
            assert va != vb
            continue
        want = float(np.max(np.abs(np.asarray(vb, np.float64) - np.asarray(va, np.float64))))
        assert item["max_abs_diff"] == want and want > 0
    for item in r.same:
        assert np.array_equal(ra.get_tensor(item["name"]), rb.get_tensor(item["name"]))
    assert {i["name"] for i in r.changed} | {i["name"] for i in r.same} == set(ra.get_variable_to_shape_map())


@pytest.mark.tf
def test_tf1_names_against_tf2_keras_suggest_renames(tf, tmp_path):
    """TF1 dense/kernel ... against the TF2 tf.keras checkpoint with layer_with_weights-N: renames pair them."""
    tf1 = tf.compat.v1
    g = tf1.Graph()
    with g.as_default():
        for scope, (i, o) in (("dense", (4, 8)), ("dense_1", (8, 3))):
            with tf1.variable_scope(scope):
                tf1.get_variable("kernel", [i, o])
                tf1.get_variable("bias", [o])
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            prefix = tf1.train.Saver().save(sess, str(tmp_path / "tf1"))
    tf2 = str(FIXTURES / "tf_keras_adam" / "ckpt")
    r = compare(prefix, tf2, values=False)
    got = {x["a"]: x["b"] for x in r.renames}
    assert got == {f"{s}/{w}": f"model/layer_with_weights-{i}/{w}/.ATTRIBUTES/VARIABLE_VALUE"
                   for i, s in enumerate(("dense", "dense_1")) for w in ("kernel", "bias")}
    assert main(["diff", prefix, tf2, "--json", "--names-only"]) == 1


def test_meta_side_partitioned_and_mismatch(tmp_path):
    ck = str(FIXTURES / "tf1_partitioned" / "model")
    r = compare(ck, ck + ".meta")
    assert r.identical and all(i.get("values_compared") is False for i in r.same)
    assert len(r.same) == len(tl.list_variables(ck))
    other = tl.write_meta_graph(str(tmp_path / "m.meta"), {"w": np.zeros(3, np.float32)})
    tl.write_bundle(str(tmp_path / "m"), {"w": np.zeros(4, np.float32), "extra": np.int64(1)})
    r = compare(str(tmp_path / "m"), other)
    assert [m["name"] for m in r.mismatched] == ["w"] and r.mismatched[0]["b"]["shape"] == [3]
    assert [x["name"] for x in r.only_in_a] == ["extra"]


def test_tensor_file_sides_and_atol(tmp_path):
    pytest.importorskip("safetensors")
    from tfckpt_lab.tensorfiles import write_tensor_file

    w = np.linspace(-1, 1, 1000).astype(np.float32)
    tl.write_bundle(str(tmp_path / "c"), {"w": w, "n": np.array([np.nan, 1.0]), "s": np.array([b"a", b"b"], object)})
    write_tensor_file(tmp_path / "x.safetensors", {"w": w + np.float32(1e-3), "n": np.array([np.nan, 1.0])})
    np.savez(tmp_path / "x.npz", w=w, n=np.array([np.nan, 2.0]), s=np.array([b"a", b"c"]))
    r = compare(str(tmp_path / "c"), tmp_path / "x.safetensors")
    assert [c["name"] for c in r.changed] == ["w"] and [s["name"] for s in r.same] == ["n"]  # NaN == NaN in place
    assert r.changed[0]["max_abs_diff"] == pytest.approx(1e-3, rel=1e-3)
    assert compare(str(tmp_path / "c"), tmp_path / "x.safetensors", atol=2e-3).changed == []
    r = compare(str(tmp_path / "c"), tmp_path / "x.npz")
    by = {c["name"]: c for c in r.changed}
    assert set(by) == {"n", "s"} and by["n"]["max_abs_diff"] == 1.0 and by["s"]["elements_changed"] == 1


@pytest.mark.slow
def test_huge_tensors_are_compared_in_bounded_memory(tmp_path):
    n = 16 * 2**20  # 64 MiB of float32 on each side
    a = np.zeros(n, np.float32)
    tl.write_bundle(str(tmp_path / "a"), {"big": a})
    a[n - 3] = 2.5
    tl.write_bundle(str(tmp_path / "b"), {"big": a})
    del a
    tracemalloc.start()
    try:
        r = compare(str(tmp_path / "a"), str(tmp_path / "b"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.changed[0]["max_abs_diff"] == 2.5 and r.changed[0]["elements_changed"] == 1
    print(f"\npeak memory comparing two 64 MiB tensors: {peak / 2**20:.1f} MiB")
    assert peak < 32 * 2**20  # half of one side's tensor; reading both whole would need > 128 MiB


def test_checksums_still_checked_while_streaming(tmp_path):
    tl.write_bundle(str(tmp_path / "a"), {"w": np.arange(100, dtype=np.float32)})
    tl.write_bundle(str(tmp_path / "b"), {"w": np.arange(100, dtype=np.float32) + 1})
    shard = tmp_path / "b.data-00000-of-00001"
    data = bytearray(shard.read_bytes())
    data[17] ^= 1
    shard.write_bytes(bytes(data))
    with pytest.raises(tl.ChecksumMismatchError):
        compare(str(tmp_path / "a"), str(tmp_path / "b"))
    assert main(["diff", str(tmp_path / "a"), str(tmp_path / "b")]) == 2


def test_cli_exit_codes_and_json(tmp_path, capsys):
    tl.write_bundle(str(tmp_path / "a"), {"w": np.ones(3, np.float32), "x": np.int32(1), "old/kernel": np.ones(2)})
    tl.write_bundle(str(tmp_path / "b"), {"w": np.ones(3, np.float32), "y": np.int32(1), "new/kernel": np.ones(2)})
    assert main(["diff", str(tmp_path / "a"), str(tmp_path / "a")]) == 0
    assert "identical" in capsys.readouterr().out
    assert main(["diff", str(tmp_path / "a"), str(tmp_path / "b"), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert {k: [i.get("name", i.get("a")) for i in doc[k]] for k in
            ("only_in_a", "only_in_b", "mismatched", "changed", "same", "renames")} == {
        "only_in_a": ["old/kernel", "x"], "only_in_b": ["new/kernel", "y"], "mismatched": [], "changed": [],
        "same": ["w"], "renames": ["old/kernel"]}  # x and y: same shape and dtype, but nothing alike in the path
    assert doc["renames"][0]["b"] == "new/kernel" and doc["identical"] is False
    assert main(["diff", str(tmp_path / "a"), str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tfckpt-lab: error:") and err.count("\n") == 1
    assert main(["diff", str(tmp_path / "a"), str(tmp_path / "m.npz")]) == 2


def test_views_use_the_same_comparison(tmp_path):
    from tfckpt_lab.views.diff import diff_checkpoints

    tl.write_bundle(str(tmp_path / "a"), {"w": np.ones(3, np.float32), "x": np.int32(1)})
    tl.write_bundle(str(tmp_path / "b"), {"w": np.full(3, 3, np.float32), "x": np.int32(1)})
    rows = diff_checkpoints(str(tmp_path / "a"), str(tmp_path / "b"))
    r = compare(str(tmp_path / "a"), str(tmp_path / "b"))
    assert [(x["name"], x["status"], x["max_abs_diff"]) for x in rows] == [("w", "changed", 2.0), ("x", "same", 0.0)]
    assert rows == r.rows() and rows[0]["relative_change"] == pytest.approx(2.0)
