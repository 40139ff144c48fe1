"""Fixture diffs for the review agent's tests: new files and edits as git prints them, and a
tree (path -> text) standing for the repository after the change."""

from __future__ import annotations

import difflib
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["DictTree", "changed", "diff_of", "make_repo"]


class DictTree:
    """kernel_rules.Tree over a dict of path -> text."""

    def __init__(self, files: Mapping[str, str]) -> None:
        self.files = dict(files)

    def read(self, path: str) -> str | None:
        return self.files.get(path)

    def paths(self) -> Sequence[str]:
        return sorted(self.files)


def changed(path: str, before: str | None, after: str | None) -> str:
    """The git diff of one file from `before` to `after` (None: absent on that side)."""
    old = (before or "").splitlines(keepends=True)
    new = (after or "").splitlines(keepends=True)
    header = [f"diff --git a/{path} b/{path}\n"]
    if before is None:
        header.append("new file mode 100644\n")
    elif after is None:
        header.append("deleted file mode 100644\n")
    header.append("index 0000000..1111111\n")
    body = difflib.unified_diff(
        old,
        new,
        fromfile="/dev/null" if before is None else f"a/{path}",
        tofile="/dev/null" if after is None else f"b/{path}",
        n=3,
    )
    lines = [line if line.endswith("\n") else line + "\n" for line in body]
    return "".join(header + lines)


def diff_of(changes: Mapping[str, tuple[str | None, str | None]]) -> str:
    """The diff of several files, path -> (before, after)."""
    return "".join(changed(path, before, after) for path, (before, after) in changes.items())


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.invalid", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def make_repo(
    root: Path, before: Mapping[str, str], after: Mapping[str, str | None]
) -> tuple[str, str]:
    """A git repository at `root`: `main` holding `before`, then branch `change` (checked out)
    writing `after` (None deletes). Returns (base SHA, head SHA)."""
    root.mkdir(parents=True, exist_ok=True)
    _git(root, "init", "-q", "-b", "main")
    for path, text in before.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "--allow-empty", "-m", "base")
    base = _git(root, "rev-parse", "HEAD")
    _git(root, "checkout", "-q", "-b", "change")
    for path, text in after.items():
        if text is None:
            (root / path).unlink()
        else:
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text)
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "change")
    return base, _git(root, "rev-parse", "HEAD")
