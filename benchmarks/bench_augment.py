"""RandomAffine over 60,000 28x28 images: our batched kernel and the DataLoader with it, side by
side with the same distortion done by scipy.ndimage.affine_transform per image, in one run.

Images are Fashion-MNIST's training set when Debian's dataset-fashion-mnist is installed, else the
bundled mnist-sample tiled to 60,000. The kernel and the loader process the whole set per round;
SciPy, much slower, processes a --scipy-images subset and is reported per image. Rounds
alternate (kernel, loader, SciPy) so all see the same machine state; the median round counts.
The issue's bar: the loader with augmentation at >= 5x LeNet-5's training-step rate (~26,000
images/s at 3x PyTorch), i.e. >= 130,000 images/s. Writes benchmarks/results/augment.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy
import scipy.ndimage
from harness import write_report

import odyssey
from odyssey.data import ArrayDataset, DataLoader, RandomAffine, SampleKeys, load_dataset

RESULTS = Path(__file__).parent / "results"
BAR_IMAGES_PER_SECOND = 130_000
# LeNet-5's distortions, in the spirit of LeCun et al. (1998): small rotations, scalings,
# squeezes, shears and shifts.
TRANSFORM = RandomAffine(
    degrees=15, translate=(0.1, 0.1), scale=(0.85, 1.15), shear=10, squeeze=0.15
)
HEADER = f"{'what':<26} {'batch':>5} {'thr':>3} {'images/s':>12} {'vs SciPy':>9}"
ROW = "{what:<26} {batch:>5} {threads:>3} {images_per_second:>12,.0f} {vs_scipy:>8.1f}x"


def training_images(count: int) -> tuple[np.ndarray, np.ndarray, str]:
    """uint8 (count, 28, 28) images and their labels, and where they came from."""
    try:
        dataset = load_dataset("fashion-mnist", "train", download=False)
        source = f"fashion-mnist train ({dataset.source})"
    except Exception:  # not installed: the bundled real digits, repeated
        dataset = load_dataset("mnist-sample", "train")
        source = "mnist-sample train, tiled"
    repeats = -(-count // len(dataset))
    images = np.tile(dataset.images, (repeats, 1, 1))[:count]
    labels = np.tile(dataset.labels, repeats)[:count]
    return np.ascontiguousarray(images), labels, source


def kernel_pass(images: np.ndarray, batch: int) -> Callable[[], int]:
    """Every image once through RandomAffine in batches of `batch`, float32 NCHW already."""
    indices = np.arange(len(images), dtype=np.int64)

    def run() -> int:
        for start in range(0, len(images), batch):
            TRANSFORM(
                images[start : start + batch], SampleKeys(0, 0, indices[start : start + batch])
            )
        return len(images)

    return run


def loader_pass(loader: DataLoader) -> Callable[[], int]:
    """One shuffled epoch of the DataLoader with RandomAffine, from uint8 images to batches."""

    def run() -> int:
        return sum(len(labels) for _, labels in loader)

    return run


def scipy_pass(images: np.ndarray) -> Callable[[], int]:
    """The same maps, one scipy.ndimage.affine_transform(order=1) call per image."""
    keys = SampleKeys(0, 0, np.arange(len(images), dtype=np.int64))
    maps = TRANSFORM.matrices(keys, 28, 28).astype(np.float64)
    # SciPy works in (row, column): input (y, x) = matrix @ output (y, x) + offset.
    matrices = maps[:, ::-1, 1::-1].copy()
    offsets = maps[:, ::-1, 2].copy()
    out = np.empty_like(images)

    def run() -> int:
        for i in range(len(images)):
            scipy.ndimage.affine_transform(
                images[i, 0], matrices[i], offsets[i], output=out[i, 0], order=1,
                mode="grid-constant", cval=0.0,
            )  # fmt: skip
        return len(images)

    return run


def rates(passes: dict[str, Callable[[], int]], rounds: int) -> dict[str, float]:
    """Median images/s of each pass, timed in alternating rounds after one warm-up each."""
    for run in passes.values():
        run()
    seconds: dict[str, list[float]] = {name: [] for name in passes}
    counts: dict[str, int] = {}
    for _ in range(rounds):
        for name, run in passes.items():
            start = time.perf_counter()
            counts[name] = run()
            seconds[name].append(time.perf_counter() - start)
    return {name: counts[name] / statistics.median(seconds[name]) for name in passes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=60_000)
    parser.add_argument("--scipy-images", type=int, default=2_000)
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS / "augment.json")
    args = parser.parse_args()

    raw, labels, source = training_images(args.images)
    images = (raw.astype(np.float32) / np.float32(255))[:, None]
    info = odyssey.cpu_info()
    thread_counts = sorted({1, os.cpu_count() or 1})
    print(f"odyssey {info['version']} on {info['cpu']}, isa {info['isa_selected']}, SciPy "
          f"{scipy.__version__}; {len(images):,} images from {source}")  # fmt: skip
    print(f"transform: {TRANSFORM!r}")
    print(HEADER)
    rows = []
    previous_threads = odyssey.get_num_threads()
    try:
        for threads in thread_counts:
            odyssey.set_num_threads(threads)
            for batch in args.batches:
                loader = DataLoader(
                    ArrayDataset(raw, labels), batch, shuffle=True, seed=0, transform=TRANSFORM
                )
                measured = rates(
                    {
                        "kernel": kernel_pass(images, batch),
                        "loader": loader_pass(loader),
                        "scipy": scipy_pass(images[: args.scipy_images]),
                    },
                    args.rounds,
                )
                for what, name in (
                    ("RandomAffine kernel", "kernel"),
                    ("DataLoader + RandomAffine", "loader"),
                    ("scipy affine_transform", "scipy"),
                ):
                    row = {
                        "what": what,
                        "batch": batch,
                        "threads": threads,
                        "images_per_second": measured[name],
                        "vs_scipy": measured[name] / measured["scipy"],
                    }
                    rows.append(row)
                    print(ROW.format(**row))
    finally:
        odyssey.set_num_threads(previous_threads)

    loader_rows = [r for r in rows if r["what"].startswith("DataLoader")]
    best = max(loader_rows, key=lambda r: r["images_per_second"])
    verdict = "meets" if best["images_per_second"] >= BAR_IMAGES_PER_SECOND else "misses"
    print(f"best loader rate {best['images_per_second']:,.0f} images/s {verdict} the bar of "
          f"{BAR_IMAGES_PER_SECOND:,} (5x LeNet-5's training step at 3x PyTorch)")  # fmt: skip

    write_report(
        args.output,
        "augment",
        rows,
        scipy=scipy.__version__,
        images={"count": len(images), "source": source, "scipy_subset": args.scipy_images},
        transform=repr(TRANSFORM),
        bar_images_per_second=BAR_IMAGES_PER_SECOND,
    )


if __name__ == "__main__":
    main()
