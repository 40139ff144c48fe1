"""nn.utils.clip_grad_norm_ and clip_grad_value_ against torch.nn.utils and NumPy: values, every
norm type, parameters without gradients, non-finite norms, errors, thread-count independence.

How close to torch: odyssey accumulates each gradient's norm in float64 and rounds it to float32
(torch rounds its per-tensor norms to float32 too, then takes the norm of those), so its total norm
is within an ulp of the float64 value of that formula; torch accumulates in float32 and is off by up
to about 1e-6 relative for the 2-norm and 1e-5 for other p on 10^5 values. The inf-norm and the
clipping coefficient's arithmetic (reciprocal(total + 1e-6) * max_norm, clamped to 1) are exact, so
with the inf-norm the clipped gradients equal torch's bit for bit.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest

import odyssey
from odyssey import Tensor, nn
from odyssey.nn.utils import clip_grad_norm_, clip_grad_value_

SHAPES = [(7, 3), (33,), (2, 3, 5, 5), (300, 100)]
NORM_TYPES = [2.0, 1.0, math.inf, 3.0, 0.5, 0.0, -1.0, -math.inf]


def gradients(seed: int, shapes: list[tuple[int, ...]] = SHAPES) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=s) * rng.uniform(0.1, 3.0)).astype(np.float32) for s in shapes]


def with_grads(grads: list[np.ndarray | None]) -> list[nn.Parameter]:
    params = []
    for index, grad in enumerate(grads):
        shape = grad.shape if grad is not None else (index + 1,)
        param = nn.Parameter(np.zeros(shape, np.float32))
        param.grad = None if grad is None else Tensor(grad.copy())
        params.append(param)
    return params


def reference_norm(grads: list[np.ndarray], norm_type: float) -> float:
    """The norm of the float32-rounded per-gradient norms, all in float64."""

    def norm(x: np.ndarray) -> float:
        x = np.abs(x.astype(np.float64).ravel())
        if math.isinf(norm_type):
            return float(x.max() if norm_type > 0 else x.min())
        if norm_type == 0:
            return float(np.count_nonzero(x))
        with np.errstate(divide="ignore"):
            return float(np.sum(x**norm_type) ** (1 / norm_type))

    return norm(np.array([norm(g) for g in grads], np.float32))


@pytest.mark.parametrize("norm_type", NORM_TYPES)
@pytest.mark.parametrize("max_norm", [0.5, 1e9])
def test_matches_torch_and_numpy(norm_type: float, max_norm: float) -> None:
    torch = pytest.importorskip("torch")
    grads = gradients(0)
    params = with_grads(grads)
    theirs = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for their, grad in zip(theirs, grads, strict=True):
        their.grad = torch.tensor(grad)
    total = clip_grad_norm_(params, max_norm, norm_type)
    torch_total = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type, foreach=False)
    assert isinstance(total, Tensor)
    assert total.data.shape == ()
    assert total.data.dtype == np.float32
    expected = reference_norm(grads, norm_type)
    np.testing.assert_allclose(total.data, expected, rtol=2e-7)
    rtol = 0 if math.isinf(norm_type) or norm_type == 0 else 2e-6 if norm_type == 2 else 2e-5
    np.testing.assert_allclose(total.data, torch_total.numpy(), rtol=rtol)
    coefficient = min(np.float32(1) / (np.float32(expected) + np.float32(1e-6)) * max_norm, 1.0)
    for param, their, grad in zip(params, theirs, grads, strict=True):
        np.testing.assert_allclose(param.grad.data, grad * coefficient, rtol=1e-6)
        np.testing.assert_allclose(param.grad.data, their.grad.numpy(), rtol=rtol + 1e-7)
        if math.isinf(norm_type) or norm_type == 0:
            assert param.grad.data.tobytes() == their.grad.numpy().tobytes()
        if max_norm > 1e8:
            assert param.grad.data.tobytes() == grad.tobytes()  # unclipped: multiplied by 1


def test_the_norm_is_the_norm_of_the_concatenation() -> None:
    grads = gradients(1)
    flat = np.concatenate([g.ravel() for g in grads]).astype(np.float64)
    total = clip_grad_norm_(with_grads(grads), 1e9)
    np.testing.assert_allclose(total.data, np.sqrt(np.sum(flat * flat)), rtol=3e-7)
    total = clip_grad_norm_(with_grads(grads), 1e9, norm_type="inf")
    assert total.data == np.abs(flat).max()


def test_clipped_gradients_have_the_max_norm() -> None:
    params = with_grads(gradients(2))
    before = clip_grad_norm_(params, 2.0)
    assert before.data > 2.0
    after = clip_grad_norm_(params, 1e9)
    np.testing.assert_allclose(after.data, 2.0, rtol=1e-6)


def test_a_single_tensor_a_generator_and_missing_gradients() -> None:
    torch = pytest.importorskip("torch")
    grads = gradients(3, [(4, 5), (6,)])
    params = with_grads([grads[0], None, grads[1]])
    theirs = [torch.zeros(p.data.shape, requires_grad=True) for p in params]
    theirs[0].grad, theirs[2].grad = torch.tensor(grads[0]), torch.tensor(grads[1])
    total = clip_grad_norm_((p for p in params), 1.0)
    torch_total = torch.nn.utils.clip_grad_norm_((t for t in theirs), 1.0)
    np.testing.assert_allclose(total.data, torch_total.numpy(), rtol=2e-7)
    assert params[1].grad is None
    single = with_grads([grads[0]])[0]
    total = clip_grad_norm_(single, 1.0, norm_type=1)
    np.testing.assert_allclose(total.data, np.abs(grads[0].astype(np.float64)).sum(), rtol=2e-7)


def test_no_gradients_give_a_zero_norm() -> None:
    params = with_grads([None, None])
    total = clip_grad_norm_(params, 1.0)
    assert total.data.shape == ()
    assert total.data.dtype == np.float32
    assert total.data == 0.0
    assert clip_grad_norm_([], 1.0).data == 0.0
    with pytest.warns(UserWarning, match="`parameters` is an empty generator"):
        clip_grad_norm_((p for p in []), 1.0)


def test_an_empty_gradient_has_norm_zero() -> None:
    params = with_grads([np.zeros((0, 3), np.float32), np.full(4, 2.0, np.float32)])
    np.testing.assert_allclose(clip_grad_norm_(params, 1e9).data, 4.0)
    with pytest.raises(RuntimeError, match="cannot compute the inf norm of an empty gradient"):
        clip_grad_norm_(params, 1.0, norm_type=math.inf)


@pytest.mark.parametrize("bad", [math.inf, math.nan])
def test_non_finite_norms_like_torch(bad: float) -> None:
    torch = pytest.importorskip("torch")
    grads = gradients(4, [(3, 4), (5,)])
    grads[1][2] = bad
    params = with_grads(grads)
    message = (
        "clip_grad_norm_: The total norm of order 2.0 for gradients from `parameters` is "
        "non-finite, so it cannot be clipped. To disable this error and scale the gradients by "
        "the non-finite norm anyway, set `error_if_nonfinite=False`"
    )
    with pytest.raises(RuntimeError, match=re.escape(message)):
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    for param, grad in zip(params, grads, strict=True):  # nothing was scaled
        assert param.grad.data.tobytes() == grad.tobytes()
    theirs = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for their, grad in zip(theirs, grads, strict=True):
        their.grad = torch.tensor(grad)
    with pytest.raises(RuntimeError, match=re.escape(message.removeprefix("clip_grad_norm_: "))):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
    total = clip_grad_norm_(params, 1.0)
    torch_total = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    np.testing.assert_array_equal(total.data, torch_total.numpy())
    for param, their in zip(params, theirs, strict=True):
        np.testing.assert_array_equal(param.grad.data, their.grad.numpy())


def test_bytes_do_not_depend_on_the_thread_count(threads: None) -> None:
    grads = gradients(5, [(1000, 300), (300,), (7, 7)])
    results = []
    for count in (1, 2):
        odyssey.set_num_threads(count)
        params = with_grads(grads)
        total = clip_grad_norm_(params, 0.1)
        results.append(total.data.tobytes() + b"".join(p.grad.data.tobytes() for p in params))
        params = with_grads(grads)
        clip_grad_value_(params, 0.5)
        results[-1] += b"".join(p.grad.data.tobytes() for p in params)
    assert results[0] == results[1]


@pytest.mark.parametrize("clip_value", [0.5, 2, 0.0, math.inf])
def test_clip_grad_value_matches_torch_and_numpy(clip_value: float) -> None:
    torch = pytest.importorskip("torch")
    grads = gradients(6)
    grads[0][0, 0] = math.nan
    grads[1][3] = -math.inf
    params = with_grads([grads[0], None, *grads[1:]])
    theirs = [torch.tensor(g) for g in grads]
    assert clip_grad_value_(params, clip_value) is None
    for t in theirs:
        t.clamp_(min=-clip_value, max=clip_value)
    assert params[1].grad is None
    present = [p for p in params if p.grad is not None]
    for param, their, grad in zip(present, theirs, grads, strict=True):
        bound = np.float32(clip_value)
        np.testing.assert_array_equal(param.grad.data, np.clip(grad, -bound, bound))
        np.testing.assert_array_equal(param.grad.data, their.numpy())


def test_clip_grad_value_takes_a_single_tensor() -> None:
    param = with_grads([np.array([-3.0, 0.25, 3.0], np.float32)])[0]
    clip_grad_value_(param, 1)
    np.testing.assert_array_equal(param.grad.data, [-1.0, 0.25, 1.0])


def test_exported_like_torch() -> None:
    assert nn.utils.clip_grad_norm_ is clip_grad_norm_
    assert nn.utils.clip_grad_value_ is clip_grad_value_
    params = with_grads(gradients(7, [(3,)]))
    total = nn.utils.get_total_norm([p.grad for p in params])
    assert total.data > 0.1
    nn.utils.clip_grads_with_norm_(params, 0.1, total)
    np.testing.assert_allclose(np.linalg.norm(params[0].grad.data), 0.1, rtol=1e-5)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda p: clip_grad_norm_(np.zeros(3), 1.0), TypeError, "clip_grad_norm_: parameters "),
        (lambda p: clip_grad_norm_(5, 1.0), TypeError, "an iterable of Tensors, got int"),
        (lambda p: clip_grad_norm_([p, 3], 1.0), TypeError, "but item 1 is int"),
        (lambda p: clip_grad_norm_(p, "1"), TypeError, "max_norm must be a real number, got str"),
        (lambda p: clip_grad_norm_(p, 1.0, "two"), ValueError, "norm_type must be a real number"),
        (lambda p: clip_grad_norm_(p, 1.0, None), TypeError, "norm_type must be a real number"),
        (lambda p: clip_grad_norm_(p, 1.0, math.nan), ValueError, "norm_type must not be NaN"),
        (lambda p: clip_grad_value_([p, None], 1.0), TypeError, "clip_grad_value_: parameters"),
        (lambda p: clip_grad_value_(p, None), TypeError, "clip_value must be a real number"),
        (lambda p: clip_grad_value_(p, 1e40), RuntimeError, "clip_value 1e+40 cannot be converted"),
    ],
)
def test_argument_errors(call: Any, error: type, message: str) -> None:
    param = with_grads([np.ones(3, np.float32)])[0]
    with pytest.raises(error, match=re.escape(message)):
        call(param)
    np.testing.assert_array_equal(param.grad.data, np.ones(3))
