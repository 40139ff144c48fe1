"""Scoring the review agent on diffs with planted bugs (``nox -s agents-eval``, through the harness
`odyssey.agents.evaluate`).

A case is a folder (``tests/agents/eval/review/<name>/``) holding ``before/`` (small fixture
files, not the live repository), ``change.patch`` (a git diff of them that plants one bug) and
``case.json``: a ``description`` and the ``expected`` findings, each a ``file`` and the ``lines``
on which a finding counts as catching it. `prepare` builds the change in a temporary git
repository and returns what the agent is asked with; `score` compares an answer with the case:
``recall`` (the fraction of planted bugs found) and ``false_findings`` (kept findings that match
no planted bug; lower is better), on the findings the review would keep (on added lines, merged).
Cases come from `load_cases` here or from the harness's loader (which sets ``_directory``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from odyssey.agents.review.diff import parse_diff
from odyssey.agents.review.findings import findings_from_output, keep_in_diff

__all__ = ["CASES", "load_case", "load_cases", "prepare", "run_case", "score"]

# The cases, from the repository's root.
CASES = Path("tests/agents/eval/review")


def _folder(case: Mapping[str, Any]) -> Path:
    """The case's folder, whichever loader read it."""
    folder = case.get("folder") or case.get("_directory")
    if not folder:
        raise ValueError("review evaluate: the case names no folder (folder or _directory)")
    return Path(folder)


def _patch(case: Mapping[str, Any]) -> str:
    """The case's patch: loaded already, or read from its folder's change.patch."""
    if "patch" in case:
        return str(case["patch"])
    return (_folder(case) / "change.patch").read_text(encoding="utf-8")


def load_case(folder: str | Path) -> dict[str, Any]:
    """One case: its name, folder, description, expected findings and the patch's text."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / "case.json").read_text(encoding="utf-8"))
        patch = (folder / "change.patch").read_text(encoding="utf-8")
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"load_case: {folder} is not a review case ({error})") from None
    expected = meta.get("expected")
    if not isinstance(expected, list) or not expected:
        raise ValueError(f"load_case: {folder}/case.json: expected must list the planted bugs")
    return {
        "name": folder.name,
        "folder": str(folder),
        "description": str(meta.get("description", "")),
        "expected": expected,
        "patch": patch,
    }


def load_cases(directory: str | Path = CASES) -> list[dict[str, Any]]:
    """Every case under `directory`, by name."""
    folders = sorted(path.parent for path in Path(directory).glob("*/case.json"))
    return [load_case(folder) for folder in folders]


def _git(root: Path, *args: str) -> None:
    subprocess.run(  # nosec B603 B607
        ["git", "-c", "user.name=eval", "-c", "user.email=eval@localhost", *args],
        cwd=root,
        check=True,
        capture_output=True,
        timeout=60,
    )


def prepare(
    case: Mapping[str, Any], workdir: str | Path | None = None
) -> tuple[dict[str, Any], list]:
    """The case's change as a git repository in `workdir` (a temporary folder, removed after, when
    None; ``main``: before/, ``HEAD``: the patch applied), then the review's context on it:
    (variables, files) for ``run_agent``."""
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="odyssey-review-eval-") as scratch:
            return prepare(case, scratch)
    from odyssey.agents.review import context_files, gather
    from odyssey.agents.review.checks import run_checks

    root = Path(workdir)
    name = str(case.get("name") or _folder(case).name)
    before = _folder(case) / "before"
    _git(root, "init", "-q", "-b", "main")
    for source in sorted(before.rglob("*")):
        if source.is_file():
            target = root / source.relative_to(before)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "before")
    _git(root, "checkout", "-q", "-b", "change")
    (root / ".git" / "change.patch").write_text(_patch(case), encoding="utf-8")
    _git(root, "apply", "--index", ".git/change.patch")
    _git(root, "commit", "-q", "-m", name)
    change = gather(argparse.Namespace(repo=str(root), base="main", pr=None))
    checks = run_checks(root, change.diffs, change.tree, change.base_tree)
    variables = {
        "base": change.base,
        "head": change.head,
        "pull_request": None,
        "title": "",
        "touched": [diff.path for diff in change.diffs],
    }
    return variables, context_files(checks, change.diffs, change.tree)  # small: no budget cut


def score(case: Mapping[str, Any], output: Mapping[str, Any]) -> dict[str, float]:
    """Recall (planted bugs found / planted) and false findings (kept findings matching no planted
    bug) of the model's `output` on `case`."""
    added = {diff.path: diff.added for diff in parse_diff(_patch(case))}
    kept = keep_in_diff(findings_from_output(output), added).findings
    expected = [(item["file"], {int(line) for line in item["lines"]}) for item in case["expected"]]
    found = sum(
        1 for file, lines in expected if any(f.file == file and f.line in lines for f in kept)
    )
    false = sum(
        1 for f in kept if not any(f.file == file and f.line in lines for file, lines in expected)
    )
    return {"recall": found / len(expected), "false_findings": float(false)}


def run_case(
    case: Mapping[str, Any], *, model: str | None = None, stream: TextIO | None = None
) -> dict[str, Any]:
    """Asks the model to review `case` (needs ANTHROPIC_API_KEY) and scores its answer: the case's
    name, the answer, `score`'s numbers, the tokens and the cost (the harness does the same for
    every agent; this runs one case alone)."""
    from odyssey.agents.core import load_agent, run_agent

    variables, files = prepare(case)
    result = run_agent(load_agent("review"), variables, files, model=model, stream=stream)
    assert result is not None  # not a dry run
    return {
        "case": case["name"],
        "output": result.output,
        **score(case, result.output),
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "cost_usd": result.cost_usd,
    }
