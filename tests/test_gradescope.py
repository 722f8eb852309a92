"""``python -m course gradescope``: the autograder zip, and what its run_autograder writes.

The zip is unpacked into a temporary folder laid out as Gradescope's ``/autograder``
(``AUTOGRADER_ROOT``), and ``run_autograder`` runs there for a solved and a blank
submission; results.json must give the course grader's points, test by test. setup.sh is
not run (it needs apt and the network): run_autograder uses this virtualenv's Python
(``COURSE_PYTHON``) instead of the one setup.sh would make.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT
from course.build.exercises import is_solution_cell, make_exercise
from course.grading import grade, gradescope, sandbox

SOLUTION = ROOT / "solutions" / "00_foundations.ipynb"
CANONICAL = grade.load_canonical(SOLUTION)


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("zip") / "autograder.zip"
    gradescope.build_zip(SOLUTION, out)
    return out


def unpack(zip_path: Path, root: Path) -> Path:
    """Gradescope's layout under ``root``: the zip in source/ (permissions restored, as
    unzip does), an empty submission/ and results/."""
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            path = Path(zf.extract(info, root / "source"))
            os.chmod(path, (info.external_attr >> 16) & 0o777)
    (root / "submission").mkdir()
    (root / "results").mkdir()
    return root


def run_autograder(root: Path) -> dict:
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), COURSE_PYTHON=sys.executable)
    done = subprocess.run(
        [str(root / "source" / "run_autograder")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (root / "stdout").write_text(done.stdout + done.stderr)
    return json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))


def solved() -> nbformat.NotebookNode:
    """The exercise notebook with the instructor's code in every solution cell."""
    answers = {c.id: c.source for c in CANONICAL.nb.cells if is_solution_cell(c)}
    nb = make_exercise(CANONICAL.nb)
    for cell in nb.cells:
        cell.source = answers.get(cell.get("id"), cell.source)
    return nb


def test_the_zip_has_gradescopes_layout(autograder_zip, tmp_path):
    with zipfile.ZipFile(autograder_zip) as zf:
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in zf.infolist()}
        config = json.loads(zf.read(gradescope.CONFIG))
        constraints = zf.read("constraints.txt").decode()
        wanted = zf.read("requirements-grader.txt").decode().split()
    assert modes["setup.sh"] == modes["run_autograder"] == 0o755
    assert f"solution/{SOLUTION.name}" in modes and "course/grading/grade.py" in modes
    assert not any("__pycache__" in name or name.startswith("scratchnn") for name in modes)
    assert config["hidden_visibility"] == "after_published"
    assert config["max_score"] == CANONICAL.max_points
    pinned = {line.split("==")[0].lower() for line in constraints.splitlines() if "==" in line}
    assert set(wanted) - pinned <= {"setuptools"}, "every grader package has a pinned version"
    root = unpack(autograder_zip, tmp_path)
    for script in ("setup.sh", "run_autograder"):
        subprocess.run(["bash", "-n", str(root / "source" / script)], check=True)
    # Same inputs, same bytes: an instructor can tell whether an upload is out of date.
    gradescope.build_zip(SOLUTION, tmp_path / "again.zip")
    assert (tmp_path / "again.zip").read_bytes() == autograder_zip.read_bytes()


def test_the_hidden_visibility_is_an_option(tmp_path):
    out = tmp_path / "a.zip"
    assert gradescope.main([str(SOLUTION), str(out), "--hidden-visibility", "hidden"]) == 0
    with zipfile.ZipFile(out) as zf:
        assert json.loads(zf.read(gradescope.CONFIG))["hidden_visibility"] == "hidden"
    assert gradescope.main([str(SOLUTION), str(out), "--hidden-visibility", "never"]) == 2


def test_results_follow_the_graders_result_test_by_test():
    passed = {t.id: t.id.startswith("dense_forward") for t in CANONICAL.tests}
    messages = {"dense_backward_visible": "Traceback:\nAssertionError: dx is wrong"}
    result = grade.StudentResult("s", passed, messages, ["cell timeout"])
    config = {"hidden_visibility": "after_due_date"}
    results = gradescope.results_json(CANONICAL, result, config, {})
    tests = {t["name"]: t for t in results["tests"]}
    assert list(tests) == [t.id for t in CANONICAL.tests]
    assert results["score"] == sum(t.points for t in CANONICAL.tests if passed[t.id]) == 2
    for t in CANONICAL.tests:
        entry = tests[t.id]
        assert entry["max_score"] == t.points
        assert entry["visibility"] == ("after_due_date" if t.hidden else "visible")
    assert "dx is wrong" in tests["dense_backward_visible"]["output"]
    assert tests["dense_backward_hidden"]["output"] == grade.HIDDEN_FAILED
    assert "cell timeout" in results["output"] and results["stdout_visibility"] == "hidden"


def test_the_students_notebook_is_found_or_the_results_say_why(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "mine.ipynb").write_text("{}")
    assert gradescope.find_notebook(tmp_path, SOLUTION.name) == (tmp_path / "a" / "mine.ipynb", "")
    (tmp_path / "other.ipynb").write_text("{}")
    assert "several notebooks" in gradescope.find_notebook(tmp_path, SOLUTION.name)[1]
    (tmp_path / SOLUTION.name).symlink_to(SOLUTION)
    found, _ = gradescope.find_notebook(tmp_path, SOLUTION.name)
    assert gradescope.copy_submission(found, tmp_path / "copy.ipynb") == grade.NOT_REGULAR
    assert "no notebook" in gradescope.find_notebook(tmp_path / "a" / "none", "x.ipynb")[1]


def test_an_empty_submission_scores_zero_and_says_why(autograder_zip, tmp_path):
    results = run_autograder(unpack(autograder_zip, tmp_path))
    assert results["score"] == 0 and len(results["tests"]) == len(CANONICAL.tests)
    assert "no notebook" in results["output"]


def test_a_broken_autograder_still_writes_results(autograder_zip, tmp_path):
    root = unpack(autograder_zip, tmp_path)
    (root / "source" / gradescope.CONFIG).write_text("{not json")
    results = run_autograder(root)
    assert results["score"] == 0 and results["output"] == gradescope.GRADER_FAILED


@pytest.mark.slow
def test_results_give_the_course_graders_points(autograder_zip, tmp_path):
    notebooks = {"solved": solved(), "blank": make_exercise(CANONICAL.nb)}
    both = tmp_path / "submissions"
    both.mkdir()
    results = {}
    for student, nb in notebooks.items():
        nbformat.write(nb, both / f"{student}.ipynb")
        root = unpack(autograder_zip, tmp_path / student)
        nbformat.write(nb, root / "submission" / SOLUTION.name)
        results[student] = run_autograder(root)
    done = subprocess.run(
        [sys.executable, "-m", "course", "grade", str(SOLUTION), str(both)]
        + ["--out", str(tmp_path / "gradebook"), "--jobs", "2"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with open(tmp_path / "gradebook" / "grades.csv", newline="", encoding="utf-8") as fh:
        ours = {row["student"]: row for row in csv.DictReader(fh)}
    for student in notebooks:
        tests = {t["name"]: t["score"] for t in results[student]["tests"]}
        assert tests == {t.id: float(ours[student][t.id]) for t in CANONICAL.tests}
        assert results[student]["score"] == float(ours[student]["total"])
    assert results["solved"]["score"] == CANONICAL.max_points
    assert float(ours["blank"]["total"]) == 0.0
    blank = {t["name"]: t for t in results["blank"]["tests"]}
    assert "NotImplementedError" in blank["dense_forward_visible"]["output"]
    assert blank["dense_forward_hidden"]["visibility"] == "after_published"
    assert "hidden_rng" not in json.dumps(results), "a hidden test's source reached a student"


@pytest.mark.slow
@pytest.mark.skipif(sandbox.probe()[0] != "bwrap", reason="hiding folders needs bubblewrap")
def test_the_submission_cannot_read_the_solution(autograder_zip, tmp_path):
    root = unpack(autograder_zip, tmp_path / "root")
    secret = root / "source" / gradescope.SOLUTION_DIR / SOLUTION.name
    nb = solved()
    cell = next(c for c in nb.cells if "def dense_forward(" in c.source)
    cell.source = (
        "def dense_forward(x, kernel, bias):\n"
        f"    try:\n        open({str(secret)!r}).read()\n        return None\n"
        "    except OSError:\n        return x @ kernel + bias\n"
    )
    nbformat.write(nb, root / "submission" / SOLUTION.name)
    results = run_autograder(root)
    assert results["score"] == CANONICAL.max_points, (root / "stdout").read_text()[-5000:]
    assert results["extra_data"]["isolation"] == "bwrap"
