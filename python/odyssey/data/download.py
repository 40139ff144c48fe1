"""Verified downloads into a cache: mirrors tried in order, a checksum before anything is kept.

A file is streamed into a temporary file next to its destination, hashed on the way, checked
against the recorded size and digest, flushed to disk and only then renamed into place, so the
cache never holds a partial or unverified file, whatever happens mid-download.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "ChecksumError",
    "DownloadError",
    "RemoteFile",
    "atomic_file",
    "cache_dir",
    "fetch",
    "file_digest",
]

CHUNK = 1 << 16
TIMEOUT_SECONDS = 30.0

# Called with (bytes received so far, total bytes or None) while a file downloads.
Progress = Callable[[int, "int | None"], None]


@dataclass(frozen=True)
class RemoteFile:
    """One published file: where it can be fetched from and what its bytes must hash to.

    `sha256` is checked when known; for files whose publishers give only an MD5, `md5` and
    `size` are checked instead."""

    name: str
    urls: tuple[str, ...]
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None

    def __post_init__(self) -> None:
        if self.sha256 is None and self.md5 is None:
            raise ValueError(f"RemoteFile {self.name}: give a sha256 or an md5")
        if not self.urls:
            raise ValueError(f"RemoteFile {self.name}: give at least one URL")


class DownloadError(OSError):
    """No mirror delivered a verified copy of a file."""


class ChecksumError(DownloadError):
    """The bytes received do not hash to the recorded digest."""


def cache_dir() -> Path:
    """Where downloads are kept: $ODYSSEY_DATA, else the platform's user cache directory."""
    configured = os.environ.get("ODYSSEY_DATA")
    if configured:
        return Path(configured).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "odyssey"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "odyssey"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "odyssey"


def file_digest(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """The hex digest of a file's bytes."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_file(destination: Path) -> Iterator[BinaryIO]:
    """A temporary file beside `destination`, flushed to disk and renamed onto it when the block
    ends without error, removed when it raises: `destination` is never half-written."""
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{destination.name}.", suffix=".part", dir=destination.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as sink:
            yield sink
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(temporary, destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _expected_digest(remote: RemoteFile) -> tuple[str, str]:
    if remote.sha256 is not None:
        return "sha256", remote.sha256
    assert remote.md5 is not None
    return "md5", remote.md5


def _download_one(
    url: str, remote: RemoteFile, destination: Path, progress: Progress | None
) -> None:
    """Streams `url` into a temporary file beside `destination` and renames it into place once
    size and digest match; the temporary file is removed on every failure."""
    algorithm, expected = _expected_digest(remote)
    request = urllib.request.Request(url, headers={"User-Agent": "ml-odyssey"})
    with atomic_file(destination) as sink:
        # bandit B310 (file:/ or custom schemes): the URL is one of the catalogue's http(s)
        # mirrors, never user input, and nothing is kept before its SHA-256 digest matches.
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # nosec B310
            announced = response.headers.get("Content-Length")
            if announced is not None and remote.size is not None and int(announced) != remote.size:
                raise ChecksumError(
                    f"{url}: size mismatch: expected {remote.size} bytes, the server "
                    f"announces {announced}"
                )
            total = int(announced) if announced is not None else remote.size
            digest = hashlib.new(algorithm)
            received = 0
            for chunk in iter(lambda: response.read(CHUNK), b""):
                sink.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                if progress is not None:
                    progress(received, total)
                if remote.size is not None and received > remote.size:
                    break  # an endless or oversized body: refused below, not read to its end
        # http.client returns a short body without complaint when the server closes early.
        if announced is not None and received != int(announced):
            raise DownloadError(f"{url}: connection closed after {received} of {announced} bytes")
        if remote.size is not None and received != remote.size:
            raise ChecksumError(
                f"{url}: size mismatch: expected {remote.size} bytes, received {received}"
            )
        actual = digest.hexdigest()
        if actual != expected:
            raise ChecksumError(f"{url}: {algorithm} mismatch: expected {expected}, got {actual}")


def fetch(
    remote: RemoteFile,
    directory: str | os.PathLike[str],
    progress: Progress | None = None,
    alternatives: str = "",
) -> Path:
    """The verified local copy of `remote` in `directory`: kept if already there and its digest
    matches, else downloaded from its mirrors in order (a copy that does not match is replaced).
    Raises DownloadError listing every URL tried and its error, then `alternatives` (what the
    user can do instead)."""
    directory = Path(directory)
    destination = directory / remote.name
    failures: list[str] = []
    if destination.is_file():
        algorithm, expected = _expected_digest(remote)
        actual = file_digest(destination, algorithm)
        if actual == expected:
            return destination
        failures.append(
            f"{destination}: {algorithm} mismatch: expected {expected}, got {actual} (kept until "
            "a verified copy replaces it)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    mismatch = False
    for url in remote.urls:
        try:
            _download_one(url, remote, destination, progress)
            return destination
        except ChecksumError as error:
            mismatch = True
            failures.append(str(error))
        except (OSError, http.client.HTTPException, ValueError) as error:
            failures.append(f"{url}: {error}")
    tried = "\n".join(f"  - {failure}" for failure in failures)
    message = f"could not download {remote.name}; tried:\n{tried}"
    if alternatives:
        message += f"\n{alternatives}"
    raise (ChecksumError if mismatch else DownloadError)(message)
