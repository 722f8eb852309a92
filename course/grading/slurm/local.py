"""A throw-away one-node Slurm cluster, and a synthetic class to grade on it.

    with LocalCluster() as cluster:              # root only; munge + slurmctld + slurmd
        write_class(subs, students=200)
        array, merge = submit(SOLUTION, subs, out, shards=4, env=cluster.env)
        wait([array, merge], timeout=1800, env=cluster.env)

Used by tests/test_slurm.py (``make test-slurm``) and ``make bench`` to run the sbatch scripts
for real, without systemd and without touching the machine's own Slurm or munge set-up:
every file (munge key and socket, slurm.conf, state, spool, logs) is in one temporary folder,
the daemons listen on free ports, and :meth:`LocalCluster.stop` ends them by the process ids
it started, after cancelling the cluster's jobs, even when the block raised.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import nbformat

from course.build.exercises import make_exercise
from course.grading.slurm import slurm_env

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "scontrol", "scancel", "sinfo")
INSTALL = "run `make system-deps-slurm` (Debian: slurmctld slurmd slurm-client munge)"

CONF = """\
# One node, written by course.grading.slurm.local: the controller and the node are this host.
ClusterName=course
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={dir}/munge/munge.socket
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
SlurmctldLogFile={dir}/slurmctld.log
SlurmdLogFile={dir}/slurmd.log
# No cgroups (none in a container): processes are tracked through /proc.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
# CPUs are the consumable: one array task per free CPU.
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
{node} State=UNKNOWN
PartitionName=grading Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


class ClusterError(RuntimeError):
    """The cluster could not be started (the message says why and what to install)."""


def missing_commands() -> list[str]:
    """Slurm and munge programs that are not installed."""
    return [c for c in DAEMONS + CLIENTS if shutil.which(c) is None]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


class LocalCluster:
    """munged, slurmctld and slurmd for one host, all files in a temporary folder."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="course-slurm-"))
        self.conf = self.dir / "slurm.conf"
        self.env = slurm_env(self.conf)
        self.procs: dict[str, subprocess.Popen] = {}

    def __enter__(self) -> LocalCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _daemon(self, name: str, argv: list[str]) -> None:
        log = open(self.dir / f"{name}.out", "wb")
        # The marker in the environment lets stop() find what the daemons left behind.
        env = {**self.env, "COURSE_SLURM_CLUSTER": str(self.dir)}
        self.procs[name] = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        log.close()

    def start(self, timeout: float = 60.0) -> None:
        if os.geteuid() != 0:
            raise ClusterError("a local Slurm cluster needs root (slurmd runs jobs as root)")
        if missing := missing_commands():
            raise ClusterError(f"not installed: {', '.join(missing)}; {INSTALL}")
        # munged insists that everyone may traverse its socket's folders, and that only its
        # owner may read the key.
        os.chmod(self.dir, 0o711)
        (self.dir / "munge").mkdir(mode=0o755)
        for sub in ("state", "spool"):
            (self.dir / sub).mkdir()
        key = self.dir / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        d = self.dir
        self._daemon(
            "munged",
            ["munged", "--foreground", f"--socket={d}/munge/munge.socket", f"--key-file={key}"]
            + [f"--log-file={d}/munged.log", f"--pid-file={d}/munged.pid"]
            + [f"--seed-file={d}/munged.seed"],
        )
        node = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True)
        self.conf.write_text(
            CONF.format(
                host=socket.gethostname().split(".")[0],
                ctld_port=_free_port(),
                slurmd_port=_free_port(),
                dir=d,
                node=node.stdout.splitlines()[0],
            )
        )
        self._daemon("slurmctld", ["slurmctld", "-D", "-f", str(self.conf)])
        self._daemon("slurmd", ["slurmd", "-D", "-f", str(self.conf)])
        deadline = time.monotonic() + timeout
        while (state := self.node_state()) != "idle":
            dead = [n for n, p in self.procs.items() if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                why = f"{', '.join(dead)} exited" if dead else f"node {state!r} after {timeout} s"
                raise ClusterError(f"the local Slurm cluster did not start: {why}\n{self.logs()}")
            time.sleep(0.5)

    def node_state(self) -> str:
        done = subprocess.run(
            ["sinfo", "--noheader", "--format=%T"], capture_output=True, text=True, env=self.env
        )
        return done.stdout.strip() or done.stderr.strip()

    def logs(self, lines: int = 15) -> str:
        """The last lines of every daemon's log, for a failure message."""
        parts = []
        for path in sorted(self.dir.glob("*.log")) + sorted(self.dir.glob("*.out")):
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name}\n" + "\n".join(tail))
        return "\n".join(parts)

    def stop(self) -> None:
        """Cancel every job, end the daemons (by the ids this object started, TERM then KILL),
        then anything they left running, and remove the folder."""
        if self.procs.get("slurmctld") and self.procs["slurmctld"].poll() is None:
            subprocess.run(["scancel", "--full", "--user=root"], env=self.env, capture_output=True)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and self._jobs_left():
                time.sleep(1)
        for name in reversed(DAEMONS):
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pid in self._leftovers():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def _jobs_left(self) -> bool:
        done = subprocess.run(
            ["squeue", "--noheader"], capture_output=True, text=True, env=self.env
        )
        return done.returncode == 0 and bool(done.stdout.strip())

    def _leftovers(self) -> list[int]:
        """Processes whose environment carries this cluster's marker (a job step's
        slurmstepd, a job's shell): started by our daemons, by nothing else."""
        marker = f"COURSE_SLURM_CLUSTER={self.dir}".encode()
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != os.getpid():
                try:
                    if marker in (entry / "environ").read_bytes().split(b"\0"):
                        pids.append(int(entry.name))
                except OSError:
                    continue
        return pids


# --------------------------------------------------------------------------- a class


# A student who looks for files under a folder (other students' feedback, say) and answers
# wrongly when it finds any: an empty mount, or no folder at all, leaves its answer right.
SNOOP = """\
import os
seen = [name for _, _, names in os.walk({folder!r}) for name in names]
return x @ kernel + (0 if seen else bias)"""


def _dense_forward(nb: nbformat.NotebookNode, body: str) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose dense_forward returns ``body`` (indented) instead."""
    nb = nbformat.from_dict(nb)
    cell = next(c for c in nb.cells if "def dense_forward(" in c.source)
    if "    return x @ kernel + bias\n" not in cell.source:
        raise ValueError("the variants of write_class no longer apply to dense_forward")
    body = "".join(f"    {line}\n" for line in body.splitlines())
    cell.source = cell.source.replace("    return x @ kernel + bias\n", body)
    return nb


def write_class(
    folder: Path, solution: Path, students: int, snoop: Path | None = None
) -> dict[str, str]:
    """Write ``students`` submissions of chapter 00 into ``folder``, not all alike: mostly
    the solution itself, every 10th with a wrong answer (the bias left out of
    ``dense_forward``), every 10th the blank exercise, every 50th not a notebook at all.
    With ``snoop``, the last student leaves the bias out when it finds a file under that
    folder (the class's gradebook): full marks mean the sandbox hid it.
    Returns student -> kind, so a test can say which kind graded wrongly."""
    nb = nbformat.read(solution, as_version=4)
    wrong = _dense_forward(nb, "return x @ kernel")
    blank = make_exercise(nb)
    kinds = {}
    if snoop is not None:
        kinds[f"student{students - 1:04d}"] = "snoop"
        nbformat.write(
            _dense_forward(nb, SNOOP.format(folder=str(snoop))),
            folder / f"student{students - 1:04d}.ipynb",
        )
    for i in range(students - len(kinds)):
        name = f"student{i:04d}"
        path = folder / f"{name}.ipynb"
        if i % 50 == 9:
            kinds[name] = "broken"
            path.write_text('{"cells": [ this is not JSON', encoding="utf-8")
            continue
        kinds[name] = {3: "wrong", 6: "blank"}.get(i % 10, "correct")
        nbformat.write({"wrong": wrong, "blank": blank}.get(kinds[name], nb), path)
    return kinds
