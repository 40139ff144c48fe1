"""`run_python(code, **env)`: a fresh interpreter running `code`, for the tests of what happens at
import (environment variables, the process's state at exit)."""

from __future__ import annotations

import os
import subprocess
import sys


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -c code` with the ODYSSEY_* variables of this process dropped and `env` added."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ODYSSEY_")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=60
    )
