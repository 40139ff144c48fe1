"""Jinja filters of the paper template (cookiecutter.json's `_extensions`): answers written as TOML
values, and comma-separated answers as lists."""

from __future__ import annotations

from cookiecutter.utils import simple_filter

# Characters a TOML basic string cannot hold as they are: the quote, the backslash, and the
# control characters (tab included, for one rule); each is written as an escape.
_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _toml_string(text: str) -> str:
    """`text` as a TOML basic string, escaped so that any title or name reads back unchanged."""
    characters = []
    for character in text:
        if character in _TOML_ESCAPES:
            characters.append(_TOML_ESCAPES[character])
        elif ord(character) < 0x20 or ord(character) == 0x7F:
            characters.append(f"\\u{ord(character):04X}")
        else:
            characters.append(character)
    return '"' + "".join(characters) + '"'


def _toml(value: object) -> str:
    """A string, number, boolean or list of them as a TOML value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    raise TypeError(f"toml_value: cannot write {type(value).__name__} {value!r} as TOML")


@simple_filter
def toml_value(value: object) -> str:
    """A string, number, boolean or list of them as a TOML value (a string escaped)."""
    return _toml(value)


@simple_filter
def comma_list(text: str) -> list[str]:
    """The items of a comma-separated answer, stripped, empty ones left out."""
    return [item.strip() for item in text.split(",") if item.strip()]
