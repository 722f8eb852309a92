"""Chapter 04 helpers: the 2-D test surfaces and their trajectories, and the optimizer
explorer (live widget + the static figure the site shows). The parity check for optimizer
updates is ``course.checks.allclose_parity``; the digits data ``course.datasets.digits_split``.

Nothing here imports Keras or TensorFlow; ``ipywidgets`` is imported only by the explorer.

    surface = SURFACES["rosenbrock"]
    path = trajectory(scratchnn.optimizers.Adam(0.05), surface, steps=500)
    plot_trajectories({"Adam": path}, surface)
    optimizer_explorer()
"""

from __future__ import annotations

import numpy as np

from course.explorers.widgets import show_explorer

__all__ = [
    "SURFACES",
    "trajectory",
    "plot_trajectories",
    "plot_explorer_view",
    "optimizer_explorer",
    "OPTIMIZER_FACTORIES",
]


# --------------------------------------------------------------------------- 2-D surfaces


class Surface:
    """A 2-D loss surface f(w), w = (x, y), with its gradient, a start point and a plot window."""

    def __init__(self, name, f, grad, start, minimum, xlim, ylim, log_levels):
        self.name, self.f, self.grad = name, f, grad
        self.start, self.minimum = np.array(start, float), np.array(minimum, float)
        self.xlim, self.ylim, self.log_levels = xlim, ylim, log_levels


def _quadratic(w):
    return 0.5 * (w[..., 0] ** 2 + 25.0 * w[..., 1] ** 2)


def _quadratic_grad(w):
    return np.array([w[0], 25.0 * w[1]])


def _rosenbrock(w):
    return (1 - w[..., 0]) ** 2 + 100.0 * (w[..., 1] - w[..., 0] ** 2) ** 2


def _rosenbrock_grad(w):
    x, y = w
    return np.array([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)])


SURFACES = {
    # Curvatures 1 and 25: a condition number of 25, the valley of an ill-scaled problem.
    "quadratic": Surface(
        "elongated quadratic ½(x² + 25y²)",
        _quadratic,
        _quadratic_grad,
        start=(-4.0, 1.0),
        minimum=(0.0, 0.0),
        xlim=(-4.5, 1.5),  # momentum at 0.02 overshoots to x = 1.18
        ylim=(-1.3, 1.3),
        log_levels=False,
    ),
    # The banana-shaped valley of Rosenbrock (1960); minimum f(1, 1) = 0.
    "rosenbrock": Surface(
        "Rosenbrock (1 − x)² + 100(y − x²)²",
        _rosenbrock,
        _rosenbrock_grad,
        start=(-1.2, 1.0),
        minimum=(1.0, 1.0),
        xlim=(-1.6, 1.4),
        ylim=(-0.4, 1.6),
        log_levels=True,
    ),
}


def trajectory(optimizer, surface, steps: int, start=None) -> np.ndarray:
    """Run ``optimizer`` (a scratchnn optimizer) on ``surface`` from its start; return the path.

    Returns an array (steps + 1, 2): the point before each step and after the last. A run that
    leaves the plot window by a factor of 1e6 (divergence) is stopped and the rest filled with NaN.
    """
    w = np.array(surface.start if start is None else start, dtype=np.float64)
    path = np.full((steps + 1, 2), np.nan)
    path[0] = w
    for k in range(steps):
        optimizer.apply([surface.grad(w)], [w])
        if not np.all(np.isfinite(w)) or np.abs(w).max() > 1e6:
            break
        path[k + 1] = w
    return path


def _contours(ax, surface):
    x = np.linspace(*surface.xlim, 200)
    y = np.linspace(*surface.ylim, 200)
    gx, gy = np.meshgrid(x, y)
    z = surface.f(np.stack([gx, gy], axis=-1))
    if surface.log_levels:
        ax.contour(gx, gy, np.log10(z + 0.05), levels=12, colors="0.75", linewidths=0.7)
    else:
        ax.contour(gx, gy, z, levels=12, colors="0.75", linewidths=0.7)
    ax.plot(*surface.minimum, "k*", ms=10)
    ax.plot(*surface.start, "ko", ms=4)
    ax.set_xlim(surface.xlim)
    ax.set_ylim(surface.ylim)
    ax.set_xlabel("x")
    ax.set_ylabel("y")


def plot_trajectories(paths: dict, surface, ax=None, title: str | None = None):
    """Contours of ``surface`` with one line per optimizer; paths: label -> (steps + 1, 2)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.6))
    _contours(ax, surface)
    styles = ["-", "--", ":", "-.", "-", "--", ":", "-."]  # overlapping paths stay visible
    for k, (label, path) in enumerate(paths.items()):
        ax.plot(path[:, 0], path[:, 1], styles[k % 8], color=f"C{k}", lw=1.4, label=label)
    ax.set_title(title or surface.name, fontsize=10)
    return ax


# The optimizers of the chapter, by label: factory(learning_rate) -> scratchnn optimizer.
def _factories():
    from scratchnn import optimizers as O

    return {
        "SGD": lambda lr: O.SGD(lr),
        "momentum": lambda lr: O.SGD(lr, momentum=0.9),
        "Nesterov": lambda lr: O.SGD(lr, momentum=0.9, nesterov=True),
        "Adagrad": lambda lr: O.Adagrad(lr),
        "RMSprop": lambda lr: O.RMSprop(lr),
        "Adam": lambda lr: O.Adam(lr),
        "AdamW": lambda lr: O.AdamW(lr),
        "Nadam": lambda lr: O.Nadam(lr),
    }


OPTIMIZER_FACTORIES = _factories()


def plot_explorer_view(
    optimizer: str, learning_rate: float, surface: str = "rosenbrock", steps: int = 300, fig=None
):
    """The explorer's view: the trajectory on the surface (left) and f along it (right)."""
    import matplotlib.pyplot as plt

    surf = SURFACES[surface]
    path = trajectory(OPTIMIZER_FACTORIES[optimizer](learning_rate), surf, steps)
    if fig is None:
        fig = plt.figure(figsize=(8.5, 3.2))
    ax1, ax2 = fig.subplots(1, 2)
    plot_trajectories({optimizer: path}, surf, ax=ax1, title=f"{optimizer}, lr = {learning_rate:g}")
    with np.errstate(over="ignore", invalid="ignore"):
        values = surf.f(path)
    ax2.semilogy(np.arange(len(values)), np.maximum(values, 1e-16))
    ax2.set_xlabel("step")
    ax2.set_ylabel("f(w)")
    finite = values[np.isfinite(values)]
    verdict = "diverged" if np.isnan(values[-1]) else f"f = {finite[-1]:.2g} after {steps} steps"
    ax2.set_title(verdict)
    fig.tight_layout()
    return fig


def optimizer_explorer(
    optimizer: str = "Adam",
    learning_rate: float = 0.05,
    surface: str = "rosenbrock",
    steps: int = 300,
):
    """Live explorer: optimizer × learning rate × surface → trajectory and loss along it."""
    import ipywidgets as widgets

    opt = widgets.Dropdown(
        options=list(OPTIMIZER_FACTORIES), value=optimizer, description="optimizer"
    )
    lr = widgets.FloatLogSlider(
        value=learning_rate,
        base=10,
        min=-4,
        max=0,
        step=0.25,
        description="learning rate",
        continuous_update=False,
    )
    surf = widgets.ToggleButtons(options=list(SURFACES), value=surface, description="surface")
    n = widgets.IntSlider(
        value=steps, min=10, max=2000, step=10, description="steps", continuous_update=False
    )

    show_explorer(
        plot_explorer_view, [{"optimizer": opt, "learning_rate": lr}, {"surface": surf, "steps": n}]
    )
