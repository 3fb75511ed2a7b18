"""The design's layering holds: every import of every module points down the one-way chain
core <- store <- net <- app <- gui / cli, and each third-party library stays in its one layer.

Read from the source (AST), so an import inside a function or under TYPE_CHECKING counts
as much as one at the top; the import-time checks then run in a fresh interpreter, so other
tests' imports cannot hide a slip.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ggen_desktop"
ROOT = "ggen_desktop"

# Bottom to top: a layer may import only itself and layers before it (checked below), and of those only
# what ALLOWED names. `app` is the composition root (app.py, and logging_setup.py, commands.py, control.py and publishers.py
# which both front ends use).
ORDER = ("core", "store", "net", "app", "gui", "cli")
ALLOWED = {
    "core": {"core"},
    "store": {"store", "core"},
    "net": {"net", "store", "core"},
    "app": {"app", "net", "store", "core"},
    "gui": {"gui", "app", "core"},
    "cli": {"cli", "app", "core"},
}
# The one upward-looking exception: `ggen-desktop` with no command opens the window, importing the
# GUI (and Qt) only then, inside the function that launches it.
LAZY_ONLY = {("cli", "ggen_desktop.gui.launch")}
# Third-party libraries that belong to one layer each.
OWNED = {
    "net": ("kademlia", "rpcudp", "umsgpack", "libtorrent", "async_upnp_client"),
    "gui": ("PySide6", "shiboken6", "qasync"),
}


def layer_of(module: str) -> str | None:
    """The layer of one of our modules; None for the package root (only `__version__`)."""
    parts = module.split(".")
    if parts == [ROOT]:
        return None
    if parts[1] in ("core", "store", "net", "gui"):
        return parts[1]
    if parts[1] in ("app", "logging_setup", "commands", "control", "publishers"):
        return "app"
    if parts[1] in ("cli", "__main__"):
        return "cli"
    raise AssertionError(f"{module} belongs to no layer: add it to layer_of")


def our_modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name, from its __init__)."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imports(module: str, source: str, is_package: bool = False) -> list[tuple[str, bool, int]]:
    """(imported module, inside a function, line) for every import statement in the source."""
    found: list[tuple[str, bool, int]] = []
    package = module if is_package else module.rpartition(".")[0]

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend((alias.name, in_function, child.lineno) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:  # relative: resolve against this module's package
                    anchor = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                names = [f"{base}.{a.name}" for a in child.names] if base == ROOT else [base]
                found.extend((name, in_function, child.lineno) for name in names)
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(ast.parse(source), False)
    return found


def violations(module: str, source: str, is_package: bool = False) -> list[str]:
    """Every import in `source` that breaks the rules for `module`'s layer, one line each."""
    layer = layer_of(module)
    problems = []
    for name, in_function, line in imports(module, source, is_package):
        top = name.split(".")[0]
        where = f"{module}:{line} imports {name}"
        if top == ROOT:
            target = None if name in (ROOT, f"{ROOT}.__version__") else layer_of(name)
            if target is None or layer is None:
                if layer is None and target is not None:
                    problems.append(f"{where}: the package root imports nothing of ours")
                continue
            if (layer, name) in LAZY_ONLY:
                if not in_function:
                    problems.append(f"{where}: allowed only inside a function (lazily)")
            elif target not in ALLOWED[layer]:
                problems.append(f"{where}: {layer} may import only {sorted(ALLOWED[layer])}")
        else:
            owner = next((owner for owner, libraries in OWNED.items() if top in libraries), None)
            if owner is not None and owner != layer:
                problems.append(f"{where}: {top} belongs to the {owner} layer only")
    return problems


def test_the_allowed_arrows_point_one_way_only() -> None:
    for layer, allowed in ALLOWED.items():
        below = set(ORDER[: ORDER.index(layer) + 1])
        assert allowed <= below, f"{layer} may import {sorted(allowed - below)}, which sit above it"
    assert {(layer, layer_of(target)) for layer, target in LAZY_ONLY} == {("cli", "gui")}


def test_every_module_imports_only_from_its_own_layer_and_below() -> None:
    modules = our_modules()
    problems = []
    for module, path in modules.items():
        problems += violations(module, path.read_text(encoding="utf-8"), is_package=path.name == "__init__.py")
    assert problems == []
    assert {layer_of(module) for module in modules} == {None, *ORDER}  # every module has a layer, every layer modules
    assert len(modules) > 40


@pytest.mark.parametrize(
    ("module", "source", "problem"),
    [
        ("ggen_desktop.gui.publish_panel", "from ggen_desktop.store.identity import open_key_file",
         "gui may import only ['app', 'core', 'gui']"),
        ("ggen_desktop.gui.launch", "def f():\n    from ggen_desktop.net.node import NodeError",
         "gui may import only"),
        ("ggen_desktop.gui.main_window", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
         "    from ggen_desktop.net import node", "gui may import only"),
        ("ggen_desktop.gui.main_window", "import kademlia.network", "kademlia belongs to the net layer only"),
        ("ggen_desktop.core.query", "from ggen_desktop.app import App", "core may import only ['core']"),
        ("ggen_desktop.core.query", "from . import package\nfrom ..store import paths", "imports ggen_desktop.store"),
        ("ggen_desktop.store.database", "import PySide6.QtCore", "PySide6 belongs to the gui layer only"),
        ("ggen_desktop.net.node", "from ggen_desktop.app import App", "net may import only"),
        ("ggen_desktop.app", "from ggen_desktop.gui.main_window import MainWindow", "app may import only"),
        ("ggen_desktop.cli", "from ggen_desktop.gui.launch import run_gui", "allowed only inside a function"),
        ("ggen_desktop.cli", "def f():\n    from ggen_desktop.gui.main_window import MainWindow", "cli may import only"),
        ("ggen_desktop.cli", "from ggen_desktop.net.node import NodeError", "cli may import only"),
        ("ggen_desktop", "from ggen_desktop.app import App", "the package root imports nothing of ours"),
    ],
)
def test_the_check_catches_an_import_against_the_arrows(module: str, source: str, problem: str) -> None:
    found = violations(module, source)
    assert len(found) == 1 and problem in found[0], found


def test_allowed_imports_pass_the_check() -> None:
    assert violations("ggen_desktop.cli", "def main():\n    from ggen_desktop.gui.launch import run_gui") == []
    assert violations("ggen_desktop.gui.about", "from ggen_desktop import __version__\nimport PySide6") == []
    assert violations("ggen_desktop.store.lock", "from .errors import StoreLocked") == []


FORBIDDEN_AT_IMPORT = {
    "ggen_desktop.core": ("PySide6", "qasync", "kademlia", "rpcudp", "keyring", "ggen_desktop.net",
                          "ggen_desktop.store", "ggen_desktop.gui", "ggen_desktop.app"),
    "ggen_desktop.store": ("PySide6", "qasync", "kademlia", "rpcudp", "ggen_desktop.net", "ggen_desktop.gui",
                           "ggen_desktop.app"),
    # the window is shown before the engine loads: the GUI's modules pull in neither the network code nor the keyring
    "ggen_desktop.gui": ("kademlia", "rpcudp", "keyring", "ggen_desktop.net", "ggen_desktop.store.identity"),
}


@pytest.mark.parametrize("package", sorted(FORBIDDEN_AT_IMPORT))
def test_importing_a_layer_loads_nothing_it_must_not(package: str) -> None:
    modules = sorted(m for m in our_modules() if m.startswith(f"{package}."))
    script = (
        "import importlib, sys\n"
        f"for module in {modules!r}:\n"
        "    importlib.import_module(module)\n"
        "print(sorted(sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, cwd=PACKAGE.parent)
    assert done.returncode == 0, done.stderr
    loaded = ast.literal_eval(done.stdout)
    assert len(modules) >= 5
    forbidden = FORBIDDEN_AT_IMPORT[package]
    assert [m for m in loaded if m.split(".")[0] in forbidden or m.startswith(forbidden)] == []
