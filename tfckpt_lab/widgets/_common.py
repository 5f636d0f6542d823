"""What every widget here shares: the static fallback and figure-to-image plumbing."""

from __future__ import annotations

import ipywidgets as w

__all__ = ["StaticFallback", "figure_image", "use_front_end"]


def use_front_end(interactive: bool | None = None) -> bool:
    """Whether to build the clickable anywidget front end (``None``: if anywidget is installed)."""
    if interactive is None:
        import importlib.util

        return importlib.util.find_spec("anywidget") is not None
    return bool(interactive)


class StaticFallback:
    """Mixin: ``_repr_mimebundle_`` adds ``text/html`` from ``to_html()`` next to the live widget.

    Front ends with a widget manager show the live widget; nbconvert, GitHub and
    other static renderers show the HTML.
    """

    def to_html(self) -> str:  # pragma: no cover - every widget overrides it
        return ""

    def _repr_html_(self) -> str:
        return self.to_html()

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        try:
            bundle["text/html"] = self.to_html()
        except Exception as exc:  # a fallback must never break the live display
            bundle["text/html"] = f"<i>(no static view: {exc})</i>"
        return bundle


def figure_image(fig, dpi: int = 90) -> w.Image:
    from ..views.plots import figure_png

    return w.Image(value=figure_png(fig, dpi=dpi), format="png", layout=w.Layout(max_width="100%"))


def set_figure(image: w.Image, fig, dpi: int = 90) -> None:
    from ..views.plots import figure_png

    image.value = figure_png(fig, dpi=dpi)


def png_html(fig, dpi: int = 80) -> str:
    import base64

    from ..views.plots import figure_png

    data = base64.b64encode(figure_png(fig, dpi=dpi)).decode()
    return f'<img src="data:image/png;base64,{data}" style="max-width:100%">'
