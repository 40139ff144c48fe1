"""max_pool2d (also fused with a preceding relu) and avg_pool2d through the bindings: forward
against NumPy, gradients against float64 finite differences and PyTorch, on every ISA; bitwise
determinism; every bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import odyssey
from odyssey import _kernels

# (N, C, H, W, kernel, stride)
SHAPES = [
    (4, 6, 28, 28, (2, 2), (2, 2)),
    (2, 16, 10, 10, (2, 2), (2, 2)),
    (1, 3, 9, 11, (3, 2), (2, 3)),
    (2, 1, 7, 7, (7, 7), (1, 1)),
    (1, 2, 17, 5, (3, 3), (1, 1)),
]


def windows(x: np.ndarray, kernel, stride) -> np.ndarray:
    """(N, C, OH, OW, KH * KW): each output's window in row-major order."""
    (kh, kw), (sh, sw) = kernel, stride
    oh = (x.shape[2] - kh) // sh + 1
    ow = (x.shape[3] - kw) // sw + 1
    taps = [
        x[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw]
        for i in range(kh)
        for j in range(kw)
    ]
    return np.stack(taps, axis=-1)


def reference_max(x: np.ndarray, kernel, stride) -> tuple[np.ndarray, np.ndarray]:
    """Window maxima and their plane indices: the first of ties, the last NaN."""
    kw, (sh, sw) = kernel[1], stride
    win = windows(x, kernel, stride)
    nan = np.isnan(win)
    last_nan = win.shape[-1] - 1 - np.argmax(nan[..., ::-1], axis=-1)
    tap = np.where(nan.any(axis=-1), last_nan, np.argmax(np.where(nan, -np.inf, win), axis=-1))
    oh, ow = np.meshgrid(np.arange(win.shape[2]), np.arange(win.shape[3]), indexing="ij")
    index = (oh * sh + tap // kw) * x.shape[3] + ow * sw + tap % kw
    return np.take_along_axis(win, tap[..., None], axis=-1)[..., 0], index.astype(np.int32)


def random_input(shape, seed: int) -> np.ndarray:
    n, c, h, w, _, _ = shape
    # Half-integers: windows hold ties, which must resolve to the first.
    return np.random.default_rng(seed).integers(-4, 4, (n, c, h, w)).astype(np.float32) / 2


@pytest.mark.parametrize("shape", SHAPES)
def test_forward_matches_numpy(isa: str, shape) -> None:
    x = random_input(shape, 0)
    kernel, stride = shape[4], shape[5]
    y, argmax = _kernels.max_pool2d_forward(x, kernel, stride)
    want_y, want_argmax = reference_max(x, kernel, stride)
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_array_equal(argmax, want_argmax)
    assert argmax.dtype == np.int32
    mean = windows(x.astype(np.float64), kernel, stride).mean(axis=-1)
    np.testing.assert_allclose(_kernels.avg_pool2d_forward(x, kernel, stride), mean, atol=1e-6)


def test_nan_wins_the_window() -> None:
    x = np.array([[[[1.0, np.nan], [np.nan, 5.0]]]], dtype=np.float32)
    y, argmax = _kernels.max_pool2d_forward(x, 2, 2)
    assert np.isnan(y[0, 0, 0, 0])
    assert argmax[0, 0, 0, 0] == 2  # PyTorch keeps the last NaN
    assert np.isnan(_kernels.avg_pool2d_forward(x, 2, 2)[0, 0, 0, 0])


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 3),
    c=st.integers(1, 4),
    h=st.integers(1, 20),
    w=st.integers(1, 20),
    kernel=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    seed=st.integers(0, 2**31),
)
def test_any_shape_forward_and_backward(n, c, h, w, kernel, stride, seed) -> None:
    if kernel[0] > h or kernel[1] > w:
        return
    shape = (n, c, h, w, kernel, stride)
    x = random_input(shape, seed)
    y, argmax = _kernels.max_pool2d_forward(x, kernel, stride)
    want_y, want_argmax = reference_max(x, kernel, stride)
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_array_equal(argmax, want_argmax)
    g = np.random.default_rng(seed).standard_normal(y.shape).astype(np.float32)
    dx = _kernels.max_pool2d_backward(g, argmax, x.shape, kernel, stride)
    np.testing.assert_allclose(dx, scattered(g, argmax, x.shape), atol=1e-5)
    dx_avg = _kernels.avg_pool2d_backward(g, x.shape, kernel, stride)
    np.testing.assert_allclose(dx_avg, avg_gradient(g, x.shape, kernel, stride), atol=1e-5)
    # Fused with a preceding relu: the maxima of relu(x), and no gradient where relu stops it.
    y, argmax = _kernels.max_pool2d_forward(x, kernel, stride, relu=True)
    dead = want_y <= 0
    np.testing.assert_array_equal(y, np.where(dead, np.float32(0), want_y))
    np.testing.assert_array_equal(argmax, np.where(dead, -1, want_argmax))
    dx = _kernels.max_pool2d_backward(g, argmax, x.shape, kernel, stride)
    np.testing.assert_allclose(dx, scattered(np.where(dead, 0, g), want_argmax, x.shape), atol=1e-5)


def scattered(g: np.ndarray, argmax: np.ndarray, x_shape) -> np.ndarray:
    """Each gradient added at its argmax (none where it is -1), in float64."""
    planes = x_shape[0] * x_shape[1]
    dx = np.zeros((planes, x_shape[2] * x_shape[3] + 1))  # the last column takes argmax -1
    np.add.at(dx, (np.arange(planes)[:, None], argmax.reshape(planes, -1)), g.reshape(planes, -1))
    return dx[:, :-1].reshape(x_shape)


def avg_gradient(g: np.ndarray, x_shape, kernel, stride) -> np.ndarray:
    """Each output's gradient spread evenly over its window, in float64."""
    (kh, kw), (sh, sw) = kernel, stride
    dx = np.zeros(x_shape)
    for i in range(g.shape[2]):
        for j in range(g.shape[3]):
            share = g[:, :, i, j, None, None].astype(np.float64) / (kh * kw)
            dx[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw] += share
    return dx


def test_backward_matches_finite_differences(isa: str) -> None:
    rng = np.random.default_rng(1)
    # Distinct values, so a small step never changes which element is the maximum.
    x = rng.permutation(2 * 3 * 6 * 5).reshape(2, 3, 6, 5).astype(np.float32)
    kernel, stride = (3, 2), (2, 1)
    y, argmax = _kernels.max_pool2d_forward(x, kernel, stride)
    g = rng.standard_normal(y.shape).astype(np.float32)
    x64 = x.astype(np.float64)

    def numeric(loss) -> np.ndarray:
        grad = np.zeros_like(x64)
        for index in np.ndindex(x.shape):
            plus, minus = x64.copy(), x64.copy()
            plus[index] += 1e-3
            minus[index] -= 1e-3
            grad[index] = (loss(plus) - loss(minus)) / 2e-3
        return grad

    def max_loss(v):
        return float((windows(v, kernel, stride).max(axis=-1) * g).sum())

    def avg_loss(v):
        return float((windows(v, kernel, stride).mean(axis=-1) * g).sum())

    def relu_max_loss(v):
        return float((windows(np.maximum(v, 0), kernel, stride).max(axis=-1) * g).sum())

    dx = _kernels.max_pool2d_backward(g, argmax, x.shape, kernel, stride)
    np.testing.assert_allclose(dx, numeric(max_loss), rtol=1e-4, atol=1e-4)
    dx = _kernels.avg_pool2d_backward(g, x.shape, kernel, stride)
    np.testing.assert_allclose(dx, numeric(avg_loss), rtol=1e-4, atol=1e-4)
    x -= 140  # a quarter to a third of the windows all negative: relu stops their gradient
    x64 = x.astype(np.float64)
    for kernel, stride in ((3, 2), (2, 1)), ((2, 2), (2, 2)), ((2, 2), (3, 3)):
        _, argmax = _kernels.max_pool2d_forward(x, kernel, stride, relu=True)
        g = rng.standard_normal(argmax.shape).astype(np.float32)
        dx = _kernels.max_pool2d_backward(g, argmax, x.shape, kernel, stride)
        np.testing.assert_allclose(dx, numeric(relu_max_loss), rtol=1e-4, atol=1e-4)
        assert (argmax == -1).any()
        assert (argmax >= 0).any()


@pytest.mark.parametrize("shape", SHAPES)
def test_matches_torch(isa: str, shape) -> None:
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    x = random_input(shape, 2)
    kernel, stride = shape[4], shape[5]
    tx = torch.tensor(x, requires_grad=True)
    ty, tindex = functional.max_pool2d(tx, kernel, stride, return_indices=True)
    g = np.random.default_rng(3).standard_normal(tuple(ty.shape)).astype(np.float32)
    ty.backward(torch.tensor(g))
    y, argmax = _kernels.max_pool2d_forward(x, kernel, stride)
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_array_equal(argmax, tindex.numpy())
    dx = _kernels.max_pool2d_backward(g, argmax, x.shape, kernel, stride)
    np.testing.assert_array_equal(dx, tx.grad.numpy())
    tx.grad = None
    ty = functional.max_pool2d(functional.relu(tx), kernel, stride)
    ty.backward(torch.tensor(g))
    y, argmax = _kernels.max_pool2d_forward(x, kernel, stride, relu=True)
    np.testing.assert_array_equal(y, ty.detach().numpy())
    dx = _kernels.max_pool2d_backward(g, argmax, x.shape, kernel, stride)
    np.testing.assert_array_equal(dx, tx.grad.numpy())
    tx.grad = None
    ta = functional.avg_pool2d(tx, kernel, stride)
    ta.backward(torch.tensor(g))
    np.testing.assert_allclose(
        _kernels.avg_pool2d_forward(x, kernel, stride), ta.detach().numpy(), atol=1e-6
    )
    dx = _kernels.avg_pool2d_backward(g, x.shape, kernel, stride)
    np.testing.assert_allclose(dx, tx.grad.numpy(), atol=1e-6)


def test_bits_do_not_depend_on_the_thread_count(threads: None) -> None:
    x = np.random.default_rng(4).standard_normal((9, 7, 13, 12)).astype(np.float32)
    g = np.random.default_rng(5).standard_normal((9, 7, 6, 11)).astype(np.float32)
    outputs = set()
    for n in (1, 2, 3):
        odyssey.set_num_threads(n)
        y, argmax = _kernels.max_pool2d_forward(x, (3, 2), (2, 1))
        y_relu, argmax_relu = _kernels.max_pool2d_forward(x, 2, 2, relu=True)
        parts = (
            y,
            argmax,
            _kernels.max_pool2d_backward(g, argmax, x.shape, (3, 2), (2, 1)),
            y_relu,
            argmax_relu,
            _kernels.max_pool2d_backward(g[:, :, :, :6].copy(), argmax_relu, x.shape, 2, 2),
            _kernels.avg_pool2d_forward(x, (3, 2), (2, 1)),
            _kernels.avg_pool2d_backward(g, x.shape, (3, 2), (2, 1)),
        )
        outputs.add(b"".join(p.tobytes() for p in parts))
    assert len(outputs) == 1


class TestBadInput:
    x = np.zeros((2, 3, 8, 8), dtype=np.float32)

    def test_wrong_ndim_and_dtype(self) -> None:
        with pytest.raises(ValueError, match=r"max_pool2d_forward: x must be 4-D .* \(3, 8, 8\)"):
            _kernels.max_pool2d_forward(self.x[0], 2, 2)
        with pytest.raises(TypeError, match=r"x: expected dtype float32, got float64"):
            _kernels.avg_pool2d_forward(self.x.astype(np.float64), 2, 2)

    def test_window_larger_than_input(self) -> None:
        with pytest.raises(ValueError, match=r"window \(9, 2\) is larger than the input"):
            _kernels.max_pool2d_forward(self.x, (9, 2), 1)
        with pytest.raises(ValueError, match=r"window \(2, 9\) is larger than the input"):
            _kernels.avg_pool2d_backward(
                np.zeros((2, 3, 7, 1), np.float32), self.x.shape, (2, 9), 1
            )

    def test_stride_and_kernel(self) -> None:
        with pytest.raises(ValueError, match=r"stride must be >= 1, got \(1, 0\)"):
            _kernels.avg_pool2d_forward(self.x, 2, (1, 0))
        with pytest.raises(ValueError, match=r"kernel_size must be >= 1"):
            _kernels.max_pool2d_forward(self.x, 0, 1)

    def test_grad_out_shape_mismatch(self) -> None:
        with pytest.raises(
            ValueError, match=r"grad_out has shape \(2, 3, 3, 4\) .* \(2, 3, 4, 4\)"
        ):
            _kernels.avg_pool2d_backward(np.zeros((2, 3, 3, 4), np.float32), self.x.shape, 2, 2)
        y, argmax = _kernels.max_pool2d_forward(self.x, 2, 2)
        with pytest.raises(ValueError, match=r"argmax has shape \(2, 3, 4, 4\) but grad_out"):
            _kernels.max_pool2d_backward(y[:1], argmax, self.x.shape, 2, 2)
        with pytest.raises(ValueError, match=r"\(2, 3, 4, 4\) .* output has shape \(2, 4, 4, 4\)"):
            _kernels.max_pool2d_backward(y, argmax, (2, 4, 8, 8), 2, 2)
        with pytest.raises(ValueError, match=r"output has shape \(2, 3, 2, 2\)"):
            _kernels.max_pool2d_backward(y, argmax, self.x.shape, 3, 3)

    def test_argmax(self) -> None:
        # Overlapping windows scatter by argmax: it must lie in its plane, or be -1 (no gradient).
        y, argmax = _kernels.max_pool2d_forward(self.x, 3, 1)
        bad = argmax.copy()
        bad[1, 2, 3, 3] = 64
        with pytest.raises(ValueError, match=r"argmax holds 64, out of range .* 8 x 8"):
            _kernels.max_pool2d_backward(y, bad, self.x.shape, 3, 1)
        bad[1, 2, 3, 3] = -2
        with pytest.raises(ValueError, match=r"argmax holds -2"):
            _kernels.max_pool2d_backward(y, bad, self.x.shape, 3, 1)
        bad[1, 2, 3, 3] = -1
        g = np.ones_like(y)
        dropped = _kernels.max_pool2d_backward(g, bad, self.x.shape, 3, 1)
        assert dropped.sum() == g.sum() - 1
        with pytest.raises(TypeError, match=r"argmax: expected dtype int32, got int64"):
            _kernels.max_pool2d_backward(y, argmax.astype(np.int64), self.x.shape, 3, 1)

    def test_disjoint_windows_route_only_within_the_window(self) -> None:
        # Disjoint windows compare argmax with the positions of its own window: one outside it
        # (here the next window's) routes nothing and writes nowhere else.
        y, argmax = _kernels.max_pool2d_forward(self.x, 2, 2)
        bad = argmax.copy()
        bad[0, 0, 0, 0] = 2
        dx = _kernels.max_pool2d_backward(np.ones_like(y), bad, self.x.shape, 2, 2)
        assert dx.sum() == y.size - 1
        assert dx[0, 0, :2, :2].sum() == 0
        assert dx[0, 0, 0, 2:4].sum() == 1
