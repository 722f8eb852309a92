"""`make bench`: the course's speed budget as a table (COURSE_SPEC.md, "Budgets").

Measures, on this machine: installing requirements.txt into a fresh virtualenv (pip's
cache warm, as on any second install), executing each notebook in a fresh kernel, the
book build cold and with nothing changed, each stage of the test suite, the grader, and
chapter 04's row: the from-scratch MLP vs Keras `fit`, seconds per epoch and their ratio.
Nothing here is asserted: budgets are read from the table, never from timed tests.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from course.bench_optimizers import bench_optimizers
from course.execute import DEFAULT_GLOBS, KERNEL_ARGS, ROOT, apply_kernel_env

BUDGETS = {"notebook": 60.0, "book cold": 60.0, "book cached": 30.0}


def _timed(cmd: list[str], **kw) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    return time.perf_counter() - start


def bench_install() -> tuple[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        seconds = _timed([str(venv / "bin" / "pip"), "install", "-q", "-r", str(ROOT / "requirements.txt")])
    return "install requirements.txt (fresh venv, warm pip cache)", f"{seconds:.0f} s"


def bench_notebooks() -> list[tuple[str, str]]:
    apply_kernel_env()
    rows = []
    for path in [p for pattern in DEFAULT_GLOBS for p in sorted(ROOT.glob(pattern))]:
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, timeout=600, kernel_name="python3", extra_arguments=KERNEL_ARGS,
                                resources={"metadata": {"path": str(path.parent)}})
        start = time.perf_counter()
        client.execute()
        seconds = time.perf_counter() - start
        flag = "" if seconds < BUDGETS["notebook"] else "  OVER BUDGET"
        rows.append((f"execute {path.relative_to(ROOT)}", f"{seconds:.1f} s (budget 60 s){flag}"))
    return rows


def bench_book() -> list[tuple[str, str]]:
    jb = str(Path(sys.executable).parent / "jupyter-book")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [jb, "build", str(ROOT), "--path-output", tmp, "--warningiserror", "--quiet"]
        cold = _timed(cmd, cwd=ROOT)
        cached = _timed(cmd, cwd=ROOT)
    return [("book build, cold", f"{cold:.1f} s (budget 60 s)"),
            ("book build, nothing changed", f"{cached:.1f} s (budget 30 s)")]


def bench_tests() -> list[tuple[str, str]]:
    rows = []
    for target in ("test-unit", "test-notebooks", "test-site"):
        seconds = _timed(["make", "--no-print-directory", target], cwd=ROOT)
        rows.append((f"make {target}", f"{seconds:.0f} s"))
    return rows


def bench_grader() -> list[tuple[str, str]]:
    try:
        from course.bench_grading import bench_grading
    except ImportError:
        return [("grader", "not available")]
    return [(f"grader: {label}", value) for label, value in bench_grading()]


def print_table(rows: list[tuple[str, str]]) -> None:
    width = max(len(label) for label, _ in rows)
    print(f"\n{'measurement':<{width}}  result")
    print(f"{'-' * width}  {'-' * 30}")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


def main() -> int:
    rows: list[tuple[str, str]] = []
    for stage in (lambda: [bench_install()], bench_notebooks, bench_optimizers, bench_book, bench_tests,
                  bench_grader):
        new = stage()
        rows += new
        for label, value in new:
            print(f"  {label}: {value}", flush=True)
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
