"""The explorer: one widget for a checkpoint directory or prefix, with every view in a tab."""

from __future__ import annotations

import html
import os
import re

import ipywidgets as w
import traitlets as t

from ._common import StaticFallback, figure_image, png_html, set_figure

__all__ = ["explore", "Explorer", "group_files", "TABS"]

TABS = ("Files", "Entries", "Bytes", "Shard map", "Values", "Checksum lab", "Diff", "Rotation")
_FILE_RE = re.compile(r"^(?P<prefix>.+?)(?P<kind>\.index|\.meta|\.data-\d{5,}-of-\d{5,})$")
_STEP_RE = re.compile(r"-(\d+)$")


def group_files(directory) -> list[dict]:
    """The checkpoint files of ``directory`` grouped by prefix, ordered by step.

    Each group: ``prefix`` (full path), ``name``, ``step`` (or None), ``files``
    (``[(name, size)]``), ``size`` (total bytes), ``complete`` (has an ``.index``).
    """
    directory = os.fspath(directory)
    groups: dict[str, dict] = {}
    for name in sorted(os.listdir(directory)):
        m = _FILE_RE.match(name)
        if not m:
            continue
        stem = m.group("prefix")
        g = groups.setdefault(stem, {"prefix": os.path.join(directory, stem), "name": stem, "files": [],
                                     "size": 0, "complete": False})
        size = os.path.getsize(os.path.join(directory, name))
        g["files"].append((name, size))
        g["size"] += size
        g["complete"] |= m.group("kind") == ".index"
        s = _STEP_RE.search(stem)
        g["step"] = int(s.group(1)) if s else None
    return sorted(groups.values(), key=lambda g: (g["step"] is None, g["step"] or 0, g["name"]))


def _files_html(groups, current: str, latest: str | None) -> str:
    rows = []
    for g in groups:
        mark = " ← latest" if latest and os.path.abspath(g["prefix"]) == os.path.abspath(latest) else ""
        style = ' style="background:#F0E442"' if g["prefix"] == current else ""
        files = "<br>".join(f"<code>{html.escape(n)}</code> {s:,} B" for n, s in g["files"])
        rows.append(f"<tr{style}><td><code>{html.escape(g['name'])}</code>{mark}</td>"
                    f"<td>{'' if g['step'] is None else g['step']}</td><td>{files}</td><td>{g['size']:,}</td></tr>")
    return ("<table><tr><th>checkpoint</th><th>step</th><th>files</th><th>bytes</th></tr>"
            + "".join(rows) + "</table>")


class Explorer(StaticFallback, w.VBox):
    """Everything about one checkpoint (and its neighbours in the directory), in tabs.

    Traits (state): ``prefix`` (the checkpoint shown), ``selected`` (a tensor name,
    shared by every tab: the table, the bytes, the shard map, the values), ``tab``
    (index into :data:`TABS`).  Tabs are built the first time they are shown.
    ``view(name)`` returns a tab's widget (building it if needed).
    """

    prefix = t.Unicode("")
    selected = t.Unicode("")
    tab = t.Int(0)

    def __init__(self, path, **kwargs):
        from ..checkpoint.reader import resolve_prefix
        from ..checkpoint.state import latest_checkpoint

        path = os.fspath(path)
        if os.path.isdir(path):
            self.directory = path
            self.latest = latest_checkpoint(path)
        else:
            self.directory = os.path.dirname(resolve_prefix(path)) or "."
            self.latest = latest_checkpoint(self.directory)
        self.groups = [g for g in group_files(self.directory) if g["complete"]]
        if os.path.isdir(path):
            start = self.latest or (self.groups[-1]["prefix"] if self.groups else None)
            if start is None:
                from ..errors import CheckpointNotFoundError

                raise CheckpointNotFoundError("no checkpoint (.index file) in this directory", path=path)
        else:
            start = resolve_prefix(path)
        self._views: dict[str, w.Widget] = {}
        self._pick = w.Dropdown(options=[(g["name"], g["prefix"]) for g in self.groups] or [(start, start)],
                                description="checkpoint", layout=w.Layout(width="420px"))
        self._tabs = w.Tab(children=[w.VBox() for _ in TABS], titles=TABS)
        super().__init__(**kwargs)
        self.children = [self._pick, self._tabs]
        self._open(start)
        if start in [v for _, v in self._pick.options]:
            self._pick.value = start
        w.link((self._pick, "value"), (self, "prefix"))
        w.link((self._tabs, "selected_index"), (self, "tab"))
        self.observe(lambda ch: self._open(ch["new"]), "prefix")
        self.observe(lambda _: self._show(TABS[self.tab]), "tab")
        self.observe(self._on_selected, "selected")
        self._show(TABS[self.tab])

    # -- state -------------------------------------------------------------------------
    def _open(self, prefix: str) -> None:
        from ..checkpoint.reader import load_checkpoint

        self.reader = load_checkpoint(prefix, verify=False)
        self._trees = None
        for v in self._views.values():
            v.close()
        self._views = {}
        self._tabs.children = [w.VBox() for _ in TABS]
        if self.prefix != prefix:
            self.prefix = prefix
        self.selected = ""
        self._show(TABS[self.tab])

    @property
    def trees(self) -> dict:
        """``{path: region tree}`` for the current checkpoint's files (built on first use)."""
        if self._trees is None:
            from ..explain import layouts

            self._trees = layouts(self.prefix)
        return self._trees

    def _table_tree(self):
        from ..explain import table_tree

        return table_tree(self.trees)

    def view(self, name: str) -> w.Widget:
        """The widget of tab ``name`` (one of :data:`TABS`), built on first use."""
        if name not in self._views:
            self._views[name] = getattr(self, "_build_" + name.lower().replace(" ", "_"))()
            kids = list(self._tabs.children)
            kids[TABS.index(name)] = self._views[name]
            self._tabs.children = kids
        return self._views[name]

    def _show(self, name: str) -> None:
        self.view(name)

    def _on_selected(self, change) -> None:
        name = change["new"]
        for key in ("Entries", "Shard map"):
            v = self._views.get(key)
            if v is not None and v.selected != name:
                v.selected = name
        hv = self._views.get("Bytes")
        if hv is not None and name and hv.children[1].tensor != name:  # a byte picked inside it stays picked
            hv.children[1].find(name)
        if "Values" in self._views:
            self._render_values()

    # -- tabs ----------------------------------------------------------------------------
    def _build_files(self):
        from ..views.plots import index_anatomy

        table = w.HTML(_files_html(self.groups, self.prefix, self.latest))
        anatomy = figure_image(index_anatomy(self._table_tree()))
        return w.VBox([w.HTML(f"<b>{html.escape(self.directory)}</b>"), table,
                       w.HTML("<b>the .index file, to scale</b>"), anatomy])

    def _build_entries(self):
        from .entries import EntriesTable

        table = EntriesTable(self.reader)
        table.selected = self.selected
        table.observe(lambda ch: setattr(self, "selected", ch["new"]), "selected")
        return table

    def _build_bytes(self):
        from .hexview import HexView

        paths = list(self.trees)
        state = os.path.join(self.directory, "checkpoint")
        if os.path.exists(state):
            paths.append(state)
        pick = w.Dropdown(options=[(os.path.basename(p), p) for p in paths], description="file",
                          layout=w.Layout(width="420px"))

        def hexview(source):
            hv = HexView(source)
            # a byte picked (clicked) inside a tensor or an index entry selects that tensor everywhere
            hv.observe(lambda ch: setattr(self, "selected", ch["new"]) if ch["new"] else None, "tensor")
            return hv

        box = w.VBox([pick, hexview(self.trees[paths[0]])])

        def switch(change):
            p = change["new"]
            tree = self.trees.get(p)
            old = box.children[1]
            box.children = [pick, hexview(tree if tree is not None else p)]
            old.close()
            if self.selected:
                box.children[1].find(self.selected)

        pick.observe(switch, "value")
        if self.selected:
            box.children[1].find(self.selected)
        return box

    def _build_shard_map(self):
        from .shardmap import ShardMap

        sm = ShardMap(self.prefix, trees=self.trees)
        sm.selected = self.selected
        sm.observe(lambda ch: setattr(self, "selected", ch["new"]), "selected")
        return sm

    def _build_values(self):
        self._values_box = w.VBox([w.HTML()])
        self._render_values()
        return self._values_box

    def _render_values(self) -> None:
        from ..views.plots import tensor_values

        name = self.selected
        if not name:
            self._values_box.children = [w.HTML("<i>select a tensor (Entries or Shard map tab)</i>")]
            return
        try:
            value = self.reader.get_tensor(name)
        except Exception as exc:
            self._values_box.children = [w.HTML(f"<code>{html.escape(name)}</code>: {html.escape(str(exc))}")]
            return
        e = self.reader.entry(name)
        info = w.HTML(f"<code>{html.escape(name)}</code>: {e.dtype_name} {list(e.shape)}, shard {e.shard_id}, "
                      f"bytes [{e.offset}, {e.end})")
        img = self._values_box.children[-1] if isinstance(self._values_box.children[-1], w.Image) else None
        fig = tensor_values(value, name)
        if img is None:
            img = figure_image(fig)
        else:
            set_figure(img, fig)
        self._values_box.children = [info, img]

    def _build_checksum_lab(self):
        from .checksum import ChecksumLab

        return ChecksumLab(self.prefix)

    def _build_diff(self):
        from .diff import CheckpointDiff

        prefixes = [g["prefix"] for g in self.groups]
        if len(prefixes) < 2:
            return w.HTML("<i>only one checkpoint here: nothing to compare with</i>")
        i = prefixes.index(self.prefix) if self.prefix in prefixes else len(prefixes) - 1
        other = prefixes[i - 1] if i > 0 else prefixes[1]
        a, b = (other, self.prefix) if i > 0 else (self.prefix, other)
        return CheckpointDiff(a, b, choices=prefixes)

    def _build_rotation(self):
        from .simulator import RotationSimulator

        return RotationSimulator()

    # -- static fallback ----------------------------------------------------------------
    def to_html(self) -> str:
        from ..views.plots import index_anatomy

        return (f"<b>{html.escape(self.directory)}</b>" + _files_html(self.groups, self.prefix, self.latest)
                + png_html(index_anatomy(self._table_tree())) + self.reader._repr_html_())

    def close(self) -> None:
        for v in self._views.values():
            v.close()
        super().close()


def explore(path) -> Explorer:
    """Open the explorer on a checkpoint directory (its latest checkpoint) or a prefix.

    >>> ex = explore("tests/fixtures/tf/tf2_checkpoint")          # doctest: +SKIP
    >>> ex.selected = "model/encoder/kernel/.ATTRIBUTES/VARIABLE_VALUE"  # doctest: +SKIP
    >>> ex.tab = 2   # the Bytes tab, showing that tensor's bytes  # doctest: +SKIP
    """
    return Explorer(path)
