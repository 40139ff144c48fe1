"""Activation layers: ReLU, ReLU6, Hardtanh, LeakyReLU, Softplus, GELU, SiLU, Tanh, LeCunTanh,
Sigmoid, Softmax, LogSoftmax; each prints as PyTorch's does (`ReLU6(inplace=True)`).

`inplace` is accepted and printed as in PyTorch, but the result is always a new tensor (see the
docstring of odyssey.nn.functional)."""

from __future__ import annotations

from odyssey import _checks as check
from odyssey.nn import functional as F
from odyssey.nn.module import Module
from odyssey.tensor import Tensor


def _inplace_repr(inplace: bool) -> str:
    return "inplace=True" if inplace else ""


class ReLU(Module):
    """max(0, x), elementwise (``F.relu``). ``inplace`` is taken for torch's signature and shown in
    the repr; the output is always a new tensor."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


class Hardtanh(Module):
    """x clamped to [min_val, max_val]."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        name = type(self).__name__
        if check.real(min_val, name, "min_val") > check.real(max_val, name, "max_val"):
            raise ValueError(f"{name}: max_val {max_val} must be >= min_val {min_val}")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return F.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        inplace = ", inplace=True" if self.inplace else ""
        return f"min_val={self.min_val}, max_val={self.max_val}{inplace}"


class ReLU6(Hardtanh):
    """min(max(x, 0), 6), MobileNet's activation: Hardtanh(0, 6), as in PyTorch."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


class LeakyReLU(Module):
    """max(0, x) + negative_slope * min(0, x), elementwise (``F.leaky_relu``). ``inplace`` is taken
    for torch's signature and shown in the repr; the output is always a new tensor."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = check.real(negative_slope, "LeakyReLU", "negative_slope")
        self.inplace = bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        inplace = ", inplace=True" if self.inplace else ""
        return f"negative_slope={self.negative_slope}{inplace}"


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, linear where beta x > threshold."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        check.real(beta, "Softplus", "beta")
        check.real(threshold, "Softplus", "threshold")
        self.beta = beta
        self.threshold = threshold

    def forward(self, x: Tensor) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class GELU(Module):
    """x Phi(x), or its tanh approximation with approximate='tanh'."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x sigmoid(x)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return F.silu(x)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


class Tanh(Module):
    """tanh(x), elementwise (``F.tanh``)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class LeCunTanh(Module):
    """1.7159 * tanh(2x / 3), the squashing function of LeNet-5."""

    def forward(self, x: Tensor) -> Tensor:
        return F.lecun_tanh(x)


class Sigmoid(Module):
    """1 / (1 + exp(-x)), elementwise (``F.sigmoid``)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class Softmax(Module):
    """exp(x) / sum(exp(x)) along ``dim``, computed stably (``F.softmax``)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = check.integer(dim, type(self).__name__, "dim")

    def forward(self, x: Tensor) -> Tensor:
        return F.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """log(softmax(x)) along ``dim``, computed stably (``F.log_softmax``)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.log_softmax(x, self.dim)
