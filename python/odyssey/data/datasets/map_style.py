"""The map-style dataset classes: `Dataset`, `ArrayDataset`, `IdxDataset` (a catalogued split),
`Subset` and `random_split`.

A dataset gives `len(ds)`, `ds[i] -> (image, label)`, `ds.get_batch(indices) -> (uint8 images
(N, H, W), int64 labels (N,))` (one fancy index per batch instead of a Python loop over samples)
and what the DataLoader calls, `ds.get_float_batch(indices)`: the same batch as float32 NCHW in
[0, 1].
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from odyssey import _kernels
from odyssey.random import check_seed

__all__ = ["ArrayDataset", "Dataset", "IdxDataset", "Subset", "random_split", "to_float_nchw"]


def to_float_nchw(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W) or (N, C, H, W) to float32 NCHW in [0, 1], as torchvision's ToTensor
    (a division by 255, not a multiplication by its rounded reciprocal); floating-point images
    are taken as they are, in float32. Channels come first: see ArrayDataset(channels_last=True)
    for (N, H, W, C) arrays."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4:
        raise ValueError(
            f"DataLoader: images must be (N, H, W) or (N, C, H, W), got {images.shape}"
        )
    if images.dtype == np.uint8:
        # One pass: each byte is widened to float32 and divided in float32, as astype then /.
        return np.divide(images, np.float32(255), dtype=np.float32)
    if images.dtype.kind != "f":
        raise TypeError(
            f"DataLoader: images must be uint8 (scaled to [0, 1]) or floating point, got "
            f"{images.dtype} {images.shape}"
        )
    return np.ascontiguousarray(images, dtype=np.float32)


class Dataset:
    """A map-style dataset: `len(ds)` samples, `ds[i] -> (image, label)`.

    Subclasses that can gather many samples at once override `get_batch`; the default stacks
    samples one by one."""

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        raise NotImplementedError

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Images stacked along a new first axis and int64 labels of the samples `indices`."""
        samples = [self[int(i)] for i in indices]
        images = np.stack([np.asarray(image) for image, _ in samples])
        labels = np.array([int(label) for _, label in samples], dtype=np.int64)
        return images, labels

    def get_float_batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """What the DataLoader yields for `indices`: float32 (N, C, H, W) images (uint8 scaled to
        [0, 1]) and int64 labels."""
        gather = getattr(self, "get_batch", None)  # absent from a duck-typed dataset
        images, labels = gather(indices) if gather is not None else Dataset.get_batch(self, indices)
        return to_float_nchw(images), labels


def _as_indices(indices: np.ndarray | Sequence[int], length: int, who: str) -> np.ndarray:
    indices = np.asarray(indices)
    if indices.ndim != 1 or (indices.size and indices.dtype.kind not in "iu"):
        raise TypeError(
            f"{who}: indices must be a 1-D integer array, got {indices.dtype} of shape "
            f"{indices.shape}"
        )
    indices = indices.astype(np.int64, copy=False)
    if indices.size:
        low, high = indices.min(), indices.max()
        if low < -length or high >= length:
            raise IndexError(f"{who}: index out of range for a dataset of {length} samples")
        if low < 0:
            indices = np.where(indices < 0, indices + length, indices)
    return indices


class ArrayDataset(Dataset):
    """Images and labels held in two arrays with the same first dimension.

    Images are (N, H, W) or channels first, (N, C, H, W), as the DataLoader and the transforms
    expect; `channels_last=True` takes an (N, H, W, C) array (as images are usually stored) and
    moves its channels first once, here, rather than per batch."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        classes: Sequence[str] | None = None,
        channels_last: bool = False,
    ) -> None:
        images = np.asarray(images)
        labels = np.asarray(labels)
        if channels_last:
            if images.ndim != 4:
                raise ValueError(
                    f"ArrayDataset: channels_last images must be (N, H, W, C), got {images.shape}"
                )
            images = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
        if images.ndim not in (3, 4):
            raise ValueError(
                f"ArrayDataset: images must be (N, H, W) or (N, C, H, W) (or (N, H, W, C) with "
                f"channels_last=True), got shape {images.shape}"
            )
        if images.dtype != np.uint8 and images.dtype.kind != "f":
            raise TypeError(
                f"ArrayDataset: images must be uint8 (scaled to [0, 1]) or floating point, got "
                f"{images.dtype}"
            )
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise TypeError(
                f"ArrayDataset: labels must be a 1-D integer array, got {labels.dtype} of shape "
                f"{labels.shape}"
            )
        if images.shape[0] != labels.shape[0]:
            raise ValueError(
                f"ArrayDataset: images and labels differ in length (images {images.shape}, "
                f"labels {labels.shape})"
            )
        self.images = images
        self.labels = labels.astype(np.int64, copy=False)
        self.classes = list(classes) if classes is not None else []

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return self.images[index], int(self.labels[index])

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices = _as_indices(indices, len(self), type(self).__name__)
        return self.images[indices], self.labels[indices]

    def get_float_batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        images = self.images
        if images.dtype != np.uint8 or images.ndim not in (3, 4) or not images.flags.c_contiguous:
            return super().get_float_batch(indices)
        # Gathered and scaled in one pass by a C++ kernel: NumPy's fancy index then division took
        # a fifth of the loader's time with RandomAffine; one pass is 1.2-1.4x faster than those
        # two, the loader 4-6 %.
        indices = _as_indices(indices, len(self), type(self).__name__)
        batch = _kernels.gather_unit_floats(images, indices)
        return (batch[:, None] if batch.ndim == 3 else batch), self.labels[indices]


class IdxDataset(ArrayDataset):
    """A split of a catalogued dataset, as returned by `load_dataset`."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        classes: Sequence[str],
        name: str,
        split: str,
        source: Path,
    ) -> None:
        super().__init__(images, labels, classes)
        self.name = name
        self.split = split
        self.source = source  # the directory the files were read from

    def __repr__(self) -> str:
        shape = "x".join(str(n) for n in self.images.shape[1:])
        return (
            f"IdxDataset({self.name!r}, split={self.split!r}, {len(self)} images of {shape}, "
            f"{len(self.classes)} classes, from {self.source})"
        )


class Subset(Dataset):
    """The samples `indices` of `dataset`, in that order."""

    def __init__(self, dataset: Dataset, indices: np.ndarray | Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = _as_indices(indices, len(dataset), "Subset")

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return self.dataset[int(self.indices[index])]

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices = _as_indices(indices, len(self), "Subset")
        return self.dataset.get_batch(self.indices[indices])

    def get_float_batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices = self.indices[_as_indices(indices, len(self), "Subset")]
        gather = getattr(self.dataset, "get_float_batch", None)
        if gather is None:  # a duck-typed dataset underneath
            return Dataset.get_float_batch(self.dataset, indices)  # type: ignore[arg-type]
        return gather(indices)


def random_split(
    dataset: Dataset, lengths: Sequence[int] | Sequence[float], seed: int
) -> list[Subset]:
    """Splits `dataset` into non-overlapping subsets of the given lengths (or fractions summing to
    1, as PyTorch: floors, then one more sample to the first subsets until all are used). The
    permutation is a pure function of `seed`."""
    if not hasattr(dataset, "__len__"):
        raise TypeError(f"random_split: dataset must have a length, got {type(dataset).__name__}")
    total = len(dataset)
    if not isinstance(lengths, Sequence):
        raise TypeError(f"random_split: lengths must be a sequence, got {type(lengths).__name__}")
    lengths = list(lengths)
    if lengths and all(isinstance(n, float) for n in lengths):
        # Written so that a NaN fraction fails too.
        if not (all(f >= 0 for f in lengths) and abs(sum(lengths) - 1.0) <= 1e-9):
            raise ValueError(f"random_split: fractions must be >= 0 and sum to 1, got {lengths}")
        counts = [int(np.floor(total * f)) for f in lengths]
        for i in range(total - sum(counts)):
            counts[i % len(counts)] += 1
    else:
        if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in lengths):
            raise TypeError(
                f"random_split: lengths must be all ints or all float fractions, got {lengths}"
            )
        counts = [int(n) for n in lengths]
        if any(n < 0 for n in counts) or sum(counts) != total:
            raise ValueError(
                f"random_split: lengths {counts} must be >= 0 and sum to the dataset's {total}"
            )
    seed = check_seed(seed, "random_split")
    order = np.random.Generator(np.random.Philox(key=seed)).permutation(total)
    bounds = np.cumsum([0, *counts])
    return [Subset(dataset, order[a:b]) for a, b in itertools.pairwise(bounds)]
