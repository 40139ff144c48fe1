"""The draft folder from an answer (odyssey.agents.research.draft and .recipe) beyond the happy
path: the answer's strings cannot break paper.toml or the README's sections, a paper whose data
is not in the catalogue still drafts a valid folder with the stand-ins said, claims become
targets only when they are test accuracies or errors, and the paper's text is cut to the budget
at a page boundary."""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from odyssey.agents.research import context
from odyssey.agents.research.draft import DraftError, render_files, write_draft
from odyssey.agents.research.recipe import accuracy_of
from odyssey.agents.research.source import PaperSource
from odyssey.tools.validate import results_table, validate_paper

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
ANSWER: dict[str, Any] = json.loads((HERE / "synthetic_answer.json").read_text(encoding="utf-8"))


def test_hostile_strings_stay_inside_their_toml_strings_and_markdown_cells() -> None:
    answer = copy.deepcopy(ANSWER)
    answer["title"] = 'Net"\n[train]\nlr = 100 # """'
    answer["authors"] = ['A "B" \\ C', "D\tE"]
    answer["summary"] = "Fine.\n## Results\n| target | ours |\n| --- | --- |\n| `x` | 1 |"
    answer["claims"][0]["conditions"] = "a | b\n## Architecture"
    files, _, _ = render_files(answer, {}, "test", "net")
    data = tomllib.loads(files["paper.toml"])
    assert data["paper"]["title"] == 'Net" [train] lr = 100 # """'
    assert data["paper"]["authors"] == ['A "B" \\ C', "D E"]
    assert data["train"]["lr"] == 0.05
    readme = files["README.md"]
    assert readme.count("\n## Results\n") == 1
    assert readme.count("\n## Architecture\n") == 1
    table, problems = results_table(readme)
    assert problems == []
    assert table is not None
    assert set(table.rows) == {"paper-mnist", "paper-mnist-augment"}


def test_the_models_text_cannot_hide_sections_or_reach_the_pull_request_as_markup(
    tmp_path: Path,
) -> None:
    answer = copy.deepcopy(ANSWER)
    answer["summary"] = (
        "Fine.\n```\nopened\n~~~\n<!-- opened\nResults\n=======\nmore\n---\n> quote, cc @maintainer"
    )
    answer["title"] = "```<!-- A Net @someone"
    answer["authors"] = []
    answer["claims"][0]["conditions"] = "<img src=x onerror=alert(1)> @org/team"
    answer["architecture"]["layers"][0]["source"] = "p. 2 <!--"
    answer["architecture"]["layers"][0]["confidence"] = 0.2  # listed in DRAFT.md
    draft = write_draft(answer, {}, "test", out=tmp_path / "net")
    assert validate_paper(draft.folder) == []
    for name in ("README.md", "DRAFT.md"):
        text = (draft.folder / name).read_text(encoding="utf-8")
        lines = text.splitlines()
        # The only fence is the README's own "How to run" block; no heading but our own.
        assert [line for line in lines if line.startswith(("```", "~~~"))] == (
            ["```", "```"] if name == "README.md" else []
        )
        assert not [line for line in lines if line.startswith(("=", "-", ">")) and "@" in line]
        assert not any(line.strip("=-") == "" and line for line in lines)
        assert re.search(r"(?<!\\)<(!--|img)", text) is None  # escaped: shown, not markup
        for mention in ("@someone", "@maintainer", "@org"):
            assert mention not in text
    readme = (draft.folder / "README.md").read_text(encoding="utf-8")
    assert readme.count("\n## Results\n") == 1


def test_a_paper_outside_the_catalogue_drafts_a_valid_folder_saying_so(tmp_path: Path) -> None:
    answer = copy.deepcopy(ANSWER)
    answer["datasets"] = [
        {"name": "CIFAR-10", "odyssey_name": None, "source": "p. 3", "confidence": 0.9}
    ]
    for claim in answer["claims"]:
        claim["dataset"] = "CIFAR-10"
    answer["architecture"]["input_shape"] = [3, 32, 32]
    answer["architecture"]["layers"][0]["in_channels"] = 3
    answer["training"]["optimizer"]["name"] = "Shampoo"
    answer["training"]["lr_schedule"].update(kind="other", description="warm restarts by hand")
    draft = write_draft(answer, {}, "test", out=tmp_path / "cifar_net")
    todos = "\n".join(draft.todos)
    for needle in (
        "dataset: the paper's (CIFAR-10) is not in `odyssey datasets`; mnist-sample stands in",
        "input: the model takes 3x32x32, odyssey's datasets give 1x28x28",
        "optimizer: the paper's 'Shampoo'",
        "lr schedule: 'warm restarts by hand'",
        "targets: no claim of the paper is a test accuracy or error on a dataset of odyssey's",
        # 3x32x32 in: the shapes and conv1's count no longer match what the paper states.
        "conv1: the paper gives output 8x24x24, the layer as written computes 8x28x28",
        "conv1: the paper counts 208 parameters, odyssey's layer has 608",
    ):
        assert needle in todos, needle
    data = tomllib.loads((draft.folder / "paper.toml").read_text(encoding="utf-8"))
    assert data["train"]["dataset"] == "mnist-sample"
    assert data["train"]["optimizer"] == "SGD"
    assert "scheduler" not in data["train"]
    assert data["targets"] == [
        {"variant": "paper", "dataset": "mnist-sample", "metric": "test_accuracy", "bar": 0.93}
    ]
    assert validate_paper(draft.folder) == []


@pytest.mark.parametrize(
    ("claim", "accuracy"),
    [
        ({"metric": "test error", "value": 0.95, "unit": "%"}, 0.9905),
        ({"metric": "error rate", "value": 0.008, "unit": "fraction"}, 0.992),
        ({"metric": "accuracy", "value": 99.1, "unit": "%"}, 0.991),
        ({"metric": "top-5 error", "value": 15.3, "unit": "%"}, None),
        ({"metric": "test loss", "value": 0.03, "unit": ""}, None),
        ({"metric": "training time", "value": 40, "unit": "seconds"}, None),
        ({"metric": "error", "value": 140, "unit": "%"}, None),
    ],
)
def test_only_top1_accuracies_and_errors_become_accuracies(
    claim: dict[str, Any], accuracy: float | None
) -> None:
    assert accuracy_of(claim) == accuracy


def test_the_template_refusing_the_slug_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DraftError, match="the paper template refused: slug"):
        write_draft(ANSWER, {}, "test", out=tmp_path / "Not-A-Slug")
    assert list(tmp_path.iterdir()) == []  # no stage left behind


def test_the_papers_text_is_cut_at_a_page_boundary_to_fit_the_budget() -> None:
    pages = [f"page {n} " + "word " * 3000 for n in range(1, 11)]  # ~15,000 characters each
    text = "\n\n".join(f"[page {n}]\n{page}" for n, page in enumerate(pages, start=1)) + "\n"
    paper = PaperSource("long.pdf", "pdf", text, 10)
    variables, (file,) = context(paper, budget_tokens=8000 + 16000)  # 48,000 characters
    assert variables["dropped_pages"] == "4-10"
    assert file.text.count("[page ") == 3
    assert file.text.rstrip().endswith("word")
    variables, (file,) = context(paper, budget_tokens=200000)
    assert variables["dropped_pages"] == ""
    assert file.text == text


@pytest.mark.parametrize(
    ("schedule", "optimizer", "scheduler"),
    [
        ({"kind": "step", "milestones": [6], "gamma": 0.1}, "SGD", "MultiStepLR"),
        ({"kind": "multistep", "milestones": [3, 6], "gamma": 0.5}, "SGD", "MultiStepLR"),
        ({"kind": "piecewise", "milestones": [2, 4], "values": [0.05, 0.005, 0.0005]}, "SGD",
         "MultiStepLR"),
        ({"kind": "exponential", "gamma": 0.9}, "SGD", "ExponentialLR"),
        ({"kind": "cosine"}, "SGD", "CosineAnnealingLR"),
        ({"kind": "one_cycle"}, "SGD", "OneCycleLR"),
        ({"kind": "constant"}, "Adam", None),
    ],
)  # fmt: skip
def test_each_mapped_recipe_builds_its_optimizer_and_scheduler(
    schedule: dict[str, Any], optimizer: str, scheduler: str | None, tmp_path: Path
) -> None:
    from odyssey.papers import build_model, build_optimizer, build_scheduler, load_paper, resolve

    answer = copy.deepcopy(ANSWER)
    answer["training"]["lr_schedule"] = {
        "description": "as given", "source": "p. 3", "confidence": 0.9, **schedule
    }  # fmt: skip
    answer["training"]["optimizer"].update(name=optimizer, weight_decay=0.0005, betas=[0.9, 0.99])
    draft = write_draft(answer, {}, "test", out=tmp_path / "net")
    config = resolve(load_paper(draft.folder))
    assert config["train"]["optimizer"] == optimizer
    assert config["train"]["scheduler"] == (scheduler or "none")
    model = build_model(config)
    built = build_optimizer(config, model.parameters())
    assert type(built).__name__ == optimizer
    made = build_scheduler(config, built, steps_per_epoch=10)
    assert (type(made).__name__ if made is not None else None) == scheduler
    # What the optimizer does not take is said, not dropped silently: SGD has no betas.
    if optimizer == "SGD":
        assert "optimizer: SGD takes no betas (the paper gives [0.9, 0.99])" in draft.todos


def test_the_paper_schema_takes_draft_as_a_boolean_only() -> None:
    from odyssey.paper_schema import problems

    def about_draft(value: object) -> list[str]:
        found = problems({"paper": {"title": "T", "draft": value}})
        return [problem.message for problem in found if problem.path == ("paper", "draft")]

    assert about_draft(True) == []
    assert about_draft(False) == []
    (message,) = about_draft("yes")
    assert message.startswith("paper.draft")
