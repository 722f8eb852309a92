"""The hosted launch (issue 18): every notebook's install guard matches _config.yml's ADOPTERS
block, the guard installs the course in a fresh environment and the notebook then passes, and
the block's launch buttons reach the built pages."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

from conftest import ROOT
from course.build import bootstrap

CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
STUDENT = sorted([*(ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")]) + sorted(
    (ROOT / "exercises").glob("[0-9][0-9]_*.ipynb")
)
UV = Path(sys.executable).parent / "uv"
FILLED = """\
repository:
  url: "https://github.com/acme/nn-course"   # the adopters' fork
  path_to_book: {path}
  branch: v2026.1
html:
  use_repository_button: false
"""


def transformed(text: str) -> str:
    """The guard as the kernel runs it (IPython turns ``%pip`` into a method call)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(text)


# --------------------------------------------------------------------------- the block


def test_the_adopters_reader_agrees_with_yaml():
    block = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    assert bootstrap.adopters() == {k: str(v or "") for k, v in block.items()}


@pytest.mark.parametrize("path_to_book, expected", [('""', ""), ("book/", "#subdirectory=book")])
def test_a_filled_block_names_a_pinned_git_source(tmp_path, path_to_book, expected):
    config = tmp_path / "_config.yml"
    config.write_text(FILLED.format(path=path_to_book))
    assert bootstrap.adopters(config)["url"] == "https://github.com/acme/nn-course"
    assert bootstrap.install_source(config) == (
        "git+https://github.com/acme/nn-course@v2026.1" + expected
    )


def test_the_guard_installs_this_projects_distribution():
    assert (
        bootstrap.DISTRIBUTION
        == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]
    )


def test_the_placeholder_names_no_source():
    assert bootstrap.PLACEHOLDER in bootstrap.adopters()["url"]  # until an adopter fills it
    assert bootstrap.install_source() is None


# --------------------------------------------------------------------------- the cells


@pytest.mark.parametrize("path", CHAPTERS + STUDENT, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_begins_with_the_guard_for_the_current_config(path):
    """Change the ADOPTERS block without `python -m course bootstrap` and this fails."""
    nb = nbformat.read(path, as_version=4)
    first = bootstrap.first_code_cell(nb).source
    expected = bootstrap.guard(bootstrap.install_source(), keras=path.parent.name == "chapters")
    assert first.startswith(expected), "run `python -m course bootstrap` (then commit)"
    assert not bootstrap.strip_guard(first).startswith(bootstrap.HEADER)  # just one guard


def test_guard_check_fails_when_the_block_changes(tmp_path, monkeypatch, capsys):
    notebook = tmp_path / "00_foundations.ipynb"
    shutil.copy(ROOT / "solutions" / notebook.name, notebook)
    assert bootstrap.main(["--check", str(notebook)]) == 0
    config = tmp_path / "_config.yml"
    config.write_text(FILLED.format(path='""'))
    monkeypatch.setattr(bootstrap, "CONFIG", config)
    monkeypatch.setattr(bootstrap, "ROOT", tmp_path)
    assert bootstrap.main(["--check", str(notebook)]) == 1
    assert "stale guard: 00_foundations.ipynb" in capsys.readouterr().err


def test_rewriting_replaces_the_guard_and_is_idempotent():
    nb = nbformat.read(ROOT / "solutions" / "00_foundations.ipynb", as_version=4)
    setup = bootstrap.strip_guard(bootstrap.first_code_cell(nb).source)
    filled = bootstrap.guard("git+https://github.com/acme/nn-course@v1", keras=False)
    assert bootstrap.with_guard(nb, filled)
    assert not bootstrap.with_guard(nb, filled)
    assert bootstrap.first_code_cell(nb).source == filled + setup
    with pytest.raises(ValueError):
        bootstrap.strip_guard(bootstrap.HEADER + "\nimport os\n")  # a hand-cut guard


@pytest.mark.parametrize("source", [None, "git+https://github.com/acme/nn-course@v2026.1"])
@pytest.mark.parametrize("keras", [False, True])
def test_guard_is_short_valid_and_silent_where_course_is_installed(source, keras, capsys):
    text = bootstrap.guard(source, keras)
    lines = text.splitlines()  # the placeholder's message takes 6 more
    assert len(lines) <= (14 if source else 20) and max(map(len, lines)) <= 100
    calls = []

    class Shell:
        def run_line_magic(self, *args):
            calls.append(args)

    exec(compile(transformed(text), "guard", "exec"), {"get_ipython": Shell})
    assert calls == [] and capsys.readouterr() == ("", "")


@pytest.mark.parametrize("keras", [False, True])
def test_guard_without_course_installs_or_says_what_to_set(tmp_path, keras):
    """In a Python where `course` is missing: the placeholder guard raises a message naming
    repository.url; with COURSE_INSTALL_SOURCE (or a filled block) it calls %pip."""
    script = tmp_path / "guard.py"
    record = "class S:\n    def run_line_magic(self, *a):\n        print(*a)\nget_ipython = S\n"
    for source in [None, "git+https://github.com/acme/nn-course@v1"]:
        script.write_text(record + transformed(bootstrap.guard(source, keras)))
        env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", bootstrap.ENV}}
        run = [sys.executable, "-I", "-S", str(script)]  # no checkout, no site-packages
        done = subprocess.run(run, capture_output=True, text=True, env=env, cwd=tmp_path)
        if source is None:
            assert done.returncode == 1 and "set repository.url in _config.yml" in done.stderr
        else:
            extra = "{extra}" if keras else ""
            assert done.stdout.split("\n")[0] == (
                f'pip install --quiet "nn-scratch-to-keras{extra} @ {{source}}"'
            )
        env[bootstrap.ENV] = "file:///somewhere"
        done = subprocess.run(run, capture_output=True, text=True, env=env, cwd=tmp_path)
        assert done.returncode == 0 and done.stdout.startswith("pip install"), done.stderr


# --------------------------------------------------------------------------- end to end


def light_requirements() -> list[str]:
    """pyproject's light dependencies: what a hosted runtime mostly has already."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project["dependencies"]


@pytest.mark.slow
@pytest.mark.skipif(not UV.exists(), reason="uv is installed by requirements.txt")
def test_the_guard_installs_the_course_in_a_fresh_runtime_and_the_notebook_passes(tmp_path):
    """A fresh virtualenv with the light dependencies but no `course` (like Colab, which has
    NumPy, SciPy, matplotlib… but not this course), a solution notebook run under strict
    nbval, and COURSE_INSTALL_SOURCE pointing at a copy of this checkout's package: the first
    cell installs the course with pip (non-editable, as from git), then every cell passes."""
    started = time.perf_counter()
    venv, python = tmp_path / "venv", tmp_path / "venv" / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    run = dict(capture_output=True, text=True, env=env, cwd=tmp_path)
    uv = [str(UV), "--quiet"]
    done = subprocess.run([*uv, "venv", "--seed", "--python", sys.executable, str(venv)], **run)
    assert done.returncode == 0, done.stderr
    constraints = ["-c", str(ROOT / "requirements-universal.txt")]
    install = [*uv, "pip", "install", "--python", str(python), *constraints]
    done = subprocess.run([*install, *light_requirements()], **run)
    assert done.returncode == 0, done.stderr
    missing = subprocess.run([str(python), "-c", "import course"], **run)
    assert missing.returncode == 1 and "No module named 'course'" in missing.stderr

    # The package as pip would clone it (a copy: an in-tree build would write build/ here).
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "course", src / "course", ignore=ignore)
    shutil.copytree(ROOT / "scratchnn", src / "scratchnn", ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", src)
    env[bootstrap.ENV] = src.as_uri()
    nb_path = tmp_path / "notebook" / "00_foundations.ipynb"
    nb_path.parent.mkdir()
    nb = json.loads((ROOT / "solutions" / nb_path.name).read_text(encoding="utf-8"))
    first = next(c for c in nb["cells"] if c["cell_type"] == "code")
    first["metadata"].setdefault("tags", []).append("nbval-ignore-output")  # pip's messages
    nb_path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    sanitize = str(ROOT / "course" / "nbval_sanitize.cfg")
    nbval = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval", str(nb_path)]
    nbval += ["--nbval-sanitize-with", sanitize, "--nbval-cell-timeout", "300"]
    done = subprocess.run([str(python), *nbval], **run)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]

    where = subprocess.run([str(python), "-c", "import course; print(course.__file__)"], **run)
    assert where.returncode == 0 and Path(where.stdout.strip()).is_relative_to(venv), where
    print(
        f"bootstrap test: fresh runtime, install and nbval in {time.perf_counter() - started:.0f} s"
    )


# --------------------------------------------------------------------------- launch buttons


@pytest.mark.slow
def test_the_filled_block_puts_colab_and_binder_buttons_on_a_notebook_page(tmp_path):
    """A one-page book whose _config.yml is this repository's ADOPTERS block, filled in the
    way its comments say: the notebook page links to Colab and Binder at the pinned branch."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    block = {key: config[key] for key in ("repository", "html", "launch_buttons")}
    block["repository"] = {**block["repository"], "url": "https://github.com/acme/nn-course"}
    block["repository"]["branch"] = "v2026.1"
    block["launch_buttons"] = {
        **block["launch_buttons"],
        "binderhub_url": "https://mybinder.org",
        "colab_url": "https://colab.research.google.com",
    }
    book = tmp_path / "book"
    (book / "chapters").mkdir(parents=True)
    small = {"title": "t", "execute": {"execute_notebooks": "off"}, "only_build_toc_files": True}
    (book / "_config.yml").write_text(yaml.safe_dump({**small, **block}))
    (book / "_toc.yml").write_text("format: jb-book\nroot: chapters/00_page\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A page")])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, book / "chapters" / "00_page.ipynb")
    jb = str(Path(sys.executable).parent / "jupyter-book")
    done = subprocess.run(
        [jb, "build", str(book), "--warningiserror", "--quiet"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    html = (book / "_build" / "html" / "chapters" / "00_page.html").read_text(encoding="utf-8")
    page = "chapters/00_page.ipynb"
    assert f"https://colab.research.google.com/github/acme/nn-course/blob/v2026.1/{page}" in html
    assert f"https://mybinder.org/v2/gh/acme/nn-course/v2026.1?urlpath=lab/tree/{page}" in html


def test_binder_installs_the_course_with_keras_from_the_lock():
    """What a Binder image runs (repo2docker reads binder/): Python 3.11 and a postBuild that
    installs this checkout with the keras extra, held to the universal lock."""
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    post_build = (ROOT / "binder" / "postBuild").read_text()
    assert os.access(ROOT / "binder" / "postBuild", os.X_OK)
    assert "-c requirements-universal.txt" in post_build and '".[keras]"' in post_build
