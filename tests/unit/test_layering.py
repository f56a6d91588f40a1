"""The house rules, read from the source with ast (nothing is imported):

- libraries: Qt only in ui/, SQLAlchemy and Alembic only in db/;
- directions: the kernel of reviewer/ imports nothing of ours; wellbeing/ only the
  kernel; reviewer's services never import db/ or ui/; db/ never imports ui/; nothing
  imports the composition root or the CLI except the CLI itself (the entry point);
- no import cycles among our modules, counting every import wherever it is written
  (inside functions and under TYPE_CHECKING too: hiding one does not break it);
- no function-level imports of our own modules, except the few listed with the reason.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("reviewer", "wellbeing", "db", "ui")

# Imports nothing of ours but itself: what every layer may use. The media and video
# data types, and reviewer.media, the bounded picture decoder every layer shares (it
# needs only Pillow and the media types).
KERNEL = frozenset(
    {
        "reviewer.model",
        "reviewer.vocabulary",
        "reviewer.errors",
        "reviewer.clock",
        "reviewer.media_types",
        "reviewer.video_types",
        "reviewer.media",
    }
)
# The entry point and the composition root: they know every package; nothing below
# them may import them (tests may).
TOP = frozenset(
    {
        "reviewer.cli",
        "reviewer.cli_common",
        "reviewer.cli_hashes",
        "reviewer.cli_referrals",
        "reviewer.composition",
    }
)
# Function-level imports of our modules that are allowed, with why. Anything else
# written inside a function is either a cycle being hidden or an import that belongs
# at the top of the module.
DEFERRED_OK = {
    # PySide6 only for the GUI: the command-line tools run on servers without Qt.
    ("reviewer.cli", "ui.app"): "Qt only when the GUI starts",
    ("reviewer.cli", "ui.passphrase"): "Qt only when the GUI starts",
    # numpy and pdqhash only when a referral recomputes a hash.
    ("reviewer.referral_service", "reviewer.hashing"): "numpy/pdqhash only when needed",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _modules() -> dict[str, Path]:
    return {
        _module_name(p): p
        for package in PACKAGES
        for p in (ROOT / package).rglob("*.py")
        if "migrations" not in p.parts
    }


def _ours(name: str) -> str | None:
    """The module of ours `name` refers to (a package's attribute resolves to the
    package, `pkg.mod.Class` to `pkg.mod`), or None for a library."""
    modules = _modules()
    while name:
        if name in modules:
            return name
        if "." not in name:
            return None
        name = name.rsplit(".", 1)[0]
    return None


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """Every name an import statement brings in, absolute."""
    if isinstance(node, ast.Import):
        yield from (a.name for a in node.names)
        return
    base = node.module or ""
    if node.level:
        package = module.split(".")
        if _modules()[module].name != "__init__.py":
            package = package[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, base] if base else package)
    yield base
    yield from (f"{base}.{a.name}" for a in node.names)


class _Imports(ast.NodeVisitor):
    """Each import of the module, with whether it is written inside a function."""

    def __init__(self, module: str) -> None:
        self.module = module
        self.depth = 0
        self.found: list[tuple[str, bool, int]] = []  # (target, in a function, line)

    def _function(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_Import(self, node: ast.Import) -> None:
        self._add(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self._add(node)

    def _add(self, node: ast.Import | ast.ImportFrom) -> None:
        for target in _targets(self.module, node):
            self.found.append((target, self.depth > 0, node.lineno))


@cache
def _imports(module: str) -> tuple[tuple[str, bool, int], ...]:
    visitor = _Imports(module)
    visitor.visit(ast.parse(_modules()[module].read_text(), str(_modules()[module])))
    return tuple(visitor.found)


@cache
def _graph() -> dict[str, frozenset[str]]:
    """Our module -> our modules it imports (anywhere in it)."""
    graph = {}
    for module in _modules():
        ours = {_ours(t) for t, _, _ in _imports(module)}
        graph[module] = frozenset(m for m in ours if m is not None and m != module)
    return graph


def _libraries(module: str) -> set[str]:
    return {t.split(".")[0] for t, _, _ in _imports(module) if _ours(t) is None and t}


# -- libraries ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("package", "banned"),
    [
        ("reviewer", {"PySide6", "shiboken6", "sqlalchemy", "alembic"}),
        ("wellbeing", {"PySide6", "shiboken6", "sqlalchemy", "alembic"}),
        ("db", {"PySide6", "shiboken6"}),
        ("ui", {"sqlalchemy", "alembic"}),
    ],
)
def test_package_does_not_import_library(package: str, banned: set[str]) -> None:
    offenders = {
        m: sorted(_libraries(m) & banned)
        for m in _modules()
        if m.split(".")[0] == package and _libraries(m) & banned
    }
    assert offenders == {}


# -- directions --------------------------------------------------------------------------


def _violations(allowed: object) -> dict[str, list[str]]:
    """Module -> the modules of ours it imports that `allowed(module, target)` forbids."""
    out: dict[str, list[str]] = {}
    for module, targets in _graph().items():
        bad = sorted(t for t in targets if not allowed(module, t))  # type: ignore[operator]
        if bad:
            out[module] = bad
    return out


def _package(module: str) -> str:
    return module.split(".")[0]


def test_the_kernel_imports_nothing_of_ours_but_the_kernel() -> None:
    assert set(_modules()) >= KERNEL, "a kernel module was renamed: update KERNEL"
    assert _violations(lambda m, t: m not in KERNEL or t in KERNEL) == {}


def _wellbeing_allowed(m: str, t: str) -> bool:
    return _package(m) != "wellbeing" or _package(t) == "wellbeing" or t in KERNEL


def test_wellbeing_imports_only_the_kernel() -> None:
    assert _violations(_wellbeing_allowed) == {}


def test_services_import_neither_the_database_nor_the_screens() -> None:
    def allowed(m: str, t: str) -> bool:
        return _package(m) != "reviewer" or m in TOP or _package(t) not in ("db", "ui")

    assert _violations(allowed) == {}


def test_the_database_layer_never_imports_the_screens() -> None:
    assert _violations(lambda m, t: _package(m) != "db" or _package(t) != "ui") == {}


def test_the_screens_never_import_the_database_layer() -> None:
    # ui/ is handed services by the composition root; it never builds them.
    assert _violations(lambda m, t: _package(m) != "ui" or _package(t) != "db") == {}


def test_only_the_entry_point_imports_the_composition_root_and_the_cli() -> None:
    assert set(_modules()) >= TOP, "an entry-point module was renamed: update TOP"
    assert _violations(lambda m, t: t not in TOP or m in TOP) == {}


# -- cycles and hidden imports -----------------------------------------------------------


def _cycles(graph: dict[str, frozenset[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def test_the_cycle_finder_finds_a_cycle() -> None:
    # The finder itself can fail: a cycle through three modules, and none without it.
    graph = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset()}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({**graph, "c": frozenset()}) == []


def test_our_modules_import_each_other_without_cycles() -> None:
    assert _cycles(_graph()) == []


def test_no_function_level_import_of_our_modules_without_a_reason() -> None:
    hidden = sorted(
        {
            f"{module}:{line} imports {_ours(target)} inside a function"
            for module in _modules()
            for target, in_function, line in _imports(module)
            if in_function
            and _ours(target) is not None
            and _ours(target) != module
            and (module, _ours(target)) not in DEFERRED_OK
        }
    )
    assert hidden == []


def test_no_imports_under_type_checking() -> None:
    # An import only the type checker sees is how a cycle hides from the interpreter.
    offenders = []
    for module, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.If)
                and "TYPE_CHECKING" in ast.unparse(node.test)
                and any(isinstance(n, ast.Import | ast.ImportFrom) for n in ast.walk(node))
            ):
                offenders.append(f"{module}:{node.lineno}")
    assert offenders == []
