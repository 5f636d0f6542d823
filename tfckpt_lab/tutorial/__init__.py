"""Helpers for the tutorial notebooks: working directories, shipped data, and exercise checks.

A notebook starts with::

    from tfckpt_lab import tutorial
    work = tutorial.workdir("02")          # a fresh, empty directory for this notebook's files

and ends with exercises the learner checks in a cell::

    tutorial.check("02-1", 28)             # says whether 28 is right, and if not, what to look at
    tutorial.hint("02-1")                  # a nudge, without the answer
    tutorial.solution("02-1")              # a worked solution, with code that finds the answer

Nothing here writes into the installed package: :func:`workdir` refuses a
location inside it and falls back to the system temp directory.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from .exercises import EXERCISES, Feedback, Reveal, check, hint, kept_after, mystery_checkpoint, solution
from .glossary import glossary

__all__ = [
    "workdir",
    "data_path",
    "notebooks_path",
    "demo_checkpoint",
    "has_tensorflow",
    "import_tensorflow",
    "hexdump",
    "with_static_html",
    "check",
    "hint",
    "solution",
    "glossary",
    "Feedback",
    "Reveal",
    "EXERCISES",
    "kept_after",
    "mystery_checkpoint",
    "WORKDIR_ENV",
]

#: Environment variable naming where notebooks write their files (``tfckpt-lab lab`` sets it).
WORKDIR_ENV = "TFCKPT_LAB_WORKDIR"
_MARKER = ".tfckpt_lab_work"
PACKAGE_DIR = Path(__file__).resolve().parent.parent


def _inside_package(path: Path) -> bool:
    try:
        path.resolve().relative_to(PACKAGE_DIR)
        return True
    except ValueError:
        return False


def _enclosing_workdir(path: Path) -> Path | None:
    """The directory made by :func:`workdir` that ``path`` is in (or is), if any."""
    for d in (path, *path.parents):
        if (d / _MARKER).is_file():
            return d
    return None


def _base_dir() -> Path:
    """Where the notebooks' folders go: ``$TFCKPT_LAB_WORKDIR``, else ``./work``.

    A notebook's first cell changes into its folder, so when that cell runs again
    the current directory is already inside a folder made here; the base is then
    that folder's parent, not ``./work`` under it (no ``work/01/work/01/...``).
    """
    env = os.environ.get(WORKDIR_ENV)
    base = Path(env).expanduser() if env else Path("work")
    if not base.is_absolute():
        cwd = Path.cwd()
        inside = _enclosing_workdir(cwd)
        base = inside.parent if inside is not None else cwd / base
    if _inside_package(base) or not os.access(base.parent if not base.exists() else base, os.W_OK):
        base = Path(tempfile.gettempdir()) / "tfckpt_lab_work"
    return base


def workdir(name: str, *, fresh: bool = True) -> Path:
    """A directory for one notebook's files: ``$TFCKPT_LAB_WORKDIR/<name>``, else ``./work/<name>``.

    Calling it again from inside a folder it made (a notebook's first cell run
    twice, after ``os.chdir(work)``) gives the same folder, not one nested in it.
    With ``fresh=True`` (the default) it is emptied first, so a notebook run
    twice starts from the same place.  Only directories this function made (they
    hold a ``.tfckpt_lab_work`` marker) are ever emptied.  A location inside the
    installed package is never used; the system temp directory is used instead.

    >>> import os, tempfile
    >>> os.environ["TFCKPT_LAB_WORKDIR"] = tempfile.mkdtemp()
    >>> d = workdir("doctest")
    >>> sorted(p.name for p in d.iterdir())
    ['.tfckpt_lab_work']
    >>> del os.environ["TFCKPT_LAB_WORKDIR"]
    """
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise ValueError(f"workdir name must be a plain directory name, not {name!r}")
    d = _base_dir() / name
    if fresh and d.exists():
        if not (d / _MARKER).exists():
            raise FileExistsError(f"{d} exists and was not made by tutorial.workdir(); not emptying it")
        shutil.rmtree(d)
    d.mkdir(parents=True, exist_ok=True)
    (d / _MARKER).write_text("made by tfckpt_lab.tutorial.workdir(); safe to delete\n")
    return d


def data_path(name: str = "keras_adam") -> Path:
    """A folder of files real TensorFlow wrote, shipped with the package (see ``tfckpt_lab/data/README.md``).

    ``keras_adam`` and ``tf_keras_adam`` are checkpoints (prefix ``data_path(name) / "ckpt"``);
    ``saved_model`` is a SavedModel (its values: ``variables/variables``); ``keras3`` holds a
    ``.keras`` and a ``.weights.h5`` file.  Read them; don't write there.
    """
    root = PACKAGE_DIR / "data"
    p = root / name
    if not name or "/" in name or "\\" in name or name.startswith(".") or not p.is_dir():
        known = sorted(q.name for q in root.iterdir() if q.is_dir() and not q.name.startswith(("_", ".")))
        raise FileNotFoundError(f"no shipped data {name!r}; there are: {', '.join(known)}")
    return p


def notebooks_path() -> Path:
    """Where the installed package keeps its copy of the tutorial notebooks."""
    return PACKAGE_DIR / "notebooks"


def demo_checkpoint(directory=None) -> str:
    """The two-variable demo checkpoint (``w1`` [2], ``w2`` [5]) with its ``checkpoint`` file.

    Made in ``directory`` (default: ``workdir("demo", fresh=False)``) if it is not
    there yet; returns its prefix, ``.../my_test_model-1000``.
    """
    from ..checkpoint.state import latest_checkpoint
    from ..demo import make_demo_checkpoint

    d = Path(directory) if directory is not None else workdir("demo", fresh=False)
    latest = latest_checkpoint(d)
    if latest is not None:
        return latest
    prefix = make_demo_checkpoint(d)
    name = os.path.basename(prefix)
    (d / "checkpoint").write_text(
        f'model_checkpoint_path: "{name}"\nall_model_checkpoint_paths: "{name}"\n')
    return prefix


#: Set to 1 to make the optional TensorFlow cells skip even when TensorFlow is installed.
NO_TF_ENV = "TFCKPT_LAB_NO_TF"


def has_tensorflow() -> bool:
    """True if TensorFlow can be imported (optional notebook cells use it; nothing else does).

    False when the ``TFCKPT_LAB_NO_TF`` environment variable is set to 1.
    """
    if os.environ.get(NO_TF_ENV, "") not in ("", "0"):
        return False
    return importlib.util.find_spec("tensorflow") is not None


def import_tensorflow():
    """``tensorflow`` with its start-up log messages turned down, or None if :func:`has_tensorflow` is False."""
    if not has_tensorflow():
        return None
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import sys

    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    # TensorFlow's C++ start-up notes (CPU features, no GPU) go straight to file
    # descriptor 2, before its log level is read; hide them during the import only.
    saved = None
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:
        saved = None
    try:
        import tensorflow
    finally:
        if saved is not None:
            os.dup2(saved, 2)
            os.close(saved)
    return tensorflow


class WithStaticHTML:
    """Show ``widget`` live where widgets work, and ``html`` on static pages (nbconvert, GitHub, no kernel)."""

    def __init__(self, widget, html: str):
        self.widget, self.html = widget, html

    def _repr_mimebundle_(self, **kwargs):
        from ..widgets._common import widget_mimebundle  # ipywidgets 7 (Colab) has no _repr_mimebundle_

        bundle = widget_mimebundle(self.widget, **kwargs)
        bundle["text/html"] = self.html
        return bundle


def with_static_html(widget, html: str) -> WithStaticHTML:
    """Wrap a widget that has no static view of its own (a ``Tab`` of widgets, say) with one."""
    return WithStaticHTML(widget, html)


def hexdump(data: bytes, start: int = 0, *, width: int = 16, base: int = 0, marks=None) -> str:
    """``xxd``-style lines for ``data``; ``base`` is the file offset of ``data[0]``.

    ``marks`` maps ``(start, end)`` byte ranges (file offsets) to a one-character
    tag printed under the bytes they cover, for pointing at fields in static output.

    >>> print(hexdump(b"hello, checkpoint", width=8))
    00000000  68 65 6c 6c 6f 2c 20 63  hello, c
    00000008  68 65 63 6b 70 6f 69 6e  heckpoin
    00000010  74                       t
    """
    lines = []
    data = bytes(data)[start:]
    for row in range(0, len(data), width):
        chunk = data[row:row + width]
        off = base + start + row
        hexpart = " ".join(f"{b:02x}" for b in chunk).ljust(3 * width - 1)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{off:08x}  {hexpart}  {text}")
        if marks:
            tags = []
            for i in range(len(chunk)):
                tag = " "
                for (a, b), t in marks.items():
                    if a <= off + i < b:
                        tag = t
                tags.append(tag * 2)
            if any(t.strip() for t in tags):
                lines.append(" " * 10 + " ".join(tags))
    return "\n".join(lines)
