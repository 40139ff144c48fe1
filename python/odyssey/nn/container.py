"""Sequential: modules applied in order, named "0", "1", ... as in PyTorch."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from odyssey.nn.activation import ReLU
from odyssey.nn.module import Module
from odyssey.nn.pooling import MaxPool2d


def execution_order(modules: tuple[Module, ...]) -> tuple[Module, ...]:
    """The modules in order, except that ReLU then MaxPool2d runs as MaxPool2d then ReLU: the same
    values and gradients (max commutes with the monotone ReLU, and a window whose maximum is not
    positive gets no gradient either way) with the ReLU on a quarter of the elements."""
    order = list(modules)
    for i in range(len(order) - 1):
        if type(order[i]) is ReLU and type(order[i + 1]) is MaxPool2d:
            order[i], order[i + 1] = order[i + 1], order[i]
    return tuple(order)


class Sequential(Module):
    def __init__(self, *modules: Module | OrderedDict[str, Module]) -> None:
        super().__init__()
        object.__setattr__(self, "_execution", ())
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

    def add_module(self, name: str, module: Module | None) -> None:
        super().add_module(name, module)
        self._plan()

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name in self._modules:
            self._plan()

    def _plan(self) -> None:
        modules = tuple(m for m in self._modules.values() if m is not None)
        object.__setattr__(self, "_execution", execution_order(modules))

    def forward(self, x: Any) -> Any:
        for module in self._execution:
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
