"""A tiny progress bar for long reads, drawn on stderr (no dependency).

On a terminal it redraws one line; into a file or a pipe it writes a line at
each quarter, so logs stay short.

>>> import io
>>> out = io.StringIO()
>>> bar = ProgressBar(4 * 2**20, "model.data-00000-of-00001", stream=out, min_interval=0)
>>> bar.update(2**21); bar.update(2**21); bar.close()
>>> print(out.getvalue().splitlines()[-1])
model.data-00000-of-00001: 100% 4.0/4.0 MiB
"""

from __future__ import annotations

import sys
import time

__all__ = ["ProgressBar"]


class ProgressBar:
    """Bytes done of ``total`` for one named read."""

    def __init__(self, total: int, label: str, *, stream=None, min_interval: float = 0.2):
        self.total = max(int(total), 1)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self.min_interval = min_interval
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = 0.0
        self._quarter = -1
        self._draw()

    def _text(self) -> str:
        mib = 2**20
        return (f"{self.label}: {100 * self.done // self.total:3d}% "
                f"{self.done / mib:.1f}/{self.total / mib:.1f} MiB")

    def _draw(self, final: bool = False) -> None:
        if self._tty:
            now = time.monotonic()
            if final or now - self._last >= self.min_interval:
                self._last = now
                self.stream.write("\r" + self._text() + ("\n" if final else ""))
                self.stream.flush()
            return
        quarter = 4 * self.done // self.total
        if quarter != self._quarter:
            self._quarter = quarter
            self.stream.write(self._text() + "\n")
            self.stream.flush()

    def update(self, n: int) -> None:
        self.done = min(self.total, self.done + int(n))
        self._draw()

    def close(self) -> None:
        if self._tty:
            self._draw(final=True)
        elif self._quarter != 4:
            self.done = self.total if self.done >= self.total else self.done
            self._draw()
