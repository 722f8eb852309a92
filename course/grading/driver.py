"""The grading driver: pytest + nbval for one submission, outside the sandbox; the kernel inside.

Each submission is run by pytest with nbval and our plugin (course/grading/plugin.py): nbval
sends every cell to a Jupyter kernel and compares the hidden tests' printed results. Only the
kernel runs student code, so only the kernel runs in the student's sandbox (course/grading/
sandbox.py). The driver — pytest, nbval, jupyter_client — runs as the grader, outside it:

- **Warm, yet fresh per student.** The grader starts one *fork server* per batch
  (:func:`serve`) that imports pytest, nbval and jupyter_client once. Each submission is
  driven by a new child forked from it: a clean copy of that state (nothing of one student's
  run reaches the next), without paying ~0.3 s of CPU to import them again (a fresh pytest
  process in each sandbox did).
- **The hidden tests never enter the sandbox.** The rebuilt notebook is written into a folder
  only the grader can read; the kernel receives each cell as nbval sends it, as before.
- **Kernel and driver talk over Unix sockets** (ZeroMQ's ``ipc`` transport) in the student's
  work folder: the sandbox has no network, not even loopback shared with the grader.
- **Bounded and killable.** The child limits its own memory and CPU time (as the sandbox does
  the kernel's), makes itself non-dumpable, and is killed at the per-notebook timeout; the
  kernel's sandbox dies with it (bubblewrap's ``--die-with-parent``, and a parent-death signal
  for the other wrappers).

Student code cannot reach the driver: it runs in another PID namespace (or, without a sandbox,
as another user id when the grader is root), and what the kernel sends is parsed as JSON
messages, never unpickled.

    data, timed_out, exit_code = driver.run(Job(...), timeout=120)
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import resource
import select
import signal
import subprocess
import sys
import threading
import traceback
from dataclasses import dataclass

from course.paths import ROOT

RESULT_LIMIT = 1024 * 1024  # bytes of JSON read back per student; more means a grader bug


@dataclass(frozen=True)
class Job:
    """What one child needs to drive one submission (plain values: it crosses to the fork
    server as JSON).

    Paths are as the grader sees them; the kernel's own command sees the work folder where the
    sandbox mounts it."""

    pytest_args: list[str]  # nbval's options and the notebook, all in driver_dir
    driver_dir: str  # the grader's own folder: notebook, pytest.ini, log; never in the sandbox
    workdir: str  # the student's folder: the kernel's sockets and connection file
    kernel_argv: list[str]  # the sandbox wrapper and the kernel command
    kernel_env: dict[str, str]  # the kernel's whole environment
    connection_file: str  # in workdir
    owner: int | None  # user id the kernel runs as, when it differs from the grader's
    memory_bytes: int  # address space of the child (the kernel's own limit is in kernel_argv)
    cpu_seconds: int


def driver_env(job: Job) -> dict[str, str]:
    """The child's environment: none of the grader's variables, and pytest as grading runs it."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": job.driver_dir,
        "TMPDIR": job.driver_dir,
        "JUPYTER_RUNTIME_DIR": job.driver_dir,
        "JUPYTER_PLATFORM_DIRS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",  # only nbval and our plugin
        # nbval reads the notebook once: jsonschema validates it in ~0.01 s, fastjsonschema
        # (nbformat's default) first generates and compiles a validator, ~0.03 s.
        "NBFORMAT_VALIDATOR": "jsonschema",
        "LANG": "C.UTF-8",
    }


def _limit_self(job: Job) -> None:
    """The child's own rlimits: a flood of output from the kernel ends this student's run
    (MemoryError), never the grader; no core file holds the hidden tests. Soft limits only:
    the kernel's wrapper (prlimit) sets its own, which a lower hard limit here would forbid
    (even root cannot raise one in a container without CAP_SYS_RESOURCE)."""
    for which, value in (
        (resource.RLIMIT_AS, job.memory_bytes),
        (resource.RLIMIT_CPU, job.cpu_seconds),
        (resource.RLIMIT_CORE, 0),
    ):
        hard = resource.getrlimit(which)[1]
        resource.setrlimit(which, (value if hard < 0 else min(value, hard), hard))


def _preload() -> None:
    """What the fork server imports once, and each child inherits: pytest, nbval (without its
    coverage support) and jupyter_client. Only there: the grader itself needs none of them."""
    from course.grading import plugin  # first: it blocks jsonschema's unused imports

    plugin.stub_nbval_coverage()
    import nbval.plugin  # noqa: F401
    import pytest  # noqa: F401
    from jupyter_client.provisioning import KernelProvisionerFactory

    # It scans installed distributions' entry points on first use (~0.02 s per kernel start).
    KernelProvisionerFactory.instance()


def _child(job: Job) -> None:
    """Runs in the forked child: pytest + nbval on the rebuilt notebook, JSON lines to
    ``driver_dir/results.jsonl`` (flushed line by line: a child killed at the timeout has
    still reported the cells that ran)."""
    import nbval.plugin
    import pytest

    from course.grading import plugin

    _limit_self(job)
    plugin.make_non_dumpable()
    os.setsid()  # not in the grader's process group: a Ctrl-C goes to the grader only
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    log = os.open(os.path.join(job.driver_dir, "pytest.log"), flags, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    results = os.open(os.path.join(job.driver_dir, RESULTS), flags, 0o600)
    # Relative socket paths (the connection file's "ip") resolve here and, for the kernel, in
    # its own view of the same folder.
    os.chdir(job.workdir)
    os.environ.clear()
    os.environ.update(driver_env(job))
    os.environ["COURSE_GRADING_FD"] = str(results)
    plugin.KERNEL.update(
        argv=job.kernel_argv,
        env=job.kernel_env,
        connection_file=job.connection_file,
        owner=job.owner,
        cwd=job.workdir,
        log=os.path.join(job.driver_dir, "kernel.log"),
    )
    status = pytest.main(job.pytest_args, plugins=[plugin, nbval.plugin])
    # Everything is reported (each line was flushed, nbval stopped the kernel): skip the
    # interpreter's teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(status))


RESULTS = "results.jsonl"

# --------------------------------------------------------------------------- fork server
#
# One process per batch, started by the grader: ``python -m course.grading.driver``. It
# reads one JSON request per line on stdin and writes one JSON reply per line on stdout:
#
#   {"run": ID, "job": {...}}  -> fork a child driving that job
#   {"kill": ID}               -> SIGKILL that child if it still runs
#   (the child ends)                                                -> {"ended": ID, "exit": N}
#   {"ping": ID}               -> (imports done, serving)            -> {"ended": ID, "exit": 0}
#
# It alone reaps its children, so a kill never reaches a recycled process id. (multiprocessing's
# forkserver was tried first: each child re-runs the grader's main script, which breaks a
# grading script without an ``if __name__ == "__main__"`` guard.)


def _exit_code(status: int) -> int:
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def serve(requests, replies) -> None:
    """The fork server's loop (see above). ``requests``/``replies``: binary file objects."""
    _preload()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)  # a child's end interrupts the select below
    running: dict[int, str] = {}  # pid -> job id
    pending = b""

    def reply(message: dict) -> None:
        replies.write(json.dumps(message).encode() + b"\n")
        replies.flush()

    while True:
        ready, _, _ = select.select([requests, wake_r], [], [])
        if wake_r in ready:
            os.read(wake_r, 4096)
        while running:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            reply({"ended": running.pop(pid, None), "exit": _exit_code(status)})
        if requests not in ready:
            continue
        chunk = os.read(requests.fileno(), 65536)
        if not chunk:  # the grader is gone: so are we (the children end with their kernels)
            for pid in running:
                os.kill(pid, signal.SIGKILL)
            return
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            request = json.loads(line)
            if "run" in request:
                job = Job(**request["job"])
                pid = os.fork()
                if pid == 0:
                    try:
                        signal.set_wakeup_fd(-1)
                        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                        os.close(wake_r)
                        os.close(wake_w)  # stdin and stdout: _child replaces them
                        _child(job)
                    except BaseException:  # a grader bug: into the student's log, for the record
                        traceback.print_exc()
                        sys.stderr.flush()
                    finally:
                        os._exit(70)  # _child ends with os._exit; here only if it raised
                running[pid] = request["run"]
            elif "ping" in request:
                reply({"ended": request["ping"], "exit": 0})
            elif "kill" in request:
                for pid, job_id in running.items():
                    if job_id == request["kill"]:
                        os.kill(pid, signal.SIGKILL)


class ForkServer:
    """The grader's side of the fork server: start it, run jobs from any thread."""

    def __init__(self) -> None:
        # The course package this grader runs, whatever the virtualenv's own install points at.
        path = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
        self._process = subprocess.Popen(
            [sys.executable, "-P", "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self._lock = threading.Lock()
        self._dead = False
        self._ended: dict[str, int] = {}
        self._done: dict[str, threading.Event] = {}
        self._ids = itertools.count()
        threading.Thread(target=self._read_replies, daemon=True).start()

    def _read_replies(self) -> None:
        for line in self._process.stdout:
            message = json.loads(line)
            if "ended" in message:
                with self._lock:
                    self._ended[message["ended"]] = message["exit"]
                    event = self._done.get(message["ended"])
                if event is not None:
                    event.set()
        with self._lock:  # the server died: every job still waiting ends, abnormally
            self._dead = True  # before the process can be reaped: alive() says so at once
            self._process.stdout.close()
            for job_id, event in self._done.items():
                self._ended.setdefault(job_id, SERVER_DIED)
                event.set()

    def cpu_seconds(self) -> float:
        """CPU time of the fork server itself so far (not its children's), for the bench."""
        try:
            with open(f"/proc/{self._process.pid}/stat", encoding="ascii") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def alive(self) -> bool:
        return not self._dead and self._process.poll() is None

    def _send(self, message: dict) -> None:
        with self._lock:
            self._process.stdin.write(json.dumps(message).encode() + b"\n")
            self._process.stdin.flush()

    def _request(self, message: dict, timeout: float, kill_at_timeout: bool):
        """Send a request with a fresh id; (timed out, exit code) once its "ended" reply
        comes. At the timeout, kill the child and wait for its end, or give up (a ping)."""
        job_id = str(next(self._ids))
        done = threading.Event()
        with self._lock:
            self._done[job_id] = done
        try:
            self._send({key: job_id if value is None else value for key, value in message.items()})
            timed_out = not done.wait(timeout)
            if timed_out and kill_at_timeout:
                self._send({"kill": job_id})  # its kernel's sandbox dies with it
                done.wait()
        except OSError:  # the server's stdin is closed: it died
            timed_out = False
        with self._lock:
            self._done.pop(job_id)
            return timed_out, self._ended.pop(job_id, SERVER_DIED)

    def run(self, job: Job, timeout: float) -> tuple[bool, int]:
        """(timed out, exit code) of one job; the exit code is negative when a signal ended
        the child (-9: killed at the timeout), SERVER_DIED when the fork server did."""
        return self._request({"run": None, "job": dataclasses.asdict(job)}, timeout, True)

    def ping(self, timeout: float) -> bool:
        """True once the server has imported everything and answers."""
        timed_out, code = self._request({"ping": None}, timeout, False)
        return not timed_out and code == 0


SERVER_DIED = -1000
_server: ForkServer | None = None
_server_lock = threading.Lock()


def server() -> ForkServer:
    """The fork server of this grader process, started on first use (about a second) and
    restarted if it died."""
    global _server
    with _server_lock:
        if _server is None or not _server.alive():
            _server = ForkServer()
        return _server


def check() -> None:
    """Start the fork server and wait until it answers; RuntimeError if it cannot (its own
    error is on the grader's stderr)."""
    if not server().ping(timeout=120):
        raise RuntimeError("the grading driver's fork server did not start (see its error above)")


def read_results(driver_dir: str) -> bytes:
    """The plugin's JSON lines, at most RESULT_LIMIT bytes; b"" when there are none."""
    path = os.path.join(driver_dir, RESULTS)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return b""
    with os.fdopen(fd, "rb") as fh:
        return fh.read(RESULT_LIMIT)


def run(job: Job, timeout: float) -> tuple[bytes, bool, int]:
    """Drive one submission. Returns (the plugin's JSON lines, timed out, exit code)."""
    timed_out, code = server().run(job, timeout)
    return read_results(job.driver_dir), timed_out, code


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
