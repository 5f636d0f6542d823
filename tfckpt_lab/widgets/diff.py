"""CheckpointDiff: two checkpoints side by side: which tensors changed, and by how much."""

from __future__ import annotations

import os

import ipywidgets as w
import traitlets as t

from ..views.diff import diff_checkpoints, diff_html
from ._common import StaticFallback, figure_image, png_html, set_figure
from ._status import ShowsErrors

__all__ = ["CheckpointDiff"]


class CheckpointDiff(StaticFallback, ShowsErrors, w.VBox):
    """Compare checkpoint ``a`` with checkpoint ``b`` (e.g. ``model-1000`` and ``model-2000``).

    Traits: ``a``, ``b`` (prefixes), ``rows`` (see :func:`tfckpt_lab.views.diff.diff_checkpoints`),
    ``num_changed``, ``error`` (why the last comparison failed, e.g. a checkpoint that
    cannot be read; the previous result stays).  ``plot()`` draws the most-changed tensors.
    """

    a = t.Unicode("")
    b = t.Unicode("")
    rows = t.List(t.Dict())
    num_changed = t.Int(0)

    def __init__(self, a, b, *, choices: list[str] | None = None, **kwargs):
        opts = list(choices or [])
        for p in (os.fspath(a), os.fspath(b)):
            if p not in opts:
                opts.append(p)
        self._a = w.Dropdown(options=[(os.path.basename(p), p) for p in opts], description="a")
        self._b = w.Dropdown(options=[(os.path.basename(p), p) for p in opts], description="b")
        self._table = w.HTML()
        self._image = None
        super().__init__(**kwargs)
        self.a, self.b = os.fspath(a), os.fspath(b)
        self._a.value, self._b.value = self.a, self.b
        w.link((self._a, "value"), (self, "a"))
        w.link((self._b, "value"), (self, "b"))
        self._init_error_line()
        self.observe(self._on_pick, ["a", "b"])
        self.compare()

    def _on_pick(self, _change=None) -> None:
        with self.report():
            self.compare()

    def compare(self) -> list[dict]:
        """Recompute the rows for the current ``a`` and ``b``."""
        self.rows = diff_checkpoints(self.a, self.b)
        self.num_changed = sum(r["status"] != "same" for r in self.rows)
        self._table.value = diff_html(self.rows, title=f"{os.path.basename(self.a)} → {os.path.basename(self.b)}:")
        fig = self.plot()
        if self._image is None:
            self._image = figure_image(fig)
        else:
            set_figure(self._image, fig)
        self.children = [w.HBox([self._a, self._b]), self._error_line, self._image, self._table]
        return self.rows

    def plot(self):
        from ..views.plots import diff_bars

        return diff_bars(self.rows)

    def to_html(self) -> str:
        return png_html(self.plot()) + diff_html(self.rows, title=f"{os.path.basename(self.a)} → "
                                                 f"{os.path.basename(self.b)}:")
