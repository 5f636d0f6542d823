"""Read the object graph of a TF2 checkpoint (``tf.train.Checkpoint``).

A TF2 checkpoint stores, beside the values, one extra tensor::

    _CHECKPOINTABLE_OBJECT_GRAPH   DT_STRING scalar = a serialized TrackableObjectGraph

    TrackableObjectGraph
      nodes: TrackableObject          node 0 is the root (the tf.train.Checkpoint);
                                      ids are positions in this list, in breadth-first order
        children: ObjectReference         (node_id, local_name): an edge to another node
        attributes: SerializedTensor      (name, full_name, checkpoint_key): a value this
                                          object saved, e.g. VARIABLE_VALUE of a variable
        slot_variables: SlotVariableReference   on an optimizer: (original_variable_node_id,
                                          slot_name, slot_variable_node_id)
        registered_saver: RegisteredSaver     (name, object_name): saved by a registered saver
        has_checkpoint_values: BoolValue  does this node or a descendant hold a value?

A value's checkpoint key is the path of escaped local names from the root, then
``/.ATTRIBUTES/`` and the attribute name.  Escaping (TensorFlow's rule): every
``.`` in a local name becomes ``..``, then every ``/`` becomes ``.S``; so
``weird.name/x`` is the path element ``weird..name.Sx``.  A slot variable
(e.g. Adam's ``m``) has no path of its own; its key is
``<variable path>/.OPTIMIZER_SLOT/<optimizer path>/<slot name>/.ATTRIBUTES/VARIABLE_VALUE``.
Paths in this module are such escaped paths, so ``key == path + "/.ATTRIBUTES/" + name``.
"""

from __future__ import annotations

import bisect
import re
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from .._deprecation import renamed
from ..errors import MalformedError, TensorNotFoundError
from ..protos import trackable_object_graph_pb2

__all__ = [
    "read_object_graph", "parse_object_graph", "ObjectGraph", "ObjectNode", "Attribute", "SlotVariable",
    "OBJECT_GRAPH_KEY", "escape_local_name", "unescape_local_name",
]

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
ATTRIBUTES = ".ATTRIBUTES"
OPTIMIZER_SLOT = ".OPTIMIZER_SLOT"
VARIABLE_VALUE = "VARIABLE_VALUE"


def escape_local_name(name: str) -> str:
    """A local name as it appears in a checkpoint key: ``.`` -> ``..``, then ``/`` -> ``.S``.

    >>> escape_local_name("weird.name/with slash")
    'weird..name.Swith slash'
    """
    if "." not in name and "/" not in name:
        return name
    return name.replace(".", "..").replace("/", ".S")


def unescape_local_name(escaped: str) -> str:
    """Undo :func:`escape_local_name`.

    >>> unescape_local_name("dots....and.S.Sslashes")
    'dots..and//slashes'
    """
    out, i = [], 0
    while i < len(escaped):
        c = escaped[i]
        if c == "." and i + 1 < len(escaped) and escaped[i + 1] in ".S":
            out.append("." if escaped[i + 1] == "." else "/")
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


@dataclass
class Attribute:
    """A value an object saved: ``name`` (``VARIABLE_VALUE``), ``full_name``, ``checkpoint_key``."""

    name: str
    full_name: str
    checkpoint_key: str


@dataclass
class SlotVariable:
    """Optimizer ``slot_name`` (``m``, ``v``, ``momentum``...) for one variable, kept in another node."""

    original_variable_node_id: int
    slot_name: str
    slot_variable_node_id: int


#: Paths longer than this many characters are not spelled out (``path`` is None, listings say
#: ``(node N)``): a 40,000-deep chain of one-letter names has 80,000-character paths, far below it,
#: while slot variables of slot variables could otherwise double their path at every level.
MAX_PATH_CHARS = 2**20
#: Path strings kept for later siblings while walking all paths (beyond, they are re-joined).
_KEPT_PATH_CHARS = 2**24
#: ``tree()`` indents this many levels; deeper lines carry a ``[depth N]`` mark instead of the indent.
TREE_INDENT_LEVELS = 40
#: ``tree()`` spells out a referenced path only up to this length; longer ones appear as ``(node N)``.
TREE_PATH_CHARS = 256
#: A notebook shows at most this many lines of the tree (``print(graph.tree())`` shows them all).
HTML_TREE_LINES = 2000

_NO_PARENT = -1


class ObjectNode:
    """One object of the graph: a light view of ``graph.lowlevel.nodes[id]`` (made on demand, never stored).

    ``children`` maps local names (unescaped, as TensorFlow's Python attribute or
    dict key) to node ids, in stored order.  ``path`` is the escaped path from the
    root (``""`` for the root), or ``None`` if no path reaches the node (or it would be
    longer than :data:`MAX_PATH_CHARS`).  ``parent`` is ``(node, local name)`` of the edge
    that gives the path; ``slot_of`` is ``(variable node, optimizer node, slot name)``.
    Both are computed each time they are asked for, in time proportional to the path.
    """

    __slots__ = ("graph", "id")

    def __init__(self, graph: "ObjectGraph", id: int):
        self.graph = graph
        self.id = id

    @property
    def lowlevel(self) -> trackable_object_graph_pb2.TrackableObjectGraph.TrackableObject:
        """One level deeper: this node's ``TrackableObject`` message (``graph.lowlevel.nodes[id]``)."""
        return self.graph.lowlevel.nodes[self.id]

    proto = renamed("proto", "lowlevel")

    @property
    def children(self) -> dict[str, int]:
        return {ref.local_name: ref.node_id for ref in self.lowlevel.children}

    @property
    def attributes(self) -> list[Attribute]:
        return [Attribute(a.name, a.full_name, a.checkpoint_key) for a in self.lowlevel.attributes]

    @property
    def slot_variables(self) -> list[SlotVariable]:
        return [SlotVariable(s.original_variable_node_id, s.slot_name, s.slot_variable_node_id)
                for s in self.lowlevel.slot_variables]

    @property
    def path(self) -> str | None:
        return self.graph._path(self.id)

    @property
    def parent(self) -> tuple[int, str] | None:
        return self.graph._parent_edge(self.id)

    @property
    def slot_of(self) -> tuple[int, int, str] | None:
        return self.graph._slot_of(self.id)

    @property
    def has_checkpoint_values(self) -> bool | None:
        """The stored flag, or None when the writer did not set it (older TensorFlow)."""
        proto = self.lowlevel
        return proto.has_checkpoint_values.value if proto.HasField("has_checkpoint_values") else None

    @property
    def registered_saver(self) -> str | None:
        proto = self.lowlevel
        return proto.registered_saver.name if proto.HasField("registered_saver") else None

    @property
    def is_variable(self) -> bool:
        return any(a.name == VARIABLE_VALUE for a in self.lowlevel.attributes)

    def __eq__(self, other) -> bool:
        return isinstance(other, ObjectNode) and other.graph is self.graph and other.id == self.id

    def __hash__(self) -> int:
        return hash((id(self.graph), self.id))

    def __repr__(self) -> str:
        return f"ObjectNode(id={self.id}, path={self.path!r}, children={len(self.lowlevel.children)})"


class _Nodes(Sequence):
    """``graph.nodes``: every node as an :class:`ObjectNode` view, by id."""

    __slots__ = ("_graph",)

    def __init__(self, graph: "ObjectGraph"):
        self._graph = graph

    def __len__(self) -> int:
        return self._graph._n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [ObjectNode(self._graph, j) for j in range(*i.indices(len(self)))]
        n = len(self)
        j = i + n if i < 0 else i
        if not 0 <= j < n:
            raise IndexError(f"node {i} out of range ({n} nodes)")
        return ObjectNode(self._graph, j)

    def __iter__(self):
        return (ObjectNode(self._graph, j) for j in range(len(self)))


class ObjectGraph:
    """The decoded object graph of a TF2 checkpoint.

    ``lowlevel`` is one level deeper: the ``TrackableObjectGraph`` message itself (``proto`` is
    an old name for it); ``reader`` is the :class:`~tfckpt_lab.CheckpointReader` it was read
    through, if any.

    Every walk is iterative and linear: a graph of 10**6 nodes or a chain 40,000 deep is
    opened with a few arrays of integers per node (paths are spelled out only when asked
    for, in time proportional to their length), never with one Python object per node.

    >>> import tempfile, os, numpy as np
    >>> from tfckpt_lab import write_object_checkpoint
    >>> prefix = os.path.join(tempfile.mkdtemp(), "ckpt-1")
    >>> _ = write_object_checkpoint(prefix, {"model": {"dense": {"kernel": np.ones((2, 3), np.float32)}}})
    >>> g = read_object_graph(prefix)
    >>> g.root.children, g.key("model/dense/kernel")
    ({'model': 1, 'save_counter': 2}, 'model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE')
    >>> g.get_tensor("model/dense/kernel").shape
    (2, 3)
    """

    def __init__(self, proto: trackable_object_graph_pb2.TrackableObjectGraph, *, prefix: str | None = None,
                 reader=None):
        self.lowlevel = proto
        self.prefix = prefix
        self.reader = reader
        self.nodes = _Nodes(self)
        self._stored = None
        self._empty_starts = None
        self._index(proto)

    proto = renamed("proto", "lowlevel")

    # -- structure (one linear pass over the proto, one breadth-first walk) ----------------
    def _index(self, proto) -> None:
        n = self._n = len(proto.nodes)
        offsets = array("q", [0])  # the children of node i are edges offsets[i]:offsets[i + 1]
        child = array("q")
        name_chars = array("q")  # characters of each edge's escaped local name
        optimizers = array("q")  # nodes with slot_variables, in id order
        has_values = self._has_values = bytearray(n)  # 1 where the node has attributes
        has_slots = self._has_slots = bytearray(n)  # 1 where it has slot_variables
        for i, obj in enumerate(proto.nodes):
            refs = obj.children
            if refs:
                for ref in refs:
                    c, local = ref.node_id, ref.local_name
                    if not 0 <= c < n:
                        raise MalformedError(f"object graph node {i}: child {local!r} points to node {c}, "
                                             f"but there are {n} nodes", path=self.prefix)
                    child.append(c)
                    name_chars.append(len(local) + local.count(".") + local.count("/"))
            offsets.append(len(child))
            if obj.attributes:
                has_values[i] = 1
            if obj.slot_variables:
                has_slots[i] = 1
                optimizers.append(i)
                for s in obj.slot_variables:
                    for nid in (s.original_variable_node_id, s.slot_variable_node_id):
                        if not 0 <= nid < n:
                            raise MalformedError(f"object graph node {i}: slot {s.slot_name!r} points to node "
                                                 f"{nid}, but there are {n} nodes", path=self.prefix)
        self._offsets, self._child = offsets, child
        # Breadth first from the root: the first edge that reaches a node gives its path, as in
        # TensorFlow.  plen = the path's length in characters (-1: no path), capped at MAX + 1.
        cap = MAX_PATH_CHARS + 1
        plen = array("q", [-1]) * n
        parent_edge = array("q", [_NO_PARENT]) * n
        order = array("q")
        if n:
            plen[0] = 0
            order.append(0)
        head = 0
        while head < len(order):
            u = order[head]
            head += 1
            base = plen[u]
            sep = 1 if base else 0
            for e in range(offsets[u], offsets[u + 1]):
                c = child[e]
                if plen[c] == -1:
                    length = base + sep + name_chars[e]
                    plen[c] = length if length < cap else cap
                    parent_edge[c] = e
                    order.append(c)
        del order, name_chars
        # Slot variables without a path of their own are named through the variable and the
        # optimizer, in node order (the last reference gives slot_of, the first usable one the path).
        # Each reference is (optimizer node << 32) | index in its slot_variables; -1 for none.
        self._slot_of_ref = self._slot_path_ref = None
        if optimizers:
            slot_of = self._slot_of_ref = array("q", [-1]) * n
            slot_path = self._slot_path_ref = array("q", [-1]) * n
            for o in optimizers:
                for k, s in enumerate(proto.nodes[o].slot_variables):
                    slot, var = s.slot_variable_node_id, s.original_variable_node_id
                    slot_of[slot] = o << 32 | k
                    if plen[slot] == -1 and plen[var] != -1 and plen[o] != -1:
                        escaped = escape_local_name(s.slot_name)
                        plen[slot] = min(plen[var] + plen[o] + len(OPTIMIZER_SLOT) + 3 + len(escaped), cap)
                        slot_path[slot] = o << 32 | k
        self._plen, self._parent_edge_of = plen, parent_edge

    def _edge_parent(self, e: int) -> int:
        """The node whose children include edge ``e``."""
        return bisect.bisect_right(self._offsets, e) - 1

    def _has_path(self, i: int) -> bool:
        return 0 <= self._plen[i] <= MAX_PATH_CHARS

    def _parent_edge(self, i: int) -> tuple[int, str] | None:
        e = self._parent_edge_of[i]
        if e == _NO_PARENT:
            return None
        p = self._edge_parent(e)
        return p, self.lowlevel.nodes[p].children[e - self._offsets[p]].local_name

    def _slot_ref(self, refs, i: int):
        """``(optimizer node, its SlotVariableReference)`` stored in ``refs`` for node ``i``, or None."""
        ref = -1 if refs is None else refs[i]
        if ref < 0:
            return None
        o = ref >> 32
        return o, self.lowlevel.nodes[o].slot_variables[ref & 0xFFFFFFFF]

    def _slot_of(self, i: int) -> tuple[int, int, str] | None:
        found = self._slot_ref(self._slot_of_ref, i)
        if found is None:
            return None
        o, s = found
        return s.original_variable_node_id, o, s.slot_name

    def _tree_parts(self, i: int, out: list) -> None:
        """Append the escaped elements of tree node ``i``'s path to ``out``, '/'-joined."""
        parts = []
        while self._plen[i] > 0:  # an empty path (the root, or empty names below it) adds nothing
            e = self._parent_edge_of[i]
            p = self._edge_parent(e)
            parts.append(escape_local_name(self.lowlevel.nodes[p].children[e - self._offsets[p]].local_name))
            i = p
        out.append("/".join(reversed(parts)))

    def _path(self, i: int) -> str | None:
        """The path of node ``i``, built in time proportional to its length (or None)."""
        if not self._has_path(i):
            return None
        out: list[str] = []
        todo = [i]  # a slot's path is <variable path>/.OPTIMIZER_SLOT/<optimizer path>/<slot name>
        while todo:
            x = todo.pop()
            if isinstance(x, str):
                out.append(x)
                continue
            found = self._slot_ref(self._slot_path_ref, x)
            if found is None:
                self._tree_parts(x, out)
            else:
                o, s = found
                todo += [f"/{escape_local_name(s.slot_name)}", o, f"/{OPTIMIZER_SLOT}/",
                         s.original_variable_node_id]
        return "".join(out)

    def _iter_paths(self, with_attributes: bool) -> Iterator[tuple[int, str | None]]:
        """``(node, path or None)`` for every node (or every node with attributes).

        First the nodes the root's edges reach, depth first in stored order: a node's path is
        its parent's path string plus one name (built once; the parent's string is kept only
        while the parent has edges left and within :data:`_KEPT_PATH_CHARS`, else rebuilt from
        the stack of names).  Then, in id order, the nodes without such a path (slot
        variables, unreachable nodes).  Time is proportional to the paths' total length.
        """
        if not self._n:
            return
        nodes, plen, offsets, child, parent_edge = (self.lowlevel.nodes, self._plen, self._offsets, self._child,
                                                    self._parent_edge_of)
        has_values = self._has_values
        if not with_attributes or has_values[0]:
            yield 0, ""
        names: list[str] = []  # escaped names of the current path, leading empty ones left out
        kept = 0  # characters of the path strings the frames keep
        # a frame: [node, its children, next edge, len(names) at the node, its path string or None]
        stack = [[0, nodes[0].children, offsets[0], 0, ""]]
        while stack:
            frame = stack[-1]
            u, refs, e, depth, base = frame
            end = offsets[u + 1]
            if e == end:
                stack.pop()
                kept -= len(base) if base else 0
                continue
            frame[2] = e + 1
            c = child[e]
            if parent_edge[c] != e:
                continue
            del names[depth:]
            local = refs[e - offsets[u]].local_name
            path = None
            if plen[c] <= MAX_PATH_CHARS:
                if base is None:  # not kept: join it again from the names
                    base = "/".join(names)
                    if e + 1 < end and kept + len(base) <= _KEPT_PATH_CHARS:
                        frame[4] = base
                        kept += len(base)
                escaped = escape_local_name(local)
                path = f"{base}/{escaped}" if base else escaped
            else:
                escaped = escape_local_name(local)
            if e + 1 == end and frame[4]:  # u has no edges left: its string is not needed again
                kept -= len(frame[4])
                frame[4] = None
            if names or local:
                names.append(escaped)
            if not with_attributes or has_values[c]:
                yield c, path
            if offsets[c] < offsets[c + 1]:
                keep = path if path is not None and kept + len(path) <= _KEPT_PATH_CHARS else None
                kept += len(keep) if keep else 0
                stack.append([c, nodes[c].children, offsets[c], len(names), keep])
        for i in range(1, self._n):
            if parent_edge[i] == _NO_PARENT and (not with_attributes or has_values[i]):
                yield i, self._path(i)

    # -- lookups ------------------------------------------------------------------------
    @property
    def root(self) -> ObjectNode:
        return self.nodes[0]

    def paths(self) -> dict[str, int]:
        """escaped path -> node id, for every node a path reaches (depth first from the root)."""
        return {path: i for i, path in self._iter_paths(False) if path is not None}

    def _walk(self, elements: list[str], start: int) -> int | None:
        node = start
        for element in elements:
            name = unescape_local_name(element)
            found = None
            for ref in self.lowlevel.nodes[node].children:
                if ref.local_name == name:
                    found = ref.node_id  # the last edge of that name, as a dict of children has it
            if found is None:
                return None
            node = found
        return node

    def _starts(self) -> list[int]:
        """The nodes whose path is ``""``: the root, and those its edges named ``""`` lead to (a
        path leaves leading empty names out, so its walk may begin at any of them)."""
        if self._empty_starts is None:
            found, todo = {0: None}, [0]
            while todo:
                u = todo.pop()
                for ref in self.lowlevel.nodes[u].children:
                    if ref.local_name == "" and ref.node_id not in found:
                        found[ref.node_id] = None
                        todo.append(ref.node_id)
            self._empty_starts = list(found)
        return self._empty_starts

    def _walk_from(self, elements: list[str], starts: list[int] | None) -> list[int]:
        """Every node ``elements`` reach from a start (the path ``""`` can begin at several)."""
        if elements == [""]:  # the path "" inside a slot path: "/.OPTIMIZER_SLOT/..." or ".OPTIMIZER_SLOT//m"
            elements = []
        found = (self._walk(elements, start) for start in (self._starts() if starts is None else starts))
        return list(dict.fromkeys(n for n in found if n is not None))

    def _candidates(self, path: str) -> list[int]:
        """The nodes ``path`` (as written) can name; the one whose own path it is comes first."""
        if not self._n:
            return []
        elements = path.split("/") if path else []
        starts = None
        m = re.fullmatch(r"\(node (\d+)\)", elements[0]) if elements else None
        if m and int(m.group(1)) < self._n:  # a node no path reaches, as listings name it
            starts, elements = [int(m.group(1))], elements[1:]
        # <variable path>/.OPTIMIZER_SLOT/<optimizer path>/<slot name>, possibly repeated
        marks = [j for j, el in enumerate(elements) if el == OPTIMIZER_SLOT]
        nodes = self._walk_from(elements[:marks[0]] if marks else elements, starts)
        for j, nxt in zip(marks, marks[1:] + [len(elements)]):
            if nxt - j < 3:
                nodes = []
                break
            variables = set(nodes)
            name = unescape_local_name(elements[nxt - 1])
            nodes = list(dict.fromkeys(
                s.slot_variable_node_id for o in self._walk_from(elements[j + 1:nxt - 1], None)
                for s in self.lowlevel.nodes[o].slot_variables
                if s.original_variable_node_id in variables and s.slot_name == name))
        if not nodes and marks and self._slot_path_ref is not None:
            # an optimizer that is itself a slot variable makes the split ambiguous: compare whole paths
            nodes = [i for i in range(self._n) if self._slot_path_ref[i] >= 0 and self._path(i) == path]
        if len(nodes) > 1:
            nodes.sort(key=lambda n: self._path(n) != path)
        return nodes

    def node(self, path: str) -> ObjectNode:
        """The node at an escaped path; any path of child edges works, not only the shortest
        (``"model/_functional/_operations/1/_kernel"`` and ``"optimizer/_trainable_variables/0"``
        can be the same variable).  Slot variables are found by their ``.OPTIMIZER_SLOT`` path,
        and a node without a path by ``(node N)``.  Leading and trailing ``/`` are ignored when
        the path as written names nothing (a trailing empty element is a child named ``""``)."""
        for candidate in dict.fromkeys((path, path.strip("/"))):
            nodes = self._candidates(candidate)
            if nodes:
                return self.nodes[nodes[0]]
        raise KeyError(f"no object at path {path!r}")

    def _parts(self, key: str) -> tuple[str, ...] | None:
        """The tensors stored for attribute key ``key``: None if stored under it, else its suffixed
        parts (``()`` if none).  Needs a reader.

        The attribute's ``checkpoint_key`` is the truth.  A value saved as one tensor is stored
        under that key (``v/.ATTRIBUTES/VARIABLE_VALUE``); one saved as several is stored under
        the key plus a suffix per tensor: a lookup table's ``t/.ATTRIBUTES/table-keys`` and
        ``-values``, a ``tf.data`` iterator's ``it/.ATTRIBUTES/ITERATOR_STATE`` for the attribute
        ``it/.ATTRIBUTES/ITERATOR``.  A stored key belongs to the longest attribute key it
        starts with: one merge of the sorted attribute and stored keys, made the first time a
        key is missing, linear in the keys' total length.
        """
        if self._stored is None:
            self._stored = (set(self.reader.keys()), None)
        stored, owned = self._stored
        if key in stored:
            return None
        if owned is None:
            attr_keys = {a.checkpoint_key for obj in self.lowlevel.nodes for a in obj.attributes}
            found: dict[str, list[str]] = {k: [] for k in attr_keys if k not in stored}
            open_keys: list[str] = []  # attribute keys that are prefixes of the current position
            for k, is_stored in sorted([(k, 0) for k in attr_keys] + [(k, 1) for k in stored]):
                while open_keys and not k.startswith(open_keys[-1]):
                    open_keys.pop()
                if not is_stored:
                    open_keys.append(k)
                elif open_keys and open_keys[-1] != k and open_keys[-1] in found:
                    found[open_keys[-1]].append(k)
            owned = {k: tuple(v) for k, v in found.items()}
            self._stored = (stored, owned)
        return owned.get(key, ())

    def stored_keys(self, checkpoint_key: str) -> tuple[str, ...]:
        """The checkpoint's tensors for one attribute key: itself, its suffixed parts, or ``()``.

        >>> import tempfile, os, numpy as np
        >>> from tfckpt_lab import write_object_checkpoint
        >>> g = read_object_graph(write_object_checkpoint(os.path.join(tempfile.mkdtemp(), "c"), {"w": np.ones(2)}))
        >>> g.stored_keys("w/.ATTRIBUTES/VARIABLE_VALUE"), g.stored_keys("w/.ATTRIBUTES/gone")
        (('w/.ATTRIBUTES/VARIABLE_VALUE',), ())
        """
        if self.reader is None:
            raise ValueError("this ObjectGraph was not read from a checkpoint")
        parts = self._parts(checkpoint_key)
        return (checkpoint_key,) if parts is None else parts

    def iter_value_paths(self) -> Iterator[tuple[str, str]]:
        """``(path, checkpoint key)`` of each saved value, in node order, one at a time.

        A variable's value is named by the variable's path; any other attribute by
        ``<path>/<attribute name>``.  With a reader, each attribute names what is really
        stored: ``t/table-keys`` and ``t/table-values`` for a lookup table whose attribute
        is ``table``, ``it/ITERATOR_STATE`` for a ``tf.data`` iterator (attribute ``ITERATOR``).
        A value the checkpoint lacks keeps its attribute's key.  Order: depth first from the
        root, children in stored order, then nodes with no path from the root's edges (slot
        variables; ``(node N)`` for a node no path reaches).  Time is proportional to the
        output; memory to one path.
        """
        nodes = self.lowlevel.nodes
        present = set(self.reader.keys()) if self.reader is not None else None
        for i, path in self._iter_paths(True):
            base = f"(node {i})" if path is None else path
            for a in nodes[i].attributes:
                key, name = a.checkpoint_key, a.name
                if present is None or key in present:
                    yield (base if name == VARIABLE_VALUE else _join(base, name)), key
                    continue
                for stored in self._parts(key) or (key,):  # stored as parts, or missing
                    full = name + stored[len(key):]
                    yield (base if full == VARIABLE_VALUE else _join(base, full)), stored

    def value_paths(self) -> dict[str, str]:
        """Path of each saved value -> its checkpoint key (see :meth:`iter_value_paths`)."""
        return dict(self.iter_value_paths())

    def key(self, path: str) -> str:
        """The checkpoint key of the value at ``path`` (a variable's path, or ``<path>/<attribute>``;
        ``<path>/table-keys`` for one of the tensors a lookup table is stored as).  Every path
        :meth:`iter_value_paths` lists gives its key back."""
        for candidate in dict.fromkeys((path, path.strip("/"))):
            found = self._key_at(candidate)
            if found is not None:
                return found
        raise KeyError(f"no saved value at path {path!r}")

    def _key_at(self, path: str) -> str | None:
        for node in self._candidates(path):
            for a in self.lowlevel.nodes[node].attributes:
                if a.name == VARIABLE_VALUE:
                    return a.checkpoint_key
        head, _, last = path.rpartition("/")
        for a in (a for holder in self._candidates(head) for a in self.lowlevel.nodes[holder].attributes):
            parts = self._parts(a.checkpoint_key) if self.reader is not None else None
            if last == a.name:
                if parts:
                    raise KeyError(f"{path!r} is not stored under its own key; the checkpoint holds "
                                   + ", ".join(repr(_join(head, a.name + p[len(a.checkpoint_key):]))
                                               for p in parts))
                return a.checkpoint_key
            for p in parts or ():
                if last == a.name + p[len(a.checkpoint_key):]:
                    return p
        return None

    def get_tensor(self, path: str):
        """The value at ``path``, read from the checkpoint (needs a graph read by :func:`read_object_graph`)."""
        if self.reader is None:
            raise ValueError("this ObjectGraph was not read from a checkpoint")
        return self.reader.get_tensor(self.key(path))

    def checkpoint_keys(self) -> list[str]:
        """Every checkpoint key the graph names, in node order (the attributes' keys, as stored in the graph)."""
        return [a.checkpoint_key for obj in self.lowlevel.nodes for a in obj.attributes]

    # -- output ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The proto as JSON-ready dict with proto field names (``MessageToDict(..., preserving_proto_field_name=True)``)."""
        from google.protobuf import json_format

        return json_format.MessageToDict(self.lowlevel, preserving_proto_field_name=True)

    def _describe_value(self, key: str) -> str:
        if self.reader is None:
            return ""
        parts = self._parts(key)
        if parts is None:
            e = self.reader.entry(key)
            return f"  {e.dtype_name}{list(e.shape)}"
        if not parts:
            return "  (missing from the checkpoint!)"
        # a value saved as several tensors (a lookup table's keys and values): key + a suffix each
        return "  (" + ", ".join(f"{n[len(key):]}: {self.reader.entry(n).dtype_name}"
                                 f"{list(self.reader.entry(n).shape)}" for n in parts) + ")"

    def _shown_path(self, i: int) -> str:
        """A path short enough to repeat in a drawing, else ``(node N)``."""
        return repr(self._path(i)) if 0 <= self._plen[i] <= TREE_PATH_CHARS else f"(node {i})"

    def iter_tree(self) -> Iterator[str]:
        """The lines of :meth:`tree`, one at a time (an explicit stack: any depth, linear time)."""
        yield "(root)"
        if not self._n:
            return
        nodes, offsets, child, has_values = self.lowlevel.nodes, self._offsets, self._child, self._has_values
        described: dict[str, str] = {}

        def describe(key: str) -> str:
            text = described.get(key)
            if text is None:
                text = described[key] = self._describe_value(key)
            return text

        root = nodes[0]
        # a frame: [node, its children, its attributes drawn as lines, its slot references, next item,
        # indent, depth]; only nodes with something to draw below them get one
        stack = [[0, root.children, list(root.attributes), root.slot_variables, 0, "", 0]]
        while stack:
            frame = stack[-1]
            u, refs, attrs, slots, k, indent, depth = frame
            n_edges = offsets[u + 1] - offsets[u]
            total = n_edges + len(attrs) + len(slots)
            if k == total:
                stack.pop()
                continue
            frame[4] = k + 1
            branch, cont = ("`-- ", "    ") if k == total - 1 else ("|-- ", "|   ")
            if k < n_edges:
                e = offsets[u] + k
                c = child[e]
                local = refs[k].local_name
                value, others = None, []
                for a in nodes[c].attributes if has_values[c] else ():
                    if a.name != VARIABLE_VALUE:
                        others.append(a)
                    elif value is None:
                        value = a
                if self._parent_edge_of[c] != e:  # drawn where its shortest path puts it
                    yield f"{indent}{branch}{local} -> {self._shown_path(c)}" + (
                        f" = {value.checkpoint_key}" if value is not None else "")
                    continue
                if value is not None:
                    local += f" = {value.checkpoint_key}{describe(value.checkpoint_key)}"
                yield f"{indent}{branch}{local}"
                c_slots = nodes[c].slot_variables if self._has_slots[c] else ()
                if offsets[c] < offsets[c + 1] or others or c_slots:
                    deeper = indent + cont if depth < TREE_INDENT_LEVELS else f"[depth {depth + 2}] "
                    stack.append([c, nodes[c].children, others, c_slots, 0, deeper, depth + 1])
            elif k < n_edges + len(attrs):
                a = attrs[k - n_edges]
                yield f"{indent}{branch}.{a.name} = {a.checkpoint_key}{describe(a.checkpoint_key)}"
            else:
                s = slots[k - n_edges - len(attrs)]
                keys = ", ".join(a.checkpoint_key for a in nodes[s.slot_variable_node_id].attributes) or "(no value)"
                yield f"{indent}{branch}slot {s.slot_name!r} of {self._shown_path(s.original_variable_node_id)}: {keys}"

    def tree(self) -> str:
        """A text drawing: children by local name, values with their keys, slot variables.

        A node reached again by another edge is drawn once, where its path puts it; the other
        edges show ``-> 'its path'``.  Below :data:`TREE_INDENT_LEVELS` levels, lines start with
        ``[depth N]`` instead of a longer indent.
        """
        return "\n".join(self.iter_tree())

    def __repr__(self) -> str:
        return f"<ObjectGraph {self.prefix!r}: {self._n} nodes, {len(self.checkpoint_keys())} values>"

    def _repr_html_(self) -> str:
        """A notebook summary: the first :data:`HTML_TREE_LINES` lines of the tree."""
        import html
        from itertools import islice

        lines = list(islice(self.iter_tree(), HTML_TREE_LINES + 1))
        more = "\n..." if len(lines) > HTML_TREE_LINES else ""
        return (f"<b>TF2 object graph</b> of <code>{html.escape(str(self.prefix))}</code>: {self._n} "
                f"objects, {len(self.checkpoint_keys())} saved values"
                f"<pre style='font-size:90%'>{html.escape(chr(10).join(lines[:HTML_TREE_LINES]) + more)}</pre>")


def _join(base: str, name: str) -> str:
    return f"{base}/{name}" if base else name


def parse_object_graph(data: bytes, *, path=None) -> ObjectGraph:
    """An :class:`ObjectGraph` from the bytes of a serialized TrackableObjectGraph."""
    proto = trackable_object_graph_pb2.TrackableObjectGraph()
    try:
        proto.ParseFromString(bytes(data))
    except DecodeError as exc:
        raise MalformedError(f"{OBJECT_GRAPH_KEY} is not a TrackableObjectGraph: {exc}", path=path) from None
    return ObjectGraph(proto, prefix=None if path is None else str(path))


def read_object_graph(ckpt_dir_or_prefix) -> ObjectGraph:
    """The object graph of a TF2 checkpoint (a prefix, a file of it, or a directory: its latest).

    Raises :class:`~tfckpt_lab.TensorNotFoundError` for a name-based (TF1) checkpoint,
    which has no object graph.
    """
    from .reader import CheckpointReader

    reader = CheckpointReader(ckpt_dir_or_prefix)
    if not reader.has_tensor(OBJECT_GRAPH_KEY):
        raise TensorNotFoundError(f"no {OBJECT_GRAPH_KEY} tensor: a name-based (TF1) checkpoint has no "
                                  "object graph", path=reader.prefix + ".index")
    value = reader.get_tensor(OBJECT_GRAPH_KEY)
    if not isinstance(value, bytes):
        raise MalformedError(f"{OBJECT_GRAPH_KEY} must be a string scalar", path=reader.prefix + ".index")
    graph = parse_object_graph(value, path=reader.prefix)
    graph.reader = reader
    return graph
