"""Gradient clipping by total norm and by value, as torch.nn.utils does it.

The norms are computed with NumPy in float64, tensor by tensor and then over the per-tensor norms
(each rounded to float32 first, as torch's are), so the total norm is within an ulp or two of
torch's and its bits depend only on the gradients' values: NumPy's reductions run on one thread in
an order fixed by the array's shape, whatever `odyssey.set_num_threads` says.
"""

from __future__ import annotations

import math
import types
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np

from odyssey import _checks as check
from odyssey.tensor import Tensor

TensorOrTensors = Tensor | Iterable[Tensor]

_NONFINITE = (
    "The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it "
    "cannot be clipped. To disable this error and scale the gradients by the non-finite norm "
    "anyway, set `error_if_nonfinite=False`"
)


def _tensors(fn: str, parameters: Any) -> list[Tensor]:
    """A Tensor or an iterable of Tensors as a list (a generator is consumed once)."""
    if isinstance(parameters, Tensor):
        return [parameters]
    if isinstance(parameters, (np.ndarray, str, bytes)) or not isinstance(parameters, Iterable):
        raise TypeError(
            f"{fn}: parameters must be a Tensor or an iterable of Tensors, got "
            f"{type(parameters).__name__}"
        )
    tensors = list(parameters)
    for index, tensor in enumerate(tensors):
        if not isinstance(tensor, Tensor):
            raise TypeError(
                f"{fn}: parameters must be a Tensor or an iterable of Tensors, but item {index} "
                f"is {type(tensor).__name__}"
            )
    return tensors


def _norm_type(fn: str, norm_type: Any) -> float:
    """float(norm_type) as torch takes it (so 'inf' works), or a TypeError/ValueError."""
    if isinstance(norm_type, bool):
        raise TypeError(f"{fn}: norm_type must be a real number or 'inf', got bool")
    try:
        value = float(norm_type)
    except (TypeError, ValueError):
        raise (TypeError if not isinstance(norm_type, str) else ValueError)(
            f"{fn}: norm_type must be a real number or 'inf', got {norm_type!r}"
        ) from None
    if math.isnan(value):
        raise ValueError(f"{fn}: norm_type must not be NaN")
    return value


def _vector_norm(fn: str, values: np.ndarray, norm_type: float) -> float:
    """torch.linalg.vector_norm(values, norm_type) accumulated in float64, in a fixed order."""
    flat = np.ravel(values)
    if math.isinf(norm_type):
        if flat.size == 0:
            raise RuntimeError(
                f"{fn}: cannot compute the {norm_type} norm of an empty gradient because the "
                "operation does not have an identity"
            )
        magnitudes = np.abs(flat)
        # max/min propagate NaN, as torch's do.
        return float(np.max(magnitudes) if norm_type > 0 else np.min(magnitudes))
    x = flat.astype(np.float64)
    if norm_type == 0.0:
        return float(np.count_nonzero(x))  # NaN counts as non-zero, as in torch
    if norm_type == 2.0:
        return math.sqrt(float(np.sum(np.square(x, out=x))))
    if norm_type == 1.0:
        return float(np.sum(np.abs(x, out=x)))
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        total = float(np.sum(np.power(np.abs(x, out=x), norm_type, out=x)))
        return float(np.power(total, 1.0 / norm_type))


def get_total_norm(
    tensors: TensorOrTensors,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """The norm of the tensors' norms (as if all were one vector): a 0-d float32 Tensor.

    `foreach` is accepted for torch's signature; the computation is the same either way.
    """
    fn = "get_total_norm"
    return _total_norm(fn, [t.data for t in _tensors(fn, tensors)], norm_type, error_if_nonfinite)


def _total_norm(
    fn: str, arrays: list[np.ndarray], norm_type: Any, error_if_nonfinite: bool
) -> Tensor:
    norm_type = _norm_type(fn, norm_type)
    if not arrays:
        return Tensor(np.array(0.0, dtype=np.float32))
    norms = np.array([_vector_norm(fn, a, norm_type) for a in arrays], dtype=np.float32)
    total = np.array(_vector_norm(fn, norms, norm_type), dtype=np.float32)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"{fn}: " + _NONFINITE.format(norm_type=norm_type))
    return Tensor(total)


def clip_grads_with_norm_(
    parameters: TensorOrTensors,
    max_norm: float,
    total_norm: Tensor | float,
    foreach: bool | None = None,
) -> None:
    """Scales every gradient in place by min(max_norm / (total_norm + 1e-6), 1), in float32."""
    fn = "clip_grads_with_norm_"
    grads = [p.grad for p in _tensors(fn, parameters) if p.grad is not None]
    _clip(fn, grads, max_norm, total_norm)


def _clip(fn: str, grads: list[Tensor], max_norm: Any, total_norm: Any) -> None:
    limit = np.float32(check.real(max_norm, fn, "max_norm"))
    total = np.float32(total_norm.data if isinstance(total_norm, Tensor) else total_norm)
    if not grads:
        return
    # torch's max_norm / (total + 1e-6) is reciprocal(total + 1e-6) * max_norm in float32; the
    # clamp keeps NaN. Multiplying by 1 when no clipping is needed changes nothing, as in torch.
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        coefficient = np.minimum(
            np.float32(1.0) / (total + np.float32(1e-6)) * limit, np.float32(1.0)
        )
        for grad in grads:
            np.multiply(grad.data, coefficient.astype(grad.data.dtype), out=grad.data)


def clip_grad_norm_(
    parameters: TensorOrTensors,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Scales the gradients in place so that their total norm is at most max_norm.

    The total norm is the norm of the per-gradient norms, as if all gradients were one vector
    (norm_type may be float('inf')); it is returned as a 0-d float32 Tensor, before clipping.
    Parameters without a gradient are skipped. `foreach` is accepted for torch's signature.
    """
    fn = "clip_grad_norm_"
    is_generator = isinstance(parameters, types.GeneratorType)
    tensors = _tensors(fn, parameters)
    if is_generator and not tensors:
        warnings.warn(
            "`parameters` is an empty generator, no gradient clipping will occur.", stacklevel=2
        )
    check.real(max_norm, fn, "max_norm")
    grads = [p.grad for p in tensors if p.grad is not None]
    total = _total_norm(fn, [g.data for g in grads], norm_type, error_if_nonfinite)
    _clip(fn, grads, max_norm, total)
    return total


def clip_grad_value_(
    parameters: TensorOrTensors, clip_value: float, foreach: bool | None = None
) -> None:
    """Clamps every gradient in place to [-clip_value, clip_value] (NaN stays NaN)."""
    fn = "clip_grad_value_"
    tensors = _tensors(fn, parameters)
    value = check.real(clip_value, fn, "clip_value")
    grads = [param.grad.data for param in tensors if param.grad is not None]
    for grad in grads:
        with np.errstate(over="ignore"):
            high = np.asarray(value, grad.dtype)
        if math.isfinite(value) and not np.isfinite(high):  # torch's error, before any change
            raise RuntimeError(
                f"{fn}: clip_value {value} cannot be converted to {grad.dtype} without overflow"
            )
    for grad in grads:
        high = np.asarray(value, grad.dtype)
        np.minimum(np.maximum(grad, -high, out=grad), high, out=grad)
