"""EntriesTable: every index entry, sortable, filterable by name, paged (fast for 10,000+ entries)."""

from __future__ import annotations

import html

import ipywidgets as w
import traitlets as t

from ..views.palette import TABLE_OPEN, highlight_css
from ._common import StaticFallback, use_front_end
from ._status import ShowsErrors

__all__ = ["EntriesTable", "COLUMNS"]

COLUMNS = ("name", "dtype", "shape", "shard", "offset", "size", "crc32c")


def _rows_of(source) -> list[dict]:
    from ..checkpoint.reader import CheckpointReader, load_checkpoint

    reader = source if isinstance(source, CheckpointReader) else load_checkpoint(source, verify=False)
    rows = []
    for e in reader.entries().values():
        rows.append({"name": e.name, "dtype": e.dtype_name, "shape": list(e.shape),
                     "shard": None if e.slices else e.shard_id, "offset": e.offset, "size": e.size,
                     "crc32c": e.crc32c, "slices": len(e.slices), "entry": e})
    return rows


def _cells(r: dict) -> list[str]:
    """One row's cells as text, in :data:`COLUMNS` order."""
    shard = "(partitioned)" if r["slices"] else str(r["shard"])
    crc = "" if r["crc32c"] is None else f"{r['crc32c']:#010x}"  # V1 entries have no checksum
    where = ["" if r[k] is None else str(r[k]) for k in ("offset", "size")]  # nor, until read, a byte range
    return [r["name"], r["dtype"], str(r["shape"]), shard, *where, crc]


class EntriesTable(StaticFallback, ShowsErrors, w.VBox):
    """The ``.index`` entries as a table; a click on a row selects that entry.

    Args:
        source: a checkpoint prefix / directory, or a :class:`~tfckpt_lab.CheckpointReader`.
        page_size: rows per page.
        interactive: rows you click (anywidget, ``_front_table.EntryRows``; default: when
            anywidget is installed). Without it the page is an HTML table with a list box
            of its names to pick from.

    Traits (state): ``filter`` (substring of the name, case-insensitive), ``sort_by``
    (one of :data:`COLUMNS`), ``ascending``, ``page`` (0-based, kept within the pages
    there are), ``page_size``, ``selected`` (a tensor name; the table turns to the page
    that shows it), ``num_matching`` (rows passing the filter), ``error`` (e.g. a selected
    name that is not in the checkpoint).

    ``visible_rows()`` is the current page as dicts; each row's ``entry`` is the
    :class:`~tfckpt_lab.bundle.BundleEntry` (its ``.lowlevel`` one level deeper).
    """

    filter = t.Unicode("")
    sort_by = t.Enum(COLUMNS, default_value="name")
    ascending = t.Bool(True)
    page = t.Int(0)
    page_size = t.Int(25)
    selected = t.Unicode("")
    num_matching = t.Int(0)

    def __init__(self, source, *, page_size: int = 25, interactive: bool | None = None, **kwargs):
        self.rows = _rows_of(source)
        self._names = {r["name"] for r in self.rows}
        self._view: list[dict] = self.rows
        self._cache_key = None
        self._filter = w.Text(placeholder="filter by name", description="filter", continuous_update=False,
                              layout=w.Layout(width="300px"))
        self._sort = w.Dropdown(options=COLUMNS, value="name", description="sort by", layout=w.Layout(width="200px"))
        self._asc = w.ToggleButton(value=True, description="ascending", layout=w.Layout(width="110px"))
        self._prev = w.Button(description="◀", layout=w.Layout(width="40px"))
        self._next = w.Button(description="▶", layout=w.Layout(width="40px"))
        self._status = w.Label()
        self._pick = w.Select(options=[], rows=8, layout=w.Layout(width="100%"))
        self._table = w.HTML()
        self._rows = None
        if use_front_end(interactive):
            from ._front_table import EntryRows

            self._rows = EntryRows(columns=list(COLUMNS))
        super().__init__(**kwargs)
        self.page_size = page_size
        controls = w.HBox([self._filter, self._sort, self._asc, self._prev, self._next, self._status])
        if self._rows is not None:  # the rows are the control
            self.children = [controls, self._init_error_line(), self._rows]
            t.link((self._rows, "selected"), (self, "selected"))
        else:
            self.children = [controls, self._init_error_line(), self._table, self._pick]
        for ctl, name in ((self._filter, "filter"), (self._sort, "sort_by"), (self._asc, "ascending")):
            w.link((ctl, "value"), (self, name))
        self._prev.on_click(lambda _: setattr(self, "page", max(0, self.page - 1)))
        self._next.on_click(lambda _: setattr(self, "page", min(self.num_pages - 1, self.page + 1)))
        self._pick.observe(lambda ch: setattr(self, "selected", ch["new"]) if ch["new"] else None, "value")
        self.observe(self._reset_page, ["filter", "sort_by", "ascending", "page_size"])
        self.observe(lambda _: self._render(), "page")
        self.observe(self._on_selected, "selected")
        self._render()

    @t.validate("page_size")
    def _valid_page_size(self, proposal):
        if proposal["value"] < 1:
            raise t.TraitError(f"page_size must be at least 1 (got {proposal['value']})")
        return proposal["value"]

    @t.validate("page")
    def _valid_page(self, proposal):
        return max(0, min(proposal["value"], self.num_pages - 1))

    def _on_selected(self, change) -> None:
        name = change["new"]
        if name and name not in self._names:
            self.error = f"no entry named {name!r} in this checkpoint"
        else:
            self.error = ""
            self._turn_to(name)
        self._render()

    def _turn_to(self, name: str) -> None:
        """Show the page holding row ``name``, if the filter lets it through."""
        if not name or any(r["name"] == name for r in self.visible_rows()):
            return
        for i, r in enumerate(self._matching()):
            if r["name"] == name:
                self.page = i // self.page_size
                return

    # -- the data ----------------------------------------------------------------------
    def _matching(self) -> list[dict]:
        key = (self.filter, self.sort_by, self.ascending)
        if key != self._cache_key:
            f = self.filter.lower()
            rows = [r for r in self.rows if f in r["name"].lower()] if f else list(self.rows)
            col = self.sort_by
            if col == "shape":
                sort_key = lambda r: (len(r["shape"]), r["shape"])  # noqa: E731
            elif col in ("shard", "offset", "size", "crc32c"):  # None (a partitioned variable's shard,
                sort_key = lambda r: -1 if r[col] is None else r[col]  # noqa: E731  # a V1 checksum) first
            else:
                sort_key = lambda r: r[col]  # noqa: E731
            rows.sort(key=lambda r: (sort_key(r), r["name"]), reverse=not self.ascending)
            self._view = rows
            self._cache_key = key
            self.num_matching = len(rows)
        return self._view

    @property
    def num_pages(self) -> int:
        return max(1, -(-len(self._matching()) // self.page_size))

    def visible_rows(self) -> list[dict]:
        """The rows on the current page."""
        rows = self._matching()
        lo = self.page * self.page_size
        return rows[lo:lo + self.page_size]

    def _reset_page(self, _change=None) -> None:
        self._matching()
        if self.page != 0:
            self.page = 0  # triggers a render
        else:
            self._render()

    # -- rendering -----------------------------------------------------------------------
    def _empty_text(self) -> str:
        if self.rows and self.filter:
            return f"no entry name contains {self.filter!r}"
        return "" if self.rows else "this checkpoint has no entries"

    def _render(self) -> None:
        rows = self.visible_rows()
        self._status.value = (f"{self.num_matching} of {len(self.rows)} entries; page {self.page + 1} "
                              f"of {self.num_pages}")
        names = [r["name"] for r in rows]
        if self._rows is not None:
            with self._rows.hold_sync():
                self._rows.rows = [_cells(r) for r in rows]
                self._rows.names = names
                self._rows.empty = self._empty_text()
            return
        self._table.value = self.to_html(with_status=False)
        self._pick.options = names
        self._pick.value = self.selected if self.selected in names else None

    def to_html(self, *, with_status: bool = True) -> str:
        head = "".join(f"<th>{c}</th>" for c in COLUMNS)
        body = []
        for r in self.visible_rows():
            style = f' style="{highlight_css()}"' if r["name"] == self.selected else ""
            cells = [f"<code>{html.escape(c)}</code>" if i == 0 else html.escape(c) for i, c in enumerate(_cells(r))]
            body.append(f"<tr{style}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        if not body and self._empty_text():
            body.append(f'<tr><td colspan="{len(COLUMNS)}"><i>{html.escape(self._empty_text())}</i></td></tr>')
        status = (f"<div>{self.num_matching} of {len(self.rows)} entries, page {self.page + 1} of "
                  f"{self.num_pages}</div>") if with_status else ""
        return f"{status}{TABLE_OPEN}<tr>{head}</tr>{''.join(body)}</table>"
