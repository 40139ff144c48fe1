"""What the Trainer costs: LeNet-5 (ReLU, max-pool) trained through Trainer.fit, with the progress
bar, the CSV and JSONL loggers, Throughput and ModelCheckpoint on, against the README's bare loop,
in one run.

Both train the same model from the same weights on the same DataLoader (batch 64, shuffled) with
SGD (lr 0.01, momentum 0.9). The data is mnist-sample's 4,000 training images repeated to MNIST's
60,000 (the bundled sample works offline), so that the once-per-epoch work (checkpoints, the CSV
rewrite, the progress bar's epoch line) weighs what it weighs on MNIST. Rounds alternate (bare,
then Trainer) so both see the same machine state; each round trains `--epochs` epochs from fresh
weights. The Trainer's time is measured from on_train_start to on_train_end: every step's hooks,
logging, progress, rows and the epoch-end checkpoint are in it; the once-per-fit work around it
(run directory, config, final weights, summary, curves.png) is reported separately as
`fit_overhead_s`. The progress bar draws rich's bar (as on a terminal) into memory, so the
output stays readable. Medians give images/s; the ratio (goal: >= 0.90) is the median of the
rounds' ratios, each from one bare run and the Trainer run right after it: on a shared machine
whose speed changes by tens of percent within minutes, the ratio of the two medians can pair a
fast bare round with a slow Trainer one (rounds of 0.91, 1.03, 0.67, 0.99, 1.06 gave 0.71).
Results are printed and written as JSON to benchmarks/results/trainer.json.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from bench_lenet import lenet5_odyssey
from harness import SETTLE_SECONDS, write_report
from rich.console import Console

import odyssey
import odyssey.nn.functional as F
from odyssey import optim
from odyssey.data import ArrayDataset, DataLoader, load_dataset
from odyssey.train import Classifier, Trainer, callbacks
from odyssey.train.progress import ProgressBar

RESULTS = Path(__file__).parent / "results"
LR, MOMENTUM, BATCH = 0.01, 0.9, 64


def fresh_model(weights: dict[str, Any]) -> Any:
    model = lenet5_odyssey()
    model.load_state_dict(weights)
    return model


def bare_loop(weights: dict[str, Any], loader: DataLoader, epochs: int) -> tuple[float, int]:
    """The README's loop: seconds and images for `epochs` epochs."""
    model = fresh_model(weights)
    opt = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    images_seen = 0
    start = time.perf_counter()
    for _ in range(epochs):
        for images, labels in loader:
            loss = F.cross_entropy(model(odyssey.from_numpy(images)), odyssey.from_numpy(labels))
            opt.zero_grad()
            loss.backward()
            opt.step()
            images_seen += len(labels)
    return time.perf_counter() - start, images_seen


class TrainClock(callbacks.Callback):
    """Times training from on_train_start to on_train_end."""

    def on_train_start(self, trainer: Any, module: Any) -> None:
        self.start = time.perf_counter()

    def on_train_end(self, trainer: Any, module: Any) -> None:
        self.seconds = time.perf_counter() - self.start


def trainer_fit(
    weights: dict[str, Any], loader: DataLoader, epochs: int, root: Path
) -> tuple[float, int, float]:
    """Trainer.fit with progress bar and loggers: training seconds, images, whole-fit seconds."""
    module = Classifier(
        fresh_model(weights),
        optimizer=lambda params: optim.SGD(params, lr=LR, momentum=MOMENTUM),
    )
    clock = TrainClock()
    bar = ProgressBar(console=Console(file=io.StringIO(), force_terminal=True, width=120))
    trainer = Trainer(max_epochs=epochs, callbacks=[clock, bar], default_root_dir=root)
    start = time.perf_counter()
    trainer.fit(module, loader)
    total = time.perf_counter() - start
    return clock.seconds, epochs * len(loader.dataset), total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--images", type=int, default=60_000, help="images per epoch")
    parser.add_argument("--output", type=Path, default=RESULTS / "trainer.json")
    args = parser.parse_args()

    sample = load_dataset("mnist-sample", "train")
    repeats = -(-args.images // len(sample))
    images = np.tile(sample.images, (repeats, 1, 1))[: args.images]
    labels = np.tile(sample.labels, repeats)[: args.images]
    loader = DataLoader(ArrayDataset(images, labels), batch_size=BATCH, shuffle=True, seed=0)
    odyssey.manual_seed(0)
    weights = {name: array.copy() for name, array in lenet5_odyssey().state_dict().items()}
    info = odyssey.cpu_info()
    threads = odyssey.get_num_threads()
    print(f"odyssey {info['version']} ({info['isa_selected']}), {threads} threads")

    bare_s: list[float] = []
    trainer_s: list[float] = []
    overhead_s: list[float] = []
    with tempfile.TemporaryDirectory() as directory:
        warm = DataLoader(ArrayDataset(images[:2048], labels[:2048]), batch_size=BATCH)
        bare_loop(weights, warm, 1)  # warm caches, pages and thread pools
        trainer_fit(weights, warm, 1, Path(directory) / "warm-up")
        for number in range(args.rounds):
            time.sleep(SETTLE_SECONDS)
            seconds, images = bare_loop(weights, loader, args.epochs)
            bare_s.append(seconds)
            time.sleep(SETTLE_SECONDS)
            seconds, images, total = trainer_fit(
                weights, loader, args.epochs, Path(directory) / f"round{number}"
            )
            trainer_s.append(seconds)
            overhead_s.append(total - seconds)
            print(
                f"round {number}: bare {images / bare_s[-1]:8.0f} img/s   "
                f"Trainer {images / seconds:8.0f} img/s   ratio {bare_s[-1] / seconds:.3f}"
            )
    bare, fitted = statistics.median(bare_s), statistics.median(trainer_s)
    row = {
        "model": "LeNet-5 (ReLU, max-pool)",
        "dataset": f"mnist-sample train repeated to {args.images:,} images an epoch",
        "batch": BATCH,
        "epochs_per_round": args.epochs,
        "rounds": args.rounds,
        "threads": threads,
        "bare_ips": images / bare,
        "trainer_ips": images / fitted,
        "ratio": statistics.median(b / t for b, t in zip(bare_s, trainer_s, strict=True)),
        "ratio_of_medians": bare / fitted,
        "round_seconds": [
            {"bare": b, "trainer": t} for b, t in zip(bare_s, trainer_s, strict=True)
        ],
        "fit_overhead_s": statistics.median(overhead_s),
        # The same with the once-per-fit work counted in: what a one-epoch `fit` costs.
        "ratio_whole_fit": statistics.median(
            b / (t + o) for b, t, o in zip(bare_s, trainer_s, overhead_s, strict=True)
        ),
    }
    print(
        f"median: bare {row['bare_ips']:.0f} img/s, Trainer {row['trainer_ips']:.0f} img/s, "
        f"ratio {row['ratio']:.3f} (goal >= 0.90); once per fit {row['fit_overhead_s']:.2f} s "
        f"(ratio with it, {args.epochs} epoch(s) a fit: {row['ratio_whole_fit']:.3f})"
    )
    write_report(args.output, "trainer", [row])


if __name__ == "__main__":
    main()
