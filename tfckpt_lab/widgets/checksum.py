"""ChecksumLab: flip a byte in a copy of a checkpoint and see which check catches it, and where."""

from __future__ import annotations

import html
import os
import shutil
import tempfile

import ipywidgets as w
import traitlets as t

from ..explain import innermost_region, layout
from ..views.hexview import hex_html, region_html
from ._common import StaticFallback


def _byte_range(start, end) -> str:
    if start is None:
        return "the whole file"
    return f"[{start}, {end})" if end is not None else f"from {start}"

__all__ = ["ChecksumLab", "checkpoint_files"]


def checkpoint_files(prefix: str) -> list[str]:
    """The files of one checkpoint that exist: ``.index``, data shards, ``.meta``."""
    from ..bundle.reader import BundleReader

    prefix = os.fspath(prefix)
    out = [prefix + ".index"]
    try:
        with BundleReader(prefix, verify=False) as r:
            out += r.data_paths()
    except Exception:
        d, base = os.path.split(prefix)
        out += sorted(os.path.join(d, f) for f in os.listdir(d or ".") if f.startswith(base + ".data-"))
    if os.path.exists(prefix + ".meta"):
        out.append(prefix + ".meta")
    return [p for p in out if os.path.isfile(p)]  # regular files only: never copy a FIFO or /dev/zero


class ChecksumLab(StaticFallback, w.VBox):
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
    ``caught`` (did any check fail?), ``problems`` (what failed, and where).
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
                                layout=w.Layout(width="360px"))
        self._off = w.BoundedIntText(min=0, max=1 << 40, description="byte", layout=w.Layout(width="200px"))
        self._mask = w.BoundedIntText(min=1, max=255, value=1, description="XOR", layout=w.Layout(width="150px"))
        self._go = w.Button(description="flip & verify", button_style="warning")
        self._out = w.HTML()
        super().__init__(**kwargs)
        self.target = self.files[0] if self.files else ""
        w.link((self._file, "value"), (self, "target"))
        w.link((self._off, "value"), (self, "offset"))
        w.link((self._mask, "value"), (self, "mask"))
        self._go.on_click(lambda _: self.flip())
        self.children = [w.HBox([self._file, self._off, self._mask, self._go]), self._out]

    def _tree(self, path):
        if path not in self._trees:
            self._trees[path] = layout(path)
        return self._trees[path]

    def flip(self, target: str | None = None, offset: int | None = None, mask: int | None = None) -> dict:
        """Copy the checkpoint, XOR ``mask`` into byte ``offset`` of ``target``, verify the copy."""
        from ..checkpoint.verify import verify_checkpoint

        if target is not None:
            self.target = target if os.path.isabs(target) or target in self.files else \
                os.path.join(os.path.dirname(self.prefix), target)
        if offset is not None:
            self.offset = offset
        if mask is not None:
            self.mask = mask
        tree = self._tree(self.target)
        if not 0 <= self.offset < tree.end:
            raise ValueError(f"byte {self.offset} is outside {os.path.basename(self.target)} ({tree.end} bytes)")
        self._region = innermost_region(tree, self.offset)
        self.flipped_kind, self.flipped_label = self._region.kind, self._region.label
        # fresh copy of every file of the checkpoint
        for name in os.listdir(self._workdir):
            os.remove(os.path.join(self._workdir, name))
        base = os.path.basename(self.prefix)
        copy_prefix = os.path.join(self._workdir, base)
        for p in self.files:  # the .meta only when it is the file flipped: verify never reads it
            if p == self.target or not p.endswith(".meta"):
                shutil.copyfile(p, os.path.join(self._workdir, os.path.basename(p)))
        victim = os.path.join(self._workdir, os.path.basename(self.target))
        with open(victim, "r+b") as f:
            f.seek(self.offset)
            old = f.read(1)[0]
            f.seek(self.offset)
            f.write(bytes((old ^ self.mask,)))
        report = verify_checkpoint(copy_prefix)
        probs = []
        for p in report.problems:
            probs.append({"file": os.path.basename(p.path) if p.path else "", "start": p.start, "end": p.end,
                          "kind": p.kind, "message": p.message, "affects_values": p.affects_values,
                          "covers_flip": (p.path is not None and os.path.basename(p.path) == os.path.basename(victim)
                                          and p.start is not None and p.start <= self.offset
                                          < (p.end if p.end is not None else p.start + 1))})
        self.problems = probs
        # verify_checkpoint also flags bytes no value depends on (footer padding...); "caught" here
        # means what a reader notices, so those structural notes alone do not count.
        self.caught = any(p["affects_values"] for p in probs)
        self._old, self._new = old, old ^ self.mask
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
        head = (f"<b>flipped</b> byte {self.offset} of <code>{html.escape(os.path.basename(self.target))}</code>: "
                f"{self._old:#04x} → {self._new:#04x}<br>")
        if self.caught:
            rows = "".join(
                f"<tr><td>{html.escape(p['kind'])}</td><td><code>{html.escape(p['file'])}</code></td>"
                f"<td>{_byte_range(p['start'], p['end'])}</td>"
                f"<td>{'yes' if p['covers_flip'] else ''}</td><td>{html.escape(p['message'])}</td></tr>"
                for p in self.problems)
            verdict = ("<b style='color:#D55E00'>caught</b>: <table><tr><th>check</th><th>file</th><th>bytes</th>"
                       f"<th>covers the flip</th><th>message</th></tr>{rows}</table>")
        else:
            verdict = ("<b style='color:#0072B2'>not caught</b>: no checksum covers this byte, or the change "
                       "still parses (e.g. padding, unreferenced bytes, a value no check looks at)")
        tree = self._tree(self.target)
        return (head + "what it was: " + region_html(self._region) + verdict
                + hex_html(tree, max(0, self.offset - 32), 80, selected=self._region, cursor=self.offset))

    def close(self) -> None:
        shutil.rmtree(self._workdir, ignore_errors=True)
        super().close()
