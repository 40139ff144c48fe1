"""`run(*argv)`: the `odyssey` command in this process, for the CLI tests."""

from __future__ import annotations

import contextlib
import io

from odyssey.cli import main


def run(*argv: str) -> tuple[int, str, str]:
    """`odyssey ARGV` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(argv))
        except SystemExit as exit_:  # argparse's usage errors
            status = int(exit_.code or 0)
    return status, out.getvalue(), err.getvalue()
