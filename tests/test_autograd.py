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


# -- the ops of issue 12 -----------------------------------------------------------------------


def test_join_and_cut_gradients(gradcheck):
    a, b = rand(2, 3, seed=4), rand(4, 3, seed=5)
    gradcheck(lambda x, y: odyssey.cat([x, y]), lambda x, y: np.concatenate([x, y]), [a, b])
    gradcheck(
        lambda x, y: odyssey.cat([y.t(), x.t()], dim=1),
        lambda x, y: np.concatenate([y.T, x.T], axis=1),
        [a, b],
    )
    gradcheck(
        lambda x, y: odyssey.stack([x, y[:2], x], dim=1),
        lambda x, y: np.stack([x, y[:2], x], axis=1),
        [a, b],
    )
    c = rand(5, 4, seed=6)
    gradcheck(lambda x: x.split(2)[1] * x.split(2)[2].sum(), lambda x: x[2:4] * x[4:].sum(), [c])
    gradcheck(
        lambda x: odyssey.split(x, [1, 3], dim=1)[1], lambda x: x[:, 1:], [c]
    )  # fmt: skip
    gradcheck(lambda x: x.chunk(3, 1)[0] - x.chunk(3, 1)[1], lambda x: x[:, :2] - x[:, 2:], [c])


def test_selection_gradients(gradcheck):
    a = rand(3, 4, seed=7)
    b = rand(3, 4, seed=8)
    gradcheck(lambda x: x.clamp(-0.5, 0.5), lambda x: np.clip(x, -0.5, 0.5), [a])
    gradcheck(lambda x: x.clamp(min=0.1), lambda x: np.maximum(x, 0.1), [a])
    gradcheck(lambda x: odyssey.clip(x, max=0.2), lambda x: np.minimum(x, 0.2), [a])
    gradcheck(lambda x, lo: x.clamp(lo), lambda x, lo: np.maximum(x, lo), [a, b])
    gradcheck(
        lambda x, lo, hi: x.clamp(lo, hi - 2),
        lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi - 2),
        [a, b - 0.5, rand(4, seed=9) + 3],
    )
    mask = odyssey.tensor(rand(3, 4, seed=10) > 0)
    gradcheck(
        lambda x, y: odyssey.where(mask, x, y), lambda x, y: np.where(mask.data, x, y), [a, b[:1]]
    )
    gradcheck(lambda x: odyssey.where(mask, x, 0.0), lambda x: np.where(mask.data, x, 0.0), [a])
    gradcheck(lambda x, y: odyssey.maximum(x, y), np.maximum, [a, b])
    gradcheck(lambda x, y: x.minimum(y), np.minimum, [a, b[1:2]])


def test_shape_and_gather_gradients(gradcheck):
    a = rand(3, 4, seed=11)
    gradcheck(lambda x: x.t() * 2, lambda x: x.T * 2, [a])
    gradcheck(lambda x: x.expand(2, 3, 4), lambda x: np.broadcast_to(x, (2, 3, 4)), [a[:1]])
    gradcheck(lambda x: x.expand(-1, 5), lambda x: np.broadcast_to(x, (3, 5)), [a[:, :1]])
    other = odyssey.zeros(2, 3, 4)
    gradcheck(lambda x: x.expand_as(other), lambda x: np.broadcast_to(x, (2, 3, 4)), [a])
    index = np.array([[0, 0, 3], [2, 1, 2], [3, 3, 3]])  # repeats accumulate
    gradcheck(
        lambda x: x.gather(1, odyssey.tensor(index)),
        lambda x: np.take_along_axis(x, index, 1),
        [a],
    )
    rows = np.array([[2, 0, 1, 1], [0, 0, 0, 2]])
    gradcheck(
        lambda x: odyssey.gather(x, 0, odyssey.tensor(rows[:, :3])),
        lambda x: np.take_along_axis(x[:, :3], rows[:, :3], 0),
        [a],
    )
    gradcheck(lambda x: x.to(odyssey.float64) * 3, lambda x: x * 3, [a])


def test_new_op_gradients_match_pytorch_at_ties_bounds_and_nan():
    torch = pytest.importorskip("torch")
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.0, np.nan], dtype=np.float32)
    y = np.array([-1.0, 1.0, 0.5, 0.0, 3.0, 1.0], dtype=np.float32)
    g = np.arange(1, 7, dtype=np.float32)
    cases = [
        (lambda a, b, m: a.clamp(0.0, 1.0), lambda a, b: a.clamp(0.0, 1.0)),
        (lambda a, b, m: a.clamp(b), lambda a, b: a.clamp(b)),
        (lambda a, b, m: a.clamp(max=b), lambda a, b: a.clamp(max=b)),
        (lambda a, b, m: a.clamp(b, b + 0.5), lambda a, b: a.clamp(b, b + 0.5)),
        (lambda a, b, m: a.clamp(b + 1, b), lambda a, b: a.clamp(b + 1, b)),  # min above max
        (lambda a, b, m: m.maximum(a, b), lambda a, b: torch.maximum(a, b)),
        (lambda a, b, m: m.minimum(a, b), lambda a, b: torch.minimum(a, b)),
        (lambda a, b, m: m.where(a > b, a, b), lambda a, b: torch.where(a > b, a, b)),
    ]
    for ours, theirs in cases:
        a, b = odyssey.tensor(x, requires_grad=True), odyssey.tensor(y, requires_grad=True)
        ours(a, b, odyssey).backward(g)
        ta, tb = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
        theirs(ta, tb).backward(torch.tensor(g))
        for mine, reference in ((a.grad, ta.grad), (b.grad, tb.grad)):
            if reference is None:
                assert mine is None
            else:
                np.testing.assert_array_equal(mine.data, reference.numpy())


def test_arithmetic_computes_only_the_gradients_an_input_needs():
    a = odyssey.tensor(rand(2, 3), requires_grad=True)
    constant = odyssey.tensor(rand(2, 3, seed=1))
    g = np.ones((2, 3), np.float32)
    for out in (a + constant, a - constant, a * constant, a / (constant + 2)):
        grads = out.grad_fn.backward(g)
        assert grads[0] is not None
        assert grads[1] is None, out.grad_fn.name
    for out in (constant + a, constant - a, constant * a, constant / (a + 2)):
        assert out.grad_fn.backward(g)[0] is None, out.grad_fn.name
    assert odyssey.maximum(a, constant).grad_fn.backward(g)[1] is None
    assert odyssey.where(constant > 0, constant, a).grad_fn.backward(g)[1] is None


def grad_fn_cases(m, x, y, i):
    """(label, result) pairs of every Tensor op, written once for odyssey (m) and torch."""
    return [
        ("add", x + y), ("radd", 2 + x), ("sub", x - y), ("rsub", 2 - x), ("mul", x * y),
        ("rmul", 2 * x), ("div", x / y), ("rdiv", 2 / x), ("neg", -x), ("pow", x**2),
        ("pow_tensor", x.abs() ** y), ("rpow", 2**x), ("exp", x.exp()), ("log", x.abs().log()),
        ("sqrt", x.abs().sqrt()), ("abs", x.abs()), ("matmul", x @ y.t()), ("sum", x.sum()),
        ("sum_dim", x.sum(0)), ("mean", x.mean()), ("mean_dim", x.mean(1)), ("max", x.max()),
        ("max_dim", x.max(0)[0]), ("reshape", x.reshape(4, 3)), ("view", x.view(12)),
        ("flatten", x.flatten()), ("unsqueeze", x.unsqueeze(0)),
        ("squeeze", x.unsqueeze(0).squeeze()), ("squeeze_dim", x.unsqueeze(0).squeeze(0)),
        ("clone", x.clone()), ("permute", x.permute(1, 0)), ("transpose", x.transpose(0, 1)),
        ("t", x.t()), ("T", x.T), ("select", x[0]), ("slice", x[1:]), ("index", x[[0, 1]]),
        ("cat", m.cat([x, y])), ("stack", m.stack([x, y])), ("split", x.split(2)[0]),
        ("split_sizes", x.split([1, 2])[1]), ("chunk", x.chunk(2)[1]), ("clamp", x.clamp(0, 1)),
        ("clamp_tensor", x.clamp(y)), ("clip", x.clip(max=0)), ("where", m.where(x > 0, x, y)),
        ("maximum", m.maximum(x, y)), ("minimum", m.minimum(x, y)),
        ("expand", x[:1].expand(2, 3, 4)), ("expand_as", x[:1].expand_as(y)),
        ("gather", x.gather(1, i)), ("to", x.to(m.float64)),
    ]  # fmt: skip


def test_grad_fn_names_are_pytorchs():
    torch = pytest.importorskip("torch")
    x, y = rand(3, 4, seed=12), rand(3, 4, seed=13, low=0.5, high=2.0)
    index = np.array([[0, 3], [1, 1], [2, 0]])
    ours = grad_fn_cases(
        odyssey,
        odyssey.tensor(x, requires_grad=True),
        odyssey.tensor(y, requires_grad=True),
        odyssey.tensor(index),
    )
    theirs = grad_fn_cases(
        torch,
        torch.tensor(x, dtype=torch.float32, requires_grad=True),
        torch.tensor(y, dtype=torch.float32, requires_grad=True),
        torch.tensor(index),
    )
    for (label, mine), (_, reference) in zip(ours, theirs, strict=True):
        assert mine.grad_fn.name == reference.grad_fn.name(), label
        assert repr(mine).endswith(f"grad_fn=<{reference.grad_fn.name()}>)"), label
