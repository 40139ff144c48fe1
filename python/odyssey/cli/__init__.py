"""The ``odyssey`` command: one module per subcommand, each adding its parser with ``register``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from odyssey.cli import datasets, doctor, evaluate, train

__all__ = ["build_parser", "main"]

SUBCOMMANDS = (doctor, datasets, train, evaluate)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand; each sets ``run`` to the function it calls."""
    parser = argparse.ArgumentParser(
        prog="odyssey", description="ML Odyssey: reproduce classic deep-learning papers."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``odyssey ARGS`` and returns its exit status (2 without a command)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return args.run(args)
