"""The review agent's GitHub side against a fake REST API on 127.0.0.1: reading a pull request
and its diff, and posting one review whose inline comments land on the new side of the diff."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from agents.fake_github import FakeGitHub
from agents.review_fixtures import diff_of, make_repo

from odyssey.agents.review import gather
from odyssey.agents.review.findings import Finding
from odyssey.agents.review.github import GitHub, GitHubError, review_payload
from odyssey.agents.review.repo import local_diff

ENVIRONMENT = {"GITHUB_TOKEN": "test-token", "GITHUB_REPOSITORY": "octo/odyssey"}


def test_a_review_is_posted_as_one_comment_review_with_inline_comments() -> None:
    findings = [
        Finding("a.py", 3, "error", "bug", "off by one", "    return n - 1"),
        Finding("b.py", 1, "warning", "docs", "no docstring", ""),
    ]
    diff = diff_of({"a.py": ("x\ny\nz\n", "x\ny\nw\n"), "b.py": (None, '"""b"""\n')})
    with FakeGitHub(number=7, head_sha="f" * 40, base_sha="e" * 40, diff=diff) as github:
        client = GitHub.from_environment({**ENVIRONMENT, "GITHUB_API_URL": github.url})
        answer = client.post_review(7, review_payload("f" * 40, "The summary.", findings))
    assert answer["html_url"].endswith("#r1")
    (review,) = github.reviews
    assert review["event"] == "COMMENT"
    assert review["commit_id"] == "f" * 40
    assert review["body"] == "The summary."
    first, second = review["comments"]
    assert (first["path"], first["line"], first["side"]) == ("a.py", 3, "RIGHT")
    assert first["body"].startswith("**error** `bug`: off by one")
    assert "```\n    return n - 1\n```" in first["body"]
    assert (second["path"], second["line"], second["side"]) == ("b.py", 1, "RIGHT")
    assert second["body"] == "**warning** `docs`: no docstring"
    method, path, headers = github.requests[0]
    assert (method, path) == ("POST", "/repos/octo/odyssey/pulls/7/reviews")
    assert headers["Authorization"] == "Bearer test-token"


def test_only_comment_reviews_are_ever_posted() -> None:
    client = GitHub(token="t", repository="octo/odyssey", api_url="http://127.0.0.1:9")
    payload = {**review_payload("f" * 40, "s", []), "event": "APPROVE"}
    with pytest.raises(GitHubError, match="only comments"):
        client.post_review(7, payload)


def test_a_rejected_review_is_a_clear_error() -> None:
    with FakeGitHub(
        number=7, head_sha="f" * 40, base_sha="e" * 40, diff="", review_status=422
    ) as github:
        client = GitHub.from_environment({**ENVIRONMENT, "GITHUB_API_URL": github.url})
        with pytest.raises(GitHubError, match="HTTP 422: Validation Failed"):
            client.post_review(7, review_payload("f" * 40, "s", []))


def test_github_refuses_a_comment_it_cannot_place_and_the_fake_does_too() -> None:
    # The fake holds the review agent to GitHub's rule: every inline comment on the right side of
    # a line the diff shows, at the head commit.
    diff = diff_of({"a.py": ("x\n", "y\n")})
    off = [Finding("a.py", 9, "error", "bug", "not in the diff", "")]
    on = [Finding("a.py", 1, "error", "bug", "in the diff", "")]
    with FakeGitHub(number=7, head_sha="f" * 40, base_sha="e" * 40, diff=diff) as github:
        client = GitHub.from_environment({**ENVIRONMENT, "GITHUB_API_URL": github.url})
        with pytest.raises(GitHubError, match=r"HTTP 422: .*must be part of the diff") as error:
            client.post_review(7, review_payload("f" * 40, "s", off))
        assert error.value.status == 422
        with pytest.raises(GitHubError, match="HTTP 422: commit_id"):
            client.post_review(7, review_payload("d" * 40, "s", on))
        client.post_review(7, review_payload("f" * 40, "s", on))
    assert len(github.reviews) == 1


def test_every_page_of_reviews_is_read() -> None:
    earlier = [{"commit_id": str(index), "body": f"review {index}"} for index in range(7)]
    with FakeGitHub(
        number=7,
        head_sha="f" * 40,
        base_sha="e" * 40,
        diff="",
        earlier_reviews=earlier,
        page_size=3,
    ) as github:
        client = GitHub.from_environment({**ENVIRONMENT, "GITHUB_API_URL": github.url})
        reviews = client.reviews(7)
    assert [review["body"] for review in reviews] == [f"review {index}" for index in range(7)]
    assert len(github.requests) == 3


def test_findings_github_cannot_place_are_posted_in_the_body(tmp_path: Path) -> None:
    from odyssey.agents.review import _post

    diff = diff_of({"a.py": ("x\n", "y\n")})
    findings = [
        Finding("a.py", 1, "error", "bug", "placed", ""),
        Finding("gen/big.json", 4, "warning", "style", "GitHub does not\nrender this file", ""),
    ]
    with FakeGitHub(number=7, head_sha="f" * 40, base_sha="e" * 40, diff=diff) as github:
        client = GitHub.from_environment({**ENVIRONMENT, "GITHUB_API_URL": github.url})
        pull = client.pull_request(7)
        answer = _post(client, pull, "The summary.", findings)
    assert answer["_in_body"] is True
    (review,) = github.reviews
    assert review["comments"] == []
    assert review["event"] == "COMMENT"
    assert review["body"].startswith("The summary.\n\nGitHub could not place these findings")
    assert "- `a.py:1` **error** `bug`: placed" in review["body"]
    assert (
        "- `gen/big.json:4` **warning** `style`: GitHub does not render this file"
        in (review["body"])
    )


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"GITHUB_REPOSITORY": "octo/odyssey"}, "GITHUB_TOKEN is not set"),
        ({"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "odyssey"}, "owner/name"),
    ],
)
def test_the_environment_must_name_the_token_and_repository(
    environment: dict[str, str], message: str
) -> None:
    with pytest.raises(GitHubError, match=message):
        GitHub.from_environment(environment)


def test_a_pull_request_is_gathered_from_the_api_and_the_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, head = make_repo(tmp_path, {"a.py": "x = 1\n"}, {"a.py": "x = 1\ny = 2\n"})
    diff = local_diff(tmp_path, base, head)
    with FakeGitHub(number=7, head_sha=head, base_sha=base, diff=diff, title="Add y") as github:
        environment = {**ENVIRONMENT, "GITHUB_API_URL": github.url}
        args = argparse.Namespace(repo=str(tmp_path), pr=7, base=None)
        change = gather(args, environment)
    assert change.pull_request is not None
    assert change.pull_request.title == "Add y"
    assert [(d.path, d.added) for d in change.diffs] == [("a.py", {2})]
    assert change.tree.read("a.py") == "x = 1\ny = 2\n"
    assert change.base_tree is not None
    assert change.base_tree.read("a.py") == "x = 1\n"
    accepts = [headers["Accept"] for _, _, headers in github.requests]
    assert "application/vnd.github.diff" in accepts


def test_the_diff_is_pinned_to_the_commits_the_review_is_posted_on(tmp_path: Path) -> None:
    # A push after GET pulls/N moves the live diff; the review's lines must be those of head_sha.
    base, head = make_repo(tmp_path, {"a.py": "x = 1\n"}, {"a.py": "x = 1\ny = 2\n"})
    pinned = local_diff(tmp_path, base, head)
    live = diff_of({"a.py": ("x = 1\n", "z = 0\nx = 1\ny = 2\n")})
    with FakeGitHub(number=7, head_sha=head, base_sha=base, diff=pinned, live_diff=live) as github:
        args = argparse.Namespace(repo=str(tmp_path), pr=7, base=None)
        change = gather(args, {**ENVIRONMENT, "GITHUB_API_URL": github.url})
    assert [(d.path, d.added) for d in change.diffs] == [("a.py", {2})]
    assert f"/repos/octo/odyssey/compare/{base}...{head}" in [p for _, p, _ in github.requests]


def test_a_pull_request_whose_head_is_not_checked_out_is_refused(tmp_path: Path) -> None:
    make_repo(tmp_path, {"a.py": "x = 1\n"}, {"a.py": "x = 2\n"})
    with FakeGitHub(number=7, head_sha="a" * 40, base_sha="b" * 40, diff="") as github:
        args = argparse.Namespace(repo=str(tmp_path), pr=7, base=None)
        with pytest.raises(GitHubError, match="lacks the pull request's head"):
            gather(args, {**ENVIRONMENT, "GITHUB_API_URL": github.url})


def test_a_diff_too_large_for_github_is_taken_from_the_checkout(tmp_path: Path) -> None:
    base, head = make_repo(tmp_path, {"a.py": "x = 1\n"}, {"a.py": "x = 1\ny = 2\n"})
    with FakeGitHub(number=7, head_sha=head, base_sha=base, diff="", diff_status=406) as github:
        args = argparse.Namespace(repo=str(tmp_path), pr=7, base=None)
        change = gather(args, {**ENVIRONMENT, "GITHUB_API_URL": github.url})
    assert [(d.path, d.added) for d in change.diffs] == [("a.py", {2})]


def test_another_diff_error_is_a_failure(tmp_path: Path) -> None:
    base, head = make_repo(tmp_path, {"a.py": "x = 1\n"}, {"a.py": "x = 2\n"})
    with FakeGitHub(number=7, head_sha=head, base_sha=base, diff="", diff_status=500) as github:
        args = argparse.Namespace(repo=str(tmp_path), pr=7, base=None)
        with pytest.raises(GitHubError, match="HTTP 500"):
            gather(args, {**ENVIRONMENT, "GITHUB_API_URL": github.url})
