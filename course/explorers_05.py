"""Chapter 05 (vanishing and exploding gradients): the data, the per-layer gradient-norm figure
and the widget explorer. The network and its gradients are the chapter's own (its
``deep_mlp`` and ``gradient_norms`` cells); the figure and the explorer take that function.

    X, y = digits()
    plot_gradient_norms([("Glorot uniform", "sigmoid", False)], gradient_norms, depth=15)
    explore_gradients(gradient_norms, inits=list(INITS))
"""
from __future__ import annotations

import functools

import numpy as np

HIDDEN_ACTIVATIONS = ["sigmoid", "tanh", "relu", "selu"]


@functools.lru_cache(maxsize=1)
def _digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    std = X.std(axis=0)
    X = (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)  # two pixels are always 0
    return X, y


def digits(n: int | None = None):
    """load_digits standardised per pixel: X (n, 64) float64, y (n,) integer labels 0–9.

    n: the first n examples (all 1,797 when None). Returns copies (safe to modify).
    """
    X, y = _digits()
    return X[:n].copy(), y[:n].copy()


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
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.figure.tight_layout()
    return ax.figure


def explore_gradients(norms, inits, depth=15, init="Glorot uniform", activation="sigmoid",
                      batch_norm=False):
    """Live explorer: depth × init × activation × batch norm → per-layer gradient norms.

    norms: the chapter's ``gradient_norms``; inits: the initializer labels it accepts. The
    other arguments set the starting view (the chapter shows it as a static figure too).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    w_depth = widgets.IntSlider(value=depth, min=2, max=40, step=1, description="depth",
                                continuous_update=False)
    w_init = widgets.Dropdown(options=list(inits), value=init, description="init")
    w_act = widgets.ToggleButtons(options=HIDDEN_ACTIVATIONS, value=activation,
                                  description="activation")
    w_bn = widgets.Checkbox(value=batch_norm, description="batch normalization")

    def draw(depth, init, activation, batch_norm):
        values = norms(depth, init, activation, batch_norm)
        ratio = f"{values[0] / values[-2]:.2g}" if values[-2] > 0 else "undefined"
        fig = plot_gradient_norms([(init, activation, batch_norm)], norms, depth=depth,
                                  title=f"{depth} hidden layers: first/last layer gradient "
                                        f"ratio {ratio}")
        fig.axes[0].set_ylim(1e-16, 1e8)
        plt.show()

    out = widgets.interactive_output(draw, {"depth": w_depth, "init": w_init,
                                            "activation": w_act, "batch_norm": w_bn})
    display(widgets.VBox([widgets.HBox([w_depth, w_init]), w_act, w_bn, out]))
