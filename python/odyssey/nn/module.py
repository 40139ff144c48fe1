"""Module: the base of every layer; it finds its parameters, buffers and sub-modules by attribute.

Attributes stay plain instance attributes (no __getattr__ on the forward path); assignment also
records Parameters, Modules and buffers in ordered registries so that names follow PyTorch's
(`features.0.weight`) and state dicts move between the two unchanged.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from odyssey.nn.hooks import BackwardHook, RemovableHandle
from odyssey.nn.parameter import Parameter
from odyssey.tensor import Tensor

_HOOK_TABLES = (
    "_forward_pre_hooks",
    "_forward_pre_hooks_with_kwargs",
    "_forward_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_backward_pre_hooks",
    "_backward_hooks",
)


def _insert(table: OrderedDict[int, Any], key: int, hook: Any, prepend: bool) -> None:
    table[key] = hook
    if prepend:
        table.move_to_end(key, last=False)


def _addindent(text: str, spaces: int) -> str:
    """Indents every line but the first (torch's helper for nested reprs)."""
    first, *rest = text.split("\n")
    return "\n".join([first] + [(" " * spaces + line) if line.strip() else "" for line in rest])


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict(strict=False)` skipped."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of layers and models: subclasses set attributes in __init__ and define forward."""

    training: bool
    _forward_pre_hooks: OrderedDict[int, Callable[..., Any]]
    _forward_pre_hooks_with_kwargs: OrderedDict[int, bool]
    _forward_hooks: OrderedDict[int, Callable[..., Any]]
    _forward_hooks_with_kwargs: OrderedDict[int, bool]
    _forward_hooks_always_called: OrderedDict[int, bool]
    _backward_pre_hooks: OrderedDict[int, Callable[..., Any]]
    _backward_hooks: OrderedDict[int, Callable[..., Any]]

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        # Hook tables keyed by handle id, in calling order (torch's names).
        for table in _HOOK_TABLES:
            object.__setattr__(self, table, OrderedDict())

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation of the module: subclasses define it; call the module, not forward, so
        that its hooks run."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not (
            self._forward_pre_hooks
            or self._forward_hooks
            or self._backward_hooks
            or self._backward_pre_hooks
        ):
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """forward() between the hooks, in torch's order: forward pre-hooks, the backward hooks'
        input side, forward, forward hooks, the backward hooks' output side."""
        output = None
        backward_hook = None
        ran: set[int] = set()
        try:
            args, kwargs = self._run_forward_pre_hooks(args, kwargs)
            if self._backward_hooks or self._backward_pre_hooks:
                backward_hook = BackwardHook(
                    self,
                    list(self._backward_hooks.values()),
                    list(self._backward_pre_hooks.values()),
                )
                args = backward_hook.setup_input_hook(args)
            output = self.forward(*args, **kwargs)
            # A snapshot, as torch takes: a hook may remove itself or register another.
            for hook_id, hook in tuple(self._forward_hooks.items()):
                ran.add(hook_id)
                if hook_id in self._forward_hooks_with_kwargs:
                    result = hook(self, args, kwargs, output)
                else:
                    result = hook(self, args, output)
                if result is not None:
                    output = result
        except Exception:
            self._run_always_called_hooks(args, kwargs, output, ran)
            raise
        if backward_hook is not None:
            output = backward_hook.setup_output_hook(output)
        return output

    def _run_forward_pre_hooks(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        for hook_id, hook in tuple(self._forward_pre_hooks.items()):
            if hook_id in self._forward_pre_hooks_with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(
                            "forward pre-hook must return None or a tuple of (new_args, "
                            f"new_kwargs), but got {result}."
                        )
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        return args, kwargs

    def _run_always_called_hooks(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any, ran: set[int]
    ) -> None:
        """After forward or a forward hook raised: the `always_call` hooks that have not run, each
        one's own error turned into a warning so that the first error propagates."""
        for hook_id, hook in tuple(self._forward_hooks.items()):
            if hook_id not in self._forward_hooks_always_called or hook_id in ran:
                continue
            try:
                if hook_id in self._forward_hooks_with_kwargs:
                    hook(self, args, kwargs, output)
                else:
                    hook(self, args, output)
            except Exception as error:
                warnings.warn(
                    "module forward hook with ``always_call=True`` raised an exception that was "
                    f"silenced as another error was raised in forward: {error}",
                    stacklevel=3,
                )

    # -- hooks --------------------------------------------------------------------------------

    def register_forward_pre_hook(
        self,
        hook: Callable[..., Any],
        *,
        prepend: bool = False,
        with_kwargs: bool = False,
    ) -> RemovableHandle:
        """`hook(module, args)` before every forward; it may return new args (a tuple, or one
        value that becomes a 1-tuple). With `with_kwargs`, `hook(module, args, kwargs)` may
        return a new `(args, kwargs)`. `prepend` runs it before the hooks already registered."""
        handle = RemovableHandle(
            self._forward_pre_hooks, extra_dicts=(self._forward_pre_hooks_with_kwargs,)
        )
        _insert(self._forward_pre_hooks, handle.id, hook, prepend)
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs[handle.id] = True
        return handle

    def register_forward_hook(
        self,
        hook: Callable[..., Any],
        *,
        prepend: bool = False,
        with_kwargs: bool = False,
        always_call: bool = False,
    ) -> RemovableHandle:
        """`hook(module, args, output)` after every forward; a non-None return replaces the
        output. With `with_kwargs`, `hook(module, args, kwargs, output)`. With `always_call`, it
        also runs when forward raises (then with output None)."""
        handle = RemovableHandle(
            self._forward_hooks,
            extra_dicts=(self._forward_hooks_with_kwargs, self._forward_hooks_always_called),
        )
        _insert(self._forward_hooks, handle.id, hook, prepend)
        if with_kwargs:
            self._forward_hooks_with_kwargs[handle.id] = True
        if always_call:
            self._forward_hooks_always_called[handle.id] = True
        return handle

    def register_full_backward_pre_hook(
        self, hook: Callable[..., Any], prepend: bool = False
    ) -> RemovableHandle:
        """`hook(module, grad_output)` once the gradients of the outputs are complete; it may
        return a replacement grad_output (a tuple of the same length)."""
        handle = RemovableHandle(self._backward_pre_hooks)
        _insert(self._backward_pre_hooks, handle.id, hook, prepend)
        return handle

    def register_full_backward_hook(
        self, hook: Callable[..., Any], prepend: bool = False
    ) -> RemovableHandle:
        """`hook(module, grad_input, grad_output)` once the gradients of the inputs are complete:
        tuples with an entry per positional input (None where it is not a tensor needing a
        gradient) and per output. It may return a replacement grad_input, which then flows on.
        When no input needs a gradient, it runs at the outputs with grad_input all None."""
        handle = RemovableHandle(self._backward_hooks)
        _insert(self._backward_hooks, handle.id, hook, prepend)
        return handle

    # -- registration -------------------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() (call super().__init__() first)"
            )
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            buffers.pop(name, None)
            modules.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            buffers.pop(name, None)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}: cannot assign {type(value).__name__} to parameter "
                    f"{name!r} (a Parameter or None is needed)"
                )
            params[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"{type(self).__name__}: cannot assign {type(value).__name__} to buffer "
                    f"{name!r} (a Tensor or None is needed)"
                )
            buffers[name] = value
        elif name in modules:
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}: cannot assign {type(value).__name__} to sub-module "
                    f"{name!r}"
                )
            modules[name] = None
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._parameters.pop(name, None)
        self._buffers.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Adds (or with None, clears) the parameter ``name``, as an attribute and in
        ``parameters()``."""
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def register_buffer(self, name: str, value: Tensor | None) -> None:
        """A state tensor that is saved in state_dict but not trained (running statistics)."""
        self._buffers[name] = value
        object.__setattr__(self, name, value)

    def add_module(self, name: str, module: Module | None) -> None:
        """Registers `module` (or a None placeholder) as the sub-module `name`."""
        where = f"{type(self).__name__}.add_module"
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{where}: {type(module).__name__} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"{where}: module name should be a string, got {type(name).__name__}")
        if name == "":
            raise KeyError(f'{where}: module name can\'t be empty string ""')
        if "." in name:
            raise KeyError(f'{where}: module name can\'t contain ".", got: {name}')
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"{where}: attribute '{name}' already exists")
        self._modules[name] = module
        object.__setattr__(self, name, module)

    def register_module(self, name: str, module: Module | None) -> None:
        """An alias of add_module (torch has both)."""
        self.add_module(name, module)

    def get_submodule(self, target: str) -> Module:
        """The sub-module at a dotted path (`"layer1.0.conv1"`); "" is the module itself."""
        module = self
        walked = type(self).__name__
        for name in target.split(".") if target else []:
            child = module._modules.get(name)
            if child is None:
                raise AttributeError(
                    f"{walked} has no sub-module `{name}` (looking for {target!r})"
                )
            module, walked = child, f"{walked}.{name}"
        return module

    # -- traversal ----------------------------------------------------------------------------

    def named_modules(
        self, memo: set[Module] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module and every sub-module, depth first in
        registration order; a module reached twice is yielded once unless remove_duplicate is
        False."""
        if memo is None:
            memo = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if module in memo:
                continue
            if remove_duplicate:
                memo.add(module)
            yield name, module
            children = [
                (f"{name}.{child_name}" if name else child_name, child)
                for child_name, child in module._modules.items()
                if child is not None
            ]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        """This module and every submodule under it, each once, depth first."""
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, module) of the direct sub-modules, each once."""
        seen: set[Module] = set()
        for name, module in self._modules.items():
            if module is not None and module not in seen:
                seen.add(module)
                yield name, module

    def children(self) -> Iterator[Module]:
        """The direct submodules, in the order they were assigned."""
        for _, module in self.named_children():
            yield module

    def _named_members(
        self, table: str, prefix: str, recurse: bool, remove_duplicate: bool
    ) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        modules = (
            self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
            if recurse
            else iter([(prefix, self)])
        )
        for module_name, module in modules:
            for name, member in getattr(module, table).items():
                if member is None or id(member) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(member))
                yield (f"{module_name}.{name}" if module_name else name), member

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs, each parameter once, in registration order."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter of this module (and of its submodules when ``recurse``), each once."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        """(name, buffer) pairs such as BatchNorm's ``running_mean``; names are dotted paths."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every buffer (state that is saved but not trained) of this module and its submodules."""
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def apply(self, function: Callable[[Module], object]) -> Module:
        """Calls function on every sub-module, children first, then on self (custom init)."""
        for module in self.children():
            module.apply(function)
        function(self)
        return self

    # -- modes and gradients ------------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Sets training mode (dropout and batch statistics on) for this module and all under it."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Sets evaluation mode: ``train(False)``."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clears every parameter's gradient: to None, or to zeros with ``set_to_none=False``."""
        for param in self.parameters():
            if set_to_none:
                param.grad = None
            elif param.grad is not None:
                param.grad.data[...] = 0

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Turns gradient tracking of every parameter on or off (e.g. to freeze layers)."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    # -- state --------------------------------------------------------------------------------

    def _state_tensors(self) -> OrderedDict[str, Tensor]:
        """Parameters and buffers by PyTorch's names, module by module in registration order."""
        state: OrderedDict[str, Tensor] = OrderedDict()
        for module_name, module in self.named_modules():
            prefix = f"{module_name}." if module_name else ""
            for name, param in module._parameters.items():
                if param is not None:
                    state[prefix + name] = param
            for name, buffer in module._buffers.items():
                if buffer is not None:
                    state[prefix + name] = buffer
        return state

    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Name -> NumPy array of every parameter and buffer (the live arrays, as PyTorch's state
        dict holds the live tensors)."""
        return OrderedDict((name, t.data) for name, t in self._state_tensors().items())

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copies arrays (NumPy, or anything np.asarray takes) into the parameters and buffers in
        place. Shape mismatches always fail; missing or unexpected names fail when strict."""
        fn = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{fn}: state_dict must be a mapping, got {type(state_dict).__name__}")
        own = self._state_tensors()
        missing = [name for name in own if name not in state_dict]
        unexpected = [name for name in state_dict if name not in own]
        arrays = {}
        mismatched = []
        for name, target in own.items():
            if name not in state_dict:
                continue
            value = np.asarray(state_dict[name])
            if value.shape != target.data.shape:
                mismatched.append(
                    f"{name}: checkpoint shape {value.shape}, model shape {target.data.shape}"
                )
            arrays[name] = value
        problems = []
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if mismatched:
            problems.append("shape mismatches: " + "; ".join(mismatched))
        if problems:
            raise ValueError(f"{fn}: " + " | ".join(problems))
        for name, value in arrays.items():
            np.copyto(own[name].data, value, casting="same_kind")
        return IncompatibleKeys(missing, unexpected)

    # -- display ------------------------------------------------------------------------------

    def extra_repr(self) -> str:
        """The module's settings, shown inside its repr's parentheses (one line per setting line);
        modules with settings override it, with torch's text."""
        return ""

    def __repr__(self) -> str:
        """torch's format: `Name(extra)`, or the extra lines and `(name): child` lines indented
        by two spaces under `Name(` and closed by `)`."""
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [
            f"({name}): " + _addindent(repr(module), 2) for name, module in self._modules.items()
        ]
        lines = extra_lines + child_lines
        text = type(self).__name__ + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                text += extra_lines[0]
            else:
                text += "\n  " + "\n  ".join(lines) + "\n"
        return text + ")"
