"""odyssey.papers: finding papers, checking paper.toml, resolving overrides, building a run."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomli_w

import odyssey
from odyssey import optim, papers
from odyssey.optim import lr_scheduler
from odyssey.papers import PaperError

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

TINY = Path(__file__).parent / "data" / "papers" / "tiny"


def tiny_toml() -> dict[str, Any]:
    return tomllib.loads((TINY / "paper.toml").read_text())


def write_paper(folder: Path, data: dict[str, Any] | None = None) -> Path:
    """A copy of the tiny paper in `folder`, with `data` as its paper.toml when given."""
    shutil.copytree(TINY, folder)
    if data is not None:
        (folder / "paper.toml").write_text(tomli_w.dumps(data))
    return folder


def problem_in(message: str, file: Path) -> str:
    """The problem of a `file:line: problem` message (the line: the key's, or its table's)."""
    place, _, problem = message.partition(": ")
    assert re.fullmatch(rf"{re.escape(str(file))}(:\d+)?", place), message
    return problem


def error_of(call, *args, **kwargs) -> str:
    with pytest.raises(PaperError) as caught:
        call(*args, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- Finding papers -----------------------------------------------------------------------------


def test_find_by_path_absolute_and_relative(tmp_path, monkeypatch) -> None:
    assert papers.find_paper(TINY) == TINY.resolve()
    monkeypatch.chdir(TINY.parent)
    assert papers.find_paper("tiny") == TINY.resolve()
    assert papers.find_paper("./tiny") == TINY.resolve()


@pytest.fixture
def no_installed_papers(monkeypatch) -> None:
    """Hides the papers installed with ml-odyssey itself (its wheel ships lenet5 as an entry
    point), for the tests that list exactly the papers found."""
    monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points([]))


def test_find_by_slug_under_papers_of_the_current_directory(tmp_path, no_installed_papers) -> None:
    folder = write_paper(tmp_path / "papers" / "mine")
    assert papers.find_paper("mine", cwd=tmp_path) == folder
    assert papers.available_papers(cwd=tmp_path) == {"mine": folder}


def test_find_by_slug_under_papers_of_the_repository(tmp_path, no_installed_papers) -> None:
    repository = tmp_path / "repository"
    (repository / ".git").mkdir(parents=True)
    folder = write_paper(repository / "papers" / "deep")
    inside = repository / "src" / "sub"
    inside.mkdir(parents=True)
    assert papers.find_paper("deep", cwd=inside) == folder
    # Outside the repository it is not found, and the error says where it looked.
    (tmp_path / "elsewhere").mkdir()
    message = error_of(papers.find_paper, "deep", cwd=tmp_path / "elsewhere")
    assert "unknown paper 'deep'" in message
    assert str(tmp_path / "elsewhere" / "papers") in message


def fake_entry_points(points: list[importlib.metadata.EntryPoint]):
    def entry_points(**selection):
        return [p for p in points if all(getattr(p, k) == v for k, v in selection.items())]

    return entry_points


def test_find_installed_papers_through_entry_points(tmp_path, monkeypatch) -> None:
    package = tmp_path / "site" / "thirdparty"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    write_paper(package / "lenet_like")
    (package / "lenet_like" / "__init__.py").write_text("raise RuntimeError('never imported')")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    points = [
        importlib.metadata.EntryPoint("lenet-like", "thirdparty.lenet_like", "odyssey.papers"),
        importlib.metadata.EntryPoint("missing", "not_installed.pkg", "odyssey.papers"),
        importlib.metadata.EntryPoint("other", "thirdparty.lenet_like", "something.else"),
    ]
    monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points(points))
    found = papers.find_paper("lenet-like", cwd=tmp_path)
    assert found == (package / "lenet_like").resolve()
    assert papers.available_papers(cwd=tmp_path) == {"lenet-like": found}
    # A local folder of the same slug wins over the installed one.
    local = write_paper(tmp_path / "papers" / "lenet-like")
    assert papers.find_paper("lenet-like", cwd=tmp_path) == local


def test_unknown_paper_lists_the_papers_found(tmp_path, no_installed_papers) -> None:
    write_paper(tmp_path / "papers" / "alpha")
    write_paper(tmp_path / "papers" / "beta")
    (tmp_path / "papers" / "not-a-paper").mkdir()
    message = error_of(papers.find_paper, "gamma", cwd=tmp_path)
    assert message == "unknown paper 'gamma'; papers found: alpha, beta"


def test_a_folder_without_paper_toml_is_named(tmp_path) -> None:
    message = error_of(papers.find_paper, tmp_path)
    assert message == f"{tmp_path} holds no paper.toml; a paper folder needs one"


def test_a_path_that_is_not_there_is_not_looked_up_as_a_slug(tmp_path) -> None:
    write_paper(tmp_path / "papers" / "tiny")
    for name in ("papers/tinyy", "./tiny", tmp_path / "nowhere"):
        message = error_of(papers.find_paper, name, cwd=tmp_path)
        assert message.startswith("no paper folder at ")


# --- Reading paper.toml -----------------------------------------------------------------------


def test_load_paper_reads_every_table() -> None:
    paper = papers.load_paper(TINY)
    assert paper.slug == "tiny"
    assert paper.path == TINY.resolve()
    assert paper.info["year"] == 2026
    assert paper.variant_names == ["relu", "conv"]
    assert paper.train["optimizer_args"] == {"momentum": 0.9}
    assert paper.targets == [
        {
            "variant": "relu",
            "dataset": "mnist-sample",
            "metric": "test_accuracy",
            "paper": 0.95,
            "bar": 0.8,
        }
    ]


def edited(edit) -> dict[str, Any]:
    data = tiny_toml()
    edit(data)
    return data


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d.update(extra=1), "unknown key 'extra'; valid keys: paper, train, variants"),
        (lambda d: d.update(paper=1), "paper must be a table, got 1 (int)"),
        (lambda d: d["paper"].pop("title"), "paper: missing key 'title' (a string)"),
        (lambda d: d["paper"].update(year="1998"), "paper.year must be an int, got '1998' (str)"),
        (lambda d: d["paper"].update(authors=["a", 2]), "paper.authors[1] must be a string"),
        (lambda d: d["train"].update(epochs=2.5), "train.epochs must be an int, got 2.5 (float)"),
        (lambda d: d["train"].update(epochs=True), "train.epochs must be an int, got True"),
        (lambda d: d["train"].update(epochs=0), "train.epochs must be >= 1, got 0"),
        (lambda d: d["train"].update(lr="fast"), "train.lr must be a number, got 'fast' (str)"),
        (lambda d: d["train"].update(optimizer="SDG"), "train.optimizer: unknown 'SDG'; choices:"),
        (lambda d: d["train"].update(dataset="cifar"), "train.dataset: unknown 'cifar'; choices:"),
        (
            lambda d: d["train"].update(scheduler_interval="batch"),
            "train.scheduler_interval: unknown 'batch'; choices: epoch, step",
        ),
        (lambda d: d["train"].update(lrr=1), "train: unknown key 'lrr'; valid keys: dataset"),
        (lambda d: d.pop("variants"), "no [[variants]]; a paper needs at least one"),
        (lambda d: d["variants"][1].pop("model"), "variants[1]: missing key 'model' (a string)"),
        (
            lambda d: d["variants"][1].update(name="relu"),
            "variants[1].name: 'relu' is used twice",
        ),
        (
            lambda d: d["variants"][0]["train"].update(batch_size=-1),
            "variants[0].train.batch_size must be >= 1, got -1",
        ),
        (
            lambda d: d["targets"][0].update(variant="tanh"),
            "targets[0].variant: unknown variant 'tanh'; variants: relu, conv",
        ),
        (lambda d: d["targets"][0].pop("bar"), "targets[0]: missing key 'bar' (a number)"),
    ],
)
def test_paper_toml_mistakes_name_the_file_and_key(tmp_path, edit, expected) -> None:
    folder = write_paper(tmp_path / "bad", edited(edit))
    problem = problem_in(error_of(papers.load_paper, folder), folder / "paper.toml")
    assert problem.startswith(expected)


def test_invalid_toml_and_a_missing_file(tmp_path) -> None:
    folder = write_paper(tmp_path / "bad")
    (folder / "paper.toml").write_text("[paper\n")
    assert "paper.toml: invalid TOML" in error_of(papers.load_paper, folder)
    (folder / "paper.toml").unlink()
    assert error_of(papers.load_paper, folder).startswith(f"cannot read {folder / 'paper.toml'}")


# --- Resolving overrides ----------------------------------------------------------------------


def test_overrides_apply_paper_then_variant_then_flags_then_set() -> None:
    paper = papers.load_paper(TINY)
    train = papers.resolve(paper)["train"]
    assert train["lr"] == 0.1  # the relu variant's, over [train]'s 0.05
    assert train["epochs"] == 2  # [train]'s
    assert papers.resolve(paper, flags={"lr": 0.2, "epochs": None})["train"]["lr"] == 0.2
    config = papers.resolve(
        paper,
        flags={"lr": 0.2, "epochs": 3, "batch_size": 16, "seed": 7, "threads": 1},
        sets=["train.lr=0.3", "train.lr=0.4"],
    )
    train = config["train"]
    assert (train["lr"], train["epochs"], train["batch_size"], train["seed"]) == (0.4, 3, 16, 7)
    assert train["threads"] == 1
    assert config["variant"] == {"name": "relu", "model": "TinyNet", "model_args": {"hidden": 32}}
    assert config["paper"]["slug"] == "tiny"
    assert config["paper"]["path"] == str(TINY.resolve())
    # Defaults fill what the paper leaves out; the order of keys is the documented one.
    assert list(train) == [k for k in papers.TRAIN_KEYS if k in train]
    assert train["scheduler_monitor"] == "val_loss"
    assert "threads" not in papers.resolve(paper)["train"]  # absent, so TOML can write it


def test_a_variant_s_arguments_add_to_the_paper_s_unless_it_names_another_class(
    tmp_path,
) -> None:
    paper = papers.load_paper(TINY)
    assert papers.resolve(paper, "conv")["train"]["optimizer_args"] == {"betas": [0.9, 0.99]}
    data = tiny_toml()
    data["variants"][0]["train"] = {"optimizer_args": {"nesterov": True}}
    paper = papers.load_paper(write_paper(tmp_path / "p", data))
    assert papers.resolve(paper)["train"]["optimizer_args"] == {"momentum": 0.9, "nesterov": True}


def test_set_parses_toml_values_and_falls_back_to_strings() -> None:
    assert papers.parse_set("train.lr=1e-3") == ("train.lr", 0.001)
    assert papers.parse_set("train.epochs = 3") == ("train.epochs", 3)
    assert papers.parse_set("x=true") == ("x", True)
    assert papers.parse_set("x=[0.8, 0.9]") == ("x", [0.8, 0.9])
    assert papers.parse_set("x={a = 1}") == ("x", {"a": 1})
    assert papers.parse_set('x="quoted"') == ("x", "quoted")
    assert papers.parse_set("train.dataset=mnist") == ("train.dataset", "mnist")
    assert papers.parse_set("x=1979-05-27") == ("x", "1979-05-27")
    assert papers.parse_set("x=a=b") == ("x", "a=b")
    assert papers.parse_set("x=") == ("x", "")
    for bad in ("lr", "=3", " =3"):
        assert error_of(papers.parse_set, bad) == f"--set expects key=value, got {bad!r}"


def test_set_reaches_argument_tables_and_an_int_is_a_float() -> None:
    paper = papers.load_paper(TINY)
    config = papers.resolve(
        paper,
        sets=[
            "train.lr=1",
            "train.optimizer_args.nesterov=true",
            "train.scheduler_args.gamma=0.9",
            "variant.model_args.hidden=8",
            "train.dataset=mnist-sample",
        ],
    )
    assert config["train"]["lr"] == 1.0
    assert isinstance(config["train"]["lr"], float)
    assert config["train"]["optimizer_args"] == {"momentum": 0.9, "nesterov": True}
    assert config["train"]["scheduler_args"] == {"step_size": 1, "gamma": 0.9}
    assert config["variant"]["model_args"] == {"hidden": 8}
    # Another optimizer starts from its own arguments, which may follow.
    config = papers.resolve(
        paper, sets=["train.optimizer=Adam", "train.optimizer_args.betas=[0.8, 0.9]"]
    )
    assert config["train"]["optimizer_args"] == {"betas": [0.8, 0.9]}
    config = papers.resolve(paper, sets=["train.optimizer_args={}"])
    assert config["train"]["optimizer_args"] == {}


@pytest.mark.parametrize(
    ("sets", "expected"),
    [
        (["train.epochs=two"], "--set train.epochs must be an int, got 'two' (str)"),
        (["train.epochs=1.5"], "--set train.epochs must be an int, got 1.5 (float)"),
        (["train.lr=fast"], "--set train.lr must be a number, got 'fast' (str)"),
        (["train.lr=0"], "--set train.lr must be > 0, got 0"),
        (["train.lr=nan"], "--set train.lr must be a finite number > 0, got nan"),
        (["train.val_size=-1"], "--set train.val_size must be >= 0, got -1"),
        (
            ["train.optimizer=SDG"],
            "--set train.optimizer: unknown 'SDG'; choices: Adagrad, Adam, AdamW, RMSprop, SGD",
        ),
        (["train.dataset=cifar"], "--set train.dataset: unknown 'cifar'; choices: mnist, "),
        (["train.optimizer_args=3"], "--set train.optimizer_args must be a table, got 3 (int)"),
        (["train.epoch=2"], "--set: unknown key 'train.epoch'; valid keys: train.dataset, "),
        (["lr=2"], "--set: unknown key 'lr'; valid keys: train.dataset, "),
        (["train.optimizer_args.=1"], "--set: unknown key 'train.optimizer_args.'"),
        (["paper.title=x"], "--set: unknown key 'paper.title'; valid keys:"),
    ],
)
def test_set_errors_name_the_key_and_what_is_expected(sets, expected) -> None:
    message = error_of(papers.resolve, papers.load_paper(TINY), sets=sets)
    assert message.startswith(expected)


def test_unknown_set_key_lists_every_valid_key() -> None:
    message = error_of(papers.resolve, papers.load_paper(TINY), sets=["nope=1"])
    for key in papers.TRAIN_KEYS:
        assert f"train.{key}" in message
    assert "variant.model_args.<name>" in message


def test_flag_errors_name_the_flag() -> None:
    paper = papers.load_paper(TINY)
    assert error_of(papers.resolve, paper, flags={"batch_size": 0}) == (
        "--batch-size must be >= 1, got 0"
    )
    assert error_of(papers.resolve, paper, flags={"dataset": "svhn"}).startswith(
        "--dataset: unknown 'svhn'; choices: mnist"
    )


def test_unknown_variant_lists_the_variants() -> None:
    message = error_of(papers.resolve, papers.load_paper(TINY), "tanh")
    assert message == "unknown variant 'tanh' of tiny; variants: relu, conv"


def test_a_missing_required_key_names_where_to_set_it(tmp_path) -> None:
    folder = write_paper(tmp_path / "p", edited(lambda d: d["train"].pop("epochs")))
    message = error_of(papers.resolve, papers.load_paper(folder))
    assert message == (
        f"{folder / 'paper.toml'}: train.epochs is missing (an int in [train] or in variant "
        "'relu''s train table)"
    )
    config = papers.resolve(papers.load_paper(folder), sets=["train.epochs=1"])
    assert config["train"]["epochs"] == 1


# --- Building the model, the optimizer, the scheduler and the data ---------------------------


def test_build_model_with_its_arguments_and_a_seed() -> None:
    config = papers.resolve(papers.load_paper(TINY), sets=["variant.model_args.hidden=8"])
    odyssey.manual_seed(3)
    model = papers.build_model(config)
    assert type(model).__name__ == "TinyNet"
    assert model.state_dict()["net.1.weight"].shape == (8, 784)
    odyssey.manual_seed(3)
    again = papers.build_model(config)
    assert np.array_equal(model.state_dict()["net.1.weight"], again.state_dict()["net.1.weight"])
    logits = model(odyssey.zeros(2, 1, 28, 28))
    assert logits.shape == (2, 10)


def test_model_errors_name_the_key_and_the_choices(tmp_path) -> None:
    paper = papers.load_paper(TINY)
    config = papers.resolve(paper, sets=["variant.model_args.hiden=8"])
    assert error_of(papers.build_model, config) == (
        "variant.model_args.hiden: unknown argument; TinyNet takes: hidden, num_classes"
    )
    folder = write_paper(tmp_path / "p", edited(lambda d: d["variants"][0].update(model="Big")))
    config = papers.resolve(papers.load_paper(folder))
    assert error_of(papers.build_model, config) == (
        f"variant.model: {folder / 'model.py'} defines no class 'Big'; classes: TinyNet, "
        "TinyConvNet"
    )
    (folder / "model.py").unlink()
    assert error_of(papers.build_model, config) == (
        f"{folder} has no model.py; a paper defines its models there"
    )


MODELS = """
from __future__ import annotations

from typing import Optional

from odyssey import nn


class Net(nn.Module):
    def __init__(self, width: int = 4, scale: float = 1.0, name: Optional[str] = None,
                 bias=True, depth=2, **extra):
        super().__init__()
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.fc = nn.Linear(3, width, bias=bias)
"""


def net_config(tmp_path: Path, **model_args: Any) -> dict[str, Any]:
    folder = tmp_path / "net"
    folder.mkdir(exist_ok=True)
    (folder / "model.py").write_text(MODELS)
    return {
        "paper": {"slug": "net", "path": str(folder)},
        "variant": {"name": "a", "model": "Net", "model_args": model_args},
    }


@pytest.mark.parametrize(
    ("model_args", "expected"),
    [
        ({"width": "x"}, "variant.model_args.width must be an int, got 'x' (str)"),
        ({"width": 2.0}, "variant.model_args.width must be an int, got 2.0 (float)"),
        ({"width": True}, "variant.model_args.width must be an int, got True (bool)"),
        ({"scale": "big"}, "variant.model_args.scale must be a number, got 'big' (str)"),
        ({"name": 3}, "variant.model_args.name must be a string, got 3 (int)"),
        ({"bias": 1}, "variant.model_args.bias must be a boolean, got 1 (int)"),  # the default's
        ({"depth": 1.5}, "variant.model_args.depth must be an int, got 1.5 (float)"),
        (
            {"width": 0, "depth": 2},
            "variant.model_args.width: Net(width=0, depth=2) failed: ValueError: width must be "
            ">= 1, got 0",
        ),
        (
            {"width": 3, "depth": 0},
            "variant.model_args.depth: Net(width=3, depth=0) failed: ValueError: depth must be "
            ">= 1, got 0",
        ),
        (
            {"width": 0, "depth": 0},  # leaving out either one does not help: both are named
            "variant.model_args: Net(width=0, depth=0) failed: ValueError: width must be >= 1",
        ),
    ],
)
def test_model_argument_mistakes_name_the_key(tmp_path, model_args, expected) -> None:
    assert error_of(papers.build_model, net_config(tmp_path, **model_args)).startswith(expected)


def test_model_arguments_of_the_right_type_build(tmp_path) -> None:
    # An int for a float, None for an Optional, anything for an unannotated argument without a
    # typed default, and **extra arguments.
    config = net_config(tmp_path, width=2, scale=2, name=None, other=[1, 2])
    assert papers.build_model(config).fc.weight.shape == (2, 3)
    config = net_config(tmp_path, name="n", scale=0.5, bias=False)
    assert papers.build_model(config).fc.bias is None


def test_a_model_that_fails_without_arguments_names_variant_model(tmp_path) -> None:
    config = net_config(tmp_path)
    (Path(config["paper"]["path"]) / "model.py").write_text(
        MODELS.replace("super().__init__()", "raise TypeError('broken')")
    )
    assert error_of(papers.build_model, config) == (
        "variant.model: Net() failed: TypeError: broken"
    )


def test_model_modules_are_unique_per_folder_and_leave_sys_path_alone(tmp_path) -> None:
    first = write_paper(tmp_path / "a" / "tiny")
    second = write_paper(tmp_path / "b" / "tiny")
    (second / "helpers.py").write_text("WIDTH = 5\n")
    (second / "model.py").write_text(
        (second / "model.py").read_text() + "\nfrom helpers import WIDTH\n"
    )
    path_before = list(sys.path)
    one = papers.load_model_module(first)
    two = papers.load_model_module(second)
    assert sys.path == path_before
    assert one.__name__ != two.__name__
    assert two.WIDTH == 5
    assert not hasattr(one, "WIDTH")
    assert one.TinyNet is not two.TinyNet


def test_build_optimizer_by_name_with_lr_and_arguments() -> None:
    paper = papers.load_paper(TINY)
    config = papers.resolve(paper, sets=["train.optimizer_args.weight_decay=0.001"])
    model = papers.build_model(config)
    optimizer = papers.build_optimizer(config, model.parameters())
    assert isinstance(optimizer, optim.SGD)
    group = optimizer.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"]) == (0.1, 0.9, 0.001)
    config = papers.resolve(paper, "conv")
    optimizer = papers.build_optimizer(config, papers.build_model(config).parameters())
    assert isinstance(optimizer, optim.Adam)
    assert tuple(optimizer.param_groups[0]["betas"]) == (0.9, 0.99)


def test_optimizer_argument_errors_name_the_key() -> None:
    paper = papers.load_paper(TINY)
    config = papers.resolve(paper, sets=["train.optimizer_args.momentun=0.5"])
    message = error_of(papers.optimizer_factory, config)
    assert message.startswith("train.optimizer_args.momentun: unknown argument; SGD takes: ")
    assert "momentum" in message
    assert "lr" in message
    config = papers.resolve(paper, sets=["train.optimizer_args.lr=0.5"])
    assert error_of(papers.optimizer_factory, config) == (
        "train.optimizer_args.lr: the learning rate is train.lr; set that instead"
    )
    config = papers.resolve(paper, sets=["train.optimizer_args.momentum=-1"])
    make = papers.optimizer_factory(config)
    message = error_of(make, papers.build_model(config).parameters())
    assert message.startswith("train.optimizer_args: ")
    assert "momentum" in message


def test_build_scheduler_by_name_with_its_arguments() -> None:
    paper = papers.load_paper(TINY)
    config = papers.resolve(paper, sets=["train.scheduler_args.gamma=0.25"])
    optimizer = papers.build_optimizer(config, papers.build_model(config).parameters())
    scheduler = papers.build_scheduler(config, optimizer)
    assert isinstance(scheduler, lr_scheduler.StepLR)
    scheduler.step()
    assert scheduler.get_last_lr() == pytest.approx([0.1 * 0.25])
    config = papers.resolve(paper, sets=["train.scheduler=none"])
    assert papers.build_scheduler(config, optimizer) is None
    assert papers.scheduler_factory(config) is None


def test_one_cycle_gets_the_run_s_length_unless_given() -> None:
    paper = papers.load_paper(TINY)
    config = papers.resolve(
        paper, sets=["train.scheduler=OneCycleLR", "train.scheduler_args.max_lr=0.5"]
    )
    optimizer = papers.build_optimizer(config, papers.build_model(config).parameters())
    # Sized to the number of times the Trainer steps it: once an epoch (the tiny paper's
    # scheduler_interval), or after each of the 7 training steps of an epoch.
    assert papers.build_scheduler(config, optimizer, steps_per_epoch=7).total_steps == 2
    config["train"]["scheduler_interval"] = "step"
    scheduler = papers.build_scheduler(config, optimizer, steps_per_epoch=7)
    assert scheduler.total_steps == 2 * 7
    config["train"]["scheduler_args"]["total_steps"] = 5
    assert papers.build_scheduler(config, optimizer, steps_per_epoch=7).total_steps == 5


@pytest.mark.parametrize(
    ("sets", "expected"),
    [
        (
            ["train.scheduler_monitor=val_acc"],
            "train.scheduler_monitor: 'val_acc' is not a metric the Classifier logs; choices: "
            "val_loss, val_accuracy, train_loss, train_accuracy, train_loss_epoch, "
            "train_accuracy_epoch",
        ),
        (
            ["train.scheduler_interval=step", "train.scheduler_monitor=lr"],
            "train.scheduler_monitor: 'lr' is not a metric the Classifier logs; choices: "
            "train_loss, train_accuracy",
        ),
        (
            ["train.val_size=0"],
            "train.scheduler_monitor: 'val_loss' needs a validation split, but train.val_size is "
            "0; hold images out with train.val_size (e.g. --set train.val_size=500) or monitor "
            "train_loss",
        ),
        (
            ["train.scheduler_interval=step"],
            "train.scheduler_interval: ReduceLROnPlateau stepped after every training step "
            "cannot monitor 'val_loss' (it exists only once a validation or an epoch is over); "
            'set train.scheduler_interval = "epoch", or monitor train_loss or train_accuracy',
        ),
        (
            ["train.scheduler_interval=step", "train.scheduler_monitor=train_loss_epoch"],
            "train.scheduler_interval: ReduceLROnPlateau stepped after every training step "
            "cannot monitor 'train_loss_epoch' (it exists only once a validation or an epoch is "
            'over); set train.scheduler_interval = "epoch", or monitor train_loss or '
            "train_accuracy",
        ),
        (
            ["train.scheduler_monitor=train_accuracy"],
            "train.scheduler_args.mode: train_accuracy is better higher, so ReduceLROnPlateau "
            'monitoring it needs mode = "max", got "min"',
        ),
        (
            ["train.scheduler_args.mode=max"],
            "train.scheduler_args.mode: val_loss is better lower, so ReduceLROnPlateau "
            'monitoring it needs mode = "min", got "max"',
        ),
    ],
)
def test_plateau_monitor_mistakes_are_found_when_resolving(sets, expected) -> None:
    paper = papers.load_paper(TINY)
    sets = ["train.scheduler=ReduceLROnPlateau", *sets]
    assert error_of(papers.resolve, paper, sets=sets) == expected


@pytest.mark.parametrize(
    "sets",
    [
        [],  # val_loss, mode min, every epoch, val_size 500
        ["train.scheduler_monitor=val_accuracy", "train.scheduler_args.mode=max"],
        ["train.val_size=0", "train.scheduler_monitor=train_loss"],
        ["train.val_size=0", "train.scheduler_monitor=train_loss_epoch"],
        ["train.scheduler_interval=step", "train.scheduler_monitor=train_loss"],
        [
            "train.scheduler_interval=step",
            "train.scheduler_monitor=train_accuracy",
            "train.scheduler_args.mode=max",
        ],
    ],
)
def test_plateau_monitors_the_classifier_has_resolve(sets) -> None:
    paper = papers.load_paper(TINY)
    config = papers.resolve(paper, sets=["train.scheduler=ReduceLROnPlateau", *sets])
    assert config["train"]["scheduler"] == "ReduceLROnPlateau"
    # The monitor is not checked for schedulers that do not use it.
    papers.resolve(paper, sets=["train.val_size=0", "train.scheduler_monitor=val_loss"])


def test_a_schedule_shorter_than_the_run_is_found_before_training() -> None:
    paper = papers.load_paper(TINY)
    sets = ["train.scheduler=OneCycleLR", "train.scheduler_args.max_lr=0.5"]
    step = [*sets, "train.scheduler_interval=step"]
    config = papers.resolve(paper, sets=step)  # 2 epochs
    optimizer = papers.build_optimizer(config, papers.build_model(config).parameters())
    sized = papers.build_scheduler(config, optimizer, steps_per_epoch=7)
    papers.check_schedule_length(config, sized, 7)  # sized from the run: fits
    config["train"]["scheduler_args"]["total_steps"] = 13
    short = papers.build_scheduler(config, optimizer, steps_per_epoch=7)
    assert error_of(papers.check_schedule_length, config, short, 7) == (
        "train.scheduler_args.total_steps: OneCycleLR's schedule has total_steps = 13, but 2 "
        "epochs of 7 scheduler steps need 14; give total_steps >= 14, or leave total_steps, "
        "epochs and steps_per_epoch out to size it from the run"
    )
    config = papers.resolve(paper, sets=[*step, "train.epochs=3"])
    assert error_of(papers.check_schedule_length, config, sized, 7, resumed=True) == (
        "--epochs (train.epochs): 3 epochs of 7 scheduler steps need 21, but the checkpoint's "
        "OneCycleLR schedule has total_steps = 14, fixed when its run started; resume with at "
        "most --epochs 2, or start a new run (without --resume) for 3 epochs"
    )
    # Stepped once an epoch, 14 steps cover 14 epochs; other schedulers have no fixed length.
    config = papers.resolve(paper, sets=[*sets, "train.epochs=14"])
    papers.check_schedule_length(config, sized, 7, resumed=True)
    config["train"]["epochs"] = 15
    assert "15 epochs of 1 scheduler step need 15" in error_of(
        papers.check_schedule_length, config, sized, 7, True
    )
    config = papers.resolve(paper, sets=["train.epochs=1000"])
    papers.check_schedule_length(config, papers.build_scheduler(config, optimizer), 7)
    papers.check_schedule_length(config, None, 7)


def test_scheduler_errors_name_the_key_and_choices() -> None:
    paper = papers.load_paper(TINY)
    message = error_of(papers.resolve, paper, sets=["train.scheduler=Step"])
    assert message.startswith("--set train.scheduler: unknown 'Step'; choices: none, ")
    assert "CosineAnnealingLR" in message
    assert "LambdaLR" not in message  # its argument is a function: not expressible in TOML
    config = papers.resolve(paper, sets=["train.scheduler_args.step=2"])
    assert error_of(papers.scheduler_factory, config).startswith(
        "train.scheduler_args.step: unknown argument; StepLR takes: step_size, gamma"
    )


def test_build_data_holds_out_val_size_by_the_seed() -> None:
    paper = papers.load_paper(TINY)
    data = papers.build_data(papers.resolve(paper))
    assert (len(data.train), len(data.val), len(data.test)) == (3500, 500, 1000)
    assert data.classes == [str(digit) for digit in range(10)]
    assert data.num_classes == 10
    assert len(data.train_loader) == -(-3500 // 64)
    assert len(data.val_loader) == -(-500 // 64)
    assert len(data.test_loader) == -(-1000 // 64)
    assert data.train_loader.shuffle
    assert data.train_loader.seed == 0
    assert not data.val_loader.shuffle
    assert not data.test_loader.shuffle
    held_out = set(data.val.indices.tolist())
    assert held_out.isdisjoint(data.train.indices.tolist())
    assert set(papers.build_data(papers.resolve(paper)).val.indices.tolist()) == held_out
    other = papers.build_data(papers.resolve(paper, flags={"seed": 1}))
    assert set(other.val.indices.tolist()) != held_out
    assert other.train_loader.seed == 1


def test_build_data_without_val_and_with_too_large_a_val() -> None:
    paper = papers.load_paper(TINY)
    data = papers.build_data(
        papers.resolve(paper, sets=["train.val_size=0", "train.batch_size=100"])
    )
    assert (len(data.train), data.val, data.val_loader) == (4000, None, None)
    assert len(data.train_loader) == 40
    message = error_of(papers.build_data, papers.resolve(paper, sets=["train.val_size=4000"]))
    assert message == (
        "train.val_size: 4000 leaves nothing to train on; mnist-sample has 4,000 training images"
    )
