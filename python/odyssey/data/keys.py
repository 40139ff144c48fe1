"""What per-sample randomness is keyed by: (seed, epoch, sample index)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from odyssey import _checks as check
from odyssey.random import check_seed

# The augmentation kernels put the epoch in one 32-bit word of the Philox counter.
EPOCH_LIMIT = 2**32


def check_epoch(epoch: object, who: str) -> int:
    """`epoch` as an int, or an error naming `who`: an epoch is an integer in [0, 2**32)."""
    if not 0 <= check.integer(epoch, who, "epoch") < EPOCH_LIMIT:
        raise ValueError(f"{who}: epoch must be in [0, 2**32), got {epoch}")
    return int(epoch)


@dataclass(frozen=True)
class SampleKeys:
    """The keys of one batch: a random draw for image i depends on (seed, epoch, indices[i]) only,
    so a batch is the same whatever the batch split, thread count or prefetch depth."""

    seed: int
    epoch: int
    indices: np.ndarray  # int64, one dataset index per image of the batch

    def __post_init__(self) -> None:
        indices = np.ascontiguousarray(self.indices, dtype=np.int64)
        if indices.ndim != 1:
            raise ValueError(f"SampleKeys: indices must be 1-D, got shape {indices.shape}")
        # Each index is one 32-bit word of the Philox counter.
        if indices.size and not (indices.min() >= 0 and indices.max() < 2**32):
            at = int(np.flatnonzero((indices < 0) | (indices >= 2**32))[0])
            raise ValueError(
                f"SampleKeys: indices must be in [0, 2**32), got {indices[at]} at position {at}"
            )
        object.__setattr__(self, "seed", check_seed(self.seed, "SampleKeys"))
        object.__setattr__(self, "epoch", check_epoch(self.epoch, "SampleKeys"))
        object.__setattr__(self, "indices", indices)
