"""The documentation agent: ``odyssey agent docs [--check | --write]``.

``--check`` (the default) lists the drift that `odyssey.agents.docs.drift.find_drift` finds and
exits 1 when there is any, 0 otherwise; it needs no model and no key. ``--write`` sends the drift
and the files concerned to the model, applies its edits to a copy of the tree
(`odyssey.agents.docs.patch`), runs the checks again there, and writes ``docs-agent.patch``
(``git apply docs-agent.patch``) only when every drift the model claims to fix is gone and no
new one appeared; otherwise it exits 1 and writes nothing. The tree itself is never modified.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from odyssey._atomic import write_text_atomic
from odyssey.agents.core import AgentError, ContextFile, load_agent, run_agent
from odyssey.agents.docs.drift import DocsConfig, Drift, find_drift, load_config, markdown_files

__all__ = ["add_arguments", "context_for", "run", "write_patch"]

PROG = "odyssey agent docs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The docs agent's own options."""
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--check",
        action="store_true",
        help="list the drift and exit 1 when there is any (the default; no model needed)",
    )
    mode.add_argument(
        "--write",
        action="store_true",
        help="ask the model to fix the drift and write a patch for review",
    )
    parser.add_argument(
        "--root", default=".", metavar="DIR", help="the repository to check (default: .)"
    )
    parser.add_argument(
        "--patch",
        default="docs-agent.patch",
        metavar="FILE",
        help="where --write puts the patch (default: docs-agent.patch)",
    )
    parser.add_argument(
        "--no-run",
        action="store_true",
        help="do not run the Markdown code blocks (the other checks only)",
    )


def _say(line: str) -> None:
    print(f"{PROG}: {line}", flush=True)


def context_for(root: Path, drift: list[Drift]) -> list[ContextFile]:
    """The files the drift concerns (each whole), and the drift list as check output."""
    paths = sorted({item.path for item in drift if (root / item.path).is_file()})
    files = [ContextFile(path, (root / path).read_text(encoding="utf-8")) for path in paths]
    listing = "\n".join(f"{item.id}\t{item.describe()}" for item in drift)
    return [ContextFile("odyssey agent docs --check", listing + "\n", kind="check"), *files]


def _drift_variables(drift: list[Drift]) -> dict[str, Any]:
    return {
        "drift": [
            {"id": d.id, "kind": d.kind, "path": d.path, "line": d.line, "message": d.message}
            for d in drift
        ]
    }


def write_patch(
    root: Path,
    config: DocsConfig,
    drift: list[Drift],
    answer: dict[str, Any],
    shown: set[str],
    patch_path: Path,
    run_code: bool,
) -> int:
    """Applies `answer` to a copy of `root`, re-checks it and writes the patch when it holds
    (exit status 0), else explains why not (1)."""
    from odyssey.agents.docs.patch import PatchError, apply_edits, copy_tree, unified_diff

    with tempfile.TemporaryDirectory(prefix="docs-agent-") as scratch:
        copy = Path(scratch) / "tree"
        copy.mkdir()
        needed = {*config.packages, *config.python_path, *markdown_files(root, config)}
        needed |= {"pyproject.toml", *shown}
        copy_tree(root, sorted(needed), copy)
        try:
            changes = apply_edits(copy, answer["files"], shown)
        except PatchError as error:
            _say(f"the answer cannot be applied: {error}; no patch written")
            return 1
        if not changes:
            _say("the answer changes nothing; no patch written")
            return 1
        # Only the blocks of files the patch touches, or that failed, can have changed.
        blocks = {p for p in changes if p.endswith(".md")} | {
            d.path for d in drift if d.kind == "code-block"
        }
        _say("checking the patched copy")
        after = find_drift(copy, config, run_code=blocks if run_code else False, report=_say)
    before_ids = {d.id for d in drift}
    after_ids = {d.id for d in after}
    claimed = {
        fixed for entry in answer["files"] for edit in entry["edits"] for fixed in edit["fixes"]
    }
    unknown = sorted(claimed - before_ids)
    still = sorted(claimed & after_ids)
    new = [d for d in after if d.id not in before_ids]
    problems = []
    if still:
        problems.append(f"claimed fixed but still found: {', '.join(still)}")
    if new:
        problems.append("new drift: " + "; ".join(d.describe() for d in new))
    if unknown:
        problems.append(f"claims ids that were not found: {', '.join(unknown)}")
    if problems:
        for problem in problems:
            _say(problem)
        _say("no patch written")
        return 1
    write_text_atomic(patch_path, unified_diff(changes))
    left = sorted(before_ids - claimed)
    _say(
        f"{patch_path}: {len(changes)} file(s), {len(claimed)} drift item(s) fixed; "
        f"review it, then `git apply {patch_path}`"
    )
    summary = answer.get("summary", "").strip()
    if summary:
        _say(f"summary: {summary}")
    for item in answer.get("not_fixed", []):
        _say(f"not fixed: {item['id']}: {item['reason']}")
    if left:
        _say(f"{len(left)} drift item(s) left: {', '.join(left)}")
    return 0


def run(args: argparse.Namespace) -> int:
    """``odyssey agent docs``: --check (default) or --write; see the module's docstring."""
    root = Path(args.root).resolve()
    if not root.is_dir():
        raise AgentError(f"{PROG}: --root {args.root} is not a directory", 2)
    try:
        config = load_config(root)
    except ValueError as error:
        raise AgentError(f"{PROG}: {error}", 2) from None
    missing = [p for p in (*config.packages, *config.python_path) if not (root / p).is_dir()]
    if missing:
        raise AgentError(
            f"{PROG}: {root} has no folder {', '.join(missing)} (the packages and python-path "
            "of [tool.odyssey.docs-agent], or this repository's python/odyssey by default); "
            "is --root the repository?",
            2,
        )
    patch_folder = Path(args.patch).resolve().parent
    if args.write and not patch_folder.is_dir():
        raise AgentError(f"{PROG}: --patch {args.patch}: no folder {patch_folder}", 2)
    drift = find_drift(root, config, run_code=not args.no_run, report=_say)
    if not args.write:
        for item in drift:
            print(item.describe())
        if drift:
            _say(f"{len(drift)} drift item(s); `{PROG} --write` drafts a patch")
            return 1
        _say("no drift")
        return 0
    if not drift:
        _say("no drift; nothing to write")
        return 0
    spec = load_agent("docs")
    files = context_for(root, drift)
    result = run_agent(
        spec,
        _drift_variables(drift),
        files,
        dry_run=args.dry_run,
        model=args.model,
        raw_dir=args.save_raw,
        stream=sys.stdout,
    )
    if result is None:  # a dry run
        return 0
    shown = {file.path for file in result.request.files if file.kind == "file"}
    patch_path = Path(args.patch)
    return write_patch(root, config, drift, result.output, shown, patch_path, not args.no_run)
