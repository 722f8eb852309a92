"""Book configuration: offline-safe settings, and the switch that leaves solutions out."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())


def toc_files() -> list[str]:
    return [c["file"] for part in TOC["parts"] for c in part.get("chapters", [])]


def test_config_points_every_script_at_vendored_copies():
    sphinx = CONFIG["sphinx"]["config"]
    assert "://" not in sphinx["mathjax_path"]
    assert all("://" not in path for path in sphinx["nb_ipywidgets_js"])
    assert CONFIG["execute"]["execute_notebooks"] == "off"


def test_every_chapter_is_in_the_toc():
    chapters = {f"chapters/{p.stem}" for p in (ROOT / "chapters").glob("[0-9][0-9]_*.ipynb")}
    assert chapters <= set(toc_files())


def test_every_toc_entry_exists():
    for entry in toc_files() + [TOC["root"]]:
        assert any((ROOT / f"{entry}{ext}").exists() for ext in (".md", ".ipynb")), entry


@pytest.mark.site
@pytest.mark.skipif(
    not any(f.startswith("solutions/") for f in toc_files()), reason="no solutions in the toc yet"
)
def test_solutions_switch_leaves_solutions_out(tmp_path):
    config = dict(CONFIG)
    config["sphinx"] = {
        **CONFIG["sphinx"],
        "config": {**CONFIG["sphinx"]["config"], "course_publish_solutions": False},
    }
    config_path = ROOT / f"_config.test-{tmp_path.name}.yml"
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True))
    try:
        jb = str(Path(sys.executable).parent / "jupyter-book")
        result = subprocess.run(
            [
                jb,
                "build",
                str(ROOT),
                "--config",
                str(config_path),
                "--path-output",
                str(tmp_path),
                "--warningiserror",
                "--quiet",
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
    finally:
        config_path.unlink()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    html = tmp_path / "_build" / "html"
    assert (html / "chapters" / "00_foundations.html").exists()
    assert not (html / "solutions").exists()
    assert "solutions/" not in (html / "index.html").read_text(encoding="utf-8")


TEXT_WITH_ESCAPED_UNDERSCORE = re.compile(r"\\text\{[^}]*\\_")


def _math_sources() -> dict[str, str]:
    sources = {
        p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8")
        for p in (ROOT / "book").glob("*.md")
    }
    for folder in ("chapters", "solutions"):
        for path in (ROOT / folder).glob("[0-9][0-9]_*.ipynb"):
            nb = json.loads(path.read_text(encoding="utf-8"))
            sources[path.relative_to(ROOT).as_posix()] = "\n".join(
                "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"
            )
    return sources


def test_math_text_has_no_escaped_underscores():
    r"""MathJax prints ``\text{fan\_in}`` with a visible backslash; write
    ``\text{fan}_\text{in}``."""
    offenders = {
        name: TEXT_WITH_ESCAPED_UNDERSCORE.findall(text) for name, text in _math_sources().items()
    }
    offenders = {name: hits for name, hits in offenders.items() if hits}
    assert not offenders, f"\\text{{…\\_…}} renders a literal backslash: {offenders}"


def test_escaped_underscore_check_can_fail():
    assert TEXT_WITH_ESCAPED_UNDERSCORE.search(r"$\sqrt{6/(\text{fan\_in}+\text{fan\_out})}$")
    assert not TEXT_WITH_ESCAPED_UNDERSCORE.search(
        r"$\sqrt{6/(\text{fan}_\text{in})}$ and `fan\_in` outside math"
    )


def test_jupyterlab_renders_the_books_myst_roles():
    """`make lab` shows {cite} and {doc} roles rendered: jupyterlab-myst must be installed
    and compatible with the pinned JupyterLab (4.6 refuses jupyterlab-myst 2.7)."""
    jupyter = Path(sys.executable).with_name("jupyter")
    listing = subprocess.run(
        [str(jupyter), "labextension", "list"], capture_output=True, text=True, timeout=120
    )
    lines = (listing.stdout + listing.stderr).splitlines()
    myst = [line for line in lines if "jupyterlab-myst" in line and "enabled" in line]
    assert myst and "OK" in myst[0], "\n".join(lines)
