"""The net modules import one another in one direction only: no cycle, not even one hidden behind
TYPE_CHECKING, so each module can be read, tested and replaced from the bottom up."""

from __future__ import annotations

import ast
import pkgutil
from pathlib import Path

import ggen_desktop.net

PACKAGE = "ggen_desktop.net"


def net_imports(path: Path) -> set[str]:
    """Every ggen_desktop.net module that `path` imports, wherever the import statement stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith(f"{PACKAGE}."))
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            if node.module == PACKAGE:  # from ggen_desktop.net import node
                found.update(f"{PACKAGE}.{alias.name}" for alias in node.names)
            elif node.module.startswith(f"{PACKAGE}."):
                found.add(node.module)
    return found


def import_graph() -> dict[str, set[str]]:
    folder = Path(ggen_desktop.net.__path__[0])
    modules = {f"{PACKAGE}.{m.name}": folder / f"{m.name}.py" for m in pkgutil.iter_modules([str(folder)])}
    return {name: net_imports(path) & modules.keys() for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path that returns to its start, or None."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" once fully explored
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                return [*path[path.index(target):], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        path.pop()
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)) is not None:
            return cycle
    return None


def test_the_cycle_finder_sees_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_among_net_modules() -> None:
    graph = import_graph()
    assert len(graph) >= 6 and f"{PACKAGE}.node" in graph
    assert graph[f"{PACKAGE}.node"], "the parser found no import at all; the check would prove nothing"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
