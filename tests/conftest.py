"""Fixtures shared by the suites: run a test under every ISA the machine can run; gradcheck."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pytest

import odyssey

AVAILABLE_ISAS: list[str] = odyssey.cpu_info()["isa_available"]


@pytest.fixture(params=AVAILABLE_ISAS)
def isa(request: pytest.FixtureRequest) -> Iterator[str]:
    """Selects each runnable kernel variant in turn and restores the previous one."""
    previous = odyssey.cpu_info()["isa_selected"]
    odyssey.set_isa(request.param)
    yield request.param
    odyssey.set_isa(previous)


@pytest.fixture
def threads() -> Iterator[None]:
    """Lets a test change the thread count; restores it afterwards."""
    previous = odyssey.get_num_threads()
    yield
    odyssey.set_num_threads(previous)


def _gradcheck(
    function: Callable[..., odyssey.Tensor],
    reference: Callable[..., np.ndarray],
    inputs: Sequence[np.ndarray],
    rtol: float = 2e-3,
    atol: float = 2e-3,
    eps: float = 1e-6,
) -> None:
    """Checks `function` on float32 tensors against a float64 NumPy `reference`: the forward
    values, and every input's gradient of sum(output * w) for random weights w against central
    differences of the reference."""
    arrays = [np.asarray(a, dtype=np.float64) for a in inputs]
    tensors = [odyssey.tensor(a, requires_grad=True) for a in arrays]
    out = function(*tensors)
    expected = np.asarray(reference(*arrays), dtype=np.float64)
    np.testing.assert_allclose(out.data, expected, rtol=rtol, atol=atol)
    weights = np.random.default_rng(0).uniform(0.5, 1.5, expected.shape)
    (out * odyssey.tensor(weights)).sum().backward()
    for index, (array, t) in enumerate(zip(arrays, tensors, strict=True)):
        numeric = np.empty_like(array)
        flat = array.reshape(-1)
        for i in range(flat.size):
            saved = flat[i]
            flat[i] = saved + eps
            plus = float(np.sum(reference(*arrays) * weights))
            flat[i] = saved - eps
            minus = float(np.sum(reference(*arrays) * weights))
            flat[i] = saved
            numeric.reshape(-1)[i] = (plus - minus) / (2 * eps)
        assert t.grad is not None, f"input {index} got no gradient"
        assert t.grad.dtype == np.float32
        np.testing.assert_allclose(
            t.grad.data, numeric, rtol=rtol, atol=atol, err_msg=f"gradient of input {index}"
        )


@pytest.fixture
def gradcheck() -> Callable[..., None]:
    """`gradcheck(function, reference, inputs, rtol=, atol=)`: forward and finite differences."""
    return _gradcheck
