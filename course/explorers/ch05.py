"""Chapter 05 (vanishing and exploding gradients): the per-layer gradient-norm figure and the
widget explorer. The network, its gradients and the data (``course.datasets``) are the
chapter's own (its ``deep_mlp`` and ``gradient_norms`` cells); the figure and the explorer
take that function.

    plot_gradient_norms([("Glorot uniform", "sigmoid", False)], gradient_norms, depth=15)
    explore_gradients(gradient_norms, inits=list(INITS))
"""

from __future__ import annotations

import numpy as np

from course.explorers.widgets import show_explorer

HIDDEN_ACTIVATIONS = ["sigmoid", "tanh", "relu", "selu"]


def plot_gradient_norms(configs, norms, depth=15, ax=None, title=None):
    """Per-layer gradient norms on a log scale.

    configs: list of (init, activation, batch_norm); norms(depth, init, activation, batch_norm)
    returns the depth + 1 kernel-gradient norms, input layer first (the chapter's
    ``gradient_norms``).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8.4, 3.8))
    layers = np.arange(1, depth + 2)
    for init, activation, batch_norm in configs:
        values = norms(depth, init, activation, batch_norm)
        label = f"{activation}, {init}" + (", BN" if batch_norm else "")
        ax.semilogy(layers, np.maximum(values, 1e-30), "o-", ms=3, label=label)
    ax.set_xlabel(f"layer (1 = input layer, {depth + 1} = output layer)")
    ax.set_ylabel("‖∂L/∂W‖ at initialization")
    ax.set_title(title or f"Gradient norm per layer, {depth} hidden layers of 64 units, digits")
    # outside the axes: the lines fill the plot
    ax.legend(fontsize=9, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.figure.tight_layout()
    return ax.figure


def explore_gradients(
    norms, inits, depth=15, init="Glorot uniform", activation="sigmoid", batch_norm=False
):
    """Live explorer: depth × init × activation × batch norm → per-layer gradient norms.

    norms: the chapter's ``gradient_norms``; inits: the initializer labels it accepts. The
    other arguments set the starting view (the chapter shows it as a static figure too).
    """
    import ipywidgets as widgets

    w_depth = widgets.IntSlider(
        value=depth, min=2, max=40, step=1, description="depth", continuous_update=False
    )
    w_init = widgets.Dropdown(options=list(inits), value=init, description="init")
    w_act = widgets.ToggleButtons(
        options=HIDDEN_ACTIVATIONS, value=activation, description="activation"
    )
    w_bn = widgets.Checkbox(value=batch_norm, description="batch normalization")

    def draw(depth, init, activation, batch_norm):
        values = norms(depth, init, activation, batch_norm)
        ratio = f"{values[0] / values[-2]:.2g}" if values[-2] > 0 else "undefined"
        fig = plot_gradient_norms(
            [(init, activation, batch_norm)],
            norms,
            depth=depth,
            title=f"{depth} hidden layers: first/last layer gradient ratio {ratio}",
        )
        fig.axes[0].set_ylim(1e-16, 1e8)

    show_explorer(
        draw, [{"depth": w_depth, "init": w_init}, {"activation": w_act}, {"batch_norm": w_bn}]
    )
