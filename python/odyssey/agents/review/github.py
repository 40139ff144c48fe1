"""GitHub's REST API, the three calls the review needs: a pull request's metadata, its diff, and
one review with inline comments (``event: COMMENT`` always; the agent never approves, requests
changes, commits, pushes or merges).

Configuration comes from the environment Actions sets: ``GITHUB_TOKEN``, ``GITHUB_REPOSITORY``
(owner/name) and ``GITHUB_API_URL`` (https://api.github.com unless a test points it at a server on
127.0.0.1). The standard library's urllib is enough for three JSON requests.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from odyssey.agents.review.findings import Finding

__all__ = [
    "GitHub",
    "GitHubError",
    "PullRequest",
    "comment_body",
    "findings_in_body",
    "review_payload",
]

DEFAULT_API_URL = "https://api.github.com"
TIMEOUT = 30
# GitHub rejects a review body or comment longer than 65,536 characters.
MAX_BODY = 65_000
_REPOSITORY = re.compile(r"^[\w.-]+/[\w.-]+$")
_NEXT = re.compile(r'<(?P<url>[^>]+)>;\s*rel="next"')
# A bound on the pages of reviews read (100 each): a runaway Link chain cannot loop forever.
MAX_PAGES = 50


class GitHubError(RuntimeError):
    """A GitHub request failed, or the environment does not say which repository to use;
    `status` is the HTTP status when GitHub answered one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class PullRequest:
    """What the review needs of a pull request."""

    number: int
    title: str
    base_sha: str
    head_sha: str
    head_repository: str


@dataclass(frozen=True)
class GitHub:
    """A client for one repository."""

    token: str
    repository: str
    api_url: str = DEFAULT_API_URL

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> GitHub:
        """The client of GITHUB_REPOSITORY with GITHUB_TOKEN; GitHubError naming what is unset."""
        environ = os.environ if environ is None else environ
        token = environ.get("GITHUB_TOKEN", "")
        repository = environ.get("GITHUB_REPOSITORY", "")
        if not token:
            raise GitHubError("GITHUB_TOKEN is not set (needed to read and review a pull request)")
        if not _REPOSITORY.match(repository):
            raise GitHubError(f"GITHUB_REPOSITORY must be owner/name, got {repository!r}")
        api_url = (environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
        return cls(token=token, repository=repository, api_url=api_url)

    def _request(
        self, method: str, path: str, *, accept: str, body: dict[str, Any] | None = None
    ) -> bytes:
        return self._exchange(method, path, accept=accept, body=body)[0]

    def _exchange(
        self, method: str, path: str, *, accept: str, body: dict[str, Any] | None = None
    ) -> tuple[bytes, str]:
        """GitHub's answer to one request: its body and its Link header (pagination)."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        # The URL is GITHUB_API_URL's (https, or http://127.0.0.1 in tests), never a file: URL.
        request = urllib.request.Request(
            f"{self.api_url}{path}",
            data=data,
            method=method,
            headers={
                "Accept": accept,
                "Authorization": f"Bearer {self.token}",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "odyssey-agent-review",
                **({"Content-Type": "application/json"} if data is not None else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # nosec B310
                return response.read(), response.headers.get("Link") or ""
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")
            with contextlib.suppress(json.JSONDecodeError, AttributeError):
                detail = json.loads(detail).get("message", detail)
            raise GitHubError(
                f"{method} {path}: HTTP {error.code}: {str(detail)[:300]}", error.code
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise GitHubError(f"{method} {path}: {reason}") from None

    def pull_request(self, number: int) -> PullRequest:
        """The pull request's title, base and head commits and the repository of its head."""
        raw = self._request(
            "GET", f"/repos/{self.repository}/pulls/{number}", accept="application/vnd.github+json"
        )
        try:
            data = json.loads(raw)
            return PullRequest(
                number=number,
                title=str(data.get("title") or ""),
                base_sha=data["base"]["sha"],
                head_sha=data["head"]["sha"],
                head_repository=str((data["head"].get("repo") or {}).get("full_name") or ""),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise GitHubError(f"pull request {number}: unexpected answer ({error})") from None

    def pull_request_diff(self, number: int) -> str:
        """The pull request's diff (base...head) in git's unified format, as it is now."""
        raw = self._request(
            "GET", f"/repos/{self.repository}/pulls/{number}", accept="application/vnd.github.diff"
        )
        return raw.decode("utf-8", "replace")

    def compare_diff(self, base_sha: str, head_sha: str) -> str:
        """The diff ``base_sha...head_sha`` in git's unified format: the pull request's diff
        pinned to the commits the review is posted on (a push meanwhile does not move it)."""
        raw = self._request(
            "GET",
            f"/repos/{self.repository}/compare/{base_sha}...{head_sha}",
            accept="application/vnd.github.diff",
        )
        return raw.decode("utf-8", "replace")

    def reviews(self, number: int) -> list[dict[str, Any]]:
        """Every review of the pull request, page by page (GitHub's Link: rel="next")."""
        found: list[dict[str, Any]] = []
        path: str | None = f"/repos/{self.repository}/pulls/{number}/reviews?per_page=100"
        for _ in range(MAX_PAGES):
            if path is None:
                break
            raw, link = self._exchange("GET", path, accept="application/vnd.github+json")
            try:
                answer = json.loads(raw or b"[]")
            except json.JSONDecodeError:
                raise GitHubError(f"pull request {number}: its reviews are not JSON") from None
            if not isinstance(answer, list):
                raise GitHubError(f"pull request {number}: its reviews are not a list")
            found += [review for review in answer if isinstance(review, dict)]
            path = self._next_page(link)
        return found

    def _next_page(self, link: str) -> str | None:
        """The path of the rel="next" page in a Link header, when it is on this API's host."""
        match = _NEXT.search(link)
        if match is None or not match["url"].startswith(self.api_url + "/"):
            return None
        return match["url"][len(self.api_url) :]

    def post_review(self, number: int, payload: dict[str, Any]) -> dict[str, Any]:
        """Posts one review (`review_payload`) and returns GitHub's answer (its id, html_url)."""
        if payload.get("event") != "COMMENT":
            raise GitHubError("post_review: the review agent only comments (event COMMENT)")
        raw = self._request(
            "POST",
            f"/repos/{self.repository}/pulls/{number}/reviews",
            accept="application/vnd.github+json",
            body=payload,
        )
        try:
            answer = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            answer = {}
        return answer if isinstance(answer, dict) else {}


def comment_body(finding: Finding) -> str:
    """An inline comment: severity and rule, the message, and the suggested change if any."""
    body = f"**{finding.severity}** `{finding.rule}`: {finding.message}"
    if finding.suggested_change.strip():
        fence = "````" if "```" in finding.suggested_change else "```"
        body += f"\n\nSuggested change:\n{fence}\n{finding.suggested_change.rstrip()}\n{fence}"
    return body[:MAX_BODY]


def findings_in_body(summary: str, findings: Sequence[Finding]) -> str:
    """The summary with the findings as ``file:line`` bullets: the review's body when GitHub
    refuses to place the inline comments (422), so the findings are not lost."""
    if not findings:
        return summary
    bullets = "\n".join(
        f"- `{finding.file}:{finding.line}` **{finding.severity}** `{finding.rule}`: "
        f"{' '.join(finding.message.split())}"
        for finding in findings
    )
    return (
        f"{summary}\n\nGitHub could not place these findings as inline comments, so they are "
        f"listed here:\n\n{bullets}"
    )


def review_payload(head_sha: str, summary: str, findings: Sequence[Finding]) -> dict[str, Any]:
    """The body of ``POST /repos/{owner}/{repo}/pulls/{n}/reviews``: the summary and one inline
    comment per finding, on the new side (``RIGHT``) of the diff at `head_sha`."""
    return {
        "commit_id": head_sha,
        "event": "COMMENT",
        "body": summary[:MAX_BODY],
        "comments": [
            {
                "path": finding.file,
                "line": finding.line,
                "side": "RIGHT",
                "body": comment_body(finding),
            }
            for finding in findings
        ],
    }
