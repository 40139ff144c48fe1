"""nn.functional: each op's forward against a float64 NumPy reference and its backward against
finite differences, under every ISA; thread-count determinism; bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

import odyssey
import odyssey.nn.functional as F


def rand(*shape: int, seed: int = 0, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, shape)


# -- float64 references ---------------------------------------------------------------------


def conv2d_ref(x, w, b=None, stride=(1, 1), padding=(0, 0)):
    ph, pw = padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    windows = sliding_window_view(xp, w.shape[2:], axis=(2, 3))[:, :, :: stride[0], :: stride[1]]
    out = np.einsum("nchwij,ocij->nohw", windows, w)
    return out if b is None else out + b[None, :, None, None]


def pool_ref(x, kernel, stride, reduce):
    windows = sliding_window_view(x, kernel, axis=(2, 3))[:, :, :: stride[0], :: stride[1]]
    return reduce(windows, axis=(4, 5))


def softmax_ref(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax_ref(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def sigmoid_ref(x):
    return 1 / (1 + np.exp(-x))


# -- convolution and pooling ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "stride", "padding"),
    [
        ((2, 1, 7, 7), (3, 1, 3, 3), 1, 1),
        ((1, 2, 6, 5), (2, 2, 3, 2), (2, 1), 0),
        ((2, 3, 5, 5), (1, 3, 5, 5), 1, (2, 1)),
    ],
)
def test_conv2d(isa, gradcheck, x_shape, w_shape, stride, padding):
    x, w, b = rand(*x_shape, seed=1), rand(*w_shape, seed=2), rand(w_shape[0], seed=3)
    s = stride if isinstance(stride, tuple) else (stride, stride)
    p = padding if isinstance(padding, tuple) else (padding, padding)
    gradcheck(
        lambda x, w, b: F.conv2d(x, w, b, stride, padding),
        lambda x, w, b: conv2d_ref(x, w, b, s, p),
        [x, w, b],
    )
    gradcheck(
        lambda x, w: F.conv2d(x, w, stride=stride, padding=padding),
        lambda x, w: conv2d_ref(x, w, None, s, p),
        [x, w],
    )


@pytest.mark.parametrize(("kernel", "stride"), [(2, None), (3, 2), ((2, 3), (1, 2))])
def test_max_and_avg_pool2d(isa, gradcheck, kernel, stride):
    x = rand(2, 3, 7, 8)
    k = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    s = k if stride is None else (stride if isinstance(stride, tuple) else (stride, stride))
    gradcheck(lambda x: F.max_pool2d(x, kernel, stride), lambda x: pool_ref(x, k, s, np.max), [x])
    gradcheck(lambda x: F.avg_pool2d(x, kernel, stride), lambda x: pool_ref(x, k, s, np.mean), [x])


@pytest.mark.parametrize(("kernel", "stride"), [(2, None), (3, 2), ((2, 3), (1, 2)), (2, 3)])
def test_relu_max_pool2d(isa, gradcheck, kernel, stride):
    # Shifted so that some windows hold no positive value: there relu stops the gradient.
    x = rand(2, 3, 7, 8) - 0.3
    k = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    s = k if stride is None else (stride if isinstance(stride, tuple) else (stride, stride))
    gradcheck(
        lambda x: F.relu_max_pool2d(x, kernel, stride),
        lambda x: pool_ref(np.maximum(x, 0), k, s, np.max),
        [x],
    )


def test_relu_max_pool2d_is_relu_then_max_pool2d_bit_for_bit(isa):
    # Values and gradients, ties and NaNs included (a NaN maximum passes its gradient, as
    # relu_backward passes a NaN's).
    data = np.round(rand(3, 4, 12, 9, seed=5) * 4) / 2
    data[0, 0, 0, 1] = data[1, 2, 5, 5] = np.nan
    g = rand(3, 4, 6, 4, seed=6)
    results = []
    for fused in (False, True):
        x = odyssey.tensor(data, requires_grad=True)
        y = F.relu_max_pool2d(x, 2) if fused else F.max_pool2d(F.relu(x), 2)
        y.backward(odyssey.tensor(g))
        results.append((y.data, x.grad.data))
    (y, dx), (fused_y, fused_dx) = results
    np.testing.assert_array_equal(fused_y, y)
    np.testing.assert_array_equal(fused_dx, dx)
    assert np.isnan(fused_y).sum() == 2
    assert (fused_y == 0).any()


def test_conv_and_pool_are_bitwise_identical_across_thread_counts(threads):
    x = odyssey.tensor(rand(9, 3, 12, 12), requires_grad=True)
    w = odyssey.tensor(rand(5, 3, 3, 3, seed=1), requires_grad=True)
    b = odyssey.tensor(rand(5, seed=2), requires_grad=True)
    results = []
    for n in (1, 2, 3):
        odyssey.set_num_threads(n)
        x.grad = w.grad = b.grad = None
        y = F.max_pool2d(F.relu(F.conv2d(x, w, b, padding=1)), 2)
        y = y + F.relu_max_pool2d(F.conv2d(x, w, b, padding=1), 3, 2).sum()
        (y * y).sum().backward()
        results.append([y.data, x.grad.data, w.grad.data, b.grad.data])
    for other in results[1:]:
        for a, c in zip(results[0], other, strict=True):
            np.testing.assert_array_equal(a, c)


# -- activations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "reference"),
    [
        (F.relu, lambda x: np.maximum(x, 0)),
        (F.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x)),
        (lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
        (F.sigmoid, sigmoid_ref),
        (F.tanh, np.tanh),
        (F.lecun_tanh, lambda x: 1.7159 * np.tanh(2 * x / 3)),
    ],
)
def test_activations(isa, gradcheck, function, reference):
    x = rand(3, 17, low=-3, high=3)
    x[np.abs(x) < 1e-2] = 0.5  # finite differences are meaningless at ReLU's kink
    gradcheck(function, reference, [x])


@pytest.mark.parametrize("dim", [-1, 0, 1, 2])
def test_softmax_and_log_softmax(isa, gradcheck, dim):
    x = rand(2, 3, 5, low=-4, high=4)
    gradcheck(lambda x: F.softmax(x, dim), lambda x: softmax_ref(x, dim), [x])
    gradcheck(lambda x: F.log_softmax(x, dim), lambda x: log_softmax_ref(x, dim), [x])


# -- losses ---------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy(isa, gradcheck, reduction):
    logits = rand(6, 5, low=-3, high=3)
    labels = np.array([0, 4, 2, 2, 1, 3])

    def reference(x):
        losses = -log_softmax_ref(x, 1)[np.arange(6), labels]
        return {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]

    target = odyssey.tensor(labels)
    gradcheck(lambda x: F.cross_entropy(x, target, reduction), reference, [logits])
    gradcheck(lambda x: F.nll_loss(F.log_softmax(x, 1), target, reduction), reference, [logits])


def test_cross_entropy_is_finite_for_huge_logits():
    logits = odyssey.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], requires_grad=True)
    loss = F.cross_entropy(logits, odyssey.tensor([1, 0]))
    loss.backward()
    assert np.isfinite(loss.item())
    assert loss.item() == pytest.approx((2e4 + 2e4 + np.log(2)) / 2, rel=1e-5)
    assert np.all(np.isfinite(logits.grad.data))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss(gradcheck, reduction):
    x, y = rand(4, 3), rand(4, 3, seed=1)
    reduce = {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction]
    gradcheck(lambda a, b: F.mse_loss(a, b, reduction), lambda a, b: reduce((a - b) ** 2), [x, y])


# -- regularisation and normalisation -------------------------------------------------------


def test_dropout_masks_scales_and_follows_the_seed():
    x = odyssey.tensor(np.ones((200, 50)), requires_grad=True)
    odyssey.manual_seed(3)
    y = F.dropout(x, 0.25)
    kept = y.data != 0
    assert 0.7 < kept.mean() < 0.8
    np.testing.assert_allclose(y.data[kept], 1 / 0.75)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, y.data)
    odyssey.manual_seed(3)
    np.testing.assert_array_equal(F.dropout(x, 0.25).data, y.data)
    assert F.dropout(x, 0.25, training=False) is x
    assert not F.dropout(x, 1.0).data.any()
    with pytest.raises(ValueError, match="p must be in"):
        F.dropout(x, 1.5)


def batch_norm_ref(x, w, b, eps=1e-5):
    axes = (0, *range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w.reshape(shape) + b.reshape(shape)


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2, 3)])
def test_batch_norm_training(gradcheck, shape):
    x = rand(*shape, low=-2, high=2)
    w, b = rand(3, seed=1, low=0.5, high=1.5), rand(3, seed=2)
    gradcheck(
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        batch_norm_ref,
        [x, w, b],
        rtol=5e-3,
        atol=5e-3,
    )


def test_batch_norm_running_statistics_and_eval(gradcheck):
    x = rand(6, 3, 2, 2, low=-2, high=2)
    mean = odyssey.zeros(3)
    var = odyssey.ones(3)
    F.batch_norm(odyssey.tensor(x), mean, var, training=True, momentum=0.5)
    np.testing.assert_allclose(mean.data, 0.5 * x.mean(axis=(0, 2, 3)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        var.data, 0.5 + 0.5 * x.var(axis=(0, 2, 3), ddof=1), rtol=1e-5, atol=1e-6
    )
    m, v = mean.data.astype(np.float64), var.data.astype(np.float64)
    w = rand(3, seed=1)
    gradcheck(
        lambda x, w: F.batch_norm(x, mean, var, w, None, training=False),
        lambda x, w: (x - m[:, None, None]) / np.sqrt(v[:, None, None] + 1e-5) * w[:, None, None],
        [x, w],
    )


# -- bad input ------------------------------------------------------------------------------


def test_bad_input_names_the_shapes():
    x = odyssey.tensor(np.zeros((2, 3, 8, 8)))
    with pytest.raises(ValueError, match=r"3 channels but weight expects 1 .*\(2, 3, 8, 8\)"):
        F.conv2d(x, odyssey.tensor(np.zeros((4, 1, 3, 3))))
    with pytest.raises(ValueError, match=r"4-D.*\(3, 8, 8\)"):
        F.conv2d(x[0], odyssey.tensor(np.zeros((4, 3, 3, 3))))
    with pytest.raises(ValueError, match="larger than"):
        F.conv2d(x, odyssey.tensor(np.zeros((4, 3, 9, 9))))
    with pytest.raises(ValueError, match="larger than"):
        F.max_pool2d(x, 9)
    with pytest.raises(ValueError, match=r"relu_max_pool2d: kernel_size \(9, 9\) is larger than"):
        F.relu_max_pool2d(x, 9)
    with pytest.raises(TypeError, match="float32"):
        F.conv2d(odyssey.tensor(np.zeros((2, 3, 8, 8), dtype=np.int64)), x)
    logits = odyssey.tensor(np.zeros((2, 3)))
    with pytest.raises(
        ValueError, match=r"cross_entropy: target holds 3 at position 1, outside \[0, 3\)"
    ):
        F.cross_entropy(logits, odyssey.tensor([0, 3]))
    with pytest.raises(ValueError, match=r"outside \[0, 3\)"):
        F.nll_loss(logits, odyssey.tensor([0, -1]))
    with pytest.raises(TypeError, match="int64"):
        F.nll_loss(logits, odyssey.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"input \(2, 3\) and target \(3,\)"):
        F.mse_loss(logits, odyssey.tensor(np.zeros(3)))
    with pytest.raises(ValueError, match="reduction must be"):
        F.cross_entropy(logits, odyssey.tensor([0, 1]), reduction="average")


# -- linear and matmul ----------------------------------------------------------------------


@pytest.mark.parametrize(("n", "k", "m"), [(1, 1, 1), (5, 3, 4), (7, 17, 3)])
def test_linear(isa, gradcheck, n, k, m):
    x, w, b = rand(n, k, seed=1), rand(m, k, seed=2), rand(m, seed=3)
    gradcheck(F.linear, lambda x, w, b: x @ w.T + b, [x, w, b])
    gradcheck(lambda x, w: F.linear(x, w), lambda x, w: x @ w.T, [x, w])
    gradcheck(lambda a, c: a @ c, lambda a, c: a @ c, [x, w.T.copy()])


def test_linear_takes_leading_batch_dims(gradcheck):
    x, w, b = rand(2, 3, 4, seed=1), rand(5, 4, seed=2), rand(5, seed=3)
    gradcheck(F.linear, lambda x, w, b: x @ w.T + b, [x, w, b])


def test_linear_feature_mismatch_names_the_shapes():
    with pytest.raises(ValueError, match=r"300 features but weight expects 400 .*\(64, 300\)"):
        F.linear(odyssey.tensor(np.zeros((64, 300))), odyssey.tensor(np.zeros((120, 400))))
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\)"):
        odyssey.tensor(np.zeros((2, 3))) @ odyssey.tensor(np.zeros((4, 5)))


@settings(max_examples=20, deadline=None)
@given(
    n=st.integers(1, 3),
    c_in=st.integers(1, 4),
    c_out=st.integers(1, 5),
    size=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
)
def test_conv2d_forward_and_gradients_over_random_shapes(
    n, c_in, c_out, size, kernel, stride, padding
):
    padding = tuple(min(p, k // 2) for p, k in zip(padding, kernel, strict=True))
    if any(s + 2 * p < k for s, p, k in zip(size, padding, kernel, strict=True)):
        return
    x, w, b = rand(n, c_in, *size, seed=1), rand(c_out, c_in, *kernel, seed=2), rand(c_out)
    tx = odyssey.tensor(x, requires_grad=True)
    tw = odyssey.tensor(w, requires_grad=True)
    tb = odyssey.tensor(b, requires_grad=True)
    y = F.conv2d(tx, tw, tb, stride, padding)
    np.testing.assert_allclose(y.data, conv2d_ref(x, w, b, stride, padding), rtol=1e-4, atol=1e-5)
    g = rand(*y.shape, seed=4)
    y.backward(g)
    # The adjoint identities <g, conv(x)> and the reference's gradients, through einsum.
    ph, pw = padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    windows = sliding_window_view(xp, kernel, axis=(2, 3))[:, :, :: stride[0], :: stride[1]]
    np.testing.assert_allclose(
        tw.grad.data, np.einsum("nchwij,nohw->ocij", windows, g), rtol=1e-4, atol=1e-4
    )
    np.testing.assert_allclose(tb.grad.data, g.sum(axis=(0, 2, 3)), rtol=1e-4, atol=1e-4)
    grad_xp = np.zeros_like(xp)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            rows = slice(i, i + stride[0] * y.shape[2], stride[0])
            cols = slice(j, j + stride[1] * y.shape[3], stride[1])
            grad_xp[:, :, rows, cols] += np.einsum("nohw,oc->nchw", g, w[:, :, i, j])
    expected_x = grad_xp[:, :, ph : ph + size[0], pw : pw + size[1]]
    np.testing.assert_allclose(tx.grad.data, expected_x, rtol=1e-4, atol=1e-4)


def test_no_grad_records_nothing_and_backward_releases_saved_arrays():
    x = odyssey.tensor(rand(2, 1, 8, 8), requires_grad=True)
    w = odyssey.tensor(rand(3, 1, 3, 3), requires_grad=True)
    with odyssey.no_grad():
        y = F.max_pool2d(F.relu(F.conv2d(x, w)), 2)
    assert not y.requires_grad
    assert y.is_leaf
    z = F.relu(F.conv2d(x, w)).sum()
    node = z._node
    z.backward()
    assert node.backward is None
    assert node.parents == ()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: F.relu(np.zeros(3, np.float32)), "relu: input must be a Tensor, not ndarray"),
        (lambda: F.linear(odyssey.zeros(2, 3), [[1.0]]), "linear: weight must be a Tensor"),
        (lambda: F.conv2d(None, odyssey.zeros(1, 1, 1, 1)), "conv2d: input must be a Tensor"),
        (lambda: F.softmax(np.zeros(3), 0), "softmax: input must be a Tensor"),
        (lambda: F.cross_entropy(np.zeros((1, 2)), [0]), "cross_entropy: input must be"),
    ],
)
def test_non_tensor_arguments_are_named(call, message):
    with pytest.raises(TypeError, match=message):
        call()
