"""Chapter 00's explorer: learning rate → loss curve (and the static view the site shows).

The network and its training are the chapter's (its ``loss_curve`` cell): the figure and the
explorer are handed that function.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker

from course.explorers.widgets import show_explorer


def plot_learning_rate_view(loss_curve, learning_rates, epochs: int = 300, ax=None):
    """Loss curves for several learning rates on one log-scaled axis; returns the axis.

    loss_curve: the chapter's ``loss_curve(learning_rate, epochs) -> losses (epochs,)``.
    The axis stops at a loss of 3 so that the slow and the good rates stay readable; a
    diverging rate's curve leaves the chart, and its legend entry says so.
    """
    if ax is None:
        _, ax = plt.subplots()
    top = 3.0
    for lr in learning_rates:
        losses = loss_curve(lr, epochs)
        off_chart = not np.all(losses[np.isfinite(losses)] <= top)
        label = f"η = {lr:g}" + (" (leaves the chart)" if off_chart else "")
        ax.plot(losses, label=label, linewidth=1.2)
    ax.set_yscale("log")
    ax.set_ylim(0.03, top)
    ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_xlabel("epoch (full-batch gradient-descent step)")
    ax.set_ylabel("training loss (binary cross-entropy)")
    ax.set_title("Too small crawls, too large oscillates or diverges")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3)
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


def draw_graph(ax, nodes, edges, title=""):
    """Draw a computational graph: each node a box with its forward value above its gradient.

    nodes: {name: (x, y, label, forward_text, gradient_text)} in axis coordinates (0–1);
    edges: [(from_name, to_name)]. Forward values are black, gradients (∂L/∂·) red.
    """
    for a, b in edges:
        (xa, ya), (xb, yb) = nodes[a][:2], nodes[b][:2]
        ax.annotate(
            "",
            xy=(xb, yb),
            xytext=(xa, ya),
            arrowprops={"arrowstyle": "-|>", "color": "0.45", "shrinkA": 16, "shrinkB": 16},
        )
    for x, y, label, forward, gradient in nodes.values():
        ax.text(
            x,
            y,
            label,
            ha="center",
            va="center",
            fontsize=11,
            bbox={"boxstyle": "round,pad=0.35", "fc": "#eef3fb", "ec": "0.4"},
        )
        ax.text(x, y + 0.11, forward, ha="center", va="bottom", fontsize=9)
        ax.text(x, y - 0.11, gradient, ha="center", va="top", fontsize=9, color="tab:red")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    ax.set_title(title)
    return ax
