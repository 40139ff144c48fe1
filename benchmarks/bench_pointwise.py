"""Activations, softmax, cross-entropy and optimizer steps, side by side with NumPy and PyTorch.

Every operation runs at 1M elements (softmax on 1000 x 1000, cross-entropy forward + backward at
64 x 10 and 1000 x 10 as a training step sees it) with the same thread count for odyssey and
PyTorch. The three are timed in alternating rounds, so all see the same machine state, and reported
as microseconds per call and as speed ratios (other time / odyssey time: above 1 means odyssey is
faster). Results are printed and written as JSON to benchmarks/results/pointwise.json.
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
from odyssey import _kernels

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the benchmark still compares against NumPy
    torch = None

RESULTS = Path(__file__).parent / "results"
N = 1 << 20
SLOPE = 0.01
HEADER = (
    f"{'op':<22} {'shape':>9} {'isa':<7} {'thr':>3} {'odyssey us':>10} {'NumPy us':>9} "
    f"{'torch us':>9} {'x NumPy':>7} {'x torch':>7}"
)

Call = Callable[[], object]


def numpy_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean loss and its gradient, the stable way, in float32 NumPy."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(axis=1, keepdims=True)
    rows = np.arange(len(labels))
    loss = float((np.log(total[:, 0]) - shifted[rows, labels]).mean())
    grad = exp / total
    grad[rows, labels] -= 1
    grad /= len(labels)
    return loss, grad


def activation_ops() -> list[tuple[str, str, Call, Call, Call | None]]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(N, dtype=np.float32) * 3
    g = rng.standard_normal(N, dtype=np.float32)
    y = np.tanh(x)
    s = 1 / (1 + np.exp(-x))
    out = np.empty_like(x)
    slope = np.float32(SLOPE)
    shape = "1M"
    ops: list[tuple[str, str, Call, Call, Call | None]] = [
        (
            "relu_backward",
            shape,
            lambda: _kernels.relu_backward(g, x, out=out),
            lambda: np.multiply(g, x > 0, out=out),
            None,
        ),
        (
            "leaky_relu",
            shape,
            lambda: _kernels.leaky_relu(x, SLOPE, out=out),
            lambda: np.where(x > 0, x, x * slope),
            None,
        ),
        (
            "leaky_relu_backward",
            shape,
            lambda: _kernels.leaky_relu_backward(g, x, SLOPE, out=out),
            lambda: np.where(x > 0, g, g * slope),
            None,
        ),
        (
            "sigmoid",
            shape,
            lambda: _kernels.sigmoid(x, out=out),
            lambda: np.divide(1, 1 + np.exp(-x), out=out),
            None,
        ),
        (
            "sigmoid_backward",
            shape,
            lambda: _kernels.sigmoid_backward(g, s, out=out),
            lambda: np.multiply(g * (1 - s), s, out=out),
            None,
        ),
        ("tanh", shape, lambda: _kernels.tanh(x, out=out), lambda: np.tanh(x, out=out), None),
        (
            "tanh_backward",
            shape,
            lambda: _kernels.tanh_backward(g, y, out=out),
            lambda: np.multiply(g, 1 - y * y, out=out),
            None,
        ),
        (
            "lecun_tanh",
            shape,
            lambda: _kernels.lecun_tanh(x, out=out),
            lambda: np.multiply(np.tanh(x * np.float32(2 / 3)), np.float32(1.7159), out=out),
            None,
        ),
        (
            "lecun_tanh_backward",
            shape,
            lambda: _kernels.lecun_tanh_backward(g, y, out=out),
            lambda: np.multiply(
                g * np.float32(2 / 3), np.float32(1.7159) - y * y / np.float32(1.7159), out=out
            ),
            None,
        ),
    ]
    if torch is not None:
        tx, tg, ty, ts, tout = (torch.from_numpy(a) for a in (x, g, y, s, out))
        torch_calls: dict[str, Call] = {
            "relu_backward": lambda: torch.ops.aten.threshold_backward(tg, tx, 0),
            "leaky_relu": lambda: F.leaky_relu(tx, SLOPE),
            "leaky_relu_backward": lambda: torch.ops.aten.leaky_relu_backward(tg, tx, SLOPE, False),
            "sigmoid": lambda: torch.sigmoid(tx, out=tout),
            "sigmoid_backward": lambda: torch.ops.aten.sigmoid_backward(tg, ts),
            "tanh": lambda: torch.tanh(tx, out=tout),
            "tanh_backward": lambda: torch.ops.aten.tanh_backward(tg, ty),
            "lecun_tanh": lambda: torch.tanh(tx * (2 / 3)).mul_(1.7159),
        }
        ops = [(n, sh, o, npy, torch_calls.get(n)) for n, sh, o, npy, _ in ops]
    return ops


def softmax_ops() -> list[tuple[str, str, Call, Call, Call | None]]:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1000, 1000), dtype=np.float32) * 3
    g = rng.standard_normal((1000, 1000), dtype=np.float32)
    y = _kernels.softmax(x)
    out = np.empty_like(x)

    def numpy_softmax() -> np.ndarray:
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return np.divide(e, e.sum(axis=1, keepdims=True), out=out)

    def numpy_log_softmax() -> np.ndarray:
        shifted = x - x.max(axis=1, keepdims=True)
        return np.subtract(shifted, np.log(np.exp(shifted).sum(axis=1, keepdims=True)), out=out)

    def numpy_softmax_backward() -> np.ndarray:
        return np.multiply(y, g - (g * y).sum(axis=1, keepdims=True), out=out)

    shape = "1000x1000"
    ops: list[tuple[str, str, Call, Call, Call | None]] = [
        ("softmax", shape, lambda: _kernels.softmax(x, out=out), numpy_softmax, None),
        ("log_softmax", shape, lambda: _kernels.log_softmax(x, out=out), numpy_log_softmax, None),
        (
            "softmax_backward",
            shape,
            lambda: _kernels.softmax_backward(g, y, out=out),
            numpy_softmax_backward,
            None,
        ),
    ]
    if torch is not None:
        tx, tg, ty = (torch.from_numpy(a) for a in (x, g, y))
        torch_calls: dict[str, Call] = {
            "softmax": lambda: torch.softmax(tx, 1),
            "log_softmax": lambda: torch.log_softmax(tx, 1),
            "softmax_backward": lambda: torch.ops.aten._softmax_backward_data(
                tg, ty, 1, torch.float32
            ),
        }
        ops = [(n, sh, o, npy, torch_calls.get(n)) for n, sh, o, npy, _ in ops]
    for rows in (64, 1000):
        logits = rng.standard_normal((rows, 10), dtype=np.float32) * 3
        labels = rng.integers(0, 10, rows).astype(np.int64)
        grad = np.empty_like(logits)

        def ours(logits: np.ndarray = logits, labels: np.ndarray = labels) -> object:
            loss, probs = _kernels.softmax_cross_entropy(logits, labels)
            return loss, _kernels.softmax_cross_entropy_backward(
                probs, labels, 1.0 / len(labels), out=probs
            )

        torch_call = None
        if torch is not None:
            t_logits = torch.from_numpy(logits).requires_grad_()
            t_labels = torch.from_numpy(labels)

            def torch_call(t_logits: Any = t_logits, t_labels: Any = t_labels) -> object:
                t_logits.grad = None
                loss = F.cross_entropy(t_logits, t_labels)
                loss.backward()
                return loss

        ops.append(
            (
                "cross_entropy fwd+bwd",
                f"{rows}x10",
                ours,
                lambda logits=logits, labels=labels: numpy_cross_entropy(logits, labels),
                torch_call,
            )
        )
        del grad
    return ops


def optimizer_ops() -> list[tuple[str, str, Call, Call, Call | None]]:
    rng = np.random.default_rng(2)
    param = rng.standard_normal(N, dtype=np.float32)
    grad = rng.standard_normal(N, dtype=np.float32) * np.float32(1e-3)
    lr, momentum, betas, eps = 1e-3, 0.9, (0.9, 0.999), 1e-8
    ours_state = [param.copy(), np.zeros_like(param), np.zeros_like(param)]
    numpy_state = [param.copy(), np.zeros_like(param), np.zeros_like(param)]
    step = [0]

    def ours_sgd() -> None:
        _kernels.sgd_step(
            ours_state[0], grad, ours_state[1], lr=lr, momentum=momentum, first_step=False
        )

    def numpy_sgd() -> None:
        p, buf, _ = numpy_state
        buf *= np.float32(momentum)
        buf += grad
        p -= np.float32(lr) * buf

    def ours_adam() -> None:
        step[0] += 1
        _kernels.adam_step(
            ours_state[0],
            grad,
            ours_state[1],
            ours_state[2],
            step=step[0],
            lr=lr,
            beta1=betas[0],
            beta2=betas[1],
            eps=eps,
        )

    def numpy_adam() -> None:
        p, m, v = numpy_state
        m += np.float32(1 - betas[0]) * (grad - m)
        v *= np.float32(betas[1])
        v += np.float32(1 - betas[1]) * grad * grad
        denom = np.sqrt(v) / np.float32(np.sqrt(1 - betas[1] ** 10)) + np.float32(eps)
        p -= np.float32(lr / (1 - betas[0] ** 10)) * m / denom

    torch_sgd = torch_adam = None
    if torch is not None:
        weight = torch.nn.Parameter(torch.from_numpy(param.copy()))
        weight.grad = torch.from_numpy(grad)
        sgd = torch.optim.SGD([weight], lr=lr, momentum=momentum, foreach=False)
        adam = torch.optim.Adam([weight], lr=lr, betas=betas, eps=eps, foreach=False)
        torch_sgd, torch_adam = sgd.step, adam.step
    return [
        ("sgd_step momentum", "1M", ours_sgd, numpy_sgd, torch_sgd),
        ("adam_step", "1M", ours_adam, numpy_adam, torch_adam),
    ]


def format_row(row: dict[str, Any]) -> str:
    def optional(value: float | None, spec: str) -> str:
        return format(value, spec) if value is not None else format("-", spec.split(".")[0])

    return (
        f"{row['op']:<22} {row['shape']:>9} {row['isa']:<7} {row['threads']:>3} "
        f"{row['odyssey_us']:>10.1f} {row['numpy_us']:>9.1f} {optional(row['torch_us'], '>9.1f')} "
        f"{row['vs_numpy']:>7.2f} {optional(row['vs_torch'], '>7.2f')}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--round-seconds", type=float, default=0.04)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--all-isas", action="store_true", help="every runnable ISA, not just the selected one"
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "pointwise.json")
    args = parser.parse_args()

    info = odyssey.cpu_info()
    torch_version = torch.__version__ if torch is not None else None
    print(
        f"odyssey {info['version']} on {info['cpu']} ({info['arch']}), NumPy {np.__version__}, "
        f"torch {torch_version}, {args.threads} threads"
    )
    print(HEADER)
    isas = info["isa_available"] if args.all_isas else [info["isa_selected"]]
    previous_isa, previous_threads = info["isa_selected"], odyssey.get_num_threads()
    odyssey.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    rows = []
    try:
        for isa in isas:
            odyssey.set_isa(isa)
            for name, shape, ours, numpy_call, torch_call in (
                activation_ops() + softmax_ops() + optimizer_ops()
            ):
                functions = [ours, numpy_call] + ([torch_call] if torch_call else [])
                times = side_by_side(functions, args.rounds, args.round_seconds)
                t_torch = times[2] if torch_call else None
                row = {
                    "op": name,
                    "shape": shape,
                    "isa": isa,
                    "threads": args.threads,
                    "odyssey_us": times[0] * 1e6,
                    "numpy_us": times[1] * 1e6,
                    "torch_us": t_torch * 1e6 if t_torch else None,
                    "vs_numpy": times[1] / times[0],
                    "vs_torch": t_torch / times[0] if t_torch else None,
                }
                rows.append(row)
                print(format_row(row))
    finally:
        odyssey.set_isa(previous_isa)
        odyssey.set_num_threads(previous_threads)

    write_report(
        args.output,
        "pointwise",
        rows,
        numpy=np.__version__,
        torch=torch_version,
    )


if __name__ == "__main__":
    main()
