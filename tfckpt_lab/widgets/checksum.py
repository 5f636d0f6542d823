"""ChecksumLab: flip a byte in a copy of a checkpoint and see which check catches it, and where."""

from __future__ import annotations

import html
import os
import shutil
import tempfile

import ipywidgets as w
import traitlets as t

from ..checkpoint.damage import checkpoint_files, flip_and_verify
from ..explain import innermost_region, layout
from ..views.hexview import hex_html, region_html
from ..views.palette import OKABE_ITO, TABLE_OPEN, badge_css
from ._common import StaticFallback
from ._status import ShowsErrors

#: The lab damages a copy of every file of the checkpoint; bigger checkpoints are refused (in words).
COPY_LIMIT = 512 * 2**20


def _byte_range(start, end) -> str:
    if start is None:
        return "the whole file"
    return f"[{start}, {end})" if end is not None else f"from {start}"

__all__ = ["ChecksumLab", "checkpoint_files"]


class ChecksumLab(StaticFallback, ShowsErrors, w.VBox):
    """Corrupt one byte of a *copy* and run :func:`~tfckpt_lab.checkpoint.verify.verify_checkpoint` on it.

    >>> import os, tempfile, numpy as np
    >>> from tfckpt_lab import write_bundle
    >>> prefix = os.path.join(tempfile.mkdtemp(), "m")
    >>> _ = write_bundle(prefix, {"w": np.zeros(3, np.float32)})
    >>> lab = ChecksumLab(prefix)
    >>> result = lab.flip(prefix + ".data-00000-of-00001", 4)
    >>> lab.flipped_kind, lab.caught, lab.problems[0]["kind"]
    ('element', True, 'ChecksumMismatchError')
    >>> lab.close()

    Traits (state): ``target`` (file), ``offset``, ``mask`` (XOR-ed into the byte),
    ``flipped_kind`` / ``flipped_label`` (what the byte was, per the region model),
    ``caught`` (did any check fail?), ``problems`` (what failed, and where),
    ``error`` (why the last flip was refused: a byte outside the file, a mask that is not
    a byte, a file not of this checkpoint; shown in place, and nothing else changes).
    The hex dump shows the damaged copy: the flipped byte with its new value.
    """

    target = t.Unicode("")
    offset = t.Int(0)
    mask = t.Int(1)
    flipped_kind = t.Unicode("")
    flipped_label = t.Unicode("")
    caught = t.Bool(False)
    problems = t.List(t.Dict())

    def __init__(self, prefix, **kwargs):
        self.prefix = os.fspath(prefix)
        self.files = checkpoint_files(self.prefix)
        self._trees: dict[str, object] = {}
        self._workdir = tempfile.mkdtemp(prefix="tfckpt-lab-")
        self._region = None
        self._file = w.Dropdown(options=[(os.path.basename(p), p) for p in self.files], description="file",
                                layout=w.Layout(width="460px"))
        self._off = w.BoundedIntText(min=0, max=1 << 40, description="byte", layout=w.Layout(width="200px"))
        self._mask = w.BoundedIntText(min=1, max=255, value=1, description="XOR", layout=w.Layout(width="150px"))
        self._go = w.Button(description="flip & verify", icon="bolt")  # (ipywidgets' coloured button styles
        # put white text on orange or light blue: too little contrast to read)
        self._out = w.HTML()
        self._flipped: tuple | None = None  # (target, offset, old byte, new byte) of the last flip shown
        super().__init__(**kwargs)
        self._init_error_line()
        self.target = self.files[0] if self.files else ""
        w.link((self._file, "value"), (self, "target"))
        w.link((self._off, "value"), (self, "offset"))
        w.link((self._mask, "value"), (self, "mask"))
        self._go.on_click(self._on_go)
        self.children = [w.HBox([self._file, self._off, self._mask, self._go]), self._error_line, self._out]

    def _tree(self, path):
        if path not in self._trees:
            self._trees[path] = layout(path)
        return self._trees[path]

    def _on_go(self, _button=None) -> None:
        with self.report():
            self.flip()

    def _refuse(self, target: str | None, offset: int | None, mask: int | None) -> None:
        """Raise ValueError (and show it) if this flip cannot be done; nothing is changed first."""
        path = self.target if target is None else self._target_path(target)
        offset = self.offset if offset is None else offset
        mask = self.mask if mask is None else mask
        msg = None
        if path not in self.files:
            msg = (f"{os.path.basename(path) or path!r} is not a file of checkpoint "
                   f"{os.path.basename(self.prefix)} (its files: "
                   f"{', '.join(os.path.basename(p) for p in self.files) or 'none found'})")
        elif not 1 <= mask <= 255:
            msg = f"the XOR mask must be a byte from 1 to 255 (got {mask}); 0 would change nothing"
        else:
            size = self._tree(path).end
            total = sum(os.path.getsize(p) for p in self.files  # the .meta is copied only when flipped
                        if p == path or not p.endswith(".meta"))
            if not 0 <= offset < size:
                msg = (f"byte {offset} is outside {os.path.basename(path)}, which has {size:,} bytes "
                       f"(offsets 0 to {size - 1:,})" if size else f"{os.path.basename(path)} is empty")
            elif total > COPY_LIMIT:
                msg = (f"this checkpoint is {total / 2**20:,.0f} MiB; the lab damages a copy of all of it "
                       f"and copies at most {COPY_LIMIT // 2**20} MiB")
        if msg is not None:
            self.error = msg
            raise ValueError(msg)

    def _target_path(self, target: str) -> str:
        """One of :attr:`files` (given by its path, or its name in the checkpoint's directory), else as given."""
        target = os.fspath(target)
        path = target if os.path.isabs(target) or target in self.files else \
            os.path.join(os.path.dirname(self.prefix), target)
        same = [p for p in self.files if os.path.abspath(p) == os.path.abspath(path)]
        return same[0] if same else path

    def flip(self, target: str | None = None, offset: int | None = None, mask: int | None = None) -> dict:
        """Copy the checkpoint, XOR ``mask`` into byte ``offset`` of ``target``, verify the copy.

        Raises ValueError (and shows it in the widget, changing nothing else) for a byte
        outside the file, a mask that is not 1 to 255, or a file not of this checkpoint.
        """
        self._refuse(target, offset, mask)
        if target is not None:
            self.target = self._target_path(target)
        if offset is not None:
            self.offset = offset
        if mask is not None:
            self.mask = mask
        tree = self._tree(self.target)
        self._region = innermost_region(tree, self.offset)
        self.flipped_kind, self.flipped_label = self._region.kind, self._region.label
        result = flip_and_verify(self.prefix, self.target, self.offset, self.mask, workdir=self._workdir)
        covering = result.covering
        probs = []
        for p in result.problems:
            probs.append({"file": os.path.basename(p.path) if p.path else "", "start": p.start, "end": p.end,
                          "kind": p.kind, "message": p.message, "affects_values": p.affects_values,
                          "covers_flip": p in covering})
        self.problems = probs
        # verify_checkpoint also flags bytes no value depends on (footer padding...); "caught" here
        # means what a reader notices, so those structural notes alone do not count.
        self.caught = result.caught
        self._flipped = (self.target, self.offset, result.old, result.new)
        self.error = ""
        self._out.value = self.to_html()
        return {"region": self._region, "caught": self.caught, "problems": probs}

    def to_html(self) -> str:
        if self._region is None:
            files = "".join(f"<li><code>{html.escape(os.path.basename(p))}</code>: {os.path.getsize(p):,} bytes</li>"
                            for p in self.files)
            return (f"<b>Checksum lab</b> on <code>{html.escape(os.path.basename(self.prefix))}</code>: nothing "
                    "flipped yet. Pick one of its files and a byte offset, then <b>flip &amp; verify</b>: the lab "
                    "damages a copy and says which check, if any, catches it, and where."
                    f"<ul>{files}</ul>")
        target, offset, old, new = self._flipped
        head = (f"<b>flipped</b> byte {offset} of <code>{html.escape(os.path.basename(target))}</code>: "
                f"{old:#04x} → {new:#04x} (the bytes below are the damaged copy's)<br>")
        if self.caught:
            rows = "".join(
                f"<tr><td>{html.escape(p['kind'])}</td><td><code>{html.escape(p['file'])}</code></td>"
                f"<td>{_byte_range(p['start'], p['end'])}</td>"
                f"<td>{'yes' if p['covers_flip'] else ''}</td><td class='tfk-wrap'>{html.escape(p['message'])}</td></tr>"
                for p in self.problems)
            verdict = (f"<b style='{badge_css(OKABE_ITO['vermillion'])}'>caught</b>: {TABLE_OPEN}"
                       "<tr><th>check</th><th>file</th><th>bytes</th>"
                       f"<th>covers the flip</th><th>message</th></tr>{rows}</table>")
        else:
            verdict = (f"<b style='{badge_css(OKABE_ITO['sky_blue'])}'>not caught</b>: no checksum covers this byte, or the change "
                       "still parses (e.g. padding, unreferenced bytes, a value no check looks at)")
        tree = self._tree(target)
        return (head + "what it was: " + region_html(self._region) + verdict
                + hex_html(tree, max(0, offset - 32), 80, selected=self._region, cursor=offset,
                           changed={offset: new}))

    def close(self) -> None:
        shutil.rmtree(self._workdir, ignore_errors=True)
        super().close()
