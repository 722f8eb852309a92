"""Write the course's assignments as an nbgrader course folder.

    python -m course nbgrader OUT [SOLUTION.ipynb ...] [--course-id ID] [--timeout S]

For each solution notebook (default: every ``solutions/NN_*.ipynb``) this writes
``OUT/source/<NN_name>/<NN_name>.ipynb``, the notebook with nbgrader's cell metadata
(schema 3), and ``OUT/nbgrader_config.py`` once. Then, with nbgrader installed
(``make venv-nbgrader``), in OUT::

    nbgrader generate_assignment 00_foundations     # release/00_foundations/, students get it
    nbgrader autograde 00_foundations               # submitted/<student>/00_foundations/
    nbgrader export                                 # grades.csv

How the course's cells map to nbgrader's:

- a cell with ``### BEGIN SOLUTION`` … ``### END SOLUTION``: a solution cell (nbgrader
  uses the same markers and replaces the region by ``raise NotImplementedError()``);
- a graded test (``metadata.grading = {id, points}``, tag ``test``): an autograder test
  cell, locked, ``grade_id`` = the course's test id, the same points;
- a hidden test (tag ``hidden-test``): the same, its whole source between
  ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``, so the released cell is empty
  and ``autograde`` puts the test back from nbgrader's database;
- every other cell (text, setup, demos): read-only, so ``autograde`` restores it too.

Outputs are cleared. nbgrader runs every check inside the student's kernel: the course's
output comparison outside the kernel (``# NBVAL_CHECK_OUTPUT``) and its sandbox do not
apply (book/for-instructors.md says what that means).
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

from course.build.exercises import is_hidden_test, is_solution_cell, is_test
from course.paths import SOLUTIONS

COURSE_ID = "nn-scratch-to-keras"
TIMEOUT_S = 60  # seconds per cell (nbgrader's Execute.timeout); a cell here takes < 1 s
SCHEMA_VERSION = 3
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
# What nbgrader accepts as a grade_id (nbgrader's CheckCellMetadata).
_GRADE_ID = re.compile(r"^[a-zA-Z0-9_-]+$")

CONFIG = '''\
"""nbgrader configuration for {course_id}, written by `python -m course nbgrader`."""

import os

c = get_config()  # noqa: F821 (nbgrader defines it)
c.CourseDirectory.course_id = {course_id!r}
# This folder, wherever it is moved: nbgrader's source/, release/, submitted/, autograded/.
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
# Seconds per cell: an endless loop in a submission costs its student, not the batch.
c.Execute.timeout = {timeout}
'''


class ConversionError(ValueError):
    """A solution notebook that cannot become an nbgrader assignment."""


def nbgrader_metadata(
    grade_id: str, *, solution: bool = False, grade: bool = False, points: float = 0
) -> dict:
    """nbgrader's cell metadata (schema 3). Everything that is not a solution is locked:
    nbgrader then restores it from its database when it autogrades."""
    meta = {
        "schema_version": SCHEMA_VERSION,
        "grade": grade,
        "solution": solution,
        "locked": not solution,
        "task": False,
        "grade_id": grade_id,
    }
    if grade:
        meta["points"] = points
    return meta


def hide(source: str) -> str:
    """A hidden test's source, wrapped so that ``generate_assignment`` removes it."""
    return (
        "# Hidden test: nbgrader removes it from the students' copy and runs it when it\n"
        f"# autogrades.\n{BEGIN_HIDDEN}\n{source.rstrip()}\n{END_HIDDEN}"
    )


def _grade_id(cell, index: int, taken: set[str]) -> str:
    """The cell's nbgrader id: its course test id, else its notebook cell id. Unique."""
    grading = cell.metadata.get("grading") or {}
    grade_id = grading.get("id") if is_test(cell) else cell.get("id") or f"cell-{index}"
    if not grade_id or not _GRADE_ID.match(str(grade_id)):
        raise ConversionError(f"cell {index}: {grade_id!r} is not a valid nbgrader grade_id")
    if grade_id in taken:
        raise ConversionError(f"cell {index}: grade_id {grade_id!r} is used twice")
    taken.add(grade_id)
    return grade_id


def _points(cell, index: int) -> float:
    """A graded test's points, checked as the course's grader checks them."""
    points = (cell.metadata.get("grading") or {}).get("points")
    if isinstance(points, bool) or not isinstance(points, (int, float)) or points < 0:
        raise ConversionError(f"cell {index}: a graded test needs metadata grading.points")
    return points


def convert_cell(cell, index: int, taken: set[str]):
    """One cell of the nbgrader source notebook (a new object; outputs cleared)."""
    cell = copy.deepcopy(cell)
    grade_id = _grade_id(cell, index, taken)
    if cell.cell_type == "code" and is_test(cell):
        meta = nbgrader_metadata(grade_id, grade=True, points=_points(cell, index))
        if is_hidden_test(cell):
            cell.source = hide(cell.source)
    elif is_solution_cell(cell):
        meta = nbgrader_metadata(grade_id, solution=True)
    else:
        meta = nbgrader_metadata(grade_id)
    cell.metadata["nbgrader"] = meta
    if cell.cell_type == "code":
        cell.outputs, cell.execution_count = [], None
    return cell


def to_nbgrader(solution) -> nbformat.NotebookNode:
    """The nbgrader source notebook for one course solution notebook."""
    nb = copy.deepcopy(solution)
    taken: set[str] = set()
    nb.cells = [convert_cell(cell, i, taken) for i, cell in enumerate(nb.cells)]
    if not any(c.metadata["nbgrader"]["grade"] for c in nb.cells):
        raise ConversionError("no graded test cells (metadata grading: {id, points})")
    # Students read the released copy: title it as the exercise notebook is titled.
    if nb.cells and nb.cells[0].cell_type == "markdown":
        nb.cells[0].source = re.sub(r"\A# Solutions\b", "# Exercises", nb.cells[0].source)
    # The course's execute hash and widget state describe the solution, not this copy.
    nb.metadata.pop("course", None)
    nb.metadata.pop("widgets", None)
    return nb


def assignment_name(solution_path: Path) -> str:
    """nbgrader's assignment name: the notebook's stem (``00_foundations``)."""
    return solution_path.stem


def write_course(
    out: Path, solutions: list[Path], course_id: str = COURSE_ID, timeout: int = TIMEOUT_S
) -> list[Path]:
    """Write ``out/nbgrader_config.py`` and one source folder per solution notebook.
    Returns the notebooks written."""
    written = []
    for path in solutions:
        try:
            nb = to_nbgrader(nbformat.read(path, as_version=4))
        except ConversionError as err:
            raise ConversionError(f"{path}: {err}") from err
        target = out / "source" / assignment_name(path) / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        written.append(target)
    (out / "nbgrader_config.py").write_text(
        CONFIG.format(course_id=course_id, timeout=int(timeout)), encoding="utf-8"
    )
    return written


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course nbgrader", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("out", type=Path, help="the nbgrader course folder to write")
    parser.add_argument(
        "solutions", type=Path, nargs="*", help="solution notebooks (default: solutions/NN_*)"
    )
    parser.add_argument("--course-id", default=COURSE_ID, help=f"default: {COURSE_ID}")
    parser.add_argument(
        "--timeout", type=int, default=TIMEOUT_S, help="seconds per cell (Execute.timeout)"
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return 2 if exit_.code else 0
    solutions = args.solutions or sorted(SOLUTIONS.glob("[0-9][0-9]_*.ipynb"))
    missing = [str(p) for p in solutions if not p.is_file()]
    if not solutions or missing:
        print(
            f"error: no such solution notebook: {', '.join(missing) or SOLUTIONS}", file=sys.stderr
        )
        return 2
    try:
        written = write_course(args.out, solutions, args.course_id, args.timeout)
    except (ConversionError, OSError, nbformat.ValidationError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    print(f"wrote {args.out / 'nbgrader_config.py'}")
    first = assignment_name(written[0])
    print(f"next: cd {args.out} && nbgrader generate_assignment {first} (see for-instructors.md)")
    return 0
