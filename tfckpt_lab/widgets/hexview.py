"""HexView: a file's bytes, tinted by region, linked both ways with the region tree.

* pick a region (``select_region``, or the navigator list) and its bytes light up,
  with its explanation;
* pick a byte (``cursor``, or the offset box, or a click on it in the browser) and
  the innermost region holding it is selected.

With anywidget installed the bytes are a clickable grid (``_front.HexGrid``) that
gets only the visible window (``nbytes``, at most 4 KiB) from Python, so a 10 MB
shard stays fast; without it they are HTML (:func:`~tfckpt_lab.views.hexview.hex_html`).

>>> import os, tempfile, numpy as np
>>> from tfckpt_lab import write_bundle
>>> prefix = os.path.join(tempfile.mkdtemp(), "m")
>>> _ = write_bundle(prefix, {"w": np.zeros(3, np.float32)})
>>> hv = HexView(prefix + ".index")
>>> hv.cursor = hv.tree.end - 1          # pick the last byte ...
>>> hv.selected_kind, hv.selection       # ... and its innermost region is selected
('magic', [113, 121])
"""

from __future__ import annotations

import ipywidgets as w
import traitlets as t

from ..explain import innermost_region, layout
from ..explain.region import Region
from ..views.frontdata import MAX_WINDOW, hex_window
from ..views.hexview import hex_html, region_html, region_name
from ._common import StaticFallback, use_front_end
from ._status import ShowsErrors

__all__ = ["HexView"]

_NAV_LIMIT = 400  # children listed in the navigator at once (around the selected one)
_NAMED = ("tensor", "entry")  # the kinds of region that name a tensor


class HexView(StaticFallback, ShowsErrors, w.VBox):
    """A hex view of one checkpoint file with the region tree beside it.

    Args:
        source: a file path, or a region tree from :func:`tfckpt_lab.explain.layout`.
        nbytes: bytes shown at once (a window that follows the selection; at most 4096
            with the clickable front end).
        interactive: use the clickable anywidget grid (default: when anywidget is installed).

    Traits (state):
        cursor: the picked byte offset.
        selection: ``[start, end)`` of the selected region.
        selected_kind, selected_label, explanation: what the selected region is.
        tensor: the tensor (data shard) or index entry the selection lies in, or "".
        window: the first byte shown.
        error: what was wrong with the last input (a byte outside the file, a name the
            file does not hold), shown above the bytes; "" when the last input was fine.
    """

    cursor = t.Int(0)
    selection = t.List(t.Int(), default_value=[0, 0])
    selected_kind = t.Unicode("")
    selected_label = t.Unicode("")
    explanation = t.Unicode("")
    tensor = t.Unicode("")
    window = t.Int(0)
    nbytes = t.Int(512)

    def __init__(self, source, *, nbytes: int = 512, interactive: bool | None = None, **kwargs):
        self.tree = source if isinstance(source, Region) else layout(source)
        self.region: Region | None = None
        self._busy = False
        self._nav_regions: list[Region] = []
        self._offset = w.BoundedIntText(value=0, min=0, max=max(0, self.tree.end - 1), description="byte",
                                        layout=w.Layout(width="180px"))
        self._up = w.Button(description="up", icon="arrow-up", layout=w.Layout(width="70px"),
                            tooltip="select the enclosing region")
        self._prev = w.Button(description="◀", layout=w.Layout(width="40px"), tooltip="previous bytes")
        self._next = w.Button(description="▶", layout=w.Layout(width="40px"), tooltip="next bytes")
        self._find = w.Text(placeholder="tensor / key name", layout=w.Layout(width="260px"),
                            continuous_update=False)
        self._nav = w.Select(options=[], rows=12, layout=w.Layout(width="420px"))
        self._info = w.HTML()
        self._hex = w.HTML(layout=w.Layout(overflow="auto"))
        self._init_error_line()
        self._grid = None
        self._grid_key = None
        if use_front_end(interactive):
            from ._front import HexGrid

            self._grid = HexGrid(total=self.tree.end)
        super().__init__(**kwargs)
        self.nbytes = min(nbytes, MAX_WINDOW) if self._grid is not None else nbytes
        if self._grid is None:
            self.children = [
                w.HBox([self._offset, self._prev, self._next, self._up, self._find]),
                self._error_line,
                w.HBox([self._nav, self._info]),
                self._hex,
            ]
        else:  # the grid has its own paging controls
            self.children = [
                w.HBox([self._offset, self._up, self._find]),
                self._error_line,
                w.HBox([self._nav, self._info]),
                self._grid,
            ]
            t.link((self._grid, "cursor"), (self, "cursor"))
            self._grid.observe(self._on_grid_window, "window")
        self._offset.observe(lambda ch: setattr(self, "cursor", ch["new"]), "value")
        self._up.on_click(lambda _: self.select_region(self.region.parent) if self.region and self.region.parent
                          else None)
        self._prev.on_click(lambda _: setattr(self, "window", max(0, self.window - self.nbytes)))
        self._next.on_click(lambda _: setattr(self, "window", min(max(0, self.tree.end - 1),
                                                                  self.window + self.nbytes)))
        self._find.observe(lambda ch: self._on_find(ch["new"]), "value")
        self._nav.observe(self._on_nav, "value")
        self.observe(self._on_cursor, "cursor")
        self.observe(lambda _: self._render_hex(), ["window", "nbytes"])
        self.select_region(self.tree)

    # -- the two directions of the link ----------------------------------------------
    def select_region(self, region: Region | None) -> None:
        """Select a region: its bytes light up and the window moves to show them."""
        if region is None:
            return
        self.region = region
        self._busy = True
        try:
            self.selection = [region.start, region.end]
            self.selected_kind = region.kind
            self.selected_label = region.label
            self.explanation = region.explanation
            self.tensor = next((r.label for r in reversed(region.lineage()) if r.kind in _NAMED), "")
            if not region.start <= self.cursor < max(region.end, region.start + 1):
                self.cursor = region.start
                self._offset.value = min(self._offset.max, region.start)
            if not self.window <= region.start < self.window + self.nbytes:
                self.window = (region.start // 16) * 16
        finally:
            self._busy = False
        self._render_nav()
        self._render_hex()

    def _on_cursor(self, change) -> None:
        if self._busy:
            return
        r = innermost_region(self.tree, change["new"])
        if r is None:  # refused: the cursor goes back, the selection stays
            tr = self.tree
            self.error = (f"byte {change['new']} is outside {tr.label} (bytes {tr.start} to {tr.end - 1})"
                          if tr.size else f"{tr.label} is empty: it has no bytes to pick")
            self._busy = True
            try:
                self.cursor = change["old"]
            finally:
                self._busy = False
            return
        self.error = ""
        if self._offset.value != change["new"]:
            self._offset.value = change["new"]
        self.select_region(r)
        self._render_hex()

    def select_offset(self, offset: int) -> Region | None:
        """Pick byte ``offset``; returns the innermost region now selected."""
        self.cursor = offset
        return self.region

    def find(self, name: str) -> Region | None:
        """Select the tensor (data shard) or index entry called ``name``; None (and ``error`` says why) if absent."""
        r = self.tree.find_tensor(name) if hasattr(self.tree, "find_tensor") else None
        if r is not None:
            self.error = ""
            self.select_region(r)
            return r
        kind = getattr(self.tree, "file_kind", "")
        if kind in ("index", "data"):
            where = "index entry" if kind == "index" else "tensor with bytes"
            self.error = f"no {where} named {name!r} in {self.tree.label}"
            if kind == "data":
                self.error += " (empty tensors and partitioned variables have no bytes of their own here)"
        else:
            self.error = (f"{self.tree.label} holds no tensors: search names in the .index or a data shard")
        return None

    def _on_find(self, name: str) -> None:
        if name.strip():
            self.find(name.strip())

    # -- rendering ------------------------------------------------------------------------
    def _on_nav(self, change) -> None:
        i = change["new"]
        if self._busy or i is None or i < 0 or i >= len(self._nav_regions):
            return
        target = self._nav_regions[i]
        if target is not self.region:
            self.select_region(target)

    def _render_nav(self) -> None:
        r = self.region
        kids = r.children
        if kids:
            listing, focus = kids, None
        else:
            listing, focus = (r.parent.children if r.parent else [r]), r
        lo = 0
        if len(listing) > _NAV_LIMIT:
            at = listing.index(focus) if focus is not None else 0
            lo = max(0, at - _NAV_LIMIT // 2)
        shown = listing[lo:lo + _NAV_LIMIT]
        self._nav_regions = shown
        self._busy = True
        try:
            self._nav.options = [(f"[{c.start}, {c.end}) {region_name(c)}"[:90], i) for i, c in enumerate(shown)]
            self._nav.value = shown.index(focus) if focus is not None and focus in shown else None
        finally:
            self._busy = False
        self._info.value = region_html(r)

    def _render_hex(self) -> None:
        if self._grid is None:
            self._hex.value = hex_html(self.tree, self.window, self.nbytes, selected=self.region,
                                       cursor=self.cursor)
            return
        g = self._grid
        key = ((max(0, self.window) // 16) * 16, min(self.nbytes, MAX_WINDOW))
        with g.hold_sync():
            if key != self._grid_key:
                self._grid_key = key
                d = hex_window(self.tree, *key)
                g.hex, g.spans, g.kinds, g.nbytes = d["hex"], d["spans"], d["kinds"], key[1]
                g.window = d["window"]
            g.selection = list(self.selection)
            g.cursor = self.cursor
            r = self.region
            g.status = (f"byte {self.cursor} (0x{self.cursor:x}) \u2192 {region_name(r)} [{r.start}, {r.end}): "
                        f"{r.explanation}" if r is not None else "")

    def _on_grid_window(self, change) -> None:
        """The browser paged or scrolled: send that window."""
        if change["new"] != self.window:
            self.window = change["new"]

    def to_html(self) -> str:
        return region_html(self.region) + hex_html(self.tree, self.window, self.nbytes, selected=self.region,
                                                   cursor=self.cursor)
