"""The Optimizer base class: parameter groups, per-parameter state, zero_grad and state dicts.

It follows torch.optim.Optimizer so that training loops and state dicts move between the two: a
group is a dict of options plus ``"params"``, ``state`` maps a parameter to its buffers, and
``state_dict()`` names parameters by their position across the groups in order.
"""

from __future__ import annotations

import copy
import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from odyssey import _checks as check
from odyssey.tensor import Tensor

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]

_UNORDERED = (
    "optimizer parameters need to be organized in ordered collections, but the ordering of "
    "tensors in sets will change between runs. Please use a list instead."
)


def check_lr(owner: str, lr: Any) -> None:
    """ValueError (with PyTorch's wording after the optimizer's name) unless lr >= 0."""
    if not check.real(lr, owner, "lr") >= 0.0:
        raise ValueError(f"{owner}: Invalid learning rate: {lr}")


def check_weight_decay(owner: str, weight_decay: Any) -> None:
    """ValueError unless weight_decay >= 0."""
    if not check.real(weight_decay, owner, "weight_decay") >= 0.0:
        raise ValueError(f"{owner}: Invalid weight_decay value: {weight_decay}")


class Optimizer:
    """Base class: subclasses set `defaults`, check a group's options and implement `step`."""

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        name = type(self).__name__
        self.defaults = dict(defaults)
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, (Tensor, np.ndarray, dict)) or not isinstance(params, Iterable):
            raise TypeError(
                f"{name}: params argument given to the optimizer should be an iterable of Tensors "
                f"or dicts, but got {type(params).__name__}"
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: {_UNORDERED}")
        groups = list(params)
        if not groups:
            raise ValueError(f"{name}: optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def check_group(self, group: dict[str, Any]) -> None:
        """Raises ValueError/TypeError when a group's options are invalid (per optimizer)."""
        check_lr(type(self).__name__, group["lr"])

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Adds a group of parameters with its own options; missing options take the defaults."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: param_group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{name}: param_group has no 'params' entry")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: {_UNORDERED}")
        elif not isinstance(params, Iterable):
            raise TypeError(
                f"{name}: a group's params must be an iterable of Tensors, got "
                f"{type(params).__name__}"
            )
        else:
            params = list(params)
        for param in params:
            if not isinstance(param, Tensor):
                raise TypeError(
                    f"{name}: optimizer can only optimize Tensors, but one of the params is "
                    f"{type(param).__name__}"
                )
            if not param.is_leaf:
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor")
            if param.data.dtype != np.float32:
                raise TypeError(
                    f"{name}: optimizer can only optimize float32 Tensors, but one of the params "
                    f"has dtype {param.data.dtype}"
                )
        if len({id(p) for p in params}) != len(params):
            raise ValueError(
                f"{name}: a parameter appears more than once in the same parameter group"
            )
        group = {**param_group, "params": params}
        for option, default in self.defaults.items():
            group.setdefault(option, copy.deepcopy(default))
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in taken for p in params):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        self.check_group(group)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clears every parameter's gradient: drops it, or zeroes it in place."""
        for group in self.param_groups:
            for param in group["params"]:
                grad = param._grad  # the attribute, not the property: this runs every step
                if grad is None:
                    continue
                if set_to_none:
                    param._grad = None
                else:
                    grad.data[...] = 0.0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter with a gradient; returns the closure's loss if given."""
        raise NotImplementedError(f"{type(self).__name__} does not implement step")

    def with_grads(
        self, group_index: int, group: dict[str, Any]
    ) -> list[tuple[Tensor, np.ndarray]]:
        """The group's parameters that have a gradient, each with the gradient array its step
        kernel takes (negated under `maximize`); an error names the first that is refused."""
        found = []
        for index, param in enumerate(group["params"]):
            grad_tensor = param._grad
            if grad_tensor is None:
                continue
            data = param.data
            grad = grad_tensor.data
            flags = grad.flags
            # The common case in attribute reads; checked_grad decides (and words) the others.
            if not (
                grad.dtype == check.F32
                and grad.shape == data.shape
                and flags.c_contiguous
                and flags.aligned
                and data.dtype == check.F32
            ):
                grad = self.checked_grad(param, group_index, index)
            if group.get("maximize"):
                grad = np.negative(grad, out=np.empty_like(grad))  # an array even when 0-d
            found.append((param, grad))
        return found

    def name_refused(self, group_index: int, group: dict[str, Any]) -> None:
        """Raises checked_grad's error for the group's first parameter a step kernel refuses:
        after a multi-tensor kernel refused the group (it updates nothing then), this names the
        parameter (shared memory is the one check with_grads leaves to the kernel)."""
        for index, param in enumerate(group["params"]):
            if param._grad is not None:
                self.checked_grad(param, group_index, index)

    def checked_grad(self, param: Tensor, group_index: int, index: int) -> np.ndarray:
        """The array of param's gradient, or an error naming `step` and the parameter when the
        parameter or its gradient is not what the step kernel takes."""
        grad = param.grad.data  # the grad setter took only a Tensor, but its array may change
        if (
            param.data.dtype == check.F32
            and grad.dtype == check.F32
            and grad.shape == param.data.shape
            and not np.may_share_memory(grad, param.data)
        ):
            # The step kernel reads a C-contiguous array; a strided view is copied for it.
            return grad if grad.flags.c_contiguous and grad.flags.aligned else np.array(grad)
        where = f"{type(self).__name__}.step: parameter {index} of group {group_index}"
        if np.may_share_memory(grad, param.data):
            raise ValueError(f"{where}: the gradient's array shares memory with the parameter")
        if param.data.dtype != check.F32 or grad.dtype != check.F32:
            raise TypeError(
                f"{where}: the parameter and its gradient must be float32, got "
                f"{param.data.dtype} and {grad.dtype}"
            )
        raise ValueError(
            f"{where}: the parameter has shape {param.data.shape} but its gradient has shape "
            f"{grad.shape}"
        )

    def state_dict(self) -> dict[str, Any]:
        """{"state": {index: {name: value}}, "param_groups": [{options..., "params": [index]}]}.

        Indices count the parameters across the groups in order. Arrays are copies, so the dict
        is a snapshot that later steps do not change.
        """
        index_of: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            indices = []
            for param in group["params"]:
                index_of.setdefault(id(param), len(index_of))
                indices.append(index_of[id(param)])
            options = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            groups.append({**options, "params": indices})
        state = {
            index_of[id(param)]: {
                name: value.copy() if isinstance(value, np.ndarray) else value
                for name, value in entry.items()
            }
            for param, entry in self.state.items()
            if id(param) in index_of
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores options and state saved by `state_dict` (here or by torch, as NumPy arrays).

        The groups must have the same sizes as this optimizer's; state arrays are copied into
        float32 arrays of their parameter's shape.
        """
        fn = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict):
            raise TypeError(
                f"{fn}: state_dict must be a dict with 'state' and 'param_groups', got "
                f"{type(state_dict).__name__}"
            )
        if not {"state", "param_groups"} <= state_dict.keys():
            raise ValueError(f"{fn}: state_dict must have 'state' and 'param_groups' keys")
        saved_groups = state_dict["param_groups"]
        if not isinstance(state_dict["state"], dict) or not all(
            isinstance(g, dict) and isinstance(g.get("params"), (list, tuple)) for g in saved_groups
        ):
            raise ValueError(
                f"{fn}: 'state' must be a dict and every parameter group a dict with a "
                "'params' list"
            )
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{fn}: loaded state dict has {len(saved_groups)} parameter groups but the "
                f"optimizer has {len(self.param_groups)}"
            )
        param_of: dict[int, Tensor] = {}
        for number, (group, saved) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{fn}: loaded state dict's parameter group {number} has "
                    f"{len(saved['params'])} parameters but the optimizer's has "
                    f"{len(group['params'])}"
                )
            param_of.update(zip((int(i) for i in saved["params"]), group["params"], strict=True))
        if len(param_of) != sum(len(g["params"]) for g in self.param_groups):
            raise ValueError(
                f"{fn}: loaded state dict lists a parameter index in more than one place"
            )
        new_state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for index, entry in state_dict["state"].items():
            if int(index) not in param_of:
                raise ValueError(
                    f"{fn}: loaded state dict has state for parameter {index}, which no group lists"
                )
            param = param_of[int(index)]
            new_state[param] = {
                name: self._load_state_value(fn, param, int(index), name, value)
                for name, value in entry.items()
            }
        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups, strict=True):
            # Options the saved dict lacks keep their current values.
            options = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            new_group = {**group, **options, "params": group["params"]}
            self.check_group(new_group)
            new_groups.append(new_group)
        self.param_groups = new_groups
        self.state = new_state

    @staticmethod
    def _load_state_value(fn: str, param: Tensor, index: int, name: str, value: Any) -> Any:
        if name == "step":
            step = float(np.asarray(value))
            if not (step >= 0 and math.isfinite(step) and step == int(step)):
                raise ValueError(f"{fn}: parameter {index} has step {value!r}")
            return int(step)
        if value is None:
            return value
        array = np.array(value, dtype=np.float32, order="C", copy=True)
        if array.shape != param.data.shape:
            raise ValueError(
                f"{fn}: state {name!r} of parameter {index} has shape {array.shape} "
                f"but the parameter has shape {param.data.shape}"
            )
        return array

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for number, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {number}")
            lines.extend(f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params")
        lines.append(")")
        return "\n".join(lines)
