"""Parameter: a leaf tensor that a Module registers as trainable."""

from __future__ import annotations

from typing import Any

from odyssey.tensor import Tensor


class Parameter(Tensor):
    """A float32 tensor with requires_grad=True that `Module.parameters()` yields."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return f"Parameter containing:\n{super().__repr__()}"
