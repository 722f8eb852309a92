"""Keep the answer key (the course's own library, ``scratchnn``) out of graded answers.

Two layers, used by course/grading/grade.py:

1. **Static, always.** :func:`uses_library` reads a student's solution cell and reports
   whether it reaches the library: an ``import`` of it, its name in an identifier or a
   string (``__import__("scratchnn.losses")``, ``importlib.import_module(...)``), a dynamic
   import whose module name is computed, ``sys.modules``, a function's ``__globals__``, or a
   name that the canonical notebook's own cells bound to the library or to something
   computed from it (``reference``, ``reference_run``, ``expected = reference.f(x)``) and
   that the cell uses without binding it itself. A determined student can still hide the
   name (``getattr(globals()[chr(114) + ...])``); this layer catches the plain cheat.
2. **Runtime, when the canonical notebook does not import the library.** The grader then
   hides the package's folders inside the sandbox (:func:`package_dirs`), so no spelling
   of the import can work. Today every exercise notebook imports ``scratchnn`` as its tests'
   oracle, so this layer waits for the notebooks to stop doing so (issue #16).
"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

from course.paths import ROOT

LIBRARY = "scratchnn"
_WORD = re.compile(rf"\b{LIBRARY}\b")
# Attributes that lead from any object to the module dictionaries it came from.
_ESCAPES = {"__globals__": "reads a function's __globals__", "__builtins__": "reads __builtins__"}
_DYNAMIC_IMPORTS = {
    "__import__",
    "import_module",
    "find_spec",
    "spec_from_file_location",
    "SourceFileLoader",
    "run_path",
    "run_module",
    "resolve_name",
    "load_module",
}


def _parse(source: str) -> ast.Module | None:
    """The cell as Python, IPython magics turned into plain calls first; None if it does
    not parse (the run will then fail on its own)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        source = TransformerManager().transform_cell(source)
    except Exception:  # IPython missing or a cell it cannot transform: parse as it is
        pass
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes: the exercise's own docstrings may name the library."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _is_library_module(module: str | None) -> bool:
    return bool(module) and (module == LIBRARY or module.startswith(LIBRARY + "."))


def _submodule(name: str) -> bool:
    """Whether ``scratchnn.<name>`` is a module (not a function exported by the package)."""
    return any((d / f"{name}.py").exists() or (d / name).is_dir() for d in package_dirs())


def _import_bindings(node: ast.AST) -> set[str]:
    """Names an import statement binds to a library *module* (``reference``). A function
    taken from it (``from scratchnn.activations import erf``) is a helper the exercise
    hands to students, not the answer key, and is not listed."""
    names = set()
    if isinstance(node, ast.Import):
        for alias in node.names:
            if _is_library_module(alias.name):
                names.add(alias.asname or alias.name.split(".")[0])
    elif isinstance(node, ast.ImportFrom) and node.module == LIBRARY:
        names |= {a.asname or a.name for a in node.names if _submodule(a.name)}
    return names


def _loaded_names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _top_level_bindings(tree: ast.Module):
    """(names bound, node computing them) for each binding at notebook level: assignments
    (also inside top-level loops and ifs), function and class definitions, imports."""

    def visit(statements):
        for stmt in statements:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                yield {stmt.name}, stmt
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                bound = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
                yield bound, stmt.value if stmt.value is not None else stmt
            elif isinstance(
                stmt, (ast.For, ast.AsyncFor, ast.While, ast.If, ast.With, ast.AsyncWith, ast.Try)
            ):
                for field in ("body", "orelse", "finalbody"):
                    yield from visit(getattr(stmt, field, []))
                for handler in getattr(stmt, "handlers", []):
                    yield from visit(handler.body)

    yield from visit(tree.body)


def library_names(sources: list[str]) -> frozenset[str]:
    """Names the canonical notebook's own cells (setup, tests) bind to the library or to
    values computed from it; a student's cell must not read them.

    A fixed point over the cells: ``reference`` (an import), then ``reference_run`` (a
    helper calling it), then anything assigned from either, and so on."""
    trees = [t for t in map(_parse, sources) if t is not None]
    tainted: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            tainted |= _import_bindings(node)
    changed = True
    while changed:
        changed = False
        for tree in trees:
            for bound, value in _top_level_bindings(tree):
                if bound - tainted and (
                    _loaded_names(value) & tainted or _mentions(value, _docstrings(tree))
                ):
                    tainted |= bound
                    changed = True
    return frozenset(tainted)


def _mentions(node: ast.AST, docs: set[int]) -> bool:
    """The library's name in an identifier, attribute or string (not a docstring: ``docs``)
    under ``node``."""
    for n in ast.walk(node):
        if id(n) in docs:
            continue
        text = (
            n.id
            if isinstance(n, ast.Name)
            else n.attr
            if isinstance(n, ast.Attribute)
            else n.value
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
            else ""
        )
        if _WORD.search(text):
            return True
    return False


def _bound_in(tree: ast.AST) -> set[str]:
    """Every name the cell binds anywhere (an approximation of its scopes)."""
    names = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load):
            names.add(n.id)
        elif isinstance(n, ast.arg):
            names.add(n.arg)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in n.names}
        elif isinstance(n, ast.ExceptHandler) and n.name:
            names.add(n.name)
    return names


def _called_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def _string(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _call_reasons(call: ast.Call, taken: frozenset[str]) -> list[str]:
    """A call that imports by a computed name, fetches a taken name by its string
    (``getattr(module, "reference")``), or runs code held in a string (checked in turn)."""
    name = _called_name(call)
    strings = [_string(a) for a in call.args]
    if name in _DYNAMIC_IMPORTS:
        return [f"imports by a computed name ({name})"]
    if name in {"eval", "exec", "compile"}:
        if strings and strings[0] is not None:
            return uses_library(strings[0], taken)
        return [f"runs code built at run time ({name})"]
    if name in {"getattr", "vars", "globals", "locals"}:
        return [f"the string {s!r}" for s in strings if s in taken]
    return []


def _reasons_in(tree: ast.Module, taken: frozenset[str]) -> list[str]:
    """Why a parsed cell reaches the library (empty: it does not, as far as we can see)."""
    reasons, docs = [], _docstrings(tree)
    free = taken - _bound_in(tree)
    for n in ast.walk(tree):
        if isinstance(n, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in n.names] if isinstance(n, ast.Import) else [n.module]
            if any(_is_library_module(m) for m in modules):
                reasons.append(f"import {LIBRARY}")
        elif isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs:
            if _WORD.search(n.value):
                reasons.append(f"the string {n.value[:40]!r}")
        elif isinstance(n, ast.Subscript) and _string(n.slice) in taken:
            reasons.append(f"[{_string(n.slice)!r}]")  # globals()["reference"]
        elif isinstance(n, ast.Name) and (n.id in free or _WORD.search(n.id)):
            reasons.append(f"`{n.id}`")
        elif isinstance(n, ast.Attribute):
            if n.attr in _ESCAPES:
                reasons.append(_ESCAPES[n.attr])
            elif n.attr == "modules" and isinstance(n.value, ast.Name) and n.value.id == "sys":
                reasons.append("reads sys.modules")
            elif _WORD.search(n.attr):
                reasons.append(f"`.{n.attr}`")
        elif isinstance(n, ast.Call):
            reasons += _call_reasons(n, taken)
    return list(dict.fromkeys(reasons))


def uses_library(source: str, taken: frozenset[str] = frozenset()) -> list[str]:
    """Why a student's cell reaches the course's library, or [] when it does not.

    ``taken``: :func:`library_names` of the canonical notebook. A cell that does not parse
    is searched as text (comments removed) for the library's name and those names."""
    tree = _parse(source)
    if tree is not None:
        return _reasons_in(tree, taken)
    code = "\n".join(line.split("#", 1)[0] for line in source.splitlines())
    words = [w for w in (LIBRARY, *sorted(taken)) if re.search(rf"\b{re.escape(w)}\b", code)]
    return [f"`{w}`" for w in words]


def imports_library(sources: list[str]) -> bool:
    """Whether the canonical notebook's cells import the library (then the sandbox cannot
    hide it without breaking the instructor's own tests)."""
    return any(uses_library(source) for source in sources)


def package_dirs() -> list[Path]:
    """Folders the library is imported from (the checkout's, and an installed copy's)."""
    dirs = {ROOT / LIBRARY}
    try:
        spec = importlib.util.find_spec(LIBRARY)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        dirs |= {Path(p) for p in spec.submodule_search_locations}
    return sorted(d.resolve() for d in dirs if d.is_dir())
