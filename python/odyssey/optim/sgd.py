"""Stochastic gradient descent with momentum, Nesterov momentum, dampening and weight decay."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from odyssey import _checks as check
from odyssey import _kernels
from odyssey.optim.optimizer import Optimizer, ParamsT, check_lr, check_weight_decay


class SGD(Optimizer):
    """torch.optim.SGD's update, one fused kernel call per parameter.

    With g = grad + weight_decay·p: b = g on the first step, else momentum·b + (1 - dampening)·g;
    the step direction is g + momentum·b with Nesterov, b with momentum, g without; p -= lr·step.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def check_group(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        check_lr(name, group["lr"])
        if not check.real(group["momentum"], name, "momentum") >= 0.0:
            raise ValueError(f"{name}: Invalid momentum value: {group['momentum']}")
        check.finite(group["dampening"], name, "dampening")
        check_weight_decay(name, group["weight_decay"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"{name}: Nesterov momentum requires a momentum and zero dampening")

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Updates every parameter that has a gradient; returns the closure's loss if given."""
        loss = closure() if closure is not None else None
        for group_index, group in enumerate(self.param_groups):
            momentum = float(group["momentum"])
            for index, param in enumerate(group["params"]):
                if param.grad is None:
                    continue
                grad = self.checked_grad(param, group_index, index)
                if group["maximize"]:
                    grad = np.negative(grad, out=np.empty_like(grad))  # an array even when 0-d
                buffer = None
                first_step = True
                if momentum != 0.0:
                    buffer = self.state[param].get("momentum_buffer")
                    first_step = buffer is None
                    if first_step:
                        buffer = np.empty_like(param.data)
                _kernels.sgd_step(
                    param.data,
                    grad,
                    buffer,
                    lr=float(group["lr"]),
                    momentum=momentum,
                    dampening=float(group["dampening"]),
                    weight_decay=float(group["weight_decay"]),
                    nesterov=bool(group["nesterov"]),
                    first_step=first_step,
                )
                if buffer is not None:
                    self.state[param]["momentum_buffer"] = buffer
        return loss
