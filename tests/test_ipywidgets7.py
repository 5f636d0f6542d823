"""Where learners are: ipywidgets 7, the version Google Colab ships with its own widget manager.

The package supports ipywidgets 7.7 as well as 8 (``pyproject.toml``).  These tests use a second
environment of that era, made by ``.ci/install_ipywidgets7.sh`` (ipywidgets 7.7, ipykernel 6,
classic Notebook 6.4 with widgetsnbextension 3.6, anywidget), at ``.venv-ipywidgets7`` or at
``$TFCKPT_LAB_IPYWIDGETS7_VENV``; they skip when it is not there.  This checkout is put on that
environment's ``PYTHONPATH``, so the code under test is always the checkout's.

* every tutorial notebook runs top to bottom in a kernel of that environment, and the widgets it
  shows are sent as live widget views;
* classic Notebook 6 (the front end of that era) renders the explorer, the clickable hex grid and
  the shard map in Chromium, and a click on a bar reaches the kernel and comes back.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import LOOK_JS, assert_home_untouched, lab_env, launch_chromium, playwright_or_skip, save_screenshot
from test_notebooks import NOTEBOOKS, ROOT, _execute, _free_port, stop_lab, wait_for_server

VENV = Path(os.environ.get("TFCKPT_LAB_IPYWIDGETS7_VENV", ROOT / ".venv-ipywidgets7"))
PYTHON = VENV / "bin" / "python"
KERNEL = "tfckpt-ipywidgets7"

pytestmark = pytest.mark.slow


def _versions() -> dict:
    if not PYTHON.exists():
        pytest.skip(f"no ipywidgets 7 environment at {VENV} (make it with: bash .ci/install_ipywidgets7.sh)")
    out = subprocess.run([str(PYTHON), "-c", "import json, ipywidgets, anywidget, ipykernel; print(json.dumps("
                          "{'ipywidgets': ipywidgets.__version__, 'anywidget': anywidget.__version__, "
                          "'ipykernel': ipykernel.__version__}))"],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def ipywidgets7_kernel(tmp_path_factory):
    """A kernel spec (found through ``JUPYTER_PATH``) running the ipywidgets 7 environment's Python."""
    versions = _versions()
    assert versions["ipywidgets"].startswith("7.7"), versions
    base = tmp_path_factory.mktemp("kernels")
    spec = base / "kernels" / KERNEL
    spec.mkdir(parents=True)
    spec.joinpath("kernel.json").write_text(json.dumps({
        "argv": [str(PYTHON), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipywidgets 7)", "language": "python",
        "env": {"PYTHONPATH": str(ROOT)}}))
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join([str(base)] + ([old] if old else []))
    try:
        yield versions
    finally:
        if old is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = old


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_under_ipywidgets7(ipywidgets7_kernel, path, tmp_path):
    executed: list = []
    elapsed = _execute(path, tmp_path, executed=executed, kernel_name=KERNEL)
    print(f"{path.name} under ipywidgets {ipywidgets7_kernel['ipywidgets']}: {elapsed:.1f} s")
    outputs = [o for c in executed[0].cells if c.cell_type == "code" for o in c.get("outputs", [])]
    views = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    if "explorer" in path.name:  # the classroom page: a live Tab of widgets, with its static view
        assert views, f"{path.name}: no widget was displayed"
        assert all("text/html" in o["data"] for o in views), f"{path.name}: a widget has no static view"
        # the widget state nbclient saved: every tab bar has its titles (ipywidgets 7 keeps them in `_titles`)
        state = executed[0].metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
        tabs = [m["state"] for m in state.values() if m["model_name"] == "TabModel"]
        assert tabs and all(len(t.get("_titles", {})) == len(t["children"]) for t in tabs), tabs
        assert "Keras + Adam (real TF)" in [title for t in tabs for title in t["_titles"].values()]


def test_widget_state_under_ipywidgets7(ipywidgets7_kernel, tmp_path):
    """The differences that matter, checked in that environment: tab titles, the mime bundle."""
    script = """
import json, os, sys
import numpy as np
import ipywidgets
from tfckpt_lab import write_bundle
from tfckpt_lab.widgets import explore
from tfckpt_lab.widgets.explorer import TABS
for step in (1, 2):
    write_bundle(os.path.join(sys.argv[1], f"model-{step}"), {"w": np.arange(6, dtype=np.float32) * step})
ex = explore(os.path.join(sys.argv[1], "model-2"))
titles = [ex._tabs.get_title(i) for i in range(len(TABS))]
ex.tab = TABS.index("Bytes")
after = [ex._tabs.get_title(i) for i in range(len(TABS))]
bundle = ex._repr_mimebundle_()
print(json.dumps({"version": ipywidgets.__version__, "titles": titles, "after": after,
                  "mimes": sorted(bundle), "classes": list(ex._dom_classes)}))
"""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([str(PYTHON), "-c", script, str(tmp_path)], check=True, capture_output=True, text=True,
                         env=env, cwd=tmp_path)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    from tfckpt_lab.widgets.explorer import TABS

    assert got["version"].startswith("7.7")
    assert got["titles"] == got["after"] == list(TABS)  # ipywidgets 7 has no `titles=`
    assert got["mimes"] == ["application/vnd.jupyter.widget-view+json", "text/html", "text/plain"]
    assert "tfk-root" in got["classes"]


# -- classic Notebook 6 in Chromium ------------------------------------------------------------------
NOTEBOOK = "widgets_ipywidgets7.ipynb"
CELLS = [
    "import ipywidgets\nipywidgets.IntSlider(description='plain')",
    """from tfckpt_lab import tutorial
from tfckpt_lab.widgets import ShardMap, explore
from tfckpt_lab.widgets.explorer import TABS
import ipywidgets
demo = tutorial.demo_checkpoint("demo_checkpoint")
ex = explore(demo)
ex.tab = TABS.index("Bytes")
ex""",
    "sm = ShardMap(demo)\nsm",
    "print('VERSION', ipywidgets.__version__)",
]


def _start_notebook6(directory: Path, env: dict, base: Path):
    port, token = _free_port(), "tfckpt-test-" + os.urandom(6).hex()
    log_path = base / "notebook6.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [str(PYTHON), "-m", "notebook", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
             "--port-retries=0", f"--NotebookApp.token={token}", f"--notebook-dir={directory}"]
            + (["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=directory)
    proc.log_path = log_path
    return proc, wait_for_server(proc, port, token, name="Notebook 6"), token


@pytest.mark.browser
def test_widgets_render_in_classic_notebook6(ipywidgets7_kernel, tmp_path):
    sync_api = playwright_or_skip("anywidget")
    nbformat = pytest.importorskip("nbformat")
    directory = tmp_path / "nb"
    directory.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(directory / NOTEBOOK))
    env = lab_env(tmp_path, dict(os.environ, PYTHONPATH=str(ROOT)))
    env.pop("JUPYTER_PATH", None)
    proc, url, token = _start_notebook6(directory, env, tmp_path)
    try:
        with sync_api.sync_playwright() as p:
            context = launch_chromium(p, tmp_path / "chromium-profile", width=1440, height=1400)
            try:
                pg = context.new_page()
                errors, console = [], []
                pg.on("pageerror", lambda exc: errors.append(str(exc)))
                pg.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
                pg.goto(f"{url}/notebooks/{NOTEBOOK}?token={token}", wait_until="domcontentloaded", timeout=90_000)
                pg.wait_for_function("window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel && "
                                     "Jupyter.notebook.kernel.is_connected() && Jupyter.notebook.kernel.info_reply "
                                     "&& Jupyter.notebook.kernel.info_reply.status === 'ok'", timeout=90_000)
                # the widget manager asks the kernel for widgets it already has, then starts afresh: widgets
                # made before it is done would be forgotten ("model not found"), so let it finish first
                pg.wait_for_timeout(4000)
                try:
                    pg.evaluate("Jupyter.notebook.execute_all_cells()")
                    pg.locator(".output_area", has_text="VERSION").wait_for(timeout=120_000)
                    pg.locator(".widget-tab :is(.p-TabBar-tabLabel, .lm-TabBar-tabLabel)", has_text="Bytes").first.wait_for(timeout=60_000)
                    pg.locator(".tfk-hex-grid .tfk-b").first.wait_for(timeout=60_000)
                    pg.locator(".tfk-bars-svg .tfk-bar").first.wait_for(timeout=60_000)
                except Exception:
                    save_screenshot(pg, "notebook6_failed.png", tmp_path)
                    print("\n".join(console + errors))
                    raise
                assert "VERSION 7.7" in pg.locator(".output_area", has_text="VERSION").inner_text()
                text = pg.locator("#notebook-container").inner_text()
                assert "Error displaying widget" not in text and "Loading widget" not in text
                titles = pg.locator(".widget-tab :is(.p-TabBar-tabLabel, .lm-TabBar-tabLabel)").all_inner_texts()
                from tfckpt_lab.widgets.explorer import TABS

                assert [t.strip() for t in titles] == list(TABS)  # set through set_title, ipywidgets 7's way
                # a click on a bar reaches the kernel, which answers in the status line
                bar = pg.locator(".tfk-bars-svg rect.tfk-bar").first
                name = bar.locator("title").text_content().split("  ")[0]
                bar.click()
                pg.locator(".tfk-bars-status", has_text=f"selected {name} ").wait_for(timeout=30_000)
                cut = pg.locator("#notebook-container").evaluate(LOOK_JS + """
                    (root) => Array.from(root.querySelectorAll(
                        ".p-TabBar-tabLabel, .lm-TabBar-tabLabel, .widget-label, .widget-toggle-button, .jupyter-button, .widget-dropdown select"))
                      .filter((e) => visible(e) && truncated(e)).map((e) => e.textContent.trim().slice(0, 60))""")
                assert not cut, f"labels cut off: {cut}"
                shot = save_screenshot(pg.locator("#notebook-container"), "notebook6_ipywidgets7.png", tmp_path)[0]
                assert shot.stat().st_size > 10_000
                assert not [e for e in errors if "widget" in e.lower() or "tfk" in e.lower()], errors
            finally:
                context.close()
    finally:
        stop_lab(proc)
    assert_home_untouched(env)
