"""A unified diff (``git diff``, or GitHub's ``application/vnd.github.diff``) split by file, with
the new-side number of every added line: the only lines a review comment may land on.

GitHub places an inline comment by (path, line, side); ``side: RIGHT`` with the line number in the
file after the change. A line the change added is the one place a finding is about this pull
request, so everything else (context lines, lines of untouched files) is filtered out later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["DiffLine", "FileDiff", "annotate", "parse_diff"]

_HEADER = re.compile(r"^diff --git (?P<old>\"?a/.*?\"?) (?P<new>\"?b/.*\"?)$")
_HUNK = re.compile(
    r"^@@ -(?P<old>\d+)(?:,(?P<old_count>\d+))? \+(?P<new>\d+)(?:,(?P<new_count>\d+))? @@"
)


@dataclass(frozen=True)
class DiffLine:
    """One line of a hunk: ``kind`` is ``+`` (added), ``-`` (removed) or `` `` (context); the
    line numbers are None on the side the line is not on."""

    kind: str
    old: int | None
    new: int | None
    text: str


@dataclass
class FileDiff:
    """One file's part of a diff. ``path`` is the new path (the old one for a deletion)."""

    path: str
    old_path: str | None
    status: str  # "added", "modified", "deleted", "renamed"
    binary: bool = False
    lines: list[DiffLine] = field(default_factory=list)
    text: str = ""  # this file's part of the diff, verbatim

    @property
    def added(self) -> set[int]:
        """The new-side numbers of the lines this change added."""
        return {line.new for line in self.lines if line.kind == "+" and line.new is not None}


def _unquote(path: str) -> str:
    """A path as git prints it: C-quoted when it holds unusual characters, with its a/ or b/."""
    if path.startswith('"') and path.endswith('"'):
        path = path[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
        path = path.encode("latin-1").decode("utf-8", "replace")
    return path[2:] if path[:2] in ("a/", "b/") else path


def _side_path(value: str) -> str | None:
    value = value.split("\t", 1)[0].rstrip()
    return None if value == "/dev/null" else _unquote(value)


def _lines(text: str) -> list[str]:
    """The diff's lines with their ends. Only ``\n`` ends a line of a diff: str.splitlines would
    also split on a form feed, a lone ``\r`` or U+2028 inside a file's line (the research
    assistant's page breaks are form feeds), and the second half would be no hunk line."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def parse_diff(text: str) -> list[FileDiff]:
    """The files of a unified diff in git's format, in order; ValueError naming the line when a
    hunk is malformed (counts that do not match its header)."""
    files: list[FileDiff] = []
    current: FileDiff | None = None
    chunk: list[str] = []
    old_left = new_left = 0
    old_no = new_no = 0

    def finish() -> None:
        if current is not None:
            if old_left or new_left:
                raise ValueError(f"parse_diff: {current.path}: the last hunk is cut short")
            current.text = "".join(chunk)

    for number, raw in enumerate(_lines(text), 1):
        line = raw.removesuffix("\n").removesuffix("\r")
        header = _HEADER.match(line)
        if header and not (old_left or new_left):
            finish()
            chunk = []
            old_path, new_path = _unquote(header["old"]), _unquote(header["new"])
            current = FileDiff(path=new_path, old_path=old_path, status="modified")
            files.append(current)
            chunk.append(raw)
            continue
        if current is None:
            continue  # a preamble (an e-mail header, a commit message) before the first file
        chunk.append(raw)
        if old_left or new_left:
            if line.startswith("\\"):
                continue  # "\ No newline at end of file"
            kind, body = (line[:1] or " "), line[1:]
            if kind not in "+- ":
                raise ValueError(
                    f"parse_diff: {current.path}: line {number} of the diff, {line!r}, is not "
                    "a hunk line (the hunk header counts more lines)"
                )
            if kind == "+":
                current.lines.append(DiffLine("+", None, new_no, body))
                new_no, new_left = new_no + 1, new_left - 1
            elif kind == "-":
                current.lines.append(DiffLine("-", old_no, None, body))
                old_no, old_left = old_no + 1, old_left - 1
            else:
                current.lines.append(DiffLine(" ", old_no, new_no, body))
                old_no, new_no = old_no + 1, new_no + 1
                old_left, new_left = old_left - 1, new_left - 1
            if old_left < 0 or new_left < 0:
                raise ValueError(
                    f"parse_diff: {current.path}: line {number} of the diff: more lines than "
                    "the hunk header says"
                )
            continue
        hunk = _HUNK.match(line)
        if hunk:
            old_no, new_no = int(hunk["old"]), int(hunk["new"])
            old_left = int(hunk["old_count"]) if hunk["old_count"] is not None else 1
            new_left = int(hunk["new_count"]) if hunk["new_count"] is not None else 1
        elif line.startswith("new file mode"):
            current.status = "added"
        elif line.startswith("deleted file mode"):
            current.status = "deleted"
        elif line.startswith("rename from "):
            current.status = "renamed"
        elif line.startswith("Binary files ") or line == "GIT binary patch":
            current.binary = True
        elif line.startswith("--- "):
            current.old_path = _side_path(line[4:])
        elif line.startswith("+++ "):
            new_path = _side_path(line[4:])
            if new_path is None:
                current.status = "deleted"
            else:
                current.path = new_path
    finish()
    for diff in files:
        if diff.status == "deleted" and diff.old_path:
            diff.path = diff.old_path
    return files


def annotate(diff: FileDiff) -> str:
    """The file's hunks with the new-side line number in front of every line (blank for a removed
    line), so a reader (the model) names lines by number without counting."""
    out = [f"{diff.path} ({diff.status}{', binary' if diff.binary else ''})"]
    previous_new: int | None = None
    for line in diff.lines:
        if line.new is not None and previous_new is not None and line.new != previous_new + 1:
            out.append("   ...")
        number = f"{line.new:>5}" if line.new is not None else "     "
        out.append(f"{number} {line.kind} {line.text}")
        if line.new is not None:
            previous_new = line.new
    return "\n".join(out) + "\n"
