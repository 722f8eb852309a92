"""The course's data sets, all bundled with scikit-learn (nothing is downloaded).

Each chapter uses one of these, always with the same seeds, so that its stored outputs are
reproducible. The three digits variants differ on purpose, and the chapter that uses each
says why: chapter 04 compares optimizers on pixels in [0, 1] with a shuffled split;
chapter 05 standardises every pixel (deep stacks need zero-mean inputs) and takes the first
examples in order; chapter 08 keeps every class in proportion in a stratified split.
"""

from __future__ import annotations

import functools

import numpy as np


def moons(n_samples: int = 200, noise: float = 0.2, seed: int = 0):
    """Two interleaving half-moons (chapter 00): x (n, 2) float64, y (n, 1) float64 in {0, 1}."""
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=n_samples, noise=noise, random_state=seed)
    return x.astype(np.float64), y.reshape(-1, 1).astype(np.float64)


def noisy_moons(n_train: int = 100, n_val: int = 500, noise: float = 0.35):
    """Few, noisy training moons and a fresh validation set from the same distribution
    (chapters 06 and 07): (x_train, y_train, x_val, y_val), y of shape (n, 1) in {0., 1.}.

    A 2-64-64-1 network can memorise the 100 training points, which is the point.
    """
    from sklearn.datasets import make_moons

    x, y = make_moons(n_train, noise=noise, random_state=0)
    xv, yv = make_moons(n_val, noise=noise, random_state=1)
    return x, y[:, None].astype(float), xv, yv[:, None].astype(float)


def digits_split(seed: int = 0):
    """8×8 digits (chapter 04): (x_train, y_train, x_test, y_test), pixels scaled to [0, 1],
    integer labels 0–9; shuffled with ``seed``, then a fixed 1,437 / 360 split."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order] / 16.0, y[order]
    return x[:1437], y[:1437], x[1437:], y[1437:]


@functools.lru_cache(maxsize=1)
def _standardized_digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    std = X.std(axis=0)
    X = (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)  # two pixels are always 0
    return X, y


def digits_standardized(n: int | None = None):
    """8×8 digits standardised per pixel (chapter 05): X (n, 64) float64, y (n,) labels 0–9.

    n: the first n examples, in the data set's order (all 1,797 when None). Returns copies
    (safe to modify).
    """
    X, y = _standardized_digits()
    return X[:n].copy(), y[:n].copy()


def digits_stratified():
    """8×8 digits (chapter 08), pixels scaled to [0, 1]: (x_train, y_train, x_test, y_test);
    a seeded split, 1,347 / 450, stratified by class."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x / 16.0, y, test_size=0.25, random_state=0, stratify=y
    )
    return x_train, y_train, x_test, y_test
