"""Golden prompts: every agent's request rendered on fixed inputs is compared with the committed
rendering, so a prompt change (template, example, schema, budget) shows up as a reviewed diff.

Inputs: tests/agents/golden/<name>/input.json, {"variables": {...}, "files": [{"path", "text",
"kind"}]}; the rendering: rendered.txt beside it. After a deliberate change, regenerate with
``ODYSSEY_UPDATE_GOLDEN=1 pytest tests/agents/test_prompts.py`` and review the diff. Agents are
found in the package, so each new one needs its golden input.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytest.importorskip("detect_secrets")

from odyssey.agents.core import ContextFile, agent_names, build_request, load_agent

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("ODYSSEY_UPDATE_GOLDEN") == "1"


def render(name: str) -> str:
    """The request of agent `name` on its golden input, as one reviewable text."""
    data = json.loads((GOLDEN / name / "input.json").read_text(encoding="utf-8"))
    files = [ContextFile(**file) for file in data.get("files", [])]
    spec = load_agent(name)
    request = build_request(spec, data["variables"], files)
    parts = [f"=== system ===\n{request.system}"]
    for number, message in enumerate(request.messages):
        content = message["content"]
        text = content if isinstance(content, str) else json.dumps(content, indent=2)
        parts.append(f"=== messages[{number}] ({message['role']}) ===\n{text}")
    parts.append(f"=== tool ===\n{json.dumps(request.tool, indent=2, ensure_ascii=False)}\n")
    parts.append(
        "=== report ===\n"
        f"model {spec.model}, max_tokens {spec.max_tokens}, budget {spec.context_budget}\n"
        f"estimated input tokens: {request.estimated_input_tokens}\n"
        f"dropped: {request.dropped}\nwithheld: {request.withheld}\n"
        f"scrubbed: {request.scrubbed}\n"
    )
    return "\n".join(part if part.endswith("\n") else part + "\n" for part in parts)


def test_every_agent_has_a_golden_input() -> None:
    missing = [name for name in agent_names() if not (GOLDEN / name / "input.json").is_file()]
    assert not missing, f"tests/agents/golden/<name>/input.json missing for: {missing}"
    assert "docs" in agent_names()  # the walk finds the agents


@pytest.mark.parametrize("name", agent_names())
def test_prompt_matches_its_golden_rendering(name: str) -> None:
    if not (GOLDEN / name / "input.json").is_file():
        pytest.fail(f"no golden input for {name}: write tests/agents/golden/{name}/input.json")
    rendered = render(name)
    path = GOLDEN / name / "rendered.txt"
    if UPDATE:
        path.write_text(rendered, encoding="utf-8")
    assert path.is_file(), f"{path} missing: run with ODYSSEY_UPDATE_GOLDEN=1 and review it"
    expected = path.read_text(encoding="utf-8")
    assert rendered == expected, (
        f"agent {name}'s prompt changed; if deliberate, regenerate with "
        "ODYSSEY_UPDATE_GOLDEN=1 and review the diff of " + str(path)
    )
