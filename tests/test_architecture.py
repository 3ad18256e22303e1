"""The shape of the house, checked from the source: who may import whom, no import cycles, sizes, lazy imports.

The import graph is read with :mod:`ast` from the project's own files (``bot``, ``handlers``, ``knowledge``,
``storage``), so it sees every import, including relative ones and those inside functions. Only imports under
``if TYPE_CHECKING:`` are left out: they never run. ``import a.b`` and ``from a.b import c`` are edges to
``a.b`` (or to ``a.b.c`` when that is a module), not to the package ``a`` that Python initialises first: a
package's ``__init__`` importing its own modules is not a cycle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from handlers.features import FEATURES

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "handlers", "knowledge", "storage")

MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
# Functions that are one literal table and may be longer ("module:function"). Empty: none is.
TABLE_FUNCTIONS: frozenset[str] = frozenset()
# Thin CLI commands call a feature's logic by name; the rest of ``bot`` runs what the features declare.
CLI_COMMANDS = "bot.cli."
CLI_NOT_A_COMMAND = frozenset({"bot.cli.run"})


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool

    @property
    def relative(self) -> str:
        return self.path.relative_to(ROOT).as_posix()


def module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


@cache
def modules(*roots: str) -> dict[str, Module]:
    found: dict[str, Module] = {}
    for root in roots:
        for path in sorted((ROOT / root).rglob("*.py")):
            name, is_package = module_name(path)
            found[name] = Module(name, path, is_package)
    return found


@cache
def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def import_nodes(node: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement under ``node`` except those in the body of ``if TYPE_CHECKING:``."""
    if isinstance(node, ast.Import | ast.ImportFrom):
        return [node]
    found: list[ast.Import | ast.ImportFrom] = []
    if isinstance(node, ast.If) and is_type_checking(node.test):
        children: list[ast.AST] = [node.test, *node.orelse]
    else:
        children = list(ast.iter_child_nodes(node))
    for child in children:
        found.extend(import_nodes(child))
    return found


def known(name: str, universe: dict[str, Module]) -> str | None:
    """The project module ``name`` names, or the nearest enclosing one (``a.b.c`` → ``a.b``)."""
    while name:
        if name in universe:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_in(parsed: ast.Module, module: Module, universe: dict[str, Module]) -> list[Edge]:
    """The project modules ``module`` imports (``parsed`` is its source), one edge per imported name."""
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    edges: list[Edge] = []
    for node in import_nodes(parsed):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - node.level + 1], *([base] if base else [])])
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in universe else base for alias in node.names]
        for target in targets:
            resolved = known(target, universe)
            edge = Edge(module.name, resolved or "", node.lineno)
            if resolved is not None and resolved != module.name and edge not in edges:
                edges.append(edge)
    return edges


@cache
def graph() -> dict[str, list[Edge]]:
    universe = modules(*PACKAGES)
    return {name: imports_in(tree(module.path), module, universe) for name, module in universe.items()}


def under(name: str, *prefixes: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def describe(edges: list[Edge]) -> str:
    universe = modules(*PACKAGES)
    return "\n".join(f"  {universe[e.source].relative}:{e.line} imports {e.target}" for e in edges)


def find_cycle(edges: dict[str, list[Edge]]) -> list[Edge] | None:
    """One import cycle as the edges around it, or ``None``."""
    done: set[str] = set()
    stack: list[str] = []
    path: list[Edge] = []  # path[i] leads from stack[i] to stack[i + 1]

    def visit(name: str) -> list[Edge] | None:
        stack.append(name)
        for edge in edges.get(name, []):
            if edge.target in stack:
                return [*path[stack.index(edge.target) :], edge]
            if edge.target not in done:
                path.append(edge)
                found = visit(edge.target)
                if found:
                    return found
                path.pop()
        stack.pop()
        done.add(name)
        return None

    for name in sorted(edges):
        if name not in done:
            found = visit(name)
            if found:
                return found
    return None


def test_the_graph_sees_relative_lazy_and_type_checking_imports() -> None:
    """The checker itself: relative imports resolve, function-level ones count, TYPE_CHECKING ones do not."""
    names = ("p", "p.q", "p.q.a", "p.b")
    universe = {name: Module(name, ROOT / f"{name}.py", name in ("p", "p.q")) for name in names}
    source = (
        "from typing import TYPE_CHECKING\n"
        "from . import a\n"
        "from .. import b as _b\n"
        "if TYPE_CHECKING:\n"
        "    import p.b\n"
        "def f():\n"
        "    from p.q.a import thing\n"
        "    import json\n"
    )
    edges = imports_in(ast.parse(source), Module("p.q.c", ROOT / "c.py", False), universe)
    assert [(e.target, e.line) for e in edges] == [("p.q.a", 2), ("p.b", 3), ("p.q.a", 7)]
    cycle = find_cycle({"a": [Edge("a", "b", 1)], "b": [Edge("b", "c", 2)], "c": [Edge("c", "b", 3)]})
    assert cycle is not None and [(e.source, e.target) for e in cycle] == [("b", "c"), ("c", "b")]
    assert find_cycle({"a": [Edge("a", "b", 1)], "b": [], "c": [Edge("c", "b", 1)]}) is None


def test_no_import_cycles() -> None:
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle:\n" + describe(cycle or [])


def test_lower_layers_never_import_upper_ones() -> None:
    rules = {
        ("handlers", "knowledge", "storage"): ("bot",),
        ("knowledge", "storage"): ("handlers",),
    }
    wrong = [
        edge
        for (sources, targets) in rules.items()
        for name, edges in graph().items()
        if under(name, *sources)
        for edge in edges
        if under(edge.target, *targets)
    ]
    assert not wrong, "a lower layer imports an upper one:\n" + describe(wrong)


def test_bot_never_names_a_feature() -> None:
    wrong = [
        edge
        for name, edges in graph().items()
        if under(name, "bot") and not (name.startswith(CLI_COMMANDS) and name not in CLI_NOT_A_COMMAND)
        for edge in edges
        if under(edge.target, *FEATURES)
    ]
    assert not wrong, "bot/ imports a feature (it should run what handlers.features declares):\n" + describe(wrong)


def test_modules_and_functions_are_small() -> None:
    too_long: list[str] = []
    for module in modules(*PACKAGES).values():
        lines = len(module.path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            too_long.append(f"  {module.relative}: {lines} lines (at most {MAX_MODULE_LINES})")
        for node in ast.walk(tree(module.path)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES and f"{module.name}:{node.name}" not in TABLE_FUNCTIONS:
                too_long.append(
                    f"  {module.relative}:{node.lineno} {node.name}: {length} lines (at most {MAX_FUNCTION_LINES})"
                )
    assert not too_long, "too long:\n" + "\n".join(sorted(too_long))


def test_no_test_module_imports_another() -> None:
    universe = modules("tests")
    wrong = [
        f"  {module.relative}:{edge.line} imports {edge.target}"
        for module in universe.values()
        for edge in imports_in(tree(module.path), module, universe)
        if edge.target.rpartition(".")[2].startswith("test_")
    ]
    assert not wrong, "a test module imports a test module (shared code belongs in tests/support):\n" + "\n".join(wrong)


def test_importing_the_neutral_types_loads_no_feature() -> None:
    probe = (
        "import sys, handlers.types\n"
        "print(handlers.types.__file__)\n"
        f"features = {FEATURES!r}\n"
        "print('\\n'.join(sorted(m for m in sys.modules if any(m == f or m.startswith(f + '.') for f in features))))"
    )
    # Run from the checkout so that this tree is the one imported, not another one through the venv.
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    imported, *loaded = result.stdout.split()
    assert Path(imported).resolve() == ROOT / "handlers" / "types.py", "the test ran another checkout"
    assert loaded == [], "import handlers.types loaded features:\n" + "\n".join(loaded)
