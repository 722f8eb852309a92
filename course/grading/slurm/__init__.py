"""Grading a big class on a Slurm cluster: a job array of shards, then one merge job.

The instructor's interface is the two sbatch scripts beside this file and two commands
(book/for-instructors.md, "Grading a big class on Slurm"):

    jid=$(sbatch --parsable --array=1-N grade-shard.sbatch N SOLUTION SUBMISSIONS OUT)
    sbatch --dependency=afterok:$jid --kill-on-invalid-dep=yes merge-shards.sbatch N OUT

:func:`submit` runs exactly those two commands and :func:`wait` waits for the jobs, so the
test (tests/test_slurm.py) and ``make bench`` exercise what the documentation shows. There is
no ``python -m course slurm`` driver on purpose: an instructor adds their site's sbatch
options (partition, account, time limit) to those two lines, which a wrapper would hide.
:mod:`course.grading.slurm.local` starts a throw-away one-node cluster to try them on.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
GRADE_SCRIPT = HERE / "grade-shard.sbatch"
MERGE_SCRIPT = HERE / "merge-shards.sbatch"


# Job states of a job that has not ended yet (scontrol's JobState); any other state is final.
ACTIVE = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING"}
ACTIVE |= {"REQUEUE_HOLD", "REQUEUE_FED", "SIGNALING", "STAGE_OUT", "RESV_DEL_HOLD"}


class SlurmError(RuntimeError):
    """A job did not complete, or Slurm refused a command."""


def _sbatch(args: list[str], env: dict | None) -> str:
    done = subprocess.run(["sbatch", "--parsable", *args], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SlurmError(f"sbatch {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip().split(";")[0]  # "jobid" or "jobid;cluster"


def submit(
    solution: Path,
    submissions: Path,
    out: Path,
    shards: int,
    sbatch_options: tuple[str, ...] = (),
    grade_options: tuple[str, ...] = (),
    env: dict | None = None,
) -> tuple[str, str]:
    """Submit the array of ``shards`` grading tasks and the merge job that waits for all of
    them; returns (array job id, merge job id). ``sbatch_options`` go to both jobs (e.g.
    ``--output=…``, ``--partition=…``), ``grade_options`` to ``python -m course grade``."""
    n = str(shards)
    array = _sbatch(
        [
            f"--array=1-{shards}",
            *sbatch_options,
            str(GRADE_SCRIPT),
            n,
            str(solution),
            str(submissions),
            str(out),
            *grade_options,
        ],
        env,
    )
    merge = _sbatch(
        [
            f"--dependency=afterok:{array}",
            "--kill-on-invalid-dep=yes",
            *sbatch_options,
            str(MERGE_SCRIPT),
            n,
            str(out),
        ],
        env,
    )
    return array, merge


def job_states(job: str, env: dict | None = None) -> dict[str, str]:
    """Job (or array task) id -> state, e.g. {"12_1": "COMPLETED", …}; empty once Slurm has
    forgotten the job (MinJobAge, 300 s by default, after it ended)."""
    done = subprocess.run(
        ["scontrol", "--oneliner", "show", "job", job], capture_output=True, text=True, env=env
    )
    if done.returncode != 0:
        raise SlurmError(f"scontrol show job {job} failed: {done.stderr.strip()}")
    states = {}
    for line in done.stdout.splitlines():
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        task = fields.get("ArrayTaskId")
        name = f"{fields['ArrayJobId']}_{task}" if task else fields.get("JobId", "?")
        states[name] = fields.get("JobState", "?")
    return states


def wait(jobs: list[str], timeout: float, env: dict | None = None, poll: float = 2.0) -> None:
    """Wait until every job in ``jobs`` (array jobs included) has ended; raise SlurmError
    naming each job or task that did not complete, or on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        states = {k: v for job in jobs for k, v in job_states(job, env).items()}
        if states and not ACTIVE & set(states.values()):
            break
        if time.monotonic() > deadline:
            raise SlurmError(f"jobs still running after {timeout:.0f} s: {states}")
        time.sleep(poll)
    bad = {k: v for k, v in states.items() if v != "COMPLETED"}
    if bad:
        raise SlurmError(f"jobs did not complete: {bad}")


def slurm_env(conf: Path) -> dict:
    """The environment that points Slurm's commands at the cluster configured in ``conf``."""
    return {**os.environ, "SLURM_CONF": str(conf)}
