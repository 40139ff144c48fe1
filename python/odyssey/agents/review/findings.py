"""Review findings: what the model (or a deterministic check) says about one line, kept only when
the line is one the change added, merged when two say the same thing, and printed one per line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

__all__ = [
    "SEVERITIES",
    "Finding",
    "Kept",
    "findings_from_output",
    "format_line",
    "keep_in_diff",
    "summary_counts",
]

# Most serious first: the order findings are listed in and the order `merge` keeps the worst of.
SEVERITIES = ("error", "warning", "suggestion")


@dataclass(frozen=True)
class Finding:
    """One problem on one line of the new side of the diff."""

    file: str
    line: int
    severity: str
    rule: str
    message: str
    suggested_change: str = ""

    def to_json(self) -> dict[str, Any]:
        """The finding as the output schema writes it."""
        return {
            "file": self.file,
            "line": self.line,
            "severity": self.severity,
            "rule": self.rule,
            "message": self.message,
            "suggested_change": self.suggested_change,
        }


@dataclass(frozen=True)
class Kept:
    """`keep_in_diff`'s result: the findings on added lines, merged, and how many were dropped."""

    findings: list[Finding]
    outside_diff: int
    merged: int


def _path(file: str) -> str:
    """A path as the diff names it: without ``./``, or the ``b/`` of git's new side."""
    file = file.strip().removeprefix("./")
    return file[2:] if file.startswith("b/") else file


def findings_from_output(output: Mapping[str, Any]) -> list[Finding]:
    """The findings of an answer already validated against output.schema.json (paths written
    ``./x`` or ``b/x`` read as ``x``)."""
    return [
        Finding(
            file=_path(str(item["file"])),
            line=int(item["line"]),
            severity=str(item["severity"]),
            rule=str(item["rule"]),
            message=str(item["message"]).strip(),
            suggested_change=str(item.get("suggested_change", "") or ""),
        )
        for item in output.get("findings", [])
    ]


def _merge(first: Finding, second: Finding) -> Finding:
    """Two findings on the same file, line and rule as one: the worse severity, both messages
    (unless one repeats the other), the first suggested change that is not empty."""
    severity = min(first.severity, second.severity, key=_rank)
    if second.message in first.message:
        message = first.message
    elif first.message in second.message:
        message = second.message
    else:
        message = f"{first.message}\n\n{second.message}"
    return replace(
        first,
        severity=severity,
        message=message,
        suggested_change=first.suggested_change or second.suggested_change,
    )


def _rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def keep_in_diff(findings: Iterable[Finding], added: Mapping[str, set[int]]) -> Kept:
    """The findings whose (file, line) is a line the change added (`added`: path -> new-side line
    numbers), duplicates (same file, line and rule) merged, sorted by file, line and severity."""
    merged: dict[tuple[str, int, str], Finding] = {}
    outside = duplicates = 0
    for finding in findings:
        if finding.line not in added.get(finding.file, ()):
            outside += 1
            continue
        key = (finding.file, finding.line, finding.rule)
        if key in merged:
            merged[key] = _merge(merged[key], finding)
            duplicates += 1
        else:
            merged[key] = finding
    ordered = sorted(merged.values(), key=lambda f: (f.file, f.line, _rank(f.severity), f.rule))
    return Kept(findings=ordered, outside_diff=outside, merged=duplicates)


def format_line(finding: Finding) -> str:
    """``file:line: severity rule: message`` on one line (the message's line breaks folded)."""
    message = " ".join(finding.message.split())
    return f"{finding.file}:{finding.line}: {finding.severity} {finding.rule}: {message}"


def summary_counts(findings: Sequence[Finding]) -> str:
    """``2 errors, 1 warning`` (or ``no findings``)."""
    parts = []
    for severity in SEVERITIES:
        count = sum(1 for finding in findings if finding.severity == severity)
        if count:
            parts.append(f"{count} {severity}{'' if count == 1 else 's'}")
    return ", ".join(parts) or "no findings"
