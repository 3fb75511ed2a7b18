"""Command-line front end: the GUI by default, headless subcommands for servers and scripts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ggen_desktop import __version__


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
    parser.add_argument("--self-check", action="store_true",
                        help="open the window offscreen-capable, join the network, search, and exit 0 if results came back")
    parser.set_defaults(handler=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.handler is not None:
        return int(args.handler(args))
    from ggen_desktop.gui.launch import run_gui  # Qt is imported only when the window is wanted

    return run_gui(args)
