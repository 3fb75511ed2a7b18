"""The design's layering holds: core is plain Python, store adds only local state, and only net
touches the DHT library. Checked in a fresh interpreter, so other tests' imports cannot hide a slip."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys

import pytest

import ggen_desktop.core
import ggen_desktop.store

FORBIDDEN = {
    "ggen_desktop.core": ("PySide6", "qasync", "kademlia", "rpcudp", "ggen_desktop.net", "ggen_desktop.store",
                          "ggen_desktop.gui", "ggen_desktop.app"),
    "ggen_desktop.store": ("PySide6", "qasync", "kademlia", "rpcudp", "ggen_desktop.net", "ggen_desktop.gui",
                           "ggen_desktop.app"),
}


@pytest.mark.parametrize("package", [ggen_desktop.core, ggen_desktop.store], ids=lambda p: p.__name__)
def test_lower_layers_import_nothing_from_above(package: object) -> None:
    name = package.__name__  # type: ignore[attr-defined]
    modules = [f"{name}.{m.name}" for m in pkgutil.iter_modules(package.__path__)]  # type: ignore[attr-defined]
    script = (
        "import importlib, sys\n"
        f"for module in {modules!r}:\n"
        "    importlib.import_module(module)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {{'PySide6', 'qasync', 'kademlia', 'rpcudp'}}"
        f" or m.startswith(('ggen_desktop.net', 'ggen_desktop.gui', 'ggen_desktop.app', 'ggen_desktop.store'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    loaded = ast.literal_eval(done.stdout)
    assert len(modules) >= 5
    assert [m for m in loaded if m.startswith(FORBIDDEN[name])] == []
