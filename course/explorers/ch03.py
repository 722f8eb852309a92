"""Chapter 03 helpers (loss functions): the loss curves of one moving prediction, their
figures and the live explorer (the parity check is ``course.checks.loss_parity``).

NumPy and matplotlib on top of ``scratchnn.losses``; nothing here imports Keras or TensorFlow,
and ``ipywidgets`` is imported only by the explorer.

    x, loss, slope = loss_curve("huber", delta=0.5)      # one prediction moving along a path
    plot_loss_grid()                                      # every loss and its slope
    plot_loss_view("binary_crossentropy", label=1)        # the explorer's view, static
    loss_explorer()                                       # live widget
"""

from __future__ import annotations

import numpy as np

from course.explorers.widgets import show_explorer

__all__ = ["PATHS", "loss_curve", "plot_loss_grid", "plot_loss_view", "loss_explorer"]


def _scalar(x):  # regression: the prediction itself
    return x[:, None], np.ones((len(x), 1))


def _probability(x):  # binary: the predicted probability (or logit)
    return x[:, None], np.ones((len(x), 1))


def _true_class(x):  # 3 classes: p for class 0 is x, the rest share 1 − x
    return np.stack([x, (1 - x) / 2, (1 - x) / 2], axis=1), np.tile([1.0, -0.5, -0.5], (len(x), 1))


def _true_logit(x):  # 3 classes, logits: class 0's logit is x, the others 0
    return np.stack([x, 0 * x, 0 * x], axis=1), np.tile([1.0, 0.0, 0.0], (len(x), 1))


def _angle(x):  # 2-D prediction at angle x (radians) from the target [1, 0]
    return np.stack([np.cos(x), np.sin(x)], axis=1), np.stack([-np.sin(x), np.cos(x)], axis=1)


def _two_class(x):  # a 2-class distribution [x, 1 − x]
    return np.stack([x, 1 - x], axis=1), np.tile([1.0, -1.0], (len(x), 1))


# name -> (path, x range, x label, y_true builder(target, label))
PATHS = {
    "mean_squared_error": (_scalar, (-3, 3), "prediction ŷ", lambda t, c: [[t]]),
    "mean_absolute_error": (_scalar, (-3, 3), "prediction ŷ", lambda t, c: [[t]]),
    "huber": (_scalar, (-3, 3), "prediction ŷ", lambda t, c: [[t]]),
    "log_cosh": (_scalar, (-3, 3), "prediction ŷ", lambda t, c: [[t]]),
    "cosine_similarity": (
        _angle,
        (-np.pi, np.pi),
        "angle between ŷ and y (radians)",
        lambda t, c: [[1.0, 0.0]],
    ),
    "binary_crossentropy": (_probability, (0, 1), "predicted probability p", lambda t, c: [[c]]),
    "categorical_crossentropy": (
        _true_class,
        (0, 1),
        "probability of the true class",
        lambda t, c: [[1.0, 0, 0]],
    ),
    "sparse_categorical_crossentropy": (
        _true_class,
        (0, 1),
        "probability of the true class",
        lambda t, c: [0],
    ),
    "hinge": (_scalar, (-3, 3), "score ŷ", lambda t, c: [[c]]),
    "squared_hinge": (_scalar, (-3, 3), "score ŷ", lambda t, c: [[c]]),
    "kl_divergence": (
        _two_class,
        (0, 1),
        "predicted p for class 0 (target 0.7)",
        lambda t, c: [[0.7, 0.3]],
    ),
}
_LOGIT_PATHS = {
    "binary_crossentropy": (_probability, (-8, 8), "logit z"),
    "categorical_crossentropy": (_true_logit, (-8, 8), "logit of the true class (others 0)"),
    "sparse_categorical_crossentropy": (_true_logit, (-8, 8), "logit of the true class (others 0)"),
}


def loss_curve(
    name: str,
    target: float = 0.0,
    label: int = 1,
    delta: float = 1.0,
    from_logits: bool = False,
    points: int = 401,
):
    """Loss and slope of one prediction moving along the path of ``name`` (see PATHS).

    target: y_true of the regression losses; label: 0/1 for binary cross-entropy and the
    hinges (0 becomes −1 there, as Keras converts it); delta: Huber's δ; from_logits: the
    cross-entropies' logit form. Returns (x, loss, slope, xlabel), arrays of ``points`` values;
    the endpoints of the probability paths are exact 0 and 1 (where Keras clips).
    """
    from scratchnn.losses import LOSSES

    path, x_range, xlabel, make_true = PATHS[name]
    kwargs = {}
    if name == "huber":
        kwargs["delta"] = delta
    if from_logits and name in _LOGIT_PATHS:
        path, x_range, xlabel = _LOGIT_PATHS[name]
        kwargs["from_logits"] = True
    fn, grad_fn = LOSSES[name]
    x = np.linspace(*x_range, points)
    y_pred, dpred = path(x)
    y_true = np.repeat(np.asarray(make_true(target, label), dtype=float), points, axis=0)
    loss = fn(y_true, y_pred, **kwargs)
    slope = np.sum(grad_fn(y_true, y_pred, **kwargs) * dpred, axis=-1)
    return x, loss, slope, xlabel


def plot_loss_grid(names=None, ncols: int = 3):
    """Small multiples: every loss (solid) and its slope (dashed) as one prediction moves."""
    import matplotlib.pyplot as plt

    names = list(PATHS) if names is None else names
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.7 * ncols, 2.2 * nrows))
    for ax, name in zip(np.ravel(axes), names):
        x, loss, slope, xlabel = loss_curve(name)
        ax.plot(x, loss, label="loss")
        ax.plot(x, np.clip(slope, -6, 6), "--", label="slope (clipped at ±6)")
        ax.set_title(name.replace("_", " "), fontsize=9)
        ax.set_xlabel(xlabel, fontsize=9)
        ax.set_ylim(-6.5, 8)  # the clipped slopes (±6) stay in the frame
        ax.tick_params(labelsize=9)
    handles, labels = np.ravel(axes)[0].get_legend_handles_labels()
    spare = np.ravel(axes)[len(names) :]
    for ax in spare:
        ax.axis("off")
    if len(spare):  # the legend in an empty panel, off the data
        spare[0].legend(handles, labels, loc="center")
    else:
        fig.legend(handles, labels, loc="lower center", ncol=2)
    fig.tight_layout()
    return fig


def plot_loss_view(
    name: str,
    target: float = 0.0,
    label: int = 1,
    delta: float = 1.0,
    from_logits: bool = False,
    fig=None,
):
    """The explorer's view: the loss (left) and its slope (right) along the path of ``name``."""
    import matplotlib.pyplot as plt

    x, loss, slope, xlabel = loss_curve(name, target, label, delta, from_logits)
    if fig is None:
        fig = plt.figure(figsize=(8, 3))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(x, loss)
    ax1.set(
        xlabel=xlabel,
        ylabel="per-sample loss",
        title=f"{name}: at most {loss.max():.4g}",
    )
    finite = np.isfinite(slope)
    ax2.plot(x[finite], slope[finite], color="C1")
    ax2.set(
        xlabel=xlabel,
        ylabel="slope along the path",
        title=f"slope at sampled points: {slope[finite].min():.3g} to {slope[finite].max():.3g}",
    )
    ax2.axhline(0, color="0.6", lw=0.6)
    ax2.set_yscale("symlog", linthresh=1.0)  # slopes near a clipped probability reach 1e7
    fig.tight_layout()
    return fig


def loss_explorer(name: str = "huber"):
    """Live explorer: pick a loss, its target or label, Huber's δ and the logit form."""
    import ipywidgets as widgets

    loss = widgets.Dropdown(options=list(PATHS), value=name, description="loss")
    target = widgets.FloatSlider(
        value=0.0, min=-2.0, max=2.0, step=0.25, description="y_true", continuous_update=False
    )
    label = widgets.ToggleButtons(options=[0, 1], value=1, description="label")
    delta = widgets.FloatLogSlider(
        value=1.0, base=10, min=-1, max=1, step=0.1, description="Huber δ", continuous_update=False
    )
    logits = widgets.Checkbox(value=False, description="from_logits")

    show_explorer(
        plot_loss_view,
        [
            {"name": loss, "from_logits": logits},
            {"target": target, "delta": delta},
            {"label": label},
        ],
    )
