"""The library's seed: `manual_seed(s)` makes everything odyssey draws reproducible.

Sequential draws (weight initialisation, dropout masks) come from one NumPy Philox generator that
`manual_seed` resets. Per-sample randomness in the data pipeline (shuffling, augmentation) is keyed
by (seed, epoch, sample index) instead, so it does not depend on the order of draws.
"""

from __future__ import annotations

import numpy as np

# PyTorch's default seed: an unseeded program is still reproducible from run to run.
DEFAULT_SEED = 67280421310721

_seed = DEFAULT_SEED
_generator = np.random.Generator(np.random.Philox(_seed))


def check_seed(seed: object, who: str) -> int:
    """`seed` as an int, or an error naming `who`: a seed is an integer in [0, 2**64) (it is one
    64-bit word of a Philox key)."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{who}: seed must be an int, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**64:
        raise ValueError(f"{who}: seed must be in [0, 2**64), got {seed}")
    return int(seed)


def manual_seed(seed: int) -> None:
    """Seeds every random draw odyssey makes; `seed` is an integer in [0, 2**64)."""
    global _seed, _generator
    _seed = check_seed(seed, "manual_seed")
    _generator = np.random.Generator(np.random.Philox(_seed))


def initial_seed() -> int:
    """The seed given to the last `manual_seed` call (or the default one)."""
    return _seed


def generator() -> np.random.Generator:
    """The global generator for sequential draws (initialisation, dropout)."""
    return _generator


def fresh_seed() -> int:
    """A 63-bit seed drawn from the global generator: for objects that own a key of their own."""
    return int(_generator.integers(0, 2**63))
