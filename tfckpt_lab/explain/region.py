"""Byte regions: a labelled tree over the bytes of one file.

A :class:`Region` is a half-open byte range ``[start, end)`` with a ``kind``
(what sort of thing it is: ``"varint"``, ``"entry"``, ``"block_trailer"``...),
a short ``label``, the decoded ``value``, a one-line ``explanation`` and its
``children``.  The leaves of a file's tree cover the file exactly, with no
gaps and no overlaps, so every byte has exactly one innermost explanation.

Children are built on first access (a 10,000-entry ``.index`` has a few
hundred thousand leaves; a view usually looks at a handful of them), with the
cyclic garbage collector paused while they are built (see :meth:`Region._load`).
"""

from __future__ import annotations

import bisect
import html
import json
from typing import Any, Callable, Iterator

from .._deprecation import renamed
from .._perf import paused_gc

__all__ = ["Region", "FileRegion", "innermost_region", "region_path", "leaves", "leaves_between", "check_tiling",
           "short_value"]


class Region:
    """One labelled byte range of a file, with its sub-regions.

    Attributes:
        start, end: the byte range ``[start, end)`` in the file.
        kind: what sort of thing this is (``"entry"``, ``"varint"``, ``"tensor"``...).
        label: a short name for it (a key, a field name...).
        value: the decoded value (an int, a string, a dict...), or None.
        explanation: one line saying what these bytes mean.
        lowlevel: one level deeper, the low-level object these bytes were read as (a
            ``BlockHandle``, a ``BlockEntry``, a ``BundleEntry``, a protobuf field
            descriptor, the ``TableReader`` of a whole table...), or None
            (``record`` is an old name for it).
        parent: the enclosing region (None for a file's root).
    """

    __slots__ = ("start", "end", "kind", "label", "value", "explanation", "lowlevel", "parent",
                 "_children", "_loader", "_starts")

    def __init__(self, start: int, end: int, kind: str, label: str = "", value: Any = None,
                 explanation: str = "", *, children: list["Region"] | None = None,
                 loader: Callable[["Region"], list["Region"]] | None = None, lowlevel: Any = None):
        self.start = start
        self.end = end
        self.kind = kind
        self.label = label
        self.value = value
        self.explanation = explanation
        self.lowlevel = lowlevel
        self.parent = None
        self._loader = loader
        self._starts = None
        self._children = None
        if children is not None:
            self._set_children(children)
        elif loader is None:
            self._children = []

    record = renamed("record", "lowlevel")

    # -- the tree -------------------------------------------------------------
    def _set_children(self, children: list["Region"]) -> None:
        for c in children:
            c.parent = self
        self._children = children

    @property
    def children(self) -> list["Region"]:
        """Sub-regions in byte order (built on first access)."""
        if self._children is None:
            kids = self._load()
            self._loader = None
            self._set_children(kids)
        return self._children

    def _load(self) -> list["Region"]:
        """Run the loader (or return no children), with the cyclic garbage collector paused.

        Opening one data block of a 100,000-entry ``.index`` builds ~7,000 entry
        regions, their records and strings; opening them all builds a few hundred
        thousand objects. The collector's scans while they are built cost twice the
        building itself, and in a process that has imported TensorFlow a full
        collection walks TensorFlow's objects too (benchmarks/run.py, layout row:
        0.97 s with the collector running, 0.46 s paused). The regions are freed
        as usual afterwards (parent links make cycles, which the collector
        collects once it runs again).
        """
        if self._loader is None:
            return []
        with paused_gc():
            return self._loader(self)

    @property
    def is_leaf(self) -> bool:
        return not self.children

    @property
    def size(self) -> int:
        return self.end - self.start

    def child_at(self, offset: int) -> "Region | None":
        """The direct child containing byte ``offset``, or None."""
        kids = self.children
        if self._starts is None or len(self._starts) != len(kids):
            self._starts = [c.start for c in kids]
        i = bisect.bisect_right(self._starts, offset) - 1
        if i >= 0 and kids[i].start <= offset < kids[i].end:
            return kids[i]
        return None

    def walk(self) -> Iterator["Region"]:
        """This region and every descendant, depth first, in byte order."""
        stack = [self]
        while stack:
            r = stack.pop()
            yield r
            stack.extend(reversed(r.children))

    def leaves(self) -> Iterator["Region"]:
        """The innermost regions, in byte order."""
        return (r for r in self.walk() if not r.children)

    def find(self, kind: str | None = None, label: str | None = None) -> "Region | None":
        """The first region (depth first) with this kind and/or label."""
        for r in self.walk():
            if (kind is None or r.kind == kind) and (label is None or r.label == label):
                return r
        return None

    def lineage(self) -> list["Region"]:
        """The chain of regions from the root down to this one."""
        out = []
        r = self
        while r is not None:
            out.append(r)
            r = r.parent
        return out[::-1]

    @property
    def root(self) -> "Region":
        r = self
        while r.parent is not None:
            r = r.parent
        return r

    # -- output ---------------------------------------------------------------
    def describe(self) -> str:
        """``[start, end) kind label = value -- explanation`` on one line."""
        v = "" if self.value is None else f" = {short_value(self.value)}"
        e = f" -- {self.explanation}" if self.explanation else ""
        return f"[{self.start}, {self.end}) {self.kind} {self.label}{v}{e}"

    def to_dict(self, max_depth: int | None = None) -> dict:
        """A JSON-ready dict: start, end, kind, label, value, explanation, children."""
        d = {"start": self.start, "end": self.end, "kind": self.kind, "label": self.label,
             "value": _jsonable(self.value), "explanation": self.explanation}
        if max_depth is None or max_depth > 0:
            d["children"] = [c.to_dict(None if max_depth is None else max_depth - 1) for c in self.children]
        else:
            d["children"] = []
            d["truncated"] = bool(self.children)
        return d

    def iter_json(self, max_depth: int | None = None) -> Iterator[str]:
        """:meth:`to_dict` as JSON text, piece by piece, in bounded memory (what ``layout --json`` prints).

        Children not built yet are built for the walk and let go after it, so a
        tree of millions of regions is written holding only the path from the
        root to the current region (and each ancestor's list of children).

        >>> root = Region(0, 2, "file", children=[Region(0, 2, "x", "a", b"\\x00")])
        >>> "".join(root.iter_json()) == json.dumps(root.to_dict())
        True
        """
        text = json.encoder.encode_basestring_ascii  # what json.dumps does to a str, without its overhead

        def value(v) -> str:
            t = type(v)
            if t is int:
                return str(v)
            if t is str:
                return text(v)
            return "null" if v is None else json.dumps(_jsonable(v))

        def open_(r: Region, depth):
            head = (f'{{"start": {r.start}, "end": {r.end}, "kind": {text(r.kind)}, "label": {text(r.label)}, '
                    f'"value": {value(r.value)}, "explanation": {text(r.explanation)}, "children": [')
            kids = r._children if r._children is not None else r._load()
            if depth is None or depth > 0:
                return head, iter(kids), None if depth is None else depth - 1
            return head + f'], "truncated": {"true" if kids else "false"}}}', None, None

        head, kids, depth = open_(self, max_depth)
        if kids is None:
            yield head
            return
        out = [head]  # pieces are handed out a few thousand at a time
        stack = [[kids, depth, False]]
        while stack:
            with paused_gc():  # one batch built with the collector paused (see _load); it may run between batches
                while stack and len(out) <= 4096:
                    top = stack[-1]
                    child = next(top[0], None)
                    if child is None:
                        stack.pop()
                        out.append("]}")
                        continue
                    if top[2]:
                        out.append(", ")
                    top[2] = True
                    head, kids, depth = open_(child, top[1])
                    out.append(head)
                    if kids is not None:
                        stack.append([kids, depth, False])
            yield "".join(out)
            out = []

    def format_tree(self, max_depth: int = 2, max_children: int = 20, _indent: str = "") -> str:
        """An indented text outline (what ``tfckpt-lab layout`` prints)."""
        lines = [_indent + self.describe()]
        if max_depth > 0:
            kids = self.children
            for c in kids[:max_children]:
                lines.append(c.format_tree(max_depth - 1, max_children, _indent + "  "))
            if len(kids) > max_children:
                lines.append(f"{_indent}  ... {len(kids) - max_children} more")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Region {self.describe()}>"

    def _repr_html_(self) -> str:
        kids = self.children
        rows = "".join(
            f"<tr><td>{c.start}</td><td>{c.end}</td><td>{html.escape(c.kind)}</td>"
            f"<td><code>{html.escape(c.label)}</code></td><td>{html.escape(short_value(c.value))}</td>"
            f"<td>{html.escape(c.explanation)}</td></tr>" for c in kids[:100])
        more = f"<tr><td colspan=6>... {len(kids) - 100} more</td></tr>" if len(kids) > 100 else ""
        return (f"<b>{html.escape(self.kind)}</b> <code>{html.escape(self.label)}</code> "
                f"bytes [{self.start}, {self.end}) ({self.size} bytes): {html.escape(self.explanation)}"
                + (f"<table><tr><th>start</th><th>end</th><th>kind</th><th>label</th><th>value</th>"
                   f"<th>meaning</th></tr>{rows}{more}</table>" if kids else ""))


_KEEP_WHOLE = 256 << 10  # files up to this size are read once by FileRegion.read; bigger: by range


class FileRegion(Region):
    """The root of a file's tree: a :class:`Region` that also knows its file.

    Attributes:
        path: the file.
        file_kind: ``"index"``, ``"data"``, ``"meta"``, ``"state"`` or ``"unknown"``.
    """

    __slots__ = ("path", "file_kind", "_data")

    def __init__(self, path: str, file_kind: str, size: int, **kw):
        import os

        super().__init__(0, size, "file", kw.pop("label", os.path.basename(path)), **kw)
        self.path = path
        self.file_kind = file_kind
        self._data = None

    def read(self, start: int = 0, end: int | None = None) -> bytes:
        """The file's raw bytes ``[start, end)``, cut to the file like a slice.

        A small file is read once and kept; a big one only in the range asked for (a ranged
        read, also at a URL), so a window of a 10 GB shard costs the window.
        """
        if self._data is not None:
            return self._data[start:end]
        from ..fileio import open_random_access

        with open_random_access(self.path) as f:
            if f.size <= _KEEP_WHOLE:
                self._data = f.pread(0, f.size)
                return self._data[start:end]
            start, end, _ = slice(start, end).indices(f.size)
            return f.pread(start, end - start) if end > start else b""

    def find_tensor(self, name: str) -> "Region | None":
        """The region of tensor (or index entry) ``name``, without expanding the whole tree."""
        for r in self.walk_shallow(("tensor", "entry")):
            if r.label == name:
                return r
        return None

    def walk_shallow(self, kinds) -> Iterator[Region]:
        """Regions of the given kinds, not descending into them."""
        stack = [self]
        while stack:
            r = stack.pop()
            if r.kind in kinds:
                yield r
                continue
            stack.extend(reversed(r.children))


def innermost_region(tree: Region, offset: int) -> Region | None:
    """The deepest region of ``tree`` containing byte ``offset`` (None if outside it).

    >>> root = Region(0, 4, "file", children=[Region(0, 1, "a"), Region(1, 4, "b")])
    >>> innermost_region(root, 2).kind
    'b'
    """
    if not tree.start <= offset < tree.end:
        return None
    r = tree
    while True:
        c = r.child_at(offset)
        if c is None:
            return r
        r = c


def region_path(tree: Region, offset: int) -> list[Region]:
    """Every region containing ``offset``, outermost first."""
    r = innermost_region(tree, offset)
    return [] if r is None else r.lineage()


def leaves(tree: Region) -> Iterator[Region]:
    return tree.leaves()


def leaves_between(tree: Region, start: int, end: int) -> list[Region]:
    """The leaves overlapping ``[start, end)``, in byte order, expanding only what overlaps.

    >>> root = Region(0, 6, "file", children=[Region(0, 2, "a"), Region(2, 4, "b"), Region(4, 6, "c")])
    >>> [r.kind for r in leaves_between(root, 3, 5)]
    ['b', 'c']
    """
    out: list[Region] = []
    stack = [tree]
    while stack:
        r = stack.pop()
        if r.end <= start or r.start >= end:
            continue
        kids = r.children
        if not kids:
            out.append(r)
            continue
        i = 0
        if len(kids) > 64:
            r.child_at(start)  # builds the cached start list
            i = bisect.bisect_right(r._starts, start) - 1
        sub = []
        for c in kids[max(i, 0):]:
            if c.start >= end:
                break
            if c.end > start:
                sub.append(c)
        stack.extend(reversed(sub))
    return out


def check_tiling(tree: Region) -> None:
    """Raise AssertionError unless every region's children tile it exactly (no gaps, no overlaps).

    Checked at every level, so the leaves tile the root.
    """
    stack = [tree]
    while stack:
        r = stack.pop()
        kids = r.children
        if not kids:
            continue
        pos = r.start
        for c in kids:
            if c.start != pos or c.end < c.start:
                raise AssertionError(f"{r.describe()}: child {c.describe()} starts at {c.start}, "
                                     f"expected {pos}")
            pos = c.end
        if pos != r.end:
            raise AssertionError(f"{r.describe()}: children end at {pos}, region at {r.end}")
        stack.extend(kids)


def short_value(value, limit: int = 60) -> str:
    """A region's value as at most ``limit`` characters of text (bytes as their repr), for display.

    >>> short_value(b"abc"), short_value("x" * 70, 10)
    ("b'abc'", 'xxxxxxx...')
    """
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray)):
        s = repr(bytes(value[:limit]))
        return s + ("..." if len(value) > limit else "")
    s = str(value)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _jsonable(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return {"hex": bytes(value).hex()}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


_short = short_value  # the old private name, kept for code written against it
