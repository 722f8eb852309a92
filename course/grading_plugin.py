"""pytest plugin loaded (``-p course.grading_plugin``) inside the grading sandbox.

It does three things nbval 0.11 does not:

1. Reports each executed cell by its *notebook metadata* (cell id, ``grading.id``), not by
   nbval's cell numbering (0-based on the release, 1-based on nbval's main branch).
2. Fails a cell whose ``execute_reply`` says ``status: error`` even when no error reached the
   iopub channel. nbval only looks at iopub, so a student who replaces
   ``get_ipython().showtraceback`` (or the exception hooks) could make failing cells pass.
3. Writes results as JSON lines to a pipe the grader passed in (``COURSE_GRADING_FD``),
   one line per cell as soon as it finishes, so a run killed by the per-notebook timeout
   still reports the cells that ran. The kernel does not inherit that descriptor
   (jupyter_client starts kernels with ``close_fds``), and this process makes itself
   non-dumpable so code in the kernel, running as the same user, can neither ptrace it nor
   open its descriptors through ``/proc``.

Results are plain JSON; the grader never unpickles anything from the sandbox.
"""
from __future__ import annotations

import ctypes
import json
import os
import re
import sys

import pytest

# jsonschema (imported by nbformat, imported by nbval) optionally imports rfc3987_syntax,
# which compiles a grammar at import time: 3.3 s of a 5 s grading run. Only the "iri"
# format check depends on it, which notebooks do not use; None makes the import fail fast
# and jsonschema skips that check. This plugin is loaded before nbval for this reason.
sys.modules.setdefault("rfc3987_syntax", None)

MESSAGE_LIMIT = 4000  # characters of failure text kept per cell: enough for a traceback tail
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_PR_SET_DUMPABLE = 4

_out = None


def _make_non_dumpable() -> None:
    """prctl(PR_SET_DUMPABLE, 0): same-user processes lose ptrace and /proc/<pid>/fd access."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the sandbox is weaker, grading still works
        pass


def _emit(record: dict) -> None:
    if _out is not None:
        _out.write(json.dumps(record, ensure_ascii=True) + "\n")
        _out.flush()


def _patch_nbval_reply_status() -> None:
    """Remember the status of each execute_reply on the kernel object nbval uses."""
    from nbval import kernel as nbval_kernel

    original_get_message = nbval_kernel.RunningKernel.get_message

    def get_message(self, stream, timeout=None):
        msg = original_get_message(self, stream, timeout=timeout)
        if stream == "shell" and msg.get("msg_type") == "execute_reply":
            self.course_reply_status = msg.get("content", {}).get("status")
        return msg

    nbval_kernel.RunningKernel.get_message = get_message


def pytest_configure(config):
    global _out
    _make_non_dumpable()
    fd = os.environ.pop("COURSE_GRADING_FD", None)
    if fd is not None:
        _out = os.fdopen(int(fd), "w", encoding="ascii", closefd=True)
    _patch_nbval_reply_status()
    _emit({"event": "start"})


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
    if report.passed and status == "error":
        # The kernel itself said the cell failed; whatever it printed does not count.
        report.outcome = "failed"
        report.longrepr = ("The kernel reported an error for this cell although no traceback "
                           "was shown (error display suppressed?).")
    metadata = cell.get("metadata", {})
    grading = metadata.get("grading", {}) if isinstance(metadata.get("grading"), dict) else {}
    message = ""
    if report.failed:
        message = _ANSI.sub("", str(report.longrepr))[-MESSAGE_LIMIT:]
    _emit({
        "event": "cell",
        "cell_id": cell.get("id"),
        "grading_id": grading.get("id"),
        "outcome": report.outcome,
        "reply_status": status,
        "message": message,
    })


def pytest_sessionfinish(session, exitstatus):
    _emit({"event": "finish", "exitstatus": int(exitstatus)})
