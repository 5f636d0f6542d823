"""The layers only point down (docs/architecture.md), checked on the source with ``ast``.

Every ``import`` and ``from ... import`` in every module of the package is read -- at the
top of the file, inside functions, under ``if TYPE_CHECKING``, relative or absolute -- and
resolved to the module it names.  Each module has a layer rank; an import may name a module
of the same or a lower rank, never a higher one.  A failure lists every offending import as
``file:line -> target``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tfckpt_lab as tl
from conftest import FIXTURES

PACKAGE = Path(__file__).resolve().parent.parent / "tfckpt_lab"

# Layer ranks, bottom up.  The longest matching dotted prefix decides a module's rank.
LAYERS: dict[str, int] = {
    # foundation: bytes, numbers, files, errors
    "tfckpt_lab._version": 0,
    "tfckpt_lab._deprecation": 0,
    "tfckpt_lab.errors": 0,
    "tfckpt_lab._perf": 0,
    "tfckpt_lab.progress": 0,
    "tfckpt_lab.codecs": 0,
    "tfckpt_lab.dtypes": 0,
    "tfckpt_lab.tensor_proto": 0,
    "tfckpt_lab.fileio": 0,
    "tfckpt_lab.remote": 0,
    "tfckpt_lab.protos": 0,
    # the SSTable (.index files, V1 tables)
    "tfckpt_lab.sstable": 1,
    # file formats made of tables and shards, and other tensor files
    "tfckpt_lab.bundle": 2,
    "tfckpt_lab.v1": 2,
    "tfckpt_lab.tensorfiles": 2,
    # .meta MetaGraphDefs: reading and writing graphs, nothing about checkpoints
    "tfckpt_lab.meta": 3,
    # checkpoints: state file, CheckpointReader, TF2 object graphs, Saver, manager, verify
    "tfckpt_lab.checkpoint": 4,
    "tfckpt_lab.keys": 4,
    # the region model, and the tools built on checkpoints
    "tfckpt_lab.explain": 5,
    "tfckpt_lab.diff": 5,
    "tfckpt_lab.exporting": 5,
    "tfckpt_lab.importing": 5,
    "tfckpt_lab.demo": 5,
    # pictures and HTML
    "tfckpt_lab.views": 6,
    # widgets, the tutorial helpers, the command line
    "tfckpt_lab.widgets": 7,
    "tfckpt_lab.tutorial": 8,
    "tfckpt_lab.cli": 9,
    # the facade: the package's verbs and the tl.lowlevel namespace
    "tfckpt_lab.lowlevel": 10,
    "tfckpt_lab.__main__": 10,
    "tfckpt_lab": 10,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(dotted: str) -> bool:
    """Whether ``dotted`` names a module or package of tfckpt_lab (not an attribute of one)."""
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def rank(dotted: str) -> int:
    """The layer of a module: its own entry in LAYERS or its package's (the root only by name)."""
    if dotted == "tfckpt_lab":
        return LAYERS[dotted]
    parts = dotted.split(".")
    for n in range(len(parts), 1, -1):
        prefix = ".".join(parts[:n])
        if prefix in LAYERS:
            return LAYERS[prefix]
    raise KeyError(dotted)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """``(line, target module)`` for every import of a tfckpt_lab module in ``path``."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                # `from pkg import sub` imports the submodule; `from pkg import name` the package
                sub = f"{source}.{alias.name}"
                found.append((node.lineno, sub if is_module(sub) else source))
    return [(line, target) for line, target in sorted(found)
            if target == "tfckpt_lab" or target.startswith("tfckpt_lab.")]


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "protos" not in p.relative_to(PACKAGE).parts)


def upward_imports() -> list[str]:
    bad = []
    for path in modules():
        own = rank(module_name(path))
        for line, target in imports_of(path):
            if rank(target) > own:
                where = path.relative_to(PACKAGE.parent)
                bad.append(f"{where}:{line} -> {target} (layer {own} imports layer {rank(target)})")
    return bad


def test_every_module_has_a_layer():
    unranked = []
    for path in modules():
        for name in [module_name(path)] + [target for _, target in imports_of(path)]:
            try:
                rank(name)
            except KeyError:
                unranked.append(f"{path.relative_to(PACKAGE.parent)}: {name}")
    assert not unranked, "modules without a layer in LAYERS:\n" + "\n".join(unranked)


def test_imports_point_down():
    bad = upward_imports()
    assert not bad, "imports that point up a layer:\n" + "\n".join(bad)


@pytest.mark.parametrize("lower, upper", [
    ("tfckpt_lab.meta", "tfckpt_lab.checkpoint"),
    ("tfckpt_lab.bundle", "tfckpt_lab.meta"),
    ("tfckpt_lab.sstable", "tfckpt_lab.bundle"),
    ("tfckpt_lab.codecs", "tfckpt_lab.sstable"),
    ("tfckpt_lab.checkpoint", "tfckpt_lab.explain"),
    ("tfckpt_lab.explain", "tfckpt_lab.views"),
])
def test_named_boundaries(lower, upper):
    """The boundaries docs/architecture.md draws, named one by one (the ranks imply them)."""
    assert rank(lower) < rank(upper)
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{line} -> {target}"
        for path in modules() if module_name(path).startswith(lower)
        for line, target in imports_of(path)
        if target == upper or target.startswith(upper + ".")
    ]
    assert not offenders, f"{lower} must not import {upper}:\n" + "\n".join(offenders)


def test_nothing_below_the_views_imports_views_widgets_or_cli():
    top = ("tfckpt_lab.views", "tfckpt_lab.widgets", "tfckpt_lab.cli")
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{line} -> {target}"
        for path in modules() if rank(module_name(path)) < rank("tfckpt_lab.views")
        for line, target in imports_of(path)
        if any(target == t or target.startswith(t + ".") for t in top)
    ]
    assert not offenders, "\n".join(offenders)


def test_the_checker_sees_function_level_and_relative_imports(tmp_path, monkeypatch):
    """The resolver itself: a lazy relative import inside a function is found and resolved."""
    pkg = tmp_path / "tfckpt_lab"
    (pkg / "meta").mkdir(parents=True)
    (pkg / "checkpoint").mkdir()
    for p in (pkg / "__init__.py", pkg / "meta" / "__init__.py", pkg / "checkpoint" / "__init__.py",
              pkg / "checkpoint" / "reader.py", pkg / "remote.py"):
        p.write_text("")
    (pkg / "meta" / "reader.py").write_text(
        "import os\n"
        "from .. import remote\n"
        "def f():\n"
        "    from ..checkpoint.reader import resolve_prefix\n"
        "    from ..checkpoint import reader\n"
        "    import tfckpt_lab.checkpoint\n"
    )
    monkeypatch.setitem(globals(), "PACKAGE", pkg)
    assert imports_of(pkg / "meta" / "reader.py") == [
        (2, "tfckpt_lab.remote"), (4, "tfckpt_lab.checkpoint.reader"),
        (5, "tfckpt_lab.checkpoint.reader"), (6, "tfckpt_lab.checkpoint")]
    assert upward_imports() == [
        "tfckpt_lab/meta/reader.py:4 -> tfckpt_lab.checkpoint.reader (layer 3 imports layer 4)",
        "tfckpt_lab/meta/reader.py:5 -> tfckpt_lab.checkpoint.reader (layer 3 imports layer 4)",
        "tfckpt_lab/meta/reader.py:6 -> tfckpt_lab.checkpoint (layer 3 imports layer 4)",
    ]


def test_the_meta_layer_runs_without_the_checkpoint_layer():
    """Reading and writing a .meta loads nothing from checkpoint/ (the cycle is gone at run time too)."""
    import subprocess
    import sys

    meta = FIXTURES / "tf" / "tf1_saver_basic" / "model-1000"
    code = ("import sys, os, tempfile, numpy as np\n"
            "from tfckpt_lab.meta.reader import read_meta_file\n"
            "from tfckpt_lab.meta.writer import write_meta_graph\n"
            f"mg = read_meta_file({str(meta)!r})\n"
            "out = write_meta_graph(os.path.join(tempfile.mkdtemp(), 'm.meta'), {'w': np.zeros(2, np.float32)})\n"
            "print([v.name for v in mg.variables], [v.name for v in read_meta_file(out).variables])\n"
            "print(sorted(m for m in sys.modules if m.startswith(('tfckpt_lab.checkpoint', 'tfckpt_lab.bundle'))))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["['w1', 'w2'] ['w']", "[]"]


def test_directories_are_resolved_in_the_checkpoint_layer():
    from tfckpt_lab.errors import CheckpointNotFoundError
    from tfckpt_lab.meta.reader import read_meta_file

    case = FIXTURES / "tf" / "tf1_saver_basic"
    with pytest.raises(CheckpointNotFoundError, match="is a directory"):
        read_meta_file(case)  # which checkpoint a directory means is the state file's business
    by_dir = tl.read_meta_graph(case)  # checkpoint/meta_graph.py: the latest checkpoint's .meta
    by_prefix = read_meta_file(case / "model-1000")
    assert by_dir.path == by_prefix.path == str(case / "model-1000.meta")
    assert by_dir.lowlevel == by_prefix.lowlevel
