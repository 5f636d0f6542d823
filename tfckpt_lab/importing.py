"""Import ``.safetensors`` / ``.npz`` tensors into a TensorFlow checkpoint, without TensorFlow.

    tl.import_tensors("model.safetensors", "out/model")                          # name-based (TF1)
    tl.import_tensors("model.safetensors", "out/ckpt-1", object_checkpoint=True)  # TF2 object graph

Name-based: every tensor is stored under its name, which is what ``tf.compat.v1.train.Saver``
restores by (a variable's ``op.name``) and what ``tf.train.load_checkpoint`` lists.

Object-based: a name is an object path.  ``model/dense/kernel`` becomes the object ``model``
with a child ``dense`` with a variable ``kernel``, written by
:func:`~tfckpt_lab.write_object_checkpoint`; so
``tf.train.Checkpoint(model=m).restore(prefix).assert_consumed()`` restores it into any ``m``
whose attribute ``dense`` has an attribute ``kernel`` (``tf.Module``\\ s, Keras layers, dicts).
Path elements are unescaped as checkpoint keys escape them (``..`` -> ``.``, ``.S`` -> ``/``),
so what ``tl.export(..., names="object-paths")`` wrote comes back as it was.  A name ending in
``/.ATTRIBUTES/VARIABLE_VALUE`` (a TF2 checkpoint exported with its keys) is the object path
before it.  Refused, with the name: a name that is both a value and an object (``dense`` and
``dense/kernel``), empty path elements, and optimizer slots (``.OPTIMIZER_SLOT``: a slot belongs
to an optimizer object this tree has no way to describe; export with ``skip_optimizer``).
"""

from __future__ import annotations

import os

from .errors import UnsupportedError

__all__ = ["import_tensors", "object_tree"]

_VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


def object_tree(names, *, path=None) -> dict:
    """Nested dicts of path elements (unescaped local names) whose leaves are the original names.

    >>> object_tree(["model/dense/kernel", "model/dense/bias", "step"])
    {'model': {'dense': {'kernel': 'model/dense/kernel', 'bias': 'model/dense/bias'}}, 'step': 'step'}
    """
    from .checkpoint.object_graph import OPTIMIZER_SLOT, unescape_local_name

    tree: dict = {}
    for name in names:
        p = name[: -len(_VALUE_SUFFIX)] if name.endswith(_VALUE_SUFFIX) else name
        elements = p.split("/")
        if OPTIMIZER_SLOT in elements:
            raise UnsupportedError(f"{name!r} is an optimizer slot; an object checkpoint built from names cannot "
                                   "hold slots (export with skip_optimizer=True, or import without --object)",
                                   path=path)
        if any(e == "" for e in elements):
            raise UnsupportedError(f"{name!r} has an empty path element", path=path)
        node = tree
        for i, e in enumerate(elements):
            local = unescape_local_name(e)
            last = i == len(elements) - 1
            here = node.get(local)
            if last:
                if here is not None:
                    other = here if isinstance(here, str) else _first_leaf(here)
                    raise UnsupportedError(f"{name!r} is a value, but {other!r} makes it an object too", path=path)
                node[local] = name
            else:
                if here is None:
                    here = node[local] = {}
                elif isinstance(here, str):
                    raise UnsupportedError(f"{here!r} is a value, but {name!r} makes it an object too", path=path)
                node = here
    return tree


def _first_leaf(tree: dict) -> str:
    for v in tree.values():
        return v if isinstance(v, str) else _first_leaf(v)
    return ""


def import_tensors(src, out_prefix, *, object_checkpoint: bool = False) -> str:
    """Write the tensors of ``src`` (``.safetensors`` or ``.npz``) as a checkpoint at ``out_prefix``.

    Name-based by default; with ``object_checkpoint=True`` a TF2 object checkpoint (see the module
    docstring).  String arrays of an ``.npz`` (numpy ``S``/``U``) become string tensors.  Returns the prefix.

    >>> import tempfile, os, numpy as np, tfckpt_lab as tl
    >>> d = tempfile.mkdtemp()
    >>> np.savez(os.path.join(d, "w.npz"), **{"dense/kernel": np.eye(2, dtype=np.float32)})
    >>> p = import_tensors(os.path.join(d, "w.npz"), os.path.join(d, "ckpt-1"), object_checkpoint=True)
    >>> [n for n, _ in tl.list_variables(p)]
    ['_CHECKPOINTABLE_OBJECT_GRAPH', 'dense/kernel/.ATTRIBUTES/VARIABLE_VALUE', 'save_counter/.ATTRIBUTES/VARIABLE_VALUE']
    """
    from .tensorfiles import TensorFile

    out_prefix = os.fspath(out_prefix)
    with TensorFile(src) as f:
        names = sorted(f.specs)
        if not names:
            raise UnsupportedError("no tensors in this file", path=f.path)
        for n in names:
            f.numpy_dtype(n)  # a dtype with no TensorFlow equivalent: refused before anything is written
        if object_checkpoint:
            from .checkpoint.object_writer import write_object_checkpoint

            tree = object_tree(names, path=f.path)
            write_object_checkpoint(out_prefix, _fill(tree, f))
        else:
            from .bundle.writer import BundleWriter

            with BundleWriter(out_prefix) as w:
                for n in names:  # one tensor in memory at a time
                    w.add(n, _as_checkpoint_value(f.read(n)))
    return out_prefix


def _fill(tree: dict, f) -> dict:
    return {k: _fill(v, f) if isinstance(v, dict) else _as_checkpoint_value(f.read(v)) for k, v in tree.items()}


def _as_checkpoint_value(arr):
    """numpy ``U`` strings are stored as their UTF-8 bytes, as TensorFlow stores text."""
    import numpy as np

    if arr.dtype.kind == "U":
        out = np.empty(arr.shape, dtype=object)
        out.reshape(-1)[:] = [s.encode("utf-8") for s in arr.reshape(-1).tolist()]
        return out
    return arr
