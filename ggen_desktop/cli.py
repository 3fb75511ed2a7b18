"""Command-line front end: the GUI by default, headless subcommands for servers and scripts.

`node` runs a node until SIGINT/SIGTERM; while no peer answers it keeps trying
(one log line per try). `search`, `publish` and `fetch` first ask the node running
on their data folder (the app or a `node`), over its control socket, to run them,
so no node joins the network for them (control.py); with none running they run a
short-lived node that joins through `--bootstrap` (or says it could not), does one
thing and leaves. Either way the same code prints the same lines (commands.py).
`search --json` is the contract for scripts: one JSON object per result on stdout,
and a JSON summary as the last line on stderr. They use the platform data folder
like everything else; when another process holds it but answers no command, they
say so in one line and run an in-memory node instead (a package published that
way is not republished by this machine later). Every failure ends with one
sentence on stderr and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ggen_desktop import __version__
from ggen_desktop.commands import MAX_LIMIT
from ggen_desktop.commands import CommandError as CliError

if TYPE_CHECKING:
    from ggen_desktop.app import App

log = logging.getLogger(__name__)

EXIT_FAILURE = 1
ONE_SHOT_JOIN_WAIT_S = 3.0  # after the first try: time for a retry before a one-shot command gives up


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ggen-desktop",
        description="Desktop browser and node for the ggen peer-to-peer package marketplace. "
        "With no command it opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"ggen-desktop {__version__}")
    parser.add_argument("--bootstrap", metavar="HOST:PORT", action="append", default=[],
                        help="join a real network through this peer (repeatable); "
                        "without it the app runs its built-in demo network")
    parser.add_argument("--port", type=int, default=None, help="UDP port to listen on (default: settings, else any)")
    parser.add_argument("--data-dir", type=Path, default=None, help="folder for the database (default: platform data dir)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log everything, including the DHT library's per-peer messages")
    parser.add_argument("--self-check", action="store_true",
                        help="open the window offscreen-capable, join the network, search, and exit 0 if results came back")
    parser.set_defaults(handler=None)

    # Shared options repeated on each subcommand; SUPPRESS keeps a value given before the command.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--bootstrap", metavar="HOST:PORT", action="append", default=argparse.SUPPRESS,
                        help="a peer of the network to join (repeatable)")
    common.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS, help="folder for the database")
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="log everything, including the DHT library's per-peer messages")
    common.add_argument("--interface", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_commands(commands, common)
    return parser


def _add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """`node`, `publish` and `search`, each with the shared options of `common`."""
    node = commands.add_parser("node", parents=[common], help="run a headless node until interrupted")
    node.add_argument("--port", type=int, default=argparse.SUPPRESS, help="UDP port to listen on")
    node.set_defaults(handler=_sync(cmd_node), command="node")

    publish = commands.add_parser("publish", parents=[common], help="sign a package manifest and publish it")
    publish.add_argument("manifest", type=Path, help="the package manifest (ggen-package.toml or its folder)")
    publish.add_argument("--key-file", type=Path, default=None,
                         help="publisher key file (created, owner-only, if missing); default: the OS keyring")
    publish.set_defaults(handler=_sync(cmd_publish), command="publish")

    search = commands.add_parser("search", parents=[common], help="search the network, printing results as they arrive")
    search.add_argument("text", help="words to look for")
    search.add_argument("--category", action="append", default=[], help="only this category (repeatable)")
    search.add_argument("--tag", action="append", default=[], help="only this tag (repeatable)")
    search.add_argument("--limit", type=_limit, default=20,
                        help=f"print at most this many results, 1 to {MAX_LIMIT} (default 20); past a page "
                        "(the max_results setting) the same search goes on for the next")
    search.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for answers, per page (default 10)")
    search.add_argument("--json", action="store_true",
                        help="one JSON object per result on stdout; a JSON summary as the last line on stderr")
    search.set_defaults(handler=_sync(cmd_search), command="search")

    fetch = commands.add_parser("fetch", parents=[common],
                                help="download a package's archive from the nodes that seed it and check it")
    fetch.add_argument("package", metavar="PACKAGE_ID", help="the package, as namespace/name")
    fetch.add_argument("--version", dest="package_version", default=None, help="this version (default: the newest)")
    fetch.add_argument("--publisher", default=None, metavar="FINGERPRINT", help="only this publisher's package")
    fetch.add_argument("--output", type=Path, default=Path("."), metavar="DIR",
                       help="folder to put the archive in (default: the current folder)")
    fetch.set_defaults(handler=_sync(cmd_fetch), command="fetch")


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if not 1 <= value <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"{value} is not from 1 to {MAX_LIMIT}")
    return value


def _sync(command: Callable[[argparse.Namespace], Coroutine[Any, Any, int]]) -> Callable[[argparse.Namespace], int]:
    """Run an async command; turn every expected failure into one sentence on stderr."""

    def run(args: argparse.Namespace) -> int:
        from ggen_desktop.commands import expected_errors  # here: the GUI launch needs none of it

        expected = expected_errors()
        _configure_logging(args)
        try:
            return asyncio.run(command(args))
        except expected as exc:
            message = str(exc) or type(exc).__name__
            print(f"ggen-desktop: error: {message}", file=sys.stderr)
            return EXIT_FAILURE
        except KeyboardInterrupt:
            return 130

    return run


def _configure_logging(args: argparse.Namespace) -> None:
    """Errors only for one-shot commands (their failure is the one sentence); `node` logs info, also to
    a file in the platform log folder; `-v` logs everything."""
    from ggen_desktop.logging_setup import configure_logging, platform_log_file

    is_node = args.command == "node"
    log_file = platform_log_file("node.log") if is_node else None
    configure_logging(args.verbose, level=logging.INFO if is_node else logging.ERROR, log_file=log_file)


def _bootstrap(args: argparse.Namespace) -> list[str]:
    return list(getattr(args, "bootstrap", []) or [])


async def cmd_node(args: argparse.Namespace) -> int:
    from ggen_desktop.app import App

    app = App(data_dir=args.data_dir, port=args.port, bootstrap=_bootstrap(args), interface=args.interface,
              allow_demo=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows: Ctrl+C arrives as KeyboardInterrupt
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))
    try:
        await app.start()
        host, port = app.node.address
        print(f"listening on {host}:{port} node {app.node.node_id_hex}", flush=True)
        await stop.wait()
        log.info("shutting down")
    finally:
        await app.stop()
    return 0


async def _client_app(args: argparse.Namespace, what: str) -> App:
    """A short-lived node joined through --bootstrap; in memory if the data folder is in use."""
    from ggen_desktop.app import App

    bootstrap = _bootstrap(args)
    if not bootstrap:
        raise CliError(f"{what} needs a peer to join (give --bootstrap HOST:PORT), "
                       "or a running ggen-desktop on its data folder")
    app = App(data_dir=args.data_dir, port=0, bootstrap=bootstrap, interface=args.interface, allow_demo=False,
              memory_if_locked=True, seed=False, serve_commands=False, client_mode=True)
    if app.in_memory:
        print("ggen-desktop: the data folder is in use by another ggen-desktop; using a temporary in-memory node",
              file=sys.stderr)
    try:
        await app.start()
        if not await app.node.wait_joined(ONE_SHOT_JOIN_WAIT_S):
            raise CliError(f"no reachable bootstrap peer among {', '.join(bootstrap)}; "
                           "check the address and that it is running")
    except BaseException:
        await app.stop()
        raise
    return app


class _Terminal:
    """The commands' Output for this process: stdout, stderr, and progress on a terminal only."""

    async def out(self, line: str) -> None:
        print(line, flush=True)

    async def err(self, line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    async def progress(self, text: str) -> None:
        print(f"\r{text}", end="", file=sys.stderr, flush=True)


TERMINAL = _Terminal()


async def _run(args: argparse.Namespace, request: dict[str, Any]) -> int:
    """Run a command in the node serving the data folder when one runs (nothing joins the network), else in a
    short-lived node of its own."""
    from ggen_desktop import commands
    from ggen_desktop.control import run_in_running_node

    final = await run_in_running_node(args.data_dir, request, TERMINAL)
    if final is None:
        app = await _client_app(args, args.command)
        try:
            final = await commands.run(app, request, TERMINAL)
        finally:
            await app.stop()
    return _exit_code(final)


def _exit_code(final: dict[str, Any]) -> int:
    code = final.get("exit")
    return code if isinstance(code, int) and not isinstance(code, bool) else EXIT_FAILURE


async def cmd_publish(args: argparse.Namespace) -> int:
    """The manifest is read and signed here (the key never leaves this process); a running node of the data folder
    keeps and seeds the archive and publishes, else a short-lived node does."""
    from ggen_desktop import commands
    from ggen_desktop.app import App
    from ggen_desktop.control import run_in_running_node
    from ggen_desktop.core.manifest import read_manifest
    from ggen_desktop.core.package import Package

    package, archive = read_manifest(args.manifest)
    if args.key_file is not None:
        publisher, created = App.open_key_file(args.key_file)
        if created:
            print(f"created a new publisher key in {args.key_file} (readable by you only; back it up)",
                  file=sys.stderr)
    else:
        found = App.keyring_identity()
        if found is None:
            raise CliError("there is no publisher key in the OS keyring yet; create one in the app, "
                           "or pass --key-file PATH to use (or create) a key file")
        publisher = found
    if archive is not None:
        added = await run_in_running_node(args.data_dir, {"command": "add-archive", "package": package.to_dict(),
                                                          "archive": str(archive.resolve())}, TERMINAL)
        if added is None:  # no node runs on the folder: one of our own keeps the archive and publishes
            app = await _client_app(args, "publish")
            try:
                # kept in the data folder; a `node` or the app started on it seeds it
                record = publisher.sign_package(await app.add_archive(package, archive))
                final = await commands.run(app, _publish_request(record.encoded), TERMINAL)
            finally:
                await app.stop()
            return _exit_code(final)
        if not isinstance(added.get("package"), dict):
            raise CliError("the running node kept the archive but did not say how it named it")
        package = Package.from_dict(added["package"])
    return await _run(args, _publish_request(publisher.sign_package(package).encoded))


def _publish_request(encoded: bytes) -> dict[str, Any]:
    return {"command": "publish", "record": encoded.decode("utf-8")}


async def cmd_search(args: argparse.Namespace) -> int:
    from ggen_desktop.core.query import Query

    Query(text=args.text, categories=tuple(args.category), tags=tuple(args.tag))  # a bad query fails before any node
    return await _run(args, {"command": "search", "text": args.text, "categories": args.category, "tags": args.tag,
                             "limit": args.limit, "timeout": args.timeout, "json": args.json})


async def cmd_fetch(args: argparse.Namespace) -> int:
    from ggen_desktop.core.package import PackageId, Version

    request: dict[str, Any] = {"command": "fetch", "package": str(PackageId.parse(args.package)),
                               "output": str(args.output.resolve()), "progress": sys.stderr.isatty()}
    if args.package_version:
        request["version"] = str(Version.parse(args.package_version))
    if args.publisher:
        request["publisher"] = args.publisher
    return await _run(args, request)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.handler is not None:
        return int(args.handler(args))
    from ggen_desktop.gui.launch import run_gui  # Qt is imported only when the window is wanted

    return run_gui(args)
