"""The control endpoint, app side: a running App serves the one-shot commands of its data folder, and a
command reaches the running node of its folder before it thinks of starting a node of its own.

The transport (socket, permissions, wire format) is net/control_socket.py; what a command does is
commands.py. Here the two meet: requests are run against the App, their lines streamed back.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ggen_desktop.commands import CommandError, Message, Output, expected_errors
from ggen_desktop.net.control_socket import ControlError, ControlServer, NoNodeRunning, Reply, request
from ggen_desktop.store import paths

if TYPE_CHECKING:
    from ggen_desktop.app import App

log = logging.getLogger(__name__)


class _Streamed:
    """An Output that sends each line over the control connection as it is written."""

    def __init__(self, reply: Reply) -> None:
        self._reply = reply

    async def out(self, line: str) -> None:
        await self._reply({"out": line})

    async def err(self, line: str) -> None:
        await self._reply({"err": line})

    async def progress(self, text: str) -> None:
        await self._reply({"progress": text})


async def serve(app: App) -> ControlServer | None:
    """Serve the app's commands on its data folder's control socket; None (and one log line saying why) when it
    cannot: an in-memory app, an unsafe folder, a path too long for a socket, Windows."""
    from ggen_desktop import commands

    if app.data_dir is None:
        return None

    async def handle(message: Message, reply: Reply) -> Message:
        try:
            return await commands.run(app, message, _Streamed(reply))
        except expected_errors() as exc:
            return {"error": str(exc) or type(exc).__name__}

    server = ControlServer(app.data_dir, handle)
    try:
        await server.start()
    except (ControlError, OSError, NotImplementedError) as exc:
        log.warning("commands of this data folder will start nodes of their own: %s", exc)
        return None
    return server


async def run_in_running_node(data_dir: Path | None, message: Message, output: Output) -> Message | None:
    """Run a command in the node serving the data folder (`data_dir`, else the default one), its lines written
    to `output` as they arrive; returns its final message, None when no node runs there.
    CommandError with the node's sentence when the command failed there."""
    folder = paths.data_dir(data_dir, create=False)
    try:
        async with contextlib.aclosing(request(folder, message)) as answers:  # closes the connection on return
            async for answer in answers:
                if "out" in answer:
                    await output.out(str(answer["out"]))
                elif "err" in answer:
                    await output.err(str(answer["err"]))
                elif "progress" in answer:
                    await output.progress(str(answer["progress"]))
                elif "error" in answer:
                    raise CommandError(str(answer["error"]))
                elif "exit" in answer:
                    return answer
    except NoNodeRunning as exc:
        log.debug("no running node: %s", exc)
        return None
    except ControlError as exc:
        raise CommandError(str(exc)) from None
    raise CommandError("the running node ended its answer without an exit code")
