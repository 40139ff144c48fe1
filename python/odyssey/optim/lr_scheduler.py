"""Learning-rate schedulers with torch.optim.lr_scheduler's classes, arguments and sequences.

Each scheduler rewrites the ``"lr"`` (and, for CyclicLR and OneCycleLR, the momentum: SGD's
``"momentum"``, Adam's ``betas[0]``) of every parameter group of an odyssey optimizer. The
arithmetic follows PyTorch's operation by operation: most schedulers update the current lr
recursively (the "chainable" form, so several schedulers on one optimizer compose), and
``step(epoch)`` uses the closed form where PyTorch has one, so the sequences are PyTorch's (bit
for bit in the tests).

Where this module differs from PyTorch:

- ``state_dict()`` holds only JSON values (dicts, lists, str, int, float, bool, None), so a
  checkpoint stores it as JSON; ``load_state_dict`` takes it back after a JSON round trip, and
  takes PyTorch's state dicts too. MultiStepLR's milestones are saved as a sorted list. As in
  PyTorch, learning-rate functions (LambdaLR, CyclicLR's ``scale_fn``) are not saved, only the
  ``__dict__`` of callable objects.
- Arguments are checked when the scheduler is built, and a rejected scheduler leaves the
  optimizer alone. Where PyTorch divides by a zero argument (``StepLR(step_size=0)``,
  ``CosineAnnealingLR(T_max=0)``, ...) the error is a ZeroPeriodError: a ValueError naming the
  argument that is also the ZeroDivisionError PyTorch raises.
- ``ConstantLR(factor=0)`` returns to the initial lrs at ``total_iters`` instead of dividing by
  zero; ``step(epoch)`` takes an int (a real for CosineAnnealingWarmRestarts).
- No warnings about the order of ``optimizer.step()`` and ``scheduler.step()`` or about the
  deprecated ``epoch`` argument; ``get_lr()`` called outside ``step`` warns as in PyTorch.
"""

from __future__ import annotations

import copy
import itertools
import math
import numbers
import types
import warnings
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, SupportsFloat

from odyssey import _checks as check
from odyssey.optim.optimizer import Optimizer

__all__ = [
    "ChainedScheduler",
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "MultiplicativeLR",
    "OneCycleLR",
    "PolynomialLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
    "ZeroPeriodError",
]


class ZeroPeriodError(ValueError, ZeroDivisionError):
    """A period, length or divisor argument that is zero (``StepLR(step_size=0)``).

    A ValueError naming the argument; also a ZeroDivisionError, which is what PyTorch raises (at
    construction or at a later step) for the same arguments, so code written against PyTorch
    still catches it.
    """


# ---------------------------------------------------------------------------------------------
# Argument checks: TypeError for the wrong kind of value, ValueError for one out of range, each
# message starting with the class and naming the argument.


def _kind(value: Any) -> str:
    return type(value).__name__


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _period(owner: str, name: str, value: Any) -> int:
    """A positive int; zero is a ZeroPeriodError (PyTorch divides by it)."""
    if not check.is_int(value):
        raise TypeError(f"{owner}: {name} must be a positive int, got {_kind(value)} {value!r}")
    if value == 0:
        raise ZeroPeriodError(f"{owner}: {name} must be a positive int, got 0")
    if value < 0:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value}")
    return int(value)


def _check_optimizer(owner: str, optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"{owner}: optimizer must be an odyssey.optim.Optimizer, got {_kind(optimizer)} "
            f"({_kind(optimizer)} is not an Optimizer)"
        )


def _per_group(owner: str, name: str, optimizer: Optimizer, value: Any) -> list[float]:
    """A number for every parameter group: one number for all, or a list/tuple of one each."""
    count = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != count:
            raise ValueError(
                f"{owner}: {name} must have the same length as optimizer.param_groups. {name} "
                f"has {len(value)} values, param_groups has {count}."
            )
        return [check.real(item, owner, name) for item in value]
    return [check.real(value, owner, name)] * count


def _lrs(optimizer: Optimizer) -> list[Any]:
    return [group["lr"] for group in optimizer.param_groups]


def _plain(value: Any) -> Any:
    """A deep copy of state made of JSON values: tuples become lists, NumPy scalars numbers."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return copy.deepcopy(value)


def _function_state(function: Any) -> dict[str, Any] | None:
    """What PyTorch saves of a user function: nothing for a plain function or lambda, the
    attributes of a callable object."""
    if function is None or isinstance(function, types.FunctionType):
        return None
    attributes = getattr(function, "__dict__", None)
    return None if attributes is None else _plain(attributes)


# ---------------------------------------------------------------------------------------------


class LRScheduler:
    """Base class: sets the optimizer's lrs at construction (step 0) and at every `step()`.

    Subclasses implement `get_lr()` (the lrs at `last_epoch`, usually from the current ones) and
    may implement `_get_closed_form_lr()` (from `base_lrs`), which `step(epoch)` uses.
    `last_epoch` counts the steps taken; `base_lrs` are the groups' ``initial_lr``.
    """

    _is_initial: bool = False
    _get_lr_called_within_step: bool = False
    _not_state: tuple[str, ...] = ("optimizer",)

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        owner = type(self).__name__
        _check_optimizer(owner, optimizer)
        last_epoch = check.integer(last_epoch, owner, "last_epoch", -1)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for index, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"{owner}: param 'initial_lr' is not specified in param_groups[{index}] "
                        f"when resuming a scheduler with last_epoch={last_epoch} >= 0; load the "
                        "optimizer's state first, or leave last_epoch at -1 for a fresh run"
                    )
        self.base_lrs: list[float] = [
            float(group["initial_lr"]) if _is_real(group["initial_lr"]) else group["initial_lr"]
            for group in optimizer.param_groups
        ]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """Step 0: what the constructor applies (PyTorch's initial step)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_last_lr(self) -> list[float]:
        """The lr of every group as this scheduler last set it."""
        return list(self._last_lr)

    def get_lr(self) -> list[float]:
        """The lrs of the step being taken (called by `step`; use `get_last_lr` to read them)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_lr")

    def _warn_outside_step(self) -> None:
        if not self._get_lr_called_within_step:
            warnings.warn(
                "To get the last learning rate computed by the scheduler, please use "
                "`get_last_lr()`.",
                UserWarning,
                stacklevel=3,
            )

    def step(self, epoch: int | None = None) -> None:
        """Advances one step (after `optimizer.step()`), or jumps to `epoch` (closed form)."""
        if epoch is not None:
            check.integer(epoch, f"{type(self).__name__}.step", "epoch")
        self._step_count += 1
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        self._get_lr_called_within_step = True
        try:
            if epoch is None:
                self.last_epoch += 1
                values = self.get_lr()
            else:
                self.last_epoch = int(epoch)
                closed_form = getattr(self, "_get_closed_form_lr", None)
                values = closed_form() if closed_form is not None else self.get_lr()
        finally:
            self._get_lr_called_within_step = False
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr = _lrs(self.optimizer)

    def state_dict(self) -> dict[str, Any]:
        """Every attribute but the optimizer, as JSON values (PyTorch's keys)."""
        return {
            key: _plain(value) for key, value in self.__dict__.items() if key not in self._not_state
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restores what `state_dict()` returned (also after a JSON round trip)."""
        state = self._checked_state(state_dict)
        self.__dict__.update(state)

    def _checked_state(self, state_dict: Any) -> dict[str, Any]:
        """A deep copy of a state dict after checking its keys and counters."""
        fn = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{fn}: state_dict must be a dict, got {_kind(state_dict)}")
        known = set(self.state_dict())
        unexpected = sorted(str(key) for key in state_dict if key not in known)
        if unexpected:
            raise ValueError(
                f"{fn}: unexpected keys {unexpected}; expected some of {sorted(known)}"
            )
        state = copy.deepcopy(dict(state_dict))
        if "last_epoch" in state and not check.is_int(state["last_epoch"]):
            raise TypeError(f"{fn}: last_epoch must be an int, got {state['last_epoch']!r}")
        for key in ("base_lrs", "_last_lr"):
            if key in state and (
                not isinstance(state[key], (list, tuple))
                or len(state[key]) != len(self.optimizer.param_groups)
            ):
                raise ValueError(
                    f"{fn}: {key} must be a list of {len(self.optimizer.param_groups)} values "
                    f"(one per parameter group), got {state[key]!r}"
                )
        return state


class _LRScheduler(LRScheduler):
    """PyTorch's old name of LRScheduler, kept for code that subclasses it."""


# ---------------------------------------------------------------------------------------------


def _lambdas(owner: str, optimizer: Optimizer, lr_lambda: Any) -> list[Callable[[int], float]]:
    count = len(optimizer.param_groups)
    if isinstance(lr_lambda, (list, tuple)):
        if len(lr_lambda) != count:
            raise ValueError(f"{owner}: Expected {count} lr_lambdas, but got {len(lr_lambda)}")
        functions = list(lr_lambda)
    else:
        functions = [lr_lambda] * count
    for function in functions:
        if not callable(function):
            raise TypeError(f"{owner}: lr_lambda should be a function, but got {_kind(function)}")
    return functions


class _LambdaState(LRScheduler):
    """The schedulers that hold lr_lambdas: their constructor and state dicts."""

    lr_lambdas: list[Callable[[int], float]]
    _not_state = ("optimizer", "lr_lambdas")

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | list[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        name = type(self).__name__
        _check_optimizer(name, optimizer)
        self.optimizer = optimizer
        self.lr_lambdas = _lambdas(name, optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def state_dict(self) -> dict[str, Any]:
        """The state, with the attributes of callable-object lr_lambdas (None for functions)."""
        state = super().state_dict()
        state["lr_lambdas"] = [_function_state(function) for function in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restores the state and the attributes of callable-object lr_lambdas."""
        state = self._checked_state(state_dict)
        saved = state.pop("lr_lambdas", [None] * len(self.lr_lambdas))
        if not isinstance(saved, (list, tuple)) or len(saved) != len(self.lr_lambdas):
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: lr_lambdas must be a list of "
                f"{len(self.lr_lambdas)} entries, got {saved!r}"
            )
        self.__dict__.update(state)
        for function, attributes in zip(self.lr_lambdas, saved, strict=True):
            if attributes is not None:
                function.__dict__.update(attributes)


class LambdaLR(_LambdaState):
    """lr = initial lr * lr_lambda(epoch), one function for all groups or one per group."""

    def get_lr(self) -> list[float]:
        """Each base lr times its lambda at last_epoch."""
        self._warn_outside_step()
        return [
            base_lr * function(self.last_epoch)
            for function, base_lr in zip(self.lr_lambdas, self.base_lrs, strict=True)
        ]


class MultiplicativeLR(_LambdaState):
    """lr ← lr * lr_lambda(epoch) at every step after the first."""

    def get_lr(self) -> list[float]:
        """The current lrs, each times its lambda at last_epoch (unchanged at construction)."""
        self._warn_outside_step()
        if self._is_initial:
            return _lrs(self.optimizer)
        return [
            group["lr"] * function(self.last_epoch)
            for function, group in zip(self.lr_lambdas, self.optimizer.param_groups, strict=True)
        ]


class StepLR(LRScheduler):
    """lr ← lr * gamma every `step_size` steps."""

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        self.step_size = _period("StepLR", "step_size", step_size)
        self.gamma = check.real(gamma, "StepLR", "gamma")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """The current lrs, times gamma when last_epoch is a positive multiple of step_size."""
        self._warn_outside_step()
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return _lrs(self.optimizer)
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [
            base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs
        ]


class MultiStepLR(LRScheduler):
    """lr ← lr * gamma at each milestone (gamma^n at a milestone listed n times)."""

    def __init__(
        self,
        optimizer: Optimizer,
        milestones: Iterable[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        self.milestones = self._counter("MultiStepLR", milestones)
        self.gamma = check.real(gamma, "MultiStepLR", "gamma")
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _counter(owner: str, milestones: Any) -> Counter[int]:
        if isinstance(milestones, (str, bytes)) or not isinstance(milestones, Iterable):
            raise TypeError(
                f"{owner}: milestones must be an iterable of ints, got {_kind(milestones)}"
            )
        values = list(milestones)
        for value in values:
            if not check.is_int(value):
                raise TypeError(
                    f"{owner}: milestones must be ints, got {_kind(value)} {value!r} in {values!r}"
                )
        return Counter(int(value) for value in values)

    def get_lr(self) -> list[float]:
        """The current lrs, times gamma^count when last_epoch is a milestone."""
        self._warn_outside_step()
        if self.last_epoch not in self.milestones:
            return _lrs(self.optimizer)
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [group["lr"] * factor for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        passed = bisect_right(sorted(self.milestones.elements()), self.last_epoch)
        return [base_lr * self.gamma**passed for base_lr in self.base_lrs]

    def state_dict(self) -> dict[str, Any]:
        """The state, with the milestones as a sorted list (repeats kept)."""
        state = super().state_dict()
        state["milestones"] = sorted(self.milestones.elements())
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restores the state; milestones may be a list or a {milestone: count} mapping."""
        state = self._checked_state(state_dict)
        if "milestones" in state:
            saved = state["milestones"]
            fn = "MultiStepLR.load_state_dict"
            if isinstance(saved, Mapping):
                try:
                    saved = [int(key) for key, count in saved.items() for _ in range(int(count))]
                except (TypeError, ValueError) as error:
                    raise ValueError(f"{fn}: milestones must map ints to counts") from error
            state["milestones"] = self._counter(fn, saved)
        self.__dict__.update(state)


class ConstantLR(LRScheduler):
    """lr = initial lr * factor for the first `total_iters` steps, then the initial lr."""

    def __init__(
        self,
        optimizer: Optimizer,
        factor: float = 1.0 / 3,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        factor = check.real(factor, "ConstantLR", "factor")
        if factor > 1.0 or factor < 0:
            raise ValueError(
                "ConstantLR: Constant multiplicative factor expected to be between 0 and 1, "
                f"got factor={factor}"
            )
        self.factor = factor
        self.total_iters = check.integer(total_iters, "ConstantLR", "total_iters", 0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """Times factor at step 0, divided by factor at step total_iters, else the current lrs."""
        self._warn_outside_step()
        if self.last_epoch == 0:
            return [group["lr"] * self.factor for group in self.optimizer.param_groups]
        if self.last_epoch != self.total_iters:
            return _lrs(self.optimizer)
        if self.factor == 0:  # PyTorch divides by zero here; the initial lrs are the answer
            return list(self.base_lrs)
        return [group["lr"] * (1.0 / self.factor) for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [
            base_lr * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
            for base_lr in self.base_lrs
        ]


class LinearLR(LRScheduler):
    """The lr factor goes linearly from start_factor to end_factor over `total_iters` steps."""

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        start_factor = check.real(start_factor, "LinearLR", "start_factor")
        end_factor = check.real(end_factor, "LinearLR", "end_factor")
        if start_factor > 1.0 or start_factor <= 0:
            raise ValueError(
                "LinearLR: Starting multiplicative factor expected to be greater than 0 and less "
                f"or equal to 1, got start_factor={start_factor}"
            )
        if end_factor > 1.0 or end_factor < 0:
            raise ValueError(
                "LinearLR: Ending multiplicative factor expected to be between 0 and 1, got "
                f"end_factor={end_factor}"
            )
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = check.integer(total_iters, "LinearLR", "total_iters", 0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """The current lrs times the ratio of this step's factor to the previous one's."""
        self._warn_outside_step()
        if self.last_epoch == 0:
            return [group["lr"] * self.start_factor for group in self.optimizer.param_groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return _lrs(self.optimizer)
        slope = self.end_factor - self.start_factor
        ratio = 1.0 + slope / (self.total_iters * self.start_factor + (self.last_epoch - 1) * slope)
        return [group["lr"] * ratio for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        if self.total_iters == 0:
            raise ZeroPeriodError("LinearLR.step(epoch): total_iters=0 has no closed form")
        slope = self.end_factor - self.start_factor
        return [
            base_lr
            * (
                self.start_factor
                + slope * min(self.total_iters, self.last_epoch) / self.total_iters
            )
            for base_lr in self.base_lrs
        ]


class ExponentialLR(LRScheduler):
    """lr ← lr * gamma at every step."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = check.real(gamma, "ExponentialLR", "gamma")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """The current lrs times gamma (unchanged at construction)."""
        self._warn_outside_step()
        if self._is_initial:
            return _lrs(self.optimizer)
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma**self.last_epoch for base_lr in self.base_lrs]


class PolynomialLR(LRScheduler):
    """lr = initial lr * (1 - epoch / total_iters)^power, reaching 0 at total_iters."""

    def __init__(
        self,
        optimizer: Optimizer,
        total_iters: int = 5,
        power: float = 1.0,
        last_epoch: int = -1,
    ) -> None:
        self.total_iters = check.integer(total_iters, "PolynomialLR", "total_iters", 0)
        self.power = check.real(power, "PolynomialLR", "power")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """The current lrs times the ratio of this step's decay to the previous one's."""
        self._warn_outside_step()
        if self._is_initial or self.last_epoch > self.total_iters:
            return _lrs(self.optimizer)
        ratio = (
            (1.0 - self.last_epoch / self.total_iters)
            / (1.0 - (self.last_epoch - 1) / self.total_iters)
        ) ** self.power
        return [group["lr"] * ratio for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        if self.total_iters == 0:
            raise ZeroPeriodError("PolynomialLR.step(epoch): total_iters=0 has no closed form")
        return [
            base_lr
            * (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters) ** self.power
            for base_lr in self.base_lrs
        ]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from the initial lr down to eta_min over T_max steps (SGDR without
    restarts), in PyTorch's recursive form: past T_max it rises back, periodically."""

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        T_max_value = check.finite(T_max, "CosineAnnealingLR", "T_max")
        if T_max_value == 0:
            raise ZeroPeriodError(f"CosineAnnealingLR: T_max must be positive, got {T_max!r}")
        if T_max_value < 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {T_max!r}")
        self.T_max = int(T_max) if check.is_int(T_max) else T_max_value
        self.eta_min = check.real(eta_min, "CosineAnnealingLR", "eta_min")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """The next point of the cosine, computed from the current lrs."""
        self._warn_outside_step()
        epoch, period, floor = self.last_epoch, self.T_max, self.eta_min
        groups = self.optimizer.param_groups
        if self._is_initial:
            return _lrs(self.optimizer)
        if self._step_count == 1 and epoch > 0:
            return [
                floor + (base_lr - floor) * (1 + math.cos(epoch * math.pi / period)) / 2
                for base_lr in self.base_lrs
            ]
        if (epoch - 1 - period) % (2 * period) == 0:
            # Leaving the bottom of the cosine, where the ratio below would be 0/0.
            return [
                group["lr"] + (base_lr - floor) * (1 - math.cos(math.pi / period)) / 2
                for base_lr, group in zip(self.base_lrs, groups, strict=True)
            ]
        ratio_top = 1 + math.cos(math.pi * epoch / period)
        ratio_bottom = 1 + math.cos(math.pi * (epoch - 1) / period)
        return [ratio_top / ratio_bottom * (group["lr"] - floor) + floor for group in groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [
            self.eta_min
            + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
            for base_lr in self.base_lrs
        ]


class CosineAnnealingWarmRestarts(LRScheduler):
    """SGDR: cosine annealing from the initial lr to eta_min over T_i epochs, then a restart;
    T_0 the first period, each next one T_mult times longer. `step(epoch)` takes fractional
    epochs (epoch + batch / batches per epoch)."""

    def __init__(
        self,
        optimizer: Optimizer,
        T_0: int,
        T_mult: int = 1,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        owner = "CosineAnnealingWarmRestarts"
        # PyTorch raises ValueError for each of these, also for a float or a str eta_min.
        if not _is_real(T_0):
            raise TypeError(f"{owner}: T_0 must be a positive int, got {_kind(T_0)} {T_0!r}")
        if T_0 <= 0 or not check.is_int(T_0):
            raise ValueError(f"{owner}: Expected positive integer T_0, but got {T_0}")
        if not _is_real(T_mult):
            raise TypeError(f"{owner}: T_mult must be an int >= 1, got {_kind(T_mult)} {T_mult!r}")
        if T_mult < 1 or not check.is_int(T_mult):
            raise ValueError(f"{owner}: Expected integer T_mult >= 1, but got {T_mult}")
        if not _is_real(eta_min):
            raise ValueError(
                f"{owner}: Expected float or int eta_min, but got {eta_min!r} of type "
                f"{_kind(eta_min)}"
            )
        self.T_0 = int(T_0)
        self.T_i = int(T_0)
        self.T_mult = int(T_mult)
        self.eta_min = float(eta_min)
        self.T_cur: float = check.integer(last_epoch, owner, "last_epoch", -1)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """The cosine at T_cur of the current period T_i, from the initial lrs."""
        self._warn_outside_step()
        return [
            self.eta_min
            + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
            for base_lr in self.base_lrs
        ]

    def step(self, epoch: float | None = None) -> None:
        """One step, or a jump to `epoch` (a real number >= 0, e.g. epoch + i / iters)."""
        if epoch is not None:
            if not check.is_int(epoch):
                epoch = check.finite(epoch, "CosineAnnealingWarmRestarts.step", "epoch")
            if epoch < 0:
                raise ValueError(
                    f"CosineAnnealingWarmRestarts.step: Expected non-negative epoch, but got "
                    f"{epoch}"
                )
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        elif epoch >= self.T_0:
            if self.T_mult == 1:
                self.T_cur = epoch % self.T_0
            else:
                # The restart count n: T_0 (T_mult^n - 1) / (T_mult - 1) <= epoch.
                n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
                self.T_i = self.T_0 * self.T_mult**n
        else:
            self.T_i = self.T_0
            self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        self._get_lr_called_within_step = True
        try:
            values = self.get_lr()
        finally:
            self._get_lr_called_within_step = False
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr = _lrs(self.optimizer)


# ---------------------------------------------------------------------------------------------


def _check_members(owner: str, schedulers: Any, optimizer: Any) -> list[LRScheduler]:
    """The schedulers that SequentialLR or ChainedScheduler drive, checked as PyTorch does."""
    if not isinstance(schedulers, (list, tuple)):
        raise TypeError(
            f"{owner}: schedulers must be a list of schedulers, got {_kind(schedulers)}"
        )
    if len(schedulers) < 1:
        raise ValueError(f"{owner} expects at least one scheduler, but got no scheduler.")
    for index, scheduler in enumerate(schedulers):
        if not isinstance(scheduler, LRScheduler):
            raise TypeError(
                f"{owner}: the scheduler at index {index} is of type {_kind(scheduler)}, not "
                "an odyssey LRScheduler (it should have `optimizer` as its attribute)"
            )
        if isinstance(scheduler, ReduceLROnPlateau):
            raise ValueError(
                f"{owner} does not support `ReduceLROnPlateau` scheduler as it requires "
                "additional kwargs to be specified when calling `step`, but got one at index "
                f"{index} in the given schedulers sequence."
            )
        if scheduler.optimizer is not optimizer:
            raise ValueError(
                f"{owner} expects all schedulers to belong to the same optimizer, but got "
                f"scheduler {_kind(scheduler)} at index {index} with another optimizer"
            )
    return list(schedulers)


class _MemberState:
    """state_dict/load_state_dict of the schedulers that drive other schedulers."""

    _schedulers: list[LRScheduler]
    _not_state = ("optimizer", "_schedulers")

    def state_dict(self) -> dict[str, Any]:
        """The state, with the driven schedulers' state dicts under "_schedulers"."""
        state = super().state_dict()
        state["_schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restores the state and that of each driven scheduler."""
        state = self._checked_state(state_dict)
        members = state.pop("_schedulers", None)
        if members is not None and (
            not isinstance(members, (list, tuple)) or len(members) != len(self._schedulers)
        ):
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: _schedulers must be a list of "
                f"{len(self._schedulers)} state dicts, got {members!r}"
            )
        self.__dict__.update(state)
        for scheduler, member in zip(self._schedulers, members or [], strict=False):
            scheduler.load_state_dict(member)


class SequentialLR(_MemberState, LRScheduler):
    """Runs schedulers one after another: the i-th from milestones[i-1] on, restarted there."""

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: list[LRScheduler],
        milestones: list[int],
        last_epoch: int = -1,
    ) -> None:
        owner = "SequentialLR"
        schedulers = _check_members(owner, schedulers, optimizer)
        if isinstance(milestones, (str, bytes)) or not isinstance(milestones, Iterable):
            raise TypeError(f"{owner}: milestones must be a list of ints, got {_kind(milestones)}")
        milestones = [check.integer(value, owner, "milestones") for value in milestones]
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                "SequentialLR: Sequential Schedulers expects number of schedulers provided to be "
                "one more than the number of milestone points, but got number of schedulers "
                f"{len(schedulers)} and the number of milestones to be equal to {len(milestones)}"
            )
        if any(b <= a for a, b in itertools.pairwise(milestones)):
            raise ValueError(f"{owner}: milestones must be increasing, got {milestones}")
        last_epoch = check.integer(last_epoch, owner, "last_epoch", -1)
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        # Each scheduler stepped once when it was built; undo that and start the first one.
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self.recursive_undo()
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def recursive_undo(self, sched: Any = None) -> None:
        """Takes back one step of every (nested) scheduler this one drives."""
        target = self if sched is None else sched
        if hasattr(target, "_schedulers"):
            for scheduler in target._schedulers:
                self.recursive_undo(scheduler)
        elif hasattr(target, "last_epoch"):
            target.last_epoch -= 1

    def step(self) -> None:  # type: ignore[override]
        """Steps the scheduler of the current stage (restarting it at its milestone)."""
        self.last_epoch += 1
        index = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class ChainedScheduler(_MemberState, LRScheduler):
    """Steps every scheduler in the list at each step, so their (chainable) changes compose."""

    def __init__(
        self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None = None
    ) -> None:
        owner = "ChainedScheduler"
        if isinstance(schedulers, (list, tuple)) and schedulers and optimizer is None:
            optimizer = getattr(schedulers[0], "optimizer", None)
        self._schedulers = _check_members(owner, schedulers, optimizer)
        self.optimizer = optimizer
        self._last_lr = _lrs(self._schedulers[-1].optimizer)

    def step(self) -> None:  # type: ignore[override]
        """Steps each scheduler in order."""
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = _lrs(self._schedulers[-1].optimizer)


# ---------------------------------------------------------------------------------------------


class ReduceLROnPlateau(LRScheduler):
    """Multiplies the lrs by `factor` when a metric has not improved for `patience` steps."""

    def __init__(
        self,
        optimizer: Optimizer,
        mode: Literal["min", "max"] = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: Literal["rel", "abs"] = "rel",
        cooldown: int = 0,
        min_lr: list[float] | float = 0,
        eps: float = 1e-8,
    ) -> None:
        owner = "ReduceLROnPlateau"
        factor = check.real(factor, owner, "factor")
        if factor >= 1.0:
            raise ValueError(f"{owner}: Factor should be < 1.0, got factor={factor}")
        if factor < 0.0:
            raise ValueError(f"{owner}: factor must be >= 0, got {factor}")
        self.factor = factor
        _check_optimizer(owner, optimizer)
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(optimizer.param_groups):
                raise ValueError(
                    f"{owner}: expected {len(optimizer.param_groups)} min_lrs (one per "
                    f"parameter group), got {len(min_lr)}"
                )
            self.default_min_lr: float | None = None
            self.min_lrs = [check.real(value, owner, "min_lr") for value in min_lr]
        else:
            self.default_min_lr = check.real(min_lr, owner, "min_lr")
            self.min_lrs = [self.default_min_lr] * len(optimizer.param_groups)
        self.patience = check.integer(patience, owner, "patience", 0)
        self.cooldown = check.integer(cooldown, owner, "cooldown", 0)
        self.eps = check.real(eps, owner, "eps")
        self.last_epoch = 0
        self._last_lr = _lrs(optimizer)
        self._init_is_better(mode=mode, threshold=threshold, threshold_mode=threshold_mode)
        self._reset()

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def step(self, metrics: SupportsFloat, epoch: int | None = None) -> None:  # type: ignore[override]
        """Records this step's metric and reduces the lrs after `patience` bad steps."""
        try:
            current = float(metrics)
        except (TypeError, ValueError) as error:
            raise type(error)(
                f"ReduceLROnPlateau.step: metrics must be a number, got {_kind(metrics)} "
                f"{metrics!r}"
            ) from error
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            epoch = check.integer(epoch, "ReduceLROnPlateau.step", "epoch")
        self.last_epoch = epoch
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr(epoch)
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = _lrs(self.optimizer)

    def _reduce_lr(self, epoch: int) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"ReduceLROnPlateau: The number of param groups in the `optimizer` "
                    f"({len(groups)}) differs from when `ReduceLROnPlateau` was initialized "
                    f"({len(self.min_lrs)}), usually due to a new param group being added to the "
                    "optimizer. Please modify the `min_lrs` field to match the length of the "
                    "`optimizer` param groups."
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs, strict=True):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    @property
    def in_cooldown(self) -> bool:
        """Whether the scheduler is waiting after a reduction."""
        return self.cooldown_counter > 0

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min" and self.threshold_mode == "abs":
            return a < best - self.threshold
        if self.mode == "max" and self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def _init_is_better(self, mode: Any, threshold: Any, threshold_mode: Any) -> None:
        owner = "ReduceLROnPlateau"
        if not isinstance(mode, str):
            raise TypeError(f"{owner}: mode must be 'min' or 'max', got {_kind(mode)} {mode!r}")
        if mode not in {"min", "max"}:
            raise ValueError(f"{owner}: mode {mode} is unknown! (expected 'min' or 'max')")
        if not isinstance(threshold_mode, str):
            raise TypeError(
                f"{owner}: threshold_mode must be 'rel' or 'abs', got {_kind(threshold_mode)} "
                f"{threshold_mode!r}"
            )
        if threshold_mode not in {"rel", "abs"}:
            raise ValueError(
                f"{owner}: threshold mode {threshold_mode} is unknown! (expected 'rel' or 'abs')"
            )
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode = mode
        self.threshold = check.real(threshold, owner, "threshold")
        self.threshold_mode = threshold_mode

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restores the state (counters, best metric, min_lrs)."""
        state = self._checked_state(state_dict)
        self.__dict__.update(state)
        self._init_is_better(
            mode=self.mode, threshold=self.threshold, threshold_mode=self.threshold_mode
        )


# ---------------------------------------------------------------------------------------------


def _momentum_groups(owner: str, optimizer: Optimizer) -> bool:
    """Whether the optimizer's momentum is betas[0] (Adam) rather than "momentum" (SGD)."""
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError(
            f"{owner}: optimizer must support momentum or beta1 with `cycle_momentum` option "
            f"enabled ({_kind(optimizer)} has neither 'momentum' nor 'betas'); pass "
            "cycle_momentum=False"
        )
    return "betas" in optimizer.defaults


def _set_momentum(group: dict[str, Any], momentum: float, use_beta1: bool) -> None:
    if use_beta1:
        group["betas"] = (momentum, *group["betas"][1:])
    else:
        group["momentum"] = momentum


class CyclicLR(LRScheduler):
    """Cyclical learning rates (Smith, 2017): the lr goes between base_lr and max_lr in cycles
    of step_size_up + step_size_down steps (triangular, triangular2, exp_range or scale_fn),
    and the momentum the opposite way between max_momentum and base_momentum."""

    def __init__(
        self,
        optimizer: Optimizer,
        base_lr: float | list[float],
        max_lr: float | list[float],
        step_size_up: int = 2000,
        step_size_down: int | None = None,
        mode: Literal["triangular", "triangular2", "exp_range"] = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[float], float] | None = None,
        scale_mode: Literal["cycle", "iterations"] = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float = 0.8,
        max_momentum: float = 0.9,
        last_epoch: int = -1,
    ) -> None:
        owner = "CyclicLR"
        _check_optimizer(owner, optimizer)
        self.optimizer = optimizer
        base_lrs = _per_group(owner, "base_lr", optimizer, base_lr)
        last_epoch = check.integer(last_epoch, owner, "last_epoch", -1)
        self.max_lrs = _per_group(owner, "max_lr", optimizer, max_lr)
        up = self._size("step_size_up", step_size_up)
        down = up if step_size_down is None else self._size("step_size_down", step_size_down)
        if up == 0:
            raise ZeroPeriodError(f"{owner}: step_size_up must be positive, got {step_size_up!r}")
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise ValueError(
                f"{owner}: mode is invalid and scale_fn is None (mode must be 'triangular', "
                f"'triangular2' or 'exp_range', got {mode!r})"
            )
        if scale_fn is not None and not callable(scale_fn):
            raise TypeError(f"{owner}: scale_fn must be callable or None, got {_kind(scale_fn)}")
        if scale_mode not in ("cycle", "iterations"):
            raise ValueError(
                f"{owner}: scale_mode must be 'cycle' or 'iterations', got {scale_mode!r}"
            )
        self.mode = mode
        self.gamma = check.real(gamma, owner, "gamma")
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode
        self._init_scale_fn()
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            self.use_beta1 = _momentum_groups(owner, optimizer)
            self.base_momentums = _per_group(owner, "base_momentum", optimizer, base_momentum)
            self.max_momentums = _per_group(owner, "max_momentum", optimizer, max_momentum)
        # Every argument is checked: only now are the optimizer's groups changed.
        if last_epoch == -1:
            for index, group in enumerate(optimizer.param_groups):
                group["lr"] = base_lrs[index]
                if self.cycle_momentum:
                    _set_momentum(group, self.max_momentums[index], self.use_beta1)
                    group["max_momentum"] = self.max_momentums[index]
                    group["base_momentum"] = self.base_momentums[index]
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    @staticmethod
    def _size(name: str, value: Any) -> float:
        # PyTorch takes float(value): a numeric str passes, another str is a ValueError.
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError as error:
                raise ValueError(f"CyclicLR: {name} must be a number, got {value!r}") from error
        size = check.finite(value, "CyclicLR", name)
        if size < 0:
            raise ValueError(f"CyclicLR: {name} must be >= 0, got {value!r}")
        return size

    def _init_scale_fn(self) -> None:
        if self._scale_fn_custom is None:
            self.scale_mode = "iterations" if self.mode == "exp_range" else "cycle"

    def scale_fn(self, x: float) -> float:
        """The amplitude's scale at cycle (or iteration) x: scale_fn's, or the mode's."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma**x

    def get_lr(self) -> list[float]:
        """The lrs at last_epoch (and sets the cycled momentum of each group)."""
        self._warn_outside_step()
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle  # the position in the cycle
        if x <= self.step_ratio:
            scale_factor = x / self.step_ratio
        else:
            scale_factor = (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        lrs = [
            base_lr + (max_lr - base_lr) * scale_factor * scale
            for base_lr, max_lr in zip(self.base_lrs, self.max_lrs, strict=True)
        ]
        if self.cycle_momentum:
            for low, high, group in zip(
                self.base_momentums,
                self.max_momentums,
                self.optimizer.param_groups,
                strict=True,
            ):
                _set_momentum(group, high - (high - low) * scale_factor * scale, self.use_beta1)
        return lrs

    def state_dict(self) -> dict[str, Any]:
        """The state, with the attributes of a callable-object scale_fn (None otherwise)."""
        state = {k: v for k, v in super().state_dict().items() if k != "_scale_fn_custom"}
        state["_scale_fn_custom"] = _function_state(self._scale_fn_custom)
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restores the state and the attributes of a callable-object scale_fn."""
        state = self._checked_state(state_dict)
        attributes = state.pop("_scale_fn_custom", None)
        self.__dict__.update(state)
        if attributes is not None and self._scale_fn_custom is not None:
            self._scale_fn_custom.__dict__.update(attributes)
        self._init_scale_fn()


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin, 2018): the lr rises from max_lr / div_factor to max_lr
    over pct_start of total_steps, then anneals to initial lr / final_div_factor (three_phase:
    back to the initial lr first); momentum moves the opposite way. Step it after every batch."""

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: Literal["cos", "linear"] = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.85,
        max_momentum: float | list[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        owner = "OneCycleLR"
        _check_optimizer(owner, optimizer)
        self.optimizer = optimizer
        if total_steps is not None:
            if not _is_real(total_steps):
                raise TypeError(
                    f"{owner}: total_steps must be a positive int, got {_kind(total_steps)} "
                    f"{total_steps!r}"
                )
            if total_steps <= 0 or not check.is_int(total_steps):
                raise ValueError(
                    f"{owner}: Expected positive integer total_steps, but got {total_steps}"
                )
            self.total_steps = int(total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            for name, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
                if not check.is_int(value) or value <= 0:
                    raise ValueError(
                        f"{owner}: Expected positive integer {name}, but got {value!r}"
                    )
            self.total_steps = int(epochs) * int(steps_per_epoch)
        else:
            raise ValueError(
                f"{owner}: You must define either total_steps OR (epochs AND steps_per_epoch)"
            )
        if isinstance(pct_start, str):
            raise ValueError(f"{owner}: pct_start must be a float in [0, 1], got {pct_start!r}")
        if not _is_real(pct_start):
            raise TypeError(
                f"{owner}: pct_start must be a float in [0, 1], got {_kind(pct_start)} "
                f"{pct_start!r}"
            )
        if pct_start < 0 or pct_start > 1 or not isinstance(pct_start, float):
            raise ValueError(
                f"{owner}: Expected float between 0 and 1 pct_start, but got {pct_start}"
            )
        warmup_end = float(pct_start * self.total_steps) - 1
        if warmup_end == 0:  # PyTorch divides 0 by 0 at step 0
            raise ZeroPeriodError(
                f"{owner}: pct_start * total_steps must not be 1 (the warm-up would have no "
                f"steps), got pct_start={pct_start} with total_steps={self.total_steps}"
            )
        if three_phase:
            self._schedule_phases = [
                self._phase(warmup_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                self._phase(
                    float(2 * pct_start * self.total_steps) - 2,
                    "max_lr",
                    "initial_lr",
                    "base_momentum",
                    "max_momentum",
                ),
                self._phase(
                    self.total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"
                ),
            ]
        else:
            self._schedule_phases = [
                self._phase(warmup_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                self._phase(
                    self.total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"
                ),
            ]
        if not isinstance(anneal_strategy, str) or anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"{owner}: anneal_strategy must be one of 'cos' or 'linear', instead got "
                f"{anneal_strategy!r}"
            )
        self._anneal_func_type = anneal_strategy
        max_lrs = _per_group(owner, "max_lr", optimizer, max_lr)
        div_factor = check.real(div_factor, owner, "div_factor")
        final_div_factor = check.real(final_div_factor, owner, "final_div_factor")
        for name, value in (("div_factor", div_factor), ("final_div_factor", final_div_factor)):
            if value == 0:
                raise ZeroPeriodError(f"{owner}: {name} must be positive, got 0")
            if not value > 0:
                raise ValueError(f"{owner}: {name} must be positive, got {value}")
        last_epoch = check.integer(last_epoch, owner, "last_epoch", -1)
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            use_beta1 = _momentum_groups(owner, optimizer)
            max_momentums = _per_group(owner, "max_momentum", optimizer, max_momentum)
            base_momentums = _per_group(owner, "base_momentum", optimizer, base_momentum)
        if last_epoch == -1:
            for peak, group in zip(max_lrs, optimizer.param_groups, strict=True):
                group["initial_lr"] = peak / div_factor
                group["max_lr"] = peak
                group["min_lr"] = group["initial_lr"] / final_div_factor
        if self.cycle_momentum:
            self.use_beta1 = use_beta1
            if last_epoch == -1:
                for high, low, group in zip(
                    max_momentums, base_momentums, optimizer.param_groups, strict=True
                ):
                    _set_momentum(group, high, use_beta1)
                    group["max_momentum"] = high
                    group["base_momentum"] = low
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _phase(
        end_step: float, start_lr: str, end_lr: str, start_momentum: str, end_momentum: str
    ) -> dict[str, Any]:
        return {
            "end_step": end_step,
            "start_lr": start_lr,
            "end_lr": end_lr,
            "start_momentum": start_momentum,
            "end_momentum": end_momentum,
        }

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        """The lrs at last_epoch (and sets the cycled momentum of each group)."""
        self._warn_outside_step()
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise ValueError(
                f"OneCycleLR: Tried to step {step_num} times. The specified number of total "
                f"steps is {self.total_steps}"
            )
        last = len(self._schedule_phases) - 1
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for index, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step_num <= end_step or index == last:
                    if end_step == start_step:
                        raise ZeroPeriodError(
                            f"OneCycleLR: phase {index} of the schedule has no steps at step "
                            f"{step_num} (pct_start * total_steps = "
                            f"{self._schedule_phases[0]['end_step'] + 1:g} with total_steps="
                            f"{self.total_steps}); choose pct_start so that each phase spans "
                            "at least one step"
                        )
                    pct = (step_num - start_step) / (end_step - start_step)
                    lr = self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct)
                    if self.cycle_momentum:
                        momentum = self._anneal(
                            group[phase["start_momentum"]], group[phase["end_momentum"]], pct
                        )
                    break
                start_step = end_step
            lrs.append(lr)
            if self.cycle_momentum:
                _set_momentum(group, momentum, self.use_beta1)
        return lrs
