"""Checkpoints opened by URL through fsspec (ranged reads instead of a local file)."""

from __future__ import annotations

import numpy as np
import pytest

import tfckpt_lab as tl
from conftest import TF_FIXTURES

fsspec = pytest.importorskip("fsspec")


def test_read_tf_checkpoint_from_memory_filesystem():
    fs = fsspec.filesystem("memory")
    src = TF_FIXTURES / "tf1_sharded"
    for p in src.iterdir():
        if p.name.startswith("model-5"):
            fs.pipe(f"/ckpt/{p.name}", p.read_bytes())
    remote = tl.load_checkpoint("memory://ckpt/model-5")
    local = tl.load_checkpoint(src / "model-5")
    assert remote.get_variable_to_shape_map() == local.get_variable_to_shape_map()
    for name in local.keys():
        np.testing.assert_array_equal(remote.get_tensor(name), local.get_tensor(name))
    with pytest.raises(tl.TensorNotFoundError):
        remote.get_tensor("missing")


def test_missing_remote_checkpoint():
    with pytest.raises(tl.CheckpointNotFoundError):
        tl.load_checkpoint("memory://nowhere/model")
