"""The grader, against honest, buggy, broken and hostile submissions.

Every fixture is generated here from solutions/00_foundations.ipynb into a temporary
folder: a student notebook is the exercise with some solution cells filled in. One batch
grades them all (``--jobs 2``, short timeouts), then each test reads its student's row.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT
from course import grading, sandbox
from course.exercises import is_solution_cell, make_exercise

SOLUTION = ROOT / "solutions" / "00_foundations.ipynb"
CANONICAL = grading.load_canonical(SOLUTION)
TEST_IDS = [t.id for t in CANONICAL.tests]
FULL = CANONICAL.max_points
POINTS = {t.id: t.points for t in CANONICAL.tests}
FUNCTIONS = ("dense_forward", "dense_backward", "numerical_gradient", "sgd_step")


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


def make_submissions(folder: Path, other_student_file: Path) -> dict[str, tuple]:
    """Write the adversarial class. Returns student -> (expected passing test ids, note part)."""
    all_ids = set(TEST_IDS)
    cases: dict[str, tuple] = {}

    def add(name, nb, passing, note=""):
        nbformat.write(nb, folder / f"{name}.ipynb")
        cases[name] = (set(passing), note)

    add("correct", student(), all_ids)
    add("blank", make_exercise(CANONICAL.nb), set())
    add("three_bugs", student({
        "dense_forward": replace_body("dense_forward", "return x @ kernel  # forgot the bias"),
        "dense_backward": replace_body("dense_backward",
                                       "return dy @ kernel.T, dy.T @ x, dy.sum(axis=0)"),
        "numerical_gradient": replace_body("numerical_gradient", """
grad = np.zeros_like(x)
f0 = f(x)
for i in np.ndindex(x.shape):
    saved = x[i]
    x[i] = saved + eps
    grad[i] = (f(x) - f0) / eps   # one-sided
    x[i] = saved
return grad"""),
    }), {"sgd_step_visible", "sgd_step_hidden"})

    edited = make_exercise(CANONICAL.nb)  # blank answers, tests "fixed" to pass
    tests = [c for c in edited.cells if "test" in c.metadata.get("tags", [])]
    for cell in tests[:-1]:
        cell.source = 'print("✓ all good")'
    edited.cells.remove(tests[-1])
    edited.cells.reverse()
    add("edited_tests", edited, set(), "tests edited")

    add("hardcoded", student({"dense_forward": replace_body(
        "dense_forward", "return np.array([[3.6, -0.8, 1.3], [-1.4, 0.2, 0.8]])")}),
        all_ids - {"dense_forward_hidden"})

    add("infinite_loop", student({"dense_forward": replace_body("dense_forward", "while True:\n    pass")}),
        without(all_ids, "dense_forward"), "cell timeout")
    add("os_exit", student({"dense_backward": replace_body("dense_backward", "import os\nos._exit(0)")}),
        {"dense_forward_visible", "dense_forward_hidden"}, "kernel died")
    add("segfault", student({"sgd_step": replace_body("sgd_step", "import ctypes\nctypes.string_at(0)")}),
        without(all_ids, "sgd_step"), "kernel died")
    add("fork_bomb", student({"sgd_step": replace_body("sgd_step", "import os\nwhile True:\n    os.fork()")}),
        without(all_ids, "sgd_step"), "cell timeout")
    add("memory_bomb", student({"dense_backward": replace_body(
        "dense_backward", "hog = [bytearray(256 * 1024**2) for _ in range(64)]\nreturn hog")}),
        without(all_ids, "dense_backward"))
    add("huge_print", student({"numerical_gradient": replace_body(
        "numerical_gradient", 'print("x" * 1024**3)\nreturn np.zeros_like(x)')}),
        without(all_ids, "numerical_gradient"))
    # Full marks only if every escape attempt fails: the sandbox is what is being graded.
    add("snooper", student({"dense_forward": replace_body("dense_forward", f"""
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
return x @ kernel + bias""")}), all_ids)
    # Hides every error display: the kernel's execute_reply still says "error".
    add("traceback_hider", student({"dense_forward": """
import sys
ip = get_ipython()
ip.showtraceback = lambda *args, **kwargs: None
ip._showtraceback = lambda *args, **kwargs: None
sys.excepthook = lambda *args: None
def dense_forward(x, kernel, bias):
    raise NotImplementedError"""}, blank=("dense_backward",)), without(all_ids, "dense_forward", "dense_backward"))
    # Patches the in-kernel assert helpers: visible tests "pass", hidden output does not match.
    add("patched_asserts", student({"dense_forward": """
import numpy as np
check_close = lambda *args, **kwargs: print("✓")
check_true = lambda *args, **kwargs: print("✓")
def dense_forward(x, kernel, bias):
    return np.zeros((x.shape[0], kernel.shape[1]))"""}, blank=("dense_backward", "numerical_gradient", "sgd_step")),
        {"dense_forward_visible"})

    (folder / "invalid_json.ipynb").write_text('{"cells": [ this is not json', encoding="utf-8")
    cases["invalid_json"] = (set(), "invalid notebook")

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
        [sys.executable, "-m", "course", "grade", str(SOLUTION), str(subs), "--out", str(out),
         "--jobs", "2", "--cell-timeout", "6", "--timeout", "90"],
        capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    with open(out / "grades.csv", newline="", encoding="utf-8") as fh:
        rows = {row["student"]: row for row in csv.DictReader(fh)}
    return cases, rows, out, done


@pytest.mark.slow
def test_gradebook_header_and_rows(graded):
    cases, rows, out, _ = graded
    with open(out / "grades.csv", encoding="utf-8") as fh:
        assert fh.readline().strip() == ",".join(["student", *TEST_IDS, "total", "max", "notes"])
    assert set(rows) == set(cases)
    for name in cases:
        assert (out / "feedback" / f"{name}.md").exists()


CASE_NAMES = ["correct", "blank", "three_bugs", "edited_tests", "hardcoded", "infinite_loop",
              "os_exit", "segfault", "fork_bomb", "memory_bomb", "huge_print", "snooper", "traceback_hider",
              "patched_asserts", "invalid_json", "stripped", "zoë_ñandú"]


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
def test_feedback_never_reveals_hidden_tests(graded):
    _, _, out, _ = graded
    hidden_sources = [c.source for c in CANONICAL.nb.cells if "hidden-test" in c.metadata.get("tags", [])]
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
    assert "Score: **2 / 16**" in text
    assert "expected shape (2, 3), got shape (3, 2)" in text           # dkernel transposed
    assert "Hint:" in text and "wrong value at index" in text
    assert "| dense_forward_hidden | hidden | 0 / 2 | failed |" in text


# --------------------------------------------------------------------------- cheap cases

def run_grade(*args):
    return subprocess.run([sys.executable, "-m", "course", "grade", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT)


def test_empty_folder_gives_header_only(tmp_path):
    (tmp_path / "subs").mkdir()
    done = run_grade(SOLUTION, tmp_path / "subs", "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    lines = (tmp_path / "out" / "grades.csv").read_text(encoding="utf-8").splitlines()
    assert lines == [",".join(["student", *TEST_IDS, "total", "max", "notes"])]


@pytest.mark.parametrize("problem", ["missing_solution", "invalid_solution", "missing_folder",
                                     "bad_shard"])
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
    names = ["ana", "bo", "cy", "dee", "ed"]
    for name in names:
        (subs / f"{name}.ipynb").write_text("not a notebook", encoding="utf-8")
    outs = []
    for k in (1, 2):
        outs.append(tmp_path / f"shard{k}")
        assert run_grade(SOLUTION, subs, "--out", outs[-1], "--shard", f"{k}/2").returncode == 0
    shard_rows = [(o / "grades.csv").read_text(encoding="utf-8").splitlines()[1:] for o in outs]
    assert [r.split(",")[0] for r in shard_rows[0]] == ["ana", "cy", "ed"]
    assert [r.split(",")[0] for r in shard_rows[1]] == ["bo", "dee"]
    done = subprocess.run([sys.executable, "-m", "course", "merge", *map(str, outs), "--out",
                           str(tmp_path / "all")], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    merged = (tmp_path / "all" / "grades.csv").read_text(encoding="utf-8").splitlines()
    assert [r.split(",")[0] for r in merged[1:]] == names
    assert all(r.endswith(",0,16,invalid notebook") for r in merged[1:])
    assert sorted(p.stem for p in (tmp_path / "all" / "feedback").glob("*.md")) == names
    # merging a shard twice is refused rather than double-counting a student
    again = subprocess.run([sys.executable, "-m", "course", "merge", str(outs[0]), str(outs[0]),
                            "--out", str(tmp_path / "dup")], capture_output=True, text=True, cwd=ROOT)
    assert again.returncode == 2


def test_rebuild_takes_only_solution_cells():
    """Unit level: the student's edits to tests vanish, hidden tests come back, ids map."""
    nb = student()
    for cell in nb.cells:
        if "test" in cell.metadata.get("tags", []):
            cell.source = "pass"
    rebuilt, notes = grading.rebuild(CANONICAL, nb)
    assert [c.id for c in rebuilt.cells] == [c.id for c in CANONICAL.nb.cells]
    assert notes == ["tests edited (ignored: the canonical tests were run)"]
    for mine, original in zip(rebuilt.cells, CANONICAL.nb.cells):
        if not is_solution_cell(original):
            assert mine.source == original.source


def test_rebuild_strips_nbval_markers_from_student_cells():
    nb = student({"sgd_step": "# NBVAL_SKIP\n" + solution_sources()["sgd_step"]})
    rebuilt, _ = grading.rebuild(CANONICAL, nb)
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
    hidden = grading.hidden_paths(SOLUTION, submissions, out)
    assert (ROOT / "solutions").resolve() in hidden and (ROOT / ".git").resolve() in hidden
    assert submissions.resolve() in hidden and out.resolve() in hidden
    assert not any((ROOT / "course").resolve().is_relative_to(p) for p in hidden)
    assert not any((ROOT / "scratchnn").resolve().is_relative_to(p) for p in hidden)


ALL_SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("solution", ALL_SOLUTIONS, ids=lambda p: p.stem)
def test_every_assignment_grades_full_and_blank(tmp_path, solution):
    """Each assignment through the real grader: the solved exercise earns every point of
    every test (hidden ones included), the untouched exercise earns none."""
    canonical = grading.load_canonical(solution)
    answers = {c.id: c.source for c in canonical.nb.cells if is_solution_cell(c)}
    solved = make_exercise(canonical.nb)
    for cell in solved.cells:
        cell.source = answers.get(cell.get("id"), cell.source)   # a student who solved every stub
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
