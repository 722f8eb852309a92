"""Build a Gradescope autograder for one assignment, and run it there.

    python -m course gradescope SOLUTION.ipynb OUT.zip
           [--hidden-visibility after_published] [--cell-timeout S] [--timeout S]
           [--require-sandbox]

The zip holds, at its root, what Gradescope needs (``setup.sh``, ``run_autograder``) and
what the course's grader needs: the ``course`` package, ``pyproject.toml``, the pinned
versions (``constraints.txt`` = requirements.txt), the short list of packages the grader
uses (``requirements-grader.txt``), the canonical notebook in ``solution/`` (a folder of
its own, so that the sandbox can hide it) and ``gradescope.json`` (the options above).

For each submission Gradescope runs ``run_autograder``, which calls :func:`run`: it finds
the student's notebook in ``/autograder/submission``, grades it with the course's grader
(``course.grading.grade``: rebuilt from the canonical cells, run in the sandbox when one
works) and writes ``/autograder/results/results.json``: one entry per graded test, hidden
tests with the chosen visibility and the grader's pass/fail text only. ``AUTOGRADER_ROOT``
replaces ``/autograder`` (tests unpack the zip into a temporary folder).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from course.grading import grade
from course.paths import ROOT

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
CONFIG = "gradescope.json"
SOLUTION_DIR = "solution"
# What the grader imports, in the process and in the student's kernel. Versions come from
# constraints.txt (the course's requirements.txt); setuptools and wheel install `course`.
GRADER_PACKAGES = (
    "numpy",
    "matplotlib",
    "nbformat",
    "nbclient",
    "nbval",
    "pytest",
    "ipykernel",
    "setuptools",
    "wheel",
)
# Fixed timestamp for every zip entry: the same inputs give the same zip, byte for byte.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder's image (Ubuntu).
set -euo pipefail
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"  # /autograder/source
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# bubblewrap: the grader's sandbox, where the container allows namespaces; util-linux: prlimit
# and setpriv, which the grader uses with or without a sandbox.
apt-get install -y -qq bubblewrap util-linux python3 python3-venv
PY=python3
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  apt-get install -y -qq python3.11 python3.11-venv  # Ubuntu 22.04: universe
  PY=python3.11
fi
"$PY" -m venv "$SOURCE/.venv"
"$SOURCE/.venv/bin/python" -m pip install --quiet --disable-pip-version-check \\
  -c "$SOURCE/constraints.txt" -r "$SOURCE/requirements-grader.txt"
"$SOURCE/.venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \\
  --no-build-isolation -e "$SOURCE"
# Without a sandbox, student code runs as an unprivileged user id: it must reach Python and
# the course package, never the solution notebook (its hidden tests).
chmod -R a+rX "$SOURCE"
chmod 700 "$SOURCE/solution"
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission: grade /autograder/submission with the course's
# grader and write /autograder/results/results.json. AUTOGRADER_ROOT replaces /autograder.
set -euo pipefail
export AUTOGRADER_ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$AUTOGRADER_ROOT/source"
# The course package in this zip, whatever else is installed. From source/, `python -m` puts
# only that folder on sys.path (never submission/ or results/).
export PYTHONPATH="$SOURCE${PYTHONPATH:+:$PYTHONPATH}"
cd "$SOURCE"
exec "${COURSE_PYTHON:-$SOURCE/.venv/bin/python}" -m course.grading.gradescope \\
  --root "$AUTOGRADER_ROOT"
"""


# --------------------------------------------------------------------------- build


def _add(zf: zipfile.ZipFile, name: str, data: bytes, mode: int = 0o644) -> None:
    """One zip entry with a fixed timestamp and Unix permissions (unzip restores them)."""
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def package_files() -> list[Path]:
    """The course package's files (no caches), sorted: what the grader runs."""
    return sorted(
        p
        for p in (ROOT / "course").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )


def build_zip(
    solution: Path,
    out: Path,
    hidden_visibility: str = "after_published",
    cell_timeout: float = 30.0,
    timeout: float = 120.0,
    require_sandbox: bool = False,
) -> dict:
    """Write the autograder zip for ``solution``; returns its gradescope.json settings.
    Raises grade.GradingError when the notebook cannot be graded against."""
    canonical = grade.load_canonical(solution)
    if hidden_visibility not in VISIBILITIES:
        raise grade.GradingError(f"--hidden-visibility must be one of {', '.join(VISIBILITIES)}")
    config = {
        "solution": solution.name,
        "hidden_visibility": hidden_visibility,
        "cell_timeout": cell_timeout,
        "timeout": timeout,
        "require_sandbox": require_sandbox,
        "max_score": canonical.max_points,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w") as zf:
        _add(zf, "setup.sh", SETUP_SH.encode(), 0o755)
        _add(zf, "run_autograder", RUN_AUTOGRADER.encode(), 0o755)
        _add(zf, CONFIG, (json.dumps(config, indent=2) + "\n").encode())
        _add(zf, f"{SOLUTION_DIR}/{solution.name}", solution.read_bytes())
        _add(zf, "pyproject.toml", (ROOT / "pyproject.toml").read_bytes())
        _add(zf, "constraints.txt", (ROOT / "requirements.txt").read_bytes())
        _add(zf, "requirements-grader.txt", "\n".join(GRADER_PACKAGES).encode() + b"\n")
        for path in package_files():
            _add(zf, path.relative_to(ROOT).as_posix(), path.read_bytes())
    return config


def build_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course gradescope", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("solution", type=Path, help="canonical notebook (solutions/NN_*.ipynb)")
    parser.add_argument("out", type=Path, help="the autograder zip to write")
    parser.add_argument(
        "--hidden-visibility",
        choices=VISIBILITIES,
        default="after_published",
        help="when students see hidden tests' results (default: after_published)",
    )
    parser.add_argument("--cell-timeout", type=float, default=30.0, help="seconds per cell")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per notebook")
    parser.add_argument(
        "--require-sandbox",
        action="store_true",
        help="score 0 with an error, rather than grade with resource limits and an "
        "unprivileged user id only, when no sandbox works in Gradescope's container",
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return 2 if exit_.code else 0
    try:
        config = build_zip(
            args.solution,
            args.out,
            args.hidden_visibility,
            args.cell_timeout,
            args.timeout,
            args.require_sandbox,
        )
    except (grade.GradingError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {config['solution']}, {config['max_score']:g} points")
    print("upload it as the assignment's autograder (Gradescope: Configure Autograder, zip)")
    return 0


# --------------------------------------------------------------------------- run

GRADER_FAILED = (
    "The autograder could not grade this submission: a problem on the grading machine, not "
    "in your notebook. Your instructor can see why in the autograder's output."
)


def find_notebook(folder: Path, expected: str) -> tuple[Path | None, str]:
    """The student's notebook in Gradescope's submission folder: the one named like the
    assignment, else the only one. (None, why) when there is none or it is ambiguous.
    Links to folders are not followed (a submitted zip may hold them)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in {".ipynb_checkpoints", "__MACOSX"})
        found += [Path(dirpath) / f for f in sorted(filenames) if f.endswith(".ipynb")]
    named = [p for p in found if p.name == expected]
    if len(named) == 1:
        return named[0], ""
    if len(found) == 1:
        return found[0], ""
    if not found:
        return None, f"no notebook (.ipynb) in the submission: submit {expected}"
    names = ", ".join(str(p.relative_to(folder)) for p in found[:5])
    return None, f"several notebooks in the submission ({names}): submit only {expected}"


def copy_submission(path: Path, target: Path) -> str:
    """Copy the student's file as the grader reads one (no link followed, no FIFO waited
    on, size-limited); "" when copied, else why it cannot be graded."""
    fd, why = grade._open_regular(path)
    if fd is None:
        return why
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(grade.MAX_FILE_BYTES + 1)
    if len(data) > grade.MAX_FILE_BYTES:
        return f"invalid notebook: over {grade._mb(grade.MAX_FILE_BYTES)} file, outputs included"
    target.write_bytes(data)
    return ""


def output_for(test: grade.GradedTest, result: grade.StudentResult) -> str:
    """What the student reads under one test: the grader's feedback text for it."""
    if result.passed.get(test.id):
        return "passed"
    if test.hidden:
        return grade.HIDDEN_FAILED
    if result.messages.get(test.id):
        return grade._traceback_tail(result.messages[test.id])
    return (
        "not run: an earlier cell timed out, the kernel died, or the notebook could not "
        "be read (see the notes above)."
    )


def summary(canonical: grade.Canonical, result: grade.StudentResult, visibility: str) -> str:
    """The results' top-level text: notes and errors in the student's own cells. Hidden
    tests are left to their entries, which Gradescope shows with their visibility."""
    lines = []
    if result.notes:
        lines += ["Notes: " + "; ".join(result.notes), ""]
    for cell_id, functions in canonical.solution_cells.items():
        if result.messages.get(cell_id):
            lines += [
                f"Your cell defining {', '.join(functions)} raised an error:",
                grade._traceback_tail(result.messages[cell_id]),
                "",
            ]
    hidden = sum(t.hidden for t in canonical.tests)
    if hidden and visibility != "visible":
        lines.append(
            f"{hidden} hidden test(s) run your functions on inputs you have not seen; "
            "their results are shown when your instructor releases them."
        )
    return "\n".join(lines).strip()


def results_json(
    canonical: grade.Canonical, result: grade.StudentResult, config: dict, extra: dict
) -> dict:
    """Gradescope's results.json for one graded submission."""
    visibility = config.get("hidden_visibility", "after_published")
    tests = []
    for t in canonical.tests:
        ok = bool(result.passed.get(t.id))
        tests.append(
            {
                "name": t.id,
                "score": t.points if ok else 0.0,
                "max_score": t.points,
                "status": "passed" if ok else "failed",
                "output": output_for(t, result),
                "visibility": visibility if t.hidden else "visible",
            }
        )
    return {
        "score": sum(t["score"] for t in tests),
        "output": summary(canonical, result, visibility),
        # run_autograder's stdout is the grader's log, which counts hidden tests passed.
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": extra,
    }


def grade_one(root: Path, config: dict) -> dict:
    """Grade Gradescope's submission folder; results.json's content."""
    solution = root / "source" / SOLUTION_DIR / config["solution"]
    canonical = grade.load_canonical(solution)
    notebook, why = find_notebook(root / "submission", config["solution"])
    with tempfile.TemporaryDirectory(prefix="gradescope-") as tmp:
        submissions, out = Path(tmp) / "submissions", Path(tmp) / "gradebook"
        submissions.mkdir()
        if notebook is not None:
            why = copy_submission(notebook, submissions / "submission.ipynb")
        if why:
            failed = {t.id: False for t in canonical.tests}
            result = grade.StudentResult("submission", failed, {}, [why])
            return results_json(canonical, result, config, {"notes": [why]})
        opts = grade.Options(
            jobs=1,
            cell_timeout=config.get("cell_timeout", 30.0),
            timeout=config.get("timeout", 120.0),
            no_sandbox=not config.get("require_sandbox", False),
        )
        [result] = grade.grade_batch(solution, submissions, out, opts)
        record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    # For the instructor (Gradescope shows stdout to instructors only, see stdout_visibility).
    print("--- the end of pytest's output (the grader's logs/<student>.log) ---")
    print(result.log)
    extra = {
        "isolation": record.get("isolation"),
        "student_code_runs_as": record.get("student_code_runs_as"),
        "notes": result.notes,
        "seconds": round(result.seconds, 1),
    }
    return results_json(canonical, result, config, extra)


def run(root: Path) -> dict:
    """Grade ``root/submission`` and write ``root/results/results.json``; returns it.
    Always writes a results file: a grader that fails gives 0 points and says so."""
    started = time.time()
    try:
        config = json.loads((root / "source" / CONFIG).read_text(encoding="utf-8"))
        results = grade_one(root, config)
    except Exception as err:  # Gradescope needs a results.json whatever went wrong
        print(f"error: {type(err).__name__}: {err}", file=sys.stderr)
        results = {
            "score": 0.0,
            "output": GRADER_FAILED,
            "stdout_visibility": "hidden",
            "tests": [],
            "extra_data": {"error": f"{type(err).__name__}: {err}"},
        }
    results["execution_time"] = round(time.time() - started)
    (root / "results").mkdir(parents=True, exist_ok=True)
    (root / "results" / "results.json").write_text(
        json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"score {results['score']:g}; wrote {root / 'results' / 'results.json'}")
    return results


def run_main(argv: list[str]) -> int:
    """What run_autograder calls. Exit 0 even for a failed grading: results.json says it."""
    parser = argparse.ArgumentParser(prog="python -m course.grading.gradescope")
    parser.add_argument("--root", type=Path, default=Path("/autograder"))
    args = parser.parse_args(argv)
    run(args.root)
    return 0


main = build_main  # `python -m course gradescope` (course/__main__.py)

if __name__ == "__main__":
    sys.exit(run_main(sys.argv[1:]))
