"""Command lines in the documentation that the argument parser no longer accepts.

The parser is read in a fresh interpreter (``module:factory``, e.g. ``odyssey.cli:build_parser``):
every subcommand, nested ones included, with its options. The documentation is searched for
command lines: in Markdown, the lines of shell and text code blocks and inline code spans; in
Python, the package's module docstrings (the usage summaries of the CLI modules). A command line
starts the line, the span, or follows ``&&``, ``;``, ``|``, ``$`` or ``python -m``. Its words
are walked down the subcommands; a word that is no subcommand where one is expected, and an
option the (sub)command does not take, are reported.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CommandDrift", "command_drift", "parser_tree"]

_DUMP = r"""
import argparse, importlib, json, sys
module, _, factory = sys.argv[1].partition(":")
parser = getattr(importlib.import_module(module), factory)()
def walk(parser):
    options, commands = [], {}
    for action in parser._actions:
        options += list(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            commands.update({name: walk(child) for name, child in action.choices.items()})
    return {"options": sorted(set(options)), "commands": commands}
print(json.dumps(walk(parser)))
"""
_SHELL_TAGS = frozenset({"", "sh", "bash", "shell", "console", "text", "zsh", "none"})
_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([^\n`]*)$")
_INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
_SEPARATORS = re.compile(r"&&|\|\||;|\|")
_WORD = re.compile(r"^[a-z][a-z0-9-]*$")
_OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")


@dataclass(frozen=True)
class CommandDrift:
    """A documented command line the parser refuses: file, line, the command and the reason."""

    path: str
    line: int
    command: str
    message: str


def parser_tree(spec: str, python_path: list[Path] = ()) -> dict[str, Any]:
    """The parser `spec` (``module:factory``) as {"options": [...], "commands": {name: tree}}."""
    from odyssey.agents.environment import without_credentials

    environment = without_credentials()  # the parser is the repository's code
    paths = [str(p) for p in python_path] + (
        [environment["PYTHONPATH"]] if environment.get("PYTHONPATH") else []
    )
    if paths:
        environment["PYTHONPATH"] = os.pathsep.join(paths)
    # B603: this interpreter, our script, no shell
    completed = subprocess.run(  # nosec B603
        [sys.executable, "-c", _DUMP, spec],
        capture_output=True,
        text=True,
        env=environment,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    if completed.returncode != 0:
        last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"cannot read the parser {spec}: {last}")
    return json.loads(completed.stdout)


def _command_lines(text: str, markdown: bool) -> list[tuple[int, str]]:
    """(line number, text) of each place a command may be written."""
    found: list[tuple[int, str]] = []
    fence: str | None = None
    shell = False
    for number, line in enumerate(text.splitlines(), 1):
        if markdown:
            opening = _FENCE.match(line)
            if opening and fence is None:
                fence = opening.group(1)
                shell = (opening.group(2).split() or [""])[0].lower() in _SHELL_TAGS
                continue
            if opening and fence is not None and line.strip().startswith(fence[0] * len(fence)):
                fence = None
                continue
            if fence is not None:
                if shell:
                    found.append((number, line))
                continue
            found += [(number, span) for span in _INLINE.findall(line)]
        else:
            found.append((number, line))
    return found


def _commands(text: str, program: str) -> list[str]:
    commands = []
    for segment in _SEPARATORS.split(text.split(" #")[0]):
        words = segment.split()
        while words and (words[0] in ("$", ">", "sudo") or re.match(r"^\w+=\S*$", words[0])):
            words.pop(0)
        if len(words) >= 3 and words[0].startswith("python") and words[1] == "-m":
            words = words[2:]
        if words and words[0] == program:
            commands.append(" ".join(words))
    return commands


def _check(command: str, tree: dict[str, Any], program: str) -> str | None:
    words = command.split()[1:]
    node, path = tree, [program]
    expecting_command = bool(node["commands"])
    for word in words:
        if word.startswith("-"):
            break
        if expecting_command and word in node["commands"]:
            node = node["commands"][word]
            path.append(word)
            expecting_command = bool(node["commands"])
            continue
        if expecting_command and _WORD.match(word):
            # At any depth: `odyssey datasets fecth mnist` is as wrong as `odyssey fecth`.
            known = ", ".join(sorted(node["commands"]))
            return f"`{word}` is not a subcommand of `{' '.join(path)}` (its subcommands: {known})"
        break
    options = set(node["options"])
    rest = command.split(None, len(path))[-1] if len(command.split()) > len(path) else ""
    for option in _OPTION.findall(rest):
        if option not in options:
            known = ", ".join(o for o in node["options"] if o.startswith("--")) or "none"
            return f"`{option}` is not an option of `{' '.join(path)}` (its options: {known})"
    return None


def command_drift(
    root: Path, files: list[str], package_files: list[str], tree: dict[str, Any], program: str
) -> list[CommandDrift]:
    """The documented `program` command lines that `tree` (see `parser_tree`) refuses, in the
    Markdown `files` and the module docstrings of the Python `package_files` (relative paths)."""
    found: list[CommandDrift] = []
    sources: list[tuple[str, list[tuple[int, str]]]] = []
    for relative in files:
        text = (root / relative).read_text(encoding="utf-8")
        sources.append((relative, _command_lines(text, markdown=True)))
    for relative in package_files:
        try:
            module = ast.parse((root / relative).read_text(encoding="utf-8"))
        except SyntaxError:
            continue
        doc = ast.get_docstring(module, clean=False)
        if doc:
            offset = module.body[0].lineno - 1
            sources.append(
                (relative, [(offset + n, t) for n, t in _command_lines(doc, markdown=False)])
            )
    for relative, lines in sources:
        for number, line in lines:
            for command in _commands(line, program):
                problem = _check(command, tree, program)
                if problem:
                    found.append(CommandDrift(relative, number, command, problem))
    return found
