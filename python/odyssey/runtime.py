"""The run-time switches (threads, ISA variant) and what was detected, as the public API.

Each switch checks what it is given and names itself and the argument when it is wrong, instead of
letting the compiled module answer with its raw signature dump.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from odyssey import _kernels

MAX_THREADS: int = _kernels.MAX_THREADS
"""The largest thread count accepted; what the system can actually start may be less."""


def cpu_info() -> dict[str, Any]:
    """What was detected and chosen: CPU features, compiled and runnable ISAs, threads, build."""
    return _kernels.cpu_info()


def get_num_threads() -> int:
    """The number of threads parallel kernels use, the calling thread included."""
    return _kernels.get_num_threads()


def set_num_threads(n: int) -> None:
    """Starts `n` threads for parallel kernels now; results are bitwise the same for every `n`.

    Raises TypeError or ValueError unless `n` is an int from 1 to MAX_THREADS, and RuntimeError,
    keeping the previous count in effect, when the system cannot start that many threads.
    """
    expected = f"set_num_threads: n must be an int from 1 to {MAX_THREADS}"
    if not isinstance(n, numbers.Integral) or isinstance(n, bool):
        raise TypeError(f"{expected}, got {type(n).__name__}")
    if not 1 <= n <= MAX_THREADS:
        raise ValueError(f"{expected}, got {n}")
    _kernels.set_num_threads(int(n))


def set_isa(name: str) -> None:
    """Uses the ISA variant `name` (one of ``cpu_info()["isa_available"]``) for later kernel calls.

    Raises TypeError unless `name` is a str, and ValueError, keeping the current variant, when it
    names no variant this build and CPU can run.
    """
    if not isinstance(name, str):
        available = ", ".join(_kernels.cpu_info()["isa_available"])
        raise TypeError(
            f"set_isa: name must be a str naming an ISA (available here: {available}), "
            f"got {type(name).__name__}"
        )
    try:
        _kernels.set_isa(name)
    except ValueError as error:  # the module's own check says why; the prefix says who asked
        raise ValueError(f"set_isa: {error}") from None


def set_flush_denormal(mode: bool) -> bool:
    """Flushes subnormal floats (below 1.2e-38 in magnitude) to zero in every kernel the calling
    thread runs, on every thread of the pool (True), or stops (False); like
    ``torch.set_flush_denormal``, the mode belongs to the calling thread (a DataLoader's prefetch
    thread takes the mode of the thread that starts each pass). Returns True where the CPU has the
    mode (x86's FTZ and DAZ, AArch64's FZ), False, changing nothing, elsewhere.

    Off by default, as IEEE arithmetic has it. Arithmetic on subnormals is tens of times slower,
    and they appear where values decay without reaching zero (a dead unit's momentum, say): with
    the mode on such values become 0 at once. Results then differ from the default's wherever a
    subnormal occurred, but stay the same for every thread count. NumPy's own operations run on
    the calling thread, so they flush too while the mode is on.
    """
    if not isinstance(mode, bool | np.bool_):
        raise TypeError(f"set_flush_denormal: mode must be a bool, got {type(mode).__name__}")
    return _kernels.set_flush_denormal(bool(mode))
