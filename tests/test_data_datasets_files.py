"""odyssey.data.datasets.files (fetch_dataset, through load_dataset) against a mirror on
127.0.0.1: a dataset downloaded, verified and then read offline, into the cache or a root=, the
offline message, and EMNIST's zip verified before its members are extracted."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

import odyssey.data as data
from odyssey.data.datasets.catalogue import DATASETS
from odyssey.data.download import ChecksumError, DownloadError, RemoteFile, cache_dir
from odyssey.data.idx import encode_idx


def remote(urls: list[str], body: bytes, name: str, **digests) -> RemoteFile:
    """The published file `name` with the digest of `body` (SHA-256 unless `digests` are given)."""
    if not digests:
        digests = {"sha256": hashlib.sha256(body).hexdigest()}
    return RemoteFile(name, tuple(urls), size=len(body), **digests)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def idx_gz(array: np.ndarray) -> bytes:
    return gzip.compress(encode_idx(array), mtime=0)


@pytest.fixture
def served_mnist(mirror, dead_url, monkeypatch, tmp_path):
    """A small 'mnist' served by the local mirror (after a dead one), with an empty cache."""
    rng = np.random.default_rng(3)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 12).astype(np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 4).astype(np.uint8),
    }
    files = []
    for name, array in arrays.items():
        body = idx_gz(array)
        mirror.files[f"/mnist/{name}"] = body
        files.append(remote([f"{dead_url}/{name}", f"{mirror.url}/mnist/{name}"], body, name))
    info = dataclasses.replace(DATASETS["mnist"], files=tuple(files))
    monkeypatch.setitem(DATASETS, "mnist", info)
    monkeypatch.setenv("ODYSSEY_DATA", str(tmp_path / "cache"))
    return arrays


def test_load_dataset_downloads_verifies_and_then_works_offline(served_mnist, mirror) -> None:
    dataset = data.load_dataset("mnist", "test")
    np.testing.assert_array_equal(dataset.images, served_mnist["t10k-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(dataset.labels, served_mnist["t10k-labels-idx1-ubyte.gz"])
    assert dataset.source == cache_dir() / "mnist"
    assert leftovers(cache_dir() / "mnist") == sorted(served_mnist)
    mirror.files.clear()
    again = data.load_dataset("mnist", "train", download=False)
    assert len(again) == 12


def test_load_dataset_into_root(served_mnist, tmp_path) -> None:
    root = tmp_path / "here"
    dataset = data.load_dataset("mnist", "train", root=root)
    assert dataset.source == root
    assert not cache_dir().exists()


def test_load_dataset_offline_message(served_mnist, mirror) -> None:
    mirror.files.clear()
    with pytest.raises(DownloadError) as caught:
        data.load_dataset("mnist", "train")
    message = str(caught.value)
    assert "train-images-idx3-ubyte.gz" in message
    assert "404" in message
    assert "load_dataset('mnist-sample')" in message
    assert "root=" in message
    assert "dataset-fashion-mnist" in message
    assert leftovers(cache_dir() / "mnist") == []


def test_emnist_zip_is_verified_then_its_members_extracted(mirror, monkeypatch, tmp_path) -> None:
    images = np.arange(3 * 28 * 28, dtype=np.int64).reshape(3, 28, 28).astype(np.uint8)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for split in ("train", "test"):
            bundle.writestr(f"gzip/emnist-digits-{split}-images-idx3-ubyte.gz", idx_gz(images))
            labels = np.array([0, 9, 5], dtype=np.uint8)
            bundle.writestr(f"gzip/emnist-digits-{split}-labels-idx1-ubyte.gz", idx_gz(labels))
        bundle.writestr("gzip/emnist-letters-train-images-idx3-ubyte.gz", b"unused")
    body = buffer.getvalue()
    mirror.files["/gzip.zip"] = body
    md5 = hashlib.md5(body).hexdigest()
    archive = remote([f"{mirror.url}/gzip.zip"], body, "gzip.zip", md5=md5)
    info = dataclasses.replace(DATASETS["emnist-digits"], archive=archive)
    monkeypatch.setitem(DATASETS, "emnist-digits", info)
    monkeypatch.setenv("ODYSSEY_DATA", str(tmp_path / "cache"))
    dataset = data.load_dataset("emnist-digits", "test")
    np.testing.assert_array_equal(dataset.images, images.transpose(0, 2, 1))
    assert dataset.labels.tolist() == [0, 9, 5]
    assert leftovers(tmp_path / "cache" / "emnist") == ["gzip.zip"]
    assert len(leftovers(tmp_path / "cache" / "emnist-digits")) == 4
    mirror.files["/gzip.zip"] = body[:-10] + bytes(10)
    (tmp_path / "cache" / "emnist" / "gzip.zip").unlink()
    info = dataclasses.replace(DATASETS["emnist-letters"], archive=archive)
    monkeypatch.setitem(DATASETS, "emnist-letters", info)
    with pytest.raises(ChecksumError, match="md5 mismatch"):
        data.load_dataset("emnist-letters", "train")
    assert leftovers(tmp_path / "cache" / "emnist") == []
