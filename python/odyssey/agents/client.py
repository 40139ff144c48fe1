"""One Messages API call, with a timeout and a bounded number of retries with backoff.

The SDK's own retry is switched off (``max_retries=0``) so that each retry is reported and the
bound, the backoff and the timeout can be set per run: ``ODYSSEY_AGENT_TIMEOUT`` (seconds per
attempt, default 120), ``ODYSSEY_AGENT_RETRIES`` (retries after the first attempt, default 4) and
``ODYSSEY_AGENT_BACKOFF`` (the first wait in seconds, default 2; it doubles up to 60). Retried: a
timeout, a lost connection, 408, 409, 429 (rate limited), 5xx and 529 (overloaded); a server's
``retry-after`` is honoured up to the cap. Anything else (a bad request, a wrong key) fails at once.
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


class CallFailed(Exception):
    """The call did not succeed; the message says why (and after how many attempts)."""


@dataclass(frozen=True)
class RetryPolicy:
    """Timeout per attempt, retries after the first attempt and the first backoff, in seconds."""

    timeout: float = 120.0
    retries: int = 4
    backoff: float = 2.0

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
    client = anthropic.Anthropic(
        api_key=api_key,
        base_url=os.environ.get("ANTHROPIC_BASE_URL") or None,
        timeout=policy.timeout,
        max_retries=0,
    )
    attempts = policy.retries + 1
    for attempt in range(1, attempts + 1):
        try:
            return client.messages.create(**body)
        except anthropic.APIError as error:
            reason = _describe(error)
            if not _retryable(error):
                raise CallFailed(f"the Messages API refused the request: {reason}") from None
            if attempt == attempts:
                raise CallFailed(
                    f"the Messages API failed {attempts} time{'s' if attempts > 1 else ''}, "
                    f"the last with {reason}"
                    + (f" (timeout {policy.timeout:g} s)" if "timeout" in reason else "")
                ) from None
            wait = min(policy.backoff * 2 ** (attempt - 1), _MAX_WAIT)
            wait *= random.uniform(0.5, 1.0)  # nosec B311 (jitter, not a secret)
            hint = _retry_after(error)
            if hint is not None:
                wait = min(max(wait, hint), _MAX_WAIT)
            report(f"{reason}; retry {attempt} of {policy.retries} in {wait:.1f} s")
            sleep(wait)
    raise AssertionError("unreachable")  # the loop returns or raises
