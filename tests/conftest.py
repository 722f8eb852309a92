"""Shared test setup: the environment every kernel and TensorFlow import must see."""

import os

from course.build.execute import KERNEL_ENV
from course.paths import ROOT  # noqa: F401  (the tests import it from here)

# Before TensorFlow is imported anywhere in this process, and inherited by nbval's kernels.
os.environ.update(KERNEL_ENV)


def pytest_configure(config):
    # tests/test_slurm.py's marker (`make test-unit` deselects it); the others are in pyproject.
    config.addinivalue_line(
        "markers", "slurm: grades a class on a one-node Slurm cluster (run by `make test-slurm`)"
    )
