"""Stochastic gradient descent with momentum, Nesterov momentum, dampening and weight decay."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from odyssey import _checks as check
from odyssey import _kernels
from odyssey.optim.optimizer import Optimizer, ParamsT, check_lr, check_weight_decay
from odyssey.tensor import Tensor


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
            if group["maximize"]:
                self._step_each(group_index, group)
            else:
                self._step_group(group_index, group)
        return loss

    def _step_group(self, group_index: int, group: dict[str, Any]) -> None:
        """The group's parameters in one kernel call (sgd_step_many: the bits of one sgd_step per
        parameter, in order), without the per-parameter Python of `_step_each`."""
        momentum = float(group["momentum"])
        params: list[np.ndarray] = []
        grads: list[np.ndarray] = []
        with_grad: list[Tensor] = []
        for index, param in enumerate(group["params"]):
            grad_tensor = param._grad
            if grad_tensor is None:
                continue
            data = param.data
            grad = grad_tensor.data
            flags = grad.flags
            if not (
                grad.dtype == check.F32
                and grad.shape == data.shape
                and flags.c_contiguous
                and flags.aligned
                and data.dtype == check.F32
            ):
                grad = self.checked_grad(param, group_index, index)
            params.append(data)
            grads.append(grad)
            with_grad.append(param)
        if not params:
            return
        buffers = first_steps = None
        if momentum != 0.0:
            state = self.state
            buffers = []
            first_steps = []
            for param in with_grad:
                buffer = state[param].get("momentum_buffer")
                first_steps.append(buffer is None)
                buffers.append(np.empty_like(param.data) if buffer is None else buffer)
        try:
            _kernels.sgd_step_many(
                params,
                grads,
                buffers,
                lr=float(group["lr"]),
                momentum=momentum,
                dampening=float(group["dampening"]),
                weight_decay=float(group["weight_decay"]),
                nesterov=bool(group["nesterov"]),
                first_steps=first_steps,
            )
        except ValueError:
            # Nothing was updated: name the parameter whose gradient the kernel refused (shared
            # memory is its only check that the loop above leaves to it).
            for index, param in enumerate(group["params"]):
                if param._grad is not None:
                    self.checked_grad(param, group_index, index)
            raise
        if buffers is not None:
            for param, buffer, first in zip(with_grad, buffers, first_steps, strict=True):
                if first:
                    state[param]["momentum_buffer"] = buffer

    def _step_each(self, group_index: int, group: dict[str, Any]) -> None:
        """One sgd_step call per parameter, on the negated gradient (maximize)."""
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
