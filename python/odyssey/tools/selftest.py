"""The kernel self-test behind ``odyssey doctor``: every kernel family on every ISA this CPU runs,
against the scalar reference, and the same bits at 1 and N threads.

Each family calls its kernels on a small deterministic input of odd sizes (large enough to span
several of the kernels' parallel chunks) and compares with the scalar variant's results within the
tolerance the C++ tests in cpp/tests allow that family: ``|got - want| <= rel * scale + abs``,
``scale`` being ``|want|`` unless the family gives the size of the terms a value was computed from;
``rel = abs = 0`` means bit for bit (any NaN matching any NaN). Every compute function of
``odyssey._kernels`` belongs to exactly one family (tests/test_doctor.py checks it), so a new
kernel without a check shows up as an omission instead of passing silently.
"""

from __future__ import annotations

import math
import os
import time
import types
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from odyssey import _kernels, runtime

__all__ = [
    "FAMILIES",
    "RUNTIME_FUNCTIONS",
    "Family",
    "FamilyResult",
    "IsaResult",
    "Output",
    "SelfTestReport",
    "Tolerance",
    "machine_threads",
    "run_self_test",
]

KERNELS: Any = _kernels
"""The compiled module the families call. Test-only hook: a test replaces it (with pytest's
``monkeypatch``) by a wrapper whose kernel returns wrong values, to prove the self-test fails;
nothing else changes it."""

RUNTIME_FUNCTIONS = frozenset(
    {
        "cpu_info",
        "set_isa",
        "get_num_threads",
        "set_num_threads",
        "conv2d_algorithms",
        "buffer_cache_stats",
        "buffer_cache_clear",
        "buffer_cache_reset_peak",
        "set_buffer_cache_limit",
        "set_flush_denormal",
        "float_controls",
        "set_float_controls",
    }
)
"""The functions of ``_kernels`` that compute nothing to check: switches and introspection."""

FLOAT32_EPSILON = float(np.finfo(np.float32).eps)
# More than two of the elementwise kernels' 2^15-element parallel chunks (kEltwiseGrain), plus an
# odd tail, so the thread check has chunks to split.
ELEMENTWISE_SIZE = 2 * 2**15 + 17


@dataclass(frozen=True)
class Tolerance:
    """Allowed ``|got - want| <= rel * scale + abs``; the default (0, 0) means bit for bit."""

    rel: float = 0.0
    abs: float = 0.0

    @property
    def exact(self) -> bool:
        """True when bit-for-bit equality is required."""
        return self.rel == 0.0 and self.abs == 0.0


EXACT = Tolerance()


@dataclass(frozen=True)
class Output:
    """One result of a family's kernels, with how closely an ISA must match the scalar one."""

    value: np.ndarray
    tolerance: Tolerance = EXACT
    # The size of the terms each value was computed from, where they may cancel (GEMM, softmax
    # gradients); |want| when None.
    scale: np.ndarray | None = None


@dataclass(frozen=True)
class Family:
    """A kernel family: the `_kernels` functions it covers and the run that calls them all.

    `run` receives a namespace holding only those functions (so a family cannot use a kernel it
    does not declare) and returns its outputs by name."""

    name: str
    kernels: tuple[str, ...]
    run: Callable[[Any], dict[str, Output]]


@dataclass
class IsaResult:
    """One family on one ISA: agreement with the scalar reference and across thread counts."""

    isa: str
    max_error: float = 0.0  # the largest |got - want| against the scalar reference
    error: str | None = None  # why the comparison with the reference failed; None when it passed
    thread_error: str | None = None  # which output changed with the thread count; None if none

    @property
    def passed(self) -> bool:
        """True when the variant matched the reference and gave the same bits on 1 and N threads."""
        return self.error is None and self.thread_error is None


@dataclass
class FamilyResult:
    """One family on every ISA."""

    name: str
    kernels: tuple[str, ...]
    isas: dict[str, IsaResult] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when every ISA of the family matched the scalar reference."""
        return all(result.passed for result in self.isas.values())


def _finite_or_none(value: float) -> float | None:
    """`value`, or None for an error too large to measure (JSON has no infinity)."""
    return value if math.isfinite(value) else None


@dataclass
class SelfTestReport:
    """The whole self-test: which ISAs and thread counts, how long, and each family's results."""

    isas: list[str]
    threads: tuple[int, int]
    seconds: float
    families: list[FamilyResult]

    @property
    def passed(self) -> bool:
        """True when every kernel family passed."""
        return all(family.passed for family in self.families)

    def failures(self) -> list[str]:
        """One line per failed check: family, ISA and what differed."""
        lines = []
        for family in self.families:
            for result in family.isas.values():
                where = f"{family.name} on {result.isa}"
                if result.error is not None:
                    lines.append(f"{where}: {result.error}")
                if result.thread_error is not None:
                    lines.append(f"{where}: {result.thread_error}")
        return lines

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready values (``odyssey doctor --json``)."""
        return {
            "passed": self.passed,
            "seconds": round(self.seconds, 3),
            "isas": self.isas,
            "threads": list(self.threads),
            "families": [
                {
                    "name": family.name,
                    "kernels": list(family.kernels),
                    "passed": family.passed,
                    "isas": {
                        isa: {
                            "passed": result.passed,
                            "max_error": _finite_or_none(result.max_error),
                            "error": result.error,
                            "thread_error": result.thread_error,
                        }
                        for isa, result in family.isas.items()
                    },
                }
                for family in self.families
            ],
        }


# ---------------------------------------------------------------------------------------------
# Inputs.


def _normal(shape: int | tuple[int, ...], seed: int, scale: float = 1.0) -> np.ndarray:
    """Deterministic float32 normal values, C-contiguous."""
    values = np.random.default_rng(seed).normal(0.0, scale, shape)
    return np.ascontiguousarray(values, dtype=np.float32)


def _uniform(shape: int | tuple[int, ...], seed: int, low: float, high: float) -> np.ndarray:
    """Deterministic float32 uniform values in [low, high), C-contiguous."""
    values = np.random.default_rng(seed).uniform(low, high, shape)
    return np.ascontiguousarray(values, dtype=np.float32)


# ---------------------------------------------------------------------------------------------
# The families. Tolerances are those of the C++ test named beside each.


def _gemm(k: Any) -> dict[str, Output]:
    """sgemm with bias and beta (about 4 MFLOP: several parallel blocks), and both transposes
    with k beyond one k block (256). test_gemm.cc: (k + 4) eps sum|a b| + 1e-6."""
    outputs = {}
    cases = {
        "plain": (131, 97, 167, False, False, 1.0, 0.5),
        "transposed": (17, 33, 301, True, True, -0.75, 0.0),
    }
    for name, (m, n, depth, trans_a, trans_b, alpha, beta) in cases.items():
        a = _normal((depth, m) if trans_a else (m, depth), 1)
        b = _normal((n, depth) if trans_b else (depth, n), 2)
        bias, c = _normal(n, 3), _normal((m, n), 4)
        result = k.sgemm(
            a, b, trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta, bias=bias, out=c.copy()
        )
        op_a, op_b = (a.T if trans_a else a), (b.T if trans_b else b)
        magnitude = abs(alpha) * (np.abs(op_a).astype(np.float64) @ np.abs(op_b))
        magnitude += abs(beta) * np.abs(c) + np.abs(bias)
        tolerance = Tolerance((depth + 4) * FLOAT32_EPSILON, 1e-6)
        outputs[name] = Output(result, tolerance, magnitude)
    # A Linear layer's backward through its ReLU: the three products of one job.
    batch, features_in, features_out = 37, 53, 29
    grad, x, w = (
        _normal((batch, features_out), 5),
        _normal((batch, features_in), 6),
        _normal((features_out, features_in), 7),
    )
    relu_output = np.maximum(_normal((batch, features_out), 8), 0.0)
    masked = np.where(relu_output > 0, grad, 0.0).astype(np.float64)
    dx, dw, db = k.linear_backward(grad, x, w, relu_output)
    products = {
        "linear_backward input": (dx, masked, w, features_out),
        "linear_backward weight": (dw, masked.T, x, batch),
        "linear_backward bias": (db, masked.T, np.ones((batch, 1)), batch),
    }
    for name, (result, left, right, depth) in products.items():
        magnitude = (np.abs(left) @ np.abs(right)).reshape(result.shape)
        tolerance = Tolerance((depth + 4) * FLOAT32_EPSILON, 1e-6)
        outputs[name] = Output(result, tolerance, magnitude)
    return outputs


# name -> (input shape, weight shape, stride, padding, dilation, groups): LeNet's conv1 kind (one
# input channel, 5x5, a batch that fills the vectors of the samples-in-lanes kernels), a strided
# padded one with several channels, a grouped one (the direct kernels one group at a time) and a
# dilated one with padding as large as the kernel (the im2col path).
CONV_CASES = {
    "lenet": ((17, 1, 13, 11), (6, 1, 5, 5), (1, 1), (2, 2), (1, 1), 1),
    "strided": ((5, 4, 9, 11), (7, 4, 3, 3), (2, 1), (1, 1), (1, 1), 1),
    "grouped": ((3, 6, 9, 10), (8, 3, 3, 3), (1, 1), (1, 1), (1, 1), 2),
    "dilated": ((3, 4, 11, 9), (6, 2, 3, 3), (1, 2), (3, 3), (2, 1), 2),
}


def _conv_tolerance(terms: int) -> Tolerance:
    """test_conv.cc: |got - want| <= (2e-6 terms + 1e-5) (1 + |want|)."""
    allowed = 2e-6 * terms + 1e-5
    return Tolerance(allowed, allowed)


def _conv_operands(case: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x, weight, bias and an output gradient for a CONV_CASES entry."""
    x_shape, w_shape, stride, padding, dilation, _ = CONV_CASES[case]
    x, weight, bias = _normal(x_shape, 5), _normal(w_shape, 6, 0.3), _normal(w_shape[0], 7)
    reach_h, reach_w = (dilation[i] * (w_shape[2 + i] - 1) + 1 for i in (0, 1))
    out_h = (x_shape[2] + 2 * padding[0] - reach_h) // stride[0] + 1
    out_w = (x_shape[3] + 2 * padding[1] - reach_w) // stride[1] + 1
    grad_out = _normal((x_shape[0], w_shape[0], out_h, out_w), 8)
    return x, weight, bias, grad_out


def _conv_forward(k: Any) -> dict[str, Output]:
    outputs = {}
    for case, (_, w_shape, stride, padding, dilation, groups) in CONV_CASES.items():
        x, weight, bias, _ = _conv_operands(case)
        y = k.conv2d_forward(
            x, weight, bias, stride=stride, padding=padding, dilation=dilation, groups=groups
        )
        outputs[case] = Output(y, _conv_tolerance(w_shape[1] * w_shape[2] * w_shape[3]))
    return outputs


def _conv_backward(k: Any) -> dict[str, Output]:
    outputs = {}
    for case, (x_shape, w_shape, stride, padding, dilation, groups) in CONV_CASES.items():
        x, weight, _, grad_out = _conv_operands(case)
        geometry = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
        grad_x = k.conv2d_backward_data(grad_out, weight, x_shape, **geometry)
        grad_w, grad_b = k.conv2d_backward_weight(x, grad_out, w_shape[2:], bias=True, **geometry)
        data_terms = w_shape[0] * w_shape[2] * w_shape[3]
        weight_terms = grad_out.shape[0] * grad_out.shape[2] * grad_out.shape[3]
        outputs[f"{case} grad_x"] = Output(grad_x, _conv_tolerance(data_terms))
        outputs[f"{case} grad_weight"] = Output(grad_w, _conv_tolerance(weight_terms))
        outputs[f"{case} grad_bias"] = Output(grad_b, _conv_tolerance(weight_terms))
    return outputs


def _pooling(k: Any) -> dict[str, Output]:
    """2x2/2 (the ISA kernels) and an overlapping 3x2 window, over 39 planes (three 16-plane
    chunks), on values with ties. test_pool.cc: maxima and argmax exact, means within 1e-6, their
    gradient within 1e-5."""
    levels = np.random.default_rng(9).integers(-3, 4, (3, 13, 13, 11))
    x = np.ascontiguousarray(levels * 0.5, dtype=np.float32)
    outputs = {}
    for window, stride in (((2, 2), (2, 2)), ((3, 2), (2, 1))):
        name = f"{window[0]}x{window[1]}"
        y, argmax = k.max_pool2d_forward(x, window, stride)
        grad_out = _normal(y.shape, 10)
        relu_y, relu_argmax = k.max_pool2d_forward(x, window, stride, relu=True)
        mean = k.avg_pool2d_forward(x, window, stride)
        outputs[f"max {name}"] = Output(y)
        outputs[f"argmax {name}"] = Output(argmax)
        outputs[f"relu max {name}"] = Output(relu_y)
        outputs[f"relu argmax {name}"] = Output(relu_argmax)
        outputs[f"max grad {name}"] = Output(
            k.max_pool2d_backward(grad_out, argmax, x.shape, window, stride)
        )
        outputs[f"avg {name}"] = Output(mean, Tolerance(abs=1e-6))
        outputs[f"avg grad {name}"] = Output(
            k.avg_pool2d_backward(grad_out, x.shape, window, stride), Tolerance(abs=1e-5)
        )
    # Adaptive windows of 13 -> 5 rows and 11 -> 4 columns overlap and differ in size.
    y, argmax = k.adaptive_max_pool2d_forward(x, (5, 4))
    grad_out = _normal(y.shape, 17)
    outputs["adaptive max"] = Output(y)
    outputs["adaptive argmax"] = Output(argmax)
    outputs["adaptive max grad"] = Output(k.adaptive_max_pool2d_backward(grad_out, argmax, x.shape))
    outputs["adaptive avg"] = Output(k.adaptive_avg_pool2d_forward(x, (5, 4)), Tolerance(abs=1e-6))
    outputs["adaptive avg grad"] = Output(
        k.adaptive_avg_pool2d_backward(grad_out, x.shape), Tolerance(abs=1e-5)
    )
    return outputs


def _batch_norm(k: Any) -> dict[str, Output]:
    """test_norm.cc: statistics in double, so every output within 1e-5 of its size + 1e-6; NCHW
    planes of 35 (the per-plane path) and (N, C) rows, in training and in eval."""
    close = Tolerance(1e-5, 1e-6)
    outputs = {}
    for layout, shape in (("nchw", (6, 13, 5, 7)), ("nc", (37, 19))):
        x = _normal(shape, 18, 3.0) + 1.5
        channels = shape[1]
        weight, bias = _normal(channels, 19), _normal(channels, 20)
        running_mean, running_var = _normal(channels, 21), np.abs(_normal(channels, 22)) + 0.5
        y, mean, invstd = k.batch_norm_forward(
            x, weight, bias, running_mean, running_var, training=True
        )
        grad_out = _normal(shape, 23)
        grad_x, grad_w, grad_b = k.batch_norm_backward(
            grad_out, x, weight, mean, invstd, training=True
        )
        eval_y, _, _ = k.batch_norm_forward(
            x, weight, bias, running_mean, running_var, training=False
        )
        for name, value in (
            ("y", y),
            ("mean", mean),
            ("invstd", invstd),
            ("running_mean", running_mean),
            ("running_var", running_var),
            ("grad_x", grad_x),
            ("grad_weight", grad_w),
            ("grad_bias", grad_b),
            ("eval y", eval_y),
        ):
            outputs[f"{layout} {name}"] = Output(value, close)
    return outputs


def _eltwise(k: Any) -> dict[str, Output]:
    """test_eltwise.cc: add, mul and relu bit for bit; the sum within 1e-6 sum|x|."""
    a, b = _normal(ELEMENTWISE_SIZE, 11, 10.0), _normal(ELEMENTWISE_SIZE, 12, 10.0)
    total = np.asarray(k.sum(a), dtype=np.float64)
    return {
        "add": Output(k.add(a, b)),
        "mul": Output(k.mul(a, b)),
        "relu": Output(k.relu(a)),
        "sum": Output(total, Tolerance(1e-6, 1e-30), np.asarray(np.abs(a).sum(dtype=np.float64))),
    }


def _activations(k: Any) -> dict[str, Output]:
    """test_activation.cc: the ReLU family and the backward formulas bit for bit, except tanh's
    (an FMA may round g (1 - y y) once: 6e-8 |g|, |g| < 4 here); sigmoid, tanh and LeCun's tanh
    within 3e-7 |want| + 1e-37. The backward passes take outputs in the forward's range computed
    here, the same on every ISA."""
    x = _normal(ELEMENTWISE_SIZE, 13, 4.0)
    g = np.clip(_normal(ELEMENTWISE_SIZE, 14), -3.9, 3.9)
    wide = x.astype(np.float64)
    sigmoid_y = (1.0 / (1.0 + np.exp(-wide))).astype(np.float32)
    tanh_y, lecun_y = np.tanh(wide).astype(np.float32), (1.7159 * np.tanh(wide * 2 / 3))
    lecun_y = lecun_y.astype(np.float32)
    close = Tolerance(3e-7, 1e-37)
    return {
        "relu_backward": Output(k.relu_backward(g, x)),
        "leaky_relu": Output(k.leaky_relu(x, 0.01)),
        "leaky_relu_backward": Output(k.leaky_relu_backward(g, x, 0.01)),
        "sigmoid": Output(k.sigmoid(x), close),
        "sigmoid_backward": Output(k.sigmoid_backward(g, sigmoid_y)),
        "tanh": Output(k.tanh(x), close),
        "tanh_backward": Output(k.tanh_backward(g, tanh_y), Tolerance(3e-7, 4.0 * 6e-8)),
        "lecun_tanh": Output(k.lecun_tanh(x), close),
        "lecun_tanh_backward": Output(k.lecun_tanh_backward(g, lecun_y)),
        "hardtanh": Output(k.hardtanh(x, -1.0, 1.0)),
        "hardtanh_backward": Output(k.hardtanh_backward(g, x, 0.0, 6.0)),
        "silu": Output(k.silu(x), Tolerance(3e-7, 1e-37), np.abs(x)),
        # 1 + x (1 - s) cancels near x = -1.28: the gradient is held to 1e-6 |g|.
        "silu_backward": Output(k.silu_backward(g, x), Tolerance(1e-6), np.abs(g)),
    }


# Rows of 37 logits: a row count spanning several of softmax's 2^14-float parallel chunks.
SOFTMAX_SHAPE = (997, 37)
SOFTMAX_TOLERANCE = Tolerance(1e-6, 1e-7)  # test_softmax.cc


def _softmax(k: Any) -> dict[str, Output]:
    """test_softmax.cc: 1e-6 scale + 1e-7, the gradients' scale being the size of their terms:
    y (|g| + sum|g y|) and |g| + exp(y) sum|g|."""
    x, g = _normal(SOFTMAX_SHAPE, 15, 30.0), _normal(SOFTMAX_SHAPE, 16)
    y, log_y = k.softmax(x), k.log_softmax(x)
    g64, y64 = np.abs(g).astype(np.float64), y.astype(np.float64)
    softmax_scale = y64 * (g64 + (g64 * y64).sum(axis=1, keepdims=True))
    log_softmax_scale = g64 + np.exp(log_y.astype(np.float64)) * g64.sum(axis=1, keepdims=True)
    return {
        "softmax": Output(y, SOFTMAX_TOLERANCE),
        "softmax_backward": Output(k.softmax_backward(g, y), SOFTMAX_TOLERANCE, softmax_scale),
        "log_softmax": Output(log_y, SOFTMAX_TOLERANCE),
        "log_softmax_backward": Output(
            k.log_softmax_backward(g, log_y), SOFTMAX_TOLERANCE, log_softmax_scale
        ),
    }


def _losses(k: Any) -> dict[str, Output]:
    """Softmax cross-entropy. test_softmax.cc: probabilities and gradient within 1e-6 |want| +
    1e-7, the mean loss within 1e-6 relative (+ 1e-7)."""
    logits = _normal(SOFTMAX_SHAPE, 17, 30.0)
    labels = np.random.default_rng(18).integers(0, SOFTMAX_SHAPE[1], SOFTMAX_SHAPE[0])
    loss, probs = k.softmax_cross_entropy(logits, labels)
    grad = k.softmax_cross_entropy_backward(probs, labels, 1.0 / SOFTMAX_SHAPE[0])
    return {
        "loss": Output(np.asarray(loss, dtype=np.float64), SOFTMAX_TOLERANCE),
        "probabilities": Output(probs, SOFTMAX_TOLERANCE),
        "gradient": Output(grad, SOFTMAX_TOLERANCE),
    }


def _optimizers(k: Any) -> dict[str, Output]:
    """Three steps of each fused update with its options on. test_optimizer.cc: bit for bit (the
    variants perform the reference's operations, built with -ffp-contract=off)."""
    n = ELEMENTWISE_SIZE
    grads = [_normal(n, 20 + step) for step in range(3)]
    sgd = [_normal(n, 19), np.zeros(n, np.float32)]
    adam = [_normal(n, 19), *(np.zeros(n, np.float32) for _ in range(3))]
    rmsprop = [_normal(n, 19), *(np.zeros(n, np.float32) for _ in range(3))]
    adagrad = [_normal(n, 19), np.full(n, 0.1, np.float32)]
    sizes = (1, 17, 33, 4099)
    many_params = [_normal(size, 30 + size) for size in sizes]
    many_buffers = [np.zeros(size, np.float32) for size in sizes]
    adam_many = [[np.zeros(size, np.float32) for size in sizes] for _ in range(2)]
    adam_many_params = [p.copy() for p in many_params]
    for step, grad in enumerate(grads, start=1):
        many_grads = [grad[:size].copy() for size in sizes]
        k.sgd_step(
            sgd[0],
            grad,
            sgd[1],
            lr=0.05,
            momentum=0.9,
            weight_decay=1e-2,
            nesterov=True,
            first_step=step == 1,
        )
        k.sgd_step_many(
            many_params,
            many_grads,
            many_buffers,
            lr=0.05,
            momentum=0.9,
            dampening=0.3,
            first_steps=[step == 1] * len(sizes),
        )
        k.adam_step(
            adam[0],
            grad,
            adam[1],
            adam[2],
            step=step,
            lr=1e-3,
            beta1=0.9,
            beta2=0.999,
            eps=1e-8,
            weight_decay=1e-2,
            decoupled_weight_decay=True,
            max_exp_avg_sq=adam[3],
        )
        k.adam_step_many(
            adam_many_params,
            many_grads,
            adam_many[0],
            adam_many[1],
            steps=[step] * len(sizes),
            lr=1e-3,
            beta1=0.9,
            beta2=0.999,
            eps=1e-8,
            weight_decay=1e-2,
        )
        k.rmsprop_step(
            rmsprop[0],
            grad,
            rmsprop[1],
            lr=1e-2,
            alpha=0.99,
            eps=1e-8,
            weight_decay=1e-2,
            momentum=0.9,
            centered=True,
            grad_avg=rmsprop[2],
            momentum_buffer=rmsprop[3],
        )
        k.adagrad_step(
            adagrad[0], grad, adagrad[1], step=step, lr=1e-2, lr_decay=1e-3, weight_decay=1e-2
        )
    return {
        "sgd": Output(np.concatenate(sgd)),
        "sgd_many": Output(np.concatenate(many_params + many_buffers)),
        "adam": Output(np.concatenate(adam)),
        "adam_many": Output(np.concatenate(adam_many_params + adam_many[0] + adam_many[1])),
        "rmsprop": Output(np.concatenate(rmsprop)),
        "adagrad": Output(np.concatenate(adagrad)),
    }


# Augmentation draws are keyed by (seed, epoch, sample index, stream), as the DataLoader passes.
AUGMENT_DRAWS = (1234, 3, np.arange(100, 117, dtype=np.int64), 7)
AFFINE_RANGES = {
    "degrees": (-15.0, 15.0),
    "translate": (0.1, 0.1),
    "scale": (0.8, 1.2),
    "squeeze": (0.85, 1.15),
    "shear_x": (-10.0, 10.0),
    "shear_y": (-5.0, 5.0),
}
# test_augment.cc: warps and blurs within 1e-5 (1 + |want|); a warp fed ISA-dependent coordinates
# (elastic: the blurred field times alpha) within 1e-4 (1 + |want|), an ulp of a coordinate moving
# a bilinear weight by as much.
WARP_TOLERANCE = Tolerance(1e-5, 1e-5)
COMPOSED_WARP_TOLERANCE = Tolerance(1e-4, 1e-4)


def _augment(k: Any) -> dict[str, Output]:
    """Every batched transform on 17 images of 2 x 19 x 23; the draws (Philox, matrices, crops,
    erasing boxes) bit for bit."""
    images = _uniform((17, 2, 19, 23), 40, 0.0, 1.0)
    seed, epoch, indices, stream = AUGMENT_DRAWS
    draws = (seed, epoch, indices, stream)
    height, width = images.shape[2:]
    pixels = np.random.default_rng(41).integers(0, 256, (29, 7, 9), dtype=np.uint8)
    matrices = k.random_affine_matrices(*draws, height, width, **AFFINE_RANGES, hflip=0.5)
    displacements = k.elastic_displacements(*draws, height, width, alpha=34.0, sigma=4.0)
    return {
        "philox4x32": Output(
            np.asarray(k.philox4x32((0xA4093822, 0x299F31D0), (1, 2, 3, 4)), dtype=np.uint32)
        ),
        "gather_unit_floats": Output(k.gather_unit_floats(pixels, indices % 29)),
        "random_affine_matrices": Output(matrices),
        "affine_warp": Output(k.affine_warp(images, matrices, fill=0.375), WARP_TOLERANCE),
        "random_affine": Output(
            k.random_affine(images, *draws, **AFFINE_RANGES, hflip=0.5), WARP_TOLERANCE
        ),
        "elastic_displacements": Output(displacements, WARP_TOLERANCE),
        "displacement_warp": Output(
            k.displacement_warp(images, displacements, fill=0.25), COMPOSED_WARP_TOLERANCE
        ),
        "elastic_distortion": Output(
            k.elastic_distortion(images, *draws, alpha=34.0, sigma=4.0), COMPOSED_WARP_TOLERANCE
        ),
        "normalize": Output(k.normalize(images, [0.1307, 0.5], [0.3081, 0.25])),
        "pad": Output(k.pad(images, 1, 2, 3, 4, fill=-1.0)),
        "random_crop": Output(k.random_crop(images, *draws, 17, 21, padding=(3, 2, 1, 4))),
        "random_erasing": Output(
            k.random_erasing(
                images, *draws, p=0.7, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=[0.25, -0.5]
            )
        ),
    }


FAMILIES: tuple[Family, ...] = (
    Family("gemm", ("sgemm", "linear_backward"), _gemm),
    Family("conv forward", ("conv2d_forward",), _conv_forward),
    Family("conv backward", ("conv2d_backward_data", "conv2d_backward_weight"), _conv_backward),
    Family(
        "pooling",
        (
            "max_pool2d_forward",
            "max_pool2d_backward",
            "avg_pool2d_forward",
            "avg_pool2d_backward",
            "adaptive_max_pool2d_forward",
            "adaptive_max_pool2d_backward",
            "adaptive_avg_pool2d_forward",
            "adaptive_avg_pool2d_backward",
        ),
        _pooling,
    ),
    Family("batch norm", ("batch_norm_forward", "batch_norm_backward"), _batch_norm),
    Family("eltwise", ("add", "mul", "relu", "sum"), _eltwise),
    Family(
        "activations",
        (
            "relu_backward",
            "leaky_relu",
            "leaky_relu_backward",
            "sigmoid",
            "sigmoid_backward",
            "tanh",
            "tanh_backward",
            "lecun_tanh",
            "lecun_tanh_backward",
            "hardtanh",
            "hardtanh_backward",
            "silu",
            "silu_backward",
        ),
        _activations,
    ),
    Family(
        "softmax",
        ("softmax", "softmax_backward", "log_softmax", "log_softmax_backward"),
        _softmax,
    ),
    Family("losses", ("softmax_cross_entropy", "softmax_cross_entropy_backward"), _losses),
    Family(
        "optimizers",
        (
            "sgd_step",
            "sgd_step_many",
            "adam_step",
            "adam_step_many",
            "rmsprop_step",
            "adagrad_step",
        ),
        _optimizers,
    ),
    Family(
        "augment",
        (
            "philox4x32",
            "gather_unit_floats",
            "random_affine_matrices",
            "affine_warp",
            "random_affine",
            "elastic_displacements",
            "displacement_warp",
            "elastic_distortion",
            "normalize",
            "pad",
            "random_crop",
            "random_erasing",
        ),
        _augment,
    ),
)
"""Every kernel family, in the order the report lists them."""


# ---------------------------------------------------------------------------------------------
# Comparisons.


def _compare(name: str, want: Output, got: np.ndarray) -> tuple[float, str | None]:
    """(max |got - want|, a description of the worst value outside the tolerance, or None)."""
    expected, actual = np.asarray(want.value), np.asarray(got)
    if expected.shape != actual.shape or expected.dtype != actual.dtype:
        return math.inf, (
            f"{name}: want {expected.dtype}{list(expected.shape)}, "
            f"got {actual.dtype}{list(actual.shape)}"
        )
    wide_want, wide_got = expected.astype(np.float64).ravel(), actual.astype(np.float64).ravel()
    with np.errstate(invalid="ignore"):
        error = np.abs(wide_got - wide_want)
    if want.tolerance.exact:
        bits = f"u{expected.itemsize}" if expected.dtype.kind == "f" else expected.dtype
        both_nan = np.isnan(wide_want) & np.isnan(wide_got)
        bad = (expected.view(bits) != actual.view(bits)).ravel() & ~both_nan
        allowed = "bit for bit"
    else:
        size = np.abs(wide_want) if want.scale is None else np.asarray(want.scale).ravel()
        limit = np.broadcast_to(want.tolerance.rel * size + want.tolerance.abs, error.shape)
        with np.errstate(invalid="ignore"):
            within = np.where(
                np.isnan(wide_want),
                np.isnan(wide_got),
                np.where(np.isfinite(wide_want), error <= limit, wide_got == wide_want),
            )
        bad = ~within
    measured = error[np.isfinite(error)]
    max_error = float(measured.max()) if measured.size else 0.0
    if not bad.any():
        return max_error, None
    worst = int(np.flatnonzero(bad)[np.argmax(np.nan_to_num(error[bad], nan=math.inf))])
    if not want.tolerance.exact:
        allowed = f"allowed {limit[worst]:.2g}"
    where = f"[{', '.join(map(str, np.unravel_index(worst, expected.shape)))}]"
    description = (
        f"{name}{where if expected.shape else ''}: want {wide_want[worst]:.9g}, "
        f"got {wide_got[worst]:.9g} ({allowed})"
    )
    return (max_error if np.isfinite(error[worst]) else math.inf), description


def _first_thread_difference(one: dict[str, Output], many: dict[str, Output]) -> str | None:
    """The first output whose bytes differ between the two runs, or None."""
    for name, output in one.items():
        a, b = np.asarray(output.value), np.asarray(many[name].value)
        if a.shape != b.shape or a.tobytes() != b.tobytes():
            return f"{name} differs between thread counts"
    return None


# ---------------------------------------------------------------------------------------------
# Running.


def machine_threads() -> int:
    """The thread count the N-thread runs use: the cores this process may run on, at least 2 so
    that the comparison with 1 thread means something."""
    usable = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )
    return min(runtime.MAX_THREADS, max(2, usable))


@contextmanager
def _restored_isa_and_threads() -> Iterator[None]:
    """Puts back the selected ISA and thread count, however the block ends."""
    previous_isa, previous_threads = runtime.cpu_info()["isa_selected"], runtime.get_num_threads()
    try:
        yield
    finally:
        runtime.set_isa(previous_isa)
        runtime.set_num_threads(previous_threads)


def _run(family: Family, kernels: Any, isa: str, threads: int) -> dict[str, Output]:
    runtime.set_isa(isa)
    runtime.set_num_threads(threads)
    return family.run(kernels)


def _check_family(family: Family, isas: Sequence[str], threads: int) -> FamilyResult:
    """Runs `family` on each ISA at 1 and `threads` threads; the first ISA is the reference."""
    kernels = types.SimpleNamespace(**{name: getattr(KERNELS, name) for name in family.kernels})
    result = FamilyResult(family.name, family.kernels)
    reference: dict[str, Output] | None = None
    for isa in isas:
        checked = result.isas[isa] = IsaResult(isa)
        try:
            one = _run(family, kernels, isa, 1)
            many = _run(family, kernels, isa, threads)
        except Exception as error:  # a kernel that raises fails its check; the report goes on
            checked.error, checked.max_error = f"{type(error).__name__}: {error}", math.inf
            continue
        checked.thread_error = _first_thread_difference(one, many)
        if isa == isas[0]:
            reference = one
            continue
        if reference is None:
            checked.error, checked.max_error = f"no {isas[0]} reference to compare with", math.inf
            continue
        problems = []
        for name, want in reference.items():
            error, problem = _compare(name, want, one[name].value)
            checked.max_error = max(checked.max_error, error)
            if problem is not None:
                problems.append(problem)
        if problems:
            checked.error = "; ".join(problems)
    return result


def run_self_test(families: Sequence[Family] = FAMILIES) -> SelfTestReport:
    """Checks each family on every ISA this CPU can run against the scalar variant, and at 1 and
    N threads (`machine_threads`); the selected ISA and thread count are restored afterwards."""
    isas = runtime.cpu_info()["isa_available"]
    isas = ["scalar", *(isa for isa in isas if isa != "scalar")]
    threads = machine_threads()
    start = time.perf_counter()
    with _restored_isa_and_threads():
        results = [_check_family(family, isas, threads) for family in families]
    return SelfTestReport(isas, (1, threads), time.perf_counter() - start, results)
