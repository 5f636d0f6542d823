"""RotationSimulator: step through saves and watch checkpoints appear, get renamed and get deleted.

It runs the real :class:`~tfckpt_lab.Saver` (TF1) or
:class:`~tfckpt_lab.CheckpointManager` (TF2) on a temporary directory, with the
clock they read (``time.time()``) replaced by a simulated one that advances
``hours_per_save`` per save, so ``keep_checkpoint_every_n_hours`` can be watched
without waiting.  File operations are observed (not re-implemented): every
``os.replace`` and ``os.remove`` made during a save is recorded.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time as _real_time
from contextlib import contextmanager
from unittest import mock

import html

import ipywidgets as w
import numpy as np
import traitlets as t

from ._common import StaticFallback

__all__ = ["RotationSimulator", "SimulatedClock", "START_TIME"]

START_TIME = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC, the simulated clock's origin


class SimulatedClock:
    """Stands in for the ``time`` module inside the saver and manager modules."""

    def __init__(self, now: float = START_TIME):
        self.now = now

    def time(self) -> float:
        return self.now

    def __getattr__(self, name):  # everything else: the real time module
        return getattr(_real_time, name)


class RotationSimulator(StaticFallback, w.VBox):
    """Save, save, save... and watch the rotation rules at work.

    >>> sim = RotationSimulator(mode="Saver", max_to_keep=2)
    >>> for _ in range(3):
    ...     _ = sim.save()
    >>> sim.checkpoints()
    ['model-2000', 'model-3000']
    >>> [f for f in sim.history[-1]["deleted"] if not f.endswith(".meta")]
    ['model-1000.data-00000-of-00001', 'model-1000.index']
    >>> sim.close()

    Traits (state): ``mode`` (``"Saver"`` or ``"CheckpointManager"``), ``max_to_keep``
    (0 = keep all), ``keep_every_n_hours`` (0 = off), ``hours_per_save``,
    ``steps_per_save``, ``global_step``, ``clock`` (simulated seconds since 1970),
    ``files`` (the directory now), ``state_text`` (the ``checkpoint`` file now),
    ``history`` (one dict per save: what appeared, was renamed, was deleted).
    Changing a rule resets the simulation (the rules are fixed when a Saver is made).
    """

    mode = t.Enum(["Saver", "CheckpointManager"], default_value="Saver")
    max_to_keep = t.Int(3)
    keep_every_n_hours = t.Float(0.0)
    hours_per_save = t.Float(1.0)
    steps_per_save = t.Int(1000)
    global_step = t.Int(0)
    clock = t.Float(START_TIME)
    files = t.List(t.Unicode())
    state_text = t.Unicode("")
    history = t.List(t.Dict())

    def __init__(self, *, directory: str | None = None, **kwargs):
        self._own_dir = directory is None
        self.directory = directory or tempfile.mkdtemp(prefix="tfckpt-sim-")
        self._clock = SimulatedClock()
        self._impl = None
        ctl = {}
        ctl["mode"] = w.ToggleButtons(options=["Saver", "CheckpointManager"], description="API")
        ctl["max_to_keep"] = w.BoundedIntText(min=0, max=50, description="max_to_keep",
                                              layout=w.Layout(width="180px"))
        ctl["keep_every_n_hours"] = w.BoundedFloatText(min=0, max=1e4, step=0.5, description="keep every N h",
                                                       layout=w.Layout(width="200px"),
                                                       style={"description_width": "initial"})
        ctl["hours_per_save"] = w.BoundedFloatText(min=0, max=1e4, step=0.5, description="hours per save",
                                                   layout=w.Layout(width="200px"),
                                                   style={"description_width": "initial"})
        ctl["steps_per_save"] = w.BoundedIntText(min=1, max=10**9, description="steps per save",
                                                 layout=w.Layout(width="200px"),
                                                 style={"description_width": "initial"})
        self._controls = ctl
        self._save = w.Button(description="save", icon="save", button_style="primary")
        self._save5 = w.Button(description="save ×5")
        self._reset = w.Button(description="reset", icon="refresh")
        self._view = w.HTML()
        super().__init__(**kwargs)
        for name, c in ctl.items():
            c.value = getattr(self, name)
            w.link((c, "value"), (self, name))
        self.children = [ctl["mode"],
                         w.HBox([ctl["max_to_keep"], ctl["keep_every_n_hours"], ctl["hours_per_save"],
                                 ctl["steps_per_save"]]),
                         w.HBox([self._save, self._save5, self._reset]), self._view]
        self._save.on_click(lambda _: self.save())
        self._save5.on_click(lambda _: self.run(5))
        self._reset.on_click(lambda _: self.reset())
        self.observe(lambda _: self.reset(), ["mode", "max_to_keep", "keep_every_n_hours"])
        self.reset()

    # -- the simulation --------------------------------------------------------------------
    @contextmanager
    def _patched(self):
        from ..checkpoint import manager as manager_mod
        from ..checkpoint import saver as saver_mod

        with mock.patch.object(saver_mod, "time", self._clock), mock.patch.object(manager_mod, "time", self._clock):
            yield

    def reset(self) -> None:
        """Empty the directory and start over with the current rules at time ``START_TIME``."""
        for name in os.listdir(self.directory):
            p = os.path.join(self.directory, name)
            shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
        self._clock.now = START_TIME
        self.clock = START_TIME
        self.global_step = 0
        with self._patched():
            if self.mode == "Saver":
                from ..checkpoint.saver import Saver

                hours = self.keep_every_n_hours or 10000.0  # TF1's default: effectively never
                self._impl = Saver(max_to_keep=self.max_to_keep, keep_checkpoint_every_n_hours=hours)
            else:
                from ..checkpoint.manager import CheckpointManager

                self._impl = CheckpointManager(self.directory, max_to_keep=self.max_to_keep or None,
                                               keep_checkpoint_every_n_hours=self.keep_every_n_hours or None)
        self.history = []
        self._refresh()

    def save(self) -> dict:
        """Advance the clock and the step, save once; returns what happened (also appended to ``history``)."""
        self._clock.now += self.hours_per_save * 3600
        self.global_step += self.steps_per_save
        step = self.global_step
        variables = {"w": np.full(2, step, np.float32), "global_step": np.int64(step)}
        before = set(os.listdir(self.directory))
        ops: list[tuple[str, str, str]] = []
        real_replace, real_remove = os.replace, os.remove

        def replace(src, dst, *a, **k):
            real_replace(src, dst, *a, **k)
            ops.append(("renamed", os.path.basename(os.fspath(src)), os.path.basename(os.fspath(dst))))

        def remove(p, *a, **k):
            real_remove(p, *a, **k)
            ops.append(("deleted", os.path.basename(os.fspath(p)), ""))

        with self._patched(), mock.patch("os.replace", replace), mock.patch("os.remove", remove):
            if self.mode == "Saver":
                prefix = self._impl.save(variables, os.path.join(self.directory, "model"), global_step=step)
            else:
                prefix = self._impl.save(variables, checkpoint_number=step)
        after = set(os.listdir(self.directory))
        event = {
            "save": len(self.history) + 1,
            "global_step": step,
            "hours": (self._clock.now - START_TIME) / 3600,
            "prefix": os.path.basename(prefix),
            "appeared": sorted(after - before),
            "renamed": [(a, b) for kind, a, b in ops if kind == "renamed"],
            "deleted": sorted({a for kind, a, _ in ops if kind == "deleted"} & before),
            "files": sorted(after),
        }
        self.clock = self._clock.now
        self.history = self.history + [event]
        self._refresh()
        return event

    def run(self, n: int) -> list[dict]:
        """``n`` saves in a row."""
        return [self.save() for _ in range(n)]

    def checkpoints(self) -> list[str]:
        """Checkpoint prefixes present on disk (those with an ``.index``), oldest step first."""
        names = [f[:-len(".index")] for f in self.files if f.endswith(".index")]
        return sorted(names, key=lambda n: (len(n), n))

    def _refresh(self) -> None:
        self.files = sorted(os.listdir(self.directory))
        from ..checkpoint.state import MAX_STATE_FILE_BYTES
        from ..errors import CheckpointNotFoundError
        from ..fileio import read_whole_file

        try:
            self.state_text = read_whole_file(os.path.join(self.directory, "checkpoint"), limit=MAX_STATE_FILE_BYTES,
                                              what="checkpoint state file").decode("utf-8", "replace")
        except CheckpointNotFoundError:
            self.state_text = ""
        self._view.value = self.to_html()

    # -- output ---------------------------------------------------------------------------------
    def to_html(self) -> str:
        last = self.history[-1] if self.history else None
        appeared = set(last["appeared"]) if last else set()
        items = []
        for f in self.files:
            style = "background:#009E73;color:white" if f in appeared else ""
            items.append(f'<li><code style="{style}">{html.escape(f)}</code></li>')
        if last:
            for f in last["deleted"]:
                items.append(f'<li><code style="text-decoration:line-through;color:#D55E00">{html.escape(f)}'
                             f"</code> (deleted)</li>")
        rows = []
        for e in self.history[-12:]:
            ren = "<br>".join(f"{html.escape(a)} → {html.escape(b)}" for a, b in e["renamed"])
            rows.append(f"<tr><td>{e['save']}</td><td>{e['global_step']}</td><td>{e['hours']:.1f}</td>"
                        f"<td><code>{html.escape(e['prefix'])}</code></td><td style='font-size:85%'>{ren}</td>"
                        f"<td>{html.escape(', '.join(e['deleted']))}</td></tr>")
        rules = (f"{self.mode}(max_to_keep={self.max_to_keep}, keep every {self.keep_every_n_hours or 'off'} h); "
                 f"global_step {self.global_step}, simulated time +{(self.clock - START_TIME) / 3600:.1f} h")
        return (f"<div><b>{html.escape(rules)}</b></div>"
                f"<div style='display:flex;gap:2em'><div><b>directory</b><ul>{''.join(items)}</ul></div>"
                f"<div><b>checkpoint</b> file<pre>{html.escape(self.state_text) or '(none yet)'}</pre></div></div>"
                "<table><tr><th>save</th><th>step</th><th>hours</th><th>prefix</th><th>renamed</th>"
                f"<th>deleted</th></tr>{''.join(rows)}</table>")

    def close(self) -> None:
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)
        super().close()
