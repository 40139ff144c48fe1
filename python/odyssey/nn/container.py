"""Containers as in PyTorch: Sequential (modules applied in order, named "0", "1", ...),
ModuleList (an indexable list of registered modules) and ModuleDict (an ordered mapping).

Sequential runs the modules it lists, in their order, with two fusions for speed, each of a pair
of exactly these classes that no hook observes and neither of which has a forward set on the
instance: an nn.ReLU directly followed by an nn.MaxPool2d (without dilation or return_indices)
runs on a float32 Tensor of 3 or 4 dims as one F.relu_max_pool2d call, one kernel pass each way
instead of four; an nn.Linear directly followed by an nn.ReLU runs as one op, the ReLU in place on
the GEMM's result and its backward inside the Linear's. The values and gradients are those of the
two calls bit for bit (signed zeros included); what differs is the result's grad_fn name
(ReluMaxPool2DWithIndicesBackward0 for the first). The model still prints, iterates and saves as
the listed layers. nn.ReLUMaxPool2d is the first fusion as one layer."""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from itertools import chain
from typing import Any

import numpy as np

from odyssey.nn import functional as F
from odyssey.nn.activation import ReLU
from odyssey.nn.linear import Linear
from odyssey.nn.module import Module, _addindent
from odyssey.nn.pooling import MaxPool2d
from odyssey.tensor import Tensor


class Sequential(Module):
    """Runs the modules it is given (positionally, or as an OrderedDict of names) in that order,
    each on the previous one's output; indexing and slicing as torch's."""

    def __init__(self, *modules: Module | OrderedDict[str, Module]) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for index, module in enumerate(modules):
                if not isinstance(module, Module):
                    raise TypeError(
                        f"Sequential: argument {index} is a {type(module).__name__}, not a Module"
                    )
                self.add_module(str(index), module)

    def forward(self, x: Any) -> Any:
        modules = [m for m in self._modules.values() if m is not None]
        count = len(modules)
        index = 0
        while index < count:
            module = modules[index]
            index += 1
            kind = type(module)
            if (kind is ReLU or kind is Linear) and index < count:
                following = modules[index]
                if kind is ReLU:
                    if (
                        type(following) is MaxPool2d
                        and _fusable_input(x)
                        and _fusable_pool(module, following)
                    ):
                        x = F.relu_max_pool2d(
                            x,
                            following.kernel_size,
                            following.stride,
                            following.padding,
                            1,
                            following.ceil_mode,
                        )
                        index += 1
                        continue
                elif type(following) is ReLU and _unobserved(module, following):
                    x = F._linear_relu(x, module.weight, module.bias)
                    index += 1
                    continue
            x = module(x)
        return x

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return (m for m in self._modules.values() if m is not None)

    def __getitem__(self, index: int | slice) -> Module:
        if isinstance(index, slice):
            return Sequential(OrderedDict(list(self._modules.items())[index]))
        return list(self._modules.values())[index]


def _fusable_input(x: Any) -> bool:
    """Whether x is an input the fused ReLU → MaxPool2d accepts (a float32 Tensor of 3 or 4
    dims); anything else runs the modules one by one, so an error names the function the user
    called (relu, max_pool2d) rather than relu_max_pool2d."""
    return type(x) is Tensor and x.data.dtype == np.float32 and x.data.ndim in (3, 4)


def _fusable_pool(relu: ReLU, pool: MaxPool2d) -> bool:
    """Whether ReLU then this pool may run as F.relu_max_pool2d: nothing observes the pair (see
    _unobserved), the pool returns no indices, and without dilation every window holds an input
    element (with dilation, a window wholly in the padding gives -inf unfused but 0 fused)."""
    if pool.return_indices or pool.dilation not in (1, (1, 1)):
        return False
    return _unobserved(relu, pool)


def _unobserved(first: Module, second: Module) -> bool:
    """Whether two modules may run as one fused call: no hook and no forward set on either
    instance could see the first one's output or either module's call."""
    if "forward" in first.__dict__ or "forward" in second.__dict__:
        return False
    # The tables Module.__call__ reads: every hook is in one of them.
    return not (
        first._forward_pre_hooks
        or first._forward_hooks
        or first._backward_hooks
        or first._backward_pre_hooks
        or second._forward_pre_hooks
        or second._forward_hooks
        or second._backward_hooks
        or second._backward_pre_hooks
    )


class ModuleList(Module):
    """A list of sub-modules registered under "0", "1", ...: indexing (ints and slices), len,
    iteration, append, extend, insert, pop, del, + and +=, as a Python list. It has no forward;
    the owner calls its modules."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _key(self, index: int) -> str:
        """The registered name of a (possibly negative) index."""
        position = operator.index(index)
        if not -len(self) <= position < len(self):
            raise IndexError(
                f"ModuleList: index {position} is out of range for {len(self)} modules"
            )
        return str(position % len(self))

    def _renumber(self, modules: list[Module]) -> None:
        """Registers `modules` as "0", "1", ... in place of the current ones."""
        for name in list(self._modules):
            object.__delattr__(self, name)
        self._modules.clear()
        for index, module in enumerate(modules):
            self.add_module(str(index), module)

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return type(self)(list(self._modules.values())[index])
        return self._modules[self._key(index)]

    def __setitem__(self, index: int, module: Module) -> None:
        self.add_module(self._key(index), module)

    def __delitem__(self, index: int | slice) -> None:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            del modules[index]
        else:
            del modules[int(self._key(index))]
        self._renumber(modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return ModuleList(chain(self, other))

    def append(self, module: Module) -> ModuleList:
        """Adds a module at the end; returns the list."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Appends every module of an iterable; returns the list."""
        if not isinstance(modules, Iterable):
            raise TypeError(
                "ModuleList.extend should be called with an iterable, but got "
                + type(modules).__name__
            )
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Inserts before `index`, as list.insert (clamped to the ends)."""
        modules = list(self._modules.values())
        modules.insert(operator.index(index), module)
        self._renumber(modules)

    def pop(self, index: int | slice = -1) -> Any:
        """Removes the module (or slice of modules) at ``index`` and returns it."""
        module = self[index]
        del self[index]
        return module

    def __repr__(self) -> str:
        """torch's: runs of equal modules are folded into `(first-last): n x Module(...)`."""
        reprs = [repr(module) for module in self]
        if not reprs:
            return type(self).__name__ + "()"
        runs: list[list[Any]] = []  # [first, last, repr]
        for index, text in enumerate(reprs):
            if runs and runs[-1][2] == text:
                runs[-1][1] = index
            else:
                runs.append([index, index, text])
        lines = [
            _addindent(
                f"({first}): {text}"
                if first == last
                else f"({first}-{last}): {last - first + 1} x {text}",
                2,
            )
            for first, last, text in runs
        ]
        return type(self).__name__ + "(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """An ordered mapping of names to registered sub-modules: `d[key]`, `d[key] = m`, del, in,
    len, iteration over the keys, keys/items/values, update, pop and clear, as a dict. Keys follow
    add_module's rules (no ".", not an attribute of the class such as "train")."""

    def __init__(self, modules: Mapping[str, Module] | Iterable[Any] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]
        object.__delattr__(self, key)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def clear(self) -> None:
        """Removes every module."""
        for key in list(self._modules):
            del self[key]

    def pop(self, key: str) -> Module:
        """Removes the module under ``key`` and returns it."""
        module = self[key]
        del self[key]
        return module

    def keys(self) -> KeysView[str]:
        """The keys in insertion order."""
        return self._modules.keys()

    def items(self) -> ItemsView[str, Module]:
        """(key, module) pairs in insertion order."""
        return self._modules.items()

    def values(self) -> ValuesView[Module]:
        """The modules in insertion order."""
        return self._modules.values()

    def update(self, modules: Mapping[str, Module] | Iterable[Any]) -> None:
        """Adds or replaces entries from a mapping (in its order) or from (key, module) pairs."""
        if isinstance(modules, (Mapping, ModuleDict)):
            for key, module in modules.items():
                self[key] = module
            return
        if not isinstance(modules, Iterable):
            raise TypeError(
                "ModuleDict.update should be called with an iterable of key/value pairs, but got "
                + type(modules).__name__
            )
        for index, pair in enumerate(modules):
            if not isinstance(pair, Iterable):
                raise TypeError(
                    f"ModuleDict update sequence element #{index} should be Iterable; is "
                    + type(pair).__name__
                )
            pair = tuple(pair)
            if len(pair) != 2:
                raise ValueError(
                    f"ModuleDict update sequence element #{index} has length {len(pair)}; 2 is "
                    "required"
                )
            self[pair[0]] = pair[1]
