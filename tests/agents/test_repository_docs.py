"""The repository's own documentation has no drift that the docs agent finds without running
code (docstrings and documented command lines); `nox -s agent-docs` runs the code blocks too."""

from __future__ import annotations

from pathlib import Path

from odyssey.agents.docs.drift import find_drift

ROOT = Path(__file__).resolve().parents[2]


def test_the_repository_has_no_docstring_or_command_line_drift() -> None:
    drift = find_drift(ROOT, run_code=False)
    assert drift == [], "odyssey agent docs --check finds:\n" + "\n".join(
        item.describe() for item in drift
    )
