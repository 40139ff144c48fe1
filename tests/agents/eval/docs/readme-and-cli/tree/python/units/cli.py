"""The `units` command.

units convert VALUE --source UNIT --target UNIT
"""

import argparse


def build_parser() -> argparse.ArgumentParser:
    """The parser of `units`."""
    parser = argparse.ArgumentParser(prog="units")
    commands = parser.add_subparsers(dest="command")
    convert = commands.add_parser("convert")
    convert.add_argument("value", type=float)
    convert.add_argument("--source", required=True)
    convert.add_argument("--target", required=True)
    return parser
