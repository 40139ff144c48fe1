"""Adam (Kingma & Ba, 2015) and AdamW (Loshchilov & Hutter, 2019), with AMSGrad."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from odyssey import _checks as check
from odyssey import _kernels
from odyssey.optim.optimizer import Optimizer, ParamsT, check_lr, check_weight_decay


class Adam(Optimizer):
    """torch.optim.Adam's update, one fused kernel call per parameter.

    m = β1·m + (1 - β1)·g, v = β2·v + (1 - β2)·g² (v̂ = max of all v with AMSGrad), then
    p -= lr / (1 - β1^t) · m / (sqrt(v̂) / sqrt(1 - β2^t) + eps). Weight decay adds
    weight_decay·p to g, or with `decoupled_weight_decay` (AdamW) scales p by 1 - lr·weight_decay.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def check_group(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        check_lr(name, group["lr"])
        if not check.real(group["eps"], name, "eps") >= 0.0:
            raise ValueError(f"{name}: Invalid epsilon value: {group['eps']}")
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"{name}: betas must be a pair of numbers, got {betas!r}")
        for index, beta in enumerate(betas):
            if not 0.0 <= check.real(beta, name, "betas") < 1.0:
                raise ValueError(f"{name}: Invalid beta parameter at index {index}: {beta}")
        check_weight_decay(name, group["weight_decay"])

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Updates every parameter that has a gradient; returns the closure's loss if given. One
        kernel call a group (adam_step_many: the bits of one adam_step per parameter, in
        order)."""
        loss = closure() if closure is not None else None
        for group_index, group in enumerate(self.param_groups):
            found = self.with_grads(group_index, group)
            if not found:
                continue
            beta1, beta2 = (float(beta) for beta in group["betas"])
            amsgrad = group["amsgrad"]
            states = []
            for param, _ in found:
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(param.data)
                    state["exp_avg_sq"] = np.zeros_like(param.data)
                if amsgrad:
                    state.setdefault("max_exp_avg_sq", np.zeros_like(param.data))
                states.append(state)
            steps = [state["step"] + 1 for state in states]
            try:
                _kernels.adam_step_many(
                    [param.data for param, _ in found],
                    [grad for _, grad in found],
                    [state["exp_avg"] for state in states],
                    [state["exp_avg_sq"] for state in states],
                    steps=steps,
                    lr=float(group["lr"]),
                    beta1=beta1,
                    beta2=beta2,
                    eps=float(group["eps"]),
                    weight_decay=float(group["weight_decay"]),
                    decoupled_weight_decay=bool(group["decoupled_weight_decay"]),
                    max_exp_avg_sqs=[state["max_exp_avg_sq"] for state in states]
                    if amsgrad
                    else None,
                )
            except ValueError:
                self.name_refused(group_index, group)
                raise
            for state, step in zip(states, steps, strict=True):
                state["step"] = step
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay (torch.optim.AdamW): p *= 1 - lr·weight_decay first."""

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )
