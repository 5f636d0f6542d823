"""``tfckpt-lab inspect``: list a checkpoint's tensors (like TensorFlow's inspect_checkpoint)."""

from __future__ import annotations

import json
import sys

import numpy as np


def register(sub) -> None:
    p = sub.add_parser("inspect", help="list tensors: names, dtypes, shapes (and values with --tensor)",
                       description="List a checkpoint's tensors, or print one tensor's values.")
    p.add_argument("checkpoint", help="checkpoint prefix (dir/model-1000), a file of it, or a directory")
    p.add_argument("--tensor", metavar="NAME", help="print this tensor's values")
    p.add_argument("--json", action="store_true",
                   help="machine-readable output with shard, offset, size and checksum per entry")
    p.add_argument("--all-entries", action="store_true",
                   help="also list the pieces of partitioned variables (raw index keys)")
    p.set_defaults(func=run)


def _finite(arr: np.ndarray):
    """Strict JSON has no NaN or Infinity: those elements become the strings "NaN", "Infinity", "-Infinity"."""
    out = arr.tolist()
    if np.isfinite(arr).all():
        return out

    def fix(x):
        if isinstance(x, list):
            return [fix(v) for v in x]
        if x != x:
            return "NaN"
        if x in (float("inf"), float("-inf")):
            return "Infinity" if x > 0 else "-Infinity"
        return x

    return fix(out)


def _jsonable(value):
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"hex": value.hex()}
    if isinstance(value, list):  # the nested lists of a string tensor of rank 2 or more
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return _jsonable(value.tolist())
        if np.iscomplexobj(value):
            return {"real": _finite(value.real), "imag": _finite(value.imag)}
        if value.dtype.kind not in "biuf":  # bfloat16 and friends
            return _finite(value.astype(np.float64))
        return _finite(value) if value.dtype.kind == "f" else value.tolist()
    if isinstance(value, np.generic):
        return _jsonable(np.asarray(value))
    return value


def _shorten(value, limit: int = 64):
    """Long string elements are cut for display (the JSON output keeps them whole)."""
    def cut(b):
        return b if len(b) <= limit else b[:limit] + b"...(%d bytes)" % len(b)

    if isinstance(value, bytes):
        return cut(value)
    if isinstance(value, np.ndarray) and value.dtype == object:
        out = np.empty(value.shape, dtype=object)
        out.reshape(-1)[:] = [cut(v) for v in value.reshape(-1).tolist()]
        return out
    return value


def run(args) -> int:
    from ..checkpoint.reader import load_checkpoint

    reader = load_checkpoint(args.checkpoint)
    if args.tensor is not None:
        value = reader.get_tensor(args.tensor)
        if args.json:
            e = reader.entry(args.tensor)
            doc = {"name": args.tensor, "dtype": e.dtype_name, "shape": list(e.shape), "value": _jsonable(value)}
            print(json.dumps(doc, allow_nan=False))
        else:
            e = reader.entry(args.tensor)
            print(f"tensor_name:  {args.tensor}  dtype: {e.dtype_name}  shape: {list(e.shape)}")
            with np.printoptions(threshold=1000):
                print(_shorten(value))
        return 0
    entries = list(reader.entries().values()) if args.all_entries else [reader.entry(n) for n in reader.keys()]
    if args.json:
        out = {
            "prefix": reader.prefix,
            "num_shards": reader.lowlevel.num_shards,
            "tensors": [
                {
                    "name": e.name,
                    "key_hex": e.key.hex() if e.name.encode("utf-8", "surrogateescape") != e.key else None,
                    "dtype": e.dtype_name,
                    "shape": list(e.shape),
                    "shard": e.shard_id,
                    "offset": e.offset,
                    "size": e.size,
                    "crc32c_masked": e.crc32c,  # None for V1 checkpoints, which have no tensor checksums
                    "crc32c": getattr(e, "crc32c_unmasked", None),
                    "slices": [str(s) for s in e.slices],
                }
                for e in entries
            ],
        }
        json.dump(out, sys.stdout, indent=1)
        print()
        return 0
    names = [_printable(e.name) for e in entries]
    name_w = max([_width(n) for n in names] + [len("name")])
    dtype_w = max([len(e.dtype_name) for e in entries] + [len("dtype")])
    print(f"{_pad('name', name_w)}  {'dtype':<{dtype_w}}  shape")
    for name, e in zip(names, entries):
        extra = f"  ({len(e.slices)} slices)" if e.slices else ""
        print(f"{_pad(name, name_w)}  {e.dtype_name:<{dtype_w}}  {list(e.shape)}{extra}")
    return 0


def _printable(name: str) -> str:
    """A name on one line: control characters (a newline in a key...) shown as escapes."""
    if name.isprintable():
        return name
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal: wide (CJK) characters 2, combining marks 0."""
    import unicodedata

    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
               for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))
