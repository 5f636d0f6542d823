"""``tfckpt-lab export``: a checkpoint's tensors to ``.safetensors`` or ``.npz`` (see :mod:`tfckpt_lab.exporting`)."""

from __future__ import annotations

import json
import sys


def register(sub) -> None:
    p = sub.add_parser("export", help="write a checkpoint's tensors to .safetensors or .npz",
                       description="Write every numeric tensor of a checkpoint, bit for bit, to a .safetensors "
                                   "or .npz file (chosen by OUT's suffix). String and variant tensors and the "
                                   "TF2 object graph are skipped with a notice on stderr; a dtype the format "
                                   "cannot keep is refused before anything is written.")
    p.add_argument("checkpoint", help="checkpoint prefix, a file of it, a directory or a URL")
    p.add_argument("out", help="the file to write: NAME.safetensors or NAME.npz")
    p.add_argument("--skip-optimizer", action="store_true",
                   help="leave out optimizer slots and state (TF2: from the object graph; TF1: slot names)")
    p.add_argument("--names", choices=("keys", "object-paths"), default="keys",
                   help="keys: the checkpoint's keys (default); object-paths (TF2 only): model/dense/kernel")
    p.add_argument("--json", action="store_true", help="print what was written and skipped as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..exporting import export

    report = export(args.checkpoint, args.out, skip_optimizer=args.skip_optimizer, names=args.names)
    if args.json:
        print(json.dumps(report.to_dict(), indent=1))
        return 0
    for key, reason in report.skipped:
        print(f"skipped {key}: {reason}", file=sys.stderr)
    print(f"{report.out}: {len(report.written)} tensors, {report.bytes_written} bytes "
          f"({len(report.skipped)} skipped)")
    return 0
