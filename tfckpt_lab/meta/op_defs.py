"""The OpDefs that graphs written by :mod:`tfckpt_lab.meta.writer` use.

A ``.meta`` file lists, in ``meta_info_def.stripped_op_list``, the signature of
every op kind its graph uses, without documentation.  An importer uses the list
to know which attrs the producer filled in from defaults.  The signatures are
facts about TensorFlow's op registry; they are written out here by hand, and
``tests/test_meta.py`` checks each one against the registry of a real
TensorFlow.

Notation of the table below, per op::

    inputs / outputs:  (name, type)   type is a DataType name ("string", "int32")
                                      or the name of the type attr ("T", "dtype");
                       suffix "*N": a list whose length is attr N;
                       suffix "[]": a list of types from a list(type) attr;
                       "resource" is a handle to a resource variable.
    attrs:             (name, attr type, default or NO_DEFAULT, minimum or None)
"""

from __future__ import annotations

from ..protos import attr_value_pb2, op_def_pb2, types_pb2

__all__ = ["OP_TABLE", "op_def", "op_list"]

NO_DEFAULT = object()

OP_TABLE: dict[str, dict] = {
    "AssignVariableOp": dict(
        inputs=[("resource", "resource"), ("value", "dtype")],
        attrs=[("dtype", "type", NO_DEFAULT, None), ("validate_shape", "bool", False, None)],
        is_stateful=True),
    "Const": dict(
        outputs=[("output", "dtype")],
        attrs=[("value", "tensor", NO_DEFAULT, None), ("dtype", "type", NO_DEFAULT, None)]),
    "Identity": dict(
        inputs=[("input", "T")], outputs=[("output", "T")],
        attrs=[("T", "type", NO_DEFAULT, None)]),
    "MergeV2Checkpoints": dict(
        inputs=[("checkpoint_prefixes", "string"), ("destination_prefix", "string")],
        attrs=[("delete_old_dirs", "bool", True, None), ("allow_missing_files", "bool", False, None)],
        is_stateful=True),
    "NoOp": dict(),
    "Pack": dict(
        inputs=[("values", "T*N")], outputs=[("output", "T")],
        attrs=[("N", "int", NO_DEFAULT, 1), ("T", "type", NO_DEFAULT, None), ("axis", "int", 0, None)]),
    "PlaceholderWithDefault": dict(
        inputs=[("input", "dtype")], outputs=[("output", "dtype")],
        attrs=[("dtype", "type", NO_DEFAULT, None), ("shape", "shape", NO_DEFAULT, None)]),
    "ReadVariableOp": dict(
        inputs=[("resource", "resource")], outputs=[("value", "dtype")],
        attrs=[("dtype", "type", NO_DEFAULT, None)],
        is_stateful=True),
    "RestoreV2": dict(
        inputs=[("prefix", "string"), ("tensor_names", "string"), ("shape_and_slices", "string")],
        outputs=[("tensors", "dtypes[]")],
        attrs=[("dtypes", "list(type)", NO_DEFAULT, 1)],
        is_stateful=True),
    "SaveV2": dict(
        inputs=[("prefix", "string"), ("tensor_names", "string"), ("shape_and_slices", "string"),
                ("tensors", "dtypes[]")],
        attrs=[("dtypes", "list(type)", NO_DEFAULT, 1)],
        is_stateful=True),
    "Select": dict(
        inputs=[("condition", "bool"), ("t", "T"), ("e", "T")], outputs=[("output", "T")],
        attrs=[("T", "type", NO_DEFAULT, None)]),
    "ShardedFilename": dict(
        inputs=[("basename", "string"), ("shard", "int32"), ("num_shards", "int32")],
        outputs=[("filename", "string")]),
    "StaticRegexFullMatch": dict(
        inputs=[("input", "string")], outputs=[("output", "bool")],
        attrs=[("pattern", "string", NO_DEFAULT, None)]),
    "StringJoin": dict(
        inputs=[("inputs", "string*N")], outputs=[("output", "string")],
        attrs=[("N", "int", NO_DEFAULT, 0), ("separator", "string", "", None)]),
    "VarHandleOp": dict(
        outputs=[("resource", "resource")],
        attrs=[("container", "string", "", None), ("shared_name", "string", "", None),
               ("debug_name", "string", "", None), ("dtype", "type", NO_DEFAULT, None),
               ("shape", "shape", NO_DEFAULT, None), ("allowed_devices", "list(string)", [], None)],
        is_stateful=True),
    "VarIsInitializedOp": dict(
        inputs=[("resource", "resource")], outputs=[("is_initialized", "bool")],
        is_stateful=True),
}

_DATATYPE_BY_NAME = {"string": types_pb2.DT_STRING, "int32": types_pb2.DT_INT32,
                     "bool": types_pb2.DT_BOOL, "resource": types_pb2.DT_RESOURCE}


def _arg(name: str, spec: str) -> op_def_pb2.OpDef.ArgDef:
    arg = op_def_pb2.OpDef.ArgDef(name=name)
    if spec.endswith("[]"):
        arg.type_list_attr = spec[:-2]
        return arg
    if "*" in spec:
        spec, arg.number_attr = spec.split("*")
    if spec in _DATATYPE_BY_NAME:
        arg.type = _DATATYPE_BY_NAME[spec]
    else:
        arg.type_attr = spec
    return arg


def _default(kind: str, value) -> attr_value_pb2.AttrValue:
    if kind == "bool":
        return attr_value_pb2.AttrValue(b=value)
    if kind == "int":
        return attr_value_pb2.AttrValue(i=value)
    if kind == "string":
        return attr_value_pb2.AttrValue(s=value.encode())
    if kind == "list(string)":
        return attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(s=[v.encode() for v in value]))
    raise ValueError(f"no default of attr type {kind!r} in this table")


def op_def(name: str) -> op_def_pb2.OpDef:
    """The OpDef of ``name`` (one of :data:`OP_TABLE`), as a stripped op list holds it.

    >>> print(op_def("Identity"))  # doctest: +NORMALIZE_WHITESPACE
    name: "Identity" input_arg { name: "input" type_attr: "T" }
    output_arg { name: "output" type_attr: "T" } attr { name: "T" type: "type" }
    """
    spec = OP_TABLE[name]
    op = op_def_pb2.OpDef(name=name)
    op.input_arg.extend(_arg(n, s) for n, s in spec.get("inputs", ()))
    op.output_arg.extend(_arg(n, s) for n, s in spec.get("outputs", ()))
    for attr_name, kind, default, minimum in spec.get("attrs", ()):
        attr = op.attr.add(name=attr_name, type=kind)
        if default is not NO_DEFAULT:
            attr.default_value.CopyFrom(_default(kind, default))
        if minimum is not None:
            attr.has_minimum, attr.minimum = True, minimum
    op.is_stateful = spec.get("is_stateful", False)
    op.allows_uninitialized_input = spec.get("allows_uninitialized_input", False)
    return op


def op_list(names) -> op_def_pb2.OpList:
    """An OpList of the given op kinds, sorted by name (as TensorFlow sorts a stripped op list)."""
    return op_def_pb2.OpList(op=[op_def(n) for n in sorted(set(names))])
