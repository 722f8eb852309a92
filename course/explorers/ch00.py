"""Chapter 00's explorer: learning rate → loss curve (and the static view the site shows).

The network and its training are the chapter's (its ``loss_curve`` cell): the figure and the
explorer are handed that function.
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from course.explorers.widgets import show_explorer


def plot_learning_rate_view(loss_curve, learning_rates, epochs: int = 300, ax=None):
    """Loss curves for several learning rates on one log-scaled axis; returns the axis.

    loss_curve: the chapter's ``loss_curve(learning_rate, epochs) -> losses (epochs,)``.
    """
    if ax is None:
        _, ax = plt.subplots()
    for lr in learning_rates:
        ax.plot(loss_curve(lr, epochs), label=f"η = {lr:g}", linewidth=1.2)
    ax.set_yscale("log")
    ax.set_xlabel("epoch (full-batch gradient-descent step)")
    ax.set_ylabel("training loss (binary cross-entropy)")
    ax.set_title("Too small crawls, too large oscillates or diverges")
    ax.legend(loc="upper right", frameon=True, framealpha=0.9)
    return ax


def learning_rate_explorer(loss_curve):
    """Live widget: a log slider for η and a slider for epochs; redraws the chapter's
    ``loss_curve`` (see ``plot_learning_rate_view``)."""
    import ipywidgets as widgets

    lr = widgets.FloatLogSlider(value=0.5, base=10, min=-3, max=2, step=0.1, description="η")
    epochs = widgets.IntSlider(value=300, min=50, max=1000, step=50, description="epochs")
    show_explorer(
        lambda learning_rate, n: plot_learning_rate_view(loss_curve, [learning_rate], n),
        [{"learning_rate": lr, "n": epochs}],
    )
