#!/usr/bin/env python3
"""tfckpt_lab against TensorFlow's own reader and writer, side by side, in one run.

    python benchmarks/run.py [--quick] [--json out.json] [--reps N] [--dir DIR]

Every contender works on the same files, in the same process (TensorFlow is
imported once, before anything is timed), with the page cache warm for all of
them (each file is read once before its first timing).  The contenders take
turns inside each of ``--reps`` repetitions, so that noise from other processes
on the machine hits them alike; a ratio is computed within each repetition and
the table gives its median and its best (the smallest).  Memory and import time
are measured in fresh subprocesses.

Cases (full size; ``--quick`` shrinks them about 8x):

* read-all   -- every tensor of a 512 MiB checkpoint (64 float32 tensors of 8 MiB)
* verify     -- ``verify_checkpoint`` of the same checkpoint (every checksum, every byte)
* write      -- the same 64 tensors
* open+get   -- open a 100,000-entry checkpoint and read one tensor
* list       -- open it and list every variable with its shape
* layout     -- the region tree of its ``.index``, every block expanded to its entries
* peak RSS   -- read one 8 MiB tensor from a 1 GiB checkpoint (fresh process)
* import     -- ``import tfckpt_lab`` vs ``import tensorflow`` (fresh processes)

The "raw" contenders are the limits: reading the data file's bytes into fresh
arrays with ``readinto``, and writing the arrays' bytes to a file.  "raw read +
CRC-32C" is the same read with each MiB checksummed right after it is read: what
a verified read costs on one thread with nothing else to do.  TensorFlow
columns are left empty (and the script still works) when TensorFlow is absent.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Measure the tfckpt_lab of this checkout (here and in the subprocesses), not whichever one is installed.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)

import numpy as np  # noqa: E402

import tfckpt_lab as tl  # noqa: E402

MiB = 1 << 20
HAVE_TF = importlib.util.find_spec("tensorflow") is not None


# -- helpers -------------------------------------------------------------------

class Timing(dict):
    """``{contender: [seconds per counted repetition]}`` with medians, bests and per-repetition ratios.

    ``cpu`` holds the same for this process's CPU time (``time.process_time``: every thread, user
    and system): on a machine shared with other work it shows what a contender costs when wall
    time mostly shows how long it waited for a core.
    """

    def __init__(self, *args):
        super().__init__(*args)
        self.cpu: dict[str, list[float]] = {k: [] for k in self}

    def cpu_median(self, name):
        return statistics.median(self.cpu[name]) if self.cpu.get(name) else None

    def median(self, name):
        return statistics.median(self[name]) if self.get(name) else None

    def best(self, name):
        return min(self[name]) if self.get(name) else None

    def ratios(self, a, b):
        """``a / b`` within each repetition (both ran back to back, under the same load)."""
        if not self.get(a) or not self.get(b):
            return None
        return [x / y for x, y in zip(self[a], self[b]) if y > 0]


def time_contenders(contenders: dict, reps: int, before=None) -> Timing:
    """Wall time of each callable over ``reps`` repetitions; contenders take turns within each one.

    One untimed warm-up round comes first: the first write after allocating the
    tensors was 5-10x slower than the rest for every contender, whoever went first.
    """
    times = Timing({k: [] for k in contenders})
    for rep in range(reps + 1):  # repetition 0 warms up every contender and is not counted
        for name, fn in contenders.items():
            if before is not None:
                before(name)
            gc.collect()
            t, c = time.perf_counter(), time.process_time()
            fn()
            if rep:
                times[name].append(time.perf_counter() - t)
                times.cpu[name].append(time.process_time() - c)
    return times


def warm(paths) -> None:
    for p in paths:
        with open(p, "rb", buffering=0) as f:
            while f.read(64 * MiB):
                pass


def bundle_files(prefix: str) -> list[str]:
    d, base = os.path.split(prefix)
    return [os.path.join(d, n) for n in os.listdir(d) if n.startswith(base + ".")]


def make_tensors(n: int, nbytes: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {f"layer_{i:03d}/kernel": rng.standard_normal(nbytes // 4, dtype=np.float32) for i in range(n)}


def run_py(code: str, env=None) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, **(env or {})})
    return out.stdout.strip().splitlines()[-1]


# -- cases ---------------------------------------------------------------------

def bench_read(tmp, tensors, reps, tf):
    prefix = os.path.join(tmp, "read", "model")
    tl.write_bundle(prefix, tensors)
    names = list(tensors)
    data = prefix + ".data-00000-of-00001"
    warm(bundle_files(prefix))
    sizes = [t.nbytes for t in tensors.values()]

    def ours_verify():
        r = tl.load_checkpoint(prefix)
        for n in names:
            r.get_tensor(n)
        r.close()

    def ours_noverify():
        r = tl.load_checkpoint(prefix, verify=False)
        for n in names:
            r.get_tensor(n, verify=False)
        r.close()

    def ours_view():
        r = tl.load_checkpoint(prefix, verify=False)
        for n in names:
            r.get_tensor(n, verify=False, copy=False)
        r.close()

    def ours_verify_checkpoint():
        from tfckpt_lab.checkpoint.verify import verify_checkpoint

        assert verify_checkpoint(prefix).ok

    def raw():
        with open(data, "rb", buffering=0) as f:
            for s in sizes:
                f.readinto(np.empty(s, np.uint8))

    def raw_crc():  # the one-thread floor of a verified read: the raw read, each MiB checksummed while in cache
        from tfckpt_lab.bundle.chunks import CHUNK
        from tfckpt_lab.codecs import crc32c_extend

        with open(data, "rb", buffering=0) as f:
            for s in sizes:
                a = np.empty(s, np.uint8)
                crc = 0
                for p in range(0, s, CHUNK):
                    f.readinto(a[p:p + CHUNK])
                    crc = crc32c_extend(crc, a[p:p + CHUNK])

    c = {"ours verify": ours_verify, "ours no-verify": ours_noverify,
         "ours zero-copy view": ours_view, "ours verify_checkpoint": ours_verify_checkpoint, "raw read": raw,
         "raw read + crc": raw_crc}
    if tf is not None:
        def tf_read():
            r = tf.train.load_checkpoint(prefix)
            for n in names:
                r.get_tensor(n)
        c["tf"] = tf_read
    t = time_contenders(c, reps)
    shutil.rmtree(os.path.dirname(prefix))
    return t


def bench_write(tmp, tensors, reps, tf):
    d = os.path.join(tmp, "write")
    os.makedirs(d, exist_ok=True)
    names = list(tensors)
    arrays = list(tensors.values())
    tf_tensors = [tf.constant(a) for a in arrays] if tf is not None else None

    def clean(_name):
        for n in os.listdir(d):
            os.remove(os.path.join(d, n))
        os.sync()  # no writeback of an earlier contender's pages during the next timing

    def ours():
        tl.write_bundle(os.path.join(d, "ours"), tensors)

    def raw():
        with open(os.path.join(d, "raw.bin"), "wb") as f:
            for a in arrays:
                f.write(a.data)

    c = {"ours": ours, "raw write": raw}
    if tf is not None:
        def tf_write():
            tf.raw_ops.SaveV2(prefix=os.path.join(d, "tf"), tensor_names=names,
                              shape_and_slices=[""] * len(names), tensors=tf_tensors)
        c["tf"] = tf_write
    t = time_contenders(c, reps, before=clean)
    if tf is not None:  # same bytes as TensorFlow's, for the record
        ours()
        c["tf"]()
        for suffix in (".index", ".data-00000-of-00001"):
            with open(os.path.join(d, "ours" + suffix), "rb") as a, open(os.path.join(d, "tf" + suffix), "rb") as b:
                assert a.read() == b.read(), f"our {suffix} differs from TensorFlow's"
    shutil.rmtree(d)
    return t


def bench_many(tmp, n_entries, reps, tf):
    prefix = os.path.join(tmp, "many", "model")
    tl.write_bundle(prefix, {f"layer_{i // 100:04d}/var_{i % 100:02d}/kernel": np.full((3, 4), i, np.float32)
                             for i in range(n_entries)})
    warm(bundle_files(prefix))
    name = f"layer_{n_entries // 200:04d}/var_07/kernel"

    def ours_get():
        with tl.load_checkpoint(prefix) as r:
            r.get_tensor(name)

    def ours_list():
        with tl.load_checkpoint(prefix) as r:
            m = r.get_variable_to_shape_map()
        assert len(m) == n_entries

    def ours_list_variables():
        tl.list_variables(prefix)

    def ours_layout():  # the region tree with every block expanded to its entries, and one entry opened
        tree = tl.layout(prefix + ".index")
        n = sum(len(b.children) for b in tree.children if b.kind == "data_block")
        assert n > n_entries
        assert tl.innermost_region(tree, tree.end // 3) is not None

    get = {"ours": ours_get}
    lst = {"ours": ours_list}
    lv = {"ours": ours_list_variables}
    lay = {"ours": ours_layout}
    if tf is not None:
        get["tf"] = lambda: tf.train.load_checkpoint(prefix).get_tensor(name)
        lst["tf"] = lambda: tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
        lv["tf"] = lambda: tf.train.list_variables(prefix)
    out = {"get": time_contenders(get, reps), "list": time_contenders(lst, reps),
           "list_variables": time_contenders(lv, reps), "layout": time_contenders(lay, reps)}
    shutil.rmtree(os.path.dirname(prefix))
    return out


# Peak RSS above the baseline after imports.  Linux: reset the high-water mark
# (VmHWM) by writing 5 to /proc/self/clear_refs, so a transient peak during the
# imports does not hide ours; elsewhere fall back to ru_maxrss.
_PEAK_HELPERS = """
import os, resource
def _rss(field):
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
def start():
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
    except OSError:
        return _rss('VmHWM')
    return _rss('VmRSS')
def peak_above(base):
    return _rss('VmHWM') - base
"""

_PEAK_OURS = _PEAK_HELPERS + """
import numpy, tfckpt_lab
from tfckpt_lab.checkpoint import reader
base = start()
x = tfckpt_lab.load_checkpoint({prefix!r}).get_tensor({name!r})
assert x.nbytes == {nbytes}
print(peak_above(base))
"""

_PEAK_TF = _PEAK_HELPERS + """
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy, tensorflow as tf
base = start()
x = tf.train.load_checkpoint({prefix!r}).get_tensor({name!r})
assert x.nbytes == {nbytes}
print(peak_above(base))
"""


def bench_peak(tmp, n, nbytes, reps):
    prefix = os.path.join(tmp, "big", "model")
    with tl.BundleWriter(prefix) as w:  # written one tensor at a time: never all in memory
        rng = np.random.default_rng(1)
        for i in range(n):
            w.add(f"layer_{i:03d}/kernel", rng.standard_normal(nbytes // 4, dtype=np.float32))
    warm(bundle_files(prefix))
    name = f"layer_{n // 2:03d}/kernel"
    out = {"ours": statistics.median(
        int(run_py(_PEAK_OURS.format(prefix=prefix, name=name, nbytes=nbytes))) for _ in range(reps))}
    if HAVE_TF:
        out["tf"] = statistics.median(
            int(run_py(_PEAK_TF.format(prefix=prefix, name=name, nbytes=nbytes))) for _ in range(reps))
    out["tensor"] = nbytes
    out["checkpoint"] = n * nbytes
    shutil.rmtree(os.path.dirname(prefix))
    return out


_IMPORT = "import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"


def bench_import(reps):
    stmts = {"ours": "import tfckpt_lab",
             "ours + first use": "import tfckpt_lab; tfckpt_lab.load_checkpoint; tfckpt_lab.write_bundle"}
    if HAVE_TF:
        stmts["tf"] = "import tensorflow"
    times: dict[str, list[float]] = {k: [] for k in stmts}
    for _ in range(reps):
        for k, s in stmts.items():
            times[k].append(float(run_py(_IMPORT.format(stmt=s))))
    return {k: statistics.median(v) for k, v in times.items()}


# -- report --------------------------------------------------------------------

def fmt_s(x):
    if x is None:
        return "-"
    return f"{x * 1e3:.1f} ms" if x < 1 else f"{x:.2f} s"


def fmt_r(x):
    return "-" if x is None else f"{x:.2f}x"


def fmt_b(x):
    return "-" if x is None else f"{x / MiB:.1f} MiB"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller files, fewer repetitions")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--reps", type=int, help="repetitions per measurement (default 5, quick 3)")
    ap.add_argument("--dir", help="where the big temporary files go (default: a new temp dir)")
    ap.add_argument("--no-tf", action="store_true", help="leave TensorFlow out even if installed")
    ap.add_argument("--only", help="comma-separated cases to run: read,write,many,peak,import (default: all)")
    args = ap.parse_args(argv)

    reps = args.reps or (3 if args.quick else 5)
    n_tensors, n_entries, n_big = (8, 20_000, 16) if args.quick else (64, 100_000, 128)
    tensor_bytes = 8 * MiB
    tf = None
    if HAVE_TF and not args.no_tf:
        import tensorflow as tf  # imported before any timing
    only = set(args.only.split(",")) if args.only else {"read", "write", "many", "peak", "import"}

    def want(case):
        return case in only

    rd = wr = many = peak = imp = None
    tmp = tempfile.mkdtemp(prefix="tfckpt_bench_", dir=args.dir)
    try:
        total = n_tensors * tensor_bytes
        if want("read") or want("write"):
            tensors = make_tensors(n_tensors, tensor_bytes)
        if want("read"):
            print(f"read-all ({n_tensors} x 8 MiB) ...", file=sys.stderr)
            rd = bench_read(tmp, tensors, reps, tf)
        if want("write"):
            print("write ...", file=sys.stderr)
            wr = bench_write(tmp, tensors, reps, tf)
        tensors = None
        if want("many"):
            print(f"{n_entries:,}-entry index ...", file=sys.stderr)
            many = bench_many(tmp, n_entries, reps, tf)
        if want("peak"):
            print(f"peak memory ({n_big} x 8 MiB) ...", file=sys.stderr)
            peak = bench_peak(tmp, n_big, tensor_bytes, reps)
        if want("import"):
            print("import ...", file=sys.stderr)
            imp = bench_import(max(reps, 5))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    rows = []

    def row(case, t, ours, tf_name=None, raw_name=None, target=None, met=None, unit=None):
        """One table row from a Timing (or, with ``unit``, from plain numbers in ``t``)."""
        if unit is not None:  # memory or import: already medians, no per-repetition ratios
            o, tv, rv = t[ours], t.get(tf_name), t.get(raw_name)
            rows.append({"case": case, "ours": o, "ours_best": None, "ours_cpu": None, "cpu_over_raw": None,
                         "tf": tv, "raw": rv,
                         "over_tf": [o / tv] if tv else None, "over_raw": [o / rv] if rv else None,
                         "target": target, "met": met, "_unit": unit})
            return
        cpu_raw = t.cpu_median(raw_name) if raw_name else None
        rows.append({"case": case, "ours": t.median(ours), "ours_best": t.best(ours),
                     "ours_cpu": t.cpu_median(ours),
                     "cpu_over_raw": None if not cpu_raw else t.cpu_median(ours) / cpu_raw,
                     "tf": t.median(tf_name) if tf_name else None,
                     "raw": t.median(raw_name) if raw_name else None,
                     "over_tf": t.ratios(ours, tf_name) if tf_name else None,
                     "over_raw": t.ratios(ours, raw_name) if raw_name else None,
                     "target": target, "met": met, "_unit": fmt_s})

    def med(rs):
        return None if not rs else statistics.median(rs)

    def within(rs, limit):
        return None if not rs else med(rs) <= limit

    size = f"{total // MiB} MiB"
    if rd is not None:
        tf_ = "tf" if "tf" in rd else None
        row(f"read all {size}, verify", rd, "ours verify", tf_, "raw read", "<= 1.2x raw, <= 0.7x TF",
            within(rd.ratios("ours verify", "raw read"), 1.2)
            and (tf_ is None or within(rd.ratios("ours verify", "tf"), 0.7)))
        row(f"raw read + CRC-32C {size} (one-thread floor)", rd, "raw read + crc", None, "raw read", "")
        row(f"read all {size}, no verify (copy)", rd, "ours no-verify", tf_, "raw read", "<= 1.5x raw",
            within(rd.ratios("ours no-verify", "raw read"), 1.5))
        row(f"read all {size}, zero-copy views", rd, "ours zero-copy view", tf_, "raw read", "(untouched)")
        row(f"verify_checkpoint {size}", rd, "ours verify_checkpoint", None, "raw read", "")
    if wr is not None:
        wtf = "tf" if "tf" in wr else None
        row(f"write {size}", wr, "ours", wtf, "raw write", "<= 0.7x TF, <= 1.5x raw",
            None if wtf is None else (within(wr.ratios("ours", "tf"), 0.7)
                                      and within(wr.ratios("ours", "raw write"), 1.5)))
    if many is not None:
        g, lst, lv, lay = many["get"], many["list"], many["list_variables"], many["layout"]
        mtf = "tf" if "tf" in g else None
        row(f"{n_entries:,} entries: open + 1 get", g, "ours", mtf, None, "<= 0.1x TF",
            within(g.ratios("ours", mtf), 0.1) if mtf else None)
        row(f"{n_entries:,} entries: open + shape map", lst, "ours", mtf, None, "<= 0.5x TF",
            within(lst.ratios("ours", mtf), 0.5) if mtf else None)
        row(f"{n_entries:,} entries: list_variables", lv, "ours", mtf, None, "<= 0.5x TF",
            within(lv.ratios("ours", mtf), 0.5) if mtf else None)
        row(f"{n_entries:,} entries: layout (all entries)", lay, "ours", None, None, "<= 1 s",
            lay.median("ours") <= 1.0)
    if peak is not None:
        row(f"peak RSS, 8 MiB of {peak['checkpoint'] // MiB} MiB", peak, "ours", "tf", "tensor",
            "< 64 MiB", peak["ours"] < 64 * MiB, unit=fmt_b)
    if imp is not None:
        row("import tfckpt_lab", imp, "ours", "tf", None, "< 0.3 s", imp["ours"] < 0.3, unit=fmt_s)
        row("import + load_checkpoint/write_bundle", imp, "ours + first use", "tf", None, "", unit=fmt_s)

    def fmt_rs(rs):
        if not rs:
            return "-"
        return fmt_r(med(rs)) if len(rs) == 1 else f"{fmt_r(med(rs))} ({fmt_r(min(rs))})"

    head = ["case", "ours", "(best)", "ours CPU", "TF", "raw limit", "ours/TF (best)", "ours/raw (best)",
            "CPU ours/raw", "target", "met"]
    table = [head, ["---"] * len(head)]
    for r in rows:
        u = r["_unit"]
        table.append([r["case"], u(r["ours"]), "" if r["ours_best"] is None else u(r["ours_best"]),
                      "" if r["ours_cpu"] is None else fmt_s(r["ours_cpu"]), u(r["tf"]), u(r["raw"]),
                      fmt_rs(r["over_tf"]), fmt_rs(r["over_raw"]),
                      "" if r["cpu_over_raw"] is None else fmt_r(r["cpu_over_raw"]), r["target"] or "",
                      "" if r["met"] is None else ("yes" if r["met"] else "NO")])
    widths = [max(len(str(line[i])) for line in table) for i in range(len(head))]
    for line in table:
        if line[0] == "---":
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        else:
            print("| " + " | ".join(str(c).ljust(w) for c, w in zip(line, widths)) + " |")

    machine = {"python": platform.python_version(), "platform": platform.platform(),
               "cpus": os.cpu_count(), "numpy": np.__version__, "tfckpt_lab": tl.__version__,
               "tensorflow": tf.__version__ if tf is not None else None, "reps": reps, "quick": args.quick}
    try:
        from google.protobuf.internal import api_implementation
        machine["protobuf_backend"] = api_implementation.Type()
    except ImportError:  # pragma: no cover
        pass
    try:
        load = "load average %.1f at the end" % os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - Windows
        load = ""
    print(f"\nmedian of {reps} (best in brackets; ratios taken within each repetition); {load}; "
          + ", ".join(f"{k}={v}" for k, v in machine.items() if k not in ("reps",)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine,
                       "rows": [{k: v for k, v in r.items() if k != "_unit"} for r in rows],
                       "raw": {"read": rd, "write": wr, "many": many, "peak": peak, "import": imp},
                       "cpu": {"read": rd and rd.cpu, "write": wr and wr.cpu,
                               "many": many and {k: v.cpu for k, v in many.items()}}},
                      f, indent=2, default=float)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
