"""The JSON Schema of ``paper.toml`` (``schemas/paper.schema.json``, printed by ``odyssey validate
--schema``) and the checks made with it: every mistake found at once, each as a one-line message
naming the key, the TOML line it is on and what was expected.

The schema states the format (keys, types, ranges, choices that never change); ``odyssey.papers``
adds what a schema cannot know (the datasets, optimizers and schedulers that exist, the classes a
paper's model.py and train.py define, a row's overrides applied to its variant).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

__all__ = [
    "SCHEMA_PATH",
    "TYPE_NAMES",
    "Problem",
    "check_value",
    "line_of",
    "locate",
    "paper_schema",
    "problems",
    "where",
]

SCHEMA_PATH = Path(__file__).parent / "schemas" / "paper.schema.json"

TYPE_NAMES = {
    "string": "a string",
    "integer": "an int",
    "number": "a number",
    "boolean": "a boolean",
    "array": "a list",
    "object": "a table",
}


@functools.cache
def paper_schema() -> dict[str, Any]:
    """The schema of paper.toml (a JSON Schema, draft 2020-12)."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _strict_integer(checker: Any, value: Any) -> bool:
    # TOML keeps 2 and 2.0 apart, and so does the paper: epochs = 2.0 is a mistake, not 2.
    return isinstance(value, int) and not isinstance(value, bool)


_Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _strict_integer),
)


@functools.cache
def _validator() -> Any:
    return _Validator(paper_schema())


@dataclass(frozen=True)
class Problem:
    """One mistake: the key's path in the document, its line (None when not found) and what is
    wrong, worded as `message` (which starts with the dotted key)."""

    path: tuple[str | int, ...]
    line: int | None
    message: str

    def format(self, file: str | Path) -> str:
        """`file:line: message`, the way compilers and linters name a place."""
        return f"{file}:{self.line}: {self.message}" if self.line else f"{file}: {self.message}"


def where(path: Sequence[str | int]) -> str:
    """The dotted key of a document path: ("variants", 1, "train", "lr") -> variants[1].train.lr."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _type_name(schema: Mapping[str, Any]) -> str:
    if "enum" in schema:
        return "one of " + ", ".join(map(str, schema["enum"]))
    return TYPE_NAMES.get(schema.get("type", ""), "a value")


def _message(error: jsonschema.ValidationError, key: str) -> list[tuple[tuple[str, ...], str]]:
    """`error` in the words of the paper's format: what is wrong with `key`, one line each, with
    the path below `key` the line belongs to (an unknown key's own)."""
    value, expected, kind = error.instance, error.validator_value, error.validator
    prefix = f"{key}: " if key else ""
    if kind == "type":
        what = f"{key or 'paper.toml'} must be {TYPE_NAMES[expected]}"
        return [((), f"{what}, got {value!r} ({type(value).__name__})")]
    if kind == "required":  # one error per missing key
        match = re.match(r"'(.+)' is a required property", error.message)
        name = match.group(1) if match else ", ".join(n for n in expected if n not in value)
        if not key and name == "variants":
            return [((), "no [[variants]]; a paper needs at least one")]
        if not key and name == "targets":
            return [((), "no [[targets]]; a paper claims at least one result")]
        expected_type = _type_name(error.schema.get("properties", {}).get(name, {}))
        return [((), f"{prefix}missing key {name!r} ({expected_type})")]
    if kind == "additionalProperties":
        known = list(error.schema.get("properties", {}))
        return [
            ((name,), f"{prefix}unknown key {name!r}; valid keys: {', '.join(known)}")
            for name in value
            if name not in known
        ]
    if kind == "minimum":
        return [((), f"{key} must be >= {expected}, got {value}")]
    if kind == "exclusiveMinimum":
        return [((), f"{key} must be > {expected}, got {value}")]
    if kind == "maximum":
        return [((), f"{key} must be <= {expected}, got {value}")]
    if kind == "enum":
        return [((), f"{prefix}unknown {value!r}; choices: {', '.join(map(str, expected))}")]
    if kind == "minItems":
        if key in ("variants", "targets"):
            return [((), f"no [[{key}]]; a paper needs at least one")]
        return [((), f"{key} must hold at least {expected} item(s), got {len(value)}")]
    if kind == "minLength":
        return [((), f"{key} must not be empty")]
    if kind == "pattern":
        return [((), f"{key}: {value!r} must be letters, digits, '.', '_' or '-' ({expected})")]
    if kind == "anyOf" and ".callbacks[" in f".{key}":
        return [
            (
                (),
                f"{key} must be a callback's name or a table "
                f'{{ name = "...", <argument> = ... }}, got {value!r}',
            )
        ]
    return [((), f"{prefix}{error.message}")]


def problems(data: Mapping[str, Any], text: str = "") -> list[Problem]:
    """Every schema violation of the parsed paper.toml `data`, in the order of the file (`text`,
    its source, gives the lines)."""
    lines = _key_lines(text)
    found = []
    for error in _validator().iter_errors(data):
        path = tuple(error.absolute_path)
        for below, message in _message(error, where(path)):
            found.append(Problem((*path, *below), _line_of(lines, (*path, *below)), message))
    return sorted(found, key=lambda p: (p.line or 0, p.message))


def check_value(value: Any, schema: Mapping[str, Any], key: str) -> list[str]:
    """The problems of one `value` against a property's `schema` (a `--set` or a flag's value),
    worded as paper.toml's are, with `key` naming the value."""
    found = []
    for error in _Validator(schema).iter_errors(value):
        inner = where(("", *error.absolute_path))  # ".name" or "[i]" parts below the value
        found += [message for _, message in _message(error, key + inner)]
    return found


# ---------------------------------------------------------------------------------------------
# Lines: TOML parsers keep none, so the source is read for the lines keys and tables start on.

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(
    r"^\s*((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*="
)


def _dotted(key: str) -> tuple[str, ...]:
    return tuple(
        part.strip().strip("\"'")
        for part in re.split(r"\.(?=(?:[^\"']*[\"'][^\"']*[\"'])*[^\"']*$)", key)
    )


def _open_brackets(value: str) -> int:
    """How many more [ and { than ] and } `value` holds outside strings and comments."""
    depth, quote = 0, ""
    for char in value:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "#":
            break
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
    return depth


def _string_left_open(value: str) -> str:
    """The delimiter of a multi-line string that `value` opens and does not close, else ""."""
    starts = [(value.find(quote), quote) for quote in ('"""', "'''") if quote in value]
    if not starts:
        return ""
    quote = min(starts)[1]
    return quote if value.count(quote) % 2 else ""


def _key_lines(text: str) -> dict[tuple[str | int, ...], int]:
    """The line (from 1) of every table header and key of a TOML source, by document path
    (array-of-tables counted: the second [[variants]] is ("variants", 1))."""
    lines: dict[tuple[str | int, ...], int] = {}
    counts: dict[tuple[str | int, ...], int] = {}
    table: tuple[str | int, ...] = ()
    depth, string = 0, ""
    for number, line in enumerate(text.splitlines(), start=1):
        if string:  # inside a multi-line string
            string = "" if line.count(string) % 2 else string
            continue
        if depth > 0:  # inside a value that spans lines
            depth += _open_brackets(line)
            continue
        header = _HEADER.match(line)
        if header and not _KEY.match(line):
            names = _dotted(header.group(2))
            if header.group(1) == "[[":  # one more element of the array at this path
                array = (*_resolved(names[:-1], counts), names[-1])
                counts[array] = counts.get(array, -1) + 1
                lines.setdefault(array, number)
                table = (*array, counts[array])
            else:
                table = _resolved(names, counts)
            lines.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            lines.setdefault((*table, *_dotted(key.group(1))), number)
            string = _string_left_open(line[key.end() :])
            depth = 0 if string else _open_brackets(line[key.end() :])
    return lines


def _resolved(names: Sequence[str], counts: Mapping[tuple[str | int, ...], int]) -> tuple:
    """A header's path with the current element of each array of tables it passes through:
    [variants.train] after the second [[variants]] is ("variants", 1, "train")."""
    path: tuple[str | int, ...] = ()
    for name in names:
        path = (*path, name)
        if path in counts:
            path = (*path, counts[path])
    return path


def line_of(text: str, path: Sequence[str | int]) -> int | None:
    """The line of document `path` in the TOML source `text` (or of what encloses it)."""
    return _line_of(_key_lines(text), path)


def _line_of(lines: Mapping[tuple[str | int, ...], int], path: Sequence[str | int]) -> int | None:
    """The line of `path`, or of its nearest enclosing key or table that is in the source."""
    for end in range(len(path), 0, -1):
        if tuple(path[:end]) in lines:
            return lines[tuple(path[:end])]
    return None


_WHERE = re.compile(r"^([A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[\d+\])*)")


def locate(message: str, text: str) -> int | None:
    """The line of the key a message starts with (`train.optimizer: unknown 'SDG'` -> the line of
    train.optimizer), for the checks made after the schema's."""
    match = _WHERE.match(message)
    if not match:
        return None
    path: list[str | int] = []
    for part in re.findall(r"[A-Za-z_]\w*|\[\d+\]", match.group(1)):
        path.append(int(part[1:-1]) if part.startswith("[") else part)
    return line_of(text, path)
