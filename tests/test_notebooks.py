"""The tutorial: notebooks run top to bottom, are stored stripped, ship inside the package, and
``tfckpt-lab lab`` starts JupyterLab from a wheel as well as from a checkout.

Each notebook is executed from its *stripped* source in a fresh kernel, in a temporary
folder, with TensorFlow cells switched off (one extra run keeps them on, marked ``tf``).
Run times go to ``notebook_times.json`` in the test artifacts folder (``conftest.artifacts_dir``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tfckpt_lab import tutorial
from tfckpt_lab.tutorial import sync

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
TIME_LIMIT = 60.0  # seconds per notebook, as the house style asks


def _nbformat():
    """nbformat, imported only by the tests that use it (it takes seconds: jsonschema's format checkers)."""
    return pytest.importorskip("nbformat")


def _execute(path: Path, tmp_path: Path, *, with_tf: bool = False, executed: list | None = None,
             kernel_name: str = "python3") -> float:
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = _nbformat().reads(sync.stripped_text(path), as_version=4)
    env_overrides = {tutorial.WORKDIR_ENV: str(tmp_path / "work"), "TF_CPP_MIN_LOG_LEVEL": "3",
                     "MPLBACKEND": "Agg", "IPYTHONDIR": str(tmp_path / "ipython")}  # no history in ~
    if not with_tf:
        env_overrides[tutorial.NO_TF_ENV] = "1"
    old = {k: os.environ.get(k) for k in env_overrides}
    os.environ.update(env_overrides)  # the kernel inherits this process's environment
    try:
        client = nbclient.NotebookClient(nb, timeout=120, kernel_name=kernel_name,
                                         resources={"metadata": {"path": str(tmp_path)}})
        start = time.perf_counter()
        client.execute()
        elapsed = time.perf_counter() - start
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", f"{path.name}: {out.get('ename')}: {out.get('evalue')}"
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                assert "Traceback" not in out.get("text", ""), f"{path.name}: {out['text']}"
    if executed is not None:
        executed.append(nb)
    return elapsed


def _record_time(name: str, seconds: float) -> None:
    from conftest import artifacts_dir

    f = artifacts_dir() / "notebook_times.json"
    try:
        times = json.loads(f.read_text())
    except (OSError, ValueError):
        times = {}
    times[name] = round(seconds, 2)
    f.write_text(json.dumps(times, indent=1, sort_keys=True) + "\n")


def test_there_are_notebooks():
    names = [p.name for p in NOTEBOOKS]
    assert any(n.startswith("01_") for n in names), names
    assert len(names) >= 9, names
    assert any(n.startswith("08_") for n in names), names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
@pytest.mark.slow
def test_notebook_runs(path, tmp_path):
    executed: list = []
    elapsed = _execute(path, tmp_path, executed=executed)
    _record_time(path.stem, elapsed)
    print(f"{path.name}: {elapsed:.1f} s")
    assert elapsed < TIME_LIMIT, f"{path.name} took {elapsed:.0f} s; a notebook should run in under a minute"
    # a notebook writes only into its working folder
    assert not (ROOT / "tfckpt_lab" / "work").exists()
    # Run All gives nothing away: an exercise cell as shipped shows neither the hint nor the solution
    for cell in executed[0].cells:
        m = re.search(r'tutorial\.check\("(\d\d-\d)", \.\.\.\)', cell.source) if cell.cell_type == "code" else None
        if m:
            ex = tutorial.EXERCISES[m.group(1)]
            shown = json.dumps(cell.outputs)
            assert ex.hint[:30] not in shown and ex.explanation[:30] not in shown, f"{path.name}: {m.group(1)} shows a hint"
            assert "Replace the ..." in shown, f"{path.name}: {m.group(1)} printed nothing"
    # a cell that ends with a plot shows it as a picture, not as "<Figure size ...>"
    for cell in executed[0].cells:
        last = cell.source.strip().splitlines()[-1] if cell.cell_type == "code" and cell.source.strip() else ""
        if any(last.startswith(f) for f in ("index_anatomy(", "shard_map(", "tensor_values(")):
            assert any("image/png" in out.get("data", {}) for out in cell.outputs), f"{path.name}: no picture for {last}"


WITH_TF_CELLS = [p for p in NOTEBOOKS if "tutorial.import_tensorflow()" in p.read_text()]


@pytest.mark.tf
@pytest.mark.slow
@pytest.mark.parametrize("path", WITH_TF_CELLS, ids=lambda p: p.stem)
def test_optional_tensorflow_cells_run(path, tmp_path):
    """The cells that use TensorFlow work when it is there (the other runs skip them)."""
    executed: list = []
    _record_time(path.stem + "+tf", _execute(path, tmp_path, with_tf=True, executed=executed))
    skipped = [c for c in executed[0].cells if c.cell_type == "code" and "import_tensorflow()" in c.source
               and any("not installed" in o.get("text", "") for o in c.outputs)]
    assert not skipped, f"{path.name}: a TensorFlow cell skipped although TensorFlow is installed"


def test_notebooks_are_stripped_and_shipped():
    """notebooks/ is the source of truth; tfckpt_lab/notebooks/ must be an identical, stripped copy."""
    assert sync.problems(ROOT / "notebooks", ROOT / "tfckpt_lab" / "notebooks") == []


def test_committed_notebooks_have_no_outputs():
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text(encoding="utf-8"))
        assert nb["nbformat"] == 4, path.name
        code = [cell for cell in nb["cells"] if cell["cell_type"] == "code"]
        assert code, path.name
        for cell in code:
            assert cell["outputs"] == [] and cell["execution_count"] is None, path.name


@pytest.mark.slow
def test_committed_notebooks_are_valid_nbformat_4():
    nbformat = _nbformat()
    for path in NOTEBOOKS:
        nbformat.validate(nbformat.read(path, as_version=4))


def test_every_notebook_ends_with_checked_exercises():
    for path in NOTEBOOKS:
        if "explorer" in path.name:
            continue
        number = path.name[:2]
        text = path.read_text()
        ids = [i for i in tutorial.EXERCISES if i.startswith(number + "-")]
        assert ids, f"no exercises registered for {path.name}"
        for i in ids:
            assert f'tutorial.check(\\"{i}\\", ...)' in text, f"{path.name} does not ask exercise {i}"


def _cells(path: Path) -> list[dict]:
    return [dict(c, source="".join(c["source"])) for c in json.loads(path.read_text())["cells"]]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_opens_and_closes_like_a_lesson(path):
    """Top: learning goals, prerequisites, time, a Colab badge and the set-up cell; bottom: takeaways and what next."""
    cells = _cells(path)
    top = cells[0]["source"]
    assert top.startswith("# " + path.name[:2]), path.name
    for part in ("**You will learn to**", "**Before you start:**", "**Time:**", "colab.research.google.com/github/",
                 f"notebooks/{path.name})", "glossary"):
        assert part in top, f"{path.name}: the first cell lacks {part!r}"
    assert cells[1]["cell_type"] == "code" and cells[1]["source"] == _COLAB_CELL, f"{path.name}: no set-up cell"
    last = cells[-1]["source"]
    assert last.startswith("## Key takeaways") and "**Next:**" in last, path.name
    nxt = re.search(r"\*\*Next:\*\* \[[^]]+\]\(([^)]+\.ipynb)\)", last).group(1)
    assert (ROOT / "notebooks" / nxt).exists(), f"{path.name}: 'Next' links to a missing {nxt}"


_COLAB_CELL = _cells(NOTEBOOKS[0])[1]["source"] if NOTEBOOKS else ""


def test_the_colab_cell_installs_only_when_the_package_is_missing(monkeypatch):
    import importlib.util
    import subprocess as sp

    assert "tfckpt-lab[views]" in _COLAB_CELL and "find_spec(\"tfckpt_lab\")" in _COLAB_CELL
    calls = []
    monkeypatch.setattr(sp, "run", lambda cmd, **kw: calls.append(cmd))
    exec(_COLAB_CELL, {})  # installed (this checkout): nothing happens
    assert calls == []
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tfckpt_lab" else real(name, *a))
    exec(_COLAB_CELL, {})  # missing (a fresh Colab runtime): pip installs the package with its views
    assert len(calls) == 1 and calls[0][1:4] == ["-m", "pip", "install"] and calls[0][-1].startswith("tfckpt-lab[views]")


_WIDGET_CALL = re.compile(r"^(HexView|RotationSimulator|ChecksumLab|explore|lab|tutorial\.with_static_html)\b", re.M)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_widget_comes_after_a_question(path):
    """A cell that shows a widget is introduced by a markdown cell asking the learner to predict first."""
    cells = _cells(path)
    shown = 0
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code" or not _WIDGET_CALL.search(cell["source"].strip().splitlines()[-1]):
            continue
        shown += 1
        before = next(c["source"] for c in reversed(cells[:i]) if c["cell_type"] == "markdown")
        assert "Predict first" in before or "answer its question" in before, f"{path.name}: cell {i} shows a widget unasked"
        assert "?" in before, path.name
    if "explorer" in path.name:
        assert shown == 1


def test_notebooks_link_the_glossary_and_the_glossary_is_current():
    from tfckpt_lab.tutorial.glossary import TERMS, glossary_markdown

    assert (ROOT / "docs" / "glossary.md").read_text() == glossary_markdown()
    for path in NOTEBOOKS:
        assert "../docs/glossary.md" in path.read_text(), path.name
    bold = {t.lower() for p in NOTEBOOKS for t in re.findall(r"\*\*([A-Za-z][A-Za-z0-9 -]+)\*\*", p.read_text())}
    assert len(bold & {t.lower() for t in TERMS}) >= 20


def test_shipped_tensorflow_checkpoints_match_the_fixtures():
    for case in ("keras_adam", "tf_keras_adam"):
        fixture = ROOT / "tests" / "fixtures" / "tf" / case
        shipped = tutorial.data_path(case)
        for name in ("ckpt.index", "ckpt.data-00000-of-00001", "values.npz"):
            assert (shipped / name).read_bytes() == (fixture / name).read_bytes(), f"{case}/{name}"
        expected = json.loads((fixture / "expected.json").read_text())
        says = json.loads((shipped / "tensorflow_says.json").read_text())
        assert says["tf_version"] == expected["tf_version"]


# -- tfckpt-lab lab ------------------------------------------------------------------


def test_lab_prepare_keeps_the_learners_edits(tmp_path):
    from tfckpt_lab.cli import lab
    from tfckpt_lab import load_checkpoint

    d = lab.prepare(tmp_path / "tut", log=lambda *a: None)
    names = sorted(p.name for p in d.glob("*.ipynb"))
    assert names == sorted(p.name for p in NOTEBOOKS)
    assert load_checkpoint(d / "demo_checkpoint").get_variable_to_shape_map() == {"w1": [2], "w2": [5]}
    first = d / names[0]
    first.write_text("edited")
    lab.prepare(d, log=lambda *a: None)
    assert first.read_text() == "edited"
    lab.prepare(d, reset=True, log=lambda *a: None)
    assert first.read_text() != "edited"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab(tfckpt_lab_cmd: list[str], directory: Path, *, env=None, cwd=None, timeout: float = 90):
    """Start ``tfckpt-lab lab --no-browser`` on a free port with a token; return (process, base_url, token).

    Jupyter's and JupyterLab's own folders (settings, workspaces, runtime files) are put next to
    ``directory`` (``conftest.lab_env``), so the server writes nothing into the home folder.
    """
    from conftest import lab_env

    port, token = _free_port(), "tfckpt-test-" + os.urandom(6).hex()
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    if env is None or "JUPYTER_RUNTIME_DIR" not in env:  # (the caller's lab_env() is kept)
        env = lab_env(directory.parent / f"jupyter-{port}", env)
    log_path = directory.parent / f"lab-{port}.log"  # a file, not a pipe: a full pipe would stall the server
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            tfckpt_lab_cmd + ["lab", "--no-browser", "--port", str(port), "--dir", str(directory), "--",
                              f"--IdentityProvider.token={token}", "--ServerApp.port_retries=0"],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    proc.log_path = log_path
    return proc, wait_for_server(proc, port, token, timeout=timeout, name="tfckpt-lab lab"), token


def wait_for_server(proc, port: int, token: str, *, timeout: float = 90, name: str = "Jupyter") -> str:
    """Wait until the Jupyter server ``proc`` answers on 127.0.0.1:``port``; return its base URL."""
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{name} exited with {proc.returncode}:\n{proc.log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as r:
                if r.status == 200:
                    return url
        except OSError:
            time.sleep(0.5)
    stop_lab(proc)
    raise AssertionError(f"{name} did not answer within {timeout} s:\n{proc.log_path.read_text()}")


def stop_lab(proc) -> None:
    if proc.poll() is None:
        proc.terminate()  # Jupyter shuts its kernels down on SIGTERM
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_lab_serves_the_notebooks(tmp_path):
    pytest.importorskip("jupyterlab")
    proc, url, token = start_lab([sys.executable, "-m", "tfckpt_lab"], tmp_path / "tut")
    try:
        with urllib.request.urlopen(f"{url}/api/contents?token={token}", timeout=10) as r:
            listing = {c["name"] for c in json.load(r)["content"]}
        assert {p.name for p in NOTEBOOKS} <= listing and "demo_checkpoint" in listing

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        # Opening the server's address lands on the first notebook, not on an empty launcher.
        with pytest.raises(urllib.error.HTTPError) as redirect:
            urllib.request.build_opener(NoRedirect).open(f"{url}/?token={token}", timeout=10)
        location = redirect.value.headers["Location"]
        redirect.value.close()
        assert location.startswith("/lab/tree/01_")
    finally:
        stop_lab(proc)
    assert proc.returncode is not None


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_starts_lab(tmp_path):
    """Build a wheel, install it (no deps) into a new venv, and start ``tfckpt-lab lab`` from it.

    The new venv borrows this environment's third-party packages through a ``.pth``
    line (so the test needs no network), but tfckpt_lab itself, its notebooks and its
    data must come from the wheel: the test runs outside the checkout and checks where
    the package was imported from.
    """
    pytest.importorskip("jupyterlab")
    import sysconfig
    import venv

    # Build from a copy of the tracked files: setuptools leaves build/ and *.egg-info where it builds,
    # and tests write nothing into the checkout.
    src = tmp_path / "src"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False)
    names = [n for n in tracked.stdout.decode().split("\0") if n] if tracked.returncode == 0 else []
    if names:
        for name in names:
            if (ROOT / name).is_file():
                (src / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, src / name)
    else:  # not a git checkout (an sdist): copy the tree
        shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv*", "build", "*.egg-info", "__pycache__"))
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(wheels), str(src)], check=True)
    (wheel,) = wheels.glob("tfckpt_lab-*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / ("Scripts" if os.name == "nt" else "bin") / "python"
    # a PYTHONPATH pointing at this checkout (how the suite is often run) must not leak into the new venv:
    # pip would take the checkout for an installed tfckpt-lab and skip the wheel
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q",
                    str(wheel)], check=True, env=env)
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    borrowed = sysconfig.get_paths()["purelib"]
    Path(site, "zz_borrowed_deps.pth").write_text(borrowed + "\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    where = subprocess.run([str(py), "-c", "import tfckpt_lab; print(tfckpt_lab.__file__)"],
                           check=True, capture_output=True, text=True, cwd=outside, env=env).stdout.strip()
    assert Path(where).is_relative_to(env_dir), f"tfckpt_lab imported from {where}, not from the wheel"
    data = subprocess.run([str(py), "-c", "from tfckpt_lab import tutorial, load_checkpoint; "
                           "print(len(load_checkpoint(str(tutorial.data_path('keras_adam') / 'ckpt'))))"],
                          check=True, capture_output=True, text=True, cwd=outside, env=env).stdout.strip()
    assert int(data) > 10  # the TensorFlow-written checkpoint ships in the wheel
    exe = env_dir / ("Scripts" if os.name == "nt" else "bin") / "tfckpt-lab"
    proc, url, token = start_lab([str(exe)], outside / "tut", env=env, cwd=outside)
    try:
        with urllib.request.urlopen(f"{url}/api/contents?token={token}", timeout=10) as r:
            listing = {c["name"] for c in json.load(r)["content"]}
        assert {p.name for p in NOTEBOOKS} <= listing
        with urllib.request.urlopen(f"{url}/api/kernelspecs?token={token}", timeout=10) as r:
            assert "python3" in json.load(r)["kernelspecs"]
    finally:
        stop_lab(proc)


@pytest.mark.slow
def test_the_readme_voila_command_serves_the_classroom_explorer(tmp_path):
    """`voila notebooks/00_explorer.ipynb` (the README's classroom command) renders the widgets, no error."""
    pytest.importorskip("voila")
    tomllib = pytest.importorskip("tomllib")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(dep.startswith("voila") for dep in extras["classroom"])
    readme = (ROOT / "README.md").read_text()
    assert '.[classroom]"' in readme and "voila notebooks/00_explorer.ipynb" in readme
    port = _free_port()
    env = dict(os.environ, **{tutorial.WORKDIR_ENV: str(tmp_path / "work"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
                              "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"), "JUPYTER_DATA_DIR": str(tmp_path / "data"),
                              "TFCKPT_LAB_NO_TF": "1", "MPLBACKEND": "Agg",
                              "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))})
    with open(tmp_path / "voila.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "voila", "notebooks/00_explorer.ipynb", "--no-browser",
                                 f"--port={port}", "--Voila.ip=127.0.0.1"], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline, page = time.time() + 120, None
        while time.time() < deadline and page is None:
            if proc.poll() is not None:
                raise AssertionError(f"voila exited with {proc.returncode}:\n{(tmp_path / 'voila.log').read_text()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=110) as r:
                    assert r.status == 200
                    page = r.read().decode()
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.5)
        assert page is not None, "voila did not answer"
        assert "Before you touch each tab" in page  # the questions (markdown) are shown
        assert page.count("application/vnd.jupyter.widget-view+json") >= 1  # the explorer's widgets rendered
        assert "Traceback" not in page and '"output_type": "error"' not in page
        assert (tmp_path / "work" / "demo").is_dir() and not (ROOT / "notebooks" / "work").exists()
    finally:
        stop_lab(proc)


def test_binder_and_ci_install_the_same_environment():
    """Binder builds from binder/requirements.txt; CI installs from it too; every pin is bounded."""
    req = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    lines = [ln.strip() for ln in req if ln.strip() and not ln.strip().startswith("#")]
    assert "-e .[lab]" in lines
    for ln in lines:
        if not ln.startswith("-e"):
            assert ">=" in ln and "<" in ln.replace("<=", ""), f"unbounded requirement in binder: {ln}"
    assert "binder/requirements.txt" in (ROOT / ".ci" / "run").read_text()
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for dep in extras["lab"]:
        assert dep.startswith("tfckpt-lab[") or "<" in dep, f"unbounded [lab] dependency: {dep}"
