"""The signals that stop a sweep, handled the way Ctrl-C is.

A sweep's driver owns worker processes it must end before it exits, so every stopping signal
goes down the one clean path Ctrl-C takes (KeyboardInterrupt: end the workers, record them as
interrupted): SIGTERM (`kill`, a batch scheduler) and SIGHUP (the terminal closed) as well as
SIGINT. While that cleanup runs, a second signal is ignored — raised in the middle of it, it
would leave workers unended and records unwritten. Python's handlers run in the main thread
only, so each of these does nothing elsewhere (a sweep run from another thread keeps its
process's handling).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["STOPPING", "deferred", "ignored", "stop_as_interrupt"]

# The signals that stop a sweep (SIGHUP does not exist on Windows).
STOPPING = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def _handlers(handler: object, signals: tuple[int, ...] = STOPPING) -> Iterator[None]:
    """`handler` for `signals` inside the block, the previous handlers restored after it."""
    if not _main_thread():
        yield
        return
    saved = {number: signal.signal(number, handler) for number in signals}  # type: ignore[arg-type]
    try:
        yield
    finally:
        for number, previous in saved.items():
            signal.signal(number, previous)


def _interrupt(number: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def stop_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP raise KeyboardInterrupt inside the block, as Ctrl-C does."""
    others = tuple(number for number in STOPPING if number != signal.SIGINT)
    with _handlers(_interrupt, others):
        yield


@contextlib.contextmanager
def ignored() -> Iterator[None]:
    """The stopping signals ignored inside the block (the cleanup after the first one)."""
    with _handlers(signal.SIG_IGN):
        yield


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """A stopping signal that arrives inside the block raises KeyboardInterrupt when the block
    ends instead (a step such as starting a worker and registering it must not be cut in two).
    A process exec'd inside the block starts with the default handling (exec resets handled
    signals), unlike one started inside `ignored()`, which would inherit SIG_IGN."""
    arrived: list[int] = []
    with _handlers(lambda number, frame: arrived.append(number)):
        yield
    if arrived:
        raise KeyboardInterrupt
