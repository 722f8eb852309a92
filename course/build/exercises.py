"""Write the student notebooks ``exercises/NN_*.ipynb`` from ``solutions/NN_*.ipynb``.

    python -m course exercises            # (re)write every exercise notebook
    python -m course exercises --check    # exit 1, naming the files, if exercises/ is stale

In a solution notebook, graded code sits between ``### BEGIN SOLUTION`` and
``### END SOLUTION``. The exercise keeps every line before the BEGIN marker (the ``def``
line and its docstring) and replaces the region by ``raise NotImplementedError(...)`` at
the marker's indentation. Cells tagged ``hidden-test`` are dropped; outputs and execution
counts are cleared; cell ids are kept, because the grader matches a submission's solution
cells to the canonical ones by id. The output is a pure function of the input, so running
the command twice gives byte-identical files and ``--check`` can compare bytes.
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import nbformat

from course.paths import EXERCISES, ROOT, SOLUTIONS


BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
_DEF = re.compile(r"^\s*(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(", re.M)


def is_solution_cell(cell) -> bool:
    """A code cell holding at least one solution region."""
    return cell.cell_type == "code" and BEGIN in cell.source


def is_hidden_test(cell) -> bool:
    return "hidden-test" in cell.get("metadata", {}).get("tags", [])


def is_test(cell) -> bool:
    """A graded cell, visible or hidden (it carries ``grading: {id, points}``)."""
    tags = cell.get("metadata", {}).get("tags", [])
    return cell.cell_type == "code" and ("test" in tags or "hidden-test" in tags)


def defined_functions(source: str) -> list[str]:
    """Names of the functions a cell defines (by a regex: the source may not parse)."""
    return _DEF.findall(source)


def stub_source(source: str) -> str:
    """Replace each BEGIN/END SOLUTION region (markers included) by a NotImplementedError.

    The message names the function the region belongs to, so a student who runs a test
    too early reads which function is still missing. Raises ValueError on unbalanced markers.
    """
    out: list[str] = []
    inside = False
    current = "this function"
    for line in source.split("\n"):
        match = _DEF.match(line)
        if match and not inside:
            current = f"{match.group(1)}()"
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ValueError("nested ### BEGIN SOLUTION")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f'{indent}raise NotImplementedError("write {current} here")')
        elif stripped == END:
            if not inside:
                raise ValueError("### END SOLUTION without BEGIN")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError("### BEGIN SOLUTION without END")
    return "\n".join(out)


def make_exercise(solution, keep_hidden: bool = False) -> nbformat.NotebookNode:
    """The student notebook for one solution notebook (a new object; the input is unchanged).

    keep_hidden=True keeps the hidden tests: the "blank submission" that
    :func:`graded_tests_passing_blank` runs to prove that every graded test can fail.
    """
    nb = copy.deepcopy(solution)
    cells = []
    for cell in nb.cells:
        if is_hidden_test(cell) and not keep_hidden:
            continue
        if cell.cell_type == "code":
            if is_solution_cell(cell):
                cell.source = stub_source(cell.source)
            cell.outputs = []
            cell.execution_count = None
        cells.append(cell)
    # The solution notebook is titled "# Solutions NN: …"; the student sees "# Exercises NN: …".
    if cells and cells[0].cell_type == "markdown":
        cells[0].source = re.sub(r"\A# Solutions\b", "# Exercises", cells[0].source)
    nb.cells = cells
    # The execute hash describes the solution's code, not this notebook's.
    nb.metadata.pop("course", None)
    nb.metadata.pop("widgets", None)
    return nb


def graded_tests_passing_blank(solution, cwd: Path, timeout: int = 120) -> list[str]:
    """Graded test ids that do NOT fail on the blank exercise (hidden tests included).

    Runs the stubbed notebook cell by cell in a fresh kernel (errors allowed) and returns
    the ``grading.id`` of every test cell that ran without an error. A test listed here
    is vacuous: it would award points for an empty answer. The right result is ``[]``.
    """
    from nbclient import NotebookClient

    from course.build.execute import KERNEL_ARGS

    blank = make_exercise(solution, keep_hidden=True)
    client = NotebookClient(
        blank,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        extra_arguments=KERNEL_ARGS,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()
    passing = []
    for cell in blank.cells:
        if is_test(cell) and not any(o.output_type == "error" for o in cell.outputs):
            passing.append(cell.metadata.get("grading", {}).get("id", cell.get("id")))
    return passing


def render(nb) -> str:
    """The exact bytes nbformat writes, ending in a newline (so the file is stable)."""
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def exercise_path(solution_path: Path, exercises_dir: Path = EXERCISES) -> Path:
    return exercises_dir / solution_path.name


def build(solutions_dir: Path = SOLUTIONS, exercises_dir: Path = EXERCISES) -> dict[Path, str]:
    """Exercise path -> notebook text, for every ``NN_*.ipynb`` in ``solutions_dir``."""
    result = {}
    for path in sorted(solutions_dir.glob("[0-9][0-9]_*.ipynb")):
        solution = nbformat.read(path, as_version=4)
        result[exercise_path(path, exercises_dir)] = render(make_exercise(solution))
    return result


def stale(expected: dict[Path, str], exercises_dir: Path = EXERCISES) -> list[str]:
    """Messages for each exercise file that is missing, different, or has no solution."""
    problems = []
    for path, text in expected.items():
        if not path.exists():
            problems.append(f"missing: {path}")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"out of date: {path}")
    for path in sorted(exercises_dir.glob("[0-9][0-9]_*.ipynb")):
        if path not in expected:
            problems.append(f"no solution notebook for: {path}")
    return problems


def main(argv: list[str]) -> int:
    check = "--check" in argv
    expected = build()
    if not expected:
        print(f"no solutions/NN_*.ipynb found in {SOLUTIONS}", file=sys.stderr)
        return 1
    if check:
        problems = stale(expected)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print(
                "run `python -m course exercises` (make exercises) and commit the result",
                file=sys.stderr,
            )
            return 1
        print(f"exercises/ is in sync with solutions/ ({len(expected)} notebook(s))")
        return 0
    EXERCISES.mkdir(exist_ok=True)
    for path, text in expected.items():
        changed = not path.exists() or path.read_text(encoding="utf-8") != text
        if changed:
            path.write_text(text, encoding="utf-8")
        print(f"{'wrote    ' if changed else 'unchanged'}  {path.relative_to(ROOT)}")
    return 0
