"""A run's directory: where it goes, and the files the Trainer writes there itself
(config.toml, summary.json, weights.safetensors and its SHA-256). Loggers, checkpoints and plots
write theirs through their own modules. Every file is written atomically."""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from odyssey import _atomic

__all__ = [
    "RunDirectoryError",
    "forget_test_metrics",
    "git_commit",
    "git_repository",
    "make_run_dir",
    "read_summary",
    "run_files",
    "sha256_file",
    "update_summary",
    "write_config",
    "write_summary",
    "write_weights",
]

CONFIG = "config.toml"
SUMMARY = "summary.json"
WEIGHTS = "weights.safetensors"
# What a run leaves in its directory (checkpoints/*.safetensors aside).
RUN_FILES = (CONFIG, SUMMARY, "metrics.jsonl", "metrics.csv", WEIGHTS)


class RunDirectoryError(ValueError):
    """A fresh fit was pointed at a directory that already holds a run."""


def run_files(path: str | Path) -> list[str]:
    """The files of a run that `path` holds (relative names; empty for a new directory)."""
    path = Path(path)
    found = [name for name in RUN_FILES if (path / name).exists()]
    checkpoints = path / "checkpoints"
    if checkpoints.is_dir():
        found += sorted(f"checkpoints/{p.name}" for p in checkpoints.glob("*.safetensors"))
    return found


# Where runs go unless told otherwise, under the current directory (odyssey doctor reports it).
RUNS_ROOT = "runs"


def make_run_dir(
    default_root_dir: str | Path | None, name: str, root: str | Path = RUNS_ROOT
) -> Path:
    """`default_root_dir` when given (created if needed), else a new `runs/<name>/<YYYYmmdd-
    HHMMSS>` under the current directory, with `-1`, `-2`, ... appended when that one is taken."""
    if default_root_dir is not None:
        path = Path(default_root_dir)
        path.mkdir(parents=True, exist_ok=True)
        return path
    parent = Path(root) / name
    parent.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for suffix in range(10_000):
        path = parent / (stamp if suffix == 0 else f"{stamp}-{suffix}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"Trainer: no free run directory name under {parent}")


def _toml_value(value: Any) -> Any:
    """What TOML can hold: None dropped (by the caller), tuples as lists, paths as strings."""
    if isinstance(value, Mapping):
        return {str(k): _toml_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_toml_value(v) for v in value if v is not None]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, bool, int, float)):
        return value
    return repr(value)


def write_config(path: Path, config: Mapping[str, Any]) -> None:
    """The resolved configuration as TOML (None values are left out: TOML has no null)."""
    import tomli_w

    _atomic.write_text_atomic(path, tomli_w.dumps(_toml_value(config)))


def _json_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # strict JSON has no NaN or infinity
    if isinstance(value, Path):
        return str(value)
    return value


def write_summary(path: Path, summary: Mapping[str, Any]) -> None:
    """summary.json, strict JSON (non-finite numbers become null)."""
    text = json.dumps(_json_value(summary), indent=2, allow_nan=False) + "\n"
    _atomic.write_text_atomic(path, text)


def read_summary(path: Path) -> dict[str, Any]:
    """summary.json's fields, or an empty dict when there is none yet."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def update_summary(path: Path, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Merges `fields` into summary.json and returns the result."""
    summary = read_summary(path)
    summary.update(fields)
    write_summary(path, summary)
    return summary


def forget_test_metrics(path: Path) -> None:
    """Drops the test_* fields of summary.json, if any (a fit is changing the weights)."""
    summary = read_summary(path)
    if any(key.startswith("test_") for key in summary):
        write_summary(path, {k: v for k, v in summary.items() if not k.startswith("test_")})


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_weights(path: Path, state_dict: Mapping[str, Any]) -> str:
    """The final weights (plain names) as safetensors; returns the file's SHA-256."""
    import odyssey

    odyssey.save(dict(state_dict), path)
    return sha256_file(path)


def git_repository(cwd: str | Path | None = None) -> tuple[str | None, str | None]:
    """The commit checked out in the repository holding `cwd` (default: the current directory)
    and that repository's top directory, or (None, None): no git, not a repository, or any
    failure (a summary never fails for want of it)."""
    try:
        # A fixed argument list, no shell; git from PATH is the user's own git.
        result = subprocess.run(  # nosec B603 B607
            ["git", "rev-parse", "HEAD", "--show-toplevel"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None, None
    lines = result.stdout.splitlines()
    if result.returncode != 0 or len(lines) != 2:
        return None, None
    return lines[0].strip() or None, lines[1].strip() or None


def git_commit(cwd: str | Path | None = None) -> str | None:
    """The commit checked out in the repository holding `cwd` (see git_repository), or None."""
    return git_repository(cwd)[0]
