"""Layers and losses as functions of tensors: most are one kernel call forward and one backward
(softplus, gelu, local_response_norm and the dropout masks are NumPy).

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
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
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
    "local_response_norm",
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
    return _linear(input, weight, bias, False)


def _linear_relu(input: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """relu(linear(input, weight, bias)) as one op, for nn.Sequential's Linear then ReLU: the
    ReLU runs in place on the GEMM's fresh result and its backward inside the Linear's, with the
    bits of the two separate ops (the output is > 0 exactly where the Linear's output is), one
    graph node and one Python op fewer. The result's grad_fn is ReluBackward0, as the pair's."""
    return _linear(input, weight, bias, True)


def _linear(input: Tensor, weight: Tensor, bias: Tensor | None, relu: bool) -> Tensor:
    """linear, and with `relu` _linear_relu; errors name linear."""
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
    if relu:
        _kernels.relu(out, out=out)

    def backward(g: np.ndarray) -> tuple[Any, Any, Any]:
        # The three gradients (and the ReLU's mask) in one kernel call and one parallel job.
        g2 = g if g.ndim == 2 else g.reshape(x2.shape[0], g.shape[-1])
        grad_x, grad_w, grad_b = _kernels.linear_backward(
            g2,
            x2,
            w_data,
            (out if out.ndim == 2 else out.reshape(g2.shape)) if relu else None,
            input.requires_grad,
            weight.requires_grad,
            bias is not None and bias.requires_grad,
        )
        return None if grad_x is None else grad_x.reshape(x_shape), grad_w, grad_b

    # PyTorch's names: addmm (or mm without bias) on 2-D input, a view of it otherwise.
    if relu:
        name = "ReluBackward0"
    elif x_ndim == 2:
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
    depthwise when groups == in_channels); dilation spaces the kernel's taps. Each pass picks its
    algorithm by shape (`odyssey._kernels.conv2d_algorithms` says which): Winograd F(4x4, 3x3) for
    wide 3x3 stride-1 layers, the direct kernels (a group at a time) for dilation 1 with padding
    below the kernel, im2col + sgemm for the rest and for wide strided input gradients. Winograd
    rounds differently from the direct sum (within 1e-4 of the sum of the products' magnitudes);
    every path's bits depend on the values and shapes only, never on threads or addresses.
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
    # Positional arguments: pybind11 matches each keyword by name, about 0.35 us apiece.
    out = _kernels.conv2d_forward(x_data, w_data, b_data, stride, padding, dilation, groups)

    def backward(g: np.ndarray) -> tuple[Any, Any, Any]:
        grad_x = None
        if input.requires_grad:
            grad_x = _kernels.conv2d_backward_data(
                g, w_data, x_data.shape, stride, padding, dilation, groups
            )
            if extra != (0, 0):
                grad_x = np.ascontiguousarray(grad_x[:, :, : x_shape[2], : x_shape[3]])
        grad_w = grad_b = None
        bias_grad = bias is not None and bias.requires_grad
        if weight.requires_grad:
            grad_w, grad_b = _kernels.conv2d_backward_weight(
                x_data, g, w_data.shape[2:], stride, padding, dilation, groups, bias_grad
            )
        elif bias_grad:
            grad_b = g.sum(axis=(0, 2, 3), dtype=np.float32)
        return grad_x, grad_w, grad_b

    return _from_op(out, (input, weight, bias), backward, name="ConvolutionBackward0")


# -- pooling ----------------------------------------------------------------------------------


def _pooled_size(size: int, kernel: int, stride: int, pad: int, dilation: int, ceil: bool) -> int:
    """PyTorch's number of windows on an axis: floor (ceil in ceil_mode) of (size + 2 pad -
    dilation (kernel - 1) - 1) / stride, plus 1, where in ceil_mode the last window must start
    inside the input or its left padding; 0 when no window fits."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1 + (stride - 1 if ceil else 0)
    last = span // stride
    if ceil and last * stride >= size + pad:
        last -= 1
    return max(last + 1, 0)


_NO_PADDING, _NO_DILATION = (0, 0), (1, 1)
_POOL_LAYOUT = "(batch, channels, height, width), or a 3-D (channels, height, width) Tensor"


def _unbatched(input: Any) -> bool:
    """Whether a pooling input is one (C, H, W) image, which PyTorch pools as a batch of one."""
    return isinstance(input, Tensor) and input.data.ndim == 3


def _drop_batch(result: Any) -> Any:
    """A pooling result (or its (output, indices) pair) of a batch of one, without the batch."""
    if isinstance(result, tuple):
        return tuple(part.squeeze(0) for part in result)
    return result.squeeze(0)


def _check_pool_input_size(fn: str, shape: tuple[int, ...]) -> None:
    """The kernels index planes with int32 and take shapes below 2**31 on every axis."""
    if shape[2] * shape[3] >= check.WINDOW_LIMIT or max(shape) >= check.WINDOW_LIMIT:
        raise ValueError(
            f"{fn}: input {shape} is too large: height x width and every dimension must stay "
            f"below 2**31"
        )


def _pool_args(
    fn: str,
    input: Any,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
) -> tuple[np.ndarray, tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]:
    """The checked input array, window, stride, padding and dilation of a pooling function."""
    x_data = check.float_tensor(input, fn, "input")
    check.ndim(x_data, 4, fn, "input", _POOL_LAYOUT)
    kernel = check.pair(kernel_size, fn, "kernel_size", 1)
    step = kernel if stride is None else check.pair(stride, fn, "stride", 1)
    # The defaults skip the general checks: this runs on every call of a training step.
    plain_pad = type(padding) is int and padding == 0
    pad = _NO_PADDING if plain_pad else check.pair(padding, fn, "padding", 0)
    plain_dilation = type(dilation) is int and dilation == 1
    spread = _NO_DILATION if plain_dilation else check.pair(dilation, fn, "dilation", 1)
    if 2 * pad[0] > kernel[0] or 2 * pad[1] > kernel[1]:
        raise ValueError(
            f"{fn}: padding {pad} must be at most half the kernel_size {kernel} (as in PyTorch)"
        )
    _check_pool_input_size(fn, x_data.shape)
    h, w = x_data.shape[2], x_data.shape[3]
    if plain_pad and plain_dilation and not ceil_mode:
        fits = kernel[0] <= h and kernel[1] <= w
    else:
        ceil = bool(ceil_mode)
        fits = (
            _pooled_size(h, kernel[0], step[0], pad[0], spread[0], ceil) >= 1
            and _pooled_size(w, kernel[1], step[1], pad[1], spread[1], ceil) >= 1
        )
    if not fits:
        raise ValueError(
            f"{fn}: kernel_size {kernel} is larger than the input planes "
            f"{x_data.shape[2:]} with padding {pad} and dilation {spread} (input {x_data.shape})"
        )
    return x_data, kernel, step, pad, spread


def max_pool2d(
    input: Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Maximum over kernel_size windows of each NCHW plane, PyTorch's max_pool2d: stride defaults
    to kernel_size; padding (at most half the window) is ignored by the maximum; dilation spaces a
    window's taps; ceil_mode adds a last partial window where one starts inside the input or its
    left padding. Ties keep the first element in row-major order and a NaN wins. With
    return_indices, also each maximum's int64 index h * W + w in its input plane."""
    if _unbatched(input):
        return _drop_batch(
            max_pool2d(
                input.unsqueeze(0),
                kernel_size,
                stride,
                padding,
                dilation,
                ceil_mode,
                return_indices,
            )
        )
    y, argmax = _max_pool2d(
        "max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode, relu=False
    )
    return (y, Tensor(argmax.astype(np.int64))) if return_indices else y


def relu_max_pool2d(
    input: Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    ceil_mode: bool = False,
) -> Tensor:
    """max_pool2d(relu(input), ...) in one kernel pass each way, the usual convolution → ReLU →
    max-pool block of a CNN (nn.ReLUMaxPool2d is its module). ReLU commutes with the maximum, so
    it is applied to the pooled values (a quarter of them for 2x2 windows), and the backward pass
    routes each gradient to its window's maximum only where that maximum is > 0 (or NaN), as
    relu_backward does. The result and gradient are those of the two separate calls bit for bit:
    a window with no positive value and no NaN gives relu of its first element inside the input
    (-0.0 where that is -0.0, +0.0 otherwise), the first of equal maxima as max_pool2d keeps, and
    a window wholly in the padding (possible with dilation) gives -inf."""
    if _unbatched(input):
        return _drop_batch(
            relu_max_pool2d(input.unsqueeze(0), kernel_size, stride, padding, dilation, ceil_mode)
        )
    return _max_pool2d(
        "relu_max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode, relu=True
    )[0]


def _max_pool2d(
    fn: str,
    input: Tensor,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
    relu: bool,
) -> tuple[Tensor, np.ndarray]:
    """max_pool2d and relu_max_pool2d: one forward kernel call, and a backward that routes each
    gradient to its argmax (-1, where relu stopped it: nowhere). Returns the output and argmax."""
    x_data, kernel, step, pad, spread = _pool_args(
        fn, input, kernel_size, stride, padding, dilation, ceil_mode
    )
    x_shape = x_data.shape
    ceil = bool(ceil_mode)
    out, argmax = _kernels.max_pool2d_forward(x_data, kernel, step, pad, spread, ceil, relu)
    y = _from_op(
        out,
        (input,),
        lambda g: (
            _kernels.max_pool2d_backward(g, argmax, x_shape, kernel, step, pad, spread, ceil),
        ),
        name="ReluMaxPool2DWithIndicesBackward0" if relu else "MaxPool2DWithIndicesBackward0",
    )
    return y, argmax


def avg_pool2d(
    input: Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """Mean over kernel_size windows of each NCHW plane, PyTorch's avg_pool2d: stride defaults to
    kernel_size; the zero padding counts in the divisor with count_include_pad (a ceil_mode window
    that hangs past the padding counts only up to it), else only the window's elements inside the
    input do; divisor_override, when given, is the divisor of every window."""
    if _unbatched(input):
        return _drop_batch(
            avg_pool2d(
                input.unsqueeze(0),
                kernel_size,
                stride,
                padding,
                ceil_mode,
                count_include_pad,
                divisor_override,
            )
        )
    fn = "avg_pool2d"
    x_data, kernel, step, pad, _ = _pool_args(fn, input, kernel_size, stride, padding, 1, ceil_mode)
    divisor = None
    if divisor_override is not None:
        divisor = check.integer(divisor_override, fn, "divisor_override")
        if divisor == 0:
            raise ValueError(f"{fn}: divisor_override must not be 0")
    x_shape = x_data.shape
    options = (pad, bool(ceil_mode), bool(count_include_pad), divisor)
    out = _kernels.avg_pool2d_forward(x_data, kernel, step, *options)
    return _from_op(
        out,
        (input,),
        lambda g: (_kernels.avg_pool2d_backward(g, x_shape, kernel, step, *options),),
        name="AvgPool2DBackward0",
    )


def _output_size(fn: str, output_size: Any, x_shape: tuple[int, ...]) -> tuple[int, int]:
    """An adaptive pool's (out_h, out_w): an int, or a pair whose None entries keep the input's
    size on that axis, as in PyTorch."""
    if output_size is None or isinstance(output_size, (int, np.integer)):
        pair: Any = (output_size, output_size)
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        pair = tuple(output_size)
    else:
        raise TypeError(
            f"{fn}: output_size must be an int or a pair of ints or None, got {output_size!r}"
        )
    filled = tuple(x_shape[2 + a] if pair[a] is None else pair[a] for a in (0, 1))
    return check.pair(filled, fn, "output_size", 1)


def _adaptive_args(fn: str, input: Any, output_size: Any) -> tuple[np.ndarray, tuple[int, int]]:
    """The checked input array and output size of an adaptive pool."""
    x_data = check.float_tensor(input, fn, "input")
    check.ndim(x_data, 4, fn, "input", _POOL_LAYOUT)
    if x_data.shape[2] == 0 or x_data.shape[3] == 0:
        raise ValueError(f"{fn}: input {x_data.shape} has empty planes: nothing to pool")
    _check_pool_input_size(fn, x_data.shape)
    return x_data, _output_size(fn, output_size, x_data.shape)


def adaptive_avg_pool2d(input: Tensor, output_size: int | tuple[int | None, int | None]) -> Tensor:
    """Averages over output_size windows that tile each NCHW plane as evenly as integers allow:
    output (i, j) averages rows [floor(i H / out_h), ceil((i + 1) H / out_h)) and the columns
    likewise, PyTorch's windows. A None in output_size keeps the input's size on that axis."""
    if _unbatched(input):
        return _drop_batch(adaptive_avg_pool2d(input.unsqueeze(0), output_size))
    x_data, size = _adaptive_args("adaptive_avg_pool2d", input, output_size)
    x_shape = x_data.shape
    out = _kernels.adaptive_avg_pool2d_forward(x_data, size)
    return _from_op(
        out,
        (input,),
        lambda g: (_kernels.adaptive_avg_pool2d_backward(g, x_shape),),
        name="AdaptiveAvgPool2DBackward0",
    )


def adaptive_max_pool2d(
    input: Tensor,
    output_size: int | tuple[int | None, int | None],
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Maxima over adaptive_avg_pool2d's windows, ties and NaNs as max_pool2d; with
    return_indices, also each maximum's int64 index h * W + w in its input plane."""
    if _unbatched(input):
        return _drop_batch(adaptive_max_pool2d(input.unsqueeze(0), output_size, return_indices))
    x_data, size = _adaptive_args("adaptive_max_pool2d", input, output_size)
    x_shape = x_data.shape
    out, argmax = _kernels.adaptive_max_pool2d_forward(x_data, size)
    y = _from_op(
        out,
        (input,),
        lambda g: (_kernels.adaptive_max_pool2d_backward(g, argmax, x_shape),),
        name="AdaptiveMaxPool2DBackward0",
    )
    if return_indices:
        return y, Tensor(argmax.astype(np.int64))
    return y


def _channel_window_sum(a: np.ndarray, before: int, after: int) -> np.ndarray:
    """Each channel's sum of a over channels [c - before, c + after] (zero outside), axis 1,
    added in channel order."""
    if a.size == 0:
        return np.zeros_like(a)
    # Reaches past every channel add only zeros: clipped, a huge size costs no memory.
    channels = a.shape[1]
    before, after = min(before, channels), min(after, channels)
    widths = [(0, 0)] * a.ndim
    widths[1] = (before, after)
    padded = np.pad(a, widths)
    total = np.zeros_like(a)
    for t in range(before + after + 1):
        total += padded[:, t : t + channels]
    return total


def local_response_norm(
    input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
) -> Tensor:
    """AlexNet's local response normalisation across channels, PyTorch's formula:
    x_c / (k + alpha / size * sum of x_j^2 over channels j in [c - size // 2, c + (size - 1) // 2])
    ** beta, channels outside the input counting as zeros (the divisor stays `size` at the edges).
    Input (N, C, ...) with at least 3 dimensions. Its grad_fn is torch's (DivBackward0, the last of
    its composed ops); the backward pass here is the closed form, in float64."""
    fn = "local_response_norm"
    x_data = check.float_tensor(input, fn, "input")
    if x_data.ndim < 3:
        raise ValueError(
            f"{fn}: input must have 3 or more dimensions (batch, channels, ...), got shape "
            f"{x_data.shape}"
        )
    n = check.integer(size, fn, "size", 1)
    a, b, bias = (
        check.real(alpha, fn, "alpha"),
        check.real(beta, fn, "beta"),
        check.real(k, fn, "k"),
    )
    before, after = n // 2, (n - 1) // 2
    # float32 throughout, in PyTorch's order: the mean of the squares, times alpha, plus k, ** beta.
    mean = _channel_window_sum(x_data * x_data, before, after) / np.float32(n)
    div = (mean * np.float32(a) + np.float32(bias)) ** np.float32(b)
    out = x_data / div

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        x64, g64 = x_data.astype(np.float64), g.astype(np.float64)
        base = _channel_window_sum(x64 * x64, before, after) * (a / n) + bias
        scale = base**-b
        # x_i appears in the window of every channel c in [i - after, i + before].
        through = _channel_window_sum(g64 * x64 * scale / base, after, before)
        return ((g64 * scale - (2 * a * b / n) * x64 * through).astype(np.float32),)

    return _from_op(out.astype(np.float32, copy=False), (input,), backward, name="DivBackward0")


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
