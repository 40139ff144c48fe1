"""Pooling layers with PyTorch's names, arguments and printed form: MaxPool2d, AvgPool2d,
AdaptiveAvgPool2d, AdaptiveMaxPool2d; LocalResponseNorm (AlexNet's normalisation across channels);
and ReLUMaxPool2d, the explicit fusion of ReLU then MaxPool2d into one kernel pass each way.

Each layer keeps its arguments as given (kernel_size=2 stays 2, as PyTorch prints it), after
checking them, and calls the function of the same name in nn.functional.
"""

from __future__ import annotations

from typing import Any

from odyssey import _checks as check
from odyssey.nn import functional as F
from odyssey.nn.module import Module
from odyssey.tensor import Tensor

_Size = int | tuple[int, int]


class _MaxPool(Module):
    """MaxPool2d's and ReLUMaxPool2d's arguments and printed form (PyTorch's MaxPool2d text)."""

    def __init__(
        self,
        kernel_size: _Size,
        stride: _Size | None = None,
        padding: _Size = 0,
        dilation: _Size = 1,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        check.pair(kernel_size, name, "kernel_size", 1)
        if stride is not None:
            check.pair(stride, name, "stride", 1)
        check.pair(padding, name, "padding", 0)
        check.pair(dilation, name, "dilation", 1)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.dilation = dilation
        self.ceil_mode = bool(ceil_mode)

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool2d(_MaxPool):
    """F.max_pool2d as a layer; return_indices makes it return (output, indices)."""

    def __init__(
        self,
        kernel_size: _Size,
        stride: _Size | None = None,
        padding: _Size = 0,
        dilation: _Size = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__(kernel_size, stride, padding, dilation, ceil_mode)
        self.return_indices = bool(return_indices)

    def forward(self, x: Tensor) -> Any:
        return F.max_pool2d(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            self.return_indices,
        )


class ReLUMaxPool2d(_MaxPool):
    """ReLU then MaxPool2d as one layer: F.relu_max_pool2d, one kernel pass each way instead of
    two, with relu applied to the pooled values only. Write it where a model has
    `nn.ReLU(), nn.MaxPool2d(...)`; it prints, hooks and appears in `list(model)` as what runs.

    Values and gradients are those of ReLU then MaxPool2d bit for bit, signed zeros included
    (see F.relu_max_pool2d). It has no parameters or buffers, so it adds no
    state_dict key; in a Sequential, though, one layer in place of two renumbers the layers after
    it ("3.weight" becomes "2.weight"): to load checkpoints saved from the two-layer form, build
    the Sequential from an OrderedDict that keeps the old names, or remap the keys.
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.relu_max_pool2d(
            x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode
        )


class AvgPool2d(Module):
    """F.avg_pool2d as a layer."""

    def __init__(
        self,
        kernel_size: _Size,
        stride: _Size | None = None,
        padding: _Size = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        check.pair(kernel_size, name, "kernel_size", 1)
        if stride is not None:
            check.pair(stride, name, "stride", 1)
        check.pair(padding, name, "padding", 0)
        divisor = divisor_override
        if divisor is not None and check.integer(divisor, name, "divisor_override") == 0:
            raise ValueError(f"{name}: divisor_override must not be 0")
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)
        self.divisor_override = divisor_override

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def _check_output_size(output_size: Any, fn: str) -> None:
    """F's check of an adaptive pool's output_size, at construction: the None entries ("as the
    input") are checked against a 1 x 1 stand-in input."""
    F._output_size(fn, output_size, (1, 1, 1, 1))


class AdaptiveAvgPool2d(Module):
    """F.adaptive_avg_pool2d as a layer: output_size an int, or a pair with None for "as the
    input" (AdaptiveAvgPool2d((None, 7)))."""

    def __init__(self, output_size: int | tuple[int | None, int | None]) -> None:
        super().__init__()
        _check_output_size(output_size, type(self).__name__)
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """F.adaptive_max_pool2d as a layer; return_indices makes it return (output, indices)."""

    def __init__(
        self, output_size: int | tuple[int | None, int | None], return_indices: bool = False
    ) -> None:
        super().__init__()
        _check_output_size(output_size, type(self).__name__)
        self.output_size = output_size
        self.return_indices = bool(return_indices)

    def forward(self, x: Tensor) -> Any:
        return F.adaptive_max_pool2d(x, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class LocalResponseNorm(Module):
    """F.local_response_norm as a layer (AlexNet: LocalResponseNorm(5, alpha=1e-4, beta=0.75,
    k=2.0))."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        name = type(self).__name__
        self.size = check.integer(size, name, "size", 1)
        check.real(alpha, name, "alpha")
        check.real(beta, name, "beta")
        check.real(k, name, "k")
        self.alpha, self.beta, self.k = alpha, beta, k

    def forward(self, x: Tensor) -> Tensor:
        return F.local_response_norm(x, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
