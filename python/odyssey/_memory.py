"""Keeps freed memory in the process, so a training step's large temporaries are reused.

A LeNet step allocates and frees megabytes of activations and gradients. By default glibc's
malloc serves big blocks with fresh mmap pages and hands freed ones (and the heap's free top) back
to the kernel, so every step pays page faults on zeroed pages again; how much depends on the
process's history (glibc raises its thresholds after the first big free). Fixing the mmap
threshold at its maximum and the trim threshold high makes the reuse unconditional. Applied once
at import on glibc only, and never over the user's own MALLOC_MMAP_THRESHOLD_ /
MALLOC_TRIM_THRESHOLD_ settings.
"""

from __future__ import annotations

import ctypes
import os
import platform

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# glibc's ceiling for the mmap threshold on 64-bit targets (DEFAULT_MMAP_THRESHOLD_MAX).
_MMAP_THRESHOLD = 32 << 20
_TRIM_THRESHOLD = 256 << 20
_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def retain_freed_memory() -> bool:
    """Sets the thresholds; False where they do not apply (not glibc, or set by the user)."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    if any(name in os.environ for name in _USER_SETTINGS):
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    )
