"""One Messages API call, with a timeout and a bounded number of retries with backoff.

The SDK's own retry is switched off (``max_retries=0``) so that each retry is reported and the
bound, the backoff and the timeout can be set per run: ``ODYSSEY_AGENT_TIMEOUT`` (seconds per
attempt; by default derived from the request's ``max_tokens``, see `RetryPolicy.timeout_for`),
``ODYSSEY_AGENT_RETRIES`` (retries after the first attempt, default 4) and
``ODYSSEY_AGENT_BACKOFF`` (the first wait in seconds, default 2; it doubles up to 60). Retried: a
lost connection, 408, 409, 429 (rate limited), 5xx and 529 (overloaded); a server's
``retry-after`` is honoured up to the cap. A timeout is retried once only: the server may still
be writing (and billing) the answer the client gave up on. Anything else (a bad request, a wrong
key) fails at once.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["CallFailed", "RetryPolicy", "create_message"]

_MAX_WAIT = 60.0
# The request is not streamed, so nothing arrives until the whole answer is written: the timeout
# must cover the slowest plausible writing speed. The SDK's own rule (an hour for 128k tokens,
# about 36 tokens a second), never below 120 s.
_SECONDS_PER_OUTPUT_TOKEN = 3600 / 128_000
_MIN_TIMEOUT = 120.0


class CallFailed(Exception):
    """The call did not succeed; the message says why (and after how many attempts)."""


@dataclass(frozen=True)
class RetryPolicy:
    """Timeout per attempt (None: derived from max_tokens), retries after the first attempt and
    the first backoff, in seconds."""

    timeout: float | None = None
    retries: int = 4
    backoff: float = 2.0

    def timeout_for(self, max_tokens: int) -> float:
        """The timeout of one attempt at a request for up to `max_tokens` output tokens: the
        one set, else long enough for the answer to be written at the slowest plausible speed."""
        if self.timeout is not None:
            return self.timeout
        return max(_MIN_TIMEOUT, _SECONDS_PER_OUTPUT_TOKEN * max_tokens)

    @classmethod
    def from_environment(cls) -> RetryPolicy:
        """The policy from ``ODYSSEY_AGENT_TIMEOUT``/``_RETRIES``/``_BACKOFF``, else defaults."""
        values: dict[str, Any] = {}
        for field, kind in (("timeout", float), ("retries", int), ("backoff", float)):
            name = f"ODYSSEY_AGENT_{field.upper()}"
            text = os.environ.get(name)
            if text is None or text == "":
                continue
            try:
                value = kind(text)
            except ValueError:
                raise CallFailed(f"{name} must be a number, got {text!r}") from None
            if value < 0 or (field == "timeout" and value == 0):
                raise CallFailed(f"{name} must be positive, got {text!r}")
            values[field] = value
        return cls(**values)


def _retry_after(error: Any) -> float | None:
    response = getattr(error, "response", None)
    if response is None:
        return None
    for header, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        try:
            return float(response.headers.get(header)) * scale
        except (TypeError, ValueError):
            continue
    return None


def _describe(error: Exception) -> str:
    import anthropic

    if isinstance(error, anthropic.APITimeoutError):
        return "no answer before the timeout"
    if isinstance(error, anthropic.APIStatusError):
        message = getattr(error, "message", "") or ""
        message = message.splitlines()[0] if message else ""
        return f"HTTP {error.status_code}" + (f" ({message[:200]})" if message else "")
    if isinstance(error, anthropic.APIConnectionError):
        return f"connection failed ({error.__cause__ or error})"
    return f"{type(error).__name__}: {error}"


def _retryable(error: Exception) -> bool:
    import anthropic

    if isinstance(error, anthropic.APIConnectionError):  # timeouts included
        return True
    if isinstance(error, anthropic.APIStatusError):
        return error.status_code in (408, 409, 429) or error.status_code >= 500
    return False


def create_message(
    body: dict[str, Any],
    *,
    api_key: str,
    policy: RetryPolicy,
    report: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """POSTs `body` to /v1/messages (``ANTHROPIC_BASE_URL`` or Anthropic's) and returns the
    SDK's Message; raises CallFailed once the retries are spent or on an error not worth one."""
    try:
        import anthropic
    except ImportError:
        raise CallFailed(
            "the anthropic package is missing: pip install 'ml-odyssey[agents]'"
        ) from None
    timeout = policy.timeout_for(int(body.get("max_tokens") or 0))
    client = anthropic.Anthropic(
        api_key=api_key,
        base_url=os.environ.get("ANTHROPIC_BASE_URL") or None,
        timeout=timeout,
        max_retries=0,
    )
    attempts = policy.retries + 1
    timeouts = 0
    for attempt in range(1, attempts + 1):
        try:
            return client.messages.create(**body)
        except anthropic.APIError as error:
            reason = _describe(error)
            if not _retryable(error):
                raise CallFailed(f"the Messages API refused the request: {reason}") from None
            if isinstance(error, anthropic.APITimeoutError):
                timeouts += 1
            if attempt == attempts or timeouts > 1:
                raise CallFailed(
                    f"the Messages API failed {attempt} time{'s' if attempt > 1 else ''}, "
                    f"the last with {reason}"
                    + (f" (timeout {timeout:g} s)" if "timeout" in reason else "")
                    + (" (a timeout is retried once only)" if timeouts > 1 else "")
                ) from None
            wait = min(policy.backoff * 2 ** (attempt - 1), _MAX_WAIT)
            # B311: jitter, not a secret
            wait *= random.uniform(0.5, 1.0)  # nosec B311
            hint = _retry_after(error)
            if hint is not None:
                wait = min(max(wait, hint), _MAX_WAIT)
            report(f"{reason}; retry {attempt} of {policy.retries} in {wait:.1f} s")
            sleep(wait)
    raise AssertionError("unreachable")  # the loop returns or raises
