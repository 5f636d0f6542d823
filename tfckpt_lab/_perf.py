"""Small helpers for the hot paths."""

from __future__ import annotations

import contextlib
import gc

__all__ = ["paused_gc"]


@contextlib.contextmanager
def paused_gc():
    """Pause the cyclic garbage collector while building many small objects.

    Listing a 100,000-entry index creates a few hundred thousand tuples, strings
    and lists, none of them in reference cycles; with the collector running,
    its repeated scans of the growing containers cost about a third of the
    time (measured: benchmarks/run.py).  Reference counting still frees
    everything; the collector resumes (if it was running) on exit.
    """
    was_enabled = gc.isenabled()
    if was_enabled:
        gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
