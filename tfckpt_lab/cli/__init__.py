"""The ``tfckpt-lab`` command line.  Each subcommand lives in a module of its own here.

    tfckpt-lab inspect PREFIX|DIR [--tensor NAME] [--json]
    tfckpt-lab verify PREFIX|DIR [--json]
    tfckpt-lab demo [DIR]
    tfckpt-lab lab [--dir DIR] [--port N] [--no-browser]
    tfckpt-lab layout FILE|PREFIX|DIR [--json] [--depth N] [--at OFFSET]
    tfckpt-lab meta PATH [--json]
    tfckpt-lab objects PREFIX|DIR [--json] [--paths]
    tfckpt-lab export SRC OUT.safetensors|OUT.npz [--skip-optimizer] [--names keys|object-paths]
    tfckpt-lab import SRC.safetensors|SRC.npz OUT_PREFIX [--object]
    tfckpt-lab diff A B [--json] [--atol X]

Every command that reads a checkpoint also takes an http(s)://, s3://, gs:// or memory:// URL;
long remote reads draw a progress bar on stderr.

Exit codes: 0 success; 1 a problem with the checkpoint or its files (a failed
``verify``, a missing, damaged, unreadable or permission-denied file: one line on
stderr, ``tfckpt-lab: error: PATH: what``, never a traceback); 2 a usage error;
130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Subcommand modules, in the order --help lists them.  Each defines register(subparsers).
COMMANDS = ["inspect", "verify", "demo", "layout", "meta", "objects", "export", "import_", "diff", "lab"]


def build_parser() -> argparse.ArgumentParser:
    from .._version import __version__

    parser = argparse.ArgumentParser(
        prog="tfckpt-lab",
        description="Open up TensorFlow checkpoints without TensorFlow.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from ..errors import CheckpointError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from .. import remote

    before = remote.progress_factory()
    remote.set_progress(True)  # long remote reads draw a bar on stderr
    try:
        return int(args.func(args) or 0)
    except CheckpointError as exc:
        print(f"tfckpt-lab: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. piped into `head`
        return 0
    except OSError as exc:  # permission denied, not a directory, disk full...: one line, no traceback
        from ..errors import os_error

        print(f"tfckpt-lab: error: {os_error(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tfckpt-lab: interrupted", file=sys.stderr)
        return 130
    finally:
        remote.set_progress(before or False)
