"""Command-line front end: the GUI by default, headless subcommands for servers and scripts."""

from __future__ import annotations

import argparse
import sys

from ggen_desktop import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ggen-desktop", description=__doc__)
    parser.add_argument("--version", action="version", version=f"ggen-desktop {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    del args
    return 0
