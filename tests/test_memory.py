"""odyssey.memory: kernel outputs come from the buffer cache, freed ones are reused, and the
counters, limit and switches behave as torch.cuda's memory functions do."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import numpy as np
import pytest
from python_run import run_python

import odyssey
import odyssey.nn.functional as F
from odyssey import _kernels, memory


@pytest.fixture(autouse=True)
def default_limit() -> Iterator[None]:
    limit = memory.memory_stats()["cache_limit_bytes"]
    yield
    memory.set_cache_limit(limit)


def conv_output() -> np.ndarray:
    x = np.ones((4, 3, 20, 20), np.float32)
    w = np.ones((8, 3, 3, 3), np.float32)
    return _kernels.conv2d_forward(x, w, None)


def test_kernel_outputs_are_aligned_cache_buffers() -> None:
    gc.collect()
    before = memory.memory_allocated()
    y = conv_output()
    assert y.ctypes.data % 64 == 0
    assert y.flags.c_contiguous
    assert y.flags.writeable
    assert y.dtype == np.float32
    assert memory.memory_allocated() >= before + y.nbytes
    del y
    assert memory.memory_allocated() == before


def test_a_freed_buffer_is_reused_by_the_next_request_of_its_size() -> None:
    first = conv_output()
    address = first.ctypes.data
    del first
    hits = memory.memory_stats()["cache_hits"]
    second = conv_output()
    assert second.ctypes.data == address
    assert memory.memory_stats()["cache_hits"] == hits + 1


def test_reused_buffers_give_the_same_bits_as_fresh_ones() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 3, 16, 16), dtype=np.float32)
    w = rng.standard_normal((5, 3, 3, 3), dtype=np.float32)
    memory.empty_cache()
    fresh = _kernels.conv2d_forward(x, w, None, padding=1).tobytes()
    garbage = [_kernels.conv2d_forward(x * 3, w, None, padding=1) for _ in range(3)]
    del garbage  # the cache now holds buffers full of other values
    assert _kernels.conv2d_forward(x, w, None, padding=1).tobytes() == fresh


def test_peak_and_reset() -> None:
    gc.collect()
    memory.reset_peak_memory_stats()
    start = memory.memory_allocated()
    assert memory.max_memory_allocated() == start
    big = _kernels.sgemm(np.ones((512, 256), np.float32), np.ones((256, 512), np.float32))
    del big
    assert memory.max_memory_allocated() >= start + 512 * 512 * 4
    assert memory.memory_allocated() == start
    memory.reset_peak_memory_stats()
    assert memory.max_memory_allocated() == start


def test_empty_cache_and_the_limit() -> None:
    y = conv_output()
    del y
    assert memory.memory_stats()["cached_bytes"] > 0
    assert (
        memory.memory_reserved()
        == memory.memory_allocated() + memory.memory_stats()["cached_bytes"]
    )
    memory.empty_cache()
    assert memory.memory_stats()["cached_bytes"] == 0
    memory.set_cache_limit(0)
    assert memory.memory_stats()["cache_limit_bytes"] == 0
    del_me = conv_output()
    del del_me
    assert memory.memory_stats()["cached_bytes"] == 0


@pytest.mark.parametrize("limit", [-1, 2**64, 1.5, "1000", None, True])
def test_set_cache_limit_names_its_argument(limit: object) -> None:
    error = ValueError if type(limit) is int else TypeError
    with pytest.raises(
        error, match=r"^set_cache_limit: limit must be an int from 0 to 2\*\*64 - 1 \(bytes\), got "
    ):
        memory.set_cache_limit(limit)  # type: ignore[arg-type]


def test_a_training_step_reuses_its_buffers() -> None:
    model = odyssey.nn.Sequential(
        odyssey.nn.Conv2d(1, 4, 3), odyssey.nn.ReLU(), odyssey.nn.MaxPool2d(2),
        odyssey.nn.Flatten(), odyssey.nn.Linear(4 * 13 * 13, 10),
    )  # fmt: skip
    x = odyssey.randn(16, 1, 28, 28)
    labels = np.arange(16) % 10

    def step() -> None:
        model.zero_grad()
        F.cross_entropy(model(x), labels).backward()

    step()
    step()
    gc.collect()
    before = memory.memory_stats()
    step()
    after = memory.memory_stats()
    assert after["allocations"] > before["allocations"]
    assert after["system_allocations"] == before["system_allocations"]


def test_the_limit_from_the_environment() -> None:
    result = run_python(
        "import odyssey; print(odyssey.memory.memory_stats()['cache_limit_bytes'])",
        ODYSSEY_BUFFER_CACHE_LIMIT="12345",
    )
    assert result.stdout.strip() == "12345", result.stderr
    default = run_python(
        "import odyssey; print(odyssey.memory.memory_stats()['cache_limit_bytes'])"
    )
    assert default.stdout.strip() == str(1 << 30), default.stderr


@pytest.mark.parametrize("bad", ["-1", "lots", "1e9", "2 ", "99999999999999999999999"])
def test_a_bad_limit_in_the_environment_fails_the_import(bad: str) -> None:
    result = run_python("import odyssey", ODYSSEY_BUFFER_CACHE_LIMIT=bad)
    assert result.returncode == 1
    assert (
        f"ODYSSEY_BUFFER_CACHE_LIMIT='{bad}' is not a byte count; expected an integer >= 0, or "
        "unset it for 1 GiB"
    ) in result.stderr


def test_buffers_alive_at_exit_are_released_cleanly() -> None:
    code = (
        "import numpy as np, odyssey\n"
        "from odyssey import _kernels\n"
        "kept = [_kernels.relu(np.ones(1 << 16, np.float32)) for _ in range(10)]\n"
        "print('ok')\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
