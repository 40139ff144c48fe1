"""Tensor basics: construction, dtypes, conversions, factories, shape ops and comparisons."""

from __future__ import annotations

import numpy as np
import pytest

import odyssey
from odyssey import Tensor


def test_float_data_becomes_float32_and_ints_int64():
    assert odyssey.tensor([1.0, 2.0]).dtype == np.float32
    assert odyssey.tensor(np.zeros(3, dtype=np.float64)).dtype == np.float32
    assert odyssey.tensor([1, 2, 3]).dtype == np.int64
    assert odyssey.tensor(np.arange(3, dtype=np.int32)).dtype == np.int64
    assert odyssey.tensor([1, 2], dtype=np.float32).dtype == np.float32
    assert odyssey.tensor([True, False]).dtype == np.bool_


def test_tensor_copies_and_is_c_contiguous():
    source = np.arange(12, dtype=np.float32).reshape(3, 4).T
    t = odyssey.tensor(source)
    assert t.data.flags.c_contiguous
    source[0, 0] = 100
    assert t.data[0, 0] == 0


def test_attributes():
    t = odyssey.tensor(np.ones((2, 3, 4)))
    assert t.shape == (2, 3, 4)
    assert t.ndim == 3
    assert t.dim() == 3
    assert t.size() == (2, 3, 4)
    assert t.size(1) == 3
    assert t.size(-1) == 4
    assert t.numel() == 24
    assert len(t) == 2
    assert t.is_leaf


def test_requires_grad_only_for_floats():
    with pytest.raises(TypeError, match="floating-point"):
        odyssey.tensor([1, 2], requires_grad=True)


def test_conversions():
    t = odyssey.tensor([[1.5, 2.0]])
    assert t.numpy() is t.data
    np.testing.assert_array_equal(np.asarray(t), t.data)
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert odyssey.tensor([3.5]).item() == 3.5
    assert float(odyssey.tensor(2.0)) == 2.0
    with pytest.raises(ValueError, match="2 elements"):
        t.item()
    assert t.tolist() == [[1.5, 2.0]]
    assert t.long().dtype == np.int64
    assert odyssey.tensor([1]).float().dtype == np.float32


def test_numpy_of_a_tensor_requiring_grad_needs_detach():
    t = odyssey.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        t.numpy()
    d = t.detach()
    assert not d.requires_grad
    assert d.data is t.data


def test_factories():
    odyssey.manual_seed(0)
    a = odyssey.randn(2, 3)
    odyssey.manual_seed(0)
    b = odyssey.randn((2, 3))
    np.testing.assert_array_equal(a.data, b.data)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(odyssey.zeros(2, 2).data, np.zeros((2, 2)))
    np.testing.assert_array_equal(odyssey.ones((3,)).data, np.ones(3))
    assert odyssey.zeros_like(a).shape == (2, 3)
    assert odyssey.ones_like(odyssey.tensor([1, 2])).dtype == np.int64
    assert odyssey.zeros(2, requires_grad=True).requires_grad


def test_arithmetic_broadcasts_like_numpy():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 1, 3)).astype(np.float32)
    b = rng.standard_normal((5, 1)).astype(np.float32)
    ta, tb = odyssey.tensor(a), odyssey.tensor(b)
    np.testing.assert_array_equal((ta + tb).data, a + b)
    np.testing.assert_array_equal((ta - tb).data, a - b)
    np.testing.assert_array_equal((ta * tb).data, a * b)
    np.testing.assert_array_equal((ta / tb).data, a / b)
    np.testing.assert_array_equal((2 - ta).data, 2 - a)
    np.testing.assert_array_equal((2 / ta).data, 2 / a)
    np.testing.assert_array_equal((b * tb).data, b * b)
    assert (ta + 1.0).dtype == np.float32
    assert (ta + np.ones(3)).dtype == np.float32


def test_reductions_and_shape_ops():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    t = odyssey.tensor(x)
    np.testing.assert_allclose(t.sum().data, x.sum())
    np.testing.assert_allclose(t.sum(1).data, x.sum(1))
    np.testing.assert_allclose(t.mean((0, 2), keepdim=True).data, x.mean((0, 2), keepdims=True))
    values, indices = t.max(2)
    assert t.max(2).values.shape == (2, 3)
    np.testing.assert_array_equal(values.data, x.max(2))
    np.testing.assert_array_equal(indices.data, x.argmax(2))
    assert indices.dtype == np.int64
    assert t.max().item() == 23
    assert t.argmax().item() == 23
    np.testing.assert_array_equal(t.argmax(1, keepdim=True).data, x.argmax(1)[:, None, :])
    assert t.reshape(6, 4).shape == (6, 4)
    assert t.view(-1).shape == (24,)
    assert t.flatten(1).shape == (2, 12)
    np.testing.assert_array_equal(t.permute(2, 0, 1).data, x.transpose(2, 0, 1))
    np.testing.assert_array_equal(t.transpose(0, 2).data, x.transpose(2, 1, 0))
    assert t.permute(2, 0, 1).data.flags.c_contiguous
    np.testing.assert_array_equal(t[0].T.data, x[0].T)
    with pytest.raises(ValueError, match="invalid for a tensor of shape"):
        t.reshape(5, 5)
    with pytest.raises(IndexError, match="out of range"):
        t.sum(3)


def test_indexing_along_the_batch():
    x = np.arange(20, dtype=np.float32).reshape(5, 4)
    t = odyssey.tensor(x)
    np.testing.assert_array_equal(t[1].data, x[1])
    np.testing.assert_array_equal(t[1:4:2].data, x[1:4:2])
    np.testing.assert_array_equal(t[np.array([4, 0, 4])].data, x[[4, 0, 4]])
    np.testing.assert_array_equal(t[odyssey.tensor([2, 1])].data, x[[2, 1]])
    assert t[1:3].data.flags.c_contiguous


def test_comparisons_have_no_grad():
    t = odyssey.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result, expected in [
        (t < 2, [True, False, False]),
        (t <= 2, [True, True, False]),
        (t > 2, [False, False, True]),
        (t >= 2, [False, True, True]),
        (t == 2, [False, True, False]),
        (t != 2, [True, False, True]),
    ]:
        assert not result.requires_grad
        np.testing.assert_array_equal(result.data, expected)
    accuracy = (odyssey.tensor([1, 2, 3]) == odyssey.tensor([1, 0, 3])).float().mean()
    assert accuracy.item() == pytest.approx(2 / 3)


def test_tensor_is_hashable_by_identity():
    a, b = odyssey.tensor([1.0]), odyssey.tensor([1.0])
    assert len({a, b}) == 2


def test_repr():
    assert repr(odyssey.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert "requires_grad=True" in repr(odyssey.tensor([1.0], requires_grad=True))
    assert isinstance(odyssey.tensor([1.0]), Tensor)


def test_from_numpy_shares_memory():
    array = np.zeros((2, 3), dtype=np.float32)
    t = odyssey.from_numpy(array)
    assert t.data is array
    assert odyssey.from_numpy(np.arange(3)).dtype == np.int64
    with pytest.raises(TypeError, match=r"\(3,\) is float64"):
        odyssey.from_numpy(np.zeros(3))
    with pytest.raises(ValueError, match="not C-contiguous"):
        odyssey.from_numpy(array.T)


# -- errors name the public call, the argument and what was expected --------------------------


def test_grad_must_be_a_tensor_of_the_same_shape_and_dtype():
    p = odyssey.zeros(3, requires_grad=True)
    with pytest.raises(TypeError, match=r"Tensor\.grad: expected a Tensor or None, got ndarray"):
        p.grad = np.zeros(3, np.float32)  # type: ignore[assignment]
    with pytest.raises(ValueError, match=r"Tensor\.grad: expected shape \(3,\), got \(2,\)"):
        p.grad = odyssey.zeros(2)
    with pytest.raises(TypeError, match=r"Tensor\.grad: expected dtype float32, got int64"):
        p.grad = odyssey.zeros(3, dtype=np.int64)
    assert p.grad is None  # a refused assignment changes nothing
    p.grad = odyssey.ones(3)
    np.testing.assert_array_equal(p.grad.numpy(), np.ones(3, np.float32))
    p.grad = None
    assert p.grad is None


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda t: t.sum(1.5), TypeError, r"Tensor\.sum: dim must be an int, a tuple .* got float"),
        (lambda t: t.sum("0"), TypeError, r"Tensor\.sum: dim must be an int, a tuple of ints"),
        (lambda t: t.mean((0, 0)), ValueError, r"Tensor\.mean: dim \(0, 0\) names a dimension"),
        (lambda t: t.sum(True), TypeError, r"Tensor\.sum: dim must be an int, a tuple .* got bool"),
        (lambda t: t.max(2), IndexError, r"Tensor\.max: dim 2 is out of range for a tensor of 2"),
        (lambda t: t.argmax(None, True) + t.argmax(0.0), TypeError, r"Tensor\.argmax: dim must"),
        (lambda t: t.size(-3), IndexError, r"Tensor\.size: dim -3 is out of range"),
        (lambda t: t.flatten(0, "1"), TypeError, r"Tensor\.flatten: end_dim must be an int, got"),
        (lambda t: t.unsqueeze(3), IndexError, r"Tensor\.unsqueeze: dim 3 is out of range"),
        (lambda t: t.squeeze(2.0), TypeError, r"Tensor\.squeeze: dim must be an int, got float"),
        (lambda t: t.transpose(0, None), TypeError, r"Tensor\.transpose: dim1 must be an int"),
        (lambda t: t.permute(0, 1.0), TypeError, r"Tensor\.permute: dims must be ints, got float"),
        (lambda t: t.reshape(3, 2.0), TypeError, r"Tensor\.reshape: sizes must be ints, got floa"),
    ],
)
def test_dim_arguments_are_checked(call, error, message):
    with pytest.raises(error, match=message):
        call(odyssey.zeros(2, 3))


def test_dims_as_pytorch_takes_them():
    t = odyssey.tensor(np.arange(6.0).reshape(2, 3))
    assert t.sum([0, 1]).item() == 15
    assert t.sum(np.int64(-1)).tolist() == [3, 12]
    assert t.sum([]).item() == 15  # an empty list reduces every dim, as in PyTorch
    scalar = odyssey.tensor(4.0)
    assert scalar.sum(0).item() == 4
    assert scalar.mean(-1).item() == 4
    assert scalar.transpose(0, -1).item() == 4
    with pytest.raises(IndexError, match=r"Tensor\.size: dim 0 of a 0-d tensor"):
        scalar.size(0)


def test_zero_dimensional_results_keep_shape_empty():
    t = odyssey.tensor([1.0, 3.0])
    assert t[0].shape == ()
    assert t.argmax(0).shape == ()
    assert t.max(0).values.shape == ()
    assert t.max(0).indices.shape == ()
    x = odyssey.tensor(2.0, requires_grad=True)
    (x * 3).backward(odyssey.tensor(1.0))
    assert x.grad.shape == ()
    assert x.grad.item() == 3


def test_factory_and_conversion_messages_name_the_function():
    with pytest.raises(ValueError, match=r"zeros: sizes must be >= 0, got \(2, -1\)"):
        odyssey.zeros(2, -1)
    with pytest.raises(TypeError, match=r"ones: sizes must be ints, got float"):
        odyssey.ones(2.5)
    with pytest.raises(ValueError, match=r"zeros: cannot make a tensor of shape"):
        odyssey.zeros(2**62, 2**62)
    with pytest.raises(TypeError, match=r"randn: dtype 'bogus' is not a NumPy dtype"):
        odyssey.randn(2, dtype="bogus")
    with pytest.raises(TypeError, match=r"tensor: dtype complex64 is not supported"):
        odyssey.tensor([1.0], dtype=np.complex64)
    with pytest.raises(ValueError, match=r"tensor: cannot make a tensor of this data"):
        odyssey.tensor([[1.0], [2.0, 3.0]])
    with pytest.raises(OverflowError, match=r"tensor: cannot make a tensor of this data"):
        odyssey.tensor([2**63], dtype=np.int64)
    with pytest.raises(TypeError, match=r"Tensor\.backward: gradient must be a Tensor or array"):
        odyssey.zeros(2, requires_grad=True).backward("x")
