"""Exercises are generated from solutions, stay in sync, and every graded test can fail."""

from __future__ import annotations

import copy
import re
import subprocess
import sys

import nbformat
import pytest

from conftest import ROOT
from course.build import answer_key, bootstrap, exercises
from course.grading import grade
from course.build.exercises import graded_tests_passing_blank as passing_blank
from course.build.exercises import make_exercise, stub_source
from course.testing import check_close

SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
SANITIZE = ROOT / "course" / "nbval_sanitize.cfg"
EXERCISES = sorted((ROOT / "exercises").glob("[0-9][0-9]_*.ipynb"))
# Graded functions per assignment: one more than before issue #16 added a task that applies
# or extends its chapter (tanh backward, variance-preserving scale, PReLU with shared slopes,
# focal loss, Adamax, layer-norm backward, choosing λ, MC-dropout uncertainty, merging units);
# chapter 09 (issue 17) has one from the start: the receptive field of a conv stack.
MIN_FUNCTIONS = {
    "00": 5,
    "01": 5,
    "02": 5,
    "03": 6,
    "04": 6,
    "05": 5,
    "06": 5,
    "07": 6,
    "08": 5,
    "09": 6,
}


def read(path):
    return nbformat.read(path, as_version=4)


# --------------------------------------------------------------------------- stubbing


def test_stub_keeps_signature_and_docstring():
    source = (
        'def f(x):\n    """Doc."""\n    y = 1\n'
        "    ### BEGIN SOLUTION\n    return x + y\n    ### END SOLUTION\n"
    )
    assert stub_source(source) == (
        'def f(x):\n    """Doc."""\n    y = 1\n    raise NotImplementedError("write f() here")\n'
    )


@pytest.mark.parametrize(
    "source",
    [
        "### BEGIN SOLUTION\nx = 1\n",
        "x = 1\n### END SOLUTION\n",
        "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n",
    ],
)
def test_stub_rejects_unbalanced_markers(source):
    with pytest.raises(ValueError):
        stub_source(source)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_exercise_has_no_solutions_hidden_tests_or_outputs(path):
    solution = read(path)
    exercise = make_exercise(solution)
    hidden_ids = {c.id for c in solution.cells if exercises.is_hidden_test(c)}
    assert hidden_ids, "a solution notebook needs at least one hidden test"
    assert [c.id for c in exercise.cells] == [
        c.id for c in solution.cells if c.id not in hidden_ids
    ]
    for cell in exercise.cells:
        assert "### BEGIN SOLUTION" not in cell.source and "### END SOLUTION" not in cell.source
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    solution_cells = [c for c in solution.cells if exercises.is_solution_cell(c)]
    functions = [f for c in solution_cells for f in exercises.defined_functions(c.source)]
    assert len(functions) >= MIN_FUNCTIONS[path.name[:2]], functions
    for cell in solution_cells:
        stub = next(c for c in exercise.cells if c.id == cell.id).source
        assert "raise NotImplementedError" in stub
        assert stub.split("\n")[0] == cell.source.split("\n")[0]  # the def line survives


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_solution_notebook_conventions(path):
    """Graded cells carry ids and points; the notebook imports only numpy and course."""
    nb = read(path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    setup = bootstrap.strip_guard(code[0].source)  # the hosted-launch guard comes first
    first_lines = [line for line in setup.splitlines() if line.strip()]
    assert first_lines[:2] == ["import course", "rng = course.setup(seed=0, keras=False)"]
    ids = [c.id for c in nb.cells]
    assert len(set(ids)) == len(ids)
    allowed = {"numpy", "course"} | set(sys.stdlib_module_names)
    for cell in code:
        for line in cell.source.splitlines():
            if line.startswith(("import ", "from ")):  # no TensorFlow: kernels start in ~1 s
                assert line.split()[1].split(".")[0] in allowed, line
    for cell in filter(exercises.is_test, code):
        grading = cell.metadata["grading"]
        assert grading["id"] and grading["points"] > 0
        if exercises.is_hidden_test(cell):
            assert cell.source.startswith("# NBVAL_CHECK_OUTPUT\n")
            assert cell.execution_count is not None and cell.outputs, (
                "hidden outputs must be stored"
            )


@pytest.mark.parametrize("path", SOLUTIONS + EXERCISES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_assignment_reaches_the_answer_key(path):
    """Neither the student's notebook nor the instructor's imports scratchnn (issue #16), so
    the grader hides the library from every graded kernel."""
    nb = read(path)
    sources = [c.source for c in nb.cells if c.cell_type == "code"]
    assert not answer_key.imports_library(sources), [s for s in sources if "scratchnn" in s]
    if path.parent.name == "solutions":
        assert not grade.load_canonical(path).imports_library


MYST_ROLE = re.compile(r"\{[a-z][\w:-]*\}`")


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.name)
def test_exercise_notebook_stands_alone(path):
    """What a student who has only this file needs: objectives, time, how to install and run,
    what hidden tests are, the points; and Markdown that plain Jupyter renders (no MyST roles)."""
    nb = read(path)
    intro = nb.cells[0].source
    for needed in [
        "**You will**",
        "minutes",
        "pip install",
        "Hidden tests",
        "**Points**",
        "../book/how-to-use.md",
    ]:
        assert needed in intro, needed
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert not MYST_ROLE.search(markdown), MYST_ROLE.search(markdown).group(0)
    total = sum(
        c.metadata["grading"]["points"]
        for c in read(ROOT / "solutions" / path.name).cells
        if exercises.is_test(c)
    )
    assert f"**Points** ({total} in all" in intro


def test_stand_alone_check_catches_a_myst_role():
    assert MYST_ROLE.search("as {cite:t}`srivastava2014` show") and MYST_ROLE.search("{doc}`x`")
    assert not MYST_ROLE.search("a set {1, 2} and `code`")


# --------------------------------------------------------------------------- test helpers


def test_check_close_names_a_matching_slip():
    slips = {"used the textbook ½λ‖w‖²": [0.5], "forgot the penalty": [0.0]}
    check_close("penalty", [1.0], [1.0], tol=1e-12, slips=slips)  # right: no error
    with pytest.raises(AssertionError, match="exactly what you get when you used the textbook"):
        check_close("penalty", [0.5], [1.0], tol=1e-12, hint="generic", slips=slips)
    with pytest.raises(AssertionError, match="Hint: generic"):  # no slip matches
        check_close("penalty", [0.7], [1.0], tol=1e-12, hint="generic", slips=slips)
    with pytest.raises(AssertionError, match="(?s)shape .*exactly what you get when you summed"):
        check_close("dbias", [1.0, 2.0], [1.0, 2.0, 3.0], slips={"summed the wrong axis": [1, 2]})


# --------------------------------------------------------------------------- sync


def test_exercises_in_sync():
    """`python -m course exercises --check` passes on the committed tree."""
    done = subprocess.run(
        [sys.executable, "-m", "course", "exercises", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_sync_check_detects_a_stale_exercise(tmp_path):
    """The check itself can fail: a hand-edited exercise and a missing one are reported."""
    (tmp_path / "solutions").mkdir()
    (tmp_path / "exercises").mkdir()
    for path in SOLUTIONS:
        (tmp_path / "solutions" / path.name).write_bytes(path.read_bytes())
    expected = exercises.build(tmp_path / "solutions", tmp_path / "exercises")
    assert exercises.stale(expected, tmp_path / "exercises") == [f"missing: {p}" for p in expected]
    for path, text in expected.items():
        path.write_text(text, encoding="utf-8")
    assert exercises.stale(expected, tmp_path / "exercises") == []
    first = next(iter(expected))
    first.write_text(
        expected[first].replace("raise NotImplementedError", "pass  #"), encoding="utf-8"
    )
    assert exercises.stale(expected, tmp_path / "exercises") == [f"out of date: {first}"]


def test_generation_is_deterministic(tmp_path):
    once = exercises.build(ROOT / "solutions", tmp_path)
    twice = exercises.build(ROOT / "solutions", tmp_path)
    assert once == twice and all(text.endswith("\n") for text in once.values())


# --------------------------------------------------------------------------- no vacuous test


@pytest.mark.slow
@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_every_graded_test_fails_on_the_blank_exercise(path):
    assert passing_blank(read(path), path.parent) == []


@pytest.mark.slow
def test_blank_check_detects_a_vacuous_test():
    """A test cell that cannot fail (here: `pass`) is reported by the blank check."""
    solution = read(SOLUTIONS[0])
    vacuous = copy.deepcopy(next(c for c in solution.cells if "test" in c.metadata.get("tags", [])))
    vacuous.id = "vacuous-test"
    vacuous.source = "pass  # asserts nothing"
    vacuous.metadata["grading"] = {"id": "vacuous", "points": 1}
    solution.cells.append(vacuous)
    assert passing_blank(solution, SOLUTIONS[0].parent) == ["vacuous"]


@pytest.mark.slow
@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_solution_passes_nbval(path):
    """What `make test` runs over solutions/ (strict nbval with the project's sanitizer)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--nbval",
            str(path),
            "--nbval-sanitize-with",
            str(SANITIZE),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:]
