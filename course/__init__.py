"""Tooling for "Neural Networks from Scratch to Keras".

In notebooks::

    import course
    rng = course.setup()                       # seed everything, style plots
    course.parity(numpy_out, keras_out, tol=1e-6, label="Dense forward")
    course.gradient_check(backprop_grad, numerical_grad, tol=1e-7)
    course.claim(final > 10 * first, f"diverges: ends at {course.varies(final)}")

On the command line: ``python -m course {export,execute,exercises,grade,merge}``.
"""

from course.checks import (
    claim,
    gradient_check,
    numerical_gradient,
    parity,
    relative_error,
    varies,
)
from course.notebook import setup

__all__ = [
    "setup",
    "parity",
    "relative_error",
    "numerical_gradient",
    "gradient_check",
    "claim",
    "varies",
]
