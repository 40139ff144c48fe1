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
import io
import json
import shutil
import subprocess
import sys
import tarfile
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
            input=text,
            capture_output=True,
            text=True,
            check=False,
            timeout=RUFF_TIMEOUT,
            env=without_credentials(),  # the change's own code runs
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
            input=text,
            capture_output=True,
            text=True,
            check=False,
            timeout=RUFF_TIMEOUT,
            env=without_credentials(),  # the change's own code runs
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


def _export(root: Path, revision: str, folder: str, destination: Path) -> None:
    """The files of `folder` at commit `revision`, byte for byte, written under `destination`
    (``git archive``; only regular files and folders with plain relative names)."""
    # B603 B607: git from PATH, a list of arguments
    done = subprocess.run(  # nosec B603 B607
        ["git", "archive", "--format=tar", revision, "--", folder],
        cwd=root,
        capture_output=True,
        check=False,
        timeout=VALIDATE_TIMEOUT,
    )
    if done.returncode != 0:
        raise OSError(done.stderr.decode("utf-8", "replace").strip() or "git archive failed")
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        for member in archive.getmembers():
            parts = PurePosixPath(member.name).parts
            if not member.isfile() or member.name.startswith("/") or ".." in parts:
                continue  # folders come with their files; links and odd names are not written
            target = destination.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            source = archive.extractfile(member)
            if source is not None:
                target.write_bytes(source.read())


def validate_check(root: Path, folder: str, revision: str | None = None) -> CheckOutput:
    """``odyssey validate FOLDER`` (structure, paper.toml, README, models) on the folder as
    commit `revision` holds it (like every other check: what the diff shows, whatever is
    uncommitted), or in the checkout when `revision` is None; without the credentials."""
    name, path = f"validate {folder}", f"check: odyssey validate {folder}"
    with tempfile.TemporaryDirectory(prefix="odyssey-review-validate-") as scratch:
        target = folder
        if revision is not None:
            try:
                _export(root, revision, folder, Path(scratch))
            except (OSError, tarfile.TarError, subprocess.SubprocessError) as error:
                text = f"odyssey validate {folder}: not run: cannot read it at {revision[:12]}: "
                return CheckOutput(name, path, f"{text}{error}\n")
            target = str(Path(scratch, folder))
        try:
            done = subprocess.run(  # nosec B603
                [sys.executable, "-m", "odyssey", "validate", target],
                cwd=root,
                capture_output=True,
                text=True,
                check=False,
                timeout=VALIDATE_TIMEOUT,
                env=without_credentials(),  # the change's own code runs
            )
        except subprocess.TimeoutExpired:
            text = f"odyssey validate {folder}: did not finish in {VALIDATE_TIMEOUT} s\n"
            return CheckOutput(name, path, text)
    output = (done.stdout + done.stderr).replace(target, folder)
    verdict = "passes" if done.returncode == 0 else f"fails (exit status {done.returncode})"
    return CheckOutput(name, path, f"odyssey validate {folder}: {verdict}\n{output}")


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
    reports: list[str] = []
    verdicts: list[int] = []
    # File by file: two touched results with one name in different folders must not overwrite
    # each other, and `bench compare` of folders pairs reports by benchmark name.
    with tempfile.TemporaryDirectory(prefix="odyssey-review-bench-") as scratch:
        before, after = Path(scratch, "before.json"), Path(scratch, "after.json")
        for diff in touched:
            old_text = base.read(diff.old_path or diff.path) if base is not None else None
            new_text = tree.read(diff.path)
            if old_text is None or new_text is None:
                notes.append(f"{diff.path}: new results, no baseline to compare with")
                continue
            before.write_text(old_text, encoding="utf-8")
            after.write_text(new_text, encoding="utf-8")
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
                capture_output=True,
                text=True,
                check=False,
                timeout=VALIDATE_TIMEOUT,
                env=without_credentials(),  # the change's own code runs
            )
            verdicts.append(done.returncode)
            output = (done.stdout + done.stderr).replace(str(before), "BEFORE")
            output = output.replace(str(after), "AFTER")
            reports.append(f"{diff.path}: {_bench_verdict(done.returncode)}\n{output.rstrip()}")
    if not verdicts:
        text = "\n".join(notes) if notes else "no benchmark results touched"
        return CheckOutput(name, path, text + "\n")
    worst = 1 if 1 in verdicts else next((status for status in verdicts if status), 0)
    header = f"odyssey bench compare BEFORE AFTER --changed: {_bench_verdict(worst)}"
    text = "\n".join([header, *reports, *notes])
    return CheckOutput(name, path, text.rstrip("\n") + "\n")


def _bench_verdict(status: int) -> str:
    return {0: "no regression", 1: "REGRESSION"}.get(status, f"not compared (exit status {status})")


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
    revision = getattr(tree, "revision", None)
    outputs += [validate_check(root, folder, revision) for folder in touched_papers(diffs, tree)]
    if any(diff.path.startswith(f"{RESULTS_DIR}/") for diff in diffs):
        outputs.append(bench_check(root, diffs, tree, base))
    outputs.append(kernel_check(diffs, tree))
    return outputs
