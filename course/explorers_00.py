"""Chapter 00's explorer: learning rate → loss curve (and the static view the site shows)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def moons(n_samples: int = 200, noise: float = 0.2, seed: int = 0):
    """The chapter's data set: x (n, 2) float64, y (n, 1) float64 in {0, 1}."""
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=n_samples, noise=noise, random_state=seed)
    return x.astype(np.float64), y.reshape(-1, 1).astype(np.float64)


def loss_curve(learning_rate: float, epochs: int = 300, seed: int = 0) -> np.ndarray:
    """Full-batch training loss per epoch of the chapter's 2-16-16-1 tanh MLP on the moons."""
    from scratchnn.foundations import Dense, Sequential, train

    x, y = moons()
    np.random.seed(seed)  # same initial weights for every learning rate
    model = Sequential([Dense(16, "tanh"), Dense(16, "tanh"), Dense(1)])
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run may overflow: that is the lesson
        return train(model, x, y, learning_rate, epochs)


def plot_learning_rate_view(learning_rates, epochs: int = 300, ax=None):
    """Loss curves for several learning rates on one log-scaled axis; returns the axis."""
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


def learning_rate_explorer():
    """Live widget: a log slider for η and a slider for epochs; redraws the loss curve."""
    import ipywidgets as widgets
    from IPython.display import display

    lr = widgets.FloatLogSlider(value=0.5, base=10, min=-3, max=2, step=0.1, description="η")
    epochs = widgets.IntSlider(value=300, min=50, max=1000, step=50, description="epochs")
    out = widgets.interactive_output(
        lambda learning_rate, n: (plot_learning_rate_view([learning_rate], n), plt.show()),
        {"learning_rate": lr, "n": epochs},
    )
    display(widgets.VBox([widgets.HBox([lr, epochs]), out]))
