"""Grade a folder of student notebooks against a canonical solution notebook.

    python -m course grade SOLUTION.ipynb SUBMISSIONS_DIR --out OUT_DIR
           [--jobs N] [--cell-timeout S] [--timeout S] [--shard K/N]
    python -m course merge OUT_DIR_1 OUT_DIR_2 ... --out OUT_DIR

For each ``SUBMISSIONS_DIR/*.ipynb`` (student id = file stem):

1. **Rebuild** the notebook from the canonical one, taking from the submission only the
   cells that hold solution regions (matched by cell id, else by the functions they
   define). Edited, deleted or reordered tests therefore do not count, and hidden tests
   come back.
2. **Run** it with ``pytest --nbval-lax`` in a fresh kernel inside the sandbox
   (course/grading/sandbox.py), driven from outside it by a process forked from a warm fork
   server (course/grading/driver.py), with a per-cell timeout and a per-notebook timeout that
   kills the driver and the kernel's sandbox with it. Hidden tests print a rounded result
   under ``# NBVAL_CHECK_OUTPUT``, compared by nbval in the driver, outside the sandbox; the
   rebuilt notebook never enters the sandbox.
3. **Score** each graded cell (``metadata.grading = {id, points}``) from the JSON lines the
   plugin course/grading/plugin.py writes for the grader; never from nbval's cell numbers.

Output: ``OUT_DIR/grades.csv`` (``student,<test id>…,total,max,notes``; text cells that a
spreadsheet would read as a formula start with ``'``), ``OUT_DIR/feedback/<student>.md``,
``OUT_DIR/logs/<student>.log``, and ``OUT_DIR/run.json`` + ``OUT_DIR/grading.log`` (which
isolation graded the batch, with what limits). The exit status is 0 whenever the batch was
graded; 2 when the grader cannot run (bad arguments, missing folder, invalid canonical
notebook, or no sandbox can be built and ``--no-sandbox`` was not given).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import copy
import csv
import errno
import json
import os
import queue
import re
import shutil
import stat
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# jsonschema (under nbformat) optionally imports rfc3987_syntax, which compiles a grammar at
# import: ~3 s per process. It only serves the "iri" string format, which the notebook
# schema does not use; None makes that optional import fail fast (see plugin.py).
sys.modules.setdefault("rfc3987_syntax", None)

import nbformat  # noqa: E402  (after the line above, on purpose)

from course.build import answer_key  # noqa: E402
from course.grading import driver, sandbox  # noqa: E402
from course.paths import ROOT, SANITIZE  # noqa: E402
from course.build.exercises import defined_functions, is_solution_cell, is_test, stub_source  # noqa: E402
from course.build.execute import KERNEL_ENV  # noqa: E402

_NBVAL_MARKER = re.compile(r"^\s*#\s*NBVAL_\w+\s*$", re.M)


class GradingError(Exception):
    """The grader itself cannot run (as opposed to a submission that fails)."""


# --------------------------------------------------------------------------- canonical


@dataclass(frozen=True)
class GradedTest:
    id: str
    points: float
    hidden: bool
    cell_id: str


@dataclass
class Canonical:
    """The instructor's notebook, with what grading needs to know about its cells."""

    nb: nbformat.NotebookNode
    tests: list[GradedTest]
    solution_cells: dict[str, list[str]]  # cell id -> functions it defines
    # Names the notebook's own cells bind to the course's library (the answer key) or to
    # values computed from it; a student's solution cell must not use them.
    library_names: frozenset[str] = frozenset()
    imports_library: bool = True  # then the sandbox cannot hide the library

    @property
    def max_points(self) -> float:
        return sum(t.points for t in self.tests)


def load_canonical(path: Path) -> Canonical:
    """Read and check the solution notebook; GradingError if it cannot be graded against."""
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception as err:  # any unreadable file is the same failure for the instructor
        raise GradingError(f"cannot read canonical notebook {path}: {err}") from err
    tests, solutions, seen = [], {}, set()
    for cell in nb.cells:
        if is_test(cell):
            grading = cell.metadata.get("grading") or {}
            test_id, points = grading.get("id"), grading.get("points")
            if not test_id or not isinstance(points, (int, float)) or test_id in seen:
                raise GradingError(
                    f"{path}: test cell {cell.get('id')} needs a unique "
                    "metadata grading: {id, points}"
                )
            seen.add(test_id)
            hidden = "hidden-test" in cell.metadata.get("tags", [])
            tests.append(GradedTest(test_id, float(points), hidden, cell.id))
        elif is_solution_cell(cell):
            solutions[cell.id] = defined_functions(cell.source)
    if not tests:
        raise GradingError(f"{path}: no graded test cells (tag `test`, metadata grading)")
    own = [c.source for c in nb.cells if c.cell_type == "code" and c.id not in solutions]
    return Canonical(
        nb, tests, solutions, answer_key.library_names(own), answer_key.imports_library(own)
    )


# --------------------------------------------------------------------------- rebuild

# Outputs (figures) play no part in grading: they are dropped while the file is parsed, and
# only what is left (the code) is limited. A notebook of code is kilobytes.
MAX_CODE_BYTES = 10 * 1024**2
# The whole file, outputs included, is read into memory (about 3x its size at the peak):
# room for an honest notebook with a few hundred MB of plots, not for a disk-sized one.
MAX_FILE_BYTES = 512 * 1024**2
NOT_REGULAR = "not a regular file"


def _mb(n: int) -> str:
    return f"{n / 1024**2:g} MB"


def _open_regular(path: Path) -> tuple[int | None, str]:
    """(descriptor, "") for a regular file, else (None, why). Never follows a symlink (a
    link to the solution would otherwise be graded) and never blocks on a FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        return None, NOT_REGULAR if err.errno == errno.ELOOP else f"unreadable ({err.strerror})"
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None, NOT_REGULAR
    return fd, ""


def _drop_outputs(obj: dict) -> dict:
    """json object_hook: a cell loses its outputs and attachments as soon as it is parsed,
    so their memory is freed before the next cell is read."""
    if "cell_type" in obj:
        if "outputs" in obj:
            obj["outputs"] = []
        obj.pop("attachments", None)
    return obj


def read_submission(path: Path):
    """(notebook without outputs, "") or (None, why it cannot be graded)."""
    fd, why = _open_regular(path)
    if fd is None:
        return None, why
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        return None, f"invalid notebook: over {_mb(MAX_FILE_BYTES)} file, outputs included"
    try:
        raw = json.loads(data, object_hook=_drop_outputs)
    except UnicodeDecodeError:
        return None, "invalid notebook: not UTF-8 text"
    except json.JSONDecodeError as err:
        return None, f"invalid notebook: not valid JSON (line {err.lineno}, column {err.colno})"
    except RecursionError:
        return None, "invalid notebook: not valid JSON (nested too deeply)"
    del data
    code = json.dumps(raw, ensure_ascii=False)
    if len(code.encode("utf-8")) > MAX_CODE_BYTES:
        return None, f"invalid notebook: over {_mb(MAX_CODE_BYTES)} of code (outputs do not count)"
    try:
        nb = nbformat.reads(code, as_version=4)
    except Exception as err:  # valid JSON of the wrong shape: nbformat raises many types
        return None, f"invalid notebook: not a Jupyter notebook ({type(err).__name__})"
    if not isinstance(nb.get("cells"), list):
        return None, "invalid notebook: not a Jupyter notebook (no list of cells)"
    return nb, ""


def _code_cells(nb) -> list:
    return [
        c
        for c in nb.cells
        if isinstance(c, dict) and c.get("cell_type") == "code" and isinstance(c.get("source"), str)
    ]


def find_student_cell(cell_id: str, functions: list[str], student_cells: list):
    """The student's version of a canonical solution cell: same id, else one defining the
    same functions (ids vanish when a notebook is re-saved by an old tool)."""
    for cell in student_cells:
        if cell.get("id") == cell_id:
            return cell
    for cell in student_cells:
        if functions and set(functions) <= set(defined_functions(cell["source"])):
            return cell
    return None


def _clean_student_source(source: str) -> str:
    """Remove nbval markers: a student's cell must not change how nbval treats it."""
    return _NBVAL_MARKER.sub("", source)


LIBRARY_NOTE = "imports the course's library"
_STUB_RAISE = re.compile(r'raise NotImplementedError\("write (.*?) here"\)')


def library_stub(canonical_source: str) -> str:
    """The exercise stub of a cell, saying why it was not graded: the tests that use its
    functions (directly or through other cells) then fail as for an unanswered cell."""
    return _STUB_RAISE.sub(
        lambda m: (
            f'raise NotImplementedError("{m.group(1)} not graded: it {LIBRARY_NOTE} '
            f'({answer_key.LIBRARY}), which is the answer key")'
        ),
        stub_source(canonical_source),
    )


def edited_tests(canonical: Canonical, student_nb) -> bool:
    """True when a visible test cell's exact source is nowhere in the submission.

    Compared by source, not id, so a notebook whose ids were stripped is not flagged.
    """
    sources = {c["source"].strip() for c in _code_cells(student_nb)}
    visible = {t.cell_id for t in canonical.tests if not t.hidden}
    return any(c.source.strip() not in sources for c in canonical.nb.cells if c.id in visible)


def rebuild(canonical: Canonical, student_nb) -> tuple[nbformat.NotebookNode, list[str]]:
    """The notebook to run: canonical cells, the student's solution cells in their place.

    Returns (notebook, notes). A solution cell the student lacks becomes the exercise stub,
    so its tests fail with NotImplementedError rather than a confusing NameError.
    """
    nb = copy.deepcopy(canonical.nb)
    student_cells = _code_cells(student_nb)
    notes = []
    for cell in nb.cells:
        if cell.cell_type != "code" or cell.id not in canonical.solution_cells:
            continue
        functions = canonical.solution_cells[cell.id]
        mine = find_student_cell(cell.id, functions, student_cells)
        what = ", ".join(functions) or cell.id
        reasons = (
            [] if mine is None else answer_key.uses_library(mine["source"], canonical.library_names)
        )
        if mine is None:
            notes.append(f"no solution cell for {what}")
            cell.source = stub_source(cell.source)
        elif reasons:
            notes.append(f"{LIBRARY_NOTE} ({what}: {', '.join(reasons[:3])}), not graded")
            cell.source = library_stub(cell.source)
        else:
            cell.source = _clean_student_source(mine["source"])
        cell.outputs, cell.execution_count = [], None
    if edited_tests(canonical, student_nb):
        notes.append("tests edited (ignored: the canonical tests were run)")
    return nb, notes


# --------------------------------------------------------------------------- run one


@dataclass
class Options:
    jobs: int = 1
    cell_timeout: float = 30.0
    timeout: float = 120.0
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    hide: tuple[Path, ...] = ()
    slots: queue.Queue | None = None  # free grading slots (one user id each when root)
    no_sandbox: bool = False  # grade even when no sandbox can be built (at your risk)


@dataclass
class StudentResult:
    student: str
    passed: dict[str, bool]  # test id -> passed
    messages: dict[str, str]  # test id or cell id -> failure text
    notes: list[str]
    seconds: float = 0.0
    log: str = ""  # tail of pytest's output, for the instructor
    peak_rss_kib: dict[str, int] = field(default_factory=dict)  # "pytest"/"kernel" -> KiB
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # "pytest"/"kernel" -> s


def sandbox_env(job_dir: str) -> dict[str, str]:
    """The kernel's whole environment: no secrets of the grader's, quiet and single-threaded
    maths. ``job_dir``: the student's work folder as the kernel sees it."""
    venv_bin = str(Path(sandbox.python()).parent)
    env = {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": f"{job_dir}/home",
        "TMPDIR": f"{job_dir}/tmp",
        "IPYTHONDIR": f"{job_dir}/home/.ipython",
        "JUPYTER_RUNTIME_DIR": f"{job_dir}/home/runtime",
        "MPLCONFIGDIR": f"{job_dir}/home/mpl",
        "PYTHONDONTWRITEBYTECODE": "1",
        # The course package the grader itself runs (bound into the sandbox), even when the
        # virtualenv's editable install points elsewhere (a Gradescope zip, a checkout in /tmp).
        "PYTHONPATH": str(ROOT),
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MALLOC_ARENA_MAX": "2",  # keeps the address space under the rlimit
        "LANG": "C.UTF-8",
        "USER": "student",
        "LOGNAME": "student",  # the slot's user id has no passwd entry
    }
    env.update(KERNEL_ENV)
    return env


# pytest's own plugins that a grading run never uses: not registering them saves ~0.05 s of CPU
# per submission. unraisableexception and threadexception each run gc.collect() at exit;
# assertion would rewrite nothing (our plugin is not rewritten) yet still hook imports.
UNUSED_PYTEST_PLUGINS = (
    "cacheprovider",
    "assertion",
    "debugging",
    "doctest",
    "faulthandler",
    "junitxml",
    "logging",
    "monkeypatch",
    "pastebin",
    "recwarn",
    "setuponly",
    "setupplan",
    "subtests",
    "threadexception",
    "tmpdir",
    "unittest",
    "unraisableexception",
    "warnings",
)
GRADING_KERNEL = "course-grading"


def kernel_command(job_dir: str) -> list[str]:
    """The kernel, as the sandbox runs it: ipykernel without its debugger
    (course/grading/kernel.py) and without IPython's history database (no SQLite file per
    student), reading the connection file the driver writes into the work folder."""
    return [
        sandbox.python(),
        "-P",
        "-m",
        "course.grading.kernel",
        "-f",
        f"{job_dir}/kernel.json",
        "--HistoryManager.enabled=False",
    ]


def pytest_args(driver_dir: str, cell_timeout: float) -> list[str]:
    """pytest's arguments in the driver (course/grading/driver.py): nbval in lax mode on the
    rebuilt notebook, which lies in the driver's own folder."""
    blocked = [arg for name in UNUSED_PYTEST_PLUGINS for arg in ("-p", f"no:{name}")]
    return [
        "-q",
        "--tb=short",  # a kernel that cannot start fails every cell: 17 long tracebacks
        *blocked,
        "-c",
        f"{driver_dir}/pytest.ini",
        "--rootdir",
        driver_dir,
        "--nbval-lax",
        f"--nbval-kernel-name={GRADING_KERNEL}",
        f"--nbval-cell-timeout={cell_timeout:g}",
        "--nbval-kernel-startup-timeout=30",
        "--nbval-sanitize-with",
        str(SANITIZE),
        f"{driver_dir}/submission.ipynb",
    ]


def run_notebook(
    nb, job_folder: Path, opts: Options, slot: int | None = None
) -> tuple[list[dict], bool, int, Path]:
    """Run a rebuilt notebook: the driver (pytest + nbval) as the grader in
    ``job_folder/driver`` (mode 700: the hidden tests never enter the sandbox), the kernel in
    the sandbox as grading slot ``slot`` with ``job_folder/work`` writable.

    Returns (cell records, timed out, exit code, the driver's folder, which holds its log)."""
    driver_dir, workdir = job_folder / "driver", job_folder / "work"
    driver_dir.mkdir(mode=0o700)
    (workdir / "home").mkdir(parents=True)
    (workdir / "tmp").mkdir()
    (driver_dir / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    nbformat.write(nb, driver_dir / "submission.ipynb")
    sandbox.prepare_workdir(workdir, slot)
    job_dir = sandbox.job_dir(workdir)
    job = driver.Job(
        pytest_args=pytest_args(str(driver_dir), opts.cell_timeout),
        driver_dir=str(driver_dir),
        workdir=str(workdir),
        kernel_argv=sandbox.wrap(
            kernel_command(job_dir), workdir, list(opts.hide), opts.limits, slot
        ),
        kernel_env=sandbox_env(job_dir),
        connection_file=str(workdir / "kernel.json"),
        owner=sandbox.sandbox_uid(slot) if os.geteuid() == 0 else None,
        memory_bytes=opts.limits.memory_bytes,
        cpu_seconds=opts.limits.cpu_seconds,
    )
    data, timed_out, code = driver.run(job, opts.timeout)
    sandbox.reap(slot)  # what the student left running, gone before the slot's user id is reused
    return parse_records(data), timed_out, code, driver_dir


def log_tail(folder: Path, limit: int = 20000, name: str = "pytest.log") -> str:
    """The end of pytest's output (``folder/pytest.log``, or another file of the driver's).
    Opened the way submissions are opened: never through a link, never blocking on a FIFO."""
    fd, _ = _open_regular(folder / name)
    if fd is None:
        return ""
    with os.fdopen(fd, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        fh.seek(max(0, fh.tell() - limit))
        return fh.read(limit).decode("utf-8", errors="replace")


def parse_records(data: bytes) -> list[dict]:
    """JSON lines from the plugin; malformed lines (a truncated last line) are skipped."""
    records = []
    for line in data.decode("ascii", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


# --------------------------------------------------------------------------- score

KERNEL_DIED = (
    "Traceback:\nThe Python kernel died while running this cell (the code exited, "
    "crashed, or ran out of memory), so the cells after it could not run."
)


def score(
    canonical: Canonical,
    student: str,
    records: list[dict],
    timed_out: bool,
    returncode: int,
    notes: list[str],
) -> StudentResult:
    """Turn the plugin's cell records into per-test results and notes."""
    passed = {t.id: False for t in canonical.tests}
    messages: dict[str, str] = {}
    cell_to_test = {t.cell_id: t.id for t in canonical.tests}
    finished = died = False
    for record in records:
        if record.get("event") == "finish":
            finished = True
        if record.get("event") != "cell":
            continue
        # Map by the canonical cell id only: a record's grading id is not trusted further.
        test_id = cell_to_test.get(record.get("cell_id"))
        ok = record.get("outcome") == "passed"
        key = test_id or str(record.get("cell_id"))
        if test_id is not None:
            passed[test_id] = ok
        if record.get("kernel_died") and not died:
            died = True
            messages[key] = KERNEL_DIED
        elif record.get("outcome") == "failed":  # "skipped": nbval gave up after a timeout
            messages[key] = str(record.get("message", ""))
    notes = list(notes)
    rss = {
        name: int(r.get(f"maxrss_{name}_kib") or 0)
        for r in records
        if r.get("event") == "finish"
        for name in ("pytest", "kernel")
    }
    cpu = {
        name: _seconds(r.get(f"cpu_{name}_s"))
        for r in records
        if r.get("event") == "finish"
        for name in ("pytest", "kernel")
    }
    texts = " ".join(messages.values())
    if timed_out:
        notes.append("timeout")
    if died or "Kernel dead" in texts:
        notes.append("kernel died")
    elif "Timeout of" in texts or "did not finish within" in texts:
        notes.append("cell timeout")
    if returncode == driver.SERVER_DIED:
        notes.append("grading run ended abnormally (the grader's fork server died)")
    elif not finished and not timed_out:
        notes.append(f"grading run ended abnormally (exit {returncode})")
    return StudentResult(student, passed, messages, notes, peak_rss_kib=rss, cpu_seconds=cpu)


def _seconds(value) -> float:
    """A CPU time from the plugin's record, for the bench only: a number >= 0, else 0."""
    return float(value) if isinstance(value, (int, float)) and value >= 0 else 0.0


def grade_submission(
    canonical: Canonical, path: Path, opts: Options, tmp_root: Path
) -> StudentResult:
    """Grade one file; never raises: one odd submission must not stop the batch."""
    start = time.perf_counter()
    slot = opts.slots.get() if opts.slots is not None else None
    try:
        result = _grade_submission(canonical, path, opts, tmp_root, slot)
    except Exception as err:  # a grader bug shows up in the notes, and the batch goes on
        result = StudentResult(
            path.stem,
            {t.id: False for t in canonical.tests},
            {},
            [f"grader error: {type(err).__name__}: {err}"],
        )
    finally:
        if slot is not None:
            opts.slots.put(slot)
    result.seconds = time.perf_counter() - start
    return result


def _grade_submission(
    canonical: Canonical, path: Path, opts: Options, tmp_root: Path, slot: int | None
) -> StudentResult:
    student = path.stem
    student_nb, problem = read_submission(path)
    if student_nb is None:
        result = StudentResult(student, {t.id: False for t in canonical.tests}, {}, [problem])
    else:
        nb, notes = rebuild(canonical, student_nb)
        job_folder = Path(tempfile.mkdtemp(prefix="job-", dir=tmp_root))
        job_folder.chmod(0o711)  # the sandbox user reaches its work folder, not the driver's
        try:
            records, timed_out, code, driver_dir = run_notebook(nb, job_folder, opts, slot)
            result = score(canonical, student, records, timed_out, code, notes)
            result.log = log_tail(driver_dir)
            kernel = log_tail(driver_dir, 5000, "kernel.log").strip()
            if kernel:  # the sandbox's or the kernel's own words: why a kernel did not start
                result.log += f"\n--- the kernel's own output (the end) ---\n{kernel}\n"
        finally:
            shutil.rmtree(job_folder, ignore_errors=True)
    return result


# --------------------------------------------------------------------------- report


def _fmt(points: float) -> str:
    return f"{points:g}"


# A spreadsheet evaluates a cell that starts with one of these as a formula (OWASP's list:
# "=HYPERLINK(...)" in a student id would run when the instructor opens grades.csv).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def text_cell(text: str) -> str:
    """A text cell of grades.csv, never read as a formula: a leading ``'`` is added to one
    that starts like a formula. Idempotent (merge applies it again to older shards)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def gradebook_header(canonical: Canonical) -> list[str]:
    return ["student", *[text_cell(t.id) for t in canonical.tests], "total", "max", "notes"]


def gradebook_row(canonical: Canonical, result: StudentResult) -> list[str]:
    """Text cells (student, notes) escaped; points are numbers we format ourselves."""
    earned = [t.points if result.passed.get(t.id) else 0.0 for t in canonical.tests]
    return [
        text_cell(result.student),
        *map(_fmt, earned),
        _fmt(sum(earned)),
        _fmt(canonical.max_points),
        text_cell("; ".join(result.notes)),
    ]


HIDDEN_FAILED = (
    "failed. A hidden test ran your function on inputs you have not seen (other "
    "shapes and values) and compared the result with the reference. Check that "
    "your code works for any shape, does not depend on the visible example, and "
    "does not print inside the function."
)


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b")


def _traceback_tail(message: str, context: int = 12) -> str:
    """What a student needs from nbval's failure text: the exception and its message
    (with the test's hint) first, then the last lines of the traceback for context."""
    if "Traceback:" in message:
        text = message.split("Traceback:", 1)[1].strip("\n")
    else:  # a timeout: nbval's one-line reason, without the echoed source
        text = message.split("Input:", 1)[0].strip("\n")
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if _EXCEPTION_LINE.match(line)]
    if starts:
        i = starts[-1]
        lines = lines[i:] + ["", "(end of the traceback)"] + lines[max(0, i - context) : i]
    return "\n".join(lines[-60:]).replace("```", "'''")


def feedback(canonical: Canonical, result: StudentResult) -> str:
    """Markdown feedback: every test's result; hidden ones as pass/fail only."""
    earned = sum(t.points for t in canonical.tests if result.passed.get(t.id))
    out = [
        f"# Feedback for {result.student}",
        "",
        f"Score: **{_fmt(earned)} / {_fmt(canonical.max_points)}**",
        "",
    ]
    if result.notes:
        out += ["Notes: " + "; ".join(result.notes), ""]
    out += ["| Test | Kind | Points | Result |", "| --- | --- | --- | --- |"]
    for t in canonical.tests:
        ok = result.passed.get(t.id)
        out.append(
            f"| {t.id} | {'hidden' if t.hidden else 'visible'} | "
            f"{_fmt(t.points if ok else 0)} / {_fmt(t.points)} | "
            f"{'passed' if ok else 'failed'} |"
        )
    details = []
    for cell_id, functions in canonical.solution_cells.items():
        if result.messages.get(cell_id):
            details += [
                f"### Your cell defining {', '.join(functions)} raised an error",
                "",
                "```text",
                _traceback_tail(result.messages[cell_id]),
                "```",
                "",
            ]
    for t in canonical.tests:
        if result.passed.get(t.id):
            continue
        details.append(f"### {t.id}")
        details.append("")
        if t.hidden:
            details += [HIDDEN_FAILED, ""]
        elif result.messages.get(t.id):
            details += ["```text", _traceback_tail(result.messages[t.id]), "```", ""]
        else:
            details += [
                "not run: an earlier cell timed out, the kernel died, or the "
                "notebook could not be read (see the notes above).",
                "",
            ]
    if details:
        out += ["", "## What went wrong", "", *details]
    return "\n".join(out).rstrip() + "\n"


def write_outputs(canonical: Canonical, results: list[StudentResult], out: Path) -> None:
    """grades.csv (sorted by student) and one feedback file each."""
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(gradebook_header(canonical))
        for result in sorted(results, key=lambda r: r.student):
            writer.writerow(gradebook_row(canonical, result))
    (out / "logs").mkdir(exist_ok=True)
    for result in results:
        (out / "feedback" / f"{result.student}.md").write_text(
            feedback(canonical, result), encoding="utf-8"
        )
        (out / "logs" / f"{result.student}.log").write_text(result.log, encoding="utf-8")


# --------------------------------------------------------------------------- batch


def select_shard(paths: list[Path], shard: tuple[int, int] | None) -> list[Path]:
    """Shard k/n (1-based) takes every n-th submission in name order, starting at k."""
    if shard is None:
        return paths
    k, n = shard
    return [p for i, p in enumerate(paths) if i % n == k - 1]


def git_folders(root: Path) -> set[Path]:
    """The folders holding the repository's history (the answers of every past commit):
    ``.git``, or, in a git worktree or submodule, where ``.git`` is a file saying
    ``gitdir: PATH``, that folder and the common one it shares with the main checkout
    (``commondir``). bwrap cannot mount an empty folder over a file: grading from a worktree
    failed with "Can't mkdir .../.git: Not a directory"."""
    dotgit = root / ".git"
    if dotgit.is_dir():
        return {dotgit.resolve()}
    try:
        text = dotgit.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return set()
    if not text.startswith("gitdir:"):
        return set()
    gitdir = (root / text.removeprefix("gitdir:").strip()).resolve()
    found = {gitdir}
    try:
        found.add((gitdir / (gitdir / "commondir").read_text(encoding="utf-8").strip()).resolve())
    except (OSError, UnicodeDecodeError):
        pass
    return {p for p in found if p.is_dir()}


def hidden_paths(
    solution: Path, submissions: Path, out: Path, hide_library: bool = False
) -> tuple[Path, ...]:
    """Folders the sandbox replaces with empty ones: other students' files, the gradebook
    being written, and everything that holds the answers (the canonical notebook's folder,
    the repository's solutions/ and its git history, and, when the canonical notebook does
    not import it, the course's library). Never a folder the kernel needs."""
    needed = (ROOT / "course").resolve()
    wanted = {
        submissions.resolve(),
        out.resolve(),
        solution.resolve().parent,
        (ROOT / "solutions").resolve(),
        *git_folders(ROOT),
    }
    if hide_library:
        wanted |= set(answer_key.package_dirs())
    return tuple(sorted(p for p in wanted if p.exists() and not needed.is_relative_to(p)))


def refusal(tried: dict[str, str]) -> str:
    """Why the grader will not run student code here, and what fixes it."""
    why = "; ".join(f"{kind}: {reason}" for kind, reason in tried.items())
    return (
        f"no sandbox works on this machine ({why}). Student code would run with your "
        "privileges, so nothing was graded. Fix: install bubblewrap (`sudo apt-get install "
        "bubblewrap`, or `make system-deps`) and allow it to create namespaces (in a "
        "container: run it with --privileged or a seccomp profile that allows unshare/"
        "clone; on the host: sysctl kernel.unprivileged_userns_clone=1). Or, on a "
        "throw-away machine only, pass --no-sandbox to grade with resource limits only "
        f"(student code then runs as {sandbox.run_as()}, with network access)."
    )


def choose_isolation(opts: Options) -> dict:
    """Probe the sandbox; raise GradingError rather than run untrusted code unconfined.
    Returns what run.json records about it."""
    kind, warning = sandbox.probe()
    info = sandbox.report()
    if kind == "none":
        if not opts.no_sandbox:
            raise GradingError(refusal(info["tried"]))
        # setpriv needs no namespace, but the unprivileged user must reach Python.
        if not sandbox._works("none"):
            raise GradingError(
                f"--no-sandbox: the unprivileged user cannot run {sandbox.python()} "
                f"({sandbox.try_wrapper('none')}). Install Python and the virtualenv where "
                "other users can read them (not under /root)."
            )
    if warning:
        print(warning, file=sys.stderr)
    info["no_sandbox_flag"] = opts.no_sandbox
    return info


def _printable(text: str) -> str:
    """A student id for the terminal: control characters (an ANSI escape in a file name)
    are shown escaped, not interpreted."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def _summary(result: StudentResult) -> str:
    notes = f" [{'; '.join(result.notes)}]" if result.notes else ""
    return (
        f"graded {_printable(result.student)}: {sum(result.passed.values())}/"
        f"{len(result.passed)} tests ({result.seconds:.1f} s){_printable(notes)}"
    )


def write_run_record(out: Path, record: dict) -> None:
    """run.json: which isolation graded the batch and with what limits, for the record."""
    (out / "run.json").write_text(
        json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def grade_batch(
    solution: Path,
    submissions: Path,
    out: Path,
    opts: Options,
    shard: tuple[int, int] | None = None,
    log=print,
) -> list[StudentResult]:
    """Grade every ``*.ipynb`` in ``submissions`` (one driver and sandboxed kernel each)."""
    canonical = load_canonical(solution)
    if not submissions.is_dir():
        raise GradingError(f"submissions folder not found: {submissions}")
    paths = select_shard(sorted(submissions.glob("*.ipynb")), shard)
    started = time.time()
    isolation = choose_isolation(opts)
    try:
        driver.check()
    except RuntimeError as err:
        raise GradingError(str(err)) from err
    out.mkdir(parents=True, exist_ok=True)
    opts.hide = hidden_paths(solution, submissions, out, not canonical.imports_library)
    record = {
        "command": "grade",
        "solution": str(solution.resolve()),
        "submissions": str(submissions.resolve()),
        "shard": f"{shard[0]}/{shard[1]}" if shard else None,
        **isolation,
        "hidden_in_sandbox": [str(p) for p in opts.hide]
        if isolation["isolation"] == "bwrap"
        else [],
        "library_hidden": isolation["isolation"] == "bwrap" and not canonical.imports_library,
        "limits": {
            "jobs": opts.jobs,
            "cell_timeout_s": opts.cell_timeout,
            "timeout_s": opts.timeout,
            **vars(opts.limits),
        },
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
    }
    write_run_record(out, record)
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        log(line)

    say(f"isolation: {isolation['isolation']} ({isolation['student_code_runs_as']})")
    tmp_root = Path(tempfile.mkdtemp(prefix="course-grade-"))
    os.chmod(tmp_root, 0o711)  # the sandbox user must traverse it to reach its own folder
    opts.slots = queue.Queue()
    for slot in range(max(1, opts.jobs)):
        opts.slots.put(slot)
    results = []
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
            futures = [pool.submit(grade_submission, canonical, p, opts, tmp_root) for p in paths]
            for future in concurrent.futures.as_completed(futures):
                results.append(future.result())
                say(_summary(results[-1]))
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)
        write_outputs(canonical, results, out)
        record.update(graded=len(results), seconds=round(time.time() - started, 1))
        write_run_record(out, record)
        say(
            f"{len(results)} submission(s) graded with sandbox '{isolation['isolation']}'; "
            f"wrote {out / 'grades.csv'}"
        )
        (out / "grading.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return results


def _shard(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)/(\d+)", text)
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise argparse.ArgumentTypeError("--shard must be K/N with 1 <= K <= N, e.g. 2/8")
    return int(match.group(1)), int(match.group(2))


def grade_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course grade", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "solution", type=Path, help="canonical notebook, e.g. solutions/00_foundations.ipynb"
    )
    parser.add_argument("submissions", type=Path, help="folder of STUDENT.ipynb files")
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="writes grades.csv, feedback/, logs/, run.json, grading.log",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="students graded in parallel (default: number of CPUs)",
    )
    parser.add_argument("--cell-timeout", type=float, default=30.0, help="seconds per cell")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per notebook")
    parser.add_argument(
        "--shard", type=_shard, default=None, help="K/N: grade the K-th of N shards"
    )
    parser.add_argument(
        "--no-sandbox",
        action="store_true",
        help="grade even when neither bubblewrap nor unshare works (UNSAFE: "
        "rlimits only, network on; as root, student code runs as an "
        "unprivileged user id; otherwise as you). A working sandbox is "
        "still used.",
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return 2 if exit_.code else 0
    opts = Options(
        jobs=args.jobs,
        cell_timeout=args.cell_timeout,
        timeout=args.timeout,
        no_sandbox=args.no_sandbox,
    )
    try:
        grade_batch(args.solution, args.submissions, args.out, opts, args.shard)
    except GradingError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


# --------------------------------------------------------------------------- merge

# Columns of grades.csv that hold text (the others are points): escaped again on merge, in
# case a shard was written by an older grader.
TEXT_COLUMNS = ("student", "notes")


def merge(inputs: list[Path], out: Path) -> int:
    """Concatenate shard gradebooks (same header required) and copy their feedback."""
    header, rows, runs = None, {}, []
    for folder in inputs:
        with open(folder / "grades.csv", newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            this_header = [text_cell(h) for h in next(reader)]
            if header is not None and this_header != header:
                raise GradingError(f"{folder}/grades.csv has different tests: {this_header}")
            header = this_header
            text = [i for i, name in enumerate(header) if name in TEXT_COLUMNS]
            for row in reader:
                row = [text_cell(v) if i in text else v for i, v in enumerate(row)]
                if row[0] in rows:
                    raise GradingError(f"student {row[0]} appears in more than one shard")
                rows[row[0]] = row
        run = folder / "run.json"
        runs.append(json.loads(run.read_text(encoding="utf-8")) if run.is_file() else None)
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows[s] for s in sorted(rows))
    for folder in inputs:
        for md in sorted((folder / "feedback").glob("*.md")):
            shutil.copyfile(md, out / "feedback" / md.name)
    write_run_record(
        out,
        {
            "command": "merge",
            "shards": [str(p) for p in inputs],
            "isolation": sorted({str(r and r.get("isolation")) for r in runs}),
            "shard_runs": runs,
        },
    )
    return len(rows)


def merge_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m course merge")
    parser.add_argument("inputs", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, required=True)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return 2 if exit_.code else 0
    try:
        n = merge(args.inputs, args.out)
    except (GradingError, OSError, StopIteration, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"merged {n} student(s) from {len(args.inputs)} shard(s) into {args.out / 'grades.csv'}")
    return 0
