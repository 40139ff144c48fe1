"""odyssey.data.datasets.map_style: ArrayDataset and Subset gathering batches, random_split."""

from __future__ import annotations

import numpy as np
import pytest

import odyssey.data as data


def test_array_dataset_and_subset_gather_batches() -> None:
    images = np.arange(10 * 4, dtype=np.uint8).reshape(10, 2, 2)
    labels = np.arange(10) % 3
    dataset = data.ArrayDataset(images, labels, classes=["a", "b", "c"])
    batch_images, batch_labels = dataset.get_batch(np.array([9, 0, 4]))
    np.testing.assert_array_equal(batch_images, images[[9, 0, 4]])
    assert batch_labels.dtype == np.int64
    assert batch_labels.tolist() == [0, 0, 1]
    subset = data.Subset(dataset, [5, 6, 7])
    assert len(subset) == 3
    np.testing.assert_array_equal(subset[1][0], images[6])
    np.testing.assert_array_equal(subset.get_batch(np.array([2, 0]))[0], images[[7, 5]])
    with pytest.raises(IndexError, match="out of range"):
        subset.get_batch(np.array([3]))
    with pytest.raises(ValueError, match=r"images \(3, 2, 2\), labels \(2,\)"):
        data.ArrayDataset(np.zeros((3, 2, 2)), np.zeros(2, dtype=np.int64))
    with pytest.raises(ValueError, match=r"ArrayDataset: images must be \(N, H, W\) .*\(3, 2\)"):
        data.ArrayDataset(np.zeros((3, 2)), np.zeros(3, dtype=np.int64))
    with pytest.raises(TypeError, match=r"ArrayDataset: images must be uint8 .* got int32"):
        data.ArrayDataset(np.zeros((3, 2, 2), np.int32), np.zeros(3, dtype=np.int64))
    with pytest.raises(
        TypeError, match=r"indices must be a 1-D integer array, got int64 of shape \(1, 2\)"
    ):
        data.Subset(dataset, [[1, 2]])
    with pytest.raises(TypeError, match="labels must be a 1-D integer array"):
        data.ArrayDataset(np.zeros((2, 2, 2)), np.zeros(2))


def test_random_split_is_seeded_disjoint_and_complete() -> None:
    dataset = data.ArrayDataset(np.zeros((10, 1, 1), np.uint8), np.arange(10))
    parts = data.random_split(dataset, [7, 3], seed=5)
    assert [len(p) for p in parts] == [7, 3]
    everything = np.concatenate([p.indices for p in parts])
    assert sorted(everything.tolist()) == list(range(10))
    again = data.random_split(dataset, [7, 3], seed=5)
    np.testing.assert_array_equal(parts[0].indices, again[0].indices)
    other = data.random_split(dataset, [7, 3], seed=6)
    assert parts[0].indices.tolist() != other[0].indices.tolist()
    fractions = data.random_split(dataset, [0.5, 0.25, 0.25], seed=5)
    assert [len(p) for p in fractions] == [6, 2, 2]  # floors 5, 2, 2; the spare goes first
    with pytest.raises(ValueError, match="sum to the dataset's 10"):
        data.random_split(dataset, [5, 4], seed=0)
    with pytest.raises(ValueError, match="sum to 1"):
        data.random_split(dataset, [0.5, 0.4], seed=0)
    with pytest.raises(TypeError, match=r"all ints or all float fractions, got \[5, 'a'\]"):
        data.random_split(dataset, [5, "a"], seed=0)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="sum to 1"):
        data.random_split(dataset, [float("nan"), 1.0], seed=0)
    with pytest.raises(ValueError, match=r"random_split: seed must be in \[0, 2\*\*64\)"):
        data.random_split(dataset, [5, 5], seed=-1)
    with pytest.raises(TypeError, match="random_split: seed must be an int, got float"):
        data.random_split(dataset, [5, 5], seed=1.5)  # type: ignore[arg-type]
