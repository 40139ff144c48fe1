"""``odyssey doctor``: what this installation is and what it runs on."""

from __future__ import annotations

import argparse
import json
import sys


def register(commands: argparse._SubParsersAction) -> None:
    """Adds ``doctor`` to the ``odyssey`` parser."""
    doctor = commands.add_parser(
        "doctor", help="show version, detected and selected ISA, threads and build"
    )
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    doctor.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Prints the version, the CPU, the compiled, available and selected ISAs and the build."""
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
