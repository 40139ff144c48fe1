"""Activation kernels through the bindings: forward against NumPy (float64), backward against finite
differences, saturation and NaN, every ISA, thread-count determinism and bad input."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import odyssey
from odyssey import _kernels

SIZES = [1, 3, 7, 15, 16, 17, 31, 33, 1000]
SLOPE = 0.01
LECUN_SCALE, LECUN_SLOPE = 1.7159, 2.0 / 3.0

# Each smooth activation: kernel, float64 reference, backward kernel (from the forward output).
SMOOTH: dict[str, tuple[Callable, Callable[[np.ndarray], np.ndarray], Callable]] = {
    "sigmoid": (
        _kernels.sigmoid,
        lambda x: 1.0 / (1.0 + np.exp(-x)),
        _kernels.sigmoid_backward,
    ),
    "tanh": (_kernels.tanh, np.tanh, _kernels.tanh_backward),
    "lecun_tanh": (
        _kernels.lecun_tanh,
        lambda x: LECUN_SCALE * np.tanh(LECUN_SLOPE * x),
        _kernels.lecun_tanh_backward,
    ),
}


def misaligned(values: np.ndarray, offset_floats: int) -> np.ndarray:
    """A contiguous float32 copy starting `offset_floats` past a 64-byte boundary."""
    raw = np.empty(values.size * 4 + 128, dtype=np.uint8)
    start = (-raw.ctypes.data) % 64 + 4 * offset_floats
    view = raw[start : start + values.size * 4].view(np.float32).reshape(values.shape)
    view[...] = values
    return view


def inputs(n: int, seed: int, scale: float = 4.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, scale, n).astype(np.float32)


@pytest.mark.parametrize("name", sorted(SMOOTH))
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("offset", [0, 3])
def test_smooth_forward_matches_float64(isa: str, name: str, n: int, offset: int) -> None:
    kernel, reference, _ = SMOOTH[name]
    x = misaligned(inputs(n, n), offset)
    with np.errstate(over="ignore"):
        expected = reference(x.astype(np.float64))
    np.testing.assert_allclose(kernel(x), expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_smooth_backward_matches_finite_differences(isa: str, name: str) -> None:
    kernel, reference, backward = SMOOTH[name]
    x = inputs(257, 1, scale=2.0)
    g = inputs(257, 2, scale=1.0)
    h = 1e-6
    x64 = x.astype(np.float64)
    numeric = g * (reference(x64 + h) - reference(x64 - h)) / (2 * h)
    np.testing.assert_allclose(backward(g, kernel(x)), numeric, rtol=1e-5, atol=1e-6)


def test_relu_backward_follows_pytorch(isa: str) -> None:
    x = np.array([-2.0, -0.0, 0.0, 1e-30, 3.0, np.nan, -np.inf, np.inf], dtype=np.float32)
    g = np.arange(1, 9, dtype=np.float32)
    expected = np.array([0, 0, 0, 4, 5, 6, 0, 8], dtype=np.float32)
    np.testing.assert_array_equal(_kernels.relu_backward(g, x), expected)


@pytest.mark.parametrize("n", SIZES)
def test_leaky_relu_forward_and_backward_are_exact(isa: str, n: int) -> None:
    x = inputs(n, 3)
    x[::5] = 0.0
    g = inputs(n, 4, scale=1.0)
    np.testing.assert_array_equal(
        _kernels.leaky_relu(x, SLOPE), np.where(x > 0, x, x * np.float32(SLOPE))
    )
    np.testing.assert_array_equal(
        _kernels.leaky_relu_backward(g, x, SLOPE), np.where(x > 0, g, g * np.float32(SLOPE))
    )


def test_leaky_relu_backward_matches_finite_differences(isa: str) -> None:
    x = inputs(100, 5)
    x = x[np.abs(x) > 1e-3]  # away from the kink
    g = inputs(x.size, 6, scale=1.0)
    h = 1e-6
    x64 = x.astype(np.float64)

    def f(v: np.ndarray) -> np.ndarray:
        return np.where(v > 0, v, v * SLOPE)

    numeric = g * (f(x64 + h) - f(x64 - h)) / (2 * h)
    np.testing.assert_allclose(
        _kernels.leaky_relu_backward(g, x, SLOPE), numeric, rtol=1e-6, atol=1e-7
    )


def test_saturation_is_exact_and_nan_propagates(isa: str) -> None:
    x = np.array([100.0, -100.0, np.inf, -np.inf, np.nan, -0.0], dtype=np.float32)
    t = _kernels.tanh(x)
    np.testing.assert_array_equal(t[:4], [1, -1, 1, -1])
    assert np.isnan(t[4])
    assert np.signbit(t[5])
    s = _kernels.sigmoid(x)
    np.testing.assert_array_equal(s[[0, 2, 3, 5]], [1.0, 1.0, 0.0, 0.5])
    assert 0.0 <= s[1] < 1e-38
    assert np.isnan(s[4])
    lecun = _kernels.lecun_tanh(x)
    np.testing.assert_array_equal(lecun[:2], np.float32([1.7159, -1.7159]))
    assert np.isnan(lecun[4])
    assert np.isnan(_kernels.leaky_relu(x, SLOPE)[4])
    for _, _, backward in SMOOTH.values():
        assert np.isfinite(backward(np.ones(4, np.float32), _kernels.tanh(x[:4]))).all()


def test_matches_torch(isa: str) -> None:
    # Judged against the float64 truth rather than torch's bits: torch's own error varies from call
    # to call (its first tanh call in a process was seen 9e-5 off), ours must not be worse.
    torch = pytest.importorskip("torch")
    x = inputs(10007, 7)
    exact = x.astype(np.float64)
    cases = [
        (_kernels.sigmoid, torch.sigmoid, 1.0 / (1.0 + np.exp(-exact))),
        (_kernels.tanh, torch.tanh, np.tanh(exact)),
    ]
    for ours, theirs, truth in cases:
        scale = np.maximum(np.abs(truth), 1e-30)
        our_error = np.max(np.abs(ours(x) - truth) / scale)
        their_error = np.max(np.abs(theirs(torch.from_numpy(x)).numpy() - truth) / scale)
        assert our_error <= max(their_error, 1e-6), (ours.__name__, our_error, their_error)


@settings(max_examples=40, deadline=None)
@given(
    shape=st.lists(st.integers(0, 9), min_size=0, max_size=3),
    offset=st.integers(0, 15),
    seed=st.integers(0, 2**31),
)
def test_every_isa_matches_the_scalar_reference(shape: list[int], offset: int, seed: int) -> None:
    n = int(np.prod(shape))
    x = misaligned(inputs(n, seed).reshape(shape), offset)
    g = misaligned(inputs(n, seed + 1, scale=1.0).reshape(shape), offset)
    previous = odyssey.cpu_info()["isa_selected"]
    results = {}
    try:
        for name in odyssey.cpu_info()["isa_available"]:
            odyssey.set_isa(name)
            results[name] = [kernel(x) for kernel, _, _ in SMOOTH.values()] + [
                _kernels.silu(x),
                _kernels.silu_backward(g, x),
                _kernels.relu_backward(g, x),
                _kernels.leaky_relu(x, SLOPE),
                _kernels.leaky_relu_backward(g, x, SLOPE),
                _kernels.hardtanh(x, 0.0, 6.0),
                _kernels.hardtanh_backward(g, x, -1.5, 2.0),
            ]
    finally:
        odyssey.set_isa(previous)
    reference = results.pop("scalar")
    for outputs in results.values():
        for got, want in zip(outputs[:5], reference[:5], strict=True):
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=3e-7, atol=4e-6)
        for got, want in zip(outputs[5:], reference[5:], strict=True):
            np.testing.assert_array_equal(got, want)


def test_identical_for_every_thread_count(isa: str, threads: None) -> None:
    x = inputs(300007, 8)
    g = inputs(300007, 9, scale=1.0)
    outputs = []
    for n in (1, 2, 5):
        odyssey.set_num_threads(n)
        y = _kernels.tanh(x)
        outputs.append(
            y.tobytes()
            + _kernels.tanh_backward(g, y).tobytes()
            + _kernels.sigmoid(x).tobytes()
            + _kernels.lecun_tanh(x).tobytes()
        )
    assert len(set(outputs)) == 1


def test_out_is_written_and_may_be_an_input() -> None:
    x = np.linspace(-3, 3, 101, dtype=np.float32)
    out = np.empty_like(x)
    assert _kernels.sigmoid(x, out=out) is out
    y = x.copy()
    _kernels.tanh(y, out=y)
    np.testing.assert_array_equal(y, _kernels.tanh(x))
    g = np.ones_like(x)
    assert _kernels.tanh_backward(g, y, out=g) is g
    np.testing.assert_allclose(g, 1 - y.astype(np.float64) ** 2, rtol=1e-6, atol=1e-7)


class TestBadInput:
    def test_shape_mismatch_names_both_shapes(self) -> None:
        g = np.zeros((2, 3), np.float32)
        with pytest.raises(
            ValueError, match=r"grad_out has shape \(2, 3\) but y has shape \(3, 2\)"
        ):
            _kernels.sigmoid_backward(g, np.zeros((3, 2), np.float32))
        with pytest.raises(ValueError, match=r"grad_out has shape \(2, 3\) but x has shape"):
            _kernels.relu_backward(g, np.zeros(6, np.float32))
        with pytest.raises(ValueError, match=r"grad_out has shape \(2, 3\) but x has shape"):
            _kernels.leaky_relu_backward(g, np.zeros(6, np.float32), SLOPE)
        with pytest.raises(ValueError, match=r"grad_out has shape \(2, 3\) but x has shape"):
            _kernels.silu_backward(g, np.zeros(6, np.float32))
        with pytest.raises(ValueError, match=r"hardtanh_backward: min_val 1\.0+ must be <="):
            _kernels.hardtanh_backward(g, g, 1.0, -1.0)
        with pytest.raises(ValueError, match=r"hardtanh: min_val nan must be <="):
            _kernels.hardtanh(g, float("nan"), 1.0)

    def test_dtype_and_type(self) -> None:
        with pytest.raises(TypeError, match=r"x: expected dtype float32, got float64"):
            _kernels.tanh(np.zeros(3))
        with pytest.raises(TypeError, match=r"y: expected dtype float32, got int64"):
            _kernels.tanh_backward(np.zeros(3, np.float32), np.zeros(3, np.int64))
        with pytest.raises(TypeError, match=r"numpy\.ndarray"):
            _kernels.lecun_tanh([1.0])
        with pytest.raises(TypeError):
            _kernels.leaky_relu(np.zeros(3, np.float32), "slope")

    def test_layout_and_out(self) -> None:
        x = np.zeros((4, 6), np.float32)
        with pytest.raises(ValueError, match="C-contiguous"):
            _kernels.sigmoid(x.T)
        out = np.zeros((4, 6), np.float32)
        out.flags.writeable = False
        with pytest.raises(ValueError, match="read-only"):
            _kernels.leaky_relu(x, SLOPE, out=out)
        buffer = np.zeros(20, np.float32)
        with pytest.raises(ValueError, match="out partially overlaps y"):
            _kernels.tanh_backward(np.zeros(10, np.float32), buffer[:10], out=buffer[5:15])


# -- the functional activations of issue 12 (odyssey.nn.functional) ----------------------------

F = odyssey.nn.functional
nn = odyssey.nn


def _erfc(x: np.ndarray) -> np.ndarray:
    special = pytest.importorskip("scipy.special")
    return special.erfc(x)


# Each: odyssey call, float64 reference. Inputs stay away from kinks for finite differences.
FUNCTIONAL: dict[str, tuple[Callable, Callable[[np.ndarray], np.ndarray]]] = {
    "relu6": (F.relu6, lambda x: np.clip(x, 0.0, 6.0)),
    "hardtanh": (lambda x: F.hardtanh(x, -1.5, 2.0), lambda x: np.clip(x, -1.5, 2.0)),
    "softplus": (F.softplus, lambda x: np.log1p(np.exp(x))),
    "softplus_beta": (
        lambda x: F.softplus(x, beta=2.0, threshold=3.0),
        lambda x: np.where(2 * x > 3, x, np.log1p(np.exp(2 * x)) / 2),
    ),
    "gelu": (F.gelu, lambda x: 0.5 * x * _erfc(-x / np.sqrt(2))),
    "gelu_tanh": (
        lambda x: F.gelu(x, approximate="tanh"),
        lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))),
    ),
    "silu": (F.silu, lambda x: x / (1 + np.exp(-x))),
}


def away_from_kinks(n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).uniform(-8.0, 8.0, n)
    kinks = np.array([-1.5, 0.0, 1.5, 2.0, 6.0])
    return x[np.abs(x[:, None] - kinks).min(axis=1) > 1e-2]


@pytest.mark.parametrize("name", sorted(FUNCTIONAL))
def test_functional_activation_forward_and_gradient(gradcheck, name):
    function, reference = FUNCTIONAL[name]
    gradcheck(function, reference, [away_from_kinks(200, 1).reshape(-1, 1)], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["gelu", "gelu_tanh", "silu", "softplus"])
def test_smooth_functional_activations_are_float32_accurate(name):
    function, reference = FUNCTIONAL[name]
    x = np.concatenate([np.linspace(-30, 30, 20001), [-1e-30, 0.0, 1e-30]]).astype(np.float32)
    with np.errstate(over="ignore"):
        truth = reference(x.astype(np.float64))
    np.testing.assert_allclose(function(odyssey.tensor(x)).data, truth, rtol=4e-7, atol=1e-37)


def test_functional_activations_match_pytorch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x = np.concatenate(
        [np.random.default_rng(2).normal(0, 4, 2000), [-1.0, 1.0, 0.0, 6.0, 25.0, -25.0]]
    ).astype(np.float32)
    g = np.random.default_rng(3).normal(size=x.shape).astype(np.float32)
    pairs = [
        (F.relu6, tf.relu6, 0),
        (F.hardtanh, tf.hardtanh, 0),
        (lambda t: F.hardtanh(t, -2.0, 0.5), lambda t: tf.hardtanh(t, -2.0, 0.5), 0),
        (F.softplus, tf.softplus, 2e-6),
        (lambda t: F.softplus(t, 0.5, 5.0), lambda t: tf.softplus(t, 0.5, 5.0), 2e-6),
        (F.gelu, tf.gelu, 2e-6),
        (lambda t: F.gelu(t, "tanh"), lambda t: tf.gelu(t, approximate="tanh"), 2e-6),
        (F.silu, tf.silu, 2e-6),
    ]
    for ours, theirs, tolerance in pairs:
        a = odyssey.tensor(x, requires_grad=True)
        out = ours(a)
        out.backward(g)
        t = torch.tensor(x, requires_grad=True)
        expected = theirs(t)
        expected.backward(torch.tensor(g))
        assert out.grad_fn.name == expected.grad_fn.name()
        # An absolute tolerance too: PyTorch's gelu loses the relative accuracy of its negative
        # tail (1 + erf(x) cancels); test_smooth_functional_activations_are_float32_accurate
        # holds ours to the float64 truth there.
        np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=tolerance, atol=2e-6)
        np.testing.assert_allclose(a.grad.data, t.grad.numpy(), rtol=tolerance * 4, atol=2e-6)


def test_hardtanh_gradient_stops_at_the_bounds_and_nan_propagates():
    x = odyssey.tensor([-1.0, -0.5, 1.0, 2.0, np.nan], requires_grad=True)
    y = F.hardtanh(x)
    y.sum().backward()
    np.testing.assert_array_equal(y.data, [-1.0, -0.5, 1.0, 1.0, np.nan])
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, 0.0, 0.0, 0.0])  # as PyTorch's
    six = odyssey.tensor([0.0, 6.0, 7.0, 3.0], requires_grad=True)
    F.relu6(six).sum().backward()
    np.testing.assert_array_equal(six.grad.data, [0.0, 0.0, 0.0, 1.0])


def test_softplus_and_silu_saturate_without_overflow():
    x = odyssey.tensor([-200.0, 200.0, 1e30, -1e30])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        np.testing.assert_array_equal(F.softplus(x).data, np.float32([0.0, 200.0, 1e30, 0.0]))
        np.testing.assert_array_equal(F.silu(x).data[1:3], np.float32([200.0, 1e30]))
        np.testing.assert_array_equal(F.gelu(x).data[[0, 1, 3]], [-0.0, 200.0, -0.0])


def test_dropout2d_zeroes_whole_channels():
    x = odyssey.ones(8, 16, 3, 5, requires_grad=True)
    odyssey.manual_seed(0)
    y = F.dropout2d(x, 0.25)
    planes = y.data.reshape(8, 16, -1)
    kept = planes[:, :, 0] != 0
    assert (planes == planes[:, :, :1]).all()  # one value per channel
    np.testing.assert_array_equal(planes[kept], np.float32(1 / 0.75))
    assert 0.5 < kept.mean() < 0.95
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, y.data)
    assert y.grad_fn.name == "MulBackward0"
    odyssey.manual_seed(0)
    np.testing.assert_array_equal(F.dropout2d(x, 0.25).data, y.data)  # seeded
    assert F.dropout2d(x, 0.25, training=False) is x
    assert (F.dropout2d(x, 1.0).data == 0).all()
    three_d = F.dropout2d(odyssey.ones(4, 6, 7), 0.5)  # (N, C, L), as PyTorch takes it
    assert (three_d.data == three_d.data[:, :, :1]).all()


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: F.hardtanh(odyssey.zeros(2), 1.0, -1.0), ValueError, "hardtanh: max_val -1.0"),
        (lambda: F.relu6(odyssey.tensor([1])), TypeError, "relu6: input must be float32"),
        (lambda: F.softplus(odyssey.zeros(2), beta="a"), TypeError, "softplus: beta must be"),
        (lambda: F.gelu(odyssey.zeros(2), "erf"), ValueError, "gelu: approximate must be"),
        (lambda: F.silu([1.0]), TypeError, "silu: input must be"),
        (lambda: F.dropout2d(odyssey.zeros(2, 3)), ValueError, r"dropout2d: input must be \(N"),
        (lambda: F.dropout2d(odyssey.zeros(1, 2, 3), 2.0), ValueError, r"dropout2d: p must be"),
        (lambda: nn.Hardtanh(2, 1), ValueError, "Hardtanh: max_val 1 must be >= min_val 2"),
        (lambda: nn.GELU("erf"), ValueError, "GELU: approximate must be"),
    ],
)
def test_functional_activation_errors_name_the_function(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_activation_modules_print_as_pytorch():
    cases = {
        "ReLU()": nn.ReLU(),
        "ReLU(inplace=True)": nn.ReLU(inplace=True),
        "ReLU6()": nn.ReLU6(),
        "ReLU6(inplace=True)": nn.ReLU6(True),
        "Hardtanh(min_val=-1.0, max_val=1.0)": nn.Hardtanh(),
        "Hardtanh(min_val=-2, max_val=3.5, inplace=True)": nn.Hardtanh(-2, 3.5, True),
        "LeakyReLU(negative_slope=0.01)": nn.LeakyReLU(),
        "LeakyReLU(negative_slope=0.2, inplace=True)": nn.LeakyReLU(0.2, True),
        "Softplus(beta=1.0, threshold=20.0)": nn.Softplus(),
        "Softplus(beta=2, threshold=10)": nn.Softplus(2, 10),
        "GELU(approximate='none')": nn.GELU(),
        "GELU(approximate='tanh')": nn.GELU(approximate="tanh"),
        "SiLU()": nn.SiLU(),
        "SiLU(inplace=True)": nn.SiLU(inplace=True),
        "Tanh()": nn.Tanh(),
        "Sigmoid()": nn.Sigmoid(),
        "Softmax(dim=1)": nn.Softmax(1),
        "LogSoftmax(dim=-1)": nn.LogSoftmax(dim=-1),
        "Dropout(p=0.5, inplace=False)": nn.Dropout(),
        "Dropout2d(p=0.2, inplace=False)": nn.Dropout2d(0.2),
        "Dropout2d(p=0.5, inplace=True)": nn.Dropout2d(inplace=True),
    }
    for text, module in cases.items():
        assert repr(module) == text


def test_activation_modules_call_their_functions():
    x = odyssey.tensor(np.linspace(-8, 8, 33, dtype=np.float32).reshape(1, 3, 11, 1))
    for module, function in [
        (nn.ReLU6(), F.relu6),
        (nn.Hardtanh(-2.0, 3.0), lambda t: F.hardtanh(t, -2.0, 3.0)),
        (nn.Softplus(2.0, 4.0), lambda t: F.softplus(t, 2.0, 4.0)),
        (nn.GELU("tanh"), lambda t: F.gelu(t, "tanh")),
        (nn.SiLU(), F.silu),
        (nn.ReLU(inplace=True), F.relu),
    ]:
        np.testing.assert_array_equal(module(x).data, function(x).data)
    assert nn.ReLU6()(x).grad_fn is None  # no input needs a gradient
    drop = nn.Dropout2d(0.5)
    drop.eval()
    assert drop(x) is x


def test_functional_grad_fn_names_are_pytorchs():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x = np.random.default_rng(4).normal(size=(3, 4)).astype(np.float32)
    w = np.random.default_rng(5).normal(size=(2, 4)).astype(np.float32)
    labels = np.array([0, 1, 3])

    def cases(f, xt, wt, bt, target):
        return [
            f.linear(xt, wt, bt), f.linear(xt, wt), f.linear(xt.reshape(1, 3, 4), wt, bt),
            f.linear(xt.reshape(1, 3, 4), wt), f.relu(xt), f.leaky_relu(xt), f.sigmoid(xt),
            f.tanh(xt), f.softmax(xt, 1), f.log_softmax(xt, 0), f.cross_entropy(xt, target),
            f.cross_entropy(xt, target, reduction="none"), f.nll_loss(xt, target),
            f.mse_loss(xt, xt * 2), f.dropout(xt, 0.5), xt.reshape(3, 2, 2).flatten(1),
            f.relu6(xt), f.hardtanh(xt), f.softplus(xt), f.gelu(xt), f.silu(xt),
            f.dropout2d(xt.reshape(1, 3, 2, 2)),
        ]  # fmt: skip

    ours = cases(
        F,
        odyssey.tensor(x, requires_grad=True),
        odyssey.tensor(w, requires_grad=True),
        odyssey.tensor(w[:, 0], requires_grad=True),
        odyssey.tensor(labels),
    )
    theirs = cases(
        tf,
        torch.tensor(x, requires_grad=True),
        torch.tensor(w, requires_grad=True),
        torch.tensor(w[:, 0], requires_grad=True),
        torch.tensor(labels),
    )
    for index, (mine, reference) in enumerate(zip(ours, theirs, strict=True)):
        assert mine.grad_fn.name == reference.grad_fn.name(), index
