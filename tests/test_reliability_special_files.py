"""Files that are not what they seem: FIFOs, devices, closed readers, absurd state files.

None of these may hang, read without end, or raise anything but a CheckpointError
(a ``ValueError`` for using a reader after ``close()``, as Python's own files do).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from corruptlib import time_limit

import tfckpt_lab as tl
from tfckpt_lab.bundle.reader import BundleReader
from tfckpt_lab.bundle.writer import write_bundle
from tfckpt_lab.checkpoint import state
from tfckpt_lab.checkpoint.verify import verify_checkpoint
from tfckpt_lab.errors import CheckpointError, UnsupportedError

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")


def _bundle(tmp_path):
    p = str(tmp_path / "ck")
    write_bundle(p, {"a": np.arange(4, dtype=np.float32)})
    return p


@pytest.mark.parametrize("which", ["data", "index"])
@pytest.mark.parametrize("kind", ["fifo", "/dev/zero"])
def test_fifo_or_device_in_place_of_a_checkpoint_file_is_refused_without_hanging(tmp_path, which, kind):
    p = _bundle(tmp_path)
    target = p + (".index" if which == "index" else ".data-00000-of-00001")
    os.unlink(target)
    if kind == "fifo":
        os.mkfifo(target)
    else:
        os.symlink(kind, target)
    with time_limit(5):
        with pytest.raises(UnsupportedError, match="not a regular file") as info:
            with tl.load_checkpoint(p) as r:
                r.get_tensor("a")
        assert info.value.path == target
        report = verify_checkpoint(p)
    assert not report.ok
    assert [(q.path, q.kind) for q in report.problems] == [(target, "UnsupportedError")]


def test_verify_reports_a_short_shard_as_truncated_not_as_overlap(tmp_path):
    p = _bundle(tmp_path)
    with open(p + ".data-00000-of-00001", "r+b") as f:
        f.truncate(6)
    kinds = [q.kind for q in verify_checkpoint(p).problems]
    assert "TruncatedError" in kinds
    assert not any("more than one tensor" in q.message for q in verify_checkpoint(p).problems)


def test_reading_after_close_raises_value_error_and_never_reopens(tmp_path):
    p = _bundle(tmp_path)
    r = tl.load_checkpoint(p)
    view = r.get_tensor("a", verify=False, copy=False)
    r.close()
    for kwargs in ({}, {"verify": False, "copy": False}):
        with pytest.raises(ValueError, match="closed"):
            r.get_tensor("a", **kwargs)
    b = BundleReader(p)
    b.close()
    with pytest.raises(ValueError, match="closed"):
        b.read_tensor("a")
    np.testing.assert_array_equal(view, np.arange(4, dtype=np.float32))  # views outlive the reader


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "too big", "too big, not canonical"])
def test_hostile_state_file_reads_as_no_state_quickly(tmp_path, kind):
    p = _bundle(tmp_path)
    sf = tmp_path / "checkpoint"
    if kind == "fifo":
        os.mkfifo(sf)
    elif kind == "/dev/zero":
        os.symlink(kind, sf)
    elif kind == "too big":
        sf.write_text('model_checkpoint_path: "ck"\nall_model_checkpoint_paths: "' + "a" * state.MAX_STATE_FILE_BYTES
                      + '"\n')
    else:  # under the size limit, but text_format would take minutes
        sf.write_text('model_checkpoint_path: "ck"  # comment\n' + 'all_model_checkpoint_paths: "x"\n' * 100_000)
    with time_limit(5):
        with pytest.warns(RuntimeWarning, match="ignored"):
            assert tl.latest_checkpoint(str(tmp_path)) is None
    assert os.path.exists(p + ".index")


def test_long_canonical_state_file_is_parsed_fast_and_like_text_format(tmp_path):
    from google.protobuf import text_format

    paths = [f"ck-{i}" for i in range(50_000)]
    proto = state.generate_checkpoint_state_proto(str(tmp_path), str(tmp_path / paths[-1]),
                                                  [str(tmp_path / q) for q in paths],
                                                  [1.5 + i for i in range(len(paths))], 0.25)
    text = text_format.MessageToString(proto)
    (tmp_path / "checkpoint").write_text(text)
    with time_limit(10):
        st = state.read_checkpoint_state(str(tmp_path / "checkpoint"))
    assert st.proto == proto
    for sample in ['model_checkpoint_path: "caf\\303\\251"\n', '# c\nmodel_checkpoint_path: "m"\n',
                   "model_checkpoint_path: 'm'\nall_model_checkpoint_timestamps: inf\n",
                   'model_checkpoint_path: "a"\nmodel_checkpoint_path: "b"\r\n\n']:
        ref = type(proto)()
        text_format.Merge(sample, ref)
        assert state.parse_state_text(sample) == ref, sample
    with pytest.raises(Exception, match="bogus"):
        state.parse_state_text('model_checkpoint_path: "a"\nbogus: 1\n')


def test_errors_from_special_files_are_checkpoint_errors(tmp_path):
    p = _bundle(tmp_path)
    os.unlink(p + ".index")
    os.mkdir(p + ".index")
    with pytest.raises(CheckpointError):
        tl.load_checkpoint(p)


@pytest.mark.parametrize("verify", [True, False])
def test_reader_opened_before_a_resave_at_the_same_prefix_never_mixes_saves(tmp_path, verify):
    """Shards open lazily: after a new save replaces the prefix, the old index must not read the new data."""
    p = str(tmp_path / "model")
    write_bundle(p, {"a": np.zeros(4, np.float32)})
    r = tl.load_checkpoint(p, verify=verify)
    write_bundle(p, {"a": np.ones(4, np.float32)})
    with pytest.raises(CheckpointError, match="replaced by a newer save"):
        r.get_tensor("a")
    r.close()
    r = tl.load_checkpoint(p, verify=verify)  # a shard opened before the re-save keeps the old bytes
    r.get_tensor("a")
    write_bundle(p, {"a": np.full(4, 2, np.float32)})
    np.testing.assert_array_equal(r.get_tensor("a"), np.ones(4, np.float32))
    r.close()
