"""The install files (issue 18): declared dependencies, and a lock for every student's platform.

Offline, installing nothing: these tests read pyproject.toml, requirements.in, requirements.txt
(the Linux CI lock), requirements-universal.txt and pylock.toml (both written by `make lock`
from one resolution; pylock.toml, PEP 751, also names every wheel and sdist of each pin).

- Every pin of the universal lock that a platform installs has a wheel whose tags that platform
  accepts, or an sdist, on Linux x86-64, macOS arm64 and Windows x86-64, for Python 3.11 and
  3.12. A pin that only has Linux wheels (tensorflow-cpu without its marker) fails here.
- The universal lock keeps requirements.txt's versions on Linux (chapter outputs depend on them).
- pyproject.toml declares every third-party module that course/ and scratchnn/ import, and
  Keras/TensorFlow only as an extra, imported lazily (the light install has no TensorFlow).

`make test-light` proves the light install in practice: it creates it and runs the solutions.
"""

from __future__ import annotations

import ast
import copy
import re
import sys
import tomllib
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import compatible_tags, cpython_tags, mac_platforms
from packaging.utils import canonicalize_name, parse_wheel_filename

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PYLOCK = tomllib.loads((ROOT / "pylock.toml").read_text())

# The versions chapter outputs depend on: never different between the two locks.
OUTPUT_PINS = ("numpy", "scipy", "tensorflow-cpu", "keras", "scikit-learn", "matplotlib")

# Where students are, as uv's --python-platform targets resolve them in `make lock`:
# x86_64-unknown-linux-gnu is manylinux_2_28 (glibc 2.28), aarch64-apple-darwin macOS 13.
LINUX = [f"manylinux_2_{minor}_x86_64" for minor in range(28, 4, -1)]
LINUX += ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]
PLATFORMS = {
    "Linux x86-64": (
        LINUX,
        {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"}
        | {"platform_machine": "x86_64"},
    ),
    "macOS arm64": (
        list(mac_platforms((13, 0), "arm64")),
        {"sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix"}
        | {"platform_machine": "arm64"},
    ),
    "Windows x86-64": (
        ["win_amd64"],
        {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt"}
        | {"platform_machine": "AMD64"},
    ),
}
PYTHONS = ("3.11.9", "3.12.8")


def targets():
    """(label, marker environment, accepted wheel tags) for each platform and Python."""
    for platform, (tags, system) in PLATFORMS.items():
        for python in PYTHONS:
            version = tuple(int(part) for part in python.split(".")[:2])
            env = {
                "implementation_name": "cpython",
                "implementation_version": python,
                "platform_python_implementation": "CPython",
                "platform_release": "",
                "platform_version": "",
                "python_version": "%d.%d" % version,
                "python_full_version": python,
                "extra": "",
                **system,
            }
            accepted = set(cpython_tags(version, platforms=tags))
            accepted |= set(compatible_tags(version, "cp%d%d" % version, tags))
            yield f"{platform}, Python {python}", env, accepted


def installs(package: dict, env: dict) -> bool:
    """Whether a pylock.toml package is installed in the marker environment `env`."""
    if "marker" in package and not Marker(package["marker"]).evaluate(env):
        return False
    wanted = package.get("requires-python")
    return not wanted or SpecifierSet(wanted).contains(env["python_full_version"])


def missing_files(lock: dict) -> list[str]:
    """One line per (pin, platform) that has neither an accepted wheel nor an sdist."""
    problems = []
    for label, env, accepted in targets():
        for package in lock["packages"]:
            if not installs(package, env) or "sdist" in package:
                continue
            wheels = [
                w.get("name") or w["url"].rsplit("/", 1)[-1] for w in package.get("wheels", [])
            ]
            if not any(accepted & parse_wheel_filename(wheel)[3] for wheel in wheels):
                problems.append(f"{package['name']}=={package['version']}: no wheel for {label}")
    return problems


def pins(path: Path) -> dict[str, tuple[str, str]]:
    """name -> (version, normalized marker) of a requirements file written by pip-/uv-compile."""
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;]+)\s*(?:;\s*(.+))?$", line)
        if match:
            marker = str(Marker(match[3])) if match[3] else ""
            found[canonicalize_name(match[1])] = (match[2], marker)
    return found


def lock_pins(lock: dict) -> dict[str, tuple[str, str]]:
    return {
        canonicalize_name(p["name"]): (
            p["version"],
            str(Marker(p["marker"])) if "marker" in p else "",
        )
        for p in lock["packages"]
    }


def test_every_pin_has_a_wheel_or_sdist_on_every_platform():
    assert PYLOCK["packages"], "pylock.toml lists no packages"
    assert missing_files(PYLOCK) == []


def test_the_platform_check_fails_on_a_linux_only_pin():
    """Seen failing: tensorflow-cpu without its marker, and a made-up Linux-only package."""
    lock = copy.deepcopy(PYLOCK)
    for package in lock["packages"]:
        if package["name"] == "tensorflow-cpu":
            package.pop("marker", None)
    linux_only = "linuxonly-1.0-cp311-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    lock["packages"].append(
        {"name": "linuxonly", "version": "1.0", "wheels": [{"name": linux_only}]}
    )
    assert missing_files(lock) == [
        "tensorflow-cpu==2.21.0: no wheel for macOS arm64, Python 3.11.9",
        "linuxonly==1.0: no wheel for macOS arm64, Python 3.11.9",
        "tensorflow-cpu==2.21.0: no wheel for macOS arm64, Python 3.12.8",
        "linuxonly==1.0: no wheel for macOS arm64, Python 3.12.8",
        "linuxonly==1.0: no wheel for Windows x86-64, Python 3.11.9",
        "linuxonly==1.0: no wheel for Windows x86-64, Python 3.12.8",
    ]


def test_the_two_universal_locks_are_one_resolution():
    """requirements-universal.txt (for pip) and pylock.toml (the file names) pin the same."""
    assert pins(ROOT / "requirements-universal.txt") == lock_pins(PYLOCK)


def test_the_universal_lock_keeps_the_linux_ci_pins():
    linux_ci = {name: version for name, (version, _) in pins(ROOT / "requirements.txt").items()}
    linux_env = next(env for label, env, _ in targets() if label.startswith("Linux"))
    universal = {
        canonicalize_name(p["name"]): p["version"]
        for p in PYLOCK["packages"]
        if installs(p, linux_env)
    }
    for name in OUTPUT_PINS:
        assert name in linux_ci and name in universal, name
    differ = {n: (v, universal[n]) for n, v in linux_ci.items() if universal.get(n, v) != v}
    assert differ == {}, "requirements.txt vs the universal lock on Linux"
    # Only in requirements.txt: jupyter-builder, which JupyterLab 4.6 needed and 4.4.10 does not
    # (requirements.txt was not recompiled when JupyterLab was pinned back).
    assert set(linux_ci) - set(universal) <= {"jupyter-builder"}


def declared() -> dict[str, list[Requirement]]:
    """'' -> the dependencies, and each extra -> its requirements, from pyproject.toml."""
    project = PYPROJECT["project"]
    groups = {"": project["dependencies"], **project["optional-dependencies"]}
    return {group: [Requirement(r) for r in reqs] for group, reqs in groups.items()}


def test_keras_is_an_extra_with_the_right_tensorflow_per_platform():
    groups = declared()
    light = {canonicalize_name(r.name) for r in groups[""]}
    assert not light & {"tensorflow", "tensorflow-cpu", "keras"}
    linux_ci = pins(ROOT / "requirements.txt")
    for _, env, _ in targets():
        chosen = {r.name: r for r in groups["keras"] if r.marker is None or r.marker.evaluate(env)}
        tensorflow = "tensorflow" if env["sys_platform"] == "darwin" else "tensorflow-cpu"
        assert set(chosen) == {"keras", tensorflow}
        for name, requirement in chosen.items():
            # tensorflow on macOS: the same release as Linux's tensorflow-cpu
            version = linux_ci["tensorflow-cpu" if name.startswith("tensorflow") else name][0]
            assert str(requirement.specifier) == "==" + version, name


def test_pyproject_declares_every_package_of_requirements_in():
    """requirements.in (Linux CI) and pyproject.toml's extras must not drift apart."""
    direct = {
        canonicalize_name(Requirement(line.split("#")[0]).name)
        for line in (ROOT / "requirements.in").read_text().splitlines()
        if line.split("#")[0].strip()
    }
    everything = {
        canonicalize_name(r.name)
        for group in declared().values()
        for r in group
        if canonicalize_name(r.name) not in {"nn-scratch-to-keras", "tensorflow"}
    }
    assert direct - everything == set()


# Import name -> distribution, where they differ.
DISTRIBUTIONS = {"sklearn": "scikit-learn", "IPython": "ipython"}
KERAS_ONLY = {"keras", "tensorflow"}


def third_party_imports() -> dict[str, set[str]]:
    """top-level module -> 'path:line' of each import in course/ and scratchnn/; Keras and
    TensorFlow only when imported at module level (a lazy import inside a function is fine)."""
    own = {"course", "scratchnn"}
    found: dict[str, set[str]] = {}
    for path in sorted([*ROOT.glob("course/**/*.py"), *ROOT.glob("scratchnn/**/*.py")]):
        tree = ast.parse(path.read_text())
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                module = name.split(".")[0]
                if module in sys.stdlib_module_names or module in own:
                    continue
                if module in KERAS_ONLY and id(node) not in top_level:
                    continue
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                found.setdefault(module, set()).add(where)
    return found


def test_pyproject_declares_what_course_and_scratchnn_import():
    light = {canonicalize_name(r.name) for r in declared()[""]}
    imports = third_party_imports()
    assert {"numpy", "matplotlib", "nbformat"} <= set(imports)  # the scan sees imports
    undeclared = {
        module: sorted(where)
        for module, where in imports.items()
        if canonicalize_name(DISTRIBUTIONS.get(module, module)) not in light
    }
    assert undeclared == {}, "imported by course/scratchnn, not in pyproject's dependencies"


def test_the_universal_lock_satisfies_pyproject():
    """Offline staleness check: every declared requirement (extras included) that a platform
    installs is pinned in the lock at a version it accepts; else run `make lock`."""
    stale = []
    for label, env, _ in targets():
        pinned = {
            canonicalize_name(p["name"]): p["version"]
            for p in PYLOCK["packages"]
            if installs(p, env)
        }
        for group, requirements in declared().items():
            for r in requirements:
                name = canonicalize_name(r.name)
                if name == "nn-scratch-to-keras" or (r.marker and not r.marker.evaluate(env)):
                    continue
                if name not in pinned or not r.specifier.contains(pinned[name], prereleases=True):
                    stale.append(f"{r} [{group or 'dependencies'}], {label}: {pinned.get(name)}")
    assert stale == []
