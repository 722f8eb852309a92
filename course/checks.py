"""Parity and gradient checks used by every chapter, test and exercise.

The printed form is part of the course: a reader sees
``max |Δ| = 2.4e-07 ≤ 1e-06 ✓`` under every comparison between NumPy and Keras.
"""

from __future__ import annotations

import re
from typing import Callable

import numpy as np

__all__ = [
    "parity",
    "relative_error",
    "numerical_gradient",
    "gradient_check",
    "claim",
    "varies",
    "check_activation",
    "loss_parity",
    "allclose_parity",
]

# Chapter 04's tolerance for optimizer updates: np.allclose(ours, keras, rtol=1e-5, atol=1e-6)
RTOL, ATOL = 1e-5, 1e-6

# Marks a figure that legitimately differs from machine to machine (see ``varies``).
VARIES = "†"


def _as_float64(name: str, value) -> np.ndarray:
    """Convert a NumPy/TensorFlow/Python value to a float64 array (tensors via ``.numpy()``)."""
    if hasattr(value, "numpy"):
        value = value.numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be array-like numbers, got {type(value).__name__}") from err


def _label(label: str) -> str:
    return f"{label}: " if label else ""


def parity(actual, expected, tol: float, label: str = "") -> None:
    """Assert that two arrays agree element-wise to within ``tol`` and print the evidence.

    actual, expected: arrays of the same shape (anything ``np.asarray`` accepts, or tensors).
    Prints ``label: max |Δ| = … ≤ tol ✓`` and returns None (so a notebook cell ending
    in a parity call shows only the rounded line); raises AssertionError naming the worst
    index and both values when the check fails.
    """
    a = _as_float64("actual", actual)
    e = _as_float64("expected", expected)
    if a.shape != e.shape:
        raise AssertionError(
            f"{_label(label)}shape mismatch: actual has shape {a.shape}, expected {e.shape}"
        )
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(e))):
        bad = np.argwhere(~(np.isfinite(a) & np.isfinite(e)))[0]
        idx = tuple(int(i) for i in bad)
        raise AssertionError(
            f"{_label(label)}non-finite value at index {idx}: actual={a[idx]!r}, "
            f"expected={e[idx]!r}"
        )
    diff = np.abs(a - e)
    worst = float(diff.max()) if diff.size else 0.0
    if worst > tol:
        idx = tuple(int(i) for i in np.unravel_index(np.argmax(diff), diff.shape))
        raise AssertionError(
            f"{_label(label)}max |Δ| = {worst:.1e} > {tol:.0e} ✗ at index {idx}: "
            f"actual={a[idx]:.6g}, expected={e[idx]:.6g}"
        )
    print(f"{_label(label)}max |Δ| = {worst:.1e} ≤ {tol:.0e} ✓")


def relative_error(g, g_hat) -> float:
    """‖g − ĝ‖ / (‖g‖ + ‖ĝ‖): 0 when equal, 1 when opposite; scale-free. 0 when both are 0."""
    g = _as_float64("g", g)
    g_hat = _as_float64("g_hat", g_hat)
    if g.shape != g_hat.shape:
        raise ValueError(f"gradients differ in shape: {g.shape} vs {g_hat.shape}")
    denom = np.linalg.norm(g) + np.linalg.norm(g_hat)
    return 0.0 if denom == 0 else float(np.linalg.norm(g - g_hat) / denom)


def numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6
) -> np.ndarray:
    """Centred finite differences of a scalar function, in float64.

    f: maps an array shaped like ``x`` to a scalar. x: float64 array, perturbed in place
    one entry at a time and restored. Returns ∂f/∂x with x's shape.
    The truncation error of the centred difference is O(eps²); eps in 1e-7…1e-5 balances it
    against float64 round-off (≈ 1e-16 / eps).
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise TypeError(
            "numerical_gradient needs a float64 NumPy array (float32 round-off swamps eps)"
        )
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        saved = x[i]
        x[i] = saved + eps
        f_plus = float(f(x))
        x[i] = saved - eps
        f_minus = float(f(x))
        x[i] = saved
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def gradient_check(analytic, numerical, tol: float = 1e-7, label: str = "") -> None:
    """Compare a hand-written gradient with a numerical one by relative error; print and assert.

    analytic, numerical: arrays of the same shape. Prints the rounded relative error;
    use ``relative_error`` for the number itself.
    A correct float64 backward pass typically gives 1e-10…1e-8; a bug gives 1e-2 or more.
    """
    err = relative_error(analytic, numerical)
    if not err <= tol:
        raise AssertionError(
            f"{_label(label)}relative error = {err:.1e} > {tol:.0e} ✗ "
            "(the backward pass disagrees with finite differences)"
        )
    print(f"{_label(label)}relative error = {err:.1e} ≤ {tol:.0e} ✓")


def varies(value: float, fmt: str = ".3g") -> str:
    """Format a figure that differs from machine to machine, followed by ``†``.

    Chaotic experiments (training near divergence, deep networks in their chaotic regime,
    argmax accuracies after hundreds of steps) amplify the last bits of the CPU's BLAS
    kernel into visible digits. Such figures are shown, marked ``†``, and not compared
    between machines (course/nbval_sanitize.cfg masks them); the claim the cell makes is
    checked instead, with ``claim``. ``f"{course.varies(62.257, '.2f')}"`` → ``'62.26†'``.
    """
    text = format(float(value), fmt)
    if not re.fullmatch(r"[-+]?(nan|inf|\d[\d.]*(e[-+]?\d+)?%?)", text):
        raise ValueError(f"varies() needs a plain number format, got {fmt!r} → {text!r}")
    return text + VARIES


def claim(holds, statement: str) -> None:
    """Assert the claim a cell makes and print it: ``✓ statement``.

    holds: the measured truth of the statement (a bool, or anything ``bool()`` accepts,
    such as a NumPy comparison). statement: what a reader should conclude, with its
    tolerance, e.g. ``"η = 30 averages more than 10× its starting loss"``; figures in it
    that vary between machines go through ``varies``. Raises AssertionError with ``✗``
    when the claim does not hold, so a changed experiment cannot silently contradict the
    prose.
    """
    if not bool(holds):
        raise AssertionError(f"✗ {statement}: the claim does not hold in this run")
    print(f"✓ {statement}")


# ------------------------------------------------------------------ chapter-specific forms


def check_activation(f, x, expected, tol: float, label: str = "") -> float:
    """Run ``f(x)`` with NumPy floating-point errors made fatal, then compare with ``expected``.

    Fails with an AssertionError (never a mere warning) when
    - an intermediate overflows, divides by zero or produces NaN (e.g. ``exp(100)`` in float32),
    - the output's dtype differs from the input's (float32 in, float32 out, as in Keras),
    - or ``course.parity`` finds a non-finite value or a difference larger than ``tol``.
    Returns the largest absolute difference.
    """
    x = np.asarray(x)
    name = f"{label}: " if label else ""
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        try:
            y = np.asarray(f(x))
        except FloatingPointError as err:
            raise AssertionError(
                f"{name}floating-point error ({err}) on {x.dtype} inputs in "
                f"[{x.min():.3g}, {x.max():.3g}]: an intermediate value left the {x.dtype} range. "
                "Hint: rearrange the formula so that exp() never sees a large positive argument."
            ) from None
    if y.dtype != x.dtype:
        raise AssertionError(f"{name}dtype changed: {x.dtype} in, {y.dtype} out")
    return parity(y, expected, tol, label)


def loss_parity(actual, expected, tol: float, label: str = "", relative: bool = False) -> None:
    """``course.parity`` for losses, whose correct answer can be NaN (Keras's CCE of an all-zero
    probability row) and whose gradients can be as large as 1/ε = 1e7.

    NaN must appear at exactly the same places in both (else AssertionError naming the first
    place); the finite entries are compared by ``parity``. relative=True compares
    Δ / max(1, |expected|): absolute below 1, relative above (float32 keeps ~7 digits of 1e7).
    """
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        raise AssertionError(
            f"{label}: shape mismatch: actual has shape {a.shape}, expected {e.shape}"
        )
    if not np.array_equal(np.isnan(a), np.isnan(e)):
        idx = tuple(int(i) for i in np.argwhere(np.isnan(a) != np.isnan(e))[0])
        raise AssertionError(
            f"{label}: NaN in one but not the other at index {idx}: "
            f"actual={a[idx]:.6g}, expected={e[idx]:.6g}"
        )
    keep = ~np.isnan(e)
    a, e = a[keep], e[keep]
    if relative:
        scale = np.maximum(1.0, np.abs(e))
        a, e = a / scale, e / scale
    parity(a, e, tol, label)


# --- one prediction moving along a path ------------------------------------------------------
# Each path maps a scalar x (what the plot's horizontal axis shows) to a batch of one
# prediction y_pred(x) and its derivative dy_pred/dx, so that the slope of the curve is the
# directional derivative  ∂L/∂y_pred · dy_pred/dx.


def allclose_parity(
    actual, expected, label: str = "", rtol: float = RTOL, atol: float = ATOL, quiet: bool = False
) -> float:
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
    expected = [
        np.asarray(e.numpy() if hasattr(e, "numpy") else e, dtype=np.float64) for e in expected
    ]
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
                f"{label}: not allclose(rtol={rtol:.0e}, atol={atol:.0e}) ✗ in array {k} "
                f"at index {i}: "
                f"actual={a[i]:.8g}, expected={e[i]:.8g}, |Δ| = {diff[i]:.1e}"
            )
        if diff.size:
            worst = max(worst, float(diff.max()))
            bound = max(bound, atol + rtol * float(np.abs(e).max()))
    if not quiet:
        print(f"{label}: max |Δ| = {worst:.1e} ≤ {bound:.0e} ✓")
    return worst
