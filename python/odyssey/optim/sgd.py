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
        """Updates every parameter that has a gradient; returns the closure's loss if given. One
        kernel call a group (sgd_step_many: the bits of one sgd_step per parameter, in order)."""
        loss = closure() if closure is not None else None
        for group_index, group in enumerate(self.param_groups):
            found = self.with_grads(group_index, group)
            if not found:
                continue
            momentum = float(group["momentum"])
            buffers = first_steps = None
            if momentum != 0.0:
                state = self.state
                buffers = []
                first_steps = []
                for param, _ in found:
                    buffer = state[param].get("momentum_buffer")
                    first_steps.append(buffer is None)
                    buffers.append(np.empty_like(param.data) if buffer is None else buffer)
            try:
                _kernels.sgd_step_many(
                    [param.data for param, _ in found],
                    [grad for _, grad in found],
                    buffers,
                    lr=float(group["lr"]),
                    momentum=momentum,
                    dampening=float(group["dampening"]),
                    weight_decay=float(group["weight_decay"]),
                    nesterov=bool(group["nesterov"]),
                    first_steps=first_steps,
                )
            except ValueError:
                self.name_refused(group_index, group)
                raise
            if buffers is not None:
                for (param, _), buffer, first in zip(found, buffers, first_steps, strict=True):
                    if first:
                        state[param]["momentum_buffer"] = buffer
        return loss
