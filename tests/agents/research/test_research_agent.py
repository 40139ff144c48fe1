"""`odyssey agent research` end to end against the fake Messages API (tests/agents/fake_api.py):
a synthetic paper (text, or a PDF generated here and served as arXiv from 127.0.0.1) -> the
request -> the scripted answer -> a draft folder that passes `odyssey validate` and is refused by
`--complete` while it is marked draft; and the failures: no key, a taken
folder, an answer failing its schema twice."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from agents.fake_api import FakeMessagesAPI, tool_answer
from agents.research.research_pdf import make_pdf
from cli_run import run

from odyssey.agents.research import source
from odyssey.tools.validate import completeness_problems, validate_paper

pytest.importorskip("anthropic")  # the agents extra
pytest.importorskip("detect_secrets")  # the agents extra
pytest.importorskip("pypdf")  # the agents extra

HERE = Path(__file__).resolve().parent
PAPER = HERE / "synthetic_paper.txt"
ANSWER: dict[str, Any] = json.loads((HERE / "synthetic_answer.json").read_text(encoding="utf-8"))
TOOL = "research_answer"


@pytest.fixture
def api_env(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Points the SDK at a FakeMessagesAPI: call with the scripted replies."""

    def start(replies: list[Any]) -> FakeMessagesAPI:
        api = FakeMessagesAPI(replies)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test")
        return api

    return start


def files_under(root: Path) -> set[str]:
    """The files and folders under `root`, without the bytecode odyssey validate's imports may
    leave (git ignores it)."""
    paths = (path.relative_to(root) for path in root.rglob("*"))
    return {str(path) for path in paths if "__pycache__" not in path.parts}


def user_text(request: dict[str, Any]) -> str:
    content = request["messages"][0]["content"]
    return content if isinstance(content, str) else "".join(b.get("text", "") for b in content)


def test_a_text_paper_becomes_a_valid_draft_folder(api_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "papers" / "tiny_digit_net"
    with api_env([tool_answer(ANSWER, TOOL)]) as api:
        status, stdout, stderr = run("agent", "research", str(PAPER), "--out", str(out))
    assert (status, stderr) == (0, ""), stdout
    assert f"wrote the draft {out}" in stdout
    report = stdout[stdout.index(f"odyssey validate {out}:") :]
    for check in ("structure", "paper.toml", "README.md", "results/", "model (a forward pass"):
        assert re.search(rf"^  {re.escape(check)}.*: passes$", report, re.MULTILINE), check
    assert "  complete (--complete): 3 problem(s)\n    paper.draft is true" in report
    # The request: the paper page-tagged, the answer tool forced, the schema as its input.
    (request,) = api.requests
    assert "[page 2]\n2 Architecture" in user_text(request)
    assert request["tool_choice"] == {"type": "tool", "name": TOOL}
    assert request["tools"][0]["input_schema"]["required"][0] == "title"
    # The folder: everything odyssey validate checks passes; the draft mark keeps it incomplete.
    assert files_under(tmp_path) == {
        "papers",
        "papers/tiny_digit_net",
        *(
            f"papers/tiny_digit_net/{name}"
            for name in (
                "DRAFT.md", "README.md", "__init__.py", "model.py", "paper.toml", "research.json",
                "results", "results/.gitkeep", "tests", "tests/test_tiny_digit_net.py",
            )
        ),
    }  # fmt: skip
    assert validate_paper(out) == []
    complete = completeness_problems(out)
    assert complete[0].startswith("paper.draft is true")
    paper_toml = (out / "paper.toml").read_text(encoding="utf-8")
    assert "draft = true" in paper_toml
    assert 'scheduler = "MultiStepLR"' in paper_toml
    assert "scheduler_args = { milestones = [6], gamma = 0.1 }" in paper_toml
    assert "paper = 0.989\nbar = 0.989" in paper_toml
    assert "augment = true\npaper = 0.991" in paper_toml
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert "| `paper-mnist` | paper | mnist | test accuracy | 98.90 % | ≥ 98.90 % | — |" in readme
    assert "He et al." in (out / "DRAFT.md").read_text(encoding="utf-8")


def test_the_drafts_own_tests_pass(api_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "tiny_digit_net"
    with api_env([tool_answer(ANSWER, TOOL)]):
        assert run("agent", "research", str(PAPER), "--out", str(out))[0] == 0
    result = pytest.main(["-q", "-p", "no:cacheprovider", str(out / "tests")])
    assert result == pytest.ExitCode.OK


def test_an_arxiv_paper_is_fetched_and_its_metadata_wins(  # type: ignore[no-untyped-def]
    api_env, mirror, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(source.ARXIV_URL_ENV, mirror.url)
    mirror.files["/api/query?id_list=2101.00001&max_results=1"] = (
        HERE / "arxiv_2101.00001.atom.xml"
    ).read_bytes()
    mirror.files["/pdf/2101.00001"] = make_pdf(PAPER.read_text(encoding="utf-8").split("\f"))
    answer = copy.deepcopy(ANSWER)
    answer["title"] = "Tiny digit net (as the model misread it)"
    answer["authors"] = ["A. Example"]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "papers").mkdir()
    with api_env([tool_answer(answer, TOOL)]) as api:
        status, stdout, stderr = run("agent", "research", "https://arxiv.org/abs/2101.00001")
    assert (status, stderr) == (0, ""), stdout
    text = user_text(api.requests[0])
    assert "- id: 2101.00001" in text
    assert "- authors: Ada Example, Ben Sample" in text
    assert "[page 3]\n3 Training" in text
    # The default folder: papers/<the template's slug of arXiv's title>.
    (folder,) = (tmp_path / "papers").iterdir()
    assert folder.name == "tinydigitnet_a_small_convolutional_for"
    paper_toml = (folder / "paper.toml").read_text(encoding="utf-8")
    assert (
        'title = "TinyDigitNet: A Small Convolutional Network for Handwritten Digits"' in paper_toml
    )
    assert 'authors = ["Ada Example", "Ben Sample"]' in paper_toml
    assert 'arxiv = "2101.00001"' in paper_toml
    assert validate_paper(folder) == []
    # Nothing outside the folder: no pyproject.toml edited or created, no stray files.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["papers"]


def test_without_a_key_it_says_so_and_writes_nothing(  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    out = tmp_path / "draft"
    status, _, stderr = run("agent", "research", str(PAPER), "--out", str(out))
    assert status == 2
    assert stderr.strip().splitlines() == [
        "odyssey agent research: ANTHROPIC_API_KEY is not set (use --dry-run to see the request "
        "without sending it)"
    ]
    assert not out.exists()


def test_a_taken_folder_is_refused_before_any_request(api_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    with api_env([]) as api:
        status, _, stderr = run("agent", "research", str(PAPER), "--out", str(out))
    assert status == 2
    assert "exists and is not empty; choose another folder or give --force" in stderr
    assert api.requests == []
    assert files_under(out) == {"notes.txt"}


def test_force_replaces_an_earlier_draft_whole(api_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "tiny"
    out.mkdir()
    (out / "paper.toml").write_text('[paper]\ntitle = "Old"\ndraft = true\n', encoding="utf-8")
    (out / "old.txt").write_text("old", encoding="utf-8")
    with api_env([tool_answer(ANSWER, TOOL)]):
        status, _, _ = run("agent", "research", str(PAPER), "--out", str(out), "--force")
    assert status == 0
    assert not (out / "old.txt").exists()
    assert (out / "paper.toml").is_file()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["tiny"]  # no stage left behind


@pytest.mark.parametrize("what", ["a folder of notes", "a finished paper", "the current folder"])
def test_force_refuses_any_folder_but_an_earlier_draft(  # type: ignore[no-untyped-def]
    api_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    if what == "a finished paper":
        (out / "paper.toml").write_text('[paper]\ntitle = "Done"\n', encoding="utf-8")
    target = str(out)
    if what == "the current folder":
        monkeypatch.chdir(out)
        target = "."
    with api_env([]) as api:
        status, _, stderr = run("agent", "research", str(PAPER), "--out", target, "--force")
    assert status == 2
    assert "is not an earlier draft (no paper.toml with draft = true)" in stderr
    assert api.requests == []
    assert "notes.txt" in files_under(out)


def test_an_answer_failing_its_schema_twice_writes_no_folder(api_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    broken = copy.deepcopy(ANSWER)
    del broken["architecture"]
    raw = tmp_path / "raw"
    out = tmp_path / "draft"
    with api_env([tool_answer(broken, TOOL), tool_answer(broken, TOOL)]) as api:
        status, _, stderr = run(
            "agent", "research", str(PAPER), "--out", str(out), "--save-raw", str(raw)
        )
    assert status == 1
    assert "the answer failed its schema twice" in stderr
    assert len(api.requests) == 2
    assert not out.exists()
    assert any(raw.iterdir())


def test_an_answer_repaired_on_the_second_round_is_used(api_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    broken = copy.deepcopy(ANSWER)
    broken["claims"][0]["confidence"] = 1.7
    out = tmp_path / "draft_paper"
    with api_env([tool_answer(broken, TOOL), tool_answer(ANSWER, TOOL)]) as api:
        status, stdout, _ = run("agent", "research", str(PAPER), "--out", str(out))
    assert status == 0, stdout
    assert "1.7 is greater than the maximum of 1" in json.dumps(api.requests[1])
    assert validate_paper(out) == []


def test_a_whole_number_float_gets_the_repair_round(api_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # JSON Schema's "integer" accepts 8.0; model.py would get nn.Conv2d(1, 8.0, ...) and
    # paper.toml year = 2021.0, so the answer goes back to the model like any invalid one.
    floats = copy.deepcopy(ANSWER)
    floats["architecture"]["layers"][0]["out_channels"] = 8.0
    floats["year"] = 2021.0
    out = tmp_path / "draft_paper"
    with api_env([tool_answer(floats, TOOL), tool_answer(ANSWER, TOOL)]) as api:
        status, stdout, _ = run("agent", "research", str(PAPER), "--out", str(out))
    assert status == 0, stdout
    assert len(api.requests) == 2
    assert "8.0 is not of type 'integer'" in json.dumps(api.requests[1])
    assert "2021.0 is not of type 'integer'" in json.dumps(api.requests[1])
    assert "nn.Conv2d(1, 8, kernel_size=5" in (out / "model.py").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("3D Convolutional Neural Networks for Action", "paper_3d_convolutional_neural"),
        ("Random", "paper_random"),
        ("???", "paper"),
    ],
)
def test_a_title_the_template_refuses_as_a_slug_gets_a_valid_one(  # type: ignore[no-untyped-def]
    api_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, title: str, slug: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "papers").mkdir()
    answer = {**ANSWER, "title": title}
    with api_env([tool_answer(answer, TOOL)]):
        status, stdout, stderr = run("agent", "research", str(PAPER))
    assert (status, stderr) == (0, ""), stdout
    (folder,) = (tmp_path / "papers").iterdir()
    assert folder.name.startswith(slug)
    assert validate_paper(folder) == []
    assert not (tmp_path / "agent-raw").exists()  # the answer is in the folder's research.json


def test_a_draft_that_cannot_be_written_keeps_the_paid_answer_for_a_retry(  # type: ignore[no-untyped-def]
    api_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    from odyssey.agents.research.draft import title_slug

    taken = tmp_path / "papers" / title_slug(ANSWER["title"])
    taken.mkdir(parents=True)
    (taken / "mine.txt").write_text("mine", encoding="utf-8")
    with api_env([tool_answer(ANSWER, TOOL)]) as api:
        status, _, stderr = run("agent", "research", str(PAPER), "--save-raw", "raw")
    assert status == 2
    assert len(api.requests) == 1
    saved = tmp_path / "raw" / "research-answer.json"
    assert f"the model's answer is saved in {saved.resolve()}" in stderr
    assert json.loads(saved.read_text(encoding="utf-8"))["answer"] == ANSWER
    # The retry asks no model.
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    out = tmp_path / "papers" / "tiny_digit_net"
    status, stdout, stderr = run(
        "agent", "research", str(PAPER), "--answer", str(saved), "--out", str(out)
    )
    assert (status, stderr) == (0, ""), stdout
    assert validate_paper(out) == []


def test_an_invalid_slug_is_refused_before_any_request(api_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with api_env([]) as api:
        status, _, stderr = run("agent", "research", str(PAPER), "--out", str(tmp_path / "3d_nets"))
        status2, _, stderr2 = run("agent", "research", str(PAPER), "--slug", "random")
    assert (status, status2) == (2, 2)
    assert "--out (the folder's name): slug: '3d_nets' is not a lowercase Python identifier" in (
        stderr
    )
    assert "--slug: slug: 'random' is a module of Python's standard library" in stderr2
    assert api.requests == []


def test_a_bad_paper_is_a_usage_error_without_a_request(api_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with api_env([]) as api:
        status, _, stderr = run("agent", "research", "not-a-paper", "--out", str(tmp_path / "x"))
    assert status == 2
    assert stderr.startswith("odyssey agent research: PAPER 'not-a-paper' is not an arXiv id")
    assert api.requests == []


def test_a_given_answer_drafts_without_a_model_or_a_key(  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    answer = tmp_path / "answer.json"
    answer.write_text(json.dumps(ANSWER), encoding="utf-8")
    first = tmp_path / "first"
    status, stdout, stderr = run(
        "agent", "research", str(PAPER), "--answer", str(answer), "--out", str(first)
    )
    assert (status, stderr) == (0, ""), stdout
    assert validate_paper(first) == []
    # A draft's research.json redraws it (after a person corrected the reading, say).
    second = tmp_path / "second"
    args = ("--answer", str(first / "research.json"), "--out", str(second))
    assert run("agent", "research", str(PAPER), *args)[0] == 0
    assert (second / "model.py").read_text() == (first / "model.py").read_text()


def test_save_answer_asks_and_stops_so_the_draft_runs_without_the_key(  # type: ignore[no-untyped-def]
    api_env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    saved, out = tmp_path / "answer.json", tmp_path / "draft_paper"
    with api_env([tool_answer(ANSWER, TOOL)]):
        status, stdout, _ = run(
            "agent", "research", str(PAPER), "--save-answer", str(saved), "--out", str(out)
        )
    assert status == 0, stdout
    assert json.loads(saved.read_text(encoding="utf-8")) == ANSWER
    assert not out.exists()  # nothing drafted, no template or model code run with the key
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    status, stdout, _ = run(
        "agent", "research", str(PAPER), "--answer", str(saved), "--out", str(out)
    )
    assert status == 0, stdout
    assert validate_paper(out) == []


def test_a_given_answer_must_match_the_schema(tmp_path: Path) -> None:
    broken = copy.deepcopy(ANSWER)
    broken["training"]["epochs"]["value"] = "eight"
    answer = tmp_path / "answer.json"
    answer.write_text(json.dumps(broken), encoding="utf-8")
    status, _, stderr = run(
        "agent", "research", str(PAPER), "--answer", str(answer), "--out", str(tmp_path / "x")
    )
    assert status == 2
    assert stderr.startswith(
        f"odyssey agent research: --answer {answer}: training/epochs/value: 'eight'"
    )
    assert not (tmp_path / "x").exists()
    status, _, stderr = run("agent", "research", str(PAPER), "--answer", str(answer), "--dry-run")
    assert status == 2
    assert "--dry-run has no request to show" in stderr


def test_sizes_beyond_any_papers_are_refused_before_anything_is_built(tmp_path: Path) -> None:
    # A PDF-shaped answer must not make validate's forward pass allocate gigabytes.
    huge = copy.deepcopy(ANSWER)
    huge["architecture"]["layers"][-1]["out_features"] = 1_000_000_000
    answer = tmp_path / "answer.json"
    answer.write_text(json.dumps(huge), encoding="utf-8")
    status, _, stderr = run(
        "agent", "research", str(PAPER), "--answer", str(answer), "--out", str(tmp_path / "x")
    )
    assert status == 2
    assert "1000000000 is greater than the maximum of 65536" in stderr
    assert not (tmp_path / "x").exists()


def test_a_dry_run_prints_the_request_and_writes_nothing(  # type: ignore[no-untyped-def]
    api_env, tmp_path: Path
) -> None:
    out = tmp_path / "draft"
    with api_env([]) as api:
        status, stdout, stderr = run(
            "agent", "research", str(PAPER), "--out", str(out), "--dry-run"
        )
    assert (status, stderr) == (0, "")
    assert api.requests == []
    assert not out.exists()
    assert "dry run, nothing sent" in stdout
    body = json.loads(stdout[stdout.index("\n{") :])
    assert body["tools"][0]["name"] == TOOL
    assert "[page 3]\n3 Training" in body["messages"][0]["content"]
