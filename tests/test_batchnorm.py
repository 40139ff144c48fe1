"""F.batch_norm and nn.BatchNorm1d/2d on the C++ kernels: forward and gradients against NumPy
references and finite differences, against PyTorch (skipped without it) in training and
evaluation, the running statistics as PyTorch updates them, and the same bits for every thread
count and every ISA-independent input placement."""

from __future__ import annotations

import numpy as np
import pytest

import odyssey
import odyssey.nn.functional as F
from odyssey import _kernels, nn

# (N, C) and (N, C, L) take the row path (fewer than 16 positions per channel), the others the
# plane path; 33 and 1025 leave partial vectors and partial steps on every ISA.
SHAPES = [(5, 3), (4, 3, 2), (3, 2, 5, 3), (4, 3, 33), (2, 3, 1025), (3, 4, 8, 8)]


def rand(*shape: int, seed: int = 0, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)


def axes_of(x: np.ndarray) -> tuple[int, ...]:
    return (0, *range(2, x.ndim))


def per_channel(v: np.ndarray, ndim: int) -> np.ndarray:
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def reference(x, w, b, eps=1e-5):
    """Batch-statistics normalisation in float64."""
    mean = x.mean(axis=axes_of(x), keepdims=True)
    var = x.var(axis=axes_of(x), keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * per_channel(w, x.ndim) + per_channel(b, x.ndim)


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2), (2, 3, 17)])
def test_training_gradients_by_finite_differences(gradcheck, shape):
    # Shifted inputs: the kernels centre by the mean, and a mean far from zero would show it.
    x = rand(*shape, low=1.0, high=3.0)
    w, b = rand(3, seed=1, low=0.5, high=1.5), rand(3, seed=2)
    gradcheck(
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        reference,
        [x, w, b],
        rtol=5e-3,
        atol=5e-3,
    )


@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 4, 5)])
def test_eval_gradients_by_finite_differences(gradcheck, shape):
    x = rand(*shape, low=-2.0, high=2.0)
    mean, var = rand(3, seed=3), rand(3, seed=4, low=0.5, high=2.0)
    m, v = per_channel(mean.astype(np.float64), x.ndim), per_channel(var.astype(np.float64), x.ndim)
    rm, rv = odyssey.tensor(mean), odyssey.tensor(var)
    gradcheck(
        lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=False),
        lambda x, w, b: (
            (x - m) / np.sqrt(v + 1e-5) * per_channel(w, x.ndim) + per_channel(b, x.ndim)
        ),
        [x, rand(3, seed=1), rand(3, seed=2)],
    )
    # Evaluation leaves the running statistics alone.
    np.testing.assert_array_equal(rm.data, mean)
    np.testing.assert_array_equal(rv.data, var)


@pytest.mark.parametrize("shape", SHAPES)
def test_running_statistics_update(shape):
    x = rand(*shape, low=2.0, high=4.0)
    rm, rv = odyssey.tensor(rand(shape[1], seed=5)), odyssey.tensor(rand(shape[1], seed=6) + 2)
    before_m, before_v = rm.data.astype(np.float64), rv.data.astype(np.float64)
    F.batch_norm(odyssey.tensor(x), rm, rv, training=True, momentum=0.3)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(
        rm.data, 0.7 * before_m + 0.3 * x64.mean(axis=axes_of(x)), rtol=1e-6, atol=1e-7
    )
    np.testing.assert_allclose(
        rv.data, 0.7 * before_v + 0.3 * x64.var(axis=axes_of(x), ddof=1), rtol=1e-6, atol=1e-7
    )


def test_variance_is_stable_far_from_zero():
    # A channel of 1e4 + small noise: E[x^2] - E[x]^2 in float32 would lose every digit.
    x = (1e4 + rand(64, 2, 7, 7, seed=7)).astype(np.float32)
    rm, rv = odyssey.zeros(2), odyssey.ones(2)
    y = F.batch_norm(odyssey.tensor(x), rm, rv, training=True, momentum=1.0)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(rv.data, x64.var(axis=(0, 2, 3), ddof=1), rtol=1e-6)
    np.testing.assert_allclose(y.data, reference(x64, np.ones(2), np.zeros(2)), atol=2e-3)


def test_optional_gradients_are_skipped():
    x = odyssey.tensor(rand(4, 3, 5, 5))
    w = odyssey.tensor(rand(3, seed=1), requires_grad=True)
    F.batch_norm(x, None, None, w, odyssey.zeros(3), training=True).sum().backward()
    assert x.grad is None
    # sum(y) does not depend on w: sum(x_hat) is 0 per channel.
    np.testing.assert_allclose(w.grad.data, 0.0, atol=1e-4)
    grad_x, grad_w, grad_b = _kernels.batch_norm_backward(
        np.ones((4, 3, 5, 5), np.float32),
        x.data,
        None,
        np.zeros(3, np.float32),
        np.ones(3, np.float32),
        training=True,
        input_grad=False,
        bias_grad=False,
    )
    assert grad_x is None
    assert grad_b is None
    assert grad_w.shape == (3,)


def test_same_bits_for_every_thread_count(threads):
    for shape in [(64, 300), (8, 6, 40, 41), (33, 70, 3)]:
        x = rand(*shape, seed=8, low=-3.0, high=5.0)
        g = rand(*shape, seed=9)
        results = []
        for count in (1, 2, 3):
            odyssey.set_num_threads(count)
            t = odyssey.tensor(x, requires_grad=True)
            w = odyssey.tensor(rand(shape[1], seed=1), requires_grad=True)
            rm, rv = odyssey.zeros(shape[1]), odyssey.ones(shape[1])
            y = F.batch_norm(t, rm, rv, w, None, training=True)
            y.backward(g)
            results.append(
                [a.tobytes() for a in (y.data, t.grad.data, w.grad.data, rm.data, rv.data)]
            )
        assert results[0] == results[1] == results[2], shape


def test_every_isa_matches_reference(isa):
    x = rand(6, 5, 9, 9, seed=10, low=-1.0, high=3.0)
    w, b = rand(5, seed=1), rand(5, seed=2)
    y = F.batch_norm(odyssey.tensor(x), None, None, odyssey.tensor(w), odyssey.tensor(b), True)
    np.testing.assert_allclose(y.data, reference(x.astype(np.float64), w, b), rtol=1e-5, atol=1e-5)


def test_grad_fn_is_named_as_pytorch():
    x = odyssey.tensor(rand(4, 3), requires_grad=True)
    assert F.batch_norm(x, None, None, training=True)._node.name == "NativeBatchNormBackward0"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda x: F.batch_norm(x, None, None), "needed when not training"),
        (lambda x: F.batch_norm(x, odyssey.zeros(3), None, training=True), "both be None"),
        (lambda x: F.batch_norm(x[:1], None, None, training=True), "more than 1 value"),
        (lambda x: F.batch_norm(x, None, None, training=True, eps=0.0), "eps must be positive"),
        (lambda x: F.batch_norm(x, odyssey.zeros(2), odyssey.ones(2)), "running_mean has shape"),
    ],
)
def test_bad_arguments_name_the_function(call, message):
    with pytest.raises(ValueError, match=f"batch_norm: .*{message}"):
        call(odyssey.tensor(rand(4, 3)))


def test_kernel_checks_the_running_statistics():
    x = rand(4, 3)
    with pytest.raises(ValueError, match="batch_norm_forward: running_mean is required"):
        _kernels.batch_norm_forward(x, training=False)
    with pytest.raises(ValueError, match=r"running_var .* shares memory with x"):
        _kernels.batch_norm_forward(x, None, None, np.zeros(3, np.float32), x[0], training=True)
    frozen = np.zeros(3, np.float32)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="running_mean"):
        _kernels.batch_norm_forward(x, None, None, frozen, np.ones(3, np.float32), training=True)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        _kernels.batch_norm_forward(x[:1], training=True)


# -- PyTorch ----------------------------------------------------------------------------------


def torch_or_skip():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_functional_matches_pytorch(shape, training, affine):
    torch = torch_or_skip()
    c = shape[1]
    x, g = rand(*shape, seed=11, low=-1.0, high=3.0), rand(*shape, seed=12)
    w, b = rand(c, seed=13, low=0.5, high=1.5), rand(c, seed=14)
    rm, rv = rand(c, seed=15), rand(c, seed=16, low=0.5, high=2.0)
    ox = odyssey.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    ow, ob = (odyssey.tensor(a, requires_grad=True) if affine else None for a in (w, b))
    tw, tb = (torch.tensor(a, requires_grad=True) if affine else None for a in (w, b))
    orm, orv, trm, trv = odyssey.tensor(rm), odyssey.tensor(rv), torch.tensor(rm), torch.tensor(rv)
    oy = F.batch_norm(ox, orm, orv, ow, ob, training, 0.2, 1e-3)
    ty = torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, training, 0.2, 1e-3)
    np.testing.assert_allclose(oy.data, ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(orm.data, trm.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(orv.data, trv.numpy(), rtol=1e-6, atol=1e-6)
    oy.backward(g)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(ox.grad.data, tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    if affine:
        np.testing.assert_allclose(ow.grad.data, tw.grad.numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(ob.grad.data, tb.grad.numpy(), rtol=1e-4, atol=1e-4)


def module_pair(torch, kind: str, **options):
    ours, theirs = getattr(nn, kind)(4, **options), getattr(torch.nn, kind)(4, **options)
    for name, seed in (("weight", 20), ("bias", 21)):  # non-trivial affine parameters in both
        if getattr(ours, name) is not None:
            value = rand(4, seed=seed, low=0.5, high=1.5)
            getattr(ours, name).data[...] = value
            getattr(theirs, name).data[...] = torch.tensor(value)
    return ours, theirs


@pytest.mark.parametrize(
    ("kind", "shape"),
    [("BatchNorm1d", (6, 4)), ("BatchNorm1d", (5, 4, 3)), ("BatchNorm2d", (3, 4, 5, 6))],
)
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"affine": False},
        {"track_running_stats": False},
        {"momentum": None},
        {"momentum": 0.5, "eps": 1e-3},
        {"bias": False},
    ],
)
def test_modules_match_pytorch_in_training_and_eval(kind, shape, options):
    torch = torch_or_skip()
    ours, theirs = module_pair(torch, kind, **options)
    for step in range(3):  # training: outputs, gradients and buffers step by step
        x, g = rand(*shape, seed=30 + step, low=-1.0, high=2.0), rand(*shape, seed=40 + step)
        ox, tx = odyssey.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        oy, ty = ours(ox), theirs(tx)
        np.testing.assert_allclose(oy.data, ty.detach().numpy(), rtol=1e-5, atol=1e-5)
        oy.backward(g)
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(ox.grad.data, tx.grad.numpy(), rtol=1e-4, atol=1e-5)
        for name, p in theirs.named_parameters():
            np.testing.assert_allclose(
                getattr(ours, name).grad.data, p.grad.numpy(), rtol=1e-4, atol=1e-4
            )
    assert set(ours.state_dict()) == set(theirs.state_dict())
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[name], value.numpy(), rtol=1e-6, atol=1e-6)
    ours.eval()
    theirs.eval()
    x = rand(*shape, seed=50, low=-1.0, high=2.0)
    ox, tx = odyssey.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    oy, ty = ours(ox), theirs(tx)
    np.testing.assert_allclose(oy.data, ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    oy.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(ox.grad.data, tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    for name, value in theirs.state_dict().items():  # evaluation leaves the buffers alone
        np.testing.assert_allclose(ours.state_dict()[name], value.numpy(), rtol=1e-6, atol=1e-6)


def test_extra_repr_is_pytorch_text():
    torch = torch_or_skip()
    for options in (
        {},
        {"momentum": None, "affine": False},
        {"track_running_stats": False},
        {"bias": False},
    ):
        ours, theirs = nn.BatchNorm2d(64, **options), torch.nn.BatchNorm2d(64, **options)
        assert ours.extra_repr() == theirs.extra_repr()
