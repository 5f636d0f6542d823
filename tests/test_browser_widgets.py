"""The clickable hex view and shard map in a real browser: a click changes Python-side state.

JupyterLab (``tfckpt-lab lab`` on 127.0.0.1, random token) in Chromium, driven by
Playwright.  A small notebook shows a ``HexView`` of a data shard and a ``ShardMap``;
after Run All we

* click a byte in the hex grid: the kernel selects the innermost region, and the
  grid's status line (written by Python, not by the JavaScript) names it;
* click a bar in the shard map: the kernel's ``ShardMap.selected`` changes, and the
  status line says so;
* re-run a cell that prints the kernel's traitlets, and read them.

A screenshot goes to ``tests/artifacts/browser_widgets.png`` (gitignored).  Skipped
cleanly when Chromium (``/usr/bin/chromium`` or ``$TFCKPT_LAB_CHROMIUM``), Playwright,
JupyterLab or anywidget is missing; Playwright never downloads a browser.
"""

from __future__ import annotations

import os
import re
import sys
import time

import numpy as np
import pytest

from conftest import launch_chromium, playwright_or_skip
from test_notebooks import ARTIFACTS, start_lab, stop_lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = "clickable_widgets.ipynb"
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"  # the notebook in front
CELLS = [
    "from tfckpt_lab.widgets import HexView, ShardMap\nprefix = 'work/clickme/model-7'",
    "hv = HexView(prefix + '.data-00000-of-00002', nbytes=256)\nhv",
    "sm = ShardMap(prefix)\nsm",
    "print('STATE', hv.cursor, hv.selected_kind, repr(hv.selected_label), repr(hv.tensor), repr(sm.selected))",
]


def _checkpoint(directory):
    from tfckpt_lab import write_bundle

    prefix = directory / "work" / "clickme" / "model-7"
    prefix.parent.mkdir(parents=True, exist_ok=True)
    write_bundle(str(prefix), {"kernel": np.arange(24, dtype=np.float32).reshape(4, 6),
                               "bias": np.arange(6, dtype=np.float32), "step": np.int64(7),
                               "names": np.array([b"alpha", b"beta"], object)}, num_shards=2)
    return str(prefix)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    sync_api = playwright_or_skip("anywidget")
    nbformat = pytest.importorskip("nbformat")

    directory = tmp_path_factory.mktemp("lab") / "tutorial"
    proc, url, token = start_lab([sys.executable, "-m", "tfckpt_lab"], directory)
    try:
        prefix = _checkpoint(directory)
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, str(directory / NOTEBOOK))
        profile = tmp_path_factory.mktemp("chromium-profile")  # a new, empty user-data-dir
        with sync_api.sync_playwright() as p:
            context = launch_chromium(p, profile, height=1100)
            try:
                pg = context.new_page()
                pg.errors = []
                pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
                # a workspace of its own, so nothing a previous session left open is restored
                workspace = "tfk-widgets-" + os.urandom(4).hex()
                pg.goto(f"{url}/lab/workspaces/{workspace}/tree/{NOTEBOOK}?token={token}",
                        wait_until="domcontentloaded", timeout=90_000)
                pg.locator(f"{PANEL} .jp-Cell").first.wait_for(timeout=90_000)
                pg.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(timeout=90_000)
                try:
                    _run_all(pg)
                    pg.locator(".jp-OutputArea-output", has_text="STATE").wait_for(timeout=120_000)
                    pg.locator(".tfk-hex-grid .tfk-b").first.wait_for(timeout=60_000)
                    pg.locator(".tfk-bars-svg .tfk-bar").first.wait_for(timeout=60_000)
                except Exception:
                    ARTIFACTS.mkdir(exist_ok=True)
                    pg.screenshot(path=str(ARTIFACTS / "browser_widgets_failed.png"))
                    raise
                yield pg, prefix
            finally:
                context.close()
    finally:
        stop_lab(proc)


def _run_all(pg) -> None:
    """Run > Run All Cells, again if the kernel was not ready to take it (no cell started)."""
    for _ in range(4):
        pg.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        pg.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        deadline = time.time() + 15
        while time.time() < deadline:
            prompts = pg.locator(f"{PANEL} .jp-CodeCell .jp-InputPrompt").all_inner_texts()
            if any(re.search(r"\[(\*|\d+)\]", p) for p in prompts):
                return
            pg.wait_for_timeout(300)
    raise AssertionError("Run All Cells did not start any cell")


def _rerun_last_cell(pg) -> str:
    """Run the cell that prints the kernel's traitlets again; return its new output."""
    cell = pg.locator(f"{PANEL} .jp-CodeCell").nth(len(CELLS) - 1)  # the printing cell
    before = cell.locator(".jp-InputPrompt").inner_text()
    cell.locator(".jp-InputArea-editor").click()
    pg.keyboard.press("Control+Enter")  # run, and stay in the cell
    deadline = time.time() + 60
    while time.time() < deadline:
        prompt = cell.locator(".jp-InputPrompt").inner_text()
        if prompt != before and "*" not in prompt:
            break
        pg.wait_for_timeout(200)
    return cell.locator(".jp-OutputArea-output").inner_text()


def test_clicks_in_the_browser_change_the_kernels_state(page):
    from tfckpt_lab.bundle.reader import BundleReader
    from tfckpt_lab.explain import innermost_region, layout

    pg, prefix = page
    reader = BundleReader(prefix)
    entries = sorted((e for e in reader.variables() if e.size), key=lambda e: (e.shard_id, e.offset))
    shard0 = [e.name for e in entries if e.shard_id == 0]
    shard1 = [e.name for e in entries if e.shard_id == 1]
    assert shard0 and shard1
    target = max((reader.entry(n) for n in shard0), key=lambda e: e.size)  # "kernel", split into elements
    offset = target.offset + target.size // 2 + 1
    expected = innermost_region(layout(prefix + ".data-00000-of-00002"), offset)
    assert expected.kind == "element"  # the innermost region, not the whole tensor

    # 1. click that byte in the hex grid
    pg.locator(f'.tfk-hex-grid .tfk-b[data-offset="{offset}"]').click()
    status = pg.locator(".tfk-hex-status")
    status.filter(has_text=f"byte {offset} ").wait_for(timeout=20_000)
    assert f"{expected.kind} {expected.label}" in status.inner_text()
    selected_cells = pg.locator(".tfk-hex-grid .tfk-b.tfk-sel")
    assert selected_cells.count() == expected.end - expected.start  # Python's selection came back lit
    assert pg.locator(f'.tfk-hex-grid .tfk-b.tfk-cur[data-offset="{offset}"]').count() == 1

    # 2. click the bar of a tensor in the other shard
    name = shard1[0]
    bar = pg.locator(".tfk-bars-svg rect.tfk-bar", has=pg.locator("title", has_text=re.compile(rf"^{re.escape(name)} ")))
    assert bar.count() == 1
    bar.click()
    pg.locator(".tfk-bars-status", has_text=f"selected {name} ").wait_for(timeout=20_000)
    assert pg.locator(".tfk-bars-svg .tfk-outline[visibility='visible']").count() == 1

    # 3. the kernel's own view of it
    out = _rerun_last_cell(pg)
    assert f"STATE {offset} {expected.kind} {expected.label!r} {target.name!r} {name!r}" in out, out

    pg.locator(".tfk-hex-grid").first.scroll_into_view_if_needed()
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "browser_widgets.png"
    pg.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 10_000
    assert not [e for e in pg.errors if "widget" in e.lower() or "tfk" in e.lower()], pg.errors
    print(f"clicked byte {offset} -> {expected.kind} {expected.label}; bar -> {name}; screenshot {shot}")
