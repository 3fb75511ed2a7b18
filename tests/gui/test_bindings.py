"""The installed Qt bindings keep Python's reference counts straight.

PySide6 6.12.0 on Python 3.11 dropped a reference to None on every void Qt
call, and CPython aborted after ~100,000 of them; pyproject.toml keeps that
release out. This runs the reproduction in a child process, so a regression
shows as a failed test rather than a crashed suite.
"""

from __future__ import annotations

import subprocess
import sys

REPRODUCTION = """
import sys
from PySide6.QtCore import QCoreApplication, QObject, QTimer
app = QCoreApplication([])
timer, obj = QTimer(), QObject()
before = sys.getrefcount(None)
for _ in range(200_000):
    timer.setInterval(5)
    obj.setObjectName("x")
print(sys.getrefcount(None) - before)
"""


def test_void_qt_calls_do_not_leak_references_to_none() -> None:
    done = subprocess.run([sys.executable, "-c", REPRODUCTION], check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    assert abs(int(done.stdout.strip())) < 1000
