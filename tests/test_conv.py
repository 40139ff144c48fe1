"""conv2d through the bindings and F.conv2d / nn.Conv2d: forward against NumPy, gradients against
float64 finite differences and PyTorch, on every ISA, for any padding ('same', 'valid'), dilation
and groups; bitwise determinism across threads; every bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import odyssey
from odyssey import _kernels, nn
from odyssey.nn import functional as F

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
    # A strided layer wide enough for the input gradient's im2col + sgemm.
    (2, 3, 23, 21, 64, 5, 5, (2, 3), (1, 2)),
]


def reference_conv(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None,
    stride,
    padding,
    dilation=(1, 1),
    groups: int = 1,
):
    """The definition in float64: per group, a sum over kernel taps of strided input windows."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    x = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oc, cg, kh_n, kw_n = w.shape
    ocg = oc // groups
    oh = (x.shape[2] - dh * (kh_n - 1) - 1) // sh + 1
    ow = (x.shape[3] - dw * (kw_n - 1) - 1) // sw + 1
    y = np.zeros((x.shape[0], oc, oh, ow))
    for g in range(groups):
        x_g = x[:, g * cg : (g + 1) * cg]
        w_g = w[g * ocg : (g + 1) * ocg].astype(np.float64)
        for kh in range(kh_n):
            for kw in range(kw_n):
                top, left = kh * dh, kw * dw
                window = x_g[
                    :, :, top : top + sh * (oh - 1) + 1 : sh, left : left + sw * (ow - 1) + 1 : sw
                ]
                y[:, g * ocg : (g + 1) * ocg] += np.einsum(
                    "nchw,oc->nohw", window, w_g[:, :, kh, kw]
                )
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
    # The exact gradients of sum(y * grad_out) in float64.
    want_dx, want_dw = reference_gradients(x, weight, grad_out, stride, padding)
    assert_close(dx, want_dx, oc * kh * kw)
    terms = n * y.shape[2] * y.shape[3]
    assert_close(dw, want_dw, terms)
    assert_close(db, grad_out.astype(np.float64).sum(axis=(0, 2, 3)), terms)


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


# Wide stride-1 3x3 layers at four groups of samples or more take Winograd F(4x4, 3x3) on the
# vector ISAs: both passes (padding 1), the forward only (padding 0, output planes of whole tiles),
# the input gradient only (padding 0, input planes of whole tiles); partial last groups.
WINOGRAD_SHAPES = [
    (67, 32, 8, 8, 32, 3, 3, (1, 1), (1, 1)),
    (70, 33, 14, 6, 40, 3, 3, (1, 1), (0, 0)),
    (65, 35, 8, 12, 32, 3, 3, (1, 1), (0, 0)),
]


def assert_winograd_close(actual: np.ndarray, expected: np.ndarray, magnitude: np.ndarray) -> None:
    """Winograd's error bound: 1e-4 of the sum of the products' magnitudes, plus 1e-5."""
    assert actual.dtype == np.float32
    assert actual.shape == expected.shape
    excess = np.abs(actual - expected) - (1e-4 * magnitude + 1e-5)
    assert excess.max() <= 0, f"off by {excess.max()} beyond the bound"


def reference_weight_grad(x: np.ndarray, g: np.ndarray, padding) -> np.ndarray:
    """The 3x3 stride-1 weight gradient in float64: each tap's input window against dy."""
    (ph, pw), (oh, ow) = padding, g.shape[2:]
    x = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    dw = np.zeros((g.shape[1], x.shape[1], 3, 3))
    for kh in range(3):
        for kw in range(3):
            window = x[:, :, kh : kh + oh, kw : kw + ow]
            dw[:, :, kh, kw] = np.einsum("nchw,nohw->oc", window, g.astype(np.float64))
    return dw


@pytest.mark.parametrize("shape", WINOGRAD_SHAPES)
def test_winograd_matches_float64_and_torch(isa: str, shape) -> None:
    if isa == "scalar":
        pytest.skip("the scalar reference runs the direct kernels")
    x, w, b, stride, padding = random_problem(shape, 11)
    options = {"stride": stride, "padding": padding}
    y = _kernels.conv2d_forward(x, w, b, **options)
    g = np.random.default_rng(12).standard_normal(y.shape).astype(np.float32)
    dx = _kernels.conv2d_backward_data(g, w, x.shape, **options)
    # The input gradient is the forward of dy padded by 2 - padding with w flipped and transposed.
    w_t = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    dx_padding = (2 - padding[0], 2 - padding[1])
    magnitudes = (
        reference_conv(np.abs(x), np.abs(w), np.abs(b), stride, padding),
        reference_conv(np.abs(g), np.abs(w_t), None, stride, dx_padding),
    )
    expected = (
        reference_conv(x, w, b, stride, padding),
        reference_conv(g, w_t, None, stride, dx_padding),
    )
    for actual, want, magnitude in zip((y, dx), expected, magnitudes, strict=True):
        assert_winograd_close(actual, want, magnitude)
    dw, db = _kernels.conv2d_backward_weight(x, g, (3, 3), **options)
    dw_magnitude = reference_weight_grad(np.abs(x), np.abs(g), padding)
    assert_winograd_close(dw, reference_weight_grad(x, g, padding), dw_magnitude)
    assert_close(db, g.astype(np.float64).sum(axis=(0, 2, 3)), g.shape[0] * g.shape[2] * g.shape[3])
    torch = pytest.importorskip("torch")
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    torch.nn.functional.conv2d(tx, tw, tb, **options).backward(torch.tensor(g))
    for actual, theirs, magnitude in zip((y, dx), (None, tx.grad), magnitudes, strict=True):
        if theirs is None:
            theirs = torch.nn.functional.conv2d(tx, tw, tb, **options)
        assert_winograd_close(actual, theirs.detach().numpy(), 2 * magnitude)
    assert_winograd_close(dw, tw.grad.numpy(), 2 * dw_magnitude)


def one_hot(shape: tuple[int, ...], sample: int, channel: int, row: int, column: int) -> np.ndarray:
    array = np.zeros(shape, np.float32)
    array[sample, channel, row, column] = 1.0
    return array


def assert_placed(actual: np.ndarray, expected: np.ndarray, magnitude: np.ndarray) -> None:
    """Within 1e-4 of the result's largest magnitude (plus 1e-5) everywhere."""
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-4 * magnitude.max() + 1e-5)


@pytest.mark.parametrize("shape", WINOGRAD_SHAPES[:2])
def test_winograd_moves_a_single_value_to_exactly_its_taps(isa: str, shape) -> None:
    """One nonzero input (or output gradient) at a plane's corners and at 4x4 tile boundaries:
    every output it does not reach must stay (near) zero and every one it reaches must get its
    weight, so a tile, band or border element lost or misplaced shows as an error the size of a
    weight. The bound here is 1e-4 of the largest magnitude in the result, not of each element's
    own products: a tap that meets only padding is 0 exactly, but Winograd's transforms mix a
    tile's values, so it carries their rounding (1.6e-5 measured at a corner)."""
    if isa == "scalar":
        pytest.skip("the scalar reference runs the direct kernels")
    _, w, _, stride, padding = random_problem(shape, 13)
    n, c, h, width = shape[:4]
    options = {"stride": stride, "padding": padding}
    assert _kernels.conv2d_algorithms((n, c, h, width), w.shape, **options)["forward"].startswith(
        "Winograd"
    )
    y_shape = _kernels.conv2d_forward(
        np.zeros((n, c, h, width), np.float32), w, None, **options
    ).shape
    w_t = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    dx_padding = (2 - padding[0], 2 - padding[1])
    rng = np.random.default_rng(14)
    x_random = rng.standard_normal((n, c, h, width), dtype=np.float32)
    for place in [(0, 0), (h - 1, width - 1), (0, width - 1), (3, 4), (4, 3)]:
        row, column = min(place[0], h - 1), min(place[1], width - 1)
        x = one_hot((n, c, h, width), n - 1, c // 2, row, column)
        assert_placed(
            _kernels.conv2d_forward(x, w, None, **options),
            reference_conv(x, w, None, stride, padding),
            reference_conv(np.abs(x), np.abs(w), None, stride, padding),
        )
        g_row, g_column = min(row, y_shape[2] - 1), min(column, y_shape[3] - 1)
        g = one_hot(y_shape, 0, w.shape[0] - 1, g_row, g_column)
        if _kernels.conv2d_algorithms((n, c, h, width), w.shape, **options)[
            "backward_data"
        ].startswith("Winograd"):
            assert_placed(
                _kernels.conv2d_backward_data(g, w, x.shape, **options),
                reference_conv(g, w_t, None, stride, dx_padding),
                reference_conv(np.abs(g), np.abs(w_t), None, stride, dx_padding),
            )
        dw, _ = _kernels.conv2d_backward_weight(x_random, g, (3, 3), **options)
        assert_placed(
            dw,
            reference_weight_grad(x_random, g, padding),
            reference_weight_grad(np.abs(x_random), np.abs(g), padding),
        )


@pytest.mark.parametrize(
    "shape",
    [
        (67, 32, 4, 8, 32, 3, 3, (1, 1), (1, 1)),  # Winograd on the vector ISAs
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


def test_wide_layers_pick_their_algorithms_per_isa(isa: str) -> None:
    channels, gemm = "direct, output channels in lanes", "im2col + sgemm"
    # Three samples, too few for a group of samples in lanes, leave Winograd aside.
    wide = _kernels.conv2d_algorithms((3, 64, 32, 32), (64, 64, 3, 3), padding=1)
    if isa in ("avx2", "avx512"):
        # 64 channels fill the vectors as well as 32 columns: the channel-lane kernels win ties.
        assert wide["forward"] == wide["backward_data"] == channels
    else:
        assert wide["forward"] == wide["backward_data"] == "direct, output columns in lanes"
    # The channel-lane weight gradient beats the GEMM's on AVX-512 only.
    assert wide["backward_weight"] == (channels if isa == "avx512" else gemm)
    # 40 channels fill vectors worse than 16 columns, and 72 taps fill the GEMM's tiles.
    uneven = _kernels.conv2d_algorithms((8, 8, 16, 16), (40, 8, 3, 3), padding=1)
    assert uneven["backward_weight"] == gemm
    # VGG's 3x3 stages at batch 64 and ResNet's 64-channel stage at batch 16 (one group of
    # samples on AVX-512, its tiles in bands): Winograd for every pass.
    winograd = "Winograd F(4x4, 3x3), samples in lanes"
    for x_shape, w_shape in (
        ((64, 32, 16, 16), (64, 32, 3, 3)),
        ((64, 64, 8, 8), (128, 64, 3, 3)),
        ((16, 64, 32, 32), (64, 64, 3, 3)),
    ):
        vgg = _kernels.conv2d_algorithms(x_shape, w_shape, padding=1)
        if isa == "scalar":
            assert winograd not in vgg.values()
        else:
            assert set(vgg.values()) == {winograd}
    # VGG's first 224x224 stage: a group of samples would take 200 MB of transposed planes.
    vgg1 = _kernels.conv2d_algorithms((16, 64, 224, 224), (64, 64, 3, 3), padding=1)
    assert winograd not in vgg1.values()
    # AlexNet's conv1: the direct input gradient would multiply the zeros between dy's columns.
    alexnet = _kernels.conv2d_algorithms((8, 3, 224, 224), (64, 3, 11, 11), stride=4, padding=2)
    assert alexnet["backward_data"] == gemm
    if isa == "avx512":
        # 64 channels tie with 16 samples; the channel lanes take it past one vector of channels.
        # (14x14 outputs, partial 4x4 tiles, leave Winograd aside.)
        vgg = _kernels.conv2d_algorithms((16, 32, 16, 16), (64, 32, 3, 3))
        assert vgg["backward_weight"] == channels


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
        with pytest.raises(ValueError, match=r"dilation must be >= 1, got \(1, 0\)"):
            _kernels.conv2d_forward(self.x, w, dilation=(1, 0))
        with pytest.raises(ValueError, match=r"groups must be >= 1"):
            _kernels.conv2d_forward(self.x, w, groups=0)
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


# -- padding of any size, dilation and groups ----------------------------------------------------

# (N, C, H, W, OC, KH, KW, stride, padding, dilation, groups)
GENERAL_SHAPES = [
    (2, 4, 9, 9, 6, 3, 3, (1, 1), (1, 1), (1, 1), 2),
    (3, 8, 11, 10, 8, 3, 3, (1, 1), (1, 1), (1, 1), 8),  # depthwise
    (2, 6, 13, 12, 12, 3, 3, (2, 2), (1, 1), (1, 1), 6),  # depthwise, 2 outputs per channel
    (2, 8, 7, 7, 32, 3, 3, (1, 1), (1, 1), (1, 1), 2),  # 16 output channels per group
    (1, 16, 6, 6, 64, 3, 3, (1, 1), (1, 1), (1, 1), 2),  # the per-group GEMM weight gradient
    (17, 4, 8, 8, 4, 3, 3, (1, 1), (1, 1), (1, 1), 4),  # a batch that fills the lanes
    (2, 2, 5, 5, 3, 3, 3, (1, 1), (2, 2), (1, 1), 1),  # padding up to kernel - 1
    (2, 2, 5, 5, 3, 3, 3, (1, 1), (3, 3), (1, 1), 1),  # padding of the kernel's size
    (2, 3, 12, 13, 4, 3, 3, (1, 1), (2, 2), (2, 2), 1),  # dilation 2
    (1, 4, 10, 9, 6, 3, 2, (2, 1), (3, 4), (2, 3), 2),  # all of them
    (2, 6, 27, 27, 10, 5, 5, (1, 1), (2, 2), (1, 1), 2),  # AlexNet's conv2, narrowed
    (1, 3, 11, 9, 3, 2, 4, (3, 2), (5, 0), (3, 2), 3),
]


def general_problem(shape, seed: int):
    n, c, h, w, oc, kh, kw, stride, padding, dilation, groups = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    weight = rng.standard_normal((oc, c // groups, kh, kw), dtype=np.float32)
    bias = rng.standard_normal(oc, dtype=np.float32)
    options = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    return x, weight, bias, options


@pytest.mark.parametrize("shape", GENERAL_SHAPES)
def test_general_forward_and_gradients_match_numpy(isa: str, shape) -> None:
    x, w, b, options = general_problem(shape, 10)
    y = _kernels.conv2d_forward(x, w, b, **options)
    assert_close(y, reference_conv(x, w, b, **options), w[0].size)
    g = np.random.default_rng(11).standard_normal(y.shape).astype(np.float32)
    dx = _kernels.conv2d_backward_data(g, w, x.shape, **options)
    dw, db = _kernels.conv2d_backward_weight(x, g, w.shape[2:], **options)
    terms = g.shape[0] * g.shape[2] * g.shape[3]
    want_dx, want_dw = reference_gradients(x, w, g, **options)
    assert_close(dx, want_dx, w.size)
    assert_close(dw, want_dw, terms)
    assert_close(db, g.astype(np.float64).sum(axis=(0, 2, 3)), terms)


def reference_gradients(x, w, grad_out, stride, padding, dilation=(1, 1), groups=1):
    """The exact input and weight gradients of sum(reference_conv(x, w) * grad_out) in float64:
    per group and tap, the window's share of each, as the forward's transpose."""
    (sh, sw), (ph, pw), (dh, dw_) = stride, padding, dilation
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    dxp = np.zeros_like(xp)
    g = grad_out.astype(np.float64)
    w64 = w.astype(np.float64)
    dw = np.zeros_like(w64)
    oc, cg, kh_n, kw_n = w.shape
    ocg = oc // groups
    oh, ow = g.shape[2:]
    for group in range(groups):
        ins, outs = slice(group * cg, (group + 1) * cg), slice(group * ocg, (group + 1) * ocg)
        for kh in range(kh_n):
            for kw in range(kw_n):
                rows = slice(kh * dh, kh * dh + sh * (oh - 1) + 1, sh)
                cols = slice(kw * dw_, kw * dw_ + sw * (ow - 1) + 1, sw)
                window = xp[:, ins, rows, cols]
                dw[outs, :, kh, kw] = np.einsum("nohw,nchw->oc", g[:, outs], window)
                dxp[:, ins, rows, cols] += np.einsum(
                    "nohw,oc->nchw", g[:, outs], w64[outs, :, kh, kw]
                )
    return dxp[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]], dw


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 3),
    groups=st.integers(1, 4),
    c_per_group=st.integers(1, 3),
    oc_per_group=st.integers(1, 3),
    h=st.integers(1, 16),
    w=st.integers(1, 16),
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.tuples(st.integers(0, 5), st.integers(0, 5)),
    dilation=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    seed=st.integers(0, 2**31),
)
def test_any_general_shape_matches_numpy(
    n, groups, c_per_group, oc_per_group, h, w, kernel, stride, padding, dilation, seed
) -> None:
    extent = [d * (k - 1) + 1 for d, k in zip(dilation, kernel, strict=True)]
    if extent[0] > h + 2 * padding[0] or extent[1] > w + 2 * padding[1]:
        return
    shape = (n, groups * c_per_group, h, w, groups * oc_per_group, *kernel)
    x, weight, bias, options = general_problem((*shape, stride, padding, dilation, groups), seed)
    y = _kernels.conv2d_forward(x, weight, bias, **options)
    assert_close(y, reference_conv(x, weight, bias, **options), weight[0].size)
    g = np.random.default_rng(seed + 1).standard_normal(y.shape).astype(np.float32)
    dx = _kernels.conv2d_backward_data(g, weight, x.shape, **options)
    dw, db = _kernels.conv2d_backward_weight(x, g, kernel, **options)
    terms = n * y.shape[2] * y.shape[3]
    want_dx, want_dw = reference_gradients(x, weight, g, **options)
    assert_close(dx, want_dx, weight.size)
    assert_close(dw, want_dw, terms)
    assert_close(db, g.astype(np.float64).sum(axis=(0, 2, 3)), terms)


@pytest.mark.parametrize(
    "shape",
    [
        (9, 8, 7, 9, 32, 3, 3, (1, 1), (1, 1), (1, 1), 2),  # groups, channels in lanes
        (9, 6, 9, 8, 6, 3, 3, (2, 1), (1, 1), (1, 1), 6),  # depthwise
        (9, 4, 9, 8, 6, 3, 3, (1, 2), (3, 2), (2, 1), 2),  # im2col + sgemm
    ],
)
def test_general_bits_do_not_depend_on_the_thread_count(isa: str, threads: None, shape) -> None:
    x, w, b, options = general_problem(shape, 12)
    g = (
        np.random.default_rng(13)
        .standard_normal(_kernels.conv2d_forward(x, w, b, **options).shape)
        .astype(np.float32)
    )
    outputs = set()
    for n in (1, 2, 3):
        odyssey.set_num_threads(n)
        y = _kernels.conv2d_forward(x, w, b, **options)
        dx = _kernels.conv2d_backward_data(g, w, x.shape, **options)
        dw, db = _kernels.conv2d_backward_weight(x, g, w.shape[2:], **options)
        outputs.add(y.tobytes() + dx.tobytes() + dw.tobytes() + db.tobytes())
    assert len(outputs) == 1


def test_groups_and_dilation_pick_their_algorithms(isa: str) -> None:
    alexnet = _kernels.conv2d_algorithms((8, 96, 27, 27), (256, 48, 5, 5), padding=2, groups=2)
    assert alexnet["forward"].startswith("direct")
    # A group's 128 channels fill the vectors better than 27 columns; the channel-lane weight
    # gradient beats the GEMM's on AVX-512 only.
    expected = "direct, output channels in lanes" if isa == "avx512" else "im2col + sgemm"
    assert alexnet["backward_weight"] == expected
    depthwise = _kernels.conv2d_algorithms((8, 32, 112, 112), (32, 1, 3, 3), padding=1, groups=32)
    assert depthwise["forward"] == "direct, output columns in lanes"
    assert depthwise["backward_data"] == "direct, output columns in lanes"
    dilated = _kernels.conv2d_algorithms((8, 3, 16, 16), (4, 3, 3, 3), padding=2, dilation=2)
    assert set(dilated.values()) == {"im2col + sgemm"}
    wide_padding = _kernels.conv2d_algorithms((8, 3, 16, 16), (4, 3, 3, 3), padding=3)
    assert set(wide_padding.values()) == {"im2col + sgemm"}


class TestGeneralBadInput:
    x = np.zeros((2, 4, 9, 9), dtype=np.float32)

    def test_channels_per_group(self) -> None:
        w = np.zeros((6, 3, 3, 3), dtype=np.float32)
        with pytest.raises(
            ValueError, match=r"input has 4 channels but weight expects 3 per group x 2"
        ):
            _kernels.conv2d_forward(self.x, w, groups=2)
        with pytest.raises(
            ValueError, match=r"input has 4 channels but weight expects 3 per group x 3"
        ):
            _kernels.conv2d_forward(self.x, np.zeros((6, 3, 3, 3), np.float32), groups=3)
        with pytest.raises(ValueError, match=r"5 output channels are not divisible by groups=2"):
            _kernels.conv2d_forward(self.x, np.zeros((5, 2, 3, 3), np.float32), groups=2)
        with pytest.raises(ValueError, match=r"x's 4 channels are not divisible by groups=3"):
            _kernels.conv2d_backward_weight(self.x, np.zeros((2, 6, 7, 7), np.float32), 3, groups=3)

    def test_dilated_kernel_larger_than_padded_input(self) -> None:
        w = np.zeros((1, 4, 3, 3), dtype=np.float32)
        with pytest.raises(
            ValueError, match=r"kernel \(3, 3\) with dilation \(5, 1\) is larger than the padded"
        ):
            _kernels.conv2d_forward(self.x, w, dilation=(5, 1))
        with pytest.raises(ValueError, match=r"conv2d: kernel \(3, 3\) dilated to \(11, 3\)"):
            F.conv2d(odyssey.tensor(self.x), odyssey.tensor(w), dilation=(5, 1))


# -- F.conv2d and nn.Conv2d --------------------------------------------------------------------


def as_pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, tuple) else (value, value)


def functional_reference(x, w, b, stride=1, padding=0, dilation=1, groups=1):
    """F.conv2d's arguments on the float64 reference. PyTorch's padding='same' pads
    dilation * (kernel - 1) in all, half on each side and the odd one at the bottom or right."""
    dilation = as_pair(dilation)
    if padding == "same":
        total = [d * (k - 1) for d, k in zip(dilation, w.shape[2:], strict=True)]
        x = np.pad(x, ((0, 0), (0, 0), (0, total[0] % 2), (0, total[1] % 2)))
        padding = (total[0] // 2, total[1] // 2)
    padding = (0, 0) if padding == "valid" else as_pair(padding)
    return reference_conv(x, w, b, as_pair(stride), padding, dilation, groups)


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "options"),
    [
        ((2, 4, 6, 5), (6, 2, 3, 3), {"padding": 1, "groups": 2}),
        ((1, 3, 6, 7), (3, 1, 3, 2), {"padding": (3, 2), "groups": 3}),
        ((2, 2, 7, 6), (3, 2, 3, 3), {"stride": 2, "padding": 2, "dilation": 2}),
        ((1, 2, 6, 6), (2, 2, 2, 3), {"padding": "same", "dilation": (1, 2)}),
        ((1, 4, 5, 6), (4, 1, 4, 3), {"padding": "same", "groups": 4}),
        ((2, 2, 6, 5), (4, 1, 3, 2), {"padding": "valid", "groups": 2, "dilation": 2}),
    ],
)
def test_functional_conv2d_gradients(isa, gradcheck, x_shape, w_shape, options) -> None:
    rng = np.random.default_rng(14)
    x, w, b = (rng.uniform(-1, 1, s) for s in (x_shape, w_shape, w_shape[:1]))
    gradcheck(
        lambda x, w, b: F.conv2d(x, w, b, **options),
        lambda x, w, b: functional_reference(x, w, b, **options),
        [x, w, b],
    )


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "options"),
    [
        ((8, 8, 27, 27), (16, 4, 5, 5), {"padding": 2, "groups": 2}),  # AlexNet conv2, narrowed
        ((8, 16, 28, 28), (16, 1, 3, 3), {"padding": 1, "groups": 16}),  # depthwise
        ((4, 16, 15, 15), (32, 1, 3, 3), {"stride": 2, "padding": 1, "groups": 16}),
        ((3, 6, 13, 11), (4, 6, 3, 3), {"padding": 4, "dilation": 3}),
        ((2, 6, 13, 11), (9, 2, 4, 3), {"padding": "same", "dilation": (2, 3), "groups": 3}),
        ((2, 6, 13, 11), (6, 6, 2, 2), {"padding": "same"}),
        ((2, 6, 13, 11), (6, 3, 3, 5), {"padding": "valid", "stride": (2, 3), "groups": 2}),
        ((2, 4, 7, 8), (4, 4, 3, 3), {"padding": (3, 5), "stride": 2}),
    ],
)
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
def test_functional_conv2d_matches_torch(isa, x_shape, w_shape, options) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(15)
    x, w, b = (rng.standard_normal(s, dtype=np.float32) for s in (x_shape, w_shape, w_shape[:1]))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, **options)
    g = rng.standard_normal(tuple(ty.shape), dtype=np.float32)
    ty.backward(torch.tensor(g))
    ox, ow, ob = (odyssey.tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.conv2d(ox, ow, ob, **options)
    y.backward(odyssey.tensor(g))
    assert_close(y.data, ty.detach().numpy(), w[0].size)
    assert_close(y.data, functional_reference(x, w, b, **options), w[0].size)
    assert_close(ox.grad.data, tx.grad.numpy(), w.shape[0] * w.shape[2] * w.shape[3])
    terms = g.shape[0] * g.shape[2] * g.shape[3]
    assert_close(ow.grad.data, tw.grad.numpy(), terms)
    assert_close(ob.grad.data, tb.grad.numpy(), terms)


def test_functional_conv2d_records_its_node() -> None:
    x = odyssey.tensor(np.ones((1, 2, 5, 5), np.float32), requires_grad=True)
    y = F.conv2d(x, odyssey.tensor(np.ones((2, 1, 3, 3), np.float32)), groups=2, padding="same")
    assert y.shape == (1, 2, 5, 5)
    assert y._node.name == "ConvolutionBackward0"


def test_functional_conv2d_bad_arguments() -> None:
    x = odyssey.tensor(np.zeros((1, 4, 6, 6), np.float32))
    w = odyssey.tensor(np.zeros((4, 2, 3, 3), np.float32))
    with pytest.raises(ValueError, match=r"conv2d: padding='same' is not supported for strided"):
        F.conv2d(x, w, stride=2, padding="same", groups=2)
    with pytest.raises(ValueError, match=r"conv2d: padding must be an int, a pair, 'same' or"):
        F.conv2d(x, w, padding="full", groups=2)
    with pytest.raises(ValueError, match=r"conv2d: groups must be >= 1, got 0"):
        F.conv2d(x, w, groups=0)
    with pytest.raises(TypeError, match=r"conv2d: groups must be an int, got float"):
        F.conv2d(x, w, groups=2.0)
    with pytest.raises(ValueError, match=r"conv2d: dilation must be >= 1"):
        F.conv2d(x, w, dilation=0, groups=2)
    with pytest.raises(
        ValueError, match=r"input has 4 channels but weight expects 2 per group x 3"
    ):
        F.conv2d(x, w, groups=3)
    with pytest.raises(
        ValueError, match=r"weight's 6 output channels are not divisible by groups=4"
    ):
        F.conv2d(x, odyssey.tensor(np.zeros((6, 1, 3, 3), np.float32)), groups=4)


class TestConv2dModule:
    def test_grouped_weight_shape_and_torch_init_bounds(self) -> None:
        conv = nn.Conv2d(96, 256, 5, padding=2, groups=2)
        assert conv.weight.shape == (256, 48, 5, 5)
        bound = 1 / np.sqrt(48 * 25)
        assert np.abs(conv.weight.data).max() <= bound
        assert np.abs(conv.weight.data).max() > 0.9 * bound
        assert np.abs(conv.bias.data).max() <= bound
        depthwise = nn.Conv2d(32, 32, 3, padding=1, groups=32, bias=False)
        assert depthwise.weight.shape == (32, 1, 3, 3)
        assert depthwise.bias is None
        assert np.abs(depthwise.weight.data).max() <= 1 / 3

    def test_forward_matches_functional(self) -> None:
        x = odyssey.tensor(np.random.default_rng(16).standard_normal((2, 4, 7, 8), np.float32))
        with pytest.raises(ValueError, match="strided"):
            nn.Conv2d(4, 6, 3, stride=2, padding="same")
        conv = nn.Conv2d(4, 6, (3, 2), padding="same", dilation=2, groups=2)
        expected = F.conv2d(x, conv.weight, conv.bias, 1, "same", 2, 2)
        np.testing.assert_array_equal(conv(x).data, expected.data)
        assert conv(x).shape == (2, 6, 7, 8)

    def test_extra_repr_is_torch_text(self) -> None:
        assert nn.Conv2d(1, 6, 5).extra_repr() == "1, 6, kernel_size=(5, 5), stride=(1, 1)"
        text = nn.Conv2d(4, 8, 3, 2, 1, 2, 4, bias=False).extra_repr()
        assert text == (
            "4, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(2, 2), "
            "groups=4, bias=False"
        )
        assert "padding=same" in nn.Conv2d(2, 2, 3, padding="same").extra_repr()

    def test_extra_repr_matches_torch(self) -> None:
        torch = pytest.importorskip("torch")
        for args, kwargs in [
            ((1, 6, 5), {}),
            ((96, 256, 5), {"padding": 2, "groups": 2}),
            ((32, 32, 3), {"stride": 2, "padding": 1, "groups": 32, "bias": False}),
            ((3, 4, (3, 5)), {"padding": "same", "dilation": (2, 1)}),
            ((3, 4, 3), {"padding": "valid"}),
        ]:
            ours = nn.Conv2d(*args, **kwargs).extra_repr()
            assert ours == torch.nn.Conv2d(*args, **kwargs).extra_repr()

    def test_bad_arguments(self) -> None:
        with pytest.raises(
            ValueError, match=r"Conv2d: in_channels \(5\) must be divisible by groups \(2\)"
        ):
            nn.Conv2d(5, 4, 3, groups=2)
        with pytest.raises(
            ValueError, match=r"Conv2d: out_channels \(3\) must be divisible by groups \(2\)"
        ):
            nn.Conv2d(4, 3, 3, groups=2)
        with pytest.raises(ValueError, match=r"Conv2d: groups must be >= 1, got 0"):
            nn.Conv2d(4, 4, 3, groups=0)
        with pytest.raises(ValueError, match=r"Conv2d: padding must be an int, a pair, 'same'"):
            nn.Conv2d(4, 4, 3, padding="full")
        with pytest.raises(NotImplementedError, match=r"padding_mode='reflect' is not implemented"):
            nn.Conv2d(4, 4, 3, padding_mode="reflect")
        with pytest.raises(ValueError, match=r"Conv2d: padding_mode must be one of zeros, reflect"):
            nn.Conv2d(4, 4, 3, padding_mode="mirror")


def test_frozen_weight_trainable_bias_gets_only_the_bias_gradient() -> None:
    """Only needed gradients: a frozen weight gets none, the bias its sum over (N, H, W)."""
    x, w, b, _, _ = random_problem((2, 3, 7, 6, 4, 3, 3, (1, 1), (1, 1)), 21)
    g = np.random.default_rng(22).standard_normal((2, 4, 7, 6), dtype=np.float32)
    weight = odyssey.tensor(w)
    bias = odyssey.tensor(b, requires_grad=True)
    out = F.conv2d(odyssey.tensor(x), weight, bias, padding=1)
    out.backward(odyssey.tensor(g))
    assert weight.grad is None
    np.testing.assert_array_equal(bias.grad.numpy(), g.sum(axis=(0, 2, 3), dtype=np.float32))
