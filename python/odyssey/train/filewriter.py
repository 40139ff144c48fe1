"""The file writes that end a training epoch (ModelCheckpoint's checkpoints and the removal of the
one they replace, metrics.csv's rewrites), done on one background thread during `fit`, so that
their fsyncs and renames (milliseconds each on a journaling file system, tens per epoch) overlap
the next training steps instead of stalling them.

What a write puts on disk is fixed when it is queued (a snapshot of the bytes or of the arrays),
and the writes run one at a time in the order they were queued, so the files go through exactly
the states a synchronous run gives them, a little later. Each write is still atomic: a crash
loses at most the writes still queued, never a file's integrity. A synchronous write to a file
(`Trainer.save_checkpoint`, `CSVLogger.save`) first waits for the queue, so it is never
overtaken by an older queued one. A failed write cancels the jobs queued after it (a checkpoint
that could not be saved must not be followed by the removal of the one before it) and is raised
in the training thread at the next `submit` or `wait`.

While the Trainer ends an epoch it holds the queue (`hold`): the jobs queued there start with the
next training step (`release`), whose kernels leave the interpreter free, instead of taking turns
with the epoch's end for Python's lock.
"""

from __future__ import annotations

import collections
import os
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["FileWriter", "writer_of"]


def _key(path: str | os.PathLike[str]) -> str:
    return os.path.abspath(os.fspath(path))


class FileWriter:
    """Runs file jobs on one worker thread, in order; knows which paths they will create or
    remove, so that `exists` answers as if every queued job had run."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._jobs: collections.deque[tuple[int, str, Callable[[], Any]]] = collections.deque()
        # path -> (number of the latest queued job on it, whether the file exists after it)
        self._pending: dict[str, tuple[int, bool]] = {}
        self._queued = 0
        self._running = False
        self._closing = False
        self._failure: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._held = False  # jobs wait in the queue until release() (or wait/close)

    def submit(self, path: str | os.PathLike[str], exists: bool, job: Callable[[], Any]) -> None:
        """Queues `job`, which writes (`exists` True) or removes (False) the file at `path`;
        raises the failure of an earlier job first, if any."""
        key = _key(path)
        with self._condition:
            self._raise_failure()
            self._queued += 1
            self._jobs.append((self._queued, key, job))
            self._pending[key] = (self._queued, exists)
            if self._thread is None:
                self._closing = False
                self._thread = threading.Thread(
                    target=self._work, name="odyssey-file-writer", daemon=True
                )
                self._thread.start()
            if not self._held:
                self._condition.notify_all()

    def hold(self) -> None:
        """Keeps the jobs queued from now on (and any not started) until `release`."""
        with self._condition:
            self._held = True

    def release(self) -> None:
        """Lets the worker run the queued jobs (cheap when the queue is not held)."""
        if not self._held:  # only the training thread sets it; a stale False costs nothing
            return
        with self._condition:
            self._held = False
            self._condition.notify_all()

    def exists(self, path: str | os.PathLike[str]) -> bool:
        """Whether `path` exists once the queued jobs have run."""
        key = _key(path)
        with self._condition:
            entry = self._pending.get(key)
        return os.path.exists(path) if entry is None else entry[1]

    def wait(self, raise_failure: bool = True) -> None:
        """Blocks until every queued job has run; raises the failure of one, if any (with
        `raise_failure` False it is kept for a later wait: an exception being handled already
        is the one to report)."""
        self.release()
        with self._condition:
            while self._jobs or self._running:
                self._condition.wait()
            if raise_failure:
                self._raise_failure()

    def close(self) -> None:
        """Runs what is queued, then stops the worker thread (a failure is kept for `wait`)."""
        with self._condition:
            thread, self._thread = self._thread, None
            self._closing = True
            self._held = False
            self._condition.notify_all()
        if thread is not None:
            thread.join()

    def _raise_failure(self) -> None:
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def _work(self) -> None:
        while True:
            with self._condition:
                while (not self._jobs or self._held) and not self._closing:
                    self._condition.wait()
                if not self._jobs:
                    return
                number, key, job = self._jobs.popleft()
                self._running = True
            failure = None
            try:
                job()
            except BaseException as error:  # handed to the training thread
                failure = error
            with self._condition:
                self._running = False
                if failure is not None:
                    self._failure = failure
                    self._jobs.clear()
                    self._pending.clear()
                elif self._pending.get(key, (None,))[0] == number:
                    del self._pending[key]
                self._condition.notify_all()


def writer_of(trainer: Any) -> FileWriter | None:
    """The trainer's FileWriter while it fits (None otherwise, or for an object that is not an
    odyssey Trainer): where a callback's epoch-end writes go."""
    return getattr(trainer, "_file_writer", None)
