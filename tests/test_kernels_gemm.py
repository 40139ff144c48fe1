"""sgemm through the binding: every ISA against NumPy in float64, thread determinism, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import odyssey
from odyssey import _kernels


def operands(
    m: int, n: int, k: int, trans_a: bool, trans_b: bool, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.uniform(-1, 1, (k, m) if trans_a else (m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (n, k) if trans_b else (k, n)).astype(np.float32)
    return a, b


def expected(
    a: np.ndarray,
    b: np.ndarray,
    trans_a: bool,
    trans_b: bool,
    alpha: float = 1.0,
    beta: float = 0.0,
    c: np.ndarray | None = None,
    bias: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The float64 result, and the sum of magnitudes that bounds float32 rounding error."""
    a64 = a.astype(np.float64).T if trans_a else a.astype(np.float64)
    b64 = b.astype(np.float64).T if trans_b else b.astype(np.float64)
    value = alpha * (a64 @ b64)
    magnitude = abs(alpha) * (np.abs(a64) @ np.abs(b64))
    if beta != 0.0 and c is not None:
        value += beta * c.astype(np.float64)
        magnitude += abs(beta) * np.abs(c.astype(np.float64))
    if bias is not None:
        value += bias.astype(np.float64)
        magnitude += np.abs(bias.astype(np.float64))
    return value, magnitude


def assert_close(actual: np.ndarray, value: np.ndarray, magnitude: np.ndarray, k: int) -> None:
    assert actual.dtype == np.float32
    assert actual.shape == value.shape
    tolerance = (k + 4) * np.finfo(np.float32).eps * magnitude + 1e-6
    assert np.all(np.abs(actual - value) <= tolerance)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    m=st.integers(1, 70),
    n=st.integers(1, 70),
    k=st.integers(1, 300),
    trans_a=st.booleans(),
    trans_b=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_matches_float64_numpy(
    isa: str, m: int, n: int, k: int, trans_a: bool, trans_b: bool, seed: int
) -> None:
    a, b = operands(m, n, k, trans_a, trans_b, seed)
    result = _kernels.sgemm(a, b, trans_a=trans_a, trans_b=trans_b)
    assert_close(result, *expected(a, b, trans_a, trans_b), k)


@pytest.mark.parametrize(("trans_a", "trans_b"), [(False, False), (False, True), (True, False)])
@pytest.mark.parametrize(
    ("m", "n", "k"), [(1, 1, 1), (64, 120, 400), (6, 784, 25), (257, 33, 1000)]
)
def test_alpha_beta_bias_and_out(
    isa: str, trans_a: bool, trans_b: bool, m: int, n: int, k: int
) -> None:
    a, b = operands(m, n, k, trans_a, trans_b, m * n + k)
    rng = np.random.default_rng(k)
    bias = rng.uniform(-1, 1, n).astype(np.float32)
    c = rng.uniform(-1, 1, (m, n)).astype(np.float32)
    out = c.copy()
    result = _kernels.sgemm(
        a, b, trans_a=trans_a, trans_b=trans_b, alpha=-0.5, beta=0.25, bias=bias, out=out
    )
    assert result is out
    assert_close(out, *expected(a, b, trans_a, trans_b, -0.5, 0.25, c, bias), k)


def test_beta_zero_never_reads_out(isa: str) -> None:
    a, b = operands(19, 37, 300, False, False, 1)
    out = np.full((19, 37), np.nan, dtype=np.float32)
    _kernels.sgemm(a, b, out=out)
    assert_close(out, *expected(a, b, False, False), 300)


def test_empty_and_zero_depth() -> None:
    assert _kernels.sgemm(np.zeros((0, 3), np.float32), np.zeros((3, 4), np.float32)).shape == (
        0,
        4,
    )
    bias = np.arange(4, dtype=np.float32)
    result = _kernels.sgemm(np.zeros((2, 0), np.float32), np.zeros((0, 4), np.float32), bias=bias)
    np.testing.assert_array_equal(result, np.broadcast_to(bias, (2, 4)))


@pytest.mark.parametrize(("trans_a", "trans_b"), [(False, False), (True, True)])
def test_bitwise_identical_for_every_thread_count(
    isa: str, threads: None, trans_a: bool, trans_b: bool
) -> None:
    a, b = operands(300, 200, 520, trans_a, trans_b, 5)
    bias = np.linspace(-1, 1, 200, dtype=np.float32)
    results = set()
    for count in (1, 2, 3):
        odyssey.set_num_threads(count)
        results.add(_kernels.sgemm(a, b, trans_a=trans_a, trans_b=trans_b, bias=bias).tobytes())
    assert len(results) == 1


def test_a_rows_bits_depend_on_the_batch_only_through_the_two_row_path(threads: None) -> None:
    """A·Bᵀ + bias of at most two rows (a Linear layer at batch 1 or 2) sums as dot products,
    larger ones in the tiled kernel (docs/kernels.md, Determinism): within each path a row's bits
    do not depend on the other rows or on the thread count, and the two paths agree to rounding."""
    a, b = operands(6, 120, 400, False, True, 11)
    bias = np.linspace(-1, 1, 120, dtype=np.float32)

    def rows(m: int) -> list[bytes]:
        results = set()
        for count in (1, 2):
            odyssey.set_num_threads(count)
            results.add(_kernels.sgemm(a[:m], b, trans_b=True, bias=bias).tobytes())
        assert len(results) == 1
        out = np.frombuffer(results.pop(), np.float32).reshape(m, 120)
        return [row.tobytes() for row in out]

    one, two, three, six = rows(1), rows(2), rows(3), rows(6)
    assert one[0] == two[0]  # the dot-product path
    assert three == six[:3]  # the tiled path
    value, magnitude = expected(a[:1], b, False, True, bias=bias)
    for row in (one[0], three[0]):
        assert_close(np.frombuffer(row, np.float32).reshape(1, 120), value, magnitude, 400)


def test_every_isa_matches_the_scalar_reference() -> None:
    a, b = operands(100, 90, 700, False, True, 9)
    previous = odyssey.cpu_info()["isa_selected"]
    results = {}
    try:
        for name in odyssey.cpu_info()["isa_available"]:
            odyssey.set_isa(name)
            results[name] = _kernels.sgemm(a, b, trans_b=True)
    finally:
        odyssey.set_isa(previous)
    reference = results.pop("scalar")
    _, magnitude = expected(a, b, False, True)
    for result in results.values():
        assert np.all(np.abs(result - reference) <= 2 * 704 * 1.2e-7 * magnitude + 1e-6)


class TestBadInput:
    def test_inner_dimensions_name_both_shapes(self) -> None:
        a, b = np.zeros((3, 4), np.float32), np.zeros((5, 2), np.float32)
        message = r"sgemm: inner dimensions differ: op\(a\) is \(3, 4\) but op\(b\) is \(5, 2\)"
        with pytest.raises(ValueError, match=message):
            _kernels.sgemm(a, b)
        with pytest.raises(ValueError, match=r"op\(a\) is \(4, 3\) but op\(b\) is \(5, 2\)"):
            _kernels.sgemm(a, b, trans_a=True)

    def test_wrong_ndim(self) -> None:
        with pytest.raises(ValueError, match=r"sgemm: a must be 2-D, got shape \(3,\)"):
            _kernels.sgemm(np.zeros(3, np.float32), np.zeros((3, 1), np.float32))
        with pytest.raises(ValueError, match=r"sgemm: b must be 2-D, got shape \(1, 3, 1\)"):
            _kernels.sgemm(np.zeros((1, 3), np.float32), np.zeros((1, 3, 1), np.float32))

    def test_wrong_dtype_and_type(self) -> None:
        with pytest.raises(TypeError, match="a: expected dtype float32, got float64"):
            _kernels.sgemm(np.zeros((2, 2)), np.zeros((2, 2), np.float32))
        with pytest.raises(TypeError, match=r"b: expected a numpy\.ndarray"):
            _kernels.sgemm(np.zeros((2, 2), np.float32), [[1.0, 2.0]])
        with pytest.raises(TypeError, match="bias: expected dtype float32, got int64"):
            _kernels.sgemm(
                np.zeros((2, 2), np.float32), np.zeros((2, 2), np.float32), bias=np.arange(2)
            )

    def test_non_contiguous(self) -> None:
        a = np.zeros((4, 4), np.float32)
        with pytest.raises(ValueError, match="a: expected a C-contiguous array"):
            _kernels.sgemm(a.T, a)
        with pytest.raises(ValueError, match="out: expected a C-contiguous array"):
            _kernels.sgemm(a, a, out=np.zeros((4, 8), np.float32)[:, ::2])

    def test_bias_shape(self) -> None:
        a = np.zeros((2, 3), np.float32)
        with pytest.raises(
            ValueError, match=r"bias has shape \(3,\) but the result \(2, 2\) needs \(2,\)"
        ):
            _kernels.sgemm(a, a, trans_b=True, bias=np.zeros(3, np.float32))
        with pytest.raises(ValueError, match=r"bias has shape \(1, 2\)"):
            _kernels.sgemm(a, a, trans_b=True, bias=np.zeros((1, 2), np.float32))

    def test_out_shape_and_read_only(self) -> None:
        a = np.zeros((2, 3), np.float32)
        with pytest.raises(ValueError, match=r"out has shape \(3, 3\) but the result is \(2, 2\)"):
            _kernels.sgemm(a, a, trans_b=True, out=np.zeros((3, 3), np.float32))
        out = np.zeros((2, 2), np.float32)
        out.flags.writeable = False
        with pytest.raises(ValueError, match="read-only"):
            _kernels.sgemm(a, a, trans_b=True, out=out)

    def test_keyword_arguments(self) -> None:
        a = np.ones((2, 2), np.float32)
        np.testing.assert_array_equal(
            _kernels.sgemm(a, a, trans_b=np.bool_(True), alpha=np.float32(0.5)), a
        )
        with pytest.raises(TypeError, match="sgemm: trans_a must be a bool, got int"):
            _kernels.sgemm(a, a, trans_a=1)
        with pytest.raises(TypeError, match="sgemm: alpha must be a real number, got str"):
            _kernels.sgemm(a, a, alpha="2")
        with pytest.raises(TypeError, match="unexpected keyword argument 'gamma'"):
            _kernels.sgemm(a, a, gamma=1.0)
        with pytest.raises(TypeError):
            _kernels.sgemm(a)
        with pytest.raises(TypeError):
            _kernels.sgemm(a, a, False)

    def test_beta_without_out(self) -> None:
        a = np.zeros((2, 2), np.float32)
        with pytest.raises(ValueError, match=r"beta = 0\.5.* pass it as out"):
            _kernels.sgemm(a, a, beta=0.5)

    def test_out_overlapping_an_input(self) -> None:
        a = np.ones((4, 4), np.float32)
        with pytest.raises(ValueError, match=r"sgemm: out \(.*\) shares memory with a"):
            _kernels.sgemm(a, np.eye(4, dtype=np.float32), out=a)
        buffer = np.zeros(20, np.float32)
        b = buffer[:16].reshape(4, 4)
        with pytest.raises(ValueError, match=r"sgemm: out \(.*\) shares memory with b"):
            _kernels.sgemm(np.ones((1, 4), np.float32), b, out=buffer[15:19].reshape(1, 4))
