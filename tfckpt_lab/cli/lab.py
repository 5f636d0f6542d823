"""``tfckpt-lab lab``: copy the tutorial notebooks into a working folder and start JupyterLab there.

    tfckpt-lab lab [--dir DIR] [--port N] [--no-browser] [--reset] [-- JUPYTER_ARGS...]

On first use it creates DIR (default ``./tfckpt_lab_tutorial``) holding

    01_what_is_a_saved_model.ipynb ...   copies of the notebooks shipped in the package
    demo_checkpoint/                     the two-variable example, with its 'checkpoint' file
    work/                                where the notebooks write their files

Later runs leave the learner's edited notebooks alone and only add missing ones
(``--reset`` puts the shipped versions back).  Works the same from a checkout or a
wheel: the notebooks come from the installed package, never from the repository.

DIR must be yours: an existing DIR owned by another user, or writable by everyone, is
refused, and so is a path on the way to it that other users may change (writable by
everyone without the sticky bit, or owned by someone other than you or root).  Nothing is
ever written through a symlink: DIR, ``demo_checkpoint``, ``work`` or a notebook that is a
symlink, or an entry another user owns, is refused rather than followed or kept.
Notebooks are written to a new temporary file and renamed into place.
"""

from __future__ import annotations

import argparse
import os
import stat
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


def _refuse(path, why: str):
    from ..errors import UnsafePathError

    return UnsafePathError(f"refusing to use this folder for the tutorial: {why}", path=str(path))


def _me() -> int | None:
    return os.geteuid() if hasattr(os, "geteuid") else None


def _check_ancestors(path: Path) -> None:
    """No directory on the way to ``path`` may be changed by other users (they could swap ``path``)."""
    me = _me()
    if me is None:  # pragma: no cover - no owners to compare (Windows)
        return
    for parent in [path, *path.parents]:
        st = os.stat(parent)
        if st.st_uid not in (0, me):
            raise _refuse(parent, f"it is owned by another user (uid {st.st_uid}), who could replace what "
                                  "is below it")
        if st.st_mode & stat.S_IWOTH and not st.st_mode & stat.S_ISVTX:
            raise _refuse(parent, "everyone may write to it (and it has no sticky bit)")


def _check_own(path: Path, *, kind: str) -> bool:
    """True if ``path`` exists and is ours (a real ``kind``, not a symlink); False if it does not exist."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(st.st_mode):
        raise _refuse(path, "it is a symlink (nothing is written through symlinks)")
    want = stat.S_ISDIR if kind == "directory" else stat.S_ISREG
    if not want(st.st_mode):
        raise _refuse(path, f"it is not a {kind}")
    me = _me()
    if me is not None and st.st_uid != me:
        raise _refuse(path, f"it belongs to another user (uid {st.st_uid}, you are {me})")
    if kind == "directory" and st.st_mode & stat.S_IWOTH:
        raise _refuse(path, "everyone may write to it")
    return True


def _own_directory(path: Path) -> Path:
    if not _check_own(path, kind="directory"):
        try:
            os.mkdir(path)
        except FileExistsError:  # appeared meanwhile: check it below
            pass
        _check_own(path, kind="directory")
    return path


def _install_file(src: Path, target: Path) -> None:
    """Copy ``src`` to ``target`` through a new temporary file (never through a symlink) and a rename."""
    from ..fileio import atomic_write_bytes

    atomic_write_bytes(target, src.read_bytes())


def prepare(directory, *, reset: bool = False, log=print) -> Path:
    """Create the working folder: notebooks, demo checkpoint, ``work/``.  Returns its absolute path.

    Raises :class:`~tfckpt_lab.errors.UnsafePathError` for a folder that is not safely yours
    (see the module docstring).
    """
    from ..tutorial import demo_checkpoint

    given = Path(directory).expanduser()
    parent = Path(os.path.realpath(given.absolute().parent))  # symlinks above the folder are yours to use
    if given.name in ("", ".", ".."):
        given = Path(os.path.realpath(given.absolute()))
        parent = given.parent
    d = parent / given.name
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _check_ancestors(parent)
        _own_directory(d)
        notebooks = shipped_notebooks()
        if not notebooks:
            raise SystemExit("tfckpt-lab: error: this installation has no tutorial notebooks "
                             "(tfckpt_lab/notebooks/ is empty)")
        demo_dir = d / "demo_checkpoint"
        work = d / "work"
        for nb in notebooks:
            _check_own(d / nb.name, kind="file")
        fresh = not _check_own(demo_dir, kind="directory")
        if not fresh:
            with os.scandir(demo_dir) as entries:
                for entry in entries:
                    _check_own(Path(entry.path), kind="directory" if entry.is_dir(follow_symlinks=False) else "file")
        _check_own(work, kind="directory")
        copied = kept = 0
        for nb in notebooks:
            target = d / nb.name
            if target.exists() and not reset:
                kept += 1
                continue
            _install_file(nb, target)
            copied += 1
        log(f"notebooks: {copied} copied, {kept} already there (yours, left as they are) in {d}")
        _own_directory(demo_dir)
        prefix = demo_checkpoint(demo_dir)
        log(f"demo checkpoint: {prefix}" + (" (created)" if fresh else ""))
        _own_directory(work)
    except OSError as exc:
        from ..errors import os_error

        raise os_error(exc, None, "preparing the tutorial folder") from exc
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
