"""The review agent's evaluation cases and their scoring: every case applies to its fixture files
and plants its bug on added lines, and `score` counts what an answer caught and what it invented."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from odyssey.agents.review.diff import parse_diff
from odyssey.agents.review.evaluate import load_case, load_cases, prepare, run_case, score

ROOT = Path(__file__).resolve().parents[2]
CASES = load_cases(ROOT / "tests" / "agents" / "eval" / "review")


def finding(file: str, line: int, rule: str = "bug") -> dict:
    return {
        "file": file,
        "line": line,
        "severity": "error",
        "rule": rule,
        "message": "m",
        "suggested_change": "",
    }


def test_there_are_at_least_four_cases() -> None:
    assert len(CASES) >= 4


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_each_planted_bug_is_on_lines_the_patch_adds(case: dict) -> None:
    added = {diff.path: diff.added for diff in parse_diff(case["patch"])}
    for expected in case["expected"]:
        assert set(expected["lines"]) <= added[expected["file"]], expected


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_each_case_applies_to_its_fixture_and_shows_the_bug_line(
    case: dict, tmp_path: Path
) -> None:
    pytest.importorskip("detect_secrets")
    variables, files = prepare(case, tmp_path)
    expected = case["expected"][0]
    diffs = {file.path: file.text for file in files if file.kind == "diff"}
    line = min(expected["lines"])
    assert any(row.startswith(f"{line:>5} + ") for row in diffs[expected["file"]].splitlines())
    assert variables["touched"] == sorted(diffs)
    assert [file.path for file in files if file.kind == "check"][-1].startswith("check: kernel")


def test_score_recall_and_false_findings() -> None:
    case = next(case for case in CASES if case["name"] == "dropout-scale")
    (expected,) = case["expected"]
    hit = finding(expected["file"], expected["lines"][0])
    added = sorted(parse_diff(case["patch"])[0].added)
    other = next(line for line in added if line not in expected["lines"])
    assert score(case, {"summary": "s", "findings": [hit]}) == {
        "recall": 1.0,
        "false_findings": 0.0,
    }
    assert score(case, {"summary": "s", "findings": [finding(expected["file"], other)]}) == {
        "recall": 0.0,
        "false_findings": 1.0,
    }
    # A finding off the added lines is dropped by the review, so it is no false finding either.
    outside = finding(expected["file"], 1)
    assert score(case, {"summary": "s", "findings": [hit, outside, hit]})["false_findings"] == 0.0
    assert score(case, {"summary": "s", "findings": []})["recall"] == 0.0


def test_a_folder_without_a_case_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not a review case"):
        load_case(tmp_path)


def test_run_case_asks_the_model_and_scores_its_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("anthropic")
    pytest.importorskip("detect_secrets")
    from agents.fake_api import FakeMessagesAPI, tool_answer

    case = next(case for case in CASES if case["name"] == "top-k-smallest")
    (expected,) = case["expected"]
    answer = {"summary": "s", "findings": [finding(expected["file"], expected["lines"][0])]}
    with FakeMessagesAPI([tool_answer(answer, "review_answer")]) as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test")
        result = run_case(case, stream=io.StringIO())
    assert (result["case"], result["recall"], result["false_findings"]) == ("top-k-smallest", 1, 0)
    assert result["input_tokens"] == 1000
    (request,) = api.requests
    assert "best = np.argsort(logits, axis=1)[:, :k]" in request["messages"][0]["content"]


def test_the_harness_runs_the_review_cases_on_its_own_loader(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytest.importorskip("anthropic")
    pytest.importorskip("detect_secrets")
    import json

    from agents.fake_api import FakeMessagesAPI, tool_answer

    from odyssey.agents import evaluate as harness

    cases = harness.load_cases(ROOT / "tests" / "agents" / "eval" / "review")
    assert [case["name"] for case in cases] == [case["name"] for case in CASES]
    answers = [
        tool_answer(
            {
                "summary": "s",
                "findings": [finding(c["expected"][0]["file"], c["expected"][0]["lines"][0])],
            },
            "review_answer",
        )
        for c in cases
    ]
    out = tmp_path / "scores.json"
    with FakeMessagesAPI(answers) as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test")
        cases_root = str(ROOT / "tests" / "agents" / "eval")
        status = harness.main(["--cases", cases_root, "--agent", "review", "--json", str(out)])
    assert status == 0
    assert len(api.requests) == len(cases)
    review = json.loads(out.read_text())["agents"]["review"]
    assert [record["case"] for record in review["cases"]] == [case["name"] for case in cases]
    assert review["mean"] == {"recall": 1.0, "false_findings": 0.0}
