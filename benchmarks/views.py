#!/usr/bin/env python3
"""How fast the "see inside" layer answers, and how little memory it needs on a huge checkpoint.

    python benchmarks/views.py [PREFIX]     timings on the 10,000-entry golden fixture (default)
    python benchmarks/views.py --big [DIR]  peak RSS while exploring a 10 GiB checkpoint (sparse files)
    python benchmarks/views.py --tensor [DIR]  time and peak RSS of the Values tab on a 2.4 GB tensor

The first prints a table you can paste: each step is timed from a cold start of that
step (the process has already imported numpy and protobuf; the page cache is warm).

``--big`` and ``--tensor`` build their checkpoint with :func:`sparse_checkpoint` (an index
written for real, data shards that are sparse files: a 10 GiB shard takes a few MB of
disk) and then explore it in a *fresh* process, so the peak RSS printed is that of a
learner's kernel doing it: every tab of the explorer, the bytes paged from the first
byte to the last of the biggest shard, the largest tensor selected in the Values tab
(a sample) and scanned (streamed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT = os.path.join(HERE, "..", "tests", "fixtures", "tf", "savev2_multiblock", "bundle")

GiB = 2**30
#: The 10 GiB checkpoint of ``--big``: (name, dtype, shape) in data order, one shard.
BIG_TENSORS = [
    ("model/embedding/table", "float32", (2_100_000, 1024)),  # 8.0 GiB
    ("model/dense/kernel", "float32", (1024, 4096)),
    ("model/dense/bias", "float32", (4096,)),
    ("model/head/kernel", "bfloat16", (4096, 262_144)),  # 2 GiB
    ("optimizer/iter", "int64", ()),
    ("step", "int64", ()),
]
#: The 2.4 GB tensor of ``--tensor`` (issue 16, item 8), with a small neighbour.
TENSOR_2G4 = [("huge", "float32", (600_000, 1000)), ("small", "float32", (3, 4))]


def sparse_checkpoint(prefix: str, tensors, *, seed: int = 0, spots: int = 16, spot_bytes: int = 64 * 1024,
                      checksums: bool = True) -> str:
    """A V2 checkpoint whose data shard is a sparse file: mostly holes (zeros), with some random values.

    ``tensors``: ``[(name, dtype name, shape)]``, laid out in that order in shard 0.  Each
    tensor gets ``spots`` evenly spaced runs of ``spot_bytes`` random normal values (so a
    sample sees something); the rest of its bytes are holes in the file and read as zeros.
    ``checksums``: compute each tensor's real CRC-32C (from the known content, without
    reading the file); False writes 0, which only ``verify`` (or a scan) notices.
    Returns ``prefix``.
    """
    import ml_dtypes
    import numpy as np

    from tfckpt_lab import dtypes
    from tfckpt_lab.bundle.entry import HEADER_KEY, TENSOR_BUNDLE_MIN_CONSUMER, TENSOR_BUNDLE_VERSION
    from tfckpt_lab.bundle.naming import data_path
    from tfckpt_lab.codecs import crc32c_extend, mask_crc
    from tfckpt_lab.protos.tensor_bundle_pb2 import BundleEntryProto, BundleHeaderProto
    from tfckpt_lab.sstable.builder import TableBuilder

    rng = np.random.default_rng(seed)
    os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
    entries = {}
    offset = 0
    with open(data_path(prefix, 0, 1), "wb") as f:
        for name, dtype_name, shape in tensors:
            dt = np.dtype(getattr(ml_dtypes, dtype_name, dtype_name))
            n = int(np.prod(shape, dtype=np.int64))
            size = n * dt.itemsize
            runs = {}
            if size:
                k = min(spots, max(1, size // spot_bytes))
                run = min(spot_bytes, size) // dt.itemsize * dt.itemsize
                for i in range(k):
                    at = (i * (size - run) // max(1, k - 1)) // dt.itemsize * dt.itemsize
                    values = rng.standard_normal(run // dt.itemsize).astype(dt)
                    runs[at] = values.view(np.uint8).tobytes()
                    f.seek(offset + at)
                    f.write(runs[at])
            crc = 0
            if checksums:
                zeros = bytes(16 * 2**20)
                pos = 0
                for at in sorted(runs):
                    while pos < at:
                        step = min(len(zeros), at - pos)
                        crc = crc32c_extend(crc, zeros[:step])
                        pos += step
                    crc = crc32c_extend(crc, runs[at])
                    pos = at + len(runs[at])
                while pos < size:
                    step = min(len(zeros), size - pos)
                    crc = crc32c_extend(crc, zeros[:step])
                    pos += step
            e = BundleEntryProto(dtype=dtypes.datatype_for(dt), shard_id=0, offset=offset, size=size,
                                 crc32c=mask_crc(crc))
            e.shape.SetInParent()
            for d in shape:
                e.shape.dim.add().size = d
            entries[name.encode()] = e
            offset += size
        f.truncate(offset)
    header = BundleHeaderProto(num_shards=1, endianness=BundleHeaderProto.LITTLE)
    header.version.producer = TENSOR_BUNDLE_VERSION
    header.version.min_consumer = TENSOR_BUNDLE_MIN_CONSUMER
    with open(prefix + ".index", "wb") as f:
        tb = TableBuilder(f)
        tb.add(HEADER_KEY, header.SerializeToString())
        for key in sorted(entries):
            tb.add(key, entries[key].SerializeToString())
        tb.finish()
    return prefix


# -- the fresh-process measurements -------------------------------------------------------

def _peak_mib() -> float:
    """This process's peak RSS (MiB) since it started its program.

    Linux's VmHWM, which starts afresh at exec; ``ru_maxrss`` does not (it would report the
    parent's size at fork, e.g. a test runner with TensorFlow loaded).
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def explore_everything(prefix: str, pages: int = 2000, scan: bool = True) -> dict:
    """Every tab of the explorer on ``prefix``; the biggest shard paged from its first byte to its last.

    ``scan``: also scan the largest tensor in the Values tab (streamed; reads all of it, slow
    on sparse files).  Returns timings and the peak RSS after each step (MiB).  Run it in a
    fresh process.
    """
    from tfckpt_lab.widgets import explore
    from tfckpt_lab.widgets.explorer import TABS

    steps = []

    def step(label, fn):
        t = time.perf_counter()
        fn()
        steps.append({"step": label, "seconds": round(time.perf_counter() - t, 3), "peak_mib": round(_peak_mib(), 1)})

    steps.append({"step": "imports (numpy, protobuf, ipywidgets)", "seconds": 0.0, "peak_mib": round(_peak_mib(), 1)})
    holder = {}
    step("explore(prefix): Files tab (index anatomy)", lambda: holder.update(ex=explore(prefix)))
    ex = holder["ex"]
    for i, name in enumerate(TABS[1:], 1):
        step(f"{name} tab", lambda i=i: setattr(ex, "tab", i))
    entries = ex.view("Entries")
    biggest = max(entries.rows, key=lambda r: r["size"])["name"]
    step(f"select {biggest!r} (the largest tensor): table, bytes, map, Values (a sample)",
         lambda: setattr(ex, "selected", biggest))
    values_note = _values_note(ex)
    button = next((b for b in ex.view("Values").children if getattr(b, "description", "").startswith("scan")), None)
    if scan and button is not None:
        step("Values: scan the whole tensor (streamed, checksum checked)", button.click)
    box = ex.view("Bytes")
    pick = box.children[0]
    data = max((p for p in pick.options if ".data-" in p[0]), key=lambda p: os.path.getsize(p[1]))
    step(f"Bytes: open {data[0]} ({os.path.getsize(data[1]) / GiB:.1f} GiB)", lambda: setattr(pick, "value", data[1]))
    hv = box.children[1]
    size = hv.tree.end

    def page_through():
        for k in range(pages + 1):  # evenly spaced windows, the first byte to the last
            hv.window = min(size - 1, k * (size // pages))  # what the page buttons and the slider set
        hv.cursor = size - 1  # the very last byte: its region is selected

    step(f"Bytes: {pages + 1} windows from byte 0 to the end, then the last byte", page_through)
    step("Checksum lab: flip a byte (refused in words: too big to copy)",
         lambda: ex.view("Checksum lab")._go.click())
    out = {"prefix": prefix, "bytes": sum(os.path.getsize(p) for p in ex.trees), "steps": steps,
           "peak_mib": round(_peak_mib(), 1), "last_byte": hv.selected_kind,
           "lab_error": ex.view("Checksum lab").error, "values_note": values_note,
           "selected_at_the_end": ex.selected}
    ex.close()
    return out


def values_tab(prefix: str, name: str, scan: bool = True) -> dict:
    """Select tensor ``name`` in the Values tab (a sample), then (``scan``) scan it, streamed: time and peak RSS."""
    from tfckpt_lab.widgets import explore

    ex = explore(prefix)
    ex.tab = 4  # Values
    before = _peak_mib()
    t = time.perf_counter()
    ex.selected = name
    sample_s = time.perf_counter() - t
    after_sample = _peak_mib()
    note = _values_note(ex)
    button = next(b for b in ex.view("Values").children if getattr(b, "description", "").startswith("scan"))
    t = time.perf_counter()
    if scan:
        button.click()
    scan_s = time.perf_counter() - t
    out = {"before_mib": round(before, 1), "sample_seconds": round(sample_s, 3), "after_sample_mib": round(after_sample, 1),
           "scan_seconds": round(scan_s, 3), "peak_mib": round(_peak_mib(), 1), "sample_note": note,
           "scan_note": _values_note(ex)}
    ex.close()
    return out


def _values_note(ex) -> str:
    import re

    html_parts = [getattr(c, "value", "") for c in ex.view("Values").children if isinstance(getattr(c, "value", None), str)]
    return re.sub(r"<[^>]+>", "", " ".join(html_parts))


def in_fresh_process(fn: str, *args) -> dict:
    """Run ``fn(*args)`` of this module in a new Python process; its JSON result."""
    code = (f"import json, sys; sys.path.insert(0, {HERE!r}); import views; "
            f"print(json.dumps(views.{fn}(*{args!r})))")
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def big(directory: str | None) -> None:
    with tempfile.TemporaryDirectory(dir=directory) as d:
        prefix = sparse_checkpoint(os.path.join(d, "model-1"), BIG_TENSORS, checksums=False)
        r = in_fresh_process("explore_everything", prefix)
    print(f"exploring a {r['bytes'] / GiB:.1f} GiB checkpoint (sparse files), fresh process\n")
    print("| step | seconds | peak RSS (MiB) |\n|---|---:|---:|")
    for s in r["steps"]:
        print(f"| {s['step']} | {s['seconds']:.3f} | {s['peak_mib']:.0f} |")
    print(f"\npeak RSS: {r['peak_mib']:.0f} MiB (target: under 150)")


def tensor(directory: str | None) -> None:
    with tempfile.TemporaryDirectory(dir=directory) as d:
        prefix = sparse_checkpoint(os.path.join(d, "model-1"), TENSOR_2G4)
        r = in_fresh_process("values_tab", prefix, "huge")
    print("the Values tab on a 2.4 GB float32 tensor [600000, 1000], fresh process\n")
    print("| step | seconds | peak RSS (MiB) |\n|---|---:|---:|")
    print(f"| explorer open, Values tab shown | | {r['before_mib']:.0f} |")
    print(f"| select the tensor (a sample) | {r['sample_seconds']:.3f} | {r['after_sample_mib']:.0f} |")
    print(f"| scan all of it (streamed, CRC checked) | {r['scan_seconds']:.3f} | {r['peak_mib']:.0f} |")


def main(prefix: str) -> None:
    from tfckpt_lab.explain import check_tiling, innermost_region, layout
    from tfckpt_lab.views.plots import figure_png, index_anatomy, shard_map

    import google.protobuf  # noqa: F401  (import time is not what we measure)

    rows = []

    def timed(label, fn):
        t = time.perf_counter()
        out = fn()
        rows.append((label, time.perf_counter() - t))
        return out

    index = timed("layout(.index): footer + index block", lambda: layout(prefix + ".index"))
    timed("innermost_region(.index, middle byte)  [decodes 1 block]", lambda: innermost_region(index, index.end // 2))
    timed("innermost_region(.index, another block)", lambda: innermost_region(index, index.end // 5))
    data = timed("layout(.data) + top level  [all entries parsed]",
                 lambda: layout(prefix + ".data-00000-of-00001").children)
    timed("full .index tree + tiling check  (every leaf)", lambda: check_tiling(layout(prefix + ".index")))
    timed("shard_map figure -> PNG", lambda: figure_png(shard_map(prefix)))
    timed("index_anatomy figure -> PNG", lambda: figure_png(index_anatomy(index)))
    try:
        from tfckpt_lab.widgets import EntriesTable, explore

        ex = timed("explore(prefix)  [Files tab]", lambda: explore(prefix))
        timed("  Entries tab (10k rows, first page)", lambda: ex.view("Entries"))
        table = ex.view("Entries")
        timed("  filter 'layer_0042'", lambda: setattr(table, "filter", "layer_0042"))
        timed("  sort by size, descending", lambda: setattr(table, "ascending", False))
        timed("  Bytes tab", lambda: ex.view("Bytes"))
        name = table.rows[5000]["name"]
        timed("  select a tensor (table, bytes follow)", lambda: setattr(ex, "selected", name))
        timed("  Shard map tab", lambda: ex.view("Shard map"))
        del EntriesTable
    except ImportError:
        pass
    n = sum(1 for _ in data)
    print(f"{prefix}  ({os.path.getsize(prefix + '.index'):,} B index, {n:,} tensor regions)\n")
    print("| step | seconds |\n|---|---:|")
    for label, s in rows:
        print(f"| {label} | {s:.3f} |")


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--big":
        big(args[1] if len(args) > 1 else None)
    elif args and args[0] == "--tensor":
        tensor(args[1] if len(args) > 1 else None)
    else:
        main(os.path.abspath(args[0] if args else DEFAULT))
