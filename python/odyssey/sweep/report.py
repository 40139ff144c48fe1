"""A sweep's results as files: sweep.json (the definition, every trial's record, the summary per
configuration and the best one), sweep.csv (one row per trial), and the plots — the metric
against each swept parameter with every seed's value and the mean ± std, and every trial's
training-loss curve on one chart (one colour per configuration, a line per seed).

Every file is written atomically; the plots use matplotlib's object API on the Agg canvas, as
the run directory's own plots do.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from odyssey._atomic import write_bytes_atomic, write_text_atomic

__all__ = [
    "CSV",
    "CURVES_PLOT",
    "JSON",
    "METRIC_PLOT",
    "best_configuration",
    "error_bars",
    "plot_curves",
    "plot_metric",
    "summarise",
    "write_csv",
    "write_json",
]

JSON = "sweep.json"
CSV = "sweep.csv"
METRIC_PLOT = "metric.png"
CURVES_PLOT = "curves.png"
_CSV_METRICS = ("test_accuracy", "test_loss", "best_val_accuracy", "train_img_per_s")


def summarise(records: Sequence[Mapping[str, Any]], metric: str) -> list[dict[str, Any]]:
    """Per configuration (in order): its parameters, its finished seeds' values of `metric`, and
    their mean, sample std (0 for one seed), min and max (None when no seed finished)."""
    configurations: dict[int, dict[str, Any]] = {}
    for record in records:
        entry = configurations.setdefault(
            record["config"],
            {"config": record["config"], "params": record["params"], "seeds": [], "values": []},
        )
        value = (record.get("metrics") or {}).get(metric)
        if record["status"] == "finished" and value is not None:
            entry["seeds"].append(record["seed"])
            entry["values"].append(value)
    for entry in configurations.values():
        values = entry["values"]
        entry["mean"] = statistics.fmean(values) if values else None
        entry["std"] = statistics.stdev(values) if len(values) > 1 else (0.0 if values else None)
        entry["min"] = min(values) if values else None
        entry["max"] = max(values) if values else None
    return [configurations[number] for number in sorted(configurations)]


def best_configuration(summary: Sequence[Mapping[str, Any]], mode: str) -> dict[str, Any] | None:
    """The configuration with the best mean (`mode` max or min); the first on a tie."""
    scored = [entry for entry in summary if entry["mean"] is not None]
    if not scored:
        return None
    pick = max if mode == "max" else min
    return dict(pick(scored, key=lambda entry: entry["mean"]))


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    """sweep.json, strict JSON (a non-finite number is null), atomically."""
    text = json.dumps(_strict(document), indent=2, allow_nan=False) + "\n"
    write_text_atomic(path, text)


def _strict(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_csv(path: Path, records: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> None:
    """sweep.csv: one row per trial — trial, configuration, each swept parameter (`keys`), seed,
    status, the metrics, wall time, host, threads and the error — atomically."""
    header = ["trial", "name", "config", *keys, "seed", "status", *_CSV_METRICS]
    header += ["wall_s", "host", "threads", "error"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for record in records:
        metrics = record.get("metrics") or {}
        writer.writerow(
            [
                record["trial"],
                record["name"],
                record["config"],
                *(record["params"].get(key, "") for key in keys),
                record["seed"],
                record["status"],
                *("" if metrics.get(m) is None else metrics[m] for m in _CSV_METRICS),
                "" if record.get("wall_s") is None else record["wall_s"],
                record.get("host") or "",
                "" if record.get("threads") is None else record["threads"],
                record.get("error") or "",
            ]
        )
    write_text_atomic(path, buffer.getvalue())


# -- plots ----------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def _save(figure: Any, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    write_bytes_atomic(path, buffer.getvalue())


def plot_metric(
    path: Path,
    records: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    metric: str,
    title: str,
) -> bool:
    """The metric against each swept parameter (one panel per key): each finished seed a dot,
    the mean ± std over seeds per value a line with error bars; a numeric parameter spanning
    more than a decade on a log axis. False (nothing drawn) when no trial finished."""
    from matplotlib.figure import Figure

    finished = [r for r in records if r["status"] == "finished" and _value(r, metric) is not None]
    if not finished:
        return False
    panels = list(keys) or ["seed"]
    figure = Figure(figsize=(5.0 * len(panels), 3.8), layout="constrained")
    for number, key in enumerate(panels):
        axes = figure.add_subplot(1, len(panels), number + 1)
        raw = [r["params"].get(key) if key != "seed" else r["seed"] for r in finished]
        numeric = all(_number(v) is not None for v in raw)
        labels = sorted({str(v) for v in raw}, key=lambda s: _number(s) if numeric else s)
        position = {label: (_number(label) if numeric else i) for i, label in enumerate(labels)}
        xs = [position[str(v)] for v in raw]
        ys = [_value(r, metric) for r in finished]
        axes.scatter(xs, ys, s=14, alpha=0.6, color="tab:blue", label="one seed")
        grouped: dict[float, list[float]] = {}
        for x, y in zip(xs, ys, strict=True):
            grouped.setdefault(x, []).append(y)
        centres = sorted(grouped)
        means = [statistics.fmean(grouped[x]) for x in centres]
        spreads = [statistics.stdev(grouped[x]) if len(grouped[x]) > 1 else 0 for x in centres]
        axes.errorbar(
            centres, means, yerr=error_bars(metric, means, spreads), color="tab:red",
            marker="o", capsize=3, label="mean ± std over seeds",
        )  # fmt: skip
        if numeric and min(xs) > 0 and max(xs) / min(xs) > 10:
            axes.set_xscale("log")
        if not numeric:
            axes.set_xticks(range(len(labels)), labels, rotation=30)
        axes.set_xlabel(key)
        axes.set_ylabel(metric)
        if metric.endswith("accuracy"):  # in % as the tables show it
            from matplotlib.ticker import PercentFormatter

            axes.yaxis.set_major_formatter(PercentFormatter(1.0))
        axes.grid(alpha=0.3)
        if number == 0:
            axes.legend(fontsize="small")
    figure.suptitle(title)
    _save(figure, path)
    return True


def error_bars(metric: str, means: Sequence[float], spreads: Sequence[float]) -> list[list[float]]:
    """(below, above) each mean: the std, cut where an accuracy's bar would leave [0, 1] (a
    mean of 29 % ± 36 % has no seed below 0 %)."""
    if not metric.endswith("accuracy"):
        return [list(spreads), list(spreads)]
    below = [min(spread, mean) for mean, spread in zip(means, spreads, strict=True)]
    above = [min(spread, 1.0 - mean) for mean, spread in zip(means, spreads, strict=True)]
    return [below, above]


def _value(record: Mapping[str, Any], metric: str) -> float | None:
    value = (record.get("metrics") or {}).get(metric)
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


def _loss_curve(run: Path) -> tuple[list[float], list[float]]:
    """The training loss by step from a run's metrics.jsonl (its step rows)."""
    steps, losses = [], []
    try:
        lines = (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    except OSError:
        return steps, losses
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        loss = row.get("train_loss")
        if isinstance(loss, (int, float)) and isinstance(row.get("step"), int):
            steps.append(row["step"])
            losses.append(loss if math.isfinite(loss) else math.nan)
    return steps, losses


def plot_curves(
    path: Path,
    records: Sequence[Mapping[str, Any]],
    run_of: Any,
    describe: Any,
    title: str,
) -> bool:
    """Every trial's training loss against the step on one chart: one colour per configuration
    (`describe(config)` its legend label), one line per seed, read from each run's
    metrics.jsonl (`run_of(record)` its run directory). False when no run logged a loss."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.5, 4.5), layout="constrained")
    axes = figure.add_subplot(1, 1, 1)
    configs = sorted({r["config"] for r in records})
    palette = colormaps["viridis" if len(configs) > 10 else "tab10"]
    drawn = False
    labelled: set[int] = set()
    for record in records:
        steps, losses = _loss_curve(run_of(record))
        if not steps:
            continue
        index = configs.index(record["config"])
        colour = palette(index / max(1, len(configs) - 1) if len(configs) > 10 else index % 10)
        label = None
        if record["config"] not in labelled and len(configs) <= 12:
            label = describe(record["config"])
            labelled.add(record["config"])
        marker = "o" if len(steps) < 20 else None  # a run logged a few times still shows
        axes.plot(
            steps, losses, color=colour, alpha=0.8, linewidth=1.0, marker=marker, markersize=3,
            label=label,
        )  # fmt: skip
        drawn = True
    if not drawn:
        return False
    axes.set_xlabel("step")
    axes.set_ylabel("training loss")
    axes.set_yscale("log")
    axes.grid(alpha=0.3)
    if labelled:
        axes.legend(fontsize="small", title="configuration (a line per seed)")
    axes.set_title(title)
    _save(figure, path)
    return True
