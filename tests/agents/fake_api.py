"""A fake Anthropic Messages API on 127.0.0.1 for the agents' offline tests.

    with FakeMessagesAPI([tool_answer({...}, "docs_answer")], forbidden=["hunter2"]) as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test")
        ...
    api.requests  # every request body, parsed

Each request to ``POST /v1/messages`` takes the next scripted reply: a dict is a 200 answer (build
one with `tool_answer`); an int is that HTTP status with an Anthropic-style error body (429 rate
limited, 529 overloaded, 500 ...); a `Delay` waits before its reply (a client timeout); `Hang`
waits without ever answering. A request containing one of the `forbidden` strings, or one more
request than was scripted, fails the test when the block ends.
"""

from __future__ import annotations

import http.server
import itertools
import json
import threading
from dataclasses import dataclass
from typing import Any

__all__ = ["Delay", "FakeMessagesAPI", "Hang", "tool_answer"]

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    429: "rate_limit_error",
    500: "api_error",
    503: "api_error",
    529: "overloaded_error",
}
_ids = itertools.count(1)


@dataclass(frozen=True)
class Delay:
    """Wait `seconds`, then send `reply` (a dict or a status)."""

    seconds: float
    reply: dict[str, Any] | int


@dataclass(frozen=True)
class Hang:
    """Never answer (until the server stops): the client's timeout must end the attempt."""


def tool_answer(
    output: dict[str, Any],
    tool_name: str,
    *,
    input_tokens: int = 1000,
    output_tokens: int = 200,
    stop_reason: str = "tool_use",
) -> dict[str, Any]:
    """A Messages API response whose content is one call of `tool_name` with `output`."""
    number = next(_ids)
    return {
        "id": f"msg_fake{number:04d}",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": [
            {
                "type": "tool_use",
                "id": f"toolu_fake{number:04d}",
                "name": tool_name,
                "input": output,
            }
        ],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


class FakeMessagesAPI:
    """The scripted server; a context manager (see the module's docstring)."""

    def __init__(
        self, replies: list[dict[str, Any] | int | Delay | Hang], forbidden: list[str] = ()
    ) -> None:
        self.replies = list(replies)
        self.forbidden = list(forbidden)
        self.requests: list[dict[str, Any]] = []
        self.problems: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length).decode("utf-8")
                reply = api._take(self.path, raw)
                if isinstance(reply, Hang):
                    api._stop.wait(60)
                    return
                if isinstance(reply, Delay):
                    if api._stop.wait(reply.seconds):
                        return
                    reply = reply.reply
                self._send(reply)

            def _send(self, reply: dict[str, Any] | int) -> None:
                if isinstance(reply, int):
                    status = reply
                    body = {
                        "type": "error",
                        "error": {
                            "type": _ERROR_TYPES.get(reply, "api_error"),
                            "message": f"scripted HTTP {reply}",
                        },
                    }
                else:
                    status, body = 200, reply
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    if status == 429:
                        self.send_header("retry-after-ms", "1")
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (its timeout): nothing to answer
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.handle_error = lambda *args: None  # a dropped client is not our error
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _take(self, path: str, raw: str) -> dict[str, Any] | int | Delay | Hang:
        with self._lock:
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                body = {"unparsed": raw}
            self.requests.append(body)
            texts = [raw, *_strings(body)]
            for secret in self.forbidden:
                if any(secret in text for text in texts):
                    self.problems.append(f"request {len(self.requests)} contains {secret!r}")
            if path.split("?")[0] != "/v1/messages":
                self.problems.append(f"request to {path}, not /v1/messages")
                return 404
            if not self.replies:
                self.problems.append(f"request {len(self.requests)} was not scripted")
                return 500
            return self.replies.pop(0)

    def __enter__(self) -> FakeMessagesAPI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        assert not self.problems, "fake Messages API: " + "; ".join(self.problems)
