"""Shared test setup: the environment every kernel and TensorFlow import must see."""
import os
from pathlib import Path

from course.execute import KERNEL_ENV

# Before TensorFlow is imported anywhere in this process, and inherited by nbval's kernels.
os.environ.update(KERNEL_ENV)

ROOT = Path(__file__).resolve().parent.parent
