"""Verified downloads against a mirror on 127.0.0.1: success, checksum mismatch, a dead mirror
then a good one, a connection cut mid-file; the cache never holds a partial file."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import socket
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest

import odyssey.data as data
from odyssey.data import datasets as catalogue
from odyssey.data.download import ChecksumError, DownloadError, RemoteFile, cache_dir, fetch
from odyssey.data.idx import encode_idx

BODY = bytes(range(256)) * 300  # 76,800 bytes: several read chunks


def remote(urls: list[str], body: bytes = BODY, name: str = "file.gz", **digests) -> RemoteFile:
    if not digests:
        digests = {"sha256": hashlib.sha256(body).hexdigest()}
    return RemoteFile(name, tuple(urls), size=len(body), **digests)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_success_writes_the_verified_file_and_nothing_else(mirror, tmp_path) -> None:
    mirror.files["/a/file.gz"] = BODY
    seen: list[tuple[int, int | None]] = []
    path = fetch(remote([f"{mirror.url}/a/file.gz"]), tmp_path, lambda r, t: seen.append((r, t)))
    assert path == tmp_path / "file.gz"
    assert path.read_bytes() == BODY
    assert leftovers(tmp_path) == ["file.gz"]
    assert seen[-1] == (len(BODY), len(BODY))
    assert [r for r, _ in seen] == sorted(r for r, _ in seen)


def test_a_file_already_in_the_cache_is_not_downloaded_again(mirror, tmp_path) -> None:
    mirror.files["/file.gz"] = BODY
    fetch(remote([f"{mirror.url}/file.gz"]), tmp_path)
    fetch(remote([f"{mirror.url}/file.gz"]), tmp_path)
    assert mirror.requests == ["/file.gz"]


def test_checksum_mismatch_deletes_the_file_and_names_url_and_digests(mirror, tmp_path) -> None:
    mirror.files["/file.gz"] = BODY[:-1] + b"\x00"
    expected = hashlib.sha256(BODY).hexdigest()
    actual = hashlib.sha256(mirror.files["/file.gz"]).hexdigest()
    url = f"{mirror.url}/file.gz"
    with pytest.raises(ChecksumError) as caught:
        fetch(remote([url]), tmp_path)
    message = str(caught.value)
    assert url in message
    assert f"expected {expected}, got {actual}" in message
    assert leftovers(tmp_path) == []


def test_md5_and_size_are_checked_where_no_sha256_is_published(mirror, tmp_path) -> None:
    mirror.files["/file.gz"] = BODY
    md5 = hashlib.md5(BODY).hexdigest()
    assert fetch(remote([f"{mirror.url}/file.gz"], md5=md5), tmp_path).read_bytes() == BODY
    wrong_size = RemoteFile("other.gz", (f"{mirror.url}/file.gz",), size=len(BODY) + 1, md5=md5)
    with pytest.raises(
        ChecksumError, match=f"expected {len(BODY) + 1} bytes, the server announces"
    ):
        fetch(wrong_size, tmp_path)
    assert leftovers(tmp_path) == ["file.gz"]


def test_a_body_longer_than_the_recorded_size_is_cut_short_and_refused(mirror, tmp_path) -> None:
    mirror.files["/file.gz"] = BODY
    url = f"{mirror.url}/endless/file.gz"
    with pytest.raises(ChecksumError, match=f"{url}: size mismatch: expected {len(BODY)} bytes"):
        fetch(remote([url]), tmp_path)
    assert leftovers(tmp_path) == []


def test_a_cached_copy_that_does_not_match_is_replaced_by_a_verified_one(mirror, tmp_path) -> None:
    mirror.files["/file.gz"] = BODY
    (tmp_path / "file.gz").write_bytes(b"not the file")
    assert fetch(remote([f"{mirror.url}/file.gz"]), tmp_path).read_bytes() == BODY
    assert leftovers(tmp_path) == ["file.gz"]
    (tmp_path / "file.gz").write_bytes(b"not the file")
    with pytest.raises(DownloadError, match=r"file.gz: sha256 mismatch.*\n.*/missing/file.gz"):
        fetch(remote([f"{mirror.url}/missing/file.gz"]), tmp_path)


def test_a_dead_mirror_then_a_good_one(mirror, dead_url, tmp_path) -> None:
    mirror.files["/good/file.gz"] = BODY
    urls = [f"{dead_url}/file.gz", f"{mirror.url}/missing/file.gz", f"{mirror.url}/good/file.gz"]
    assert fetch(remote(urls), tmp_path).read_bytes() == BODY
    assert mirror.requests == ["/missing/file.gz", "/good/file.gz"]
    assert leftovers(tmp_path) == ["file.gz"]


def test_a_connection_cut_mid_file_leaves_nothing_and_the_next_mirror_is_tried(
    mirror, tmp_path
) -> None:
    mirror.files["/file.gz"] = BODY
    cut = f"{mirror.url}/cut/file.gz"
    with pytest.raises(DownloadError, match=f"{cut}: connection closed after 38400 of 76800"):
        fetch(remote([cut]), tmp_path)
    assert leftovers(tmp_path) == []
    assert fetch(remote([cut, f"{mirror.url}/file.gz"]), tmp_path).read_bytes() == BODY
    assert leftovers(tmp_path) == ["file.gz"]


def test_offline_error_lists_every_url_with_its_error_and_the_alternatives(
    dead_url, tmp_path
) -> None:
    urls = [f"{dead_url}/one/file.gz", f"{dead_url}/two/file.gz"]
    with pytest.raises(DownloadError) as caught:
        fetch(remote(urls), tmp_path, alternatives="Alternatives: use the sample")
    message = str(caught.value)
    for url in urls:
        assert f"{url}: " in message
    assert "refused" in message.lower()
    assert message.endswith("Alternatives: use the sample")
    assert leftovers(tmp_path) == []


def test_tests_cannot_reach_the_internet() -> None:
    with pytest.raises(OSError, match="no network in tests"):
        urllib.request.urlopen("https://ossci-datasets.s3.amazonaws.com/mnist/", timeout=1)
    with pytest.raises(OSError, match="no network in tests"):
        socket.create_connection(("192.0.2.1", 80), timeout=1)


def test_cache_dir_follows_odyssey_data_then_the_platform(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("ODYSSEY_DATA", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("ODYSSEY_DATA")
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "odyssey"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == tmp_path / ".cache" / "odyssey"
    monkeypatch.setattr("sys.platform", "darwin")
    assert cache_dir() == tmp_path / "Library" / "Caches" / "odyssey"
    monkeypatch.setattr("sys.platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert cache_dir() == tmp_path / "local" / "odyssey"


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
    info = dataclasses.replace(catalogue.DATASETS["mnist"], files=tuple(files))
    monkeypatch.setitem(catalogue.DATASETS, "mnist", info)
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
    info = dataclasses.replace(catalogue.DATASETS["emnist-digits"], archive=archive)
    monkeypatch.setitem(catalogue.DATASETS, "emnist-digits", info)
    monkeypatch.setenv("ODYSSEY_DATA", str(tmp_path / "cache"))
    dataset = data.load_dataset("emnist-digits", "test")
    np.testing.assert_array_equal(dataset.images, images.transpose(0, 2, 1))
    assert dataset.labels.tolist() == [0, 9, 5]
    assert leftovers(tmp_path / "cache" / "emnist") == ["gzip.zip"]
    assert len(leftovers(tmp_path / "cache" / "emnist-digits")) == 4
    mirror.files["/gzip.zip"] = body[:-10] + bytes(10)
    (tmp_path / "cache" / "emnist" / "gzip.zip").unlink()
    info = dataclasses.replace(catalogue.DATASETS["emnist-letters"], archive=archive)
    monkeypatch.setitem(catalogue.DATASETS, "emnist-letters", info)
    with pytest.raises(ChecksumError, match="md5 mismatch"):
        data.load_dataset("emnist-letters", "train")
    assert leftovers(tmp_path / "cache" / "emnist") == []
