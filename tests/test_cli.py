"""The odyssey command."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import odyssey
from odyssey.cli import main


def test_doctor_prints_version_isa_threads_and_build(capsys) -> None:
    assert main(["doctor"]) == 0
    text = capsys.readouterr().out
    info = odyssey.cpu_info()
    assert f"ML Odyssey     {info['version']}" in text
    assert f"ISA selected   {info['isa_selected']}" in text
    assert f"ISA available  {', '.join(info['isa_available'])}" in text
    assert f"threads        {info['threads']}" in text
    assert info["compiler"] in text
    assert info["build_type"] in text


def test_doctor_json_is_cpu_info(capsys) -> None:
    assert main(["doctor", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == odyssey.cpu_info()


def test_no_command_prints_help(capsys) -> None:
    assert main([]) == 2
    assert "doctor" in capsys.readouterr().out


def test_console_script_runs_as_a_module() -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ODYSSEY_")}
    result = subprocess.run(
        [sys.executable, "-m", "odyssey", "doctor"],
        env={**environment, "ODYSSEY_ISA": "scalar"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "ISA selected   scalar" in result.stdout
