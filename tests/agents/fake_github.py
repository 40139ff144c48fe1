"""A fake GitHub REST API on 127.0.0.1 for the review agent's tests: one pull request (its JSON, or
its diff when asked for ``application/vnd.github.diff``) and the reviews posted to it.

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
        self.review_status = review_status
        self.diff_status = diff_status
        self.reviews: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        fake = self
        pull_path = f"/repos/{self.repository}/pulls/{self.number}"

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, value: Any) -> None:
                self._send(status, json.dumps(value).encode(), "application/json")

            def do_GET(self) -> None:
                fake.requests.append(("GET", self.path, dict(self.headers)))
                if self.path == f"{pull_path}/reviews?per_page=100":
                    self._json(200, [{"id": 1, **review} for review in fake.reviews])
                elif self.path != pull_path:
                    self._json(404, {"message": "Not Found"})
                elif self.headers.get("Accept") == "application/vnd.github.diff":
                    if fake.diff_status != 200:
                        self._json(fake.diff_status, {"message": "Sorry, the diff is too large"})
                    else:
                        self._send(200, fake.diff.encode(), "text/plain; charset=utf-8")
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
