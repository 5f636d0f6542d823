"""Browser front ends (anywidget) for the hex view and the shard map: clicks become traitlets.

    HexGrid (synced traits):
        hex: str          the visible window of raw bytes, as hex (never more than MAX_WINDOW bytes)
        window: int       offset of the first byte shown; nbytes: window size; total: file size
        spans: list       [[start, end, kind_index, tip], ...] leaves over the window (region model)
        kinds: list       [[kind, selected_bg, bg_a, bg_b], ...] CSS backgrounds per kind: its Okabe-Ito
                          colour mixed into the page's theme background (palette.tint_css)
        selection: [start, end)   the selected region, outlined
        cursor: int       the picked byte; a click in the browser sets it
        status: str       one line from Python about the selection (what the byte is)

    ShardBars (synced traits):
        shards: [[file name, size], ...]; spans: [[shard, start, end, name, colour], ...]
        legend: [[dtype, colour], ...]; selected: str (a click on a bar sets it); status: str

Both draw only what Python sends (:mod:`tfckpt_lab.views.frontdata`); the
JavaScript decodes nothing.  Their colours follow the page's theme: the CSS below
uses JupyterLab's ``--jp-*`` variables (with light fallbacks), and a label on a
coloured bar is black or white, whichever contrasts more with that bar.  This module imports anywidget, so it is imported
only when a widget is created (``_common.use_front_end`` checks without importing).
"""

from __future__ import annotations

import anywidget
import traitlets as t

from ..views.palette import BORDER, INK, INK_MUTED, OKABE_ITO, PAGE_BG

__all__ = ["HexGrid", "ShardBars"]


_HEX_ESM = r"""
const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
                            .replace(/"/g, "&quot;");
const hex8 = (n) => n.toString(16).padStart(8, "0");

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "tfk-hex tfk-root";
  const bar = document.createElement("div");
  bar.className = "tfk-hex-bar";
  const prev = document.createElement("button");
  prev.textContent = "\u25c0 page";
  prev.title = "previous bytes";
  const next = document.createElement("button");
  next.textContent = "page \u25b6";
  next.title = "next bytes";
  const slider = document.createElement("input");
  slider.type = "range";
  slider.className = "tfk-hex-slider";
  slider.title = "scroll through the file";
  const where = document.createElement("span");
  where.className = "tfk-hex-where";
  bar.append(prev, slider, next, where);
  const grid = document.createElement("div");
  grid.className = "tfk-hex-grid";
  grid.tabIndex = 0;
  grid.title = "";
  const status = document.createElement("div");
  status.className = "tfk-hex-status";
  root.append(bar, grid, status);
  el.append(root);

  let cells = [], chars = [], spanOf = [];

  function setWindow(w) {
    const total = model.get("total"), width = model.get("width");
    w = Math.max(0, Math.min(w, Math.max(0, total - 1)));
    model.set("window", Math.floor(w / width) * width);
    model.save_changes();
  }
  function pick(off) {
    const total = model.get("total");
    if (off < 0 || off >= total) return;
    model.set("cursor", off);
    model.save_changes();
  }

  function build() {
    const hex = model.get("hex"), w0 = model.get("window"), width = model.get("width");
    const spans = model.get("spans"), total = model.get("total"), nbytes = model.get("nbytes");
    const n = hex.length / 2;
    spanOf = new Array(n);
    let si = 0;
    for (let i = 0; i < n; i++) {
      const off = w0 + i;
      while (si < spans.length && spans[si][1] <= off) si++;
      spanOf[i] = si < spans.length && spans[si][0] <= off ? si : -1;
    }
    const rows = [];
    for (let r = 0; r * width < n; r++) {
      const hs = [], cs = [];
      for (let i = r * width; i < Math.min(n, (r + 1) * width); i++) {
        const s = spanOf[i], tip = s >= 0 ? esc(spans[s][3]) : "";
        const b = parseInt(hex.substr(2 * i, 2), 16);
        const ch = b >= 32 && b < 127 ? esc(String.fromCharCode(b)) : "\u00b7";
        hs.push(`<span class="tfk-b" data-offset="${w0 + i}" title="${tip}">${hex.substr(2 * i, 2)}</span>`);
        cs.push(`<span class="tfk-c" data-offset="${w0 + i}" title="${tip}">${ch}</span>`);
      }
      const pad = "   ".repeat(width - hs.length);
      rows.push(`<span class="tfk-off">${hex8(w0 + r * width)}</span>  ${hs.join(" ")}${pad}  ${cs.join("")}`);
    }
    grid.innerHTML = rows.length ? rows.join("\n") : "(no bytes)";
    cells = Array.from(grid.querySelectorAll(".tfk-b"));
    chars = Array.from(grid.querySelectorAll(".tfk-c"));
    slider.min = 0;
    slider.max = Math.max(0, total - 1);
    slider.step = width;
    slider.value = w0;
    where.textContent = `bytes ${w0.toLocaleString()}\u2013${(w0 + n).toLocaleString()} of ${total.toLocaleString()}`;
    prev.disabled = w0 <= 0;
    next.disabled = w0 + nbytes >= total;
    paint();
  }

  function paint() {
    const spans = model.get("spans"), kinds = model.get("kinds"), w0 = model.get("window");
    const sel = model.get("selection"), cur = model.get("cursor");
    for (let i = 0; i < cells.length; i++) {
      const off = w0 + i, s = spanOf[i];
      const k = s >= 0 ? kinds[spans[s][2]] : null;
      const inSel = sel[0] <= off && off < sel[1];
      const bg = k ? (inSel ? k[1] : (s % 2 ? k[2] : k[3])) : "";
      for (const c of [cells[i], chars[i]]) {
        c.style.background = bg;
        c.classList.toggle("tfk-sel", inSel);
        c.classList.toggle("tfk-cur", off === cur);
      }
    }
    status.textContent = model.get("status");
  }

  let scheduled = false, full = false;  // one redraw per message from Python, however many traits changed
  const schedule = (rebuild) => () => {
    full = full || rebuild;
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => { scheduled = false; const b = full; full = false; b ? build() : paint(); });
  };
  for (const name of ["hex", "spans", "kinds", "window", "total", "nbytes"]) model.on(`change:${name}`, schedule(true));
  for (const name of ["selection", "cursor", "status"]) model.on(`change:${name}`, schedule(false));

  grid.addEventListener("click", (e) => {
    const off = e.target.dataset ? e.target.dataset.offset : undefined;
    if (off !== undefined) pick(Number(off));
  });
  grid.addEventListener("keydown", (e) => {
    const step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -model.get("width"), ArrowDown: model.get("width") }[e.key];
    if (step === undefined) return;
    e.preventDefault();
    pick(model.get("cursor") + step);
  });
  prev.addEventListener("click", () => setWindow(model.get("window") - model.get("nbytes")));
  next.addEventListener("click", () => setWindow(model.get("window") + model.get("nbytes")));
  slider.addEventListener("change", () => setWindow(Number(slider.value)));
  build();
}
export default { render };
"""

_THEME = {"ink": INK, "muted": INK_MUTED, "page": PAGE_BG, "border": BORDER, "cursor": OKABE_ITO["vermillion"],
          "row": "var(--jp-layout-color2, #eeeeee)"}

# Colours come from the page's theme (JupyterLab's --jp-* variables, light fallbacks elsewhere); the
# region tints Python sends are color-mix()es of a kind's colour into the same page background.
_HEX_CSS = """
.tfk-hex {{ font-size: 12px; color: {ink}; }}
.tfk-hex-bar {{ display: flex; gap: 6px; align-items: center; margin: 2px 0 4px 0; }}
.tfk-hex-slider {{ flex: 1; max-width: 420px; }}
.tfk-hex-where {{ color: {muted}; font-family: monospace; }}
.tfk-hex-grid {{ font-family: monospace; font-size: 12px; line-height: 1.35; white-space: pre;
                max-height: 520px; overflow: auto; outline: none; color: {ink}; }}
.tfk-hex-grid .tfk-off {{ color: {muted}; }}
.tfk-hex-grid .tfk-b, .tfk-hex-grid .tfk-c {{ cursor: pointer; color: {ink}; }}
.tfk-hex-grid .tfk-sel {{ box-shadow: inset 0 -2px 0 {ink}, inset 0 2px 0 {ink}; font-weight: bold; }}
.tfk-hex-grid .tfk-cur {{ outline: 2px solid {cursor}; text-decoration: underline; }}
.tfk-hex-status {{ margin-top: 4px; font-family: monospace; white-space: pre-wrap; color: {ink}; }}
""".format(**_THEME)

_BARS_ESM = r"""
const NS = "http://www.w3.org/2000/svg";
const mk = (tag, attrs) => {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
};
const human = (n) => n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`;
const W = 960, LABEL = 190, ROW = 26, GAP = 10, TOP = 6, GREY = "#BBBBBB";
// black or white, whichever has the higher WCAG contrast on a solid #rrggbb (palette.ink_on in Python)
const luminance = (hex) => [1, 3, 5].map((i) => parseInt(hex.substr(i, 2), 16) / 255)
  .map((c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4))
  .reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
const inkOn = (hex) => { const l = luminance(hex); return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? "#000000" : "#ffffff"; };

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "tfk-bars tfk-root";
  const svg = mk("svg", { class: "tfk-bars-svg", role: "img" });
  const legend = document.createElement("div");
  legend.className = "tfk-bars-legend";
  const status = document.createElement("div");
  status.className = "tfk-bars-status";
  root.append(svg, legend, status);
  el.append(root);
  let rows = [], scale = 1, outline = null;

  function build() {
    const shards = model.get("shards"), spans = model.get("spans");
    const longest = Math.max(1, ...shards.map((s) => s[1]));
    scale = (W - LABEL - 10) / longest;
    const H = TOP + shards.length * (ROW + GAP) + 4;
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.setAttribute("width", "100%");
    svg.style.maxWidth = `${W}px`;
    svg.textContent = "";
    const defs = mk("defs");
    const pat = mk("pattern", { id: "tfk-hatch", patternUnits: "userSpaceOnUse", width: 6, height: 6,
                                patternTransform: "rotate(45)" });
    pat.append(mk("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: "#777777", "stroke-width": 1.5 }));
    defs.append(pat);
    svg.append(defs);
    rows = shards.map(() => []);
    spans.forEach((s, i) => rows[s[0]].push(i));
    shards.forEach(([name, size], r) => {
      const y = TOP + r * (ROW + GAP);
      const label = mk("text", { x: 4, y: y + ROW / 2 - 2, "font-size": 12, "font-family": "monospace",
                                 class: "tfk-name" });
      label.textContent = name.length > 24 ? "\u2026" + name.slice(-23) : name;
      const sz = mk("text", { x: 4, y: y + ROW / 2 + 11, "font-size": 11, class: "tfk-size" });
      sz.textContent = human(size);
      svg.append(label, sz, mk("rect", { x: LABEL, y, width: size * scale, height: ROW,
                                         class: "tfk-row", "data-shard": r }));
      for (const i of rows[r]) {
        const [, start, end, tname, colour] = spans[i];
        const x = LABEL + start * scale, w = Math.max(0.5, (end - start) * scale);
        const rect = mk("rect", { x, y, width: w, height: ROW, fill: colour, "data-i": i,
                                  class: (tname ? "tfk-bar" : "tfk-gap") + (w > 3 ? " tfk-edged" : "") });
        const tip = mk("title");
        tip.textContent = `${tname || "unreferenced bytes"}  [${start}, ${end})  ${end - start} bytes`;
        rect.append(tip);
        svg.append(rect);
        if (!tname) svg.append(mk("rect", { x, y, width: w, height: ROW, fill: "url(#tfk-hatch)",
                                            "pointer-events": "none" }));
        if (tname && w > 60) {
          const chars = Math.floor(w / 7.3);
          const t = mk("text", { x: x + w / 2, y: y + ROW / 2 + 4, "font-size": 12, "text-anchor": "middle",
                                 fill: inkOn(colour), "pointer-events": "none", class: "tfk-label" });
          t.textContent = tname.length <= chars ? tname : "\u2026" + tname.slice(-(chars - 1));
          svg.append(t);
        }
      }
    });
    outline = mk("rect", { fill: "none", "stroke-width": 2.5, "pointer-events": "none",
                           class: "tfk-outline", visibility: "hidden" });
    svg.append(outline);
    legend.innerHTML = model.get("legend").map(([d, c]) =>
      `<span><i style="background:${c}"></i>${d}</span>`).join("") +
      `<span><i style="background:${GREY}"></i>unreferenced</span>`;
    paint();
  }

  function paint() {
    const sel = model.get("selected"), spans = model.get("spans");
    const i = sel ? spans.findIndex((s) => s[3] === sel) : -1;
    if (i < 0) {
      outline.setAttribute("visibility", "hidden");
    } else {
      const [r, start, end] = spans[i];
      const w = Math.max(4, (end - start) * scale);
      outline.setAttribute("x", LABEL + start * scale - (w > (end - start) * scale ? 1.5 : 0));
      outline.setAttribute("y", TOP + r * (ROW + GAP) - 3);
      outline.setAttribute("width", w);
      outline.setAttribute("height", ROW + 6);
      outline.setAttribute("visibility", "visible");
    }
    status.textContent = model.get("status");
  }

  svg.addEventListener("click", (e) => {
    const pt = svg.createSVGPoint();
    pt.x = e.clientX;
    pt.y = e.clientY;
    const p = pt.matrixTransform(svg.getScreenCTM().inverse());
    const r = Math.floor((p.y - TOP + GAP / 2) / (ROW + GAP));
    if (r < 0 || r >= rows.length) return;
    const spans = model.get("spans"), off = (p.x - LABEL) / scale;
    let best = -1, dist = 4;  // px: a thin bar is still easy to hit
    for (const i of rows[r]) {
      const [, start, end, tname] = spans[i];
      if (!tname) continue;
      const d = off < start ? (start - off) * scale : off >= end ? (off - end) * scale : 0;
      if (d < dist || (d === 0 && best < 0)) { best = i; dist = d; }
      if (d === 0) break;
    }
    if (best >= 0) {
      model.set("selected", spans[best][3]);
      model.save_changes();
    }
  });
  for (const name of ["shards", "spans", "legend"]) model.on(`change:${name}`, build);
  model.on("change:selected", paint);
  model.on("change:status", paint);
  build();
}
export default { render };
"""

_BARS_CSS = """
.tfk-bars {{ color: {ink}; }}
.tfk-bars-svg {{ cursor: pointer; display: block; }}
.tfk-bars-svg .tfk-name {{ fill: {ink}; }}
.tfk-bars-svg .tfk-size {{ fill: {muted}; }}
.tfk-bars-svg .tfk-row {{ fill: {row}; }}
.tfk-bars-svg .tfk-bar.tfk-edged {{ stroke: {page}; stroke-width: 0.5; }}
.tfk-bars-svg .tfk-outline {{ stroke: {ink}; }}
.tfk-bars-svg .tfk-bar:hover {{ opacity: 0.75; }}
.tfk-bars-legend {{ font-size: 12px; display: flex; flex-wrap: wrap; gap: 10px; margin: 2px 0; }}
.tfk-bars-legend i {{ display: inline-block; width: 10px; height: 10px; margin-right: 3px; }}
.tfk-bars-status {{ font-family: monospace; font-size: 12px; margin-top: 2px; }}
""".format(**_THEME)


class HexGrid(anywidget.AnyWidget):
    """The clickable hex grid (the front end of :class:`~tfckpt_lab.widgets.HexView`)."""

    _esm = _HEX_ESM
    _css = _HEX_CSS
    hex = t.Unicode("").tag(sync=True)
    window = t.Int(0).tag(sync=True)
    nbytes = t.Int(512).tag(sync=True)
    total = t.Int(0).tag(sync=True)
    width = t.Int(16).tag(sync=True)
    spans = t.List().tag(sync=True)
    kinds = t.List().tag(sync=True)
    selection = t.List(t.Int(), default_value=[0, 0]).tag(sync=True)
    cursor = t.Int(0).tag(sync=True)
    status = t.Unicode("").tag(sync=True)


class ShardBars(anywidget.AnyWidget):
    """The clickable shard map, SVG (the front end of :class:`~tfckpt_lab.widgets.ShardMap`)."""

    _esm = _BARS_ESM
    _css = _BARS_CSS
    shards = t.List().tag(sync=True)
    spans = t.List().tag(sync=True)
    legend = t.List().tag(sync=True)
    selected = t.Unicode("").tag(sync=True)
    status = t.Unicode("").tag(sync=True)
