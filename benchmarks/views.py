#!/usr/bin/env python3
"""How fast the "see inside" layer answers on the 10,000-entry golden fixture.

    python benchmarks/views.py [PREFIX]     (default: tests/fixtures/tf/savev2_multiblock/bundle)

Prints a table you can paste: each step is timed from a cold start of that
step (the process has already imported numpy and protobuf; the page cache is warm).
"""

from __future__ import annotations

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT = os.path.join(HERE, "..", "tests", "fixtures", "tf", "savev2_multiblock", "bundle")


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
    main(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else DEFAULT))
