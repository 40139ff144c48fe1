"""Conv2d: NCHW cross-correlation with weight (out, in, kh, kw), as in PyTorch."""

from __future__ import annotations

import numpy as np

from odyssey import _checks as check
from odyssey.nn import functional as F
from odyssey.nn.linear import reset_weight_and_bias
from odyssey.nn.module import Module
from odyssey.nn.parameter import Parameter
from odyssey.tensor import Tensor


class Conv2d(Module):
    """conv2d with a learned weight (out_channels, in_channels, kh, kw) and bias (out_channels,)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels = check.size(in_channels, "Conv2d", "in_channels")
        self.out_channels = check.size(out_channels, "Conv2d", "out_channels")
        self.kernel_size = check.pair(kernel_size, "Conv2d", "kernel_size", 1)
        self.stride = check.pair(stride, "Conv2d", "stride", 1)
        self.padding = check.pair(padding, "Conv2d", "padding", 0)
        shape = (out_channels, in_channels, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=np.float32))
        self.bias = Parameter(np.empty(out_channels, dtype=np.float32)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        fan_in = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        reset_weight_and_bias(self.weight, self.bias, fan_in)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}"
        )
