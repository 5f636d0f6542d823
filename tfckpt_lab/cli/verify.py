"""``tfckpt-lab verify``: check every checksum; exit 1 and list every problem if any fails."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("verify", help="check every block and tensor checksum (exit 1 on any problem)",
                       description="Check every block and tensor checksum of a checkpoint and report "
                                   "every problem found, with the file and byte range.")
    p.add_argument("checkpoint", help="checkpoint prefix, a file of it, or a directory (its latest)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..checkpoint.reader import resolve_prefix
    from ..checkpoint.state import retry_on_rotation
    from ..checkpoint.verify import verify_checkpoint

    # A directory's latest checkpoint may be rotated away by a running save while it is checked.
    report = retry_on_rotation(args.checkpoint, verify_checkpoint, resolve=resolve_prefix,
                               succeeded=lambda r: r.ok)
    if args.json:
        print(json.dumps(report.to_dict(), indent=1))
    else:
        for p in report.problems:
            print(f"PROBLEM {p}")
        status = "OK" if report.ok else f"FAILED ({len(report.problems)} problem(s))"
        print(f"{report.prefix}: {status}: {_count(report.blocks_checked, 'index block')}, "
              f"{_count(report.tensors_checked, 'tensor')} (failing ones included), "
              f"{_count(report.bytes_checked, 'byte')} checked")
    return 0 if report.ok else 1


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}" + ("" if n == 1 else "s")
