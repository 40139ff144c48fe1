"""One sweep at a time in a sweep directory: an exclusive lock on its `.sweep.lock` for as long
as a run lasts.

Two runs into the same --out would run the same trials and empty each other's run directories.
The lock is the operating system's (flock), so it goes with its holder: a run that dies, however
it dies, leaves no lock behind, and the next run takes the directory over. The file holds the
holder's pid and host for the message; it is left in place, since removing a lock file others
may be opening races with them (only a directory made for a sweep that wrote nothing goes).
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from odyssey.sweep.spec import SweepError

try:
    import fcntl
except ImportError:  # Windows: no flock; sweeps there run unlocked
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK", "held"]

LOCK = ".sweep.lock"


@contextlib.contextmanager
def held(directory: Path) -> Iterator[None]:
    """Holds `directory`'s sweep lock inside the block (the directory made if need be); a
    SweepError naming the running sweep when another process holds it."""
    if fcntl is None:
        yield
        return
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 200, 0).decode(errors="replace").strip()
            raise SweepError(
                f"--out {directory}: another sweep is running in it"
                + (f" ({holder})" if holder else "")
                + "; wait for it to end (or stop it), or choose another --out"
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        try:
            yield
        finally:
            if created and [entry.name for entry in directory.iterdir()] == [LOCK]:
                # A sweep refused before it wrote anything leaves no directory behind.
                path.unlink()
                directory.rmdir()
    finally:
        os.close(descriptor)  # releases the lock
