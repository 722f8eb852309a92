"""The course's own checking helpers must pass good input and fail bad input, loudly."""

import os

import numpy as np
import pytest

import course


def test_parity_prints_the_evidence(capsys):
    course.parity([1.0, 2.0], [1.0, 2.0 + 1e-8], tol=1e-6, label="demo")
    assert capsys.readouterr().out == "demo: max |Δ| = 1.0e-08 ≤ 1e-06 ✓\n"


def test_parity_names_the_worst_index_and_values():
    with pytest.raises(
        AssertionError,
        match=r"max \|Δ\| = 5.0e-01 > 1e-06 ✗ at index \(1, 0\): actual=2.5, expected=2",
    ):
        course.parity([[1.0], [2.5]], [[1.0], [2.0]], tol=1e-6)


def test_parity_reports_shape_mismatch():
    with pytest.raises(
        AssertionError, match=r"shape mismatch: actual has shape \(2,\), expected \(3,\)"
    ):
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


STYLE_CHECK = """
import sys, course
{first}
course.setup(keras=False)
loaded = "matplotlib" in sys.modules
import matplotlib
rc = matplotlib.rcParams
print(loaded, rc["figure.dpi"], rc["xtick.labelsize"], tuple(rc["figure.figsize"]), rc["axes.grid"])
"""


@pytest.mark.parametrize("first", ["", "import matplotlib.pyplot"])
def test_setup_styles_figures_and_imports_matplotlib_only_when_needed(first):
    """Before matplotlib is imported, setup leaves it unimported (a graded notebook without
    figures saves its import) and the style applies when it comes; after, at once."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", STYLE_CHECK.format(first=first)],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "MATPLOTLIBRC"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(bool(first)), "110.0", "9.0", "(6.4,", "3.8)", "True"]


def _sanitize(text: str) -> str:
    """Apply course/nbval_sanitize.cfg exactly as nbval does (its own parser, rules in order)."""
    import re
    from pathlib import Path

    from nbval.plugin import get_sanitize_patterns

    cfg = (Path(__file__).parents[1] / "course" / "nbval_sanitize.cfg").read_text("utf-8")
    for regex, replace in get_sanitize_patterns(cfg):
        text = re.sub(regex, replace, text)
    return text


def test_claim_prints_the_statement_and_asserts_it(capsys):
    course.claim(np.float64(3.0) > 1, "three exceeds one")
    assert capsys.readouterr().out == "✓ three exceeds one\n"
    with pytest.raises(AssertionError, match="✗ one exceeds three: the claim does not hold"):
        course.claim(1 > 3, "one exceeds three")


def test_varies_marks_the_figure_and_refuses_non_numbers():
    assert course.varies(62.2574, ".2f") == "62.26†"
    assert course.varies(7.71e19, ".1e") == "7.7e+19†"
    assert course.varies(0.907, ".1%") == "90.7%†"
    with pytest.raises(ValueError, match="plain number"):
        course.varies(1234.5, ",.1f")


def test_sanitizer_masks_only_figures_marked_as_varying():
    line = (
        f"η = 30: loss {course.varies(62.2574, '.2f')} (best 0.8210); "
        f"ratio {course.varies(-1.5e-3, '.1e')}"
    )
    other = (
        f"η = 30: loss {course.varies(4.3951, '.2f')} (best 0.8210); "
        f"ratio {course.varies(2e-4, '.0e')}"
    )
    assert (
        _sanitize(line)
        == _sanitize(other)
        == "η = 30: loss <varies>† (best 0.8210); ratio <varies>†"
    )
    # an unmarked figure is still compared: a change in it must show
    assert _sanitize("best 0.8210") != _sanitize("best 0.8211")
    assert _sanitize(f"best 0.8210, {course.varies(1.0)}") != _sanitize(
        f"best 0.8211, {course.varies(1.0)}"
    )
