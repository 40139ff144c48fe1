"""ML Odyssey: reproduce classic deep-learning papers from scratch.

The hot paths are C++ kernels with explicit SIMD (scalar, AVX2, AVX-512, NEON) chosen at run time;
``cpu_info()`` says what was detected and chosen.
"""

from odyssey import memory, metrics, nn, optim

# PyTorch's dtype names that are also builtins: attributes (odyssey.bool), but kept out of __all__,
# where a star import would shadow the builtins.
from odyssey._dtypes import bool as bool
from odyssey._dtypes import (
    double,
    dtype,
    float16,
    float32,
    float64,
    half,
    int8,
    int16,
    int32,
    int64,
    long,
    short,
    uint8,
    uint16,
    uint32,
    uint64,
)
from odyssey._dtypes import float as float
from odyssey._dtypes import int as int
from odyssey._kernels import __version__
from odyssey.random import initial_seed, manual_seed
from odyssey.runtime import cpu_info, get_num_threads, set_flush_denormal, set_isa, set_num_threads
from odyssey.serialization import load, save
from odyssey.tensor import (
    Tensor,
    arange,
    cat,
    chunk,
    clamp,
    clip,
    from_numpy,
    full,
    full_like,
    gather,
    maximum,
    minimum,
    no_grad,
    ones,
    ones_like,
    randn,
    split,
    stack,
    tensor,
    where,
    zeros,
    zeros_like,
)

__all__ = [
    "Tensor",
    "__version__",
    "arange",
    "cat",
    "chunk",
    "clamp",
    "clip",
    "cpu_info",
    "double",
    "dtype",
    "float16",
    "float32",
    "float64",
    "from_numpy",
    "full",
    "full_like",
    "gather",
    "get_num_threads",
    "half",
    "initial_seed",
    "int8",
    "int16",
    "int32",
    "int64",
    "load",
    "long",
    "manual_seed",
    "maximum",
    "memory",
    "metrics",
    "minimum",
    "nn",
    "no_grad",
    "ones",
    "ones_like",
    "optim",
    "randn",
    "save",
    "set_flush_denormal",
    "set_isa",
    "set_num_threads",
    "short",
    "split",
    "stack",
    "tensor",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "where",
    "zeros",
    "zeros_like",
]
