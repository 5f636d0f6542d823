"""``tfckpt-lab objects``: draw the object graph of a TF2 checkpoint (``_CHECKPOINTABLE_OBJECT_GRAPH``).

Every mode streams: lines are printed as they are made, so a graph of a million nodes or a
chain 40,000 deep costs memory for the graph's index, not for the text.
"""

from __future__ import annotations

import json
import sys


def register(sub) -> None:
    p = sub.add_parser("objects", help="show a TF2 checkpoint's object graph (model, layers, optimizer slots)",
                       description="Decode the TrackableObjectGraph a tf.train.Checkpoint stores and draw it "
                                   "as a tree, with the checkpoint key of every value.")
    p.add_argument("checkpoint", help="checkpoint prefix (dir/ckpt-3), a file of it, or a directory")
    p.add_argument("--json", action="store_true",
                   help="print the TrackableObjectGraph proto as JSON with proto field names")
    p.add_argument("--paths", action="store_true", help="list value path -> checkpoint key instead of a tree")
    p.set_defaults(func=run)


_BIG_NODE = 1000  # a node with more children/attributes/slots than this is written element by element


def _json_chunks(graph):
    """``json_format.MessageToDict(graph.lowlevel, preserving_proto_field_name=True)`` as JSON text, one
    node (or, inside a node with many children, one child reference) at a time."""
    from google.protobuf import json_format

    def as_dict(message):
        return json_format.MessageToDict(message, preserving_proto_field_name=True)

    if not len(graph.lowlevel.nodes):
        yield "{}"
        return
    yield '{"nodes": [\n'
    for i, node in enumerate(graph.lowlevel.nodes):
        yield "" if i == 0 else ",\n"
        fields = node.ListFields()  # what MessageToDict writes, in its order (by field number)
        if sum(len(v) for f, v in fields if f.message_type and _repeated(f)) <= _BIG_NODE:
            yield json.dumps(as_dict(node))
            continue
        for j, (f, value) in enumerate(fields):
            yield ("{" if j == 0 else ", ") + json.dumps(f.name) + ": "
            if f.message_type and _repeated(f):
                yield "["
                for k, element in enumerate(value):
                    yield ("" if k == 0 else ", ") + json.dumps(as_dict(element))
                yield "]"
            else:  # the field alone, converted as MessageToDict converts it inside the node
                part = type(node)()
                if f.message_type:
                    getattr(part, f.name).CopyFrom(value)
                elif _repeated(f):
                    getattr(part, f.name).extend(value)
                else:
                    setattr(part, f.name, value)
                yield json.dumps(as_dict(part)[f.name])
        yield "}"
    yield "\n]}"


def _repeated(field) -> bool:
    is_repeated = getattr(field, "is_repeated", None)  # protobuf >= 5.29; older ones have the label
    return is_repeated if is_repeated is not None else field.label == field.LABEL_REPEATED


def run(args) -> int:
    from ..checkpoint.object_graph import read_object_graph

    graph = read_object_graph(args.checkpoint)
    out = sys.stdout
    if args.json:
        for chunk in _json_chunks(graph):
            out.write(chunk)
        out.write("\n")
    elif args.paths:
        for path, key in graph.iter_value_paths():
            out.write(f"{path}  ->  {key}\n")
    else:
        out.write(f"{graph.prefix}: {len(graph.nodes)} objects, {len(graph.checkpoint_keys())} values\n")
        for line in graph.iter_tree():
            out.write(line + "\n")
    return 0
