"""A big class on Slurm, for ``make bench``: the wall time of a 200-submission job array.

    from course.bench.slurm import bench_slurm
    for label, value in bench_slurm(): print(label, value)

Starts a one-node cluster (course.grading.slurm.local; root, ``make system-deps-slurm``),
writes the synthetic class of tests/test_slurm.py (chapter 00: mostly correct, some wrong,
blank or broken), submits the shipped sbatch scripts (an array of 4 shards of one CPU each,
then the merge job) and reports the time from submission until the merged gradebook is
written. Slurm runs as many shards at once as the node has CPUs, so on 2 CPUs this is
comparable with ``grade … --jobs 2`` on one machine (the grader rows above).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from course.grading import slurm
from course.grading.slurm.local import LocalCluster, write_class
from course.paths import ROOT, SOLUTIONS

SOLUTION = SOLUTIONS / "00_foundations.ipynb"
STUDENTS = 200
SHARDS = 4


def bench_slurm(students: int = STUDENTS, shards: int = SHARDS) -> list[tuple[str, str]]:
    """Rows of (label, value). Raises when a job fails or a student is missing."""
    work = Path(tempfile.mkdtemp(prefix="bench-slurm-"))
    try:
        subs, out = work / "subs", work / "out"
        subs.mkdir()
        write_class(subs, SOLUTION, students)
        with LocalCluster() as cluster:
            start = time.perf_counter()
            jobs = slurm.submit(
                SOLUTION,
                subs,
                out,
                shards,
                sbatch_options=(
                    "--cpus-per-task=1",
                    f"--chdir={ROOT}",
                    f"--output={work}/%x-%j.out",
                ),
                env=cluster.env,
            )
            slurm.wait(list(jobs), timeout=3600, env=cluster.env)
            seconds = time.perf_counter() - start
        graded = len((out / "grades.csv").read_text(encoding="utf-8").splitlines()) - 1
        if graded != students:
            raise RuntimeError(f"the merged gradebook has {graded} of {students} students")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    label = f"slurm: {students} submissions, array of {shards} shards x 1 CPU + merge"
    return [
        (f"{label}: wall time", f"{seconds:.0f} s"),
        (f"{label}: submissions/min", f"{60 * students / seconds:.1f}"),
    ]


if __name__ == "__main__":
    for label, value in bench_slurm():
        print(f"{label:<70} {value}")
