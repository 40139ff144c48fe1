"""The code-review agent: ``odyssey agent review [--base REV] [--pr N]``.

It gathers the change deterministically (``git diff BASE...HEAD``, or a pull request's diff through
GitHub's REST API), runs the deterministic checks (`checks`: ruff, ``odyssey validate`` on touched
papers, ``odyssey bench compare`` on touched benchmark results, the kernel rules of DESIGN §2),
and asks the model for findings on the numbered diff with the checks' output, the touched files
and the design's rules. Findings on lines the change did not add are dropped (the summary says how
many), duplicates are merged, and the checks' own located problems join them. Locally the
findings are printed one per line; with ``--pr N`` one review with inline comments is posted
(``event: COMMENT``: it never approves, requests changes, commits, pushes or merges).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from odyssey.agents.review.checks import CheckOutput, run_checks
from odyssey.agents.review.diff import FileDiff, annotate, parse_diff
from odyssey.agents.review.findings import (
    SEVERITIES,
    Finding,
    findings_from_output,
    format_line,
    keep_in_diff,
    summary_counts,
)
from odyssey.agents.review.github import (
    GitHub,
    GitHubError,
    PullRequest,
    findings_in_body,
    review_payload,
)
from odyssey.agents.review.repo import GitError, GitTree, git, local_diff, merge_base, resolve

__all__ = ["Change", "Review", "add_arguments", "context_files", "gather", "review", "run"]

COMMAND = "odyssey agent review"
# The last paragraph of every review's summary: how a re-run recognises the review it posted.
SIGNATURE = f"— {COMMAND}"
DEFAULT_BASES = ("origin/main", "main")
# A touched file longer than this is shown only through its diff (a generated file, a data file).
MAX_FILE_CHARS = 60_000
# Inline comments in the posted review, the most severe first; the rest are counted in its summary
# (a new file with hundreds of lint problems must not bury the review, nor hit GitHub's limits).
MAX_COMMENTS = 60
# The share of the context budget the checks, diffs and whole files may take (the rest: the
# prompts, the rules, the example and the answer tool's schema).
FILES_SHARE = 0.85


class UsageError(ValueError):
    """A bad argument: exit status 2."""


@dataclass(frozen=True)
class Change:
    """The change under review: its diff, the tree after it and before it (the merge base), and
    the pull request it comes from (None locally)."""

    diff_text: str
    diffs: list[FileDiff]
    base: str
    head: str
    tree: GitTree
    base_tree: GitTree | None
    pull_request: PullRequest | None = None


@dataclass(frozen=True)
class Review:
    """The review to print or post: the findings kept and the summary."""

    findings: list[Finding]
    summary: str
    outside_diff: int
    merged: int


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a pull request number, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The review's own options (``odyssey agent`` adds --dry-run, --model and the raw-answer
    folder)."""
    parser.add_argument(
        "--base",
        metavar="REV",
        help="review `git diff REV...HEAD` (default: origin/main, else main)",
    )
    parser.add_argument(
        "--pr",
        type=_positive_int,
        metavar="N",
        help="review pull request N of GITHUB_REPOSITORY (its diff from GitHub's REST API, with "
        "GITHUB_TOKEN; the checkout must hold its head commit) and post the review",
    )
    parser.add_argument(
        "--post",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="post the review on the pull request (the default with --pr); --no-post prints it",
    )
    parser.add_argument(
        "--repo",
        default=".",
        metavar="DIR",
        help="the repository's checkout (default: the current directory)",
    )


def _root(directory: str) -> Path:
    try:
        return Path(git(Path(directory), "rev-parse", "--show-toplevel").strip())
    except (GitError, OSError) as error:
        raise UsageError(f"--repo: {directory} is not inside a git repository ({error})") from None


def _default_base(root: Path) -> str:
    for candidate in DEFAULT_BASES:
        try:
            resolve(root, candidate)
        except GitError:
            continue
        return candidate
    raise UsageError("--base: neither origin/main nor main exists here; name the base revision")


def gather(args: argparse.Namespace, environ: dict[str, str] | None = None) -> Change:
    """The change `args` name: the local ``BASE...HEAD``, or pull request ``--pr N``."""
    root = _root(args.repo)
    if args.pr is None:
        base = args.base or _default_base(root)
        try:
            base_sha = resolve(root, base)
        except GitError:
            raise UsageError(f"--base: {base!r} names no commit in {root}") from None
        head_sha = resolve(root, "HEAD")
        before = merge_base(root, base_sha, head_sha)
        text = local_diff(root, base_sha, head_sha)
        return Change(
            diff_text=text,
            diffs=parse_diff(text),
            base=f"{base} ({base_sha[:12]})",
            head=f"HEAD ({head_sha[:12]})",
            tree=GitTree(root, head_sha),
            base_tree=GitTree(root, before),
        )
    client = GitHub.from_environment(environ)
    pull = client.pull_request(args.pr)
    try:
        resolve(root, pull.head_sha)
    except GitError:
        raise GitHubError(
            f"the checkout {root} lacks the pull request's head {pull.head_sha[:12]}: check it "
            "out first (actions/checkout with ref: the head SHA)"
        ) from None
    try:
        old: str | None = merge_base(root, pull.base_sha, pull.head_sha)
    except GitError:
        old = None  # a shallow clone: the benchmark check then says it has no baseline
    try:
        # Pinned to the commits the review is posted on (commit_id): the pull request's own
        # diff endpoint gives the live head, which a push can move after `pull` was read.
        text = client.compare_diff(pull.base_sha, pull.head_sha)
    except GitHubError as error:
        # GitHub answers 406 for a diff too large to render; the checkout has both sides.
        if error.status != 406 or old is None:
            raise
        text = local_diff(root, pull.base_sha, pull.head_sha)
    return Change(
        diff_text=text,
        diffs=parse_diff(text),
        base=pull.base_sha[:12],
        head=pull.head_sha[:12],
        tree=GitTree(root, pull.head_sha),
        base_tree=GitTree(root, old) if old else None,
        pull_request=pull,
    )


def context_files(
    checks: Sequence[CheckOutput],
    diffs: Sequence[FileDiff],
    tree: Any,
    budget_tokens: int | None = None,
) -> list:
    """What the model is shown, in order: the checks (kind ``check``, never cut), each file's
    numbered diff (``diff``), then touched files as they are after the change (``file``; not for
    a new file, whose numbered diff is already all of it).

    With `budget_tokens`, whole files are added smallest first only while the total stays within
    FILES_SHARE of it: the budget cut of `odyssey.agents.core` drops diffs before files, and a
    review needs the numbered diffs (the only lines a finding may name) more than whole files.
    """
    from odyssey.agents.core import ContextFile, estimate_tokens

    files = [ContextFile(check.path, check.text, "check") for check in checks]
    files += [ContextFile(diff.path, annotate(diff), "diff") for diff in diffs]
    sources = []
    for diff in diffs:
        if diff.status in ("added", "deleted") or diff.binary:
            continue
        text = tree.read(diff.path)
        if text is not None and len(text) <= MAX_FILE_CHARS:
            sources.append(ContextFile(diff.path, text, "file"))
    if budget_tokens is None:
        return files + sources
    used = sum(estimate_tokens(file.text) for file in files)
    room = int(budget_tokens * FILES_SHARE)
    kept = set()
    for source in sorted(sources, key=lambda file: len(file.text)):
        cost = estimate_tokens(source.text)
        if used + cost <= room:
            kept.add(source.path)
            used += cost
    return files + [source for source in sources if source.path in kept]


def review(
    output: dict[str, Any],
    checks: Sequence[CheckOutput],
    diffs: Sequence[FileDiff],
    *,
    not_shown: Sequence[str] = (),
    model: str = "",
) -> Review:
    """The model's validated `output` and the checks' located problems, kept on the added lines
    and merged, with the summary that says what was dropped."""
    added = {diff.path: diff.added for diff in diffs}
    # A check's problem on a line the change did not add is older than the change: not counted.
    located = keep_in_diff([f for check in checks for f in check.findings], added)
    answered = keep_in_diff(findings_from_output(output), added)
    together = keep_in_diff([*located.findings, *answered.findings], added)
    merged = located.merged + answered.merged + together.merged
    lines = [str(output.get("summary", "")).strip()]
    checked = "; ".join(f"{check.name}: {check.text.splitlines()[0]}" for check in checks)
    lines.append(f"Checks: {checked}.")
    tally = f"{len(together.findings)} finding(s) ({summary_counts(together.findings)})"
    if answered.outside_diff:
        tally += (
            f"; {answered.outside_diff} finding(s) on lines outside the diff's added lines "
            "were dropped"
        )
    if merged:
        tally += f"; {merged} duplicate(s) merged"
    lines.append(tally + ".")
    if not_shown:
        lines.append(
            "Not shown to the model (context budget or secret filter): "
            + ", ".join(not_shown)
            + "."
        )
    lines.append(
        f"{SIGNATURE}{f' ({model})' if model else ''}. A comment only: a human approves and merges."
    )
    return Review(
        findings=together.findings,
        summary="\n\n".join(line for line in lines if line),
        outside_diff=answered.outside_diff,
        merged=merged,
    )


def _print(result: Review) -> None:
    from rich.console import Console

    console = Console()
    styles = {"error": "bold red", "warning": "yellow", "suggestion": "cyan"}
    rich = console.is_terminal and not console.is_dumb_terminal
    for finding in result.findings:
        if rich:
            console.print(
                format_line(finding),
                style=styles.get(finding.severity),
                markup=False,
                highlight=False,
            )
        else:
            print(format_line(finding))
    print()
    print(result.summary)


def _post(
    client: GitHub, pull: PullRequest, summary: str, findings: Sequence[Finding]
) -> dict[str, Any]:
    """Posts the review. GitHub refuses the whole review (422) when it cannot place one inline
    comment (a file it does not render, a rename it pairs otherwise than git): the review is
    then posted once more with the findings listed in its body, so the paid review is not lost.
    The answer carries ``_in_body: True`` then."""
    try:
        return client.post_review(pull.number, review_payload(pull.head_sha, summary, findings))
    except GitHubError as error:
        if error.status != 422 or not findings:
            raise
        print(
            f"{COMMAND}: GitHub refused the inline comments ({error}); posting the findings in "
            "the review's body instead",
            file=sys.stderr,
        )
    body = findings_in_body(summary, findings)
    answer = client.post_review(pull.number, review_payload(pull.head_sha, body, []))
    return {**answer, "_in_body": True}


def run(args: argparse.Namespace) -> int:
    """Gathers the change, runs the checks, asks the model, then prints or posts the review: 0
    when done, 1 on a failure, 2 on a usage error (or no ANTHROPIC_API_KEY)."""
    post = args.post if args.post is not None else args.pr is not None
    try:
        if post and args.pr is None:
            raise UsageError("--post needs --pr N (the pull request to post on)")
        if args.base is not None and args.pr is not None:
            raise UsageError("--base and --pr exclude each other (a pull request has its base)")
        from odyssey.agents.core import AgentError, load_agent, run_agent
    except UsageError as error:
        print(f"{COMMAND}: {error}", file=sys.stderr)
        return 2
    except ImportError as error:
        print(
            f"{COMMAND}: the agents extra is not installed ({error}): "
            "pip install 'ml-odyssey[agents]'",
            file=sys.stderr,
        )
        return 1
    try:
        change = gather(args)
        if not change.diffs:
            print(
                f"{COMMAND}: nothing to review: {change.base}...{change.head} is empty "
                "(uncommitted changes are not reviewed: commit them first)"
            )
            return 0
        pull = change.pull_request
        if post and pull is not None and not getattr(args, "dry_run", False):
            # A re-run on the same commit must not post (nor pay for) the same review twice.
            for earlier in GitHub.from_environment().reviews(pull.number):
                if earlier.get("commit_id") == pull.head_sha and SIGNATURE in (
                    earlier.get("body") or ""
                ):
                    print(f"{COMMAND}: {pull.head_sha[:12]} is already reviewed; nothing posted")
                    return 0
        checks = run_checks(change.tree.root, change.diffs, change.tree, change.base_tree)
        spec = load_agent("review")
        files = context_files(checks, change.diffs, change.tree, spec.context_budget)
        variables = {
            "base": change.base,
            "head": change.head,
            "pull_request": pull.number if pull else None,
            "title": pull.title if pull else "",
            "touched": [diff.path for diff in change.diffs],
        }
        raw_dir = getattr(args, "save_raw", None) or getattr(args, "out", None)
        result = run_agent(
            spec,
            variables,
            files,
            dry_run=bool(getattr(args, "dry_run", False)),
            model=getattr(args, "model", None),
            raw_dir=Path(raw_dir) if raw_dir else None,
        )
        if result is None:
            return 0  # the dry run printed the request
        not_shown = [*result.request.dropped, *getattr(result.request, "withheld", [])]
        outcome = review(
            result.output,
            checks,
            change.diffs,
            not_shown=not_shown,
            model=getattr(args, "model", None) or spec.model,
        )
        if post:
            assert pull is not None
            client = GitHub.from_environment()
            posted = sorted(outcome.findings, key=lambda f: SEVERITIES.index(f.severity))
            summary = outcome.summary
            if len(posted) > MAX_COMMENTS:
                summary += (
                    f"\n\nOnly the {MAX_COMMENTS} most severe findings are inline comments; "
                    f"{len(posted) - MAX_COMMENTS} more are not shown."
                )
                posted = posted[:MAX_COMMENTS]
            answer = _post(client, pull, summary, posted)
            where = answer.get("html_url") or f"pull request #{pull.number}"
            placed = 0 if answer.get("_in_body") else len(posted)
            print(f"{COMMAND}: posted a review with {placed} inline comment(s): {where}")
        else:
            _print(outcome)
        return 0
    except UsageError as error:
        print(f"{COMMAND}: {error}", file=sys.stderr)
        return 2
    except AgentError as error:
        print(str(error), file=sys.stderr)
        return error.exit_status
    except (GitError, GitHubError, ValueError, OSError, subprocess.SubprocessError) as error:
        # subprocess: a check (ruff, odyssey validate, bench compare) that hung past its limit.
        print(f"{COMMAND}: {error}", file=sys.stderr)
        return 1
