"""Execute notebooks in place, storing outputs and widget state (``make execute``).

Only notebooks whose code changed since their last execution are run, unless ``--force``.
The hash of the code cells is stored in the notebook metadata ``course.source_sha256``.
A notebook whose run prints to stderr or raises is not written, and the command fails.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from course.paths import ROOT

DEFAULT_GLOBS = ("chapters/[0-9][0-9]_*.ipynb", "solutions/[0-9][0-9]_*.ipynb")

# Outputs are stored and compared in exactly this environment (see FIELD_NOTES / README).
KERNEL_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "PYTHONHASHSEED": "0",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
}


# The kernel's own log (a warning that its local TCP sockets are unencrypted) goes to the
# terminal, never into a notebook; errors still show.
KERNEL_ARGS = ["--IPKernelApp.log_level=ERROR"]


def apply_kernel_env() -> None:
    """Set the variables kernels inherit; they must exist before the kernel's Python starts."""
    for key, value in KERNEL_ENV.items():
        os.environ[key] = value


def source_hash(nb) -> str:
    code = "\n\x00\n".join(c.source for c in nb.cells if c.cell_type == "code")
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def problems_in_outputs(nb) -> list[str]:
    """Errors and stderr in stored outputs: never acceptable in a published notebook."""
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                found.append(f"cell {i}: {out.ename}: {out.evalue}")
            elif out.output_type == "stream" and out.name == "stderr":
                found.append(f"cell {i}: stderr: {out.text[:200]!r}")
    return found


# Every notebook runs in under 60 s, so no cell needs more than this. The limit matters:
# nbclient sometimes waits for a finished widget cell's reply with the kernel idle (chapter
# 07's explorer, about one run in two; jupyter/nbclient#312, and hangs reported with
# ipykernel 7). The reply then arrives when the wait times out, or the cell fails and the
# notebook is run again from a fresh kernel; the default wait was ten minutes.
CELL_TIMEOUT = 120
ATTEMPTS = 3  # a notebook that hit such a lost reply is run again from a fresh kernel


def execute(path: Path, timeout: int = CELL_TIMEOUT) -> float:
    """Run one notebook in a fresh kernel in its own folder; write it back. Returns seconds."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=True,
        record_timing=False,
        allow_errors=False,
        extra_arguments=KERNEL_ARGS,
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    bad = problems_in_outputs(nb)
    if bad:
        raise RuntimeError(f"{path}: outputs contain errors or stderr:\n  " + "\n  ".join(bad))
    nb.metadata.setdefault("course", {})["source_sha256"] = source_hash(nb)
    nbformat.write(nb, path)
    return seconds


def _execute_with_retries(path: Path):
    """Execute ``path`` (printing the time), retrying a lost cell reply from a fresh kernel;
    returns None, or the error that stopped it."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    for attempt in range(1, ATTEMPTS + 1):
        try:
            seconds = execute(path)
        except (CellTimeoutError, DeadKernelError, AssertionError) as err:
            # AssertionError: nbclient's cleanup after a dead kernel
            print(f"retrying   {path}: {type(err).__name__} on attempt {attempt}", file=sys.stderr)
            last = err
        except Exception as err:  # an error in the notebook itself: no retry
            return err
        else:
            print(f"executed   {path}  ({seconds:.1f} s)")
            return None
    return last


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m course execute",
        description="Re-execute notebooks in place, storing their outputs; a notebook whose "
        "code cells are unchanged since its last execution is skipped.",
    )
    parser.add_argument(
        "notebooks",
        nargs="*",
        type=Path,
        help="notebooks to execute (default: chapters/ and solutions/)",
    )
    parser.add_argument("--force", action="store_true", help="execute unchanged notebooks too")
    args = parser.parse_args(argv)  # -h prints the help and exits: it never executes anything
    force, paths = args.force, args.notebooks
    if not paths:
        paths = [p for pattern in DEFAULT_GLOBS for p in sorted(ROOT.glob(pattern))]
    apply_kernel_env()
    failed = 0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if not force and nb.metadata.get("course", {}).get("source_sha256") == source_hash(nb):
            print(f"unchanged  {path}")
            continue
        error = _execute_with_retries(path)
        if error is not None:  # report every notebook, then fail
            failed += 1
            print(f"FAILED     {path}: {error}", file=sys.stderr)
    return 1 if failed else 0
