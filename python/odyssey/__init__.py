"""ML Odyssey: reproduce classic deep-learning papers from scratch.

The hot paths are C++ kernels with explicit SIMD (scalar, AVX2, AVX-512, NEON) chosen at run time;
``cpu_info()`` says what was detected and chosen.
"""

from odyssey import nn, optim
from odyssey._kernels import __version__, cpu_info, get_num_threads, set_isa, set_num_threads
from odyssey.random import initial_seed, manual_seed
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

__all__ = [
    "Tensor",
    "__version__",
    "cpu_info",
    "from_numpy",
    "get_num_threads",
    "initial_seed",
    "manual_seed",
    "nn",
    "no_grad",
    "ones",
    "ones_like",
    "optim",
    "randn",
    "set_isa",
    "set_num_threads",
    "tensor",
    "zeros",
    "zeros_like",
]
