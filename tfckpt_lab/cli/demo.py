"""``tfckpt-lab demo``: write the classic two-variable example checkpoint and describe it."""

from __future__ import annotations

import os


def register(sub) -> None:
    p = sub.add_parser("demo", help="write a small demo checkpoint and show what is inside",
                       description="Write the two-variable example (w1: [2], w2: [5]) into DIR, saved "
                                   "twice (my_test_model-0 as initialized, my_test_model-1000 after "
                                   "training), and list its files and the newer one's tensors.")
    p.add_argument("directory", nargs="?", default="tfckpt_demo", help="where to write (default: ./tfckpt_demo)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..demo import make_demo_checkpoint

    prefix = make_demo_checkpoint(args.directory)
    print(f"wrote {prefix}")
    for name in sorted(os.listdir(args.directory)):
        path = os.path.join(args.directory, name)
        print(f"  {os.path.getsize(path):>8}  {name}")
    from ..cli import main

    print()
    return main(["inspect", prefix])
