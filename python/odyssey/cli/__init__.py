"""The ``odyssey`` command: one module per subcommand, each adding its parser with ``register``."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from typing import TextIO

from odyssey.cli import (
    agent,
    bench,
    datasets,
    doctor,
    evaluate,
    new,
    predict,
    sweep,
    train,
    validate,
)

__all__ = ["build_parser", "main"]

SUBCOMMANDS = (doctor, datasets, new, train, sweep, evaluate, predict, validate, bench, agent)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand; each sets ``run`` to the function it calls."""
    parser = argparse.ArgumentParser(
        prog="odyssey", description="ML Odyssey: reproduce classic deep-learning papers."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.register(commands)
    return parser


def _one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """A warning as one line naming the command, not Python's file, line and source excerpt."""
    print(f"odyssey: warning: {message}", file=file if file is not None else sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``odyssey ARGS`` and returns its exit status (2 without a command)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    with warnings.catch_warnings():  # restores Python's own display afterwards
        warnings.showwarning = _one_line_warning
        return args.run(args)
