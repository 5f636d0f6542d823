"""``tfckpt-lab layout``: what every byte of a checkpoint's files is (the region tree).

Takes one file, a checkpoint prefix (all of its files) or a directory (its latest
checkpoint), like the other commands.
"""

from __future__ import annotations

import json
import os
import sys


def register(sub) -> None:
    p = sub.add_parser("layout", help="explain a file byte by byte: its tree of labelled regions",
                       description="Print the byte-region tree of a checkpoint file (.index, .data-*, .meta or "
                                   "checkpoint), or of every file of a checkpoint (a prefix, or a directory for "
                                   "its latest checkpoint): every region's [start, end), kind, label, value and "
                                   "meaning.")
    p.add_argument("path", metavar="FILE|PREFIX|DIR",
                   help="a .index, .data-NNNNN-of-NNNNN, .meta or 'checkpoint' file; a checkpoint prefix "
                        "(dir/model-1000: all its files); or a directory (its latest checkpoint)")
    p.add_argument("--json", action="store_true", help="the region tree as JSON (start, end, kind, label, "
                   "value, explanation, children); for a prefix or directory {\"prefix\": ..., \"files\": "
                   "{path: tree}}")
    p.add_argument("--depth", type=int, default=None,
                   help="levels below the file to show (default: 2 for text, all for --json)")
    p.add_argument("--max-children", type=int, default=20, help="children listed per region in text output")
    p.add_argument("--at", type=int, metavar="OFFSET", help="only the regions containing byte OFFSET (one file)")
    p.set_defaults(func=run)


def _trees(path: str) -> tuple[str | None, dict]:
    """``(prefix or None, {file: tree})`` for a file, a prefix or a directory."""
    from ..checkpoint.reader import resolve_prefix
    from ..errors import CheckpointNotFoundError
    from ..explain import layout, layouts
    from ..remote import is_url, isdir, path_exists

    # a file of any kind (a FIFO or a device too: layout refuses it by name) is laid out alone
    if ((os.path.exists(path) and not os.path.isdir(path)) if not is_url(path)
            else (not isdir(path) and path_exists(path))):
        return None, {path: layout(path)}
    prefix = resolve_prefix(path)  # a directory: its latest checkpoint (or a clear error)
    from ..v1.reader import v1_files

    if not path_exists(prefix + ".index") and not v1_files(prefix):  # neither V2 nor V1 files there
        raise CheckpointNotFoundError("no such file, and no checkpoint with this prefix (no "
                                      f"{os.path.basename(prefix)}.index)", path=path)
    return prefix, layouts(prefix)


def run(args) -> int:
    from ..explain import region_path

    try:
        prefix, trees = _trees(args.path)
    except OSError as exc:  # e.g. permission denied: one line, like every other error
        from ..errors import CheckpointError

        if isinstance(exc, CheckpointError):
            raise
        print(f"tfckpt-lab: error: {args.path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    if args.at is not None:
        if len(trees) != 1:
            names = ", ".join(os.path.basename(p) for p in trees)
            print(f"tfckpt-lab: error: --at needs one file; {args.path} has {len(trees)}: {names}", file=sys.stderr)
            return 2
        tree = next(iter(trees.values()))
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
        if prefix is None:
            for piece in next(iter(trees.values())).iter_json(max_depth=args.depth):
                write(piece)
        else:
            write(json.dumps({"prefix": prefix})[:-1] + ', "files": {')
            for i, (path, tree) in enumerate(trees.items()):
                write((", " if i else "") + json.dumps(path) + ": ")
                for piece in tree.iter_json(max_depth=args.depth):
                    write(piece)
            write("}}")
        print()
        return 0
    depth = 2 if args.depth is None else args.depth
    for i, (path, tree) in enumerate(trees.items()):
        if prefix is not None:
            print(("\n" if i else "") + f"== {path}")
        print(tree.format_tree(max_depth=depth, max_children=args.max_children))
    return 0
