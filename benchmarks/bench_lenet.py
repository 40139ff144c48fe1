"""LeNet-5 training and evaluation throughput, odyssey side by side with PyTorch in one run.

The same model (ReLU, max-pool; conv 1->6 5x5 pad 2, pool 2, conv 6->16 5x5, pool 2,
400->120->84->10) starts from the same weights in both. A training step is forward,
cross-entropy, backward and an SGD step with momentum 0.9 (odyssey.optim.SGD on the fused
kernel); evaluation is a no-grad forward. For each thread count, rounds of odyssey and PyTorch
alternate (so both see the same machine state) and the medians give images/s and the ratio
(above 1: odyssey is faster). Odyssey's training step is also broken down by kernel call and
input shape, the remainder being Python and NumPy glue (--no-profile skips it).
Results are printed and written as JSON to benchmarks/results/lenet.json.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from harness import kernel_profile, side_by_side, write_report

import odyssey
import odyssey.nn.functional as F
from odyssey import nn, optim

RESULTS = Path(__file__).parent / "results"
HEADER = f"{'mode':<6} {'batch':>5} {'thr':>3} {'odyssey img/s':>13} {'torch img/s':>11} ratio"
ROW = "{mode:<6} {batch:>5} {threads:>3} {odyssey_ips:>13.0f} {torch_ips:>11.0f} {ratio:>5.2f}"
LR, MOMENTUM = 0.01, 0.9


def lenet5_odyssey() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )  # fmt: skip


def lenet5_torch(torch):  # type: ignore[no-untyped-def]
    tnn = torch.nn
    return tnn.Sequential(
        tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
        tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(), tnn.Linear(84, 10),
    )  # fmt: skip


def make_odyssey_steps(
    model: nn.Sequential, images: np.ndarray, labels: np.ndarray, eval_images: np.ndarray
) -> tuple[Callable[[], object], Callable[[], object]]:
    optimizer = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    x, y, x_eval = odyssey.tensor(images), odyssey.tensor(labels), odyssey.tensor(eval_images)

    def train() -> object:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    @odyssey.no_grad()
    def evaluate() -> object:
        return model(x_eval)

    return train, evaluate


def make_torch_steps(
    torch, model, images: np.ndarray, labels: np.ndarray, eval_images: np.ndarray
) -> tuple[Callable[[], object], Callable[[], object]]:  # type: ignore[no-untyped-def]
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    x, y, x_eval = torch.from_numpy(images), torch.from_numpy(labels), torch.from_numpy(eval_images)
    loss_function = torch.nn.CrossEntropyLoss()

    def train() -> object:
        optimizer.zero_grad()
        loss = loss_function(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    def evaluate() -> object:
        with torch.no_grad():
            return model(x_eval)

    return train, evaluate


def kernel_breakdown(
    model: nn.Sequential, images: np.ndarray, labels: np.ndarray, steps: int
) -> list[dict[str, object]]:
    """Where a training step's time goes: every kernel call timed by (kernel, input shape), and
    the rest of the step (Python, NumPy glue, allocation) as the remainder."""
    train, _ = make_odyssey_steps(model, images, labels, images)
    step_us, rows = kernel_profile(train, steps)
    kernel_us = sum(row["us_per_step"] for row in rows)
    rest_us = step_us - kernel_us
    print(
        f"training step {step_us:.0f} us: kernels {kernel_us:.0f} us, the rest "
        f"(Python, NumPy glue, allocation, timing) {rest_us:.0f} us"
    )
    for row in rows:
        print(f"  {row['kernel']:<32} {row['input_shape']:<20} {row['us_per_step']:8.1f} us")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-batch", type=int, default=64)
    parser.add_argument("--eval-batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--round-seconds", type=float, default=0.1)
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--output", type=Path, default=RESULTS / "lenet.json")
    args = parser.parse_args()

    try:
        import torch
    except ImportError:
        print("bench_lenet: torch is not installed; nothing to compare against")
        return

    rng = np.random.default_rng(0)
    images = rng.standard_normal((args.train_batch, 1, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, args.train_batch)
    eval_images = rng.standard_normal((args.eval_batch, 1, 28, 28), dtype=np.float32)

    info = odyssey.cpu_info()
    thread_counts = sorted({1, os.cpu_count() or 1})
    print(f"odyssey {info['version']} ({info['isa_selected']}) vs torch {torch.__version__}")
    print(HEADER)
    rows = []
    profiles: dict[int, list[dict[str, object]]] = {}
    previous_threads = odyssey.get_num_threads()
    previous_torch_threads = torch.get_num_threads()
    try:
        for threads in thread_counts:
            odyssey.set_num_threads(threads)
            torch.set_num_threads(threads)
            torch.manual_seed(0)
            theirs = lenet5_torch(torch)
            ours = lenet5_odyssey()
            ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
            our_steps = make_odyssey_steps(ours, images, labels, eval_images)
            their_steps = make_torch_steps(torch, theirs, images, labels, eval_images)
            plan = [("train", args.train_batch, 0), ("eval", args.eval_batch, 1)]
            for mode, batch, which in plan:
                t_ours, t_theirs = side_by_side(
                    [our_steps[which], their_steps[which]], args.rounds, args.round_seconds
                )
                row = {
                    "mode": mode,
                    "batch": batch,
                    "threads": threads,
                    "odyssey_seconds": t_ours,
                    "torch_seconds": t_theirs,
                    "odyssey_ips": batch / t_ours,
                    "torch_ips": batch / t_theirs,
                    "ratio": t_theirs / t_ours,
                }
                rows.append(row)
                print(ROW.format(**row))
            if args.profile:
                profiles[threads] = kernel_breakdown(ours, images, labels, steps=50)
    finally:
        odyssey.set_num_threads(previous_threads)
        torch.set_num_threads(previous_torch_threads)

    write_report(args.output, "lenet", rows, torch=torch.__version__, kernel_profile=profiles)


if __name__ == "__main__":
    main()
