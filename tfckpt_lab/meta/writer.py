"""Write a ``.meta`` file (a ``MetaGraphDef``) that TensorFlow 1-style code can import and restore.

    MetaGraphDef
      meta_info_def     MetaInfoDef   stripped_op_list: the OpDefs of every op used below
      graph_def         GraphDef      the nodes listed below
      saver_def         SaverDef      names of save/Const:0, the save tensor, save/restore_all
      collection_def    map           "variables", "trainable_variables" [, "global_step"]:
                                      one serialized VariableDef per variable

The graph, for each variable ``w`` (a TF1 reference variable, as ``tf.compat.v1.Variable``
made them before resource variables)::

    w/initial_value   Const        the saved value (or a one-element fill, initial_values="zeros")
    w                 VariableV2   dtype, shape
    w/Assign          Assign       (w, w/initial_value)        <- the initializer
    w/read            Identity     (w)                         <- the snapshot
    init              NoOp         (^w/Assign, ...)

and the saver subgraph, under the name scope ``save``::

    save/filename/input             Const "model"
    save/filename, save/Const       PlaceholderWithDefault      <- feed the checkpoint prefix here
    save/SaveV2/tensor_names        Const [names], sorted
    save/SaveV2/shape_and_slices    Const ["" ...]              ("" = the whole tensor)
    save/SaveV2                     SaveV2 (save/Const, names, slices, w, ...)
    save/control_dependency         Identity (save/Const, ^save/SaveV2)   <- save_tensor_name
    save/RestoreV2[/tensor_names, /shape_and_slices]   RestoreV2, one output per variable
    save/Assign, save/Assign_1 ...  Assign (w, save/RestoreV2:i)
    save/restore_all                NoOp (^save/Assign, ...)              <- restore_op_name

With ``sharded=True`` the save writes a temporary shard ``<prefix>_temp/part-00000-of-00001``
(StringJoin, ShardedFilename) and merges it into ``<prefix>`` (Pack, MergeV2Checkpoints);
``save/Identity`` is then the save tensor and ``save/restore_shard`` sits under restore_all.

Why VariableV2 and not VarHandleOp: a reference variable is one node whose output *is*
the value, so saving feeds the variable itself to SaveV2 and restoring is a plain
``Assign``; a resource variable needs VarIsInitializedOp, ReadVariableOp and
AssignVariableOp nodes and handle bookkeeping for the same job.  Both import cleanly;
the reference form is what TF1's Saver graphs (and our tf1_* fixtures) look like.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

import numpy as np

from .. import __version__, dtypes
from ..protos import attr_value_pb2, graph_pb2, meta_graph_pb2, saver_pb2, types_pb2, variable_pb2, versions_pb2
from .op_defs import op_list
from .tensors import make_tensor_proto, shape_proto

__all__ = ["write_meta_graph", "build_meta_graph", "GRAPH_PRODUCER"]

# GraphDef.versions.producer: the graph version of TensorFlow 2.21, which wrote our fixtures.
# Consumers only reject a graph whose min_consumer is above their own version (ours is 0).
GRAPH_PRODUCER = 2474

_NODE_NAME = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\\/>-]*$")
_CPU = "/device:CPU:0"
_TEMP_SUFFIX = "_temp/part"


# -- AttrValue shorthands ---------------------------------------------------------
def _type(datatype: int) -> attr_value_pb2.AttrValue:
    return attr_value_pb2.AttrValue(type=datatype)


def _types(datatypes) -> attr_value_pb2.AttrValue:
    return attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(type=list(datatypes)))


def _shape(shape) -> attr_value_pb2.AttrValue:
    return attr_value_pb2.AttrValue(shape=shape_proto(shape))


def _tensor(value, *, fill: bool = False) -> attr_value_pb2.AttrValue:
    return attr_value_pb2.AttrValue(tensor=make_tensor_proto(value, fill=fill))


def _bool(b: bool) -> attr_value_pb2.AttrValue:
    return attr_value_pb2.AttrValue(b=b)


def _str(s: str) -> attr_value_pb2.AttrValue:
    return attr_value_pb2.AttrValue(s=s.encode())


def _int(i: int) -> attr_value_pb2.AttrValue:
    return attr_value_pb2.AttrValue(i=i)


class _GraphBuilder:
    """Appends NodeDefs, keeps names unique the way TensorFlow does (``x``, ``x_1``, ``x_2``...)."""

    def __init__(self, reserved: Iterable[str] = ()):
        self.graph = graph_pb2.GraphDef(versions=versions_pb2.VersionDef(producer=GRAPH_PRODUCER))
        self.taken: set[str] = set(reserved)
        self.ops: set[str] = set()

    def _scope_taken(self, name: str) -> bool:
        return name in self.taken or any(t.startswith(name + "/") for t in self.taken)

    def unique(self, name: str, *, scope: bool = False) -> str:
        taken = self._scope_taken if scope else self.taken.__contains__
        candidate, i = name, 0
        while taken(candidate):
            i += 1
            candidate = f"{name}_{i}"
        return candidate

    def node(self, name: str, op: str, inputs=(), *, device: str = "", exact: bool = False, **attrs) -> str:
        if not exact:
            name = self.unique(name)
        self.taken.add(name)
        self.ops.add(op)
        n = self.graph.node.add(name=name, op=op, input=list(inputs), device=device)
        for key, value in attrs.items():
            n.attr[key].CopyFrom(value)
        return name

    def const(self, name: str, value, *, device: str = "", fill: bool = False) -> str:
        proto = _tensor(value, fill=fill)
        return self.node(name, "Const", device=device, value=proto, dtype=_type(proto.tensor.dtype))


def _variable_def(name: str, init: str, read: str, initial: str, trainable: bool,
                  aggregation: int = 0) -> bytes:
    return variable_pb2.VariableDef(
        variable_name=f"{name}:0", initializer_name=init, snapshot_name=f"{read}:0",
        initial_value_name=f"{initial}:0", trainable=trainable, aggregation=aggregation,
    ).SerializeToString()


def build_meta_graph(variables: Mapping[str, object], *, max_to_keep: int = 5,
                     keep_checkpoint_every_n_hours: float = 10000.0, sharded: bool = False,
                     global_step_name: str | None = None, trainable: Iterable[str] | None = None,
                     initial_values: str = "values", filename: str = "model") -> meta_graph_pb2.MetaGraphDef:
    """The MetaGraphDef :func:`write_meta_graph` writes, as a proto (see that function)."""
    if not variables:
        raise ValueError("no variables: a Saver graph needs at least one variable")
    if initial_values not in ("values", "zeros"):
        raise ValueError(f"initial_values must be 'values' or 'zeros', not {initial_values!r}")
    from ..bundle.writer import as_tensor

    arrays = {name: as_tensor(v) for name, v in variables.items()}
    for name in arrays:
        if not _NODE_NAME.match(name) or name.endswith("/"):
            raise ValueError(f"{name!r} is not a valid TensorFlow node name")
    if global_step_name is None and "global_step" in arrays:
        global_step_name = "global_step"
    if global_step_name is not None and global_step_name not in arrays:
        raise ValueError(f"global_step_name {global_step_name!r} is not one of the variables")
    if trainable is None:
        trainable_set = {n for n in arrays if n != global_step_name}
    else:
        trainable_set = set(trainable)
        unknown = trainable_set - set(arrays)
        if unknown:
            raise ValueError(f"trainable names that are not variables: {sorted(unknown)}")

    g = _GraphBuilder(reserved=arrays)
    var_defs: dict[str, bytes] = {}
    datatype: dict[str, int] = {}
    initializers = []
    for name, arr in arrays.items():
        dt = dtypes.datatype_for(arr.dtype)
        datatype[name] = dt
        zeros = initial_values == "zeros" and arr.size > 0
        if zeros:  # a one-element fill over the variable's shape (a view, nothing allocated)
            zero = np.array(b"", dtype=object) if arr.dtype == object else np.zeros((), arr.dtype)
            initial = g.const(f"{name}/initial_value", np.broadcast_to(zero, arr.shape), fill=True)
        else:
            initial = g.const(f"{name}/initial_value", arr)
        g.node(name, "VariableV2", exact=True, shape=_shape(arr.shape), dtype=_type(dt),
               container=_str(""), shared_name=_str(""))
        assign = g.node(f"{name}/Assign", "Assign", [name, initial], T=_type(dt),
                        validate_shape=_bool(True), use_locking=_bool(True))
        read = g.node(f"{name}/read", "Identity", [name], T=_type(dt))
        initializers.append(assign)
        aggregation = variable_pb2.VARIABLE_AGGREGATION_ONLY_FIRST_REPLICA if name == global_step_name else 0
        var_defs[name] = _variable_def(name, assign, read, initial, name in trainable_set, aggregation)
    g.node("init", "NoOp", [f"^{a}" for a in initializers])

    saver_def = _add_saver(g, arrays, datatype, sharded=sharded, filename=filename)
    saver_def.max_to_keep = max_to_keep
    saver_def.keep_checkpoint_every_n_hours = keep_checkpoint_every_n_hours

    meta = meta_graph_pb2.MetaGraphDef()
    meta.meta_info_def.meta_graph_version = f"tfckpt_lab {__version__}"
    meta.meta_info_def.stripped_op_list.CopyFrom(op_list(g.ops))
    meta.graph_def.CopyFrom(g.graph)
    meta.saver_def.CopyFrom(saver_def)
    meta.collection_def["variables"].bytes_list.value.extend(var_defs.values())
    trainables = [var_defs[n] for n in arrays if n in trainable_set]
    if trainables:
        meta.collection_def["trainable_variables"].bytes_list.value.extend(trainables)
    if global_step_name is not None:
        meta.collection_def["global_step"].bytes_list.value.append(var_defs[global_step_name])
    return meta


def _add_saver(g: _GraphBuilder, arrays, datatype, *, sharded: bool, filename: str) -> saver_pb2.SaverDef:
    scope = g.unique("save", scope=True)
    names = sorted(arrays)
    types = [datatype[n] for n in names]
    string = types_pb2.DT_STRING
    empty = np.array([b""] * len(names), dtype=object)
    key_tensor = np.array([n.encode() for n in names], dtype=object)

    filename_input = g.const(f"{scope}/filename/input", np.array(filename.encode(), dtype=object))
    filename_node = g.node(f"{scope}/filename", "PlaceholderWithDefault", [filename_input],
                           dtype=_type(string), shape=_shape(()))
    prefix = g.node(f"{scope}/Const", "PlaceholderWithDefault", [filename_node],
                    dtype=_type(string), shape=_shape(()))

    # -- save -------------------------------------------------------------------
    target = prefix
    if sharded:
        suffix = g.const(f"{scope}/Const", np.array(_TEMP_SUFFIX.encode(), dtype=object), device=_CPU)
        joined = g.node(f"{scope}/StringJoin", "StringJoin", [prefix, suffix], device=_CPU,
                        N=_int(2), separator=_str(""))
        num_shards = g.const(f"{scope}/num_shards", np.int32(1))
        shard = g.const(f"{scope}/ShardedFilename/shard", np.int32(0), device=_CPU)
        target = g.node(f"{scope}/ShardedFilename", "ShardedFilename", [joined, shard, num_shards], device=_CPU)
    dev = _CPU if sharded else ""
    save_names = g.const(f"{scope}/SaveV2/tensor_names", key_tensor, device=dev)
    save_slices = g.const(f"{scope}/SaveV2/shape_and_slices", empty, device=dev)
    save = g.node(f"{scope}/SaveV2", "SaveV2", [target, save_names, save_slices, *names], device=dev,
                  dtypes=_types(types))
    control = g.node(f"{scope}/control_dependency", "Identity", [target, f"^{save}"], device=dev, T=_type(string))
    save_tensor = control
    if sharded:
        packed = g.node(f"{scope}/MergeV2Checkpoints/checkpoint_prefixes", "Pack", [target, f"^{control}"],
                        device=_CPU, T=_type(string), N=_int(1), axis=_int(0))
        merge = g.node(f"{scope}/MergeV2Checkpoints", "MergeV2Checkpoints", [packed, prefix], device=_CPU,
                       delete_old_dirs=_bool(True), allow_missing_files=_bool(False))
        save_tensor = g.node(f"{scope}/Identity", "Identity", [prefix, f"^{merge}", f"^{control}"],
                             device=_CPU, T=_type(string))

    # -- restore ----------------------------------------------------------------
    restore_names = g.const(f"{scope}/RestoreV2/tensor_names", key_tensor, device=_CPU)
    restore_slices = g.const(f"{scope}/RestoreV2/shape_and_slices", empty, device=_CPU)
    restore = g.node(f"{scope}/RestoreV2", "RestoreV2", [prefix, restore_names, restore_slices], device=_CPU,
                     dtypes=_types(types))
    assigns = []
    for i, name in enumerate(names):
        source = restore if i == 0 else f"{restore}:{i}"
        assigns.append(g.node(f"{scope}/Assign", "Assign", [name, source], T=_type(datatype[name]),
                              validate_shape=_bool(True), use_locking=_bool(True)))
    deps = [f"^{a}" for a in assigns]
    if sharded:
        deps = [f"^{g.node(f'{scope}/restore_shard', 'NoOp', deps)}"]
    restore_all = g.node(f"{scope}/restore_all", "NoOp", deps)

    return saver_pb2.SaverDef(
        filename_tensor_name=f"{prefix}:0", save_tensor_name=f"{save_tensor}:0",
        restore_op_name=restore_all, sharded=sharded, version=saver_pb2.SaverDef.V2)


def write_meta_graph(meta_path, variables: Mapping[str, object], *, max_to_keep: int = 5,
                     keep_checkpoint_every_n_hours: float = 10000.0, sharded: bool = False,
                     global_step_name: str | None = None, trainable: Iterable[str] | None = None,
                     initial_values: str = "values", filename: str = "model") -> str:
    """Write a ``.meta`` file for ``variables`` (name -> array) that TensorFlow can import.

    Pair it with a checkpoint of the same variables (``write_bundle(prefix, variables)``);
    then, in TensorFlow::

        saver = tf.compat.v1.train.import_meta_graph(prefix + ".meta")
        with tf.compat.v1.Session() as sess:
            saver.restore(sess, prefix)
            sess.run("w1:0")                  # the saved values

    Args:
        meta_path: where to write (conventionally ``prefix + ".meta"``).
        variables: name -> numpy array (or array-like).  Each name becomes a
            graph node and the variable's key in the checkpoint.
        max_to_keep, keep_checkpoint_every_n_hours: copied into the SaverDef.
        sharded: build the sharded save subgraph (temporary shard + merge).
        global_step_name: the step variable, put in the ``global_step`` collection
            and left out of the trainable ones.  Default: ``"global_step"`` if present.
        trainable: names of the trainable variables (default: all but the step).
        initial_values: ``"values"`` embeds each array as its initial value (what
            ``tf.Variable(array)`` does; the file grows with the model, and a proto
            cannot exceed 2 GiB); ``"zeros"`` stores one zero per variable instead.
        filename: default of the filename tensor (TensorFlow uses ``"model"``).

    Returns the path written.

    >>> import tempfile, os, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "model.meta")
    >>> _ = write_meta_graph(path, {"w1": np.ones(2, np.float32), "global_step": np.int64(7)})
    >>> from tfckpt_lab import read_meta_graph
    >>> [(v.name, v.dtype, v.shape, v.trainable) for v in read_meta_graph(path).variables]
    [('w1', 'float32', [2], True), ('global_step', 'int64', [], False)]
    """
    meta = build_meta_graph(
        variables, max_to_keep=max_to_keep, keep_checkpoint_every_n_hours=keep_checkpoint_every_n_hours,
        sharded=sharded, global_step_name=global_step_name, trainable=trainable,
        initial_values=initial_values, filename=filename)
    path = os.fspath(meta_path)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(meta.SerializeToString(deterministic=True))
    os.replace(tmp, path)
    return path
