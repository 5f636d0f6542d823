"""The explorer: one widget for a checkpoint directory or prefix, with every view in a tab."""

from __future__ import annotations

import html
import os
import re

import ipywidgets as w
import traitlets as t

from ..views.palette import TABLE_OPEN, highlight_css
from ._common import WIDE_LABEL, StaticFallback, figure_image, png_html, set_figure, tab_widget
from ._status import ShowsErrors, describe_error, error_html

__all__ = ["explore", "Explorer", "group_files", "resolve_start", "TABS"]

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
    for name, size in _listing(directory):
        m = _FILE_RE.match(name)
        if not m:
            continue
        stem = m.group("prefix")
        g = groups.setdefault(stem, {"prefix": _join(directory, stem), "name": stem, "files": [],
                                     "size": 0, "complete": False})
        g["files"].append((name, size))
        g["size"] += size
        g["complete"] |= m.group("kind") == ".index"
        s = _STEP_RE.search(stem)
        g["step"] = int(s.group(1)) if s else None
    return sorted(groups.values(), key=lambda g: (g["step"] is None, g["step"] or 0, g["name"]))


def _listing(directory: str) -> list[tuple[str, int]]:
    """``[(name, size)]`` of the files in a local directory or a directory URL (see :mod:`tfckpt_lab.remote`)."""
    from ..remote import is_url, list_files

    if is_url(directory):
        return list_files(directory)
    return [(n, os.path.getsize(os.path.join(directory, n))) for n in sorted(os.listdir(directory))]


def _join(directory: str, name: str) -> str:
    from ..remote import is_url, join

    return join(directory, name) if is_url(directory) else os.path.join(directory, name)


def _isdir(path: str) -> bool:
    from ..remote import is_url, isdir

    return isdir(path) if is_url(path) else os.path.isdir(path)


def _dirname(prefix: str) -> str:
    from ..remote import dirname, is_url

    return dirname(prefix) if is_url(prefix) else (os.path.dirname(prefix) or ".")


def _files_html(groups, current: str, latest: str | None) -> str:
    rows = []
    for g in groups:
        mark = " ← latest" if _same_path(g["prefix"], latest) else ""
        style = f' style="{highlight_css()}"' if _same_path(g["prefix"], current) else ""
        files = "<br>".join(f"<code>{html.escape(n)}</code> {s:,} B" for n, s in g["files"])
        rows.append(f"<tr{style}><td><code>{html.escape(g['name'])}</code>{mark}</td>"
                    f"<td>{'' if g['step'] is None else g['step']}</td><td>{files}</td><td>{g['size']:,}</td></tr>")
    return (TABLE_OPEN + "<tr><th>checkpoint</th><th>step</th><th>files</th><th>bytes</th></tr>"
            + "".join(rows) + "</table>")


def _same_path(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and os.path.realpath(a) == os.path.realpath(b)


def resolve_start(path) -> tuple[str, str, str | None]:
    """``(directory, prefix to show first, latest)`` for a directory or a prefix, as absolute paths.

    Resolved once, the way :func:`~tfckpt_lab.latest_checkpoint` does: the state file's
    relative paths are joined onto the directory, its absolute paths (what a TF1
    ``saver.save(sess, "/abs/...")`` writes) are taken as they are, so a directory given
    as a relative path still finds the checkpoint its state file names.
    """
    from ..checkpoint.reader import resolve_prefix
    from ..checkpoint.state import latest_checkpoint

    path = os.fspath(path)
    remote = "://" in path
    absolute = (lambda p: p) if remote else os.path.abspath
    if _isdir(path):
        directory = path.rstrip("/") if remote else os.path.abspath(path)
        latest = latest_checkpoint(directory)
        start = latest
    else:
        start = absolute(resolve_prefix(path))
        directory = _dirname(start)
        latest = latest_checkpoint(directory)
    latest = os.path.normpath(absolute(latest)) if latest and not remote else latest
    if start is None:
        groups = [g for g in group_files(directory) if g["complete"]]
        if not groups:
            from ..errors import CheckpointNotFoundError

            raise CheckpointNotFoundError("no checkpoint (.index file) in this directory", path=path)
        start = groups[-1]["prefix"]
    return directory, (start if remote else os.path.normpath(start)), latest


class Explorer(StaticFallback, ShowsErrors, w.VBox):
    """Everything about one checkpoint (and its neighbours in the directory), in tabs.

    Traits (state): ``prefix`` (the checkpoint shown, an absolute path), ``selected``
    (a tensor name, shared by every tab: the table, the bytes, the shard map, the
    values), ``tab`` (index into :data:`TABS`), ``error`` (why the last action was
    refused, e.g. a checkpoint that cannot be opened; shown in place).  Tabs are built
    the first time they are shown; switching checkpoints rebuilds them and stays on the
    tab you were on.  ``view(name)`` returns a tab's widget (building it if needed).
    """

    prefix = t.Unicode("")
    selected = t.Unicode("")
    tab = t.Int(0)

    def __init__(self, path, **kwargs):
        from ..checkpoint.reader import load_checkpoint

        self.directory, start, self.latest = resolve_start(path)
        self.groups = [g for g in group_files(self.directory) if g["complete"]]
        self._pick = w.Dropdown(options=[(g["name"], g["prefix"]) for g in self.groups], description="checkpoint",
                                layout=w.Layout(width="420px"), style=WIDE_LABEL)
        start = self._option_for(start)
        self.reader = load_checkpoint(start, verify=False)
        self._trees = None
        self._views: dict[str, w.Widget] = {}
        self._reverting = False
        self._pick.value = start
        # one page per tab, made once: a tab's content changes inside its page, so the Tab
        # widget itself never changes and the browser keeps the tab that is open
        self._pages = [w.VBox() for _ in TABS]
        self._tabs = tab_widget(self._pages, TABS)
        super().__init__(**kwargs)
        self.prefix = start
        self.children = [self._pick, self._init_error_line(), self._tabs]
        w.link((self._pick, "value"), (self, "prefix"))
        w.link((self._tabs, "selected_index"), (self, "tab"))
        self.observe(self._on_prefix, "prefix")
        self.observe(lambda _: self._show(TABS[self.tab]), "tab")
        self.observe(self._on_selected, "selected")
        self._show(TABS[self.tab])

    # -- state -------------------------------------------------------------------------
    def _option_for(self, prefix: str) -> str:
        """The dropdown's value for checkpoint ``prefix`` (added to the list if it is not there yet)."""
        values = [v for _, v in self._pick.options]
        same = [v for v in values if _same_path(v, prefix)]
        if same:
            return same[0]
        label = os.path.basename(prefix) if _same_path(os.path.dirname(prefix), self.directory) else prefix
        self._pick.options = [*self._pick.options, (label, prefix)]  # a checkpoint not grouped here (V1...)
        return prefix

    @t.validate("tab")
    def _valid_tab(self, proposal) -> int:
        if not 0 <= proposal["value"] < len(TABS):
            raise t.TraitError(f"tab must be 0 to {len(TABS) - 1} ({', '.join(TABS)}), not {proposal['value']}")
        return proposal["value"]

    @t.validate("prefix")
    def _valid_prefix(self, proposal) -> str:
        from ..checkpoint.reader import resolve_prefix

        value = proposal["value"]
        if not value:
            return value
        prefix = os.path.normpath(os.path.abspath(resolve_prefix(value)))
        if not any(_same_path(v, prefix) for _, v in self._pick.options):
            from ..checkpoint.reader import load_checkpoint

            try:  # a checkpoint from elsewhere joins the list only if it opens
                load_checkpoint(prefix, verify=False).close()
            except Exception as exc:
                raise t.TraitError(f"cannot open {value}: {describe_error(exc)}") from None
        return self._option_for(prefix)

    def _on_prefix(self, change) -> None:
        if self._reverting:
            return
        from ..checkpoint.reader import load_checkpoint

        try:
            reader = load_checkpoint(change["new"], verify=False)
        except Exception as exc:  # refused: say why, and stay on the checkpoint shown
            self.error = f"cannot open {os.path.basename(change['new'])}: {describe_error(exc)}"
            self._reverting = True
            try:
                self.prefix = change["old"]
            finally:
                self._reverting = False
            return
        self.error = ""
        old = self.reader
        self.reader = reader
        self._trees = None
        for v in self._views.values():
            v.close()
        self._views = {}
        for page in self._pages:
            page.children = []
        old.close()
        if self.selected and not reader.has_tensor(self.selected):
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
        """The widget of tab ``name`` (one of :data:`TABS`), built on first use.

        A tab that cannot be built (a damaged file, say) shows why, in words, instead.
        """
        if name not in self._views:
            try:
                v = getattr(self, "_build_" + name.lower().replace(" ", "_"))()
            except Exception as exc:
                v = w.HTML(error_html(f"the {name} tab cannot show this checkpoint: {describe_error(exc)}"))
            self._views[name] = v
            self._pages[TABS.index(name)].children = [v]
        return self._views[name]

    def _show(self, name: str) -> None:
        self.view(name)

    def _on_selected(self, change) -> None:
        name = change["new"]
        for key in ("Entries", "Shard map"):
            v = self._views.get(key)
            if v is not None and getattr(v, "selected", name) != name:
                v.selected = name
        hv = self._hexview()
        if hv is not None and name and hv.tensor != name:  # a byte picked inside it stays picked
            self._bytes_follow(hv, name)
        if "Values" in self._views:
            self._render_values()

    def _bytes_follow(self, hv, name: str) -> None:
        """Show tensor ``name`` in the Bytes tab: in the .index, or in the data shard that holds its bytes."""
        kind = getattr(hv.tree, "file_kind", "")
        if kind == "data" and hv.tree.find_tensor(name) is None:
            shard = next((p for p, tr in self.trees.items()
                          if tr.file_kind == "data" and tr.find_tensor(name) is not None), None)
            if shard is not None:
                self._views["Bytes"].children[0].value = shard  # the file picker: it opens that shard
                return
        if kind in ("index", "data"):  # (a .meta or state file has no tensors to show)
            hv.find(name)

    def _hexview(self):
        box = self._views.get("Bytes")
        hv = box.children[1] if box is not None and len(getattr(box, "children", ())) > 1 else None
        return hv if hasattr(hv, "find") else None

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
        from ..remote import path_exists

        state = _join(self.directory, "checkpoint")
        if path_exists(state):
            paths.append(state)
        pick = w.Dropdown(options=[(os.path.basename(p), p) for p in paths], description="file",
                          layout=w.Layout(width="420px"))

        def hexview(source):
            try:
                hv = HexView(source)
            except Exception as exc:  # a file the region model cannot lay out: say so, in place
                name = os.path.basename(getattr(source, "path", source))
                return w.HTML(error_html(f"{name} cannot be shown: {describe_error(exc)}"))
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
            hv = self._hexview()
            if self.selected and hv is not None:
                hv.find(self.selected)

        pick.observe(switch, "value")
        hv = box.children[1]
        if self.selected and hasattr(hv, "find"):
            hv.find(self.selected)
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

    def _render_values(self, *, scan: bool = False) -> None:
        from ..checkpoint.summary import summarize_tensor
        from ..views.plots import tensor_values
        from ..views.summary import summary_figure, summary_html

        name = self.selected
        if not name:
            self._values_box.children = [w.HTML("<i>select a tensor (Entries or Shard map tab)</i>")]
            return
        try:
            e = self.reader.entry(name)
            summary = summarize_tensor(self.reader, name, scan=scan)
        except Exception as exc:
            self._values_box.children = [w.HTML(f"<code>{html.escape(name)}</code>:"),
                                         w.HTML(error_html(describe_error(exc)))]
            return
        where = ("partitioned: stored in pieces" if e.slices else
                 f"shard {e.shard_id}, bytes [{e.offset}, {e.offset + e.size})" if e.offset is not None else "")
        info = w.HTML(f"<code>{html.escape(name)}</code>: {e.dtype_name} {list(e.shape)}, {where}")
        kids = [info]
        if summary.method == "whole":
            fig = tensor_values(summary.value, name)
        else:
            fig = summary_figure(summary)
            kids.append(w.HTML(summary_html(summary)))
            if summary.method == "sample":
                scan_all = w.Button(description=f"scan all {summary.nbytes / 2**20:,.0f} MiB",
                                    tooltip="read every element, streamed: exact statistics and the checksum",
                                    layout=w.Layout(width="auto"))
                scan_all.on_click(lambda _: self._render_values(scan=True))
                kids.append(scan_all)
        old = self._values_box.children[-1]
        if isinstance(old, w.Image):
            set_figure(old, fig)
            img = old
        else:
            img = figure_image(fig)
        self._values_box.children = kids + [img]

    def _build_checksum_lab(self):
        from .checksum import ChecksumLab

        return ChecksumLab(self.prefix)

    def _build_diff(self):
        from .diff import CheckpointDiff

        prefixes = [g["prefix"] for g in self.groups]
        if self.prefix not in prefixes:
            prefixes.append(self.prefix)
        if len(prefixes) >= 2:
            i = prefixes.index(self.prefix)
            other = prefixes[i - 1] if i > 0 else prefixes[1]
            a, b = (other, self.prefix) if i > 0 else (self.prefix, other)
            return CheckpointDiff(a, b, choices=prefixes)
        # one checkpoint here: compare with one from elsewhere
        other = w.Text(placeholder="another checkpoint: a prefix or a directory", continuous_update=False,
                       layout=w.Layout(width="420px"))
        box = w.VBox([w.HTML(f"<i>{html.escape(os.path.basename(self.prefix))} is the only checkpoint in "
                             "this directory. Type another one (a prefix, or a directory for its latest) to "
                             "compare it with:</i>"), other, w.HTML()])

        def compare(change):
            path = change["new"].strip()
            if not path:
                return
            try:
                from ..checkpoint.reader import resolve_prefix

                diff = CheckpointDiff(os.path.abspath(resolve_prefix(path)), self.prefix)
            except Exception as exc:
                box.children = [*box.children[:2], w.HTML(error_html(describe_error(exc)))]
                return
            old = box.children[2]
            box.children = [*box.children[:2], diff]
            old.close()

        other.observe(compare, "value")
        return box

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
        self.reader.close()
        super().close()


def explore(path) -> Explorer:
    """Open the explorer on a checkpoint directory (its latest checkpoint) or a prefix.

    >>> ex = explore("tests/fixtures/tf/tf2_checkpoint")          # doctest: +SKIP
    >>> ex.selected = "model/encoder/kernel/.ATTRIBUTES/VARIABLE_VALUE"  # doctest: +SKIP
    >>> ex.tab = 2   # the Bytes tab, showing that tensor's bytes  # doctest: +SKIP
    """
    return Explorer(path)
