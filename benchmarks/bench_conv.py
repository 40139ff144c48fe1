"""Conv2d and max-pool kernels side by side with PyTorch's CPU kernels in one run.

For each shape and thread count (odyssey.set_num_threads and torch.set_num_threads alike), the
odyssey call and PyTorch's are timed in alternating rounds and the medians compared: ratio =
PyTorch time / odyssey time, so above 1 means odyssey is faster. "fwd" is the forward with bias;
"fwd+bwd" adds the input, weight and bias gradients (PyTorch: autograd backward of the same conv).
Results are printed and written as JSON to benchmarks/results/conv.json.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from harness import side_by_side, write_report

import odyssey
from odyssey import _kernels

RESULTS = Path(__file__).parent / "results"
# name -> (batch, in, out, size, kernel, padding)
CONV_SHAPES = {
    "lenet-conv1": (64, 1, 6, 28, 5, 2),
    "lenet-conv2": (64, 6, 16, 14, 5, 0),
    "resnet-64x64": (16, 64, 64, 32, 3, 1),
}
# name -> (batch, in, out, size, kernel, padding, groups): AlexNet's two-group conv2 (48 -> 128
# channels per group) and MobileNet's first depthwise 3x3
GROUPED_SHAPES = {
    "alexnet-conv2": (8, 96, 256, 27, 5, 2, 2),
    "mobilenet-dw": (8, 32, 32, 112, 3, 1, 32),
}
# name -> (batch, in, out, size, kernel, padding, stride): the classic CNNs' layers that the speed
# issue measures (VGG-style 3x3 stages, AlexNet's 11x11 stride-4 first layer)
STRIDED_SHAPES = {
    "vgg-32x64-16": (64, 32, 64, 16, 3, 1, 1),
    "vgg-64x128-8": (64, 64, 128, 8, 3, 1, 1),
    "alexnet-conv1": (8, 3, 64, 224, 11, 2, 4),
}
# name -> (batch, channels, size): LeNet's two 2x2 stride-2 pools
POOL_SHAPES = {"lenet-pool1": (64, 6, 28), "lenet-pool2": (64, 16, 10)}
HEADER = f"{'shape':<13} {'pass':<8} {'thr':>3} {'odyssey ms':>10} {'torch ms':>9} {'ratio':>6}"
ROW = "{shape:<13} {pass:<8} {threads:>3} {odyssey_ms:>10.3f} {torch_ms:>9.3f} {ratio:>6.2f}"


def conv_cases(
    torch, shape, groups: int = 1, stride: int = 1
) -> dict[str, tuple[Callable[[], object], Callable[[], object]]]:
    batch, c, oc, size, k, pad = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, c, size, size), dtype=np.float32)
    w = rng.standard_normal((oc, c // groups, k, k), dtype=np.float32)
    b = rng.standard_normal(oc, dtype=np.float32)
    options = {"stride": stride, "padding": pad, "groups": groups}
    y = _kernels.conv2d_forward(x, w, b, **options)
    g = rng.standard_normal(y.shape, dtype=np.float32)
    tx, tw, tb, tg = (torch.from_numpy(a) for a in (x, w, b, g))
    px, pw, pb = (t.clone().requires_grad_() for t in (tx, tw, tb))
    conv2d = torch.nn.functional.conv2d

    def ours_forward():
        _kernels.conv2d_forward(x, w, b, **options, out=y)

    def ours_both():
        _kernels.conv2d_forward(x, w, b, **options, out=y)
        _kernels.conv2d_backward_data(g, w, x.shape, **options)
        _kernels.conv2d_backward_weight(x, g, (k, k), **options)

    def torch_forward():
        with torch.no_grad():
            conv2d(tx, tw, tb, **options)

    def torch_both():
        px.grad = pw.grad = pb.grad = None
        conv2d(px, pw, pb, **options).backward(tg)

    return {"fwd": (ours_forward, torch_forward), "fwd+bwd": (ours_both, torch_both)}


def pool_cases(torch, shape) -> dict[str, tuple[Callable[[], object], Callable[[], object]]]:
    batch, c, size = shape
    x = np.random.default_rng(1).standard_normal((batch, c, size, size), dtype=np.float32)
    g = np.ones_like(_kernels.max_pool2d_forward(x, 2, 2)[0])
    tx = torch.from_numpy(x)
    px = tx.clone().requires_grad_()
    tg = torch.from_numpy(g)
    max_pool2d = torch.nn.functional.max_pool2d

    def ours_both():
        _, index = _kernels.max_pool2d_forward(x, 2, 2)
        _kernels.max_pool2d_backward(g, index, x.shape, 2, 2)

    def torch_forward():
        with torch.no_grad():
            max_pool2d(tx, 2, 2)

    def torch_both():
        px.grad = None
        max_pool2d(px, 2, 2).backward(tg)

    return {
        "fwd": (lambda: _kernels.max_pool2d_forward(x, 2, 2), torch_forward),
        "fwd+bwd": (ours_both, torch_both),
    }


def conv_algorithms(shape, groups: int = 1, stride: int = 1) -> str:
    """What each pass runs on the selected ISA, e.g. "fwd: direct, ...; dx: ...; dw: ..."."""
    batch, c, oc, size, k, pad = shape
    picked = _kernels.conv2d_algorithms(
        (batch, c, size, size), (oc, c // groups, k, k), stride=stride, padding=pad, groups=groups
    )
    return "; ".join(
        f"{label}: {picked[key]}"
        for label, key in (("fwd", "forward"), ("dx", "backward_data"), ("dw", "backward_weight"))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--round-seconds", type=float, default=0.05)
    parser.add_argument("--output", type=Path, default=RESULTS / "conv.json")
    parser.add_argument("--only", nargs="+", metavar="SHAPE", help="run only these shapes")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("bench_conv: PyTorch is not installed; nothing to compare against")
        return

    info = odyssey.cpu_info()
    print(
        f"odyssey {info['version']} ({info['isa_selected']}) on {info['cpu']}, "
        f"PyTorch {torch.__version__}"
    )
    cases = [
        (name, shape, conv_cases(torch, shape), conv_algorithms(shape))
        for name, shape in CONV_SHAPES.items()
    ]
    cases += [
        (name, shape, conv_cases(torch, shape[:6], shape[6]), conv_algorithms(shape[:6], shape[6]))
        for name, shape in GROUPED_SHAPES.items()
    ]
    cases += [
        (
            name,
            shape,
            conv_cases(torch, shape[:6], stride=shape[6]),
            conv_algorithms(shape[:6], stride=shape[6]),
        )
        for name, shape in STRIDED_SHAPES.items()
    ]
    conv_count = len(cases)
    cases += [(name, shape, pool_cases(torch, shape), "") for name, shape in POOL_SHAPES.items()]
    if args.only:
        conv_count = sum(1 for case in cases[:conv_count] if case[0] in args.only)
        cases = [case for case in cases if case[0] in args.only]
    for name, shape, _, algorithm in cases[:conv_count]:
        print(f"{name} {shape}: {algorithm}")
    print(HEADER)
    rows = []
    previous_threads, previous_torch_threads = odyssey.get_num_threads(), torch.get_num_threads()
    try:
        for threads in sorted({1, min(2, os.cpu_count() or 1)}):
            odyssey.set_num_threads(threads)
            torch.set_num_threads(threads)
            for name, shape, passes, algorithm in cases:
                for pass_name, (ours, theirs) in passes.items():
                    t_ours, t_torch = side_by_side([ours, theirs], args.rounds, args.round_seconds)
                    row = {
                        "shape": name,
                        "dims": shape,
                        "pass": pass_name,
                        "threads": threads,
                        "odyssey_ms": t_ours * 1e3,
                        "torch_ms": t_torch * 1e3,
                        "ratio": t_torch / t_ours,
                        "algorithm": algorithm,
                    }
                    rows.append(row)
                    print(ROW.format(**row))
    finally:
        odyssey.set_num_threads(previous_threads)
        torch.set_num_threads(previous_torch_threads)

    write_report(
        args.output,
        "conv",
        rows,
        torch=torch.__version__,
        shapes={
            "conv (batch, in, out, size, kernel, padding)": CONV_SHAPES,
            "grouped conv (batch, in, out, size, kernel, padding, groups)": GROUPED_SHAPES,
            "strided conv (batch, in, out, size, kernel, padding, stride)": STRIDED_SHAPES,
            "pool": POOL_SHAPES,
        },
    )


if __name__ == "__main__":
    main()
