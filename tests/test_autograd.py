"""The autograd engine: gradients of every Tensor op against finite differences, accumulation,
broadcasting, graph release, no_grad and deep graphs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import odyssey


def rand(*shape: int, seed: int = 0, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, shape)


@pytest.mark.parametrize(
    ("shape_a", "shape_b"), [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((3, 1), (1, 5)), ((2, 3), ())]
)
def test_broadcast_arithmetic_gradients(gradcheck, shape_a, shape_b):
    a = rand(*shape_a, seed=1)
    b = rand(*shape_b, seed=2, low=0.5, high=2.0)
    gradcheck(lambda x, y: x + y, lambda x, y: x + y, [a, b])
    gradcheck(lambda x, y: x - y, lambda x, y: x - y, [a, b])
    gradcheck(lambda x, y: x * y, lambda x, y: x * y, [a, b])
    gradcheck(lambda x, y: x / y, lambda x, y: x / y, [a, b])


def test_scalar_operand_gradients(gradcheck):
    a = rand(3, 4, low=0.5, high=2.0)
    gradcheck(lambda x: 3 - x * 2 + 1, lambda x: 3 - x * 2 + 1, [a])
    gradcheck(lambda x: 2 / x - x / 4, lambda x: 2 / x - x / 4, [a])
    gradcheck(lambda x: -x, lambda x: -x, [a])


def test_elementwise_function_gradients(gradcheck):
    a = rand(3, 5, low=0.5, high=2.0)
    b = rand(3, 5, seed=3, low=0.5, high=1.5)
    gradcheck(lambda x: x.exp(), np.exp, [a])
    gradcheck(lambda x: x.log(), np.log, [a])
    gradcheck(lambda x: x.sqrt(), np.sqrt, [a])
    gradcheck(lambda x: x**3, lambda x: x**3, [a])
    gradcheck(lambda x: x.pow(-0.5), lambda x: x**-0.5, [a])
    gradcheck(lambda x, y: x**y, lambda x, y: x**y, [a, b])
    gradcheck(lambda x: (x - 1).abs(), lambda x: np.abs(x - 1), [a])


@pytest.mark.parametrize(
    ("dim", "keepdim"), [(None, False), (0, False), (1, True), ((0, 2), False), (-1, False)]
)
def test_reduction_gradients(gradcheck, dim, keepdim):
    a = rand(2, 3, 4)
    gradcheck(
        lambda x: x.sum(dim, keepdim),
        lambda x: np.sum(x, axis=dim, keepdims=keepdim),
        [a],
    )
    gradcheck(
        lambda x: x.mean(dim, keepdim),
        lambda x: np.mean(x, axis=dim, keepdims=keepdim),
        [a],
    )


def test_max_gradients(gradcheck):
    a = rand(3, 4)
    gradcheck(lambda x: x.max(), np.max, [a])
    gradcheck(lambda x: x.max(1)[0], lambda x: np.max(x, axis=1), [a])
    gradcheck(lambda x: x.max(0, keepdim=True)[0], lambda x: np.max(x, 0, keepdims=True), [a])


def test_max_shares_the_gradient_among_ties():
    t = odyssey.tensor([1.0, 3.0, 3.0], requires_grad=True)
    t.max().backward()
    np.testing.assert_array_equal(t.grad.data, [0.0, 0.5, 0.5])


def test_shape_op_gradients(gradcheck):
    a = rand(2, 3, 4)
    gradcheck(lambda x: x.reshape(4, 6) * 2, lambda x: x.reshape(4, 6) * 2, [a])
    gradcheck(lambda x: x.flatten(1) * 2, lambda x: x.reshape(2, 12) * 2, [a])
    gradcheck(
        lambda x: x.permute(1, 2, 0) * np.arange(2.0),
        lambda x: x.transpose(1, 2, 0) * np.arange(2.0),
        [a],
    )
    gradcheck(
        lambda x: x.transpose(0, 1) * np.arange(4.0),
        lambda x: x.transpose(1, 0, 2) * np.arange(4.0),
        [a],
    )
    gradcheck(lambda x: x[0].T * 3, lambda x: x[0].T * 3, [a])


def test_indexing_gradients_accumulate_repeats(gradcheck):
    a = rand(5, 3)
    index = np.array([4, 0, 4, 2])
    gradcheck(lambda x: x[index] * 2, lambda x: x[index] * 2, [a])
    gradcheck(lambda x: x[1:4], lambda x: x[1:4], [a])
    gradcheck(lambda x: x[-1] * 3, lambda x: x[-1] * 3, [a])


def test_gradients_accumulate_across_backward_calls():
    x = odyssey.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [3 + 2, 3 + 4])


def test_a_tensor_used_twice_gets_both_gradients():
    x = odyssey.tensor([2.0], requires_grad=True)
    (x + x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0])


def test_leaf_gradients_do_not_alias():
    a = odyssey.tensor([1.0, 2.0], requires_grad=True)
    b = odyssey.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad.data += 10
    np.testing.assert_array_equal(b.grad.data, [1.0, 1.0])


def test_second_backward_through_a_released_graph_raises():
    x = odyssey.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = odyssey.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [4.0, 8.0])


def test_backward_needs_a_gradient_for_non_scalars():
    x = odyssey.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="non-scalar"):
        (x * 2).backward()
    (x * 2).backward(np.array([1.0, -1.0]))
    np.testing.assert_array_equal(x.grad.data, [2.0, -2.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        odyssey.tensor([1.0]).sum().backward()


def test_no_grad_as_context_manager_and_decorator():
    x = odyssey.tensor([1.0], requires_grad=True)
    with odyssey.no_grad():
        y = x * 2
    assert not y.requires_grad

    @odyssey.no_grad()
    def double(t):
        return t * 2

    assert not double(x).requires_grad

    @odyssey.no_grad
    def triple(t):
        return t * 3

    assert not triple(x).requires_grad
    assert triple.__name__ == "triple"
    assert (x * 2).requires_grad


def test_deep_graph_has_no_recursion_limit():
    x = odyssey.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(20000):
        y = y + 1.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0])


def test_diamond_graph():
    x = odyssey.tensor([3.0], requires_grad=True)
    a = x * 2
    b = a * a
    c = a + b
    c.sum().backward()
    # c = 2x + 4x^2 -> dc/dx = 2 + 8x
    np.testing.assert_allclose(x.grad.data, [26.0])


def test_only_inputs_requiring_grad_get_gradients():
    x = odyssey.tensor([1.0, 2.0], requires_grad=True)
    w = odyssey.tensor([3.0, 4.0])
    (x * w).sum().backward()
    assert w.grad is None
    assert x.is_leaf
    assert not (x * w).is_leaf


@st.composite
def broadcastable_shapes(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Two shapes that broadcast: b drops leading dims of a and sets some sizes to 1."""
    a = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=3)))
    keep = draw(st.integers(0, len(a)))
    b = tuple(1 if draw(st.booleans()) else size for size in a[len(a) - keep :])
    return (a, b) if draw(st.booleans()) else (b, a)


@settings(max_examples=25, deadline=None)
@given(broadcastable_shapes())
def test_broadcast_gradients_reduce_to_each_input_shape(shapes):
    shape_a, shape_b = shapes
    a = odyssey.tensor(rand(*shape_a, seed=1), requires_grad=True)
    b = odyssey.tensor(rand(*shape_b, seed=2, low=0.5, high=2.0), requires_grad=True)
    out = (a * b + a / b - b).sum()
    out.backward()
    assert a.grad.shape == shape_a
    assert b.grad.shape == shape_b
    a64, b64 = a.data.astype(np.float64), b.data.astype(np.float64)
    grad_a = np.broadcast_to(b64 + 1 / b64, np.broadcast_shapes(shape_a, shape_b))
    expected_a = (
        grad_a.sum(axis=tuple(range(grad_a.ndim - len(shape_a)))) if grad_a.ndim else grad_a
    )
    axes = tuple(i for i, s in enumerate(shape_a) if s == 1)
    np.testing.assert_allclose(
        a.grad.data, expected_a.sum(axis=axes, keepdims=True).reshape(shape_a), rtol=1e-5
    )
    np.testing.assert_allclose(out.item(), np.sum(a64 * b64 + a64 / b64 - b64), rtol=1e-5)


def test_float64_operands_keep_gradients_float32():
    x = odyssey.tensor([[-1.0, 2.0]], requires_grad=True)
    y = odyssey.nn.functional.relu(x + np.ones(2)) * np.float64(3.0)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [[0.0, 3.0]])


def test_unsqueeze_squeeze_and_clone_gradients(gradcheck):
    a = rand(3, 1, 4)
    gradcheck(lambda x: x.unsqueeze(0) * 2, lambda x: x[None] * 2, [a])
    gradcheck(lambda x: x.unsqueeze(-1) * 2, lambda x: x[..., None] * 2, [a])
    gradcheck(lambda x: x.squeeze() * 2, lambda x: x.reshape(3, 4) * 2, [a])
    gradcheck(lambda x: x.squeeze(1) * 2, lambda x: x.reshape(3, 4) * 2, [a])
    gradcheck(lambda x: x.squeeze(0) * 2, lambda x: x * 2, [a])
    gradcheck(lambda x: x.clone() * x, lambda x: x * x, [a])
    t = odyssey.tensor(a)
    assert t.clone().data is not t.data
