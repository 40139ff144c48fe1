"""Weight initialisers with PyTorch's names, formulas and fan conventions.

Every initialiser fills its argument in place and returns it; the argument is a Tensor (its
``.data`` array is filled) or a NumPy array. Values are drawn in float64 from the library's
generator (``odyssey.manual_seed``) and then rounded to the array's dtype, so a seed gives the same
weights on every machine.
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

import numpy as np

from odyssey import _checks as check
from odyssey.random import generator
from odyssey.tensor import Tensor

T = TypeVar("T")

_UNIT_GAIN = frozenset(
    {
        "linear",
        "conv1d",
        "conv2d",
        "conv3d",
        "conv_transpose1d",
        "conv_transpose2d",
        "conv_transpose3d",
        "sigmoid",
    }
)
_NONLINEARITIES = (*sorted(_UNIT_GAIN), "tanh", "relu", "leaky_relu", "selu")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor that keeps activations' variance stable through `nonlinearity` (as torch's)."""
    return _gain(nonlinearity, param, "calculate_gain")


def _gain(nonlinearity: Any, param: Any, caller: str) -> float:
    """calculate_gain, its errors naming `caller`."""
    if not isinstance(nonlinearity, str):
        raise TypeError(f"{caller}: nonlinearity must be a str, got {type(nonlinearity).__name__}")
    if nonlinearity in _UNIT_GAIN:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float, np.integer, np.floating)) and not isinstance(
            param, bool
        ):
            slope = float(param)
        else:
            raise ValueError(f"{caller}: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1.0 + slope**2))
    if nonlinearity == "selu":
        # Not the variance-preserving gain: PyTorch's choice, which self-normalising nets expect.
        return 3.0 / 4.0
    raise ValueError(
        f"{caller}: unsupported nonlinearity {nonlinearity!r}; expected one of "
        + ", ".join(_NONLINEARITIES)
    )


def _array(tensor: Any, caller: str) -> np.ndarray:
    """The array to fill in place: the argument itself or a Tensor's ``.data``."""
    if isinstance(tensor, Tensor):
        array = tensor.data
    elif isinstance(tensor, np.ndarray):
        array = tensor
    else:
        raise TypeError(f"{caller}: expected a Tensor or an ndarray, got {type(tensor).__name__}")
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"{caller}: expected a floating-point array, got dtype {array.dtype}")
    if not array.flags.writeable:
        raise ValueError(f"{caller}: the array is read-only")
    return array


def _non_negative_gain(gain: Any, caller: str) -> float:
    if not check.finite(gain, caller, "gain") >= 0.0:
        raise ValueError(f"{caller}: gain must be >= 0, got {gain}")
    return float(gain)


def _calculate_fan_in_and_fan_out(array: np.ndarray, caller: str) -> tuple[int, int]:
    """(fan_in, fan_out) with torch's layout: dim 1 is inputs, dim 0 outputs, the rest a kernel."""
    if array.ndim < 2:
        raise ValueError(
            f"{caller}: fan in and fan out need at least 2 dimensions, got shape {array.shape}"
        )
    receptive_field = math.prod(array.shape[2:])
    return array.shape[1] * receptive_field, array.shape[0] * receptive_field


def _calculate_correct_fan(array: np.ndarray, mode: str, caller: str) -> int:
    if not isinstance(mode, str) or mode.lower() not in ("fan_in", "fan_out"):
        raise ValueError(f"{caller}: mode {mode!r} not supported; use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(array, caller)
    return fan_in if mode.lower() == "fan_in" else fan_out


def _fill_uniform(tensor: T, array: np.ndarray, low: float, high: float) -> T:
    array[...] = generator().uniform(low, high, array.shape)
    return tensor


def _fill_normal(tensor: T, array: np.ndarray, mean: float, std: float) -> T:
    array[...] = generator().normal(mean, std, array.shape)
    return tensor


def uniform_(tensor: T, a: float = 0.0, b: float = 1.0) -> T:
    """Fills with U(a, b)."""
    array = _array(tensor, "uniform_")
    if not check.real(a, "uniform_", "a") <= check.real(b, "uniform_", "b"):
        raise ValueError(f"uniform_: expects a <= b, got a={a}, b={b}")
    return _fill_uniform(tensor, array, a, b)


def normal_(tensor: T, mean: float = 0.0, std: float = 1.0) -> T:
    """Fills with N(mean, std²)."""
    array = _array(tensor, "normal_")
    check.real(mean, "normal_", "mean")
    if not check.real(std, "normal_", "std") >= 0.0:
        raise ValueError(f"normal_: expects std >= 0, got std={std}")
    return _fill_normal(tensor, array, mean, std)


def constant_(tensor: T, val: float) -> T:
    """Fills with `val`."""
    _array(tensor, "constant_")[...] = check.real(val, "constant_", "val")
    return tensor


def zeros_(tensor: T) -> T:
    """Fills with 0."""
    _array(tensor, "zeros_")[...] = 0.0
    return tensor


def ones_(tensor: T) -> T:
    """Fills with 1."""
    _array(tensor, "ones_")[...] = 1.0
    return tensor


def xavier_uniform_(tensor: T, gain: float = 1.0) -> T:
    """Glorot & Bengio (2010): U(-a, a) with a = gain·sqrt(6 / (fan_in + fan_out))."""
    array = _array(tensor, "xavier_uniform_")
    gain = _non_negative_gain(gain, "xavier_uniform_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(array, "xavier_uniform_")
    if array.size == 0:
        return tensor
    bound = math.sqrt(3.0) * gain * math.sqrt(2.0 / (fan_in + fan_out))
    return _fill_uniform(tensor, array, -bound, bound)


def xavier_normal_(tensor: T, gain: float = 1.0) -> T:
    """Glorot & Bengio (2010): N(0, std²) with std = gain·sqrt(2 / (fan_in + fan_out))."""
    array = _array(tensor, "xavier_normal_")
    gain = _non_negative_gain(gain, "xavier_normal_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(array, "xavier_normal_")
    if array.size == 0:
        return tensor
    return _fill_normal(tensor, array, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(
    tensor: T, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> T:
    """He et al. (2015): U(-b, b) with b = gain·sqrt(3 / fan); `a` is leaky ReLU's slope."""
    array = _array(tensor, "kaiming_uniform_")
    fan = _calculate_correct_fan(array, mode, "kaiming_uniform_")
    gain = _gain(nonlinearity, a, "kaiming_uniform_")
    if array.size == 0:
        return tensor
    bound = math.sqrt(3.0) * gain / math.sqrt(fan)
    return _fill_uniform(tensor, array, -bound, bound)


def kaiming_normal_(
    tensor: T, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> T:
    """He et al. (2015): N(0, std²) with std = gain / sqrt(fan); `a` is leaky ReLU's slope."""
    array = _array(tensor, "kaiming_normal_")
    fan = _calculate_correct_fan(array, mode, "kaiming_normal_")
    gain = _gain(nonlinearity, a, "kaiming_normal_")
    if array.size == 0:
        return tensor
    return _fill_normal(tensor, array, 0.0, gain / math.sqrt(fan))


def lecun_uniform_(tensor: T) -> T:
    """LeCun et al. (1998), Efficient BackProp: variance 1/fan_in: U(-b, b), b = sqrt(3/fan_in)."""
    array = _array(tensor, "lecun_uniform_")
    fan_in, _ = _calculate_fan_in_and_fan_out(array, "lecun_uniform_")
    if array.size == 0:
        return tensor
    bound = math.sqrt(3.0 / fan_in)
    return _fill_uniform(tensor, array, -bound, bound)


def lecun_normal_(tensor: T) -> T:
    """LeCun et al. (1998), Efficient BackProp: N(0, 1/fan_in)."""
    array = _array(tensor, "lecun_normal_")
    fan_in, _ = _calculate_fan_in_and_fan_out(array, "lecun_normal_")
    if array.size == 0:
        return tensor
    return _fill_normal(tensor, array, 0.0, 1.0 / math.sqrt(fan_in))


def trunc_normal_(
    tensor: T, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0
) -> T:
    """N(mean, std²) restricted to [a, b], by inverting the normal CDF over [Φ(a), Φ(b)]."""
    array = _array(tensor, "trunc_normal_")
    for value, name in ((mean, "mean"), (std, "std"), (a, "a"), (b, "b")):
        check.real(value, "trunc_normal_", name)
    if not std > 0.0:
        raise ValueError(f"trunc_normal_: expects std > 0, got std={std}")
    if not a < b:
        raise ValueError(f"trunc_normal_: expects a < b, got a={a}, b={b}")
    low = _normal_cdf((a - mean) / std)
    high = _normal_cdf((b - mean) / std)
    if not high > low:
        raise ValueError(
            f"trunc_normal_: [a, b] = [{a}, {b}] has no probability mass under "
            f"N({mean}, {std}²) in double precision"
        )
    u = generator().uniform(low, high, array.shape)
    values = mean + std * _normal_quantile(u)
    array[...] = np.clip(values, a, b)
    return tensor


def _normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _normal_quantile(p: np.ndarray) -> np.ndarray:
    """Φ⁻¹(p) for p in (0, 1) by Acklam's rational approximation.

    Its relative error is below 1.2e-9, far under float32's resolution, so no refinement follows.
    """
    tiny = np.finfo(np.float64).tiny
    p = np.clip(p, tiny, 1.0 - np.finfo(np.float64).epsneg)
    a = (-39.69683028665376, 220.9460984245205, -275.9285104469687,
         138.3577518672690, -30.66479806614716, 2.506628277459239)  # fmt: skip
    b = (-54.47609879822406, 161.5858368580409, -155.6989798598866,
         66.80131188771972, -13.28068155288572)  # fmt: skip
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838,
         -2.549732539343734, 4.374664141464968, 2.938163982698783)  # fmt: skip
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996, 3.754408661907416)
    tail = np.minimum(p, 1.0 - p)
    in_tail = tail < 0.02425
    q = np.sqrt(-2.0 * np.log(np.where(in_tail, tail, 0.5)))
    x_tail = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
        (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0
    )
    r = (p - 0.5) ** 2
    x_mid = (
        (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5])
        * (p - 0.5)
        / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0)
    )
    return np.where(in_tail, np.where(p < 0.5, x_tail, -x_tail), x_mid)
