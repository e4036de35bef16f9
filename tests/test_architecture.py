"""The floors of the code, read from the source with `ast` (DESIGN.md, "Architecture"):
pages and API are siblings above services, services sit below both and below the jobs, and no
portal module takes part in an import cycle."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "portal"


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported portal module
    line: int
    module_level: bool  # runs when the module is imported (not inside a function or `if TYPE_CHECKING`)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _resolve(source: str, node: ast.ImportFrom) -> list[str]:
    """The portal modules an `from … import …` names: a submodule when it is one, else the module itself."""
    if node.level:
        base = source.split(".") if _is_package(source) else source.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        module = ".".join(base + ([node.module] if node.module else []))
    else:
        module = node.module or ""
    if module != "portal" and not module.startswith("portal."):
        return []
    found = []
    for alias in node.names:
        sub = f"{module}.{alias.name}"
        found.append(sub if sub in MODULES else module)
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(source: str) -> list[Import]:
    tree = ast.parse(MODULES[source].read_text(), filename=str(MODULES[source]))
    found: list[Import] = []

    def visit(node: ast.AST, module_level: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend(Import(source, a.name, child.lineno, module_level) for a in child.names
                             if a.name == "portal" or a.name.startswith("portal."))
            elif isinstance(child, ast.ImportFrom):
                found.extend(Import(source, t, child.lineno, module_level) for t in _resolve(source, child))
            elif isinstance(child, ast.If) and _is_type_checking(child):
                for statement in child.body:
                    visit(ast.Module(body=[statement], type_ignores=[]), False)
                for statement in child.orelse:
                    visit(ast.Module(body=[statement], type_ignores=[]), module_level)
            else:
                deferred = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                visit(child, module_level and not deferred)

    visit(tree, True)
    return found


IMPORTS: list[Import] = [i for name in sorted(MODULES) for i in _imports(name)]


def _under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _crossings(lower: str, upper: str) -> list[str]:
    """Every import (module level or lazy) from a module under `lower` of one under `upper`."""
    return [f"{i.source}:{i.line} imports {i.target}" for i in IMPORTS
            if _under(i.source, lower) and _under(i.target, upper)]


def test_the_graph_sees_the_imports() -> None:
    """The reader works: it finds imports known to exist, relative and absolute, at module level and lazy."""
    edges = {(i.source, i.target, i.module_level) for i in IMPORTS}
    assert ("portal.services.domains", "portal.services.policies", True) in edges
    assert ("portal.api", "portal.api.domains", True) in edges
    assert any(s == "portal" and t == "portal.api" and not lvl for s, t, lvl in edges)  # create_app's lazy import
    assert len(MODULES) > 50


@pytest.mark.parametrize(("lower", "upper"), [("portal.web", "portal.api"), ("portal.api", "portal.web")])
def test_pages_and_api_are_siblings(lower: str, upper: str) -> None:
    """What both need (exports, serializers, schema errors) lives below them, never in one of them."""
    assert _crossings(lower, upper) == []


@pytest.mark.parametrize("upper", ["portal.web", "portal.api"])
def test_services_do_not_import_the_floors_above(upper: str) -> None:
    assert _crossings("portal.services", upper) == []


@pytest.mark.parametrize("lower", ["portal.models", "portal.schemas", "portal.integrations"])
@pytest.mark.parametrize("upper", ["portal.services", "portal.jobs", "portal.web", "portal.api"])
def test_the_ground_floor_imports_nothing_above_it(lower: str, upper: str) -> None:
    assert _crossings(lower, upper) == []


def test_services_do_not_import_the_jobs() -> None:
    assert _crossings("portal.services", "portal.jobs") == []


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module, or a module importing itself (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def connect(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges.get(node, ()):
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return found


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def _graph(*, lazy: bool) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for i in IMPORTS:
        if (i.module_level or lazy) and i.source != i.target:
            edges.setdefault(i.source, set()).add(i.target)
    return edges


def test_no_import_cycle_between_portal_modules() -> None:
    assert _cycles(_graph(lazy=False)) == []


def test_no_lazy_import_hides_a_cycle() -> None:
    """An import inside a function is not a way around a cycle (as `policies.get` once borrowed `domains`)."""
    assert _cycles(_graph(lazy=True)) == []
