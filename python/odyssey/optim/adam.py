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
        """Updates every parameter that has a gradient; returns the closure's loss if given."""
        loss = closure() if closure is not None else None
        for group_index, group in enumerate(self.param_groups):
            if group["maximize"]:
                self._step_each(group_index, group)
            else:
                self._step_group(group_index, group)
        return loss

    def _step_group(self, group_index: int, group: dict[str, Any]) -> None:
        """The group's parameters in one kernel call (adam_step_many: the bits of one adam_step
        per parameter, in order), without the per-parameter Python of `_step_each`."""
        beta1, beta2 = (float(beta) for beta in group["betas"])
        amsgrad = group["amsgrad"]
        state_of = self.state
        params: list[np.ndarray] = []
        grads: list[np.ndarray] = []
        exp_avgs: list[np.ndarray] = []
        exp_avg_sqs: list[np.ndarray] = []
        max_exp_avg_sqs: list[np.ndarray] | None = [] if amsgrad else None
        steps: list[int] = []
        states: list[dict[str, Any]] = []
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
            state = state_of[param]
            if not state:
                state["step"] = 0
                state["exp_avg"] = np.zeros_like(data)
                state["exp_avg_sq"] = np.zeros_like(data)
            if max_exp_avg_sqs is not None:
                max_exp_avg_sqs.append(state.setdefault("max_exp_avg_sq", np.zeros_like(data)))
            params.append(data)
            grads.append(grad)
            exp_avgs.append(state["exp_avg"])
            exp_avg_sqs.append(state["exp_avg_sq"])
            steps.append(state["step"] + 1)
            states.append(state)
        if not params:
            return
        try:
            _kernels.adam_step_many(
                params,
                grads,
                exp_avgs,
                exp_avg_sqs,
                steps=steps,
                lr=float(group["lr"]),
                beta1=beta1,
                beta2=beta2,
                eps=float(group["eps"]),
                weight_decay=float(group["weight_decay"]),
                decoupled_weight_decay=bool(group["decoupled_weight_decay"]),
                max_exp_avg_sqs=max_exp_avg_sqs,
            )
        except ValueError:
            # Nothing was updated: name the parameter whose gradient the kernel refused (shared
            # memory is its only check that the loop above leaves to it).
            for index, param in enumerate(group["params"]):
                if param._grad is not None:
                    self.checked_grad(param, group_index, index)
            raise
        for state, step in zip(states, steps, strict=True):
            state["step"] = step

    def _step_each(self, group_index: int, group: dict[str, Any]) -> None:
        """One adam_step call per parameter, on the negated gradient (maximize)."""
        beta1, beta2 = (float(beta) for beta in group["betas"])
        for index, param in enumerate(group["params"]):
            if param.grad is None:
                continue
            grad = self.checked_grad(param, group_index, index)
            if group["maximize"]:
                grad = np.negative(grad, out=np.empty_like(grad))  # an array even when 0-d
            state = self.state[param]
            if not state:
                state["step"] = 0
                state["exp_avg"] = np.zeros_like(param.data)
                state["exp_avg_sq"] = np.zeros_like(param.data)
            max_exp_avg_sq = None
            if group["amsgrad"]:
                max_exp_avg_sq = state.setdefault("max_exp_avg_sq", np.zeros_like(param.data))
            step = state["step"] + 1
            _kernels.adam_step(
                param.data,
                grad,
                state["exp_avg"],
                state["exp_avg_sq"],
                step=step,
                lr=float(group["lr"]),
                beta1=beta1,
                beta2=beta2,
                eps=float(group["eps"]),
                weight_decay=float(group["weight_decay"]),
                decoupled_weight_decay=bool(group["decoupled_weight_decay"]),
                max_exp_avg_sq=max_exp_avg_sq,
            )
            state["step"] = step


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
