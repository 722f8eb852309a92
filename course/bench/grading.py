"""Grading throughput and memory, for ``make bench``: the course's grader beside nbgrader's.

    from course.bench.grading import bench_grading
    for label, value in bench_grading(): print(label, value)

Grades 20 copies of a correct submission (the chapter 00 solution) with ``--jobs 1`` and
``--jobs 2``, and the same 20 with ``nbgrader autograde`` (0.9.6, in ``.venv-nbgrader``: ``make
venv-nbgrader``; serial, no sandbox), and reports seconds per submission, submissions per minute,
the throughput per core of each and their ratio, CPU seconds per submission (of the driver and
kernel, and of everything: the grader and its fork server too, started once per batch), and the
peak resident memory of one grading driver (pytest and nbval) and of one kernel. Wall-clock
figures: the load average beside them says whether the machine was shared. Fails loudly if a
correct copy loses points.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import nbformat

from course.grading import driver, grade, nbgrader, sandbox
from course.paths import ROOT, SOLUTIONS

SOLUTION = SOLUTIONS / "00_foundations.ipynb"
COPIES = 20
NBGRADER_VENV = ROOT / ".venv-nbgrader"


def _grade(subs: Path, out: Path, jobs: int) -> tuple[float, float, list[grade.StudentResult]]:
    """Wall seconds, CPU seconds of the whole grader (this process, the fork server, every
    driver and kernel with its sandbox), and the results."""
    opts = grade.Options(jobs=jobs, cell_timeout=30, timeout=120)
    server = driver.server()
    own, served = resource.getrusage(resource.RUSAGE_SELF), server.cpu_seconds()
    start = time.perf_counter()
    results = grade.grade_batch(SOLUTION, subs, out, opts, log=lambda *a: None)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - own.ru_utime - own.ru_stime
    cpu += server.cpu_seconds() - served
    cpu += sum(sum(r.cpu_seconds.values()) for r in results)
    return seconds, cpu, results


def _nbgrader(work: Path, copies: int) -> tuple[float, float]:
    """Wall and CPU seconds ``nbgrader autograde`` takes for ``copies`` solved copies of
    chapter 00."""
    course = work / "nbgrader"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # nbgrader's venv first (it runs `alembic` by name); only the course's nbgrader_config.py.
    env.update(PATH=f"{NBGRADER_VENV / 'bin'}:{env['PATH']}", JUPYTER_CONFIG_DIR=str(work / "jc"))

    def run(*args: str) -> None:
        subprocess.run(
            [str(NBGRADER_VENV / "bin" / "nbgrader"), *args],
            cwd=course,
            env=env,
            check=True,
            capture_output=True,
            timeout=900,
        )

    with contextlib.redirect_stdout(io.StringIO()):  # its "wrote ..." lines
        converted = nbgrader.main([str(course), str(SOLUTION)])
    if converted != 0:
        raise RuntimeError("python -m course nbgrader failed")
    assignment = nbgrader.assignment_name(SOLUTION)
    run("generate_assignment", assignment)
    # The released copy with the solution cells answered, as a student hands it in.
    source = nbformat.read(course / "source" / assignment / SOLUTION.name, as_version=4)
    answers = {c.metadata.nbgrader.grade_id: c.source for c in source.cells}
    solved = nbformat.read(course / "release" / assignment / SOLUTION.name, as_version=4)
    for cell in solved.cells:
        if cell.metadata.nbgrader.get("solution"):
            cell.source = answers[cell.metadata.nbgrader.grade_id]
    for i in range(copies):
        folder = course / "submitted" / f"student{i:02d}" / assignment
        folder.mkdir(parents=True)
        nbformat.write(solved, folder / SOLUTION.name)
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run("autograde", assignment)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # nbgrader and the kernels it reaped
    cpu_s = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
    run("export")
    with open(course / "grades.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    full = sum(float(r["score"]) == float(r["max_score"]) for r in rows)
    if full != copies:
        raise RuntimeError(f"nbgrader: only {full}/{copies} correct copies got full marks")
    return seconds, cpu_s


def _throughput(label: str, copies: int, seconds: float) -> list[tuple[str, str]]:
    return [
        (f"{label}: s/submission", f"{seconds / copies:.2f}"),
        (f"{label}: submissions/min", f"{60 * copies / seconds:.1f}"),
    ]


def bench_grading(copies: int = COPIES) -> list[tuple[str, str]]:
    """Rows of (label, value). Fails loudly if a correct copy does not get full marks."""
    rows = [
        ("grading sandbox", sandbox.probe()[0]),
        (
            f"load average (1 min) before grading, {os.cpu_count()} CPUs",
            f"{os.getloadavg()[0]:.1f}",
        ),
    ]
    work = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    try:
        subs = work / "subs"
        subs.mkdir()
        for i in range(copies):
            shutil.copyfile(SOLUTION, subs / f"student{i:02d}.ipynb")
        nbg = None
        if (NBGRADER_VENV / "bin" / "nbgrader").is_file():
            nbg, nbg_cpu = _nbgrader(work, copies)
            rows += _throughput(f"nbgrader autograde, {copies} submissions", copies, nbg)
        else:
            rows.append(
                ("nbgrader autograde", "not measured: no .venv-nbgrader (make venv-nbgrader)")
            )
        peak_pytest = peak_kernel = 0
        seconds = {}
        for jobs in (1, 2):
            seconds[jobs], cpu_total, results = _grade(subs, work / f"out{jobs}", jobs)
            full = sum(all(r.passed.values()) for r in results)
            if full != copies:
                raise RuntimeError(
                    f"only {full}/{copies} correct copies got full marks (--jobs {jobs})"
                )
            rows += _throughput(
                f"course grade, {copies} submissions, --jobs {jobs}", copies, seconds[jobs]
            )
            for r in results:
                peak_pytest = max(peak_pytest, r.peak_rss_kib.get("pytest", 0))
                peak_kernel = max(peak_kernel, r.peak_rss_kib.get("kernel", 0))
            if jobs == 1:  # the run that also started the fork server (once per batch)
                driven = sum(sum(r.cpu_seconds.values()) for r in results) / copies
                cpu = cpu_total / copies
        if nbg is not None:
            # Per core: nbgrader grades serially; --jobs 1 is one worker, --jobs 2 two.
            rows.append(
                ("per core, course --jobs 1 / nbgrader (target >= 1.5)", f"{nbg / seconds[1]:.2f}x")
            )
            rows.append(("per core, course --jobs 2 / nbgrader", f"{nbg / (2 * seconds[2]):.2f}x"))
        # CPU time hardly depends on what else the machine runs, unlike the wall-clock rows.
        rows.append(("CPU s/submission, course (driver + sandboxed kernel)", f"{driven:.2f}"))
        rows.append(("CPU s/submission, course (all: grader, fork server too)", f"{cpu:.2f}"))
        if nbg is not None:
            per = nbg_cpu / copies
            ratio = f"{per / cpu:.2f}x" if cpu else "n/a"
            rows.append(
                ("CPU s/submission, nbgrader (all; course's ratio)", f"{per:.2f} ({ratio})")
            )
        rows.append(("grading driver peak RSS: pytest + nbval (MiB)", f"{peak_pytest / 1024:.0f}"))
        rows.append(("grading worker peak RSS: kernel (MiB)", f"{peak_kernel / 1024:.0f}"))
        rows.append(("load average (1 min) after grading", f"{os.getloadavg()[0]:.1f}"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


if __name__ == "__main__":
    for label, value in bench_grading():
        print(f"{label:<60} {value}")
