"""Scores of the research assistant on evaluation cases (``nox -s agents-eval``): papers whose
reading we already trust, each a folder under ``tests/agents/eval/research/<case>/`` holding the
paper's text (written by us, page-separated by form feeds) and ``case.json`` with what a correct
reading recovers (LeNet-5 first: the layer shapes, ~60,000 parameters, the 20-pass schedule, the
0.95 % and 0.8 % test errors).

`score(case, output)` compares one answer with its case's ``expected`` and returns each measure
in [0, 1] and their mean, ``overall``; `prepare(case)` gives the harness
(``odyssey.agents.evaluate``) the agent's input for a case, `load_case` reads one as the harness
does. Nothing here calls the model.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from odyssey.agents.research.recipe import accuracy_of

__all__ = ["load_case", "prepare", "score"]

# The layers whose output shape the case lists: the ones that change the shape or learn.
_SHAPED = {"conv2d", "linear", "maxpool2d", "avgpool2d", "adaptive_avgpool2d", "other"}


def load_case(directory: str | Path) -> dict[str, Any]:
    """A case folder's case.json with ``_directory`` set, as the harness
    (odyssey.agents.evaluate.load_cases) loads it."""
    directory = Path(directory)
    case = json.loads((directory / "case.json").read_text(encoding="utf-8"))
    case.setdefault("name", directory.name)
    case["_directory"] = str(directory)
    return case


def prepare(case: Mapping[str, Any], budget_tokens: int | None = None) -> tuple[dict, list]:
    """The agent's variables and files for `case`: its paper (``paper``, beside case.json)
    read as `odyssey agent research` reads a local file, cut to the agent's budget."""
    from odyssey.agents.core import load_agent
    from odyssey.agents.research import context
    from odyssey.agents.research.source import load_source

    if budget_tokens is None:
        budget_tokens = load_agent("research").context_budget
    paper = Path(str(case["_directory"])) / str(case["paper"])
    return context(load_source(str(paper)), budget_tokens)


def _subsequence_recall(expected: Sequence[Any], found: Sequence[Any]) -> float:
    """The share of `expected` found in `found` in the same order (longest common
    subsequence): a missing or wrong layer costs its own entry, not every later one."""
    if not expected:
        return 1.0
    rows = [[0] * (len(found) + 1) for _ in range(len(expected) + 1)]
    for i, want in enumerate(expected, start=1):
        for j, have in enumerate(found, start=1):
            rows[i][j] = (
                rows[i - 1][j - 1] + 1 if want == have else max(rows[i - 1][j], rows[i][j - 1])
            )
    return rows[-1][-1] / len(expected)


def _close(a: float, b: float, relative: float = 1e-6) -> bool:
    return math.isclose(a, b, rel_tol=relative, abs_tol=1e-12)


def score(case: Mapping[str, Any], output: Mapping[str, Any]) -> dict[str, float]:
    """Each measure of `output` (an answer valid against output.schema.json) against
    `case["expected"]`, in [0, 1]: the input shape, the layers' shapes in order, their parameter
    counts, the total within its tolerance, epochs and batch size, the schedule's rates, the
    dataset's mapping, the claims found (value and augmentation), and the share of items that
    cite a source; `overall` is their mean."""
    expected = case.get("expected", case)
    architecture = output.get("architecture", {})
    layers = architecture.get("layers", [])
    training = output.get("training", {})
    scores: dict[str, float] = {}

    scores["input_shape"] = float(
        list(architecture.get("input_shape", [])) == expected["input_shape"]
    )
    shapes = [
        list(layer.get("output_shape", [])) for layer in layers if layer.get("type") in _SHAPED
    ]
    scores["layer_shapes"] = _subsequence_recall(expected["shapes"], shapes)
    counts = [layer.get("parameters") for layer in layers if layer.get("parameters")]
    scores["layer_parameters"] = _subsequence_recall(expected["layer_parameters"], counts)
    total = architecture.get("total_parameters")
    tolerance = expected.get("parameter_tolerance", 0.0)
    scores["total_parameters"] = float(
        total is not None
        and abs(total - expected["total_parameters"]) <= tolerance * expected["total_parameters"]
    )
    scores["epochs"] = float(training.get("epochs", {}).get("value") == expected["epochs"])
    scores["batch_size"] = float(
        training.get("batch_size", {}).get("value") == expected["batch_size"]
    )
    schedule = training.get("lr_schedule", {})
    rates = [value for value in schedule.get("values") or [] if isinstance(value, (int, float))]
    lr = training.get("optimizer", {}).get("lr")
    if lr is not None and not rates:
        rates = [lr]
    found_rates = sum(any(_close(rate, want) for rate in rates) for want in expected["lr_values"])
    scores["schedule"] = found_rates / len(expected["lr_values"])
    scores["dataset"] = float(
        any(d.get("odyssey_name") == expected["dataset"] for d in output.get("datasets", []))
    )
    claims = output.get("claims", [])
    hits = 0
    for want in expected["claims"]:
        accuracy = 1.0 - want["error_percent"] / 100.0
        hits += any(
            (value := accuracy_of(claim)) is not None
            and _close(value, accuracy, 1e-4)
            and bool(claim.get("augmented")) == want["augmented"]
            for claim in claims
        )
    scores["claims"] = hits / len(expected["claims"])
    items = [*layers, *claims, *output.get("datasets", []), *training.values()]
    cited = [
        item
        for item in items
        if isinstance(item, Mapping)
        and str(item.get("source", "")).strip().lower() not in ("", "not stated")
    ]
    scores["sources"] = len(cited) / len(items) if items else 0.0
    scores["overall"] = sum(scores.values()) / len(scores)
    return scores
