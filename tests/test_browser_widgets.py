"""The clickable hex view and shard map in a real browser: a click changes Python-side state.

JupyterLab (``tfckpt-lab lab`` on 127.0.0.1, random token) in Chromium, driven by
Playwright.  A small notebook shows a ``HexView`` of a data shard and a ``ShardMap``;
after Run All we

* click a byte in the hex grid: the kernel selects the innermost region, and the
  grid's status line (written by Python, not by the JavaScript) names it;
* click a bar in the shard map: the kernel's ``ShardMap.selected`` changes, and the
  status line says so;
* re-run a cell that prints the kernel's traitlets, and read them.

A second test opens the classroom page of notebook 00 in JupyterLab's light and dark themes and
checks contrast, labels and text sizes (see ``test_widgets_read_in_light_and_dark_themes``).

Screenshots go to pytest's temporary folder and, when ``$TFCKPT_LAB_SHOTS`` names a folder, there
too.  The Jupyter server runs with its settings, workspaces, runtime files, the kernel's IPython
folder and even ``HOME`` under the temporary folder (``conftest.lab_env``): nothing is written into
the checkout or the home folder, and the tests check that the server's home stayed empty.  Skipped
cleanly when Chromium (``/usr/bin/chromium`` or ``$TFCKPT_LAB_CHROMIUM``), Playwright,
JupyterLab or anywidget is missing; Playwright never downloads a browser.
"""

from __future__ import annotations

import os
import re
import sys
import time
from contextlib import contextmanager

import numpy as np
import pytest

from conftest import LOOK_JS, answer_kernel_dialog, assert_home_untouched, dismiss_news, lab_env, launch_chromium, playwright_or_skip, save_screenshot
from test_notebooks import start_lab, stop_lab

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
def playwright():
    """One Playwright for the module (its sync API runs one instance per thread at a time)."""
    sync_api = playwright_or_skip("anywidget")
    with sync_api.sync_playwright() as p:
        yield p


@contextmanager
def _notebook_in_lab(p, base, name: str, cells: list[str], ready: str, *, prepare=None, width: int = 1400,
                     height: int = 1100):
    """JupyterLab (``tfckpt-lab lab``, everything under ``base``) with notebook ``name`` made of
    ``cells``, run in Chromium until an output says ``ready``; yields the page.  ``prepare(directory)``
    runs before the notebook is written (to make its files).  On the way out: the server's home
    folder is still empty."""
    nbformat = pytest.importorskip("nbformat")
    directory = base / "tutorial"
    env = lab_env(base)
    proc, url, token = start_lab([sys.executable, "-m", "tfckpt_lab"], directory, env=env)
    try:
        if prepare is not None:
            prepare(directory)
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, str(directory / name))
        context = launch_chromium(p, base / "chromium-profile", width=width, height=height)
        try:
            pg = context.new_page()
            pg.errors = []
            pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
            # a workspace of its own, so nothing a previous session left open is restored
            workspace = "tfk-" + os.urandom(4).hex()
            pg.goto(f"{url}/lab/workspaces/{workspace}/tree/{name}?token={token}",
                    wait_until="domcontentloaded", timeout=90_000)
            pg.locator(f"{PANEL} .jp-Cell").first.wait_for(timeout=90_000)
            pg.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(timeout=90_000)
            try:
                answer_kernel_dialog(pg, wait_ms=5_000)
                dismiss_news(pg)
                _run_all(pg)
                pg.locator(".jp-OutputArea-output", has_text=ready).wait_for(timeout=180_000)
            except Exception:
                save_screenshot(pg, f"{name}_failed.png", base)
                raise
            yield pg
        finally:
            context.close()
    finally:
        stop_lab(proc)
    assert_home_untouched(env)


@pytest.fixture(scope="module")
def page(playwright, tmp_path_factory):
    base = tmp_path_factory.mktemp("lab")
    with _notebook_in_lab(playwright, base, NOTEBOOK, CELLS, "STATE", prepare=_checkpoint) as pg:
        pg.locator(".tfk-hex-grid .tfk-b").first.wait_for(timeout=60_000)
        pg.locator(".tfk-bars-svg .tfk-bar").first.wait_for(timeout=60_000)
        yield pg, str(base / "tutorial" / "work" / "clickme" / "model-7")


def _run_all(pg) -> None:
    """Run > Run All Cells, again if the kernel was not ready to take it (no cell started)."""
    for _ in range(4):
        answer_kernel_dialog(pg)
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


def test_clicks_in_the_browser_change_the_kernels_state(page, tmp_path):
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
    shot = save_screenshot(pg, "browser_widgets.png", tmp_path)[0]
    assert shot.stat().st_size > 10_000
    assert not [e for e in pg.errors if "widget" in e.lower() or "tfk" in e.lower()], pg.errors
    print(f"clicked byte {offset} -> {expected.kind} {expected.label}; bar -> {name}; screenshot {shot}")


# -- every theme: contrast, whole labels, readable plots ---------------------------------------------
# The classroom page of notebook 00 (the same four widgets under the same tab titles), with a tensor
# picked, a byte flipped in the checksum lab and 12 saves in the rotation simulator, checked in
# JupyterLab's light theme and again after switching to its dark theme.
THEME_NOTEBOOK = "theme_check.ipynb"
THEME_CELLS = [
    """import ipywidgets as widgets
from tfckpt_lab import tutorial
from tfckpt_lab.widgets import ChecksumLab, RotationSimulator, explore

demo = tutorial.demo_checkpoint("demo_checkpoint")
keras_ckpt = str(tutorial.data_path("keras_adam") / "ckpt")
pages = {
    "Demo checkpoint": explore(demo),
    "Keras + Adam (real TF)": explore(keras_ckpt),
    "Rotation simulator": RotationSimulator(mode="Saver", max_to_keep=3, keep_every_n_hours=2, hours_per_save=1.5),
    "Checksum lab": ChecksumLab(demo),
}
tabs = widgets.Tab(children=list(pages.values()))
for i, title in enumerate(pages):
    tabs.set_title(i, title)
tabs""",
    """keras = pages["Keras + Adam (real TF)"]
kernels = [e for e in keras.reader.entries().values() if e.dtype_name == "float32" and len(e.shape) == 2]
keras.selected = max(kernels, key=lambda e: e.size).name
pages["Rotation simulator"].run(12)
lab = pages["Checksum lab"]
_ = lab.flip(lab.files[1], 5)  # a byte of the data shard: caught, with the byte range that says so
print("READY", keras.selected, len(pages["Rotation simulator"].history))""",
]
OUTER_TABS = ["Demo checkpoint", "Keras + Adam (real TF)", "Rotation simulator", "Checksum lab"]
INNER_TABS = ["Files", "Entries", "Bytes", "Shard map", "Values", "Checksum lab", "Diff", "Rotation"]
WIDTH = 1440
AA = 4.5
MIN_TEXT_PX = 10

# One look at what is visible in the widget area: contrast per kind of text, cut-off labels,
# header spacing, wrapped cells, and the size of text inside plots.
MEASURE_JS = LOOK_JS + r"""
(root) => {
  const pick = (sel, limit) => Array.from(root.querySelectorAll(sel)).filter(visible).slice(0, limit || 100000);
  const worst = (els) => {
    let min = null;
    for (const el of els) {
      if (!el.textContent.trim()) continue;
      const c = contrastOf(el);
      if (min === null || c < min.ratio) min = { ratio: c, text: el.textContent.trim().slice(0, 40),
                                                 fg: getComputedStyle(el).color, fill: getComputedStyle(el).fill,
                                                 bg: backgroundOf(el).map(Math.round).join(",") };
    }
    return min;
  };
  const out = { contrast: {}, truncated: [], jammed: [], wrapped: [], clipped: [], plots: [], counts: {} };
  const groups = {
    "hex cells": pick(".tfk-hex-grid .tfk-b, .tfk-hex-grid .tfk-c, pre span[data-offset], pre span[data-offset] + span", 3000),
    "hex offsets and status": pick(".tfk-hex-grid .tfk-off, .tfk-hex-status, .tfk-hex-where"),
    "table cells": pick("table td, table th, table td *, table th *"),
    "shard-map labels": pick(".tfk-bars-svg text"),
    "shard-map legend and status": pick(".tfk-bars-legend span, .tfk-bars-status"),
    "text": pick(".widget-html-content, .widget-html-content *, .widget-label, .widget-toggle-button, .jupyter-button:not(:disabled), .lm-TabBar-tabLabel, .p-TabBar-tabLabel"),
  };
  for (const [name, els] of Object.entries(groups)) {
    out.counts[name] = els.length;
    const w = worst(els);
    if (w) out.contrast[name] = w;
  }
  for (const el of pick(".lm-TabBar-tabLabel, .p-TabBar-tabLabel, .widget-label, .widget-toggle-button, .jupyter-button, .widget-html-content, .widget-dropdown select"))
    if (truncated(el)) out.truncated.push(`${el.className}: ${el.textContent.trim().slice(0, 60)} (${el.scrollWidth} > ${el.clientWidth})`);
  for (const row of pick("table tr:first-child")) {
    const heads = Array.from(row.children).filter((c) => c.tagName === "TH");
    for (let i = 1; i < heads.length; i++) {
      const a = document.createRange(), b = document.createRange();
      a.selectNodeContents(heads[i - 1]); b.selectNodeContents(heads[i]);
      const gap = b.getBoundingClientRect().left - a.getBoundingClientRect().right;
      if (gap < 8) out.jammed.push(`${heads[i - 1].textContent}|${heads[i].textContent}: ${gap.toFixed(1)} px`);
    }
  }
  for (const td of pick("table td")) {
    const text = td.textContent.trim();
    if (!/^\[[^\]\)]*[\]\)]$/.test(text)) continue;  // a shape [8, 28] or a byte range [8, 28)
    const r = document.createRange();
    r.selectNodeContents(td);
    const tops = new Set(Array.from(r.getClientRects()).map((q) => Math.round(q.top)));
    if (tops.size > 1) out.wrapped.push(text);
  }
  for (const table of pick("table")) {  // a table wider than a box that hides its overflow
    const right = table.getBoundingClientRect().right;
    for (let e = table.parentElement; e && e !== root.parentElement; e = e.parentElement) {
      const ox = getComputedStyle(e).overflowX;
      if ((ox === "hidden" || ox === "clip") && e.getBoundingClientRect().right < right - 1) {
        out.clipped.push(`${table.querySelector("th") ? table.querySelector("th").textContent : "table"}: ` +
                         `${Math.round(right - e.getBoundingClientRect().right)} px cut off by ${e.className}`);
        break;
      }
    }
  }
  out.counts["bracketed cells"] = pick("table td").filter((td) => /^\[.*[\]\)]$/.test(td.textContent.trim())).length;
  for (const img of pick("img")) out.plots.push({ src: img.src, natural: img.naturalWidth, shown: img.getBoundingClientRect().width });
  for (const t of pick(".tfk-bars-svg text")) {
    const px = parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a;
    out.plots.push({ svgText: t.textContent.slice(0, 30), px });
  }
  return out;
}
"""

PNG_TEXT_JS = r"""
async (src) => {
  const buf = new Uint8Array(await (await fetch(src)).arrayBuffer());
  let s = "";
  for (let i = 0; i < Math.min(buf.length, 4096); i++) s += String.fromCharCode(buf[i]);
  const m = s.match(/tfckpt_lab:min_font_px\u0000([0-9.]+)/);
  return m ? parseFloat(m[1]) : null;
}
"""


def _check_view(pg, area, where: str, problems: list, seen: dict) -> None:
    """Measure what is visible in ``area`` and note every problem found (with ``where``)."""
    out = area.evaluate(MEASURE_JS)
    for name, w in out["contrast"].items():
        seen.setdefault(name, []).append(round(w["ratio"], 2))
        if w["ratio"] < AA:
            problems.append(f"{where}: {name}: contrast {w['ratio']:.2f} < {AA} for {w['text']!r} "
                            f"(colour {w['fg']} / fill {w['fill']} on {w['bg']})")
    problems += [f"{where}: label cut off: {t}" for t in out["truncated"]]
    problems += [f"{where}: table headers jammed together: {t}" for t in out["jammed"]]
    problems += [f"{where}: cell wraps: {t}" for t in out["wrapped"]]
    problems += [f"{where}: table cut off: {t}" for t in out["clipped"]]
    for k, v in out["counts"].items():
        seen.setdefault("count " + k, []).append(v)
    for p in out["plots"]:
        if "svgText" in p:
            px = p["px"]
            label = f"shard-map text {p['svgText']!r}"
        else:
            natural_px = pg.evaluate(PNG_TEXT_JS, p["src"])
            if natural_px is None:
                continue  # not one of our figures
            px = natural_px * p["shown"] / p["natural"]
            label = f"plot {p['natural']} px wide shown at {p['shown']:.0f} px"
        seen.setdefault("smallest plot text px", []).append(round(px, 1))
        if px < MIN_TEXT_PX:
            problems.append(f"{where}: {label}: smallest text {px:.1f} px < {MIN_TEXT_PX} px")


def _switch_theme(pg, name: str) -> None:
    """Settings > Theme > ``name``, as a user would; wait until the page says it changed."""
    pg.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Settings$")).click()
    pg.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Theme$")).hover()
    pg.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{re.escape(name)}$")).click()
    light = "false" if "Dark" in name else "true"
    pg.wait_for_function(f"document.body.dataset.jpThemeLight === '{light}' && "
                         f"document.body.dataset.jpThemeName === {name!r}", timeout=30_000)
    pg.wait_for_timeout(1000)  # the theme's stylesheet is applied


def _shoot(pg, area, name: str, tmp_path) -> list:
    """A picture of the whole widget ``area``: the window is made tall enough to show all of it
    (1440 px wide throughout), scrolled to it, and photographed."""
    height = area.evaluate("e => e.getBoundingClientRect().height")
    pg.set_viewport_size({"width": WIDTH, "height": max(1000, int(height) + 320)})
    pg.wait_for_timeout(300)
    area.scroll_into_view_if_needed()
    return save_screenshot(area, name, tmp_path)


def _tab(container, title: str):
    """The tab labelled ``title`` in the tab bar directly under ``container`` (a ``.widget-tab``)."""
    return container.locator(":scope > .widget-tab-bar .lm-TabBar-tab, :scope > .p-TabBar .p-TabBar-tab",
                             has_text=re.compile(rf"^\s*{re.escape(title)}\s*$"))


@pytest.fixture(scope="module")
def theme_page(playwright, tmp_path_factory):
    base = tmp_path_factory.mktemp("theme")
    with _notebook_in_lab(playwright, base, THEME_NOTEBOOK, THEME_CELLS, "READY", width=WIDTH, height=1000) as pg:
        pg.locator(f"{PANEL} .jp-OutputArea .widget-tab").first.wait_for(timeout=60_000)
        yield pg, base


@pytest.mark.parametrize("theme", ["JupyterLab Light", "JupyterLab Dark"])
def test_widgets_read_in_light_and_dark_themes(theme_page, theme, tmp_path):
    """Every explorer tab, the simulator after 12 saves and the checksum lab, in one theme: text of
    hex cells, table cells and shard-map labels at WCAG AA contrast or better, no label cut off,
    table headers apart, shapes and byte ranges on one line, and plot text at least 10 px."""
    pg, _base = theme_page
    _switch_theme(pg, theme)
    short = "dark" if "Dark" in theme else "light"
    outer = pg.locator(f"{PANEL} .jp-OutputArea .widget-tab").first
    problems: list[str] = []
    seen: dict = {}
    shots = []
    for title in OUTER_TABS:
        _tab(outer, title).click()
        pg.wait_for_timeout(800)
        panel = outer.locator(":scope > .widget-tab-contents > .lm-Widget:visible, "
                              ":scope > .p-TabPanel-stackedPanel > .p-Widget:visible").first
        inner = panel.locator(".widget-tab").first
        if title.startswith("Keras") and inner.count():
            for sub in INNER_TABS:
                _tab(inner, sub).click()
                pg.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(timeout=60_000)
                pg.wait_for_timeout(1200)  # the tab is built in the kernel, then drawn
                _check_view(pg, outer, f"{short} / {title} / {sub}", problems, seen)
                shots += _shoot(pg, outer, f"explorer_{short}_{sub.lower().replace(' ', '_')}.png", tmp_path)
        else:
            _check_view(pg, outer, f"{short} / {title}", problems, seen)
            name = {"Rotation simulator": "simulator_after_12_saves"}.get(title, title.lower().replace(" ", "_"))
            shots += _shoot(pg, outer, f"{name}_{short}.png", tmp_path)
    print(f"{theme}: measured {seen}; screenshots: {sorted({str(p.parent) for p in shots})}")
    for needed in ("hex cells", "table cells", "shard-map labels"):
        assert seen.get(needed), f"{theme}: no {needed} were measured: {seen}"
    assert max(seen["count bracketed cells"]) > 0
    assert not problems, "\n".join(problems)
    assert not [e for e in pg.errors if "widget" in e.lower() or "tfk" in e.lower()], pg.errors
