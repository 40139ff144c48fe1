"""Elementwise kernels through the bindings: every ISA against NumPy and the scalar reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import odyssey
from odyssey import _kernels

SIZES = [0, 1, 3, 7, 15, 16, 17, 31, 33, 1000003]
SPECIALS = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1e-45, -1e-40], dtype=np.float32)


def random_floats(n: int, seed: int) -> np.ndarray:
    values = np.random.default_rng(seed).normal(0.0, 10.0, n).astype(np.float32)
    values[::11] = np.resize(SPECIALS, values[::11].shape)
    return values


def misaligned(values: np.ndarray, offset_floats: int) -> np.ndarray:
    """A contiguous float32 view starting `offset_floats` past a 64-byte boundary."""
    raw = np.empty(values.size * 4 + 128, dtype=np.uint8)
    start = (-raw.ctypes.data) % 64 + 4 * offset_floats
    view = raw[start : start + values.size * 4].view(np.float32)
    view[...] = values
    return view


def reference_relu(x: np.ndarray) -> np.ndarray:
    """0 > x ? 0 : x, as the kernels define it: NaN propagates, -0.0 is kept."""
    return np.where(x < 0, np.float32(0), x)


def assert_same_bits(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.dtype == np.float32
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(actual.view(np.uint32), expected.view(np.uint32))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("offset", [0, 1, 3])
def test_binary_and_relu_match_numpy_bit_for_bit(isa: str, n: int, offset: int) -> None:
    a = misaligned(random_floats(n, 1), offset)
    b = misaligned(random_floats(n, 2), offset)
    with np.errstate(invalid="ignore", over="ignore"):
        assert_same_bits(_kernels.add(a, b), a + b)
        assert_same_bits(_kernels.mul(a, b), a * b)
    assert_same_bits(_kernels.relu(a), reference_relu(a))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("offset", [0, 1])
def test_sum_matches_float64_reference(isa: str, n: int, offset: int) -> None:
    values = np.random.default_rng(n).uniform(-1.0, 1.0, n).astype(np.float32)
    x = misaligned(values, offset)
    expected = values.astype(np.float64).sum()
    tolerance = 1e-6 * np.abs(values).astype(np.float64).sum() + 1e-6
    assert abs(_kernels.sum(x) - expected) <= tolerance


@pytest.mark.parametrize("n", [17, 1000003])
def test_every_isa_matches_the_scalar_reference(n: int) -> None:
    a, b = random_floats(n, 5), random_floats(n, 6)
    finite = np.nan_to_num(a, nan=0.5, posinf=1.0, neginf=-1.0)
    results = {}
    previous = odyssey.cpu_info()["isa_selected"]
    try:
        for name in odyssey.cpu_info()["isa_available"]:
            odyssey.set_isa(name)
            with np.errstate(invalid="ignore", over="ignore"):
                results[name] = (
                    _kernels.add(a, b),
                    _kernels.mul(a, b),
                    _kernels.relu(a),
                    _kernels.sum(finite),
                )
    finally:
        odyssey.set_isa(previous)
    reference = results.pop("scalar")
    scale = float(np.abs(finite).astype(np.float64).sum())
    for add, mul, relu, total in results.values():
        assert_same_bits(add, reference[0])
        assert_same_bits(mul, reference[1])
        assert_same_bits(relu, reference[2])
        assert abs(total - reference[3]) <= 1e-6 * scale


@settings(max_examples=60, deadline=None)
@given(
    shape=st.lists(st.integers(0, 9), min_size=0, max_size=3),
    offset=st.integers(0, 15),
    seed=st.integers(0, 2**31),
)
def test_any_shape_and_offset(shape: list[int], offset: int, seed: int) -> None:
    n = int(np.prod(shape))
    a = misaligned(random_floats(n, seed), offset).reshape(shape)
    b = misaligned(random_floats(n, seed + 1), offset).reshape(shape)
    with np.errstate(invalid="ignore", over="ignore"):
        assert_same_bits(_kernels.add(a, b), a + b)
        assert_same_bits(_kernels.mul(a, b), a * b)
    assert_same_bits(_kernels.relu(a), reference_relu(a))


def test_sum_is_bitwise_identical_for_every_thread_count(isa: str, threads: None) -> None:
    x = np.random.default_rng(3).normal(0.0, 1.0, 1000003).astype(np.float32)
    totals = []
    for n in (1, 2, 3, 8):
        odyssey.set_num_threads(n)
        totals.append(np.float32(_kernels.sum(x)).tobytes())
    assert len(set(totals)) == 1


def test_elementwise_is_identical_for_every_thread_count(isa: str, threads: None) -> None:
    a, b = random_floats(300007, 8), random_floats(300007, 9)
    outputs = []
    for n in (1, 2, 5):
        odyssey.set_num_threads(n)
        with np.errstate(invalid="ignore", over="ignore"):
            outputs.append(_kernels.mul(a, b).tobytes() + _kernels.relu(a).tobytes())
    assert len(set(outputs)) == 1


def test_out_is_written_and_returned() -> None:
    a = np.arange(10, dtype=np.float32).reshape(2, 5)
    b = np.full((2, 5), 2.0, dtype=np.float32)
    out = np.empty_like(a)
    assert _kernels.add(a, b, out=out) is out
    np.testing.assert_array_equal(out, a + b)
    assert _kernels.relu(a - 4, out=out) is out
    np.testing.assert_array_equal(out, np.maximum(a - 4, 0))


def test_out_may_be_an_input() -> None:
    a = np.linspace(-3, 3, 100001, dtype=np.float32)
    expected = a * a
    _kernels.mul(a, a, out=a)
    np.testing.assert_array_equal(a, expected)
    x = np.linspace(-1, 1, 99, dtype=np.float32)
    _kernels.relu(x, out=x)
    assert (x >= 0).all()


def test_sum_of_empty_and_of_a_scalar_array() -> None:
    assert _kernels.sum(np.zeros(0, dtype=np.float32)) == 0.0
    assert _kernels.sum(np.array(2.5, dtype=np.float32)) == 2.5
    assert _kernels.sum(np.ones((3, 0, 4), dtype=np.float32)) == 0.0


class TestBadInput:
    def test_wrong_dtype_names_both_dtypes(self) -> None:
        with pytest.raises(TypeError, match=r"a: expected dtype float32, got float64"):
            _kernels.add(np.zeros(3), np.zeros(3, dtype=np.float32))
        with pytest.raises(TypeError, match=r"x: expected dtype float32, got int64"):
            _kernels.sum(np.arange(3))
        with pytest.raises(TypeError, match=r"out: expected dtype float32, got float16"):
            _kernels.relu(np.zeros(3, np.float32), out=np.zeros(3, np.float16))

    def test_non_native_byte_order_is_rejected(self) -> None:
        with pytest.raises(TypeError, match="float32"):
            _kernels.relu(np.zeros(3, dtype=">f4"))

    def test_not_an_array(self) -> None:
        with pytest.raises(TypeError, match=r"x: expected a numpy.ndarray of float32, got list"):
            _kernels.relu([1.0, 2.0])
        with pytest.raises(TypeError, match="got NoneType"):
            _kernels.sum(None)

    def test_non_contiguous(self) -> None:
        x = np.zeros((4, 6), dtype=np.float32)
        with pytest.raises(
            ValueError, match=r"b: expected a C-contiguous array, got shape \(4, 3\)"
        ):
            _kernels.add(x[:, ::2].copy(), x[:, ::2])
        with pytest.raises(ValueError, match="C-contiguous"):
            _kernels.sum(x.T)

    def test_shape_mismatch_names_both_shapes(self) -> None:
        a = np.zeros((2, 3), dtype=np.float32)
        b = np.zeros((3, 2), dtype=np.float32)
        with pytest.raises(ValueError, match=r"a has shape \(2, 3\) but b has shape \(3, 2\)"):
            _kernels.mul(a, b)
        with pytest.raises(ValueError, match=r"out has shape \(6,\) but a has shape \(2, 3\)"):
            _kernels.add(a, a, out=np.zeros(6, dtype=np.float32))

    def test_read_only_out(self) -> None:
        out = np.zeros(4, dtype=np.float32)
        out.flags.writeable = False
        with pytest.raises(ValueError, match="read-only"):
            _kernels.relu(np.ones(4, dtype=np.float32), out=out)

    def test_out_partially_overlapping_an_input(self) -> None:
        buffer = np.arange(20, dtype=np.float32)
        with pytest.raises(ValueError, match="out partially overlaps x"):
            _kernels.relu(buffer[:10], out=buffer[5:15])
        with pytest.raises(ValueError, match="out partially overlaps b"):
            _kernels.add(buffer[10:20].copy(), buffer[:10], out=buffer[1:11])

    def test_byte_misaligned_data(self) -> None:
        x = np.zeros(41, dtype=np.uint8)[1:].view(np.float32)
        assert not x.flags.aligned
        with pytest.raises(ValueError, match="aligned to 4 bytes"):
            _kernels.sum(x)
