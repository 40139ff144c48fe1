"""The research assistant's answer mapped onto paper.toml: the recipe onto ``[train]`` (odyssey's
datasets, optimizers and schedulers, with their accepted arguments only) and the claims onto
``[[targets]]``; whatever does not map becomes a TODO, never a guess that passes silently.

Pure functions of the answer (the output schema's dict): the same answer gives the same draft.
"""

from __future__ import annotations

import inspect
import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from odyssey.agents.research.modelgen import one_line

__all__ = ["Recipe", "Target", "accuracy_of", "map_recipe", "map_targets"]

# Every dataset of odyssey's catalogue is 28x28 greyscale (cookiecutter-paper says so too).
CATALOGUE_SHAPE = (1, 28, 28)
FALLBACK_DATASET = "mnist-sample"  # bundled: a draft validates and trains offline
VARIANT = "paper"
_OPTIMIZERS = (  # the first pattern the paper's optimizer name matches wins
    (re.compile(r"adamw|decoupled weight decay", re.IGNORECASE), "AdamW"),
    (re.compile(r"\badam\b", re.IGNORECASE), "Adam"),
    (re.compile(r"rmsprop", re.IGNORECASE), "RMSprop"),
    (re.compile(r"adagrad", re.IGNORECASE), "Adagrad"),
    (re.compile(r"\bsgd\b|stochastic gradient|gradient descent|momentum", re.IGNORECASE), "SGD"),
)
_ERROR = re.compile(r"\berror\b|misclassif", re.IGNORECASE)
_ACCURACY = re.compile(r"\baccuracy\b", re.IGNORECASE)
_TOP_K = re.compile(r"top[- ]?[2-9]", re.IGNORECASE)


@dataclass
class Recipe:
    """paper.toml's [train] table (key -> value), a comment per key (where it comes from) and
    the TODOs of what did not map."""

    train: dict[str, Any]
    comments: dict[str, str]
    todos: list[str] = field(default_factory=list)


@dataclass
class Target:
    """One [[targets]] row and the comment above it (the claim it comes from)."""

    row: dict[str, Any]
    comment: str


def _cite(item: Mapping[str, Any]) -> str:
    return (
        f"{one_line(item.get('source', 'not stated'), 80)}, confidence "
        f"{float(item.get('confidence', 0)):.2f}"
    )


def _dataset_names(answer: Mapping[str, Any]) -> dict[str, str]:
    """The paper's dataset names (lowercased) -> odyssey's name, for those in the catalogue."""
    return {
        str(d["name"]).strip().lower(): d["odyssey_name"]
        for d in answer.get("datasets", [])
        if d.get("odyssey_name")
    }


def odyssey_dataset(name: str, answer: Mapping[str, Any]) -> str | None:
    """The catalogue's dataset a claim's `name` refers to: the answer's mapping by name, else a
    name that contains (or is contained in) one the answer mapped."""
    names = _dataset_names(answer)
    key = name.strip().lower()
    if key in names:
        return names[key]
    for paper_name, odyssey_name in names.items():
        if paper_name and (paper_name in key or key in paper_name):
            return odyssey_name
    return None


def _accepted(cls: type, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The `arguments` that `cls` takes by keyword (the rest would fail paper.toml's checks)."""
    names = set(inspect.signature(cls).parameters)
    return {key: value for key, value in arguments.items() if key in names}


def _optimizer(training: Mapping[str, Any], recipe: Recipe) -> None:
    from odyssey import optim

    item = training["optimizer"]
    paper_name = one_line(item.get("name", ""), 80)
    name = next((cls for pattern, cls in _OPTIMIZERS if pattern.search(paper_name)), None)
    if name is None:
        recipe.todos.append(
            f"optimizer: the paper's {paper_name!r} ({_cite(item)}) is not in odyssey.optim; SGD "
            "stands in: write it in a train.py (see papers/lenet5's SDLM) and name it in "
            "train.optimizer"
        )
        name = "SGD"
    recipe.train["optimizer"] = name
    recipe.comments["optimizer"] = f"the paper's {paper_name!r} ({_cite(item)})"
    wanted = {
        "momentum": item.get("momentum"),
        "weight_decay": item.get("weight_decay"),
        "betas": item.get("betas"),
    }
    wanted = {key: value for key, value in wanted.items() if value is not None}
    arguments = _accepted(getattr(optim, name), wanted)
    for key in sorted(set(wanted) - set(arguments)):
        recipe.todos.append(f"optimizer: {name} takes no {key} (the paper gives {wanted[key]})")
    if arguments:
        recipe.train["optimizer_args"] = arguments


def _lr(training: Mapping[str, Any], recipe: Recipe) -> float:
    item, schedule = training["optimizer"], training["lr_schedule"]
    lr = item.get("lr")
    if lr is None and schedule.get("values"):
        lr = schedule["values"][0]
    if lr is None or not math.isfinite(lr) or lr <= 0:
        recipe.todos.append("lr: the paper states no learning rate; 0.01 stands in")
        lr = 0.01
        recipe.comments["lr"] = "not stated in the paper: a stand-in"
    else:
        recipe.comments["lr"] = f"the initial rate ({_cite(item)})"
    recipe.train["lr"] = float(lr)
    return float(lr)


def _schedule(training: Mapping[str, Any], recipe: Recipe, lr: float, epochs: int) -> None:
    from odyssey.optim import lr_scheduler

    item = training["lr_schedule"]
    kind, milestones, gamma = item["kind"], item.get("milestones") or [], item.get("gamma")
    values = item.get("values") or []
    said = one_line(item.get("description", ""), 160)
    if not gamma and len(values) >= 2 and values[0] > 0:
        ratios = {round(b / a, 6) for a, b in itertools.pairwise(values) if a > 0}
        if len(ratios) == 1:  # a piecewise schedule of equal steps is a MultiStepLR
            gamma = ratios.pop()
            kind = "multistep" if kind == "piecewise" else kind
    chosen: tuple[str, dict[str, Any]] | None = None
    if kind == "constant":
        return
    # The schema's milestones are the epochs where the rate changes, each one: MultiStepLR says
    # exactly that (StepLR would go on dividing every step_size epochs after the last).
    if kind in ("step", "multistep") and milestones and gamma:
        chosen = ("MultiStepLR", {"milestones": list(milestones), "gamma": gamma})
    elif kind == "exponential" and gamma:
        chosen = ("ExponentialLR", {"gamma": gamma})
    elif kind == "cosine":
        chosen = ("CosineAnnealingLR", {"T_max": epochs})
    elif kind == "one_cycle":
        chosen = ("OneCycleLR", {"max_lr": lr})
        recipe.train["scheduler_interval"] = "step"
    if chosen is None:
        recipe.todos.append(
            f"lr schedule: {said!r} ({_cite(item)}) does not map onto one of "
            "odyssey.optim.lr_scheduler's; the rate stays constant: write the schedule"
        )
        return
    name, arguments = chosen
    recipe.train["scheduler"] = name
    recipe.train["scheduler_args"] = _accepted(getattr(lr_scheduler, name), arguments)
    recipe.comments["scheduler"] = f"{said} ({_cite(item)})"


def map_recipe(answer: Mapping[str, Any]) -> Recipe:
    """paper.toml's [train] from the answer's training recipe, datasets and architecture."""
    training = answer["training"]
    recipe = Recipe({}, {})
    catalogued = [d for d in answer.get("datasets", []) if d.get("odyssey_name")]
    if catalogued:
        recipe.train["dataset"] = catalogued[0]["odyssey_name"]
        recipe.comments["dataset"] = (
            f"the paper's {one_line(catalogued[0]['name'], 60)} ({_cite(catalogued[0])})"
        )
    else:
        names = ", ".join(one_line(d["name"], 60) for d in answer.get("datasets", [])) or "none"
        recipe.train["dataset"] = FALLBACK_DATASET
        recipe.comments["dataset"] = "a stand-in: the paper's data is not in odyssey's catalogue"
        recipe.todos.append(
            f"dataset: the paper's ({names}) is not in `odyssey datasets`; {FALLBACK_DATASET} "
            "stands in so that the draft validates: add the dataset to the catalogue"
        )
    shape = [int(n) for n in answer["architecture"].get("input_shape") or CATALOGUE_SHAPE]
    recipe.train["input_shape"] = shape
    recipe.comments["input_shape"] = "one sample as the model takes it (the architecture's input)"
    if tuple(shape) != CATALOGUE_SHAPE:
        recipe.todos.append(
            f"input: the model takes {'x'.join(map(str, shape))}, odyssey's datasets give "
            "1x28x28: pad or resize in the model (papers/lenet5 pads to 32x32) before training"
        )
    for key, default in (("epochs", 10), ("batch_size", 64)):
        item = training[key]
        if item.get("value"):
            recipe.train[key] = int(item["value"])
            recipe.comments[key] = _cite(item)
        else:
            recipe.train[key] = default
            recipe.comments[key] = "not stated in the paper: a stand-in"
            recipe.todos.append(f"{key}: the paper states none; {default} stands in")
    lr = _lr(training, recipe)
    recipe.train["seed"] = 0
    _optimizer(training, recipe)
    _schedule(training, recipe, lr, recipe.train["epochs"])
    loss = training["loss"]
    loss_text = f"{loss.get('name', '')} {loss.get('description', '')}"
    if not re.search(r"cross[- ]?entropy|log[- ]?likelihood|softmax", loss_text, re.IGNORECASE):
        recipe.todos.append(
            f"loss: the paper's {one_line(loss_text, 120)!r} ({_cite(loss)}); the draft trains "
            "with cross_entropy: write the paper's loss in a train.py and name it in train.loss"
        )
    recipe.train["loss"] = "cross_entropy"
    init = training["initialisation"]
    if init.get("description", "").strip():
        recipe.todos.append(
            f"initialisation: the paper's {one_line(init['description'], 160)!r} "
            f"({_cite(init)}); the draft keeps odyssey's (PyTorch's) defaults"
        )
    augmentation = training["augmentation"]
    recipe.train["augment"] = False
    if augmentation.get("used"):
        recipe.comments["augment"] = (
            f"the paper's distortions ({_cite(augmentation)}) are the targets' augment = true"
        )
        recipe.todos.append(
            f"augmentation: {one_line(augmentation.get('description', ''), 160)!r} "
            f"({_cite(augmentation)}); train.augment uses RandomAffine's default ranges: set "
            "train.augment_args to the paper's"
        )
    return recipe


def accuracy_of(claim: Mapping[str, Any]) -> float | None:
    """A claim's test accuracy as a fraction (an error rate turned round), None when the claim
    is not a top-1 accuracy or error, or its unit is neither % nor a fraction."""
    metric = str(claim.get("metric", ""))
    if _TOP_K.search(metric):
        return None
    unit = str(claim.get("unit", "")).strip().lower()
    value = float(claim["value"])
    if unit in ("%", "percent", "per cent"):
        value /= 100.0
    elif unit not in ("fraction", "", "ratio"):
        return None
    if not 0.0 <= value <= 1.0:
        return None
    if _ERROR.search(metric):
        return round(1.0 - value, 6)
    if _ACCURACY.search(metric):
        return round(value, 6)
    return None


def _test_split(claim: Mapping[str, Any]) -> bool:
    return str(claim.get("split", "")).strip().lower() in ("test", "testing", "test set", "")


def map_targets(answer: Mapping[str, Any], dataset: str) -> tuple[list[Target], list[str]]:
    """[[targets]] from the claims that are a test accuracy (or error) on a catalogued dataset,
    and the TODOs; a paper with none gets one row on `dataset` with a modest bar, marked TODO."""
    targets: list[Target] = []
    todos: list[str] = []
    used: dict[str, int] = {}
    for index, claim in enumerate(answer.get("claims", [])):
        accuracy = accuracy_of(claim)
        mapped = odyssey_dataset(str(claim.get("dataset", "")), answer)
        if accuracy is None or mapped is None or not _test_split(claim):
            continue
        row: dict[str, Any] = {"variant": VARIANT, "dataset": mapped, "metric": "test_accuracy"}
        if claim.get("augmented"):
            row["augment"] = True
        base = f"{VARIANT}-{mapped}" + ("-augment" if row.get("augment") else "")
        used[base] = used.get(base, 0) + 1
        if used[base] > 1:  # two claims on one setting: each row needs its own id
            row["name"] = f"{base}-claim{index + 1}"
        row["paper"] = accuracy
        # The bar: the paper's value rounded down to 0.1 %; a human decides the real margin.
        row["bar"] = math.floor(accuracy * 1000 + 1e-9) / 1000
        comment = (
            f"claims[{index}]: {one_line(claim['metric'], 40)} {claim['value']} "
            f"{one_line(claim['unit'], 10)} on {one_line(claim['dataset'], 40)} "
            f"({one_line(claim.get('conditions', ''), 80)}); {_cite(claim)}"
        )
        targets.append(Target(row, comment))
        if float(claim.get("confidence", 0)) < 0.7:
            todos.append(f"target from claims[{index}]: low confidence; check {_cite(claim)}")
    if not targets:
        from odyssey.cli.new import template_dir

        bars = json.loads((template_dir() / "cookiecutter.json").read_text("utf-8"))["_datasets"]
        row = {"variant": VARIANT, "dataset": dataset, "metric": "test_accuracy"}
        row["bar"] = float(bars[dataset]["bar"])
        targets.append(
            Target(
                row,
                "no claim maps onto a target (a test accuracy or error on a catalogued "
                "dataset): the template's modest bar stands in",
            )
        )
        todos.append(
            "targets: no claim of the paper is a test accuracy or error on a dataset of odyssey's "
            "catalogue; the one row is a stand-in with the template's bar: replace it"
        )
    return targets, todos


def claim_target(answer: Mapping[str, Any], targets: Sequence[Target]) -> dict[int, str]:
    """claims index -> the target id made from it (for the README's claims table)."""
    from odyssey.papers import target_id

    found = {}
    for target in targets:
        match = re.match(r"claims\[(\d+)\]", target.comment)
        if match:
            found[int(match.group(1))] = target_id(target.row)
    return found
