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

Int32Array = npt.NDArray[np.int32]
Pair = int | tuple[int, int]

def conv2d_forward(
    x: Float32Array,
    weight: Float32Array,
    bias: Float32Array | None = None,
    *,
    stride: Pair = (1, 1),
    padding: Pair = (0, 0),
    out: Float32Array | None = None,
) -> Float32Array: ...
def conv2d_backward_data(
    grad_out: Float32Array,
    weight: Float32Array,
    input_shape: tuple[int, int, int, int],
    *,
    stride: Pair = (1, 1),
    padding: Pair = (0, 0),
) -> Float32Array: ...
def conv2d_backward_weight(
    x: Float32Array,
    grad_out: Float32Array,
    kernel_size: Pair,
    *,
    stride: Pair = (1, 1),
    padding: Pair = (0, 0),
    bias: bool = True,
) -> tuple[Float32Array, Float32Array | None]: ...
def conv2d_algorithms(
    input_shape: tuple[int, int, int, int],
    weight_shape: tuple[int, int, int, int],
    *,
    stride: Pair = (1, 1),
    padding: Pair = (0, 0),
) -> dict[str, str]: ...
def max_pool2d_forward(
    x: Float32Array, kernel_size: Pair, stride: Pair
) -> tuple[Float32Array, Int32Array]: ...
def max_pool2d_backward(
    grad_out: Float32Array, argmax: Int32Array, input_shape: tuple[int, int, int, int]
) -> Float32Array: ...
def avg_pool2d_forward(x: Float32Array, kernel_size: Pair, stride: Pair) -> Float32Array: ...
def avg_pool2d_backward(
    grad_out: Float32Array, input_shape: tuple[int, int, int, int], kernel_size: Pair, stride: Pair
) -> Float32Array: ...
