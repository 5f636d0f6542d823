"""``tfckpt-lab layout``: what every byte of a checkpoint file is (the region tree)."""

from __future__ import annotations

import json
import sys


def register(sub) -> None:
    p = sub.add_parser("layout", help="explain a file byte by byte: its tree of labelled regions",
                       description="Print the byte-region tree of one checkpoint file (.index, .data-*, "
                                   ".meta or checkpoint): every region's [start, end), kind, label, value "
                                   "and meaning.")
    p.add_argument("file", help="a .index, .data-NNNNN-of-NNNNN, .meta or 'checkpoint' file")
    p.add_argument("--json", action="store_true", help="the region tree as JSON (start, end, kind, label, "
                   "value, explanation, children)")
    p.add_argument("--depth", type=int, default=None,
                   help="levels below the file to show (default: 2 for text, all for --json)")
    p.add_argument("--max-children", type=int, default=20, help="children listed per region in text output")
    p.add_argument("--at", type=int, metavar="OFFSET", help="only the regions containing byte OFFSET")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..explain import layout, region_path

    tree = layout(args.file)
    if args.at is not None:
        chain = region_path(tree, args.at)
        if not chain:
            print(f"tfckpt-lab: error: byte {args.at} is outside the {tree.end}-byte file", file=sys.stderr)
            return 1
        if args.json:
            json.dump([dict(r.to_dict(max_depth=0), children=[]) for r in chain], sys.stdout, indent=1)
            print()
        else:
            for depth, r in enumerate(chain):
                print("  " * depth + r.describe())
        return 0
    if args.json:  # written as it is built: bounded memory however many regions there are
        write = sys.stdout.write
        for piece in tree.iter_json(max_depth=args.depth):
            write(piece)
        print()
        return 0
    print(tree.format_tree(max_depth=2 if args.depth is None else args.depth, max_children=args.max_children))
    return 0
