"""Assertions for exercise test cells: failures that tell a student what to fix.

A visible test in ``solutions/`` and ``exercises/`` calls::

    course.testing.check_close("dense_forward(x, kernel, bias)", actual, expected,
                               tol=1e-10, hint="y = x @ kernel + bias")

On success it prints one line (``✓ dense_forward(x, kernel, bias): shape (2, 3), max |Δ| ≤ 1e-10``);
on failure it raises an AssertionError whose message names the expected and actual shapes or
values, the index of the worst element, and the hint.

A test that knows the usual mistakes passes them as ``slips``: a mapping from what the
student did (``"used the textbook ½λ‖w‖²"``) to the value that mistake returns. When the
wrong answer matches one, the message names that slip instead of the generic hint::

    check_close("l2_penalty(w, 0.1)", got, 0.1425, tol=1e-12,
                hint="Keras's L2 is l2 * sum(w**2)", slips={"used ½·l2·Σw²": 0.07125})
"""

from __future__ import annotations

import numpy as np

__all__ = ["check_close", "check_true", "fingerprint"]


def _as_array(name: str, value) -> np.ndarray:
    """A float64 array from ``value``, or an AssertionError a student can act on."""
    __tracebackhide__ = True
    if value is None:
        raise AssertionError(f"{name} returned None: did you forget a `return` statement?")
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise AssertionError(
            f"{name} returned a {type(value).__name__}, which is not an array of numbers"
        ) from err


def _hint(hint: str) -> str:
    return f"\nHint: {hint}" if hint else ""


def _slip(a: np.ndarray, slips, tol: float) -> str | None:
    """The first slip whose value ``a`` matches (same shape, within ``tol``), else None."""
    for description, value in (slips or {}).items():
        v = np.asarray(value, dtype=np.float64)
        if v.shape == a.shape and np.all(np.isfinite(a)) and np.all(np.abs(a - v) <= tol):
            return description
    return None


def check_close(name: str, actual, expected, tol: float = 1e-8, hint: str = "", slips=None) -> None:
    """Assert ``actual`` equals ``expected`` element-wise within ``tol``; print one ✓ line.

    name: what was called, e.g. ``"dense_forward(x, kernel, bias)"``.
    actual, expected: arrays (or scalars) that must have the same shape.
    Returns None (so a test cell ends without an ``Out[]``). The failure message says which
    shape or value was expected, what came back, the worst index, and ``hint``, or, when
    ``actual`` equals the value of one of ``slips`` ({what the student did: the value it
    gives}), that slip.
    """
    __tracebackhide__ = True  # IPython and pytest show the test's line, not this helper's
    a = _as_array(name, actual)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        slip = _slip(a, slips, tol)
        if slip is not None:
            hint = f"this is exactly what you get when you {slip}"
        raise AssertionError(f"{name}: expected shape {e.shape}, got shape {a.shape}{_hint(hint)}")
    if not np.all(np.isfinite(a)):
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        raise AssertionError(
            f"{name}: got a non-finite value {a[idx]} at index {idx} "
            f"(expected {e[idx]:.6g}){_hint(hint)}"
        )
    diff = np.abs(a - e)
    worst = float(diff.max()) if diff.size else 0.0
    if not worst <= tol:
        slip = _slip(a, slips, tol)
        if slip is not None:
            hint = f"this is exactly what you get when you {slip}"
        idx = tuple(int(i) for i in np.unravel_index(np.argmax(diff), diff.shape))
        raise AssertionError(
            f"{name}: wrong value at index {idx}: expected {e[idx]:.6g}, got {a[idx]:.6g} "
            f"(max |Δ| = {worst:.2g} > tolerance {tol:.0e}){_hint(hint)}"
        )
    print(f"✓ {name}: shape {a.shape}, max |Δ| ≤ {tol:.0e}")


def check_true(name: str, condition: bool, message: str, hint: str = "") -> None:
    """Assert a yes/no property (e.g. "updates the arrays in place"); print one ✓ line."""
    __tracebackhide__ = True
    if not condition:
        raise AssertionError(f"{name}: {message}{_hint(hint)}")
    print(f"✓ {name}")


def fingerprint(value) -> str:
    """A short, rounded description of an array for output-checked (hidden) test cells.

    Returns e.g. ``"shape (7, 2) sum 1.234567 sumsq 8.765432"``. Six decimals are far
    coarser than float64 round-off, so two correct implementations that add in a different
    order print the same line; ``+ 0.0`` turns a rounded -0.0 into 0.0 for the same reason.
    """
    a = np.asarray(value, dtype=np.float64)
    total = round(float(a.sum()), 6) + 0.0
    sumsq = round(float((a * a).sum()), 6) + 0.0
    return f"shape {a.shape} sum {total:.6f} sumsq {sumsq:.6f}"
