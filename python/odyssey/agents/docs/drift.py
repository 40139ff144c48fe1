"""Documentation drift of a source tree, found deterministically (no model): what
``odyssey agent docs --check`` lists and ``--write`` asks the model to fix.

Four checks: public names without a docstring and docstrings naming parameters the signature
lacks (`odyssey.agents.docs.docstrings`), Python code blocks in Markdown that no longer run
(`odyssey.agents.docs.codeblocks`), and documented command lines the CLI parser refuses
(`odyssey.agents.docs.cli_reference`).

What is checked is set by the tree's ``pyproject.toml``, table ``[tool.odyssey.docs-agent]``;
without it, this repository's layout:

    packages = ["python/odyssey"]            # package folders: docstrings, CLI usage in them
    markdown = ["README.md", "papers/*/README.md", "docs/**/*.md"]
    python-path = []                         # folders put on PYTHONPATH for blocks and the CLI
    block-timeout = 300                      # seconds a code block may take
    cli = "odyssey.cli:build_parser"         # "" to skip the command-line check
    program = "odyssey"
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from odyssey.agents.docs.cli_reference import command_drift, parser_tree
from odyssey.agents.docs.codeblocks import python_blocks, run_blocks
from odyssey.agents.docs.docstrings import docstring_drift

__all__ = ["DocsConfig", "Drift", "find_drift", "load_config"]

KINDS = ("missing-docstring", "docstring-parameter", "code-block", "cli-reference")


@dataclass(frozen=True)
class Drift:
    """One drift: its kind (one of `KINDS`), file, line, what it concerns (a qualified name, a
    block number or a command) and the problem. `id` names it across edits (no line number)."""

    kind: str
    path: str
    line: int
    name: str
    message: str

    @property
    def id(self) -> str:
        """``kind:path:name``: the same drift before and after a patch moves its line."""
        return f"{self.kind}:{self.path}:{self.name}"

    def describe(self) -> str:
        """One line: ``path:line: kind: name: message [id]``."""
        return f"{self.path}:{self.line}: {self.kind}: {self.name}: {self.message}"


@dataclass(frozen=True)
class DocsConfig:
    """What to check in a tree (see the module's docstring for the defaults)."""

    packages: tuple[str, ...] = ("python/odyssey",)
    markdown: tuple[str, ...] = ("README.md", "papers/*/README.md", "docs/**/*.md")
    python_path: tuple[str, ...] = ()
    block_timeout: float = 300.0
    cli: str = "odyssey.cli:build_parser"
    program: str = "odyssey"


def load_config(root: str | Path) -> DocsConfig:
    """The tree's ``[tool.odyssey.docs-agent]`` settings, else the defaults."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    pyproject = Path(root) / "pyproject.toml"
    table: dict[str, Any] = {}
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"{pyproject} is not valid TOML: {error}") from None
        table = data.get("tool", {}).get("odyssey", {}).get("docs-agent", {})
    known = {"packages", "markdown", "python-path", "block-timeout", "cli", "program"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ValueError(
            f"{pyproject}: [tool.odyssey.docs-agent] has unknown keys "
            f"{', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    defaults = DocsConfig()
    return DocsConfig(
        packages=tuple(table.get("packages", defaults.packages)),
        markdown=tuple(table.get("markdown", defaults.markdown)),
        python_path=tuple(table.get("python-path", defaults.python_path)),
        block_timeout=float(table.get("block-timeout", defaults.block_timeout)),
        cli=table.get("cli", defaults.cli),
        program=table.get("program", defaults.program),
    )


def markdown_files(root: Path, config: DocsConfig) -> list[str]:
    """The Markdown files the configuration names that exist, relative to `root`, sorted."""
    found = {
        path.relative_to(root).as_posix()
        for pattern in config.markdown
        for path in root.glob(pattern)
        if path.is_file()
    }
    return sorted(found)


def package_files(root: Path, config: DocsConfig) -> list[str]:
    """The Python files of the configured packages, relative to `root`, sorted."""
    return sorted(
        path.relative_to(root).as_posix()
        for package in config.packages
        for path in (root / package).rglob("*.py")
    )


def find_drift(
    root: str | Path,
    config: DocsConfig | None = None,
    *,
    run_code: bool | set[str] = True,
    report: Any = None,
) -> list[Drift]:
    """Every drift of the tree at `root`, sorted by file and line. `run_code`: False runs no
    code block, a set runs those of these Markdown files only."""
    root = Path(root).resolve()
    config = config if config is not None else load_config(root)
    found = [
        Drift(d.kind, d.path, d.line, d.name, d.message)
        for d in docstring_drift(root, list(config.packages))
    ]
    python_path = [root / p for p in config.python_path]
    markdown = markdown_files(root, config)
    for relative in markdown:
        if run_code is False or (isinstance(run_code, set) and relative not in run_code):
            continue
        blocks = python_blocks((root / relative).read_text(encoding="utf-8"))
        if not any(block.no_run is None for block in blocks):
            continue
        if report is not None:
            report(f"running the Python blocks of {relative}")
        failure = run_blocks(
            relative, blocks, timeout=config.block_timeout, python_path=python_path
        )
        if failure is not None:
            where = f" (line {failure.block_line} of the block)" if failure.block_line else ""
            later = sum(1 for b in blocks if b.index > failure.index and b.no_run is None)
            found.append(
                Drift(
                    "code-block",
                    relative,
                    failure.line,
                    f"block {failure.index}",
                    f"fails: {failure.message}{where}"
                    + (f"; the {later} block(s) after it were not run" if later else ""),
                )
            )
    if config.cli:
        try:
            tree = parser_tree(config.cli, python_path)
        except RuntimeError as error:
            found.append(Drift("cli-reference", "pyproject.toml", 1, config.cli, str(error)))
        else:
            for item in command_drift(
                root, markdown, package_files(root, config), tree, config.program
            ):
                found.append(
                    Drift("cli-reference", item.path, item.line, item.command, item.message)
                )
    return sorted(found, key=lambda d: (d.path, d.line, d.kind, d.name))
