"""Layers and losses as functions of tensors: each one kernel forward and one kernel backward.

These sit on the training step's hot path (a LeNet step is ~30 of them), so they do little in
Python: the bindings check dtypes and shapes, and a backward closure computes only the gradients
that some input needs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from odyssey import _kernels
from odyssey.random import generator
from odyssey.tensor import Tensor, _from_op

__all__ = [
    "avg_pool2d",
    "batch_norm",
    "conv2d",
    "cross_entropy",
    "dropout",
    "flatten",
    "leaky_relu",
    "lecun_tanh",
    "linear",
    "log_softmax",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "relu",
    "sigmoid",
    "softmax",
    "tanh",
]

_F32 = np.dtype(np.float32)
_REDUCTIONS = ("mean", "sum", "none")


def _pair(value: int | tuple[int, int], name: str) -> tuple[int, int]:
    if type(value) is tuple and len(value) == 2:  # layers pass their checked pairs
        return value
    if isinstance(value, (int, np.integer)):
        return (int(value), int(value))
    pair = tuple(int(v) for v in value)
    if len(pair) != 2:
        raise ValueError(f"{name}: expected an int or a pair of ints, got {value}")
    return pair  # type: ignore[return-value]


def _check_reduction(reduction: str, op: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _not_a_tensor(op: str, name: str, value: object) -> TypeError:
    return TypeError(f"{op}: {name} must be a Tensor, not {type(value).__name__}")


# -- linear and convolution -------------------------------------------------------------------


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight.T + bias on sgemm (trans_b, bias fused); x is (..., in), weight (out, in)."""
    if not isinstance(x, Tensor):
        raise _not_a_tensor("linear", "x", x)
    if not isinstance(weight, Tensor):
        raise _not_a_tensor("linear", "weight", weight)
    if bias is not None and not isinstance(bias, Tensor):
        raise _not_a_tensor("linear", "bias", bias)
    x_data = x.data
    w_data = weight.data
    if w_data.ndim != 2 or x_data.ndim < 1 or x_data.shape[-1] != w_data.shape[-1]:
        raise ValueError(
            f"linear: input has {x_data.shape[-1] if x_data.ndim else 0} features but weight "
            f"expects {w_data.shape[-1] if w_data.ndim else 0} (input {x_data.shape}, "
            f"weight {w_data.shape})"
        )
    batch_shape = x_data.shape[:-1]
    x2 = x_data if x_data.ndim == 2 else x_data.reshape(-1, x_data.shape[-1])
    out = _kernels.sgemm(x2, w_data, trans_b=True, bias=None if bias is None else bias.data)
    if x_data.ndim != 2:
        out = out.reshape(*batch_shape, w_data.shape[0])

    def backward(g: np.ndarray) -> tuple[Any, Any, Any]:
        g2 = g if g.ndim == 2 else g.reshape(-1, g.shape[-1])
        grad_x = _kernels.sgemm(g2, w_data).reshape(x_data.shape) if x.requires_grad else None
        grad_w = _kernels.sgemm(g2, x2, trans_a=True) if weight.requires_grad else None
        grad_b = g2.sum(axis=0) if bias is not None and bias.requires_grad else None
        return grad_x, grad_w, grad_b

    return _from_op(out, (x, weight, bias), backward)


def conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> Tensor:
    """2-D cross-correlation of NCHW input with weight (out, in, kh, kw), dilation 1, groups 1."""
    if not isinstance(x, Tensor):
        raise _not_a_tensor("conv2d", "x", x)
    if not isinstance(weight, Tensor):
        raise _not_a_tensor("conv2d", "weight", weight)
    if bias is not None and not isinstance(bias, Tensor):
        raise _not_a_tensor("conv2d", "bias", bias)
    stride = _pair(stride, "conv2d: stride")
    padding = _pair(padding, "conv2d: padding")
    x_data = x.data
    w_data = weight.data
    out = _kernels.conv2d_forward(
        x_data,
        w_data,
        None if bias is None else bias.data,
        stride=stride,
        padding=padding,
    )

    def backward(g: np.ndarray) -> tuple[Any, Any, Any]:
        grad_x = None
        if x.requires_grad:
            grad_x = _kernels.conv2d_backward_data(
                g, w_data, x_data.shape, stride=stride, padding=padding
            )
        grad_w = grad_b = None
        if weight.requires_grad or (bias is not None and bias.requires_grad):
            grad_w, grad_b = _kernels.conv2d_backward_weight(
                x_data,
                g,
                w_data.shape[2:],
                stride=stride,
                padding=padding,
                bias=bias is not None,
            )
        return grad_x, grad_w, grad_b

    return _from_op(out, (x, weight, bias), backward)


# -- pooling ----------------------------------------------------------------------------------


def max_pool2d(
    x: Tensor, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None
) -> Tensor:
    """Maximum over kernel_size windows of each NCHW plane (stride defaults to kernel_size)."""
    if not isinstance(x, Tensor):
        raise _not_a_tensor("max_pool2d", "x", x)
    kernel = _pair(kernel_size, "max_pool2d: kernel_size")
    step = kernel if stride is None else _pair(stride, "max_pool2d: stride")
    x_shape = x.data.shape
    out, argmax = _kernels.max_pool2d_forward(x.data, kernel, step)
    return _from_op(out, (x,), lambda g: (_kernels.max_pool2d_backward(g, argmax, x_shape),))


def avg_pool2d(
    x: Tensor, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None
) -> Tensor:
    """Mean over kernel_size windows of each NCHW plane (stride defaults to kernel_size)."""
    if not isinstance(x, Tensor):
        raise _not_a_tensor("avg_pool2d", "x", x)
    kernel = _pair(kernel_size, "avg_pool2d: kernel_size")
    step = kernel if stride is None else _pair(stride, "avg_pool2d: stride")
    x_shape = x.data.shape
    out = _kernels.avg_pool2d_forward(x.data, kernel, step)
    return _from_op(out, (x,), lambda g: (_kernels.avg_pool2d_backward(g, x_shape, kernel, step),))


# -- activations ------------------------------------------------------------------------------


def relu(x: Tensor) -> Tensor:
    if not isinstance(x, Tensor):
        raise _not_a_tensor("relu", "x", x)
    x_data = x.data
    return _from_op(_kernels.relu(x_data), (x,), lambda g: (_kernels.relu_backward(g, x_data),))


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    if not isinstance(x, Tensor):
        raise _not_a_tensor("leaky_relu", "x", x)
    x_data = x.data
    slope = float(negative_slope)
    return _from_op(
        _kernels.leaky_relu(x_data, slope),
        (x,),
        lambda g: (_kernels.leaky_relu_backward(g, x_data, slope),),
    )


def sigmoid(x: Tensor) -> Tensor:
    if not isinstance(x, Tensor):
        raise _not_a_tensor("sigmoid", "x", x)
    y = _kernels.sigmoid(x.data)
    return _from_op(y, (x,), lambda g: (_kernels.sigmoid_backward(g, y),))


def tanh(x: Tensor) -> Tensor:
    if not isinstance(x, Tensor):
        raise _not_a_tensor("tanh", "x", x)
    y = _kernels.tanh(x.data)
    return _from_op(y, (x,), lambda g: (_kernels.tanh_backward(g, y),))


def lecun_tanh(x: Tensor) -> Tensor:
    """LeCun's scaled tanh 1.7159 * tanh(2x / 3) (LeCun et al. 1998, appendix A)."""
    if not isinstance(x, Tensor):
        raise _not_a_tensor("lecun_tanh", "x", x)
    y = _kernels.lecun_tanh(x.data)
    return _from_op(y, (x,), lambda g: (_kernels.lecun_tanh_backward(g, y),))


def _last_axis_op(x: Tensor, dim: int, forward: Any, backward: Any, op: str) -> Tensor:
    """Runs a 2-D kernel over the last axis of a (rows, dim) view of x with `dim` moved last."""
    if not isinstance(x, Tensor):
        raise _not_a_tensor(op, "x", x)
    x_data = x.data
    ndim = x_data.ndim
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor of shape {x_data.shape}")
    axis = dim % max(ndim, 1)
    last = axis == ndim - 1 or ndim == 0
    moved = x_data if last else np.ascontiguousarray(np.moveaxis(x_data, axis, -1))
    rows = moved.reshape(-1, moved.shape[-1] if ndim else 1)
    y_rows = forward(rows)
    y_moved = y_rows.reshape(moved.shape)
    y = y_moved if last else np.ascontiguousarray(np.moveaxis(y_moved, -1, axis))

    def grad(g: np.ndarray) -> tuple[np.ndarray]:
        g_moved = g if last else np.ascontiguousarray(np.moveaxis(g, axis, -1))
        grad_rows = backward(g_moved.reshape(rows.shape), y_rows)
        grad_moved = grad_rows.reshape(moved.shape)
        return (grad_moved if last else np.ascontiguousarray(np.moveaxis(grad_moved, -1, axis)),)

    return _from_op(y, (x,), grad)


def softmax(x: Tensor, dim: int) -> Tensor:
    """exp(x) / sum(exp(x)) along dim, computed stably."""
    return _last_axis_op(x, dim, _kernels.softmax, _kernels.softmax_backward, "softmax")


def log_softmax(x: Tensor, dim: int) -> Tensor:
    """x - log(sum(exp(x))) along dim, computed stably."""
    return _last_axis_op(x, dim, _kernels.log_softmax, _kernels.log_softmax_backward, "log_softmax")


# -- shape and regularisation -----------------------------------------------------------------


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    return x.flatten(start_dim, end_dim)


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zeroes each element with probability p and scales the rest by 1 / (1 - p) when training;
    the mask comes from the generator that `odyssey.manual_seed` seeds."""
    if not isinstance(x, Tensor):
        raise _not_a_tensor("dropout", "x", x)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        mask = np.zeros(x.data.shape, dtype=_F32)
    else:
        keep = generator().random(x.data.shape, dtype=np.float32) >= np.float32(p)
        mask = keep * np.float32(1.0 / (1.0 - p))
    return _from_op(x.data * mask, (x,), lambda g: (g * mask,))


def batch_norm(
    x: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalises each channel (dim 1) of x, (N, C) or (N, C, ...), by batch statistics when
    training (updating the running ones in place) or by the running statistics otherwise."""
    if not isinstance(x, Tensor):
        raise _not_a_tensor("batch_norm", "x", x)
    x_data = x.data
    if x_data.ndim < 2:
        raise ValueError(f"batch_norm: expected input of 2 or more dims, got shape {x_data.shape}")
    channels = x_data.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):  # fmt: skip
        if t is not None and t.data.shape != (channels,):
            raise ValueError(
                f"batch_norm: {name} has shape {t.data.shape} but input {x_data.shape} has "
                f"{channels} channels"
            )
    axes = (0, *range(2, x_data.ndim))
    shape = (1, channels) + (1,) * (x_data.ndim - 2)
    count = x_data.size // max(channels, 1)
    if training or running_mean is None or running_var is None:
        if count <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, got input "
                f"{x_data.shape}"
            )
        mean = x_data.mean(axis=axes, dtype=np.float64)
        var = x_data.var(axis=axes, dtype=np.float64)
        if training and running_mean is not None and running_var is not None:
            m = float(momentum)
            running_mean.data[...] = (1 - m) * running_mean.data + m * mean
            running_var.data[...] = (1 - m) * running_var.data + m * var * count / (count - 1)
        batch_stats = True
    else:
        mean = running_mean.data.astype(np.float64)
        var = running_var.data.astype(np.float64)
        batch_stats = False
    inv_std = (1.0 / np.sqrt(var + eps)).astype(_F32).reshape(shape)
    x_hat = (x_data - mean.astype(_F32).reshape(shape)) * inv_std
    w = None if weight is None else weight.data.reshape(shape)
    out = x_hat if w is None else x_hat * w
    if bias is not None:
        out = out + bias.data.reshape(shape)

    def backward(g: np.ndarray) -> tuple[Any, ...]:
        grad_w = (g * x_hat).sum(axis=axes) if weight is not None and weight.requires_grad else None
        grad_b = g.sum(axis=axes) if bias is not None and bias.requires_grad else None
        grad_x = None
        if x.requires_grad:
            g_hat = g if w is None else g * w
            if batch_stats:
                sum_g = g_hat.sum(axis=axes, keepdims=True)
                sum_gx = (g_hat * x_hat).sum(axis=axes, keepdims=True)
                grad_x = (inv_std / count) * (count * g_hat - sum_g - x_hat * sum_gx)
            else:
                grad_x = g_hat * inv_std
        return grad_x, None, None, grad_w, grad_b

    return _from_op(
        np.ascontiguousarray(out, dtype=_F32),
        (x, running_mean, running_var, weight, bias),
        backward,
    )


# -- losses -----------------------------------------------------------------------------------


def _labels(target: Tensor | np.ndarray) -> np.ndarray:
    return target.data if isinstance(target, Tensor) else target


def cross_entropy(logits: Tensor, target: Tensor | np.ndarray, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of (N, C) logits against int64 class labels (N,), on the fused,
    numerically stable kernel."""
    if not isinstance(logits, Tensor):
        raise _not_a_tensor("cross_entropy", "logits", logits)
    if reduction == "none":
        return nll_loss(log_softmax(logits, 1), target, reduction="none")
    _check_reduction(reduction, "cross_entropy")
    labels = _labels(target)
    loss, probs = _kernels.softmax_cross_entropy(logits.data, labels)
    scale = 1.0 / max(len(labels), 1) if reduction == "mean" else 1.0
    if reduction == "sum":
        # The kernel's mean over no rows is NaN, but their sum is 0 (as in PyTorch).
        loss = loss * len(labels) if len(labels) else 0.0

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        return (_kernels.softmax_cross_entropy_backward(probs, labels, float(g) * scale),)

    return _from_op(np.asarray(loss, dtype=_F32), (logits,), backward)


def nll_loss(log_probs: Tensor, target: Tensor | np.ndarray, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of (N, C) log-probabilities at int64 class labels (N,)."""
    if not isinstance(log_probs, Tensor):
        raise _not_a_tensor("nll_loss", "log_probs", log_probs)
    _check_reduction(reduction, "nll_loss")
    x = log_probs.data
    labels = _labels(target)
    if not isinstance(labels, np.ndarray) or labels.dtype != np.int64:
        raise TypeError(
            f"nll_loss: target must be an int64 array or tensor, got "
            f"{getattr(labels, 'dtype', type(labels).__name__)}"
        )
    if x.ndim != 2 or labels.shape != (x.shape[0],):
        raise ValueError(
            f"nll_loss: expected input (N, C) and target (N,), got input {x.shape}, "
            f"target {labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= x.shape[1]):
        raise ValueError(
            f"nll_loss: target holds labels outside [0, {x.shape[1]}) for input {x.shape}"
        )
    rows = np.arange(x.shape[0])
    picked = -x[rows, labels]
    n = x.shape[0]
    if reduction == "mean":
        out = np.asarray(picked.mean(dtype=np.float64) if n else np.nan, dtype=_F32)
    elif reduction == "sum":
        out = np.asarray(picked.sum(dtype=np.float64), dtype=_F32)
    else:
        out = np.ascontiguousarray(picked)

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        grad = np.zeros_like(x)
        grad[rows, labels] = -g / max(n, 1) if reduction == "mean" else -g
        return (grad,)

    return _from_op(out, (log_probs,), backward)


def mse_loss(x: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Squared error between x and a target of the same shape."""
    if not isinstance(x, Tensor):
        raise _not_a_tensor("mse_loss", "x", x)
    _check_reduction(reduction, "mse_loss")
    target_data = target.data if isinstance(target, Tensor) else np.asarray(target, dtype=_F32)
    if x.data.shape != target_data.shape:
        raise ValueError(
            f"mse_loss: input {x.data.shape} and target {target_data.shape} differ in shape"
        )
    diff = x.data - target_data
    squared = diff * diff
    if reduction == "mean":
        out = np.asarray(squared.mean(dtype=np.float64) if diff.size else np.nan, dtype=_F32)
        scale = np.float32(2.0 / max(diff.size, 1))
    elif reduction == "sum":
        out = np.asarray(squared.sum(dtype=np.float64), dtype=_F32)
        scale = np.float32(2.0)
    else:
        out = squared
        scale = np.float32(2.0)

    def backward(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        grad = (g * scale) * diff
        return grad, -grad

    parents = (x, target if isinstance(target, Tensor) else None)
    return _from_op(out, parents, backward)
