"""Chapter 04 helpers: the parity check for optimizer updates, the 2-D test surfaces and their
trajectories, the digits data the training experiments use, and the optimizer explorer (live widget + the static figure the site shows).

Nothing here imports Keras or TensorFlow; ``ipywidgets`` is imported only by the explorer.

    surface = SURFACES["rosenbrock"]
    path = trajectory(scratchnn.optimizers.Adam(0.05), surface, steps=500)
    plot_trajectories({"Adam": path}, surface)
    x_train, y_train, x_test, y_test = digits()
    optimizer_explorer()
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "allclose_parity",
    "SURFACES",
    "trajectory",
    "plot_trajectories",
    "plot_explorer_view",
    "optimizer_explorer",
    "digits",
    "OPTIMIZER_FACTORIES",
]

RTOL, ATOL = 1e-5, 1e-6  # CURRICULUM §04: np.allclose(ours, keras, rtol=1e-5, atol=1e-6)


def allclose_parity(actual, expected, label: str = "", rtol: float = RTOL, atol: float = ATOL,
                    quiet: bool = False) -> float:
    """Assert ``np.allclose(actual, expected, rtol, atol)`` for lists of arrays; print the evidence.

    actual, expected: matching lists (or single arrays) — e.g. our float64 parameters and Keras's
    float32 variables after the same steps. The assertion is element-wise
    (|Δ_i| ≤ atol + rtol·|expected_i|); the printed line shows the largest |Δ| and the loosest
    bound that check allowed, atol + rtol·max|expected| (``quiet=True``: no line). Returns the
    largest |Δ|.
    Raises AssertionError naming the array, the index and both values on failure.
    """
    if isinstance(actual, np.ndarray) or np.isscalar(actual):
        actual, expected = [actual], [expected]
    actual = [np.asarray(a.numpy() if hasattr(a, "numpy") else a, dtype=np.float64) for a in actual]
    expected = [np.asarray(e.numpy() if hasattr(e, "numpy") else e, dtype=np.float64) for e in expected]
    if len(actual) != len(expected):
        raise AssertionError(f"{label}: {len(actual)} arrays vs {len(expected)} expected")
    worst, bound = 0.0, atol
    for k, (a, e) in enumerate(zip(actual, expected)):
        if a.shape != e.shape:
            raise AssertionError(f"{label}: array {k} has shape {a.shape}, expected {e.shape}")
        diff = np.abs(a - e)
        allowed = atol + rtol * np.abs(e)
        if not np.all(diff <= allowed):
            i = tuple(int(j) for j in np.unravel_index(np.argmax(diff - allowed), diff.shape))
            raise AssertionError(
                f"{label}: not allclose(rtol={rtol:.0e}, atol={atol:.0e}) ✗ in array {k} at index {i}: "
                f"actual={a[i]:.8g}, expected={e[i]:.8g}, |Δ| = {diff[i]:.1e}")
        if diff.size:
            worst = max(worst, float(diff.max()))
            bound = max(bound, atol + rtol * float(np.abs(e).max()))
    if not quiet:
        print(f"{label}: max |Δ| = {worst:.1e} ≤ {bound:.0e} ✓")
    return worst


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
    "quadratic": Surface("elongated quadratic ½(x² + 25y²)", _quadratic, _quadratic_grad,
                         start=(-4.0, 1.0), minimum=(0.0, 0.0), xlim=(-4.5, 1.0), ylim=(-1.3, 1.3),
                         log_levels=False),
    # The banana-shaped valley of Rosenbrock (1960); minimum f(1, 1) = 0.
    "rosenbrock": Surface("Rosenbrock (1 − x)² + 100(y − x²)²", _rosenbrock, _rosenbrock_grad,
                          start=(-1.2, 1.0), minimum=(1.0, 1.0), xlim=(-1.6, 1.4), ylim=(-0.4, 1.6),
                          log_levels=True),
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
    for k, (label, path) in enumerate(paths.items()):
        ax.plot(path[:, 0], path[:, 1], "-", color=f"C{k}", lw=1.2, label=label)
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


def plot_explorer_view(optimizer: str, learning_rate: float, surface: str = "rosenbrock",
                       steps: int = 300, fig=None):
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


def optimizer_explorer(optimizer: str = "Adam", learning_rate: float = 0.05, surface: str = "rosenbrock",
                       steps: int = 300):
    """Live explorer: optimizer × learning rate × surface → trajectory and loss along it."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    opt = widgets.Dropdown(options=list(OPTIMIZER_FACTORIES), value=optimizer, description="optimizer")
    lr = widgets.FloatLogSlider(value=learning_rate, base=10, min=-4, max=0, step=0.25,
                                description="learning rate", continuous_update=False)
    surf = widgets.ToggleButtons(options=list(SURFACES), value=surface, description="surface")
    n = widgets.IntSlider(value=steps, min=10, max=2000, step=10, description="steps",
                          continuous_update=False)

    def draw(optimizer, learning_rate, surface, steps):
        plot_explorer_view(optimizer, learning_rate, surface, steps)
        plt.show()

    out = widgets.interactive_output(draw, {"optimizer": opt, "learning_rate": lr, "surface": surf, "steps": n})
    display(widgets.VBox([widgets.HBox([opt, lr]), widgets.HBox([surf, n]), out]))


# --------------------------------------------------------------------------- digits MLP

def digits(seed: int = 0):
    """sklearn's bundled 8×8 digits: (x_train, y_train, x_test, y_test), pixels scaled to [0, 1],
    integer labels 0–9; a fixed 1,437 / 360 split."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order] / 16.0, y[order]
    return x[:1437], y[:1437], x[1437:], y[1437:]
