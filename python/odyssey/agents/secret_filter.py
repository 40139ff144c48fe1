"""What never reaches a model: files that look like secrets, and token-like strings in the rest.

Three rules, applied by `filter_context` to every file an agent would send:

1. By name: ``.env``, ``.env.*`` and ``.envrc``, private keys and certificates (``*.pem``,
   ``*.key``, ``id_rsa*`` ...), credential stores (``.netrc``, ``.pypirc``, ``*.p12``,
   ``*.keystore``, ``credentials*``, ``secrets.*`` ...). Such a file is withheld whole, whatever
   its content. A diff is split at its ``diff --git`` headers and the rule applies to each
   file's section: the sections of such files are withheld, the others kept.
2. By content, with detect-secrets (the plugins and heuristic filters of ``nox -s security``,
   without its ``pragma: allowlist secret`` escape, which the author of a change controls):
   a file in which a plugin that recognises a credential's format (a private key, an AWS or
   GitHub token, ``password = "..."`` ...) fires is withheld whole. Diffs and check output are
   kept (a reviewer must see that a secret was added) with the flagged values replaced; a
   diff's section is scanned without its ``+``/``-`` prefixes, under its file's name, so that
   detect-secrets reads it with the right parser. The entropy plugins flag checksums and
   identifiers as often as keys, so what they flag is replaced in place instead of withholding,
   say, the dataset catalogue with its SHA-256 sums.
3. Token shapes (GitHub, Anthropic, OpenAI, Stripe, Hugging Face, AWS, Slack, GitLab, PEM
   blocks, bearer tokens, JSON's ``"Authorization": "Bearer ..."`` too) are replaced in every
   file that is sent, whatever detect-secrets made of it, and in the agent's own template
   variables (`scrub_value`). In configuration files (``.ini``, ``.cfg``, ``.conf``, ``.toml``,
   ``.properties``, env files) the value of every ``key = value`` whose key names a token, key,
   secret, password or credential is replaced too, quoted or not.
"""

from __future__ import annotations

import fnmatch
import re
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from odyssey.agents.core import ContextFile

__all__ = [
    "REDACTED",
    "SECRET_PATH_PATTERNS",
    "FilterReport",
    "filter_context",
    "is_secret_path",
    "scrub_tokens",
    "scrub_value",
]

REDACTED = "[REDACTED]"

# Matched against the file's name (not its folders), case-insensitively.
SECRET_PATH_PATTERNS = (
    ".env",
    ".env.*",
    "*.env",
    ".envrc",
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
    "credentials*",
    "secrets.*",
    "*secret*.json",
    "*.tfvars",
    "*.tfstate",
    "*.tfstate.*",
    ".dockercfg",
    "kubeconfig",
    ".htpasswd",
)
# `credentials*` and `secrets.*` name documentation and code too (secrets.md, credentials.py):
# those are read, and rules 2 and 3 apply to them.
_NAME_RULE_EXEMPT_SUFFIXES = (".md", ".rst", ".py")
_BROAD_PATTERNS = frozenset({"credentials*", "secrets.*"})
_CONFIG_SUFFIXES = (".ini", ".cfg", ".conf", ".toml", ".properties", ".env", ".envrc")

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
        r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}",
        r"\bhf_[A-Za-z0-9]{30,}",
        # A bearer token wherever it stands: a header, JSON ("Bearer ...") or a curl line.
        r"(?i)(?<=bearer )[A-Za-z0-9._~+/\-]{16,}=*",
    )
)
# key = value (or key: value) in a configuration file, the key naming a credential; the value
# quoted or not, not a reference to another variable (${X}, %(x)s).
_CONFIG_ASSIGNMENT = re.compile(
    r"(?im)^(?P<lead>(?:[ \d]{5} )?[+\- ]?[ \t]*(?:export[ \t]+)?[\w.\-]*"
    r"(?:token|secret|passw(?:or)?d|pwd|[_\-]key|apikey|"
    r"credential|auth(?!or))[\w.\-]*[ \t]*[=:][ \t]*)(?P<quote>[\"']?)"
    r"(?P<value>(?![$%{<]|\d+(?:\.\d+)?(?![^\s\"'#;]))[^\s\"'#;]{6,})(?P=quote)"
)
# A line of a review diff as `odyssey.agents.review.diff.annotate` shows it: "   12 + text".
_ANNOTATED_LINE = re.compile(r"^[ \d]{5} [+\- ] (?P<text>.*)$")
_DIFF_HEADER = re.compile(r"^diff --git (?:\"?a/(?P<old>.+?)\"? )\"?b/(?P<new>.+?)\"?$", re.M)
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
    for pattern in SECRET_PATH_PATTERNS:
        if fnmatch.fnmatchcase(name, pattern):
            if pattern in _BROAD_PATTERNS and name.endswith(_NAME_RULE_EXEMPT_SUFFIXES):
                continue
            return True
    return False


def _is_config(path: str) -> bool:
    name = PurePosixPath(path.replace("\\", "/")).name.lower()
    return name.endswith(_CONFIG_SUFFIXES) or name.startswith(".env")


def scrub_config(text: str) -> tuple[str, int]:
    """`text` (a configuration file, or a diff of one) with the value of every assignment to a
    credential-named key replaced by `REDACTED`, and how many were."""

    def hide(match: re.Match[str]) -> str:
        quote = match["quote"]
        return f"{match['lead']}{quote}{REDACTED}{quote}"

    return _CONFIG_ASSIGNMENT.subn(hide, text)


def scrub_value(value: Any) -> tuple[Any, int]:
    """`value` (a template variable: a string, or lists and dicts of them) with every token
    shape replaced, and how many were; other values are returned as they are."""
    if isinstance(value, str):
        return scrub_tokens(value)
    if isinstance(value, dict):
        total, out = 0, {}
        for key, item in value.items():
            out[key], count = scrub_value(item)
            total += count
        return out, total
    if isinstance(value, (list, tuple)):
        total, items = 0, []
        for item in value:
            scrubbed, count = scrub_value(item)
            items.append(scrubbed)
            total += count
        return type(value)(items), total
    return value, 0


def _sections(text: str) -> list[tuple[str | None, str]]:
    """A diff split at its ``diff --git`` headers: (the file's path, the section's text); text
    before the first header (or a diff without headers) has the path None."""
    starts = [match.start() for match in _DIFF_HEADER.finditer(text)]
    if not starts:
        return [(None, text)]
    pieces = [(None, text[: starts[0]])] if starts[0] else []
    for start, end in zip(starts, [*starts[1:], len(text)], strict=True):
        chunk = text[start:end]
        header = _DIFF_HEADER.match(chunk)
        pieces.append((header["new"] if header else None, chunk))
    return pieces


def _unprefixed(diff: str) -> str:
    """A diff's lines without their ``+``/``-``/space prefix (headers dropped), for scanning."""
    lines = []
    for line in diff.splitlines():
        annotated = _ANNOTATED_LINE.match(line)
        if annotated:
            lines.append(annotated["text"])
        elif line.startswith(("+++", "---", "diff --git", "index ", "@@")):
            lines.append("")
        elif line[:1] in ("+", "-", " "):
            lines.append(line[1:])
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def scrub_tokens(text: str) -> tuple[str, int]:
    """`text` with every token-shaped string replaced by `REDACTED`, and how many were."""
    total = 0
    for pattern in _TOKEN_PATTERNS:
        text, count = pattern.subn(REDACTED, text)
        total += count
    return text, total


_ALLOWLIST_PRAGMA = re.compile(r"pragma:\s*allowlist", re.IGNORECASE)


def _detect_secrets(files: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Per (name, text), detect-secrets' findings as (type, value), scanning a copy under that
    name (detect-secrets picks its parser by the file's suffix). The allowlist pragma is taken
    out of the copy: whoever wrote the file controls it."""
    from detect_secrets.core.scan import scan_file
    from detect_secrets.settings import default_settings

    findings: list[list[tuple[str, str]]] = []
    with default_settings() as settings, tempfile.TemporaryDirectory() as scratch:
        for plugin, limit in _DETECT_SECRETS_LIMITS.items():
            if plugin in settings.plugins:
                settings.plugins[plugin]["limit"] = limit
        for index, (name, text) in enumerate(files):
            copy = Path(scratch) / str(index) / (PurePosixPath(name).name or "file")
            copy.parent.mkdir()
            copy.write_text(_ALLOWLIST_PRAGMA.sub("pragma-ignored", text), encoding="utf-8")
            found = [(secret.type, secret.secret_value or "") for secret in scan_file(str(copy))]
            findings.append(found)
    return findings


def _scan_items(file: ContextFile) -> list[tuple[str, str]]:
    """What detect-secrets scans for `file`: the file itself, or each section of a diff without
    its prefixes under that section's file name."""
    if file.kind != "diff":
        return [(file.path, file.text)]
    return [(path or file.path, _unprefixed(text)) for path, text in _sections(file.text)]


def filter_context(files: list[ContextFile]) -> FilterReport:
    """Applies the three rules of this module to `files`; see its docstring."""
    named: list[ContextFile] = []
    withheld: list[str] = []
    for file in files:
        if is_secret_path(file.path):
            withheld.append(f"{file.path} (its name marks a secret)")
            continue
        if file.kind == "diff":
            sections = _sections(file.text)
            secret = [path for path, _ in sections if path and is_secret_path(path)]
            if secret:
                withheld.extend(
                    f"{file.path}: the section of {path} (its name marks a secret)"
                    for path in secret
                )
                kept_text = "".join(
                    text for path, text in sections if not (path and is_secret_path(path))
                )
                if not kept_text.strip():
                    continue
                file = replace(file, text=kept_text)
        named.append(file)
    items = [_scan_items(file) for file in named]
    flat = [item for group in items for item in group]
    found_flat = _detect_secrets(flat)
    kept: list[ContextFile] = []
    scrubbed: list[str] = []
    position = 0
    for file, group in zip(named, items, strict=True):
        found = [hit for hits in found_flat[position : position + len(group)] for hit in hits]
        position += len(group)
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
        if file.kind == "diff":
            pieces = []
            for path, section in _sections(text):
                if _is_config(path or file.path):
                    section, assignments = scrub_config(section)
                    count += assignments
                pieces.append(section)
            text = "".join(pieces)
        elif _is_config(file.path):
            text, assignments = scrub_config(text)
            count += assignments
        if count:
            scrubbed.append(f"{file.path} ({count} value{'s' if count != 1 else ''} replaced)")
            file = replace(file, text=text)
        kept.append(file)
    return FilterReport(files=kept, withheld=withheld, scrubbed=scrubbed)
