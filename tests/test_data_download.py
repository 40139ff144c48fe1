"""odyssey.data.download: verified downloads against a mirror on 127.0.0.1: success, checksum
mismatch, a dead mirror then a good one, a connection cut mid-file; the cache never holds a
partial file."""

from __future__ import annotations

import hashlib
import socket
import urllib.request
from pathlib import Path

import pytest

from odyssey.data.download import ChecksumError, DownloadError, RemoteFile, cache_dir, fetch

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
