"""Linear: y = x @ weight.T + bias, weight (out_features, in_features) as in PyTorch; Identity."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from odyssey import _checks as check
from odyssey.nn import functional as F
from odyssey.nn import init
from odyssey.nn.module import Module
from odyssey.nn.parameter import Parameter
from odyssey.tensor import Tensor


def reset_weight_and_bias(weight: Parameter, bias: Parameter | None, fan_in: int) -> None:
    """PyTorch's default for Linear and Conv2d: kaiming_uniform_(a=sqrt(5)) weights, which is
    U(+-1/sqrt(fan_in)), and a U(+-1/sqrt(fan_in)) bias."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        init.uniform_(bias, -bound, bound)


class Identity(Module):
    """Returns its input; takes and ignores any arguments, as torch's (a placeholder layer, e.g.
    a removed head or a residual shortcut that needs no projection)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x


class Linear(Module):
    """y = x @ weight.T + bias, with weight (out_features, in_features) and bias (out_features,) as
    in PyTorch, initialised as PyTorch does (``reset_parameters``)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.in_features = check.size(in_features, "Linear", "in_features")
        self.out_features = check.size(out_features, "Linear", "out_features")
        self.weight = Parameter(np.empty((out_features, in_features), dtype=np.float32))
        self.bias = Parameter(np.empty(out_features, dtype=np.float32)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draws the weight and bias again with PyTorch's default initialisation."""
        reset_weight_and_bias(self.weight, self.bias, self.in_features)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )
