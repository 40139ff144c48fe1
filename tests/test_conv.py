"""conv2d through the bindings: forward against NumPy, gradients against float64 finite
differences and PyTorch, on every ISA; bitwise determinism across threads; every bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import odyssey
from odyssey import _kernels

# (N, C, H, W, OC, KH, KW, stride, padding)
SHAPES = [
    (2, 1, 28, 28, 6, 5, 5, (1, 1), (2, 2)),
    (3, 6, 14, 14, 16, 5, 5, (1, 1), (0, 0)),
    (1, 3, 7, 9, 5, 3, 3, (2, 1), (1, 1)),
    (2, 17, 15, 16, 7, 7, 6, (3, 2), (3, 2)),
    (1, 2, 1, 33, 3, 1, 3, (1, 3), (0, 1)),
    (1, 33, 5, 5, 17, 2, 2, (1, 1), (1, 0)),
    (2, 8, 9, 11, 33, 3, 3, (2, 1), (1, 1)),
    # Batches that fill the vectors put samples in the lanes (stride 1, kernel width 3 or 5).
    (16, 1, 28, 28, 6, 5, 5, (1, 1), (2, 2)),
    (31, 6, 14, 14, 16, 5, 5, (1, 1), (0, 0)),
    (47, 2, 9, 19, 5, 3, 3, (1, 1), (1, 1)),
    (31, 2, 7, 19, 3, 5, 5, (1, 1), (2, 1)),
]


def reference_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride, padding):
    """The definition in float64: a sum over kernel taps of strided input windows."""
    (sh, sw), (ph, pw) = stride, padding
    x = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oc, _, kh_n, kw_n = w.shape
    oh = (x.shape[2] - kh_n) // sh + 1
    ow = (x.shape[3] - kw_n) // sw + 1
    y = np.zeros((x.shape[0], oc, oh, ow))
    for kh in range(kh_n):
        for kw in range(kw_n):
            window = x[:, :, kh : kh + sh * (oh - 1) + 1 : sh, kw : kw + sw * (ow - 1) + 1 : sw]
            y += np.einsum("nchw,oc->nohw", window, w[:, :, kh, kw].astype(np.float64))
    if b is not None:
        y += b.astype(np.float64)[None, :, None, None]
    return y


def random_problem(shape, seed: int):
    n, c, h, w, oc, kh, kw, stride, padding = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    weight = rng.standard_normal((oc, c, kh, kw), dtype=np.float32)
    bias = rng.standard_normal(oc, dtype=np.float32)
    return x, weight, bias, stride, padding


def assert_close(actual: np.ndarray, expected: np.ndarray, terms: int) -> None:
    assert actual.dtype == np.float32
    assert actual.shape == expected.shape
    tolerance = 1e-5 * terms + 1e-5
    np.testing.assert_allclose(actual, expected, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("shape", SHAPES)
def test_forward_matches_numpy(isa: str, shape) -> None:
    x, w, b, stride, padding = random_problem(shape, 0)
    terms = w[0].size
    assert_close(
        _kernels.conv2d_forward(x, w, b, stride=stride, padding=padding),
        reference_conv(x, w, b, stride, padding),
        terms,
    )
    assert_close(
        _kernels.conv2d_forward(x, w, stride=stride, padding=padding),
        reference_conv(x, w, None, stride, padding),
        terms,
    )


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 3),
    c=st.integers(1, 9),
    oc=st.integers(1, 9),
    h=st.integers(1, 20),
    w=st.integers(1, 20),
    kh=st.integers(1, 5),
    kw=st.integers(1, 5),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    seed=st.integers(0, 2**31),
    data=st.data(),
)
def test_any_shape_matches_numpy(n, c, oc, h, w, kh, kw, stride, seed, data) -> None:
    padding = (data.draw(st.integers(0, kh // 2)), data.draw(st.integers(0, kw // 2)))
    if kh > h + 2 * padding[0] or kw > w + 2 * padding[1]:
        return
    x, weight, bias, _, _ = random_problem((n, c, h, w, oc, kh, kw, stride, padding), seed)
    y = _kernels.conv2d_forward(x, weight, bias, stride=stride, padding=padding)
    expected = reference_conv(x, weight, bias, stride, padding)
    assert_close(y, expected, weight[0].size)
    grad_out = np.random.default_rng(seed + 1).standard_normal(y.shape).astype(np.float32)
    dx = _kernels.conv2d_backward_data(grad_out, weight, x.shape, stride=stride, padding=padding)
    dw, db = _kernels.conv2d_backward_weight(x, grad_out, (kh, kw), stride=stride, padding=padding)
    # The exact gradients of sum(y * grad_out), from the linear forward in float64.
    assert_close(dx, exact_input_gradient(x, weight, grad_out, stride, padding), oc * kh * kw)
    terms = n * y.shape[2] * y.shape[3]
    assert_close(dw, exact_weight_gradient(x, weight, grad_out, stride, padding), terms)
    assert_close(db, grad_out.astype(np.float64).sum(axis=(0, 2, 3)), terms)


def exact_input_gradient(x, w, grad_out, stride, padding) -> np.ndarray:
    """d sum(conv(x) * g) / dx: conv is linear in x, so each unit input gives a column."""
    flat = np.zeros(x.size)
    g = grad_out.astype(np.float64)
    for i in range(x.size):
        unit = np.zeros(x.size, dtype=np.float32)
        unit[i] = 1.0
        flat[i] = (reference_conv(unit.reshape(x.shape), w, None, stride, padding) * g).sum()
    return flat.reshape(x.shape)


def exact_weight_gradient(x, w, grad_out, stride, padding) -> np.ndarray:
    flat = np.zeros(w.size)
    g = grad_out.astype(np.float64)
    for i in range(w.size):
        unit = np.zeros(w.size, dtype=np.float32)
        unit[i] = 1.0
        flat[i] = (reference_conv(x, unit.reshape(w.shape), None, stride, padding) * g).sum()
    return flat.reshape(w.shape)


@pytest.mark.parametrize(
    "shape",
    [(1, 2, 5, 4, 3, 3, 2, (1, 1), (1, 1)), (2, 1, 6, 7, 2, 3, 3, (2, 2), (1, 0))],
)
def test_backward_matches_finite_differences(isa: str, shape) -> None:
    x, w, b, stride, padding = random_problem(shape, 3)
    y = _kernels.conv2d_forward(x, w, b, stride=stride, padding=padding)
    g = np.random.default_rng(4).standard_normal(y.shape).astype(np.float32)

    def loss(x64, w64, b64) -> float:
        return float((reference_conv(x64, w64, b64, stride, padding) * g).sum())

    def central_difference(values: np.ndarray, evaluate) -> np.ndarray:
        values = values.astype(np.float64)
        grad = np.zeros_like(values)
        step = 1e-4
        for index in np.ndindex(values.shape):
            plus, minus = values.copy(), values.copy()
            plus[index] += step
            minus[index] -= step
            grad[index] = (evaluate(plus) - evaluate(minus)) / (2 * step)
        return grad

    x64, w64, b64 = (a.astype(np.float64) for a in (x, w, b))
    dx = _kernels.conv2d_backward_data(g, w, x.shape, stride=stride, padding=padding)
    dw, db = _kernels.conv2d_backward_weight(x, g, w.shape[2:], stride=stride, padding=padding)
    np.testing.assert_allclose(
        dx, central_difference(x64, lambda v: loss(v, w64, b64)), rtol=1e-4, atol=1e-4
    )
    np.testing.assert_allclose(
        dw, central_difference(w64, lambda v: loss(x64, v, b64)), rtol=1e-4, atol=1e-4
    )
    np.testing.assert_allclose(
        db, central_difference(b64, lambda v: loss(x64, w64, v)), rtol=1e-4, atol=1e-4
    )


@pytest.mark.parametrize("shape", SHAPES)
def test_matches_torch(isa: str, shape) -> None:
    torch = pytest.importorskip("torch")
    x, w, b, stride, padding = random_problem(shape, 5)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, stride=stride, padding=padding)
    g = np.random.default_rng(6).standard_normal(tuple(ty.shape)).astype(np.float32)
    ty.backward(torch.tensor(g))
    y = _kernels.conv2d_forward(x, w, b, stride=stride, padding=padding)
    dx = _kernels.conv2d_backward_data(g, w, x.shape, stride=stride, padding=padding)
    dw, db = _kernels.conv2d_backward_weight(x, g, w.shape[2:], stride=stride, padding=padding)
    assert_close(y, ty.detach().numpy(), w[0].size)
    assert_close(dx, tx.grad.numpy(), w.shape[0] * w.shape[2] * w.shape[3])
    assert_close(dw, tw.grad.numpy(), g.shape[0] * g.shape[2] * g.shape[3])
    assert_close(db, tb.grad.numpy(), g.shape[0] * g.shape[2] * g.shape[3])


@pytest.mark.parametrize(
    "shape",
    [
        (13, 3, 12, 11, 5, 3, 3, (1, 2), (1, 1)),
        (9, 2, 8, 8, 40, 3, 3, (1, 1), (1, 1)),
        (47, 3, 9, 11, 5, 3, 3, (1, 1), (1, 1)),  # samples in lanes, the last group partial
    ],
)
def test_bits_do_not_depend_on_the_thread_count(isa: str, threads: None, shape) -> None:
    x, w, b, stride, padding = random_problem(shape, 7)
    y = _kernels.conv2d_forward(x, w, b, stride=stride, padding=padding)
    g = np.random.default_rng(8).standard_normal(y.shape).astype(np.float32)
    outputs = set()
    for n in (1, 2, 3):
        odyssey.set_num_threads(n)
        y = _kernels.conv2d_forward(x, w, b, stride=stride, padding=padding)
        dx = _kernels.conv2d_backward_data(g, w, x.shape, stride=stride, padding=padding)
        dw, db = _kernels.conv2d_backward_weight(x, g, (3, 3), stride=stride, padding=padding)
        outputs.add(y.tobytes() + dx.tobytes() + dw.tobytes() + db.tobytes())
    assert len(outputs) == 1


def test_algorithms_are_reported() -> None:
    lenet = _kernels.conv2d_algorithms((64, 1, 28, 28), (6, 1, 5, 5), padding=2)
    assert set(lenet) == {"forward", "backward_data", "backward_weight"}
    assert lenet["backward_data"].startswith("direct")
    conv2 = _kernels.conv2d_algorithms((64, 6, 14, 14), (16, 6, 5, 5))
    if odyssey.cpu_info()["isa_selected"] != "scalar":
        # Six input channels or 14 columns fill vectors worse than 64 samples.
        assert conv2["backward_data"] == "direct, samples in lanes"
    wide = _kernels.conv2d_algorithms((16, 64, 32, 32), (64, 64, 3, 3), padding=1)
    assert wide["backward_weight"] == "im2col + sgemm"
    assert wide["forward"].startswith("direct")


def test_out_bias_false_and_int_arguments() -> None:
    x, w, b, _, _ = random_problem((2, 3, 8, 8, 4, 3, 3, (1, 1), (1, 1)), 9)
    out = np.empty((2, 4, 4, 4), dtype=np.float32)
    assert _kernels.conv2d_forward(x, w, b, stride=2, padding=1, out=out) is out
    assert_close(out, reference_conv(x, w, b, (2, 2), (1, 1)), 27)
    g = np.ones((2, 4, 8, 8), dtype=np.float32)
    dw, db = _kernels.conv2d_backward_weight(x, g, 3, padding=1, bias=False)
    assert dw.shape == (4, 3, 3, 3)
    assert db is None


def test_empty_batch() -> None:
    x = np.zeros((0, 2, 5, 5), dtype=np.float32)
    w = np.ones((3, 2, 3, 3), dtype=np.float32)
    assert _kernels.conv2d_forward(x, w).shape == (0, 3, 3, 3)
    g = np.zeros((0, 3, 3, 3), dtype=np.float32)
    assert _kernels.conv2d_backward_data(g, w, (0, 2, 5, 5)).shape == (0, 2, 5, 5)
    dw, db = _kernels.conv2d_backward_weight(x, g, (3, 3))
    assert not dw.any()
    assert not db.any()


class TestBadInput:
    x = np.zeros((2, 3, 28, 28), dtype=np.float32)
    w = np.zeros((6, 1, 5, 5), dtype=np.float32)

    def test_channel_mismatch_names_both_shapes(self) -> None:
        message = (
            r"conv2d_forward: input has 3 channels but weight expects 1 "
            r"\(input \(2, 3, 28, 28\), weight \(6, 1, 5, 5\)\)"
        )
        with pytest.raises(ValueError, match=message):
            _kernels.conv2d_forward(self.x, self.w)
        with pytest.raises(ValueError, match="input has 3 channels but weight expects 1"):
            _kernels.conv2d_backward_data(
                np.zeros((2, 6, 24, 24), np.float32), self.w, (2, 3, 28, 28)
            )

    def test_wrong_ndim(self) -> None:
        with pytest.raises(ValueError, match=r"x must be 4-D .* got shape \(3, 28, 28\)"):
            _kernels.conv2d_forward(self.x[0], self.w)
        with pytest.raises(ValueError, match=r"weight must be 4-D"):
            _kernels.conv2d_forward(self.x, np.zeros((6, 3, 5), np.float32))
        with pytest.raises(ValueError, match=r"grad_out must be 4-D"):
            _kernels.conv2d_backward_weight(self.x, np.zeros(3, np.float32), 5)

    def test_kernel_larger_than_padded_input(self) -> None:
        x = np.zeros((1, 1, 4, 4), dtype=np.float32)
        with pytest.raises(ValueError, match=r"kernel \(5, 5\) is larger than the padded input"):
            _kernels.conv2d_forward(x, np.zeros((1, 1, 5, 5), np.float32))
        with pytest.raises(ValueError, match=r"larger than the padded input \(4, 4\)"):
            _kernels.conv2d_backward_weight(x, np.zeros((1, 1, 1, 1), np.float32), (5, 5))

    def test_grad_out_shape_mismatch(self) -> None:
        w = np.zeros((6, 3, 5, 5), dtype=np.float32)
        with pytest.raises(
            ValueError, match=r"grad_out has shape \(2, 6, 20, 20\) .* \(2, 6, 24, 24\)"
        ):
            _kernels.conv2d_backward_data(np.zeros((2, 6, 20, 20), np.float32), w, self.x.shape)
        with pytest.raises(ValueError, match=r"grad_out has shape \(3, 6, 24, 24\)"):
            _kernels.conv2d_backward_weight(self.x, np.zeros((3, 6, 24, 24), np.float32), 5)

    def test_stride_and_padding(self) -> None:
        w = np.zeros((6, 3, 5, 5), dtype=np.float32)
        with pytest.raises(ValueError, match=r"stride must be >= 1, got \(0, 1\)"):
            _kernels.conv2d_forward(self.x, w, stride=(0, 1))
        with pytest.raises(ValueError, match=r"padding must be >= 0, got \(-1, 0\)"):
            _kernels.conv2d_forward(self.x, w, padding=(-1, 0))
        with pytest.raises(ValueError, match=r"at most half the kernel size"):
            _kernels.conv2d_forward(self.x, w, padding=3)
        with pytest.raises(TypeError, match=r"stride must be an int or a pair"):
            _kernels.conv2d_forward(self.x, w, stride=(1, 1, 1))
        with pytest.raises(TypeError, match=r"padding must hold ints, got float"):
            _kernels.conv2d_forward(self.x, w, padding=(1.0, 1))
        with pytest.raises(ValueError, match=r"out of range"):
            _kernels.conv2d_forward(self.x, w, stride=2**40)

    def test_dtype_and_layout(self) -> None:
        w = np.zeros((6, 3, 5, 5), dtype=np.float32)
        with pytest.raises(TypeError, match=r"x: expected dtype float32, got float64"):
            _kernels.conv2d_forward(self.x.astype(np.float64), w)
        with pytest.raises(TypeError, match=r"weight: expected dtype float32"):
            _kernels.conv2d_backward_data(
                np.zeros((2, 6, 24, 24), np.float32), w.astype(int), (2, 3, 28, 28)
            )
        with pytest.raises(ValueError, match="C-contiguous"):
            _kernels.conv2d_forward(self.x[:, :, ::2], w)

    def test_bias_and_out(self) -> None:
        w = np.zeros((6, 3, 5, 5), dtype=np.float32)
        with pytest.raises(ValueError, match=r"bias must have shape \(6,\)"):
            _kernels.conv2d_forward(self.x, w, np.zeros(5, np.float32))
        with pytest.raises(ValueError, match=r"out has shape \(2, 6, 24, 23\)"):
            _kernels.conv2d_forward(self.x, w, out=np.zeros((2, 6, 24, 23), np.float32))
        shared = np.zeros(2 * 6 * 24 * 24, np.float32)
        x = shared[: self.x.size].reshape(self.x.shape)
        with pytest.raises(ValueError, match=r"out \(.*\) shares memory with x"):
            _kernels.conv2d_forward(x, w, out=shared.reshape(2, 6, 24, 24))

    def test_input_shape(self) -> None:
        g = np.zeros((2, 6, 24, 24), np.float32)
        with pytest.raises(ValueError, match="input_shape must be 4 ints"):
            _kernels.conv2d_backward_data(g, self.w, (2, 28, 28))
        with pytest.raises(ValueError, match="negative"):
            _kernels.conv2d_backward_data(g, self.w, (2, 1, -28, 28))
