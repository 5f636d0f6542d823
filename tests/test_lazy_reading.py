"""What reading costs, counted in reads rather than seconds: lazy open, one block per lookup, zero-copy views."""

from __future__ import annotations

import numpy as np
import pytest

import tfckpt_lab as tl
from tfckpt_lab.bundle.reader import BundleReader
from tfckpt_lab.fileio import RandomAccessFile


@pytest.fixture
def many(tmp_path):
    """A bundle whose index has several data blocks (8,000 entries)."""
    prefix = str(tmp_path / "many")
    tl.write_bundle(prefix, {f"model/layer_{i:04d}/dense/w": np.full((2, 3), i, np.float32) for i in range(8000)})
    return prefix


@pytest.fixture
def reads(monkeypatch):
    """Every (path suffix, offset, size) read through RandomAccessFile."""
    log = []
    pread, readinto = RandomAccessFile.pread, RandomAccessFile.readinto

    def logged_pread(self, offset, n):
        log.append((self.path.rsplit(".", 1)[-1], offset, n))
        return pread(self, offset, n)

    def logged_readinto(self, offset, buffer):
        log.append((self.path.rsplit(".", 1)[-1], offset, memoryview(buffer).nbytes))
        return readinto(self, offset, buffer)

    monkeypatch.setattr(RandomAccessFile, "pread", logged_pread)
    monkeypatch.setattr(RandomAccessFile, "readinto", logged_readinto)
    return log


def test_open_reads_only_footer_and_index_block(many, reads):
    r = BundleReader(many)
    assert r.table.num_data_blocks > 1
    index = r.table.footer.index_handle
    assert [(off, n) for _, off, n in reads] == [(r.table.footer_offset, 48), (index.offset, index.size + 5)]
    r.close()


def test_lookup_reads_one_data_block_and_the_tensor(many, reads):
    r = BundleReader(many)
    del reads[:]
    value = r.read_tensor("model/layer_7998/dense/w")
    assert value[0, 0] == 7998
    # the header's block (the first), the entry's block (the last), then exactly the tensor's 24 bytes
    assert [w for w, _, _ in reads] == ["index", "index", "data-00000-of-00001"]
    assert reads[-1][2] == 24
    del reads[:]
    r.read_tensor("model/layer_7999/dense/w")  # same block: cached, only the tensor is read
    assert [w for w, _, _ in reads] == ["data-00000-of-00001"]
    r.close()


def test_listing_parses_once_and_caches(many, reads):
    r = tl.load_checkpoint(many)
    shapes = r.get_variable_to_shape_map()
    assert len(shapes) == 8000 and shapes["model/layer_0007/dense/w"] == [2, 3]
    n = len(reads)
    assert r.get_variable_to_dtype_map()["model/layer_0007/dense/w"] == "float32"
    assert len(r) == 8000 and "model/layer_7999/dense/w" in r
    assert len(reads) == n  # answered from the cache
    r.close()


def test_listing_fast_path_matches_full_entries(many):
    b = BundleReader(many)
    fast = b.variable_map()
    b2 = BundleReader(many)
    full = {e.name: (e.shape, e.dtype) for e in b2.variables()}
    assert fast == full
    assert list(fast) == sorted(fast)


def test_zero_copy_view_is_read_only_and_not_a_copy(tmp_path):
    prefix = str(tmp_path / "m")
    tl.write_bundle(prefix, {"w": np.arange(1 << 16, dtype=np.float32)})
    r = tl.load_checkpoint(prefix, verify=False)
    view = r.get_tensor("w", verify=False, copy=False)
    assert not view.flags.writeable and not view.flags.owndata
    with pytest.raises(ValueError):
        view[0] = 1
    np.testing.assert_array_equal(view, np.arange(1 << 16, dtype=np.float32))
    copied = r.get_tensor("w", verify=False)
    assert copied.flags.writeable and not np.shares_memory(copied, view)
    r.close()


def test_listing_fast_path_with_odd_names_and_partitions(tmp_path):
    """The column listing decodes all keys at once; odd names and partition pieces still list as entries do."""
    from tfckpt_lab.bundle.slices import Extent, TensorSlice
    from tfckpt_lab.bundle.writer import BundleWriter

    prefix = str(tmp_path / "odd")
    with BundleWriter(prefix) as w:
        w.add("line\nbreak", np.zeros(2, np.float32))
        w.add(b"bad\xffutf8", np.zeros(3, np.int64))
        w.add("plain", np.zeros((1, 2), np.float32))
        w.add_slice("part", (4, 2), TensorSlice((Extent(0, 2), Extent())), np.ones((2, 2), np.float32))
        w.add_slice("part", (4, 2), TensorSlice((Extent(2, 2), Extent())), np.ones((2, 2), np.float32))
    fast = BundleReader(prefix).variable_map()
    full = {e.name: (e.shape, e.dtype) for e in BundleReader(prefix).variables()}
    assert fast == full
    assert set(fast) == {"line\nbreak", "bad\\xffutf8", "plain", "part"}
    assert tl.list_variables(prefix) == sorted((n, list(s)) for n, (s, _) in full.items())
