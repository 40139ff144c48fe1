"""odyssey agent docs on a small tree written for the test: a docstring naming a renamed
parameter, a README block that no longer runs, a command line with an option the parser lacks.
--check lists them; --write (against the fake Messages API) writes a patch that applies and
clears them, and refuses answers that do not."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("anthropic")
pytest.importorskip("detect_secrets")

from agents.fake_api import FakeMessagesAPI, tool_answer
from cli_run import run

from odyssey.agents.docs.codeblocks import python_blocks
from odyssey.agents.docs.drift import find_drift

TOOL = "docs_answer"
PYPROJECT = """\
[tool.odyssey.docs-agent]
packages = ["python/shapes"]
markdown = ["README.md", "docs/**/*.md"]
python-path = ["python"]
block-timeout = 30
cli = "shapes.cli:build_parser"
program = "shapes"
"""
INIT = '''"""Shapes: a package written for the docs agent's tests."""

from shapes.ops import Box, scale

__all__ = ["Box", "scale"]
'''
OPS = '''"""Arithmetic on lists of numbers."""


def scale(values: list[float], factor: float) -> list[float]:
    """Multiplies each of `values` by `ratio`."""
    return [value * factor for value in values]


class Box:
    """A box of `width` by `height`."""

    def __init__(self, width: float, height: float) -> None:
        self.width = width
        self.height = height

    def area(self) -> float:
        """Width times height."""
        return self.width * self.height
'''
CLI = '''"""The `shapes` command.

    shapes scale VALUE... --factor F   multiply each VALUE by F
"""

import argparse


def build_parser() -> argparse.ArgumentParser:
    """The parser of `shapes`."""
    parser = argparse.ArgumentParser(prog="shapes")
    commands = parser.add_subparsers(dest="command")
    scale = commands.add_parser("scale")
    scale.add_argument("values", nargs="+", type=float)
    scale.add_argument("--factor", type=float, default=1.0)
    return parser
'''
README = """\
# Shapes

```python
from shapes import scale

print(scale([1, 2], ratio=3))
```

Then `shapes scale 1 2 --ratio 3` prints the same.

<!-- no-run: shows a failure on purpose -->
```python
raise SystemExit("never run")
```

```sh
shapes scale 4 --factor 0.5
```
"""
FIXES = {
    "param": "docstring-parameter:python/shapes/ops.py:shapes.ops.scale(ratio)",
    "block": "code-block:README.md:block 1",
    "cli": "cli-reference:README.md:shapes scale 1 2 --ratio 3",
}
GOOD_ANSWER = {
    "summary": "scale's docstring and the README follow the rename of ratio to factor.",
    "files": [
        {
            "path": "python/shapes/ops.py",
            "edits": [
                {
                    "old": "by `ratio`.",
                    "new": "by `factor`.",
                    "fixes": [FIXES["param"]],
                }
            ],
        },
        {
            "path": "README.md",
            "edits": [
                {"old": "ratio=3))", "new": "factor=3))", "fixes": [FIXES["block"]]},
                {"old": "2 --ratio 3`", "new": "2 --factor 3`", "fixes": [FIXES["cli"]]},
            ],
        },
    ],
    "not_fixed": [],
}


# Assembled at run time: the repository's own secret scan must not flag this file.
PLANTED = "sk-ant-api03-" + "Qx7vN2mK9pL4" + "wR8tY1uZ5cB3"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    files = {
        "pyproject.toml": PYPROJECT,
        "python/shapes/__init__.py": INIT,
        "python/shapes/ops.py": OPS,
        "python/shapes/cli.py": CLI,
        "README.md": README,
        ".env": "SHAPES_TOKEN=not-for-the-model\n",
    }
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


@pytest.fixture
def fake_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test")
    monkeypatch.setenv("ODYSSEY_AGENT_RETRIES", "0")


def test_check_lists_the_stale_docstring_the_broken_block_and_the_bad_option(tree):
    status, out, _ = run("agent", "docs", "--check", "--root", str(tree))
    assert status == 1
    lines = [line for line in out.splitlines() if not line.startswith("odyssey agent docs:")]
    assert len(lines) == 3, out
    assert lines[0].startswith("README.md:3: code-block: block 1: fails: TypeError")
    assert "unexpected keyword argument 'ratio'" in lines[0]
    assert lines[1].startswith("README.md:9: cli-reference: shapes scale 1 2 --ratio 3:")
    assert "`--ratio` is not an option of `shapes scale`" in lines[1]
    assert lines[2].startswith(
        "python/shapes/ops.py:4: docstring-parameter: shapes.ops.scale(ratio):"
    )
    assert "names `ratio`, which is not a parameter (parameters: values, factor)" in lines[2]
    assert "3 drift item(s)" in out


def test_check_passes_on_a_clean_tree(tree):
    for relative, old, new in (
        ("python/shapes/ops.py", "`ratio`", "`factor`"),
        ("README.md", "ratio=3", "factor=3"),
        ("README.md", "--ratio", "--factor"),
    ):
        path = tree / relative
        path.write_text(path.read_text().replace(old, new))
    status, out, _ = run("agent", "docs", "--check", "--root", str(tree))
    assert (status, out.splitlines()[-1]) == (0, "odyssey agent docs: no drift")


def test_a_missing_docstring_is_found(tree):
    ops = tree / "python/shapes/ops.py"
    ops.write_text(ops.read_text().replace('        """Width times height."""\n', ""))
    drift = find_drift(tree, run_code=False)
    assert "missing-docstring:python/shapes/ops.py:shapes.ops.Box.area" in {d.id for d in drift}


def test_blocks_and_their_no_run_markers_are_read():
    blocks = python_blocks(README)
    assert [(b.index, b.line, b.no_run) for b in blocks] == [
        (1, 3, None),
        (2, 12, "shows a failure on purpose"),
    ]
    assert blocks[0].code == "from shapes import scale\n\nprint(scale([1, 2], ratio=3))\n"


def test_write_produces_a_patch_that_applies_and_clears_the_drift(
    tree, tmp_path, fake_key, monkeypatch
):
    # A key pasted into a file the model is shown (ops.py has drift) must be scrubbed.
    ops = tree / "python/shapes/ops.py"
    ops.write_text(ops.read_text() + f'\nEXAMPLE_KEY = "{PLANTED}"\n')
    patch = tmp_path / "docs-agent.patch"
    with FakeMessagesAPI([tool_answer(GOOD_ANSWER, TOOL)], forbidden=[PLANTED]) as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        status, out, err = run(
            "agent", "docs", "--write", "--root", str(tree), "--patch", str(patch)
        )
    assert status == 0, out + err
    assert f"{patch}: 2 file(s), 3 drift item(s) fixed" in out
    (request,) = api.requests
    content = request["messages"][0]["content"]
    assert f"id `{FIXES['param']}`" in content
    assert '<file path="python/shapes/ops.py" kind="file">' in content
    assert ".env" not in content  # not concerned by any drift, never read
    # The tree itself is untouched; the patch applies to a copy and clears the drift there.
    assert "ratio=3" in (tree / "README.md").read_text()
    copy = tmp_path / "copy"
    shutil.copytree(tree, copy)
    subprocess.run(["git", "apply", str(patch)], cwd=copy, check=True)
    status, out, _ = run("agent", "docs", "--check", "--root", str(copy))
    assert (status, out.splitlines()[-1]) == (0, "odyssey agent docs: no drift")


def test_write_refuses_a_patch_that_does_not_clear_what_it_claims(
    tree, tmp_path, fake_key, monkeypatch
):
    answer = json.loads(json.dumps(GOOD_ANSWER))
    answer["files"][1]["edits"][0]["new"] = "factr=3))"  # still a TypeError
    patch = tmp_path / "docs-agent.patch"
    with FakeMessagesAPI([tool_answer(answer, TOOL)]) as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        status, out, _ = run("agent", "docs", "--write", "--root", str(tree), "--patch", str(patch))
    assert status == 1
    assert f"claimed fixed but still found: {FIXES['block']}" in out
    assert "no patch written" in out
    assert not patch.exists()


def test_write_refuses_an_edit_that_changes_code(tree, tmp_path, fake_key, monkeypatch):
    answer = {
        "summary": "renamed the parameter back",
        "files": [
            {
                "path": "python/shapes/ops.py",
                "edits": [
                    {"old": "factor: float)", "new": "ratio: float)", "fixes": [FIXES["param"]]}
                ],
            }
        ],
    }
    patch = tmp_path / "docs-agent.patch"
    with FakeMessagesAPI([tool_answer(answer, TOOL)]) as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        status, out, _ = run("agent", "docs", "--write", "--root", str(tree), "--patch", str(patch))
    assert status == 1
    assert "python/shapes/ops.py: the edits change code, not only docstrings; refused" in out
    assert not patch.exists()


def test_write_dry_run_prints_the_request_without_a_key(tree, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    status, out, _ = run("agent", "docs", "--write", "--dry-run", "--no-run", "--root", str(tree))
    assert status == 0
    assert "dry run, nothing sent" in out
    assert '"name": "docs_answer"' in out


def test_write_without_a_key_fails_before_running_the_blocks(tree, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    status, out, err = run("agent", "docs", "--write", "--root", str(tree))
    assert status == 2
    assert "ANTHROPIC_API_KEY is not set" in err
    assert "running the Python blocks" not in out


def test_check_ask_apply_split_the_write_so_the_key_never_meets_the_blocks(
    tree, tmp_path, fake_key, monkeypatch
):
    drift, answer, patch = tmp_path / "drift.json", tmp_path / "answer.json", tmp_path / "p.patch"
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    status, out, _ = run(
        "agent", "docs", "--check", "--root", str(tree), "--save-drift", str(drift)
    )
    assert status == 1
    assert "running the Python blocks of README.md" in out
    assert {item["kind"] for item in json.loads(drift.read_text())["drift"]} == {
        "code-block",
        "cli-reference",
        "docstring-parameter",
    }
    # The step with the key runs none of the tree's code: a block would write this marker.
    readme = tree / "README.md"
    readme.write_text(readme.read_text().replace("from shapes", "open('/tmp/x', 'w')\nfrom shapes"))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test")
    with FakeMessagesAPI([tool_answer(GOOD_ANSWER, TOOL)]) as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        status, out, err = run(
            "agent", "docs", "--ask", "--root", str(tree), "--drift", str(drift),
            "--answer", str(answer),
        )  # fmt: skip
    assert status == 0, out + err
    assert "running the Python blocks" not in out
    assert json.loads(answer.read_text())["answer"] == GOOD_ANSWER
    readme.write_text(README)
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    status, out, err = run(
        "agent", "docs", "--apply", str(answer), "--drift", str(drift), "--root", str(tree),
        "--patch", str(patch),
    )  # fmt: skip
    assert status == 0, out + err
    assert "3 drift item(s) fixed" in out
    status, _, err = run("agent", "docs", "--apply", str(answer), "--root", str(tree))
    assert status == 2
    assert "--apply needs --drift FILE" in err


def test_a_block_reached_only_after_the_fix_is_left_for_next_time(
    tree, tmp_path, fake_key, monkeypatch
):
    # Block 3 never ran (block 1 failed first); once block 1 is fixed it fails. The model could
    # not have seen it, so it does not reject the patch.
    (tree / "README.md").write_text(README + "\n```python\nraise RuntimeError('later')\n```\n")
    patch = tmp_path / "docs-agent.patch"
    with FakeMessagesAPI([tool_answer(GOOD_ANSWER, TOOL)]) as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        status, out, _ = run("agent", "docs", "--write", "--root", str(tree), "--patch", str(patch))
    assert status == 0, out
    assert (
        "left for next time (not reached before the patch): README.md:20: code-block: block 3"
        in out
    )
    assert patch.exists()


def test_a_new_failure_in_a_block_that_ran_before_is_refused(tree, tmp_path, fake_key, monkeypatch):
    (tree / "README.md").write_text("```python\nx = 1\n```\n\n" + README)
    answer = json.loads(json.dumps(GOOD_ANSWER).replace("README.md:block 1", "README.md:block 2"))
    answer["files"][1]["edits"].append(
        {"old": "x = 1\n", "new": "x = 1 / 0\n", "fixes": [FIXES["cli"]]}
    )
    patch = tmp_path / "docs-agent.patch"
    with FakeMessagesAPI([tool_answer(answer, TOOL)]) as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        status, out, _ = run("agent", "docs", "--write", "--root", str(tree), "--patch", str(patch))
    assert status == 1, out
    assert "new drift: README.md:1: code-block: block 1: fails: ZeroDivisionError" in out
    assert not patch.exists()


def test_write_without_a_key_exits_2(tree, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    status, _, err = run("agent", "docs", "--write", "--no-run", "--root", str(tree))
    assert status == 2
    assert err.strip().startswith("odyssey agent docs: ANTHROPIC_API_KEY is not set")
    assert len(err.strip().splitlines()) == 1


def test_usage_errors_name_the_command_and_exit_2(tree, tmp_path):
    status, _, err = run("agent", "docs", "--root", str(tmp_path / "nowhere"))
    assert status == 2
    assert err.startswith("odyssey agent docs: --root")
    (tree / "pyproject.toml").write_text(PYPROJECT + 'colour = "blue"\n')
    status, _, err = run("agent", "docs", "--root", str(tree))
    assert status == 2
    assert "[tool.odyssey.docs-agent] has unknown keys colour" in err
    (tree / "pyproject.toml").write_text(PYPROJECT.replace("python/shapes", "python/nope"))
    status, _, err = run("agent", "docs", "--root", str(tree))
    assert status == 2
    assert "has no folder python/nope" in err


def test_a_renamed_parameter_is_found_even_when_its_old_name_lives_elsewhere(tree):
    # Elsewhere in the package `ratio` is an attribute, a string key and a method: none of that
    # is scale's scope, so the stale `ratio` in scale's docstring is still drift.
    (tree / "python/shapes/other.py").write_text(
        '"""Other things."""\n\n\nclass Settings:\n    """Settings."""\n\n'
        "    def __init__(self) -> None:\n        self.ratio = 1.0\n"
        '        self.table = {"ratio": 2}\n\n'
        "    def ratio_of(self, x: float) -> float:\n        return x\n"
    )
    ids = {d.id for d in find_drift(tree, run_code=False)}
    assert FIXES["param"] in ids
    # A name of the function's own scope (its module's global, its class's attribute) is fine.
    ops = tree / "python/shapes/ops.py"
    ops.write_text(
        ops.read_text()
        .replace("by `ratio`.", "by `factor` (at most `limit`).")
        .replace('"""Width times height."""', '"""`width` times `height`."""')
        + "\nlimit = 3\n"
    )
    assert [d for d in find_drift(tree, run_code=False) if d.kind == "docstring-parameter"] == []


def test_a_patch_of_a_crlf_file_applies(tmp_path):
    from odyssey.agents.docs.patch import apply_edits, unified_diff

    tree = tmp_path / "crlf"
    tree.mkdir()
    original = b"# Title\r\n\r\nUse `ratio`.\r\nEnd.\r\n"
    (tree / "guide.md").write_bytes(original)
    subprocess.run(["git", "init", "-q"], cwd=tree, check=True)
    work = tmp_path / "work"
    shutil.copytree(tree, work)
    edits = [{"path": "guide.md", "edits": [{"old": "`ratio`.\n", "new": "`factor`.\n"}]}]
    changes = apply_edits(work, edits, {"guide.md"})
    (tmp_path / "p.patch").write_text(unified_diff(changes), newline="")
    subprocess.run(["git", "apply", str(tmp_path / "p.patch")], cwd=tree, check=True)
    assert (tree / "guide.md").read_bytes() == b"# Title\r\n\r\nUse `factor`.\r\nEnd.\r\n"


def test_a_nested_subcommand_typo_is_reported_as_such():
    from odyssey.agents.docs.cli_reference import _check

    leaf = {"options": ["--check", "-h"], "commands": {}}
    tree = {
        "options": ["-h"],
        "commands": {
            "datasets": {"options": ["-h"], "commands": {"fetch": leaf}},
            "agent": {"options": ["-h"], "commands": {"docs": leaf}},
        },
    }
    assert _check("odyssey datasets fetch mnist", tree, "odyssey") is None
    assert _check("odyssey datasets fecth mnist", tree, "odyssey") == (
        "`fecth` is not a subcommand of `odyssey datasets` (its subcommands: fetch)"
    )
    message = _check("odyssey agent doc --check", tree, "odyssey")
    assert message is not None
    assert message.startswith("`doc` is not a subcommand of `odyssey agent`")


def test_only_markdown_and_python_docstrings_are_edited(tmp_path):
    from odyssey.agents.docs.patch import PatchError, apply_edits

    (tmp_path / "pyproject.toml").write_text('[tool.odyssey.docs-agent]\ncli = "x:y"\n')
    edits = [{"path": "pyproject.toml", "edits": [{"old": '"x:y"', "new": '""', "fixes": []}]}]
    with pytest.raises(PatchError, match="only Markdown files and Python docstrings"):
        apply_edits(tmp_path, edits, {"pyproject.toml"})
    assert '"x:y"' in (tmp_path / "pyproject.toml").read_text()


def test_two_parameter_findings_on_one_function_have_two_ids(tree):
    ops = tree / "python/shapes/ops.py"
    ops.write_text(ops.read_text().replace("by `ratio`.", "by `ratio`, then `offset`."))
    ids = [d.id for d in find_drift(tree, run_code=False) if d.kind == "docstring-parameter"]
    assert sorted(ids) == [
        "docstring-parameter:python/shapes/ops.py:shapes.ops.scale(offset)",
        "docstring-parameter:python/shapes/ops.py:shapes.ops.scale(ratio)",
    ]
