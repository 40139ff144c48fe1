"""The local repository through git: the diff of a change, and the tree at a revision.

Files are read from the commit (``git show REV:PATH``), not from the working tree, so that the
line numbers the checks and the model see are those of the diff, whatever is uncommitted.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["GitError", "GitTree", "git", "local_diff", "merge_base", "resolve"]


class GitError(RuntimeError):
    """A git command failed; the message is git's own first line of error."""


def git(root: Path, *args: str) -> str:
    """The standard output of ``git ARGS`` run in `root`; GitError with git's message otherwise."""
    # git from PATH with a list of arguments (no shell), as every developer's own git runs.
    # Bytes, decoded here: text=True would turn a lone \r inside a diffed line into a line end.
    try:
        done = subprocess.run(  # nosec B603 B607
            ["git", *args], cwd=root, capture_output=True, check=False, timeout=120
        )
    except FileNotFoundError as error:
        raise GitError("git is not installed") from error
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace")
        message = (stderr.strip().splitlines() or [f"exit status {done.returncode}"])[0]
        raise GitError(f"git {args[0]}: {message}")
    return done.stdout.decode("utf-8", "replace")


def resolve(root: Path, revision: str) -> str:
    """The commit SHA of `revision`; GitError when it names no commit here."""
    return git(root, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}").strip()


def merge_base(root: Path, base: str, head: str) -> str:
    """The commit ``git diff BASE...HEAD`` compares HEAD with."""
    return git(root, "merge-base", base, head).strip()


def local_diff(root: Path, base: str, head: str = "HEAD") -> str:
    """``git diff BASE...HEAD``: what HEAD changed since it left BASE, renames found."""
    # The prefixes are fixed: a user's diff.noprefix or diff.mnemonicPrefix would give headers
    # parse_diff cannot read, and the review would see nothing to review.
    return git(
        root,
        "diff",
        "--no-color",
        "--no-ext-diff",
        "--src-prefix=a/",
        "--dst-prefix=b/",
        "-M",
        f"{base}...{head}",
        "--",
    )


@dataclass
class GitTree:
    """The files of commit `revision` of the repository at `root` (kernel_rules.Tree)."""

    root: Path
    revision: str
    _cache: dict[str, str | None] = field(default_factory=dict, repr=False)
    _paths: list[str] | None = field(default=None, repr=False)
    _path_set: frozenset[str] = field(default=frozenset(), repr=False)

    def paths(self) -> list[str]:
        """Every file of the commit, repository-relative."""
        if self._paths is None:
            listing = git(self.root, "ls-tree", "-r", "-z", "--name-only", self.revision)
            self._paths = [path for path in listing.split("\0") if path]
            self._path_set = frozenset(self._paths)
        return self._paths

    def read(self, path: str) -> str | None:
        """The file's text at the commit (undecodable bytes replaced), None when it has none."""
        if path not in self._cache:
            self.paths()
            if path not in self._path_set:
                self._cache[path] = None
            else:
                done = subprocess.run(  # nosec B603 B607
                    ["git", "show", f"{self.revision}:{path}"],
                    cwd=self.root,
                    capture_output=True,
                    check=False,
                    timeout=60,
                )
                self._cache[path] = (
                    done.stdout.decode("utf-8", "replace") if done.returncode == 0 else None
                )
        return self._cache[path]
