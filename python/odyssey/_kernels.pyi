"""Type stub of the compiled module odyssey._kernels (cpp/bindings/module.cc).

Array arguments are float32, C-contiguous NumPy arrays used in place; anything else raises
TypeError (not an array, wrong dtype) or ValueError (layout, shape, overlap) whose message starts
with the function's name. These checks keep memory safe; options (learning rates, probabilities,
ranges) are checked by the public API that calls these functions, not here.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__version__: str
MAX_THREADS: int

Float32Array = npt.NDArray[np.float32]
Int64Array = npt.NDArray[np.int64]
Range = tuple[float, float]

def cpu_info() -> dict[str, Any]: ...
def set_isa(name: str) -> None: ...
def get_num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
def set_flush_denormal(mode: bool) -> bool: ...
def float_controls() -> int: ...
def set_float_controls(controls: int) -> None: ...
def buffer_cache_stats() -> dict[str, int]: ...
def buffer_cache_clear() -> None: ...
def buffer_cache_reset_peak() -> None: ...
def set_buffer_cache_limit(bytes: int) -> None: ...
def add(a: Float32Array, b: Float32Array, *, out: Float32Array | None = None) -> Float32Array: ...
def mul(a: Float32Array, b: Float32Array, *, out: Float32Array | None = None) -> Float32Array: ...
def relu(x: Float32Array, *, out: Float32Array | None = None) -> Float32Array: ...
def sum(x: Float32Array) -> float: ...
def philox4x32(
    key: tuple[int, int], counter: tuple[int, int, int, int]
) -> tuple[int, int, int, int]: ...
def gather_unit_floats(images: npt.NDArray[np.uint8], indices: Int64Array) -> Float32Array: ...
def affine_warp(
    images: Float32Array, inverse: Float32Array, *, fill: float = 0.0
) -> Float32Array: ...
def random_affine_matrices(
    seed: int,
    epoch: int,
    indices: Int64Array,
    stream: int,
    height: int,
    width: int,
    *,
    degrees: Range,
    translate: Range,
    scale: Range,
    squeeze: Range,
    shear_x: Range,
    shear_y: Range,
    hflip: float = 0.0,
) -> Float32Array: ...
def random_affine(
    images: Float32Array,
    seed: int,
    epoch: int,
    indices: Int64Array,
    stream: int,
    *,
    degrees: Range,
    translate: Range,
    scale: Range,
    squeeze: Range,
    shear_x: Range,
    shear_y: Range,
    hflip: float = 0.0,
    fill: float = 0.0,
) -> Float32Array: ...
def elastic_displacements(
    seed: int,
    epoch: int,
    indices: Int64Array,
    stream: int,
    height: int,
    width: int,
    *,
    alpha: float,
    sigma: float,
) -> Float32Array: ...
def displacement_warp(
    images: Float32Array, displacements: Float32Array, *, fill: float = 0.0
) -> Float32Array: ...
def elastic_distortion(
    images: Float32Array,
    seed: int,
    epoch: int,
    indices: Int64Array,
    stream: int,
    *,
    alpha: float,
    sigma: float,
    fill: float = 0.0,
) -> Float32Array: ...
def normalize(images: Float32Array, mean: list[float], std: list[float]) -> Float32Array: ...
def pad(
    images: Float32Array, left: int, top: int, right: int, bottom: int, *, fill: float = 0.0
) -> Float32Array: ...
def random_crop(
    images: Float32Array,
    seed: int,
    epoch: int,
    indices: Int64Array,
    stream: int,
    height: int,
    width: int,
    *,
    padding: tuple[int, int, int, int],
    fill: float = 0.0,
) -> Float32Array: ...
def random_erasing(
    images: Float32Array,
    seed: int,
    epoch: int,
    indices: Int64Array,
    stream: int,
    *,
    p: float,
    scale: Range,
    ratio: Range,
    value: list[float],
) -> Float32Array: ...
def relu_backward(
    grad_out: Float32Array, x: Float32Array, *, out: Float32Array | None = None
) -> Float32Array: ...
def leaky_relu(
    x: Float32Array, negative_slope: float, *, out: Float32Array | None = None
) -> Float32Array: ...
def leaky_relu_backward(
    grad_out: Float32Array,
    x: Float32Array,
    negative_slope: float,
    *,
    out: Float32Array | None = None,
) -> Float32Array: ...
def hardtanh(
    x: Float32Array, min_val: float, max_val: float, *, out: Float32Array | None = None
) -> Float32Array: ...
def hardtanh_backward(
    grad_out: Float32Array,
    x: Float32Array,
    min_val: float,
    max_val: float,
    *,
    out: Float32Array | None = None,
) -> Float32Array: ...
def silu(x: Float32Array, *, out: Float32Array | None = None) -> Float32Array: ...
def silu_backward(
    grad_out: Float32Array, x: Float32Array, *, out: Float32Array | None = None
) -> Float32Array: ...
def sigmoid(x: Float32Array, *, out: Float32Array | None = None) -> Float32Array: ...
def sigmoid_backward(
    grad_out: Float32Array, y: Float32Array, *, out: Float32Array | None = None
) -> Float32Array: ...
def tanh(x: Float32Array, *, out: Float32Array | None = None) -> Float32Array: ...
def tanh_backward(
    grad_out: Float32Array, y: Float32Array, *, out: Float32Array | None = None
) -> Float32Array: ...
def lecun_tanh(x: Float32Array, *, out: Float32Array | None = None) -> Float32Array: ...
def lecun_tanh_backward(
    grad_out: Float32Array, y: Float32Array, *, out: Float32Array | None = None
) -> Float32Array: ...
def batch_norm_forward(
    x: Float32Array,
    weight: Float32Array | None = None,
    bias: Float32Array | None = None,
    running_mean: Float32Array | None = None,
    running_var: Float32Array | None = None,
    *,
    training: bool,
    momentum: float = 0.1,
    eps: float = 1e-5,
    out: Float32Array | None = None,
) -> tuple[Float32Array, Float32Array, Float32Array]: ...
def batch_norm_backward(
    grad_out: Float32Array,
    x: Float32Array,
    weight: Float32Array | None,
    mean: Float32Array,
    invstd: Float32Array,
    *,
    training: bool,
    input_grad: bool = True,
    weight_grad: bool = True,
    bias_grad: bool = True,
) -> tuple[Float32Array | None, Float32Array | None, Float32Array | None]: ...
def softmax(x: Float32Array, *, out: Float32Array | None = None) -> Float32Array: ...
def softmax_backward(
    grad_out: Float32Array, y: Float32Array, *, out: Float32Array | None = None
) -> Float32Array: ...
def log_softmax(x: Float32Array, *, out: Float32Array | None = None) -> Float32Array: ...
def log_softmax_backward(
    grad_out: Float32Array, y: Float32Array, *, out: Float32Array | None = None
) -> Float32Array: ...
def softmax_cross_entropy(
    logits: Float32Array, labels: npt.NDArray[np.int64]
) -> tuple[float, Float32Array]: ...
def softmax_cross_entropy_backward(
    probs: Float32Array,
    labels: npt.NDArray[np.int64],
    scale: float,
    *,
    out: Float32Array | None = None,
) -> Float32Array: ...
def sgd_step(
    param: Float32Array,
    grad: Float32Array,
    momentum_buffer: Float32Array | None = None,
    *,
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    first_step: bool = True,
) -> None: ...
def adam_step(
    param: Float32Array,
    grad: Float32Array,
    exp_avg: Float32Array,
    exp_avg_sq: Float32Array,
    *,
    step: int,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    max_exp_avg_sq: Float32Array | None = None,
) -> None: ...
def sgd_step_many(
    params: Sequence[Float32Array],
    grads: Sequence[Float32Array],
    momentum_buffers: Sequence[Float32Array] | None = None,
    *,
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    first_steps: Sequence[bool] | None = None,
) -> None: ...
def adam_step_many(
    params: Sequence[Float32Array],
    grads: Sequence[Float32Array],
    exp_avgs: Sequence[Float32Array],
    exp_avg_sqs: Sequence[Float32Array],
    *,
    steps: Sequence[int],
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    max_exp_avg_sqs: Sequence[Float32Array] | None = None,
) -> None: ...
def rmsprop_step(
    param: Float32Array,
    grad: Float32Array,
    square_avg: Float32Array,
    *,
    lr: float,
    alpha: float,
    eps: float,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
    grad_avg: Float32Array | None = None,
    momentum_buffer: Float32Array | None = None,
) -> None: ...
def adagrad_step(
    param: Float32Array,
    grad: Float32Array,
    sum: Float32Array,
    *,
    step: int,
    lr: float,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    eps: float = 1e-10,
) -> None: ...
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
def linear_backward(
    grad_out: Float32Array,
    input: Float32Array,
    weight: Float32Array,
    relu_output: Float32Array | None = None,
    input_grad: bool = True,
    weight_grad: bool = True,
    bias_grad: bool = True,
) -> tuple[Float32Array | None, Float32Array | None, Float32Array | None]: ...

Int32Array = npt.NDArray[np.int32]
Pair = int | tuple[int, int]

def conv2d_forward(
    x: Float32Array,
    weight: Float32Array,
    bias: Float32Array | None = None,
    stride: Pair = (1, 1),
    padding: Pair = (0, 0),
    dilation: Pair = (1, 1),
    groups: int = 1,
    out: Float32Array | None = None,
) -> Float32Array: ...
def conv2d_backward_data(
    grad_out: Float32Array,
    weight: Float32Array,
    input_shape: tuple[int, int, int, int],
    stride: Pair = (1, 1),
    padding: Pair = (0, 0),
    dilation: Pair = (1, 1),
    groups: int = 1,
) -> Float32Array: ...
def conv2d_backward_weight(
    x: Float32Array,
    grad_out: Float32Array,
    kernel_size: Pair,
    stride: Pair = (1, 1),
    padding: Pair = (0, 0),
    dilation: Pair = (1, 1),
    groups: int = 1,
    bias: bool = True,
) -> tuple[Float32Array, Float32Array | None]: ...
def conv2d_algorithms(
    input_shape: tuple[int, int, int, int],
    weight_shape: tuple[int, int, int, int],
    *,
    stride: Pair = (1, 1),
    padding: Pair = (0, 0),
    dilation: Pair = (1, 1),
    groups: int = 1,
) -> dict[str, str]: ...
def max_pool2d_forward(
    x: Float32Array,
    kernel_size: Pair,
    stride: Pair,
    padding: Pair = 0,
    dilation: Pair = 1,
    ceil_mode: bool = False,
    relu: bool = False,
) -> tuple[Float32Array, Int32Array]: ...
def max_pool2d_backward(
    grad_out: Float32Array,
    argmax: Int32Array,
    input_shape: tuple[int, int, int, int],
    kernel_size: Pair,
    stride: Pair,
    padding: Pair = 0,
    dilation: Pair = 1,
    ceil_mode: bool = False,
) -> Float32Array: ...
def avg_pool2d_forward(
    x: Float32Array,
    kernel_size: Pair,
    stride: Pair,
    padding: Pair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Float32Array: ...
def avg_pool2d_backward(
    grad_out: Float32Array,
    input_shape: tuple[int, int, int, int],
    kernel_size: Pair,
    stride: Pair,
    padding: Pair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Float32Array: ...
def adaptive_avg_pool2d_forward(x: Float32Array, output_size: Pair) -> Float32Array: ...
def adaptive_avg_pool2d_backward(
    grad_out: Float32Array, input_shape: tuple[int, int, int, int]
) -> Float32Array: ...
def adaptive_max_pool2d_forward(
    x: Float32Array, output_size: Pair
) -> tuple[Float32Array, Int32Array]: ...
def adaptive_max_pool2d_backward(
    grad_out: Float32Array, argmax: Int32Array, input_shape: tuple[int, int, int, int]
) -> Float32Array: ...
