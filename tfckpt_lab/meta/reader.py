"""Read a ``.meta`` file into a friendly summary: variables, saver, collections, ops, devices.

This module reads files named by path or prefix only; which checkpoint a *directory*
means is the state file's business (``tfckpt_lab.checkpoint.meta_graph.read_meta_graph``).

    .meta file = one serialized MetaGraphDef (no framing, no checksum)
      meta_info_def   MetaInfoDef   versions, tags, stripped_op_list
      graph_def       GraphDef      node: NodeDef (name, op, input, device, attr)
      saver_def       SaverDef
      collection_def  map<string, CollectionDef>   variable collections hold VariableDef bytes

A variable is found through its VariableDef (in the ``variables``,
``local_variables``... collections): ``variable_name`` names the graph node whose
``dtype`` and ``shape`` attrs give the type and shape; ``save_slice_info_def``
says where a piece of a partitioned variable lies in the whole.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError

from .. import dtypes
from .._deprecation import renamed
from ..errors import CheckpointNotFoundError, MalformedError
from ..fileio import MAX_META_BYTES, is_url, read_whole_file
from ..protos import meta_graph_pb2, saver_pb2, variable_pb2

__all__ = ["read_meta_file", "MetaGraph", "MetaVariable", "PartitionInfo", "VARIABLE_COLLECTIONS"]

# Collections whose bytes_list values are VariableDef protos (TensorFlow's names).
VARIABLE_COLLECTIONS = (
    "variables", "local_variables", "trainable_variables", "model_variables",
    "moving_average_variables", "global_step", "metric_variables",
)
# Collections that list *every* variable once (a variable may also sit in the others above).
_OWNING_COLLECTIONS = ("variables", "local_variables", "metric_variables")


@dataclass
class PartitionInfo:
    """Where one piece of a partitioned variable lies in the full variable (SaveSliceInfoDef)."""

    full_name: str
    full_shape: list[int]
    var_offset: list[int]
    var_shape: list[int]

    @property
    def slice_spec(self) -> str:
        """The slice in checkpoint notation: ``"10 4 4,3:0,4"`` (full shape, then start,length per dim)."""
        dims = ":".join(f"{o},{s}" for o, s in zip(self.var_offset, self.var_shape))
        return f"{' '.join(map(str, self.full_shape))} {dims}"


@dataclass
class MetaVariable:
    """One variable of a meta graph.

    Attributes:
        name: the variable node's name (``w1``, ``part/part_0``), without ``:0``.
        dtype: TensorFlow's dtype name (``float32``), without ``_ref``.
        shape: the declared shape (``None`` entries are unknown dimensions; ``None`` if unknown rank).
        trainable, is_resource: from the VariableDef.
        op: ``VariableV2``, ``VarHandleOp``... (None if the node is missing).
        device: the node's device string.
        collections: the variable collections that list it.
        partition: a :class:`PartitionInfo` for a piece of a partitioned variable.
        lowlevel: one level deeper, the ``VariableDef`` message (``proto`` is an old name for it).
        saved_as: the key the graph's ``SaveV2`` stores it under, if the graph has a saver
            that saves it (a Saver given ``var_list={key: variable}`` may use any key).
    """

    name: str
    dtype: str | None
    shape: list | None
    trainable: bool
    is_resource: bool
    op: str | None
    device: str
    collections: list[str] = field(default_factory=list)
    partition: PartitionInfo | None = None
    lowlevel: variable_pb2.VariableDef | None = field(default=None, repr=False)
    saved_as: str | None = None

    proto = renamed("proto", "lowlevel")

    @property
    def checkpoint_key(self) -> str:
        """The key it is saved under: the graph saver's key if there is one, else what a default
        Saver uses (the variable's name; the full variable's name for a piece)."""
        if self.saved_as is not None:
            return self.saved_as
        return self.partition.full_name if self.partition else self.name

    def to_dict(self) -> dict:
        d = {"name": self.name, "dtype": self.dtype, "shape": self.shape, "trainable": self.trainable,
             "is_resource": self.is_resource, "op": self.op, "device": self.device,
             "collections": self.collections, "checkpoint_key": self.checkpoint_key}
        if self.partition:
            p = self.partition
            d["partition"] = {"full_name": p.full_name, "full_shape": p.full_shape,
                              "var_offset": p.var_offset, "var_shape": p.var_shape}
        return d


def _strip_port(tensor_name: str) -> str:
    name = tensor_name[1:] if tensor_name.startswith("^") else tensor_name
    head, sep, tail = name.rpartition(":")
    return head if sep and tail.isdigit() else name


def _shape_of(attr) -> list | None:
    if attr.unknown_rank:
        return None
    return [None if d.size < 0 else d.size for d in attr.dim]


class MetaGraph:
    """A summary of a MetaGraphDef.

    ``lowlevel`` is one level deeper: the parsed ``MetaGraphDef`` message itself (``proto`` is
    an old name for it).

    >>> import tempfile, os, numpy as np
    >>> from tfckpt_lab import write_meta_graph
    >>> path = write_meta_graph(os.path.join(tempfile.mkdtemp(), "m.meta"), {"w": np.zeros(3, np.float32)})
    >>> mg = read_meta_file(path)
    >>> mg.variables[0].name, mg.saver_def.restore_op_name, mg.op_counts["VarHandleOp"]
    ('w', 'save/restore_all', 1)
    """

    def __init__(self, proto: meta_graph_pb2.MetaGraphDef, *, path: str | None = None, size: int | None = None):
        self.lowlevel = proto
        self.path = path
        self.size = size
        self._nodes = None
        self._variables = None

    proto = renamed("proto", "lowlevel")

    # -- graph -----------------------------------------------------------------
    @property
    def nodes(self) -> dict:
        """node name -> NodeDef."""
        if self._nodes is None:
            self._nodes = {n.name: n for n in self.lowlevel.graph_def.node}
        return self._nodes

    @property
    def op_counts(self) -> Counter:
        """How many nodes run each op kind."""
        return Counter(n.op for n in self.lowlevel.graph_def.node)

    @property
    def devices(self) -> Counter:
        """How many nodes are placed on each device (``""`` = not placed)."""
        return Counter(n.device for n in self.lowlevel.graph_def.node)

    @property
    def stripped_ops(self) -> list[str]:
        return [op.name for op in self.lowlevel.meta_info_def.stripped_op_list.op]

    @property
    def tensorflow_version(self) -> str:
        return self.lowlevel.meta_info_def.tensorflow_version

    @property
    def producer(self) -> int:
        return self.lowlevel.graph_def.versions.producer

    # -- saver and collections ---------------------------------------------------
    @property
    def saver_def(self) -> saver_pb2.SaverDef | None:
        return self.lowlevel.saver_def if self.lowlevel.HasField("saver_def") else None

    @property
    def collections(self) -> dict[str, tuple[str, int]]:
        """collection name -> (kind, number of values); kind is node_list, bytes_list, int64_list..."""
        out = {}
        for name in sorted(self.lowlevel.collection_def):
            c = self.lowlevel.collection_def[name]
            kind = c.WhichOneof("kind")
            out[name] = (kind, len(getattr(c, kind).value) if kind else 0)
        return out

    def collection(self, name: str) -> list:
        """A collection's values: node names, ints, floats, VariableDefs (variable
        collections), SaverDefs (``savers``) or raw bytes."""
        c = self.lowlevel.collection_def[name]
        kind = c.WhichOneof("kind")
        if kind is None:
            return []
        values = list(getattr(c, kind).value)
        if kind == "bytes_list":
            cls = (variable_pb2.VariableDef if name in VARIABLE_COLLECTIONS
                   else saver_pb2.SaverDef if name == "savers" else None)
            if cls is not None:
                return [self._parse(cls, v, f"collection {name!r}") for v in values]
        return values

    def _parse(self, cls, data: bytes, what: str):
        msg = cls()
        try:
            msg.ParseFromString(data)
        except DecodeError as exc:
            raise MalformedError(f"{what}: cannot parse {cls.__name__}: {exc}", path=self.path) from None
        return msg

    # -- variables ----------------------------------------------------------------
    @property
    def variables(self) -> list[MetaVariable]:
        """Every variable, global and local, in collection order (global first)."""
        if self._variables is None:
            self._variables = self._collect_variables()
        return self._variables

    @property
    def global_variables(self) -> list[MetaVariable]:
        """The ``variables`` collection, what ``tf.compat.v1.global_variables()`` returns."""
        return [v for v in self.variables if "variables" in v.collections]

    @property
    def trainable_variables(self) -> list[MetaVariable]:
        return [v for v in self.variables if "trainable_variables" in v.collections]

    @property
    def partitioned_variables(self) -> dict[str, list[MetaVariable]]:
        """full name -> its pieces, for partitioned variables."""
        out: dict[str, list[MetaVariable]] = {}
        for v in self.variables:
            if v.partition:
                out.setdefault(v.partition.full_name, []).append(v)
        return out

    def saved_keys(self) -> dict[str, str]:
        """variable node name -> the checkpoint key the graph's ``SaveV2`` nodes save it under.

        Each ``SaveV2`` takes its keys from a ``tensor_names`` Const and the values after
        it; a value is traced back through ``Identity`` / ``ReadVariableOp`` to its variable.
        """
        from .tensors import make_ndarray

        out: dict[str, str] = {}
        for node in self.lowlevel.graph_def.node:
            if node.op != "SaveV2" or len(node.input) < 3:
                continue
            names_node = self.nodes.get(_strip_port(node.input[1]))
            if names_node is None or names_node.op != "Const":
                continue
            try:
                keys = make_ndarray(names_node.attr["value"].tensor).reshape(-1).tolist()
            except Exception:  # not a string tensor we can decode: no keys from this saver
                continue
            values = [i for i in node.input[3:] if not i.startswith("^")]
            for key, value in zip(keys, values):
                source = self.nodes.get(_strip_port(value))
                while source is not None and source.op in ("Identity", "ReadVariableOp") and source.input:
                    source = self.nodes.get(_strip_port(source.input[0]))
                if source is not None and isinstance(key, bytes):
                    out.setdefault(source.name, key.decode("utf-8", "replace"))
        return out

    def _collect_variables(self) -> list[MetaVariable]:
        found: dict[str, MetaVariable] = {}
        owners = [c for c in _OWNING_COLLECTIONS if c in self.lowlevel.collection_def]
        others = [c for c in VARIABLE_COLLECTIONS if c in self.lowlevel.collection_def and c not in owners]
        for cname in owners + others:
            for vd in self.collection(cname):
                name = _strip_port(vd.variable_name)
                var = found.get(name)
                if var is None:
                    if cname not in owners:
                        continue  # only listed by a secondary collection: not a graph variable
                    var = found[name] = self._variable(name, vd)
                var.collections.append(cname)
        for name, key in self.saved_keys().items():
            if name in found:
                found[name].saved_as = key
        return list(found.values())

    def _variable(self, name: str, vd: variable_pb2.VariableDef) -> MetaVariable:
        node = self.nodes.get(name)
        dtype = shape = op = None
        device = ""
        if node is not None:
            op, device = node.op, node.device
            if "dtype" in node.attr:
                dtype = dtypes.dtype_name(dtypes.base_type(node.attr["dtype"].type))
            if "shape" in node.attr:
                shape = _shape_of(node.attr["shape"].shape)
        partition = None
        if vd.HasField("save_slice_info_def"):
            s = vd.save_slice_info_def
            partition = PartitionInfo(s.full_name, list(s.full_shape), list(s.var_offset), list(s.var_shape))
        return MetaVariable(name=name, dtype=dtype, shape=shape, trainable=vd.trainable,
                            is_resource=vd.is_resource, op=op, device=device, partition=partition, lowlevel=vd)

    # -- output ---------------------------------------------------------------------
    def to_dict(self) -> dict:
        """A JSON-ready summary (what ``tfckpt-lab meta --json`` prints)."""
        from google.protobuf import json_format

        sd = self.saver_def
        mi = self.lowlevel.meta_info_def
        return {
            "path": self.path,
            "size": self.size,
            "tensorflow_version": mi.tensorflow_version,
            "tensorflow_git_version": mi.tensorflow_git_version,
            "meta_graph_version": mi.meta_graph_version,
            "tags": list(mi.tags),
            "producer": self.producer,
            "num_nodes": len(self.lowlevel.graph_def.node),
            "op_counts": dict(sorted(self.op_counts.items())),
            "devices": dict(sorted(self.devices.items())),
            "stripped_ops": self.stripped_ops,
            "saver_def": None if sd is None else json_format.MessageToDict(sd, preserving_proto_field_name=True),
            "collections": {k: {"kind": kind, "count": n} for k, (kind, n) in self.collections.items()},
            "variables": [v.to_dict() for v in self.variables],
            "partitioned_variables": {k: [p.name for p in v] for k, v in self.partitioned_variables.items()},
        }

    def __repr__(self) -> str:
        return (f"<MetaGraph {self.path!r}: {len(self.lowlevel.graph_def.node)} nodes, "
                f"{len(self.variables)} variables>")

    def _repr_html_(self) -> str:
        """A notebook summary: the variables, the saver's settings and the ops by count."""
        import html

        e = html.escape
        rows = "".join(
            f"<tr><td><code>{e(v.name)}</code></td><td>{e(str(v.dtype))}</td><td>{e(str(v.shape))}</td>"
            f"<td>{e(str(v.op))}</td><td>{e(', '.join(v.collections))}</td><td><code>{e(str(v.checkpoint_key))}</code></td></tr>"
            for v in self.variables[:200])
        more = f"<i>... and {len(self.variables) - 200} more</i>" if len(self.variables) > 200 else ""
        sd = self.saver_def
        saver = ("no SaverDef" if sd is None else
                 f"saver: restore op <code>{e(sd.restore_op_name)}</code>, filename tensor "
                 f"<code>{e(sd.filename_tensor_name)}</code>, max_to_keep {sd.max_to_keep}, "
                 f"keep every {sd.keep_checkpoint_every_n_hours:g} h")
        ops = ", ".join(f"{e(op)} {n}" for op, n in self.op_counts.most_common(12))
        return (f"<b>MetaGraph</b> <code>{e(str(self.path))}</code>: {len(self.lowlevel.graph_def.node)} nodes, "
                f"{len(self.variables)} variables<br><table><tr><th>variable</th><th>dtype</th><th>shape</th>"
                f"<th>op</th><th>collections</th><th>checkpoint key</th></tr>{rows}</table>{more}"
                f"{saver}<br>ops: {ops}")


def read_meta_file(path) -> MetaGraph:
    """Parse a ``.meta`` file, or the ``.meta`` of a checkpoint prefix, into a :class:`MetaGraph`.

    ``path`` is a local path or a URL, named by file (``model-7.meta``) or by prefix
    (``model-7``: its ``.meta``).  A checkpoint *directory* needs the ``checkpoint``
    state file to say which checkpoint it means: :func:`tfckpt_lab.read_meta_graph`
    resolves one and then calls this.

    Raises :class:`~tfckpt_lab.CheckpointNotFoundError` if the file is missing,
    :class:`~tfckpt_lab.UnsupportedError` if it is not a regular file (a FIFO, a link to
    ``/dev/zero``, a directory...) or is larger than any MetaGraphDef can be
    (:data:`~tfckpt_lab.fileio.MAX_META_BYTES`, :class:`~tfckpt_lab.FileTooLargeError`), and
    :class:`~tfckpt_lab.MalformedError` if its bytes are not a MetaGraphDef.
    """
    p = os.fspath(path)
    if is_url(p):
        p, data = _read_meta_url(p)
    else:
        if not p.endswith(".meta") and not os.path.exists(p) and os.path.exists(p + ".meta"):
            p += ".meta"
        data = read_whole_file(p, limit=MAX_META_BYTES, what=".meta file")
    proto = meta_graph_pb2.MetaGraphDef()
    try:
        proto.ParseFromString(data)
    except DecodeError as exc:
        raise MalformedError(f"not a MetaGraphDef: {exc}", path=p) from None
    return MetaGraph(proto, path=p, size=len(data))


#: A ``.meta`` read from a URL is one protocol buffer, read whole; protobuf's own limit is 2 GiB.
MAX_URL_META_BYTES = 2**31 - 1


def _read_meta_url(url: str) -> tuple[str, bytes]:
    """``(url of the .meta, its bytes)`` for a ``.meta`` URL or a prefix URL."""
    from .. import remote

    if not url.endswith(".meta"):
        url += ".meta"
    if not remote.exists(url):
        raise CheckpointNotFoundError("no such .meta file", path=url)
    return url, remote.read_bytes(url, MAX_URL_META_BYTES)
