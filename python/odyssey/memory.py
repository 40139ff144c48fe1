"""The tensor buffer cache: what it holds, and the switches to empty and bound it.

Its counters cover the arrays that kernels return (nearly all of a training step's activations and
gradients), not the temporaries that NumPy itself allocates in the Python layer.

Every array that a kernel returns (activations, gradients, pooling indices, loader batches) is
served by a caching allocator (cpp/src/memory/buffer_cache.cc): a freed buffer is kept by size
class, and the next step's request of that class reuses it instead of taking fresh pages from the
system, which cost a page fault per 4 KiB on first touch. Only those buffers are affected; the rest
of the process's memory and its malloc settings are left alone. The names follow
``torch.cuda``'s memory functions.
"""

from __future__ import annotations

import numbers

from odyssey import _kernels

__all__ = [
    "empty_cache",
    "max_memory_allocated",
    "memory_allocated",
    "memory_reserved",
    "memory_stats",
    "reset_peak_memory_stats",
    "set_cache_limit",
]


def memory_stats() -> dict[str, int]:
    """The cache's counters: ``allocated_bytes`` (live buffers), ``peak_allocated_bytes``,
    ``cached_bytes`` (freed, kept for reuse), ``cache_limit_bytes``, ``allocations``,
    ``cache_hits`` and ``system_allocations``. Sizes are counted by size class (at most 1/8 above
    the request)."""
    return _kernels.buffer_cache_stats()


def memory_allocated() -> int:
    """Bytes in live tensor buffers."""
    return _kernels.buffer_cache_stats()["allocated_bytes"]


def max_memory_allocated() -> int:
    """The most bytes in live tensor buffers since the start or reset_peak_memory_stats()."""
    return _kernels.buffer_cache_stats()["peak_allocated_bytes"]


def memory_reserved() -> int:
    """Bytes held: live buffers plus cached ones."""
    stats = _kernels.buffer_cache_stats()
    return stats["allocated_bytes"] + stats["cached_bytes"]


def reset_peak_memory_stats() -> None:
    """Starts the peak (max_memory_allocated) again from the bytes allocated now."""
    _kernels.buffer_cache_reset_peak()


def empty_cache() -> None:
    """Returns every cached buffer to the system; live tensors are untouched."""
    _kernels.buffer_cache_clear()


def set_cache_limit(limit: int) -> None:
    """Keeps at most `limit` bytes of freed buffers for reuse (0: none; 1 GiB unless the
    ODYSSEY_BUFFER_CACHE_LIMIT environment variable said otherwise); cached buffers above a lowered
    limit go back to the system at once."""
    expected = "set_cache_limit: limit must be an int from 0 to 2**64 - 1 (bytes)"
    if not isinstance(limit, numbers.Integral) or isinstance(limit, bool):
        raise TypeError(f"{expected}, got {type(limit).__name__}")
    if not 0 <= limit < 2**64:
        raise ValueError(f"{expected}, got {limit}")
    _kernels.set_buffer_cache_limit(int(limit))
