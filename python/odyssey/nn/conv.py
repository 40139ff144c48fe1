"""Conv2d: NCHW cross-correlation with weight (out, in / groups, kh, kw), as in PyTorch."""

from __future__ import annotations

import math

import numpy as np

from odyssey import _checks as check
from odyssey.nn import functional as F
from odyssey.nn.linear import reset_weight_and_bias
from odyssey.nn.module import Module
from odyssey.nn.parameter import Parameter
from odyssey.tensor import Tensor

_PADDING_STRINGS = ("same", "valid")
# PyTorch's padding modes; only zero padding is implemented.
_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class Conv2d(Module):
    """conv2d with a learned weight (out_channels, in_channels / groups, kh, kw) and, when `bias`,
    a bias (out_channels,): PyTorch's arguments, defaults and initialization."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        self.in_channels = check.size(in_channels, "Conv2d", "in_channels")
        self.out_channels = check.size(out_channels, "Conv2d", "out_channels")
        self.kernel_size = check.pair(kernel_size, "Conv2d", "kernel_size", 1)
        self.stride = check.pair(stride, "Conv2d", "stride", 1)
        self.dilation = check.pair(dilation, "Conv2d", "dilation", 1)
        self.groups = check.integer(groups, "Conv2d", "groups", 1, check.WINDOW_LIMIT)
        for name, channels in (("in_channels", in_channels), ("out_channels", out_channels)):
            if channels % self.groups:
                raise ValueError(
                    f"Conv2d: {name} ({channels}) must be divisible by groups ({self.groups})"
                )
        self.padding: tuple[int, int] | str
        if isinstance(padding, str):
            if padding not in _PADDING_STRINGS:
                raise ValueError(
                    f"Conv2d: padding must be an int, a pair, 'same' or 'valid', got {padding!r}"
                )
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(
                    "Conv2d: padding='same' is not supported for strided convolutions, "
                    f"got stride {self.stride}"
                )
            self.padding = padding
        else:
            self.padding = check.pair(padding, "Conv2d", "padding", 0)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(
                f"Conv2d: padding_mode must be one of {', '.join(_PADDING_MODES)}, "
                f"got {padding_mode!r}"
            )
        if padding_mode != "zeros":
            raise NotImplementedError(
                f"Conv2d: padding_mode={padding_mode!r} is not implemented; only 'zeros' is"
            )
        self.padding_mode = padding_mode
        shape = (out_channels, in_channels // self.groups, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=np.float32))
        self.bias = Parameter(np.empty(out_channels, dtype=np.float32)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's: U(+-1/sqrt(fan_in)) for weight and bias, fan_in = in / groups * kh * kw."""
        fan_in = self.in_channels // self.groups * math.prod(self.kernel_size)
        reset_weight_and_bias(self.weight, self.bias, fan_in)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(
            x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )

    def extra_repr(self) -> str:
        """PyTorch's text: the defaults (no padding, dilation 1, one group, a bias) left out."""
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text
