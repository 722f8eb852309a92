"""A class graded by a real Slurm job array gets the same gradebook as one machine gives it.

The tests marked ``slurm`` run in ``make test-slurm`` (as root, inside a PID namespace so
nothing outlives them), not in ``make test-unit``: they grade 200 submissions twice, which
takes minutes. The class test starts a one-node
cluster (munge, slurmctld, slurmd: course.grading.slurm.local), submits the shipped sbatch
scripts exactly as book/for-instructors.md shows (an array of 4 shards, then the merge job
with ``--dependency=afterok``), and compares the merged grades.csv and feedback with a
single-machine ``python -m course grade`` of the same class. One student of the class looks
for the class's gradebook files from inside the sandbox, which no shard may let it see.
Slurm missing is a failure, not a skip: CI installs it (``make system-deps-slurm``).
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import ROOT
from course.grading import slurm
from course.grading.slurm.local import INSTALL, LocalCluster, missing_commands, write_class

SOLUTION = ROOT / "solutions" / "00_foundations.ipynb"
STUDENTS = 200
SHARDS = 4
TIMEOUT_S = 3600  # 200 submissions at ~2.5 s per CPU take ~5 min on 2 CPUs; allow for load


def read_gradebook(folder: Path) -> tuple[list[str], dict[str, list[str]]]:
    """grades.csv as (header, student -> row)."""
    with open(folder / "grades.csv", newline="", encoding="utf-8") as fh:
        header, *rows = list(csv.reader(fh))
    return header, {row[0]: row for row in rows}


def gradebook_differences(merged: Path, reference: Path, students: set[str]) -> list[str]:
    """What differs between two gradebooks, row order aside (empty when they are equal),
    and which of ``students`` either one leaves out."""
    (head_m, rows_m), (head_r, rows_r) = read_gradebook(merged), read_gradebook(reference)
    problems = [] if head_m == head_r else [f"headers differ: {head_m} != {head_r}"]
    for name, rows in (("merged", rows_m), ("single-machine", rows_r)):
        if missing := sorted(students - rows.keys()):
            problems.append(f"{name} gradebook lacks {len(missing)} student(s): {missing[:5]}")
    for student in sorted(rows_m.keys() & rows_r.keys()):
        if rows_m[student] != rows_r[student]:
            problems.append(f"{student}: {rows_m[student]} != {rows_r[student]}")
    feedback_m = {p.name: p.read_text() for p in (merged / "feedback").glob("*.md")}
    feedback_r = {p.name: p.read_text() for p in (reference / "feedback").glob("*.md")}
    if feedback_m != feedback_r:
        differ = sorted(
            k
            for k in feedback_m.keys() | feedback_r.keys()
            if feedback_m.get(k) != feedback_r.get(k)
        )
        problems.append(f"feedback differs for {len(differ)} student(s): {differ[:5]}")
    return problems


def test_two_graders_on_one_node_never_share_a_student_user_id():
    """Array tasks that share a node are separate grader processes. As root, each grading slot
    runs student code as its own user id, whose process limit stops a fork bomb: two tasks
    sharing ids would let one task's fork bomb fail the other task's students (EAGAIN) and
    make the gradebook depend on which shards met on a node. Fast: `make test-unit` runs it."""
    code = "from course.grading import sandbox; print(*map(sandbox.sandbox_uid, range(4)))"
    a, b = (
        set(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout.split()
        )
        for _ in range(2)
    )
    assert len(a) == len(b) == 4 and not a & b, (a, b)


@pytest.mark.slurm
def test_slurm_is_installed_and_we_are_root():
    """Fails (never skips) where the cluster cannot start, saying what to install."""
    assert not missing_commands(), f"missing {missing_commands()}: {INSTALL}"
    assert slurm.GRADE_SCRIPT.is_file() and slurm.MERGE_SCRIPT.is_file()


@pytest.fixture
def class_folder():
    """A world-readable folder outside /tmp (the sandbox gives student code an empty /tmp of
    its own), as a class on a cluster's shared file system is: the snooping student could
    read it if the grader did not hide it."""
    folder = Path(tempfile.mkdtemp(prefix="course-slurm-class-", dir="/var/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slurm
def test_a_class_graded_by_a_slurm_array_equals_one_machine(class_folder):
    subs, out, reference, logs = (class_folder / d for d in ("subs", "out", "single", "logs"))
    subs.mkdir()
    logs.mkdir()
    kinds = write_class(subs, SOLUTION, STUDENTS, snoop=out)

    start = time.perf_counter()
    with LocalCluster() as cluster:  # first, so that a cluster that cannot start fails fast
        cluster_s = time.perf_counter() - start

        # One machine, while `out` does not exist yet (the snooping student finds nothing).
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "course", "grade", SOLUTION, subs, "--out", reference]
            + ["--jobs", "2"],
            capture_output=True,
            text=True,
        )
        single_s = time.perf_counter() - start
        assert done.returncode == 0, done.stderr

        start = time.perf_counter()
        array, merge = slurm.submit(
            SOLUTION,
            subs,
            out,
            SHARDS,
            # One CPU per task, so two of the four shards run side by side on two CPUs.
            sbatch_options=("--cpus-per-task=1", f"--chdir={ROOT}", f"--output={logs}/%x-%j.out"),
            env=cluster.env,
        )
        try:
            slurm.wait([array, merge], TIMEOUT_S, env=cluster.env)
        except slurm.SlurmError as err:
            job_logs = "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in logs.iterdir())
            pytest.fail(f"{err}\n{job_logs}\n{cluster.logs()}")
        slurm_s = time.perf_counter() - start
    print(
        f"\n{STUDENTS} submissions: Slurm array of {SHARDS} shards (1 CPU each) + merge "
        f"{slurm_s:.0f} s (cluster start {cluster_s:.0f} s); one machine --jobs 2 {single_s:.0f} s"
    )

    differences = gradebook_differences(out, reference, set(kinds))
    if differences:  # say why: the first differing student's log from each run
        first = next((d.split(":")[0] for d in differences if d.startswith("student")), None)
        logs_of = {run: sorted(run.glob(f"**/logs/{first}.log")) for run in (out, reference)}
        why = "".join(f"\n--- {p}\n{p.read_text()[-1500:]}" for ps in logs_of.values() for p in ps)
        pytest.fail("\n".join(differences[:10]) + why)
    # The class is not uniform, and each kind got what it deserves.
    _, rows = read_gradebook(out)
    totals = {kind: {rows[s][-3] for s, k in kinds.items() if k == kind} for kind in kinds.values()}
    # "snoop": full marks, so no shard's student code found a file of the class's gradebook
    # (the sbatch script grades against a copy of the solution in OUT, which hides all of OUT).
    assert totals == {
        "correct": {"21"},
        "wrong": {"19"},
        "blank": {"0"},
        "broken": {"0"},
        "snoop": {"21"},
    }
    assert all("invalid notebook" in rows[s][-1] for s, k in kinds.items() if k == "broken")
    assert len(list((out / "feedback").glob("*.md"))) == STUDENTS

    # The comparison notices a merge that lost a shard (here: the last one left out).
    partial = class_folder / "partial"
    shards = [str(out / f"shard-{k}") for k in range(1, SHARDS)]
    subprocess.run([sys.executable, "-m", "course", "merge", *shards, "--out", partial], check=True)
    lost = gradebook_differences(partial, reference, set(kinds))
    assert any(f"lacks {STUDENTS // SHARDS} student(s)" in p for p in lost), lost
