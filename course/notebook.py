"""The one call every chapter, solution and exercise notebook makes first."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import numpy as np

# The figure style, in matplotlib's own format (figures readable on a phone).
STYLE_FILE = Path(__file__).with_name("matplotlibrc")


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
    use_style()
    return np.random.default_rng(seed)


def use_style() -> None:
    """Apply course/matplotlibrc: now if matplotlib is loaded, else when it first is (it reads
    $MATPLOTLIBRC on import). A notebook without figures, such as most graded exercises, then
    never imports matplotlib (~0.08 s of every graded submission's CPU)."""
    if "matplotlib" in sys.modules:
        import matplotlib

        matplotlib.rc_file(STYLE_FILE, use_default_template=False)  # only the file's keys
    else:
        os.environ["MATPLOTLIBRC"] = str(STYLE_FILE)
