"""``tfckpt-lab objects``: draw the object graph of a TF2 checkpoint (``_CHECKPOINTABLE_OBJECT_GRAPH``)."""

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


def run(args) -> int:
    from ..meta.object_graph import read_object_graph

    graph = read_object_graph(args.checkpoint)
    if args.json:
        json.dump(graph.to_dict(), sys.stdout, indent=1)
        print()
    elif args.paths:
        for path, key in graph.value_paths().items():
            print(f"{path}  ->  {key}")
    else:
        print(f"{graph.prefix}: {len(graph.nodes)} objects, {len(graph.checkpoint_keys())} values")
        print(graph.tree())
    return 0
