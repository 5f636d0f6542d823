"""The explorer in a real browser: a click on an Entries row selects it in the kernel, and switching
checkpoints keeps the tab that is open (it used to jump back to Files).

JupyterLab (``tfckpt-lab lab``, 127.0.0.1, random token) in Chromium via Playwright, as in
test_browser_widgets.py; JupyterLab's workspace, settings and runtime folders and IPython's
folder are pointed into the test's temporary folder, so nothing is written to the home folder.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from test_browser_widgets import CELLS as _THEIRS, _notebook_in_lab, _rerun_last_cell, playwright  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = "explorer_clicks.ipynb"
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"
CELLS = [  # four cells, the last one printing the kernel's state, as test_browser_widgets' helper expects
    "import os\nfrom tfckpt_lab.widgets import explore",
    "ex = explore('work/two')",
    "ex",
    "print('STATE', ex.tab, repr(ex.selected), os.path.basename(ex.prefix))",
]


def _two_checkpoints(directory) -> None:
    from tfckpt_lab import write_bundle

    for step in (100, 200):
        write_bundle(str(directory / "work" / "two" / f"model-{step}"),
                     {"w": np.full((2, 3), step, np.float32), "b": np.arange(3.0) * step, "step": np.int64(step)})


@pytest.fixture(scope="module")
def page(playwright, tmp_path_factory):
    base = tmp_path_factory.mktemp("lab")
    with _notebook_in_lab(playwright, base, NOTEBOOK, CELLS, "STATE", prepare=_two_checkpoints) as pg:
        yield pg


assert len(CELLS) == len(_THEIRS)  # _rerun_last_cell reruns the cell at len(their CELLS) - 1


def _tab(pg, title):
    return pg.locator(".lm-TabBar-tab", has_text=re.compile(rf"^{re.escape(title)}$"))


def _current_tab(pg) -> str:
    return pg.locator(f"{PANEL} .lm-TabBar-tab.lm-mod-current").first.inner_text().strip()


def test_row_clicks_select_and_switching_checkpoints_keeps_the_tab(page):
    pg = page
    _tab(pg, "Entries").first.click()
    row = pg.locator(".tfk-rows tbody tr", has=pg.locator("td.tfk-rows-name", has_text=re.compile(r"^b$")))
    row.wait_for(timeout=30_000)
    row.click()  # the row is the control
    pg.locator(".tfk-rows tbody tr.tfk-rows-sel[aria-selected='true']", has_text="b").wait_for(timeout=20_000)
    assert "STATE 1 'b' model-200" in _rerun_last_cell(pg)

    _tab(pg, "Diff").first.click()
    pg.locator(".widget-dropdown select:visible").nth(2).wait_for(timeout=30_000)  # the diff's own a / b pickers
    assert _current_tab(pg) == "Diff"
    pg.locator(".widget-dropdown select").first.select_option(label="model-100")  # the checkpoint picker
    deadline = time.time() + 30
    state = ""
    while time.time() < deadline:
        state = _rerun_last_cell(pg)
        if "model-100" in state:
            break
        pg.wait_for_timeout(500)
    assert "STATE 6 'b' model-100" in state, state  # the kernel: still the Diff tab, still 'b'
    pg.wait_for_timeout(1000)
    assert _current_tab(pg) == "Diff"  # and the browser shows it
    assert not [e for e in pg.errors if "widget" in e.lower() or "tfk" in e.lower()], pg.errors
