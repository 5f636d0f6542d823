"""Keep the tutorial notebooks stripped, and the package's copy identical to the repository's.

The source of truth is ``notebooks/*.ipynb`` at the top of the repository: that is
what you edit, what CI executes and what Binder opens.  The installed package
needs its own copy (``tfckpt_lab/notebooks/``) so that ``tfckpt-lab lab`` works from
a wheel; this module writes that copy.  Run it from a checkout after editing a notebook::

    python -m tfckpt_lab.tutorial.sync          # strip outputs, copy into the package
    python -m tfckpt_lab.tutorial.sync --check  # exit 1 if anything is unstripped or out of date

It also writes ``docs/glossary.md`` from :mod:`tfckpt_lab.tutorial.glossary` (the
notebooks link to it; ``tutorial.glossary()`` shows the same entries in a notebook).

"Stripped" means: no outputs, no execution counts, no per-run metadata, so git
diffs show only what a person changed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["strip", "stripped_text", "repo_notebooks_dir", "package_notebooks_dir", "glossary_path", "problems",
           "sync"]

PACKAGE_DIR = Path(__file__).resolve().parent.parent
_KEEP_CELL_METADATA = {"tags", "jupyter", "editable", "deletable"}


def repo_notebooks_dir() -> Path:
    """``<checkout>/notebooks`` (only meaningful in a source checkout)."""
    return PACKAGE_DIR.parent / "notebooks"


def package_notebooks_dir() -> Path:
    return PACKAGE_DIR / "notebooks"


def glossary_path() -> Path:
    """``<checkout>/docs/glossary.md``, written from :mod:`tfckpt_lab.tutorial.glossary`."""
    return PACKAGE_DIR.parent / "docs" / "glossary.md"


def _glossary_text() -> str:
    from .glossary import glossary_markdown

    return glossary_markdown()


def strip(nb: dict) -> dict:
    """The notebook without outputs, execution counts or run-time metadata (a new dict)."""
    nb = json.loads(json.dumps(nb))
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cell["metadata"] = {k: v for k, v in cell.get("metadata", {}).items() if k in _KEEP_CELL_METADATA}
    meta = nb.get("metadata", {})
    nb["metadata"] = {k: meta[k] for k in ("kernelspec", "language_info") if k in meta}
    if "language_info" in nb["metadata"]:
        nb["metadata"]["language_info"] = {"name": nb["metadata"]["language_info"].get("name", "python")}
    return nb


def stripped_text(path) -> str:
    """The stripped notebook at ``path`` as nbformat writes it (1-space indent, trailing newline)."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    return json.dumps(strip(nb), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def problems(repo_dir: Path | None = None, package_dir: Path | None = None) -> list[str]:
    """Everything wrong: unstripped notebooks, and package copies missing, extra or different."""
    repo_dir = repo_dir or repo_notebooks_dir()
    package_dir = package_dir or package_notebooks_dir()
    out = []
    sources = {p.name: p for p in sorted(repo_dir.glob("*.ipynb"))}
    if not sources:
        return [f"no notebooks in {repo_dir}"]
    for name, p in sources.items():
        text = p.read_text(encoding="utf-8")
        if text != stripped_text(p):
            out.append(f"{p}: has outputs or run metadata (run: python -m tfckpt_lab.tutorial.sync)")
        copy = package_dir / name
        if not copy.exists():
            out.append(f"{copy}: missing (run: python -m tfckpt_lab.tutorial.sync)")
        elif copy.read_bytes() != stripped_text(p).encode("utf-8"):
            out.append(f"{copy}: differs from {p} (run: python -m tfckpt_lab.tutorial.sync)")
    for extra in sorted(package_dir.glob("*.ipynb")):
        if extra.name not in sources:
            out.append(f"{extra}: no longer in {repo_dir} (run: python -m tfckpt_lab.tutorial.sync)")
    glossary = glossary_path()
    if glossary.parent.is_dir() and (not glossary.exists() or glossary.read_text(encoding="utf-8") != _glossary_text()):
        out.append(f"{glossary}: differs from tfckpt_lab/tutorial/glossary.py (run: python -m tfckpt_lab.tutorial.sync)")
    return out


def sync(repo_dir: Path | None = None, package_dir: Path | None = None) -> list[str]:
    """Strip every repository notebook in place and mirror them into the package.  Returns what changed."""
    repo_dir = repo_dir or repo_notebooks_dir()
    package_dir = package_dir or package_notebooks_dir()
    package_dir.mkdir(exist_ok=True)
    changed = []
    names = set()
    for p in sorted(repo_dir.glob("*.ipynb")):
        names.add(p.name)
        text = stripped_text(p)
        for target in (p, package_dir / p.name):
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                target.write_text(text, encoding="utf-8")
                changed.append(str(target))
    for extra in package_dir.glob("*.ipynb"):
        if extra.name not in names:
            extra.unlink()
            changed.append(f"removed {extra}")
    glossary = glossary_path()
    if glossary.parent.is_dir() and (not glossary.exists() or glossary.read_text(encoding="utf-8") != _glossary_text()):
        glossary.write_text(_glossary_text(), encoding="utf-8")
        changed.append(str(glossary))
    return changed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tfckpt_lab.tutorial.sync", description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="only report; exit 1 if anything is out of date")
    args = ap.parse_args(argv)
    if not repo_notebooks_dir().is_dir():
        print(f"no {repo_notebooks_dir()}: run this from a source checkout", file=sys.stderr)
        return 2
    if args.check:
        found = problems()
        for p in found:
            print(p)
        return 1 if found else 0
    for c in sync():
        print("updated", c)
    return 0


if __name__ == "__main__":
    sys.exit(main())
