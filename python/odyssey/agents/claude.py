"""Claude Code subagents generated from the agents' definitions: ``.claude/agents/<claude_name>.md``
for each agent, with Claude Code's frontmatter (name, description, tools, model) from its
``agent.toml`` and, as the body, its system prompt rendered with ``claude_code`` true (the
templates swap the answer-tool instructions for interactive ones there).

    python -m odyssey.agents.claude [--check] [--root DIR]
    odyssey agent claude-sync [--check]

writes them (or, with ``--check``, lists those that differ and exits 1). A test fails when a
committed file drifts from its definition, so edit the definition and run this, never the file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from odyssey._atomic import write_text_atomic
from odyssey.agents.core import AgentError, AgentSpec, agent_names, load_agent

__all__ = ["claude_file", "expected_files", "main", "sync"]

# Claude Code's model aliases; a model id outside them is written as it is.
_ALIASES = ("opus", "sonnet", "haiku")


def _model_alias(model: str) -> str:
    return next((alias for alias in _ALIASES if f"-{alias}-" in f"-{model}-"), model)


def claude_file(spec: AgentSpec) -> str:
    """The text of ``.claude/agents/<claude_name>.md`` for `spec`."""
    import jinja2

    from odyssey.agents.core import _environment

    try:
        body = (
            _environment(spec)
            .get_template("system.md.j2")
            .render(variables={}, files=[], omitted=[], agent=spec, claude_code=True)
        )
    except jinja2.TemplateError as error:
        raise AgentError(
            f"odyssey agent claude-sync: {spec.name}/system.md.j2 needs more than the agent's "
            f"definition ({error}); keep run variables out of the system prompt"
        ) from None
    frontmatter = [
        "---",
        f"name: {spec.claude_name}",
        f"description: {json.dumps(spec.description, ensure_ascii=False)}",
        f"tools: {', '.join(spec.tools)}",
        f"model: {_model_alias(spec.model)}",
        "---",
        "",
        f"<!-- Generated from python/odyssey/agents/{spec.name}/ (agent.toml, system.md.j2) by",
        "     `odyssey agent claude-sync`; edit those, not this file. -->",
        "",
    ]
    return "\n".join(frontmatter) + body.strip() + "\n"


def expected_files() -> dict[str, str]:
    """{``.claude/agents/<claude_name>.md``: its text} for every agent present."""
    files = {}
    for name in agent_names():
        spec = load_agent(name)
        files[f".claude/agents/{spec.claude_name}.md"] = claude_file(spec)
    return files


def sync(check: bool = False, root: str | Path = ".") -> int:
    """Writes the files under `root` (0), or with `check` lists those that differ (1 if any)."""
    root = Path(root)
    drifted = []
    for relative, text in expected_files().items():
        path = root / relative
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current == text:
            continue
        if check:
            drifted.append(relative)
            print(f"{relative}: {'differs from' if current else 'missing for'} its definition")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, text)
        print(f"wrote {relative}")
    if drifted:
        print("odyssey agent claude-sync: run it without --check to regenerate them")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m odyssey.agents.claude [--check] [--root DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m odyssey.agents.claude", description=__doc__)
    parser.add_argument("--check", action="store_true", help="list drifted files, write none")
    parser.add_argument("--root", default=".", help="the repository (default: .)")
    args = parser.parse_args(argv)
    try:
        return sync(check=args.check, root=args.root)
    except AgentError as error:
        print(error, file=sys.stderr)
        return error.exit_status


if __name__ == "__main__":
    sys.exit(main())
