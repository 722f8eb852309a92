"""Write the hosted-launch guard at the top of each notebook's first code cell.

    python -m course bootstrap                 # every chapter and solution, then exercises/
    python -m course bootstrap --check         # exit 1, naming the notebooks that are stale
    python -m course bootstrap chapters/09_convolution.ipynb   # only the notebooks named

A fresh hosted runtime (Colab; a Binder image built without ``binder/``) has no ``course``
package. The guard installs it from the repository named in ``_config.yml``'s ADOPTERS block
(``repository.url``, at ``repository.branch``: a branch, a tag or a commit) and, where
``course`` is importable (your computer, Binder, CI, the grader), does nothing and prints
nothing, so the stored outputs stay as they are. Colab cannot read ``_config.yml``, so this
command writes the URL into the cells; a test fails when the cells and the block disagree.

The environment variable ``COURSE_INSTALL_SOURCE`` (anything pip accepts after ``name @``:
``file:///path/to/checkout``, ``git+https://…@ref``) overrides the URL: the bootstrap test
points it at a copy of this checkout. While ``repository.url`` is still the placeholder
(``your-org``), the guard raises a ModuleNotFoundError that says what to set instead of
calling pip on a repository that does not exist.

Chapters need Keras: the guard adds the ``keras`` extra only where Keras is missing (Colab
ships TensorFlow and Keras; the extra's pinned TensorFlow would replace them). Exercises and
solutions install the light package only.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

from course.build.execute import source_hash
from course.paths import CHAPTERS, ROOT, SOLUTIONS

CONFIG = ROOT / "_config.yml"
DISTRIBUTION = "nn-scratch-to-keras"  # pyproject.toml's [project] name
ENV = "COURSE_INSTALL_SOURCE"
PLACEHOLDER = "your-org"
HEADER = "# On a fresh hosted runtime (Colab) this installs the course; elsewhere it does nothing."
LAST_LINE = "    importlib.invalidate_caches()"
MISSING = "The course package is not installed. On your computer, install it (README). "


def adopters(config: Path | None = None) -> dict[str, str]:
    """``repository``'s url, branch and path_to_book from _config.yml.

    A small reader for the ADOPTERS block's three scalars, so the light install needs no YAML
    library; tests/test_bootstrap.py checks it against ``yaml.safe_load``."""
    found: dict[str, str] = {}
    inside = False
    for line in (config or CONFIG).read_text(encoding="utf-8").splitlines():
        if re.match(r"^repository:\s*(#.*)?$", line):
            inside = True
        elif inside and line.strip() and not line.startswith((" ", "#")):
            break  # the next top-level key
        elif inside:
            match = re.match(r"^\s+(url|branch|path_to_book):\s*(.*)$", line)
            if match:
                value = re.sub(r"\s+#.*$", "", match.group(2)).strip()
                found[match.group(1)] = value.strip("\"'")
    return found


def install_source(config: Path | None = None) -> str | None:
    """What pip installs from: ``git+URL@branch`` (``#subdirectory=`` when the book is not at
    the repository's root); None while the URL is unset or still the placeholder."""
    block = adopters(config)
    url = block.get("url", "")
    if not url or PLACEHOLDER in url:
        return None
    source = f"git+{url}@{block.get('branch') or 'main'}"
    path = block.get("path_to_book", "").strip("/")
    return f"{source}#subdirectory={path}" if path else source


def guard(source: str | None, keras: bool) -> str:
    """The guard's text: a few lines a student can read, ending in a blank line.

    ``try: import course`` rather than ``importlib.util.find_spec``: the grader's answer-key
    scan (course/build/answer_key.py) rejects every find_spec call as a computed import."""
    lines = [
        HEADER,
        "import importlib.metadata" if keras else "import importlib",
        "import os",
        "",
        "try:",
        "    import course",
        "except ModuleNotFoundError:",
    ]
    if source is None:
        lines += [
            f'    source = os.environ.get("{ENV}")  # _config.yml: no repository.url yet',
            "    if source is None:",
            "        raise ModuleNotFoundError(",
            f'            "{MISSING}"',
            '            "For Colab, its maintainers set repository.url in _config.yml and run "',
            '            "`python -m course bootstrap`."',
            "        )",
        ]
    else:
        lines += [
            f'    source = "{source}"',
            f'    source = os.environ.get("{ENV}", source)',
        ]
    if keras:
        lines += [
            "    installed = importlib.metadata.packages_distributions()",
            '    extra = "" if "keras" in installed else "[keras]"  # Colab has Keras: keep it',
            f'    %pip install --quiet "{DISTRIBUTION}{{extra}} @ {{source}}"',
        ]
    else:
        lines.append(f'    %pip install --quiet "{DISTRIBUTION} @ {{source}}"')
    lines += [LAST_LINE, "", ""]
    return "\n".join(lines)


def strip_guard(text: str) -> str:
    """The cell's source without a guard at its top (unchanged when it has none)."""
    if not text.startswith(HEADER):
        return text
    end = text.find("\n" + LAST_LINE + "\n")
    if end < 0:
        raise ValueError("a guard without its last line: fix the cell by hand, then rerun")
    return text[end + len(LAST_LINE) + 2 :].lstrip("\n")


def needs_keras(path: Path) -> bool:
    return path.resolve().parent == CHAPTERS


def first_code_cell(nb):
    return next(cell for cell in nb.cells if cell.cell_type == "code")


def with_guard(nb, text: str) -> bool:
    """Put ``text`` at the top of the first code cell; True when the notebook changed.

    A notebook whose stored outputs belonged to its code keeps its ``source_sha256`` current
    (the guard does nothing where the outputs were made, and nbval proves it); a stale hash
    stays stale, so ``make execute`` still re-runs that notebook."""
    cell = first_code_cell(nb)
    new = text + strip_guard(cell.source)
    if new == cell.source:
        return False
    was_current = nb.metadata.get("course", {}).get("source_sha256") == source_hash(nb)
    cell.source = new
    if was_current:
        nb.metadata["course"]["source_sha256"] = source_hash(nb)
    return True


def default_paths() -> list[Path]:
    return sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb")) + sorted(
        SOLUTIONS.glob("[0-9][0-9]_*.ipynb")
    )


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [Path(a).resolve() for a in argv if a != "--check"] or default_paths()
    source = install_source()
    stale, wrote = [], []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if with_guard(nb, guard(source, needs_keras(path))):
            stale.append(path)
            if not check:
                text = nbformat.writes(nb)
                path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
                wrote.append(path)
    if check:
        for path in stale:
            print(f"stale guard: {path.relative_to(ROOT)}", file=sys.stderr)
        if stale:
            print("run `python -m course bootstrap` and commit the result", file=sys.stderr)
        return 1 if stale else 0
    for path in paths:
        print(f"{'wrote    ' if path in wrote else 'unchanged'}  {path.relative_to(ROOT)}")
    if source is None:
        print(f"repository.url in {CONFIG.name} is unset or the placeholder: the guard says so")
    if any(path.parent == SOLUTIONS for path in wrote):
        from course.build import exercises

        return exercises.main([])
    return 0
