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

from collections import deque
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError

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


@dataclass
class ObjectNode:
    """One object of the graph.

    ``children`` maps local names (unescaped, as TensorFlow's Python attribute or
    dict key) to node ids, in stored order.  ``path`` is the escaped path from the
    root (``""`` for the root), or ``None`` if no path reaches the node.
    """

    id: int
    children: dict[str, int]
    attributes: list[Attribute]
    slot_variables: list[SlotVariable]
    path: str | None = None
    slot_of: tuple[int, int, str] | None = None  # (variable node, optimizer node, slot name)
    parent: tuple[int, str] | None = None  # (node, local name) of the edge that gives the path
    proto: trackable_object_graph_pb2.TrackableObjectGraph.TrackableObject | None = field(default=None, repr=False)

    @property
    def has_checkpoint_values(self) -> bool | None:
        """The stored flag, or None when the writer did not set it (older TensorFlow)."""
        return self.proto.has_checkpoint_values.value if self.proto.HasField("has_checkpoint_values") else None

    @property
    def registered_saver(self) -> str | None:
        return self.proto.registered_saver.name if self.proto.HasField("registered_saver") else None

    @property
    def is_variable(self) -> bool:
        return any(a.name == VARIABLE_VALUE for a in self.attributes)


class ObjectGraph:
    """The decoded object graph of a TF2 checkpoint.  ``.proto`` is the TrackableObjectGraph.

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
        self.proto = proto
        self.prefix = prefix
        self.reader = reader
        self.nodes: list[ObjectNode] = []
        n = len(proto.nodes)
        for i, obj in enumerate(proto.nodes):
            for ref in obj.children:
                if not 0 <= ref.node_id < n:
                    raise MalformedError(f"object graph node {i}: child {ref.local_name!r} points to node "
                                         f"{ref.node_id}, but there are {n} nodes", path=prefix)
            for s in obj.slot_variables:
                for nid in (s.original_variable_node_id, s.slot_variable_node_id):
                    if not 0 <= nid < n:
                        raise MalformedError(f"object graph node {i}: slot {s.slot_name!r} points to node "
                                             f"{nid}, but there are {n} nodes", path=prefix)
            self.nodes.append(ObjectNode(
                id=i,
                children={ref.local_name: ref.node_id for ref in obj.children},
                attributes=[Attribute(a.name, a.full_name, a.checkpoint_key) for a in obj.attributes],
                slot_variables=[SlotVariable(s.original_variable_node_id, s.slot_name, s.slot_variable_node_id)
                                for s in obj.slot_variables],
                proto=obj))
        self._assign_paths()

    def _assign_paths(self) -> None:
        if not self.nodes:
            return
        self.nodes[0].path = ""
        queue = deque([0])
        while queue:  # breadth first: the shortest path names a node, as in TensorFlow
            node = self.nodes[queue.popleft()]
            for local, child in node.children.items():
                if self.nodes[child].path is None:
                    self.nodes[child].path = _join(node.path, escape_local_name(local))
                    self.nodes[child].parent = (node.id, local)
                    queue.append(child)
        for optimizer in self.nodes:
            for s in optimizer.slot_variables:
                slot = self.nodes[s.slot_variable_node_id]
                var = self.nodes[s.original_variable_node_id]
                slot.slot_of = (var.id, optimizer.id, s.slot_name)
                if slot.path is None and var.path is not None and optimizer.path is not None:
                    slot.path = (f"{var.path}/{OPTIMIZER_SLOT}/{optimizer.path}/"
                                 f"{escape_local_name(s.slot_name)}")

    # -- lookups ------------------------------------------------------------------------
    @property
    def root(self) -> ObjectNode:
        return self.nodes[0]

    def paths(self) -> dict[str, int]:
        """escaped path -> node id, for every node a path reaches."""
        return {n.path: n.id for n in self.nodes if n.path is not None}

    def node(self, path: str) -> ObjectNode:
        """The node at an escaped path; any path of child edges works, not only the shortest
        (``"model/_functional/_operations/1/_kernel"`` and ``"optimizer/_trainable_variables/0"``
        can be the same variable).  Slot variables are found by their ``.OPTIMIZER_SLOT`` path."""
        path = path.strip("/")
        node = self.root
        for element in path.split("/") if path else []:
            child = node.children.get(unescape_local_name(element))
            if child is None:
                break
            node = self.nodes[child]
        else:
            return node
        for n in self.nodes:
            if n.path == path:
                return n
        raise KeyError(f"no object at path {path!r}")

    def value_paths(self) -> dict[str, str]:
        """Path of each saved value -> its checkpoint key.

        A variable's value is named by the variable's path; any other attribute
        by ``<path>/<attribute name>``.
        """
        out = {}
        for n in self.nodes:
            for a in n.attributes:
                base = n.path if n.path is not None else f"(node {n.id})"
                out[base if a.name == VARIABLE_VALUE else _join(base, a.name)] = a.checkpoint_key
        return out

    def key(self, path: str) -> str:
        """The checkpoint key of the value at ``path`` (a variable's path, or ``<path>/<attribute>``)."""
        path = path.strip("/")
        found = self.value_paths().get(path)
        if found is not None:
            return found
        try:
            node = self.node(path)
        except KeyError:
            node = None
        if node is not None:
            for a in node.attributes:
                if a.name == VARIABLE_VALUE:
                    return a.checkpoint_key
        head, _, attr = path.rpartition("/")
        try:
            for a in self.node(head).attributes:
                if a.name == attr:
                    return a.checkpoint_key
        except KeyError:
            pass
        raise KeyError(f"no saved value at path {path!r}")

    def get_tensor(self, path: str):
        """The value at ``path``, read from the checkpoint (needs a graph read by :func:`read_object_graph`)."""
        if self.reader is None:
            raise ValueError("this ObjectGraph was not read from a checkpoint")
        return self.reader.get_tensor(self.key(path))

    def checkpoint_keys(self) -> list[str]:
        """Every checkpoint key the graph names, in node order."""
        return [a.checkpoint_key for n in self.nodes for a in n.attributes]

    # -- output ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The proto as JSON-ready dict with proto field names (``MessageToDict(..., preserving_proto_field_name=True)``)."""
        from google.protobuf import json_format

        return json_format.MessageToDict(self.proto, preserving_proto_field_name=True)

    def _describe_value(self, key: str) -> str:
        if self.reader is None:
            return ""
        try:
            e = self.reader.entry(key)
        except KeyError:
            # A value saved as several tensors (a lookup table's keys and values) is stored
            # under its checkpoint key plus a suffix per tensor: "t/.ATTRIBUTES/table-keys".
            parts = sorted(n for n in self.reader.keys() if n.startswith(key))
            if not parts:
                return "  (missing from the checkpoint!)"
            return "  (" + ", ".join(f"{n[len(key):]}: {self.reader.entry(n).dtype_name}"
                                     f"{list(self.reader.entry(n).shape)}" for n in parts) + ")"
        return f"  {e.dtype_name}{list(e.shape)}"

    def tree(self) -> str:
        """A text drawing: children by local name, values with their keys, slot variables."""
        lines = ["(root)"]

        def walk(node: ObjectNode, indent: str) -> None:
            items = [("child", local, cid) for local, cid in node.children.items()]
            items += [("attr", a, None) for a in node.attributes if a.name != VARIABLE_VALUE or node.id == 0]
            items += [("slot", s, None) for s in node.slot_variables]
            for i, (kind, what, cid) in enumerate(items):
                last = i == len(items) - 1
                branch, cont = ("`-- ", "    ") if last else ("|-- ", "|   ")
                if kind == "child":
                    child = self.nodes[cid]
                    label = what
                    values = [a for a in child.attributes if a.name == VARIABLE_VALUE]
                    if values:
                        label += f" = {values[0].checkpoint_key}{self._describe_value(values[0].checkpoint_key)}"
                    if child.parent != (node.id, what):  # drawn where its shortest path puts it
                        lines.append(f"{indent}{branch}{what} -> {child.path!r}" + (
                            f" = {values[0].checkpoint_key}" if values else ""))
                        continue
                    lines.append(f"{indent}{branch}{label}")
                    walk(child, indent + cont)
                elif kind == "attr":
                    lines.append(f"{indent}{branch}.{what.name} = {what.checkpoint_key}"
                                 f"{self._describe_value(what.checkpoint_key)}")
                else:
                    var = self.nodes[what.original_variable_node_id]
                    slot = self.nodes[what.slot_variable_node_id]
                    keys = ", ".join(a.checkpoint_key for a in slot.attributes) or "(no value)"
                    lines.append(f"{indent}{branch}slot {what.slot_name!r} of {var.path!r}: {keys}")
        if self.nodes:
            walk(self.root, "")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<ObjectGraph {self.prefix!r}: {len(self.nodes)} nodes, {len(self.checkpoint_keys())} values>"

    def _repr_html_(self) -> str:
        import html

        return (f"<b>TF2 object graph</b> of <code>{html.escape(str(self.prefix))}</code>: {len(self.nodes)} "
                f"objects, {len(self.checkpoint_keys())} saved values"
                f"<pre style='font-size:90%'>{html.escape(self.tree())}</pre>")


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
    from ..checkpoint.reader import CheckpointReader

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
