"""MaxPool2d and AvgPool2d over NCHW planes (no padding; stride defaults to the window)."""

from __future__ import annotations

from odyssey import _checks as check
from odyssey.nn import functional as F
from odyssey.nn.module import Module
from odyssey.tensor import Tensor


class _Pool2d(Module):
    def __init__(
        self, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.kernel_size = check.pair(kernel_size, name, "kernel_size", 1)
        self.stride = self.kernel_size if stride is None else check.pair(stride, name, "stride", 1)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class MaxPool2d(_Pool2d):
    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool2d(x, self.kernel_size, self.stride)


class AvgPool2d(_Pool2d):
    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride)
