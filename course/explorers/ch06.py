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
    """Histogram of every kernel weight, with the share that is (almost) zero in the legend."""
    w = all_kernels(model)
    ax.hist(w, bins=np.linspace(-1.5, 1.5, 61), color="tab:blue")
    ax.set_xlabel("kernel weight")
    ax.set_ylabel("count")
    ax.set_title(title)
    ax.text(
        0.02,
        0.95,
        f"|w| < 1e-3: {np.mean(np.abs(w) < 1e-3):.0%}\nmax |w| = {np.abs(w).max():.2f}",
        transform=ax.transAxes,
        va="top",
        fontsize=9,
    )


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
        description="strength",
        continuous_update=False,
    )
    epochs_w = widgets.IntSlider(
        value=epochs, min=50, max=1000, step=50, description="epochs", continuous_update=False
    )

    show_explorer(
        lambda kind, strength, epochs: plot_explorer_view(train, kind, strength, epochs),
        [{"kind": kind_w}, {"strength": strength_w, "epochs": epochs_w}],
    )
