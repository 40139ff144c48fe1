"""dtype objects with PyTorch's names: `odyssey.float32`, `odyssey.int64`, `odyssey.bool`, ...

A tensor's values live in a NumPy array, so each `dtype` stands for one NumPy dtype: it compares
equal to it (`t.dtype == np.float32` and `t.dtype == torch-style odyssey.float32` both hold), hashes
like it, and NumPy accepts it wherever a dtype goes (`np.zeros(3, dtype=odyssey.int64)`) through
its `dtype` attribute. It prints as `odyssey.float32`, as PyTorch's prints `torch.float32`.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

__all__ = [
    "bool",
    "double",
    "dtype",
    "float",
    "float16",
    "float32",
    "float64",
    "half",
    "int",
    "int8",
    "int16",
    "int32",
    "int64",
    "long",
    "short",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
]


class dtype:
    """The type of a tensor's elements (PyTorch's `torch.dtype`), backed by a NumPy dtype."""

    __slots__ = ("_name", "dtype")

    def __init__(self, name: str, numpy_dtype: np.dtype) -> None:
        self._name = name
        self.dtype = numpy_dtype  # the attribute through which NumPy converts a dtype object

    @property
    def is_floating_point(self) -> builtins.bool:
        """True for float16, float32 and float64."""
        return self.dtype.kind == "f"

    @property
    def is_complex(self) -> builtins.bool:
        """Always False: no complex dtype exists here (torch's attribute, kept for code written for
        it)."""
        return False

    @property
    def is_signed(self) -> builtins.bool:
        """True for the floating-point and signed integer dtypes."""
        return self.dtype.kind in "fi"

    @property
    def itemsize(self) -> builtins.int:
        """Bytes per element."""
        return self.dtype.itemsize

    @property
    def kind(self) -> str:
        """NumPy's kind character ('f', 'i', 'u', 'b'), for code written against NumPy dtypes."""
        return self.dtype.kind

    def __eq__(self, other: object) -> builtins.bool:
        if isinstance(other, dtype):
            return self is other
        if other is None:  # np.dtype(None) is float64
            return False
        try:
            return builtins.bool(self.dtype == np.dtype(other))  # type: ignore[call-overload]
        except TypeError:
            return NotImplemented

    def __ne__(self, other: object) -> builtins.bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> builtins.int:
        return hash(self.dtype)

    def __repr__(self) -> str:
        return f"odyssey.{self._name}"

    def __reduce__(self) -> str:
        return self._name  # pickled by name: unpickling gives back the one object


float16 = half = dtype("float16", np.dtype(np.float16))
float32 = float = dtype("float32", np.dtype(np.float32))
float64 = double = dtype("float64", np.dtype(np.float64))
int8 = dtype("int8", np.dtype(np.int8))
int16 = short = dtype("int16", np.dtype(np.int16))
int32 = int = dtype("int32", np.dtype(np.int32))
int64 = long = dtype("int64", np.dtype(np.int64))
uint8 = dtype("uint8", np.dtype(np.uint8))
uint16 = dtype("uint16", np.dtype(np.uint16))
uint32 = dtype("uint32", np.dtype(np.uint32))
uint64 = dtype("uint64", np.dtype(np.uint64))
bool = dtype("bool", np.dtype(np.bool_))

_BY_TYPE: dict[type, dtype] = {
    d.dtype.type: d
    for d in (
        float16,
        float32,
        float64,
        int8,
        int16,
        int32,
        int64,
        uint8,
        uint16,
        uint32,
        uint64,
        bool,
    )
}


def of_array(array: np.ndarray) -> Any:
    """The dtype object of `array`'s elements (any byte order); an array of a type PyTorch has
    no name for (long double, which `odyssey.tensor(dtype=np.longdouble)` allows) keeps NumPy's."""
    return _BY_TYPE.get(array.dtype.type, array.dtype)
