"""What never reaches a model: files that look like secrets, and token-like strings in the rest.

Three rules, applied by `filter_context` to every file an agent would send:

1. By name: ``.env`` and ``.env.*``, private keys and certificates (``*.pem``, ``*.key``,
   ``id_rsa*`` ...), credential stores (``.netrc``, ``.pypirc``, ``*.p12`` ...). Such a file is
   withheld whole, whatever its content.
2. By content, with detect-secrets (the plugins and heuristic filters of ``nox -s security``):
   a file in which a plugin that recognises a credential's format (a private key, an AWS or
   GitHub token, ``password = "..."`` ...) fires is withheld whole. Diffs and check output are
   kept (a reviewer must see that a secret was added) with the flagged values replaced.
   The entropy plugins flag checksums and identifiers as often as keys, so what they flag is
   replaced in place instead of withholding, say, the dataset catalogue with its SHA-256 sums.
3. Token shapes (GitHub, Anthropic, OpenAI, AWS, Slack, GitLab, PEM blocks, bearer headers) are
   replaced in every file that is sent, whatever detect-secrets made of it.
"""

from __future__ import annotations

import fnmatch
import re
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from odyssey.agents.core import ContextFile

__all__ = ["REDACTED", "SECRET_PATH_PATTERNS", "FilterReport", "filter_context", "scrub_tokens"]

REDACTED = "[REDACTED]"

# Matched against the file's name (not its folders), case-insensitively.
SECRET_PATH_PATTERNS = (
    ".env",
    ".env.*",
    "*.env",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "*.asc",
    "*.gpg",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".netrc",
    ".pypirc",
    ".npmrc",
    ".git-credentials",
    "credentials",
    "credentials.json",
    "*secret*.json",
    "*.tfvars",
)

# The detect-secrets types that only measure entropy: their hits are scrubbed, not withheld.
_ENTROPY_TYPES = frozenset({"Base64 High Entropy String", "Hex High Entropy String"})

_TOKEN_PATTERNS = tuple(
    re.compile(pattern)
    for pattern in (
        r"(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
        r"\bgh[opusr]_[A-Za-z0-9]{20,}",
        r"\bgithub_pat_[A-Za-z0-9_]{20,}",
        r"\bsk-ant-[A-Za-z0-9_\-]{20,}",
        r"\bsk-(?:proj-)?[A-Za-z0-9_\-]{20,}",
        r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
        r"\bxox[abprs]-[A-Za-z0-9\-]{10,}",
        r"\bglpat-[A-Za-z0-9_\-]{20,}",
        r"\bnpm_[A-Za-z0-9]{36}\b",
        r"\bAIza[0-9A-Za-z_\-]{35}\b",
        r"(?i)(?<=authorization: bearer )[A-Za-z0-9._\-]{16,}",
    )
)
_DETECT_SECRETS_LIMITS = {"Base64HighEntropyString": 4.5, "HexHighEntropyString": 3.0}


@dataclass(frozen=True)
class FilterReport:
    """The files that may be sent, and what the filter withheld or scrubbed (paths and reasons)."""

    files: list[ContextFile]
    withheld: list[str]
    scrubbed: list[str]


def is_secret_path(path: str) -> bool:
    """Whether the file's name alone marks it as a secret (`SECRET_PATH_PATTERNS`)."""
    name = PurePosixPath(path.replace("\\", "/")).name.lower()
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in SECRET_PATH_PATTERNS)


def scrub_tokens(text: str) -> tuple[str, int]:
    """`text` with every token-shaped string replaced by `REDACTED`, and how many were."""
    total = 0
    for pattern in _TOKEN_PATTERNS:
        text, count = pattern.subn(REDACTED, text)
        total += count
    return text, total


def _detect_secrets(files: list[ContextFile]) -> list[list[tuple[str, str]]]:
    """Per file, detect-secrets' findings as (type, value), scanning a copy under its own name
    (detect-secrets picks its parser by the file's suffix)."""
    from detect_secrets.core.scan import scan_file
    from detect_secrets.settings import default_settings

    findings: list[list[tuple[str, str]]] = []
    with default_settings() as settings, tempfile.TemporaryDirectory() as scratch:
        for plugin, limit in _DETECT_SECRETS_LIMITS.items():
            if plugin in settings.plugins:
                settings.plugins[plugin]["limit"] = limit
        for index, file in enumerate(files):
            copy = Path(scratch) / str(index) / (PurePosixPath(file.path).name or "file")
            copy.parent.mkdir()
            copy.write_text(file.text, encoding="utf-8")
            found = [(secret.type, secret.secret_value or "") for secret in scan_file(str(copy))]
            findings.append(found)
    return findings


def filter_context(files: list[ContextFile]) -> FilterReport:
    """Applies the three rules of this module to `files`; see its docstring."""
    named = [file for file in files if not is_secret_path(file.path)]
    withheld = [f"{file.path} (its name marks a secret)" for file in files if file not in named]
    kept: list[ContextFile] = []
    scrubbed: list[str] = []
    for file, found in zip(named, _detect_secrets(named), strict=True):
        formats = sorted({kind for kind, _ in found if kind not in _ENTROPY_TYPES})
        if formats and file.kind == "file":
            withheld.append(f"{file.path} (detect-secrets: {', '.join(formats)})")
            continue
        text = file.text
        count = 0
        # Longest first, so that a value containing a shorter one is replaced whole.
        for value in sorted(
            {value for _, value in found if len(value) >= 4}, key=len, reverse=True
        ):
            count += text.count(value)
            text = text.replace(value, REDACTED)
        text, tokens = scrub_tokens(text)
        count += tokens
        if count:
            scrubbed.append(f"{file.path} ({count} value{'s' if count != 1 else ''} replaced)")
            file = replace(file, text=text)
        kept.append(file)
    return FilterReport(files=kept, withheld=withheld, scrubbed=scrubbed)
