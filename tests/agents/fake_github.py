"""A fake GitHub REST API on 127.0.0.1 for the review agent's tests: one pull request (its JSON, or
its diff when asked for ``application/vnd.github.diff``, also through ``compare/BASE...HEAD``) and
the reviews posted to it, read back page by page with a Link header as GitHub does.

Like GitHub, it refuses a review (422) whose ``commit_id`` is not the head, or with an inline
comment not on the right side (``side: RIGHT``) of a line its diff shows (added or context):
`rendered` is the diff GitHub places comments on, by default the one it serves; `live_diff` is
what ``pulls/N`` answers as a diff (the live head's), by default the same.

    with FakeGitHub(number=7, head_sha=sha, base_sha=base, diff=text) as github:
        monkeypatch.setenv("GITHUB_API_URL", github.url)
        ...
    github.reviews  # the JSON bodies posted to /repos/{owner}/{repo}/pulls/7/reviews
"""

from __future__ import annotations

import http.server
import json
import threading
from typing import Any

__all__ = ["FakeGitHub"]


class FakeGitHub:
    """Serves `repository`'s pull request `number`; `review_status` is the answer to a posted
    review and `diff_status` to a request for the diff (200, or an error status to test the
    failure paths)."""

    def __init__(
        self,
        *,
        number: int,
        head_sha: str,
        base_sha: str,
        diff: str,
        repository: str = "octo/odyssey",
        title: str = "A change",
        review_status: int = 200,
        diff_status: int = 200,
        rendered: str | None = None,
        earlier_reviews: list[dict[str, Any]] | None = None,
        page_size: int = 100,
        live_diff: str | None = None,
    ) -> None:
        self.number = number
        self.repository = repository
        self.pull = {
            "number": number,
            "title": title,
            "head": {"sha": head_sha, "repo": {"full_name": repository}},
            "base": {"sha": base_sha, "repo": {"full_name": repository}},
        }
        self.diff = diff
        # pulls/N as a diff gives the live head's diff (a push may have moved it); compare/ the
        # pinned one.
        self.live_diff = diff if live_diff is None else live_diff
        self.review_status = review_status
        self.diff_status = diff_status
        self.head_sha, self.base_sha = head_sha, base_sha
        self.rendered = diff if rendered is None else rendered
        self.page_size = page_size
        self.reviews: list[dict[str, Any]] = list(earlier_reviews or [])
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def placement_problem(self, review: dict[str, Any]) -> str | None:
        """Why GitHub would refuse `review` (422), or None."""
        from odyssey.agents.review.diff import parse_diff

        if review.get("commit_id") != self.head_sha:
            return "commit_id is not the pull request's head"
        right = {
            (diff.path, line.new)
            for diff in parse_diff(self.rendered)
            for line in diff.lines
            if line.new is not None
        }
        for comment in review.get("comments") or []:
            if (
                comment.get("side") != "RIGHT"
                or (comment.get("path"), comment.get("line")) not in right
            ):
                return (
                    "Unprocessable Entity: pull_request_review_thread.line must be part of the diff"
                )
        return None

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        fake = self
        pull_path = f"/repos/{self.repository}/pulls/{self.number}"

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, content_type: str, link: str = "") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                if link:
                    self.send_header("Link", link)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, value: Any) -> None:
                self._send(status, json.dumps(value).encode(), "application/json")

            def do_GET(self) -> None:
                fake.requests.append(("GET", self.path, dict(self.headers)))
                compare = f"/repos/{fake.repository}/compare/{fake.base_sha}...{fake.head_sha}"
                reviews = f"{pull_path}/reviews?per_page=100"
                if self.path == reviews or self.path.startswith(f"{reviews}&page="):
                    page = (
                        int(self.path.rpartition("&page=")[2] or 1) if "&page=" in self.path else 1
                    )
                    start = (page - 1) * fake.page_size
                    chunk = fake.reviews[start : start + fake.page_size]
                    more = start + fake.page_size < len(fake.reviews)
                    link = f'<{fake.url}{reviews}&page={page + 1}>; rel="next"' if more else ""
                    body = [{"id": start + i, **r} for i, r in enumerate(chunk)]
                    self._send(200, json.dumps(body).encode(), "application/json", link)
                elif self.path not in (pull_path, compare):
                    self._json(404, {"message": "Not Found"})
                elif self.path == compare and self.headers.get("Accept") != (
                    "application/vnd.github.diff"
                ):
                    self._json(415, {"message": "the fake serves only the compare diff"})
                elif self.headers.get("Accept") == "application/vnd.github.diff":
                    if fake.diff_status != 200:
                        self._json(fake.diff_status, {"message": "Sorry, the diff is too large"})
                    else:
                        text = fake.diff if self.path == compare else fake.live_diff
                        self._send(200, text.encode(), "text/plain; charset=utf-8")
                else:
                    self._json(200, fake.pull)

            def do_POST(self) -> None:
                fake.requests.append(("POST", self.path, dict(self.headers)))
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path != f"{pull_path}/reviews":
                    self._json(404, {"message": "Not Found"})
                elif fake.review_status != 200:
                    self._json(fake.review_status, {"message": "Validation Failed"})
                elif fake.placement_problem(body):
                    self._json(422, {"message": fake.placement_problem(body)})
                else:
                    fake.reviews.append(body)
                    self._json(200, {"id": 1, "html_url": f"https://github.test{pull_path}#r1"})

        return Handler

    def __enter__(self) -> FakeGitHub:
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
