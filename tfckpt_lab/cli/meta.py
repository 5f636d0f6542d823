"""``tfckpt-lab meta``: summarize a ``.meta`` file (variables, saver, collections, ops, devices)."""

from __future__ import annotations

import json
import sys


def register(sub) -> None:
    p = sub.add_parser("meta", help="summarize a .meta graph: variables, saver, collections, ops",
                       description="Summarize a MetaGraphDef (.meta file) written by a TF1 Saver.")
    p.add_argument("path", help="a .meta file, a checkpoint prefix, or a checkpoint directory")
    p.add_argument("--json", action="store_true", help="machine-readable summary")
    p.add_argument("--limit", type=int, default=50, metavar="N",
                   help="list at most N variables in the text output (default 50; 0 = all)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..checkpoint.meta_graph import read_meta_graph

    mg = read_meta_graph(args.path)
    if args.json:
        json.dump(mg.to_dict(), sys.stdout, indent=1)
        print()
        return 0
    mi = mg.lowlevel.meta_info_def
    print(f"{mg.path}: {mg.size} bytes, {len(mg.lowlevel.graph_def.node)} nodes, producer {mg.producer}"
          + (f", written by TensorFlow {mi.tensorflow_version}" if mi.tensorflow_version else "")
          + (f" ({mi.meta_graph_version})" if mi.meta_graph_version else ""))
    sd = mg.saver_def
    if sd is not None:
        version = {0: "LEGACY", 1: "V1", 2: "V2"}.get(sd.version, sd.version)
        print(f"saver: {version}, sharded={sd.sharded}, max_to_keep={sd.max_to_keep}, "
              f"keep_checkpoint_every_n_hours={sd.keep_checkpoint_every_n_hours:g}")
        print(f"  feed the prefix into {sd.filename_tensor_name}; save: {sd.save_tensor_name}; "
              f"restore: {sd.restore_op_name}")
    else:
        print("saver: none")
    variables = mg.variables
    print(f"variables ({len(variables)}):")
    rows = variables if args.limit == 0 else variables[: args.limit]
    width = max((len(v.name) for v in rows), default=4)
    for v in rows:
        flags = []
        if v.trainable:
            flags.append("trainable")
        if v.is_resource:
            flags.append("resource")
        if v.device:
            flags.append(v.device)
        if v.partition:
            p = v.partition
            flags.append(f"piece of {p.full_name}{p.full_shape} at {p.var_offset}")
        print(f"  {v.name:<{width}}  {v.dtype or '?':<8} {v.shape}  {' '.join(flags)}")
    if len(rows) < len(variables):
        print(f"  ... {len(variables) - len(rows)} more (--limit 0 lists all)")
    print("collections:")
    for name, (kind, n) in mg.collections.items():
        print(f"  {name}: {n} in {kind}")
    print("ops:", ", ".join(f"{op} x{n}" for op, n in sorted(mg.op_counts.items())))
    print("devices:", ", ".join(f"{d or '(none)'} x{n}" for d, n in sorted(mg.devices.items())))
    return 0
