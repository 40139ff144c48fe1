"""Adagrad (Duchi, Hazan & Singer, 2011), with learning-rate decay and weight decay."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from odyssey import _checks as check
from odyssey import _kernels
from odyssey.optim.optimizer import Optimizer, ParamsT, check_lr, check_weight_decay
from odyssey.optim.rmsprop import check_unsupported
from odyssey.tensor import Tensor


class Adagrad(Optimizer):
    """torch.optim.Adagrad's update, one fused kernel call per parameter.

    With g = grad + weight_decay·p and clr = lr / (1 + (t - 1)·lr_decay) at step t: s += g², then
    p -= clr·g / (sqrt(s) + eps). As in torch, every parameter's state (step 0 and s filled with
    initial_accumulator_value) exists from construction. `fused` and `foreach` are accepted for
    torch's signature: odyssey's step is always one fused pass with foreach=False's arithmetic.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "fused": fused,
        }
        super().__init__(params, defaults)
        if fused and foreach:
            raise RuntimeError("Adagrad: `fused` and `foreach` cannot be `True` together.")
        # As torch does, every parameter starts from the constructor's initial_accumulator_value,
        # whatever its group says.
        for group in self.param_groups:
            for param in group["params"]:
                self._initial_state(param, initial_accumulator_value)

    def _initial_state(self, param: Tensor, initial_accumulator_value: float) -> dict[str, Any]:
        state = self.state[param]
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(param.data, float(initial_accumulator_value))
        return state

    def check_group(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        check_lr(name, group["lr"])
        if not check.real(group["lr_decay"], name, "lr_decay") >= 0.0:
            raise ValueError(f"{name}: Invalid lr_decay value: {group['lr_decay']}")
        check_weight_decay(name, group["weight_decay"])
        value = group["initial_accumulator_value"]
        if not check.real(value, name, "initial_accumulator_value") >= 0.0:
            raise ValueError(f"{name}: Invalid initial_accumulator_value value: {value}")
        if not check.real(group["eps"], name, "eps") >= 0.0:
            raise ValueError(f"{name}: Invalid epsilon value: {group['eps']}")
        if group.get("fused") and group.get("differentiable"):
            raise RuntimeError(f"{name}: `fused` does not support `differentiable`")
        check_unsupported(name, group, ("differentiable",))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Updates every parameter that has a gradient; returns the closure's loss if given."""
        loss = closure() if closure is not None else None
        for group_index, group in enumerate(self.param_groups):
            for index, param in enumerate(group["params"]):
                if param.grad is None:
                    continue
                grad = self.checked_grad(param, group_index, index)
                if group["maximize"]:
                    grad = np.negative(grad, out=np.empty_like(grad))  # an array even when 0-d
                # Parameters of a group added after construction get their state on first use.
                state = self._initial_state(param, group["initial_accumulator_value"])
                step = state["step"] + 1
                _kernels.adagrad_step(
                    param.data,
                    grad,
                    state["sum"],
                    step=step,
                    lr=float(group["lr"]),
                    lr_decay=float(group["lr_decay"]),
                    weight_decay=float(group["weight_decay"]),
                    eps=float(group["eps"]),
                )
                state["step"] = step
        return loss
