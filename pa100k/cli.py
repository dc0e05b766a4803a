"""Command lines made of registered subcommands (``python -m pa100k``, ``python -m hpnet``, ``python -m leaderboard``)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pa100k.registry import Registry

AddArguments = Callable[[argparse.ArgumentParser], None]
Handler = Callable[[argparse.Namespace], "int | None"]


@dataclass(frozen=True)
class Command:
    """A subcommand: its one-line help, an argument builder and the function that runs it."""

    name: str
    help: str
    add_arguments: AddArguments
    run: Handler


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    """Argument builder of a subcommand without arguments."""


class CommandLine:
    """A program of subcommands: each module registers its own with `command`; errors in the input exit with 2.

    ``modules`` are imported before the parser is built (they register commands when imported);
    ``global_arguments`` adds options shared by every subcommand; ``errors`` are the exception types
    printed as one ``error: ...`` line instead of a traceback.
    """

    def __init__(self, prog: str, description: str, *, modules: Sequence[str] = (),
                 global_arguments: AddArguments | None = None,
                 errors: tuple[type[BaseException], ...] = (FileNotFoundError, ValueError, KeyError)) -> None:
        self.prog = prog
        self.description = description
        self.modules = tuple(modules)
        self.global_arguments = global_arguments
        self.errors = errors
        self.commands: Registry[Command] = Registry(f"{prog} command")

    def command(self, name: str, help: str, add_arguments: AddArguments = _no_arguments) -> Callable[[Handler], Handler]:
        """Decorator that registers ``fn(args)`` as subcommand ``name``."""

        def decorator(fn: Handler) -> Handler:
            self.commands.add(name, Command(name, help, add_arguments, fn))
            return fn

        return decorator

    def build_parser(self) -> argparse.ArgumentParser:
        """The parser with every registered subcommand."""
        for module in self.modules:
            importlib.import_module(module)
        parser = argparse.ArgumentParser(prog=self.prog, description=self.description)
        if self.global_arguments is not None:
            self.global_arguments(parser)
        parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
        sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
        for name in self.commands:
            cmd = self.commands.get(name)
            p = sub.add_parser(name, help=cmd.help, description=cmd.help)
            cmd.add_arguments(p)
            p.set_defaults(_run=cmd.run)
        return parser

    def main(self, argv: Sequence[str] | None = None) -> int:
        """Parse ``argv`` and run the subcommand; bad input prints one line and returns 2."""
        parser = self.build_parser()
        args = parser.parse_args(argv)
        logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
        if not getattr(args, "command", None):
            parser.print_help()
            return 0
        try:
            return int(args._run(args) or 0)
        except self.errors as exc:
            msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            print(f"error: {msg}", file=sys.stderr)
            return 2


CLI = CommandLine("python -m pa100k", "Pedestrian attribute datasets: load, render, split, export.",
                  modules=("pa100k.commands",))
COMMANDS = CLI.commands
command = CLI.command
build_parser = CLI.build_parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m pa100k``."""
    return CLI.main(argv)
