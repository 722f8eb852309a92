"""``python -m course <command> …`` — the course's command line.

export      write cells tagged `export` to scratchnn/ (--check: fail if out of sync)
execute     re-execute changed notebooks in place, storing outputs (--force: all)
exercises   write exercises/ from solutions/ (--check: fail if out of sync)
bootstrap   write the hosted-launch install guard into the notebooks (--check: fail if stale)
grade       grade a folder of submissions (see `python -m course grade --help`)
merge       merge the gradebooks of several shards
nbgrader    write the assignments as an nbgrader course folder (source/ + nbgrader_config.py)
gradescope  build a Gradescope autograder zip for one assignment
"""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "export": ("course.build.export", "main"),
    "execute": ("course.build.execute", "main"),
    "exercises": ("course.build.exercises", "main"),
    "bootstrap": ("course.build.bootstrap", "main"),
    "grade": ("course.grading.grade", "grade_main"),
    "merge": ("course.grading.grade", "merge_main"),
    "nbgrader": ("course.grading.nbgrader", "main"),
    "gradescope": ("course.grading.gradescope", "main"),
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help", "help"} or argv[0] not in COMMANDS:
        print(__doc__)
        return 0 if argv and argv[0] in {"-h", "--help", "help"} else 2
    module, func = COMMANDS[argv[0]]
    return getattr(importlib.import_module(module), func)(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
