"""nn.init: gains and fans as torch's, distributions against their formulas, seeding, errors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import odyssey
from odyssey.nn import init

FAN_SHAPES = [
    ((40, 30), 30, 40),
    ((6, 1, 5, 5), 25, 150),
    ((16, 6, 5, 5), 150, 400),
    ((3, 7, 2), 14, 6),
]
ALL_NONLINEARITIES = [
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "selu",
]


def assert_moments(values: np.ndarray, mean: float, std: float) -> None:
    """Sample mean and std within a few standard errors of the expected ones."""
    n = values.size
    assert abs(values.astype(np.float64).mean() - mean) < 5 * std / math.sqrt(n) + 1e-12
    assert values.astype(np.float64).std() == pytest.approx(std, rel=5 * math.sqrt(2 / n))


def test_gains_have_the_documented_values() -> None:
    assert init.calculate_gain("linear") == 1.0
    assert init.calculate_gain("conv2d") == 1.0
    assert init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("tanh") == 5.0 / 3.0
    assert init.calculate_gain("relu") == math.sqrt(2.0)
    assert init.calculate_gain("leaky_relu") == math.sqrt(2.0 / (1.0 + 0.01**2))
    assert init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2.0 / 1.04)
    assert init.calculate_gain("leaky_relu", 1) == 1.0
    assert init.calculate_gain("selu") == 0.75


@pytest.mark.parametrize("nonlinearity", ALL_NONLINEARITIES)
@pytest.mark.parametrize("param", [None, 0, 0.2, 3])
def test_gains_equal_torch(nonlinearity: str, param: float | None) -> None:
    torch = pytest.importorskip("torch")
    expected = torch.nn.init.calculate_gain(nonlinearity, param)
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(expected, rel=1e-15)


def test_gain_errors() -> None:
    with pytest.raises(ValueError, match="unsupported nonlinearity 'gelu'; expected one of"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="negative_slope True is not a valid number"):
        init.calculate_gain("leaky_relu", True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"negative_slope '0\.1' is not a valid number"):
        init.calculate_gain("leaky_relu", "0.1")  # type: ignore[arg-type]


@pytest.mark.parametrize(("shape", "fan_in", "fan_out"), FAN_SHAPES)
def test_fans_follow_torch(shape: tuple[int, ...], fan_in: int, fan_out: int) -> None:
    torch = pytest.importorskip("torch")
    assert init._calculate_fan_in_and_fan_out(np.empty(shape), "t") == (fan_in, fan_out)
    assert torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape)) == (fan_in, fan_out)


@settings(max_examples=50, deadline=None)
@given(shape=st.lists(st.integers(1, 9), min_size=2, max_size=5).map(tuple))
def test_fans_and_bounds_for_any_shape(shape: tuple[int, ...]) -> None:
    receptive_field = math.prod(shape[2:])
    fan_in, fan_out = shape[1] * receptive_field, shape[0] * receptive_field
    assert init._calculate_fan_in_and_fan_out(np.empty(shape), "t") == (fan_in, fan_out)
    weight = init.kaiming_uniform_(np.empty(shape, dtype=np.float32), nonlinearity="relu")
    assert np.all(np.abs(weight) <= np.float32(math.sqrt(6 / fan_in)))
    weight = init.xavier_uniform_(np.empty(shape, dtype=np.float32), gain=3.0)
    assert np.all(np.abs(weight) <= np.float32(3.0 * math.sqrt(6 / (fan_in + fan_out))))


SHAPE = (64, 32, 5, 5)  # fan_in 800, fan_out 1600: 51,200 draws
FAN_IN, FAN_OUT = 800, 1600


@pytest.mark.parametrize(
    ("fill", "bound"),
    [
        (lambda t: init.xavier_uniform_(t), math.sqrt(6 / (FAN_IN + FAN_OUT))),
        (lambda t: init.xavier_uniform_(t, gain=2.0), 2 * math.sqrt(6 / (FAN_IN + FAN_OUT))),
        (lambda t: init.kaiming_uniform_(t), math.sqrt(6 / (1 + 0.0) / FAN_IN)),
        (lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)), math.sqrt(1 / FAN_IN)),
        (
            lambda t: init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu"),
            math.sqrt(6 / FAN_OUT),
        ),
        (
            lambda t: init.kaiming_uniform_(t, mode="FAN_IN", nonlinearity="tanh"),
            5 / 3 * math.sqrt(3 / FAN_IN),
        ),
        (lambda t: init.lecun_uniform_(t), math.sqrt(3 / FAN_IN)),
        (lambda t: init.uniform_(t, -0.3, 0.3), 0.3),
    ],
)
def test_uniform_initialisers_fill_the_bounds_evenly(fill: Any, bound: float) -> None:
    odyssey.manual_seed(1)
    weight = odyssey.Tensor(np.full(SHAPE, np.nan, dtype=np.float32))
    assert fill(weight) is weight
    values = weight.data
    assert values.dtype == np.float32
    assert np.all(np.abs(values) <= np.float32(bound))
    assert np.abs(values).max() > 0.99 * bound
    assert_moments(values, 0.0, bound / math.sqrt(3))


@pytest.mark.parametrize(
    ("fill", "mean", "std"),
    [
        (lambda t: init.xavier_normal_(t), 0.0, math.sqrt(2 / (FAN_IN + FAN_OUT))),
        (lambda t: init.xavier_normal_(t, gain=0.5), 0.0, 0.5 * math.sqrt(2 / (FAN_IN + FAN_OUT))),
        (lambda t: init.kaiming_normal_(t), 0.0, math.sqrt(2 / FAN_IN)),
        (
            lambda t: init.kaiming_normal_(t, a=0.1, mode="fan_out"),
            0.0,
            math.sqrt(2 / 1.01 / FAN_OUT),
        ),
        (lambda t: init.lecun_normal_(t), 0.0, math.sqrt(1 / FAN_IN)),
        (lambda t: init.normal_(t, 0.5, 2.0), 0.5, 2.0),
    ],
)
def test_normal_initialisers_have_the_formula_moments(fill: Any, mean: float, std: float) -> None:
    odyssey.manual_seed(2)
    weight = np.full(SHAPE, np.nan, dtype=np.float32)
    assert fill(weight) is weight
    assert_moments(weight, mean, std)


def test_trunc_normal_stays_in_bounds_with_the_truncated_moments() -> None:
    odyssey.manual_seed(3)
    mean, std, a, b = 0.5, 1.0, -0.5, 2.5
    weight = init.trunc_normal_(np.empty(SHAPE, dtype=np.float32), mean, std, a, b)
    assert weight.min() >= a
    assert weight.max() <= b
    alpha, beta = (a - mean) / std, (b - mean) / std
    pdf = [math.exp(-z * z / 2) / math.sqrt(2 * math.pi) for z in (alpha, beta)]
    mass = 0.5 * (math.erf(beta / math.sqrt(2)) - math.erf(alpha / math.sqrt(2)))
    expected_mean = mean + std * (pdf[0] - pdf[1]) / mass
    variance = std**2 * (
        1 + (alpha * pdf[0] - beta * pdf[1]) / mass - ((pdf[0] - pdf[1]) / mass) ** 2
    )
    assert_moments(weight, expected_mean, math.sqrt(variance))


def test_trunc_normal_far_in_the_tail() -> None:
    odyssey.manual_seed(4)
    weight = init.trunc_normal_(np.empty(10000, dtype=np.float32), 0.0, 1.0, 6.0, 6.5)
    assert weight.min() >= 6.0
    assert weight.max() <= 6.5
    assert weight.mean() < 6.2  # the density falls by e^-6 across the interval


def test_constant_fills() -> None:
    weight = odyssey.Tensor(np.full((3, 4), np.nan, dtype=np.float32))
    assert init.zeros_(weight) is weight
    assert np.all(weight.data == 0)
    assert init.ones_(weight) is weight
    assert np.all(weight.data == 1)
    assert init.constant_(weight, -2.5) is weight
    assert np.all(weight.data == -2.5)
    vector = np.empty(5, dtype=np.float32)
    init.constant_(vector, 0.25)
    assert np.all(vector == 0.25)


@pytest.mark.parametrize(
    "fill",
    [
        init.xavier_uniform_,
        init.kaiming_normal_,
        init.lecun_uniform_,
        init.normal_,
        init.trunc_normal_,
    ],
)
def test_the_seed_decides_the_values(fill: Any) -> None:
    def draw(seed: int) -> np.ndarray:
        odyssey.manual_seed(seed)
        return fill(np.empty((17, 9, 3), dtype=np.float32))

    np.testing.assert_array_equal(draw(7), draw(7))
    assert not np.array_equal(draw(7), draw(8))


def test_values_are_float64_draws_rounded_to_the_dtype() -> None:
    odyssey.manual_seed(5)
    single = init.uniform_(np.empty(1000, dtype=np.float32), -1.0, 1.0)
    odyssey.manual_seed(5)
    double = init.uniform_(np.empty(1000, dtype=np.float64), -1.0, 1.0)
    np.testing.assert_array_equal(single, double.astype(np.float32))


def test_fills_a_view_in_place() -> None:
    weight = np.zeros((4, 6), dtype=np.float32)
    init.ones_(weight[:, ::2])
    assert weight.sum() == 12
    assert np.all(weight[:, 1::2] == 0)


def test_zero_element_tensors_are_left_alone() -> None:
    odyssey.manual_seed(9)
    for fill in (init.xavier_uniform_, init.kaiming_uniform_, init.lecun_normal_):
        assert fill(np.empty((0, 3), dtype=np.float32)).shape == (0, 3)
    next_draw = odyssey.random.generator().random()
    odyssey.manual_seed(9)
    assert odyssey.random.generator().random() == next_draw


@pytest.mark.parametrize(
    "fill",
    [
        init.xavier_uniform_,
        init.xavier_normal_,
        init.kaiming_uniform_,
        init.kaiming_normal_,
        init.lecun_uniform_,
        init.lecun_normal_,
    ],
)
def test_fan_based_initialisers_need_two_dimensions(fill: Any) -> None:
    name = fill.__name__
    with pytest.raises(ValueError, match=rf"{name}: .* at least 2 dimensions, got shape \(5,\)"):
        fill(np.empty(5, dtype=np.float32))
    with pytest.raises(ValueError, match=r"got shape \(\)"):
        fill(odyssey.Tensor(np.empty((), dtype=np.float32)))


def test_argument_errors() -> None:
    weight = np.empty((4, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="kaiming_uniform_: mode 'fan_avg' not supported"):
        init.kaiming_uniform_(weight, mode="fan_avg")
    with pytest.raises(ValueError, match="kaiming_normal_: mode None not supported"):
        init.kaiming_normal_(weight, mode=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.kaiming_normal_(weight, nonlinearity="swish")
    with pytest.raises(ValueError, match="uniform_: expects a <= b, got a=1, b=0"):
        init.uniform_(weight, 1, 0)
    with pytest.raises(ValueError, match="normal_: expects std >= 0, got std=-1"):
        init.normal_(weight, 0, -1)
    with pytest.raises(ValueError, match="trunc_normal_: expects a < b"):
        init.trunc_normal_(weight, a=1, b=1)
    with pytest.raises(ValueError, match="has no probability mass"):
        init.trunc_normal_(weight, a=100, b=101)
    with pytest.raises(
        TypeError, match="xavier_uniform_: expected a Tensor or an ndarray, got list"
    ):
        init.xavier_uniform_([[1.0, 2.0]])  # type: ignore[type-var]
    with pytest.raises(TypeError, match="expected a floating-point array, got dtype int64"):
        init.zeros_(np.zeros((2, 2), dtype=np.int64))
    frozen = np.zeros((2, 2), dtype=np.float32)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="ones_: the array is read-only"):
        init.ones_(frozen)
