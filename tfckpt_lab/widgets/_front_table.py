"""Browser front end (anywidget) for the entries table: a click on a row selects that entry.

    EntryRows (synced traits):
        columns: [str, ...]        the header
        rows: [[str, ...], ...]    one page of rows, already formatted by Python
        names: [str, ...]          the entry name of each row (what a click selects)
        selected: str              the selected entry; a click on a row (or Enter / Space on a
                                   focused row, or the arrow keys) sets it
        empty: str                 what to say when the page has no rows

The JavaScript formats nothing and decodes nothing: it draws the cells it is given.
Imported only when a table is created with anywidget installed.
"""

from __future__ import annotations

import anywidget
import traitlets as t

__all__ = ["EntryRows"]

_ROWS_ESM = r"""
function render({ model, el }) {
  const table = document.createElement("table");
  table.className = "tfk-rows";
  table.setAttribute("role", "grid");
  el.append(table);
  let trs = [];

  function pick(i) {
    const names = model.get("names");
    if (i < 0 || i >= names.length) return;
    model.set("selected", names[i]);
    model.save_changes();
    trs[i].focus();
  }

  function build() {
    const columns = model.get("columns"), rows = model.get("rows");
    table.textContent = "";
    const head = table.createTHead().insertRow();
    for (const c of columns) {
      const th = document.createElement("th");
      th.textContent = c;
      head.append(th);
    }
    const body = table.createTBody();
    trs = rows.map((cells, i) => {
      const tr = body.insertRow();
      tr.tabIndex = 0;
      tr.dataset.row = i;
      tr.setAttribute("role", "row");
      cells.forEach((text, j) => {
        const td = tr.insertCell();
        td.textContent = text;
        if (j === 0) td.className = "tfk-rows-name";
      });
      return tr;
    });
    if (!rows.length) {
      const td = body.insertRow().insertCell();
      td.colSpan = Math.max(1, columns.length);
      td.className = "tfk-rows-empty";
      td.textContent = model.get("empty");
    }
    paint();
  }

  function paint() {
    const names = model.get("names"), sel = model.get("selected");
    trs.forEach((tr, i) => {
      const on = names[i] === sel;
      tr.classList.toggle("tfk-rows-sel", on);
      tr.setAttribute("aria-selected", on ? "true" : "false");
    });
  }

  table.addEventListener("click", (e) => {
    const tr = e.target.closest("tr[data-row]");
    if (tr) pick(Number(tr.dataset.row));
  });
  table.addEventListener("keydown", (e) => {
    const tr = e.target.closest("tr[data-row]");
    if (!tr) return;
    const i = Number(tr.dataset.row);
    const step = { ArrowUp: -1, ArrowDown: 1, Enter: 0, " ": 0 }[e.key];
    if (step === undefined) return;
    e.preventDefault();
    pick(i + step);
  });
  for (const name of ["columns", "rows", "names", "empty"]) model.on(`change:${name}`, build);
  model.on("change:selected", paint);
  build();
}
export default { render };
"""

_ROWS_CSS = """
.tfk-rows { border-collapse: collapse; font-size: 12px; }
.tfk-rows th, .tfk-rows td { padding: 2px 10px 2px 4px; text-align: left; white-space: nowrap; }
.tfk-rows th { border-bottom: 1px solid var(--jp-border-color1, #BDBDBD); }
.tfk-rows tbody tr { cursor: pointer; }
.tfk-rows tbody tr:hover { background: var(--jp-layout-color2, #EEEEEE); }
.tfk-rows tbody tr:focus { outline: 1px dotted var(--jp-ui-font-color1, #000000); }
.tfk-rows tbody tr.tfk-rows-sel { background: var(--jp-brand-color1, #0072B2);
                                  color: var(--jp-ui-inverse-font-color0, #FFFFFF); }
.tfk-rows .tfk-rows-name { font-family: var(--jp-code-font-family, monospace); }
.tfk-rows .tfk-rows-empty { font-style: italic; cursor: default; }
"""


class EntryRows(anywidget.AnyWidget):
    """One page of the entries table, each row a control (the front end of :class:`~tfckpt_lab.widgets.EntriesTable`)."""

    _esm = _ROWS_ESM
    _css = _ROWS_CSS
    columns = t.List(t.Unicode()).tag(sync=True)
    rows = t.List(t.List()).tag(sync=True)
    names = t.List(t.Unicode()).tag(sync=True)
    selected = t.Unicode("").tag(sync=True)
    empty = t.Unicode("").tag(sync=True)
