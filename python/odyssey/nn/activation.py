"""Activation layers: ReLU, LeakyReLU, Tanh, LeCunTanh, Sigmoid, Softmax, LogSoftmax."""

from __future__ import annotations

from odyssey import _checks as check
from odyssey.nn import functional as F
from odyssey.nn.module import Module
from odyssey.tensor import Tensor


class ReLU(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)


class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = check.real(negative_slope, "LeakyReLU", "negative_slope")

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class LeCunTanh(Module):
    """1.7159 * tanh(2x / 3), the squashing function of LeNet-5."""

    def forward(self, x: Tensor) -> Tensor:
        return F.lecun_tanh(x)


class Sigmoid(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class Softmax(Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = check.integer(dim, type(self).__name__, "dim")

    def forward(self, x: Tensor) -> Tensor:
        return F.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    def forward(self, x: Tensor) -> Tensor:
        return F.log_softmax(x, self.dim)
