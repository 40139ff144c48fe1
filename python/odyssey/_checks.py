"""Argument checks of the public API, shared by nn, optim and the transforms.

Each check raises TypeError (wrong kind of value) or ValueError (a value out of range) whose
message starts with the public function the user called and names the argument:
``relu: input must be float32, got int64 of shape (2, 3)``. They sit on the training step's hot
path, so each is a few attribute reads and comparisons, never a pass over the elements. The
bindings keep their own checks as the memory-safety net for direct ``_kernels`` calls.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from odyssey.tensor import Tensor
from odyssey.tensor import _is_int as is_int

F32 = np.dtype(np.float32)
I64 = np.dtype(np.int64)
REDUCTIONS = ("mean", "sum", "none")
MAX_SIZE = np.iinfo(np.intp).max
WINDOW_LIMIT = 2**31  # kernel sizes, strides and padding: what the kernels' int32 geometry holds


def _type_name(value: Any) -> str:
    return type(value).__name__


def tensor(value: Any, fn: str, name: str) -> np.ndarray:
    """The array of a Tensor argument."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{fn}: {name} must be a Tensor, not {_type_name(value)}")
    return value.data


def float_tensor(value: Any, fn: str, name: str) -> np.ndarray:
    """The array of a float32 Tensor argument, C-contiguous and aligned as the kernels read it: a
    tensor wrapping a strided view (from_numpy of a slice) is copied, as PyTorch's kernels do."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{fn}: {name} must be a Tensor, not {_type_name(value)}")
    data = value.data
    if data.dtype is not F32 and data.dtype != F32:  # `is`: the builtin dtypes are singletons
        raise TypeError(f"{fn}: {name} must be float32, got {data.dtype} of shape {data.shape}")
    flags = data.flags  # a new flags object on every read
    return data if flags.c_contiguous and flags.aligned else np.array(data)


def ndim(data: np.ndarray, dims: int, fn: str, name: str, layout: str) -> None:
    """ValueError unless `data` has `dims` dimensions, described by `layout` in the message."""
    if data.ndim != dims:
        raise ValueError(f"{fn}: {name} must be {dims}-D {layout}, got shape {data.shape}")


def class_labels(target: Any, rows: int, fn: str, name: str = "target") -> np.ndarray:
    """A C-contiguous int64 array of `rows` class labels from a Tensor or an ndarray."""
    labels = target.data if isinstance(target, Tensor) else target
    if not isinstance(labels, np.ndarray):
        raise TypeError(f"{fn}: {name} must be a Tensor or an ndarray, not {_type_name(target)}")
    if labels.dtype != I64:
        raise TypeError(f"{fn}: {name} must hold int64 class labels, got {labels.dtype}")
    if labels.shape != (rows,):
        raise ValueError(
            f"{fn}: {name} must have shape ({rows},), one label per row, got {labels.shape}"
        )
    return labels if labels.flags.c_contiguous else np.ascontiguousarray(labels)


def labels_in_range(labels: np.ndarray, classes: int, fn: str, name: str = "target") -> None:
    """ValueError naming the first label outside [0, classes): one pass over the labels."""
    bad = np.flatnonzero((labels < 0) | (labels >= classes))
    if bad.size:
        raise ValueError(
            f"{fn}: {name} holds {labels[bad[0]]} at position {bad[0]}, outside [0, {classes}) "
            f"for {classes} classes"
        )


def integer(
    value: Any, fn: str, name: str, minimum: int | None = None, below: int | None = None
) -> int:
    """An int (Python or NumPy, not bool), at least `minimum` and below `below` when given."""
    if (  # the usual case in a few comparisons: this runs on every training step
        type(value) is int
        and (minimum is None or value >= minimum)
        and (below is None or value < below)
    ):
        return value
    if not is_int(value):
        raise TypeError(f"{fn}: {name} must be an int, got {_type_name(value)}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{fn}: {name} must be >= {minimum}, got {value}")
    if below is not None and value >= below:
        raise ValueError(f"{fn}: {name} must be below {below}, got {value}")
    return int(value)


def size(value: Any, fn: str, name: str) -> int:
    """A layer's size (features, channels): an int from 0 to what a NumPy dimension holds."""
    if integer(value, fn, name, 0) > MAX_SIZE:
        raise ValueError(f"{fn}: {name} must be at most {MAX_SIZE}, got {value}")
    return int(value)


def pair(value: Any, fn: str, name: str, minimum: int) -> tuple[int, int]:
    """An int n as (n, n), or a pair of ints, each at least `minimum` and below 2**31."""
    if type(value) is tuple and len(value) == 2 and type(value[0]) is int and type(value[1]) is int:
        result = value  # the layers' own checked pairs take this path
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        result = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        result = (integer(value[0], fn, name), integer(value[1], fn, name))
    else:
        raise TypeError(f"{fn}: {name} must be an int or a pair of ints, got {value!r}")
    if result[0] < minimum or result[1] < minimum:
        raise ValueError(f"{fn}: {name} must be >= {minimum}, got {result}")
    if result[0] >= WINDOW_LIMIT or result[1] >= WINDOW_LIMIT:
        raise ValueError(f"{fn}: {name} must be below 2**31, got {result}")
    return result


def real(value: Any, fn: str, name: str) -> float:
    """A real number (int or float, Python or NumPy, not bool) as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{fn}: {name} must be a real number, got {_type_name(value)}")
    return float(value)


def finite(value: Any, fn: str, name: str) -> float:
    """A finite real number as a float."""
    number = real(value, fn, name)
    if not math.isfinite(number):
        raise ValueError(f"{fn}: {name} must be finite, got {value!r}")
    return number


def probability(value: Any, fn: str, name: str = "p") -> float:
    """A real number in [0, 1]."""
    number = real(value, fn, name)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{fn}: {name} must be in [0, 1], got {value}")
    return number


def reduction(value: Any, fn: str) -> str:
    """One of "mean", "sum", "none"."""
    if not isinstance(value, str):
        raise TypeError(f"{fn}: reduction must be a str, one of {REDUCTIONS}, got {value!r}")
    if value not in REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be one of {REDUCTIONS}, got {value!r}")
    return value
