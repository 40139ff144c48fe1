"""Empty input follows PyTorch: reductions, losses (each reduction, and their gradients), softmax,
and linear, convolution and pooling layers on an empty batch.

Each case states its expected value plainly, so it runs without torch; where torch imports, the
same call is also made there and the two must agree (value, shape, gradient shape, or raising).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import odyssey
import odyssey.nn.functional as F
from odyssey import nn

NAN = float("nan")
EMPTY_LABELS = np.zeros(0, np.int64)


def _grads(out: Any, inputs: list[Any]) -> list[tuple[int, ...]]:
    """The shapes of the inputs' gradients after out.sum().backward()."""
    out.sum().backward()
    return [tuple(t.grad.shape) for t in inputs]


def reduce_sum(lib: Any, x: Any) -> Any:
    return x.sum()


def reduce_sum_dim0(lib: Any, x: Any) -> Any:
    return x.sum(0)


def reduce_mean(lib: Any, x: Any) -> Any:
    return x.mean()


def reduce_mean_dim0(lib: Any, x: Any) -> Any:
    return x.mean(0)


def reduce_mean_dim1(lib: Any, x: Any) -> Any:
    return x.mean(1)


def reduce_max_dim1(lib: Any, x: Any) -> Any:
    return x.max(1)[0]


def functional(lib: Any) -> Any:
    return F if lib is odyssey else lib.nn.functional


def labels(lib: Any) -> Any:
    return odyssey.tensor(EMPTY_LABELS) if lib is odyssey else lib.zeros(0, dtype=lib.int64)


def loss(name: str, reduction: str) -> Callable[[Any, Any], Any]:
    def compute(lib: Any, x: Any) -> Any:
        f = getattr(functional(lib), name)
        if name == "mse_loss":
            return f(x, x.detach() * 0, reduction=reduction)
        return f(x, labels(lib), reduction=reduction)

    compute.__name__ = f"{name}_{reduction}"
    return compute


def softmax_dim1(lib: Any, x: Any) -> Any:
    return functional(lib).softmax(x, 1)


def log_softmax_dim1(lib: Any, x: Any) -> Any:
    return functional(lib).log_softmax(x, 1)


# (function, input shape, expected value or shape of the result)
CASES: list[Any] = [
    (reduce_sum, (0,), 0.0),
    (reduce_sum, (0, 3), 0.0),
    (reduce_sum_dim0, (0, 3), [0.0, 0.0, 0.0]),
    (reduce_mean, (0,), NAN),
    (reduce_mean, (2, 0), NAN),
    (reduce_mean_dim0, (0, 3), [NAN, NAN, NAN]),
    (reduce_mean_dim1, (0, 3), (0,)),
    (reduce_max_dim1, (0, 3), (0,)),
    *[(loss(name, "mean"), (0, 4), NAN) for name in ("cross_entropy", "nll_loss")],
    *[(loss(name, "sum"), (0, 4), 0.0) for name in ("cross_entropy", "nll_loss")],
    *[(loss(name, "none"), (0, 4), (0,)) for name in ("cross_entropy", "nll_loss")],
    (loss("mse_loss", "mean"), (0, 4), NAN),
    (loss("mse_loss", "sum"), (0, 4), 0.0),
    (loss("mse_loss", "none"), (0, 4), (0, 4)),
    (softmax_dim1, (0, 3), (0, 3)),
    (log_softmax_dim1, (0, 3), (0, 3)),
    (softmax_dim1, (3, 0), (3, 0)),
    (log_softmax_dim1, (3, 0), (3, 0)),
]


def _case_id(case: Any) -> str:
    function, shape, _ = case.values if hasattr(case, "values") else case
    return f"{function.__name__}-{'x'.join(map(str, shape))}"


def _check_result(out: np.ndarray, expected: Any) -> None:
    if isinstance(expected, tuple):
        assert out.shape == expected
    else:
        np.testing.assert_array_equal(out, np.asarray(expected, dtype=np.float32))


@pytest.mark.parametrize(
    ("function", "shape", "expected"),
    CASES,
    ids=[_case_id(case) for case in CASES],
)
def test_empty_input_gives_pytorchs_value_and_gradient(function, shape, expected) -> None:
    x = odyssey.zeros(shape, requires_grad=True)
    out = function(odyssey, x)
    _check_result(out.detach().numpy(), expected)
    out.sum().backward()
    assert x.grad is not None
    assert x.grad.shape == shape


@pytest.mark.parametrize(
    ("function", "shape", "expected"),
    CASES,
    ids=[_case_id(case) for case in CASES],
)
def test_empty_input_matches_torch(function, shape, expected) -> None:
    torch = pytest.importorskip("torch")
    x = odyssey.zeros(shape, requires_grad=True)
    tx = torch.zeros(shape, requires_grad=True)
    ours, theirs = function(odyssey, x), function(torch, tx)
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
    assert _grads(ours, [x]) == _grads(theirs, [tx])


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda t: t.max(), RuntimeError),
        (lambda t: t.argmax(), IndexError),
        (lambda t: t.max(0), IndexError),
        (lambda t: t.argmax(0), IndexError),
    ],
    ids=["max", "argmax", "max-dim0", "argmax-dim0"],
)
def test_max_of_nothing_raises_as_in_pytorch(call, error) -> None:
    with pytest.raises(error, match=r"Tensor\.(arg)?max: .*\(0, 3\)"):
        call(odyssey.zeros(0, 3))
    torch = pytest.importorskip("torch")
    with pytest.raises(error):
        call(torch.zeros(0, 3))


def test_argmax_along_a_nonempty_dim_of_an_empty_tensor_is_empty() -> None:
    out = odyssey.zeros(0, 3).argmax(1)
    assert out.shape == (0,)
    assert out.dtype == np.int64


def _empty_batch_layers(lib: Any) -> list[tuple[str, Any, tuple[int, ...]]]:
    """(name, layer, input shape) with the same weights in both libraries."""
    layers = lib.nn if lib is not odyssey else nn
    return [
        ("linear", layers.Linear(4, 2), (0, 4)),
        ("conv2d", layers.Conv2d(1, 2, 3), (0, 1, 5, 5)),
        ("max_pool2d", layers.MaxPool2d(2), (0, 1, 4, 4)),
        ("avg_pool2d", layers.AvgPool2d(2), (0, 1, 4, 4)),
    ]


@pytest.mark.parametrize("index", range(4), ids=["linear", "conv2d", "max_pool2d", "avg_pool2d"])
def test_layers_on_an_empty_batch(index: int) -> None:
    expected = [(0, 2), (0, 2, 3, 3), (0, 1, 2, 2), (0, 1, 2, 2)][index]
    _, layer, shape = _empty_batch_layers(odyssey)[index]
    x = odyssey.zeros(shape, requires_grad=True)
    out = layer(x)
    assert out.shape == expected
    out.sum().backward()
    assert x.grad.shape == shape
    for p in layer.parameters():  # nothing flowed back: the weight gradients are zero
        np.testing.assert_array_equal(p.grad.numpy(), np.zeros(p.shape, np.float32))
    torch = pytest.importorskip("torch")
    _, twin, _ = _empty_batch_layers(torch)[index]
    assert tuple(twin(torch.zeros(shape)).shape) == expected
