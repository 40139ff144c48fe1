"""Datasets: the bundled mnist-sample, root= directories, Debian's Fashion-MNIST, the map-style
classes and random_split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import odyssey.data as data
from odyssey.data.datasets import DATASETS, DEBIAN_FASHION_MNIST, PACKAGE_SAMPLE, local_files
from odyssey.data.download import file_digest
from odyssey.data.idx import write_idx

SAMPLE_SHA256 = {
    "t10k-images-idx3-ubyte.gz": (
        "4b059c65a35451ed73188564893b7a4a5bbf843704372973aec9dc965fb5d1c8"
    ),
    "t10k-labels-idx1-ubyte.gz": (
        "74854435e4f456eedf8a61bd5137531fede10324ecb991ca17f4751d9997c6ea"
    ),
    "train-images-idx3-ubyte.gz": (
        "6c800e8505bbca37f119abfd01a86d39a6f3cc5dfda4d6f6da817469f4fb7247"
    ),
    "train-labels-idx1-ubyte.gz": (
        "f86396a47d040e49743fde20559788ac9974f2e742a6c2aa9b8555b5b4ca26a6"
    ),
}
# Counted from the files (the test split's counts are also in the sample's README).
SAMPLE_CLASS_COUNTS = {
    "train": [396, 387, 403, 414, 398, 391, 392, 395, 408, 416],
    "test": [104, 113, 97, 86, 102, 109, 108, 105, 92, 84],
}


@pytest.fixture
def empty_cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("ODYSSEY_DATA", str(cache))
    return cache


def test_sample_ships_inside_the_package_with_its_checksums() -> None:
    assert PACKAGE_SAMPLE.parent == Path(data.__file__).resolve().parent
    for name, digest in SAMPLE_SHA256.items():
        assert file_digest(PACKAGE_SAMPLE / name) == digest
    readme = (PACKAGE_SAMPLE / "README.md").read_text()
    assert "CC BY-SA 3.0" in readme
    assert "LeCun" in readme
    for name, digest in SAMPLE_SHA256.items():
        assert name in readme
        assert digest in readme


@pytest.mark.parametrize("split", ["train", "test"])
def test_sample_loads_offline_with_exact_class_counts(split, empty_cache) -> None:
    dataset = data.load_dataset("mnist-sample", split, download=False)
    assert dataset.images.shape == (sum(SAMPLE_CLASS_COUNTS[split]), 28, 28)
    assert dataset.images.dtype == np.uint8
    assert dataset.labels.dtype == np.int64
    assert np.bincount(dataset.labels).tolist() == SAMPLE_CLASS_COUNTS[split]
    assert dataset.classes == [str(d) for d in range(10)]
    assert (dataset.name, dataset.split) == ("mnist-sample", split)
    assert 0 < dataset.images.mean() < 255  # real digits, not blank
    image, label = dataset[7]
    np.testing.assert_array_equal(image, dataset.images[7])
    assert label == dataset.labels[7]
    assert not empty_cache.exists()


def test_catalogue_names_and_sizes() -> None:
    assert set(DATASETS) == {
        "mnist",
        "fashion-mnist",
        "kmnist",
        "emnist-balanced",
        "emnist-digits",
        "emnist-letters",
        "mnist-sample",
    }
    for info in DATASETS.values():
        assert set(info.sizes) == {"train", "test"}
        for remote in info.files:
            assert remote.sha256 is not None
            assert len(remote.sha256) == 64
            assert len(remote.urls) >= 1
    assert len(DATASETS["emnist-balanced"].classes) == 47
    assert len(DATASETS["emnist-letters"].classes) == 26
    assert len(DATASETS["mnist"].files[0].urls) >= 2


def write_split(
    directory: Path, split: str, images: np.ndarray, labels: np.ndarray, gz: bool, prefix: str = ""
) -> None:
    stem = {"train": "train", "test": "t10k"}[split] if not prefix else f"{prefix}-{split}"
    suffix = ".gz" if gz else ""
    write_idx(directory / f"{stem}-images-idx3-ubyte{suffix}", images)
    write_idx(directory / f"{stem}-labels-idx1-ubyte{suffix}", labels)


@pytest.mark.parametrize("gz", [True, False])
def test_root_reads_any_directory_of_standard_idx_files(tmp_path, gz, empty_cache) -> None:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(9, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=9).astype(np.uint8)
    write_split(tmp_path, "test", images, labels, gz)
    dataset = data.load_dataset("kmnist", "test", root=tmp_path, download=False)
    np.testing.assert_array_equal(dataset.images, images)
    np.testing.assert_array_equal(dataset.labels, labels)
    assert dataset.classes[0] == "o"
    assert dataset.source == tmp_path


def test_emnist_images_are_turned_upright_and_letters_count_from_zero(tmp_path) -> None:
    images = np.arange(2 * 28 * 28, dtype=np.int64).reshape(2, 28, 28).astype(np.uint8)
    labels = np.array([1, 26], dtype=np.uint8)
    write_split(tmp_path, "train", images, labels, True, prefix="emnist-letters")
    dataset = data.load_dataset("emnist-letters", "train", root=tmp_path, download=False)
    np.testing.assert_array_equal(dataset.images, images.transpose(0, 2, 1))
    assert dataset.labels.tolist() == [0, 25]
    assert [dataset.classes[i] for i in dataset.labels] == ["a", "z"]


def test_labels_outside_the_classes_are_rejected(tmp_path) -> None:
    labels = np.array([3, 10], np.uint8)
    write_split(tmp_path, "train", np.zeros((2, 28, 28), np.uint8), labels, False)
    with pytest.raises(ValueError, match=r"labels span \[3, 10\] but mnist has 10 classes"):
        data.load_dataset("mnist", "train", root=tmp_path, download=False)


def test_mismatched_image_and_label_counts_are_rejected(tmp_path) -> None:
    write_split(tmp_path, "train", np.zeros((3, 28, 28), np.uint8), np.zeros(2, np.uint8), False)
    with pytest.raises(ValueError, match="expected 3 labels"):
        data.load_dataset("mnist", "train", root=tmp_path, download=False)


def test_missing_files_without_download_name_the_alternatives(tmp_path, empty_cache) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        data.load_dataset("mnist", "train", root=tmp_path, download=False)
    message = str(caught.value)
    assert str(tmp_path) in message
    assert "mnist-sample" in message
    assert "root=" in message
    assert "dataset-fashion-mnist" in message


def test_unknown_names_and_splits() -> None:
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        data.load_dataset("cifar")
    with pytest.raises(ValueError, match="known: mnist, fashion-mnist, kmnist, emnist-balanced"):
        data.load_dataset("cifar")
    with pytest.raises(TypeError, match="dataset name must be a str, got list"):
        data.load_dataset(["mnist"])  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match="mnist-sample: split must be 'train' or 'test', got 'valid'"
    ):
        data.load_dataset("mnist-sample", "valid")


def test_the_bundled_sample_under_a_wrong_root_says_it_is_bundled(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="bundled with the package: load it without root="):
        data.load_dataset("mnist-sample", root=tmp_path)


@pytest.mark.skipif(
    not (DEBIAN_FASHION_MNIST / "t10k-images-idx3-ubyte.gz").is_file(),
    reason="Debian's dataset-fashion-mnist is not installed",
)
def test_debian_fashion_mnist_is_found_without_configuration(empty_cache) -> None:
    assert local_files("fashion-mnist", "test") is not None
    dataset = data.load_dataset("fashion-mnist", "test", download=False)
    assert dataset.images.shape == (10000, 28, 28)
    assert np.bincount(dataset.labels).tolist() == [1000] * 10
    assert dataset.classes[9] == "Ankle boot"
    assert dataset.source == DEBIAN_FASHION_MNIST


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
