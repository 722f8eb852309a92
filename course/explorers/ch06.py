"""Chapter 06 (regularization): the penalty explorer (live widget + the static figure the
site shows).

The network and its training live in the chapter (``moons_mlp`` and ``train_moons``, visible
cells): the figures here take the chapter's training function as an argument. Nothing here
imports Keras or TensorFlow; ``ipywidgets`` is imported only by the explorer.
"""

from __future__ import annotations

import numpy as np

from course.explorers.widgets import show_explorer

PENALTIES = ("none", "L2", "L1", "max-norm")


def all_kernels(model) -> np.ndarray:
    """Every kernel entry of a Sequential of Dense layers, flattened (biases excluded: they
    are not penalised here)."""
    return np.concatenate([layer.kernel.ravel() for layer in model.layers])


def plot_boundary(ax, model, x, y, title: str):
    """The model's decision boundary (logit = 0) and class regions over the training points."""
    g0, g1 = np.meshgrid(np.linspace(-2, 3, 120), np.linspace(-1.6, 2.1, 90))
    logits = model.forward(np.c_[g0.ravel(), g1.ravel()]).reshape(g0.shape)
    ax.contourf(
        g0, g1, logits > 0, levels=[-0.5, 0.5, 1.5], colors=["#a9c9ec", "#f4c7a1"], alpha=0.7
    )
    ax.contour(g0, g1, logits, levels=[0], colors="k", linewidths=1)
    ax.scatter(x[:, 0], x[:, 1], c=y[:, 0], cmap="coolwarm", s=12, edgecolors="k", linewidths=0.3)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title)


def plot_weight_histogram(ax, model, title: str):
    """Histogram of every kernel weight (log counts), with the share that is (almost) zero and
    the largest |w| in the title (below ``title``; alone on two lines when ``title`` is
    empty), so that no text covers the bars."""
    w = all_kernels(model)
    ax.hist(w, bins=np.linspace(-1.5, 1.5, 61), color="tab:blue")
    ax.set_yscale("log")
    ax.set_xlabel("kernel weight")
    ax.set_ylabel("count (log)")
    small, largest = np.mean(np.abs(w) < 1e-3), np.abs(w).max()
    stats = f"|w| < 1e-3: {small:.0%}, max |w| {largest:.2f}"
    ax.set_title(f"{title}\n{stats}" if title else stats.replace(", ", "\n"))


def plot_explorer_view(
    train, kind: str = "L2", strength: float = 0.01, epochs: int = 300, fig=None
):
    """The explorer's view: decision boundary (left) and kernel-weight histogram (right).

    train: the chapter's ``train_moons(kind, strength, epochs) -> (model, history)``, which
    trains on ``course.datasets.noisy_moons()``; the title's accuracy is measured on its
    validation points.
    """
    import matplotlib.pyplot as plt

    from course.datasets import noisy_moons

    x, y, x_val, y_val = noisy_moons()
    model, _ = train(kind, strength, epochs)
    val_acc = np.mean((model.forward(x_val) > 0) == (y_val > 0.5))  # logit 0 is p = ½
    if fig is None:
        fig = plt.figure(figsize=(8.5, 3.3))
    ax1, ax2 = fig.subplots(1, 2)
    label = "no penalty" if kind == "none" or strength == 0 else f"{kind} {strength:g}"
    plot_boundary(ax1, model, x, y, f"{label}: validation accuracy {val_acc:.0%}")
    plot_weight_histogram(ax2, model, f"kernel weights ({label})")
    fig.tight_layout()
    return fig


def plot_explorer_grid(train, settings, epochs: int = 300):
    """The explorer's view for a few settings side by side (the site's static twin): one
    column per (kind, strength), the decision boundary above the kernel-weight histogram.

    train: the chapter's ``train_moons(kind, strength, epochs) -> (model, history)`` (or a
    lookup of runs already trained the same way); settings: a list of (kind, strength).
    """
    import matplotlib.pyplot as plt

    from course.datasets import noisy_moons

    x, y, x_val, y_val = noisy_moons()
    fig, axes = plt.subplots(2, len(settings), figsize=(2.5 * len(settings), 5.4), squeeze=False)
    for col, (kind, strength) in enumerate(settings):
        model, _ = train(kind, strength, epochs)
        val_acc = np.mean((model.forward(x_val) > 0) == (y_val > 0.5))
        label = "no penalty" if kind == "none" or strength == 0 else f"{kind} {strength:g}"
        plot_boundary(axes[0, col], model, x, y, f"{label}\nvalidation {val_acc:.0%}")
        plot_weight_histogram(axes[1, col], model, "")
        if col:
            axes[0, col].set_ylabel("")
            axes[1, col].set_ylabel("")
    fig.tight_layout()
    return fig


def regularization_explorer(train, kind: str = "L2", strength: float = 0.01, epochs: int = 300):
    """Live explorer: penalty kind × strength → decision boundary and weight histogram.

    train: the chapter's ``train_moons`` (see ``plot_explorer_view``).
    """
    import ipywidgets as widgets

    kind_w = widgets.ToggleButtons(options=list(PENALTIES), value=kind, description="penalty")
    strength_w = widgets.FloatLogSlider(
        value=strength,
        base=10,
        min=-5,
        max=1,
        step=0.25,
        description="c (max-norm)" if kind == "max-norm" else "λ",
        continuous_update=False,
    )

    def relabel(change):  # one slider: the penalty's λ, or max-norm's radius c (smaller: stronger)
        strength_w.description = "c (max-norm)" if change["new"] == "max-norm" else "λ"

    kind_w.observe(relabel, names="value")
    epochs_w = widgets.IntSlider(
        value=epochs, min=50, max=1000, step=50, description="epochs", continuous_update=False
    )

    show_explorer(
        lambda kind, strength, epochs: plot_explorer_view(train, kind, strength, epochs),
        [{"kind": kind_w}, {"strength": strength_w, "epochs": epochs_w}],
    )
