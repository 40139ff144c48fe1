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


# -- dtype objects -----------------------------------------------------------------------------


def test_dtype_objects_have_pytorchs_names_and_equal_numpys():
    t = odyssey.tensor([1.0])
    assert t.dtype is odyssey.float32
    assert odyssey.tensor([1]).dtype is odyssey.int64
    assert odyssey.tensor([True]).dtype is odyssey.bool
    assert repr(odyssey.float32) == "odyssey.float32"
    assert str(odyssey.int64) == "odyssey.int64"
    for ours, numpy_type in [
        (odyssey.float32, np.float32),
        (odyssey.float64, np.float64),
        (odyssey.int64, np.int64),
        (odyssey.int32, np.int32),
        (odyssey.uint8, np.uint8),
        (odyssey.bool, np.bool_),
    ]:
        assert ours == numpy_type
        assert numpy_type == ours
        assert ours == np.dtype(numpy_type)
        assert np.dtype(numpy_type) == ours
        assert ours != (np.int8 if numpy_type is not np.int8 else np.int16)
        assert hash(ours) == hash(np.dtype(numpy_type))
        assert np.zeros(2, dtype=ours).dtype == numpy_type
        assert np.dtype(ours) == numpy_type
        assert isinstance(ours, odyssey.dtype)
    assert odyssey.float32 != odyssey.float64
    assert odyssey.float64 != None  # noqa: E711 - np.dtype(None) would be float64
    assert odyssey.float is odyssey.float32
    assert odyssey.long is odyssey.int64
    assert odyssey.double is odyssey.float64
    assert odyssey.int is odyssey.int32
    assert odyssey.float32.is_floating_point
    assert not odyssey.int64.is_floating_point
    assert odyssey.int64.is_signed
    assert not odyssey.uint8.is_signed
    assert odyssey.float64.itemsize == 8
    assert odyssey.int32.kind == "i"


def test_dtype_objects_pickle_to_themselves():
    import pickle

    assert pickle.loads(pickle.dumps(odyssey.int64)) is odyssey.int64


def test_dtype_objects_are_accepted_wherever_a_dtype_is():
    assert odyssey.tensor([1, 2], dtype=odyssey.float64).data.dtype == np.float64
    assert odyssey.zeros(2, dtype=odyssey.int32).dtype is odyssey.int32
    assert odyssey.ones(2, dtype=odyssey.uint8).data.dtype == np.uint8
    assert odyssey.zeros_like(odyssey.tensor([1, 2]), dtype=odyssey.bool).dtype is odyssey.bool
    assert odyssey.full((2,), 7, dtype=odyssey.float32).dtype is odyssey.float32
    assert odyssey.arange(3, dtype=odyssey.float64).dtype is odyssey.float64


def test_to_converts_dtype():
    t = odyssey.tensor([1.5, -2.0])
    assert t.to(odyssey.float32) is t
    assert t.to(odyssey.float32, copy=True) is not t
    assert t.to("cpu") is t
    assert t.to(odyssey.int64).tolist() == [1, -2]
    assert t.to(dtype=np.float64).dtype is odyssey.float64
    assert t.to(odyssey.tensor([1])).dtype is odyssey.int64
    assert t.to("cpu", odyssey.float64).dtype is odyssey.float64
    with pytest.raises(ValueError, match=r"Tensor\.to: device 'cuda' is not available"):
        t.to("cuda")


def test_repr_names_dtypes_and_grad_fn_as_pytorch():
    assert repr(odyssey.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(odyssey.tensor([True])) == "tensor([ True])"
    assert repr(odyssey.tensor([1.0], dtype=odyssey.float64)) == (
        "tensor([1.], dtype=odyssey.float64)"
    )
    assert (
        repr(odyssey.tensor([1, 2], dtype=odyssey.int32)) == "tensor([1, 2], dtype=odyssey.int32)"
    )
    x = odyssey.tensor([1.0], requires_grad=True)
    assert repr(x + 1) == "tensor([2.], grad_fn=<AddBackward0>)"
    assert (x + 1).grad_fn.name == "AddBackward0"
    assert repr((x * 2).grad_fn).startswith("<MulBackward0 object at 0x")
    assert x.grad_fn is None
    with odyssey.no_grad():
        assert (x + 1).grad_fn is None


# -- factories ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [(5,), (2, 9), (1, 10, 3), (10, 1, -2), (0, 1, 0.1), (1, 2.5, 0.5), (-1.5, 1.0, 0.3), (3, 3)],
)
def test_arange_matches_pytorch(args):
    torch = pytest.importorskip("torch")
    ours = odyssey.arange(*args)
    theirs = torch.arange(*args)
    assert ours.dtype == theirs.numpy().dtype
    # Equal but where start + i * step cancels to about 0: PyTorch fuses it (one rounding).
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-7, atol=1e-15)


def test_arange_and_full():
    np.testing.assert_array_equal(odyssey.arange(4).data, [0, 1, 2, 3])
    assert odyssey.arange(4).dtype is odyssey.int64
    assert odyssey.arange(0.0, 1.0, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert odyssey.arange(0.0, 1.0, 0.25).dtype is odyssey.float32
    x = odyssey.full((2, 3), 1.5)
    assert x.shape == (2, 3)
    assert x.dtype is odyssey.float32
    assert (x.data == 1.5).all()
    assert odyssey.full([2], 3).dtype is odyssey.int64
    assert odyssey.full(2, True).dtype is odyssey.bool
    assert odyssey.full((2,), 1.0, requires_grad=True).requires_grad
    like = odyssey.full_like(odyssey.tensor([[1, 2]]), 7)
    assert like.dtype is odyssey.int64
    assert like.tolist() == [[7, 7]]
    assert odyssey.full_like(odyssey.tensor([1, 2]), 0.5, dtype=odyssey.float32).tolist() == [
        0.5,
        0.5,
    ]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: odyssey.arange(0, 5, 0), ValueError, "arange: step must be nonzero"),
        (lambda: odyssey.arange(0, 5, -1), ValueError, "arange: the step -1 points away"),
        (lambda: odyssey.arange("3"), TypeError, "arange: end must be a number"),
        (lambda: odyssey.arange(0, float("inf")), ValueError, "arange: end must be finite"),
        (lambda: odyssey.full((2,), "x"), TypeError, "full: fill_value must be a number"),
        (lambda: odyssey.full((-1,), 1.0), ValueError, "full: sizes must be >= 0"),
    ],
)
def test_factory_errors_name_the_function(call, error, message):
    with pytest.raises(error, match=message):
        call()


# -- joining, cutting, selecting ---------------------------------------------------------------


def numbers(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def test_cat_stack_split_chunk_forward():
    a, b = numbers(2, 3), numbers(4, 3, seed=1)
    np.testing.assert_array_equal(odyssey.cat([odyssey.tensor(a), odyssey.tensor(b)]).data,
                                  np.concatenate([a, b]))  # fmt: skip
    c = numbers(2, 5, seed=2)
    joined = odyssey.cat((odyssey.tensor(a), odyssey.tensor(c)), dim=-1)
    np.testing.assert_array_equal(joined.data, np.concatenate([a, c], axis=1))
    empty = odyssey.cat([odyssey.tensor(a), odyssey.zeros(0)])  # PyTorch's legacy skip
    np.testing.assert_array_equal(empty.data, a)
    mixed = odyssey.cat([odyssey.tensor([1, 2]), odyssey.tensor([0.5])])
    assert mixed.dtype is odyssey.float32
    assert mixed.tolist() == [1.0, 2.0, 0.5]
    stacked = odyssey.stack([odyssey.tensor(a), odyssey.tensor(a * 2)], dim=1)
    np.testing.assert_array_equal(stacked.data, np.stack([a, a * 2], axis=1))
    x = odyssey.tensor(numbers(5, 4))
    assert [p.shape for p in x.split(2)] == [(2, 4), (2, 4), (1, 4)]
    assert [p.shape for p in odyssey.split(x, [1, 3], dim=1)] == [(5, 1), (5, 3)]
    assert [p.shape for p in x.chunk(3)] == [(2, 4), (2, 4), (1, 4)]
    assert [p.shape for p in odyssey.chunk(x, 4, 1)] == [(5, 1)] * 4
    assert [p.shape for p in odyssey.zeros(6).chunk(4)] == [(2,), (2,), (2,)]
    assert [p.shape for p in odyssey.zeros(0).chunk(3)] == [(0,)] * 3
    np.testing.assert_array_equal(odyssey.cat(x.split(2)).data, x.data)


def test_clamp_where_maximum_minimum_t_expand_gather_forward():
    x = odyssey.tensor([[-2.0, 0.5, 3.0], [np.nan, 1.0, -0.5]])
    np.testing.assert_array_equal(x.clamp(-1, 1).data, [[-1, 0.5, 1], [np.nan, 1, -0.5]])
    np.testing.assert_array_equal(x.clamp(min=0).data, [[0, 0.5, 3], [np.nan, 1, 0]])
    np.testing.assert_array_equal(odyssey.clip(x, max=0).data, [[-2, 0, 0], [np.nan, 0, -0.5]])
    np.testing.assert_array_equal(x.clamp(2, 1).data[0], [1, 1, 1])  # min > max: max everywhere
    low = odyssey.tensor([0.0, 0.75, -1.0])
    np.testing.assert_array_equal(x.clamp(low).data, [[0, 0.75, 3], [np.nan, 1, -0.5]])
    ints = odyssey.tensor([1, 2, 3]).clamp(0.5, 2.5)
    assert ints.dtype is odyssey.float32
    assert ints.tolist() == [1.0, 2.0, 2.5]
    chosen = odyssey.where(x > 0, x, 0.0)
    np.testing.assert_array_equal(chosen.data, [[0, 0.5, 3], [0, 1, 0]])
    assert chosen.dtype is odyssey.float32
    np.testing.assert_array_equal(x.where(x < 0, -x).data, [[-2, -0.5, -3], [np.nan, -1, -0.5]])
    y = odyssey.tensor([[0.0, 1.0, 3.0]])
    np.testing.assert_array_equal(odyssey.maximum(x, y).data, [[0, 1, 3], [np.nan, 1, 3]])
    np.testing.assert_array_equal(x.minimum(y).data, [[-2, 0.5, 3], [np.nan, 1, -0.5]])
    m = odyssey.tensor(numbers(2, 3))
    np.testing.assert_array_equal(m.t().data, m.data.T)
    assert odyssey.tensor([1.0, 2.0]).t().shape == (2,)
    np.testing.assert_array_equal(y.expand(2, 3).data, [[0, 1, 3], [0, 1, 3]])
    np.testing.assert_array_equal(y.expand(2, -1, -1).data, np.broadcast_to(y.data, (2, 1, 3)))
    assert y.expand_as(m).shape == (2, 3)
    index = odyssey.tensor([[2, 0], [1, 1]])
    np.testing.assert_array_equal(
        m.gather(1, index).data, np.take_along_axis(m.data, index.data, 1)
    )
    np.testing.assert_array_equal(
        odyssey.gather(m, 0, odyssey.tensor([[1, 0]])).data, [[m.data[1, 0], m.data[0, 1]]]
    )


def test_tensor_ops_match_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(3, 4)).astype(np.float32)
    index = rng.integers(0, 4, (3, 6))
    o_a, o_b, t_a, t_b = (odyssey.tensor(a), odyssey.tensor(b), torch.tensor(a), torch.tensor(b))
    cases = [
        (odyssey.cat([o_a, o_b], 1), torch.cat([t_a, t_b], 1)),
        (odyssey.stack([o_a, o_b], -1), torch.stack([t_a, t_b], -1)),
        (o_a.clamp(-0.5, 0.5), t_a.clamp(-0.5, 0.5)),
        (o_a.clamp(o_b), t_a.clamp(t_b)),
        (odyssey.where(o_a > o_b, o_a, o_b), torch.where(t_a > t_b, t_a, t_b)),
        (odyssey.maximum(o_a, o_b), torch.maximum(t_a, t_b)),
        (odyssey.minimum(o_a, o_b[:1]), torch.minimum(t_a, t_b[:1])),
        (o_a.t(), t_a.t()),
        (o_a[:1].expand(2, 3, 4), t_a[:1].expand(2, 3, 4)),
        (o_a.gather(1, odyssey.tensor(index)), t_a.gather(1, torch.tensor(index))),
    ]
    cases += list(zip(o_a.split([1, 2]), t_a.split([1, 2]), strict=True))
    cases += list(zip(o_a.chunk(3, 1), t_a.chunk(3, 1), strict=True))
    for ours, theirs in cases:
        np.testing.assert_array_equal(ours.data, theirs.numpy())


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda x: odyssey.cat([]), ValueError, "cat: expected a non-empty list"),
        (lambda x: odyssey.cat(x), TypeError, "cat: tensors must be a list or tuple"),
        (
            lambda x: odyssey.cat([x, x[:, :1]]),
            ValueError,
            "cat: tensors must match in every dim but 0",
        ),
        (lambda x: odyssey.cat([x, 1]), TypeError, r"cat: tensors\[1\] must be a Tensor"),
        (lambda x: odyssey.stack([x, x[:1]]), ValueError, "stack: tensors must have one shape"),
        (lambda x: x.split(0), ValueError, "split: split_size must be > 0"),
        (lambda x: x.split([1, 2]), ValueError, r"split: sizes \[1, 2\] must add up to 2"),
        (lambda x: x.chunk(0), ValueError, "chunk: chunks must be an int >= 1"),
        (lambda x: x.clamp(), ValueError, "Tensor.clamp: at least one of min and max"),
        (lambda x: x.clamp("a"), TypeError, "Tensor.clamp: min must be a number"),
        (lambda x: odyssey.where(x, x, x), TypeError, "where: condition must be a bool tensor"),
        (lambda x: odyssey.maximum(x, 1.0), TypeError, "maximum: other must be a Tensor"),
        (lambda x: x.reshape(2, 3, 1).t(), ValueError, "Tensor.t: expects a tensor of at most 2"),
        (lambda x: x.expand(3, 3), ValueError, "Tensor.expand: size 3 at dim 0 must match"),
        (lambda x: x.expand(3), ValueError, "Tensor.expand: 1 sizes"),
        (lambda x: x.expand(-1, 2, 3), ValueError, "not allowed for the new leading dim 0"),
        (lambda x: x.gather(1, odyssey.tensor([[3]])), IndexError, "gather: index 3 is out of"),
        (
            lambda x: x.gather(1, odyssey.tensor([[1.0]])),
            TypeError,
            "gather: index must be an int64",
        ),
        (lambda x: x.gather(1, odyssey.tensor([1])), ValueError, "must have as many dims"),
        (lambda x: x.gather(0, odyssey.tensor([[0, 0, 0, 0]])), ValueError, "larger than input"),
    ],
)
def test_tensor_op_errors_name_the_function(call, error, message):
    with pytest.raises(error, match=message):
        call(odyssey.tensor(numbers(2, 3)))


@pytest.mark.parametrize(
    ("op", "make"),
    [
        ("full", lambda: odyssey.full((2,), 1, requires_grad=True)),
        ("arange", lambda: odyssey.arange(3, requires_grad=True)),
        ("zeros", lambda: odyssey.zeros(2, dtype=odyssey.int64, requires_grad=True)),
        ("tensor", lambda: odyssey.tensor([1, 2], requires_grad=True)),
        ("Tensor.requires_grad_", lambda: odyssey.zeros(2).long().requires_grad_()),
    ],
)
def test_integer_tensors_cannot_require_grad_naming_the_call(op, make) -> None:
    with pytest.raises(TypeError, match=rf"^{op}: only floating-point tensors can require"):
        make()


def test_full_like_names_itself() -> None:
    with pytest.raises(TypeError, match=r"^full_like: fill_value must be a number, got str"):
        odyssey.full_like(odyssey.zeros(2), "x")
