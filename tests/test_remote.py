"""Remote checkpoints over real servers on 127.0.0.1: an HTTP server that honours Range and counts
what it sends, moto's S3 server (with s3fs), and fsspec's memory:// filesystem.

Every reading entry point (API and CLI) is run against a URL and compared with the same call on
the local files; the one-tensor read of a 512 MiB checkpoint must move less than 16 MiB.
"""

from __future__ import annotations

import http.server
import os
import re
import shutil
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

import tfckpt_lab as tl
from tfckpt_lab.cli import main

fsspec = pytest.importorskip("fsspec")

FIXTURES = Path(__file__).parent / "fixtures" / "tf"
MiB = 2**20


# -- an HTTP server that honours Range and counts the bytes it sends ---------------------------------


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def handle(self):
        try:
            super().handle()
        except (ConnectionResetError, BrokenPipeError):  # the client hung up: nothing to serve
            pass

    def _file(self):
        root = self.server.root
        path = (root / self.path.split("?", 1)[0].lstrip("/")).resolve()
        if root not in path.parents or not path.is_file():
            return None
        return path

    def _send_headers(self, code, length, extra=()):
        self.send_response(code)
        self.send_header("Content-Length", str(length))
        self.send_header("Content-Type", "application/octet-stream")
        if self.server.honour_range:
            self.send_header("Accept-Ranges", "bytes")
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()

    def do_HEAD(self):
        self.server.count("HEAD", 0)
        path = self._file()
        if path is None:
            self._send_headers(404, 0)
            return
        self._send_headers(200, path.stat().st_size)

    def do_GET(self):
        path = self._file()
        if path is None:
            self.server.count("GET", 0)
            self._send_headers(404, 0)
            return
        size = path.stat().st_size
        start, end = 0, size
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if m and self.server.honour_range:
            start = int(m.group(1))
            end = min(size, int(m.group(2)) + 1) if m.group(2) else size
            self._send_headers(206, end - start, [("Content-Range", f"bytes {start}-{end - 1}/{size}")])
        else:
            self._send_headers(200, size)
        sent = 0
        try:
            with open(path, "rb") as f:
                f.seek(start)
                while sent < end - start:
                    chunk = f.read(min(MiB, end - start - sent))
                    self.wfile.write(chunk)
                    sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            self.server.count("GET", sent)


class CountingHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, honour_range: bool = True):
        super().__init__(("127.0.0.1", 0), _RangeHandler)
        self.root = Path(root).resolve()
        self.honour_range = honour_range
        self._lock = threading.Lock()
        self.reset()

    def count(self, method: str, nbytes: int) -> None:
        with self._lock:
            self.requests.append(method)
            self.bytes_sent += nbytes

    def reset(self) -> None:
        self.requests: list[str] = []
        self.bytes_sent = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def _serve(root: Path, honour_range: bool = True):
    pytest.importorskip("aiohttp")  # fsspec's HTTP filesystem
    server = CountingHTTPServer(root, honour_range)
    # polls for shutdown every 20 ms (not the default 0.5 s, which every test would wait out when stopping it)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    return server, thread


def _stop(server, thread) -> None:
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture()
def http_root(tmp_path):
    """A directory served over HTTP on 127.0.0.1 (started and stopped around each test)."""
    root = tmp_path / "www"
    root.mkdir()
    server, thread = _serve(root)
    yield root, server
    _stop(server, thread)


def _copy_fixture(name: str, dest: Path) -> Path:
    shutil.copytree(FIXTURES / name, dest / name)
    return dest / name


# -- one tensor of a 512 MiB checkpoint --------------------------------------------------------------


@pytest.mark.slow
def test_one_tensor_of_512_mib_moves_less_than_16_mib(http_root):
    root, server = http_root
    block = np.arange(2 * MiB, dtype=np.float32)  # 8 MiB
    with tl.BundleWriter(str(root / "big" / "model-1")) as w:
        for i in range(64):  # 64 x 8 MiB = 512 MiB, one array in memory
            w.add(f"layer_{i:02d}/kernel", block if i != 37 else block * -1)
    tl.update_checkpoint_state(str(root / "big"), "model-1")
    shard = root / "big" / "model-1.data-00000-of-00001"
    assert shard.stat().st_size == 512 * MiB
    server.reset()
    reader = tl.load_checkpoint(f"{server.url}/big/")  # a directory URL: its state file names the prefix
    value = reader.get_tensor("layer_37/kernel")
    reader.close()
    np.testing.assert_array_equal(value, block * -1)
    print(f"\nbytes sent by the server for one 8 MiB tensor of a 512 MiB checkpoint: {server.bytes_sent} "
          f"in {len(server.requests)} requests ({server.requests.count('GET')} GET)")
    assert 8 * MiB <= server.bytes_sent < 16 * MiB
    assert server.bytes_sent < 8 * MiB + 64 * 1024  # the tensor, the state file and the index: nothing more


def test_remote_reads_are_ranged_not_read_ahead(http_root):
    """fsspec's default read-ahead cache would fetch 5 MiB for the 48-byte footer; we fetch what we ask."""
    root, server = http_root
    tl.write_bundle(str(root / "m"), {"big": np.ones(3 * MiB, np.uint8), "small": np.arange(4, dtype=np.int32)})
    server.reset()
    with tl.load_checkpoint(f"{server.url}/m") as r:
        index_size = (root / "m.index").stat().st_size
        assert server.bytes_sent <= index_size
        np.testing.assert_array_equal(r.get_tensor("small"), np.arange(4, dtype=np.int32))
    assert server.bytes_sent <= index_size + 16


# -- every entry point over HTTP ---------------------------------------------------------------------


def _same_listing(url, local):
    assert tl.list_variables(url) == tl.list_variables(local)
    with tl.load_checkpoint(url) as r, tl.load_checkpoint(local) as l:
        for name in l.keys():
            a, b = r.get_tensor(name), l.get_tensor(name)
            if isinstance(b, np.ndarray) and b.dtype.kind in "fc":
                np.testing.assert_array_equal(a, b)
            else:
                assert np.array_equal(np.asarray(a, dtype=object), np.asarray(b, dtype=object))


@pytest.mark.slow
def test_api_entry_points_over_http(http_root):
    root, server = http_root
    tf1 = _copy_fixture("tf1_saver_basic", root)
    tf2 = _copy_fixture("tf2_checkpoint", root)
    base = server.url
    # state file: relative paths are joined onto the URL
    st = tl.get_checkpoint_state(f"{base}/tf1_saver_basic")
    local_st = tl.get_checkpoint_state(str(tf1))
    assert st.model_checkpoint_path == f"{base}/tf1_saver_basic/model-1000"
    assert [p.rsplit("/", 1)[-1] for p in st.all_model_checkpoint_paths] == [
        os.path.basename(p) for p in local_st.all_model_checkpoint_paths]
    assert tl.latest_checkpoint(f"{base}/tf2_checkpoint") == f"{base}/tf2_checkpoint/ckpt-3"
    assert tl.latest_checkpoint(f"{base}/nothing_here") is None
    _same_listing(f"{base}/tf1_saver_basic/", str(tf1 / "model-1000"))
    _same_listing(f"{base}/tf2_checkpoint/ckpt-2.index", str(tf2 / "ckpt-2"))
    name = tl.list_variables(str(tf1))[0][0]
    np.testing.assert_array_equal(tl.load_variable(f"{base}/tf1_saver_basic", name + ":0"),
                                  tl.load_variable(str(tf1), name))
    mg = tl.read_meta_graph(f"{base}/tf1_saver_basic/model-1000.meta")
    assert [v.name for v in mg.variables] == [v.name for v in tl.read_meta_graph(str(tf1)).variables]
    assert tl.read_meta_graph(f"{base}/tf1_saver_basic").path.endswith("model-1000.meta")
    g = tl.read_object_graph(f"{base}/tf2_checkpoint")
    assert g.checkpoint_keys() == tl.read_object_graph(str(tf2)).checkpoint_keys()
    from tfckpt_lab.checkpoint.verify import verify_checkpoint

    rep = verify_checkpoint(f"{base}/tf2_checkpoint/ckpt-3")
    loc = verify_checkpoint(str(tf2 / "ckpt-3"))
    assert rep.ok and (rep.tensors_checked, rep.bytes_checked) == (loc.tensors_checked, loc.bytes_checked)
    tree = tl.layout(f"{base}/tf2_checkpoint/ckpt-3.index")
    assert tree.to_dict() == tl.layout(str(tf2 / "ckpt-3.index")).to_dict() | {"label": tree.label}
    data = tl.layout(f"{base}/tf2_checkpoint/ckpt-3.data-00000-of-00001")
    assert [c.label for c in data.children] == [
        c.label for c in tl.layout(str(tf2 / "ckpt-3.data-00000-of-00001")).children]
    assert data.read(0, 4) == (tf2 / "ckpt-3.data-00000-of-00001").read_bytes()[:4]
    state = tl.layout(f"{base}/tf2_checkpoint/checkpoint")
    assert state.file_kind == "state" and state.children[0].label == "model_checkpoint_path"


def test_missing_remote_files_are_clear_errors(http_root):
    root, server = http_root
    with pytest.raises(tl.CheckpointNotFoundError, match="no checkpoint here"):
        tl.load_checkpoint(f"{server.url}/nope/model-1")
    (root / "empty").mkdir()
    with pytest.raises(tl.CheckpointNotFoundError, match="state file"):
        tl.load_checkpoint(f"{server.url}/empty/")
    with pytest.raises(tl.CheckpointNotFoundError):
        tl.read_meta_graph(f"{server.url}/nope/model-1.meta")


def test_server_ignoring_range_is_refused_not_downloaded(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    tl.write_bundle(str(root / "m"), {"w": np.ones(4 * MiB, np.uint8)})
    server, thread = _serve(root, honour_range=False)
    try:
        with pytest.raises(tl.UnsupportedError, match="range"):
            tl.load_checkpoint(f"{server.url}/m").get_tensor("w")
    finally:
        _stop(server, thread)


@pytest.mark.slow
def test_cli_over_http(http_root, capsys, tmp_path):
    root, server = http_root
    tf1 = _copy_fixture("tf1_saver_basic", root)
    _copy_fixture("tf2_checkpoint", root)
    base = server.url
    assert main(["inspect", f"{base}/tf1_saver_basic"]) == 0
    out = capsys.readouterr().out
    for name, _ in tl.list_variables(str(tf1)):
        assert name in out
    assert main(["verify", f"{base}/tf2_checkpoint/"]) == 0
    assert ": OK:" in capsys.readouterr().out
    assert main(["layout", f"{base}/tf2_checkpoint/ckpt-3.index", "--depth", "1"]) == 0
    assert "footer" in capsys.readouterr().out
    assert main(["meta", f"{base}/tf1_saver_basic/model-1000.meta"]) == 0
    assert "saver:" in capsys.readouterr().out
    assert main(["objects", f"{base}/tf2_checkpoint"]) == 0
    assert "(root)" in capsys.readouterr().out
    assert main(["diff", f"{base}/tf1_saver_basic", str(tf1 / "model-1000")]) == 0
    assert "identical" in capsys.readouterr().out
    out_file = tmp_path / "m.npz"
    assert main(["export", f"{base}/tf1_saver_basic", str(out_file)]) == 0
    with np.load(out_file) as z, tl.load_checkpoint(str(tf1)) as r:
        assert sorted(z.files) == sorted(r.keys())


def test_progress_bar_on_long_remote_reads(http_root, capsys, tmp_path):
    root, server = http_root
    tl.write_bundle(str(root / "m"), {"w": np.arange(5 * MiB, dtype=np.float32)})  # 20 MiB
    assert main(["export", f"{server.url}/m", str(tmp_path / "w.npz")]) == 0
    err = capsys.readouterr().err
    assert "m.data-00000-of-00001: 100% 20.0/20.0 MiB" in err
    # the API draws nothing unless asked
    with tl.load_checkpoint(f"{server.url}/m") as r:
        r.get_tensor("w")
    assert capsys.readouterr().err == ""


# -- memory:// ---------------------------------------------------------------------------------------


def test_read_tf_checkpoint_from_memory_filesystem():
    fs = fsspec.filesystem("memory")
    src = FIXTURES / "tf1_sharded"
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


def test_memory_directory_urls_and_verify():
    fs = fsspec.filesystem("memory")
    src = FIXTURES / "tf1_sharded"
    for p in src.iterdir():
        fs.pipe(f"/tfckpt_lab_test/{p.name}", p.read_bytes())
    try:
        _same_listing("memory://tfckpt_lab_test", str(src / "model-5"))
        from tfckpt_lab.checkpoint.verify import verify_checkpoint

        assert verify_checkpoint("memory://tfckpt_lab_test/model-5").ok
        fs.rm("/tfckpt_lab_test/model-5.data-00001-of-00003")
        rep = verify_checkpoint("memory://tfckpt_lab_test/model-5")
        assert [p.message for p in rep.problems].count("data shard missing") == 1
    finally:
        fs.rm("/tfckpt_lab_test", recursive=True)


# -- S3: moto's server on 127.0.0.1, read through s3fs -----------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def s3_bucket(monkeypatch):
    pytest.importorskip("s3fs")
    moto_server = pytest.importorskip("moto.server")
    import boto3
    import s3fs

    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
                 "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint}.items():
        monkeypatch.setenv(k, v)
    s3fs.S3FileSystem.clear_instance_cache()
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="ckpts")
    try:
        yield client
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
        server.stop()


@pytest.mark.slow
def test_s3_checkpoints(s3_bucket):
    for case in ("tf1_sharded", "tf2_checkpoint"):
        for p in (FIXTURES / case).iterdir():
            s3_bucket.put_object(Bucket="ckpts", Key=f"{case}/{p.name}", Body=p.read_bytes())
    _same_listing("s3://ckpts/tf1_sharded/", str(FIXTURES / "tf1_sharded" / "model-5"))
    _same_listing("s3://ckpts/tf2_checkpoint", str(FIXTURES / "tf2_checkpoint" / "ckpt-3"))
    assert tl.latest_checkpoint("s3://ckpts/tf2_checkpoint") == "s3://ckpts/tf2_checkpoint/ckpt-3"
    from tfckpt_lab.checkpoint.verify import verify_checkpoint

    assert verify_checkpoint("s3://ckpts/tf1_sharded/model-5").ok
    assert [n.path for n in tl.read_object_graph("s3://ckpts/tf2_checkpoint").nodes] == [
        n.path for n in tl.read_object_graph(str(FIXTURES / "tf2_checkpoint")).nodes]
    with pytest.raises(tl.CheckpointNotFoundError):
        tl.load_checkpoint("s3://ckpts/tf2_checkpoint/ckpt-99")


@pytest.mark.parametrize("scheme", ["memory", "http"])
@pytest.mark.slow
def test_explorer_opens_urls(scheme, tmp_path):
    pytest.importorskip("ipywidgets")
    from tfckpt_lab.widgets import explore
    from tfckpt_lab.widgets.explorer import TABS

    src = FIXTURES / "tf2_checkpoint"
    server = thread = None
    if scheme == "memory":
        fs = fsspec.filesystem("memory")
        for p in src.iterdir():
            fs.pipe(f"/explore_test/{p.name}", p.read_bytes())
        url = "memory://explore_test/"
    else:
        root = tmp_path / "www"
        shutil.copytree(src, root / "run")
        server, thread = _serve(root)
        url = f"{server.url}/run/"
    try:
        ex = explore(url)
        assert ex.prefix.endswith("/ckpt-3")
        names = [g["name"] for g in ex.groups]
        assert names == (["ckpt-2", "ckpt-3"] if scheme == "memory" else [])  # HTTP cannot list a directory
        for i, name in enumerate(TABS):
            if name == "Checksum lab":  # flips bytes in a local copy of local files only
                continue
            ex.tab = i
            assert ex.view(name) is not None
        ex.selected = tl.list_variables(str(src / "ckpt-3"))[1][0]
        assert "<table>" in ex.to_html()
        ex.close()
    finally:
        if server is not None:
            _stop(server, thread)
        else:
            fsspec.filesystem("memory").rm("/explore_test", recursive=True)


def test_v1_checkpoints_at_urls(http_root):
    """A single-file V1 checkpoint over HTTP; a sharded one (found by listing) on memory://."""
    root, server = http_root
    v1 = Path(__file__).parent / "fixtures" / "tf_v1"
    shutil.copytree(v1 / "v1_saver_basic", root / "v1")
    _same_listing(f"{server.url}/v1/", str(v1 / "v1_saver_basic" / "model.ckpt-1000"))
    fs = fsspec.filesystem("memory")
    for p in (v1 / "v1_sharded").iterdir():
        fs.pipe(f"/v1_sharded_test/{p.name}", p.read_bytes())
    try:
        assert tl.latest_checkpoint("memory://v1_sharded_test") == "memory://v1_sharded_test/model.ckpt-5-?????-of-00003"
        _same_listing("memory://v1_sharded_test/", str(v1 / "v1_sharded" / "model.ckpt-5"))
    finally:
        fs.rm("/v1_sharded_test", recursive=True)
