"""A ResNet basic block's training step, odyssey side by side with PyTorch in one run.

The block (He et al. 2016, the 64-channel stage at CIFAR's 32x32): conv3x3-BN-ReLU-conv3x3-BN,
plus the identity, then ReLU; convolutions without bias, BatchNorm2d in training mode (batch
statistics, running statistics updated). A step is the forward and the backward of the block's
output summed against a fixed gradient, from the same weights in both libraries. For each thread
count the two steps are timed in alternating rounds and the medians compared: ratio = PyTorch
time / odyssey time, so above 1 means odyssey is faster. Odyssey's step is also broken down by
kernel call and input shape (--no-profile skips it), the remainder being Python and NumPy glue.
Results are printed and written as JSON to benchmarks/results/resnet_block.json.
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
from odyssey import nn

RESULTS = Path(__file__).parent / "results"
HEADER = f"{'batch':>5} {'thr':>3} {'odyssey ms':>10} {'torch ms':>9} {'ratio':>6}"
ROW = "{batch:>5} {threads:>3} {odyssey_ms:>10.2f} {torch_ms:>9.2f} {ratio:>6.2f}"


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN + identity, ReLU (stride 1, no downsampling)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: odyssey.Tensor) -> odyssey.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + x)


def torch_block(torch, channels: int):  # type: ignore[no-untyped-def]
    tnn = torch.nn

    class TorchBasicBlock(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = tnn.Conv2d(channels, channels, 3, padding=1, bias=False)
            self.bn1 = tnn.BatchNorm2d(channels)
            self.conv2 = tnn.Conv2d(channels, channels, 3, padding=1, bias=False)
            self.bn2 = tnn.BatchNorm2d(channels)

        def forward(self, x):  # type: ignore[no-untyped-def]
            out = torch.relu(self.bn1(self.conv1(x)))
            return torch.relu(self.bn2(self.conv2(out)) + x)

    return TorchBasicBlock()


def make_steps(
    torch, channels: int, x: np.ndarray, g: np.ndarray
) -> tuple[Callable[[], object], Callable[[], object]]:  # type: ignore[no-untyped-def]
    """Both libraries' training steps, the odyssey block starting from torch's weights."""
    torch.manual_seed(0)
    theirs = torch_block(torch, channels)
    ours = BasicBlock(channels)
    ours.load_state_dict({k: v.numpy().copy() for k, v in theirs.state_dict().items()})
    ox, og = odyssey.tensor(x, requires_grad=True), g
    tx = torch.from_numpy(x).requires_grad_()
    tg = torch.from_numpy(g)

    def ours_step() -> object:
        ours.zero_grad()
        ox.grad = None
        ours(ox).backward(og)
        return ox.grad

    def torch_step() -> object:
        theirs.zero_grad()
        tx.grad = None
        theirs(tx).backward(tg)
        return tx.grad

    return ours_step, torch_step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--round-seconds", type=float, default=0.3)
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--output", type=Path, default=RESULTS / "resnet_block.json")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("bench_resnet_block: PyTorch is not installed; nothing to compare against")
        return

    rng = np.random.default_rng(0)
    shape = (args.batch, args.channels, args.size, args.size)
    x = rng.standard_normal(shape, dtype=np.float32)
    g = rng.standard_normal(shape, dtype=np.float32)
    info = odyssey.cpu_info()
    print(
        f"odyssey {info['version']} ({info['isa_selected']}) vs torch {torch.__version__}, "
        f"block input {shape}"
    )
    print(HEADER)
    rows = []
    profiles: dict[int, list[dict[str, object]]] = {}
    previous_threads, previous_torch_threads = odyssey.get_num_threads(), torch.get_num_threads()
    try:
        for threads in sorted({1, min(2, os.cpu_count() or 1)}):
            odyssey.set_num_threads(threads)
            torch.set_num_threads(threads)
            ours_step, torch_step = make_steps(torch, args.channels, x, g)
            t_ours, t_torch = side_by_side([ours_step, torch_step], args.rounds, args.round_seconds)
            row = {
                "batch": args.batch,
                "threads": threads,
                "odyssey_ms": t_ours * 1e3,
                "torch_ms": t_torch * 1e3,
                "ratio": t_torch / t_ours,
            }
            rows.append(row)
            print(ROW.format(**row))
            if args.profile:
                step_us, profile = kernel_profile(ours_step, steps=5)
                kernel_us = sum(p["us_per_step"] for p in profile)
                print(f"  step {step_us:.0f} us, of which kernels {kernel_us:.0f} us:")
                for p in profile:
                    kernel, shape, us = p["kernel"], p["input_shape"], p["us_per_step"]
                    print(f"    {kernel:<28} {shape:<20} {us:8.0f} us")
                profiles[threads] = profile
    finally:
        odyssey.set_num_threads(previous_threads)
        torch.set_num_threads(previous_torch_threads)

    write_report(
        args.output,
        "resnet_block",
        rows,
        torch=torch.__version__,
        block={"batch": args.batch, "channels": args.channels, "size": args.size},
        kernel_profile=profiles,
    )


if __name__ == "__main__":
    main()
