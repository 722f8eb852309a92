"""Chapter 06 (regularization): the noisy-moons experiment and the penalty explorer
(live widget + the static figure the site shows).

Nothing here imports Keras or TensorFlow; ``ipywidgets`` is imported only by the explorer.
Training runs with one BLAS thread: these matrices are tiny, and on a shared 2-core machine
several BLAS threads per product cost ten times more than they save.
"""
from __future__ import annotations

import numpy as np

HIDDEN = 64
PENALTIES = ("none", "L2", "L1", "max-norm")


def moons(n_train: int = 100, n_val: int = 500, noise: float = 0.35):
    """Noisy two-moons: (x_train, y_train, x_val, y_val); y of shape (n, 1), 0.0/1.0.

    Few, noisy training points and a fresh validation set from the same distribution:
    a 2-64-64-1 network can memorise the training set, which is the point.
    """
    from sklearn.datasets import make_moons

    x, y = make_moons(n_train, noise=noise, random_state=0)
    xv, yv = make_moons(n_val, noise=noise, random_state=1)
    return x, y[:, None].astype(float), xv, yv[:, None].astype(float)


def moons_model(seed: int = 0, hidden: int = HIDDEN):
    """2-hidden-hidden-1 ReLU network (scratchnn.foundations), Glorot-uniform from a seeded generator."""
    from scratchnn.foundations import Dense, Sequential

    np.random.seed(seed)
    model = Sequential([Dense(hidden, activation="relu"), Dense(hidden, activation="relu"), Dense(1)])
    model.build((None, 2))
    return model


def penalty_kwargs(kind: str, strength: float) -> dict:
    """fit() keyword arguments for a named penalty: L2/L1 on every kernel, or MaxNorm(c=strength)."""
    from scratchnn.regularizers import L1, L2, MaxNorm

    if kind == "none" or strength == 0:
        return {}
    if kind == "L2":
        return {"kernel_regularizer": L2(strength)}
    if kind == "L1":
        return {"kernel_regularizer": L1(strength)}
    if kind == "max-norm":
        return {"kernel_constraint": MaxNorm(strength)}
    raise ValueError(f"unknown penalty {kind!r}; choose from {PENALTIES}")


def train_moons(kind: str = "none", strength: float = 0.0, epochs: int = 300, seed: int = 0,
                data=None, early_stopping=None, optimizer=None):
    """Full-batch training on the noisy moons with one penalty. Returns (model, history).

    optimizer: a factory (e.g. ``lambda: SGD(0.1, momentum=0.9)``); default Adam(0.01).

    history has "loss" (training loss + penalty), "val_loss" (validation loss + penalty, as Keras
    reports it), "penalty", and "val_data_loss" = val_loss − penalty (the cross-entropy alone).
    """
    from threadpoolctl import threadpool_limits

    from scratchnn.losses import BinaryCrossentropy
    from scratchnn.optimizers import Adam
    from scratchnn.regularizers import fit

    x, y, xv, yv = moons() if data is None else data
    model = moons_model(seed)
    with threadpool_limits(limits=1, user_api="blas"):
        history = fit(model, x, y, BinaryCrossentropy(from_logits=True, dtype="float64"),
                      Adam(0.01) if optimizer is None else optimizer(), epochs=epochs, batch_size=len(x), validation_data=(xv, yv),
                      early_stopping=early_stopping, **penalty_kwargs(kind, strength))
    history["val_data_loss"] = history["val_loss"] - history["penalty"]
    return model, history


def accuracy(model, x, y) -> float:
    """Fraction of points on the right side of the logit-0 boundary."""
    return float(np.mean((model.forward(x) > 0) == (y > 0.5)))


def all_kernels(model) -> np.ndarray:
    """Every kernel entry of the model, flattened (biases excluded: they are not penalised here)."""
    return np.concatenate([layer.kernel.ravel() for layer in model.layers])


def plot_boundary(ax, model, x, y, title: str):
    """The model's decision boundary (logit = 0) and class regions over the training points."""
    g0, g1 = np.meshgrid(np.linspace(-2, 3, 120), np.linspace(-1.6, 2.1, 90))
    logits = model.forward(np.c_[g0.ravel(), g1.ravel()]).reshape(g0.shape)
    ax.contourf(g0, g1, logits > 0, levels=[-0.5, 0.5, 1.5], colors=["#a9c9ec", "#f4c7a1"], alpha=0.7)
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
    ax.text(0.02, 0.95, f"|w| < 1e-3: {np.mean(np.abs(w) < 1e-3):.0%}\nmax |w| = {np.abs(w).max():.2f}",
            transform=ax.transAxes, va="top", fontsize=9)


def plot_explorer_view(kind: str = "L2", strength: float = 0.01, epochs: int = 300, fig=None):
    """The explorer's view: decision boundary (left) and kernel-weight histogram (right)."""
    import matplotlib.pyplot as plt

    data = moons()
    model, history = train_moons(kind, strength, epochs, data=data)
    val_acc = accuracy(model, data[2], data[3])
    if fig is None:
        fig = plt.figure(figsize=(8.5, 3.3))
    ax1, ax2 = fig.subplots(1, 2)
    label = "no penalty" if kind == "none" or strength == 0 else f"{kind} {strength:g}"
    plot_boundary(ax1, model, data[0], data[1], f"{label}: validation accuracy {val_acc:.0%}")
    plot_weight_histogram(ax2, model, f"kernel weights ({label})")
    fig.tight_layout()
    return fig


def regularization_explorer(kind: str = "L2", strength: float = 0.01, epochs: int = 300):
    """Live explorer: penalty kind × strength → decision boundary and weight histogram."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    kind_w = widgets.ToggleButtons(options=list(PENALTIES), value=kind, description="penalty")
    strength_w = widgets.FloatLogSlider(value=strength, base=10, min=-5, max=1, step=0.25,
                                        description="strength", continuous_update=False)
    epochs_w = widgets.IntSlider(value=epochs, min=50, max=1000, step=50, description="epochs",
                                 continuous_update=False)

    def draw(kind, strength, epochs):
        plot_explorer_view(kind, strength, epochs)
        plt.show()

    out = widgets.interactive_output(draw, {"kind": kind_w, "strength": strength_w, "epochs": epochs_w})
    display(widgets.VBox([kind_w, widgets.HBox([strength_w, epochs_w]), out]))
