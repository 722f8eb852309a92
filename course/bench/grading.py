"""Grading throughput and memory, for ``make bench``.

    from course.bench.grading import bench_grading
    for label, value in bench_grading(): print(label, value)

Grades 20 copies of a correct submission (the solution notebook itself) with ``--jobs 1``
and ``--jobs 2`` and reports seconds per submission, submissions per minute, and the peak
resident memory of one grading worker (the sandboxed pytest process and its kernel).
Kernel start-up dominates; the notebooks import no TensorFlow.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from course.grading import grade, sandbox
from course.paths import SOLUTIONS

SOLUTION = SOLUTIONS / "00_foundations.ipynb"
COPIES = 20


def _grade(subs: Path, out: Path, jobs: int) -> tuple[float, list[grade.StudentResult]]:
    opts = grade.Options(jobs=jobs, cell_timeout=30, timeout=120)
    start = time.perf_counter()
    results = grade.grade_batch(SOLUTION, subs, out, opts, log=lambda *a: None)
    return time.perf_counter() - start, results


def bench_grading(copies: int = COPIES) -> list[tuple[str, str]]:
    """Rows of (label, value). Fails loudly if a correct copy does not get full marks."""
    rows = [("grading sandbox", sandbox.probe()[0])]
    work = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    try:
        subs = work / "subs"
        subs.mkdir()
        for i in range(copies):
            shutil.copyfile(SOLUTION, subs / f"student{i:02d}.ipynb")
        peak_pytest = peak_kernel = 0
        for jobs in (1, 2):
            seconds, results = _grade(subs, work / f"out{jobs}", jobs)
            full = sum(all(r.passed.values()) for r in results)
            if full != copies:
                raise RuntimeError(
                    f"only {full}/{copies} correct copies got full marks (--jobs {jobs})"
                )
            rows.append(
                (
                    f"grade {copies} submissions, --jobs {jobs}: s/submission",
                    f"{seconds / copies:.2f}",
                )
            )
            rows.append(
                (
                    f"grade {copies} submissions, --jobs {jobs}: submissions/min",
                    f"{60 * copies / seconds:.1f}",
                )
            )
            for r in results:
                peak_pytest = max(peak_pytest, r.peak_rss_kib.get("pytest", 0))
                peak_kernel = max(peak_kernel, r.peak_rss_kib.get("kernel", 0))
        rows.append(("grading worker peak RSS: pytest + nbval (MiB)", f"{peak_pytest / 1024:.0f}"))
        rows.append(("grading worker peak RSS: kernel (MiB)", f"{peak_kernel / 1024:.0f}"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


if __name__ == "__main__":
    for label, value in bench_grading():
        print(f"{label:<60} {value}")
