"""The committed .claude/agents/*.md are what the agents' definitions generate: a test fails when
one drifts (regenerate with `odyssey agent claude-sync`)."""

from __future__ import annotations

from pathlib import Path

from cli_run import run

from odyssey.agents.claude import claude_file, expected_files, sync
from odyssey.agents.core import agent_names, load_agent

ROOT = Path(__file__).resolve().parents[2]


def test_committed_claude_agents_match_their_definitions() -> None:
    expected = expected_files()
    assert len(expected) == len(agent_names()) >= 1
    for relative, text in expected.items():
        path = ROOT / relative
        assert path.is_file(), f"{relative} missing: run `odyssey agent claude-sync`"
        assert path.read_text(encoding="utf-8") == text, (
            f"{relative} differs from its definition: run `odyssey agent claude-sync`"
        )
    committed = {p.relative_to(ROOT).as_posix() for p in (ROOT / ".claude/agents").glob("*.md")}
    generated = {p for p in committed if "odyssey agent claude-sync" in (ROOT / p).read_text()}
    assert generated <= set(expected), f"generated for no agent: {generated - set(expected)}"


def test_frontmatter_comes_from_agent_toml() -> None:
    spec = load_agent("docs")
    text = claude_file(spec)
    head = text.split("---\n")[1].splitlines()
    assert head == [
        "name: docs-writer",
        f'description: "{spec.description}"',
        "tools: Read, Grep, Glob, Edit, Bash",
        "model: sonnet",
    ]
    assert "odyssey agent docs --check" in text  # the interactive instructions
    assert "docs_answer" not in text  # not the API's answer tool


def test_sync_writes_then_check_passes(tmp_path: Path, capsys) -> None:
    assert sync(check=True, root=tmp_path) == 1
    assert "missing for its definition" in capsys.readouterr().out
    assert sync(root=tmp_path) == 0
    assert sync(check=True, root=tmp_path) == 0
    drifted = tmp_path / ".claude/agents/docs-writer.md"
    drifted.write_text(drifted.read_text() + "edited by hand\n")
    assert sync(check=True, root=tmp_path) == 1


def test_the_cli_runs_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    status, out, _ = run("agent", "claude-sync")
    assert status == 0
    assert "wrote .claude/agents/docs-writer.md" in out


def test_an_agent_with_a_broken_dependency_is_unavailable_not_a_crash(monkeypatch) -> None:
    import sys

    from cli_run import run

    # The review agent's own module imports, but one of its dependencies does not.
    monkeypatch.delitem(sys.modules, "odyssey.agents.review", raising=False)
    monkeypatch.setitem(sys.modules, "odyssey.agents.review.github", None)
    status, _, err = run("agent", "review", "--pr", "3")
    assert status == 2
    assert err.startswith("odyssey agent review: unavailable (")
    assert "pip install 'ml-odyssey[agents]'" in err
    assert len(err.strip().splitlines()) == 1
    assert run("agent", "docs", "--help")[0] == 0  # the other agents still work
