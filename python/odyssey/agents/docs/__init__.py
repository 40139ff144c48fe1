"""The documentation agent: ``odyssey agent docs [--check | --write]``.

``--check`` (the default) lists the drift that `odyssey.agents.docs.drift.find_drift` finds and
exits 1 when there is any, 0 otherwise; it needs no model and no key. ``--write`` sends the drift
and the files concerned to the model, applies its edits to a copy of the tree
(`odyssey.agents.docs.patch`), runs the checks again there, and writes ``docs-agent.patch``
(``git apply docs-agent.patch``) only when every drift the model claims to fix is gone and no
new one appeared; otherwise it exits 1 and writes nothing. The tree itself is never modified.

A code block that was not reached before (an earlier block of its file failed) and fails once
the earlier one is fixed is reported as left for next time: the model could not have seen it.

``--write`` in three steps, so that the key is held only while no repository code runs (the
workflow's way; code blocks can read their ancestors' environment through ``/proc``):
``--check --save-drift drift.json`` (runs the blocks, no key), ``--ask --drift drift.json
--answer answer.json`` (the model call; runs no repository code), ``--apply answer.json --drift
drift.json`` (applies, re-checks and writes the patch; no key).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import asdict
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
    mode.add_argument(
        "--ask",
        action="store_true",
        help="ask the model about the drift in --drift FILE and save its answer to --answer "
        "FILE; runs no code of the tree (the step that holds the key)",
    )
    mode.add_argument(
        "--apply",
        metavar="ANSWER",
        help="apply an answer saved by --ask, re-check and write the patch (no key needed)",
    )
    parser.add_argument(
        "--save-drift",
        metavar="FILE",
        help="with --check: also save the drift as JSON (the input of --ask and --apply)",
    )
    parser.add_argument(
        "--drift",
        metavar="FILE",
        help="the drift saved by --check --save-drift (needed by --ask and --apply)",
    )
    parser.add_argument(
        "--answer",
        default="docs-agent.answer.json",
        metavar="FILE",
        help="where --ask saves the answer (default: docs-agent.answer.json)",
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
    claimed = {
        fixed for entry in answer["files"] for edit in entry["edits"] for fixed in edit["fixes"]
    }
    unknown = sorted(claimed - before_ids)
    still = sorted(claimed & {d.id for d in after})
    new = [d for d in after if d.id not in before_ids]
    reached = [d for d in new if _newly_reached(d, drift)]
    new = [d for d in new if d not in reached]
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
    for item in reached:
        _say(f"left for next time (not reached before the patch): {item.describe()}")
    return 0


def _block_number(item: Drift) -> int | None:
    name = item.name.removeprefix("block ")
    return int(name) if item.kind == "code-block" and name.isdigit() else None


def _newly_reached(item: Drift, before: list[Drift]) -> bool:
    """Whether `item` is a failing code block that did not run before the patch: a block of
    its file failed earlier, so the blocks after that one were never run."""
    number = _block_number(item)
    if number is None:
        return False
    earlier = [_block_number(d) for d in before if d.kind == "code-block" and d.path == item.path]
    return any(first is not None and number > first for first in earlier)


def _read_json(option: str, path: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise AgentError(f"{PROG}: {option} {path}: {error.strerror or error}", 2) from None
    except json.JSONDecodeError as error:
        raise AgentError(f"{PROG}: {option} {path} is not JSON ({error})", 2) from None


def _load_drift(path: str | None, mode: str) -> list[Drift]:
    if not path:
        raise AgentError(f"{PROG}: {mode} needs --drift FILE (from --check --save-drift)", 2)
    data = _read_json("--drift", path)
    try:
        return [Drift(**item) for item in data["drift"]]
    except (KeyError, TypeError) as error:
        raise AgentError(
            f"{PROG}: --drift {path} is not a drift list saved by --check --save-drift ({error})",
            2,
        ) from None


def _need_key(args: argparse.Namespace) -> None:
    """A call without a key fails before minutes of code blocks run, not after."""
    if not args.dry_run and not os.environ.get("ANTHROPIC_API_KEY"):
        raise AgentError(
            f"{PROG}: ANTHROPIC_API_KEY is not set (use --dry-run to see the request without "
            "sending it)",
            2,
        )


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
    if (args.write or args.apply) and not patch_folder.is_dir():
        raise AgentError(f"{PROG}: --patch {args.patch}: no folder {patch_folder}", 2)
    if args.save_drift and (args.write or args.ask or args.apply):
        raise AgentError(f"{PROG}: --save-drift goes with --check only", 2)
    if args.ask or args.apply:
        drift = _load_drift(args.drift, "--ask" if args.ask else "--apply")
    else:
        if args.write:
            _need_key(args)
        drift = find_drift(root, config, run_code=not args.no_run, report=_say)
    if args.apply:
        saved = _read_json("--apply", args.apply)
        if not isinstance(saved, dict) or not {"answer", "shown"} <= set(saved):
            raise AgentError(f"{PROG}: --apply {args.apply} is not an answer saved by --ask", 2)
        return write_patch(
            root,
            config,
            drift,
            saved["answer"],
            set(saved["shown"]),
            Path(args.patch),
            not args.no_run,
        )
    if not (args.write or args.ask):
        for item in drift:
            print(item.describe())
        if args.save_drift:
            data = {"drift": [asdict(item) for item in drift]}
            write_text_atomic(Path(args.save_drift), json.dumps(data, indent=1) + "\n")
        if drift:
            _say(f"{len(drift)} drift item(s); `{PROG} --write` drafts a patch")
            return 1
        _say("no drift")
        return 0
    if not drift:
        _say("no drift; nothing to write")
        return 0
    if args.ask:
        _need_key(args)
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
    if args.ask:
        saved = {"answer": result.output, "shown": sorted(shown)}
        write_text_atomic(Path(args.answer), json.dumps(saved, indent=1) + "\n")
        _say(f"the answer is in {args.answer}; `{PROG} --apply {args.answer}` checks it")
        return 0
    patch_path = Path(args.patch)
    return write_patch(root, config, drift, result.output, shown, patch_path, not args.no_run)
