"""Where things are in the repository (every tool finds its files from here)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository
CHAPTERS = ROOT / "chapters"
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
LIBRARY = ROOT / "scratchnn"
SANITIZE = ROOT / "course" / "nbval_sanitize.cfg"
