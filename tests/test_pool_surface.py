"""The pooling surface PyTorch's classic CNNs use: max_pool2d and avg_pool2d with padding,
dilation, ceil_mode, count_include_pad and divisor_override; adaptive_avg_pool2d and
adaptive_max_pool2d; local_response_norm; their modules and printed forms; and the explicit fused
ReLUMaxPool2d. Forward against float64 NumPy loops and finite differences on every ISA, and
against torch (skipped without it)."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import odyssey
from odyssey import nn
from odyssey.nn import functional as F
from odyssey.papers import load_model_module


def rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def axis_taps(o: int, size: int, kernel: int, stride: int, pad: int, dilation: int) -> list[int]:
    """The input positions of window o's taps on one axis that lie inside the input."""
    taps = (o * stride - pad + k * dilation for k in range(kernel))
    return [t for t in taps if 0 <= t < size]


def pooled(size: int, kernel: int, stride: int, pad: int, dilation: int, ceil: bool) -> int:
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = -(-span // stride) + 1 if ceil else span // stride + 1
    if ceil and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def pool_reference(
    x: np.ndarray,
    kernel,
    stride,
    padding=(0, 0),
    dilation=(1, 1),
    ceil=False,
    mode="max",
    include_pad=True,
    divisor=None,
) -> np.ndarray:
    """PyTorch's pooling, one window at a time, in float64."""
    n, c, h, w = x.shape
    oh = pooled(h, kernel[0], stride[0], padding[0], dilation[0], ceil)
    ow = pooled(w, kernel[1], stride[1], padding[1], dilation[1], ceil)
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        rows = axis_taps(i, h, kernel[0], stride[0], padding[0], dilation[0])
        for j in range(ow):
            cols = axis_taps(j, w, kernel[1], stride[1], padding[1], dilation[1])
            window = x[:, :, rows][:, :, :, cols]
            if mode == "max":
                out[:, :, i, j] = window.max(axis=(2, 3))
                continue
            if divisor is not None:
                size = divisor
            elif include_pad:
                size = min(kernel[0], h + 2 * padding[0] - i * stride[0]) * min(
                    kernel[1], w + 2 * padding[1] - j * stride[1]
                )
            else:
                size = len(rows) * len(cols)
            out[:, :, i, j] = window.sum(axis=(2, 3)) / size
    return out


# (kernel, stride, padding, dilation, ceil_mode) for max pooling, on (N, C, 9, 10) inputs.
MAX_CASES = [
    ((3, 3), (2, 2), (1, 1), (1, 1), False),  # ResNet's stem pool
    ((3, 3), (2, 2), (0, 0), (1, 1), True),  # GoogLeNet's ceil-mode pools
    ((2, 2), (2, 2), (0, 0), (1, 1), True),  # 2x2 over odd sizes: a partial last window
    ((3, 2), (1, 2), (1, 1), (2, 1), False),
    ((3, 3), (2, 3), (1, 0), (2, 3), True),
    ((2, 2), (2, 2), (1, 1), (1, 1), False),
]

# (kernel, stride, padding, ceil_mode, count_include_pad, divisor_override) for avg pooling.
AVG_CASES = [
    ((3, 3), (1, 1), (1, 1), False, True, None),  # GoogLeNet's 3x3 pools
    ((3, 3), (1, 1), (1, 1), False, False, None),
    ((3, 3), (2, 2), (1, 1), True, True, None),
    ((3, 3), (2, 2), (1, 1), True, False, None),
    ((2, 3), (2, 2), (1, 1), True, True, 5),
    ((2, 2), (2, 2), (0, 0), False, True, -3),
]


@pytest.mark.parametrize("case", MAX_CASES)
def test_max_pool2d_geometry_values_and_finite_differences(isa: str, gradcheck, case) -> None:
    kernel, stride, padding, dilation, ceil = case
    # Distinct values: a small step never changes which element is the maximum.
    x = np.random.default_rng(1).permutation(2 * 9 * 10).reshape(1, 2, 9, 10) / 50.0
    gradcheck(
        lambda t: F.max_pool2d(t, kernel, stride, padding, dilation, ceil),
        lambda a: pool_reference(a, kernel, stride, padding, dilation, ceil),
        [x],
    )
    gradcheck(
        lambda t: F.relu_max_pool2d(t, kernel, stride, padding, dilation, ceil),
        lambda a: pool_reference(np.maximum(a, 0), kernel, stride, padding, dilation, ceil),
        [x - 5.0],
    )


@pytest.mark.parametrize("case", AVG_CASES)
def test_avg_pool2d_divisors_values_and_finite_differences(isa: str, gradcheck, case) -> None:
    kernel, stride, padding, ceil, include_pad, divisor = case
    gradcheck(
        lambda t: F.avg_pool2d(t, kernel, stride, padding, ceil, include_pad, divisor),
        lambda a: pool_reference(
            a, kernel, stride, padding, (1, 1), ceil, "avg", include_pad, divisor
        ),
        [rand(1, 2, 9, 10).astype(np.float64)],
    )


@pytest.mark.parametrize("case", MAX_CASES)
def test_max_pool2d_matches_torch(isa: str, case) -> None:
    torch = pytest.importorskip("torch")
    kernel, stride, padding, dilation, ceil = case
    # Half-integers: windows hold ties, which resolve to the first as in torch.
    x = np.random.default_rng(2).integers(-4, 4, (2, 3, 9, 10)).astype(np.float32) / 2
    g = rand(*F.max_pool2d(odyssey.tensor(x), kernel, stride, padding, dilation, ceil).shape)
    for relu in (False, True):
        tx = torch.tensor(x, requires_grad=True)
        source = torch.relu(tx) if relu else tx
        ty, tindex = torch.nn.functional.max_pool2d(
            source, kernel, stride, padding, dilation, ceil, return_indices=True
        )
        ty.backward(torch.tensor(g))
        ours = odyssey.tensor(x, requires_grad=True)
        if relu:
            y = F.relu_max_pool2d(ours, kernel, stride, padding, dilation, ceil)
        else:
            y, index = F.max_pool2d(ours, kernel, stride, padding, dilation, ceil, True)
            assert index.data.dtype == np.int64
            np.testing.assert_array_equal(index.data, tindex.numpy())
            assert y._node.name == "MaxPool2DWithIndicesBackward0"
        y.backward(odyssey.tensor(g))
        # relu then max gives -0.0 where the fused op gives +0.0: equal as values.
        np.testing.assert_array_equal(y.data, ty.detach().numpy())
        np.testing.assert_array_equal(ours.grad.data, tx.grad.numpy())


@pytest.mark.parametrize("case", AVG_CASES)
def test_avg_pool2d_matches_torch(isa: str, case) -> None:
    torch = pytest.importorskip("torch")
    kernel, stride, padding, ceil, include_pad, divisor = case
    x = rand(2, 3, 9, 10, seed=3)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.avg_pool2d(tx, kernel, stride, padding, ceil, include_pad, divisor)
    g = rand(*ty.shape, seed=4)
    ty.backward(torch.tensor(g))
    ours = odyssey.tensor(x, requires_grad=True)
    y = F.avg_pool2d(ours, kernel, stride, padding, ceil, include_pad, divisor)
    y.backward(odyssey.tensor(g))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ours.grad.data, tx.grad.numpy(), rtol=1e-6, atol=1e-6)


def adaptive_reference(x: np.ndarray, size, reduce) -> np.ndarray:
    """PyTorch's adaptive windows: [floor(i H / out), ceil((i + 1) H / out))."""
    h, w = x.shape[2:]
    out = np.zeros(x.shape[:2] + tuple(size))
    for i in range(size[0]):
        r0, r1 = i * h // size[0], -(-(i + 1) * h // size[0])
        for j in range(size[1]):
            c0, c1 = j * w // size[1], -(-(j + 1) * w // size[1])
            out[:, :, i, j] = reduce(x[:, :, r0:r1, c0:c1], axis=(2, 3))
    return out


@pytest.mark.parametrize(
    ("output_size", "size"), [(1, (1, 1)), (3, (3, 3)), ((4, 7), (4, 7)), ((None, 2), (9, 2))]
)
def test_adaptive_pools_values_and_finite_differences(
    isa: str, gradcheck, output_size, size
) -> None:
    x = np.random.default_rng(5).permutation(2 * 9 * 7).reshape(1, 2, 9, 7) / 40.0
    gradcheck(
        lambda t: F.adaptive_avg_pool2d(t, output_size),
        lambda a: adaptive_reference(a, size, np.mean),
        [x],
    )
    gradcheck(
        lambda t: F.adaptive_max_pool2d(t, output_size),
        lambda a: adaptive_reference(a, size, np.max),
        [x],
    )


@pytest.mark.parametrize("output_size", [1, 3, (4, 7), (None, 2), (2, None), (12, 5)])
def test_adaptive_pools_match_torch(isa: str, output_size) -> None:
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(6).integers(-4, 4, (2, 3, 9, 7)).astype(np.float32) / 2
    functional = torch.nn.functional
    for ours_fn, torch_fn in (
        (F.adaptive_avg_pool2d, functional.adaptive_avg_pool2d),
        (F.adaptive_max_pool2d, functional.adaptive_max_pool2d),
    ):
        tx = torch.tensor(x, requires_grad=True)
        ty = torch_fn(tx, output_size)
        g = rand(*ty.shape, seed=7)
        ty.backward(torch.tensor(g))
        ours = odyssey.tensor(x, requires_grad=True)
        y = ours_fn(ours, output_size)
        y.backward(odyssey.tensor(g))
        # Exact but for torch's output_size 1, a mean() whose additions run in another order.
        np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-6, atol=0)
        np.testing.assert_allclose(ours.grad.data, tx.grad.numpy(), rtol=1e-6, atol=0)
    _, index = F.adaptive_max_pool2d(odyssey.tensor(x), output_size, return_indices=True)
    _, tindex = functional.adaptive_max_pool2d(torch.tensor(x), output_size, return_indices=True)
    np.testing.assert_array_equal(index.data, tindex.numpy())


def lrn_reference(x: np.ndarray, size: int, alpha: float, beta: float, k: float) -> np.ndarray:
    """x_c / (k + alpha / size * sum of x_j^2 over j in [c - size // 2, c + (size - 1) // 2])
    ** beta, in float64."""
    channels = x.shape[1]
    total = np.zeros_like(x)
    for c in range(channels):
        lo, hi = max(c - size // 2, 0), min(c + (size - 1) // 2, channels - 1)
        total[:, c] = (x[:, lo : hi + 1] ** 2).sum(axis=1)
    return x / (k + alpha / size * total) ** beta


@pytest.mark.parametrize(
    ("shape", "size", "alpha", "beta", "k"),
    [
        ((2, 7, 3, 4), 5, 1e-4, 0.75, 2.0),
        ((2, 6, 5), 4, 0.5, 0.6, 1.0),
        ((1, 3, 2, 2, 2), 2, 1, 2, 1),
    ],
)
def test_local_response_norm_values_and_finite_differences(
    gradcheck, shape, size, alpha, beta, k
) -> None:
    gradcheck(
        lambda t: F.local_response_norm(t, size, alpha, beta, k),
        lambda a: lrn_reference(a, size, alpha, beta, k),
        [rand(*shape, seed=8).astype(np.float64) * 2],
    )


@pytest.mark.parametrize(("size", "alpha", "beta", "k"), [(5, 1e-4, 0.75, 2.0), (3, 0.3, 0.5, 1.0)])
def test_local_response_norm_matches_torch(size, alpha, beta, k) -> None:
    torch = pytest.importorskip("torch")
    x = rand(2, 8, 5, 6, seed=9) * 3
    g = rand(2, 8, 5, 6, seed=10)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.local_response_norm(tx, size, alpha, beta, k)
    ty.backward(torch.tensor(g))
    ours = odyssey.tensor(x, requires_grad=True)
    y = nn.LocalResponseNorm(size, alpha, beta, k)(ours)
    y.backward(odyssey.tensor(g))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ours.grad.data, tx.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert type(ty.grad_fn).__name__ == y._node.name


MODULES = [
    ("MaxPool2d(2)", (2, 3, 8, 8)),
    ("MaxPool2d(3, stride=2, padding=1)", (2, 3, 9, 9)),
    ("MaxPool2d((3, 2), 2, 1, dilation=2, ceil_mode=True)", (2, 3, 9, 9)),
    ("AvgPool2d(3, stride=1, padding=1)", (2, 3, 8, 8)),
    ("AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)", (2, 3, 8, 8)),
    ("AvgPool2d(2, divisor_override=3)", (2, 3, 8, 8)),
    ("AdaptiveAvgPool2d(1)", (2, 3, 8, 8)),
    ("AdaptiveAvgPool2d((None, 3))", (2, 3, 8, 8)),
    ("AdaptiveMaxPool2d((2, None))", (2, 3, 8, 8)),
    ("LocalResponseNorm(5, alpha=0.0001, beta=0.75, k=2.0)", (2, 6, 4, 4)),
]


@pytest.mark.parametrize(("text", "shape"), MODULES)
def test_modules_print_and_compute_as_torch(text: str, shape) -> None:
    torch = pytest.importorskip("torch")
    ours, theirs = eval(f"nn.{text}"), eval(f"torch.nn.{text}")
    assert f"{type(ours).__name__}({ours.extra_repr()})" == repr(theirs)
    x = rand(*shape, seed=11)
    np.testing.assert_allclose(
        ours(odyssey.tensor(x)).data, theirs(torch.tensor(x)).numpy(), rtol=1e-6, atol=1e-6
    )


def test_relu_max_pool_module_prints_as_what_runs() -> None:
    layer = nn.ReLUMaxPool2d(3, stride=2, padding=1)
    assert layer.extra_repr() == "kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False"
    x = rand(2, 3, 9, 9)
    ours = odyssey.tensor(x, requires_grad=True)
    y = layer(ours)
    assert y._node.name == "ReluMaxPool2DWithIndicesBackward0"
    expected = F.relu_max_pool2d(odyssey.tensor(x), 3, 2, 1)
    np.testing.assert_array_equal(y.data, expected.data)
    assert list(layer.state_dict()) == []


def test_sequential_runs_its_modules_as_listed() -> None:
    calls: list[str] = []

    class Recorder(nn.Module):
        def __init__(self, name: str, inner: nn.Module) -> None:
            super().__init__()
            self.name, self.inner = name, inner

        def forward(self, x: Any) -> Any:
            calls.append(self.name)
            return self.inner(x)

    model = nn.Sequential(Recorder("relu", nn.ReLU()), Recorder("pool", nn.MaxPool2d(2)))
    model(odyssey.tensor(rand(1, 1, 4, 4)))
    assert calls == ["relu", "pool"]
    # Plain ReLU then MaxPool2d run in that order too: no reordering behind the listing.
    seen: list[str] = []
    relu, pool = nn.ReLU(), nn.MaxPool2d(2)
    relu.forward = lambda x: (seen.append("relu"), F.relu(x))[1]  # type: ignore[method-assign]
    pool.forward = lambda x: (seen.append("pool"), F.max_pool2d(x, 2))[1]  # type: ignore[method-assign]
    nn.Sequential(relu, pool)(odyssey.tensor(rand(1, 1, 4, 4)))
    assert seen == ["relu", "pool"]


def test_fused_layer_gives_the_bits_of_relu_then_max_pool_in_a_sequential() -> None:
    x = rand(4, 3, 9, 9) - 0.2
    g = rand(4, 3, 4, 4, seed=1)
    results = []
    for model in (
        nn.Sequential(nn.ReLU(), nn.MaxPool2d(2)),
        nn.Sequential(nn.ReLUMaxPool2d(2)),
    ):
        t = odyssey.tensor(x, requires_grad=True)
        y = model(t)
        y.backward(odyssey.tensor(g))
        results.append((y.data + 0.0, t.grad.data))  # + 0.0: -0.0 and +0.0 alike
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_sequential_keeps_its_checkpoint_keys_with_the_fused_layer_under_the_old_names() -> None:
    old = nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 3)
    )
    renumbered = nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.ReLUMaxPool2d(2), nn.Flatten(), nn.Linear(8, 3)
    )
    assert "4.weight" in old.state_dict()
    assert "3.weight" in renumbered.state_dict()
    named = nn.Sequential(
        OrderedDict(
            [
                ("0", nn.Conv2d(1, 2, 3)),
                ("2", nn.ReLUMaxPool2d(2)),
                ("3", nn.Flatten()),
                ("4", nn.Linear(8, 3)),
            ]
        )
    )
    named.load_state_dict(old.state_dict())
    assert list(named.state_dict()) == list(old.state_dict())
    x = odyssey.tensor(rand(2, 1, 6, 6))
    np.testing.assert_array_equal(named(x).data, old(x).data)


class TestBadArguments:
    x = odyssey.tensor(np.zeros((2, 3, 8, 8), np.float32))

    def test_padding_over_half_the_window(self) -> None:
        with pytest.raises(ValueError, match=r"max_pool2d: padding \(2, 2\) must be at most half"):
            F.max_pool2d(self.x, 3, padding=2)
        with pytest.raises(ValueError, match=r"avg_pool2d: padding must be >= 0"):
            F.avg_pool2d(self.x, 3, padding=-1)

    def test_dilation_and_divisor(self) -> None:
        with pytest.raises(ValueError, match=r"max_pool2d: dilation must be >= 1"):
            F.max_pool2d(self.x, 3, dilation=0)
        with pytest.raises(ValueError, match=r"avg_pool2d: divisor_override must not be 0"):
            F.avg_pool2d(self.x, 3, divisor_override=0)
        with pytest.raises(ValueError, match=r"AvgPool2d: divisor_override must not be 0"):
            nn.AvgPool2d(3, divisor_override=0)

    def test_no_window_fits(self) -> None:
        with pytest.raises(
            ValueError, match=r"kernel_size \(5, 5\) is larger .* dilation \(2, 2\)"
        ):
            F.max_pool2d(self.x, 5, dilation=2)

    def test_adaptive_output_size(self) -> None:
        with pytest.raises(ValueError, match=r"adaptive_avg_pool2d: output_size must be >= 1"):
            F.adaptive_avg_pool2d(self.x, 0)
        with pytest.raises(TypeError, match=r"adaptive_max_pool2d: output_size must be an int"):
            F.adaptive_max_pool2d(self.x, (1, 2, 3))
        with pytest.raises(ValueError, match=r"AdaptiveAvgPool2d: output_size must be >= 1"):
            nn.AdaptiveAvgPool2d((0, None))
        empty = odyssey.tensor(np.zeros((1, 1, 0, 4), np.float32))
        with pytest.raises(ValueError, match=r"adaptive_max_pool2d: input .* has empty planes"):
            F.adaptive_max_pool2d(empty, 1)

    def test_local_response_norm(self) -> None:
        with pytest.raises(ValueError, match=r"local_response_norm: size must be >= 1"):
            F.local_response_norm(self.x, 0)
        with pytest.raises(ValueError, match=r"local_response_norm: input must have 3 or more"):
            F.local_response_norm(odyssey.tensor(np.zeros((2, 3), np.float32)), 2)


def test_lenet5_modern_runs_its_fused_layers_visibly_with_the_same_bits_and_keys() -> None:
    """papers/lenet5's LeNet5Modern holds its two ReLU + max-pool steps as ReLUMaxPool2d layers
    (s2, s4): they print and hook as layers, add no state_dict key (checkpoints load as before),
    and give the bits of the F.relu_max_pool2d calls the model made before."""
    model_module = load_model_module(Path(__file__).resolve().parents[1] / "papers" / "lenet5")
    odyssey.manual_seed(0)
    model = model_module.LeNet5Modern()
    assert [k for k in model.state_dict()] == [
        f"{layer}.{kind}"
        for layer in ("c1", "c3", "f5", "f6", "output")
        for kind in ("weight", "bias")
    ]
    assert isinstance(model.s2, nn.ReLUMaxPool2d)
    assert isinstance(model.s4, nn.ReLUMaxPool2d)
    x = rand(5, 1, 28, 28)
    ours = odyssey.tensor(x, requires_grad=True)
    out = model(ours)
    out.sum().backward()
    grads = {name: p.grad.data.copy() for name, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = None
    # The forward pass as the model wrote it before its pools were layers.
    before = odyssey.tensor(x, requires_grad=True)
    h = F.relu_max_pool2d(model.c1(before), 2)
    h = F.relu_max_pool2d(model.c3(h), 2).flatten(1)
    reference = model.output(F.relu(model.f6(F.relu(model.f5(h)))))
    reference.sum().backward()
    np.testing.assert_array_equal(out.data, reference.data)
    np.testing.assert_array_equal(ours.grad.data, before.grad.data)
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(grads[name], p.grad.data)


def test_an_unbatched_image_pools_as_a_batch_of_one() -> None:
    """PyTorch accepts (C, H, W) inputs: the result and gradient of the batch of one, unbatched."""
    x = rand(3, 9, 8)
    calls = [
        lambda t: F.max_pool2d(t, 3, 2, 1, ceil_mode=True),
        lambda t: F.relu_max_pool2d(t, 2),
        lambda t: F.avg_pool2d(t, 3, 2, 1, count_include_pad=False),
        lambda t: F.adaptive_avg_pool2d(t, (2, None)),
        lambda t: F.adaptive_max_pool2d(t, 3),
    ]
    for call in calls:
        single = odyssey.tensor(x, requires_grad=True)
        batch = odyssey.tensor(x[None], requires_grad=True)
        y, y_batch = call(single), call(batch)
        assert y.shape == y_batch.shape[1:]
        np.testing.assert_array_equal(y.data, y_batch.data[0])
        y.sum().backward()
        y_batch.sum().backward()
        np.testing.assert_array_equal(single.grad.data, batch.grad.data[0])
    y, index = F.max_pool2d(odyssey.tensor(x), 2, return_indices=True)
    assert index.shape == y.shape == (3, 4, 4)
    with pytest.raises(ValueError, match=r"max_pool2d: input must be 4-D .* got shape \(9, 8\)"):
        F.max_pool2d(odyssey.tensor(x[0]), 2)
