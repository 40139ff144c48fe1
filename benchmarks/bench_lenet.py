"""LeNet-5 training and evaluation throughput, odyssey side by side with PyTorch in one run.

The same model (ReLU, max-pool; conv 1->6 5x5 pad 2, pool 2, conv 6->16 5x5, pool 2,
400->120->84->10) starts from the same weights in both. A training step is forward,
cross-entropy, backward and an SGD step with momentum 0.9 and a zero learning rate (see LR), on
the multi-tensor kernel; evaluation is a no-grad forward. For each training batch (1: the fixed
cost of a step; 64; 256), rounds of odyssey and PyTorch at 1 and N threads alternate (so all four
see the same machine state) and the medians give images/s and the ratio (above 1: odyssey is
faster). Also reported: each library's thread scaling (1-thread step time / N-thread step time),
the largest batch's fraction of the machine's nominal fp32 peak, the peak bytes of odyssey's
tensor buffers in a step, and odyssey's training step broken down by kernel call and input
shape, the remainder being Python and NumPy glue (--no-profile skips it).
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
# A zero learning rate: the step does all its work (p -= lr * buffer included), while the weights,
# and so the gradients, stay where they started. With a positive rate both models soon fit the one
# fixed batch, their gradients become exactly zero and the momentum decays through the subnormal
# floats, whose arithmetic is tens of times slower: the SGD step of batch 1 read 212 us instead of
# 26 us after 3,000 steps at lr 0.01, and the timings drifted with the run's length.
LR, MOMENTUM = 0.0, 0.9


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


# Multiply-adds per image of each layer's forward: (outputs) x (inputs per output).
LAYER_MACS = {
    "conv1": 6 * 28 * 28 * 1 * 5 * 5,
    "conv2": 16 * 10 * 10 * 6 * 5 * 5,
    "fc": 400 * 120 + 120 * 84 + 84 * 10,
}


def training_flops(batch: int) -> int:
    """Floating-point operations of one training step's convolutions and Linear layers: forward,
    input gradient and weight gradient are one multiply-add each per weight use, except the first
    layer's input gradient, which nothing needs."""
    passes = {"conv1": 2, "conv2": 3, "fc": 3}
    return 2 * batch * sum(LAYER_MACS[layer] * count for layer, count in passes.items())


def nominal_peak_gflops(isa: str) -> dict[str, object]:
    """An assumed fp32 peak: logical CPUs x clock x flops per cycle of the selected ISA (two FMA
    pipes assumed: 2 x lanes x 2); the clock is /proc/cpuinfo's "cpu MHz" (the current one; turbo
    may run higher, and a part with one 512-bit FMA pipe peaks at half), absent where there is
    none. An estimate to put the step in proportion, not a measurement."""
    lanes = {"avx512": 16, "avx2": 8, "neon": 4}.get(isa, 1)
    mhz = None
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("cpu MHz"):
                mhz = float(line.split(":")[1])
                break
    cores = os.cpu_count() or 1
    flops_per_cycle = 2 * lanes * 2
    gflops = None if mhz is None else cores * mhz * 1e-3 * flops_per_cycle
    return {"cores": cores, "mhz": mhz, "flops_per_cycle": flops_per_cycle, "gflops": gflops}


def step_peak_bytes(train: Callable[[], object]) -> int:
    """The most bytes odyssey's tensor buffers hold during one training step."""
    train()
    odyssey.memory.reset_peak_memory_stats()
    train()
    return odyssey.memory.max_memory_allocated()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-batches", type=int, nargs="+", default=[1, 64, 256])
    parser.add_argument("--eval-batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--round-seconds", type=float, default=0.1)
    parser.add_argument("--profile-batch", type=int, default=64)
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--output", type=Path, default=RESULTS / "lenet.json")
    args = parser.parse_args()

    try:
        import torch
    except ImportError:
        print("bench_lenet: torch is not installed; nothing to compare against")
        return

    rng = np.random.default_rng(0)
    batches = sorted(set(args.train_batches))
    data = {
        batch: (
            rng.standard_normal((batch, 1, 28, 28), dtype=np.float32),
            rng.integers(0, 10, batch),
        )
        for batch in batches
    }
    eval_images = rng.standard_normal((args.eval_batch, 1, 28, 28), dtype=np.float32)

    info = odyssey.cpu_info()
    thread_counts = sorted({1, os.cpu_count() or 1})
    print(f"odyssey {info['version']} ({info['isa_selected']}) vs torch {torch.__version__}")
    print(HEADER)
    rows = []
    profiles: dict[int, list[dict[str, object]]] = {}
    peak_bytes: dict[int, int] = {}
    previous_threads = odyssey.get_num_threads()
    previous_torch_threads = torch.get_num_threads()
    torch.manual_seed(0)
    theirs = lenet5_torch(torch)
    ours = lenet5_odyssey()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})

    def threads_setup(count: int) -> Callable[[], None]:
        def setup() -> None:
            odyssey.set_num_threads(count)
            torch.set_num_threads(count)

        return setup

    try:
        # Every thread count of one (mode, batch) in the same alternating rounds, so that the
        # thread scaling compares like with like.
        plan = [("train", batch, 0) for batch in batches] + [("eval", args.eval_batch, 1)]
        for mode, batch, which in plan:
            images, labels = data.get(batch, data[batches[0]])
            our_step = make_odyssey_steps(ours, images, labels, eval_images)[which]
            their_step = make_torch_steps(torch, theirs, images, labels, eval_images)[which]
            functions, setups = [], []
            for threads in thread_counts:
                functions += [our_step, their_step]
                setups += [threads_setup(threads)] * 2
            times = side_by_side(functions, args.rounds, args.round_seconds, setups)
            for index, threads in enumerate(thread_counts):
                t_ours, t_theirs = times[2 * index], times[2 * index + 1]
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
        for batch in batches:
            odyssey.set_num_threads(thread_counts[-1])
            images, labels = data[batch]
            peak_bytes[batch] = step_peak_bytes(
                make_odyssey_steps(ours, images, labels, eval_images)[0]
            )
        if args.profile:
            images, labels = data.get(args.profile_batch, data[batches[-1]])
            for threads in thread_counts:
                odyssey.set_num_threads(threads)
                profiles[threads] = kernel_breakdown(ours, images, labels, steps=50)
    finally:
        odyssey.set_num_threads(previous_threads)
        torch.set_num_threads(previous_torch_threads)

    extra = summarize(rows, batches, thread_counts, info["isa_selected"], peak_bytes)
    write_report(
        args.output, "lenet", rows, torch=torch.__version__, kernel_profile=profiles, **extra
    )


def summarize(
    rows: list[dict[str, object]],
    batches: list[int],
    thread_counts: list[int],
    isa: str,
    peak_bytes: dict[int, int],
) -> dict[str, object]:
    """Thread scaling of both libraries per batch, the largest batch's fraction of the nominal
    fp32 peak at the most threads, and the step's peak buffer bytes; printed and returned."""
    seconds = {(r["mode"], r["batch"], r["threads"]): r for r in rows}
    most = thread_counts[-1]
    scaling = {}
    for batch in batches:
        one, many = seconds[("train", batch, 1)], seconds[("train", batch, most)]
        scaling[batch] = {
            "odyssey": one["odyssey_seconds"] / many["odyssey_seconds"],
            "torch": one["torch_seconds"] / many["torch_seconds"],
        }
        print(
            f"thread scaling 1 -> {most}, train batch {batch}: odyssey "
            f"{scaling[batch]['odyssey']:.2f}x, torch {scaling[batch]['torch']:.2f}x"
        )
    peak = nominal_peak_gflops(isa)
    largest = batches[-1]
    achieved = training_flops(largest) / seconds[("train", largest, most)]["odyssey_seconds"] / 1e9
    fraction = None if peak["gflops"] is None else achieved / peak["gflops"]
    described = (
        "no nominal peak known"
        if fraction is None
        else f"{fraction:.1%} of an assumed peak of {peak['gflops']:.0f} GFLOP/s: {peak['cores']} "
        f"CPUs x {peak['mhz']:.0f} MHz x {peak['flops_per_cycle']} flops a cycle"
    )
    print(
        f"train batch {largest}, {most} threads: {achieved:.1f} GFLOP/s in the convolutions and "
        f"Linear layers ({described})"
    )
    for batch, used in peak_bytes.items():
        print(f"train batch {batch}: peak tensor buffers {used / 2**20:.1f} MiB in a step")
    return {
        "thread_scaling": scaling,
        "peak_fraction": {
            "batch": largest,
            "threads": most,
            "step_flops": training_flops(largest),
            "achieved_gflops": achieved,
            "nominal_peak": peak,
            "fraction": fraction,
        },
        "peak_buffer_bytes": peak_bytes,
    }


if __name__ == "__main__":
    main()
