"""The research assistant's evaluation (odyssey.agents.research.evaluate): the LeNet-5 case reads
as the agent would read it, a faithful answer scores 1 on every measure, and each kind of mistake
costs its own measure."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from odyssey.agents.core import load_agent
from odyssey.agents.research.draft import render_files
from odyssey.agents.research.evaluate import load_case, prepare, score

pytest.importorskip("anthropic")  # the agents extra
pytest.importorskip("detect_secrets")  # the agents extra
pytest.importorskip("pypdf")  # the agents extra

HERE = Path(__file__).resolve().parent
CASE = load_case(HERE.parent / "eval" / "research" / "lenet5")
ANSWER = json.loads((HERE / "lenet5_answer.json").read_text(encoding="utf-8"))


def test_the_reference_answer_is_valid_against_the_output_schema() -> None:
    jsonschema.Draft202012Validator(load_agent("research").output_schema).validate(ANSWER)


def test_the_case_gives_the_agent_the_page_tagged_paper() -> None:
    variables, files = prepare(CASE)
    assert variables["pages"] == 2
    assert files[0].text.startswith("[page 1]\nNotes on LeNet-5")
    assert "[page 2]\n3 Training" in files[0].text


def test_a_faithful_answer_scores_one_everywhere() -> None:
    scores = score(CASE, ANSWER)
    assert scores == dict.fromkeys(scores, 1.0)
    assert set(scores) == {
        "input_shape", "layer_shapes", "layer_parameters", "total_parameters", "epochs",
        "batch_size", "schedule", "dataset", "claims", "sources", "overall",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("mistake", "measure", "value"),
    [
        (
            lambda a: a["architecture"]["layers"][3].update(output_shape=[16, 12, 12]),
            "layer_shapes",
            6 / 7,
        ),
        (lambda a: a["architecture"].update(total_parameters=61706), "total_parameters", 0.0),
        (lambda a: a["architecture"].update(total_parameters=60840), "total_parameters", 1.0),
        (lambda a: a["training"]["lr_schedule"].update(values=[0.0005, 0.0001]), "schedule", 2 / 5),
        (lambda a: a["claims"].pop(2), "claims", 0.5),
        (lambda a: a["claims"][0].update(augmented=True), "claims", 0.5),
        (lambda a: a["claims"][0].update(value=0.095, unit="fraction"), "claims", 0.5),
        (lambda a: a["training"]["epochs"].update(value=12), "epochs", 0.0),
        (lambda a: a["datasets"][0].update(odyssey_name=None), "dataset", 0.0),
    ],
)
def test_each_mistake_costs_its_measure(mistake, measure: str, value: float) -> None:  # type: ignore[no-untyped-def]
    answer = copy.deepcopy(ANSWER)
    mistake(answer)
    scores = score(CASE, answer)
    assert scores[measure] == pytest.approx(value)
    assert scores["overall"] <= 1.0


def test_the_lenet5_reading_drafts_a_folder_with_its_todos() -> None:
    files, model, todos = render_files(ANSWER, {}, "lenet5 case", "lenet5_draft")
    # S2, C3, S4 and the RBF output have no odyssey.nn layer: stand-ins, each a TODO; so do the
    # 32x32 input, SDLM, the schedule's uneven steps, the MAP loss, the init and the distortions.
    text = "\n".join(todos)
    for needle in (
        "S2: odyssey.nn has no layer", "C3: odyssey.nn has no layer", "OUTPUT: odyssey.nn has no",
        "input: the model takes 1x32x32", "optimizer: the paper's 'stochastic diagonal",
        "lr schedule:", "loss: the paper's", "initialisation:", "augmentation:",
    ):  # fmt: skip
        assert needle in text, needle
    assert model.output_shape == (10,)
    assert (
        "| `paper-mnist` | paper | mnist | test accuracy | 99.05 % | ≥ 99.00 % | — |"
        in files["README.md"]
    )


def test_the_harness_runs_the_lenet5_case_through_the_agent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agents.fake_api import FakeMessagesAPI, tool_answer

    from odyssey.agents.evaluate import evaluate_agent, load_cases

    (case,) = load_cases(HERE.parent / "eval" / "research")
    with FakeMessagesAPI([tool_answer(ANSWER, "research_answer")]) as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test")
        (record,) = evaluate_agent("research", [case])
    assert record["error"] is None
    assert record["scores"]["overall"] == 1.0
    assert "[page 2]\n3 Training" in api.requests[0]["messages"][0]["content"]
