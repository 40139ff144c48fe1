"""Loss modules: CrossEntropyLoss, NLLLoss, MSELoss with reduction mean, sum or none."""

from __future__ import annotations

from odyssey import _checks as check
from odyssey.nn import functional as F
from odyssey.nn.module import Module
from odyssey.tensor import Tensor


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = check.reduction(reduction, type(self).__name__)
        # No extra_repr: torch prints a loss as `CrossEntropyLoss()` whatever its reduction.


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of (N, C) logits against int64 labels (N,)."""

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(logits, target, self.reduction)


class NLLLoss(_Loss):
    """Negative log-likelihood of (N, C) log-probabilities against int64 labels (N,)."""

    def forward(self, log_probs: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(log_probs, target, self.reduction)


class MSELoss(_Loss):
    """The squared error between input and a target of the same shape, reduced by ``reduction``:
    'mean' (the default), 'sum' or 'none' (``F.mse_loss``)."""

    def forward(self, x: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(x, target, self.reduction)
