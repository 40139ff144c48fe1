"""ML Odyssey: reproduce classic deep-learning papers from scratch.

The hot paths are C++ kernels with explicit SIMD (scalar, AVX2, AVX-512, NEON) chosen at run time;
``cpu_info()`` says what was detected and chosen.
"""

from odyssey import nn, optim
from odyssey._kernels import __version__
from odyssey._memory import retain_freed_memory
from odyssey.random import initial_seed, manual_seed
from odyssey.runtime import cpu_info, get_num_threads, set_isa, set_num_threads
from odyssey.serialization import load, save
from odyssey.tensor import (
    Tensor,
    from_numpy,
    no_grad,
    ones,
    ones_like,
    randn,
    tensor,
    zeros,
    zeros_like,
)

# Activations come and go every step; keeping freed pages saves ~20% of a LeNet step (_memory.py).
retain_freed_memory()

__all__ = [
    "Tensor",
    "__version__",
    "cpu_info",
    "from_numpy",
    "get_num_threads",
    "initial_seed",
    "load",
    "manual_seed",
    "nn",
    "no_grad",
    "ones",
    "ones_like",
    "optim",
    "randn",
    "save",
    "set_isa",
    "set_num_threads",
    "tensor",
    "zeros",
    "zeros_like",
]
