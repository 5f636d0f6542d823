"""What every widget here shares: the static fallback, figure-to-image plumbing, the page CSS
that keeps labels whole, and the few calls that differ between ipywidgets 7 (Colab) and 8."""

from __future__ import annotations

import ipywidgets as w

__all__ = ["StaticFallback", "figure_image", "use_front_end", "tab_widget", "widget_mimebundle", "ROOT_CLASS", "PAGE_CSS",
           "WIDE_LABEL", "FIT_BUTTONS"]

ROOT_CLASS = "tfk-root"  # on the outermost element of every widget of this package

# Page-wide rules, sent once with every widget (a hidden HTML widget holding a <style>; it works in
# JupyterLab, classic Notebook, Voila and Colab alike).  Tab bars that hold our widgets size each
# tab to its title instead of ipywidgets' fixed width, which cut titles off ("Keras + Adam (real T"),
# and give the titles of tabs not selected the theme's main text colour (ipywidgets' dimmed one
# reads at 4.45:1 in JupyterLab's light theme, under WCAG AA).
# ipywidgets 8 (Lumino) names the classes lm-*, ipywidgets 7 (PhosphorJS) p-*.
PAGE_CSS = """<style>
:is(.widget-tab:has(.tfk-root), .widget-tab.tfk-tabs) > .widget-tab-bar .lm-TabBar-tab,
:is(.widget-tab:has(.tfk-root), .widget-tab.tfk-tabs) > .p-TabBar .p-TabBar-tab {
  flex: 0 0 auto !important; min-width: fit-content !important; max-width: none !important; }
:is(.widget-tab:has(.tfk-root), .widget-tab.tfk-tabs) > .widget-tab-bar .lm-TabBar-tabLabel,
:is(.widget-tab:has(.tfk-root), .widget-tab.tfk-tabs) > .p-TabBar .p-TabBar-tabLabel {
  overflow: visible; text-overflow: clip; color: var(--jp-ui-font-color1, #212121); }
.tfk-root .widget-html-content { line-height: 1.4; }
</style>"""

# style= arguments: a control's description as wide as its text; buttons as wide as their labels.
WIDE_LABEL = {"description_width": "initial"}
FIT_BUTTONS = {"button_width": "auto"}


def widget_mimebundle(widget, **kwargs) -> dict:
    """What displaying ``widget`` sends: its live view (ipywidgets 8's ``_repr_mimebundle_``, or the
    bundle ipywidgets 7, which has none, publishes from ``_ipython_display_``)."""
    if hasattr(w.Widget, "_repr_mimebundle_"):
        return dict(w.Widget._repr_mimebundle_(widget, **kwargs) or {})
    widget._handle_displayed()  # (its callbacks, such as a Box's, take no display arguments)
    return {"text/plain": repr(widget),
            "application/vnd.jupyter.widget-view+json": {"version_major": 2, "version_minor": 0,
                                                         "model_id": widget._model_id}}


def tab_widget(children, titles) -> w.Tab:
    """A ``Tab`` with these titles, in ipywidgets 7 (``set_title``) and 8 (``titles``) alike."""
    tab = w.Tab(children=list(children))
    tab.add_class("tfk-tabs")
    for i, title in enumerate(titles):
        tab.set_title(i, title)
    return tab


def use_front_end(interactive: bool | None = None) -> bool:
    """Whether to build the clickable anywidget front end (``None``: if anywidget is installed)."""
    if interactive is None:
        import importlib.util

        return importlib.util.find_spec("anywidget") is not None
    return bool(interactive)


class StaticFallback:
    """Mixin: ``_repr_mimebundle_`` adds ``text/html`` from ``to_html()`` next to the live widget.

    Front ends with a widget manager show the live widget; nbconvert, GitHub and
    other static renderers show the HTML.  Marks the widget with :data:`ROOT_CLASS` and adds a
    hidden child carrying :data:`PAGE_CSS` to box widgets.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_class(ROOT_CLASS)
        self._page_css = w.HTML(PAGE_CSS, layout=w.Layout(display="none"))
        self.observe(self._keep_page_css, "children")

    def _keep_page_css(self, change) -> None:
        """Whatever the widget's children become, the <style> child stays last."""
        if change["new"] and change["new"][-1] is not self._page_css:
            self.children = [c for c in change["new"] if c is not self._page_css] + [self._page_css]

    def to_html(self) -> str:  # pragma: no cover - every widget overrides it
        return ""

    def _repr_html_(self) -> str:
        return self.to_html()

    def _repr_mimebundle_(self, **kwargs):
        bundle = widget_mimebundle(self, **kwargs)
        try:
            bundle["text/html"] = self.to_html()
        except Exception as exc:  # a fallback must never break the live display
            bundle["text/html"] = f"<i>(no static view: {exc})</i>"
        return bundle

    if not hasattr(w.Widget, "_repr_mimebundle_"):  # ipywidgets 7 displays through _ipython_display_
        def _ipython_display_(self, **kwargs):
            from IPython.display import display

            display(self._repr_mimebundle_(**kwargs), raw=True)


def figure_image(fig, dpi: int = 90) -> w.Image:
    from ..views.plots import figure_png

    # at its own size (a flex item would be stretched to the box's width, text and all), or smaller
    return w.Image(value=figure_png(fig, dpi=dpi), format="png",
                   layout=w.Layout(max_width="100%", height="auto", align_self="flex-start"))


def set_figure(image: w.Image, fig, dpi: int = 90) -> None:
    from ..views.plots import figure_png

    image.value = figure_png(fig, dpi=dpi)


def png_html(fig, dpi: int = 80) -> str:
    import base64

    from ..views.plots import figure_png

    data = base64.b64encode(figure_png(fig, dpi=dpi)).decode()
    return f'<img src="data:image/png;base64,{data}" style="max-width:100%">'
