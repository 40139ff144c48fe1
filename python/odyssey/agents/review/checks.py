"""The deterministic checks the review runs before asking the model, each one's output a context
file of kind ``check`` (never cut by the budget):

- ruff (lint and format) on every touched Python file, as committed;
- ``odyssey validate`` on every touched paper folder;
- ``odyssey bench compare`` of touched benchmark results (``benchmarks/results/*.json``) against
  their version before the change;
- the kernel rules of DESIGN §2 (`kernel_rules`).

Ruff's and the kernel rules' problems are located (file, line), so they also become findings
directly: they do not depend on the model noticing them.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from odyssey.agents.environment import without_credentials
from odyssey.agents.review.diff import FileDiff
from odyssey.agents.review.findings import Finding, format_line
from odyssey.agents.review.kernel_rules import Tree, check_kernel_rules

__all__ = [
    "CheckOutput",
    "bench_check",
    "kernel_check",
    "ruff_check",
    "run_checks",
    "touched_papers",
    "validate_check",
]

RESULTS_DIR = "benchmarks/results"
# A paper's validation imports and builds its models; a minute is ample, a hang is not waited on.
VALIDATE_TIMEOUT = 300
RUFF_TIMEOUT = 60


@dataclass(frozen=True)
class CheckOutput:
    """One check's report: its `name`, the context path it is shown under, its text, and the
    findings it located on lines."""

    name: str
    path: str
    text: str
    findings: list[Finding] = field(default_factory=list)


def _live(diffs: Sequence[FileDiff]) -> list[FileDiff]:
    """The files the change leaves with text in them (not deleted, not binary)."""
    return [diff for diff in diffs if diff.status != "deleted" and not diff.binary]


def _ruff_command() -> list[str] | None:
    if importlib.util.find_spec("ruff") is not None:
        return [sys.executable, "-m", "ruff"]
    found = shutil.which("ruff")
    return [found] if found else None


def ruff_check(root: Path, diffs: Sequence[FileDiff], tree: Tree) -> CheckOutput:
    """``ruff check`` and ``ruff format --check`` on each touched Python file's committed text
    (read through stdin, so the line numbers are the diff's whatever the working tree holds)."""
    python_files = [diff.path for diff in _live(diffs) if diff.path.endswith((".py", ".pyi"))]
    name, path = "ruff", "check: ruff"
    if not python_files:
        return CheckOutput(name, path, "no Python file touched\n")
    command = _ruff_command()
    if command is None:
        return CheckOutput(name, path, "ruff is not installed: lint not checked\n")
    lines: list[str] = []
    findings: list[Finding] = []
    unformatted: list[str] = []
    for file in python_files:
        text = tree.read(file)
        if text is None:
            continue
        lint = subprocess.run(  # nosec B603
            [
                *command,
                "check",
                "--no-cache",
                "--output-format",
                "json",
                "--exit-zero",
                "--stdin-filename",
                file,
                "-",
            ],
            cwd=root,
            env=without_credentials(),  # the pull request's code runs
            input=text,
            capture_output=True,
            text=True,
            check=False,
            timeout=RUFF_TIMEOUT,
        )
        try:
            problems = json.loads(lint.stdout or "[]")
        except json.JSONDecodeError:
            lines.append(f"{file}: ruff failed: {(lint.stderr.strip() or 'no output')[:300]}")
            continue
        for problem in problems:
            row = int(problem["location"]["row"])
            column = int(problem["location"]["column"])
            code = problem.get("code") or "syntax"
            message = problem["message"]
            lines.append(f"{file}:{row}:{column}: {code} {message}")
            fix = problem.get("fix") or {}
            findings.append(
                Finding(
                    file,
                    row,
                    "warning",
                    f"ruff/{code}",
                    message,
                    str(fix.get("message") or ""),
                )
            )
        formatted = subprocess.run(  # nosec B603
            [*command, "format", "--no-cache", "--check", "--stdin-filename", file, "-"],
            cwd=root,
            env=without_credentials(),  # the pull request's code runs
            input=text,
            capture_output=True,
            text=True,
            check=False,
            timeout=RUFF_TIMEOUT,
        )
        if formatted.returncode == 1:
            unformatted.append(file)
    if unformatted:
        lines.append("would be reformatted by `ruff format`: " + ", ".join(unformatted))
    checked = f"ruff on {len(python_files)} file(s): " + (
        f"{len(findings)} problem(s)" if findings else "no lint problem"
    )
    return CheckOutput(name, path, "\n".join([checked, *lines]) + "\n", findings)


def touched_papers(diffs: Sequence[FileDiff], tree: Tree) -> list[str]:
    """The paper folders (``papers/<slug>``) a change touches that still have a paper.toml."""
    folders = set()
    for diff in diffs:
        parts = PurePosixPath(diff.path).parts
        if len(parts) >= 3 and parts[0] == "papers":
            folders.add(f"papers/{parts[1]}")
    return sorted(folder for folder in folders if tree.read(f"{folder}/paper.toml") is not None)


def validate_check(root: Path, folder: str) -> CheckOutput:
    """``odyssey validate FOLDER`` (structure, paper.toml, README, models) in the checkout."""
    command = [sys.executable, "-m", "odyssey", "validate", folder]
    try:
        done = subprocess.run(  # nosec B603
            command,
            cwd=root,
            env=without_credentials(),  # the pull request's code runs
            capture_output=True,
            text=True,
            check=False,
            timeout=VALIDATE_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        text = f"odyssey validate {folder}: did not finish in {VALIDATE_TIMEOUT} s\n"
        return CheckOutput(f"validate {folder}", f"check: odyssey validate {folder}", text)
    verdict = "passes" if done.returncode == 0 else f"fails (exit status {done.returncode})"
    text = f"odyssey validate {folder}: {verdict}\n{done.stdout}{done.stderr}"
    return CheckOutput(f"validate {folder}", f"check: odyssey validate {folder}", text)


def bench_check(
    root: Path, diffs: Sequence[FileDiff], tree: Tree, base: Tree | None
) -> CheckOutput:
    """``odyssey bench compare`` of the touched benchmark results against their versions before
    the change (``--changed``: the ratios that moved)."""
    name, path = "bench compare", "check: odyssey bench compare"
    touched = [
        diff
        for diff in _live(diffs)
        if diff.path.startswith(f"{RESULTS_DIR}/") and diff.path.endswith(".json")
    ]
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="odyssey-review-bench-") as scratch:
        before, after = Path(scratch, "before"), Path(scratch, "after")
        before.mkdir()
        after.mkdir()
        for diff in touched:
            old_text = base.read(diff.old_path or diff.path) if base is not None else None
            new_text = tree.read(diff.path)
            if old_text is None or new_text is None:
                notes.append(f"{diff.path}: new results, no baseline to compare with")
                continue
            file_name = PurePosixPath(diff.path).name
            (before / file_name).write_text(old_text, encoding="utf-8")
            (after / file_name).write_text(new_text, encoding="utf-8")
        if not any(after.iterdir()):
            text = "\n".join(notes) if notes else "no benchmark results touched"
            return CheckOutput(name, path, text + "\n")
        done = subprocess.run(  # nosec B603
            [
                sys.executable,
                "-m",
                "odyssey",
                "bench",
                "compare",
                str(before),
                str(after),
                "--changed",
            ],
            cwd=root,
            env=without_credentials(),  # the pull request's code runs
            capture_output=True,
            text=True,
            check=False,
            timeout=VALIDATE_TIMEOUT,
        )
    verdict = {0: "no regression", 1: "REGRESSION"}.get(
        done.returncode, f"not compared (exit status {done.returncode})"
    )
    output = (done.stdout + done.stderr).replace(str(before), "BEFORE").replace(str(after), "AFTER")
    text = "\n".join([f"odyssey bench compare BEFORE AFTER --changed: {verdict}", output, *notes])
    return CheckOutput(name, path, text.rstrip("\n") + "\n")


def kernel_check(diffs: Sequence[FileDiff], tree: Tree) -> CheckOutput:
    """The kernel rules of DESIGN §2 on the added lines."""
    findings = check_kernel_rules(diffs, tree)
    if findings:
        text = "\n".join(format_line(finding) for finding in findings)
    else:
        text = "no kernel-rule violation on the added lines"
    return CheckOutput("kernel rules", "check: kernel rules (DESIGN §2)", text + "\n", findings)


def run_checks(
    root: Path, diffs: Sequence[FileDiff], tree: Tree, base: Tree | None
) -> list[CheckOutput]:
    """Every check that applies to the change, in a fixed order."""
    outputs = [ruff_check(root, diffs, tree)]
    outputs += [validate_check(root, folder) for folder in touched_papers(diffs, tree)]
    if any(diff.path.startswith(f"{RESULTS_DIR}/") for diff in diffs):
        outputs.append(bench_check(root, diffs, tree, base))
    outputs.append(kernel_check(diffs, tree))
    return outputs
