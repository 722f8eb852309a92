"""The grader, against honest, buggy, broken and hostile submissions.

Every fixture is generated here from solutions/00_foundations.ipynb into a temporary
folder: a student notebook is the exercise with some solution cells filled in. One batch
grades them all (``--jobs 2``, short timeouts), then each test reads its student's row.
"""

from __future__ import annotations

import base64
import csv
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT
from course.build import answer_key
from course.grading import driver, grade, sandbox
from course.build.exercises import is_solution_cell, make_exercise

SOLUTION = ROOT / "solutions" / "00_foundations.ipynb"
CANONICAL = grade.load_canonical(SOLUTION)
TEST_IDS = [t.id for t in CANONICAL.tests]
FULL = CANONICAL.max_points
POINTS = {t.id: t.points for t in CANONICAL.tests}
FUNCTIONS = (
    "dense_forward",
    "dense_backward",
    "numerical_gradient",
    "dense_tanh_backward",
    "sgd_step",
)


def solution_sources() -> dict[str, str]:
    """Function name -> the instructor's solution cell source."""
    cells = [c for c in CANONICAL.nb.cells if is_solution_cell(c)]
    return {name: next(c.source for c in cells if f"def {name}(" in c.source) for name in FUNCTIONS}


def student(overrides: dict[str, str] | None = None, blank=()) -> nbformat.NotebookNode:
    """The exercise notebook with every function solved (the instructor's code) except those
    in ``blank``; ``overrides`` maps a function name to the student's cell source."""
    nb = make_exercise(CANONICAL.nb)
    sources = solution_sources()
    for cell in nb.cells:
        for name in FUNCTIONS:
            if cell.cell_type == "code" and f"def {name}(" in cell.source and name not in blank:
                cell.source = (overrides or {}).get(name, sources[name])
    return nb


def replace_body(name: str, body: str) -> str:
    """A solution cell for ``name`` whose body is ``body`` (indented 4 spaces)."""
    header = solution_sources()[name].split("### BEGIN SOLUTION")[0].rstrip()
    return header + "\n" + "\n".join("    " + line for line in body.strip("\n").split("\n")) + "\n"


def without(ids, *names):
    return {i for i in ids if not any(i.startswith(n) for n in names)}


BIG_OUTPUTS_MB = 100


def with_outputs(nb, megabytes: int) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose code cells carry about ``megabytes`` MB of PNG outputs."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    code = [c for c in nb.cells if c.cell_type == "code"]
    png = base64.b64encode(os.urandom(megabytes * 1024**2 * 3 // 4 // len(code))).decode()
    for cell in code:
        cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": png})]
    return nb


def make_submissions(folder: Path, other_student_file: Path) -> dict[str, tuple]:
    """Write the adversarial class. Returns student -> (expected passing test ids, note part)."""
    all_ids = set(TEST_IDS)
    cases: dict[str, tuple] = {}

    def add(name, nb, passing, note=""):
        nbformat.write(nb, folder / f"{name}.ipynb")
        cases[name] = (set(passing), note)

    add("correct", student(), all_ids)
    add("blank", make_exercise(CANONICAL.nb), set())
    add(
        "three_bugs",
        student(
            {
                "dense_forward": replace_body(
                    "dense_forward", "return x @ kernel  # forgot the bias"
                ),
                "dense_backward": replace_body(
                    "dense_backward", "return dy @ kernel.T, dy.T @ x, dy.sum(axis=0)"
                ),
                "numerical_gradient": replace_body(
                    "numerical_gradient",
                    """
grad = np.zeros_like(x)
f0 = f(x)
for i in np.ndindex(x.shape):
    saved = x[i]
    x[i] = saved + eps
    grad[i] = (f(x) - f0) / eps   # one-sided
    x[i] = saved
return grad""",
                ),
            }
        ),
        {"sgd_step_visible", "sgd_step_hidden"},
    )

    edited = make_exercise(CANONICAL.nb)  # blank answers, tests "fixed" to pass
    tests = [c for c in edited.cells if "test" in c.metadata.get("tags", [])]
    for cell in tests[:-1]:
        cell.source = 'print("✓ all good")'
    edited.cells.remove(tests[-1])
    edited.cells.reverse()
    add("edited_tests", edited, set(), "tests edited")

    add(
        "hardcoded",
        student(
            {
                "dense_forward": replace_body(
                    "dense_forward", "return np.array([[3.6, -0.8, 1.3], [-1.4, 0.2, 0.8]])"
                )
            }
        ),
        all_ids - {"dense_forward_hidden"},
    )

    # Reads the rebuilt notebook (hidden tests included) and raises with its text, which
    # the visible test's failure message would carry into the feedback. The grader deletes
    # the file once nbval has read it, so there is nothing to read and every test passes.
    add(
        "reads_the_notebook",
        student(
            {
                "dense_forward": replace_body(
                    "dense_forward",
                    """
import glob, os
for name in glob.glob("*.ipynb") + glob.glob(os.path.join(os.environ["HOME"], "..", "*.ipynb")):
    raise RuntimeError(open(name).read())
return x @ kernel + bias""",
                )
            }
        ),
        all_ids,
    )
    add(
        "infinite_loop",
        student({"dense_forward": replace_body("dense_forward", "while True:\n    pass")}),
        without(all_ids, "dense_forward"),
        "cell timeout",
    )
    add(
        "os_exit",
        student({"dense_backward": replace_body("dense_backward", "import os\nos._exit(0)")}),
        {"dense_forward_visible", "dense_forward_hidden"},
        "kernel died",
    )
    add(
        "segfault",
        student({"sgd_step": replace_body("sgd_step", "import ctypes\nctypes.string_at(0)")}),
        without(all_ids, "sgd_step"),
        "kernel died",
    )
    # Ends by the process limit (BlockingIOError) or the cell timeout, whichever the race
    # between the copies of the kernel brings first: no fixed note.
    add(
        "fork_bomb",
        student({"sgd_step": replace_body("sgd_step", "import os\nwhile True:\n    os.fork()")}),
        without(all_ids, "sgd_step"),
    )
    # dense_tanh_backward calls dense_backward, and its visible test numerical_gradient.
    add(
        "memory_bomb",
        student(
            {
                "dense_backward": replace_body(
                    "dense_backward",
                    "hog = [bytearray(256 * 1024**2) for _ in range(64)]\nreturn hog",
                )
            }
        ),
        without(all_ids, "dense_backward", "tanh_backward"),
    )
    add(
        "huge_print",
        student(
            {
                "numerical_gradient": replace_body(
                    "numerical_gradient", 'print("x" * 1024**3)\nreturn np.zeros_like(x)'
                )
            }
        ),
        without(all_ids, "numerical_gradient", "tanh_backward_visible"),
    )
    # Full marks only if every escape attempt fails: the sandbox is what is being graded.
    add(
        "snooper",
        student(
            {
                "dense_forward": replace_body(
                    "dense_forward",
                    f"""
import socket
escaped = []
for path in [{str(other_student_file)!r}, {str(SOLUTION)!r}, "/root/.bashrc", "/etc/shadow"]:
    try:
        open(path).read(1)
        escaped.append(path)
    except OSError:
        pass
for address in [("1.1.1.1", 53), ("pypi.org", 443)]:
    try:
        socket.create_connection(address, timeout=2).close()
        escaped.append(address)
    except OSError:
        pass
try:
    open("/tmp/job/../../work/planted", "w")
    escaped.append("wrote outside")
except OSError:
    pass
if escaped:
    raise RuntimeError(f"sandbox escaped: {{escaped}}")
return x @ kernel + bias""",
                )
            }
        ),
        all_ids,
    )
    # Hides every error display: the kernel's execute_reply still says "error".
    add(
        "traceback_hider",
        student(
            {
                "dense_forward": """
import sys
ip = get_ipython()
ip.showtraceback = lambda *args, **kwargs: None
ip._showtraceback = lambda *args, **kwargs: None
sys.excepthook = lambda *args: None
def dense_forward(x, kernel, bias):
    raise NotImplementedError"""
            },
            blank=("dense_backward",),
        ),
        without(all_ids, "dense_forward", "dense_backward", "tanh_backward"),
    )
    # Patches the in-kernel assert helpers: visible tests "pass", hidden output does not match.
    add(
        "patched_asserts",
        student(
            {
                "dense_forward": """
import numpy as np
check_close = lambda *args, **kwargs: print("✓")
check_true = lambda *args, **kwargs: print("✓")
def dense_forward(x, kernel, bias):
    return np.zeros((x.shape[0], kernel.shape[1]))"""
            },
            blank=("dense_backward", "numerical_gradient", "sgd_step"),
        ),
        {"dense_forward_visible"},
    )

    (folder / "invalid_json.ipynb").write_text('{"cells": [ this is not json', encoding="utf-8")
    cases["invalid_json"] = (set(), "invalid notebook: not valid JSON (line 1, column 13)")

    # Issue 13. A spreadsheet must not evaluate a student id; odd ids still round-trip.
    add('=HYPERLINK("evil")', student(), all_ids)
    add('-2+3', student(), all_ids)
    add('comma, "quoted"\nnewline', student(), all_ids)
    # Links and other non-files are not submissions: a link to the answers scores nothing,
    # and a FIFO must not hang the grader.
    (folder / "symlink_to_solution.ipynb").symlink_to(SOLUTION)
    cases["symlink_to_solution"] = (set(), "not a regular file")
    os.mkfifo(folder / "fifo.ipynb")
    cases["fifo"] = (set(), "not a regular file")
    # Outputs do not count against the size limit; code does.
    add("big_outputs", with_outputs(student(), BIG_OUTPUTS_MB), all_ids)
    too_much = student()
    too_much.cells.append(nbformat.v4.new_markdown_cell("x" * (grade.MAX_CODE_BYTES + 1)))
    add("too_much_code", too_much, set(), "over 10 MB of code")
    # The answer key: tests of a function that calls the course's library earn nothing.
    # (Each of these earns full marks for that function when the grader lets it through.)
    # An alias bound in one cell and used in the next: the first cell is not graded, so the
    # alias never exists, and the library is out of the sandbox anyway.
    add(
        "library_alias",
        student(
            {
                "dense_forward": "import scratchnn.foundations as ref\n"
                + solution_sources()["dense_forward"],
                "dense_backward": replace_body(
                    "dense_backward",
                    """
layer = ref.Dense(kernel.shape[1])
layer.set_weights([kernel, np.zeros(kernel.shape[1])])
layer.forward(x)
return (layer.backward(dy), *layer.grads)""",
                ),
            }
        ),
        without(all_ids, "dense_forward", "dense_backward", "tanh_backward"),
        "imports the course's library (dense_forward",
    )
    add(
        "library_import",
        student(
            {
                "dense_backward": replace_body(
                    "dense_backward",
                    """
import scratchnn.foundations as F
layer = F.Dense(kernel.shape[1])
layer.set_weights([kernel, np.zeros(kernel.shape[1])])
layer.forward(x)
dx = layer.backward(dy)
return (dx, *layer.grads)""",
                )
            }
        ),
        without(all_ids, "dense_backward", "tanh_backward"),
        "imports the course's library (dense_backward",
    )
    add(
        "library_dunder",
        student(
            {
                "sgd_step": replace_body(
                    "sgd_step",
                    '__import__("scratch" + "nn.foundations").foundations.sgd_step('
                    "params, grads, learning_rate)",
                )
            }
        ),
        without(all_ids, "sgd_step"),
        "imports the course's library (sgd_step",
    )

    stripped = student()
    for cell in stripped.cells:
        cell.metadata = {}
        cell.pop("id", None)
    stripped.metadata = {}
    stripped.nbformat_minor = 4  # no cell ids before nbformat 4.5
    (folder / "stripped.ipynb").write_text(json.dumps(stripped), encoding="utf-8")
    cases["stripped"] = (all_ids, "")

    add("zoë_ñandú", student(), all_ids)
    return cases


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade the whole adversarial class once: (cases, rows by student, out dir, seconds)."""
    base = tmp_path_factory.mktemp("grading")
    subs, out = base / "submissions", base / "out"
    subs.mkdir()
    cases = make_submissions(subs, subs / "correct.ipynb")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "course",
            "grade",
            str(SOLUTION),
            str(subs),
            "--out",
            str(out),
            "--jobs",
            "2",
            "--cell-timeout",
            "6",
            "--timeout",
            "90",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    with open(out / "grades.csv", newline="", encoding="utf-8") as fh:
        # Keyed by the id as the student wrote it: the gradebook escapes formulas.
        rows = {row["student"].removeprefix("'"): row for row in csv.DictReader(fh)}
    return cases, rows, out, done


@pytest.mark.slow
def test_gradebook_header_and_rows(graded):
    cases, rows, out, _ = graded
    with open(out / "grades.csv", encoding="utf-8") as fh:
        assert fh.readline().strip() == ",".join(["student", *TEST_IDS, "total", "max", "notes"])
    assert set(rows) == set(cases)
    for name in cases:
        assert (out / "feedback" / f"{name}.md").exists()


CASE_NAMES = [
    "correct",
    "blank",
    "three_bugs",
    "edited_tests",
    "hardcoded",
    "reads_the_notebook",
    "infinite_loop",
    "os_exit",
    "segfault",
    "fork_bomb",
    "memory_bomb",
    "huge_print",
    "snooper",
    "traceback_hider",
    "patched_asserts",
    "invalid_json",
    "stripped",
    "zoë_ñandú",
    '=HYPERLINK("evil")',
    "-2+3",
    'comma, "quoted"\nnewline',
    "symlink_to_solution",
    "fifo",
    "big_outputs",
    "too_much_code",
    "library_alias",
    "library_import",
    "library_dunder",
]


@pytest.mark.slow
@pytest.mark.parametrize("name", CASE_NAMES)
def test_each_submission_gets_exactly_its_points(graded, name):
    cases, rows, out, _ = graded
    passing, note = cases[name]
    row = rows[name]
    earned = {t: float(row[t]) for t in TEST_IDS}
    assert {t for t, p in earned.items() if p > 0} == passing, row
    assert float(row["total"]) == sum(POINTS[t] for t in passing)
    assert float(row["max"]) == FULL
    assert note in row["notes"], row["notes"]


@pytest.mark.slow
def test_gradebook_text_cells_are_never_formulas(graded):
    """Every text cell that a spreadsheet would evaluate starts with a quote; the points
    are plain numbers, never quoted or prefixed."""
    _, _, out, _ = graded
    with open(out / "grades.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    for row in rows[1:]:
        assert not row[0].startswith(grade._FORMULA_START), row[0]
        assert not row[-1].startswith(grade._FORMULA_START), row[-1]
        assert all(float(cell) >= 0 and cell[0].isdigit() for cell in row[1:-1]), row
    students = {row[0] for row in rows[1:]}
    assert {"'=HYPERLINK(\"evil\")", "'-2+3", 'comma, "quoted"\nnewline'} <= students


@pytest.mark.slow
def test_the_gradebook_records_the_isolation(graded):
    _, _, out, done = graded
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    kind = sandbox.probe()[0]
    assert run["isolation"] == kind and run["graded"] == len(CASE_NAMES)
    assert run["limits"]["jobs"] == 2 and run["limits"]["processes"] == 128
    log = (out / "grading.log").read_text(encoding="utf-8")
    assert log.startswith(f"isolation: {kind} (") and f"with sandbox '{kind}'" in log
    assert "graded comma, \"quoted\"\\nnewline:" in log  # control characters escaped


@pytest.mark.slow
def test_feedback_never_reveals_hidden_tests(graded):
    _, _, out, _ = graded
    hidden_sources = [
        c.source for c in CANONICAL.nb.cells if "hidden-test" in c.metadata.get("tags", [])
    ]
    for md in (out / "feedback").glob("*.md"):
        text = md.read_text(encoding="utf-8")
        assert "default_rng(1234)" not in text and "fingerprint" not in text
        for source in hidden_sources:
            for line in source.splitlines()[1:]:
                if len(line.strip()) > 25:
                    assert line.strip() not in text, (md.name, line)


@pytest.mark.slow
def test_feedback_explains_visible_failures(graded):
    _, _, out, _ = graded
    text = (out / "feedback" / "three_bugs.md").read_text(encoding="utf-8")
    assert f"Score: **2 / {FULL:g}**" in text
    assert "expected shape (2, 3), got shape (3, 2)" in text  # dkernel transposed
    assert "Hint:" in text and "wrong value at index" in text
    points = POINTS["dense_forward_hidden"]
    assert f"| dense_forward_hidden | hidden | 0 / {points:g} | failed |" in text


# --------------------------------------------------------------------------- cheap cases


def run_grade(*args):
    return subprocess.run(
        [sys.executable, "-m", "course", "grade", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


def grade_one(solution: Path, submission: nbformat.NotebookNode | Path, name: str, tmp_path):
    """Grade one submission (a notebook or a file to copy) alone; its gradebook row and the
    output folder."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    if isinstance(submission, Path):
        shutil.copyfile(submission, subs / f"{name}.ipynb")
    else:
        nbformat.write(submission, subs / f"{name}.ipynb")
    done = run_grade(solution, subs, "--out", out, "--jobs", "1")
    assert done.returncode == 0, done.stderr
    with open(out / "grades.csv", newline="", encoding="utf-8") as fh:
        return next(csv.DictReader(fh)), out


def test_empty_folder_gives_header_only(tmp_path):
    (tmp_path / "subs").mkdir()
    done = run_grade(SOLUTION, tmp_path / "subs", "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    lines = (tmp_path / "out" / "grades.csv").read_text(encoding="utf-8").splitlines()
    assert lines == [",".join(["student", *TEST_IDS, "total", "max", "notes"])]


@pytest.mark.parametrize(
    "problem", ["missing_solution", "invalid_solution", "missing_folder", "bad_shard"]
)
def test_grader_fails_only_when_it_cannot_run(tmp_path, problem):
    (tmp_path / "subs").mkdir()
    solution, subs, extra = SOLUTION, tmp_path / "subs", []
    if problem == "missing_solution":
        solution = tmp_path / "nope.ipynb"
    elif problem == "invalid_solution":
        solution = tmp_path / "bad.ipynb"
        solution.write_text("{", encoding="utf-8")
    elif problem == "missing_folder":
        subs = tmp_path / "absent"
    else:
        extra = ["--shard", "3/2"]
    done = run_grade(solution, subs, "--out", tmp_path / "out", *extra)
    assert done.returncode == 2


def test_shards_merge_into_one_gradebook(tmp_path):
    """Shard k/n splits by name order; merge puts the rows back together (no kernels needed:
    invalid notebooks are graded without running anything)."""
    subs = tmp_path / "subs"
    subs.mkdir()
    names = ["+cy", "-bo", "=ana", "@dee", "ed"]  # sorted; four would be formulas
    for name in names:
        (subs / f"{name}.ipynb").write_text("not a notebook", encoding="utf-8")
    outs = []
    for k in (1, 2):
        outs.append(tmp_path / f"shard{k}")
        assert run_grade(SOLUTION, subs, "--out", outs[-1], "--shard", f"{k}/2").returncode == 0
    shard_rows = [(o / "grades.csv").read_text(encoding="utf-8").splitlines()[1:] for o in outs]
    assert [r.split(",")[0] for r in shard_rows[0]] == ["'+cy", "'=ana", "ed"]
    assert [r.split(",")[0] for r in shard_rows[1]] == ["'-bo", "'@dee"]
    done = subprocess.run(
        [sys.executable, "-m", "course", "merge", *map(str, outs), "--out", str(tmp_path / "all")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    with open(tmp_path / "all" / "grades.csv", newline="", encoding="utf-8") as fh:
        merged = list(csv.reader(fh))
    assert [r[0] for r in merged[1:]] == ["'+cy", "'-bo", "'=ana", "'@dee", "ed"]
    assert all(
        r[-3:] == ["0", f"{FULL:g}", "invalid notebook: not valid JSON (line 1, column 1)"]
        for r in merged[1:]
    ), merged
    assert sorted(p.stem for p in (tmp_path / "all" / "feedback").glob("*.md")) == names
    assert json.loads((tmp_path / "all" / "run.json").read_text())["command"] == "merge"
    # merging a shard twice is refused rather than double-counting a student
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "course",
            "merge",
            str(outs[0]),
            str(outs[0]),
            "--out",
            str(tmp_path / "dup"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert again.returncode == 2


def test_rebuild_takes_only_solution_cells():
    """Unit level: the student's edits to tests vanish, hidden tests come back, ids map."""
    nb = student()
    for cell in nb.cells:
        if "test" in cell.metadata.get("tags", []):
            cell.source = "pass"
    rebuilt, notes = grade.rebuild(CANONICAL, nb)
    assert [c.id for c in rebuilt.cells] == [c.id for c in CANONICAL.nb.cells]
    assert notes == ["tests edited (ignored: the canonical tests were run)"]
    for mine, original in zip(rebuilt.cells, CANONICAL.nb.cells):
        if not is_solution_cell(original):
            assert mine.source == original.source


def test_rebuild_strips_nbval_markers_from_student_cells():
    nb = student({"sgd_step": "# NBVAL_SKIP\n" + solution_sources()["sgd_step"]})
    rebuilt, _ = grade.rebuild(CANONICAL, nb)
    assert all("NBVAL_SKIP" not in c.source for c in rebuilt.cells)


def test_sandbox_is_available_or_warns():
    kind, warning = sandbox.probe()
    assert kind in {"bwrap", "unshare", "none"}
    assert (kind == "bwrap") == (warning == "")
    if os.environ.get("CI") or os.geteuid() == 0:
        # CI installs bubblewrap (Makefile); grading untrusted code must not silently degrade.
        assert kind == "bwrap", warning


def test_probe_falls_back_loudly(monkeypatch):
    """Without bubblewrap the grader still runs, and says how much weaker it is."""
    monkeypatch.setattr(sandbox, "_works", lambda kind: kind == "unshare")
    kind, warning = sandbox.probe()
    assert kind == "unshare" and "files readable by 'nobody' stay readable" in warning
    monkeypatch.setattr(sandbox, "_works", lambda kind: False)
    kind, warning = sandbox.probe()
    assert kind == "none" and warning.startswith("WARNING: NO SANDBOX")


def test_the_sandbox_hides_the_answers_but_not_the_library(tmp_path):
    submissions, out = tmp_path / "subs", tmp_path / "out"
    submissions.mkdir()
    out.mkdir()
    hidden = grade.hidden_paths(SOLUTION, submissions, out)
    assert (ROOT / "solutions").resolve() in hidden and (ROOT / ".git").resolve() in hidden
    assert submissions.resolve() in hidden and out.resolve() in hidden
    assert not any((ROOT / "course").resolve().is_relative_to(p) for p in hidden)
    assert not any((ROOT / "scratchnn").resolve().is_relative_to(p) for p in hidden)


def test_git_history_is_found_in_a_worktree_too(tmp_path):
    """In a git worktree ``.git`` is a file naming the history's folder; bwrap cannot hide a
    file behind an empty folder (grading from a worktree failed), and hiding that file would
    leave the history, with every past commit's answers, readable anyway."""
    main, worktree = tmp_path / "main", tmp_path / "wt"
    (main / ".git" / "worktrees" / "wt").mkdir(parents=True)
    (main / ".git" / "worktrees" / "wt" / "commondir").write_text("../..\n")
    worktree.mkdir()
    (worktree / ".git").write_text(f"gitdir: {main / '.git' / 'worktrees' / 'wt'}\n")
    assert grade.git_folders(worktree) == {main / ".git", main / ".git" / "worktrees" / "wt"}
    assert grade.git_folders(main) == {main / ".git"}
    assert grade.git_folders(tmp_path) == set()
    hidden = grade.hidden_paths(SOLUTION, tmp_path, tmp_path)
    assert not any(p.is_file() for p in hidden)


def test_the_graders_home_is_masked_but_not_the_system(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "instructor"))
    assert sandbox.masked_folders()[-1] == (tmp_path / "instructor").resolve()
    for odd in ("/", "/home", "/root"):
        monkeypatch.setenv("HOME", odd)
        assert sandbox.masked_folders() == sandbox.MASKED


SECRET_PROBE = """
import sys
try:
    print(open(sys.argv[1]).read().strip())
except OSError as err:
    print(type(err).__name__)
"""


@pytest.mark.skipif(sandbox.probe()[0] != "bwrap", reason="masking folders needs bubblewrap")
def test_student_code_cannot_read_the_graders_home(monkeypatch, tmp_path):
    """Not as root, student code runs as the grader's own user in a user namespace: a key in
    the grader's home was readable and could be printed into the feedback handed back. The
    home is masked like /root. Here the home is a world-readable folder outside /tmp, so only
    the mask (not file modes, nor /tmp's mask) can hide it; the control run sees it."""
    home = Path(tempfile.mkdtemp(prefix="grader-home-", dir="/var/tmp"))
    try:
        home.chmod(0o755)
        secret = home / ".ssh" / "id_test"
        secret.parent.mkdir(mode=0o755)
        secret.write_text("SECRET-KEY-LINE\n")
        secret.chmod(0o644)
        argv = [sandbox.python(), "-c", SECRET_PROBE, str(secret)]

        def read_in_sandbox() -> str:
            command = sandbox.wrap(argv, tmp_path, [], sandbox.Limits())
            done = subprocess.run(command, capture_output=True, text=True, timeout=60)
            return done.stdout.strip() or done.stderr

        monkeypatch.setenv("HOME", "/root")
        assert read_in_sandbox() == "SECRET-KEY-LINE"  # the control: only the mask hides it
        monkeypatch.setenv("HOME", str(home))
        assert read_in_sandbox() == "FileNotFoundError"
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.skipif(sandbox.probe()[0] != "bwrap", reason="needs a working bubblewrap")
@pytest.mark.parametrize("folder", ["/tmp", "/root"])
def test_the_sandbox_works_with_a_masked_folder_on_sys_path(folder):
    """``python -m course grade`` run from /tmp (or from root's home) puts that folder on
    sys.path; binding it back undid the mask, and from /tmp bwrap failed ("Can't mkdir
    /tmp/job: Read-only file system"), so nothing could be graded."""
    code = (
        f"import sys; sys.path.insert(0, {folder!r}); from course.grading import sandbox; "
        "print(sandbox.try_wrapper('bwrap') or 'works', sandbox._readable_prefixes())"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=folder
    )
    assert done.stdout.startswith("works"), done.stdout + done.stderr
    assert f"'{folder}'" not in done.stdout


ALL_SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("solution", ALL_SOLUTIONS, ids=lambda p: p.stem)
def test_every_assignment_grades_full_and_blank(tmp_path, solution):
    """Each assignment through the real grader: the solved exercise earns every point of
    every test (hidden ones included), the untouched exercise earns none."""
    canonical = grade.load_canonical(solution)
    answers = {c.id: c.source for c in canonical.nb.cells if is_solution_cell(c)}
    solved = make_exercise(canonical.nb)
    for cell in solved.cells:
        cell.source = answers.get(cell.get("id"), cell.source)  # a student who solved every stub
    assert sum(c.get("id") in answers for c in solved.cells) == len(answers) > 0
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    nbformat.write(solved, subs / "solved.ipynb")
    nbformat.write(make_exercise(canonical.nb), subs / "untouched.ipynb")
    done = run_grade(solution, subs, "--out", out, "--jobs", "2")
    assert done.returncode == 0, done.stderr
    with open(out / "grades.csv", newline="", encoding="utf-8") as fh:
        rows = {row["student"]: row for row in csv.DictReader(fh)}
    assert float(rows["solved"]["max"]) == canonical.max_points > 0
    assert float(rows["solved"]["total"]) == canonical.max_points, rows["solved"]
    assert float(rows["untouched"]["total"]) == 0, rows["untouched"]


# --------------------------------------------------------------------------- issue 13


def test_text_cells_cannot_be_formulas():
    for text in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"]:
        assert grade.text_cell(text) == "'" + text
        assert grade.text_cell(grade.text_cell(text)) == "'" + text  # merge re-applies
    for text in ["ada", "", "1-2", "'quoted", "zoë"]:
        assert grade.text_cell(text) == text


def test_merge_escapes_shards_written_before_the_fix(tmp_path):
    """A shard from an older grader has raw formulas: merge escapes its text columns and
    leaves its points alone."""
    shard = tmp_path / "old"
    (shard / "feedback").mkdir(parents=True)
    (shard / "grades.csv").write_text(
        'student,t1,total,max,notes\n"=HYPERLINK(""x"")",2,2,2,"-cmd"\nbob,0,0,2,\n',
        encoding="utf-8",
    )
    assert grade.merge([shard], tmp_path / "all") == 2
    with open(tmp_path / "all" / "grades.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows == [
        ["student", "t1", "total", "max", "notes"],
        ["'=HYPERLINK(\"x\")", "2", "2", "2", "'-cmd"],
        ["bob", "0", "0", "2", ""],
    ]


@pytest.mark.parametrize(
    "content, note",
    [
        ("", "not valid JSON (line 1, column 1)"),
        ("[" * 100_000, "not valid JSON"),
        (b"\xff\xfe{", "not UTF-8 text"),
        ('{"cells": 3}', "not a Jupyter notebook"),
        (
            '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": ['
            '{"cell_type": "markdown", "metadata": {}, "source": "' + "x" * (10 * 1024**2) + '"}]}',
            "over 10 MB of code (outputs do not count)",
        ),
    ],
)
def test_every_refused_submission_says_why(tmp_path, content, note):
    path = tmp_path / "s.ipynb"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    nb, why = grade.read_submission(path)
    assert nb is None and why.startswith("invalid notebook: ") and note in why, why


def test_outputs_are_dropped_before_the_size_limit(tmp_path):
    path = tmp_path / "s.ipynb"
    nbformat.write(with_outputs(student(), 30), path)
    assert path.stat().st_size > 3 * grade.MAX_CODE_BYTES
    nb, why = grade.read_submission(path)
    assert why == "" and all(c.get("outputs", []) == [] for c in nb.cells)
    assert sum(len(c.source) for c in nb.cells) == sum(len(c.source) for c in student().cells)


def test_only_regular_files_are_read(tmp_path):
    (tmp_path / "link.ipynb").symlink_to(SOLUTION)
    (tmp_path / "dir.ipynb").mkdir()
    os.mkfifo(tmp_path / "fifo.ipynb")
    for name in ("link", "dir", "fifo"):
        assert grade.read_submission(tmp_path / f"{name}.ipynb") == (None, "not a regular file")


def test_the_grader_never_follows_a_link_out_of_the_work_folder(tmp_path):
    """The work folder is the student's: a pytest.log replaced by a link to a file only the
    grader may read must not be copied into the instructor's logs."""
    (tmp_path / "pytest.log").symlink_to(SOLUTION)
    assert grade.log_tail(tmp_path) == ""


# The answer key ---------------------------------------------------------------------------


def test_canonical_solutions_are_never_flagged_as_using_the_library():
    """No false positive on the instructor's own answers (nor on the blank exercise)."""
    for path in ALL_SOLUTIONS:
        canonical = grade.load_canonical(path)
        for cell in canonical.nb.cells:
            if cell.id in canonical.solution_cells:
                assert answer_key.uses_library(cell.source, canonical.library_names) == [], (
                    path.name,
                    cell.id,
                )
        rebuilt, notes = grade.rebuild(canonical, make_exercise(canonical.nb))
        assert not any(grade.LIBRARY_NOTE in n for n in notes), (path.name, notes)


CHEATS = {
    "import": "import scratchnn.losses as L\ndef f(a):\n    return L.huber(a, a)",
    "from": "from scratchnn.losses import huber\ndef f(a):\n    return huber(a, a)",
    "alias": "def f(a):\n    return reference.huber(a, a)",
    "helper": "def f(a):\n    return reference_run(a)",
    "expected": "def f(a):\n    return expected",
    "__import__": "def f(a):\n    return __import__('scratch' + 'nn').losses.huber(a, a)",
    "importlib": "import importlib\ndef f(a):\n    return importlib.import_module(name)",
    "globals": "def f(a):\n    return globals()['reference'].huber(a, a)",
    "eval": "def f(a):\n    return eval('reference.huber(a, a)')",
    "sys.modules": "import sys\ndef f(a):\n    return sys.modules[k]",
    "__globals__": "def f(a):\n    return erf.__globals__['gelu'](a)",
    "magic": "%time x = 1\nimport scratchnn",
}
HONEST = {
    "comment and docstring": (
        '# not scratchnn\ndef f(a):\n    """Unlike scratchnn."""\n    return a'
    ),
    "own variable named like the oracle": "def f(a):\n    reference = a\n    return reference",
    "a helper the exercise provides": "def f(a):\n    return erf(a)",
    "a keyword that is a taken name": "def f(a):\n    return g(a, mode='expected')",
}


@pytest.mark.parametrize("name", CHEATS)
def test_static_detection_of_the_library(name):
    setup = [
        "import scratchnn.losses as reference\nfrom scratchnn.activations import erf\n"
        "def reference_run(x):\n    return reference.huber(x, x)\n"
        "expected = reference_run(1)"
    ]
    taken = answer_key.library_names(setup)
    assert taken == {"reference", "reference_run", "expected"}
    assert answer_key.uses_library(CHEATS[name], taken), name


@pytest.mark.parametrize("name", HONEST)
def test_static_detection_lets_honest_code_through(name):
    taken = frozenset({"reference", "reference_run", "expected"})
    assert answer_key.uses_library(HONEST[name], taken) == [], name


@pytest.mark.slow
def test_library_calls_earn_nothing_in_chapter_03(tmp_path):
    """Issue 13's measurement: graded functions that only call scratchnn.losses earned 20 of
    24 points. Now their tests earn nothing; the honestly solved functions keep theirs."""
    solution = ROOT / "solutions" / "03_losses.ipynb"
    canonical = grade.load_canonical(solution)
    import scratchnn.losses as losses

    nb = make_exercise(canonical.nb)
    answers = {c.id: c.source for c in canonical.nb.cells if is_solution_cell(c)}
    cheated = set()
    for cell in nb.cells:
        if cell.get("id") in answers:
            name = canonical.solution_cells[cell.id][0]
            cell.source = answers[cell.id]
            if hasattr(losses, name):
                cheated.add(name)
                cell.source = (
                    f"import scratchnn.losses as L\n\ndef {name}(*args, **kwargs):\n"
                    f"    return L.{name}(*args, **kwargs)\n"
                )
    assert cheated == {"huber", "huber_gradient", "categorical_crossentropy"}
    row, out = grade_one(solution, nb, "library_only", tmp_path)
    lost = [t for t in canonical.tests if t.id.startswith(("huber", "cce"))]
    assert float(row["total"]) == canonical.max_points - sum(t.points for t in lost) > 0
    assert row["notes"].count("imports the course's library") == 3, row["notes"]
    # The assignment no longer imports the library, so the sandbox hides it as well (#16).
    assert not canonical.imports_library
    hidden = json.loads((out / "run.json").read_text())["library_hidden"]
    assert hidden is (sandbox.probe()[0] == "bwrap")


TINY_SETUP = "import course\nimport numpy as np\nfrom course.testing import check_close\n"
TINY_SOLUTION = (
    'def double(x):\n    """Twice x."""\n    ### BEGIN SOLUTION\n    return 2 * x\n'
    "    ### END SOLUTION\n"
)
TINY_TEST = 'check_close("double(3)", double(np.array([3.0])), [6.0], tol=0)\n'


def tiny_canonical(folder: Path) -> Path:
    """An assignment that, as #16 will make every one, does not import scratchnn."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(TINY_SETUP, id="setup"),
        nbformat.v4.new_code_cell(TINY_SOLUTION, id="double-solution"),
        nbformat.v4.new_code_cell(
            TINY_TEST,
            id="double-visible",
            metadata={"tags": ["test"], "grading": {"id": "double_visible", "points": 1}},
        ),
    ]
    path = folder / "tiny.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.skipif(sandbox.probe()[0] != "bwrap", reason="hiding folders needs bubblewrap")
def test_the_library_is_out_of_reach_when_the_assignment_does_not_import_it(tmp_path):
    """The runtime layer: code that slips past the static check (a name built at run time)
    still finds no library in the sandbox, by import or by path."""
    solution = tiny_canonical(tmp_path)
    assert not grade.load_canonical(solution).imports_library
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    sneaky = {
        "honest": TINY_SOLUTION,
        "by_path": (
            "import os, course\ndef double(x):\n    root = os.path.dirname(os.path.dirname("
            "course.__file__))\n    open(os.path.join(root, 'scratch' + 'nn', "
            "'losses.py')).read(1)\n    return 2 * x\n"
        ),
        "by_import": (
            "import importlib\ndef double(x):\n    importlib.__dict__['import_' + "
            "'module']('scratch' + 'nn.losses')\n    return 2 * x\n"
        ),
    }
    for name, source in sneaky.items():
        nb = nbformat.read(solution, as_version=4)
        nb.cells[1].source = source
        nbformat.write(nb, subs / f"{name}.ipynb")
    for name in sneaky:  # the static layer misses these: the sandbox has to hold
        assert answer_key.uses_library(sneaky[name]) == [], name
    done = run_grade(solution, subs, "--out", out, "--jobs", "1", "--cell-timeout", "10")
    assert done.returncode == 0, done.stderr
    with open(out / "grades.csv", newline="", encoding="utf-8") as fh:
        rows = {row["student"]: row for row in csv.DictReader(fh)}
    assert {name: rows[name]["total"] for name in sneaky} == {
        "honest": "1",
        "by_path": "0",
        "by_import": "0",
    }
    assert json.loads((out / "run.json").read_text())["library_hidden"] is True


def test_sandboxed_python_cannot_import_a_hidden_library(tmp_path):
    if sandbox.probe()[0] != "bwrap":
        pytest.skip("hiding folders needs bubblewrap")
    hide = grade.hidden_paths(SOLUTION, tmp_path, tmp_path, hide_library=True)
    assert (ROOT / "scratchnn").resolve() in hide
    check = (
        "import course.testing\ntry:\n    import scratchnn.losses\nexcept ImportError:\n"
        "    print('blocked')\n"
    )
    argv = sandbox.wrap([sandbox.python(), "-c", check], tmp_path, list(hide), sandbox.Limits())
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "blocked", done.stderr


# Throughput: start-up is most of a grading run's CPU ---------------------------------------

KERNEL_CHECK = (
    "import sys\n"
    "from course.testing import check_true\n"
    'check_true("the grading kernel", sys.modules.get("debugpy", 0) is None and '
    'not get_ipython().history_manager.enabled, "ipykernel_launcher ran this notebook")\n'
)


def test_submissions_run_in_the_grading_kernel(tmp_path):
    """course/grading/kernel.py: no debugger (debugpy's import and its `uname` subprocess) and
    no history database, ~0.1 s of CPU per submission."""
    solution = tiny_canonical(tmp_path)
    nb = nbformat.read(solution, as_version=4)
    grading = {"id": "grading_kernel", "points": 1}
    nb.cells.append(
        nbformat.v4.new_code_cell(
            KERNEL_CHECK, id="kernel", metadata={"tags": ["test"], "grading": grading}
        )
    )
    nbformat.write(nb, solution)
    row, out = grade_one(solution, solution, "honest", tmp_path)
    assert row["grading_kernel"] == "1", (out / "logs" / "honest.log").read_text()
    assert row["total"] == "2"


# The grading driver (course/grading/driver.py) -----------------------------------------------


def job_with_kernel(folder: Path, command: list[str]) -> driver.Job:
    """A job grading the canonical notebook whose kernel is ``command``, run in the sandbox
    (``{job_dir}`` in it: the work folder as the sandbox shows it)."""
    driver_dir, work = folder / "driver", folder / "work"
    driver_dir.mkdir(mode=0o700)
    (work / "home").mkdir(parents=True)
    (driver_dir / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    shutil.copyfile(SOLUTION, driver_dir / "submission.ipynb")
    sandbox.prepare_workdir(work)
    job_dir = sandbox.job_dir(work)
    command = [part.replace("{job_dir}", job_dir) for part in command]
    return driver.Job(
        pytest_args=grade.pytest_args(str(driver_dir), 30),
        driver_dir=str(driver_dir),
        workdir=str(work),
        kernel_argv=sandbox.wrap(command, work, [], sandbox.Limits()),
        kernel_env=grade.sandbox_env(job_dir),
        connection_file=str(work / "kernel.json"),
        owner=sandbox.sandbox_uid(None) if os.geteuid() == 0 else None,
        memory_bytes=2 * 1024**3,
        cpu_seconds=60,
    )


def stuck_kernel_job(folder: Path, marker: str) -> driver.Job:
    """A "kernel" that is a sleep in the sandbox and never answers: the driver waits for it
    until the per-notebook timeout kills the driver."""
    return job_with_kernel(folder, ["sleep", marker])


FIRST_START_FAILS = (
    'if [ -e {job_dir}/tried ]; then exec "$0" "$@"; fi; touch {job_dir}/tried; '
    "echo 'sandbox hiccup' >&2; exit 1"
)


def test_a_kernel_that_dies_before_it_starts_is_started_once_more(tmp_path):
    """No student code has run when a kernel exits before it answers: one more start, and
    the kernel's own output (here the stand-in hiccup) is in the driver's kernel.log."""
    kernel = grade.kernel_command("{job_dir}")
    job = job_with_kernel(tmp_path, ["sh", "-c", FIRST_START_FAILS, *kernel])
    data, timed_out, code = driver.run(job, 120)
    result = grade.score(CANONICAL, "x", grade.parse_records(data), timed_out, code, [])
    assert all(result.passed.values()), grade.log_tail(Path(job.driver_dir))
    kernel_log = (Path(job.driver_dir) / "kernel.log").read_text()
    assert "sandbox hiccup" in kernel_log and "starting the kernel once more" in kernel_log


def processes_running(marker: str) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        try:
            if entry.name.isdigit() and marker in Path(entry.path, "cmdline").read_text():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def grade_here(folder: Path) -> grade.StudentResult:
    """The canonical notebook graded by this process's fork server."""
    folder.mkdir(mode=0o711)
    records, timed_out, code, _ = grade.run_notebook(CANONICAL.nb, folder, grade.Options(), 0)
    return grade.score(CANONICAL, "here", records, timed_out, code, [])


def test_a_driver_past_the_timeout_dies_with_its_kernel(tmp_path):
    """The per-notebook timeout kills the driver; the kernel's sandbox dies with it, and the
    fork server goes on serving (a correct submission then gets full marks)."""
    marker = f"{time.time_ns() % 10**6 + 1000}.5"  # a sleep no one else runs
    result = {}
    worker = threading.Thread(
        target=lambda: result.update(run=driver.run(stuck_kernel_job(tmp_path, marker), 10))
    )
    worker.start()
    deadline = time.monotonic() + 8  # room for a loaded machine (make test runs two workers)
    while not processes_running(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_running(marker), "the stuck kernel never started"
    worker.join()
    data, timed_out, code = result["run"]
    assert timed_out and code == -9
    assert [r["event"] for r in grade.parse_records(data)] == ["start"]
    deadline = time.monotonic() + 5
    while processes_running(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not processes_running(marker)
    assert all(grade_here(tmp_path / "after").passed.values())


def test_a_fork_server_that_cannot_start_stops_the_grader(tmp_path):
    """A broken grading environment (here nbval fails to import in the fork server) is the
    grader's failure, exit 2 with the server's own error, not a class of zeros."""
    broken = tmp_path / "broken" / "nbval"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('nbval is broken here')\n")
    (tmp_path / "subs").mkdir()
    shutil.copyfile(SOLUTION, tmp_path / "subs" / "correct.ipynb")
    done = subprocess.run(
        [sys.executable, "-m", "course", "grade", str(SOLUTION), str(tmp_path / "subs")]
        + ["--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(broken.parent)},
        timeout=180,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "fork server did not start" in done.stderr and "nbval is broken here" in done.stderr
    assert not (tmp_path / "out" / "grades.csv").exists()


def test_a_dead_fork_server_is_restarted(tmp_path):
    """A job running when the fork server dies ends as abnormal, at once; the next job
    starts a new server."""
    marker = f"{time.time_ns() % 10**6 + 1000}.25"
    server = driver.server()
    result = {}
    worker = threading.Thread(
        target=lambda: result.update(run=server.run(stuck_kernel_job(tmp_path, marker), 60))
    )
    worker.start()
    time.sleep(1)
    server._process.kill()
    worker.join(timeout=10)
    assert result["run"] == (False, driver.SERVER_DIED)
    assert driver.server() is not server and driver.server().alive()
    assert all(grade_here(tmp_path / "after").passed.values())


@pytest.mark.slow
def test_the_bench_says_when_nbgrader_is_missing(tmp_path, monkeypatch):
    """make bench grades beside nbgrader; without .venv-nbgrader it says so and goes on."""
    from course.bench import grading as bench

    monkeypatch.setattr(bench, "NBGRADER_VENV", tmp_path / "no-venv")
    rows = dict(bench.bench_grading(copies=2))
    assert rows["nbgrader autograde"].startswith("not measured: no .venv-nbgrader")
    assert float(rows["course grade, 2 submissions, --jobs 2: submissions/min"]) > 0
    assert not [label for label in rows if label.startswith("per core")]
    # The plugin reports the CPU time of the driver and of the kernel's sandbox; the bench
    # adds the grader's own and its fork server's.
    driven = float(rows["CPU s/submission, course (driver + sandboxed kernel)"])
    assert 0.05 < driven < float(rows["CPU s/submission, course (all: grader, fork server too)"])


# No sandbox -------------------------------------------------------------------------------

HARNESS = r"""set -eu
# Python under a mode-700 home (pyenv in /root) is out of reach of any other user: bring it
# back for them, in this private mount namespace only, as a normal install would have it.
if [ -n "${EXPOSE:-}" ]; then
  spare=$(mktemp -d)
  mount --bind "$EXPOSE" "$spare"
  mount -t tmpfs -o mode=0755 tmpfs /root
  mkdir -p "$EXPOSE"
  mount --move "$spare" "$EXPOSE"
fi
export PATH="$STUBS:$PATH"
"$@"   # not exec: as PID 1 of the namespace the grader would be immune to kill(-1)
"""


def _unreachable_by_others(path: Path) -> Path | None:
    """``path`` when it lies under a /root that other users cannot enter (pyenv), else None."""
    closed = not os.stat("/root").st_mode & 0o001
    return path if closed and path.is_relative_to("/root") else None


def grade_without_sandbox(tmp_path: Path, subs: Path, *extra: str) -> subprocess.CompletedProcess:
    """``python -m course grade`` where bwrap and unshare are stand-ins that fail, inside
    a PID namespace of its own (kill(-1) cannot reach beyond it) and a private mount
    namespace. Run as root; elsewhere a user namespace maps the caller to root."""
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for name in ("bwrap", "unshare"):
        (stubs / name).write_text(
            f"#!/bin/sh\necho 'stand-in {name}: namespaces are forbidden here' >&2\nexit 1\n",
            encoding="utf-8",
        )
        (stubs / name).chmod(0o755)
    (tmp_path / "harness.sh").write_text(HARNESS, encoding="utf-8")
    expose = _unreachable_by_others(Path(sys.base_prefix).resolve())
    env = {**os.environ, "STUBS": str(stubs), "EXPOSE": str(expose or "")}
    namespaces = ["--pid", "--fork", "--mount-proc"]
    if os.geteuid() != 0:
        namespaces = ["--user", "--map-root-user", *namespaces]
    return subprocess.run(
        [
            shutil.which("unshare", path="/usr/bin:/bin"),
            *namespaces,
            "bash",
            str(tmp_path / "harness.sh"),
            sys.executable,
            "-m",
            "course",
            "grade",
            str(SOLUTION),
            str(subs),
            "--out",
            str(tmp_path / "out"),
            "--jobs",
            "2",
            "--cell-timeout",
            "6",
            "--timeout",
            "60",
            *extra,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )


def _can_unshare() -> bool:
    flags = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    try:
        return (
            subprocess.run(
                ["unshare", *flags, "--pid", "--fork", "--mount-proc", "true"],
                capture_output=True,
                timeout=30,
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


needs_unshare = pytest.mark.skipif(not _can_unshare(), reason="needs unshare --pid")


@pytest.fixture
def precious():
    """A throw-away, root-owned folder that any user can see but not change."""
    base = Path(tempfile.mkdtemp(prefix="precious-", dir="/tmp"))
    os.chmod(base, 0o755)
    (base / "keep").mkdir(mode=0o755)
    (base / "keep" / "file").write_text("do not delete", encoding="utf-8")
    yield base
    shutil.rmtree(base, ignore_errors=True)


def hostile_class(subs: Path, precious: Path) -> None:
    """A correct student, and one whose last function deletes a folder and kills every
    process it may signal; one more leaves a daemon behind that keeps killing."""
    subs.mkdir()
    nbformat.write(student(), subs / "correct.ipynb")
    nbformat.write(
        student(
            {
                "sgd_step": replace_body(
                    "sgd_step",
                    f"""
import os, shutil, signal
shutil.rmtree({str(precious)!r}, ignore_errors=True)
os.kill(-1, signal.SIGKILL)""",
                )
            }
        ),
        subs / "hostile.ipynb",
    )
    nbformat.write(student({"dense_forward": DAEMON}), subs / "a_daemon.ipynb")


# A right answer, plus a daemon that outlives its own grading run (new session: not in the
# process group the grader kills) and then kills whatever its user id runs next.
DAEMON = """import os, signal, time

def dense_forward(x, kernel, bias):
    return x @ kernel + bias

grading_run = os.getppid()   # the kernel's parent: this student's grading driver
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        while True:
            try:
                os.kill(grading_run, 0)
            except ProcessLookupError:
                break
            except PermissionError:  # alive, and the grader's (root's)
                pass
            time.sleep(0.1)
        end = time.time() + 40
        while time.time() < end:
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
            time.sleep(0.2)
    os._exit(0)
"""


@needs_unshare
def test_no_sandbox_means_no_grading(tmp_path, precious):
    """Neither bubblewrap nor unshare works: the grader refuses, says how to fix it, and
    runs nothing."""
    hostile_class(tmp_path / "subs", precious)
    done = grade_without_sandbox(tmp_path, tmp_path / "subs")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no sandbox works on this machine" in done.stderr
    assert "stand-in bwrap: namespaces are forbidden here" in done.stderr
    assert "apt-get install bubblewrap" in done.stderr and "--no-sandbox" in done.stderr
    assert not (tmp_path / "out").exists()
    assert (precious / "keep" / "file").exists()


@needs_unshare
@pytest.mark.slow
@pytest.mark.skipif(
    os.geteuid() != 0,
    reason="as a non-root user there is no other user to "
    "drop to: --no-sandbox then runs student code as you (documented)",
)
def test_no_sandbox_flag_still_confines_student_code(tmp_path, precious):
    """--no-sandbox as root: student code runs as an unprivileged user with the rlimits, so
    the deletion fails, kill(-1) reaches only that student's own processes (not the kernel
    itself, nor the grading driver, which is root's: the run completes), and a daemon left
    behind is killed before its user id grades anyone else."""
    hostile_class(tmp_path / "subs", precious)
    start = time.perf_counter()
    done = grade_without_sandbox(tmp_path, tmp_path / "subs", "--no-sandbox")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING: NO SANDBOX" in done.stderr
    assert (precious / "keep" / "file").read_text(encoding="utf-8") == "do not delete"
    with open(tmp_path / "out" / "grades.csv", newline="", encoding="utf-8") as fh:
        rows = {row["student"]: row for row in csv.DictReader(fh)}
    assert float(rows["correct"]["total"]) == FULL, rows["correct"]
    assert float(rows["a_daemon"]["total"]) == FULL, rows["a_daemon"]
    hostile = {t for t in TEST_IDS if float(rows["hostile"][t]) > 0}
    assert hostile == without(TEST_IDS, "sgd_step"), rows["hostile"]
    assert rows["hostile"]["notes"] == "", rows["hostile"]
    run = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert run["isolation"] == "none" and run["no_sandbox_flag"] is True
    assert "unprivileged user id" in run["student_code_runs_as"]
    assert time.perf_counter() - start < 120


@pytest.mark.skipif(sandbox.probe()[0] != "bwrap", reason="needs a working bubblewrap")
def test_probe_works_with_a_symlinked_virtualenv(tmp_path):
    """A checkout under /tmp whose .venv is a symlink to a virtualenv elsewhere under /tmp
    (bwrap could not bind the venv onto the link the checkout's bind had brought)."""
    checkout, real = tmp_path / "checkout", tmp_path / "venvs" / "real"
    checkout.mkdir()
    for package in ("course", "scratchnn"):
        shutil.copytree(
            ROOT / package, checkout / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(real)], check=True)
    site = next(real.glob("lib/python*/site-packages"))
    ours = sysconfig.get_paths()["purelib"]
    (site / "link.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    (checkout / ".venv").symlink_to(real)
    done = subprocess.run(
        [
            str(checkout / ".venv" / "bin" / "python"),
            "-c",
            "from course.grading import sandbox; print(sandbox.__file__); "
            "print(sandbox.probe()[0])",
        ],
        capture_output=True,
        text=True,
        cwd=checkout,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(checkout)},
    )
    assert done.stdout.split() == [str(checkout / "course" / "grading" / "sandbox.py"), "bwrap"], (
        done.stderr
    )


@pytest.mark.skipif(sandbox.probe()[0] != "bwrap", reason="needs a working bubblewrap")
def test_probe_refuses_a_checkout_the_sandboxed_user_cannot_read(tmp_path):
    """A checkout the sandboxed user cannot read (a mode-700 folder, here just one module
    of the course package): every cell would fail, a silent zero. The probe imports what the
    kernel imports, so bwrap is reported as not working, with the reason."""
    checkout = tmp_path / "checkout"
    shutil.copytree(
        ROOT / "course", checkout / "course", ignore=shutil.ignore_patterns("__pycache__")
    )
    (checkout / "course" / "checks.py").chmod(0o600)  # root's only
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from course.grading import sandbox; print(sandbox.try_wrapper('bwrap'))",
        ],
        capture_output=True,
        text=True,
        cwd=checkout,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(checkout)},
    )
    assert "Permission denied" in done.stdout and "checks.py" in done.stdout, (
        done.stdout + done.stderr
    )


def test_process_limit_leaves_the_non_root_graders_own_processes_out(monkeypatch):
    """Not root, every process and thread of the grader's user counts against RLIMIT_NPROC
    (measured: with 150 of them a plain limit of 128 scored every submission 0): the limit is
    what the user runs now plus the allowance. As root each slot has its own user id."""
    limits = sandbox.Limits()
    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(sandbox.os, "getuid", lambda: 1000)
    monkeypatch.setattr(sandbox, "_tasks_of", lambda uid: 300 if uid == 1000 else 0)
    assert sandbox.process_limit(limits) == 300 + limits.processes
    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 0)
    assert sandbox.process_limit(limits) == limits.processes


@pytest.mark.skipif(os.geteuid() != 0, reason="runs a process as another user id")
def test_tasks_of_counts_the_threads_of_one_user_id():
    uid = 1_899_999_999  # below the grader's slot ids: no other process has it
    code = "import threading, time; [threading.Thread(target=time.sleep, args=(30,)).start() "
    code += "for _ in range(3)]; print('up', flush=True); time.sleep(30)"
    child = subprocess.Popen(
        [
            "setpriv",
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            sys.executable,
            "-c",
            code,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline() == "up\n"
        assert sandbox._tasks_of(uid) == 4  # the main thread and three more
    finally:
        child.kill()
        child.wait()
    assert sandbox._tasks_of(uid) == 0
