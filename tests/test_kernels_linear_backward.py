"""linear_backward: a Linear layer's three gradients (through its ReLU) in one kernel call, against
NumPy in float64 and bit for bit against the separate sgemm and relu_backward calls it replaces."""

from __future__ import annotations

import numpy as np
import pytest

import odyssey
from odyssey import _kernels

EPS = np.finfo(np.float32).eps


def layer(batch: int, features_in: int, features_out: int, seed: int) -> tuple[np.ndarray, ...]:
    """grad_out, input, weight and a ReLU output with zeros where the layer's output was <= 0."""
    rng = np.random.default_rng(seed)
    grad = rng.standard_normal((batch, features_out), dtype=np.float32)
    x = rng.standard_normal((batch, features_in), dtype=np.float32)
    w = rng.standard_normal((features_out, features_in), dtype=np.float32)
    relu_output = np.maximum(rng.standard_normal((batch, features_out), dtype=np.float32), 0)
    return grad, x, w, relu_output


def assert_product(got: np.ndarray, left: np.ndarray, right: np.ndarray) -> None:
    """got == left @ right up to float32 rounding of a sum of len(right) products."""
    left64, right64 = left.astype(np.float64), right.astype(np.float64)
    want = (left64 @ right64).reshape(got.shape)
    bound = (right.shape[0] + 4) * EPS * (np.abs(left64) @ np.abs(right64)).reshape(got.shape)
    assert got.dtype == np.float32
    assert np.all(np.abs(got - want) <= bound + 1e-6)


@pytest.mark.parametrize(
    ("batch", "features_in", "features_out"),
    [(64, 400, 120), (64, 120, 84), (64, 84, 10), (1, 7, 3), (3, 5, 2), (300, 33, 17), (17, 1, 1)],
)
@pytest.mark.parametrize("relu", [False, True])
def test_matches_float64_numpy(
    isa: str, batch: int, features_in: int, features_out: int, relu: bool
) -> None:
    grad, x, w, relu_output = layer(batch, features_in, features_out, batch + features_in)
    g = np.where(relu_output > 0, grad, 0).astype(np.float32) if relu else grad
    dx, dw, db = _kernels.linear_backward(grad, x, w, relu_output if relu else None)
    assert (dx.shape, dw.shape, db.shape) == (x.shape, w.shape, (features_out,))
    assert_product(dx, g, w)
    assert_product(dw, g.T, x)
    assert_product(db, g.T, np.ones((batch, 1), np.float32))


@pytest.mark.parametrize(
    ("batch", "features_in", "features_out"), [(64, 400, 120), (64, 120, 84), (2, 9, 5)]
)
def test_bits_of_the_separate_calls(
    isa: str, threads: None, batch: int, features_in: int, features_out: int
) -> None:
    """Each product has the bits of its own sgemm call (and the ReLU's mask those of
    relu_backward), whatever the thread count: nn.Linear's input and weight gradients kept the
    bits they had as separate calls (the bias gradient, NumPy's sum before, is now a product)."""
    grad, x, w, relu_output = layer(batch, features_in, features_out, 3)
    g = _kernels.relu_backward(grad, relu_output)
    want = (_kernels.sgemm(g, w), _kernels.sgemm(g, x, trans_a=True))
    for count in (1, 2, 3):
        odyssey.set_num_threads(count)
        dx, dw, _ = _kernels.linear_backward(grad, x, w, relu_output)
        assert dx.tobytes() == want[0].tobytes()
        assert dw.tobytes() == want[1].tobytes()


def test_bias_gradient_adds_the_rows_in_order(isa: str, threads: None) -> None:
    """Up to kGemmKc (256) rows, each column's sum is one chain of additions in ascending row
    order, for every thread count."""
    grad, x, w, _ = layer(200, 6, 5, 4)
    want = np.zeros(5, np.float32)
    for row in grad:
        want = (want + row).astype(np.float32)
    for count in (1, 2):
        odyssey.set_num_threads(count)
        assert _kernels.linear_backward(grad, x, w)[2].tobytes() == want.tobytes()


def test_only_the_gradients_asked_for() -> None:
    grad, x, w, _ = layer(4, 3, 2, 5)
    full = _kernels.linear_backward(grad, x, w)
    for flags in [(True, False, False), (False, True, False), (False, False, True)]:
        got = _kernels.linear_backward(grad, x, w, None, *flags)
        for asked, one, reference in zip(flags, got, full, strict=True):
            if asked:
                assert one.tobytes() == reference.tobytes()
            else:
                assert one is None
    assert _kernels.linear_backward(grad, x, w, None, False, False, False) == (None, None, None)


@pytest.mark.parametrize("flag", [None, 1, 0, np.array([True])])
def test_the_flags_must_be_bools(flag: object) -> None:
    grad, x, w, _ = layer(2, 3, 4, 6)
    with pytest.raises(TypeError, match="linear_backward: input_grad must be a bool"):
        _kernels.linear_backward(grad, x, w, None, flag)


def test_empty_batch_and_features() -> None:
    dx, dw, db = _kernels.linear_backward(
        np.zeros((0, 3), np.float32), np.zeros((0, 4), np.float32), np.ones((3, 4), np.float32)
    )
    assert dx.shape == (0, 4)
    np.testing.assert_array_equal(dw, np.zeros((3, 4), np.float32))
    np.testing.assert_array_equal(db, np.zeros(3, np.float32))
    dx, dw, db = _kernels.linear_backward(
        np.ones((2, 3), np.float32), np.zeros((2, 0), np.float32), np.zeros((3, 0), np.float32)
    )
    assert (dx.shape, dw.shape) == ((2, 0), (3, 0))
    np.testing.assert_array_equal(db, np.full(3, 2, np.float32))


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((np.zeros((2, 3)), np.zeros((2, 4)), np.zeros((3, 4))), TypeError, "grad_out"),
        ((np.zeros(3, "f4"), np.zeros((2, 4), "f4"), np.zeros((3, 4), "f4")), ValueError, "2"),
        (
            (np.zeros((2, 3), "f4"), np.zeros((2, 5), "f4"), np.zeros((3, 4), "f4")),
            ValueError,
            r"input \(2, 5\) has 5 features but weight \(3, 4\) expects 4",
        ),
        (
            (np.zeros((2, 2), "f4"), np.zeros((2, 4), "f4"), np.zeros((3, 4), "f4")),
            ValueError,
            r"grad_out has shape \(2, 2\) but .* give outputs of shape \(2, 3\)",
        ),
        (
            tuple(np.zeros(shape, "f4") for shape in [(2, 3), (2, 4), (3, 4), (3, 2)]),
            ValueError,
            "relu_output",
        ),
    ],
)
def test_bad_input_names_the_function_and_argument(
    args: tuple[np.ndarray, ...], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as raised:
        _kernels.linear_backward(*args)
    assert "linear_backward" in str(raised.value)
