"""EntriesTable: every index entry, sortable, filterable by name, paged (fast for 10,000+ entries)."""

from __future__ import annotations

import html

import ipywidgets as w
import traitlets as t

from ._common import StaticFallback

__all__ = ["EntriesTable", "COLUMNS"]

COLUMNS = ("name", "dtype", "shape", "shard", "offset", "size", "crc32c")


def _rows_of(source) -> list[dict]:
    from ..checkpoint.reader import CheckpointReader, load_checkpoint

    reader = source if isinstance(source, CheckpointReader) else load_checkpoint(source, verify=False)
    rows = []
    for e in reader.entries():
        rows.append({"name": e.name, "dtype": e.dtype_name, "shape": list(e.shape),
                     "shard": None if e.slices else e.shard_id, "offset": e.offset, "size": e.size,
                     "crc32c": e.crc32c, "slices": len(e.slices), "entry": e})
    return rows


class EntriesTable(StaticFallback, w.VBox):
    """The ``.index`` entries as a table.

    Args:
        source: a checkpoint prefix / directory, or a :class:`~tfckpt_lab.CheckpointReader`.
        page_size: rows per page.

    Traits (state): ``filter`` (substring of the name, case-insensitive), ``sort_by``
    (one of :data:`COLUMNS`), ``ascending``, ``page`` (0-based), ``page_size``,
    ``selected`` (a tensor name), ``num_matching`` (rows passing the filter).

    ``visible_rows()`` is the current page as dicts; each row's ``entry`` is the
    :class:`~tfckpt_lab.bundle.BundleEntry` (its ``.proto`` one level deeper).
    """

    filter = t.Unicode("")
    sort_by = t.Enum(COLUMNS, default_value="name")
    ascending = t.Bool(True)
    page = t.Int(0)
    page_size = t.Int(25)
    selected = t.Unicode("")
    num_matching = t.Int(0)

    def __init__(self, source, *, page_size: int = 25, **kwargs):
        self.rows = _rows_of(source)
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
        super().__init__(**kwargs)
        self.page_size = page_size
        self.children = [w.HBox([self._filter, self._sort, self._asc, self._prev, self._next, self._status]),
                         self._table, self._pick]
        for ctl, name in ((self._filter, "filter"), (self._sort, "sort_by"), (self._asc, "ascending")):
            w.link((ctl, "value"), (self, name))
        self._prev.on_click(lambda _: setattr(self, "page", max(0, self.page - 1)))
        self._next.on_click(lambda _: setattr(self, "page", min(self.num_pages - 1, self.page + 1)))
        self._pick.observe(lambda ch: setattr(self, "selected", ch["new"]) if ch["new"] else None, "value")
        self.observe(self._reset_page, ["filter", "sort_by", "ascending", "page_size"])
        self.observe(lambda _: self._render(), ["page", "selected"])
        self._render()

    # -- the data ----------------------------------------------------------------------
    def _matching(self) -> list[dict]:
        key = (self.filter, self.sort_by, self.ascending)
        if key != self._cache_key:
            f = self.filter.lower()
            rows = [r for r in self.rows if f in r["name"].lower()] if f else list(self.rows)
            col = self.sort_by
            if col == "shape":
                sort_key = lambda r: (len(r["shape"]), r["shape"])  # noqa: E731
            elif col in ("shard", "offset", "size", "crc32c"):  # None (V1, partitioned) sorts first
                sort_key = lambda r: -1 if r[col] is None else r[col]  # noqa: E731
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
    def _render(self) -> None:
        rows = self.visible_rows()
        self._status.value = (f"{self.num_matching} of {len(self.rows)} entries; page {self.page + 1} "
                              f"of {self.num_pages}")
        self._table.value = self.to_html(with_status=False)
        names = [r["name"] for r in rows]
        self._pick.options = names
        self._pick.value = self.selected if self.selected in names else None

    def to_html(self, *, with_status: bool = True) -> str:
        head = "".join(f"<th>{c}</th>" for c in COLUMNS)
        body = []
        for r in self.visible_rows():
            style = ' style="background:#F0E442"' if r["name"] == self.selected else ""
            shard = "(partitioned)" if r["slices"] else r["shard"]
            body.append(f"<tr{style}><td><code>{html.escape(r['name'])}</code></td><td>{r['dtype']}</td>"
                        f"<td>{r['shape']}</td><td>{shard}</td><td>{r['offset']}</td><td>{r['size']}</td>"
                        f"<td>{'' if r['crc32c'] is None else format(r['crc32c'], '#010x')}</td></tr>")
        status = (f"<div>{self.num_matching} of {len(self.rows)} entries, page {self.page + 1} of "
                  f"{self.num_pages}</div>") if with_status else ""
        return f"{status}<table><tr>{head}</tr>{''.join(body)}</table>"
