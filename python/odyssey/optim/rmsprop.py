"""RMSprop (Hinton's lecture 6e; centered as in Graves, 2013), with momentum and weight decay."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from odyssey import _checks as check
from odyssey import _kernels
from odyssey.optim.optimizer import Optimizer, ParamsT, check_lr, check_weight_decay


def check_unsupported(name: str, group: dict[str, Any], options: tuple[str, ...]) -> None:
    """ValueError for a torch option that needs what odyssey does not have (CUDA graphs, autograd
    through the step), instead of silently ignoring it."""
    for option in options:
        if group.get(option):
            raise ValueError(
                f"{name}: {option}=True is not supported (odyssey's fused CPU step is neither "
                f"capturable nor differentiable); leave {option}=False"
            )


class RMSprop(Optimizer):
    """torch.optim.RMSprop's update, one fused kernel call per parameter.

    With g = grad + weight_decay·p: v = alpha·v + (1 - alpha)·g²; avg = sqrt(v) + eps, or when
    centered (ḡ = alpha·ḡ + (1 - alpha)·g) sqrt(v - ḡ²) + eps; with momentum
    b = momentum·b + g / avg and p -= lr·b, else p -= lr·g / avg. `foreach` is accepted for torch's
    signature: odyssey's step is always one fused pass, with the arithmetic of torch's
    foreach=False loop.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "capturable": capturable,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def check_group(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        check_lr(name, group["lr"])
        if not check.real(group["eps"], name, "eps") >= 0.0:
            raise ValueError(f"{name}: Invalid epsilon value: {group['eps']}")
        if not check.real(group["momentum"], name, "momentum") >= 0.0:
            raise ValueError(f"{name}: Invalid momentum value: {group['momentum']}")
        check_weight_decay(name, group["weight_decay"])
        if not check.real(group["alpha"], name, "alpha") >= 0.0:
            raise ValueError(f"{name}: Invalid alpha value: {group['alpha']}")
        check_unsupported(name, group, ("capturable", "differentiable"))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Updates every parameter that has a gradient; returns the closure's loss if given."""
        loss = closure() if closure is not None else None
        for group_index, group in enumerate(self.param_groups):
            momentum = float(group["momentum"])
            centered = bool(group["centered"])
            for index, param in enumerate(group["params"]):
                if param.grad is None:
                    continue
                grad = self.checked_grad(param, group_index, index)
                if group["maximize"]:
                    grad = np.negative(grad, out=np.empty_like(grad))  # an array even when 0-d
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    state["square_avg"] = np.zeros_like(param.data)
                # A group whose momentum or centering was switched on later starts its buffer at
                # zero, as torch's would have been when the state was made.
                buffer = grad_avg = None
                if momentum > 0.0:
                    buffer = state.setdefault("momentum_buffer", np.zeros_like(param.data))
                if centered:
                    grad_avg = state.setdefault("grad_avg", np.zeros_like(param.data))
                _kernels.rmsprop_step(
                    param.data,
                    grad,
                    state["square_avg"],
                    lr=float(group["lr"]),
                    alpha=float(group["alpha"]),
                    eps=float(group["eps"]),
                    weight_decay=float(group["weight_decay"]),
                    momentum=momentum,
                    centered=centered,
                    grad_avg=grad_avg,
                    momentum_buffer=buffer,
                )
                state["step"] += 1
        return loss
