"""The scaffold every chapter's live explorer shares: rows of controls above a figure that is
redrawn whenever a control changes. ``ipywidgets`` is imported only when an explorer runs."""

from __future__ import annotations


def show_explorer(draw, rows) -> None:
    """Display the controls of ``rows`` and, below them, the figure ``draw`` makes.

    draw: ``draw(**values)`` draws one matplotlib figure from the controls' current values;
    rows: a list of dicts {draw's argument name: an ipywidget}, one dict per row of controls,
    shown top to bottom, the controls of a row side by side.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    def redraw(**values):
        draw(**values)
        plt.show()

    controls = {name: control for row in rows for name, control in row.items()}
    out = widgets.interactive_output(redraw, controls)
    display(widgets.VBox([widgets.HBox(list(row.values())) for row in rows] + [out]))
