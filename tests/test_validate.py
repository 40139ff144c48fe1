"""`odyssey validate`: a valid paper passes; each way of breaking one is reported with the message
and exit status expected, every problem listed; --run trains targets and records them;
--complete catches a README that claims more than the recorded results."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import tomli_w
from cli_run import run
from test_papers import TINY, tiny_toml

from odyssey import paper_schema, papers
from odyssey.tools import validate

LENET5 = Path(__file__).resolve().parents[1] / "papers" / "lenet5"

README = """# A tiny classifier

The paper in brief.

## Architecture

Flatten, a hidden ReLU layer, ten logits.

## How to run

`odyssey train tiny`

## Results

| target | dataset | ours: mean ± std |
| --- | --- | --- |
| `relu-mnist-sample` | mnist-sample | — |
"""


def valid_paper(folder: Path, data: dict | None = None) -> Path:
    """The tests' tiny paper made whole: package, README with its results table, tests."""
    shutil.copytree(TINY, folder)
    (folder / "__init__.py").write_text('"""A tiny paper."""\n')
    (folder / "README.md").write_text(README)
    (folder / "tests").mkdir()
    (folder / "tests" / "test_tiny.py").write_text("def test_nothing():\n    pass\n")
    if data is not None:
        (folder / "paper.toml").write_text(tomli_w.dumps(data))
    return folder


def edit_toml(folder: Path, edit) -> None:
    data = tiny_toml()
    edit(data)
    (folder / "paper.toml").write_text(tomli_w.dumps(data))


def test_a_valid_paper_passes(tmp_path) -> None:
    folder = valid_paper(tmp_path / "tiny")
    assert validate.validate_paper(folder) == []
    assert run("validate", str(folder)) == (0, "tiny: valid\n", "")


def test_lenet5_is_valid_and_its_recorded_results_agree_with_its_readme() -> None:
    assert validate.validate_paper(LENET5) == []
    # Complete but for the two full-MNIST rows, which cannot be run on a machine without MNIST.
    missing = validate.completeness_problems(LENET5)
    assert [m.split("`")[1] for m in missing] == ["faithful-mnist", "faithful-mnist-augment"]
    assert all("no recorded result" in m for m in missing)


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (lambda f: (f / "model.py").unlink(), r"^model\.py is missing"),
        (lambda f: (f / "__init__.py").unlink(), r"^__init__\.py is missing"),
        (lambda f: shutil.rmtree(f / "tests"), r"^tests/ holds no test_\*\.py"),
        (lambda f: (f / "paper.toml").write_text("[paper\n"), r"paper\.toml: invalid TOML"),
        (
            lambda f: edit_toml(f, lambda d: d["train"].update(epochs="two")),
            r"paper\.toml:\d+: train\.epochs must be an int, got 'two' \(str\)$",
        ),
        (
            lambda f: edit_toml(f, lambda d: d["targets"][0].pop("metric")),
            r"paper\.toml:\d+: targets\[0\]: missing key 'metric' \(one of test_accuracy, ",
        ),
        (
            lambda f: edit_toml(f, lambda d: d["targets"][0].update(metric="top5")),
            r"targets\[0\]\.metric: unknown 'top5'; choices: test_accuracy, test_loss$",
        ),
        (
            lambda f: (f / "model.py").write_text("import no_such_module\n"),
            r"model\.py: importing it failed: ModuleNotFoundError: No module named "
            r"'no_such_module'",
        ),
        (
            lambda f: edit_toml(f, lambda d: d["train"].update(input_shape=[1, 27, 28])),
            r"^variant relu: the forward pass on a batch of shape \(2, 1, 27, 28\) failed: ",
        ),
        (
            lambda f: (f / "README.md").write_text(README.replace("## How to run", "## Usage")),
            r"^README\.md: no `## How to run` section$",
        ),
        (
            lambda f: (f / "README.md").write_text(README.replace("relu-mnist-sample", "relu")),
            r"^README\.md: the results table has no row for target `relu-mnist-sample`$",
        ),
        (
            lambda f: (f / "README.md").write_text(README.replace("| target |", "| row |")),
            r"^README\.md: the Results section has no table with a `target` column",
        ),
        (
            lambda f: (f / "README.md").write_bytes(b"\xff\xfe# x"),
            r"^README\.md: cannot be read as UTF-8 text",
        ),
        (
            lambda f: (f / "model.py").write_text(
                (TINY / "model.py")
                .read_text()
                .replace(
                    "super().__init__()",
                    "super().__init__()\n        raise RuntimeError('boom')",
                    1,
                )
            ),
            r"^variant relu: building TinyNet failed: RuntimeError: boom$",
        ),
        (
            lambda f: (f / "model.py").write_text("import sys\nsys.exit(3)\n"),
            r"model\.py: importing it called sys\.exit\(3\)$",
        ),
        (
            lambda f: (f / "model.py").write_text(
                (TINY / "model.py").read_text().replace("return self.net(x)", "return (x, x)")
            ),
            r"^variant relu: the forward pass returned tuple; expected one tensor",
        ),
        (lambda f: (f / "results").write_text(""), r"^results is not a folder"),
        (
            lambda f: edit_toml(f, lambda d: d["targets"][0].update(bar=float("nan"))),
            r"targets\[0\]\.bar must be a finite number, got nan$",
        ),
        (
            lambda f: edit_toml(f, lambda d: d["targets"][0].update(bar=1.5)),
            r"targets\[0\]\.bar: an accuracy is in \[0, 1\], got 1\.5$",
        ),
        (
            lambda f: edit_toml(f, lambda d: d["targets"][0].update(sets=["train.seed=5"])),
            r"targets\[0\]\.sets\[0\]: train\.seed is the row's own",
        ),
        (
            lambda f: edit_toml(f, lambda d: d["variants"][0].update(name="../x")),
            r"variants\[0\]\.name: '\.\./x' must be letters, digits",
        ),
        (
            lambda f: edit_toml(f, lambda d: d.pop("targets")),
            r"no \[\[targets\]\]; a paper claims at least one result$",
        ),
    ],
)
def test_each_breakage_is_reported_with_exit_2(tmp_path, breakage, expected) -> None:
    folder = valid_paper(tmp_path / "tiny")
    breakage(folder)
    found = validate.validate_paper(folder)
    assert any(re.search(expected, problem) for problem in found), found
    status, out, err = run("validate", str(folder))
    assert status == 2
    assert all(line.startswith("tiny: ") for line in out.splitlines())
    assert "1 of 1 paper(s) not valid" in err


def test_every_problem_is_listed_not_only_the_first(tmp_path) -> None:
    folder = valid_paper(tmp_path / "tiny")

    def three_mistakes(data: dict) -> None:
        data["paper"]["year"] = "2026"
        data["train"]["batch_size"] = 0
        data["variants"][1]["colour"] = "red"

    edit_toml(folder, three_mistakes)
    (folder / "tests" / "test_tiny.py").unlink()
    found = validate.validate_paper(folder)
    assert [problem.split(": ", 1)[1] for problem in found if "paper.toml:" in problem] == [
        "paper.year must be an int, got '2026' (str)",
        "train.batch_size must be >= 1, got 0",
        "variants[1]: unknown key 'colour'; valid keys: name, model, model_args, description, "
        "train",
    ]
    assert "tests/ holds no test_*.py (a paper has its own fast tests)" in found

    # Beyond the schema too: every name that does not exist, not only the first.
    def two_unknown_names(data: dict) -> None:
        data["train"]["optimizer"] = "SDG"
        data["variants"][1]["train"]["dataset"] = "mnsit"

    edit_toml(folder, two_unknown_names)
    found = validate.validate_paper(folder)
    assert any("train.optimizer: unknown 'SDG'" in problem for problem in found), found
    assert any("variants[1].train.dataset: unknown 'mnsit'" in problem for problem in found)


def test_schema_errors_name_the_line_of_the_key(tmp_path) -> None:
    source = """[paper]
title = "T"
year = "1998"

[train]
dataset = "mnist-sample"
epochs = 1
batch_size = 8
lr = 0.1

[[variants]]
name = "a"
model = "TinyNet"

[[variants]]
name = "b"
model = "TinyNet"
train = { lr = -1.0 }
colour = "red"
description = '''a string
[[variants]]
over lines'''

[variants.model_args]
hidden = 4

[[targets]]
variant = "a"
dataset = "mnist-sample"
metric = "test_accuracy"
bar = "high"
sets = [
    "train.lr=0.2",
    3,
]
"""
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "paper.toml").write_text(source)
    with pytest.raises(papers.PaperError) as error:
        papers.load_paper(folder)
    found = error.value.problems
    path = folder / "paper.toml"
    assert found == [
        f"{path}:3: paper.year must be an int, got '1998' (str)",
        f"{path}:18: variants[1].train.lr must be > 0, got -1.0",
        f"{path}:19: variants[1]: unknown key 'colour'; valid keys: name, model, model_args, "
        "description, train",
        f"{path}:31: targets[0].bar must be a number, got 'high' (str)",
        f"{path}:32: targets[0].sets[1] must be a string, got 3 (int)",
    ]


def document_paths(data, path=()):
    """Every path of a parsed TOML document."""
    yield path
    items = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else ()
    )
    for key, value in items:
        yield from document_paths(value, (*path, key))


def test_every_key_of_lenet5_s_paper_toml_has_its_line() -> None:
    text = (LENET5 / "paper.toml").read_text()
    data = papers._read_toml(LENET5 / "paper.toml")[0]
    lines = text.splitlines()
    for path in document_paths(data):
        if not path or isinstance(path[-1], int) or path[-2:-1] == ("augment_args",):
            continue
        line = paper_schema.line_of(text, path)
        assert line is not None, path
        assert str(path[-1]) in lines[line - 1], (path, lines[line - 1])


def test_schema_is_printed_and_is_a_json_schema() -> None:
    status, out, _ = run("validate", "--schema")
    assert status == 0
    schema = json.loads(out)
    assert schema["title"] == "paper.toml"
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(schema)


def test_fast_takes_files_inside_papers_and_skips_the_model(tmp_path) -> None:
    folder = valid_paper(tmp_path / "tiny")
    (folder / "model.py").write_text("raise RuntimeError('not imported by --fast')\n")
    assert run("validate", "--fast", str(folder / "README.md"), str(folder / "model.py"))[0] == 0
    edit_toml(folder, lambda d: d["train"].update(lr="x"))
    status, out, _ = run("validate", "--fast", str(folder / "paper.toml"))
    assert status == 2
    assert "train.lr must be a number" in out


def test_bad_arguments_are_usage_errors(tmp_path) -> None:
    assert run("validate")[0] == 2
    assert "takes no papers" in run("validate", "--schema", str(LENET5))[2]
    assert "--available goes with --complete" in run("validate", "--all", "--available")[2]
    (tmp_path / "afile").write_text("")
    status, _, err = run("validate", str(LENET5), "--run", "--out", str(tmp_path / "afile"))
    assert (status, "is a file" in err) == (2, True)
    status, _, err = run("validate", "--fast", str(tmp_path / "afile"))
    assert (status, "no paper folder holds" in err) == (2, True)
    assert "--seeds must be >= 1" in run("validate", "--all", "--run", "--seeds", "0")[2]
    assert "go with --run" in run("validate", "--all", "--quick")[2]
    status, _, err = run("validate", str(tmp_path / "nowhere"))
    assert status == 2
    assert "no paper folder" in err


# --- --run and --complete ---------------------------------------------------------------------


def with_targets(folder: Path, targets: list[dict]) -> None:
    data = tiny_toml()
    data["targets"] = targets
    (folder / "paper.toml").write_text(tomli_w.dumps(data))
    table = "\n".join(f"| `{papers.target_id(t)}` | mnist-sample | — |" for t in targets)
    (folder / "README.md").write_text(
        README.replace("| `relu-mnist-sample` | mnist-sample | — |", table)
    )


ONE_EPOCH = {"variant": "relu", "dataset": "mnist-sample", "metric": "test_accuracy", "epochs": 1}


def test_run_records_a_met_target_and_complete_checks_the_readme(tmp_path) -> None:
    folder = valid_paper(tmp_path / "tiny")
    with_targets(folder, [{**ONE_EPOCH, "name": "quick", "bar": 0.5}])
    status, out, _ = run(
        "validate", str(folder), "--run", "--seeds", "2", "--out", str(tmp_path / "runs")
    )
    assert status == 0, out
    result = validate.read_result(folder / "results" / "quick.json")
    assert result["seeds"] == [0, 1]
    assert len(result["values"]) == 2
    assert result["met"] is True
    assert {"commit", "date", "machine", "isa"} <= set(result)
    measure = validate.format_measure("test_accuracy", result["mean"], result["std"])
    assert measure in out
    # The README does not quote it yet: incomplete.
    status, out, _ = run("validate", str(folder), "--complete")
    assert status == 2
    assert "the README says '—'" in out
    readme = (folder / "README.md").read_text()
    (folder / "README.md").write_text(
        readme.replace("| mnist-sample | — |", f"| mnist-sample | **{measure}** |")
    )
    assert run("validate", str(folder), "--complete")[0] == 0
    # A better number edited in by hand is caught, however it is dressed.
    better = validate.format_measure("test_accuracy", result["mean"] + 0.01, result["std"])
    row = "| `quick` | mnist-sample | {} |"
    for cell in (better, f"{better} (was {measure})", f"1{measure}", f"{measure}; 99.90 ± 0.01 %"):
        (folder / "README.md").write_text(readme.replace(row.format("—"), row.format(cell)))
        status, out, _ = run("validate", str(folder), "--complete")
        assert status == 2, cell
        assert "the README says" in out
        assert f"the recorded result (results/quick.json) is {measure}" in out
    (folder / "README.md").write_text(
        readme.replace(row.format("—"), row.format(better) + "\n" + row.format(measure))
    )
    assert "two rows for `quick`" in run("validate", str(folder))[1]
    (folder / "README.md").write_text(readme.replace(row.format("—"), row.format(measure)))
    # A record edited by hand (its mean no longer its values') is refused.
    recorded = (folder / "results" / "quick.json").read_text()
    (folder / "results" / "quick.json").write_text(
        recorded.replace(f'"mean": {result["mean"]}', '"mean": 0.99')
    )
    assert "mean and std are not those of its values" in run("validate", str(folder))[1]
    (folder / "results" / "quick.json").write_text(recorded)
    assert run("validate", str(folder), "--complete")[0] == 0
    # A result recorded for another definition of the target, or another recipe, is stale.
    with_targets(folder, [{**ONE_EPOCH, "name": "quick", "bar": 0.5, "augment": True}])
    (folder / "README.md").write_text(readme.replace(row.format("—"), row.format(measure)))
    assert "recorded for another definition" in run("validate", str(folder), "--complete")[1]
    with_targets(folder, [{**ONE_EPOCH, "name": "quick", "bar": 0.5}])
    (folder / "README.md").write_text(readme.replace(row.format("—"), row.format(measure)))
    assert run("validate", str(folder), "--complete")[0] == 0
    edit = (folder / "paper.toml").read_text().replace("hidden = 32", "hidden = 16")
    (folder / "paper.toml").write_text(edit)
    _, out, _ = run("validate", str(folder), "--complete")
    assert "the configuration it trains (model, arguments, recipe) differ" in out


def test_a_missed_bar_exits_1_with_the_value_beside_the_bar(tmp_path) -> None:
    folder = valid_paper(tmp_path / "tiny")
    absent = {"variant": "relu", "dataset": "kmnist", "metric": "test_accuracy", "bar": 0.5}
    with_targets(folder, [{**ONE_EPOCH, "name": "hard", "bar": 0.999}, absent])
    status, out, _ = run(
        "validate", str(folder), "--run", "--quick", "--out", str(tmp_path / "runs")
    )
    assert status == 1, out
    row = next(line for line in out.splitlines() if "hard" in line and "missed" in line)
    assert re.search(r"\d+\.\d\d ± 0\.00 %", row)
    assert "≥ 99.90 %" in row
    assert "skipped" in out
    assert "odyssey datasets fetch kmnist" in out
    assert not (folder / "results").exists()  # --quick records nothing
