"""What a sweep is: the paper, its variant, the seeds, the configurations (a grid, random draws,
or both) and the metric that ranks them; parsed from the command line, checked against the paper
before anything runs, and expanded into a reproducible list of trials.

A configuration is a list of ``--set key=value`` assignments, the same mechanism ``odyssey train``
uses, so a trial is exactly the run ``odyssey train PAPER --set key=value --seed S`` makes. Random
values come from ``numpy.random.default_rng(sample_seed)``: the same command draws the same
trials, which is what lets a sweep resume.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from odyssey import papers

__all__ = [
    "Distribution",
    "SweepError",
    "SweepSpec",
    "Trial",
    "build_spec",
    "check_configurations",
    "default_mode",
    "differing_keys",
    "format_value",
    "metrics_of",
    "parse_distribution",
    "parse_grid",
    "parse_seeds",
    "split_values",
]


class SweepError(ValueError):
    """A mistake in a sweep's definition (a usage error: exit status 2, this one-line message)."""


# More seeds than any sweep runs: a typo such as 0-100000000 is refused at once, not expanded.
MAX_SEEDS = 10_000


def parse_seeds(text: str, option: str = "--seeds") -> list[int]:
    """`0-4`, `0,2,5` or a mix (`0-2,7`): the seeds in the order given, each once (at most
    MAX_SEEDS)."""
    seeds: list[int] = []
    seen: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        match = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if match is None:
            raise SweepError(
                f"{option}: expected seeds as 0-4 or 0,2,5 (non-negative integers), got {text!r}"
            )
        first = int(match.group(1))
        last = first if match.group(2) is None else int(match.group(2))
        if last < first:
            raise SweepError(f"{option}: the range {part!r} runs backwards; write {last}-{first}")
        if len(seeds) + (last - first + 1) > MAX_SEEDS:
            raise SweepError(
                f"{option}: {text!r} lists more than {MAX_SEEDS:,} seeds; a sweep runs fewer"
            )
        for seed in range(first, last + 1):
            if seed in seen:
                raise SweepError(f"{option}: seed {seed} is listed twice in {text!r}")
            seen.add(seed)
            seeds.append(seed)
    return seeds


def split_values(text: str) -> list[str]:
    """`0.01,0.05,[1, 2]` -> ['0.01', '0.05', '[1, 2]']: commas inside brackets, braces or quotes
    belong to the value (a TOML list or table is one value)."""
    values, depth, quote, current = [], 0, "", []
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            values.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    values.append("".join(current).strip())
    return values


def parse_grid(text: str) -> tuple[str, list[str]]:
    """`--grid train.lr=0.01,0.05`: the key and its values (as written: each is read as TOML by
    the same parser as `--set`)."""
    key, sep, rest = text.partition("=")
    key = key.strip()
    values = split_values(rest) if sep else []
    if not sep or not key or not rest.strip() or any(not v for v in values):
        raise SweepError(
            f"--grid: expected key=v1,v2,... (e.g. train.lr=0.01,0.05,0.1), got {text!r}"
        )
    if len(set(values)) != len(values):
        raise SweepError(f"--grid {key}: a value is listed twice in {rest!r}")
    return key, values


DISTRIBUTIONS = ("loguniform", "uniform", "choice", "randint")


@dataclass(frozen=True)
class Distribution:
    """One `--random` key: where its values are drawn from."""

    key: str
    kind: str  # one of DISTRIBUTIONS
    arguments: tuple[Any, ...]

    def draw(self, rng: np.random.Generator) -> Any:
        """One value drawn from `rng` (a float, an int, or one of choice's values as text)."""
        if self.kind == "uniform":
            low, high = self.arguments
            return float(rng.uniform(low, high))
        if self.kind == "loguniform":
            low, high = self.arguments
            return float(math.exp(rng.uniform(math.log(low), math.log(high))))
        if self.kind == "randint":
            low, high = self.arguments
            return int(rng.integers(low, high, endpoint=True))
        chosen = self.arguments[int(rng.integers(len(self.arguments)))]
        return papers.parse_set(f"{self.key}={chosen}")[1]

    def describe(self) -> str:
        """The distribution as the command line writes it."""
        return f"{self.kind}({', '.join(map(str, self.arguments))})"


def parse_distribution(text: str) -> Distribution:
    """`train.lr=loguniform(1e-4,1e-1)`, `uniform(a,b)`, `randint(a,b)` (both ends included) or
    `choice(a,b,c)` (values as written, read as TOML like `--set`)."""
    usage = (
        "expected key=loguniform(a,b), key=uniform(a,b), key=randint(a,b) or "
        f"key=choice(a,b,...), got {text!r}"
    )
    key, sep, rest = text.partition("=")
    key = key.strip()
    match = re.fullmatch(r"\s*([a-z]+)\s*\((.*)\)\s*", rest, flags=re.DOTALL)
    if not sep or not key or match is None:
        raise SweepError(f"--random: {usage}")
    kind, inner = match.group(1), match.group(2)
    if kind not in DISTRIBUTIONS:
        raise SweepError(f"--random {key}: unknown distribution {kind!r}; {usage}")
    values = split_values(inner)
    if kind == "choice":
        if any(not v for v in values) or len(values) < 1:
            raise SweepError(f"--random {key}: choice needs at least one value, got {rest!r}")
        return Distribution(key, kind, tuple(values))
    if len(values) != 2:
        raise SweepError(f"--random {key}: {kind} takes two bounds (low, high), got {rest!r}")
    try:
        numbers = [int(v) if kind == "randint" else float(v) for v in values]
    except ValueError:
        kind_of = "integers" if kind == "randint" else "numbers"
        raise SweepError(
            f"--random {key}: {kind}'s bounds must be {kind_of}, got {rest!r}"
        ) from None
    low, high = numbers
    if not all(math.isfinite(n) for n in numbers) or not low < high:
        raise SweepError(f"--random {key}: {kind} needs finite bounds low < high, got {rest!r}")
    if kind == "loguniform" and low <= 0:
        raise SweepError(f"--random {key}: loguniform's bounds must be positive, got {rest!r}")
    return Distribution(key, kind, (low, high))


def default_mode(metric: str) -> str:
    """A loss is minimised, anything else (an accuracy) maximised."""
    return "min" if metric.endswith("loss") else "max"


@dataclass(frozen=True)
class Trial:
    """One run of the sweep: configuration `config` (its index), `params` (key -> value, as
    passed to `--set`) and `seed`; its run goes to trials/<name> of the sweep directory."""

    index: int
    config: int
    params: dict[str, Any]
    seed: int

    @property
    def name(self) -> str:
        """The trial's directory name: its configuration and seed, sortable."""
        return f"c{self.config:03d}-s{self.seed}"

    @property
    def sets(self) -> list[str]:
        """The `--set key=value` assignments of its configuration."""
        return [f"{key}={format_value(value)}" for key, value in self.params.items()]


def differing_keys(stored: Mapping[str, Any], mine: Mapping[str, Any]) -> list[str]:
    """The keys of two stored definitions that differ, grid values and `--set`s compared as
    the values they are (`0.1` and `1e-1` are one learning rate)."""
    return [key for key in mine if _comparable(key, stored.get(key)) != _comparable(key, mine[key])]


def _comparable(key: str, value: Any) -> Any:
    try:
        if key == "grid" and isinstance(value, Mapping):
            return {
                name: [papers.parse_set(f"{name}={text}")[1] for text in texts]
                for name, texts in value.items()
            }
        if key == "sets" and isinstance(value, list):
            return [papers.parse_set(assignment) for assignment in value]
    except (papers.PaperError, TypeError):
        pass  # not as this version writes it: compared as it is
    return value


def format_value(value: Any) -> str:
    """A parameter as `--set` reads it back to the same value: TOML (floats exact), except a
    plain string, which `--set` takes as it is."""
    return value if isinstance(value, str) else _toml(value)


def _toml(value: Any) -> str:
    """`value` as an inline TOML value (floats by repr: read back exactly)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(k))} = {_toml(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    return str(value)


@dataclass
class SweepSpec:
    """A sweep's definition: everything that decides which runs it makes (not how: the backend,
    the parallelism and the thread count leave every result's bits the same)."""

    paper: str  # the paper's folder, resolved
    slug: str
    variant: str
    seeds: list[int]
    grid: list[tuple[str, list[str]]] = field(default_factory=list)
    random: list[Distribution] = field(default_factory=list)
    trials: int | None = None  # random draws
    sample_seed: int = 0
    metric: str = "test_accuracy"
    mode: str = "max"
    sets: list[str] = field(default_factory=list)  # fixed overrides for every trial
    # A digest of every configuration as resolved from paper.toml (check_configurations): a
    # sweep resumed after the recipe changed would mix two recipes' runs.
    recipe: str | None = None

    def definition(self) -> dict[str, Any]:
        """The definition as stored in sweep.json (what a resumed command must match)."""
        return {
            "paper": self.paper,
            "slug": self.slug,
            "variant": self.variant,
            "seeds": list(self.seeds),
            "grid": {key: list(values) for key, values in self.grid},
            "random": {d.key: d.describe() for d in self.random},
            "trials": self.trials,
            "sample_seed": self.sample_seed,
            "metric": self.metric,
            "mode": self.mode,
            "sets": list(self.sets),
            "recipe_sha256": self.recipe,
        }

    def configurations(self) -> list[dict[str, Any]]:
        """Each configuration's parameters: every grid point, combined with each random draw
        (drawn in order from one generator seeded by sample_seed); one empty one if neither."""
        names = [key for key, _ in self.grid]
        points = [
            {
                name: papers.parse_set(f"{name}={text}")[1]
                for name, text in zip(names, combo, strict=True)
            }
            for combo in _product(self.grid)
        ]
        if not self.random:
            return points
        rng = np.random.default_rng(self.sample_seed)
        draws = [{d.key: d.draw(rng) for d in self.random} for _ in range(self.trials or 0)]
        return [{**point, **draw} for draw in draws for point in points]

    def expand(self) -> list[Trial]:
        """The trials: each configuration once per seed, configuration-major."""
        trials = []
        for number, params in enumerate(self.configurations()):
            for seed in self.seeds:
                trials.append(Trial(len(trials), number, params, seed))
        return trials


def _product(grid: Sequence[tuple[str, Sequence[str]]]) -> list[tuple[str, ...]]:
    return list(itertools.product(*(values for _, values in grid)))


def build_spec(
    paper_name: str,
    variant: str | None,
    seeds: str | None,
    grid: Sequence[str],
    random: Sequence[str],
    trials: int | None,
    metric: str,
    mode: str | None,
    sets: Sequence[str] = (),
    sample_seed: int = 0,
) -> tuple[SweepSpec, papers.Paper]:
    """Parses and checks a sweep's options against the paper: the keys (each trial's
    configuration resolves as `odyssey train` would resolve it), the seeds, the random draws.
    SweepError (or papers.PaperError) names the option and what was expected."""
    paper = papers.load_paper(papers.find_paper(paper_name))
    chosen = paper.variant(variant)["name"]
    first = paper.train.get("seed", 0)
    seed_list = parse_seeds(seeds) if seeds is not None else [first]
    parsed_grid = [parse_grid(text) for text in grid]
    parsed_random = [parse_distribution(text) for text in random]
    keys = [key for key, _ in parsed_grid] + [d.key for d in parsed_random]
    for key in keys:
        if keys.count(key) > 1:
            raise SweepError(f"{key} is swept twice (each key once, by --grid or --random)")
        if key in ("train.seed", "seed"):
            raise SweepError(f"{key}: seeds are swept by --seeds, not --grid/--random")
        if key in ("train.threads", "threads"):
            raise SweepError(f"{key}: a trial's threads are --threads, not a parameter")
    if parsed_random and not trials:
        raise SweepError("--random needs --trials N (how many configurations to draw)")
    if trials is not None and not parsed_random:
        raise SweepError("--trials N counts the --random draws; give --random key=dist(...)")
    if trials is not None and trials < 1:
        raise SweepError(f"--trials must be >= 1, got {trials}")
    if mode is not None and mode not in ("max", "min"):
        raise SweepError(f"--mode must be max or min, got {mode!r}")
    spec = SweepSpec(
        paper=str(paper.path),
        slug=paper.slug,
        variant=chosen,
        seeds=seed_list,
        grid=parsed_grid,
        random=parsed_random,
        trials=trials,
        sample_seed=sample_seed,
        metric=metric,
        mode=mode or default_mode(metric),
        sets=list(sets),
    )
    _check_metric_known(metric)
    spec.recipe = check_configurations(spec, paper)
    return spec, paper


def check_configurations(spec: SweepSpec, paper: papers.Paper) -> str:
    """Every configuration resolves as `odyssey train` would (unknown keys and bad values are
    caught here, before any trial runs; PaperError names the key and the choices); returns a
    digest of the resolved configurations, the seed and threads aside."""
    digest = hashlib.sha256()
    for params in spec.configurations():
        sets = [*spec.sets, *Trial(0, 0, params, 0).sets]
        try:
            config = papers.resolve(paper, spec.variant, None, sets)
        except papers.PaperError as error:
            where = ", ".join(f"{k}={format_value(v)}" for k, v in params.items())
            raise papers.PaperError(
                f"{error}" + (f" (configuration {where})" if where else "")
            ) from None
        config["train"].pop("seed", None)
        config["train"].pop("threads", None)
        decisive = {"variant": config["variant"], "train": config["train"]}
        digest.update(json.dumps(decisive, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


_METRICS = ("test_accuracy", "test_loss", "best_val_accuracy", "train_img_per_s", "wall_s")


def _check_metric_known(metric: str) -> None:
    if metric not in _METRICS:
        raise SweepError(f"--metric: expected one of {', '.join(_METRICS)}, got {metric!r}")


def metrics_of(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The summary.json fields a sweep records per trial."""
    return {key: summary.get(key) for key in (*_METRICS, "weights_sha256", "steps", "epochs")}
