"""The tutorial in a real browser: JupyterLab in Chromium, driven by Playwright.

For each notebook below: start ``tfckpt-lab lab`` on 127.0.0.1 (free port, random
token), open the notebook, pick Run > Run All Cells from the menu, wait until every
code cell has run, then check that

* the widgets rendered (ipywidgets' DOM: ``.jupyter-widgets`` / ``.widget-*``), and
  no widget failed to load ("Error displaying widget");
* no cell shows an error (stderr outputs containing a traceback).

* no tab title, label or button of the page is cut off.

A screenshot of each goes to pytest's temporary folder (and to ``$TFCKPT_LAB_SHOTS`` when set).
The server keeps its settings, workspaces and runtime files under the temporary folder
(``conftest.lab_env``), so the home folder is left as it was.  Skipped cleanly
when Chromium (``/usr/bin/chromium``, or ``$TFCKPT_LAB_CHROMIUM``) or Playwright is
missing.  Playwright is never allowed to download a browser of its own.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from conftest import LOOK_JS, answer_kernel_dialog, assert_home_untouched, dismiss_news, lab_env, launch_chromium, playwright_or_skip, save_screenshot
from test_notebooks import start_lab, stop_lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RUN_TIMEOUT_MS = 120_000

# notebook -> CSS selectors that must be present once it has run
NB = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"  # the notebook in view, not restored tabs

NOTEBOOKS = {
    "00_explorer.ipynb": [".jupyter-widgets", ".widget-tab", ".widget-dropdown"],
    "03_global_step_and_rotation.ipynb": [".jupyter-widgets", ".widget-toggle-buttons", ".widget-button"],
}


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    sync_api = playwright_or_skip("ipywidgets")
    profile = tmp_path_factory.mktemp("chromium-profile")  # a new, empty user-data-dir
    with sync_api.sync_playwright() as p:
        context = launch_chromium(p, profile)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    import sys

    base = tmp_path_factory.mktemp("lab")
    # every cell rendered (no windowing), settings and a workspace of its own (no tabs restored from
    # an earlier session), and nothing written into the home folder
    env = lab_env(base)
    proc, url, token = start_lab([sys.executable, "-m", "tfckpt_lab"], base / "tutorial", env=env)
    directory = base / "tutorial"
    try:
        yield url, token, directory
    finally:
        stop_lab(proc)
    assert_home_untouched(env)


def _code_cell_count(page) -> int:
    return page.locator(f"{NB} .jp-CodeCell").count()


def _wait_until_all_ran(page, n_code: int) -> None:
    """Every code cell has an execution number, and none is waiting ([*])."""
    deadline = time.time() + RUN_TIMEOUT_MS / 1000
    while time.time() < deadline:
        prompts = page.locator(f"{NB} .jp-CodeCell .jp-InputPrompt").all_inner_texts()
        done = [p for p in prompts if re.search(r"\[\d+\]", p)]
        if len(done) == n_code and not any("*" in p for p in prompts):
            return
        page.wait_for_timeout(500)
    raise AssertionError(f"cells did not finish within {RUN_TIMEOUT_MS / 1000:.0f} s: {prompts}")


@pytest.mark.parametrize("notebook", sorted(NOTEBOOKS))
def test_notebook_runs_in_jupyterlab(browser_context, lab, notebook, tmp_path):
    url, token, directory = lab
    page = browser_context.new_page()
    console_errors = []
    page.on("pageerror", lambda exc: console_errors.append(str(exc)))
    try:
        page.goto(f"{url}/lab/tree/{notebook}?reset&token={token}", wait_until="domcontentloaded", timeout=90_000)
        page.locator(f"{NB} .jp-Cell").first.wait_for(timeout=90_000)
        # the kernel must be connected before Run All: the status bar names it and says Idle
        idle = page.locator("#jp-main-statusbar", has_text=re.compile(r"ipykernel.*Idle|Idle.*ipykernel", re.S))
        deadline = time.time() + 90
        while not idle.count() and time.time() < deadline:
            answer_kernel_dialog(page)  # JupyterLab may ask which kernel to start when its specs came late
            page.wait_for_timeout(300)
        idle.wait_for(timeout=5_000)
        n_code = _code_cell_count(page)
        assert n_code > 0
        dismiss_news(page)

        for attempt in range(3):  # a click that lands while the kernel is still settling can be lost
            page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
            page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
            try:
                page.locator(f"{NB} .jp-CodeCell .jp-InputPrompt",
                             has_text=re.compile(r"\[(\*|\d+)\]")).first.wait_for(timeout=15_000)
                break
            except Exception:
                if attempt == 2:
                    raise
        _wait_until_all_ran(page, n_code)
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)  # let widget views finish rendering

        for selector in NOTEBOOKS[notebook]:
            assert page.locator(f"{NB} .jp-OutputArea {selector}").count() > 0, f"{notebook}: no {selector} rendered"
        heights = page.locator(f"{NB} .jp-OutputArea .jupyter-widgets").evaluate_all(
            "els => els.map(e => e.getBoundingClientRect().height)")
        assert max(heights) > 50, f"{notebook}: widget views have no size: {heights}"
        page_text = page.locator(NB).inner_text()
        assert "Error displaying widget" not in page_text
        assert "Loading widget..." not in page_text
        stderr = page.locator(f'{NB} .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
        errors = [t for t in stderr.all_inner_texts() if "Traceback" in t or "Error" in t]
        assert not errors, f"{notebook}: error output:\n" + "\n---\n".join(errors)

        cut = page.locator(f"{NB} .jp-OutputArea").evaluate_all(LOOK_JS + """
            (areas) => areas.flatMap((a) => Array.from(a.querySelectorAll(
                ".lm-TabBar-tabLabel, .widget-label, .widget-toggle-button, .jupyter-button, .widget-dropdown select"))
              .filter((e) => visible(e) && truncated(e)).map((e) => e.textContent.trim().slice(0, 60)))""")
        assert not cut, f"{notebook}: labels cut off: {cut}"

        # bring the first widget output into view for the picture
        page.locator(f"{NB} .jp-OutputArea .jupyter-widgets").first.scroll_into_view_if_needed()
        shot = save_screenshot(page, f"browser_{Path(notebook).stem}.png", tmp_path)[0]
        assert shot.stat().st_size > 10_000
        widget_count = page.locator(f"{NB} .jp-OutputArea .jupyter-widgets").count()
        print(f"{notebook}: {n_code} code cells ran, {widget_count} widget views, screenshot {shot}")
    finally:
        page.close()
    assert not [e for e in console_errors if "widget" in e.lower()], console_errors
