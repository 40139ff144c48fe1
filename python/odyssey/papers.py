"""Papers: finding a paper's folder, reading and checking its ``paper.toml``, resolving a variant
with its overrides into one run configuration, and building what the run needs from it (model,
optimizer, scheduler, datasets and loaders) — everything ``odyssey train`` does before the
Trainer, usable and testable without it.

A paper is a folder holding ``paper.toml`` and ``model.py`` (the model classes, written with the
public API only), and optionally ``train.py``: what the generic Trainer cannot express, a loss, an
optimizer or callbacks, found by the names ``paper.toml`` gives them. The folder's modules are
imported as one package under a name unique to the folder, so they import each other relatively
(``from .model import map_loss``) and two papers' modules never collide. ``paper.toml``::

    [paper]                      # who and where: title (str, required), authors (list of str),
    title = "..."                # year (int), url, venue, arxiv (its id), task (str); draft
                                 # (bool): written by `odyssey agent research`, never complete
                                 # until a human checks DRAFT.md and removes it     (absent)
    authors = ["..."]
    year = 1998
    url = "https://..."

    [train]                      # defaults of every variant
    dataset = "mnist-sample"     # a name of odyssey.data.DATASETS                     (required)
    epochs = 2                   # int >= 1                                             (required)
    batch_size = 64              # int >= 1                                             (required)
    lr = 0.05                    # float > 0, the optimizer's lr                        (required)
    seed = 0                     # int >= 0: initialisation, shuffling, the val split   (0)
    threads = 2                  # int >= 1; absent: odyssey's default                  (absent)
    input_shape = [1, 28, 28]    # one sample as the model takes it (odyssey validate's
                                 # forward pass)                             (absent: the data's)
    optimizer = "SGD"            # a class of odyssey.optim or of the paper's train.py  ("SGD")
    optimizer_args = { momentum = 0.9 }    # its other keyword arguments                ({})
    scheduler = "StepLR"         # a class of odyssey.optim.lr_scheduler, or "none"     ("none")
    scheduler_args = { step_size = 1, gamma = 0.5 }                                     # ({})
    scheduler_interval = "epoch" # "epoch" or "step": when the scheduler steps          ("epoch")
    scheduler_monitor = "val_loss"  # the metric ReduceLROnPlateau watches              ("val_loss")
                                 # (one CLASSIFIER_METRICS names; val_* needs val_size > 0)
    val_size = 500               # images held out of the train split (by the seed)    (0)
    loss = "cross_entropy"       # "cross_entropy", or a loss f(outputs, targets) of train.py:
                                 # a function, or a class built with no arguments ("cross_entropy")
    callbacks = ["Name", { name = "Other", arg = 1 }]   # Trainer callbacks of train.py, by name
                                 # or as a table of the name and its keyword arguments   ([])
                                 # (built when the paper is read; a classmethod
                                 # check_config(train) states what it needs of the run)
    augment = false              # train with the paper's distortions (RandomAffine)    (false)
    augment_args = { translate = [0.1, 0.1], shear = 10 }   # RandomAffine's keyword    (below)
                                 # arguments; each one left out takes AUGMENT_DEFAULTS':
                                 # degrees = 0, translate = [0.08, 0.08] (fractions of W, H),
                                 # scale = [0.9, 1.1], squeeze = 0.1 (x by s, y by 1/s, s in
                                 # [0.9, 1.1]), shear = 10 (horizontal, degrees),
                                 # hflip = 0 (probability of a mirror), fill = 0

    [[variants]]                 # one or more; the first is the default
    name = "relu"                # str, unique                                          (required)
    model = "TinyNet"            # a class defined in model.py                          (required)
    model_args = {}              # its keyword arguments                                ({})
    description = "..."          # str                                                  (absent)
    train = { lr = 0.1 }         # overrides of [train] for this variant                ({})

    [[targets]]                  # what a reproduction must reach (`odyssey validate --run`)
    variant = "relu"; dataset = "mnist-sample"; metric = "test_accuracy"; paper = 0.99; bar = 0.9
    name = "relu-sample"         # the row's id: results/<id>.json, the README's target column
                                 # (absent: <variant>-<dataset>[-augment][-<epochs>ep])
                                 # metric: test_accuracy (the mean over seeds >= bar) or
                                 # test_loss (<= bar)
    augment = true               # the row is trained with train.augment = true   (absent: false)
    epochs = 10                  # int >= 1: the row is trained for this many epochs (absent:
                                 # the variant's)
    sets = ["train.augment_args.hflip=0.5"]   # `--set` assignments the row is trained with,
                                 # after its epochs and augment; checked when the paper is read
                                 # by applying them to the variant's configuration     ([])
                                 # paper: the reference value, absent when there is none;
                                 # variant, dataset, metric and bar are required

A row is checked on the run ``odyssey train <slug> --variant V --dataset D [--epochs E]
[--augment] [--set S ...]`` that its own keys give.

Augmentation (``train.augment = true``, ``odyssey train --augment``): the distortions LeCun et al.
(1998, section III.C) trained LeNet-5 with — random combinations of translation, scaling,
squeezing and horizontal shearing, and optionally a horizontal mirror (``hflip``, for images
whose mirror is of the same class, such as clothes, never digits) — as one
``odyssey.data.RandomAffine(**augment_args)`` applied to the training split only (never to val
or test), its randomness keyed by (seed, epoch, image), so a run is reproducible by its seed and
resumes bitwise. The resolved ``augment_args`` hold every argument (AUGMENT_DEFAULTS filled
in), so ``config.toml`` records the ranges a run used.

Resolution (``resolve``): ``[train]``, then the variant's ``train`` table, then command-line
flags (``--epochs`` ...), then ``--set dotted.key=value`` in order. A ``--set`` key is a key of the
resolved configuration: ``train.<key>`` above, ``train.optimizer_args.<name>``,
``train.scheduler_args.<name>``, ``train.augment_args.<name>``, ``variant.model_args.<name>``; its
value is read as a TOML value (``0.01``, ``true``, ``[1, 2]``), or taken as a string when it is
not one (``mnist``). A variant's ``augment_args`` add to the paper's, as ``--set`` ones do. The
resolved configuration is a plain dict, ``{"paper": {..., "slug", "path"}, "variant": {"name",
"model", "model_args"}, "train": {...}}``, which the Trainer writes as the run's ``config.toml``
and from which ``odyssey evaluate`` rebuilds the model.

Papers are found (``find_paper``) by a path to their folder; by a slug under ``papers/`` of the
current directory or of the git repository around it; and among installed distributions through
the ``odyssey.papers`` entry-point group, each entry point naming a package whose folder holds
``paper.toml`` (``[project.entry-points."odyssey.papers"] lenet5 = "mypackage.lenet5"``).

The format is a JSON Schema (``schemas/paper.schema.json``; ``odyssey validate --schema`` prints
it) checked with jsonschema (``odyssey.paper_schema``); what a schema cannot know (the datasets,
optimizers and schedulers that exist, the paper's own classes) is checked here. Every mistake in a
paper or an override raises ``PaperError`` with a one-line message naming the file's line, the
key and what was expected (the choices, or the type), before any training: ``variant.model_args``
values are checked against the model's annotations (or defaults) and a model that its arguments
cannot build names the argument; ReduceLROnPlateau's monitor must be a metric the Classifier has
when the scheduler steps; ``check_schedule_length`` finds a schedule shorter than the run.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import inspect
import math
import os
import sys
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from odyssey import paper_schema

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "CLASSIFIER_METRICS",
    "ENTRY_POINT_GROUP",
    "Paper",
    "PaperError",
    "RunData",
    "available_papers",
    "build_augmentation",
    "build_callbacks",
    "build_data",
    "build_loss",
    "build_model",
    "build_optimizer",
    "build_scheduler",
    "check_schedule_length",
    "find_paper",
    "load_model_module",
    "load_paper",
    "load_train_module",
    "optimizer_factory",
    "paper_extras",
    "parse_set",
    "resolve",
    "scheduler_factory",
    "scheduler_spec",
    "target_id",
]

ENTRY_POINT_GROUP = "odyssey.papers"
PAPER_FILE = "paper.toml"
MODEL_FILE = "model.py"
TRAIN_FILE = "train.py"


class PaperError(ValueError):
    """A paper that cannot be found, read or resolved; the message is one line naming the key.
    `problems` lists every mistake found (the message is the first)."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems) or [message]


# ---------------------------------------------------------------------------------------------
# The format: each table's keys, their types and defaults.

_JSON_TYPES = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "array": list,
    "object": dict,
}
# "an int", "a table" ...: the words paper_schema's messages use, by Python type.
_TYPE_NAMES = {python: paper_schema.TYPE_NAMES[name] for name, python in _JSON_TYPES.items()}


def _keys_of(table: Mapping[str, Any]) -> dict[str, type]:
    """A table's keys in the schema (python/odyssey/schemas/paper.schema.json) and their Python
    types (a key with a list of choices is a string)."""
    return {
        key: _JSON_TYPES[spec["type"]] if "type" in spec else str
        for key, spec in table["properties"].items()
    }


_SCHEMA = paper_schema.paper_schema()
TRAIN_SCHEMA: dict[str, Any] = _SCHEMA["$defs"]["train"]
TRAIN_KEYS = _keys_of(TRAIN_SCHEMA)
TARGET_KEYS = _keys_of(_SCHEMA["properties"]["targets"]["items"])
TRAIN_REQUIRED = ("dataset", "epochs", "batch_size", "lr")
TRAIN_DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "optimizer": "SGD",
    "optimizer_args": {},
    "scheduler": "none",
    "scheduler_args": {},
    "scheduler_interval": "epoch",
    "scheduler_monitor": "val_loss",
    "val_size": 0,
    "loss": "cross_entropy",
    "callbacks": [],
    "augment": False,
    "augment_args": {},
}
# The distortion ranges of `train.augment` (RandomAffine's keyword arguments) that a paper's
# augment_args leave out: small planar affine maps of a 28x28 digit — shifts up to ~2 pixels,
# +-10 % scale, +-10 % squeeze (x by s, y by 1/s), +-10 degrees of horizontal shear, no rotation
# (the paper lists none) — with the background (0) filled in.
AUGMENT_DEFAULTS: dict[str, Any] = {
    "degrees": 0.0,
    "translate": [0.08, 0.08],
    "scale": [0.9, 1.1],
    "squeeze": 0.1,
    "shear": 10.0,
    "hflip": 0.0,
    "fill": 0.0,
}
# Tables of keyword arguments: any name, checked against the class's signature when built.
ARGUMENT_TABLES = (
    "train.optimizer_args",
    "train.scheduler_args",
    "train.augment_args",
    "variant.model_args",
)
# A class chosen by name and the table of its arguments.
_ARGUMENTS_OF = {"optimizer": "optimizer_args", "scheduler": "scheduler_args"}
# Flags of `odyssey train` and the train key each one sets.
FLAG_KEYS = ("dataset", "epochs", "batch_size", "lr", "seed", "threads", "augment")
# What the Classifier logs, by when a scheduler steps: after each training step, and at the end
# of an epoch (the step values' epoch means, and validation's when there is a validation split).
CLASSIFIER_METRICS: dict[str, tuple[str, ...]] = {
    "step": ("train_loss", "train_accuracy"),
    "epoch": (
        "val_loss",
        "val_accuracy",
        "train_loss",
        "train_accuracy",
        "train_loss_epoch",
        "train_accuracy_epoch",
    ),
}


def _cross_entropy() -> Any:
    from odyssey import nn

    return nn.CrossEntropyLoss()


# Losses paper.toml names without a train.py: name -> what builds it.
BUILTIN_LOSSES: dict[str, Callable[[], Any]] = {"cross_entropy": _cross_entropy}
# Schedulers whose arguments are functions or other schedulers: not expressible in TOML.
_UNBUILDABLE_SCHEDULERS = {"LambdaLR", "MultiplicativeLR", "SequentialLR", "ChainedScheduler"}


def _type_name(expected: type) -> str:
    return _TYPE_NAMES.get(expected, expected.__name__)


def _checked(value: Any, expected: type, where: str) -> Any:
    """`value` if it has the `expected` TOML type (an int is taken as a float), else PaperError."""
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) is not (expected is bool) or not isinstance(value, expected):
        raise PaperError(
            f"{where} must be {_type_name(expected)}, got {value!r} ({type(value).__name__})"
        )
    return value


# ---------------------------------------------------------------------------------------------
# Finding papers.


def _git_root(start: Path) -> Path | None:
    """The nearest folder at or above `start` holding `.git` (a folder, or a worktree's file)."""
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def _entry_point_folder(entry_point: importlib.metadata.EntryPoint) -> Path | None:
    """The folder of the package an `odyssey.papers` entry point names, without importing it."""
    try:
        spec = importlib.util.find_spec(entry_point.value)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    if spec.origin:
        return Path(spec.origin).parent
    return None


def _search_roots(cwd: Path) -> list[Path]:
    """The `papers/` folders looked in, nearest first: the current directory's, the repository's."""
    roots = [cwd / "papers"]
    repository = _git_root(cwd)
    if repository is not None and repository / "papers" != roots[0]:
        roots.append(repository / "papers")
    return roots


def available_papers(cwd: str | Path | None = None) -> dict[str, Path]:
    """Every paper found by slug, slug -> folder: under `papers/` of the current directory, then of
    the repository, then installed (an earlier place wins when two share a slug)."""
    cwd = Path.cwd() if cwd is None else Path(cwd)
    found: dict[str, Path] = {}
    for root in _search_roots(cwd):
        if root.is_dir():
            for folder in sorted(root.iterdir()):
                if (folder / PAPER_FILE).is_file():
                    found.setdefault(folder.name, folder.resolve())
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        folder = _entry_point_folder(entry_point)
        if folder is not None and (folder / PAPER_FILE).is_file():
            found.setdefault(entry_point.name, folder.resolve())
    return found


def find_paper(name: str | Path, cwd: str | Path | None = None) -> Path:
    """The folder of paper `name`: a path to a folder holding paper.toml, or a slug (see
    `available_papers`). PaperError lists the papers found when there is none of that name."""
    cwd = Path.cwd() if cwd is None else Path(cwd)
    path = Path(name)
    if not path.is_absolute():
        path = cwd / path
    if (path / PAPER_FILE).is_file():
        return path.resolve()
    if path.is_dir():
        raise PaperError(f"{path} holds no {PAPER_FILE}; a paper folder needs one")
    slug = str(name)
    if isinstance(name, Path) or "/" in slug or os.sep in slug or slug.startswith("."):
        raise PaperError(f"no paper folder at {path}")
    papers = available_papers(cwd)
    if slug in papers:
        return papers[slug]
    places = " or ".join(str(root) for root in _search_roots(cwd))
    known = ", ".join(papers) if papers else f"none (looked in {places} and installed papers)"
    raise PaperError(f"unknown paper {slug!r}; papers found: {known}")


# ---------------------------------------------------------------------------------------------
# Reading paper.toml.


@dataclass
class Paper:
    """A paper read from its folder and checked: its slug, folder and tables."""

    slug: str
    path: Path
    info: dict[str, Any]
    train: dict[str, Any]
    variants: list[dict[str, Any]]
    targets: list[dict[str, Any]] = field(default_factory=list)

    @property
    def variant_names(self) -> list[str]:
        """The variants' names, the default first."""
        return [variant["name"] for variant in self.variants]

    def variant(self, name: str | None = None) -> dict[str, Any]:
        """Variant `name` (default: the first); PaperError lists the variants otherwise."""
        if name is None:
            return self.variants[0]
        for variant in self.variants:
            if variant["name"] == name:
                return variant
        raise PaperError(
            f"unknown variant {name!r} of {self.slug}; variants: {', '.join(self.variant_names)}"
        )


def _read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """The parsed file and its source (whose lines the messages name)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PaperError(f"cannot read {path}: {error.strerror or error}") from error
    except UnicodeDecodeError as error:
        raise PaperError(f"{path}: not UTF-8 text: {error}") from error
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as error:
        raise PaperError(f"{path}: invalid TOML: {error}") from error


def target_id(target: Mapping[str, Any]) -> str:
    """A `[[targets]]` row's id: its `name`, else `<variant>-<dataset>[-augment][-<epochs>ep]`."""
    if "name" in target:
        return str(target["name"])
    suffix = ("-augment" if target.get("augment") else "") + (
        f"-{target['epochs']}ep" if "epochs" in target else ""
    )
    return f"{target['variant']}-{target['dataset']}{suffix}"


def load_paper(folder: str | Path) -> Paper:
    """Reads and checks `folder`/paper.toml: first against its JSON Schema (paper_schema), then
    what a schema cannot know (datasets, optimizers, the paper's own classes, each row's run).
    PaperError `file:line: key ...` names the first mistake, its `problems` all of them."""
    folder = Path(folder).resolve()
    path = folder / PAPER_FILE
    data, text = _read_toml(path)
    schema = [problem.format(path) for problem in paper_schema.problems(data, text)]
    if schema:
        raise PaperError(schema[0], schema)
    found: list[str] = []
    info = dict(data["paper"])
    train = _check_train(data.get("train", {}), "train", folder, found)
    variants: list[dict[str, Any]] = []
    for i, table in enumerate(data["variants"]):
        variant = {"model_args": {}, **table}
        variant["train"] = _check_train(
            table.get("train", {}), f"variants[{i}].train", folder, found
        )
        if variant["name"] in (v["name"] for v in variants):
            found.append(f"variants[{i}].name: {variant['name']!r} is used twice")
        variants.append(variant)
    names = [variant["name"] for variant in variants]
    targets: list[dict[str, Any]] = []
    for i, table in enumerate(data["targets"]):
        target = {key: _as_float(TARGET_KEYS[key], value) for key, value in table.items()}
        used = [target_id(other) for other in targets]
        if target_id(target) in used:
            found.append(
                f"targets[{i}]: its id {target_id(target)!r} is also targets"
                f"[{used.index(target_id(target))}]'s; give one of them a name"
            )
        found += _target_problems(target, f"targets[{i}]", names)
        targets.append(target)
    paper = Paper(folder.name, folder, info, train, variants, targets)
    if not found:  # a row's run resolves only on an otherwise sound paper
        for i, target in enumerate(targets):
            try:
                _check_target_run(paper, target, f"targets[{i}]")
            except PaperError as error:
                found.append(str(error))
    if found:
        located = []
        for message in found:
            line = paper_schema.locate(message, text)
            located.append(f"{path}{f':{line}' if line else ''}: {message}")
        raise PaperError(located[0], located)
    return paper


# A row's own keys: what `sets` may not override, since the row gives them (and --seeds the seed).
_ROW_KEYS = ("train.seed", "train.dataset", "train.epochs", "train.augment")


def _target_problems(target: Mapping[str, Any], where: str, variants: Sequence[str]) -> list[str]:
    """What a schema cannot say of a [[targets]] row: its variant exists, its numbers are finite
    (an accuracy's in [0, 1]) and its `sets` leave the row's own keys alone."""
    found = []
    if target["variant"] not in variants:
        found.append(
            f"{where}.variant: unknown variant {target['variant']!r}; variants: "
            f"{', '.join(variants)}"
        )
    for key in ("bar", "paper"):
        value = target.get(key)
        if value is None:
            continue
        if not math.isfinite(value):
            found.append(f"{where}.{key} must be a finite number, got {value}")
        elif target["metric"].endswith("accuracy") and not 0.0 <= value <= 1.0:
            found.append(f"{where}.{key}: an accuracy is in [0, 1], got {value}")
    for j, assignment in enumerate(target.get("sets", [])):
        key = assignment.partition("=")[0].strip()
        if key in _ROW_KEYS:
            found.append(
                f"{where}.sets[{j}]: {key} is the row's own: give it as the row's "
                f"{key.removeprefix('train.')} key"
                + (" (seeds come from `odyssey validate --seeds`)" if key == "train.seed" else "")
            )
    return found


def _check_target_run(paper: Paper, target: Mapping[str, Any], where: str) -> None:
    """A target's `epochs` and `sets`: each assignment parsed and applied, in order, to the
    configuration of the target's variant, so that a row names only settings a run can take."""
    sets = target.get("sets", [])
    flags = {"dataset": target["dataset"], "epochs": target.get("epochs")}
    for j in range(len(sets)):
        try:
            resolve(paper, target["variant"], flags, sets[: j + 1])
        except PaperError as error:
            raise PaperError(f"{where}.sets[{j}]: {error}") from None


def _as_float(expected: type, value: Any) -> Any:
    """A number key's int as a float (TOML's `lr = 1` is the number 1.0)."""
    return float(value) if expected is float and isinstance(value, int) else value


def _check_train(
    table: Mapping[str, Any], where: str, folder: Path, found: list[str]
) -> dict[str, Any]:
    """A [train] table (or a variant's overrides) of the paper in `folder`, its schema already
    checked: the names it gives exist (datasets, optimizers, ...), its numbers are floats. Each
    mistake is added to `found`."""
    train = {key: _as_float(TRAIN_KEYS[key], value) for key, value in table.items()}
    for key, value in train.items():
        try:
            _check_train_value(key, value, f"{where}.{key}", folder)
        except PaperError as error:
            found.append(str(error))
    return train


def _datasets() -> dict[str, Any]:
    from odyssey.data.datasets import DATASETS

    return DATASETS


def _optimizers() -> dict[str, type]:
    """The optimizer classes of odyssey.optim by name."""
    from odyssey import optim

    return {
        name: cls
        for name, cls in sorted(vars(optim).items())
        if isinstance(cls, type) and issubclass(cls, optim.Optimizer) and cls is not optim.Optimizer
    }


def _schedulers() -> dict[str, type]:
    """The scheduler classes of odyssey.optim.lr_scheduler that TOML arguments can build."""
    from odyssey.optim import lr_scheduler

    names = getattr(lr_scheduler, "__all__", [n for n in vars(lr_scheduler) if n[0].isupper()])
    return {
        name: getattr(lr_scheduler, name)
        for name in names
        if isinstance(getattr(lr_scheduler, name, None), type)
        and name not in _UNBUILDABLE_SCHEDULERS
        and not name.startswith("_")
        and name not in ("LRScheduler", "Optimizer")
        and hasattr(getattr(lr_scheduler, name), "step")
    }


def _train_value(key: str, value: Any, where: str, folder: Path) -> Any:
    """A flag's or a `--set`'s value of train.`key`, checked as paper.toml's would be: against
    the schema, then by `_check_train_value`; a number's int as a float."""
    found = paper_schema.check_value(value, TRAIN_SCHEMA["properties"][key], where)
    if found:
        raise PaperError(found[0])
    value = _as_float(TRAIN_KEYS[key], value)
    _check_train_value(key, value, where, folder)
    return value


def _check_train_value(key: str, value: Any, where: str, folder: Path) -> None:
    """The checks beyond the schema: names with their choices (the paper in `folder` may add
    optimizers, losses and callbacks in its train.py), a finite lr."""
    if key == "lr" and not math.isfinite(value):
        raise PaperError(f"{where} must be a finite number > 0, got {value}")
    choices: Sequence[str] = ()
    if key == "dataset":
        choices = list(_datasets())
    elif key == "optimizer":
        choices = [*_optimizers(), *paper_extras(folder).optimizers]
    elif key == "loss":
        choices = [*BUILTIN_LOSSES, *paper_extras(folder).losses]
    elif key == "callbacks":
        _check_callbacks(value, where, folder)
    elif key == "scheduler":
        choices = ["none", *_schedulers()]
    elif key == "augment_args":
        _check_augment_args(value, where)
    if choices and value not in choices:
        raise PaperError(f"{where}: unknown {value!r}; choices: {', '.join(choices)}")


def _check_augment_args(arguments: Mapping[str, Any], where: str) -> None:
    """PaperError naming `<where>.<name>` when an augment argument is not one RandomAffine takes
    or its value is not one it accepts (each is checked on its own: they are independent)."""
    from odyssey.data.transforms import RandomAffine

    if "stream" in arguments:  # which random stream it draws from is the loader's business
        raise PaperError(f"{where}.stream: not a distortion; the run's seed keys the randomness")
    _keyword_check(RandomAffine, {"degrees": 0.0, **arguments}, where)
    for name, value in arguments.items():
        try:
            RandomAffine(**{"degrees": 0.0, name: value})
        except (TypeError, ValueError) as error:
            raise PaperError(f"{where}.{name}: {error}") from None


# ---------------------------------------------------------------------------------------------
# Resolving a variant and its overrides.


def parse_set(assignment: str) -> tuple[str, Any]:
    """`key=value` of `--set`: the dotted key and the value read as TOML (a string if it is not
    a TOML value, so `train.dataset=mnist` needs no quotes)."""
    key, sep, text = assignment.partition("=")
    key = key.strip()
    if not sep or not key:
        raise PaperError(f"--set expects key=value, got {assignment!r}")
    text = text.strip()
    try:
        value = tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return key, text
    if not isinstance(value, (str, int, float, bool, list, dict)):  # a TOML date or time
        return key, text
    return key, value


def _valid_set_keys() -> list[str]:
    return [f"train.{key}" for key in TRAIN_KEYS] + [f"{table}.<name>" for table in ARGUMENT_TABLES]


def _apply_set(config: dict[str, Any], key: str, value: Any) -> None:
    """Sets dotted `key` of the resolved `config` to `value`, checked like the paper's own."""
    parts = key.split(".")
    where = f"--set {key}"
    for table in ARGUMENT_TABLES:
        prefix = table.split(".")
        if parts[:2] == prefix and len(parts) == 3 and parts[2]:
            config[prefix[0]].setdefault(prefix[1], {})[parts[2]] = value
            return
        if parts == prefix:
            config[prefix[0]][prefix[1]] = _checked(value, dict, where)
            return
    if len(parts) == 2 and parts[0] == "train" and parts[1] in TRAIN_KEYS:
        value = _train_value(parts[1], value, where, Path(config["paper"]["path"]))
        if parts[1] in _ARGUMENTS_OF and config["train"].get(parts[1]) != value:
            config["train"][_ARGUMENTS_OF[parts[1]]] = {}  # another class: its own arguments
        config["train"][parts[1]] = value
        return
    raise PaperError(f"--set: unknown key {key!r}; valid keys: {', '.join(_valid_set_keys())}")


def resolve(
    paper: Paper,
    variant: str | None = None,
    flags: Mapping[str, Any] | None = None,
    sets: Sequence[str] = (),
) -> dict[str, Any]:
    """The run configuration of `variant` (default: the first): [train], then the variant's
    train table, then `flags` (dataset, epochs, batch_size, lr, seed, threads, augment; None is
    unset), then each `--set key=value` of `sets` in order. augment_args are filled in from
    AUGMENT_DEFAULTS, then the paper's, the variant's and the `--set` ones."""
    chosen = paper.variant(variant)
    train = {**TRAIN_DEFAULTS, **paper.train, **chosen["train"]}
    for name, arguments in _ARGUMENTS_OF.items():
        # A variant's arguments add to the paper's, unless it names another class.
        if train[name] == {**TRAIN_DEFAULTS, **paper.train}[name]:
            train[arguments] = {
                **paper.train.get(arguments, {}),
                **chosen["train"].get(arguments, {}),
            }
        else:
            train[arguments] = dict(chosen["train"].get(arguments, {}))
    train["augment_args"] = {
        **paper.train.get("augment_args", {}),
        **chosen["train"].get("augment_args", {}),
    }
    for key, value in (flags or {}).items():
        if key not in FLAG_KEYS:
            raise PaperError(f"unknown flag {key!r}; flags: {', '.join(FLAG_KEYS)}")
        if value is not None:
            where = f"--{key.replace('_', '-')}"
            value = _train_value(key, value, where, paper.path)
            train[key] = value
    config: dict[str, Any] = {
        "paper": {**paper.info, "slug": paper.slug, "path": str(paper.path)},
        "variant": {
            "name": chosen["name"],
            "model": chosen["model"],
            "model_args": dict(chosen["model_args"]),
        },
        "train": train,
    }
    for assignment in sets:
        _apply_set(config, *parse_set(assignment))
    config["train"] = train = {key: train[key] for key in TRAIN_KEYS if key in train}
    _check_augment_args(train["augment_args"], "train.augment_args")
    train["augment_args"] = {**AUGMENT_DEFAULTS, **train["augment_args"]}
    for key in TRAIN_REQUIRED:
        if key not in train:
            raise PaperError(
                f"{paper.path / PAPER_FILE}: train.{key} is missing ({_type_name(TRAIN_KEYS[key])}"
                f" in [train] or in variant {chosen['name']!r}'s train table)"
            )
    _check_plateau(train)
    _check_callback_needs(config)
    return config


def _check_callback_needs(config: Mapping[str, Any]) -> None:
    """A callback of train.py may state what it needs of the resolved [train] table (a
    classmethod `check_config(train)` raising ValueError): an SDLM schedule needs SDLM, say.
    Found here, before anything is written, rather than when training starts."""
    train = config["train"]
    entries = _callback_entries(train.get("callbacks", []), "train.callbacks")
    if not entries:
        return
    known = paper_extras(config["paper"]["path"]).callbacks
    for index, (name, _) in enumerate(entries):
        check = getattr(known.get(name), "check_config", None)
        if check is None:
            continue
        try:
            check(train)
        except ValueError as error:
            raise PaperError(f"train.callbacks[{index}] ({name}): {error}") from None


def _check_plateau(train: Mapping[str, Any]) -> None:
    """ReduceLROnPlateau's monitor is a metric the Classifier has when the scheduler steps:
    train_loss/train_accuracy after each step; their epoch means and, with a validation split,
    val_loss/val_accuracy at the end of each epoch. Its mode fits the metric (min for a loss,
    max for an accuracy). Found here, not after the first epoch of training."""
    if train.get("scheduler") != "ReduceLROnPlateau":
        return
    monitor = train.get("scheduler_monitor", TRAIN_DEFAULTS["scheduler_monitor"])
    interval = train.get("scheduler_interval", TRAIN_DEFAULTS["scheduler_interval"])
    if monitor not in CLASSIFIER_METRICS["epoch"]:
        raise PaperError(
            f"train.scheduler_monitor: {monitor!r} is not a metric the Classifier logs; "
            f"choices: {', '.join(CLASSIFIER_METRICS[interval])}"
        )
    if interval == "step" and monitor not in CLASSIFIER_METRICS["step"]:
        raise PaperError(
            "train.scheduler_interval: ReduceLROnPlateau stepped after every training step "
            f"cannot monitor {monitor!r} (it exists only once a validation or an epoch is "
            'over); set train.scheduler_interval = "epoch", or monitor '
            f"{' or '.join(CLASSIFIER_METRICS['step'])}"
        )
    if monitor.startswith("val_") and not train.get("val_size", 0):
        raise PaperError(
            f"train.scheduler_monitor: {monitor!r} needs a validation split, but train.val_size "
            "is 0; hold images out with train.val_size (e.g. --set train.val_size=500) or "
            "monitor train_loss"
        )
    mode = train.get("scheduler_args", {}).get("mode", "min")
    wanted = "max" if monitor.startswith(("train_accuracy", "val_accuracy")) else "min"
    if mode in ("min", "max") and mode != wanted:
        better = "higher" if wanted == "max" else "lower"
        raise PaperError(
            f"train.scheduler_args.mode: {monitor} is better {better}, so ReduceLROnPlateau "
            f'monitoring it needs mode = "{wanted}", got "{mode}"'
        )


# ---------------------------------------------------------------------------------------------
# Building the model, optimizer, scheduler and data.


@contextlib.contextmanager
def _on_path(folder: Path) -> Iterator[None]:
    """`folder` first on sys.path while a paper's module runs (so it may import its siblings)."""
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(folder))


def _package_of(folder: Path) -> str:
    """The name of the package a paper folder's modules are imported under, made (an empty
    package whose path is the folder) when it is not in sys.modules: unique to the folder, so two
    papers' model.py (or two copies of one paper) never collide."""
    digest = hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    name = f"_odyssey_paper_{folder.name.replace('-', '_')}_{digest}"
    if name not in sys.modules:
        package = types.ModuleType(name)
        package.__path__ = [str(folder)]  # its modules are the folder's files
        package.__package__ = name
        sys.modules[name] = package
    return name


def _load_paper_module(folder: str | Path, filename: str) -> ModuleType:
    """Imports `folder`/`filename` as a module of the folder's package (see `_package_of`), the
    folder first on sys.path while it runs. Like any import it runs once per process: model.py
    and train.py then share their siblings (train.py's `from .model import map_loss` is the
    loss of the model module papers.py built the model from). A module that fails to import
    leaves nothing behind and is a PaperError naming the file and the error."""
    folder = Path(folder).resolve()
    name = f"{_package_of(folder)}.{Path(filename).stem}"
    if name in sys.modules:
        return sys.modules[name]
    path = folder / filename
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and typing look the module up while it runs
    try:
        with _on_path(folder):
            spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        raise PaperError(f"{path}: importing it failed: {type(error).__name__}: {error}") from error
    except BaseException:
        del sys.modules[name]
        raise
    return module


def load_model_module(folder: str | Path) -> ModuleType:
    """Imports `folder`/model.py as a module of the folder's own package (unique to the folder;
    two papers' model.py never collide) and leaves sys.path as it was."""
    folder = Path(folder).resolve()
    if not (folder / MODEL_FILE).is_file():
        raise PaperError(f"{folder} has no {MODEL_FILE}; a paper defines its models there")
    return _load_paper_module(folder, MODEL_FILE)


def load_train_module(folder: str | Path) -> ModuleType | None:
    """Imports `folder`/train.py (the paper's own loss, optimizer or callbacks) like model.py,
    or None when the paper has none."""
    folder = Path(folder).resolve()
    if not (folder / TRAIN_FILE).is_file():
        return None
    return _load_paper_module(folder, TRAIN_FILE)


@dataclass
class PaperExtras:
    """What a paper's train.py offers paper.toml by name (its __all__, else its public names),
    defined in the paper's own folder: optimizer classes (subclasses of odyssey.optim.Optimizer),
    callback classes (of odyssey.train.Callback) and losses (any other callable)."""

    optimizers: dict[str, type] = field(default_factory=dict)
    callbacks: dict[str, type] = field(default_factory=dict)
    losses: dict[str, Callable[..., Any]] = field(default_factory=dict)


def paper_extras(folder: str | Path) -> PaperExtras:
    """The optimizers, callbacks and losses of the paper's train.py (empty without one)."""
    from odyssey.optim import Optimizer
    from odyssey.train.callbacks import Callback

    module = load_train_module(folder)
    extras = PaperExtras()
    if module is None:
        return extras
    package = module.__name__.rpartition(".")[0]
    public = getattr(module, "__all__", [name for name in vars(module) if not name.startswith("_")])
    for name in public:
        value = getattr(module, name, None)
        if not str(getattr(value, "__module__", "")).startswith(package):
            continue  # what train.py imports from elsewhere (Path, Any ...) is not the paper's
        if isinstance(value, type) and issubclass(value, Optimizer):
            extras.optimizers[name] = value
        elif isinstance(value, type) and issubclass(value, Callback):
            extras.callbacks[name] = value
        elif callable(value) and not isinstance(value, ModuleType):
            extras.losses[name] = value
    return extras


def _callback_entries(value: Sequence[Any], where: str) -> list[tuple[str, dict[str, Any]]]:
    """train.callbacks as (name, keyword arguments) pairs: each item is a name or a table
    {name = "...", <argument> = ...}."""
    entries = []
    for index, item in enumerate(value):
        if isinstance(item, str):
            entries.append((item, {}))
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            entries.append((item["name"], {k: v for k, v in item.items() if k != "name"}))
        else:
            raise PaperError(
                f"{where}[{index}] must be a callback's name or a table "
                f'{{ name = "...", <argument> = ... }}, got {item!r}'
            )
    return entries


def _check_callbacks(value: Sequence[Any], where: str, folder: Path) -> None:
    """Every callback named is a Callback class of train.py, and its arguments fit it."""
    known = paper_extras(folder).callbacks
    for index, (name, arguments) in enumerate(_callback_entries(value, where)):
        if name not in known:
            choices = ", ".join(known) or f"none ({folder / TRAIN_FILE} defines no Callback)"
            raise PaperError(f"{where}[{index}]: unknown callback {name!r}; choices: {choices}")
        _keyword_check(known[name], arguments, f"{where}[{index}]")
        _build_callback(known[name], arguments, f"{where}[{index}]")


def _build_callback(cls: type, arguments: Mapping[str, Any], where: str) -> Any:
    """`cls(**arguments)`; a value it refuses is a PaperError naming the entry (so a paper's
    callback arguments are checked when the configuration is, before any training)."""
    try:
        return cls(**arguments)
    except (TypeError, ValueError) as error:
        raise PaperError(f"{where} ({cls.__name__}): {error}") from None


def build_loss(config: Mapping[str, Any]) -> Callable[[Any, Any], Any]:
    """The run's loss f(outputs, targets): nn.CrossEntropyLoss() for "cross_entropy", else the
    callable `train.loss` of the paper's train.py (a class is built without arguments)."""
    name = config["train"].get("loss", TRAIN_DEFAULTS["loss"])
    if name in BUILTIN_LOSSES:
        return BUILTIN_LOSSES[name]()
    losses = paper_extras(config["paper"]["path"]).losses
    if name not in losses:
        raise PaperError(
            f"train.loss: unknown {name!r}; choices: {', '.join([*BUILTIN_LOSSES, *losses])}"
        )
    loss = losses[name]
    if not isinstance(loss, type):
        return loss
    try:
        return loss()
    except (TypeError, ValueError) as error:
        raise PaperError(f"train.loss: {name}() failed: {error}") from None


def build_callbacks(config: Mapping[str, Any]) -> list[Any]:
    """The Trainer callbacks `train.callbacks` names, built with their arguments."""
    entries = _callback_entries(config["train"].get("callbacks", []), "train.callbacks")
    known = paper_extras(config["paper"]["path"]).callbacks
    built = []
    for index, (name, arguments) in enumerate(entries):
        if name not in known:
            raise PaperError(
                f"train.callbacks[{index}]: unknown callback {name!r}; choices: "
                f"{', '.join(known) or 'none'}"
            )
        built.append(_build_callback(known[name], arguments, f"train.callbacks[{index}]"))
    return built


def _keyword_check(cls: type, arguments: Mapping[str, Any], where: str, *leading: Any) -> None:
    """PaperError naming the argument when `cls(*leading, **arguments)` does not fit its
    signature, with the names it takes."""
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):  # no signature to check against: let the call decide
        return
    try:
        signature.bind(*leading, **arguments)
    except TypeError as error:
        names = [
            name
            for name, parameter in list(signature.parameters.items())[len(leading) :]
            if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
        ]
        takes = f"{cls.__name__} takes: {', '.join(names) or 'no arguments'}"
        unknown = [name for name in arguments if name not in names]
        if unknown:
            raise PaperError(f"{where}.{unknown[0]}: unknown argument; {takes}") from None
        raise PaperError(f"{where}: {error}; {takes}") from None


def build_model(config: Mapping[str, Any]) -> Any:
    """The variant's model: the class `variant.model` of the paper's model.py built with
    `variant.model_args`. Seed first (odyssey.manual_seed) for a reproducible initialisation."""
    variant = config["variant"]
    folder = Path(config["paper"]["path"])
    module = load_model_module(folder)
    cls = getattr(module, variant["model"], None)
    if not isinstance(cls, type):
        defined = [
            name
            for name, value in vars(module).items()
            if isinstance(value, type) and value.__module__ == module.__name__
        ]
        raise PaperError(
            f"variant.model: {folder / MODEL_FILE} defines no class {variant['model']!r}; "
            f"classes: {', '.join(defined) or 'none'}"
        )
    arguments = variant.get("model_args", {})
    _keyword_check(cls, arguments, "variant.model_args")
    _model_argument_types(cls, arguments)
    try:
        return cls(**arguments)
    except (TypeError, ValueError) as error:
        raise PaperError(_model_failure(cls, arguments, error)) from None


def _expected_type(parameter: inspect.Parameter, hints: Mapping[str, Any]) -> type | None:
    """The TOML type a model argument must have: from its annotation (int, float, bool, str,
    possibly `| None`), else from its default's type; None when neither says."""
    hint = hints.get(parameter.name)
    if hint is not None:
        options = [option for option in typing.get_args(hint) if option is not type(None)]
        if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(options) == 1:
            hint = options[0]
        return hint if hint in (int, float, bool, str) else None
    default = parameter.default
    if default is not parameter.empty and type(default) in (int, float, bool, str):
        return type(default)
    return None


def _model_argument_types(cls: type, arguments: Mapping[str, Any]) -> None:
    """PaperError naming `variant.model_args.<name>` when a value's type is not the one the
    model's annotation (or default) says, before the model is built."""
    try:
        parameters = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # an annotation that does not evaluate: the defaults decide
        hints = {}
    for name, value in arguments.items():
        parameter = parameters.get(name)
        expected = None if parameter is None else _expected_type(parameter, hints)
        if expected is None or (value is None and parameter.default is None):
            continue
        _checked(value, expected, f"variant.model_args.{name}")


def _model_failure(cls: type, arguments: Mapping[str, Any], error: Exception) -> str:
    """The message of a model that its arguments could not build, naming the argument at fault
    when leaving out that one alone lets the model build (a check made only after a failure)."""
    call = f"{cls.__name__}({', '.join(f'{k}={v!r}' for k, v in arguments.items())})"
    reason = f"{call} failed: {type(error).__name__}: {error}"
    culprits = []
    for name in arguments:
        try:
            cls(**{key: value for key, value in arguments.items() if key != name})
        # A probe: any failure means this argument is not the culprit (bandit B112).
        except Exception:  # nosec B112
            continue
        culprits.append(name)
    if len(culprits) == 1:
        return f"variant.model_args.{culprits[0]}: {reason}"
    return f"variant.model_args: {reason}" if arguments else f"variant.model: {reason}"


def optimizer_factory(config: Mapping[str, Any]) -> Callable[[Any], Any]:
    """`params -> optimizer`: the class `train.optimizer` of odyssey.optim with `train.lr` and
    `train.optimizer_args`; the arguments are checked now, their values when it is called."""
    train = config["train"]
    optimizers = {**_optimizers(), **paper_extras(config["paper"]["path"]).optimizers}
    name = train["optimizer"]
    if name not in optimizers:
        raise PaperError(f"train.optimizer: unknown {name!r}; choices: {', '.join(optimizers)}")
    cls = optimizers[name]
    if "lr" in train.get("optimizer_args", {}):
        raise PaperError("train.optimizer_args.lr: the learning rate is train.lr; set that instead")
    arguments = {**train.get("optimizer_args", {}), "lr": train["lr"]}
    _keyword_check(cls, arguments, "train.optimizer_args", [])

    def make(params: Any) -> Any:
        try:
            return cls(params, **arguments)
        except (TypeError, ValueError) as error:
            raise PaperError(f"train.optimizer_args: {error}") from None

    return make


def build_optimizer(config: Mapping[str, Any], params: Any) -> Any:
    """The optimizer of `params` that `optimizer_factory(config)` makes."""
    return optimizer_factory(config)(params)


def scheduler_factory(
    config: Mapping[str, Any], steps_per_epoch: int | None = None
) -> Callable[[Any], Any] | None:
    """`optimizer -> scheduler` for `train.scheduler` with `train.scheduler_args`, or None when
    it is "none". OneCycleLR without a length is sized to the run: `train.epochs` epochs of
    `steps_per_epoch` steps when scheduler_interval is "step", of one step when it is "epoch"
    (the number of times the Trainer steps it)."""
    train = config["train"]
    name = train.get("scheduler", "none")
    if name == "none":
        return None
    schedulers = _schedulers()
    if name not in schedulers:
        raise PaperError(
            f"train.scheduler: unknown {name!r}; choices: {', '.join(['none', *schedulers])}"
        )
    cls = schedulers[name]
    arguments = dict(train.get("scheduler_args", {}))
    if name == "OneCycleLR" and "total_steps" not in arguments and steps_per_epoch is not None:
        arguments.setdefault("epochs", train["epochs"])
        stepped_every_step = train.get("scheduler_interval", "epoch") == "step"
        arguments.setdefault("steps_per_epoch", steps_per_epoch if stepped_every_step else 1)
    _keyword_check(cls, arguments, "train.scheduler_args", None)

    def make(optimizer: Any) -> Any:
        try:
            return cls(optimizer, **arguments)
        except (TypeError, ValueError) as error:
            raise PaperError(f"train.scheduler_args: {error}") from None

    return make


def scheduler_spec(
    config: Mapping[str, Any], steps_per_epoch: int | None = None
) -> dict[str, Any] | None:
    """The Classifier's scheduler argument for the run: Lightning's dict of the factory
    (`scheduler_factory`), `train.scheduler_interval` and `train.scheduler_monitor`, or None when
    `train.scheduler` is "none"."""
    make = scheduler_factory(config, steps_per_epoch)
    if make is None:
        return None
    train = config["train"]
    return {
        "scheduler": make,
        "interval": train.get("scheduler_interval", TRAIN_DEFAULTS["scheduler_interval"]),
        "monitor": train.get("scheduler_monitor", TRAIN_DEFAULTS["scheduler_monitor"]),
    }


def check_schedule_length(
    config: Mapping[str, Any], scheduler: Any, steps_per_epoch: int, resumed: bool = False
) -> None:
    """PaperError when `scheduler` has a fixed length (OneCycleLR's total_steps) shorter than the
    run: `train.epochs` epochs of `steps_per_epoch` steps (or one step an epoch with
    scheduler_interval = "epoch") would step it past its end, which raises mid-training.
    `resumed`: the scheduler holds a checkpoint's state, whose length was fixed when that run
    started; only --epochs can change, so the message names it."""
    total = getattr(scheduler, "total_steps", None)
    if scheduler is None or not isinstance(total, int):
        return
    train = config["train"]
    per_epoch = steps_per_epoch if train.get("scheduler_interval", "epoch") == "step" else 1
    epochs = train["epochs"]
    needed = epochs * per_epoch
    if needed <= total:
        return
    name = type(scheduler).__name__
    run = f"{epochs} epoch{'s' if epochs != 1 else ''} of {per_epoch} scheduler step" + (
        "s" if per_epoch != 1 else ""
    )
    if resumed:
        raise PaperError(
            f"--epochs (train.epochs): {run} need {needed}, but the checkpoint's {name} "
            f"schedule has total_steps = {total}, fixed when its run started; resume with at most "
            f"--epochs {total // per_epoch}, or start a new run (without --resume) "
            f"for {epochs} epochs"
        )
    arguments = train.get("scheduler_args", {})
    key = next(
        (k for k in ("total_steps", "epochs", "steps_per_epoch") if k in arguments), "total_steps"
    )
    raise PaperError(
        f"train.scheduler_args.{key}: {name}'s schedule has total_steps = {total}, but {run} "
        f"need {needed}; give total_steps >= {needed}, or leave total_steps, epochs and "
        "steps_per_epoch out to size it from the run"
    )


def build_scheduler(
    config: Mapping[str, Any], optimizer: Any, steps_per_epoch: int | None = None
) -> Any:
    """The scheduler of `optimizer` that `scheduler_factory(config)` makes, or None."""
    make = scheduler_factory(config, steps_per_epoch)
    return None if make is None else make(optimizer)


@dataclass
class RunData:
    """The datasets and loaders of a run: train (minus the held-out val), val (None when
    val_size is 0) and test, and the dataset's class names."""

    train: Any
    val: Any | None
    test: Any
    train_loader: Any
    val_loader: Any | None
    test_loader: Any
    classes: list[str]

    @property
    def num_classes(self) -> int:
        """How many classes the dataset has."""
        return len(self.classes)


def build_augmentation(config: Mapping[str, Any]) -> Any:
    """The training split's distortions: RandomAffine(**train.augment_args) (AUGMENT_DEFAULTS
    filling what they leave out) when `train.augment` is true, else None."""
    train = config["train"]
    if not train.get("augment", False):
        return None
    from odyssey.data.transforms import RandomAffine

    arguments = {**AUGMENT_DEFAULTS, **train.get("augment_args", {})}
    _check_augment_args(arguments, "train.augment_args")
    return RandomAffine(**arguments)


def build_data(config: Mapping[str, Any], root: str | Path | None = None) -> RunData:
    """The train split of `train.dataset` with `train.val_size` images held out by `train.seed`
    (random_split), its test split, and their loaders (train shuffled by the seed, and distorted
    by `build_augmentation` when `train.augment` is true; val and test never are)."""
    from odyssey.data import DataLoader, load_dataset, random_split

    train = config["train"]
    name, seed, batch_size = train["dataset"], train["seed"], train["batch_size"]
    full = load_dataset(name, "train", root=root)
    test = load_dataset(name, "test", root=root)
    val_size = train.get("val_size", 0)
    if val_size >= len(full):
        raise PaperError(
            f"train.val_size: {val_size} leaves nothing to train on; {name} has {len(full):,} "
            "training images"
        )
    if val_size:
        kept, val = random_split(full, [len(full) - val_size, val_size], seed=seed)
    else:
        kept, val = full, None
    return RunData(
        train=kept,
        val=val,
        test=test,
        train_loader=DataLoader(
            kept,
            batch_size=batch_size,
            shuffle=True,
            seed=seed,
            transform=build_augmentation(config),
        ),
        val_loader=None if val is None else DataLoader(val, batch_size=batch_size),
        test_loader=DataLoader(test, batch_size=batch_size),
        classes=list(full.classes),
    )
