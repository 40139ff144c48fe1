"""Type stub of the compiled module odyssey._kernels (cpp/bindings/module.cc).

Array arguments are float32, C-contiguous NumPy arrays used in place; anything else raises
TypeError (not an array, wrong dtype) or ValueError (layout, shape, overlap).
"""

from typing import Any

import numpy as np
import numpy.typing as npt

__version__: str

Float32Array = npt.NDArray[np.float32]

def cpu_info() -> dict[str, Any]: ...
def set_isa(name: str) -> None: ...
def get_num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
def add(a: Float32Array, b: Float32Array, *, out: Float32Array | None = None) -> Float32Array: ...
def mul(a: Float32Array, b: Float32Array, *, out: Float32Array | None = None) -> Float32Array: ...
def relu(x: Float32Array, *, out: Float32Array | None = None) -> Float32Array: ...
def sum(x: Float32Array) -> float: ...
def sgemm(
    a: Float32Array,
    b: Float32Array,
    *,
    trans_a: bool = False,
    trans_b: bool = False,
    alpha: float = 1.0,
    beta: float = 0.0,
    bias: Float32Array | None = None,
    out: Float32Array | None = None,
) -> Float32Array: ...
