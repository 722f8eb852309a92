"""Repository-wide checks on notebooks and the exported library (no kernels started here).

- scratchnn/ is exactly what the chapters' `export` cells say (a hand edit fails).
- Stored outputs are clean: no errors, stderr, timings, addresses or progress bars.
- Every chapter and solution starts with the one setup call; export cells never import Keras.
- nbval can actually check every code cell (stored execution counts), and every NBVAL
  marker says why it is there.
"""

from __future__ import annotations

import re
import shutil

import nbformat
import pytest

from conftest import ROOT
from course.build import export

CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
EXECUTED = CHAPTERS + SOLUTIONS
ids = lambda p: p.relative_to(ROOT).as_posix()

FORBIDDEN_OUTPUT = {
    "memory address": re.compile(r"\bat 0x[0-9a-fA-F]+|0x[0-9a-fA-F]{8,}"),
    "timing": re.compile(r"\d+(\.\d+)?\s?(ms|s|us|µs)/(step|epoch)|Wall time|CPU times|elapsed"),
    "progress bar": re.compile(r"━|\x1b\[|\d+/\d+ \[=*>?\.*\]|Epoch \d+/\d+"),
    "full-precision float": re.compile(r"(?<![\w.])-?\d\.\d{12,}(e[-+]\d+)?\b"),
}


def test_there_are_chapters():
    assert ROOT.joinpath("chapters", "00_foundations.ipynb") in CHAPTERS


def test_scratchnn_is_in_sync_with_the_chapters():
    problems = export.check()
    assert not problems, "scratchnn/ differs from the chapters; run `make export`:\n" + "\n".join(
        problems
    )


def test_sync_check_detects_a_hand_edit(tmp_path, monkeypatch):
    package = tmp_path / "scratchnn"
    shutil.copytree(ROOT / "scratchnn", package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(export, "LIBRARY", package)
    assert export.check() == []
    module = package / "foundations.py"
    module.write_text(module.read_text().replace("x.T @ dz", "x @ dz"))
    problems = export.check()
    assert problems and "foundations.py" in problems[0] and "x.T @ dz" in problems[0]


def test_sync_check_detects_a_stale_module(tmp_path, monkeypatch):
    package = tmp_path / "scratchnn"
    shutil.copytree(ROOT / "scratchnn", package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "orphan.py").write_text(export.GENERATED_MARK + " from chapters/99_gone.ipynb.\n")
    monkeypatch.setattr(export, "LIBRARY", package)
    assert any("orphan.py" in p for p in export.check())


def _outputs_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif "data" in out:
            parts.append(out.data.get("text/plain", ""))
    return "\n".join(parts)


def _ignored(cell) -> bool:
    return "NBVAL_IGNORE_OUTPUT" in cell.source or "nbval-ignore-output" in cell.metadata.get(
        "tags", []
    )


@pytest.mark.parametrize("path", EXECUTED, ids=ids)
def test_stored_outputs_are_clean(path):
    nb = nbformat.read(path, as_version=4)
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                problems.append(f"cell {i} ({cell.get('id')}): stored error {out.ename}")
            if out.output_type == "stream" and out.name == "stderr":
                problems.append(f"cell {i} ({cell.get('id')}): stderr output")
        if _ignored(cell):
            continue
        text = _outputs_text(cell)
        for what, pattern in FORBIDDEN_OUTPUT.items():
            if m := pattern.search(text):
                problems.append(f"cell {i} ({cell.get('id')}): {what}: {m.group(0)!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", EXECUTED, ids=ids)
def test_every_code_cell_was_executed_so_nbval_compares_it(path):
    nb = nbformat.read(path, as_version=4)
    missing = [
        c.get("id")
        for c in nb.cells
        if c.cell_type == "code" and c.source.strip() and c.execution_count is None
    ]
    assert not missing, (
        f"cells without a stored execution count are silently skipped by nbval: {missing}"
    )


@pytest.mark.parametrize("path", EXECUTED, ids=ids)
def test_nbval_markers_say_why(path):
    nb = nbformat.read(path, as_version=4)
    bad = []
    for cell in nb.cells:
        lines = cell.source.splitlines()
        for i, line in enumerate(lines):
            if line.strip() in {
                "# NBVAL_IGNORE_OUTPUT",
                "# NBVAL_SKIP",
                "# NBVAL_RAISES_EXCEPTION",
            }:
                following = lines[i + 1] if i + 1 < len(lines) else ""
                if not following.lstrip().startswith("#"):
                    bad.append(cell.get("id"))
    assert not bad, f"NBVAL markers need a comment on the next line saying why: {bad}"


@pytest.mark.parametrize("path", CHAPTERS, ids=ids)
def test_chapter_starts_with_the_setup_call(path):
    nb = nbformat.read(path, as_version=4)
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert "course.setup(" in first_code.source


@pytest.mark.parametrize("path", CHAPTERS, ids=ids)
def test_export_cells_do_not_import_keras_or_tensorflow(path):
    nb = nbformat.read(path, as_version=4)
    for source in export.export_cells(nb):
        assert not re.search(r"^\s*(import|from)\s+(keras|tensorflow)\b", source, re.M), source[:80]


@pytest.mark.parametrize("path", CHAPTERS, ids=ids)
def test_explorer_widget_state_is_stored_for_the_site(path):
    nb = nbformat.read(path, as_version=4)
    uses_widget = any(
        "application/vnd.jupyter.widget-view+json" in out.get("data", {})
        for c in nb.cells
        if c.cell_type == "code"
        for out in c.get("outputs", [])
    )
    if uses_widget:
        state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
        assert state.get("state"), (
            "widget views are stored but the widget state is not (run `make execute`)"
        )


def test_hygiene_check_can_fail():
    """Feed the output check a dirty cell so we know it is not vacuous."""
    cell = nbformat.v4.new_code_cell(
        "x",
        outputs=[
            nbformat.v4.new_output(
                "stream",
                name="stdout",
                text="<object at 0x7f3a2b1c9d00> 3/3 ━━━━ 12ms/step 0.1234567890123456",
            )
        ],
    )
    text = _outputs_text(cell)
    assert all(p.search(text) for p in FORBIDDEN_OUTPUT.values())


@pytest.mark.parametrize("path", CHAPTERS, ids=ids)
def test_chapter_has_its_numbered_siblings(path):
    """One concept, one place: chapter NN_topic ↔ scratchnn module ↔ tests ↔ solution ↔ exercise."""
    module = (
        nbformat.read(path, as_version=4).metadata.get("scratchnn", {}).get("module", path.stem[3:])
    )
    siblings = [
        ROOT / "scratchnn" / f"{module}.py",
        ROOT / "tests" / f"test_{path.stem}.py",
        ROOT / "solutions" / path.name,
        ROOT / "exercises" / path.name,
    ]
    missing = [p.relative_to(ROOT).as_posix() for p in siblings if not p.exists()]
    assert not missing, f"{ids(path)} has no {', '.join(missing)}"
