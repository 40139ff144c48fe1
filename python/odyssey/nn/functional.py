"""Layers and losses as functions of tensors: most are one kernel call forward and one backward
(softplus and gelu are a few NumPy ufuncs each).

These sit on the training step's hot path (a LeNet step is ~30 of them), so they do little in
Python: each checks its arguments with odyssey._checks (attribute reads and comparisons, naming the
function and argument, as PyTorch's names them), and a backward closure computes only the gradients
that some input needs. Each result's `grad_fn` carries PyTorch's name for the op.

`inplace=True` is accepted where PyTorch's signature has it, so that PyTorch model code runs
unchanged, but the result is always a new tensor and the input keeps its values: the autograd
engine has no version counters, so an in-place write could silently corrupt a value that a
recorded backward still needs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from odyssey import _checks as check
from odyssey import _kernels
from odyssey.random import generator
from odyssey.tensor import Tensor, _from_op, _normalize_dim

__all__ = [
    "avg_pool2d",
    "batch_norm",
    "conv2d",
    "cross_entropy",
    "dropout",
    "dropout2d",
    "flatten",
    "gelu",
    "hardtanh",
    "leaky_relu",
    "lecun_tanh",
    "linear",
    "log_softmax",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "relu",
    "relu6",
    "relu_max_pool2d",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "tanh",
]

_F32 = np.dtype(np.float32)


# -- linear and convolution -------------------------------------------------------------------


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias on sgemm (trans_b, bias fused); input (..., in), weight (out, in)."""
    x_data = check.float_tensor(input, "linear", "input")
    w_data = check.float_tensor(weight, "linear", "weight")
    b_data = None if bias is None else check.float_tensor(bias, "linear", "bias")
    check.ndim(w_data, 2, "linear", "weight", "(out_features, in_features)")
    x_shape = x_data.shape
    w_shape = w_data.shape
    x_ndim = len(x_shape)
    features = x_shape[-1] if x_ndim else 0
    if x_ndim < 1 or features != w_shape[1]:
        raise ValueError(
            f"linear: input has {features} features but weight expects {w_shape[1]} "
            f"(input {x_shape}, weight {w_shape})"
        )
    if b_data is not None and b_data.shape != (w_shape[0],):
        raise ValueError(
            f"linear: bias must have shape ({w_shape[0]},) for weight {w_shape}, got {b_data.shape}"
        )
    if x_ndim == 2:
        x2 = x_data
        out = _kernels.sgemm(x2, w_data, trans_b=True, bias=b_data)
    else:
        batch_shape = x_shape[:-1]
        # Rows counted, not -1: NumPy cannot infer -1 next to a dimension of size 0.
        x2 = x_data.reshape(math.prod(batch_shape), features)
        out = _kernels.sgemm(x2, w_data, trans_b=True, bias=b_data).reshape(
            *batch_shape, w_shape[0]
        )

    def backward(g: np.ndarray) -> tuple[Any, Any, Any]:
        g2 = g if g.ndim == 2 else g.reshape(x2.shape[0], g.shape[-1])
        grad_x = _kernels.sgemm(g2, w_data).reshape(x_shape) if input.requires_grad else None
        grad_w = _kernels.sgemm(g2, x2, trans_a=True) if weight.requires_grad else None
        grad_b = g2.sum(axis=0) if bias is not None and bias.requires_grad else None
        return grad_x, grad_w, grad_b

    # PyTorch's names: addmm (or mm without bias) on 2-D input, a view of it otherwise.
    if x_ndim == 2:
        name = "MmBackward0" if b_data is None else "AddmmBackward0"
    else:
        name = "UnsafeViewBackward0" if b_data is None else "ViewBackward0"
    return _from_op(out, (input, weight, bias), backward, name)


def _check_conv2d(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None,
    padding: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
) -> None:
    """The geometry checks of conv2d; the messages name the shapes involved."""
    check.ndim(x, 4, "conv2d", "input", "(batch, channels, height, width)")
    check.ndim(w, 4, "conv2d", "weight", "(out_channels, in_channels / groups, kernel_h, kernel_w)")
    _, channels, height, width = x.shape
    out_channels, in_channels, kernel_h, kernel_w = w.shape
    problem = None
    if channels != in_channels * groups:
        expected = f"{in_channels}" if groups == 1 else f"{in_channels} per group x {groups}"
        problem = f"input has {channels} channels but weight expects {expected}"
    elif out_channels % groups:
        problem = f"weight's {out_channels} output channels are not divisible by groups={groups}"
    elif kernel_h < 1 or kernel_w < 1:
        problem = "weight's kernel size must be >= 1"
    elif b is not None and b.shape != (out_channels,):
        problem = f"bias must have shape ({out_channels},), got {b.shape}"
    else:
        extent = (dilation[0] * (kernel_h - 1) + 1, dilation[1] * (kernel_w - 1) + 1)
        padded = (height + 2 * padding[0], width + 2 * padding[1])
        if extent[0] > padded[0] or extent[1] > padded[1]:
            dilated = "" if dilation == (1, 1) else f" dilated to {extent}"
            problem = (
                f"kernel {(kernel_h, kernel_w)}{dilated} is larger than the padded input {padded}"
            )
    if problem is not None:
        raise ValueError(f"conv2d: {problem} (input {x.shape}, weight {w.shape})")


def _conv2d_padding(
    padding: Any, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]
) -> tuple[tuple[int, int], tuple[int, int]]:
    """(symmetric padding, extra rows and columns at the bottom and right) of conv2d's padding
    argument: an int, a pair, 'valid' (none) or 'same' (the output as large as the input, stride 1
    only). For 'same', PyTorch pads dilation * (kernel - 1) in all, half on each side, and the odd
    one left over at the bottom or right."""
    if not isinstance(padding, str):
        return check.pair(padding, "conv2d", "padding", 0), (0, 0)
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding != "same":
        raise ValueError(
            f"conv2d: padding must be an int, a pair, 'same' or 'valid', got {padding!r}"
        )
    if stride != (1, 1):
        raise ValueError(
            f"conv2d: padding='same' is not supported for strided convolutions, got stride {stride}"
        )
    total = (dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1))
    return (total[0] // 2, total[1] // 2), (total[0] % 2, total[1] % 2)


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> Tensor:
    """2-D cross-correlation of NCHW input with weight (out, in / groups, kh, kw), as PyTorch's.

    Groups split the channels into `groups` independent convolutions (AlexNet's two towers;
    depthwise when groups == in_channels); dilation spaces the kernel's taps. Dilation 1 with
    padding below the kernel runs the direct kernels (a group at a time), the rest im2col + sgemm.
    """
    x_data = check.float_tensor(input, "conv2d", "input")
    w_data = check.float_tensor(weight, "conv2d", "weight")
    b_data = None if bias is None else check.float_tensor(bias, "conv2d", "bias")
    stride = check.pair(stride, "conv2d", "stride", 1)
    dilation = check.pair(dilation, "conv2d", "dilation", 1)
    groups = check.integer(groups, "conv2d", "groups", 1, check.WINDOW_LIMIT)
    check.ndim(
        w_data, 4, "conv2d", "weight", "(out_channels, in_channels / groups, kernel_h, kernel_w)"
    )
    padding, extra = _conv2d_padding(padding, w_data.shape[2:], stride, dilation)
    x_shape = x_data.shape
    if extra != (0, 0):
        check.ndim(x_data, 4, "conv2d", "input", "(batch, channels, height, width)")
        x_data = np.pad(x_data, ((0, 0), (0, 0), (0, extra[0]), (0, extra[1])))
    _check_conv2d(x_data, w_data, b_data, padding, dilation, groups)
    options = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    out = _kernels.conv2d_forward(x_data, w_data, b_data, **options)

    def backward(g: np.ndarray) -> tuple[Any, Any, Any]:
        grad_x = None
        if input.requires_grad:
            grad_x = _kernels.conv2d_backward_data(g, w_data, x_data.shape, **options)
            if extra != (0, 0):
                grad_x = np.ascontiguousarray(grad_x[:, :, : x_shape[2], : x_shape[3]])
        grad_w = grad_b = None
        if weight.requires_grad or (bias is not None and bias.requires_grad):
            grad_w, grad_b = _kernels.conv2d_backward_weight(
                x_data, g, w_data.shape[2:], bias=bias is not None, **options
            )
        return grad_x, grad_w, grad_b

    return _from_op(out, (input, weight, bias), backward, name="ConvolutionBackward0")


# -- pooling ----------------------------------------------------------------------------------


def _pool_args(
    fn: str, input: Any, kernel_size: Any, stride: Any
) -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
    """The checked input array, window and stride of a pooling function."""
    x_data = check.float_tensor(input, fn, "input")
    check.ndim(x_data, 4, fn, "input", "(batch, channels, height, width)")
    kernel = check.pair(kernel_size, fn, "kernel_size", 1)
    step = kernel if stride is None else check.pair(stride, fn, "stride", 1)
    if x_data.shape[2] * x_data.shape[3] >= check.WINDOW_LIMIT:
        raise ValueError(
            f"{fn}: input planes of {x_data.shape} are too large: height x width must stay "
            f"below 2**31"
        )
    if kernel[0] > x_data.shape[2] or kernel[1] > x_data.shape[3]:
        raise ValueError(
            f"{fn}: kernel_size {kernel} is larger than the input planes "
            f"{x_data.shape[2:]} (input {x_data.shape})"
        )
    return x_data, kernel, step


def max_pool2d(
    input: Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
) -> Tensor:
    """Maximum over kernel_size windows of each NCHW plane (stride defaults to kernel_size)."""
    return _max_pool2d("max_pool2d", input, kernel_size, stride, relu=False)


def relu_max_pool2d(
    input: Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
) -> Tensor:
    """max_pool2d(relu(input), kernel_size, stride) in one kernel pass each way, the usual
    convolution → ReLU → max-pool block of a CNN. ReLU commutes with the maximum, so it is applied
    to the pooled values (a quarter of them for 2x2 windows), and the backward pass routes each
    gradient to its window's maximum only where that maximum is > 0 (or NaN), as relu_backward
    does. The result and gradient equal those of the two separate calls, except that an output
    whose window holds no positive value is +0.0 (the separate calls may give -0.0)."""
    return _max_pool2d("relu_max_pool2d", input, kernel_size, stride, relu=True)


def _max_pool2d(fn: str, input: Tensor, kernel_size: Any, stride: Any, relu: bool) -> Tensor:
    """max_pool2d and relu_max_pool2d: one forward kernel call, and a backward that routes each
    gradient to its argmax (-1, where relu stopped it: nowhere)."""
    x_data, kernel, step = _pool_args(fn, input, kernel_size, stride)
    x_shape = x_data.shape
    out, argmax = _kernels.max_pool2d_forward(x_data, kernel, step, relu=relu)
    return _from_op(
        out,
        (input,),
        lambda g: (_kernels.max_pool2d_backward(g, argmax, x_shape, kernel, step),),
    )


def avg_pool2d(
    input: Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
) -> Tensor:
    """Mean over kernel_size windows of each NCHW plane (stride defaults to kernel_size)."""
    x_data, kernel, step = _pool_args("avg_pool2d", input, kernel_size, stride)
    x_shape = x_data.shape
    out = _kernels.avg_pool2d_forward(x_data, kernel, step)
    return _from_op(
        out, (input,), lambda g: (_kernels.avg_pool2d_backward(g, x_shape, kernel, step),)
    )


# -- activations ------------------------------------------------------------------------------


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(input, 0) elementwise (`inplace`: see the module docstring)."""
    x_data = check.float_tensor(input, "relu", "input")
    return _from_op(
        _kernels.relu(x_data),
        (input,),
        lambda g: (_kernels.relu_backward(g, x_data),),
        "ReluBackward0",
    )


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """input > 0 ? input : input * negative_slope elementwise (`inplace`: see the module
    docstring)."""
    x_data = check.float_tensor(input, "leaky_relu", "input")
    slope = check.real(negative_slope, "leaky_relu", "negative_slope")
    return _from_op(
        _kernels.leaky_relu(x_data, slope),
        (input,),
        lambda g: (_kernels.leaky_relu_backward(g, x_data, slope),),
        "LeakyReluBackward0",
    )


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-input)) elementwise."""
    y = _kernels.sigmoid(check.float_tensor(input, "sigmoid", "input"))
    return _from_op(y, (input,), lambda g: (_kernels.sigmoid_backward(g, y),), "SigmoidBackward0")


def tanh(input: Tensor) -> Tensor:
    """tanh(input) elementwise."""
    y = _kernels.tanh(check.float_tensor(input, "tanh", "input"))
    return _from_op(y, (input,), lambda g: (_kernels.tanh_backward(g, y),), "TanhBackward0")


def lecun_tanh(input: Tensor) -> Tensor:
    """LeCun's scaled tanh 1.7159 * tanh(2x / 3) (LeCun et al. 1998, appendix A)."""
    y = _kernels.lecun_tanh(check.float_tensor(input, "lecun_tanh", "input"))
    # Not a PyTorch op: named after its own function, in PyTorch's pattern.
    return _from_op(
        y, (input,), lambda g: (_kernels.lecun_tanh_backward(g, y),), "LecunTanhBackward0"
    )


def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """input clamped to [min_val, max_val]; the gradient flows strictly inside the interval, as
    in PyTorch (`inplace`: see the module docstring)."""
    x_data = check.float_tensor(input, "hardtanh", "input")
    low = check.real(min_val, "hardtanh", "min_val")
    high = check.real(max_val, "hardtanh", "max_val")
    if low > high:
        raise ValueError(f"hardtanh: max_val {max_val} must be >= min_val {min_val}")
    return _hardtanh(input, x_data, low, high)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(input, 0), 6) elementwise: hardtanh(input, 0, 6) (`inplace`: see the module
    docstring)."""
    return _hardtanh(input, check.float_tensor(input, "relu6", "input"), 0.0, 6.0)


def _hardtanh(input: Tensor, x_data: np.ndarray, low: float, high: float) -> Tensor:
    return _from_op(
        _kernels.hardtanh(x_data, low, high),
        (input,),
        lambda g: (_kernels.hardtanh_backward(g, x_data, low, high),),
        "HardtanhBackward0",
    )


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * input)) / beta, and input itself where beta * input > threshold (where
    the two agree to float precision), as in PyTorch."""
    x_data = check.float_tensor(input, "softplus", "input")
    beta = check.real(beta, "softplus", "beta")
    threshold = check.real(threshold, "softplus", "threshold")
    scaled = np.asarray(x_data * np.float32(beta))  # an array even when 0-d
    linear = scaled > np.float32(threshold)
    with np.errstate(over="ignore"):
        smooth = np.logaddexp(np.float32(0), scaled) / np.float32(beta)
    out = np.where(linear, x_data, smooth).astype(_F32, copy=False)

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        # d/dx = sigmoid(beta * x), from the kernel (exact saturation, no overflow).
        return (np.where(linear, g, g * _kernels.sigmoid(scaled)),)

    return _from_op(out, (input,), backward, "SoftplusBackward0")


_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    """Phi(x) = erfc(-x / sqrt(2)) / 2 for float64 x, to a relative error below 1.2e-7 in both
    tails (the Chebyshev-fitted erfc of Numerical Recipes, 6.2): well inside float32 rounding.
    NumPy has no erf, and SciPy is not a dependency of the library."""
    z = np.abs(x) * _SQRT_HALF
    t = 1.0 / (1.0 + 0.5 * z)
    coefficients = (
        0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807,
        -0.18628806, 0.09678418, 0.37409196, 1.00002368, -1.26551223,
    )  # fmt: skip
    poly = np.zeros_like(t)
    for c in coefficients:
        poly = poly * t + c
    tail = 0.5 * t * np.exp(poly - z * z)  # erfc(z) / 2 = Phi(-|x|)
    return np.where(x >= 0, 1.0 - tail, tail)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """input * Phi(input), Phi the standard normal CDF (Hendrycks and Gimpel 2016); with
    approximate='tanh', 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))). Computed in double
    precision and rounded once."""
    x_data = check.float_tensor(input, "gelu", "input")
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    x = x_data.astype(np.float64)  # NumPy gives scalars for 0-d arrays: np.asarray below
    if approximate == "none":
        cdf = _normal_cdf(x)
        out = x * cdf

        def derivative() -> np.ndarray:
            return cdf + x * _INV_SQRT_2PI * np.exp(-0.5 * x * x)

    else:
        t = np.tanh(_SQRT_2_OVER_PI * (x + _GELU_CUBIC * x * x * x))
        out = 0.5 * x * (1.0 + t)

        def derivative() -> np.ndarray:
            inner = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_CUBIC * x * x)
            return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * inner

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        return (np.asarray(g * derivative(), dtype=_F32),)

    return _from_op(np.asarray(out, dtype=_F32), (input,), backward, "GeluBackward0")


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """input * sigmoid(input) elementwise, the swish of Ramachandran et al. 2017 (`inplace`: see
    the module docstring)."""
    x_data = check.float_tensor(input, "silu", "input")
    return _from_op(
        _kernels.silu(x_data),
        (input,),
        lambda g: (_kernels.silu_backward(g, x_data),),
        "SiluBackward0",
    )


def _last_axis_op(
    input: Tensor, dim: int, forward: Any, backward: Any, fn: str, name: str
) -> Tensor:
    """Runs a 2-D kernel over the last axis of a (rows, dim) view of input with `dim` moved last."""
    x_data = check.float_tensor(input, fn, "input")
    ndim = x_data.ndim
    axis = _normalize_dim(dim, ndim, fn)
    last = axis == ndim - 1 or ndim == 0
    moved = x_data if last else np.ascontiguousarray(np.moveaxis(x_data, axis, -1))
    cols = moved.shape[-1] if ndim else 1
    rows = moved.reshape(math.prod(moved.shape[:-1]), cols)
    y_rows = forward(rows)
    y_moved = y_rows.reshape(moved.shape)
    y = y_moved if last else np.ascontiguousarray(np.moveaxis(y_moved, -1, axis))

    def grad(g: np.ndarray) -> tuple[np.ndarray]:
        g_moved = g if last else np.ascontiguousarray(np.moveaxis(g, axis, -1))
        grad_rows = backward(g_moved.reshape(rows.shape), y_rows)
        grad_moved = grad_rows.reshape(moved.shape)
        return (grad_moved if last else np.ascontiguousarray(np.moveaxis(grad_moved, -1, axis)),)

    return _from_op(y, (input,), grad, name)


def softmax(input: Tensor, dim: int) -> Tensor:
    """exp(input) / sum(exp(input)) along dim, computed stably."""
    return _last_axis_op(
        input, dim, _kernels.softmax, _kernels.softmax_backward, "softmax", "SoftmaxBackward0"
    )


def log_softmax(input: Tensor, dim: int) -> Tensor:
    """input - log(sum(exp(input))) along dim, computed stably."""
    return _last_axis_op(
        input,
        dim,
        _kernels.log_softmax,
        _kernels.log_softmax_backward,
        "log_softmax",
        "LogSoftmaxBackward0",
    )


# -- shape and regularisation -----------------------------------------------------------------


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """The dims start_dim..end_dim of input merged into one."""
    check.tensor(input, "flatten", "input")
    return input.flatten(
        check.integer(start_dim, "flatten", "start_dim"),
        check.integer(end_dim, "flatten", "end_dim"),
    )


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zeroes each element with probability p and scales the rest by 1 / (1 - p) when training;
    the mask comes from the generator that `odyssey.manual_seed` seeds (`inplace`: see the
    module docstring)."""
    x_data = check.float_tensor(input, "dropout", "input")
    p = check.probability(p, "dropout")
    return _dropout(input, x_data, p, training, x_data.shape)


def dropout2d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> Tensor:
    """Zeroes whole channels, each with probability p, of (N, C, H, W) input and scales the rest
    by 1 / (1 - p) when training (Tompson et al. 2015). A 3-D input is taken as (N, C, L), as
    PyTorch does; `inplace`: see the module docstring."""
    x_data = check.float_tensor(input, "dropout2d", "input")
    if x_data.ndim not in (3, 4):
        raise ValueError(
            f"dropout2d: input must be (N, C, H, W) or (N, C, L), got shape {x_data.shape}"
        )
    p = check.probability(p, "dropout2d")
    return _dropout(input, x_data, p, training, x_data.shape[:2] + (1,) * (x_data.ndim - 2))


def _dropout(
    input: Tensor, x_data: np.ndarray, p: float, training: bool, mask_shape: tuple[int, ...]
) -> Tensor:
    """x * mask, the mask of `mask_shape` (broadcast over the rest) keeping with 1 - p."""
    if not training or p == 0.0:
        return input
    if p == 1.0:
        mask = np.zeros(mask_shape, dtype=_F32)
    else:
        keep = generator().random(mask_shape, dtype=np.float32) >= np.float32(p)
        mask = keep * np.float32(1.0 / (1.0 - p))
    return _from_op(x_data * mask, (input,), lambda g: (g * mask,), "MulBackward0")


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalises each channel (dim 1) of input, (N, C) or (N, C, ...), as PyTorch does: by the
    batch's mean and biased variance when training (then running_mean and running_var, if given,
    move by momentum towards the batch mean and the unbiased variance, in place), else by the
    running statistics; then scales by weight and shifts by bias. One C++ kernel forward
    (per-channel sums in double, in a fixed order) and one backward."""
    fn = "batch_norm"
    x_data = check.float_tensor(input, fn, "input")
    if x_data.ndim < 2:
        raise ValueError(f"{fn}: input must have 2 or more dims, got shape {x_data.shape}")
    channels = x_data.shape[1]
    arrays: dict[str, np.ndarray | None] = {}
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):  # fmt: skip
        arrays[name] = None if t is None else check.float_tensor(t, fn, name)
        if arrays[name] is not None and arrays[name].shape != (channels,):
            raise ValueError(
                f"{fn}: {name} has shape {t.data.shape} but input {x_data.shape} has "
                f"{channels} channels"
            )
    momentum = check.real(momentum, fn, "momentum")
    eps = check.real(eps, fn, "eps")
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{fn}: running_mean and running_var must both be None or neither")
    if training:
        if x_data.size // max(channels, 1) <= 1:
            raise ValueError(
                f"{fn}: expected more than 1 value per channel when training, got input "
                f"{x_data.shape}"
            )
        if eps <= 0.0:
            raise ValueError(f"{fn}: eps must be positive when training, got {eps}")
    else:
        if running_mean is None:
            raise ValueError(f"{fn}: running_mean and running_var are needed when not training")
        if eps < 0.0:
            raise ValueError(f"{fn}: eps must be non-negative, got {eps}")
    w_data, rm, rv = arrays["weight"], arrays["running_mean"], arrays["running_var"]
    out, mean, invstd = _kernels.batch_norm_forward(
        x_data, w_data, arrays["bias"], rm, rv, training=training, momentum=momentum, eps=eps
    )
    if training:  # a strided buffer was updated in a copy: write it back
        for t, updated in ((running_mean, rm), (running_var, rv)):
            if t is not None and updated is not t.data:
                t.data[...] = updated

    def backward(g: np.ndarray) -> tuple[Any, ...]:
        grad_x, grad_w, grad_b = _kernels.batch_norm_backward(
            np.ascontiguousarray(g, dtype=_F32),
            x_data,
            w_data,
            mean,
            invstd,
            training=training,
            input_grad=input.requires_grad,
            weight_grad=weight is not None and weight.requires_grad,
            bias_grad=bias is not None and bias.requires_grad,
        )
        return grad_x, None, None, grad_w, grad_b

    return _from_op(
        out,
        (input, running_mean, running_var, weight, bias),
        backward,
        name="NativeBatchNormBackward0",
    )


# -- losses -----------------------------------------------------------------------------------


def _loss_input(fn: str, input: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
    """The (N, C) scores and the N int64 class labels of a classification loss."""
    x = check.float_tensor(input, fn, "input")
    check.ndim(x, 2, fn, "input", "(batch, classes)")
    return x, check.class_labels(target, x.shape[0], fn)


def cross_entropy(input: Tensor, target: Tensor | np.ndarray, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of (N, C) logits against int64 class labels (N,), on the fused,
    numerically stable kernel."""
    x, labels = _loss_input("cross_entropy", input, target)
    check.reduction(reduction, "cross_entropy")
    if reduction == "none":
        check.labels_in_range(labels, x.shape[1], "cross_entropy")
        return _nll(log_softmax(input, 1), labels, "none")
    try:
        loss, probs = _kernels.softmax_cross_entropy(x, labels)
    except ValueError:  # the kernel found a label out of range: name it in the public terms
        check.labels_in_range(labels, x.shape[1], "cross_entropy")
        raise
    scale = 1.0 / max(len(labels), 1) if reduction == "mean" else 1.0
    if reduction == "sum":
        # The kernel's mean over no rows is NaN, but their sum is 0 (as in PyTorch).
        loss = loss * len(labels) if len(labels) else 0.0

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        return (_kernels.softmax_cross_entropy_backward(probs, labels, float(g) * scale),)

    # PyTorch computes cross_entropy as nll_loss(log_softmax(input)), hence its name.
    return _from_op(np.asarray(loss, dtype=_F32), (input,), backward, "NllLossBackward0")


def nll_loss(input: Tensor, target: Tensor | np.ndarray, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of (N, C) log-probabilities at int64 class labels (N,)."""
    x, labels = _loss_input("nll_loss", input, target)
    check.reduction(reduction, "nll_loss")
    check.labels_in_range(labels, x.shape[1], "nll_loss")
    return _nll(input, labels, reduction)


def _nll(log_probs: Tensor, labels: np.ndarray, reduction: str) -> Tensor:
    """nll_loss on checked arguments."""
    x = log_probs.data
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

    return _from_op(out, (log_probs,), backward, "NllLossBackward0")


def mse_loss(input: Tensor, target: Tensor | np.ndarray, reduction: str = "mean") -> Tensor:
    """Squared error between input and a target of the same shape."""
    x_data = check.float_tensor(input, "mse_loss", "input")
    check.reduction(reduction, "mse_loss")
    if isinstance(target, Tensor):
        target_data = check.float_tensor(target, "mse_loss", "target")
    else:
        try:
            target_data = np.asarray(target, dtype=_F32)
        except (TypeError, ValueError):
            raise TypeError(
                f"mse_loss: target must be a Tensor or an array of numbers, not "
                f"{type(target).__name__}"
            ) from None
    if x_data.shape != target_data.shape:
        raise ValueError(
            f"mse_loss: input {x_data.shape} and target {target_data.shape} differ in shape"
        )
    diff = x_data - target_data
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

    target_tensor = target if isinstance(target, Tensor) else None

    def backward(g: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        grad = (g * scale) * diff
        needs_target = target_tensor is not None and target_tensor.requires_grad
        return (grad if input.requires_grad else None), (-grad if needs_target else None)

    return _from_op(out, (input, target_tensor), backward, "MseLossBackward0")
