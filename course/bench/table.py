"""`make bench`: the course's speed budget as a table (COURSE_SPEC.md, "Budgets").

Measures, on this machine: installing requirements.txt into a fresh virtualenv (pip's
cache warm, as on any second install), executing each notebook in a fresh kernel, the
book build cold and with nothing changed, each stage of the test suite, the grader, a
200-submission class graded by a Slurm job array on a one-node cluster, and
chapter 04's row: the from-scratch MLP vs Keras `fit`, seconds per epoch and their ratio, and
chapter 09's: the digits CNN in NumPy vs Keras `fit` per epoch and the NumPy Conv2D's GFLOP/s.
Nothing here is asserted: budgets are read from the table, never from timed tests.
A stage that fails becomes a row that says so ("failed …"), and the next stage still runs;
the exit status is 1 when any row failed, after the whole table is printed.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from course.bench.convolution import bench_convolution
from course.bench.optimizers import bench_optimizers
from course.build.execute import DEFAULT_GLOBS, KERNEL_ARGS, ROOT, apply_kernel_env

BUDGETS = {"notebook": 60.0, "book cold": 60.0, "book cached": 30.0}


FAILED = "failed"


class StageFailed(Exception):
    """A measured command exited non-zero: the row reports it instead of a timing."""


def _timed(cmd: list[str], **kw) -> float:
    """Seconds ``cmd`` took; raises StageFailed (with the exit status) when it fails."""
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise StageFailed(f"exit status {done.returncode} after {seconds:.0f} s")
    return seconds


def _failure(err: Exception) -> str:
    """One line for the table: what failed, never a traceback."""
    if isinstance(err, StageFailed):
        return f"{FAILED} ({err})"
    first_line = (str(err).strip().splitlines() or [""])[0][:80]
    return (
        f"{FAILED} ({type(err).__name__}: {first_line})"
        if first_line
        else f"{FAILED} ({type(err).__name__})"
    )


def bench_install() -> tuple[str, str]:
    """requirements.txt into a fresh virtualenv, warm caches: with uv (what `make venv` uses)
    and with pip (the fallback, `make venv INSTALLER=pip`). One row; the budget is 60 s."""
    uv, budget = Path(sys.executable).parent / "uv", 60.0
    times = {}
    for tool in ["uv", "pip"]:
        with tempfile.TemporaryDirectory() as tmp:
            venv = Path(tmp) / "venv"
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            python, requirements = str(venv / "bin" / "python"), str(ROOT / "requirements.txt")
            if tool == "uv":
                # As `make venv`: with bytecode, which pip writes by default and uv does not.
                cmd = [str(uv), "pip", "install", "-q", "--compile-bytecode", "--python", python]
                cmd += ["-r", requirements]
            else:
                cmd = [python, "-m", "pip", "install", "-q", "-r", requirements]
            times[tool] = _timed(cmd)
    flag = "" if times["uv"] < budget else "  OVER BUDGET"
    value = f"uv {times['uv']:.0f} s, pip {times['pip']:.0f} s (budget {budget:.0f} s){flag}"
    return "install requirements.txt (fresh venv, warm cache)", value


def bench_notebooks() -> list[tuple[str, str]]:
    apply_kernel_env()
    rows = []
    for path in [p for pattern in DEFAULT_GLOBS for p in sorted(ROOT.glob(pattern))]:
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(
            nb,
            timeout=600,
            kernel_name="python3",
            extra_arguments=KERNEL_ARGS,
            resources={"metadata": {"path": str(path.parent)}},
        )
        label = f"execute {path.relative_to(ROOT)}"
        start = time.perf_counter()
        try:
            client.execute()
        except Exception as err:  # a broken notebook is a row, not the end of the benchmark
            rows.append((label, _failure(err)))
            continue
        seconds = time.perf_counter() - start
        flag = "" if seconds < BUDGETS["notebook"] else "  OVER BUDGET"
        rows.append((label, f"{seconds:.1f} s (budget 60 s){flag}"))
    return rows


def bench_book() -> list[tuple[str, str]]:
    jb = str(Path(sys.executable).parent / "jupyter-book")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [jb, "build", str(ROOT), "--path-output", tmp, "--warningiserror", "--quiet"]
        cold = _timed(cmd, cwd=ROOT)
        cached = _timed(cmd, cwd=ROOT)
    return [
        ("book build, cold", f"{cold:.1f} s (budget 60 s)"),
        ("book build, nothing changed", f"{cached:.1f} s (budget 30 s)"),
    ]


def bench_tests() -> list[tuple[str, str]]:
    rows = []
    for target in ("test-unit", "test-notebooks", "test-portable", "test-site"):
        try:
            seconds = _timed(["make", "--no-print-directory", target], cwd=ROOT)
        except StageFailed as err:
            rows.append((f"make {target}", _failure(err)))
            continue
        rows.append((f"make {target}", f"{seconds:.0f} s"))
    return rows


def bench_grader() -> list[tuple[str, str]]:
    try:
        from course.bench.grading import bench_grading
    except ImportError:
        return [("grader", "not available")]
    return [(f"grader: {label}", value) for label, value in bench_grading()]


def bench_slurm() -> list[tuple[str, str]]:
    from course.bench.slurm import bench_slurm as run

    return run()


def print_table(rows: list[tuple[str, str]]) -> None:
    width = max(len(label) for label, _ in rows)
    print(f"\n{'measurement':<{width}}  result")
    print(f"{'-' * width}  {'-' * 30}")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


STAGES = {
    "install": lambda: [bench_install()],
    "notebooks": lambda: bench_notebooks(),
    "optimizers (chapter 04)": lambda: bench_optimizers(),
    "convolution (chapter 09)": lambda: bench_convolution(),
    "book": lambda: bench_book(),
    "tests": lambda: bench_tests(),
    "grader": lambda: bench_grader(),
    "slurm (200 submissions)": lambda: bench_slurm(),
}


def run_stages(stages: dict) -> list[tuple[str, str]]:
    """Run every stage in order; a stage that raises becomes one "failed" row."""
    rows: list[tuple[str, str]] = []
    for name, stage in stages.items():
        try:
            new = stage()
        except Exception as err:  # keep going: the rows after a failure are still worth having
            new = [(name, _failure(err))]
        rows += new
        for label, value in new:
            print(f"  {label}: {value}", flush=True)
    return rows


def main() -> int:
    rows = run_stages(STAGES)
    print_table(rows)
    return 1 if any(value.startswith(FAILED) for _, value in rows) else 0
