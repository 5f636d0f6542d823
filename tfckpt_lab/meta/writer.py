"""Write a ``.meta`` file (a ``MetaGraphDef``): the graph TensorFlow 2.x's ``tf.compat.v1`` Saver writes.

    MetaGraphDef
      meta_info_def     MetaInfoDef   stripped_op_list: the OpDefs of every op used below
      graph_def         GraphDef      the nodes listed below
      saver_def         SaverDef      names of save/Const:0, the save tensor, save/restore_all
      collection_def    map           "variables", "trainable_variables" [, "global_step"]:
                                      one serialized VariableDef per variable (is_resource: true)

The graph, for each variable ``w`` (a resource variable, what ``tf.compat.v1.get_variable``
makes under TensorFlow 2.x), in the order TF 2.21 creates the nodes::

    w/Initializer/zeros               Const              one zero repeated over w's shape: no values
    w                                 VarHandleOp        dtype, shape, shared_name "w"
    w/IsInitialized/VarIsInitializedOp VarIsInitializedOp (w)
    w/Assign                          AssignVariableOp   (w, w/Initializer/zeros)  <- the initializer
    w/Read/ReadVariableOp             ReadVariableOp     (w)                       <- the snapshot
    init                              NoOp               (^w/Assign, ...)

and the saver subgraph, under the name scope ``save``::

    save/filename/input             Const "model"
    save/filename, save/Const       PlaceholderWithDefault      <- feed the checkpoint prefix here
    save/SaveV2/tensor_names        Const [keys], sorted
    save/SaveV2/shape_and_slices    Const ["" ...]              ("" = the whole tensor)
    save/SaveV2                     SaveV2 (save/Const, names, slices, w/Read/ReadVariableOp, ...)
    save/control_dependency         Identity (save/Const, ^save/SaveV2)   <- save_tensor_name
    save/RestoreV2[/tensor_names, /shape_and_slices]   RestoreV2, one output per key
    save/Identity, save/Identity_1 ...                 Identity (save/RestoreV2:i)
    save/AssignVariableOp, save/AssignVariableOp_1 ... AssignVariableOp (w, save/Identity_i)
    save/restore_all                NoOp (^save/AssignVariableOp, ...)    <- restore_op_name

With ``sharded=True`` the save writes a temporary shard and merges it into ``<prefix>``:
``StaticRegexFullMatch(save/Const, "^s3://.*")`` picks the suffix (``".part"`` on S3,
``"_temp/part"`` elsewhere; ``Select``), ``StringJoin`` + ``ShardedFilename`` name the
shard, ``Pack`` + ``MergeV2Checkpoints`` merge it; ``save/Identity`` is then the save
tensor and ``save/restore_shard`` sits under ``restore_all``.

A checkpoint key and a graph node name are two different things: ``tensor_names``
holds the keys, while the nodes are named by :func:`graph_node_name` -- the key
itself when it is a valid node name, else a cleaned-up copy (``"a:b"`` -> ``"a_b"``).

Nothing here holds a saved value: every initializer is a one-value fill
(``initial_values="values"`` embeds the arrays instead, as ``tf.Variable(array)``
would), so the file's size does not depend on the values, and two checkpoints of
the same variables get byte-identical ``.meta`` files.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

import numpy as np

from .. import dtypes
from .._version import __version__
from ..dtypes import as_tensor
from ..errors import UnsupportedError
from ..protos import attr_value_pb2, graph_pb2, meta_graph_pb2, saver_pb2, types_pb2, variable_pb2, versions_pb2
from .op_defs import op_list
from .tensors import make_tensor_proto, shape_proto

__all__ = ["write_meta_graph", "build_meta_graph", "graph_node_name", "GRAPH_PRODUCER", "NO_VARIABLE_KERNEL"]

# GraphDef.versions.producer: the graph version of TensorFlow 2.21, which wrote our fixtures.
# Consumers only reject a graph whose min_consumer is above their own version (ours is 0).
GRAPH_PRODUCER = 2474

# A node name TensorFlow's importer accepts (IsValidNodeName in node_def_util.cc): a letter,
# digit or dot, then letters, digits and "_-./"; ">" may join two such pieces.  (Python's own
# check also allows a backslash, which the importer then refuses.)
_PIECE = r"[A-Za-z0-9.][A-Za-z0-9_./-]*"
_VALID_NODE_NAME = re.compile(rf"^{_PIECE}(?:>{_PIECE})*$")
_NOT_NODE_CHAR = re.compile(r"[^A-Za-z0-9_./-]")
_CPU = "/device:CPU:0"
_ANY_CPU = "/device:CPU:*"
_TEMP_SUFFIX = "_temp/part"
_S3_SUFFIX = ".part"
_S3_PATTERN = "^s3://.*"

# DataTypes a TensorFlow variable cannot hold: TF 2.21 registers no AssignVariableOp (nor Assign)
# kernel for them, so no graph it runs can initialize or restore such a variable.  Their values
# are still readable (tf.train.load_checkpoint, RestoreV2); only a .meta for them is pointless.
NO_VARIABLE_KERNEL = {26: "float8_e4m3fnuz", 27: "float8_e4m3b11fnuz", 28: "float8_e5m2fnuz"}


def graph_node_name(key: str) -> str:
    """The node name our graphs give the variable saved under checkpoint key ``key``.

    A key that is a valid node name is kept.  Otherwise every character other than
    ``A-Z a-z 0-9 _ . - /`` becomes ``_`` (TensorFlow's own rule for turning a
    feature-column name into a variable scope), a trailing ``/`` becomes ``_``, and a
    name that cannot start a node (``_x``, ``-x``, ``/x``) gets ``var`` in front.
    Clashes are resolved by the graph (``a_b``, ``a_b_1``...).

    >>> graph_node_name("layer1/w"), graph_node_name("a:b"), graph_node_name("ünï/cödé")
    ('layer1/w', 'a_b', 'var_n_/c_d_')
    >>> graph_node_name("with space"), graph_node_name("_private"), graph_node_name("dir/")
    ('with_space', 'var_private', 'dir_')
    """
    if _VALID_NODE_NAME.match(key) and not key.endswith("/"):
        return key
    name = _NOT_NODE_CHAR.sub("_", key)
    if name.endswith("/"):
        name = name[:-1] + "_"
    if not re.match(r"[A-Za-z0-9.]", name):
        name = "var" + name
    return name


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


def _empty_list() -> attr_value_pb2.AttrValue:
    return attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue())


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
        # TensorFlow serializes data inputs in order, then the control inputs sorted by name.
        data = [i for i in inputs if not i.startswith("^")]
        control = sorted(i for i in inputs if i.startswith("^"))
        n = self.graph.node.add(name=name, op=op, input=data + control, device=device)
        for key, value in attrs.items():
            n.attr[key].CopyFrom(value)
        return name

    def const(self, name: str, value, *, device: str = "", fill: bool = False) -> str:
        proto = _tensor(value, fill=fill)
        return self.node(name, "Const", device=device, value=proto, dtype=_type(proto.tensor.dtype))


def _variable_def(name: str, init: str, read: str, initial: str, trainable: bool,
                  aggregation: int = 0) -> bytes:
    return variable_pb2.VariableDef(
        variable_name=f"{name}:0", initializer_name=init, snapshot_name=f"{read}:0", is_resource=True,
        initial_value_name=f"{initial}:0", trainable=trainable, aggregation=aggregation,
    ).SerializeToString()


def _node_names(keys: list[str]) -> dict[str, str]:
    """key -> node name: valid keys keep their names first, the others get cleaned-up, unique ones."""
    names = {k: k for k in keys if graph_node_name(k) == k}
    taken = set(names.values())
    for k in keys:
        if k not in names:
            base = candidate = graph_node_name(k)
            i = 0
            while candidate in taken:
                i += 1
                candidate = f"{base}_{i}"
            names[k] = candidate
            taken.add(candidate)
    return {k: names[k] for k in keys}


def _check_keys(variables: Mapping) -> None:
    for key in variables:
        if not isinstance(key, str):
            raise TypeError(f"variable names must be str, not {type(key).__name__} ({key!r})")
        if not key:
            raise ValueError("the empty name is reserved for the bundle header")


def build_meta_graph(variables: Mapping[str, object], *, max_to_keep: int = 5,
                     keep_checkpoint_every_n_hours: float = 10000.0, sharded: bool = False,
                     global_step_name: str | None = None, trainable: Iterable[str] | None = None,
                     initial_values: str = "zeros", filename: str = "model") -> meta_graph_pb2.MetaGraphDef:
    """The MetaGraphDef :func:`write_meta_graph` writes, as a proto (see that function)."""
    if not variables:
        raise ValueError("no variables: a Saver graph needs at least one variable")
    if initial_values not in ("values", "zeros"):
        raise ValueError(f"initial_values must be 'values' or 'zeros', not {initial_values!r}")
    _check_keys(variables)
    arrays = {key: as_tensor(v) for key, v in variables.items()}
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
    datatype = {key: dtypes.datatype_for(arr.dtype) for key, arr in arrays.items()}
    for key, dt in datatype.items():
        if dt in NO_VARIABLE_KERNEL:
            raise UnsupportedError(
                f"variable {key!r} has dtype {NO_VARIABLE_KERNEL[dt]}: TensorFlow (2.21) has no kernel that assigns "
                "this dtype to a variable, so no .meta graph can restore it; save it without a meta graph "
                "(TensorFlow still reads the value with tf.train.load_checkpoint)")
    nodes = _node_names(list(arrays))

    g = _GraphBuilder(reserved=nodes.values())
    var_defs: dict[str, bytes] = {}
    initializers = []
    for key, arr in arrays.items():
        name = nodes[key]
        dt = datatype[key]
        if initial_values == "zeros":  # one value over the variable's shape (a view, nothing allocated)
            zero = np.array(b"", dtype=object) if arr.dtype == object else np.zeros((), arr.dtype)
            initial = g.const(f"{name}/Initializer/zeros", np.broadcast_to(zero, arr.shape), fill=True)
        else:
            initial = g.const(f"{name}/Initializer/initial_value", arr)
        g.node(name, "VarHandleOp", exact=True, shared_name=_str(name), shape=_shape(arr.shape),
               dtype=_type(dt), container=_str(""), allowed_devices=_empty_list())
        g.node(f"{name}/IsInitialized/VarIsInitializedOp", "VarIsInitializedOp", [name])
        assign = g.node(f"{name}/Assign", "AssignVariableOp", [name, initial], validate_shape=_bool(False),
                        dtype=_type(dt))
        read = g.node(f"{name}/Read/ReadVariableOp", "ReadVariableOp", [name], dtype=_type(dt))
        initializers.append(assign)
        aggregation = variable_pb2.VARIABLE_AGGREGATION_ONLY_FIRST_REPLICA if key == global_step_name else 0
        var_defs[key] = _variable_def(name, assign, read, initial, key in trainable_set, aggregation)
    g.node("init", "NoOp", [f"^{a}" for a in initializers])

    saver_def = _add_saver(g, nodes, datatype, sharded=sharded, filename=filename)
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


def _add_saver(g: _GraphBuilder, nodes: dict[str, str], datatype, *, sharded: bool,
               filename: str) -> saver_pb2.SaverDef:
    """The ``save`` subgraph of ``tf.compat.v1.train.Saver(var_list={key: variable})``: keys sorted."""
    scope = g.unique("save", scope=True)
    keys = sorted(nodes)
    types = [datatype[k] for k in keys]
    string = types_pb2.DT_STRING
    empty = np.array([b""] * len(keys), dtype=object)
    key_tensor = np.array([k.encode() for k in keys], dtype=object)
    reads = [f"{nodes[k]}/Read/ReadVariableOp" for k in keys]

    filename_input = g.const(f"{scope}/filename/input", np.array(filename.encode(), dtype=object))
    filename_node = g.node(f"{scope}/filename", "PlaceholderWithDefault", [filename_input],
                           dtype=_type(string), shape=_shape(()))
    prefix = g.node(f"{scope}/Const", "PlaceholderWithDefault", [filename_node],
                    dtype=_type(string), shape=_shape(()))

    # -- save -------------------------------------------------------------------
    target = prefix
    if sharded:
        on_s3 = g.node(f"{scope}/StaticRegexFullMatch", "StaticRegexFullMatch", [prefix], device=_ANY_CPU,
                       pattern=_str(_S3_PATTERN))
        s3_suffix = g.const(f"{scope}/Const", np.array(_S3_SUFFIX.encode(), dtype=object), device=_ANY_CPU)
        suffix = g.const(f"{scope}/Const", np.array(_TEMP_SUFFIX.encode(), dtype=object), device=_ANY_CPU)
        chosen = g.node(f"{scope}/Select", "Select", [on_s3, s3_suffix, suffix], device=_ANY_CPU, T=_type(string))
        joined = g.node(f"{scope}/StringJoin", "StringJoin", [prefix, chosen], device=_ANY_CPU,
                        separator=_str(""), N=_int(2))
        num_shards = g.const(f"{scope}/num_shards", np.int32(1))
        shard = g.const(f"{scope}/ShardedFilename/shard", np.int32(0), device=_CPU)
        target = g.node(f"{scope}/ShardedFilename", "ShardedFilename", [joined, shard, num_shards], device=_CPU)
    dev = _CPU if sharded else ""
    save_names = g.const(f"{scope}/SaveV2/tensor_names", key_tensor, device=dev)
    save_slices = g.const(f"{scope}/SaveV2/shape_and_slices", empty, device=dev)
    save = g.node(f"{scope}/SaveV2", "SaveV2", [target, save_names, save_slices, *reads], device=dev,
                  dtypes=_types(types))
    control = g.node(f"{scope}/control_dependency", "Identity", [target, f"^{save}"], device=dev, T=_type(string))
    save_tensor = control
    if sharded:
        packed = g.node(f"{scope}/MergeV2Checkpoints/checkpoint_prefixes", "Pack", [target, f"^{control}"],
                        device=_CPU, N=_int(1), T=_type(string), axis=_int(0))
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
    for i, key in enumerate(keys):
        value = g.node(f"{scope}/Identity", "Identity", [restore if i == 0 else f"{restore}:{i}"],
                       T=_type(datatype[key]))
        assigns.append(g.node(f"{scope}/AssignVariableOp", "AssignVariableOp", [nodes[key], value],
                              validate_shape=_bool(False), dtype=_type(datatype[key])))
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
                     initial_values: str = "zeros", filename: str = "model") -> str:
    """Write a ``.meta`` file for ``variables`` (key -> array) that TensorFlow can import and restore.

    The graph is the one TensorFlow 2.x's ``tf.compat.v1.train.Saver`` writes for
    resource variables made with a zeros initializer (see the module docstring).
    Pair it with a checkpoint of the same variables (``write_bundle(prefix, variables)``);
    then, in TensorFlow::

        saver = tf.compat.v1.train.import_meta_graph(prefix + ".meta")
        with tf.compat.v1.Session() as sess:
            saver.restore(sess, prefix)
            sess.run("w1/Read/ReadVariableOp:0")   # the saved values ("w1:0" is the resource handle)

    Args:
        meta_path: where to write (conventionally ``prefix + ".meta"``).
        variables: checkpoint key -> numpy array (or array-like).  Only the dtype
            and shape are used (unless ``initial_values="values"``).  Each variable's
            node is named :func:`graph_node_name` (key)``.
        max_to_keep, keep_checkpoint_every_n_hours: copied into the SaverDef.
        sharded: build the sharded save subgraph (temporary shard + merge).
        global_step_name: the step variable, put in the ``global_step`` collection
            and left out of the trainable ones.  Default: ``"global_step"`` if present.
        trainable: keys of the trainable variables (default: all but the step).
        initial_values: ``"zeros"`` (default) gives each variable a zeros initializer
            holding a single value, as ``tf.zeros_initializer`` does, so the file
            holds no saved value and its size does not grow with the model;
            ``"values"`` embeds each array as its initial value (what
            ``tf.Variable(array)`` does; the file grows with the model, and a proto
            cannot exceed 2 GiB).
        filename: default of the filename tensor (TensorFlow uses ``"model"``).

    Returns the path written.

    >>> import tempfile, os, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "model.meta")
    >>> _ = write_meta_graph(path, {"w1": np.ones(2, np.float32), "global_step": np.int64(7)})
    >>> from tfckpt_lab import read_meta_graph
    >>> [(v.name, v.dtype, v.shape, v.trainable, v.op) for v in read_meta_graph(path).variables]
    [('w1', 'float32', [2], True, 'VarHandleOp'), ('global_step', 'int64', [], False, 'VarHandleOp')]
    """
    meta = build_meta_graph(
        variables, max_to_keep=max_to_keep, keep_checkpoint_every_n_hours=keep_checkpoint_every_n_hours,
        sharded=sharded, global_step_name=global_step_name, trainable=trainable,
        initial_values=initial_values, filename=filename)
    return write_meta_graph_proto(meta_path, meta)


def write_meta_graph_proto(meta_path, meta: meta_graph_pb2.MetaGraphDef) -> str:
    """Write an already built MetaGraphDef to ``meta_path`` (temporary name, then rename)."""
    path = os.fspath(meta_path)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(meta.SerializeToString(deterministic=True))
    os.replace(tmp, path)
    return path
