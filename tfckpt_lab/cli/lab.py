"""``tfckpt-lab lab``: copy the tutorial notebooks into a working folder and start JupyterLab there.

    tfckpt-lab lab [--dir DIR] [--port N] [--no-browser] [--reset] [-- JUPYTER_ARGS...]

On first use it creates DIR (default ``./tfckpt_lab_tutorial``) holding

    01_what_is_a_saved_model.ipynb ...   copies of the notebooks shipped in the package
    demo_checkpoint/                     the two-variable example, with its 'checkpoint' file
    work/                                where the notebooks write their files

Later runs leave the learner's edited notebooks alone and only add missing ones
(``--reset`` puts the shipped versions back).  Works the same from a checkout or a
wheel: the notebooks come from the installed package, never from the repository.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

DEFAULT_DIR = "tfckpt_lab_tutorial"
FIRST_NOTEBOOK = "01_what_is_a_saved_model.ipynb"


def register(sub) -> None:
    p = sub.add_parser("lab", help="open the tutorial notebooks in JupyterLab",
                       description="Copy the tutorial notebooks into DIR, make a demo checkpoint there, "
                                   "and start JupyterLab on them. Arguments after -- go to jupyter lab.")
    p.add_argument("--dir", default=DEFAULT_DIR, help=f"working folder (default: ./{DEFAULT_DIR})")
    p.add_argument("--port", type=int, default=None, help="port for the server (default: Jupyter's, 8888 or the next free one)")
    p.add_argument("--ip", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--no-browser", action="store_true", help="don't open a web browser")
    p.add_argument("--reset", action="store_true", help="overwrite the notebooks in DIR with the shipped versions")
    p.add_argument("--prepare-only", action="store_true", help="set up DIR and exit without starting JupyterLab")
    p.add_argument("jupyter_args", nargs="*", help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def shipped_notebooks() -> list[Path]:
    from ..tutorial import notebooks_path

    return sorted(notebooks_path().glob("*.ipynb"))


def prepare(directory, *, reset: bool = False, log=print) -> Path:
    """Create the working folder: notebooks, demo checkpoint, ``work/``.  Returns its absolute path."""
    from ..tutorial import demo_checkpoint

    d = Path(directory).expanduser().resolve()
    d.mkdir(parents=True, exist_ok=True)
    notebooks = shipped_notebooks()
    if not notebooks:
        raise SystemExit("tfckpt-lab: error: this installation has no tutorial notebooks "
                         "(tfckpt_lab/notebooks/ is empty)")
    copied = kept = 0
    for nb in notebooks:
        target = d / nb.name
        if target.exists() and not reset:
            kept += 1
            continue
        shutil.copyfile(nb, target)
        copied += 1
    log(f"notebooks: {copied} copied, {kept} already there (yours, left as they are) in {d}")
    demo_dir = d / "demo_checkpoint"
    fresh = not demo_dir.exists()
    prefix = demo_checkpoint(demo_dir)
    log(f"demo checkpoint: {prefix}" + (" (created)" if fresh else ""))
    (d / "work").mkdir(exist_ok=True)
    return d


def jupyter_command(directory: Path, args) -> list[str]:
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={directory}", f"--ServerApp.ip={args.ip}"]
    if args.port is not None:
        cmd.append(f"--ServerApp.port={args.port}")
    if args.no_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers often run as root; Jupyter refuses without this
    if (directory / FIRST_NOTEBOOK).exists():
        # The browser (and the URL Jupyter prints) opens the first notebook straight away.
        cmd.append(f"--LabApp.default_url=/lab/tree/{FIRST_NOTEBOOK}")
    cmd.extend(args.jupyter_args)
    return cmd


def run(args) -> int:
    import importlib.util

    directory = prepare(args.dir, reset=args.reset)
    if args.prepare_only:
        return 0
    if importlib.util.find_spec("jupyterlab") is None:
        print("tfckpt-lab: error: JupyterLab is not installed. Install the tutorial extras:\n"
              "    pip install 'tfckpt-lab[lab]'", file=sys.stderr)
        return 2
    from ..tutorial import WORKDIR_ENV

    env = dict(os.environ)
    env[WORKDIR_ENV] = str(directory / "work")
    cmd = jupyter_command(directory, args)
    print("starting:", " ".join(cmd), flush=True)
    os.chdir(directory)
    if os.name == "posix":
        os.execve(sys.executable, cmd, env)  # the server replaces this process; Ctrl-C stops it
    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        return 130
