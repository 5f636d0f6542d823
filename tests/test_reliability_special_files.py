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


@pytest.mark.slow
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
    assert st.lowlevel == proto
    for sample in ['model_checkpoint_path: "caf\\303\\251"\n', '# c\nmodel_checkpoint_path: "m"\n',
                   "model_checkpoint_path: 'm'\nall_model_checkpoint_timestamps: inf\n",
                   'model_checkpoint_path: "a"\nmodel_checkpoint_path: "b"\r\n\n']:
        ref = type(proto)()
        text_format.Merge(sample, ref)
        assert state.parse_state_text(sample) == ref, sample
    with pytest.raises(Exception, match="bogus"):
        state.parse_state_text('model_checkpoint_path: "a"\nbogus: 1\n')


def test_meta_cap_is_protobufs_message_limit(tmp_path):
    from tfckpt_lab.errors import FileTooLargeError
    from tfckpt_lab.fileio import MAX_META_BYTES, read_whole_file

    assert MAX_META_BYTES == 2**31 - 1  # the largest message protobuf serializes (INT_MAX bytes)
    p = tmp_path / "f"
    p.write_bytes(b"abc")
    assert read_whole_file(p, limit=3) == b"abc"
    with pytest.raises(FileTooLargeError, match="file of 3 bytes is larger than the 2 bytes") as info:
        read_whole_file(p, limit=2)
    assert isinstance(info.value, UnsupportedError) and info.value.path == str(p)


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


# -- every entry point, on every file it opens ------------------------------------------------------
#
# Each kind of special file is planted in place of one file of a checkpoint written by our Saver
# (.meta, `checkpoint` state file, data shard) or as a file with an unknown name, and every entry
# point that opens that file runs in a child process: a hang must show up as a step timeout (SIGALRM
# in the child, a subprocess timeout in the parent), never as a stuck test run.  The child's address
# space and the size of the files it may write are capped, so the unbounded reads and copies of the
# old code fail fast instead of filling memory or the disk.

STEP_LIMIT = 20  # seconds for one entry point (imports of the widget stack included); the fixed code needs < 1 s
_TARGETS = ("meta", "state", "data", "unknown")


def _plant(directory, target: str, kind: str) -> str:
    """A checkpoint in ``directory`` with ``target`` replaced by a special file; returns the file's path."""
    prefix = str(directory / "model-1")
    tl.Saver().save({"w": np.arange(3, dtype=np.float32)}, str(directory / "model"), global_step=1)
    path = {"meta": prefix + ".meta", "state": str(directory / "checkpoint"),
            "data": prefix + ".data-00000-of-00001", "unknown": str(directory / "notes.bin")}[target]
    if os.path.exists(path):
        os.unlink(path)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "/dev/zero":
        os.symlink("/dev/zero", path)
    else:  # "oversized": a sparse regular file one byte over the cap of its kind (no disk space used);
        # for a .meta that is 2**31 bytes, one more than protobuf can serialize
        with open(path, "wb") as f:
            f.truncate(2**31 if target == "meta" else state.MAX_STATE_FILE_BYTES + 1)
    return path


def _child(root: str, kind: str) -> None:
    """Run in a fresh process: every entry point on every planted file, one JSON line per step."""
    import contextlib
    import io
    import json
    import signal
    import time
    import warnings

    from tfckpt_lab.cli import main as cli
    from tfckpt_lab.explain import detect_kind, layouts
    from tfckpt_lab.widgets.checksum import ChecksumLab

    def step(target, name, fn):
        def alarm(*_):
            raise TimeoutError(f"still running after {STEP_LIMIT} s")

        signal.signal(signal.SIGALRM, alarm)
        signal.alarm(STEP_LIMIT)
        err = io.StringIO()
        t0 = time.monotonic()
        res = {}
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), \
                    warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                res["result"] = fn()
            res["warnings"] = [str(w.message) for w in caught]
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, which judges it
            res["error"], res["message"] = type(exc).__name__, str(exc)
        finally:
            signal.alarm(0)
        res.update(target=target, step=name, seconds=time.monotonic() - t0, stderr=err.getvalue())
        print(json.dumps(res, default=repr), flush=True)

    for target in _TARGETS:
        d = os.path.join(root, target)
        if not os.path.isdir(d):
            continue
        prefix = os.path.join(d, "model-1")
        if target == "meta":
            step(target, "tfckpt-lab meta DIR", lambda: cli(["meta", d]))
            step(target, "tfckpt-lab meta FILE", lambda: cli(["meta", prefix + ".meta"]))
            step(target, "tfckpt-lab layout FILE", lambda: cli(["layout", prefix + ".meta"]))
            step(target, "read_meta_graph", lambda: tl.read_meta_graph(prefix) and "read")
            step(target, "layouts", lambda: sorted(os.path.basename(p) for p in layouts(prefix)))
            step(target, "explore DIR", lambda: len(tl.explore(d).to_html()) > 0)
            step(target, "ChecksumLab flip", lambda: ChecksumLab(prefix).flip(prefix + ".index", 0)["caught"])
        elif target == "state":
            step(target, "tfckpt-lab layout FILE", lambda: cli(["layout", os.path.join(d, "checkpoint")]))
            step(target, "latest_checkpoint", lambda: tl.latest_checkpoint(d))
            step(target, "tfckpt-lab inspect DIR", lambda: cli(["inspect", d]))
        elif target == "data":
            step(target, "tfckpt-lab layout FILE", lambda: cli(["layout", prefix + ".data-00000-of-00001"]))
        else:
            step(target, "detect_kind", lambda: detect_kind(os.path.join(d, "notes.bin")))
            step(target, "tfckpt-lab layout FILE", lambda: cli(["layout", os.path.join(d, "notes.bin")]))


def _run_child(root, kind) -> list[dict]:
    import json
    import resource
    import subprocess
    import sys
    from pathlib import Path

    def limits():  # 3 GiB of address space, 64 MiB per written file: the old code's /dev/zero reads stop here
        resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 2**20, 64 * 2**20))

    tests = str(Path(__file__).parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")]),
               MPLBACKEND="Agg")
    code = "import sys, test_reliability_special_files as t; t._child(sys.argv[1], sys.argv[2])"
    proc = subprocess.run([sys.executable, "-c", code, str(root), kind], capture_output=True, text=True,
                          env=env, timeout=STEP_LIMIT * 14, preexec_fn=limits)
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, proc.stderr[-2000:]
    return lines


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "oversized"])
def test_every_entry_point_refuses_special_files_quickly(tmp_path, kind):
    targets = _TARGETS if kind != "oversized" else ("meta", "state")
    planted = {}
    for target in targets:
        (tmp_path / target).mkdir()
        planted[target] = _plant(tmp_path / target, target, kind)
    results = _run_child(tmp_path, kind)
    assert len(results) == {"fifo": 13, "/dev/zero": 13, "oversized": 10}[kind]
    refusal = "larger than the" if kind == "oversized" else "not a regular file"
    for r in results:
        what = f"{r['target']}: {r['step']}: {r}"
        assert r["seconds"] < STEP_LIMIT / 2, what
        assert "Traceback" not in r["stderr"], what
        path = planted[r["target"]]
        if r["step"].startswith("tfckpt-lab inspect"):  # the state is ignored: nothing names a checkpoint
            assert r.get("result") == 1 and "no 'checkpoint' state file" in r["stderr"], what
        elif r["step"].startswith("tfckpt-lab"):  # one line, exit code 1, naming the file and the reason
            assert r.get("result") == 1, what
            assert r["stderr"].count("\n") == 1 and r["stderr"].startswith(f"tfckpt-lab: error: {path}: "), what
            assert refusal in r["stderr"], what
        elif r["step"] == "read_meta_graph":
            assert r.get("error") == ("FileTooLargeError" if kind == "oversized" else "UnsupportedError"), what
            assert r["message"].startswith(path) and refusal in r["message"], what
        elif r["step"] == "layouts":  # the checkpoint is still shown, the .meta is left out with a warning
            assert r.get("result") == ["model-1.data-00000-of-00001", "model-1.index"], what
            assert any(refusal in m and "not shown" in m for m in r["warnings"]), what
        elif r["step"] == "explore DIR":
            assert r.get("result") is True, what
        elif r["step"] == "ChecksumLab flip":  # copies only regular files; byte 0 of the index is caught
            assert r.get("result") is True, what
        elif r["step"] == "latest_checkpoint":
            assert r.get("result") is None and "error" not in r, what
            assert any("ignored" in m for m in r["warnings"]), what
        elif r["step"] == "detect_kind":
            assert r.get("result") == "unknown", what
        else:  # pragma: no cover
            raise AssertionError(what)


def test_layouts_show_a_checkpoint_whose_meta_is_a_directory(tmp_path):
    from tfckpt_lab.explain import layouts

    prefix = tl.Saver().save({"w": np.arange(3, dtype=np.float32)}, str(tmp_path / "model"), global_step=1)
    os.unlink(prefix + ".meta")
    os.mkdir(prefix + ".meta")
    with pytest.warns(RuntimeWarning, match="is a directory, not a file; not shown"):
        trees = layouts(prefix)
    assert sorted(os.path.basename(p) for p in trees) == ["model-1.data-00000-of-00001", "model-1.index"]
    with pytest.raises(CheckpointError, match="is a directory"):
        tl.layout(prefix + ".meta")
