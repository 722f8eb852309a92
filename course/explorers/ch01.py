"""Figures and the widget explorer of chapter 01 (weight initialization).

Everything here is NumPy and matplotlib on top of ``scratchnn.initializers``; no TensorFlow.

    stats = signal_through_depth("he_normal", "relu", depth=50)
    plot_signal_grid()                       # std of activations and gradients per layer
    plot_layer_histograms("he_normal", "relu", depth=50)
    explore_depth()                          # live widget: init × depth × activation
"""

from __future__ import annotations

import functools

import numpy as np
from threadpoolctl import threadpool_limits

from scratchnn import initializers

from course.explorers.widgets import show_explorer

# The schemes the depth experiment compares: label -> factory(seed) of a scratchnn initializer.
SCHEMES = {
    "N(0, 0.01²)": lambda seed: initializers.RandomNormal(stddev=0.01, seed=seed),
    "N(0, 1)": lambda seed: initializers.RandomNormal(stddev=1.0, seed=seed),
    "Glorot normal": lambda seed: initializers.GlorotNormal(seed=seed),
    "LeCun normal": lambda seed: initializers.LecunNormal(seed=seed),
    "He normal": lambda seed: initializers.HeNormal(seed=seed),
    "Orthogonal": lambda seed: initializers.Orthogonal(seed=seed),
    # LeCun's variance times tanh's gain squared, (5/3)² / n: PyTorch's calculate_gain("tanh").
    "tanh gain 5/3": lambda seed: initializers.VarianceScaling(
        (5 / 3) ** 2, "fan_in", "truncated_normal", seed=seed
    ),
}

# Line styles that keep coincident curves visible (Glorot and LeCun agree on square layers).
_STYLES = ["-", "--", "-", ":", "-", "-.", "--"]

_ACTIVATIONS = {
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(z.dtype)),
}


def signal_through_depth(
    scheme: str, activation: str, depth: int = 50, width: int = 128, batch: int = 128, seed: int = 0
) -> dict:
    """Push a batch of N(0, 1) inputs through ``depth`` Dense layers (zero biases) and back.

    scheme: a key of SCHEMES; activation: "tanh" or "relu". Every layer is (width, width).
    Returns a dict with
      activations: list of ``depth`` arrays (batch, width), each layer's output
      act_std:     (depth,) standard deviation of each layer's output
      grad_std:    (depth,) standard deviation of dL/d(input of each layer), for an upstream
                   gradient of N(0, 1) entries at the top (layer 1 is the first layer)
    Results are cached: treat the returned arrays as read-only.
    """
    return _signal_through_depth(scheme, activation, int(depth), int(width), int(batch), int(seed))


@functools.lru_cache(maxsize=64)  # a pure function of its arguments; figures and tables reuse runs
def _signal_through_depth(scheme, activation, depth, width, batch, seed):
    # One BLAS thread: these matrices are small, and threads fighting over 2 shared cores
    # made this 10x slower; it also fixes the summation order, so results repeat exactly.
    with threadpool_limits(limits=1, user_api="blas"):
        return _run_stack(scheme, activation, depth, width, batch, seed)


def _run_stack(scheme, activation, depth, width, batch, seed):
    f, df = _ACTIVATIONS[activation]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, width))
    kernels, pre, acts = [], [], []
    for layer in range(depth):
        w = SCHEMES[scheme](seed * 1000 + layer)((width, width), dtype="float64")
        z = x @ w
        x = f(z)
        kernels.append(w)
        pre.append(z)
        acts.append(x)
    grad = rng.standard_normal((batch, width))
    grad_std = np.empty(depth)
    for layer in reversed(range(depth)):
        grad = (grad * df(pre[layer])) @ kernels[layer].T
        grad_std[layer] = grad.std()
    act_std = np.array([a.std() for a in acts])
    return {"activations": acts, "act_std": act_std, "grad_std": grad_std}


def plot_signal_grid(depth: int = 50, width: int = 128, schemes=None):
    """2 × 2 figure: std of activations (top) and gradients (bottom) per layer, tanh | ReLU."""
    import matplotlib.pyplot as plt

    schemes = list(SCHEMES) if schemes is None else schemes
    fig, axes = plt.subplots(2, 2, figsize=(9, 6.8), sharex=True)
    layers = np.arange(1, depth + 1)
    for col, activation in enumerate(["tanh", "relu"]):
        for scheme, style in zip(schemes, _STYLES):
            s = signal_through_depth(scheme, activation, depth, width)
            for row, key in enumerate(["act_std", "grad_std"]):
                with np.errstate(divide="ignore"):
                    axes[row, col].semilogy(layers, np.maximum(s[key], 1e-30), style, label=scheme)
        axes[0, col].set_title(f"{activation}: forward signal")
        axes[1, col].set_title(f"{activation}: backward signal")
        axes[0, col].set_ylabel("std of layer output")
        axes[1, col].set_ylabel("std of dL/d(layer input)")
        axes[1, col].set_xlabel("layer")
        for ax in axes[:, col]:
            ax.set_ylim(1e-12, 1e12)
    axes[0, 0].set_ylim(1e-3, 3)  # tanh's output is bounded: zoom in to tell the schemes apart
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=9)
    fig.suptitle(
        "ReLU needs He's factor 2; tanh's forward signal hides saturation, its gradient shows it"
    )
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def plot_layer_histograms(
    scheme: str, activation: str, depth: int = 50, n_panels: int = 5, width: int = 128, fig=None
):
    """Histograms of the outputs of ``n_panels`` layers spread over the depth (same scheme)."""
    import matplotlib.pyplot as plt

    s = signal_through_depth(scheme, activation, depth, width)
    picks = np.unique(np.linspace(0, depth - 1, n_panels).round().astype(int))
    if fig is None:
        fig = plt.figure(figsize=(9, 2.6))
    axes = fig.subplots(1, len(picks), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, layer in zip(axes, picks):
        a = s["activations"][layer].ravel()
        ax.hist(a, bins=40, color="C0")
        ax.set_title(f"layer {layer + 1}\nstd {a.std():.2g}", fontsize=9)
        ax.set_xlabel("activation")
        ax.tick_params(labelsize=9)
    axes[0].set_ylabel("count")
    verdict = _verdict(s, activation)
    fig.suptitle(f"{scheme}, {activation}, {depth} layers: the signal {verdict}", fontsize=10)
    fig.tight_layout()
    return fig


def _verdict(s: dict, activation: str) -> str:
    """One word for what happened to the signal at the last layer."""
    last = s["act_std"][-1]
    if last < 1e-2:
        return "vanishes"
    if last > 1e2:
        return "explodes"
    saturated = np.mean(np.abs(s["activations"][-1]) > 0.99) > 0.5
    return "saturates" if activation == "tanh" and saturated else "is preserved"


def plot_histogram_grid(settings, depth: int = 30, n_panels: int = 4, width: int = 128):
    """Small multiple of the explorer: one row per (scheme, activation) setting, histograms of
    ``n_panels`` layers' outputs, each row on one shared x-axis so that shrinking shows."""
    import matplotlib.pyplot as plt

    picks = np.unique(np.linspace(0, depth - 1, n_panels).round().astype(int))
    fig, axes = plt.subplots(len(settings), len(picks), figsize=(9, 2.2 * len(settings)))
    axes = np.atleast_2d(axes)
    for row, (scheme, activation) in zip(axes, settings):
        s = signal_through_depth(scheme, activation, depth, width)
        for ax, layer in zip(row, picks):
            a = s["activations"][layer].ravel()
            ax.hist(a, bins=40, color="C0")
            ax.set_title(f"layer {layer + 1}: std {a.std():.2g}", fontsize=9)
            ax.set_yticks([])
            if ax is not row[0]:
                ax.sharex(row[0])
        row[0].set_ylabel(f"{scheme}\n{activation}: {_verdict(s, activation)}", fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel("layer output")
    fig.suptitle(f"Layer outputs over {depth} layers, one setting per row")
    fig.tight_layout()
    return fig


def explore_depth(scheme: str = "Glorot normal", activation: str = "relu", depth: int = 30):
    """Live explorer: pick an init scheme, an activation and a depth; see per-layer histograms.

    The arguments set the starting view (the chapter shows the same view as a static figure).
    """
    import ipywidgets as widgets

    scheme = widgets.Dropdown(options=list(SCHEMES), value=scheme, description="init")
    activation = widgets.ToggleButtons(
        options=["relu", "tanh"], value=activation, description="activation"
    )
    depth = widgets.IntSlider(
        value=depth, min=2, max=50, step=1, description="depth", continuous_update=False
    )

    show_explorer(
        plot_layer_histograms, [{"scheme": scheme, "depth": depth}, {"activation": activation}]
    )


def plot_decision_boundaries(predictors: dict, x, y, title: str):
    """One panel per model: predicted probability on a grid, with the data on top.

    predictors: label -> function mapping (n, 2) inputs to (n, 1) logits.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(predictors), figsize=(3.2 * len(predictors), 3.2), sharey=True)
    g = np.linspace(-1.5, 1.5, 121)
    gx, gy = np.meshgrid(g, g)
    grid = np.c_[gx.ravel(), gy.ravel()]
    for ax, (label, predict) in zip(np.atleast_1d(axes), predictors.items()):
        logits = np.asarray(predict(grid), dtype=np.float64).reshape(gx.shape)
        with np.errstate(over="ignore"):
            p = 1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50)))
        ax.contourf(gx, gy, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
        ax.scatter(
            x[:, 0], x[:, 1], c=np.ravel(y), cmap="RdBu_r", s=8, edgecolors="k", linewidths=0.3
        )
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("$x_1$")
        ax.set_aspect("equal")
    np.atleast_1d(axes)[0].set_ylabel("$x_2$")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig
