"""The local control endpoint's transport: JSON lines over a Unix socket in the data folder.

A running node (the app or `ggen-desktop node`) serves it, so a short-lived command of the same
data folder runs inside that node instead of joining the network as a node of its own (the way
the `ipfs` command talks to a running daemon). Wire format, one request per connection:

- the client sends one JSON object on one line (UTF-8, at most MAX_REQUEST_BYTES with its newline),
  `{"protocol": 1, "command": NAME, ...}`;
- the server answers with JSON objects, one per line, as they come (`{"out": LINE}`, `{"err": LINE}`,
  ...), and ends with `{"exit": CODE}` or `{"error": SENTENCE}`, then closes the connection.

Only the user may connect: the folder must be the user's and not writable by others, and the
socket is made 0600 before it listens. A socket file left by a node that died (SIGKILL, power
loss) answers no connect and is replaced. Windows would use a named pipe; that is not built yet,
so there `ControlServer.start` raises NotImplementedError and `request` finds no node.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import stat
import sys
from collections.abc import AsyncGenerator, Awaitable, Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SOCKET_NAME = "control.sock"
PROTOCOL = 1
MAX_REQUEST_BYTES = 64 * 1024
MAX_REPLY_LINE_BYTES = 1024 * 1024  # one reply line (a search result is a few KiB)
REQUEST_WAIT_S = 10.0  # a client that connects and says nothing is dropped after this
MAX_CONNECTIONS = 32  # at once; more get an error line (the endpoint is for one user's commands)
MAX_SUN_PATH = 100  # sockaddr_un.sun_path is 104-108 bytes on the platforms we know; keep clear of it

Message = dict[str, Any]
Reply = Callable[[Message], Awaitable[None]]
Handler = Callable[[Message, Reply], Awaitable[Message]]  # streams with `reply`, returns the final message


class ControlError(Exception):
    """The endpoint cannot be served, or a running node answered out of protocol."""


class NoNodeRunning(ControlError):
    """No node answers on the data folder's control socket: the command runs a node of its own."""


class BadRequest(ControlError):
    """A request that is not one JSON object of the protocol on one bounded line."""


def socket_path(data_dir: Path) -> Path:
    """Where the node of a data folder serves its control endpoint."""
    return data_dir / SOCKET_NAME


def _check_path(path: Path) -> None:
    if sys.platform == "win32":
        raise NotImplementedError("the control endpoint on Windows needs a named pipe, which is not built yet")
    if len(os.fsencode(path)) > MAX_SUN_PATH:
        raise ControlError(f"the control socket path {path} is over {MAX_SUN_PATH} bytes, too long for a Unix socket")


def _check_folder(folder: Path) -> None:
    """The folder holding the socket must be the user's own and writable by nobody else, so nobody can swap the
    socket (writable by the user's private group, as umask 002 makes it, counts as the user's)."""
    info = folder.stat()
    if info.st_uid != os.getuid():
        raise ControlError(f"the data folder {folder} belongs to another user (uid {info.st_uid})")
    shared_group = info.st_mode & stat.S_IWGRP and not _is_private_group(info.st_gid)
    if info.st_mode & stat.S_IWOTH or shared_group:
        raise ControlError(f"the data folder {folder} is writable by other users "
                           f"(mode {stat.S_IMODE(info.st_mode):o}); make it yours only: chmod go-w")


def _is_private_group(gid: int) -> bool:
    """The user's own primary group with no other member (a "user private group")."""
    import grp

    try:
        group = grp.getgrgid(gid)
    except KeyError:
        return False
    return gid == os.getgid() and not set(group.gr_mem) - {_user_name()}


def _user_name() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def _answers(path: Path) -> bool:
    """True when a process accepts connections on the socket file (so it is not stale)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(os.fspath(path))
        except OSError:
            return False
    return True


class ControlServer:
    """Serves `handler` on a data folder's control socket until closed."""

    def __init__(self, data_dir: Path, handler: Handler) -> None:
        self.path = socket_path(data_dir)
        self._handler = handler
        self._server: asyncio.AbstractServer | None = None
        self._inode: tuple[int, int] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._open = 0

    async def start(self) -> None:
        """Bind (replacing a stale socket file), make it 0600, then listen. ControlError when the folder or path
        is unsafe or another process already answers there; NotImplementedError on Windows."""
        _check_path(self.path)
        _check_folder(self.path.parent)
        self._remove_stale()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(os.fspath(self.path))
            info = os.lstat(self.path)
            self._inode = (info.st_dev, info.st_ino)  # ours to remove from now on
            os.chmod(self.path, 0o600)  # before listen: nobody can connect while it has the default mode
            sock.listen(MAX_CONNECTIONS)
            sock.setblocking(False)
            self._server = await asyncio.start_unix_server(self._serve, sock=sock, limit=MAX_REQUEST_BYTES)
        except BaseException:
            sock.close()
            self._unlink_own()
            raise
        log.info("control endpoint on %s", self.path)

    def _remove_stale(self) -> None:
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(info.st_mode):
            raise ControlError(f"{self.path} exists and is not a socket; move it away to let the node serve commands")
        if _answers(self.path):
            raise ControlError(f"another process already serves commands on {self.path}")
        log.info("replacing the stale control socket %s (its node did not stop cleanly)", self.path)
        self.path.unlink()

    async def close(self) -> None:
        """Stop listening, end the commands in progress, remove the socket file if it is still ours."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await server.wait_closed()
        self._unlink_own()

    def _unlink_own(self) -> None:
        with contextlib.suppress(OSError):
            info = os.lstat(self.path)
            if (info.st_dev, info.st_ino) == self._inode:
                self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._open += 1
        try:
            if self._open > MAX_CONNECTIONS:
                await _send(writer, {"error": f"the node is busy with {MAX_CONNECTIONS} commands; try again"})
                return
            await self._answer(reader, writer)
        except (ConnectionError, BrokenPipeError):
            log.debug("a control client left before its answer was complete")
        finally:
            self._open -= 1
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(read_request(reader), REQUEST_WAIT_S)
        except BadRequest as exc:
            log.warning("refused a control request: %s", exc)
            await _send(writer, {"error": str(exc)})
            return
        except TimeoutError:
            await _send(writer, {"error": f"no request line within {REQUEST_WAIT_S:.0f} s"})
            return

        async def reply(message: Message) -> None:
            await _send(writer, message)

        command = asyncio.ensure_future(self._handler(request, reply))
        gone = asyncio.ensure_future(_until_eof(reader))  # the client went away (Ctrl+C): stop its command
        try:
            await asyncio.wait({command, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not command.done():
                command.cancel()
            gone.cancel()
            await asyncio.gather(command, gone, return_exceptions=True)
        if command.cancelled():
            log.info("control command %r stopped: its client left", request["command"])
            return
        failure = command.exception()
        if failure is not None:
            log.error("control command %r failed", request["command"], exc_info=failure)
            await _send(writer, {"error": f"the running node failed on this command ({type(failure).__name__}: "
                                          f"{failure}); its log has the details"})
            return
        await _send(writer, command.result())


async def _until_eof(reader: asyncio.StreamReader) -> None:
    """Returns when the client closes its end; anything it sends after its request is ignored."""
    while await reader.read(4096):
        pass


async def read_request(reader: asyncio.StreamReader) -> Message:
    """One request line, bounded and checked: a JSON object of this protocol naming a command."""
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.LimitOverrunError:
        raise BadRequest(f"request over {MAX_REQUEST_BYTES} bytes") from None
    except asyncio.IncompleteReadError as exc:
        raise BadRequest("request ended before its newline" if exc.partial else "empty request") from None
    if len(line) > MAX_REQUEST_BYTES:
        raise BadRequest(f"request over {MAX_REQUEST_BYTES} bytes")
    try:
        request = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"request is not UTF-8 JSON: {exc}") from None
    if not isinstance(request, dict):
        raise BadRequest(f"request is JSON but not an object ({type(request).__name__})")
    if request.get("protocol") != PROTOCOL:
        raise BadRequest(f"request protocol {request.get('protocol')!r} is not {PROTOCOL}; "
                         "the command and the running node are of different releases")
    if not isinstance(request.get("command"), str):
        raise BadRequest("request names no command")
    return request


async def _send(writer: asyncio.StreamWriter, message: Message) -> None:
    writer.write(json.dumps(message, separators=(",", ":")).encode("utf-8") + b"\n")
    await writer.drain()


async def request(data_dir: Path, message: Message) -> AsyncGenerator[Message, None]:
    """Send one request to the node serving `data_dir` and yield its answer line by line, the final
    `exit`/`error` message last. NoNodeRunning when nobody answers there (no socket, a stale one, or a
    socket that is not the user's); ControlError when the node answers out of protocol."""
    path = socket_path(data_dir)
    try:
        _check_path(path)
        info = os.lstat(path)
    except (OSError, NotImplementedError, ControlError) as exc:
        raise NoNodeRunning(str(exc)) from None
    if not stat.S_ISSOCK(info.st_mode) or info.st_uid != os.getuid():
        raise NoNodeRunning(f"{path} is not a socket of this user")
    try:
        reader, writer = await asyncio.open_unix_connection(os.fspath(path), limit=MAX_REPLY_LINE_BYTES)
    except OSError as exc:  # refused: a stale socket of a node that died
        raise NoNodeRunning(f"no node answers on {path}: {exc.strerror or exc}") from None
    try:
        await _send(writer, {"protocol": PROTOCOL, **message})
        while True:
            try:
                line = await reader.readuntil(b"\n")
            except asyncio.IncompleteReadError:
                raise ControlError("the running node closed the connection before it finished the command") from None
            except asyncio.LimitOverrunError:
                raise ControlError(f"the running node sent a line over {MAX_REPLY_LINE_BYTES} bytes") from None
            try:
                answer = json.loads(line)
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise ControlError("the running node answered with a line that is not JSON") from None
            if not isinstance(answer, dict):
                raise ControlError("the running node answered with a line that is not a JSON object")
            yield answer
            if "exit" in answer or "error" in answer:
                return
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
