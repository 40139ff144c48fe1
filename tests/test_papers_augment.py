"""`train.augment` and `train.augment_args`: the paper's distortions (RandomAffine) on the training
split only, keyed by (seed, epoch, image), from paper.toml, --set and `odyssey train --augment`."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_cli_train import run, train_args
from test_papers import TINY, error_of, problem_in, tiny_toml, write_paper

from odyssey import papers
from odyssey.data.keys import SampleKeys
from odyssey.data.loader import epoch_order
from odyssey.data.transforms import RandomAffine

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

LENET5 = Path(__file__).parents[1] / "papers" / "lenet5"


def with_train(
    tmp_path: Path, train: dict[str, Any], variant: dict[str, Any] | None = None
) -> Path:
    """The tiny paper with `train` added to its [train] (and `variant` to its first variant's)."""
    data = tiny_toml()
    data["train"].update(train)
    if variant is not None:
        data["variants"][0]["train"].update(variant)
    return write_paper(tmp_path / "p", data)


def first_batches(loader, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(images.copy(), labels.copy()) for images, labels in itertools.islice(loader, count)]


# --- The keys -----------------------------------------------------------------------------------


def test_augment_is_off_by_default_with_the_default_ranges_recorded() -> None:
    train = papers.resolve(papers.load_paper(TINY))["train"]
    assert train["augment"] is False
    assert train["augment_args"] == papers.AUGMENT_DEFAULTS
    assert papers.build_augmentation({"train": train}) is None
    # The keys sit in the documented order, and the docstring documents both.
    assert list(train) == [k for k in papers.TRAIN_KEYS if k in train]
    assert "augment_args" in papers.__doc__
    for name, value in papers.AUGMENT_DEFAULTS.items():
        assert name in papers.__doc__, name
        RandomAffine(**{"degrees": 0, name: value})  # every default is a value it takes


def test_paper_variant_and_set_arguments_add_to_the_defaults(tmp_path) -> None:
    folder = with_train(
        tmp_path,
        {"augment": True, "augment_args": {"shear": 5, "scale": [0.8, 1.2]}},
        variant={"augment_args": {"shear": 3}},
    )
    paper = papers.load_paper(folder)
    train = papers.resolve(paper)["train"]
    assert train["augment"] is True
    assert train["augment_args"] == {**papers.AUGMENT_DEFAULTS, "shear": 3, "scale": [0.8, 1.2]}
    train = papers.resolve(
        paper,
        sets=["train.augment=false", "train.augment_args.translate=[0.2, 0.1]"],
    )["train"]
    assert train["augment"] is False
    assert train["augment_args"]["translate"] == [0.2, 0.1]
    assert train["augment_args"]["shear"] == 3
    # A whole table replaces the paper's arguments; the defaults still fill the rest.
    train = papers.resolve(paper, sets=["train.augment_args={squeeze = 0.2}"])["train"]
    assert train["augment_args"] == {**papers.AUGMENT_DEFAULTS, "squeeze": 0.2}
    transform = papers.build_augmentation({"train": {**train, "augment": True}})
    assert isinstance(transform, RandomAffine)
    assert transform.squeeze == pytest.approx((0.8, 1.2))
    assert transform.shear_x == (
        -papers.AUGMENT_DEFAULTS["shear"],
        papers.AUGMENT_DEFAULTS["shear"],
    )


def test_the_flag_and_set_turn_it_on_and_off(tmp_path) -> None:
    paper = papers.load_paper(TINY)
    assert papers.resolve(paper, flags={"augment": True})["train"]["augment"] is True
    assert papers.resolve(paper, flags={"augment": None})["train"]["augment"] is False
    assert papers.resolve(paper, sets=["train.augment=true"])["train"]["augment"] is True
    on = papers.load_paper(with_train(tmp_path, {"augment": True}))  # --no-augment turns it off
    assert papers.resolve(on, flags={"augment": False})["train"]["augment"] is False


@pytest.mark.parametrize(
    ("train", "expected"),
    [
        ({"augment": "yes"}, "train.augment must be a boolean, got 'yes' (str)"),
        ({"augment": 1}, "train.augment must be a boolean, got 1 (int)"),
        ({"augment_args": 3}, "train.augment_args must be a table, got 3 (int)"),
        (
            {"augment_args": {"rotate": 3}},
            "train.augment_args.rotate: unknown argument; RandomAffine takes: degrees, translate,",
        ),
        (
            {"augment_args": {"squeeze": 1.5}},
            "train.augment_args.squeeze: RandomAffine: squeeze must be in [0, 1)",
        ),
        (
            {"augment_args": {"translate": [0.1]}},
            "train.augment_args.translate: RandomAffine: translate must be a sequence (a, b)",
        ),
        (
            {"augment_args": {"scale": [1.2, 0.8]}},
            "train.augment_args.scale: RandomAffine: scale must have low <= high",
        ),
        ({"augment_args": {"shear": "x"}}, "train.augment_args.shear: RandomAffine: shear must be"),
    ],
)
def test_paper_errors_name_the_key_and_what_is_expected(tmp_path, train, expected) -> None:
    folder = with_train(tmp_path, train)
    problem = problem_in(error_of(papers.load_paper, folder), folder / "paper.toml")
    assert problem.startswith(expected), problem


def test_a_variant_s_bad_argument_names_the_variant(tmp_path) -> None:
    folder = with_train(tmp_path, {}, variant={"augment_args": {"fill": "white"}})
    message = error_of(papers.load_paper, folder)
    assert "variants[0].train.augment_args.fill: RandomAffine: fill must be" in message


@pytest.mark.parametrize(
    ("sets", "flags", "expected"),
    [
        (["train.augment=yes"], {}, "--set train.augment must be a boolean, got 'yes' (str)"),
        (["train.augment_args=1"], {}, "--set train.augment_args must be a table, got 1 (int)"),
        (["train.augment_args.shear=95"], {}, "train.augment_args.shear: RandomAffine: shear"),
        (["train.augment_args.rot=1"], {}, "train.augment_args.rot: unknown argument;"),
        ([], {"augment": "on"}, "--augment must be a boolean, got 'on' (str)"),
    ],
)
def test_override_errors_name_the_key(sets, flags, expected) -> None:
    message = error_of(papers.resolve, papers.load_paper(TINY), sets=sets, flags=flags)
    assert message.startswith(expected), message


# --- The data -----------------------------------------------------------------------------------


def test_augmented_batches_are_the_transform_of_the_plain_ones_keyed_by_seed_epoch_index() -> None:
    paper = papers.load_paper(TINY)
    plain_config = papers.resolve(paper, sets=["train.val_size=0"])
    config = papers.resolve(paper, flags={"augment": True}, sets=["train.val_size=0"])
    plain = papers.build_data(plain_config)
    data = papers.build_data(config)
    assert plain.train_loader.transform is None
    seed, batch_size = config["train"]["seed"], config["train"]["batch_size"]
    reference = RandomAffine(**papers.AUGMENT_DEFAULTS)
    order = epoch_order(seed, 0, len(data.train))
    for k, ((images, labels), (plain_images, plain_labels)) in enumerate(
        zip(first_batches(data.train_loader, 2), first_batches(plain.train_loader, 2), strict=True)
    ):
        np.testing.assert_array_equal(labels, plain_labels)  # the same shuffle
        assert not np.array_equal(images, plain_images)
        indices = order[k * batch_size : (k + 1) * batch_size]
        expected = reference(plain_images, SampleKeys(seed, 0, indices))
        np.testing.assert_array_equal(images, expected)


def test_augmentation_is_deterministic_by_the_seed() -> None:
    paper = papers.load_paper(TINY)

    def batch(seed: int) -> np.ndarray:
        config = papers.resolve(paper, flags={"augment": True, "seed": seed})
        loader = papers.build_data(config).train_loader
        return first_batches(loader, 1)[0][0]

    first = batch(0)
    assert first.tobytes() == batch(0).tobytes()
    assert not np.array_equal(first, batch(1))


def test_val_and_test_splits_are_never_augmented() -> None:
    paper = papers.load_paper(TINY)  # val_size = 500
    plain = papers.build_data(papers.resolve(paper))
    data = papers.build_data(papers.resolve(paper, flags={"augment": True}))
    assert data.val_loader is not None
    assert data.val_loader.transform is None
    assert data.test_loader.transform is None
    for loader, plain_loader in (
        (data.val_loader, plain.val_loader),
        (data.test_loader, plain.test_loader),
    ):
        for (images, labels), (plain_images, plain_labels) in zip(
            first_batches(loader, 2), first_batches(plain_loader, 2), strict=True
        ):
            assert images.tobytes() == plain_images.tobytes()
            np.testing.assert_array_equal(labels, plain_labels)


def test_a_resumed_loader_continues_with_the_same_distorted_batches() -> None:
    config = papers.resolve(papers.load_paper(TINY), flags={"augment": True})
    loader = papers.build_data(config).train_loader
    next(iter(loader))  # finish epoch 0 partly, then one more epoch starts below
    loader.set_epoch(1)
    batches = first_batches(loader, 3)
    again = papers.build_data(config).train_loader
    again.set_epoch(1)
    first_batches(again, 2)
    state = again.state_dict()
    resumed = papers.build_data(config).train_loader
    resumed.load_state_dict(state)
    images, labels = first_batches(resumed, 1)[0]
    assert images.tobytes() == batches[2][0].tobytes()
    np.testing.assert_array_equal(labels, batches[2][1])


def test_lenet5_documents_its_distortions() -> None:
    paper = papers.load_paper(LENET5)
    for variant in paper.variants:
        config = papers.resolve(paper, variant["name"], flags={"augment": True})
        transform = papers.build_augmentation(config)
        assert isinstance(transform, RandomAffine)
        # The paper's: translation, scaling, squeezing, horizontal shearing; no rotation.
        assert transform.degrees == (0.0, 0.0)
        assert min(transform.translate) > 0
        assert transform.scale[0] < 1 < transform.scale[1]
        assert transform.squeeze[0] < 1 < transform.squeeze[1]
        assert transform.shear_x[0] < 0 < transform.shear_x[1]
        assert transform.shear_y == (0.0, 0.0)


# --- odyssey train --augment --------------------------------------------------------------------


def test_odyssey_train_augment_records_it(tmp_path) -> None:
    pytest.importorskip("odyssey.train.trainer")
    out = tmp_path / "run"
    status, _, stderr = run(*train_args(out, "--augment", "--set", "train.augment_args.shear=5"))
    assert status == 0, stderr
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["train"]["augment"] is True
    assert config["train"]["augment_args"] == {**papers.AUGMENT_DEFAULTS, "shear": 5}


def test_the_resume_command_keeps_the_augment_flag() -> None:
    import argparse

    from odyssey.cli.train import resume_command

    fields = dict.fromkeys(("variant", "dataset", "epochs", "batch_size", "lr", "seed"))
    base = argparse.Namespace(
        paper="lenet5", threads=None, out="r", sets=[], augment=None, **fields
    )
    assert "--augment" not in resume_command(base, Path("r/last.safetensors"))
    on = argparse.Namespace(**{**vars(base), "augment": True})
    assert resume_command(on, Path("c.safetensors")).endswith(
        "--out r --augment --resume c.safetensors"
    )
    off = argparse.Namespace(**{**vars(base), "augment": False})
    assert "--no-augment" in resume_command(off, Path("c.safetensors"))


# --- [[targets]] augment ------------------------------------------------------------------------


def test_a_target_may_say_it_is_trained_with_distortions(tmp_path) -> None:
    data = tiny_toml()
    data["targets"].append(
        {"variant": "conv", "dataset": "mnist-sample", "metric": "test_accuracy", "bar": 0.9}
    )
    data["targets"][0]["augment"] = True
    paper = papers.load_paper(write_paper(tmp_path / "p", data))
    assert paper.targets[0]["augment"] is True
    assert "augment" not in paper.targets[1]  # absent: trained without distortions
    assert "paper" not in paper.targets[1]  # no reference value to quote
    data["targets"][0]["augment"] = "yes"
    folder = write_paper(tmp_path / "q", data)
    assert error_of(papers.load_paper, folder).endswith(
        "targets[0].augment must be a boolean, got 'yes' (str)"
    )
    del data["targets"][1]["bar"]
    data["targets"][0]["augment"] = False
    folder = write_paper(tmp_path / "r", data)
    assert error_of(papers.load_paper, folder).endswith("targets[1]: missing key 'bar' (a number)")


def test_lenet5_targets_of_the_modern_variant() -> None:
    paper = papers.load_paper(LENET5)
    rows = {
        (t["dataset"], t.get("augment", False)): t
        for t in paper.targets
        if t["variant"] == "modern"
    }
    assert rows[("mnist-sample", True)]["bar"] == 0.980
    assert rows[("fashion-mnist", False)]["bar"] == 0.903
    assert rows[("fashion-mnist", True)]["bar"] == 0.910
    assert all(t["metric"] == "test_accuracy" for t in rows.values())
