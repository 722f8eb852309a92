"""pytest plugin of the grading driver (course/grading/driver.py), beside nbval.

It does four things nbval 0.11 does not:

1. Reports each executed cell by its *notebook metadata* (cell id, ``grading.id``), not by
   nbval's cell numbering (0-based on the release, 1-based on nbval's main branch).
2. Passes a cell only when its ``execute_reply`` says ``status: ok``. nbval only looks at
   iopub, so a student who replaces ``get_ipython().showtraceback`` (or the exception
   hooks) could make failing cells pass, and a cell that timed out passes when a forked
   copy of the kernel publishes an "idle" status for it.
3. Writes results as JSON lines to a file descriptor the driver passed in
   (``COURSE_GRADING_FD``: a file only the grader can read), one line per cell as soon as it
   finishes, so a run killed by the per-notebook timeout still reports the cells that ran.
   The kernel does not inherit that descriptor (jupyter_client starts kernels with
   ``close_fds``).
4. Starts the kernel the driver was given (:data:`KERNEL`: the sandbox's command, the
   kernel's environment, Unix sockets in the student's work folder) instead of a kernel spec
   nbval looks up.

Results are plain JSON; the grader never unpickles anything from the driver.
It can also be loaded on its own (``-p course.grading.plugin -p nbval``): without
:data:`KERNEL` nbval starts the kernel it names.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import signal
import sys
import time
import types
from pathlib import Path

import pytest

# jsonschema (imported by nbformat, imported by nbval) optionally imports these modules for
# string "format" checks that the notebook schema never uses: rfc3987_syntax compiles a grammar
# at import (3.3 s of a 5 s grading run), and the others cost ~0.1 s of CPU together
# (rfc3986_validator's regular expressions, isoduration pulls in arrow). None makes each import
# fail fast and jsonschema skips that format. This module is imported before nbval for this.
UNUSED_FORMAT_MODULES = ("rfc3987_syntax", "rfc3986_validator", "rfc3339_validator", "isoduration")
for _name in UNUSED_FORMAT_MODULES:
    sys.modules.setdefault(_name, None)

MESSAGE_LIMIT = 4000  # characters of failure text kept per cell: enough for a traceback tail
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_PR_SET_DUMPABLE = 4

_out = None
# Set by the driver before pytest starts: argv (the sandbox wrapper and the kernel command),
# env, connection_file and cwd (in the student's work folder), owner (user id or None).
KERNEL: dict = {}
KERNEL_USAGE: dict = {}  # what the kernel's process tree used, noted before it is killed


def make_non_dumpable() -> None:
    """prctl(PR_SET_DUMPABLE, 0): same-user processes lose ptrace and /proc/<pid>/fd access."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the sandbox is weaker, grading still works
        pass


def _emit(record: dict) -> None:
    if _out is not None:
        _out.write(json.dumps(record, ensure_ascii=True) + "\n")
        _out.flush()


def _patch_nbval_await_reply() -> None:
    """Replace nbval's wait for a cell's execute_reply with one that (a) remembers the
    reply's status and (b) polls once a second whether the kernel is still alive, so a
    kernel killed by ``os._exit`` or a segfault is reported as such at once instead of
    after the whole cell timeout."""
    from queue import Empty

    from nbval import kernel as nbval_kernel

    def await_reply(self, msg_id, timeout=None):
        deadline = None if timeout is None else time.monotonic() + float(timeout)
        while True:
            wait = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
            try:
                msg = self.get_message(stream="shell", timeout=wait)
            except Empty:
                if not self.is_alive():
                    self.course_kernel_died = True
                    raise
                if deadline is not None and time.monotonic() >= deadline:
                    raise
                continue
            if msg["parent_header"].get("msg_id") == msg_id:
                if msg["content"]["status"] == "aborted":
                    raise RuntimeError("Kernel aborted execution request")
                self.course_reply_status = msg["content"].get("status")
                return

    def get_message(self, stream, timeout=None):
        # nbval's own pretty-prints every message for a debug log that is off (~0.03 s of CPU
        # per notebook); the same calls without it.
        if stream == "iopub":
            return self.kc.get_iopub_msg(timeout=timeout)
        if stream == "shell":
            return self.kc.get_shell_msg(timeout=timeout)
        raise ValueError(f"Invalid stream specified: {stream!r}")

    nbval_kernel.RunningKernel.await_reply = await_reply
    nbval_kernel.RunningKernel.get_message = get_message


class KernelExited(RuntimeError):
    """The kernel's process ended before it answered its first request."""


def _kernel_log(limit: int = 1500) -> str:
    """The end of the kernel's own output, as a message suffix ("" without one)."""
    try:
        with open(KERNEL["log"], "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - limit))
            tail = fh.read().decode("utf-8", errors="replace").strip()
    except (KeyError, OSError):
        return ""
    return f": {tail}" if tail else ""


def _sandboxed_kernel_manager(kernel_name: str):
    """A KernelManager for :data:`KERNEL`: its command (the sandbox wrapper, then the kernel
    reading the connection file where the sandbox mounts the work folder), ZeroMQ over Unix
    sockets named relative to the work folder (the sandbox has no network), and a connection
    file the kernel's own user may read (jupyter_client writes it mode 600)."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import KernelManager

    class GradingKernelSpecs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return KernelSpec(
                argv=list(KERNEL["argv"]),
                env={},
                display_name="Python 3 (course grading)",
                language="python",
                # nbval interrupts a cell at its timeout. A signal would reach the sandbox's
                # wrapper, not the kernel in it; the kernel interrupts itself on this message.
                interrupt_mode="message",
            )

    km = KernelManager(
        kernel_name=kernel_name,
        kernel_spec_manager=GradingKernelSpecs(),
        transport="ipc",
        ip="kernel",  # sockets kernel-1 ... kernel-5, relative to the work folder
        connection_file=KERNEL["connection_file"],
    )
    km.write_connection_file()
    if KERNEL.get("owner") is not None:
        os.chown(KERNEL["connection_file"], KERNEL["owner"], KERNEL["owner"])
    return km


def tree_usage(pid: int) -> tuple[float, int]:
    """CPU seconds (with reaped children's) of ``pid`` and every live process under it, and
    the largest peak resident memory among them (KiB), from /proc. For the bench: the
    kernel's numbers, which RUSAGE_CHILDREN no longer sees once its sandbox is killed."""
    tick = os.sysconf("SC_CLK_TCK")
    cpu, peak, todo = 0.0, 0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/stat", encoding="ascii", errors="replace") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()  # after the command's name
            cpu += sum(int(x) for x in fields[11:15]) / tick  # utime stime cutime cstime
            with open(f"/proc/{current}/status", encoding="ascii", errors="replace") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children", encoding="ascii") as fh:
                    todo += [int(child) for child in fh.read().split()]
        except (OSError, ValueError, IndexError):  # gone already
            continue
    return cpu, peak


def _patch_nbval_kernel_start_and_stop() -> None:
    """Start and stop the kernel without jupyter_client's fixed waits, ~0.3 s of idle wall
    time per submission: its wait_for_ready ends by waiting for 0.2 s of silence on IOPub, and
    its shutdown polls every 0.1 s until the killed kernel is gone."""
    from queue import Empty

    from jupyter_client.manager import KernelManager
    from nbval import kernel as nbval_kernel

    def start_once(startup_timeout, kernel_name, kwargs):
        # nbval's own with wait_for_ready's checks, less its final wait: ready once a
        # kernel_info request is answered on the shell channel and IOPub carries a message
        # (a SUB socket misses what is published before it is connected). nbval matches IOPub
        # messages to their request, so none left over from start-up can be misread.
        if KERNEL:
            km = _sandboxed_kernel_manager(kernel_name)
            # independent: no JPY_PARENT_PID. The kernel would compare it with its parent's
            # process id, which inside the sandbox's PID namespace never matches, and exit.
            kwargs.update(env=dict(KERNEL["env"]), cwd=KERNEL["cwd"], independent=True)
            # The wrapper's and the kernel's own output (bwrap's errors, a crash) goes to a
            # file of the driver's, quoted when the kernel does not start.
            log = open(KERNEL["log"], "ab")  # noqa: SIM115 (the kernel's, for its lifetime)
            kwargs.update(stdout=log, stderr=log)
        else:
            km = KernelManager(
                kernel_name=kernel_name, kernel_spec_manager=nbval_kernel.NbvalKernelspecManager()
            )
        km.start_kernel(**kwargs)
        kc = km.client()
        kc.start_channels()
        deadline = time.monotonic() + startup_timeout
        while True:
            kc.kernel_info()
            try:
                if kc.get_shell_msg(timeout=1)["msg_type"] == "kernel_info_reply":
                    kc.get_iopub_msg(timeout=0.2)
                    return km, kc
            except Empty:
                pass
            alive = km.is_alive()
            if not alive or time.monotonic() > deadline:
                process = getattr(km.provisioner, "process", None)
                code = None if process is None else process.poll()
                kc.stop_channels()
                km.shutdown_kernel(now=True)
                if alive:
                    raise RuntimeError(f"the kernel did not start within {startup_timeout} s")
                raise KernelExited(
                    f"the kernel exited before it started (exit status {code}){_kernel_log()}"
                )

    def start_new_kernel(startup_timeout=60, kernel_name="python", **kwargs):
        # No student code has run when a kernel exits before it answers: a failure of the
        # sandbox or the machine (seen once, exit status 1, in one of about ten runs of the
        # adversarial test class; cause not caught). It is tried once more before every cell
        # fails with it.
        for attempt in (1, 2):
            try:
                return start_once(startup_timeout, kernel_name, dict(kwargs))
            except KernelExited as err:
                if attempt == 2 or not KERNEL:
                    raise
                with open(KERNEL["log"], "a", encoding="utf-8") as log:
                    log.write(f"\ngrading: {err}; starting the kernel once more\n")
                time.sleep(0.5)

    nbval_stop = nbval_kernel.RunningKernel.stop

    def stop(self):
        # SIGKILL the kernel's process group (jupyter_client starts it in a session of its
        # own) and reap it at once; whatever else is left dies with the sandbox. First note
        # what the sandbox's processes used: no one this process waits for reaps them.
        process = getattr(self.km.provisioner, "process", None)
        if process is None:  # not jupyter_client's local provisioner
            return nbval_stop(self)
        KERNEL_USAGE.update(zip(("cpu_s", "maxrss_kib"), tree_usage(process.pid)))
        self.kc.stop_channels()
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            process.kill()
        process.wait()
        del self.km

    nbval_kernel.start_new_kernel = start_new_kernel
    nbval_kernel.RunningKernel.stop = stop


def pytest_configure(config):
    global _out
    make_non_dumpable()
    fd = os.environ.pop("COURSE_GRADING_FD", None)
    if fd is not None:
        _out = os.fdopen(int(fd), "w", encoding="ascii", closefd=True)
    _patch_nbval_await_reply()
    _patch_nbval_kernel_start_and_stop()
    _emit({"event": "start"})


def pytest_collection_finish(session):
    """nbval has read the rebuilt notebook: delete it before any student code runs. It lives
    in the driver's folder, outside the sandbox; without a sandbox (``--no-sandbox``, not as
    root) student code runs as the grader and could otherwise read every hidden test from it.
    (Each hidden test still reaches the student's kernel when it runs.)"""
    for path in {Path(str(item.fspath)) for item in session.items}:
        if path.suffix == ".ipynb":
            path.unlink(missing_ok=True)


def _cell_of(item):
    return getattr(item, "cell", None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    kernel = getattr(getattr(item, "parent", None), "kernel", None)
    if kernel is not None:
        kernel.course_reply_status = None
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    cell = _cell_of(item)
    if cell is None or call.when != "call":
        return
    kernel = getattr(item.parent, "kernel", None)
    status = getattr(kernel, "course_reply_status", None)
    if report.passed and status != "ok":
        # A cell passes only on the kernel's own "ok" reply. "error": the student suppressed
        # the traceback display. None: no reply before the cell timeout, yet nbval saw an
        # "idle" message (a forked copy of the kernel can send one) and would pass the cell.
        report.outcome = "failed"
        report.longrepr = (
            "Traceback:\nRuntimeError: the kernel reported an error for this cell although no "
            "traceback was shown"
            if status == "error"
            else "Traceback:\nTimeoutError: the cell did not finish within the cell time limit"
        )
    metadata = cell.get("metadata", {})
    grading = metadata.get("grading", {}) if isinstance(metadata.get("grading"), dict) else {}
    message = ""
    if report.failed:
        message = _ANSI.sub("", str(report.longrepr))[-MESSAGE_LIMIT:]
    _emit(
        {
            "event": "cell",
            "cell_id": cell.get("id"),
            "grading_id": grading.get("id"),
            "outcome": report.outcome,
            "reply_status": status,
            "kernel_died": bool(getattr(kernel, "course_kernel_died", False)),
            "message": message,
        }
    )


def pytest_sessionfinish(session, exitstatus):
    import resource

    # Peak resident memory (KiB on Linux) and CPU seconds of this pytest process and of the
    # kernel (noted by stop(), else its reaped children's): what one submission costs, for
    # `make bench`.
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    _emit(
        {
            "event": "finish",
            "exitstatus": int(exitstatus),
            "maxrss_pytest_kib": me.ru_maxrss,
            "maxrss_kernel_kib": KERNEL_USAGE.get("maxrss_kib", children.ru_maxrss),
            "cpu_pytest_s": me.ru_utime + me.ru_stime,
            "cpu_kernel_s": KERNEL_USAGE.get("cpu_s", children.ru_utime + children.ru_stime),
        }
    )


def _coverage_is_off(*_args, **_kwargs):
    raise RuntimeError("nbval's --nbval-cov is not available while grading")


def stub_nbval_coverage() -> None:
    """nbval imports coverage (~0.05 s of CPU) for --nbval-cov only, which grading never
    passes: its module for that is replaced by one that refuses to run. Before nbval."""
    cover = types.ModuleType("nbval.cover")
    cover.setup_coverage = cover.teardown_coverage = _coverage_is_off
    sys.modules.setdefault("nbval.cover", cover)
