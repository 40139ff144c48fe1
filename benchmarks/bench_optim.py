"""Optimizer steps (odyssey.optim against torch.optim), side by side in one run.

For the parameter shapes of LeNet-5 (61,706 values in 10 tensors, where per-call overhead decides)
and of a 784-1000-1000-10 MLP (1.8 million values, where memory bandwidth decides), one `step()` of
each optimizer is timed in alternating rounds with PyTorch's on identical values and gradients,
at 1 thread and at every core. The ratio is torch time / odyssey time: above 1 means odyssey is
faster. Results are printed and written as JSON to benchmarks/results/optim.json.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from harness import side_by_side, write_report

import odyssey
from odyssey import Tensor, nn, optim

RESULTS = Path(__file__).parent / "results"
MODELS = {
    "lenet5": [(6, 1, 5, 5), (6,), (16, 6, 5, 5), (16,), (120, 400), (120,), (84, 120), (84,),
               (10, 84), (10,)],
    "mlp": [(1000, 784), (1000,), (1000, 1000), (1000,), (10, 1000), (10,)],
}  # fmt: skip
OPTIMIZERS: list[tuple[str, str, dict[str, Any]]] = [
    ("sgd", "SGD", {"lr": 0.01}),
    ("sgd-momentum", "SGD", {"lr": 0.01, "momentum": 0.9}),
    ("sgd-nesterov-wd", "SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": True,
                                "weight_decay": 5e-4}),
    ("adam", "Adam", {"lr": 1e-3}),
    ("adamw-amsgrad", "AdamW", {"lr": 1e-3, "amsgrad": True}),
    ("rmsprop", "RMSprop", {"lr": 1e-2}),
    ("rmsprop-centered-mom", "RMSprop", {"lr": 1e-2, "momentum": 0.9, "centered": True,
                                         "weight_decay": 5e-4}),
    ("adagrad", "Adagrad", {"lr": 1e-2}),
    ("adagrad-decay-wd", "Adagrad", {"lr": 1e-2, "lr_decay": 1e-4, "weight_decay": 5e-4}),
]  # fmt: skip
HEADER = f"{'model':<7} {'optimizer':<20} {'thr':>3} {'odyssey us':>10} {'torch us':>9} ratio"
ROW = "{model:<7} {optimizer:<20} {threads:>3} {odyssey_us:>10.1f} {torch_us:>9.1f} {ratio:>5.2f}"


def steppers(
    torch: Any, shapes: list[tuple[int, ...]], name: str, options: dict[str, Any]
) -> tuple[Callable[[], object], Callable[[], object]]:
    """One optimizer step each, over the same values and gradients (gradients stay in place)."""
    rng = np.random.default_rng(0)
    values = [rng.standard_normal(shape, dtype=np.float32) for shape in shapes]
    grads = [rng.standard_normal(shape, dtype=np.float32) * 1e-3 for shape in shapes]
    ours = [nn.Parameter(value.copy()) for value in values]
    theirs = [torch.tensor(value.copy(), requires_grad=True) for value in values]
    for mine, their, grad in zip(ours, theirs, grads, strict=True):
        mine.grad = Tensor(grad.copy())
        their.grad = torch.tensor(grad.copy())
    return getattr(optim, name)(ours, **options).step, getattr(torch.optim, name)(
        theirs, **options
    ).step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=sorted(MODELS))
    parser.add_argument(
        "--optimizers", nargs="+", choices=[label for label, _, _ in OPTIMIZERS], default=None
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--round-seconds", type=float, default=0.05)
    parser.add_argument("--output", type=Path, default=RESULTS / "optim.json")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        raise SystemExit("bench_optim: needs torch (pip install torch==2.13.0)") from None

    info = odyssey.cpu_info()
    thread_counts = sorted({1, os.cpu_count() or 1})
    print(f"odyssey {info['version']} ({info['isa_selected']}) on {info['cpu']}")
    print(f"torch {torch.__version__}, NumPy {np.__version__}")
    print(HEADER)
    rows = []
    previous = odyssey.get_num_threads(), torch.get_num_threads()
    try:
        for model in args.models:
            for label, name, options in OPTIMIZERS:
                if args.optimizers and label not in args.optimizers:
                    continue
                for threads in thread_counts:
                    odyssey.set_num_threads(threads)
                    torch.set_num_threads(threads)
                    ours, theirs = steppers(torch, MODELS[model], name, options)
                    t_ours, t_torch = side_by_side([ours, theirs], args.rounds, args.round_seconds)
                    row = {
                        "model": model,
                        "optimizer": label,
                        "options": options,
                        "threads": threads,
                        "odyssey_us": t_ours * 1e6,
                        "torch_us": t_torch * 1e6,
                        "ratio": t_torch / t_ours,
                    }
                    rows.append(row)
                    print(ROW.format(**row))
    finally:
        odyssey.set_num_threads(previous[0])
        torch.set_num_threads(previous[1])

    write_report(
        args.output,
        "optim",
        rows,
        torch=torch.__version__,
    )


if __name__ == "__main__":
    main()
