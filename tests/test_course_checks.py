"""The course's own checking helpers must pass good input and fail bad input, loudly."""
import numpy as np
import pytest

import course


def test_parity_prints_the_evidence(capsys):
    course.parity([1.0, 2.0], [1.0, 2.0 + 1e-8], tol=1e-6, label="demo")
    assert capsys.readouterr().out == "demo: max |Δ| = 1.0e-08 ≤ 1e-06 ✓\n"


def test_parity_names_the_worst_index_and_values():
    with pytest.raises(AssertionError, match=r"max \|Δ\| = 5.0e-01 > 1e-06 ✗ at index \(1, 0\): actual=2.5, expected=2"):
        course.parity([[1.0], [2.5]], [[1.0], [2.0]], tol=1e-6)


def test_parity_reports_shape_mismatch():
    with pytest.raises(AssertionError, match=r"shape mismatch: actual has shape \(2,\), expected \(3,\)"):
        course.parity(np.zeros(2), np.zeros(3), tol=1)


def test_parity_rejects_nan():
    with pytest.raises(AssertionError, match="non-finite"):
        course.parity([np.nan], [0.0], tol=1)


def test_relative_error_is_scale_free_and_zero_safe():
    g = np.array([1.0, -2.0, 3.0])
    assert course.relative_error(g, g) == 0
    assert course.relative_error(1e-9 * g, -1e-9 * g) == pytest.approx(1.0)
    assert course.relative_error(np.zeros(3), np.zeros(3)) == 0


def test_numerical_gradient_of_a_quadratic():
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    x = np.array([0.5, -1.0])
    g = course.numerical_gradient(lambda v: 0.5 * v @ a @ v, x)
    np.testing.assert_allclose(g, a @ x, rtol=1e-8, atol=1e-8)
    np.testing.assert_array_equal(x, [0.5, -1.0])  # restored


def test_numerical_gradient_refuses_float32():
    with pytest.raises(TypeError, match="float64"):
        course.numerical_gradient(lambda v: v.sum(), np.zeros(2, dtype=np.float32))


def test_gradient_check_fails_loudly():
    with pytest.raises(AssertionError, match="relative error = 3.3e-01 > 1e-07"):
        course.gradient_check(np.array([1.0, 1.0]), np.array([2.0, 2.0]), tol=1e-7)


def test_setup_is_deterministic_without_keras():
    a = course.setup(seed=3, keras=False).normal(size=3), np.random.normal(size=3)
    b = course.setup(seed=3, keras=False).normal(size=3), np.random.normal(size=3)
    np.testing.assert_array_equal(a[0], b[0]) and np.testing.assert_array_equal(a[1], b[1])
