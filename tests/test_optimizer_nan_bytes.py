"""The optimizer steps store the same bytes wherever their arrays sit, NaN included.

DESIGN §2 and §4: bits are a function of the values and options only. With NaN of either sign
(and one with a payload), infinities and -0.0 in every array, two NaNs of different signs meet in
one operation (a NaN parameter plus a NaN gradient, a NaN momentum plus a NaN quotient); which one
x86 passes on follows the operand order the compiler chose for that instruction, which differs
between a kernel's vector body and its masked head and tail. Every option combination of every
optimizer, on every ISA, at every float offset 0..16, must give the scalar reference's bytes at
offset 0 (the kernels store one canonical NaN).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest

import odyssey
from odyssey import _kernels

N = 37  # an alignment head, a full vector and a tail at every offset, for every vector width
MAX_OFFSET = 16
SPECIALS = np.array(
    [0x7FC00000, 0xFFC00000, 0x7F800000, 0xFF800000, 0x80000000, 0x7FC01234, 0x00000000],
    np.uint32,
).view(np.float32)


def nan_mix(which: int) -> np.ndarray:
    """Normal values with a special one at every other element, staggered per array."""
    values = np.random.default_rng(900 + which).normal(0.0, 1.0, N).astype(np.float32)
    positions = np.arange(0, N, 2)
    values[positions] = SPECIALS[(positions // 2 + 3 * which) % len(SPECIALS)]
    return values


def placed(values: np.ndarray, offset: int) -> np.ndarray:
    """A copy of `values` starting `offset` floats past a 64-byte boundary."""
    raw = np.empty(values.nbytes + 128, np.uint8)
    start = (-raw.ctypes.data) % 64 + 4 * offset
    view = raw[start : start + values.nbytes].view(np.float32)
    view[...] = values
    return view


def placements(count: int) -> list[list[int]]:
    """Every offset for all arrays at once, then staggered by 7 (coprime with the 17 offsets)."""
    together = [[offset] * count for offset in range(MAX_OFFSET + 1)]
    staggered = [
        [(offset + 7 * (j + 1)) % (MAX_OFFSET + 1) for j in range(count)]
        for offset in range(MAX_OFFSET + 1)
    ]
    return together + staggered


Step = Callable[..., object]


def sgd_cases() -> list[tuple[str, int, Step]]:
    cases: list[tuple[str, int, Step]] = []
    for momentum, dampening, wd, nesterov, first in itertools.product(
        [0.0, 0.9], [0.0, 0.3], [0.0, 0.01], [False, True], [False, True]
    ):
        if nesterov and (momentum == 0.0 or dampening != 0.0):
            continue
        options = dict(
            lr=0.05, momentum=momentum, dampening=dampening, weight_decay=wd, nesterov=nesterov
        )

        def step(p, g, m, options=options, first=first):
            buffer = m if options["momentum"] else None
            _kernels.sgd_step(p, g, momentum_buffer=buffer, first_step=first, **options)

        cases.append((f"sgd {options} first_step={first}", 3, step))
    return cases


def adam_cases() -> list[tuple[str, int, Step]]:
    cases: list[tuple[str, int, Step]] = []
    for wd, decoupled, amsgrad, betas in itertools.product(
        [0.0, 0.05], [False, True], [False, True], [(0.9, 0.999), (0.3, 0.5)]
    ):
        options = dict(
            lr=1e-2,
            beta1=betas[0],
            beta2=betas[1],
            eps=1e-8,
            weight_decay=wd,
            step=3,
            decoupled_weight_decay=decoupled,
        )

        def step(p, g, m, v, vmax, options=options, amsgrad=amsgrad):
            _kernels.adam_step(p, g, m, v, max_exp_avg_sq=vmax if amsgrad else None, **options)

        cases.append((f"adam {options} amsgrad={amsgrad}", 5, step))
    return cases


def rmsprop_cases() -> list[tuple[str, int, Step]]:
    cases: list[tuple[str, int, Step]] = []
    for wd, momentum, centered, alpha in itertools.product(
        [0.0, 0.1], [0.0, 0.9], [False, True], [0.99, 0.3]
    ):
        options = dict(lr=1e-2, alpha=alpha, eps=1e-8, weight_decay=wd, momentum=momentum)

        def step(p, g, v, mean, buf, options=options, centered=centered):
            _kernels.rmsprop_step(
                p,
                g,
                v,
                centered=centered,
                grad_avg=mean if centered else None,
                momentum_buffer=buf if options["momentum"] else None,
                **options,
            )

        cases.append((f"rmsprop {options} centered={centered}", 5, step))
    return cases


def adagrad_cases() -> list[tuple[str, int, Step]]:
    cases: list[tuple[str, int, Step]] = []
    for wd, lr_decay in itertools.product([0.0, 0.1], [0.0, 0.1]):
        options = dict(lr=5e-2, lr_decay=lr_decay, weight_decay=wd, eps=1e-10, step=4)

        def step(p, g, s, options=options):
            _kernels.adagrad_step(p, g, s, **options)

        cases.append((f"adagrad {options}", 3, step))
    return cases


CASES = sgd_cases() + adam_cases() + rmsprop_cases() + adagrad_cases()


def outcome(step: Step, count: int, offsets: list[int]) -> list[bytes]:
    arrays = [placed(nan_mix(j), offset) for j, offset in zip(range(count), offsets, strict=True)]
    step(*arrays)
    return [array.tobytes() for array in arrays]


@pytest.mark.parametrize(("label", "count", "step"), CASES, ids=[case[0] for case in CASES])
def test_nan_bytes_do_not_depend_on_addresses(isa: str, label: str, count: int, step: Step) -> None:
    previous = odyssey.cpu_info()["isa_selected"]
    odyssey.set_isa("scalar")
    try:
        want = outcome(step, count, [0] * count)
    finally:
        odyssey.set_isa(previous)
    for offsets in placements(count):
        got = outcome(step, count, offsets)
        for j in range(count):
            assert got[j] == want[j], (
                f"{label} on {isa}: array {j} at float offsets {offsets} has other bytes than "
                "the scalar reference at offset 0"
            )
