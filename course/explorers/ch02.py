"""Chapter 02 helpers: the function/derivative figures, the gradient-through-depth measure
and the activation explorer (the stability check is ``course.checks.check_activation``).

Nothing here imports Keras or TensorFlow; ``ipywidgets`` is imported only by the explorer.
"""

from __future__ import annotations

import numpy as np

from course.explorers.widgets import show_explorer

__all__ = [
    "gradient_through_depth",
    "plot_activation_grid",
    "plot_activation_view",
    "activation_explorer",
]


def gradient_through_depth(
    name: str,
    depth: int = 20,
    width: int = 64,
    batch: int = 256,
    weight_std: float | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Relative size of ∂L/∂z_l in each hidden layer l of a random ``depth``-layer MLP.

    name: an element-wise activation in ``scratchnn.activations.ACTIVATIONS``.
    Forward: z_l = h_{l-1} W_l, h_l = f(z_l), W_l ~ N(0, weight_std²) (default 1/√width,
    LeCun scaling), inputs N(0, 1). A random unit-scale gradient arrives at the top layer and
    is back-propagated: multiply by f′(z_l), then by W_lᵀ. Returns ``depth`` norms,
    index 0 = the first hidden layer, each divided by the norm at the top layer.
    """
    from scratchnn.activations import ACTIVATIONS

    f, d = ACTIVATIONS[name]
    rng = np.random.default_rng(seed)
    std = 1 / np.sqrt(width) if weight_std is None else weight_std
    weights = [rng.normal(0, std, (width, width)) for _ in range(depth)]
    h = rng.normal(size=(batch, width))
    pre = []
    for w in weights:
        z = h @ w
        pre.append(z)
        h = f(z)
    grad = rng.normal(size=h.shape)
    norms = np.zeros(depth)
    for layer in range(depth - 1, -1, -1):
        grad = grad * d(pre[layer])  # ∂L/∂z_l
        norms[layer] = np.linalg.norm(grad)
        grad = grad @ weights[layer].T  # ∂L/∂h_{l-1}
    return norms / norms[-1] if norms[-1] > 0 else norms


def plot_activation_grid(names, x_range=(-5.0, 5.0), ncols: int = 4):
    """A grid of small plots, one per activation: the function and its derivative."""
    import matplotlib.pyplot as plt

    from scratchnn.activations import ACTIVATIONS

    x = np.linspace(*x_range, 401)
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.2 * ncols, 1.9 * nrows), sharex=True)
    for ax, name in zip(np.ravel(axes), names):
        f, d = ACTIVATIONS[name]
        ax.plot(x, f(x), label="f(x)")
        ax.plot(x, d(x), "--", label="f′(x)")
        ax.set_title(name, fontsize=10)
        ax.axhline(0, color="0.6", lw=0.6)
        ax.set_ylim(-2.2, 3.2)
        ax.tick_params(labelsize=9)
    for ax in np.ravel(axes)[len(names) :]:
        ax.set_visible(False)
    for ax in np.ravel(axes)[-ncols:]:
        ax.set_xlabel("x", fontsize=9)
    np.ravel(axes)[0].legend(fontsize=9, loc="upper left")
    fig.tight_layout()
    return fig


def plot_activation_view(name: str, depth: int = 20, x_range=(-5.0, 5.0), fig=None):
    """The explorer's view: f and f′ on the left, relative gradient norm per layer on the right."""
    import matplotlib.pyplot as plt

    from scratchnn.activations import ACTIVATIONS

    f, d = ACTIVATIONS[name]
    if fig is None:
        fig = plt.figure(figsize=(8, 3))
    ax1, ax2 = fig.subplots(1, 2)
    x = np.linspace(*x_range, 401)
    ax1.plot(x, f(x), label="f(x)")
    ax1.plot(x, d(x), "--", label="f′(x)")
    ax1.set_xlabel("x")
    ax1.set_ylabel("value")
    ax1.set_title(f"{name} and its derivative")
    ax1.legend(fontsize=9)
    norms = gradient_through_depth(name, depth=depth)
    layers = np.arange(1, depth + 1)
    ax2.semilogy(layers, np.maximum(norms, 1e-30), "o-", ms=3)
    ax2.set_xlabel("hidden layer (1 = nearest the input)")
    ax2.set_ylabel("‖∂L/∂z‖ / top layer")
    ax2.set_title(f"gradient reaching layer 1: {norms[0]:.2g}× the top")
    fig.tight_layout()
    return fig


def activation_explorer(default: str = "sigmoid", depth: int = 20):
    """Live explorer: choose an activation and a depth; see f, f′ and gradient norm per layer."""
    import ipywidgets as widgets

    from scratchnn.activations import ACTIVATIONS

    name = widgets.Dropdown(
        options=[n for n in ACTIVATIONS if n != "binary_step"],
        value=default,
        description="activation",
    )
    layers = widgets.IntSlider(value=depth, min=2, max=50, description="depth")

    show_explorer(plot_activation_view, [{"name": name, "depth": layers}])
