"""What per-sample randomness is keyed by: (seed, epoch, sample index)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
        object.__setattr__(self, "indices", indices)
