"""Errors shown where they happen: every widget has an ``error`` trait and a line that shows it.

A bad input inside a widget (a byte past the end of a file, a tensor name that is
not in the checkpoint, a damaged file) must not vanish into the log console.
:class:`ShowsErrors` gives a widget:

* ``error``: a synced-to-Python trait holding the message in words ("" = no error);
* ``_error_line``: an HTML widget to place in the widget's children, hidden while
  ``error`` is empty;
* :meth:`ShowsErrors.report`: a context manager for UI handlers that turns an
  exception into ``error`` instead of letting it escape, and clears ``error`` when
  the handler succeeds.

Handlers check their input *before* changing anything, so a refused input leaves
the rest of the widget as it was.
"""

from __future__ import annotations

import html
from contextlib import contextmanager

import ipywidgets as w
import traitlets as t

__all__ = ["ShowsErrors", "error_html", "describe_error"]


def describe_error(exc: BaseException) -> str:
    """An exception in words: our errors already name the file and byte offset."""
    from ..errors import CheckpointError

    if isinstance(exc, CheckpointError):
        return str(exc)
    if isinstance(exc, KeyError) and len(exc.args) == 1 and isinstance(exc.args[0], str):
        return exc.args[0]
    if isinstance(exc, (ValueError, OSError, t.TraitError)):
        return str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


def error_html(message: str) -> str:
    """The message as one highlighted line (empty message, empty HTML)."""
    if not message:
        return ""
    return ('<div class="tfk-error" role="alert" style="color:var(--jp-error-color1, #B00020);'
            'border-left:3px solid var(--jp-error-color1, #B00020);padding:2px 6px;margin:2px 0">'
            f"&#9888; {html.escape(message)}</div>")


class ShowsErrors(t.HasTraits):
    """Mixin for the widgets: the ``error`` trait and the line that shows it."""

    error = t.Unicode("")

    def _init_error_line(self) -> w.HTML:
        self._error_line = w.HTML(layout=w.Layout(display="none"))
        self.observe(self._show_error, "error")
        return self._error_line

    def _show_error(self, change) -> None:
        self._error_line.value = error_html(change["new"])
        self._error_line.layout.display = "" if change["new"] else "none"

    @contextmanager
    def report(self):
        """Run a UI handler: an exception becomes ``error`` (shown in place); success clears it."""
        try:
            yield
        except Exception as exc:  # shown to the user in the widget, not lost in the log console
            self.error = describe_error(exc)
        else:
            self.error = ""
