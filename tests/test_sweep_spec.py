"""odyssey.sweep.spec and plan: seeds, grid and random syntax, reproducible draws, the checks of
keys against the paper, and the threads x parallel plan — nothing here trains."""

from __future__ import annotations

import pytest
from cli_run import run
from test_papers import TINY

from odyssey import papers
from odyssey.sweep import SweepError, build_spec, plan
from odyssey.sweep.spec import (
    format_value,
    parse_distribution,
    parse_grid,
    parse_seeds,
    split_values,
)


def test_seeds_ranges_lists_and_mixes() -> None:
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("0,2,5") == [0, 2, 5]
    assert parse_seeds("3") == [3]
    assert parse_seeds("0-1, 7") == [0, 1, 7]
    assert parse_seeds("0-9999") == list(range(10_000))  # as many as a sweep may have


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4-0", "runs backwards"),
        ("a", "expected seeds as 0-4 or 0,2,5"),
        ("-1", "expected seeds"),
        ("0,,1", "expected seeds"),
        ("0-2,1", "seed 1 is listed twice"),
        ("0-10000", "lists more than 10,000 seeds"),
        ("0-9999,20000-100000000", "lists more than 10,000 seeds"),
    ],
)
def test_bad_seeds_are_named(text: str, expected: str) -> None:
    with pytest.raises(SweepError, match=expected) as caught:
        parse_seeds(text)
    assert str(caught.value).startswith("--seeds")


def test_grid_values_keep_brackets_whole() -> None:
    assert split_values("0.01,0.05,[1, 2],{a = 1, b = 2},'x,y'") == [
        "0.01",
        "0.05",
        "[1, 2]",
        "{a = 1, b = 2}",
        "'x,y'",
    ]
    assert parse_grid("train.lr=0.01,0.1") == ("train.lr", ["0.01", "0.1"])
    for bad in ("train.lr", "train.lr=", "=0.1", "train.lr=0.1,,0.2"):
        with pytest.raises(SweepError, match="--grid: expected key=v1,v2"):
            parse_grid(bad)
    with pytest.raises(SweepError, match="listed twice"):
        parse_grid("train.lr=0.1,0.1")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("train.lr=normal(0,1)", "unknown distribution 'normal'"),
        ("train.lr=loguniform(0,1)", "must be positive"),
        ("train.lr=uniform(1,0)", "low < high"),
        ("train.lr=uniform(1)", "takes two bounds"),
        ("train.lr=uniform(a,b)", "must be numbers"),
        ("train.batch_size=randint(1.5,3)", "must be integers"),
        ("train.lr=0.1", "expected key=loguniform"),
    ],
)
def test_bad_distributions_are_named(text: str, expected: str) -> None:
    with pytest.raises(SweepError, match=expected) as caught:
        parse_distribution(text)
    assert str(caught.value).startswith("--random")


def test_values_go_back_through_set_unchanged() -> None:
    for value in (0.05, 1e-5, 0.1 + 0.2, 3, True, "SGD", [0.0, 0.1], {"a": 1, "b": [1, 2]}):
        assert papers.parse_set(f"k={format_value(value)}")[1] == value


def _spec(**options):
    arguments = {
        "paper_name": str(TINY),
        "variant": None,
        "seeds": "0-1",
        "grid": [],
        "random": [],
        "trials": None,
        "metric": "test_accuracy",
        "mode": None,
        **options,
    }
    return build_spec(**arguments)[0]


def test_the_random_draws_are_reproducible_and_within_bounds() -> None:
    options = {
        "random": ["train.lr=loguniform(1e-3,1e-1)", "train.optimizer=choice(SGD,Adam)"],
        "trials": 6,
        "grid": ["train.batch_size=32,64"],
    }
    first, again = _spec(**options), _spec(**options)
    assert first.configurations() == again.configurations()
    assert first.configurations() != _spec(**options, sample_seed=1).configurations()
    configurations = first.configurations()
    assert len(configurations) == 12  # each draw with each grid point
    assert all(1e-3 <= c["train.lr"] <= 1e-1 for c in configurations)
    assert {c["train.optimizer"] for c in configurations} <= {"SGD", "Adam"}
    trials = first.expand()
    assert len(trials) == 24  # two seeds each
    assert [t.seed for t in trials[:4]] == [0, 1, 0, 1]
    assert len({t.name for t in trials}) == 24


def test_unknown_keys_and_bad_values_are_caught_before_anything_runs(tmp_path) -> None:
    out = tmp_path / "sweep"
    status, _stdout, err = run(
        "sweep", str(TINY), "--grid", "train.learning_rate=0.1", "--out", str(out)
    )
    assert status == 2
    assert "unknown key 'train.learning_rate'" in err
    assert not out.exists()
    status, _, err = run(
        "sweep", str(TINY), "--grid", "train.optimizer=SGD,Nope", "--out", str(out)
    )
    assert status == 2
    assert "Nope" in err
    assert "train.optimizer=Nope" in err
    for argv, expected in [
        (["--seeds", "2-1"], "--seeds: the range '2-1' runs backwards"),
        (["--random", "train.lr=uniform(0,1)"], "--random needs --trials N"),
        (["--trials", "3"], "--trials N counts the --random draws"),
        (["--grid", "train.seed=1,2"], "seeds are swept by --seeds"),
        (
            ["--grid", "train.lr=1,2", "--random", "train.lr=uniform(0,1)", "--trials", "2"],
            "swept twice",
        ),
        (["--metric", "val_acc"], "--metric: expected one of"),
        (["--parallel", "0"], "--parallel must be >= 1"),
        (["--address", "auto"], "--address goes with --backend ray"),
    ]:
        status, _, err = run("sweep", str(TINY), *argv, "--out", str(out))
        assert (status, err.splitlines()[0].split(": ", 1)[0]) == (2, "odyssey sweep"), argv
        assert expected in err, argv
        assert len(err.splitlines()) == 1
    assert not out.exists()


def test_the_plan_fills_the_cores_and_refuses_more() -> None:
    assert plan(2, 10, None, None) == (2, 1)
    assert plan(2, 1, None, None) == (1, 2)  # one trial: both cores for it
    assert plan(8, 10, 2, None) == (2, 4)
    assert plan(8, 10, None, 2) == (4, 2)
    assert plan(8, 3, None, 2) == (3, 2)
    assert plan(4, 10, 2, 2) == (2, 2)
    with pytest.raises(SweepError, match="exceeds the 2 core"):
        plan(2, 10, 2, 2)
    with pytest.raises(SweepError, match="--threads 3 exceeds"):
        plan(2, 10, None, 3)
    with pytest.raises(SweepError, match="--threads must be >= 1"):
        plan(2, 10, None, 0)


def test_a_sweep_resumed_after_the_recipe_changed_is_refused(tmp_path) -> None:
    from test_papers import write_paper

    from odyssey.sweep import Sweep

    paper = write_paper(tmp_path / "tiny")
    spec = _spec(paper_name=str(paper), grid=["train.lr=0.1,0.2"])
    Sweep(spec, tmp_path / "sweep").write()  # the definition stored, nothing run
    Sweep(_spec(paper_name=str(paper), grid=["train.lr=0.1,0.2"]), tmp_path / "sweep").prepare()
    toml = (paper / "paper.toml").read_text()
    (paper / "paper.toml").write_text(toml.replace("batch_size = 64", "batch_size = 32"))
    changed = _spec(paper_name=str(paper), grid=["train.lr=0.1,0.2"])
    assert changed.recipe != spec.recipe
    with pytest.raises(SweepError, match="holds another sweep \\(recipe_sha256"):
        Sweep(changed, tmp_path / "sweep").prepare()


def test_an_accuracys_error_bars_stay_within_0_and_1() -> None:
    from odyssey.sweep.report import error_bars

    # The max_lr=0.3 row of docs/sweeps.md: 29.23 % ± 36.08 % over 70.90, 8.40 and 8.40.
    assert error_bars("test_accuracy", [0.2923, 0.95], [0.3608, 0.1]) == [
        [0.2923, 0.1],
        [0.3608, pytest.approx(0.05)],
    ]
    assert error_bars("test_loss", [0.2], [0.3]) == [[0.3], [0.3]]
