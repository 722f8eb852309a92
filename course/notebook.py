"""The one call every chapter, solution and exercise notebook makes first."""

from __future__ import annotations

import random

import numpy as np

# Readable figures at a size that keeps stored PNGs small (the site ships them).
STYLE = {
    "figure.figsize": (6.4, 3.8),
    "figure.dpi": 80,
    "savefig.dpi": 80,
    "font.size": 10,
    "axes.titlesize": 11,
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
