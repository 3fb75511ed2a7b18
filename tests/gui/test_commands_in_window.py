"""While the window runs, a `search` of its data folder runs in the window's node (over the control socket,
on the qasync loop), as it does in a headless `node`: results printed, no node of its own started (without
--bootstrap it could not have)."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from pytestqt.qtbot import QtBot

from ggen_desktop.gui.main_window import MainWindow
from tests.gui.conftest import Runner
from tests.helpers.node_process import ROOT, cli_env, command


def test_a_search_command_runs_in_the_window_s_node(qtbot: QtBot, window: MainWindow, run: Runner,
                                                   tmp_path: Path) -> None:
    node = window.app.node

    async def search() -> subprocess.CompletedProcess[str]:
        process = await asyncio.create_subprocess_exec(
            *command("search", "rust", "--data-dir", str(tmp_path / "data"), "--timeout", "3", "--limit", "3"),
            env=cli_env(tmp_path / "user"), cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await process.communicate()
        assert process.returncode is not None
        return subprocess.CompletedProcess([], process.returncode, out.decode(), err.decode())

    done = run(search(), 30)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 4 and "finished" in lines[-1], lines  # three results and the summary
    assert done.stderr == ""  # no "in use", no in-memory node; and without --bootstrap none could have started
    assert [q.text for q in node.recent_queries()][:1] == ["rust"]
