#!/usr/bin/env python3
"""Hostile checkpoints: time and peak RSS of each entry point, in a fresh process per run.

    python benchmarks/hostile.py [--dir DIR] [--timeout S] [--only NAME ...]

Builds the hostile object graphs and string shards of ``tests/hostile_cases.py`` (valid
checksums, malicious structure), then runs ``tfckpt-lab objects`` (tree, ``--paths``,
``--json``) or a read of the string tensor on each, with output sent to /dev/null, and prints
one Markdown table row per run: exit code, wall seconds, peak RSS (the child's own
``ru_maxrss``, from ``wait4``).  A run that exceeds ``--timeout`` is killed and reported.

To measure another checkout (e.g. the code before a fix), put it first on PYTHONPATH:
``PYTHONPATH=/path/to/old python benchmarks/hostile.py`` (run from outside both checkouts).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if not os.environ.get("PYTHONPATH"):  # measure this checkout unless told otherwise
    os.environ["PYTHONPATH"] = ROOT

CLI = "import sys; from tfckpt_lab.cli import main; sys.exit(main(sys.argv[1:]))"
READ_STRINGS = ("import sys, tfckpt_lab as tl\n"
                "try:\n    tl.load_checkpoint(sys.argv[1]).get_tensor('s')\n"
                "except tl.CheckpointError as e:\n    print(type(e).__name__, file=sys.stderr); sys.exit(1)")

# name -> (builder call in hostile_cases, [(label, code, extra args)])
OBJECTS = [("objects (tree)", CLI, ["objects"]), ("objects --paths", CLI, ["objects", "--paths"]),
           ("objects --json", CLI, ["objects", "--json"])]
STRINGS = [("get_tensor", READ_STRINGS, [])]
RUNS = {
    "chain 5,000 (value at the end)": ("graph_chain(p, 5_000)", OBJECTS),
    "chain 40,000 (value at the end)": ("graph_chain(p, 40_000)", OBJECTS),
    "chain 40,000 (a value on every node)": ("graph_chain(p, 40_000, values='all')", OBJECTS[1:2]),
    "20,000 missing keys": ("graph_missing_keys(p)", OBJECTS[:2]),
    "10^6 nodes": ("graph_wide(p)", OBJECTS),
    "slot paths doubling 80 times": ("graph_slot_doubling(p)", OBJECTS[:2]),
    "60 levels of duplicate edges": ("graph_duplicate_edges(p)", OBJECTS[:1]),
    "2,000,000 empty strings, bad length CRC": ("many_empty_strings(p)", STRINGS),
    "2,000,000 empty strings, intact": ("many_empty_strings(p, damage='none')", STRINGS),
}


def run(code: str, args: list[str], timeout: float) -> tuple[int | str, float, float]:
    """(exit code or "timeout", seconds, peak RSS in MB) of ``python -c code args`` in a fresh process
    (started in a temporary directory, so no checkout in the working directory shadows PYTHONPATH)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=tempfile.gettempdir())
    deadline = t0 + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            return "timeout", time.perf_counter() - t0, usage.ru_maxrss / 1024
        time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)
    scale = 1 / 2**20 if sys.platform == "darwin" else 1 / 1024  # bytes on macOS, KiB on Linux
    return proc.returncode, time.perf_counter() - t0, usage.ru_maxrss * scale


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", help="where to build the cases (default: a temporary directory)")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--only", nargs="*", help="substrings of the case names to run")
    args = ap.parse_args()
    directory = args.dir or tempfile.mkdtemp(prefix="tfckpt-hostile-")
    base = run("import tfckpt_lab.cli, tfckpt_lab.checkpoint.object_graph, tfckpt_lab.checkpoint.reader", [], 60)
    print(f"code: {os.environ['PYTHONPATH'].split(os.pathsep)[0]}; imports alone: {base[1]:.1f} s, "
          f"{base[2]:.0f} MB\n")
    print("| case | run | exit | seconds | peak RSS (MB) |\n|---|---|---:|---:|---:|")
    for i, (name, (build, runs)) in enumerate(RUNS.items()):
        if args.only and not any(o in name for o in args.only):
            continue
        prefix = os.path.join(directory, f"case{i}")
        # built in a child too: a forked child's peak RSS would include this process's pages
        subprocess.run([sys.executable, "-c", f"import hostile_cases as hc; p = {prefix!r}; hc.{build}"],
                       check=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(
                           [os.path.join(ROOT, "tests"), os.environ["PYTHONPATH"]])), cwd=tempfile.gettempdir())
        for label, code, extra in runs:
            rc, seconds, rss = run(code, [*extra, prefix] if code is CLI else [prefix], args.timeout)
            print(f"| {name} | {label} | {rc} | {seconds:.1f} | {rss:.0f} |", flush=True)


if __name__ == "__main__":
    main()
