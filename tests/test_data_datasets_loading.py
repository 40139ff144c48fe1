"""odyssey.data.datasets.loading (load_dataset, with local_files finding the files): the bundled
mnist-sample offline, root= directories, EMNIST turned upright, Debian's Fashion-MNIST, and the
errors of bad files, names and splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import odyssey.data as data
from odyssey.data.datasets import DEBIAN_FASHION_MNIST, local_files
from odyssey.data.idx import write_idx

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
