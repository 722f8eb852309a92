"""``python -m course nbgrader``: the assignments as nbgrader source folders.

The conversion is checked on every solution notebook; the real nbgrader (0.9.6, in its own
virtualenv ``.venv-nbgrader``, made by ``make venv-nbgrader``) then generates, autogrades and
exports chapter 00 for a solved and a blank submission, and its points must be the course
grader's, test by test.
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
from course.grading import grade, nbgrader

SOLUTION = ROOT / "solutions" / "00_foundations.ipynb"
ALL_SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
ASSIGNMENT = SOLUTION.stem
NBGRADER_VENV = ROOT / ".venv-nbgrader"


def metas(nb) -> list[dict]:
    return [cell.metadata["nbgrader"] for cell in nb.cells]


@pytest.mark.parametrize("solution", ALL_SOLUTIONS, ids=lambda p: p.stem)
def test_every_graded_test_becomes_a_grade_cell_with_its_points(solution):
    canonical = grade.load_canonical(solution)
    nb = nbgrader.to_nbgrader(canonical.nb)
    grades = {m["grade_id"]: m["points"] for m in metas(nb) if m["grade"]}
    assert grades == {t.id: t.points for t in canonical.tests}
    ids = [m["grade_id"] for m in metas(nb)]
    assert len(ids) == len(set(ids)), "nbgrader needs unique grade ids"
    assert all(m["schema_version"] == 3 and not m["task"] for m in metas(nb))
    for cell, original in zip(nb.cells, canonical.nb.cells):
        meta = cell.metadata["nbgrader"]
        if original.get("id") in canonical.solution_cells:
            assert meta["solution"] and not meta["locked"] and not meta["grade"]
            assert cell.source == original.source  # nbgrader reads the same markers
        else:
            assert meta["locked"] and not meta["solution"], original.get("id")
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("solution", ALL_SOLUTIONS, ids=lambda p: p.stem)
def test_hidden_tests_sit_whole_between_nbgrader_markers(solution):
    canonical = grade.load_canonical(solution)
    nb = nbgrader.to_nbgrader(canonical.nb)
    by_id = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells}
    for test in canonical.tests:
        source = by_id[test.id].source
        if not test.hidden:
            assert nbgrader.BEGIN_HIDDEN not in source
            continue
        original = next(c.source for c in canonical.nb.cells if c.get("id") == test.cell_id)
        inside = source.split(nbgrader.BEGIN_HIDDEN + "\n", 1)[1]
        assert inside == original.rstrip() + "\n" + nbgrader.END_HIDDEN


def test_the_source_notebook_is_titled_for_students():
    nb = nbgrader.to_nbgrader(nbformat.read(SOLUTION, as_version=4))
    assert nb.cells[0].source.startswith("# Exercises 00")
    assert "course" not in nb.metadata and "widgets" not in nb.metadata


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda cell: cell.metadata.grading.update(points="2"), "grading.points"),
        (lambda cell: cell.metadata.grading.update(id="dense forward"), "not a valid"),
        (lambda cell: cell.metadata.grading.update(id="setup"), "used twice"),
    ],
    ids=["points not a number", "id with a space", "id of another cell"],
)
def test_conversion_refuses_what_nbgrader_would_reject(change, message):
    nb = nbformat.read(SOLUTION, as_version=4)
    change(next(c for c in nb.cells if c.metadata.get("grading")))
    with pytest.raises(nbgrader.ConversionError, match=message):
        nbgrader.to_nbgrader(nb)


def test_the_command_writes_a_course_folder(tmp_path, capsys):
    assert nbgrader.main([str(tmp_path), str(SOLUTION), "--timeout", "45"]) == 0
    assert (tmp_path / "source" / ASSIGNMENT / SOLUTION.name).is_file()
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(tmp_path)).load_config()
    assert config.CourseDirectory.root == str(tmp_path)
    assert config.CourseDirectory.course_id == nbgrader.COURSE_ID
    assert config.Execute.timeout == 45
    assert nbgrader.main([str(tmp_path), str(tmp_path / "missing.ipynb")]) == 2
    assert "no such solution notebook" in capsys.readouterr().err


# --------------------------------------------------------------------------- real nbgrader

# Per-test points from nbgrader's database (run in nbgrader's virtualenv).
SCORES = """
import json, sys
from nbgrader.api import Gradebook
url, assignment, students = sys.argv[1], sys.argv[2], sys.argv[3:]
with Gradebook(url) as gb:
    print(json.dumps({
        s: {g.name: g.score for g in gb.find_submission_notebook(assignment, assignment, s).grades}
        for s in students
    }))
"""


def nbgrader_env(home: Path) -> dict[str, str]:
    """nbgrader's virtualenv first on PATH (it runs `alembic` by name) and a private Jupyter
    configuration folder, so nothing but the course's nbgrader_config.py applies."""
    env = dict(os.environ)
    env["PATH"] = f"{NBGRADER_VENV / 'bin'}:{env['PATH']}"
    env["JUPYTER_CONFIG_DIR"] = str(home / "jupyter-config")
    env.pop("PYTHONPATH", None)
    return env


def nbgrader_run(course: Path, env: dict, *args: str) -> str:
    done = subprocess.run(
        [str(NBGRADER_VENV / "bin" / "nbgrader"), *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"nbgrader {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def nbgrader_installed():
    """Create .venv-nbgrader if needed: the Makefile's target, so CI and a contributor's
    `pytest` install exactly the same thing (a no-op when it is up to date)."""
    done = subprocess.run(
        ["make", "--no-print-directory", "venv-nbgrader"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return NBGRADER_VENV


def solved(release: Path, source: Path) -> nbformat.NotebookNode:
    """The released notebook with the instructor's code in every solution cell."""
    nb = nbformat.read(release, as_version=4)
    answers = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in nbformat.read(source, as_version=4).cells
        if c.metadata["nbgrader"]["solution"]
    }
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = answers[cell.metadata["nbgrader"]["grade_id"]]
    return nb


def course_grades(submissions: Path, out: Path) -> dict[str, dict[str, str]]:
    """`python -m course grade` on the same files: student -> gradebook row."""
    done = subprocess.run(
        [sys.executable, "-m", "course", "grade", str(SOLUTION), str(submissions)]
        + ["--out", str(out), "--jobs", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with open(out / "grades.csv", newline="", encoding="utf-8") as fh:
        return {row["student"]: row for row in csv.DictReader(fh)}


@pytest.mark.slow
def test_nbgrader_gives_the_course_graders_points(nbgrader_installed, tmp_path):
    course = tmp_path / "course"
    env = nbgrader_env(tmp_path)
    assert nbgrader.main([str(course), str(SOLUTION)]) == 0
    nbgrader_run(course, env, "generate_assignment", ASSIGNMENT)
    release = course / "release" / ASSIGNMENT / SOLUTION.name
    released = release.read_text(encoding="utf-8")
    assert "hidden_rng" not in released, "a hidden test reached the students' copy"
    assert "return x @ kernel + bias" not in released, "a solution reached the students' copy"

    # The same two files go to nbgrader and to the course's grader.
    both = tmp_path / "submissions"
    both.mkdir()
    notebooks = {
        "solved": solved(release, course / "source" / ASSIGNMENT / SOLUTION.name),
        "blank": nbformat.read(release, as_version=4),
    }
    for student, nb in notebooks.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / SOLUTION.name)
        nbformat.write(nb, both / f"{student}.ipynb")
    nbgrader_run(course, env, "autograde", ASSIGNMENT)
    nbgrader_run(course, env, "export")

    with open(course / "grades.csv", newline="", encoding="utf-8") as fh:
        exported = {row["student_id"]: row for row in csv.DictReader(fh)}
    per_test = json.loads(
        subprocess.run(
            [str(NBGRADER_VENV / "bin" / "python"), "-c", SCORES]
            + [f"sqlite:///{course / 'gradebook.db'}", ASSIGNMENT, *notebooks],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
    )
    ours = course_grades(both, tmp_path / "gradebook")
    canonical = grade.load_canonical(SOLUTION)
    for student in notebooks:
        assert per_test[student] == {t.id: float(ours[student][t.id]) for t in canonical.tests}
        assert float(exported[student]["score"]) == float(ours[student]["total"])
        assert float(exported[student]["max_score"]) == canonical.max_points
    assert float(exported["solved"]["score"]) == canonical.max_points
    assert float(ours["blank"]["total"]) == 0.0

    # Hidden tests came back from nbgrader's database and ran: they printed their fingerprint.
    autograded = nbformat.read(course / "autograded" / "solved" / ASSIGNMENT / SOLUTION.name, 4)
    hidden = [c for c in autograded.cells if "hidden-test" in c.metadata.get("tags", [])]
    assert hidden and all("shape" in "".join(o.get("text", "") for o in c.outputs) for c in hidden)
