"""A fuzz test: hostile calls into the public API and the raw bindings, run in a worker process.

Hypothesis draws a case per example -- a target and plain-data descriptions of its arguments:
arrays of hostile dtypes, non-contiguous, misaligned, read-only or zero-stride views, odd, empty and
huge-but-empty shapes, NaN and infinite values, and bad options. The case is pickled to one
long-lived worker process (this file run as a script) that builds the arguments, makes the call,
and answers with what happened. A worker that dies (a signal) or does not answer in time fails the
case and is replaced, so a crash or a hang is a test failure rather than the end of the run.

What a case may do: return, or raise an ordinary exception (TypeError, ValueError, IndexError,
KeyError, RuntimeError, OverflowError, ...). From the public API the message must not be pybind11's
raw "incompatible function arguments" dump, and it must start with the public name of what was
called (PUBLIC_PREFIXES); raw `_kernels` calls with wrong argument types get that dump
legitimately.

The default run is fixed (derandomized, 40 examples per target: 4,320 cases over 108 targets);
`nox -s fuzz` runs 1000 per target (108,000 cases, about 5 minutes on two cores), or as many as
`nox -s fuzz -- 5000` or ODYSSEY_FUZZ_EXAMPLES say.
"""

from __future__ import annotations

import math
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("ODYSSEY_FUZZ_EXAMPLES", "40"))
# Generous: a case takes milliseconds; only a hang (or a machine under heavy load) gets near it.
TIMEOUT_SECONDS = float(os.environ.get("ODYSSEY_FUZZ_TIMEOUT", "20"))
# MemoryError too: the fuzz asks only for allocations larger than any machine (HOSTILE_SIZES, or an
# empty batch of 2**40 images padded), and refusing one is an honest answer.
ORDINARY = (TypeError, ValueError, IndexError, KeyError, RuntimeError, OverflowError, MemoryError)
PYBIND_DUMP = "incompatible function arguments"

# -- argument descriptions (plain tuples: the worker unpickles them without this module's types) --

HOSTILE_DTYPES = ["float64", "float16", "int64", "int32", "uint8", "bool", "complex64", "object"]
LAYOUTS = ["c", "c", "c", "fortran", "strided", "misaligned", "readonly", "reversed", "broadcast"]
FILLS = ["normal", "normal", "zeros", "nan", "inf", "huge"]
HOSTILE_INTS = [-1, 0, 2**31, 2**31 - 1, 2**32, 2**63 - 1, 2**63, 2**64, -(2**63) - 1]
# For sizes that get allocated: too large for any address space, so nothing is ever committed.
HOSTILE_SIZES = [-1, 0, 2**62, 2**63 - 1, 2**63, 2**64, -(2**63) - 1]
# Shapes with a zero-sized dimension next to a huge one: nothing is allocated, and every kernel
# must return at once rather than loop over the huge dimension.
HUGE_EMPTY = [(2**40, 0), (2**40, 1, 1, 0), (0, 2**40, 1, 1), (3, 0, 2**31, 5)]


def _array_spec(dtypes: st.SearchStrategy[str], shapes: st.SearchStrategy[tuple[int, ...]]):
    return st.tuples(
        st.just("@array"), dtypes, shapes, st.sampled_from(FILLS), st.sampled_from(LAYOUTS)
    )


def _shapes(min_dims: int = 0, max_dims: int = 5, max_side: int = 7):
    small = st.lists(st.integers(0, max_side), min_size=min_dims, max_size=max_dims).map(tuple)
    huge = st.sampled_from([s for s in HUGE_EMPTY if min_dims <= len(s) <= max_dims] or [(0,)])
    return st.one_of(small, small, small, huge)


def _dtypes(usual: str):
    return st.one_of(
        st.just(usual), st.just(usual), st.just(usual), st.sampled_from(HOSTILE_DTYPES)
    )


def floats32(min_dims: int = 0, max_dims: int = 5, max_side: int = 7):
    """Mostly float32 arrays of any shape and layout, sometimes another dtype."""
    return _array_spec(_dtypes("float32"), _shapes(min_dims, max_dims, max_side))


def tensors(min_dims: int = 0, max_dims: int = 5, max_side: int = 7, usual: str = "float32"):
    """Tensors made by odyssey.tensor (float32, int64 or a dtype forced on them)."""
    return st.tuples(
        st.just("@tensor"),
        _array_spec(_dtypes(usual), _shapes(min_dims, max_dims, max_side)),
        st.booleans(),
    )


def junk(hostile_ints: list[int] = HOSTILE_INTS):
    """Values of the wrong kind for any argument."""
    return st.one_of(
        st.none(),
        st.sampled_from(["", "2", "abc", b"\x00", 1.5, float("nan"), True, [], [1, "a"], {}]),
        st.sampled_from(hostile_ints),
    )


def ints(low: int = -3, high: int = 9):
    return st.one_of(st.integers(low, high), st.integers(low, high), junk())


def sizes(low: int = -2, high: int = 6):
    """Sizes of something allocated: small, or hopelessly large."""
    return st.one_of(st.integers(low, high), st.integers(low, high), junk(HOSTILE_SIZES))


def reals():
    return st.one_of(st.floats(-10, 10), st.floats(), junk())


def positives():
    """Lists of plausible per-channel values (means, standard deviations), or of anything."""
    return st.one_of(
        st.lists(st.floats(0.1, 2), min_size=1, max_size=3), st.lists(reals(), max_size=3)
    )


def pairs(low: int = -1, high: int = 6):
    """Kernel sizes, strides, paddings: an int or a pair (a padding sets an allocation's size)."""
    return st.one_of(sizes(low, high), st.tuples(sizes(low, high), sizes(low, high)))


def maybe(strategy):
    return st.one_of(st.none(), strategy)


def labels(max_side: int = 7):
    """int64 labels, sometimes out of range or of another dtype."""
    return st.one_of(
        _array_spec(_dtypes("int64"), _shapes(1, 1, max_side)), tensors(1, 1, max_side, "int64")
    )


def f32(shape: tuple[int, ...], tensor: bool = False, layout: str = "c") -> tuple[Any, ...]:
    """A float32 array (or a tensor requiring grad) of `shape`: the arguments of coherent calls."""
    array = ("@array", "float32", shape, "normal", layout)
    return ("@tensor", array, True) if tensor else array


@st.composite
def coherent_conv(draw: st.DrawFn, tensor: bool) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """conv2d arguments that fit together, so the kernels run (forward and backward)."""
    n, c, o = draw(st.integers(0, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    kh, kw, stride, padding = (draw(st.integers(1, 4)) for _ in range(4))
    h, w = draw(st.integers(kh, 9)), draw(st.integers(kw, 9))
    layout = draw(st.sampled_from(LAYOUTS))
    x, weight = f32((n, c, h, w), tensor, layout), f32((o, c, kh, kw), tensor)
    bias = draw(st.sampled_from([None, f32((o,), tensor)]))
    return (x, weight, bias), {"stride": stride, "padding": (padding - 1, padding // 2)}


@st.composite
def coherent_pool(draw: st.DrawFn, tensor: bool) -> tuple[tuple[Any, ...], dict[str, Any]]:
    n, c = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    k, stride = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    h, w = draw(st.integers(k, 9)), draw(st.integers(k, 9))
    return (f32((n, c, h, w), tensor, draw(st.sampled_from(LAYOUTS))), k, stride), {}


@st.composite
def coherent_linear(draw: st.DrawFn) -> tuple[tuple[Any, ...], dict[str, Any]]:
    n, i, o = draw(st.integers(0, 5)), draw(st.integers(0, 5)), draw(st.integers(0, 5))
    return (
        f32((n, i), True),
        f32((o, i), True),
        draw(st.sampled_from([None, f32((o,), True)])),
    ), {}


@st.composite
def coherent_sgemm(draw: st.DrawFn) -> tuple[tuple[Any, ...], dict[str, Any]]:
    m, k, n = (draw(st.integers(0, 20)) for _ in range(3))
    trans_a, trans_b = draw(st.booleans()), draw(st.booleans())
    a = f32((k, m) if trans_a else (m, k), layout=draw(st.sampled_from(LAYOUTS)))
    b = f32((n, k) if trans_b else (k, n))
    return (a, b), {
        "trans_a": trans_a,
        "trans_b": trans_b,
        "alpha": draw(reals()),
        "beta": draw(reals()),
        "bias": draw(st.sampled_from([None, f32((n,))])),
    }


@st.composite
def coherent_linear_backward(draw: st.DrawFn) -> tuple[tuple[Any, ...], dict[str, Any]]:
    n, i, o = draw(st.integers(0, 6)), draw(st.integers(0, 6)), draw(st.integers(0, 6))
    relu = draw(st.sampled_from([None, f32((n, o))]))
    flags = tuple(draw(st.booleans()) for _ in range(3))
    return (f32((n, o)), f32((n, i)), f32((o, i)), relu, *flags), {}


@st.composite
def coherent_classes(draw: st.DrawFn) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """(N, C) scores and N labels in range, for the losses."""
    n, c = draw(st.integers(0, 6)), draw(st.integers(1, 6))
    target = ("@array", "int64", (n,), "zeros", "c")  # label 0 is in range of any C >= 1
    return (f32((n, c), True), target), {
        "reduction": draw(st.sampled_from(["mean", "sum", "none"]))
    }


@st.composite
def coherent_step(draw: st.DrawFn) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A parameter and a gradient of its shape, with plausible or hostile hyperparameters."""
    shape = draw(_shapes(0, 3))
    fill = draw(st.sampled_from(FILLS))
    grad = ("@tensor", ("@array", "float32", shape, fill, "c"), False)
    return (f32(shape, True), grad), {"lr": draw(st.one_of(st.floats(0, 1), reals()))}


@st.composite
def coherent_loader(draw: st.DrawFn) -> tuple[tuple[Any, ...], dict[str, Any]]:
    n, h, w = draw(st.integers(1, 12)), draw(st.integers(1, 5)), draw(st.integers(1, 5))
    images = ("@array", draw(st.sampled_from(["uint8", "float32"])), (n, h, w), "normal", "c")
    labels = ("@array", "int64", (n,), "zeros", "c")
    kwargs = {
        "batch_size": draw(st.integers(1, 5)),
        "shuffle": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**64 - 1)),
        "prefetch": draw(st.integers(0, 2)),
        "drop_last": draw(st.booleans()),
    }
    return (images, labels), kwargs


# -- targets: name -> strategy for (args, kwargs) -------------------------------------------------

Args = st.SearchStrategy[tuple[tuple[Any, ...], dict[str, Any]]]


def call(*args: st.SearchStrategy, **kwargs: st.SearchStrategy) -> Args:
    return st.tuples(st.tuples(*args), st.fixed_dictionaries(kwargs))


REDUCTIONS = st.sampled_from(["mean", "sum", "none", "avg", None])
PUBLIC: dict[str, Args] = {
    # odyssey.tensor and Tensor methods (tensor.py)
    "odyssey.tensor": call(
        st.one_of(floats32(), st.lists(reals(), max_size=3), junk()),
        dtype=st.sampled_from([None, "float32", "int64", "float64", "bogus", 3]),
    ),
    "odyssey.zeros": call(sizes(), sizes(), dtype=st.sampled_from([None, "int64", "x"])),
    "Tensor.sum": call(
        tensors(), maybe(st.one_of(ints(-6, 6), st.lists(ints(-6, 6)))), st.booleans()
    ),
    "Tensor.mean": call(
        tensors(), maybe(st.one_of(ints(-6, 6), st.lists(ints(-6, 6)))), st.booleans()
    ),
    "Tensor.max": call(tensors(), maybe(ints(-6, 6)), st.booleans()),
    "Tensor.argmax": call(tensors(), maybe(ints(-6, 6)), st.booleans()),
    "Tensor.size": call(tensors(), maybe(ints(-6, 6))),
    "Tensor.reshape": call(tensors(), st.lists(sizes(-2, 8), max_size=4).map(tuple)),
    "Tensor.flatten": call(tensors(), ints(-6, 6), ints(-6, 6)),
    "Tensor.unsqueeze": call(tensors(), ints(-6, 6)),
    "Tensor.squeeze": call(tensors(), maybe(ints(-6, 6))),
    "Tensor.permute": call(tensors(), st.lists(ints(-6, 6), max_size=5).map(tuple)),
    "Tensor.transpose": call(tensors(), ints(-6, 6), ints(-6, 6)),
    "Tensor.matmul": call(tensors(0, 3), st.one_of(tensors(0, 3), junk())),
    "Tensor.pow": call(tensors(), st.one_of(reals(), tensors(), junk())),
    **{
        f"Tensor.{op}": call(tensors(), st.one_of(tensors(), floats32(), reals(), junk()))
        for op in ("__add__", "__sub__", "__mul__", "__truediv__", "__rtruediv__")
    },
    "Tensor.__getitem__": call(tensors(1), st.one_of(ints(-8, 8), floats32(1, 1), junk())),
    "Tensor.clamp": call(tensors(), st.one_of(reals(), tensors(), junk()), maybe(reals())),
    "Tensor.t": call(tensors()),
    "Tensor.expand": call(tensors(), st.lists(sizes(-2, 8), max_size=4).map(tuple)),
    "Tensor.to": call(tensors(), st.sampled_from(["cpu", "cuda", "float64", "int64", "x"])),
    "Tensor.split": call(tensors(), st.one_of(sizes(), st.lists(sizes()), junk()), ints(-6, 6)),
    # chunk of an empty dim makes `chunks` empty pieces, as in PyTorch: no hostile counts.
    "Tensor.chunk": call(
        tensors(), st.one_of(st.integers(-2, 9), st.floats(), st.none()), ints(-6, 6)
    ),
    "Tensor.gather": call(tensors(), ints(-6, 6), st.one_of(tensors(usual="int64"), junk())),
    "odyssey.cat": call(st.lists(tensors(), max_size=3), ints(-6, 6)),
    "odyssey.stack": call(st.lists(tensors(), max_size=3), ints(-6, 6)),
    "odyssey.where": call(tensors(usual="bool"), tensors(), st.one_of(tensors(), reals(), junk())),
    "odyssey.maximum": call(tensors(), st.one_of(tensors(), junk())),
    # arange's bounds and step stay small: a legal tiny step would allocate gigabytes.
    "odyssey.arange": call(
        st.one_of(st.floats(-10, 10), st.integers(-5, 5), junk()),
        maybe(st.one_of(st.floats(-10, 10), st.integers(-5, 5), junk())),
        st.one_of(st.floats(0.25, 3), st.integers(-3, 3), st.floats(-3, -0.25), junk()),
    ),
    "odyssey.full": call(st.lists(sizes(), max_size=3), st.one_of(reals(), st.booleans(), junk())),
    "Tensor.log": call(tensors()),
    "Tensor.backward": call(tensors(), maybe(st.one_of(tensors(), floats32()))),
    "scenario.set_grad": call(tensors(), st.one_of(tensors(), floats32(), junk())),
    # nn.functional
    "F.relu": call(tensors()),
    "F.sigmoid": call(tensors()),
    "F.tanh": call(tensors()),
    "F.lecun_tanh": call(tensors()),
    "F.leaky_relu": call(tensors(), reals()),
    "F.relu6": call(tensors()),
    "F.hardtanh": call(tensors(), reals(), reals()),
    "F.softplus": call(tensors(), reals(), reals()),
    "F.gelu": call(tensors(), st.sampled_from(["none", "tanh", "erf"])),
    "F.silu": call(tensors()),
    "F.dropout2d": call(tensors(), reals(), st.booleans()),
    "F.softmax": call(tensors(), ints(-4, 4)),
    "F.log_softmax": call(tensors(), ints(-4, 4)),
    "F.dropout": call(tensors(), reals(), st.booleans()),
    "F.linear": call(tensors(1, 3), tensors(2, 2), maybe(tensors(1, 1))) | coherent_linear(),
    "F.conv2d": call(
        tensors(4, 4, 6), tensors(4, 4, 4), maybe(tensors(1, 1)), stride=pairs(), padding=pairs()
    )
    | coherent_conv(tensor=True),
    "F.relu_max_pool2d": call(tensors(4, 4, 6), pairs(), maybe(pairs()))
    | coherent_pool(tensor=True),
    "F.max_pool2d": call(tensors(4, 4, 6), pairs(), maybe(pairs()))
    | coherent_pool(tensor=True)
    | call(
        tensors(4, 4, 6),
        pairs(),
        maybe(pairs()),
        padding=pairs(),
        dilation=pairs(),
        ceil_mode=st.booleans(),
        return_indices=st.booleans(),
    ),
    "F.avg_pool2d": call(tensors(4, 4, 6), pairs(), maybe(pairs()))
    | coherent_pool(tensor=True)
    | call(
        tensors(4, 4, 6),
        pairs(),
        maybe(pairs()),
        padding=pairs(),
        ceil_mode=st.booleans(),
        count_include_pad=st.booleans(),
        divisor_override=maybe(ints()),
    ),
    "F.adaptive_avg_pool2d": call(
        tensors(4, 4, 6), st.one_of(pairs(), st.tuples(st.none(), ints()))
    ),
    "F.adaptive_max_pool2d": call(
        tensors(4, 4, 6), st.one_of(pairs(), st.tuples(ints(), st.none())), st.booleans()
    ),
    "F.local_response_norm": call(tensors(2, 5, 6), ints(), reals(), reals(), reals()),
    "F.batch_norm": call(
        tensors(2, 4), maybe(tensors(1, 1)), maybe(tensors(1, 1)), training=st.booleans()
    ),
    "F.cross_entropy": call(tensors(2, 2), labels(), reduction=REDUCTIONS) | coherent_classes(),
    "F.nll_loss": call(tensors(2, 2), labels(), reduction=REDUCTIONS) | coherent_classes(),
    "F.mse_loss": call(tensors(0, 3), st.one_of(tensors(0, 3), floats32()), reduction=REDUCTIONS),
    # nn modules and optimizers
    "scenario.linear": call(sizes(), sizes(), st.booleans(), tensors(1, 3, 5)),
    "scenario.conv2d": call(
        sizes(-1, 3), sizes(-1, 3), pairs(-1, 4), pairs(), pairs(), tensors(4, 4, 6)
    ),
    "scenario.batchnorm2d": call(sizes(), reals(), st.booleans(), tensors(4, 4, 5)),
    "scenario.sgd": call(
        tensors(0, 3),
        st.one_of(tensors(0, 3), junk()),
        lr=reals(),
        momentum=reals(),
        weight_decay=reals(),
        nesterov=st.booleans(),
    )
    | coherent_step(),
    "scenario.adam": call(
        tensors(0, 3),
        st.one_of(tensors(0, 3), junk()),
        lr=reals(),
        betas=st.one_of(st.tuples(reals(), reals()), junk()),
        eps=reals(),
        weight_decay=reals(),
    )
    | coherent_step(),
    # data: transforms, loader, IDX, seeds
    "scenario.normalize": call(floats32(4, 4, 5), positives(), positives()),
    "scenario.pad": call(floats32(4, 4, 5), pairs(-2, 4), reals()),
    "scenario.random_crop": call(floats32(4, 4, 6), pairs(-1, 8), maybe(pairs(-1, 3)), ints()),
    "scenario.random_affine": call(
        floats32(4, 4, 6),
        reals(),
        maybe(st.tuples(reals(), reals())),
        maybe(st.tuples(reals(), reals())),
        ints(),
    ),
    "scenario.elastic": call(floats32(4, 4, 6), reals(), reals(), ints()),
    "scenario.random_erasing": call(
        floats32(4, 4, 6), reals(), st.tuples(reals(), reals()), st.tuples(reals(), reals()), ints()
    ),
    "scenario.loader": call(
        _array_spec(_dtypes("uint8"), _shapes(1, 4, 6)),
        labels(),
        batch_size=ints(-1, 5),
        shuffle=st.booleans(),
        seed=maybe(ints()),
        prefetch=ints(-1, 3),
        drop_last=st.booleans(),
    )
    | coherent_loader(),
    "scenario.dataset": call(
        _array_spec(_dtypes("uint8"), _shapes(1, 4, 6)),
        labels(),
        st.booleans(),
        st.one_of(_array_spec(_dtypes("int64"), _shapes(0, 2)), st.lists(ints(-8, 8)), junk()),
    ),
    "scenario.loader_state": call(
        st.one_of(
            junk(),
            st.dictionaries(
                st.sampled_from(
                    [
                        "epoch",
                        "batches",
                        "seed",
                        "shuffle",
                        "batch_size",
                        "drop_last",
                        "dataset_size",
                        "bogus",
                        3,
                    ]
                ),
                st.one_of(ints(-2, 12), st.booleans(), reals()),
            ),
        ),
    ),
    "scenario.set_epoch": call(ints(-2, 9)),
    "scenario.read_idx": call(
        st.integers(0, 3),
        st.integers(0, 15),
        st.integers(0, 255),
        st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 4), max_size=70),
        st.integers(0, 64),
        st.booleans(),
    ),
    "odyssey.manual_seed": call(ints()),
    "odyssey.set_isa": call(st.one_of(st.sampled_from(["scalar", "avx2", "avx512", ""]), junk())),
    # Valid counts stay small: a count the system cannot start is refused (test_runtime.py), but
    # thousands of threads that do start would only make the run slow.
    "odyssey.set_num_threads": call(
        st.one_of(st.integers(1, 3), junk([0, -1, 4097, 2**31, 2**64]))
    ),
    "odyssey.set_flush_denormal": call(st.one_of(st.just(False), junk())),
    "odyssey.memory.set_cache_limit": call(st.one_of(st.integers(0, 1 << 30), junk([-1, 2**64]))),
    "odyssey.data.random_split": call(
        st.integers(0, 10), st.lists(st.one_of(ints(-1, 10), reals()), max_size=3), ints()
    ),
}

# What each public target's messages start with: the public function, class or method called.
# Scenarios build a layer, optimizer, transform or loader and use it, so either name may speak.
PUBLIC_PREFIXES: dict[str, tuple[str, ...]] = {
    "odyssey.tensor": ("tensor:",),
    "odyssey.zeros": ("zeros:",),
    **{f"odyssey.{name}": (f"{name}:",) for name in ("cat", "stack", "where", "arange")},
    "odyssey.maximum": ("maximum:", "Tensor.maximum:"),  # the method does the work
    "odyssey.full": ("full:",),
    **{
        name: (f"{name}:", "Tensor.reshape:")  # squeeze, unsqueeze and flatten reshape
        for name in PUBLIC
        if name.startswith("Tensor.")
    },
    **{name: (f"{name[2:]}:",) for name in PUBLIC if name.startswith("F.")},
    # The operators speak as the operations PyTorch names them after; __sub__ adds a negation.
    "Tensor.__add__": ("Tensor.add:",),
    "Tensor.__sub__": ("Tensor.sub:", "Tensor.add:"),
    "Tensor.__mul__": ("Tensor.mul:",),
    "Tensor.__truediv__": ("Tensor.div:",),
    "Tensor.__rtruediv__": ("Tensor.div:",),
    # The methods that are odyssey's functions speak as those.
    "Tensor.split": ("split:",),
    "Tensor.chunk": ("chunk:", "split:"),
    "Tensor.gather": ("gather:",),
    "scenario.set_grad": ("Tensor.grad:",),
    "scenario.linear": ("Linear", "linear:"),
    "scenario.conv2d": ("Conv2d", "conv2d:"),
    "scenario.batchnorm2d": ("BatchNorm2d", "batch_norm:"),
    "scenario.sgd": ("SGD", "Tensor.grad:", "Tensor.requires_grad_:"),
    "scenario.adam": ("Adam", "Tensor.grad:", "Tensor.requires_grad_:"),
    "scenario.normalize": ("Normalize",),
    "scenario.pad": ("Pad",),
    "scenario.random_crop": ("RandomCrop",),
    "scenario.random_affine": ("RandomAffine",),
    "scenario.elastic": ("ElasticDistortion",),
    "scenario.random_erasing": ("RandomErasing",),
    "scenario.loader": ("DataLoader", "ArrayDataset"),
    "scenario.dataset": ("ArrayDataset", "Subset"),
    "scenario.loader_state": ("DataLoader.load_state_dict:",),
    "scenario.set_epoch": ("DataLoader.set_epoch:",),
    "scenario.read_idx": ("read_idx:", "<file>:"),
    "odyssey.manual_seed": ("manual_seed:",),
    "odyssey.set_isa": ("set_isa:",),
    "odyssey.set_num_threads": ("set_num_threads:",),
    "odyssey.set_flush_denormal": ("set_flush_denormal:",),
    "odyssey.memory.set_cache_limit": ("set_cache_limit:",),
    "odyssey.data.random_split": ("random_split:",),
}

# The raw bindings: every function of odyssey._kernels.
RANGE = st.one_of(st.tuples(reals(), reals()), junk())
DRAW_ARGS = (ints(), ints(), _array_spec(_dtypes("int64"), _shapes(1, 1)), ints())
SIZE = sizes(-2, 12)
RAW: dict[str, Args] = {
    "add": call(floats32(), floats32(), out=maybe(floats32())),
    "mul": call(floats32(), floats32(), out=maybe(floats32())),
    "relu": call(floats32(), out=maybe(floats32())),
    "sum": call(floats32()),
    "philox4x32": call(
        st.one_of(st.tuples(ints(), ints()), junk()),
        st.one_of(st.tuples(ints(), ints(), ints(), ints()), junk()),
    ),
    "gather_unit_floats": call(
        _array_spec(_dtypes("uint8"), _shapes(1, 4)), _array_spec(_dtypes("int64"), _shapes(0, 2))
    ),
    "affine_warp": call(floats32(4, 4), floats32(1, 3), fill=reals()),
    "random_affine_matrices": call(
        *DRAW_ARGS,
        SIZE,
        SIZE,
        degrees=RANGE,
        translate=RANGE,
        scale=RANGE,
        squeeze=RANGE,
        shear_x=RANGE,
        shear_y=RANGE,
    ),
    "random_affine": call(
        floats32(4, 4),
        *DRAW_ARGS,
        degrees=RANGE,
        translate=RANGE,
        scale=RANGE,
        squeeze=RANGE,
        shear_x=RANGE,
        shear_y=RANGE,
        fill=reals(),
    ),
    "elastic_displacements": call(*DRAW_ARGS, SIZE, SIZE, alpha=reals(), sigma=reals()),
    "displacement_warp": call(floats32(4, 4), floats32(4, 4), fill=reals()),
    "elastic_distortion": call(
        floats32(4, 4), *DRAW_ARGS, alpha=reals(), sigma=reals(), fill=reals()
    ),
    "normalize": call(floats32(4, 4), positives(), positives()),
    "pad": call(floats32(4, 4), SIZE, SIZE, SIZE, SIZE, fill=reals()),
    "random_crop": call(
        floats32(4, 4),
        *DRAW_ARGS,
        SIZE,
        SIZE,
        padding=st.one_of(st.tuples(SIZE, SIZE, SIZE, SIZE), junk()),
        fill=reals(),
    ),
    "random_erasing": call(
        floats32(4, 4),
        *DRAW_ARGS,
        p=reals(),
        scale=RANGE,
        ratio=RANGE,
        value=st.lists(reals(), max_size=3),
    ),
    "relu_backward": call(floats32(), floats32(), out=maybe(floats32())),
    "leaky_relu": call(floats32(), reals(), out=maybe(floats32())),
    "leaky_relu_backward": call(floats32(), floats32(), reals(), out=maybe(floats32())),
    "hardtanh": call(floats32(), reals(), reals(), out=maybe(floats32())),
    "hardtanh_backward": call(floats32(), floats32(), reals(), reals(), out=maybe(floats32())),
    "silu": call(floats32(), out=maybe(floats32())),
    "silu_backward": call(floats32(), floats32(), out=maybe(floats32())),
    "sigmoid": call(floats32(), out=maybe(floats32())),
    "sigmoid_backward": call(floats32(), floats32(), out=maybe(floats32())),
    "tanh": call(floats32(), out=maybe(floats32())),
    "tanh_backward": call(floats32(), floats32(), out=maybe(floats32())),
    "lecun_tanh": call(floats32(), out=maybe(floats32())),
    "lecun_tanh_backward": call(floats32(), floats32(), out=maybe(floats32())),
    "batch_norm_forward": call(
        floats32(1, 4),
        maybe(floats32(1, 1)),
        maybe(floats32(1, 1)),
        maybe(floats32(1, 1)),
        maybe(floats32(1, 1)),
        training=st.booleans(),
        momentum=reals(),
        eps=reals(),
        out=maybe(floats32()),
    ),
    "batch_norm_backward": call(
        floats32(1, 4),
        floats32(1, 4),
        maybe(floats32(1, 1)),
        floats32(1, 1),
        floats32(1, 1),
        training=st.booleans(),
        input_grad=st.booleans(),
        weight_grad=st.booleans(),
        bias_grad=st.booleans(),
    ),
    "softmax": call(floats32(1, 3), out=maybe(floats32())),
    "softmax_backward": call(floats32(1, 3), floats32(1, 3), out=maybe(floats32())),
    "log_softmax": call(floats32(1, 3), out=maybe(floats32())),
    "log_softmax_backward": call(floats32(1, 3), floats32(1, 3), out=maybe(floats32())),
    "softmax_cross_entropy": call(floats32(1, 3), _array_spec(_dtypes("int64"), _shapes(0, 2))),
    "softmax_cross_entropy_backward": call(
        floats32(1, 3),
        _array_spec(_dtypes("int64"), _shapes(0, 2)),
        reals(),
        out=maybe(floats32()),
    ),
    "sgd_step": call(
        floats32(),
        floats32(),
        maybe(floats32()),
        lr=reals(),
        momentum=reals(),
        dampening=reals(),
        weight_decay=reals(),
        nesterov=st.booleans(),
        first_step=st.booleans(),
    ),
    "sgd_step_many": call(
        st.lists(floats32(), max_size=3),
        st.lists(floats32(), max_size=3),
        maybe(st.lists(floats32(), max_size=3)),
        lr=reals(),
        momentum=reals(),
        dampening=reals(),
        weight_decay=reals(),
        nesterov=st.booleans(),
        first_steps=maybe(st.lists(st.booleans(), max_size=3)),
    ),
    "adam_step_many": call(
        st.lists(floats32(), max_size=3),
        st.lists(floats32(), max_size=3),
        st.lists(floats32(), max_size=3),
        st.lists(floats32(), max_size=3),
        steps=st.lists(ints(), max_size=3),
        lr=reals(),
        beta1=reals(),
        beta2=reals(),
        eps=reals(),
        weight_decay=reals(),
        decoupled_weight_decay=st.booleans(),
        max_exp_avg_sqs=maybe(st.lists(floats32(), max_size=3)),
    ),
    "adam_step": call(
        floats32(),
        floats32(),
        floats32(),
        floats32(),
        step=ints(),
        lr=reals(),
        beta1=reals(),
        beta2=reals(),
        eps=reals(),
        weight_decay=reals(),
        decoupled_weight_decay=st.booleans(),
        max_exp_avg_sq=maybe(floats32()),
    ),
    "rmsprop_step": call(
        floats32(),
        floats32(),
        floats32(),
        lr=reals(),
        alpha=reals(),
        eps=reals(),
        weight_decay=reals(),
        momentum=reals(),
        centered=st.booleans(),
        grad_avg=maybe(floats32()),
        momentum_buffer=maybe(floats32()),
    ),
    "adagrad_step": call(
        floats32(),
        floats32(),
        floats32(),
        step=ints(),
        lr=reals(),
        lr_decay=reals(),
        weight_decay=reals(),
        eps=reals(),
    ),
    "sgemm": call(
        floats32(0, 3),
        floats32(0, 3),
        trans_a=st.booleans(),
        trans_b=st.booleans(),
        alpha=reals(),
        beta=reals(),
        bias=maybe(floats32(0, 2)),
        out=maybe(floats32(0, 3)),
    )
    | coherent_sgemm(),
    "linear_backward": call(
        floats32(0, 3),
        floats32(0, 3),
        floats32(0, 3),
        maybe(floats32(0, 3)),
        st.booleans(),
        st.booleans(),
        st.booleans(),
    )
    | coherent_linear_backward(),
    "conv2d_forward": call(
        floats32(3, 5, 6),
        floats32(3, 5, 4),
        maybe(floats32(0, 2)),
        stride=pairs(),
        padding=pairs(),
        out=maybe(floats32(4, 4, 6)),
    )
    | coherent_conv(tensor=False),
    "conv2d_backward_data": call(
        floats32(3, 5, 6),
        floats32(3, 5, 4),
        st.one_of(st.tuples(SIZE, SIZE, SIZE, SIZE), junk()),
        stride=pairs(),
        padding=pairs(),
    ),
    "conv2d_backward_weight": call(
        floats32(3, 5, 6),
        floats32(3, 5, 6),
        pairs(),
        stride=pairs(),
        padding=pairs(),
        bias=st.booleans(),
    ),
    "conv2d_algorithms": call(
        st.one_of(st.tuples(ints(), ints(), ints(), ints()), junk()),
        st.one_of(st.tuples(ints(), ints(), ints(), ints()), junk()),
        stride=pairs(),
        padding=pairs(),
    ),
    "max_pool2d_forward": call(floats32(3, 5, 6), pairs(), pairs())
    | coherent_pool(tensor=False)
    | call(
        floats32(4, 4, 6), pairs(), pairs(), pairs(), pairs(), st.booleans(), relu=st.booleans()
    ),
    "max_pool2d_backward": call(
        floats32(3, 5, 4),
        _array_spec(_dtypes("int32"), _shapes(3, 5, 4)),
        st.one_of(st.tuples(SIZE, SIZE, SIZE, SIZE), junk()),
        pairs(),
        pairs(),
    ),
    "avg_pool2d_forward": call(floats32(3, 5, 6), pairs(), pairs())
    | coherent_pool(tensor=False)
    | call(
        floats32(4, 4, 6),
        pairs(),
        pairs(),
        pairs(),
        st.booleans(),
        st.booleans(),
        maybe(st.sampled_from([-2, 0, 3, 2**31, None])),
    ),
    "avg_pool2d_backward": call(
        floats32(3, 5, 4), st.one_of(st.tuples(SIZE, SIZE, SIZE, SIZE), junk()), pairs(), pairs()
    ),
    "adaptive_avg_pool2d_forward": call(floats32(3, 5, 6), pairs()),
    "adaptive_avg_pool2d_backward": call(
        floats32(3, 5, 4), st.one_of(st.tuples(SIZE, SIZE, SIZE, SIZE), junk())
    ),
    "adaptive_max_pool2d_forward": call(floats32(3, 5, 6), pairs()),
    "adaptive_max_pool2d_backward": call(
        floats32(3, 5, 4),
        _array_spec(_dtypes("int32"), _shapes(3, 5, 4)),
        st.one_of(st.tuples(SIZE, SIZE, SIZE, SIZE), junk()),
    ),
    "set_isa": call(st.sampled_from(["scalar", "avx2", "avx512", "neon", "", "AVX2", 3, None])),
    "set_num_threads": call(st.sampled_from([1, 2, 0, -1, 4097, 2**31, "2", 1.5, None])),
    "get_num_threads": call(),
    "cpu_info": call(),
    "buffer_cache_stats": call(),
    "buffer_cache_clear": call(),
    "buffer_cache_reset_peak": call(),
    "set_buffer_cache_limit": call(st.sampled_from([0, 1 << 20, -1, 2**64, "1", 1.5, None])),
    "set_flush_denormal": call(st.sampled_from([False, None, "yes", 2.5])),
    "float_controls": call(),
    "set_float_controls": call(st.sampled_from([None, "x", -1, 2**64])),
}


# -- the worker side ------------------------------------------------------------------------------


def build(spec: Any) -> Any:
    """The value a plain-data description stands for (recursively through lists and dicts)."""
    if isinstance(spec, tuple) and spec and spec[0] == "@array":
        return _make_array(*spec[1:])
    if isinstance(spec, tuple) and spec and spec[0] == "@tensor":
        import odyssey

        array = build(spec[1])
        # The array's own dtype is kept, so hostile dtypes reach the functions that take tensors.
        t = odyssey.tensor(array, dtype=array.dtype)
        return t.requires_grad_(True) if spec[2] and t.dtype.kind == "f" else t
    if isinstance(spec, tuple):
        return tuple(build(s) for s in spec)
    if isinstance(spec, list):
        return [build(s) for s in spec]
    if isinstance(spec, dict):
        return {k: build(v) for k, v in spec.items()}
    return spec


def _make_array(dtype: str, shape: tuple[int, ...], fill: str, layout: str) -> np.ndarray:
    size = math.prod(shape)
    if size == 0:
        return np.empty(shape, dtype=dtype)  # huge-but-empty shapes allocate nothing
    values = np.random.default_rng(size).standard_normal(size) * 3
    if fill == "zeros":
        values[:] = 0
    elif fill in ("nan", "inf"):
        values[:: max(size // 3, 1)] = np.nan if fill == "nan" else np.inf
        values[-1] = -np.inf if fill == "inf" else values[-1]
    elif fill == "huge":
        values *= 1e38
    with np.errstate(all="ignore"):  # NaN and 1e38 cast to integers
        flat = values.astype(dtype)
    if layout == "fortran":
        return np.asfortranarray(flat.reshape(shape))
    if layout == "strided":
        wide = np.repeat(flat, 2).reshape(*shape[:-1], -1) if shape else flat.reshape(shape)
        return wide[..., ::2] if shape else wide
    if layout == "misaligned" and flat.dtype != object:
        raw = np.zeros(flat.nbytes + 1, np.uint8)
        out = raw[1:].view(flat.dtype).reshape(shape)
        out[...] = flat.reshape(shape)
        return out
    if layout == "readonly":
        out = flat.reshape(shape)
        out.flags.writeable = False
        return out
    if layout == "reversed" and shape:
        return flat.reshape(shape)[::-1]
    if layout == "broadcast":  # every element is the first one: zero strides, read-only
        return np.broadcast_to(flat[:1].reshape((1,) * len(shape)), shape)
    return flat.reshape(shape)


def _resolve(name: str) -> Callable[..., Any]:
    import odyssey
    import odyssey.data
    import odyssey.nn.functional as F
    from odyssey import _kernels

    if name.startswith("raw."):
        return getattr(_kernels, name.removeprefix("raw."))
    if name.startswith("scenario."):
        return SCENARIOS[name.removeprefix("scenario.")]
    if name.startswith("Tensor."):
        method = name.removeprefix("Tensor.")
        return lambda t, *args, **kwargs: getattr(t, method)(*args, **kwargs)
    if name.startswith("F."):
        return getattr(F, name.removeprefix("F."))
    module, _, attribute = name.rpartition(".")
    modules = {"odyssey": odyssey, "odyssey.data": odyssey.data, "odyssey.memory": odyssey.memory}
    return getattr(modules[module], attribute)


def _backward_if_possible(out: Any) -> None:
    """Runs backward through a differentiable result, so gradients are fuzzed too."""
    import odyssey

    for item in out if isinstance(out, tuple) else (out,):
        if isinstance(item, odyssey.Tensor) and item.requires_grad:
            item.sum().backward()


def run_case(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """("ok",) or ("raised", type name, message, whether the type is an ordinary one)."""
    try:
        built_args, built_kwargs = build(args), build(kwargs)
    except Exception as error:  # a spec NumPy cannot build is no case
        return ("skipped", f"{type(error).__name__}: {error}")
    try:
        _backward_if_possible(_resolve(name)(*built_args, **built_kwargs))
    except Exception as error:  # reported to the parent, which judges it
        return ("raised", type(error).__name__, str(error), isinstance(error, ORDINARY))
    return ("ok",)


def _serve() -> None:
    """The worker loop: length-prefixed pickles in on stdin, out on the original stdout."""
    import warnings

    warnings.simplefilter("ignore")
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # prints from the library must not corrupt the replies
    requests = sys.stdin.buffer
    while header := requests.read(4):
        case = pickle.loads(requests.read(struct.unpack("<I", header)[0]))
        reply = pickle.dumps(run_case(*case))
        replies.write(struct.pack("<I", len(reply)) + reply)
        replies.flush()


# -- scenarios: public calls that need a few steps ------------------------------------------------


def _set_grad(t: Any, grad: Any) -> None:
    t.grad = grad


def _linear(n_in: Any, n_out: Any, bias: bool, x: Any) -> Any:
    from odyssey import nn

    return nn.Linear(n_in, n_out, bias)(x)


def _conv2d(c_in: Any, c_out: Any, kernel: Any, stride: Any, padding: Any, x: Any) -> Any:
    from odyssey import nn

    return nn.Conv2d(c_in, c_out, kernel, stride, padding)(x)


def _batchnorm2d(features: Any, eps: Any, training: bool, x: Any) -> Any:
    from odyssey import nn

    layer = nn.BatchNorm2d(features, eps=eps)
    return layer.train(training)(x)


def _step(optimizer: Any, param: Any, grad: Any, kwargs: dict[str, Any]) -> None:
    param.requires_grad_(True)
    param.grad = grad
    optimizer([param], **kwargs).step()


def _sgd(param: Any, grad: Any, **kwargs: Any) -> None:
    from odyssey import optim

    _step(optim.SGD, param, grad, kwargs)


def _adam(param: Any, grad: Any, **kwargs: Any) -> None:
    from odyssey import optim

    _step(optim.Adam, param, grad, kwargs)


def _keys(images: np.ndarray) -> Any:
    from odyssey.data import SampleKeys

    # A huge (empty) batch gets no keys, which could not be allocated; the transform refuses them.
    count = len(images) if images.ndim and len(images) < 2**20 else 0
    return SampleKeys(7, 1, np.arange(count))


def _normalize(images: Any, mean: Any, std: Any) -> Any:
    from odyssey.data import Normalize

    return Normalize(mean, std)(images, _keys(images))


def _pad(images: Any, padding: Any, fill: Any) -> Any:
    from odyssey.data import Pad

    return Pad(padding, fill)(images, _keys(images))


def _random_crop(images: Any, size: Any, padding: Any, stream: Any) -> Any:
    from odyssey.data import RandomCrop

    return RandomCrop(size, padding, stream=stream)(images, _keys(images))


def _random_affine(images: Any, degrees: Any, translate: Any, scale: Any, stream: Any) -> Any:
    from odyssey.data import RandomAffine

    return RandomAffine(degrees, translate, scale, stream=stream)(images, _keys(images))


def _elastic(images: Any, alpha: Any, sigma: Any, stream: Any) -> Any:
    from odyssey.data import ElasticDistortion

    return ElasticDistortion(alpha, sigma, stream=stream)(images, _keys(images))


def _random_erasing(images: Any, p: Any, scale: Any, ratio: Any, stream: Any) -> Any:
    from odyssey.data import RandomErasing

    return RandomErasing(p, scale, ratio, stream=stream)(images, _keys(images))


def _loader(images: Any, labels: Any, **kwargs: Any) -> None:
    from odyssey.data import ArrayDataset, DataLoader

    loader = DataLoader(ArrayDataset(images, labels), **kwargs)
    for _ in loader:
        break
    state = loader.state_dict()
    DataLoader(ArrayDataset(images, labels), **kwargs).load_state_dict(state)


def _dataset(images: Any, labels: Any, channels_last: bool, indices: Any) -> None:
    from odyssey.data import ArrayDataset, Subset

    dataset = ArrayDataset(images, labels, channels_last=channels_last)
    dataset.get_float_batch(indices)
    Subset(dataset, indices).get_float_batch(np.arange(1))


def _loader_state(state: Any) -> None:
    from odyssey.data import ArrayDataset, DataLoader

    dataset = ArrayDataset(np.zeros((10, 2, 2), np.uint8), np.arange(10))
    DataLoader(dataset, batch_size=3, seed=1).load_state_dict(state)


def _set_epoch(epoch: Any) -> None:
    from odyssey.data import ArrayDataset, DataLoader

    dataset = ArrayDataset(np.zeros((4, 2, 2), np.uint8), np.arange(4))
    loader = DataLoader(dataset, batch_size=3, seed=1, prefetch=0)
    loader.set_epoch(epoch)
    for _ in loader:
        break


def _read_idx(
    magic: int, code: int, ndim: int, dims: list[int], payload: int, compress: bool
) -> None:
    """An IDX file with a fuzzed header: two magic bytes, dtype code, ndim, dims, then payload."""
    import gzip

    from odyssey.data import read_idx

    header = bytes([0, magic, code, ndim]) + struct.pack(f">{len(dims)}I", *dims)
    data = header + bytes(payload)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "fuzz-idx-ubyte"
        path.write_bytes(gzip.compress(data) if compress else data)
        try:
            read_idx(path)
        except Exception as error:
            # The file's name is random, so it is put in the same form in every case.
            raise type(error)(str(error).replace(str(path), "<file>")) from None


SCENARIOS: dict[str, Callable[..., Any]] = {
    "set_grad": _set_grad,
    "linear": _linear,
    "conv2d": _conv2d,
    "batchnorm2d": _batchnorm2d,
    "sgd": _sgd,
    "adam": _adam,
    "normalize": _normalize,
    "pad": _pad,
    "random_crop": _random_crop,
    "random_affine": _random_affine,
    "elastic": _elastic,
    "random_erasing": _random_erasing,
    "loader": _loader,
    "dataset": _dataset,
    "loader_state": _loader_state,
    "set_epoch": _set_epoch,
    "read_idx": _read_idx,
}


# -- the test side --------------------------------------------------------------------------------


class Worker:
    """The worker process; replaced after a crash or a timeout."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        if self.process is None or self.process.poll() is not None:
            # stderr is inherited: pytest shows what a dying worker printed with the failure.
            self.process = subprocess.Popen(
                [sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
        return self.process

    def run(
        self, case: tuple[str, tuple[Any, ...], dict[str, Any]], timeout: float = TIMEOUT_SECONDS
    ) -> tuple[Any, ...]:
        """The worker's answer, ("crashed", signal name) or ("hung",) after `timeout` seconds."""
        process = self._start()
        assert process.stdin is not None
        request = pickle.dumps(case)
        try:
            process.stdin.write(struct.pack("<I", len(request)) + request)
            process.stdin.flush()
            header = self._read(process, 4, timeout)
            return pickle.loads(self._read(process, struct.unpack("<I", header)[0], timeout))
        except TimeoutError:
            self.stop()
            return ("hung",)
        except (BrokenPipeError, EOFError):
            code = process.wait()
            self.process = None
            return ("crashed", signal.Signals(-code).name if code < 0 else f"exit {code}")

    @staticmethod
    def _read(process: subprocess.Popen[bytes], count: int, timeout: float) -> bytes:
        assert process.stdout is not None
        chunks = b""
        while len(chunks) < count:
            ready, _, _ = select.select([process.stdout], [], [], timeout)
            if not ready:
                raise TimeoutError
            chunk = os.read(process.stdout.fileno(), count - len(chunks))
            if not chunk:
                raise EOFError
            chunks += chunk
        return chunks

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    w = Worker()
    yield w
    w.stop()


def impossible_size(kind: str, message: str) -> bool:
    """NumPy's refusal of an output larger than any address space: its own words will do."""
    return kind == "MemoryError" or message.startswith("array is too big")


def check(outcome: tuple[Any, ...], case: tuple[Any, ...], public: bool) -> None:
    """Fails unless the case returned or raised an ordinary, helpful enough exception."""
    assert outcome[0] not in ("crashed", "hung"), f"{case} {outcome[0]}: {outcome[1:]}"
    if outcome[0] != "raised":
        return
    _, kind, message, ordinary = outcome
    assert ordinary, f"{case} raised {kind}: {message}"
    if public:
        assert PYBIND_DUMP not in message, f"{case} leaked pybind11's dump: {message}"
        prefixes = PUBLIC_PREFIXES[case[0]]
        if not impossible_size(kind, message):
            assert message.startswith(prefixes), f"{case} raised {kind}: {message}"


def fuzz(worker: Worker, case: tuple[Any, ...], public: bool) -> None:
    """Runs and checks `case`; --hypothesis-show-statistics shows how the cases ended."""
    outcome = worker.run(case)
    event(outcome[0] if outcome[0] != "raised" else f"raised {outcome[1]}")
    check(outcome, case, public)


FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    # No shrinking: a failing case is already plain data, and shrinking a hang costs a timeout
    # per step.
    phases=[Phase.explicit, Phase.generate],
)


@pytest.mark.parametrize("name", sorted(PUBLIC))
@FUZZ_SETTINGS
@given(data=st.data())
def test_public_api(worker: Worker, name: str, data: st.DataObject) -> None:
    args, kwargs = data.draw(PUBLIC[name], label="arguments")
    case = (name, args, kwargs)
    fuzz(worker, case, public=True)


@pytest.mark.parametrize("name", sorted(RAW))
@FUZZ_SETTINGS
@given(data=st.data())
def test_raw_kernels(worker: Worker, name: str, data: st.DataObject) -> None:
    args, kwargs = data.draw(RAW[name], label="arguments")
    case = (f"raw.{name}", args, kwargs)
    fuzz(worker, case, public=False)


def test_the_raw_targets_cover_every_kernel() -> None:
    """A kernel added later is fuzzed too, or this test names it."""
    from odyssey import _kernels

    functions = {name for name in dir(_kernels) if callable(getattr(_kernels, name))}
    assert functions - set(RAW) == set()


def test_a_crash_and_a_hang_are_failures_and_the_worker_recovers(worker: Worker) -> None:
    crash = ("scenario.crash", (), {})
    hang = ("scenario.hang", (), {})
    # SIGABRT under the sanitize session: ASan reports the SIGSEGV, then aborts.
    assert worker.run(crash) in (("crashed", "SIGSEGV"), ("crashed", "SIGABRT"))
    assert worker.run(hang, timeout=1.0) == ("hung",)
    with pytest.raises(AssertionError, match="crashed"):
        check(("crashed", "SIGSEGV"), crash, public=True)
    assert worker.run(("odyssey.manual_seed", (3,), {})) == ("ok",)


def _crash() -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def _hang() -> None:
    import time

    time.sleep(3600)


SCENARIOS.update(crash=_crash, hang=_hang)


if __name__ == "__main__":
    _serve()
