"""The evaluation harness (nox -s agents-eval) against the fake Messages API, on the docs agent's
real cases: the table, the JSON, the scores of a right and of a wrong answer, and the one-line
skip without a key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("anthropic")
pytest.importorskip("detect_secrets")

from agents.fake_api import FakeMessagesAPI, tool_answer

from odyssey.agents import evaluate
from odyssey.agents.docs import evaluate as docs_evaluate

CASES = Path(__file__).parent / "eval"
RIGHT = {
    "summary": "rotate's docstring names angle_degrees, in degrees.",
    "files": [
        {
            "path": "python/geometry/ops.py",
            "edits": [
                {
                    "old": "by `angle` radians",
                    "new": "by `angle_degrees` degrees",
                    "fixes": [
                        "docstring-parameter:python/geometry/ops.py:geometry.ops.rotate(angle)"
                    ],
                }
            ],
        }
    ],
}


def case(name: str) -> dict:
    (found,) = [c for c in evaluate.load_cases(CASES / "docs") if c["name"] == name]
    return found


def test_every_docs_case_plants_the_drift_it_expects() -> None:
    cases = evaluate.load_cases(CASES / "docs")
    assert len(cases) >= 3
    for each in cases:
        variables, files = docs_evaluate.prepare(each)
        assert {item["id"] for item in variables["drift"]} == set(each["expected"]), each["name"]
        assert files[0].kind == "check"


def test_scores_of_a_right_and_a_wrong_answer() -> None:
    planted = case("renamed-parameter")
    assert docs_evaluate.score(planted, RIGHT) == {
        "found": 1.0,
        "applied": 1.0,
        "fixed": 1.0,
        "clean": 1.0,
    }
    wrong = json.loads(json.dumps(RIGHT))
    wrong["files"][0]["edits"][0]["old"] = "by `angel` radians"  # not in the file
    assert docs_evaluate.score(planted, wrong)["applied"] == 0.0
    code = json.loads(json.dumps(RIGHT))
    code["files"][0]["edits"][0] = {
        "old": "angle_degrees: float",
        "new": "angle: float",
        "fixes": [],
    }
    assert docs_evaluate.score(planted, code)["applied"] == 0.0  # a code change is refused


def test_the_harness_prints_a_table_and_writes_json(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test")
    monkeypatch.setenv("ODYSSEY_AGENT_RETRIES", "0")
    cases = tmp_path / "cases"
    (cases / "docs").mkdir(parents=True)
    (cases / "docs" / "renamed-parameter").symlink_to(CASES / "docs" / "renamed-parameter")
    report = tmp_path / "eval.json"
    with FakeMessagesAPI([tool_answer(RIGHT, "docs_answer", input_tokens=5000)]) as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        status = evaluate.main(["--cases", str(cases), "--agent", "docs", "--json", str(report)])
    assert status == 0
    out = capsys.readouterr().out
    assert "agents-eval" in out
    assert "renamed-parameter" in out
    assert "mean" in out
    data = json.loads(report.read_text())
    (record,) = data["agents"]["docs"]["cases"]
    assert record["scores"] == {"found": 1.0, "applied": 1.0, "fixed": 1.0, "clean": 1.0}
    assert record["input_tokens"] == 5000
    assert record["error"] is None
    assert data["agents"]["docs"]["mean"]["fixed"] == 1.0


def test_a_failed_case_is_reported_and_fails_the_run(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test")
    monkeypatch.setenv("ODYSSEY_AGENT_RETRIES", "0")
    cases = tmp_path / "cases"
    (cases / "docs").mkdir(parents=True)
    (cases / "docs" / "renamed-parameter").symlink_to(CASES / "docs" / "renamed-parameter")
    with FakeMessagesAPI([500]) as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        status = evaluate.main(["--cases", str(cases), "--json", str(tmp_path / "e.json")])
    assert status == 1
    (record,) = json.loads((tmp_path / "e.json").read_text())["agents"]["docs"]["cases"]
    assert "HTTP 500" in record["error"]


def test_without_a_key_one_line_and_exit_0(monkeypatch, capsys) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert evaluate.main(["--cases", str(CASES)]) == 0
    out = capsys.readouterr().out
    assert (
        out
        == "odyssey.agents.evaluate: ANTHROPIC_API_KEY is not set; no agent evaluated (skipped)\n"
    )


def test_a_case_whose_own_code_fails_is_recorded_and_the_others_run(monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test")
    monkeypatch.setenv("ODYSSEY_AGENT_RETRIES", "0")
    original = docs_evaluate.prepare

    def prepare(case_: dict):
        if case_["name"] == "broken":
            raise KeyError("expected")  # a bug in a case's own code, not an AgentError
        return original(case_)

    monkeypatch.setattr(docs_evaluate, "prepare", prepare)
    broken = {**case("renamed-parameter"), "name": "broken"}
    good = case("renamed-parameter")
    with FakeMessagesAPI([tool_answer(RIGHT, "docs_answer")]) as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        records = evaluate.evaluate_agent("docs", [broken, good])
    assert records[0]["case"] == "broken"
    assert records[0]["error"] == "KeyError: 'expected'"
    assert records[1]["error"] is None
