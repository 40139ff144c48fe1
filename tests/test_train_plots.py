"""curves.png and confusion.png: valid PNGs of the documented size, from rows with gaps, NaN, a
single epoch or nothing at all; the epoch axis; argument errors."""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import odyssey
from odyssey.train import plots
from odyssey.train.plots import plot_confusion, plot_curves

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def training_rows(epochs: int, steps_per_epoch: int = 10, every: int = 5) -> list[dict]:
    rows, step = [], 0
    for epoch in range(epochs):
        for _ in range(steps_per_epoch):
            step += 1
            if step % every == 0:
                rows.append(
                    {
                        "epoch": epoch,
                        "step": step,
                        "train_loss": 2.0 / step,
                        "train_accuracy": 1 - 1 / step,
                        "lr": 0.1 * 0.5**epoch,
                        "train_img_per_s": 999.0,
                    }
                )
        rows.append(
            {
                "epoch": epoch,
                "step": step,
                "train_loss_epoch": 2.5 / step,
                "val_loss": 3.0 / step,
                "val_accuracy": 1 - 1.5 / step,
            }
        )
    return rows


def test_curves_png(tmp_path: Path) -> None:
    rows = training_rows(5)
    rows[3]["train_loss"] = math.nan  # gaps, not failures
    rows[5]["val_loss"] = math.inf
    rows[7]["lr"] = None
    path = plot_curves(rows, tmp_path / "curves.png")
    assert path == tmp_path / "curves.png"
    assert png_size(path) == (12 * plots.DPI, 4 * plots.DPI)
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]  # no temporary left


def test_curves_positions_are_fractional_epochs() -> None:
    rows = training_rows(3)
    positions = plots._epoch_positions(rows)
    # Rows at steps 5 and 10 of a 10-step epoch, then the epoch row at its end.
    assert positions[:3] == [0.5, 1.0, 1.0]
    assert positions[3:6] == [1.5, 2.0, 2.0]
    # A last epoch cut short (max_steps) stays short of its end.
    cut = [*rows, {"epoch": 3, "step": 35, "train_loss": 0.1}]
    assert plots._epoch_positions(cut)[-1] == 3.5


@pytest.mark.parametrize(
    "rows",
    [
        training_rows(1),
        [],
        [
            {"epoch": "0", "step": "5", "train_loss": "1.5", "lr": "0.1"},  # read from the CSV
            {"epoch": 0, "step": 10, "train_loss": math.nan, "lr": None, "val_accuracy": 0.5},
            {"step": 12, "train_loss": 1.0, "note": "text"},
            {"epoch": 1, "train_loss": math.inf},
        ],
    ],
    ids=["single-epoch", "empty", "junk"],
)
def test_curves_degenerate_rows(tmp_path: Path, rows: list[dict]) -> None:
    assert png_size(plot_curves(rows, tmp_path / "c.png")) == (12 * plots.DPI, 4 * plots.DPI)


def test_curves_learning_rate_is_drawn_as_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    figures = []
    save = plots._save

    def keep(figure: Any, path: Path) -> Path:
        figures.append(figure)
        return save(figure, path)

    monkeypatch.setattr(plots, "_save", keep)
    plot_curves(training_rows(4), tmp_path / "curves.png")
    loss_axes, _, lr_axes = figures[0].axes[:3]
    (line,) = lr_axes.get_lines()
    assert line.get_drawstyle() == "steps-post"  # constant between rows, no slopes
    assert all(line.get_drawstyle() == "default" for line in loss_axes.get_lines())


def test_curves_errors(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="plot_curves: rows must be a sequence of dicts"):
        plot_curves({"step": 1}, tmp_path / "x.png")
    with pytest.raises(TypeError, match=r"plot_curves: rows\[1\] must be a dict, got int"):
        plot_curves([{}, 3], tmp_path / "x.png")
    with pytest.raises(TypeError, match=r"plot_curves: path must be a str or os\.PathLike"):
        plot_curves([], 3)


def confusion(classes: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 20, (classes, classes)) + np.diag(rng.integers(200, 300, classes))


def test_confusion_png(tmp_path: Path) -> None:
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    path = plot_confusion(confusion(10), names, tmp_path / "confusion.png")
    width, height = png_size(path)
    assert width > height >= 5 * plots.DPI
    assert [p.name for p in tmp_path.iterdir()] == ["confusion.png"]


@pytest.mark.parametrize("classes", [1, 20, 25])
def test_confusion_sizes(tmp_path: Path, classes: int) -> None:
    matrix = confusion(classes).tolist()  # nested lists are accepted too
    matrix[0] = [0] * classes  # a class without samples
    width, height = png_size(plot_confusion(matrix, None, tmp_path / "c.png"))
    assert height <= 11 * plots.DPI
    assert width > height


def test_confusion_accepts_tensors(tmp_path: Path) -> None:
    matrix = odyssey.tensor(np.array([[3, 1], [0, 4]], np.float32))
    assert png_size(plot_confusion(matrix, ("cat", "dog"), tmp_path / "t.png"))[0] > 0


@pytest.mark.parametrize(
    ("matrix", "names", "error", "message"),
    [
        (
            np.zeros((2, 3)),
            None,
            ValueError,
            r"matrix must be a square 2-D array of counts, got shape \(2, 3\)",
        ),
        (np.zeros((0, 0)), None, ValueError, "matrix must be a square 2-D array"),
        (np.array([[1, -1], [0, 1]]), None, ValueError, "matrix must hold finite non-negative"),
        (np.array([[1, np.nan], [0, 1]]), None, ValueError, "matrix must hold finite non-negative"),
        (np.eye(2), ["a"], ValueError, "class_names has 1 names for a 2x2 matrix"),
        (np.eye(2), "ab", TypeError, "class_names must be a sequence of str"),
        ([["a", "b"], ["c", "d"]], None, TypeError, "matrix must be a square 2-D array"),
    ],
)
def test_confusion_errors(
    tmp_path: Path, matrix: object, names: object, error: type, message: str
) -> None:
    with pytest.raises(error, match=f"plot_confusion: {message}"):
        plot_confusion(matrix, names, tmp_path / "x.png")
