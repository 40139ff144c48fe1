"""Atomic file writes: a reader (or a crash) sees the old file or the new one, never a mixture.

The data goes to a temporary file in the target's directory (so the final rename stays on one
file system), is flushed and fsynced, then `os.replace` puts it in place and the directory is
fsynced so the rename itself survives a power cut. On an exception (KeyboardInterrupt included)
the temporary is removed and the old file is untouched.

A process killed with SIGKILL mid-write cannot clean up: its temporary stays behind, named
``.<target name>.<pid>.<8 hex digits>.tmp`` (hidden, and never matching ``*.safetensors``).
`remove_stale_temporaries` deletes such leftovers once their writer is gone.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

_MODES = ("wb", "w", "wt")
_CREATE = (
    os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
)


def _temporary_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def _temporary_pattern(target: Path) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(target.name)}\.(\d+)\.[0-9a-f]{{8}}\.tmp")


def _target(path: str | os.PathLike[str], who: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{who}: path must be a str or os.PathLike, got {type(path).__name__}")
    target = Path(path)
    if target.name in ("", ".", ".."):
        raise ValueError(f"{who}: path must name a file, got {str(path)!r}")
    # Writing through a symlink replaces the file it points to, not the link.
    return target.resolve() if target.is_symlink() else target


def fsync_directory(directory: Path) -> None:
    """Makes a rename inside `directory` durable (a no-op where directories cannot be opened)."""
    if os.name == "nt":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as error:  # some file systems do not fsync directories
        if error.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str], mode: str = "wb", *, encoding: str = "utf-8"
) -> Iterator[IO[Any]]:
    """Yields a file whose content replaces `path` at once when the block ends without error."""
    if mode not in _MODES:
        raise ValueError(f"atomic_write: mode must be one of {', '.join(_MODES)}; got {mode!r}")
    target = _target(path, "atomic_write")
    directory = target.parent
    while True:
        temporary = _temporary_name(target)
        try:
            # 0o666 then the umask: the permissions a plain open() would give the new file.
            fd = os.open(temporary, _CREATE, 0o666)
            break
        except FileExistsError:
            continue
        except FileNotFoundError:
            raise FileNotFoundError(
                errno.ENOENT,
                f"atomic_write: cannot write {target}: no such directory",
                str(directory),
            ) from None
    try:
        if hasattr(os, "fchmod"):
            with contextlib.suppress(FileNotFoundError):  # keep an existing file's permissions
                os.fchmod(fd, stat.S_IMODE(os.stat(target).st_mode))
        text = "b" not in mode
        file = open(fd, mode, encoding=encoding if text else None)  # noqa: SIM115 (owns fd now)
    except BaseException:
        os.close(fd)
        os.unlink(temporary)
        raise
    try:
        with file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    fsync_directory(directory)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes | bytearray | memoryview) -> None:
    """Replaces the file at `path` by `data` atomically."""
    with atomic_write(path, "wb") as file:
        file.write(data)


def write_text_atomic(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    """Replaces the file at `path` by `text` atomically."""
    if not isinstance(text, str):
        raise TypeError(f"write_text_atomic: text must be a str, got {type(text).__name__}")
    with atomic_write(path, "w", encoding=encoding) as file:
        file.write(text)


def _alive(pid: int) -> bool:
    if pid == os.getpid() or os.name == "nt":  # on Windows os.kill would end the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:  # e.g. an out-of-range pid
        return False
    return True


def remove_stale_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Deletes the temporaries that killed writers of `path` left behind; returns them.

    A temporary is stale when no process with the pid in its name is running on this machine.
    One being written (by this process or another live one) is never touched.
    """
    target = _target(path, "remove_stale_temporaries")
    pattern = _temporary_pattern(target)
    try:
        names = os.listdir(target.parent)
    except FileNotFoundError:
        return []
    removed = []
    for name in names:
        match = pattern.fullmatch(name)
        if match is None or _alive(int(match.group(1))):
            continue
        leftover = target.parent / name
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
            removed.append(leftover)
    return removed
