"""`odyssey agent review` end to end, offline: a change with a planted bug in a git repository in
a temporary folder, the model's scripted answer from the fake Messages API on 127.0.0.1 (one
finding on the bug's line, one on a line the change did not add), and the review printed locally
or posted on a fake GitHub as one COMMENT review."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("anthropic")
pytest.importorskip("detect_secrets")

from agents.fake_api import FakeMessagesAPI, tool_answer
from agents.fake_github import FakeGitHub
from agents.review_fixtures import make_repo

from odyssey.agents.review.repo import local_diff
from odyssey.cli import main

BEFORE = '''\
"""Running means."""


def mean(values: list[float]) -> float:
    """The mean of `values` (at least one)."""
    total = 0.0
    for value in values:
        total += value
    return total / len(values)
'''
# The planted bug: the new running mean divides by the count before this value (line 15).
AFTER = (
    BEFORE
    + '''

def running_mean(values: list[float]) -> list[float]:
    """The mean of each prefix of `values`."""
    means, total = [], 0.0
    for count, value in enumerate(values):
        total += value
        means.append(total / count)
    return means
'''
)
BUG_LINE = 17
LEAKED = "sk-ant-api03-" + "Q" * 80
ANSWER = {
    "summary": "Adds running_mean.",
    "findings": [
        {
            "file": "stats.py",
            "line": BUG_LINE,
            "severity": "error",
            "rule": "bug",
            "message": "enumerate counts from 0: the first mean divides by zero and every later "
            "one by one less than the number of values",
            "suggested_change": "        means.append(total / (count + 1))",
        },
        {
            "file": "stats.py",
            "line": 9,
            "severity": "warning",
            "rule": "bug",
            "message": "mean divides by zero on an empty list",
            "suggested_change": "",
        },
    ],
}


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str, str]:
    root = tmp_path / "repo"
    base, head = make_repo(root, {"stats.py": BEFORE}, {"stats.py": AFTER, ".env": LEAKED})
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test")
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    return root, base, head


def test_the_planted_bug_is_printed_on_its_line_and_the_out_of_diff_finding_dropped(
    repository: tuple[Path, str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, _, _ = repository
    with FakeMessagesAPI([tool_answer(ANSWER, "review_answer")], forbidden=[LEAKED]) as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        status = main(["agent", "review", "--repo", str(root), "--base", "main"])
    out = capsys.readouterr().out
    assert status == 0
    lines = [line for line in out.splitlines() if line.startswith("stats.py:")]
    assert lines == [
        f"stats.py:{BUG_LINE}: error bug: enumerate counts from 0: the first mean divides by zero "
        "and every later one by one less than the number of values"
    ]
    assert "1 finding(s) on lines outside the diff's added lines were dropped" in out
    (request,) = api.requests
    user = request["messages"][0]["content"]
    # The model saw the numbered line, the checks and the rules; never the secret file.
    assert f"   {BUG_LINE} +         means.append(total / count)" in user
    assert '<check name="check: ruff">' in user
    assert '<check name="check: kernel rules (DESIGN §2)">' in user
    assert "kernel/scalar-reference" in request["system"]
    assert request["tool_choice"] == {"type": "tool", "name": "review_answer"}


def test_a_pull_request_gets_one_comment_review_with_the_finding_inline(
    repository: tuple[Path, str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, base, head = repository
    diff = local_diff(root, base, head)
    with (
        FakeMessagesAPI([tool_answer(ANSWER, "review_answer")], forbidden=[LEAKED]) as api,
        FakeGitHub(number=12, head_sha=head, base_sha=base, diff=diff) as github,
    ):
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        monkeypatch.setenv("GITHUB_API_URL", github.url)
        monkeypatch.setenv("GITHUB_TOKEN", "test-token")
        monkeypatch.setenv("GITHUB_REPOSITORY", github.repository)
        status = main(["agent", "review", "--repo", str(root), "--pr", "12"])
    assert status == 0
    (review,) = github.reviews
    assert review["event"] == "COMMENT"
    assert review["commit_id"] == head
    (comment,) = review["comments"]
    assert comment["path"] == "stats.py"
    assert comment["line"] == BUG_LINE
    assert comment["side"] == "RIGHT"
    assert comment["body"].startswith("**error** `bug`: enumerate counts from 0")
    assert "means.append(total / (count + 1))" in comment["body"]
    assert "were dropped" in review["body"]
    assert [method for method, _, _ in github.requests] == ["GET", "GET", "GET", "POST"]
    assert "posted a review with 1 inline comment(s): https://github.test/" in (
        capsys.readouterr().out
    )


def test_a_review_github_rejects_is_a_failure(
    repository: tuple[Path, str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, base, head = repository
    diff = local_diff(root, base, head)
    with (
        FakeMessagesAPI([tool_answer(ANSWER, "review_answer")]) as api,
        FakeGitHub(number=12, head_sha=head, base_sha=base, diff=diff, review_status=422) as github,
    ):
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        monkeypatch.setenv("GITHUB_API_URL", github.url)
        monkeypatch.setenv("GITHUB_TOKEN", "test-token")
        monkeypatch.setenv("GITHUB_REPOSITORY", github.repository)
        status = main(["agent", "review", "--repo", str(root), "--pr", "12"])
    assert status == 1
    assert "HTTP 422" in capsys.readouterr().err


def test_a_finding_github_cannot_place_is_posted_in_the_review_body(
    repository: tuple[Path, str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GitHub does not render stats.py (say, a generated file): it refuses the inline comment
    # with 422, and the findings go into the body of a second, accepted review.
    root, base, head = repository
    diff = local_diff(root, base, head)
    with (
        FakeMessagesAPI([tool_answer(ANSWER, "review_answer")]) as api,
        FakeGitHub(number=12, head_sha=head, base_sha=base, diff=diff, rendered="") as github,
    ):
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        monkeypatch.setenv("GITHUB_API_URL", github.url)
        monkeypatch.setenv("GITHUB_TOKEN", "test-token")
        monkeypatch.setenv("GITHUB_REPOSITORY", github.repository)
        status = main(["agent", "review", "--repo", str(root), "--pr", "12"])
    assert status == 0
    assert len(api.requests) == 1
    (review,) = github.reviews
    assert review["comments"] == []
    assert f"- `stats.py:{BUG_LINE}` **error** `bug`: enumerate counts from 0" in review["body"]
    assert [method for method, _, _ in github.requests] == ["GET", "GET", "GET", "POST", "POST"]
    out, err = capsys.readouterr()
    assert "GitHub refused the inline comments" in err
    assert "posted a review with 0 inline comment(s)" in out


def test_without_a_key_it_says_so_and_exits_2(
    repository: tuple[Path, str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, _, _ = repository
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    assert main(["agent", "review", "--repo", str(root), "--base", "main"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "ANTHROPIC_API_KEY is not set" in line


def test_the_dry_run_prints_the_request_and_sends_nothing(
    repository: tuple[Path, str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, _, _ = repository
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with FakeMessagesAPI([]) as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        status = main(["agent", "review", "--repo", str(root), "--base", "main", "--dry-run"])
    assert status == 0
    assert api.requests == []
    out = capsys.readouterr().out
    body = json.loads(out[out.index("\n{") + 1 :])
    assert body["tool_choice"]["name"] == "review_answer"
    assert LEAKED not in out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--post"], "--post needs --pr N"),
        (["--base", "main", "--pr", "3"], "--base and --pr exclude each other"),
        (["--base", "no-such-branch"], "--base: 'no-such-branch' names no commit"),
    ],
)
def test_usage_errors_name_the_argument(
    repository: tuple[Path, str, str],
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    message: str,
) -> None:
    root, _, _ = repository
    assert main(["agent", "review", "--repo", str(root), *arguments]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("odyssey agent review: ")
    assert message in line


def test_comments_beyond_the_cap_are_counted_in_the_summary(
    repository: tuple[Path, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, base, head = repository
    monkeypatch.setattr("odyssey.agents.review.MAX_COMMENTS", 0)
    diff = local_diff(root, base, head)
    with (
        FakeMessagesAPI([tool_answer(ANSWER, "review_answer")]) as api,
        FakeGitHub(number=12, head_sha=head, base_sha=base, diff=diff) as github,
    ):
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        monkeypatch.setenv("GITHUB_API_URL", github.url)
        monkeypatch.setenv("GITHUB_TOKEN", "test-token")
        monkeypatch.setenv("GITHUB_REPOSITORY", github.repository)
        assert main(["agent", "review", "--repo", str(root), "--pr", "12"]) == 0
    (review,) = github.reviews
    assert review["comments"] == []
    assert (
        "Only the 0 most severe findings are inline comments; 1 more are not shown."
        in (review["body"])
    )


def test_a_commit_already_reviewed_is_not_reviewed_again(
    repository: tuple[Path, str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, base, head = repository
    diff = local_diff(root, base, head)
    with (
        FakeMessagesAPI([tool_answer(ANSWER, "review_answer")]) as api,
        FakeGitHub(number=12, head_sha=head, base_sha=base, diff=diff) as github,
    ):
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        monkeypatch.setenv("GITHUB_API_URL", github.url)
        monkeypatch.setenv("GITHUB_TOKEN", "test-token")
        monkeypatch.setenv("GITHUB_REPOSITORY", github.repository)
        for _ in range(2):  # the workflow re-run on the same commit
            assert main(["agent", "review", "--repo", str(root), "--pr", "12"]) == 0
    assert len(github.reviews) == 1
    assert len(api.requests) == 1
    assert f"{head[:12]} is already reviewed; nothing posted" in capsys.readouterr().out
