"""Linear: y = x @ weight.T + bias, weight (out_features, in_features) as in PyTorch."""

from __future__ import annotations

import math

import numpy as np

from odyssey.nn import functional as F
from odyssey.nn.module import Module
from odyssey.nn.parameter import Parameter
from odyssey.random import generator
from odyssey.tensor import Tensor


def default_uniform(shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's default for Linear and Conv2d weights
    (kaiming_uniform_ with a=sqrt(5) reduces to it) and biases."""
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return generator().uniform(-bound, bound, shape).astype(np.float32)


class Linear(Module):
    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(np.empty((out_features, in_features), dtype=np.float32))
        self.bias = Parameter(np.empty(out_features, dtype=np.float32)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.weight.data[...] = default_uniform(self.weight.shape, self.in_features)
        if self.bias is not None:
            self.bias.data[...] = default_uniform(self.bias.shape, self.in_features)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )
