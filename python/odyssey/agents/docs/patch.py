"""The docs agent's answer turned into a reviewed patch: edits applied to a copy of the tree,
the checks re-run there, and a unified diff (``git apply``-able) of what changed.

An edit replaces one exact excerpt (``old``, found exactly once) of a file by ``new``. Only files
the agent was shown may be edited, and an edit to a Python file may change docstrings only: the
file's syntax tree without its docstrings must be the same before and after.
"""

from __future__ import annotations

import ast
import difflib
import shutil
from pathlib import Path
from typing import Any

from odyssey.agents.core import safe_write

__all__ = ["PatchError", "apply_edits", "copy_tree", "same_code", "unified_diff"]


class PatchError(Exception):
    """An edit that cannot be applied as asked; the message names the file and why."""


def copy_tree(root: Path, relatives: list[str], destination: Path) -> None:
    """Copies the files and folders `relatives` of `root` to `destination` (links kept)."""
    for relative in relatives:
        source = root / relative
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(
                source,
                target,
                symlinks=True,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                dirs_exist_ok=True,
            )
        elif source.is_file():
            shutil.copy2(source, target)


class _StripDocstrings(ast.NodeTransformer):
    def _strip(self, node: Any) -> Any:
        self.generic_visit(node)
        body = node.body
        if (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
        return node

    visit_Module = visit_ClassDef = visit_FunctionDef = visit_AsyncFunctionDef = _strip


def same_code(before: str, after: str) -> bool:
    """Whether two Python sources differ in docstrings (and comments, layout) only."""
    try:
        trees = [_StripDocstrings().visit(ast.parse(text)) for text in (before, after)]
    except SyntaxError:
        return False
    return ast.dump(trees[0]) == ast.dump(trees[1])


def apply_edits(
    root: Path, files: list[dict[str, Any]], allowed: set[str]
) -> dict[str, tuple[str, str]]:
    """Applies the answer's ``files`` (each a path and its edits) under `root`; returns
    {path: (text before, text after)} of each changed file. Raises PatchError on an edit to a
    file not in `allowed`, an excerpt not found exactly once, or a code change in Python."""
    changed: dict[str, tuple[str, str]] = {}
    for entry in files:
        path = entry["path"]
        if path not in allowed:
            raise PatchError(f"{path}: not one of the files the agent was shown; refused")
        # The docs agent edits documentation: Markdown, and docstrings in Python (checked below).
        # A file shown for context (pyproject.toml with a cli-reference drift) is not its own.
        if not path.endswith((".md", ".py")):
            raise PatchError(
                f"{path}: only Markdown files and Python docstrings are edited; refused"
            )
        if path in changed:
            before, text = changed[path]
        else:
            # newline="": a CRLF file keeps its line ends, so that the patch applies to it.
            with open(root / path, encoding="utf-8", newline="") as file:
                before = text = file.read()
        # The model saw (and quotes) the text with LF line ends: edit that, then restore CRLF.
        crlf = "\r\n" in before
        text = text.replace("\r\n", "\n") if crlf else text
        for number, edit in enumerate(entry["edits"], 1):
            count = text.count(edit["old"])
            if count != 1:
                raise PatchError(
                    f"{path}: edit {number}'s old text is found {count} times, not once: "
                    f"{edit['old'][:80]!r}"
                )
            text = text.replace(edit["old"], edit["new"], 1)
        if crlf:
            text = text.replace("\n", "\r\n")
        if path.endswith(".py") and not same_code(before, text):
            raise PatchError(f"{path}: the edits change code, not only docstrings; refused")
        changed[path] = (before, text)
    for path, (before, after) in changed.items():
        if before != after:
            safe_write(root, path, after)
    return {path: pair for path, pair in changed.items() if pair[0] != pair[1]}


def _lines(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines


def unified_diff(changes: dict[str, tuple[str, str]]) -> str:
    """A unified diff of the changed files (``a/PATH``, ``b/PATH``), as ``git apply`` takes."""
    parts = []
    for path in sorted(changes):
        before, after = changes[path]
        parts.append(f"diff --git a/{path} b/{path}\n")
        parts.extend(
            difflib.unified_diff(_lines(before), _lines(after), f"a/{path}", f"b/{path}", n=3)
        )
    return "".join(parts)
