"""RotationSimulator: step through saves and watch checkpoints appear, get renamed and get deleted.

It runs the real :class:`~tfckpt_lab.Saver` (TF1) or
:class:`~tfckpt_lab.CheckpointManager` (TF2) on a temporary directory, handing them a
simulated clock (their ``clock=`` argument) that advances ``hours_per_save`` per save
(and by :meth:`RotationSimulator.advance`, hours with no save), so
``keep_checkpoint_every_n_hours`` can be watched without waiting.  File operations are
observed, not re-implemented: the saver reports every file it writes, renames or deletes
through its ``on_file_event=`` callback, and the simulator records them.  Nothing in the
process is patched.

The page is made to be read from the back of a room: what the last save wrote and
deleted first, then one line per checkpoint on disk, newest first (steps sorted as
numbers), then the ``checkpoint`` file as the class would see it.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import tempfile

import ipywidgets as w
import numpy as np
import traitlets as t

from ..views.palette import OKABE_ITO, TABLE_OPEN, badge_css
from ._common import FIT_BUTTONS, WIDE_LABEL, StaticFallback
from ._status import ShowsErrors

__all__ = ["RotationSimulator", "SimulatedClock", "START_TIME", "natural_key"]

START_TIME = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC, the simulated clock's origin


class SimulatedClock:
    """A clock that moves only when told to: pass it as ``clock=`` to a Saver or CheckpointManager."""

    def __init__(self, now: float = START_TIME):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now


def natural_key(name: str) -> list:
    """Sort key that orders the numbers in a name as numbers: ``model-2000`` before ``model-10000``.

    >>> sorted(["model-10000.index", "model-2000.index", "checkpoint"], key=natural_key)
    ['checkpoint', 'model-2000.index', 'model-10000.index']
    """
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name) if part]


class RotationSimulator(StaticFallback, ShowsErrors, w.VBox):
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
    ``steps_per_save``, ``relative_paths`` (Saver only: save to a relative path such as
    ``saver.save(sess, "ckpt/model")``, so the ``checkpoint`` file holds relative paths,
    as notebook 02 teaches; False: an absolute path, which TF1's Saver writes as absolute
    paths; the CheckpointManager always writes relative ones), ``global_step``,
    ``clock`` (simulated seconds since 1970), ``files`` (the directory now, numbers
    sorted as numbers), ``state_text`` (the ``checkpoint`` file now), ``history`` (one
    dict per save: what appeared, was renamed, was deleted, and ``idle_hours``, the
    hours the clock was advanced with no save just before it), ``error``.
    Changing a rule resets the simulation (the rules are fixed when a Saver is made).
    :meth:`advance` moves the clock without saving.
    """

    mode = t.Enum(["Saver", "CheckpointManager"], default_value="Saver")
    max_to_keep = t.Int(3)
    keep_every_n_hours = t.Float(0.0)
    hours_per_save = t.Float(1.0)
    steps_per_save = t.Int(1000)
    relative_paths = t.Bool(True)
    global_step = t.Int(0)
    clock = t.Float(START_TIME)
    files = t.List(t.Unicode())
    state_text = t.Unicode("")
    history = t.List(t.Dict())

    def __init__(self, *, directory: str | None = None, **kwargs):
        self._own_dir = directory is None
        self.directory = directory or tempfile.mkdtemp(prefix="tfckpt-sim-")
        self._clock = SimulatedClock()
        self._ops: list | None = None  # file events of the save in progress
        self._impl = None
        ctl = {}
        ctl["mode"] = w.ToggleButtons(options=["Saver", "CheckpointManager"], description="API", style=FIT_BUTTONS,
                                      layout=w.Layout(display="flex", align_items="center"))  # label beside
        ctl["max_to_keep"] = w.BoundedIntText(min=0, max=50, description="max_to_keep",
                                              layout=w.Layout(width="180px"), style=WIDE_LABEL)
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
        # ticked: saver.save(sess, "ckpt/model"), the checkpoint file holds relative paths;
        # unticked: an absolute save path, written as absolute paths
        ctl["relative_paths"] = w.Checkbox(description="relative save path (Saver)", indent=False)
        self._controls = ctl
        self._save = w.Button(description="save", icon="save")  # no coloured style: white on blue is < 4.5:1
        self._save5 = w.Button(description="save ×5")
        self._idle = w.BoundedFloatText(value=1.0, min=0.5, max=1e4, step=0.5, description="hours:",
                                        layout=w.Layout(width="150px"), style={"description_width": "initial"})
        self._advance = w.Button(description="advance the clock", icon="clock-o",
                                 tooltip="let hours pass without a save", layout=w.Layout(width="auto"))
        self._reset = w.Button(description="reset", icon="refresh")
        self._view = w.HTML()
        super().__init__(**kwargs)
        for name, c in ctl.items():
            c.value = getattr(self, name)
            w.link((c, "value"), (self, name))
        self.children = [w.HBox([ctl["mode"], ctl["relative_paths"]]),
                         w.HBox([ctl["max_to_keep"], ctl["keep_every_n_hours"], ctl["hours_per_save"],
                                 ctl["steps_per_save"]]),
                         w.HBox([self._save, self._save5, self._idle, self._advance, self._reset]),
                         self._init_error_line(), self._view]
        self._save.on_click(lambda _: self._act(self.save))
        self._save5.on_click(lambda _: self._act(self.run, 5))
        self._advance.on_click(lambda _: self._act(self.advance, self._idle.value))
        self._reset.on_click(lambda _: self._act(self.reset))
        self.observe(lambda _: self._act(self.reset), ["mode", "max_to_keep", "keep_every_n_hours",
                                                        "relative_paths"])
        self.observe(lambda ch: setattr(ctl["relative_paths"], "disabled", ch["new"] != "Saver"), "mode")
        ctl["relative_paths"].disabled = self.mode != "Saver"
        self._idle_hours = 0.0
        self.reset()

    def _act(self, fn, *args) -> None:
        """A button's action; a failure is shown in place."""
        with self.report():
            fn(*args)

    @t.validate("max_to_keep")
    def _valid_max_to_keep(self, proposal):
        if proposal["value"] < 0:
            raise t.TraitError(f"max_to_keep must be 0 (keep all) or more, not {proposal['value']}")
        return proposal["value"]

    @t.validate("keep_every_n_hours", "hours_per_save")
    def _valid_hours(self, proposal):
        if not proposal["value"] >= 0:
            raise t.TraitError(f"{proposal['trait'].name} must be 0 or more hours, not {proposal['value']}")
        return proposal["value"]

    @t.validate("steps_per_save")
    def _valid_steps(self, proposal):
        if proposal["value"] < 1:
            raise t.TraitError(f"steps_per_save must be at least 1, not {proposal['value']}")
        return proposal["value"]

    # -- the simulation --------------------------------------------------------------------
    def _on_file_event(self, event) -> None:
        if self._ops is not None:
            self._ops.append(event)

    def reset(self) -> None:
        """Empty the directory and start over with the current rules at time ``START_TIME``."""
        for name in os.listdir(self.directory):
            p = os.path.join(self.directory, name)
            shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
        self._clock.now = START_TIME
        self.clock = START_TIME
        self.global_step = 0
        self._idle_hours = 0.0
        if self.mode == "Saver":
            from ..checkpoint.saver import Saver

            hours = self.keep_every_n_hours or 10000.0  # TF1's default: effectively never
            self._impl = Saver(max_to_keep=self.max_to_keep, keep_checkpoint_every_n_hours=hours,
                               save_relative_paths=self.relative_paths, clock=self._clock,
                               on_file_event=self._on_file_event)
        else:
            from ..checkpoint.manager import CheckpointManager

            self._impl = CheckpointManager(self.directory, max_to_keep=self.max_to_keep or None,
                                           keep_checkpoint_every_n_hours=self.keep_every_n_hours or None,
                                           clock=self._clock, on_file_event=self._on_file_event)
        self.history = []
        self._refresh()

    def save(self) -> dict:
        """Advance the clock and the step, save once; returns what happened (also appended to ``history``)."""
        self._clock.now += self.hours_per_save * 3600
        self.global_step += self.steps_per_save
        step = self.global_step
        variables = {"w": np.full(2, step, np.float32), "global_step": np.int64(step)}
        before = set(os.listdir(self.directory))
        self._ops = []
        try:
            if self.mode == "Saver":
                prefix = self._impl.save(variables, os.path.join(self.directory, "model"), global_step=step)
            else:
                prefix = self._impl.save(variables, checkpoint_number=step)
            events, self._ops = self._ops, None
        finally:
            self._ops = None
        name = os.path.basename
        ops = [("renamed", name(e.path), name(e.dest)) if e.kind == "rename" else ("deleted", name(e.path), "")
               for e in events if e.kind in ("rename", "delete")]
        after = set(os.listdir(self.directory))
        event = {
            "save": len(self.history) + 1,
            "global_step": step,
            "hours": (self._clock.now - START_TIME) / 3600,
            "idle_hours": self._idle_hours,
            "prefix": os.path.basename(prefix),
            "appeared": sorted(after - before, key=natural_key),
            "renamed": [(a, b) for kind, a, b in ops if kind == "renamed"],
            "deleted": sorted({a for kind, a, _ in ops if kind == "deleted"} & before, key=natural_key),
            "files": sorted(after, key=natural_key),
        }
        self._idle_hours = 0.0
        self.clock = self._clock.now
        self.history = self.history + [event]
        self._refresh()
        return event

    def advance(self, hours: float) -> float:
        """Let ``hours`` pass with no save (training without checkpoints); returns the simulated hours so far.

        The next save happens that much later, so keep-every-N-hours can keep it.
        """
        if not hours > 0:
            raise ValueError(f"the clock only moves forward: give a positive number of hours, not {hours}")
        self._clock.now += hours * 3600
        self._idle_hours += hours
        self.clock = self._clock.now
        self._refresh()
        return (self.clock - START_TIME) / 3600

    def run(self, n: int) -> list[dict]:
        """``n`` saves in a row."""
        return [self.save() for _ in range(n)]

    def checkpoints(self) -> list[str]:
        """Checkpoint prefixes present on disk (those with an ``.index``), oldest step first."""
        names = [f[:-len(".index")] for f in self.files if f.endswith(".index")]
        return sorted(names, key=natural_key)

    def _refresh(self) -> None:
        self.files = sorted(os.listdir(self.directory), key=natural_key)
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
    def _call_text(self) -> str:
        if self.mode == "CheckpointManager":
            return "manager.save(checkpoint_number=step)  (paths in the checkpoint file: always relative)"
        where = '"ckpt/model"' if self.relative_paths else f'"{os.path.join(self.directory, "model")}"'
        return f"saver.save(sess, {where}, global_step=step)"

    def _listed(self) -> set[str] | None:
        """Checkpoint names the ``checkpoint`` file lists (None if there is none)."""
        p = os.path.join(self.directory, "checkpoint")
        if not os.path.exists(p):
            return None
        from ..checkpoint.state import read_checkpoint_state

        st = read_checkpoint_state(p)
        return {os.path.basename(q) for q in [*st.all_model_checkpoint_paths, st.model_checkpoint_path]}

    def to_html(self) -> str:
        esc = html.escape
        new_css, gone_css = badge_css(OKABE_ITO["bluish_green"]), badge_css(OKABE_ITO["vermillion"])
        last = self.history[-1] if self.history else None
        saved_at = {e["prefix"]: e["hours"] for e in self.history}
        listed = self._listed()
        every = f"{self.keep_every_n_hours:g}" if self.keep_every_n_hours else "off"
        rules = (f"{self.mode}(max_to_keep={self.max_to_keep}, keep_checkpoint_every_n_hours={every})"
                 f" \u00b7 {self._call_text()}")
        clock = (f"global step {self.global_step:,} \u00b7 clock +{(self.clock - START_TIME) / 3600:.1f} h"
                 + (f" (+{self._idle_hours:g} h with no save since the last one)" if self._idle_hours else ""))
        # 1. the last save, big: what it wrote and what it deleted
        if last is None:
            banner = "<i>no save yet: press <b>save</b></i>"
        else:
            gone = sorted({_stem(f) for f in last["deleted"]}, key=natural_key)
            deleted = (f"<span style='{gone_css}'>deleted <b>{', '.join(esc(g) for g in gone)}</b></span> "
                       f"<span style='font-size:80%'>({esc(', '.join(last['deleted']))})</span>"
                       if gone else "deleted nothing")
            idle = f", after {last['idle_hours']:g} h with no save" if last["idle_hours"] else ""
            banner = (f"save {last['save']} (step {last['global_step']:,}, at +{last['hours']:.1f} h{idle}): "
                      f"wrote <b>{esc(last['prefix'])}</b> \u00b7 {deleted}")
        # 2. one line per checkpoint on disk, newest first
        new = set(last["appeared"]) if last else set()
        groups: dict[str, list[str]] = {}
        others = []
        for f in self.files:
            stem = _stem(f)
            if stem == f:
                others.append(f)
            else:
                groups.setdefault(stem, []).append(f[len(stem):])
        lines = []
        for stem in sorted(groups, key=natural_key, reverse=True):
            notes = []
            if last and stem == last["prefix"]:
                notes.append("<b>new</b>")
            if listed is not None and stem not in listed and (stem + ".index") in self.files:
                notes.append("kept for good, no longer listed" if self.keep_every_n_hours and self.max_to_keep
                             else "kept, not listed (max_to_keep=0 keeps all)" if not self.max_to_keep
                             else "not listed")
            when = f"+{saved_at[stem]:.1f} h" if stem in saved_at else ""
            style = f" style='{new_css}'" if any(stem + x in new for x in groups[stem]) else ""
            lines.append(f"<tr><td><code{style}>{esc(stem)}</code></td>"
                         f"<td><code>{esc('  '.join(groups[stem]))}</code></td><td>{when}</td>"
                         f"<td>{' · '.join(notes)}</td></tr>")
        table = (TABLE_OPEN + "<tr><th>checkpoint (newest first)</th><th>its files</th><th>saved at</th><th>status</th></tr>"
                 + "".join(lines) + "</table>") if lines else "<i>(no checkpoints on disk)</i>"
        if others:
            table += f"<div>other files: <code>{esc(', '.join(others))}</code></div>"
        # 3. the history, newest first, one line a save
        hist = []
        for e in reversed(self.history[-50:]):
            gone = sorted({_stem(f) for f in e["deleted"]}, key=natural_key)
            idle = f" (after {e['idle_hours']:g} h with no save)" if e["idle_hours"] else ""
            hist.append(f"<tr><td>{e['save']}</td><td>{e['global_step']:,}</td><td>+{e['hours']:.1f} h{idle}</td>"
                        f"<td><code>{esc(e['prefix'])}</code></td><td>{esc(', '.join(gone)) or '-'}</td></tr>")
        history = ("<details><summary>every save (newest first)</summary>" + TABLE_OPEN + "<tr><th>save</th><th>step</th>"
                   "<th>clock</th><th>wrote</th><th>deleted</th></tr>" + "".join(hist) + "</table></details>"
                   if hist else "")
        return (f"<div><b>{esc(rules)}</b><br>{esc(clock)}</div>"
                f"<div style='font-size:130%;margin:6px 0'>{banner}</div>"
                f"<div style='display:flex;gap:2em;flex-wrap:wrap'><div>{table}</div>"
                f"<div><b>checkpoint</b> file<pre>{esc(self.state_text) or '(none yet)'}</pre></div></div>"
                + history)

    def close(self) -> None:
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)
        super().close()


_PREFIX_RE = re.compile(r"^(.*?)(\.index|\.meta|\.data-\d{5,}-of-\d{5,})$")


def _stem(name: str) -> str:
    """The checkpoint a file belongs to (``model-2000`` for ``model-2000.index``), else the name itself."""
    m = _PREFIX_RE.match(name)
    return m.group(1) if m else name
