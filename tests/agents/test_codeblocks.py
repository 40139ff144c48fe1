"""odyssey.agents.docs.codeblocks.run_blocks: the time limit cannot be escaped, a block sees no
credential, and the verdicts a reader would give (sys.exit(0) passes; input() fails)."""

from __future__ import annotations

from odyssey.agents.docs.codeblocks import python_blocks, run_blocks
from odyssey.agents.environment import is_credential_name, without_credentials


def _run(markdown: str, timeout: float = 5.0):
    return run_blocks("README.md", python_blocks(markdown), timeout=timeout)


def test_a_block_catching_exception_cannot_swallow_its_time_limit():
    block = "```python\nimport time\ntry:\n    time.sleep(3)\nexcept Exception:\n    pass\n```\n"
    failure = _run(block, timeout=0.5)
    assert failure is not None
    assert "0.5 s" in failure.message


def test_a_block_catching_everything_still_fails_on_its_elapsed_time():
    block = (
        "```python\nimport time\nend = time.monotonic() + 1.5\nwhile time.monotonic() < end:\n"
        "    try:\n        time.sleep(end - time.monotonic())\n    except BaseException:\n"
        "        pass\n```\n"
    )
    failure = _run(block, timeout=0.5)
    assert failure is not None
    assert "over the limit of 0.5 s" in failure.message


def test_blocks_see_no_credential(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-not-for-blocks")
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_not_for_blocks")
    monkeypatch.setenv("MY_SERVICE_SECRET", "x")
    monkeypatch.setenv("ODYSSEY_PLAIN", "kept")
    block = (
        "```python\nimport os\n"
        "leaked = [n for n in ('ANTHROPIC_API_KEY', 'GITHUB_TOKEN', 'MY_SERVICE_SECRET') "
        "if n in os.environ]\nassert not leaked, leaked\n"
        "assert os.environ['ODYSSEY_PLAIN'] == 'kept'\n```\n"
    )
    assert _run(block) is None


def test_credential_names():
    credentials = (
        "ANTHROPIC_API_KEY", "GITHUB_TOKEN", "GH_TOKEN", "pypi_token", "AWS_SECRET_ACCESS_KEY",
        "ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL", "DB_PASSWORD",
        "ANTHROPIC_BASE_URL",
    )  # fmt: skip
    for name in credentials:
        assert is_credential_name(name), name
    for name in ("PATH", "HOME", "PYTHONPATH", "MPLBACKEND", "GITHUB_REPOSITORY", "CI"):
        assert not is_credential_name(name), name
    assert without_credentials({"PATH": "/bin", "GH_TOKEN": "t"}) == {"PATH": "/bin"}


def test_sys_exit_zero_passes_and_the_next_block_runs():
    markdown = (
        "```python\nimport sys\nsys.exit(0)\n```\n\n```python\nraise ValueError('two')\n```\n"
    )
    failure = _run(markdown)
    assert failure is not None
    assert failure.index == 2
    assert "ValueError: two" in failure.message
    failure = _run("```python\nimport sys\nsys.exit(3)\n```\n")
    assert failure is not None
    assert "SystemExit: 3" in failure.message


def test_input_fails_instead_of_waiting_and_a_syntax_error_is_one_line():
    failure = _run("```python\ninput('name? ')\n```\n")
    assert failure is not None
    assert "EOFError" in failure.message
    failure = _run("```python\nprint(1 +)\n```\n")
    assert failure is not None
    assert "SyntaxError" in failure.message
    assert "\n" not in failure.message


def test_an_interactive_session_block_runs_what_follows_the_prompts():
    session = "```python\n>>> x = [1, 2]\n>>> for v in x:\n...     print(v)\n1\n2\n```\n"
    assert _run(session) is None
    failure = _run("```python\n>>> 1 / 0\nTraceback (most recent call last):\n```\n")
    assert failure is not None
    assert "ZeroDivisionError" in failure.message


def test_the_parser_dump_sees_no_credential(tmp_path, monkeypatch):
    from odyssey.agents.docs.cli_reference import parser_tree

    (tmp_path / "leaky_cli.py").write_text(
        "import argparse, os\n"
        "def build_parser():\n"
        "    assert 'ANTHROPIC_API_KEY' not in os.environ, 'the key reached the parser'\n"
        "    return argparse.ArgumentParser(prog='leaky')\n"
    )
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-not-for-the-parser")
    assert parser_tree("leaky_cli:build_parser", [tmp_path])["commands"] == {}


def test_review_checks_run_without_credentials(tmp_path, monkeypatch):
    import subprocess

    from odyssey.agents.review import checks

    seen: list[dict[str, str]] = []

    def fake_run(command, **kwargs):
        seen.append(kwargs.get("env") or {})
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-not-for-checks")
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_not_for_checks")
    monkeypatch.setattr(checks.subprocess, "run", fake_run)
    checks.validate_check(tmp_path, "papers/lenet5")
    assert seen
    assert "PATH" in seen[0]
    assert not {"ANTHROPIC_API_KEY", "GITHUB_TOKEN"} & set(seen[0])
