"""``tfckpt-lab diff``: compare two checkpoints, or a checkpoint with a .meta / .safetensors / .npz.

Exit status: 0 identical, 1 different, 2 error.
"""

from __future__ import annotations

import json
import sys


def register(sub) -> None:
    p = sub.add_parser("diff", help="compare two checkpoints (or a .meta/.safetensors/.npz); exit 1 if they differ",
                       description="Compare A and B tensor by tensor: names only in A or B, shape/dtype "
                                   "mismatches, changed values (max abs difference) and likely renames. "
                                   "Exit status 0 when identical, 1 when they differ, 2 on error.")
    p.add_argument("a", help="a checkpoint (prefix, directory or URL), .meta, .safetensors or .npz")
    p.add_argument("b", help="the same kinds")
    p.add_argument("--json", action="store_true",
                   help="print {only_in_a, only_in_b, mismatched, changed, same, renames, ...} as JSON")
    p.add_argument("--atol", type=float, default=0.0, metavar="X",
                   help="values differing by at most X are the same (default 0: bit for bit)")
    p.add_argument("--names-only", action="store_true", help="compare names, shapes and dtypes, not values")
    p.add_argument("--limit", type=int, default=50, metavar="N", help="names listed per section (0 = all)")
    p.set_defaults(func=run)


def _shape(item) -> str:
    return f"{item['dtype']}{item['shape']}"


def run(args) -> int:
    from ..diff import compare
    from ..errors import CheckpointError

    try:
        result = compare(args.a, args.b, atol=args.atol, values=not args.names_only)
    except (CheckpointError, OSError, ValueError) as exc:
        print(f"tfckpt-lab: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_dict(), indent=1, allow_nan=False))
        return 0 if result.identical else 1
    print(f"A: {result.a}\nB: {result.b}")

    def section(title, items, fmt):
        if not items:
            return
        print(f"{title} ({len(items)}):")
        shown = items if args.limit == 0 else items[: args.limit]
        for it in shown:
            print("  " + fmt(it))
        if len(shown) < len(items):
            print(f"  ... {len(items) - len(shown)} more (--limit 0 lists all)")

    section("only in A", result.only_in_a, lambda it: f"{it['name']}  {_shape(it)}")
    section("only in B", result.only_in_b, lambda it: f"{it['name']}  {_shape(it)}")
    section("shape/dtype differ", result.mismatched,
            lambda it: f"{it['name']}  A: {_shape(it['a'])}  B: {_shape(it['b'])}")
    section("changed", result.changed, lambda it: f"{it['name']}  {_shape(it)}  " + (
        f"max |a-b| = {it['max_abs_diff']:.6g}" if it.get("max_abs_diff") is not None
        else f"{it.get('elements_changed', '?')} element(s) differ"))
    section("possible renames (same shape and dtype, similar path)", result.renames,
            lambda it: f"{it['a']}  ->  {it['b']}  {it['dtype']}{it['shape']}")
    print(("identical: " if result.identical else "different: ") + result.summary())
    return 0 if result.identical else 1
