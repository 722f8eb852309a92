"""The one call every chapter, solution and exercise notebook makes first."""

from __future__ import annotations

import random

import numpy as np

# Figures readable on a phone: 110 dpi and no text under 9 pt (a 6.4-inch figure is 704 px
# wide, which a phone shows at about its natural size). Code never sets a smaller fontsize.
STYLE = {
    "figure.figsize": (6.4, 3.8),
    "figure.dpi": 110,
    "savefig.dpi": 110,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.8,
    "legend.frameon": False,
    "image.cmap": "viridis",
}


def setup(seed: int = 0, *, keras: bool = True) -> np.random.Generator:
    """Seed everything, set NumPy print options and the matplotlib style.

    seed: seeds Python's ``random``, NumPy's global generator and, when ``keras`` is True,
    TensorFlow through ``keras.utils.set_random_seed``. Exercise notebooks pass
    ``keras=False`` so that they start without importing TensorFlow.
    Returns a ``np.random.Generator`` seeded with ``seed`` for the notebook's own draws.
    """
    random.seed(seed)
    np.random.seed(seed)
    if keras:
        import keras as _keras  # imported lazily: exercises never pay for TensorFlow

        _keras.utils.set_random_seed(seed)
    np.set_printoptions(precision=4, suppress=True, linewidth=100)
    import matplotlib

    matplotlib.rcParams.update(STYLE)
    return np.random.default_rng(seed)
