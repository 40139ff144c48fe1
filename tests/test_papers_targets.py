"""A [[targets]] row's own settings: `epochs` and `sets` (`--set`-style assignments), checked when
the paper is read by applying them to the row's variant."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_papers import error_of, tiny_toml, write_paper

from odyssey import papers

LENET5 = Path(__file__).parents[1] / "papers" / "lenet5"


def with_target(tmp_path: Path, **row) -> Path:
    data = tiny_toml()
    data["targets"][0].update(row)
    return write_paper(tmp_path / "p", data)


def test_a_target_may_give_its_epochs_and_sets(tmp_path) -> None:
    sets = ["train.augment_args.hflip=0.5", "variant.model_args.hidden=16", "train.lr=0.2"]
    paper = papers.load_paper(with_target(tmp_path, epochs=5, augment=True, sets=sets))
    row = paper.targets[0]
    assert row["epochs"] == 5
    assert row["sets"] == sets
    # The row's run: its variant with the row's epochs, augment and sets.
    config = papers.resolve(paper, row["variant"], {"epochs": 5, "augment": True}, row["sets"])
    assert config["train"]["epochs"] == 5
    assert config["train"]["augment_args"]["hflip"] == 0.5
    assert config["train"]["lr"] == 0.2
    assert config["variant"]["model_args"] == {"hidden": 16}
    assert "epochs" in papers.__doc__
    assert "sets" in papers.__doc__


def test_without_them_a_target_is_as_before() -> None:
    paper = papers.load_paper(papers.find_paper(Path(__file__).parent / "data/papers/tiny"))
    assert "epochs" not in paper.targets[0]
    assert "sets" not in paper.targets[0]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"epochs": 0}, "targets[0].epochs must be >= 1, got 0"),
        ({"epochs": 2.5}, "targets[0].epochs must be an int, got 2.5 (float)"),
        ({"sets": "train.lr=0.1"}, "targets[0].sets must be a list, got 'train.lr=0.1' (str)"),
        ({"sets": ["train.lr=0.1", 3]}, "targets[0].sets[1] must be a string, got 3 (int)"),
        ({"sets": ["train.lr"]}, "targets[0].sets[0]: --set expects key=value, got 'train.lr'"),
        ({"sets": ["train.nope=1"]}, "targets[0].sets[0]: --set: unknown key 'train.nope'"),
        ({"sets": ["train.lr=0.1", "train.lr=-1"]}, "targets[0].sets[1]: --set train.lr must"),
        (
            {"sets": ["train.augment_args.hflip=2"]},
            "targets[0].sets[0]: train.augment_args.hflip: RandomAffine: hflip must be in [0, 1]",
        ),
        ({"sets": ["train.optimizer=Nope"]}, "targets[0].sets[0]: --set train.optimizer: unknown"),
    ],
)
def test_bad_target_settings_fail_when_the_paper_is_read(tmp_path, row, message) -> None:
    error = error_of(papers.load_paper, with_target(tmp_path, **row))
    assert error.startswith(str(tmp_path / "p" / "paper.toml"))
    assert message in error


def test_lenet5_fashion_mnist_rows_give_their_runs() -> None:
    paper = papers.load_paper(LENET5)
    rows = {
        t.get("augment", False): t
        for t in paper.targets
        if (t["variant"], t["dataset"]) == ("modern", "fashion-mnist")
    }
    assert rows[False]["epochs"] == 10
    distorted = rows[True]
    config = papers.resolve(
        paper,
        "modern",
        {"dataset": "fashion-mnist", "epochs": distorted["epochs"], "augment": True},
        distorted.get("sets", []),
    )
    arguments = config["train"]["augment_args"]
    assert arguments["hflip"] > 0  # clothes, unlike digits, look the same mirrored
    assert arguments["shear"] == 0
    assert arguments["squeeze"] == 0
