"""The control endpoint's transport on real Unix sockets: who may serve where, streaming, a client that
leaves, a handler that fails, and what a command sees when no node answers."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from ggen_desktop.net.control_socket import (
    MAX_SUN_PATH,
    ControlError,
    ControlServer,
    Message,
    NoNodeRunning,
    Reply,
    request,
    socket_path,
)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir(mode=0o700)
    return path


async def echo(message: Message, reply: Reply) -> Message:
    await reply({"out": f"asked {message['command']}"})
    return {"exit": 0}


@pytest_asyncio.fixture
async def served(folder: Path) -> AsyncIterator[ControlServer]:
    server = ControlServer(folder, echo)
    await server.start()
    yield server
    await server.close()


async def answers(folder: Path, message: Message) -> list[Message]:
    return [answer async for answer in request(folder, message)]


@pytest.mark.asyncio
async def test_one_request_gets_its_lines_then_the_exit(served: ControlServer, folder: Path) -> None:
    assert await answers(folder, {"command": "search"}) == [{"out": "asked search"}, {"exit": 0}]
    assert await answers(folder, {"command": "fetch"}) == [{"out": "asked fetch"}, {"exit": 0}]  # and again


@pytest.mark.asyncio
async def test_lines_arrive_while_the_command_still_runs(folder: Path) -> None:
    go_on = asyncio.Event()

    async def slow(message: Message, reply: Reply) -> Message:
        await reply({"out": "first"})
        await go_on.wait()
        return {"exit": 3}

    server = ControlServer(folder, slow)
    await server.start()
    try:
        stream = request(folder, {"command": "search"})
        assert await asyncio.wait_for(anext(stream), 5) == {"out": "first"}  # before the command ended
        assert not go_on.is_set()
        go_on.set()
        assert [a async for a in stream] == [{"exit": 3}]
    finally:
        await server.close()


@pytest.mark.asyncio
async def test_a_client_that_leaves_ends_its_command(folder: Path) -> None:
    started, ended = asyncio.Event(), asyncio.Event()

    async def endless(message: Message, reply: Reply) -> Message:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            ended.set()
        return {"exit": 0}

    server = ControlServer(folder, endless)
    await server.start()
    try:
        _, writer = await asyncio.open_unix_connection(str(socket_path(folder)))
        writer.write(b'{"protocol": 1, "command": "search"}\n')
        await asyncio.wait_for(started.wait(), 5)
        writer.close()  # Ctrl+C on the command
        await asyncio.wait_for(ended.wait(), 5)
    finally:
        await server.close()


@pytest.mark.asyncio
async def test_a_handler_that_fails_is_one_error_line_and_the_server_goes_on(folder: Path) -> None:
    async def broken(message: Message, reply: Reply) -> Message:
        if message["command"] == "boom":
            raise RuntimeError("disk on fire")
        return {"exit": 0}

    server = ControlServer(folder, broken)
    await server.start()
    try:
        failed = await answers(folder, {"command": "boom"})
        assert len(failed) == 1 and "RuntimeError: disk on fire" in str(failed[0]["error"])
        assert await answers(folder, {"command": "fine"}) == [{"exit": 0}]
    finally:
        await server.close()


@pytest.mark.asyncio
async def test_close_removes_the_socket_and_then_no_node_runs(served: ControlServer, folder: Path) -> None:
    path = socket_path(folder)
    assert stat.S_IMODE(os.lstat(path).st_mode) == 0o600
    await served.close()
    assert not path.exists()
    with pytest.raises(NoNodeRunning):
        await answers(folder, {"command": "search"})


@pytest.mark.asyncio
async def test_a_stale_socket_file_is_replaced_and_a_live_one_is_not(folder: Path) -> None:
    path = socket_path(folder)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))  # what a SIGKILLed node leaves: a socket file nobody listens on
    dead.close()
    with pytest.raises(NoNodeRunning, match="no node answers"):
        await answers(folder, {"command": "search"})

    server = ControlServer(folder, echo)
    await server.start()
    try:
        assert await answers(folder, {"command": "search"}) == [{"out": "asked search"}, {"exit": 0}]
        with pytest.raises(ControlError, match="another process already serves commands"):
            await ControlServer(folder, echo).start()
        assert await answers(folder, {"command": "search"}) == [{"out": "asked search"}, {"exit": 0}]  # untouched
    finally:
        await server.close()


@pytest.mark.asyncio
async def test_an_unsafe_folder_or_a_file_in_the_way_is_refused_and_left_alone(folder: Path) -> None:
    folder.chmod(0o777)
    with pytest.raises(ControlError, match="writable by other users"):
        await ControlServer(folder, echo).start()
    assert not socket_path(folder).exists()

    if os.getuid() == 0:  # (CI runs as root) writable by a group the user does not own alone
        folder.chmod(0o770)
        os.chown(folder, -1, next(g for g in (1, 2, 3) if g != os.getgid()))
        with pytest.raises(ControlError, match="writable by other users"):
            await ControlServer(folder, echo).start()

    folder.chmod(0o700)
    socket_path(folder).write_text("not a socket")
    with pytest.raises(ControlError, match="is not a socket"):
        await ControlServer(folder, echo).start()
    assert socket_path(folder).read_text() == "not a socket"
    with pytest.raises(NoNodeRunning, match="not a socket"):
        await answers(folder, {"command": "search"})


@pytest.mark.asyncio
async def test_a_path_too_long_for_a_unix_socket_is_refused_clearly(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * (MAX_SUN_PATH - len(str(tmp_path))))
    deep.mkdir(mode=0o700)
    with pytest.raises(ControlError, match="too long for a Unix socket"):
        await ControlServer(deep, echo).start()
    with pytest.raises(NoNodeRunning):
        await answers(deep, {"command": "search"})
