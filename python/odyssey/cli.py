"""The ``odyssey`` command."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence


def _doctor(args: argparse.Namespace) -> int:
    """Print what this installation is and what it runs on."""
    import odyssey

    info = odyssey.cpu_info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    rows = [
        ("ML Odyssey", info["version"]),
        ("Python", sys.version.split()[0]),
        ("CPU", f"{info['cpu'] or 'unknown model'} ({info['arch']})"),
        ("ISA compiled", ", ".join(info["isa_compiled"])),
        ("ISA available", ", ".join(info["isa_available"])),
        ("ISA selected", info["isa_selected"]),
        ("threads", str(info["threads"])),
        ("compiler", info["compiler"]),
        ("build type", info["build_type"]),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="odyssey", description="ML Odyssey: reproduce classic deep-learning papers."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    doctor = commands.add_parser(
        "doctor", help="show version, detected and selected ISA, threads and build"
    )
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    doctor.set_defaults(run=_doctor)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return args.run(args)
