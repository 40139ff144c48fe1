"""The odyssey command."""

from __future__ import annotations

import os
import subprocess
import sys

from odyssey.cli import main


def test_no_command_prints_help(capsys) -> None:
    assert main([]) == 2
    assert "doctor" in capsys.readouterr().out


def test_console_script_runs_as_a_module() -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ODYSSEY_")}
    result = subprocess.run(
        [sys.executable, "-m", "odyssey", "doctor", "--no-self-test"],
        env={**environment, "ODYSSEY_ISA": "scalar"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "ISA selected   scalar" in result.stdout
