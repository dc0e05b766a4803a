"""The ``python -m pa100k`` command line: a registry of subcommands, each added by the module that owns it."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from dataclasses import dataclass
from typing import Callable, Sequence

from pa100k.registry import Registry


@dataclass(frozen=True)
class Command:
    """A subcommand: its one-line help, an argument builder and the function that runs it."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int | None]


COMMANDS: Registry[Command] = Registry("pa100k command")

# Modules that register subcommands when imported (each owns its commands).
COMMAND_MODULES = (
    "pa100k.commands",
)


def command(name: str, help: str, add_arguments: Callable[[argparse.ArgumentParser], None]):
    """Decorator that registers ``fn(args)`` as subcommand ``name``."""

    def decorator(fn: Callable[[argparse.Namespace], int | None]):
        COMMANDS.add(name, Command(name, help, add_arguments, fn))
        return fn

    return decorator


def build_parser() -> argparse.ArgumentParser:
    """The parser with every registered subcommand."""
    for module in COMMAND_MODULES:
        importlib.import_module(module)
    parser = argparse.ArgumentParser(prog="python -m pa100k", description="Pedestrian attribute datasets: load, render, split, export.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name in COMMANDS:
        cmd = COMMANDS.get(name)
        p = sub.add_parser(name, help=cmd.help, description=cmd.help)
        cmd.add_arguments(p)
        p.set_defaults(_run=cmd.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m pa100k``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {msg}", file=sys.stderr)
        return 2
