"""Export a checkpoint's tensors to ``.safetensors`` or ``.npz``, without TensorFlow.

    tl.export("run/ckpt-3", "model.safetensors", skip_optimizer=True, names="object-paths")

Every numeric tensor is written bit for bit as the checkpoint holds it (partitioned variables
assembled whole, as ``tf.train.load_checkpoint`` returns them).  bfloat16 and float8 stay
bfloat16 and float8 in ``.safetensors``; a dtype the output format cannot keep is refused before
anything is written, naming the tensor (see :mod:`tfckpt_lab.tensorfiles` for the table).  String,
variant and resource tensors are skipped with a notice (neither format holds them), and so is the
``_CHECKPOINTABLE_OBJECT_GRAPH`` of a TF2 checkpoint, which describes the checkpoint rather than
the model.  A ``.safetensors`` file is read back with the ``safetensors`` library after writing
and compared (names, dtypes, shapes and a CRC-32C of every tensor's bytes).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .errors import MalformedError, UnsupportedError

__all__ = ["export", "ExportReport", "NAME_STYLES"]

NAME_STYLES = ("keys", "object-paths")


@dataclass
class ExportReport:
    """What :func:`export` did.

    Attributes:
        out: the file written.
        written: ``[(name in the file, checkpoint key), ...]`` in file order.
        skipped: ``[(checkpoint key, reason), ...]`` for everything left out.
        bytes_written: the tensors' bytes (the file adds a header).
    """

    source: str
    out: str
    written: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    bytes_written: int = 0

    def to_dict(self) -> dict:
        return {"source": self.source, "out": self.out, "bytes_written": self.bytes_written,
                "written": [{"name": n, "key": k} for n, k in self.written],
                "skipped": [{"key": k, "reason": r} for k, r in self.skipped]}


def export(src, out, *, skip_optimizer: bool = False, names: str = "keys", verify: bool = True) -> ExportReport:
    """Write the tensors of checkpoint ``src`` to ``out`` (``.safetensors`` or ``.npz``).

    Args:
        src: a checkpoint prefix, directory or URL (anything :func:`~tfckpt_lab.load_checkpoint` takes).
        out: the file to write; its suffix picks the format.
        skip_optimizer: leave out optimizer slots and state (found from the object graph for TF2
            checkpoints, from TF1 optimizers' naming conventions otherwise; see :mod:`tfckpt_lab.keys`).
        names: ``"keys"``: the names ``list_variables`` lists; ``"object-paths"`` (TF2 only): readable
            object paths such as ``model/dense/kernel`` instead of ``.../.ATTRIBUTES/VARIABLE_VALUE`` keys.
        verify: read a ``.safetensors`` file back with the safetensors library and compare.

    Returns an :class:`ExportReport`.

    >>> import tempfile, os, numpy as np, tfckpt_lab as tl
    >>> d = tempfile.mkdtemp()
    >>> _ = tl.write_object_checkpoint(os.path.join(d, "ckpt-1"), {"model": {"dense": {"kernel": np.eye(2)}}})
    >>> r = export(os.path.join(d, "ckpt-1"), os.path.join(d, "m.npz"), names="object-paths")
    >>> r.written, r.skipped
    ([('model/dense/kernel', 'model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE'), ('save_counter', 'save_counter/.ATTRIBUTES/VARIABLE_VALUE')], [('_CHECKPOINTABLE_OBJECT_GRAPH', 'the TF2 object graph (checkpoint structure, not a tensor of the model)')])
    """
    import numpy as np

    from .checkpoint.reader import load_checkpoint
    from .codecs import crc32c_extend
    from .keys import OBJECT_GRAPH_KEY, object_path_names, optimizer_keys
    from .tensorfiles import check_exportable, numpy_dtype_named, tensor_file_kind, write_tensor_file

    if names not in NAME_STYLES:
        raise ValueError(f"names must be one of {NAME_STYLES}, not {names!r}")
    out = os.fspath(out)
    kind = tensor_file_kind(out)
    with load_checkpoint(src) as reader:
        report = ExportReport(reader.prefix, out)
        dtype_of = reader.get_variable_to_dtype_map()
        keys = sorted(dtype_of)
        graph = _object_graph(reader) if OBJECT_GRAPH_KEY in dtype_of else None
        if names == "object-paths" and graph is None:
            raise UnsupportedError("names='object-paths' needs a TF2 checkpoint (one with an object graph); "
                                   "this one is name-based", path=reader.prefix)
        dropped = optimizer_keys([k for k in keys if k != OBJECT_GRAPH_KEY], graph) if skip_optimizer else set()
        renamed = object_path_names(graph, keys) if names == "object-paths" else {}
        chosen = []
        for k in keys:
            dn = dtype_of[k]
            if k == OBJECT_GRAPH_KEY:
                report.skipped.append((k, "the TF2 object graph (checkpoint structure, not a tensor of the model)"))
            elif k in dropped:
                report.skipped.append((k, "optimizer state (--skip-optimizer)"))
            elif dn in ("string", "variant", "resource"):
                report.skipped.append((k, f"a {dn} tensor: .{kind} files hold numbers only"))
            else:
                check_exportable(kind, k, dn, numpy_dtype_named(dn), path=reader.prefix)
                chosen.append((renamed.get(k, k), k))
        _check_unique(chosen, reader.prefix)
        if not chosen:
            raise UnsupportedError("nothing to export: every tensor was skipped "
                                   f"({len(report.skipped)} skipped)", path=reader.prefix)
        crcs = {}

        def tensors():
            for name, key in chosen:
                arr = np.asarray(reader.get_tensor(key))
                report.bytes_written += arr.nbytes
                if verify and kind == "safetensors":
                    crcs[name] = crc32c_extend(0, np.ascontiguousarray(arr).reshape(-1).view(np.uint8))
                report.written.append((name, key))
                yield name, arr

        write_tensor_file(out, tensors(), metadata={"format": "np", "tfckpt_lab.source": os.path.basename(
            reader.prefix.rstrip("/"))} if kind == "safetensors" else None)
        if verify and kind == "safetensors":
            _read_back(out, chosen, reader, crcs)
    return report


def _object_graph(reader):
    from .checkpoint.object_graph import OBJECT_GRAPH_KEY, parse_object_graph

    value = reader.get_tensor(OBJECT_GRAPH_KEY)
    if not isinstance(value, bytes):
        raise MalformedError(f"{OBJECT_GRAPH_KEY} must be a string scalar", path=reader.prefix + ".index")
    return parse_object_graph(value, path=reader.prefix)


def _check_unique(chosen, prefix) -> None:
    seen = {}
    for name, key in chosen:
        if name in seen:
            raise UnsupportedError(f"two tensors would get the name {name!r} ({seen[name]!r} and {key!r})",
                                   path=prefix)
        seen[name] = key


def _read_back(out: str, chosen, reader, crcs) -> None:
    """Open the written file with the safetensors library and compare names, dtypes, shapes and bytes."""
    import numpy as np

    from .codecs import crc32c_extend
    from .tensorfiles import TensorFile, numpy_dtype_named

    with TensorFile(out) as f:
        if set(f.specs) != {n for n, _ in chosen}:
            raise MalformedError("the written file does not hold the tensors exported", path=out)
        dtype_of = reader.get_variable_to_dtype_map()
        shape_of = reader.get_variable_to_shape_map()
        for name, key in chosen:
            shape, dn = f.specs[name]
            # (qint8 and friends are written as the plain integers of the same width)
            if numpy_dtype_named(dn) != numpy_dtype_named(dtype_of[key]) or list(shape) != shape_of[key]:
                raise MalformedError(f"tensor {name!r} reads back as {dn}{list(shape)}, expected "
                                     f"{dtype_of[key]}{shape_of[key]}", path=out)
            crc = 0
            for piece in f.chunks(name):
                crc = crc32c_extend(crc, np.ascontiguousarray(piece).view(np.uint8))
            if crc != crcs[name]:
                raise MalformedError(f"tensor {name!r} reads back with other bytes than were written", path=out)
