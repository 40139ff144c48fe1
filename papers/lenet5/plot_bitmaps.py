"""Draws the output layer's ten 7x12 digit bitmaps (model.DIGIT_BITMAPS: +1 black, -1 white) as
the README's picture: `python papers/lenet5/plot_bitmaps.py [OUT.png]`."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from odyssey._atomic import write_bytes_atomic
from odyssey.papers import load_model_module

FOLDER = Path(__file__).resolve().parent


def plot_bitmaps(out: Path) -> None:
    """Writes the ten bitmaps side by side, each titled with its digit."""
    bitmaps = load_model_module(FOLDER).digit_bitmaps().reshape(10, 12, 7)
    figure, axes = plt.subplots(1, 10, figsize=(10, 2.2))
    for digit, (axis, bitmap) in enumerate(zip(axes, bitmaps, strict=True)):
        axis.imshow(bitmap, cmap="gray_r", vmin=-1, vmax=1, interpolation="nearest")
        axis.set_title(str(digit))
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle("RBF parameter vectors: 7x12 bitmaps, +1 black, -1 white")
    figure.tight_layout()
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=100)
    plt.close(figure)
    write_bytes_atomic(out, png.getvalue())  # never a half-written picture


if __name__ == "__main__":
    plot_bitmaps(Path(sys.argv[1]) if len(sys.argv) > 1 else FOLDER / "figures" / "rbf-bitmaps.png")
