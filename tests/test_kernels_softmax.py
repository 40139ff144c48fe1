"""Softmax, log-softmax and softmax-cross-entropy through the bindings: forward against NumPy
(float64), backward against finite differences, logits of +-1e4, PyTorch, every ISA, thread-count
determinism and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import odyssey
from odyssey import _kernels

SHAPES = [(1, 1), (3, 7), (5, 16), (2, 17), (64, 10), (4, 33), (2, 1000)]


def logits(shape: tuple[int, int], seed: int, scale: float = 3.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, scale, shape).astype(np.float32)


def labels_for(rows: int, cols: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, cols, rows).astype(np.int64)


def softmax64(x: np.ndarray) -> np.ndarray:
    z = x.astype(np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def log_softmax64(x: np.ndarray) -> np.ndarray:
    z = x.astype(np.float64)
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def cross_entropy64(x: np.ndarray, labels: np.ndarray) -> float:
    return float(-log_softmax64(x)[np.arange(len(labels)), labels].mean())


def numeric_gradient(f, x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """Central differences of a float64 scalar function at every element of x."""
    x64 = x.astype(np.float64)
    grad = np.zeros_like(x64)
    for index in np.ndindex(x.shape):
        plus, minus = x64.copy(), x64.copy()
        plus[index] += h
        minus[index] -= h
        grad[index] = (f(plus) - f(minus)) / (2 * h)
    return grad


@pytest.mark.parametrize("shape", SHAPES)
def test_forward_matches_float64(isa: str, shape: tuple[int, int]) -> None:
    x = logits(shape, 1)
    np.testing.assert_allclose(_kernels.softmax(x), softmax64(x), rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(_kernels.log_softmax(x), log_softmax64(x), rtol=2e-6, atol=2e-6)
    labels = labels_for(shape[0], shape[1])
    loss, probs = _kernels.softmax_cross_entropy(x, labels)
    assert isinstance(loss, float)
    assert loss == pytest.approx(cross_entropy64(x, labels), rel=1e-6, abs=1e-6)
    np.testing.assert_allclose(probs, softmax64(x), rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (2, 17)])
def test_backward_matches_finite_differences(isa: str, shape: tuple[int, int]) -> None:
    x = logits(shape, 2)
    w = logits(shape, 3, scale=1.0).astype(np.float64)
    g = w.astype(np.float32)
    expected = numeric_gradient(lambda z: (w * softmax64(z)).sum(), x)
    got = _kernels.softmax_backward(g, _kernels.softmax(x))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    expected = numeric_gradient(lambda z: (w * log_softmax64(z)).sum(), x)
    got = _kernels.log_softmax_backward(g, _kernels.log_softmax(x))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    labels = labels_for(shape[0], shape[1])
    expected = numeric_gradient(lambda z: cross_entropy64(z, labels), x)
    _, probs = _kernels.softmax_cross_entropy(x, labels)
    got = _kernels.softmax_cross_entropy_backward(probs, labels, 1.0 / shape[0])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


def test_cross_entropy_backward_formula(isa: str) -> None:
    probs = softmax64(logits((6, 5), 4)).astype(np.float32)
    labels = np.array([0, 4, 2, 2, 1, 3], dtype=np.int64)
    expected = (probs - np.eye(5, dtype=np.float32)[labels]) * np.float32(0.5)
    np.testing.assert_array_equal(
        _kernels.softmax_cross_entropy_backward(probs, labels, 0.5), expected
    )
    out = probs.copy()
    assert _kernels.softmax_cross_entropy_backward(out, labels, 0.5, out=out) is out
    np.testing.assert_array_equal(out, expected)


def test_large_logits_stay_finite(isa: str) -> None:
    x = np.array(
        [[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4], [-1e4, 1e4, 5.0]],
        dtype=np.float32,
    )
    labels = np.array([1, 0, 2, 1], dtype=np.int64)
    loss, probs = _kernels.softmax_cross_entropy(x, labels)
    assert np.isfinite(loss)
    assert loss == pytest.approx(cross_entropy64(x, labels), rel=1e-6)
    np.testing.assert_allclose(probs, softmax64(x), atol=1e-7)
    np.testing.assert_allclose(_kernels.log_softmax(x), log_softmax64(x), rtol=1e-6)
    assert np.isfinite(_kernels.softmax_cross_entropy_backward(probs, labels, 0.25)).all()
    y = _kernels.softmax(x)
    assert np.isfinite(_kernels.softmax_backward(np.ones_like(x), y)).all()
    log_y = _kernels.log_softmax(x)
    assert np.isfinite(_kernels.log_softmax_backward(np.ones_like(x), log_y)).all()


def test_matches_torch(isa: str) -> None:
    torch = pytest.importorskip("torch")
    x = logits((64, 10), 5, scale=1e3)
    labels = labels_for(64, 10)
    tx = torch.from_numpy(x).requires_grad_()
    expected = torch.nn.functional.cross_entropy(tx, torch.from_numpy(labels))
    expected.backward()
    loss, probs = _kernels.softmax_cross_entropy(x, labels)
    assert loss == pytest.approx(expected.item(), rel=1e-6)
    grad = _kernels.softmax_cross_entropy_backward(probs, labels, 1 / 64)
    np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=1e-5, atol=1e-8)


def test_empty_batch() -> None:
    x = np.zeros((0, 10), np.float32)
    loss, probs = _kernels.softmax_cross_entropy(x, np.zeros(0, np.int64))
    assert np.isnan(loss)
    assert probs.shape == (0, 10)
    assert _kernels.softmax(x).shape == (0, 10)
    assert _kernels.log_softmax(np.zeros((3, 0), np.float32)).shape == (3, 0)


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(0, 6),
    cols=st.integers(1, 40),
    scale=st.sampled_from([0.1, 3.0, 100.0]),
    seed=st.integers(0, 2**31),
)
def test_every_isa_matches_the_scalar_reference(
    rows: int, cols: int, scale: float, seed: int
) -> None:
    x = logits((rows, cols), seed, scale)
    g = logits((rows, cols), seed + 1, 1.0)
    labels = labels_for(rows, cols, seed)
    previous = odyssey.cpu_info()["isa_selected"]
    results = {}
    try:
        for name in odyssey.cpu_info()["isa_available"]:
            odyssey.set_isa(name)
            loss, probs = _kernels.softmax_cross_entropy(x, labels)
            results[name] = (
                _kernels.softmax(x),
                _kernels.log_softmax(x),
                probs,
                loss,
                _kernels.softmax_backward(g, softmax64(x).astype(np.float32)),
            )
    finally:
        odyssey.set_isa(previous)
    reference = results.pop("scalar")
    for softmax, log_softmax, probs, loss, backward in results.values():
        np.testing.assert_allclose(softmax, reference[0], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(log_softmax, reference[1], rtol=1e-6, atol=1e-5)
        np.testing.assert_allclose(probs, reference[2], rtol=1e-6, atol=1e-7)
        if rows:
            assert loss == pytest.approx(reference[3], rel=1e-6, abs=1e-6)
        np.testing.assert_allclose(backward, reference[4], rtol=1e-5, atol=1e-6)


def test_identical_for_every_thread_count(isa: str, threads: None) -> None:
    x = logits((5003, 10), 6)
    labels = labels_for(5003, 10)
    outputs = []
    for n in (1, 2, 3, 8):
        odyssey.set_num_threads(n)
        loss, probs = _kernels.softmax_cross_entropy(x, labels)
        y = _kernels.log_softmax(x)
        outputs.append(
            np.float64(loss).tobytes()
            + probs.tobytes()
            + y.tobytes()
            + _kernels.log_softmax_backward(x, y).tobytes()
            + _kernels.softmax_backward(x, probs).tobytes()
        )
    assert len(set(outputs)) == 1


class TestBadInput:
    def test_wrong_ndim(self) -> None:
        with pytest.raises(ValueError, match=r"softmax: x must be 2-D .* got shape \(10,\)"):
            _kernels.softmax(np.zeros(10, np.float32))
        with pytest.raises(ValueError, match=r"log_softmax: x must be 2-D"):
            _kernels.log_softmax(np.zeros((2, 3, 4), np.float32))
        with pytest.raises(ValueError, match=r"softmax_cross_entropy: logits must be 2-D"):
            _kernels.softmax_cross_entropy(np.zeros(3, np.float32), np.zeros(3, np.int64))

    def test_backward_shapes(self) -> None:
        with pytest.raises(ValueError, match=r"grad_out has shape \(2, 3\) but y has shape"):
            _kernels.softmax_backward(np.zeros((2, 3), np.float32), np.zeros((3, 2), np.float32))
        with pytest.raises(ValueError, match=r"log_softmax_backward: y must be 2-D"):
            _kernels.log_softmax_backward(np.zeros((2, 3), np.float32), np.zeros(6, np.float32))

    def test_label_out_of_range_names_label_and_row(self) -> None:
        x = np.zeros((3, 4), np.float32)
        with pytest.raises(ValueError, match=r"label 4 in row 2 is out of range for 4 classes"):
            _kernels.softmax_cross_entropy(x, np.array([0, 3, 4], np.int64))
        with pytest.raises(ValueError, match=r"label -1 in row 0"):
            _kernels.softmax_cross_entropy_backward(x, np.array([-1, 0, 0], np.int64), 1.0)
        with pytest.raises(ValueError, match=r"label 0 in row 0 is out of range for 0 classes"):
            _kernels.softmax_cross_entropy(np.zeros((1, 0), np.float32), np.zeros(1, np.int64))

    def test_labels_type_and_shape(self) -> None:
        x = np.zeros((3, 4), np.float32)
        with pytest.raises(TypeError, match=r"labels: expected dtype int64, got int32"):
            _kernels.softmax_cross_entropy(x, np.zeros(3, np.int32))
        with pytest.raises(TypeError, match=r"labels: expected a numpy\.ndarray"):
            _kernels.softmax_cross_entropy(x, [0, 1, 2])
        with pytest.raises(ValueError, match=r"labels must have shape \(3,\).*got \(2,\)"):
            _kernels.softmax_cross_entropy(x, np.zeros(2, np.int64))
        with pytest.raises(ValueError, match=r"labels must have shape \(3,\).*got \(3, 1\)"):
            _kernels.softmax_cross_entropy(x, np.zeros((3, 1), np.int64))
        with pytest.raises(ValueError, match="C-contiguous"):
            _kernels.softmax_cross_entropy(x, np.zeros(6, np.int64)[::2])
        with pytest.raises(TypeError, match=r"logits: expected dtype float32, got float64"):
            _kernels.softmax_cross_entropy(np.zeros((3, 4)), np.zeros(3, np.int64))

    def test_out_sharing_labels_memory(self) -> None:
        labels = np.zeros(4, np.int64)
        out = labels.view(np.float32).reshape(2, 4)
        with pytest.raises(ValueError, match=r"out .* shares memory with labels"):
            _kernels.softmax_cross_entropy_backward(
                np.zeros((2, 4), np.float32), labels[:2], 1.0, out=out
            )
