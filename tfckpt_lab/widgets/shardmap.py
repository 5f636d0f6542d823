"""ShardMap: the shard byte map as a widget; picking a tensor selects it everywhere it is linked."""

from __future__ import annotations

import html
import os

import ipywidgets as w
import traitlets as t

from ..explain import innermost_region, layouts, tensor_files
from ._common import StaticFallback, figure_image, png_html, set_figure, use_front_end
from ._status import ShowsErrors

__all__ = ["ShardMap"]


class ShardMap(StaticFallback, ShowsErrors, w.VBox):
    """Tensors as bars along each data shard.

    Pick a tensor by name (``selected``), or by a position on the map with
    :meth:`click` (shard row, byte offset), which asks the region model which
    tensor holds that byte.  With anywidget installed the map is drawn in the
    browser as SVG (``_front.ShardBars``) from the tensors' spans, and clicking a bar
    sets ``selected``; without it, it is the :meth:`plot` image (also the static
    fallback).  ``interactive`` forces one or the other.

    Traits: ``selected`` (tensor name), ``picked_shard``, ``picked_offset``, ``error``
    (a pick outside every shard, a name not in the checkpoint: shown in place).
    """

    selected = t.Unicode("")
    picked_shard = t.Int(-1)
    picked_offset = t.Int(-1)

    def __init__(self, prefix, *, trees: dict | None = None, interactive: bool | None = None, **kwargs):
        self.prefix = os.fspath(prefix)
        trees = trees or layouts(self.prefix)
        self.trees = tensor_files(trees)
        self._names = None
        self._image = self._bars = None
        if use_front_end(interactive):
            from ..views.frontdata import shard_spans
            from ._front import ShardBars

            self._bars = ShardBars(**shard_spans(self.trees))
        else:
            self._image = figure_image(self.plot())
        self._shard = w.Dropdown(options=[(os.path.basename(tr.path), i) for i, tr in enumerate(self.trees)],
                                 description="shard", layout=w.Layout(width="440px"))
        self._offset = w.IntText(value=0, description="byte", layout=w.Layout(width="180px"))
        self._go = w.Button(description="pick")
        self._info = w.HTML()
        super().__init__(**kwargs)
        self.children = [self._bars or self._image, w.HBox([self._shard, self._offset, self._go]),
                         self._init_error_line(), self._info]
        self._go.on_click(lambda _: self.click(self._shard.value or 0, self._offset.value))
        if self._bars is not None:
            t.link((self._bars, "selected"), (self, "selected"))
        self.observe(self._on_selected, "selected")

    def plot(self):
        """The map as a Figure (the static fallback)."""
        from ..views.plots import shard_map

        return shard_map(self.trees, selected=self.selected or None)

    def click(self, shard: int, offset: int) -> str | None:
        """Select the tensor whose bytes include ``offset`` in shard row ``shard``; returns its name.

        A pick outside every shard, or on bytes no tensor owns, selects nothing: ``error``
        says why and the selection stays.
        """
        if not 0 <= shard < len(self.trees):
            self.error = (f"there is no shard row {shard}: this checkpoint has {len(self.trees)} data shard(s)"
                          if self.trees else "this checkpoint has no data shard files")
            return None
        tree = self.trees[shard]
        if not 0 <= offset < tree.end:
            self.error = (f"byte {offset} is outside {os.path.basename(tree.path)} "
                          f"({tree.end:,} bytes: offsets 0 to {tree.end - 1:,})" if tree.end
                          else f"{os.path.basename(tree.path)} is empty")
            return None
        self.picked_shard, self.picked_offset = shard, offset
        r = innermost_region(tree, offset)
        while r is not None and r.kind != "tensor":
            r = r.parent
        if r is None:
            self.error = f"byte {offset} of {os.path.basename(tree.path)} belongs to no tensor (unreferenced bytes)"
            return None
        self.error = ""
        self.selected = r.label
        return r.label

    def _on_mpl_click(self, event) -> None:  # pragma: no cover - needs an interactive backend
        if event.xdata is not None and event.ydata is not None:
            self.click(int(round(event.ydata)), int(event.xdata))

    def tensor_region(self, name: str | None = None):
        """The data-shard region of tensor ``name`` (default: the selected one)."""
        name = name or self.selected
        for tr in self.trees:
            r = tr.find_tensor(name)
            if r is not None:
                return r
        return None

    def _known(self, name: str) -> bool:
        if self._names is None:
            from ..checkpoint.reader import load_checkpoint

            try:
                with load_checkpoint(self.prefix, verify=False) as reader:
                    self._names = {e.name for e in reader.entries().values()}
            except Exception:  # no usable index: nothing to check names against
                self._names = set()
        return not self._names or name in self._names

    def _on_selected(self, change) -> None:
        if self._image is not None:
            set_figure(self._image, self.plot())
        r = self.tensor_region()
        if change["new"] and r is None and not self._known(change["new"]):
            self.error = f"no tensor named {change['new']!r} in this checkpoint"
        elif r is not None or not change["new"]:
            self.error = ""
        if r is None:
            self._info.value = f"<code>{html.escape(change['new'])}</code> has no bytes in a shard (empty or partitioned)"
            status = f"{change['new']}: no bytes in a shard" if change["new"] else ""
        else:
            self._info.value = (f"<b>{html.escape(r.label)}</b> in <code>{os.path.basename(r.root.path)}</code> "
                                f"bytes [{r.start}, {r.end}): {html.escape(r.explanation)}")
            status = f"selected {r.label} in {os.path.basename(r.root.path)} bytes [{r.start}, {r.end})"
        if self._bars is not None:
            self._bars.status = status

    def to_html(self) -> str:
        return png_html(self.plot())
