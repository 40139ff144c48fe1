"""Every `_kernels` function gives the same bytes whatever the addresses of its arrays.

DESIGN §2: a result is a function of the values, shapes and options only. Each kernel runs on the
same values with its float32 (and int32) arrays placed at every float offset 0..16 past a 64-byte
boundary, all at one offset and staggered so that their relative alignments differ too, on every
ISA the machine supports; the returned arrays and scalars and every array it was given (outputs
and in-place updates included) must match the placement at offset 0 byte for byte. int64 and uint8
arrays (labels, indices, images) stay where NumPy put them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from odyssey import _kernels
from odyssey.tools import selftest

MAX_OFFSET = 16
# Functions of _kernels that take no array to place.
NOT_ARRAY_KERNELS = selftest.RUNTIME_FUNCTIONS | {"philox4x32"}

RNG = np.random.default_rng(8)


def floats(*shape: int, scale: float = 1.0) -> np.ndarray:
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def zeros(*shape: int) -> np.ndarray:
    return np.zeros(shape, np.float32)


def placed(values: np.ndarray, offset: int) -> np.ndarray:
    """A C-contiguous copy of `values` starting `offset` floats past a 64-byte boundary."""
    raw = np.empty(values.nbytes + 128, np.uint8)
    start = (-raw.ctypes.data) % 64 + 4 * offset
    view = raw[start : start + values.nbytes].view(values.dtype).reshape(values.shape)
    view[...] = values
    return view


def outcome_bytes(result: Any, arrays: Sequence[np.ndarray]) -> list[bytes]:
    """The bytes of what a call returned and of every array it was given, after the call."""
    parts: list[bytes] = []

    def add(value: Any) -> None:
        if isinstance(value, tuple):
            for item in value:
                add(item)
        elif isinstance(value, np.ndarray):
            parts.append(value.dtype.str.encode() + repr(value.shape).encode() + value.tobytes())
        elif value is not None:
            parts.append(np.float64(value).tobytes())

    add(result)
    for array in arrays:
        add(array)
    return parts


# LeNet-5 at batch 8 and a few other shapes: conv1, conv2, pooling, the classifier's softmax.
X1, W1, B1 = floats(8, 1, 28, 28), floats(6, 1, 5, 5, scale=0.2), floats(6)
DY1 = floats(8, 6, 28, 28)
X2, W2, DY2 = floats(8, 6, 14, 14), floats(16, 6, 5, 5, scale=0.1), floats(8, 16, 10, 10)
POOL_X = np.round(floats(8, 6, 28, 28) * 2) / 2  # ties in the windows
POOL_DY = floats(8, 6, 14, 14)
ARGMAX = _kernels.max_pool2d_forward(POOL_X, 2, 2)[1]
OVERLAP_X = POOL_X[:, :, :27, :27].copy()
OVERLAP_ARGMAX = _kernels.max_pool2d_forward(OVERLAP_X, 3, 2)[1]
OVERLAP_DY = floats(8, 6, 13, 13)
PADDED_DY = floats(8, 6, 14, 14)  # a 3x3 stride-2 window with padding 1 in ceil mode over 27x27
ADAPTIVE_ARGMAX = _kernels.adaptive_max_pool2d_forward(OVERLAP_X, (5, 7))[1]
ADAPTIVE_DY = floats(8, 6, 5, 7)
LOGITS, LABELS = floats(64, 10, scale=3.0), RNG.integers(0, 10, 64)
PROBS = _kernels.softmax(LOGITS)
LOG_PROBS = _kernels.log_softmax(LOGITS)
N = 100_003  # several parallel chunks, the last one short
BIG_X, BIG_Y, BIG_G = floats(N, scale=4.0), floats(N), floats(N)
SQUARES = floats(N, scale=0.1) ** 2
IMAGES = floats(6, 2, 28, 28)
INDICES = np.array([3, 1, 4, 1, 5, 9], np.int64)
BYTES = (np.arange(10 * 784) * 37 % 256).astype(np.uint8).reshape(10, 28, 28)
RANGES = {
    "degrees": (-15.0, 15.0),
    "translate": (0.1, 0.1),
    "scale": (0.8, 1.2),
    "squeeze": (0.85, 1.15),
    "shear_x": (-10.0, 10.0),
    "shear_y": (-5.0, 5.0),
}
INVERSE = _kernels.random_affine_matrices(42, 3, INDICES, 7, 28, 28, **RANGES)
DISPLACEMENTS = _kernels.elastic_displacements(42, 3, INDICES, 8, 28, 28, alpha=34.0, sigma=4.0)
RMSPROP = {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "weight_decay": 1e-2, "momentum": 0.9}
ADAGRAD = {"step": 3, "lr": 1e-2, "lr_decay": 1e-2, "weight_decay": 1e-2, "eps": 1e-10}
ADAM = {"step": 3, "lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 1e-2}
ADAM_MANY = {name: value for name, value in ADAM.items() if name != "step"}

# batch_norm over (batch 6, 13 channels, 5 x 7): planes of 35 take the per-plane path.
BN_X = floats(6, 13, 5, 7)
BN_WEIGHT, BN_BIAS = floats(13), floats(13)
BN_MEAN, BN_VAR = floats(13), np.abs(floats(13)) + 0.5
BN_SAVED = _kernels.batch_norm_forward(BN_X, BN_WEIGHT, BN_BIAS, training=True)

Call = Callable[..., Any]
# name -> (the arrays to place, the call on the placed arrays). A name may carry a suffix after a
# space; its first word is the _kernels function it covers.
CASES: dict[str, tuple[list[np.ndarray], Call]] = {
    "add": ([BIG_X, BIG_Y, zeros(N)], lambda a, b, o: _kernels.add(a, b, out=o)),
    "mul": ([BIG_X, BIG_Y, zeros(N)], lambda a, b, o: _kernels.mul(a, b, out=o)),
    "relu": ([BIG_X, zeros(N)], lambda x, o: _kernels.relu(x, out=o)),
    "sum": ([BIG_X], _kernels.sum),
    "sum conv1-plane": ([DY1[0, 0].copy()], _kernels.sum),
    "relu_backward": (
        [BIG_G, BIG_X, zeros(N)],
        lambda g, x, o: _kernels.relu_backward(g, x, out=o),
    ),
    "leaky_relu": ([BIG_X, zeros(N)], lambda x, o: _kernels.leaky_relu(x, 0.01, out=o)),
    "leaky_relu_backward": (
        [BIG_G, BIG_X, zeros(N)],
        lambda g, x, o: _kernels.leaky_relu_backward(g, x, 0.01, out=o),
    ),
    "hardtanh": ([BIG_X, zeros(N)], lambda x, o: _kernels.hardtanh(x, 0.0, 6.0, out=o)),
    "hardtanh_backward": (
        [BIG_G, BIG_X, zeros(N)],
        lambda g, x, o: _kernels.hardtanh_backward(g, x, -1.0, 1.0, out=o),
    ),
    "silu": ([BIG_X, zeros(N)], lambda x, o: _kernels.silu(x, out=o)),
    "silu_backward": (
        [BIG_G, BIG_X, zeros(N)],
        lambda g, x, o: _kernels.silu_backward(g, x, out=o),
    ),
    "sigmoid": ([BIG_X, zeros(N)], lambda x, o: _kernels.sigmoid(x, out=o)),
    "sigmoid_backward": (
        [BIG_G, BIG_Y, zeros(N)],
        lambda g, y, o: _kernels.sigmoid_backward(g, y, out=o),
    ),
    "tanh": ([BIG_X, zeros(N)], lambda x, o: _kernels.tanh(x, out=o)),
    "tanh_backward": (
        [BIG_G, BIG_Y, zeros(N)],
        lambda g, y, o: _kernels.tanh_backward(g, y, out=o),
    ),
    "lecun_tanh": ([BIG_X, zeros(N)], lambda x, o: _kernels.lecun_tanh(x, out=o)),
    "lecun_tanh_backward": (
        [BIG_G, BIG_Y, zeros(N)],
        lambda g, y, o: _kernels.lecun_tanh_backward(g, y, out=o),
    ),
    "batch_norm_forward": (
        [BN_X, BN_WEIGHT, BN_BIAS, BN_MEAN, BN_VAR],
        lambda x, w, b, m, v: _kernels.batch_norm_forward(x, w, b, m, v, training=True),
    ),
    "batch_norm_forward (N, C)": (
        [floats(37, 19), floats(19), floats(19)],
        lambda x, w, b: _kernels.batch_norm_forward(x, w, b, training=True),
    ),
    "batch_norm_forward eval": (
        [BN_X, BN_WEIGHT, BN_BIAS, BN_MEAN, BN_VAR],
        lambda x, w, b, m, v: _kernels.batch_norm_forward(x, w, b, m, v, training=False),
    ),
    "batch_norm_backward": (
        [floats(*BN_X.shape), BN_X, BN_WEIGHT, BN_SAVED[1], BN_SAVED[2]],
        lambda g, x, w, m, s: _kernels.batch_norm_backward(g, x, w, m, s, training=True),
    ),
    "softmax": ([LOGITS, zeros(64, 10)], lambda x, o: _kernels.softmax(x, out=o)),
    "softmax long-rows": (
        [floats(5, 1037), zeros(5, 1037)],
        lambda x, o: _kernels.softmax(x, out=o),
    ),
    "softmax_backward": (
        [floats(64, 10), PROBS, zeros(64, 10)],
        lambda g, y, o: _kernels.softmax_backward(g, y, out=o),
    ),
    "log_softmax": ([LOGITS, zeros(64, 10)], lambda x, o: _kernels.log_softmax(x, out=o)),
    "log_softmax_backward": (
        [floats(64, 10), LOG_PROBS, zeros(64, 10)],
        lambda g, y, o: _kernels.log_softmax_backward(g, y, out=o),
    ),
    "softmax_cross_entropy": ([LOGITS], lambda x: _kernels.softmax_cross_entropy(x, LABELS)),
    "softmax_cross_entropy_backward": (
        [PROBS, zeros(64, 10)],
        lambda p, o: _kernels.softmax_cross_entropy_backward(p, LABELS, 1 / 64, out=o),
    ),
    "sgd_step": (
        [BIG_Y, BIG_G, floats(N, scale=0.1)],
        lambda p, g, m: _kernels.sgd_step(
            p, g, m, lr=0.05, momentum=0.9, weight_decay=1e-2, nesterov=True, first_step=False
        ),
    ),
    "adam_step": (
        [BIG_Y, BIG_G, floats(N, scale=0.1), SQUARES, SQUARES * 1.5],
        lambda p, g, m, v, vmax: _kernels.adam_step(p, g, m, v, **ADAM, max_exp_avg_sq=vmax),
    ),
    "adam_step decoupled": (
        [BIG_Y, BIG_G, floats(N, scale=0.1), SQUARES],
        lambda p, g, m, v: _kernels.adam_step(p, g, m, v, **ADAM, decoupled_weight_decay=True),
    ),
    # Two parameters: one over several parallel chunks, one of an odd size below a vector.
    "sgd_step_many": (
        [BIG_Y, BIG_G, floats(N, scale=0.1), floats(7), floats(7), floats(7, scale=0.1)],
        lambda p, g, m, q, h, n: _kernels.sgd_step_many(
            [p, q],
            [g, h],
            [m, n],
            lr=0.05,
            momentum=0.9,
            weight_decay=1e-2,
            nesterov=True,
            first_steps=[False, True],
        ),
    ),
    "adam_step_many": (
        [BIG_Y, BIG_G, floats(N, scale=0.1), SQUARES, floats(7), floats(7), zeros(7), zeros(7)],
        lambda p, g, m, v, q, h, n, w: _kernels.adam_step_many(
            [p, q], [g, h], [m, n], [v, w], steps=[3, 1], **ADAM_MANY
        ),
    ),
    "rmsprop_step": (
        [BIG_Y, BIG_G, SQUARES + 0.05, floats(N, scale=0.1), floats(N, scale=0.1)],
        lambda p, g, v, mean, buf: _kernels.rmsprop_step(
            p, g, v, **RMSPROP, centered=True, grad_avg=mean, momentum_buffer=buf
        ),
    ),
    "rmsprop_step plain": (
        [BIG_Y, BIG_G, SQUARES],
        lambda p, g, v: _kernels.rmsprop_step(p, g, v, **{**RMSPROP, "momentum": 0.0}),
    ),
    "adagrad_step": (
        [BIG_Y, BIG_G, SQUARES],
        lambda p, g, s: _kernels.adagrad_step(p, g, s, **ADAGRAD),
    ),
    "sgemm": (
        [floats(64, 400), floats(120, 400), floats(120), zeros(64, 120)],
        lambda a, b, bias, o: _kernels.sgemm(a, b, trans_b=True, bias=bias, out=o),
    ),
    "sgemm transposed-a": (
        [floats(64, 120), floats(64, 400), floats(120, 400)],
        lambda a, b, o: _kernels.sgemm(a, b, trans_a=True, beta=1.0, out=o),
    ),
    "sgemm large": (
        [floats(150, 203), floats(203, 301), zeros(150, 301)],
        lambda a, b, o: _kernels.sgemm(a, b, alpha=0.75, out=o),
    ),
    # LeNet-5's fc1 at batch 64 (both products split into blocks) with its ReLU, and fc2 (the
    # products side by side, one thread each).
    "linear_backward": (
        [floats(64, 120), floats(64, 400), floats(120, 400), floats(64, 120)],
        lambda g, x, w, r: _kernels.linear_backward(g, x, w, r),
    ),
    "linear_backward fc2": (
        [floats(64, 84), floats(64, 120), floats(84, 120)],
        lambda g, x, w: _kernels.linear_backward(g, x, w),
    ),
    "conv2d_forward conv1": (
        [X1, W1, B1, zeros(8, 6, 28, 28)],
        lambda x, w, b, o: _kernels.conv2d_forward(x, w, b, padding=2, out=o),
    ),
    "conv2d_forward conv2": (
        [X2, W2, floats(16)],
        lambda x, w, b: _kernels.conv2d_forward(x, w, b),
    ),
    "conv2d_backward_data conv1": (
        [DY1, W1],
        lambda dy, w: _kernels.conv2d_backward_data(dy, w, (8, 1, 28, 28), padding=2),
    ),
    "conv2d_backward_data conv2": (
        [DY2, W2],
        lambda dy, w: _kernels.conv2d_backward_data(dy, w, (8, 6, 14, 14)),
    ),
    "conv2d_backward_weight conv1": (
        [X1, DY1],
        lambda x, dy: _kernels.conv2d_backward_weight(x, dy, 5, padding=2),
    ),
    "conv2d_backward_weight conv2": (
        [X2, DY2],
        lambda x, dy: _kernels.conv2d_backward_weight(x, dy, 5),
    ),
    "conv2d_forward samples-in-lanes": (
        [floats(16, 1, 28, 28), W1, B1],
        lambda x, w, b: _kernels.conv2d_forward(x, w, b, padding=2),
    ),
    "conv2d_backward_data samples-in-lanes": (
        [floats(32, 16, 10, 10), W2],
        lambda dy, w: _kernels.conv2d_backward_data(dy, w, (32, 6, 14, 14)),
    ),
    "conv2d_backward_weight samples-in-lanes": (
        [floats(16, 1, 28, 28), floats(16, 6, 28, 28)],
        lambda x, dy: _kernels.conv2d_backward_weight(x, dy, 5, padding=2),
    ),
    "conv2d_backward_weight im2col": (
        [floats(3, 8, 7, 9), floats(3, 36, 7, 9)],
        lambda x, dy: _kernels.conv2d_backward_weight(x, dy, 3, padding=1),
    ),
    "max_pool2d_forward": ([POOL_X], lambda x: _kernels.max_pool2d_forward(x, 2, 2)),
    "max_pool2d_forward relu": (
        [POOL_X],
        lambda x: _kernels.max_pool2d_forward(x, 2, 2, relu=True),
    ),
    "max_pool2d_backward": (
        [POOL_DY, ARGMAX],
        lambda dy, argmax: _kernels.max_pool2d_backward(dy, argmax, (8, 6, 28, 28), 2, 2),
    ),
    "max_pool2d_backward overlapping": (
        [OVERLAP_DY, OVERLAP_ARGMAX],
        lambda dy, argmax: _kernels.max_pool2d_backward(dy, argmax, (8, 6, 27, 27), 3, 2),
    ),
    "max_pool2d_forward padded": (
        [OVERLAP_X],
        lambda x: _kernels.max_pool2d_forward(x, 3, 2, 1, (2, 1), True, relu=True),
    ),
    "avg_pool2d_forward": ([POOL_X], lambda x: _kernels.avg_pool2d_forward(x, (3, 2), (2, 1))),
    "avg_pool2d_forward padded": (
        [OVERLAP_X],
        lambda x: _kernels.avg_pool2d_forward(x, 3, 2, 1, True, False),
    ),
    "avg_pool2d_backward padded": (
        [PADDED_DY],
        lambda dy: _kernels.avg_pool2d_backward(dy, (8, 6, 27, 27), 3, 2, 1, True, False),
    ),
    "adaptive_avg_pool2d_forward": (
        [OVERLAP_X],
        lambda x: _kernels.adaptive_avg_pool2d_forward(x, (5, 7)),
    ),
    "adaptive_avg_pool2d_backward": (
        [ADAPTIVE_DY],
        lambda dy: _kernels.adaptive_avg_pool2d_backward(dy, (8, 6, 27, 27)),
    ),
    "adaptive_max_pool2d_forward": (
        [OVERLAP_X],
        lambda x: _kernels.adaptive_max_pool2d_forward(x, (5, 7)),
    ),
    "adaptive_max_pool2d_backward": (
        [ADAPTIVE_DY, ADAPTIVE_ARGMAX],
        lambda dy, argmax: _kernels.adaptive_max_pool2d_backward(dy, argmax, (8, 6, 27, 27)),
    ),
    "avg_pool2d_backward": (
        [floats(8, 6, 13, 27)],
        lambda dy: _kernels.avg_pool2d_backward(dy, (8, 6, 28, 28), (3, 2), (2, 1)),
    ),
    "gather_unit_floats": ([], lambda: _kernels.gather_unit_floats(BYTES, INDICES)),
    "random_affine_matrices": (
        [],
        lambda: _kernels.random_affine_matrices(42, 3, INDICES, 7, 28, 28, **RANGES),
    ),
    "affine_warp": ([IMAGES, INVERSE], lambda x, m: _kernels.affine_warp(x, m, fill=0.5)),
    "random_affine": (
        [IMAGES],
        lambda x: _kernels.random_affine(x, 42, 3, INDICES, 7, fill=0.5, **RANGES),
    ),
    "elastic_displacements": (
        [],
        lambda: _kernels.elastic_displacements(42, 3, INDICES, 8, 28, 28, alpha=34.0, sigma=4.0),
    ),
    "displacement_warp": (
        [IMAGES, DISPLACEMENTS],
        lambda x, d: _kernels.displacement_warp(x, d, fill=0.5),
    ),
    "elastic_distortion": (
        [IMAGES],
        lambda x: _kernels.elastic_distortion(x, 42, 3, INDICES, 8, alpha=34.0, sigma=4.0),
    ),
    "normalize": ([IMAGES], lambda x: _kernels.normalize(x, [0.1, -0.2], [0.3, 2.0])),
    "pad": ([IMAGES], lambda x: _kernels.pad(x, 1, 2, 3, 4, fill=0.5)),
    "random_crop": (
        [IMAGES],
        lambda x: _kernels.random_crop(x, 42, 3, INDICES, 9, 24, 24, padding=(2, 1, 3, 4)),
    ),
    "random_erasing": (
        [IMAGES],
        lambda x: _kernels.random_erasing(
            x, 42, 3, INDICES, 10, p=0.9, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=[0.25, -0.75]
        ),
    ),
}


def placements(count: int) -> list[list[int]]:
    """Every offset for all arrays at once, then staggered by 7 (coprime with the 17 offsets)."""
    together = [[offset] * count for offset in range(MAX_OFFSET + 1)]
    staggered = [
        [(offset + 7 * (j + 1)) % (MAX_OFFSET + 1) for j in range(count)]
        for offset in range(MAX_OFFSET + 1)
    ]
    return together + staggered


def test_every_array_kernel_is_covered() -> None:
    kernels = {name for name in dir(_kernels) if not name.startswith("_")}
    kernels = {name for name in kernels if callable(getattr(_kernels, name))}
    covered = {name.split()[0] for name in CASES}
    assert kernels - NOT_ARRAY_KERNELS == covered


@pytest.mark.parametrize("name", list(CASES))
def test_bytes_do_not_depend_on_addresses(isa: str, name: str) -> None:
    arrays, call = CASES[name]
    reference: list[bytes] | None = None
    for offsets in placements(len(arrays)):
        moved = [placed(array, offset) for array, offset in zip(arrays, offsets, strict=True)]
        got = outcome_bytes(call(*moved), moved)
        if reference is None:
            reference = got
        assert got == reference, f"{name} on {isa}: other bytes at float offsets {offsets}"
