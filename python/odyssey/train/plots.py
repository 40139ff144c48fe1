"""The run directory's plots: curves.png (loss, accuracy, learning rate) and confusion.png.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, so no global figure state and
no display needed), rendered to memory and written atomically.
"""

from __future__ import annotations

import io
import itertools
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from odyssey._atomic import write_bytes_atomic

__all__ = ["plot_confusion", "plot_curves"]

DPI = 120
_ANNOTATE_MAX_CLASSES = 20
_COUNTS_MAX_CLASSES = 10


def _path(path: Any, fn: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{fn}: path must be a str or os.PathLike, got {type(path).__name__}")
    return Path(path)


def _save(figure: Figure, path: Path) -> Path:
    """Renders the figure as PNG in memory, then replaces the file at once."""
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, buffer.getvalue())
    return path


def _float(value: Any) -> float:
    """A row's value as a float; missing, non-numeric and infinite values become NaN (a gap)."""
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


# -- curves ---------------------------------------------------------------------------------------


def _epoch_positions(rows: Sequence[Mapping[str, Any]]) -> list[float]:
    """Each row's position in epochs completed: a row logged after step s of epoch e sits at
    e + (s - first step of e) / (steps in e), so an epoch's final row sits at e + 1."""
    epochs = [_float(row.get("epoch")) for row in rows]
    steps = [_float(row.get("step")) for row in rows]
    ends: dict[int, float] = {}
    for epoch, step in zip(epochs, steps, strict=True):
        if not (math.isnan(epoch) or math.isnan(step)):
            ends[int(epoch)] = max(ends.get(int(epoch), -math.inf), step)
    order = sorted(ends)
    lengths = [ends[b] - ends[a] for a, b in itertools.pairwise(order) if b == a + 1]
    typical = (
        float(np.median(lengths))
        if lengths
        else (ends[order[0]] / (order[0] + 1) if order else 0.0)
    )
    starts: dict[int, float] = {}
    sizes: dict[int, float] = {}
    for index, epoch in enumerate(order):
        if epoch - 1 in ends:
            starts[epoch] = ends[epoch - 1]
        else:
            starts[epoch] = 0.0 if epoch == 0 else ends[epoch] - typical
        size = ends[epoch] - starts[epoch]
        if index == len(order) - 1 and lengths:
            size = max(size, typical)  # a last epoch cut short (max_steps, a stop) stays short
        sizes[epoch] = size
    positions = []
    for epoch, step in zip(epochs, steps, strict=True):
        if math.isnan(epoch):
            positions.append(math.nan)
        elif math.isnan(step) or int(epoch) not in sizes or sizes[int(epoch)] <= 0:
            positions.append(epoch + 1.0)
        else:
            e = int(epoch)
            positions.append(e + (step - starts[e]) / sizes[e])
    return positions


def _series(
    rows: Sequence[Mapping[str, Any]], x: list[float], key: str
) -> tuple[np.ndarray, np.ndarray]:
    """The (x, y) points of one key, in row order, over the rows that have it."""
    points = [(x[i], _float(row[key])) for i, row in enumerate(rows) if key in row]
    points = [(a, b) for a, b in points if not math.isnan(a)]
    if not points:
        return np.empty(0), np.empty(0)
    xs, ys = zip(*points, strict=True)
    return np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)


def _keys(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(key, None)
    return list(seen)


def _is_timing(key: str) -> bool:
    return key.endswith(("_s", "_per_s"))


def _legend_order(key: str) -> int:
    """Train per step, train per epoch, then validation."""
    if key.startswith("val"):
        return 2
    return 1 if key.endswith("_epoch") else 0


def _loss_keys(keys: list[str]) -> list[str]:
    found = [
        k
        for k in keys
        if "loss" in k and not k.startswith("test") and not _is_timing(k) and not k.startswith("lr")
    ]
    return sorted(found, key=_legend_order)


def _accuracy_keys(keys: list[str]) -> list[str]:
    found = [k for k in keys if "acc" in k and not k.startswith("test") and not _is_timing(k)]
    return sorted(found, key=_legend_order)


def _lr_keys(keys: list[str]) -> list[str]:
    if "lr" in keys:
        return ["lr"]
    return [
        k for k in keys if k.startswith("lr-") and not k.endswith(("-momentum", "-weight_decay"))
    ]


def _style(key: str) -> dict[str, Any]:
    """Train in blue, validation in orange; per-step values thin, epoch values with markers."""
    if key == "lr" or key.startswith("lr-"):
        # The learning rate is piecewise constant: a row's value holds from its step until the
        # next row (the Trainer's rows hold the lr after that step's or epoch's scheduler step;
        # the LearningRateMonitor logs the lr before the step it is used for), so it is drawn
        # as steps, never as slopes between rows.
        return {"linewidth": 1.6, "drawstyle": "steps-post"}
    colour = "tab:orange" if key.startswith("val") else "tab:blue"
    if key.endswith("_epoch") or key.startswith("val"):
        return {"color": colour, "marker": "o", "markersize": 4, "linewidth": 1.8}
    return {"color": colour, "linewidth": 0.9, "alpha": 0.55}


def _label(key: str) -> str:
    if key.endswith("_epoch"):
        return f"{key[: -len('_epoch')]} (epoch mean)"
    if key.endswith("_step") or (key.startswith("train") and not key.startswith("val")):
        return f"{key.removesuffix('_step')} (per step)"
    return key


def _empty(axes: Axes, what: str) -> None:
    axes.text(
        0.5,
        0.5,
        f"no {what} logged",
        ha="center",
        va="center",
        color="grey",
        transform=axes.transAxes,
    )


def _draw(
    axes: Axes,
    rows: Sequence[Mapping[str, Any]],
    x: list[float],
    keys: list[str],
    scale: float,
    colours: Sequence[str] | None = None,
) -> int:
    """Plots each key's series; returns how many had a finite point."""
    drawn = 0
    for index, key in enumerate(keys):
        xs, ys = _series(rows, x, key)
        if not np.isfinite(ys).any():
            continue
        style = _style(key)
        if colours is not None:
            style["color"] = colours[index % len(colours)]
        if len(xs) > 40 and "marker" in style:
            style["markersize"] = 2
        if len(xs) == 1:
            style.setdefault("marker", "o")
        axes.plot(xs, ys * scale, label=_label(key), **style)
        drawn += 1
    return drawn


def plot_curves(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """curves.png from the metrics rows (metrics.jsonl's): loss, accuracy and learning rate
    against epochs completed, train per step and per epoch, validation per epoch."""
    fn = "plot_curves"
    target = _path(path, fn)
    if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, Sequence):
        raise TypeError(f"{fn}: rows must be a sequence of dicts, got {type(rows).__name__}")
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise TypeError(f"{fn}: rows[{index}] must be a dict, got {type(row).__name__}")
    x = _epoch_positions(rows)
    keys = _keys(rows)
    figure = Figure(figsize=(12, 4), dpi=DPI, layout="constrained")
    loss_axes, accuracy_axes, lr_axes = figure.subplots(1, 3)

    if not _draw(loss_axes, rows, x, _loss_keys(keys), 1.0):
        _empty(loss_axes, "loss")
    loss_axes.set_title("Loss")
    loss_axes.set_ylabel("loss")

    accuracy_keys = _accuracy_keys(keys)
    values = [_float(row[k]) for row in rows for k in accuracy_keys if k in row]
    finite = [v for v in values if not math.isnan(v)]
    as_percent = bool(finite) and max(finite) <= 1.0 and min(finite) >= 0.0
    if not _draw(accuracy_axes, rows, x, accuracy_keys, 100.0 if as_percent else 1.0):
        _empty(accuracy_axes, "accuracy")
    accuracy_axes.set_title("Accuracy")
    accuracy_axes.set_ylabel("accuracy (%)" if as_percent else "accuracy")

    lr_keys = _lr_keys(keys)
    palette = ["tab:green", "tab:purple", "tab:brown", "tab:olive", "tab:cyan"]
    if not _draw(lr_axes, rows, x, lr_keys, 1.0, colours=palette):
        _empty(lr_axes, "learning rate")
    else:
        rates = [_float(row[k]) for row in rows for k in lr_keys if k in row]
        positive = [r for r in rates if r > 0]
        if positive and max(positive) / min(positive) > 20:
            lr_axes.set_yscale("log")
    lr_axes.set_title("Learning rate")
    lr_axes.set_ylabel("learning rate")

    last = max((p for p in x if not math.isnan(p)), default=0.0)
    for axes in (loss_axes, accuracy_axes, lr_axes):
        axes.set_xlabel("epoch")
        right = max(1.0, math.ceil(last - 1e-9))
        axes.set_xlim(-0.015 * right, 1.015 * right)  # room for the markers at both ends
        if right >= 4:
            axes.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
        else:  # quarter epochs
            axes.xaxis.set_major_locator(MaxNLocator(nbins=4 * right, steps=[2.5, 5, 10]))
        axes.grid(True, alpha=0.3)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(fontsize=8, loc="best")
    epochs = {int(e) for e in (_float(r.get("epoch")) for r in rows) if not math.isnan(e)}
    steps = [_float(r.get("step")) for r in rows]
    last_step = max((s for s in steps if not math.isnan(s)), default=0)
    plural = "" if len(epochs) == 1 else "s"
    figure.suptitle(f"Training curves: {len(epochs)} epoch{plural}, {int(last_step):,} steps")
    return _save(figure, target)


# -- confusion matrix -----------------------------------------------------------------------------


def plot_confusion(
    matrix: Any, class_names: Sequence[str] | None, path: str | os.PathLike[str]
) -> Path:
    """confusion.png: the confusion matrix (rows: true class, columns: predicted) normalised so
    each row sums to 100 %, with class names on the axes, a colour bar, and each cell's
    percentage (and count, up to 10 classes) written in it up to 20 classes."""
    fn = "plot_confusion"
    target = _path(path, fn)
    data = matrix.numpy() if hasattr(matrix, "numpy") else matrix
    try:
        counts = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{fn}: matrix must be a square 2-D array of counts, got {type(matrix).__name__}"
        ) from None
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] == 0:
        raise ValueError(
            f"{fn}: matrix must be a square 2-D array of counts, got shape {counts.shape}"
        )
    if not np.isfinite(counts).all() or (counts < 0).any():
        raise ValueError(f"{fn}: matrix must hold finite non-negative counts")
    classes = counts.shape[0]
    if class_names is None:
        names = [str(i) for i in range(classes)]
    else:
        if isinstance(class_names, str) or not isinstance(class_names, Sequence):
            raise TypeError(
                f"{fn}: class_names must be a sequence of str or None, got"
                f" {type(class_names).__name__}"
            )
        names = [str(name) for name in class_names]
        if len(names) != classes:
            raise ValueError(
                f"{fn}: class_names has {len(names)} names for a {classes}x{classes} matrix"
            )
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        percent = np.where(totals > 0, 100.0 * counts / totals, np.nan)  # NaN: no sample

    side = float(np.clip(0.5 * classes + 2.5, 5.0, 11.0))
    figure = Figure(figsize=(side + 1.3, side), dpi=DPI, layout="constrained")
    axes = figure.subplots()
    cmap = colormaps["Blues"].with_extremes(bad="#e8e8e8")
    image = axes.imshow(percent, cmap=cmap, vmin=0.0, vmax=100.0, interpolation="nearest")
    colour_bar = figure.colorbar(image, ax=axes, fraction=0.046, pad=0.03)
    colour_bar.set_label("% of the true class")

    step = max(1, math.ceil(classes / 50))
    ticks = np.arange(0, classes, step)
    axes.set_xticks(ticks, [names[i] for i in ticks])
    axes.set_yticks(ticks, [names[i] for i in ticks])
    if max(len(n) for n in names) > 2:
        for label in axes.get_xticklabels():
            label.set_rotation(45)
            label.set_horizontalalignment("right")
            label.set_rotation_mode("anchor")
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")

    if classes <= _ANNOTATE_MAX_CLASSES:
        size = 9 if classes <= _COUNTS_MAX_CLASSES else 7
        for i in range(classes):
            for j in range(classes):
                value = percent[i, j]
                if math.isnan(value):
                    if j == classes // 2:
                        axes.text(
                            j,
                            i,
                            "no samples",
                            ha="center",
                            va="center",
                            fontsize=size,
                            color="grey",
                        )
                    continue
                if counts[i, j] == 0:
                    text = "0"  # the many empty cells stay quiet
                elif classes <= _COUNTS_MAX_CLASSES:
                    text = f"{value:.1f}\n({round(counts[i, j]):,})"
                else:
                    text = f"{value:.0f}"
                axes.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=size,
                    linespacing=1.1,
                    color="white" if value > 55 else ("black" if counts[i, j] else "#9a9a9a"),
                    in_layout=False,  # inside the axes: the layout need not measure 400 texts
                )
    total = counts.sum()
    accuracy = np.trace(counts) / total if total > 0 else math.nan
    figure.suptitle(
        f"Confusion matrix, row-normalised (%): {round(total):,} samples,"
        f" accuracy {100 * accuracy:.2f} %"
    )
    return _save(figure, target)
