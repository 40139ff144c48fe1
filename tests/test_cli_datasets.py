"""`odyssey datasets` and `odyssey datasets fetch NAME`."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io

import numpy as np
import pytest
from rich.console import Console

from odyssey.cli import main
from odyssey.cli.datasets import DownloadProgress, ensure_dataset
from odyssey.data import datasets as catalogue
from odyssey.data.download import RemoteFile
from odyssey.data.idx import encode_idx


def test_datasets_lists_every_dataset_with_sizes_and_where(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ODYSSEY_DATA", str(tmp_path))
    assert main(["datasets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "train", "test", "download", "available", "locally"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == set(catalogue.DATASETS)
    assert rows["mnist"].split()[1:6] == ["60,000", "10,000", "11.6", "MB", "no"]
    assert rows["emnist-balanced"].split()[1:3] == ["112,800", "18,800"]
    assert rows["mnist-sample"].split()[1:4] == ["4,000", "1,000", "bundled"]
    assert f"yes: {catalogue.PACKAGE_SAMPLE}" in rows["mnist-sample"]


@pytest.fixture
def served_kmnist(mirror, monkeypatch):
    files = []
    rng = np.random.default_rng(0)
    for stem, count in (("train", 6), ("t10k", 2)):
        images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, count).astype(np.uint8)
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            name = f"{stem}-{kind}-ubyte.gz"
            body = gzip.compress(encode_idx(array), mtime=0)
            mirror.files[f"/{name}"] = body
            sha256 = hashlib.sha256(body).hexdigest()
            files.append(RemoteFile(name, (f"{mirror.url}/{name}",), len(body), sha256=sha256))
    info = dataclasses.replace(catalogue.DATASETS["kmnist"], files=tuple(files))
    monkeypatch.setitem(catalogue.DATASETS, "kmnist", info)


def test_fetch_downloads_verifies_and_shows_progress(
    served_kmnist, mirror, capsys, tmp_path
) -> None:
    assert main(["datasets", "fetch", "kmnist", "--root", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == f"kmnist: verified, 6 train + 2 test images in {tmp_path}"
    # stderr is no terminal here: one line per file as it completes, with its size and speed.
    lines = captured.err.splitlines()
    assert len(lines) == 4
    assert [line.split()[0] for line in lines] == [remote.name for remote in kmnist_files()]
    for line, remote in zip(lines, kmnist_files(), strict=True):
        size = f"{remote.size / 1000:.1f}/{remote.size / 1000:.1f} kB"
        assert (size if remote.size >= 1000 else f"{remote.size}/{remote.size} bytes") in line
        assert "B/s" in line
    assert len(list(tmp_path.iterdir())) == 4
    # Fetching again checks the copies and replaces one that does not match.
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"damaged")
    assert main(["datasets", "fetch", "kmnist", "--root", str(tmp_path)]) == 0
    assert capsys.readouterr().err.split()[0] == "t10k-labels-idx1-ubyte.gz"
    assert sorted(mirror.requests).count("/t10k-labels-idx1-ubyte.gz") == 2


def kmnist_files() -> tuple[RemoteFile, ...]:
    return catalogue.DATASETS["kmnist"].files


def test_download_progress_on_a_terminal_moves_in_place_and_ends_complete() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    with DownloadProgress(console) as progress:
        for received in (0, 500, 1000):
            progress("a.gz", received, 1000)
        progress("b.gz", 10, None)  # no announced size: bytes only
    text = console.file.getvalue()
    assert "\x1b[" in text  # cursor control: the bars redraw in place
    last = text.rsplit("a.gz", 1)[1]
    assert "1.0/1.0 kB" in last
    assert "b.gz" in text


def test_download_progress_in_a_log_prints_a_file_cut_short_when_it_closes() -> None:
    console = Console(file=io.StringIO(), width=100)

    def cut_short() -> None:
        with DownloadProgress(console) as progress:
            progress("a.gz", 1000, 1000)
            progress("b.gz", 300, 1000)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cut_short()
    lines = console.file.getvalue().splitlines()
    assert [line.split()[0] for line in lines] == ["a.gz", "b.gz"]
    assert "1.0/1.0 kB" in lines[0]
    assert "0.3/1.0 kB" in lines[1]
    assert "\x1b" not in console.file.getvalue()


def test_fetch_into_the_cache_then_listed_as_available(
    served_kmnist, capsys, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("ODYSSEY_DATA", str(tmp_path))
    assert main(["datasets", "fetch", "kmnist"]) == 0
    capsys.readouterr()
    assert main(["datasets"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("kmnist"))
    assert row.endswith(f"yes: {tmp_path / 'kmnist'}")


def test_ensure_dataset_fetches_with_progress_only_what_is_missing(
    served_kmnist, mirror, capsys, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("ODYSSEY_DATA", str(tmp_path))
    ensure_dataset("kmnist")
    assert len(capsys.readouterr().err.splitlines()) == 4
    assert len(list((tmp_path / "kmnist").iterdir())) == 4
    requests = len(mirror.requests)
    ensure_dataset("kmnist")
    ensure_dataset("mnist-sample")  # bundled
    assert capsys.readouterr().err == ""
    assert len(mirror.requests) == requests


def test_fetch_offline_explains_and_fails(dead_url, capsys, tmp_path, monkeypatch) -> None:
    name = "train-images-idx3-ubyte.gz"
    offline = RemoteFile(name, (f"{dead_url}/{name}",), 10, sha256="0" * 64)
    info = dataclasses.replace(catalogue.DATASETS["mnist"], files=(offline,))
    monkeypatch.setitem(catalogue.DATASETS, "mnist", info)
    assert main(["datasets", "fetch", "mnist", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"{dead_url}/{name}" in err
    assert "mnist-sample" in err
    assert list(tmp_path.iterdir()) == []


def test_fetch_into_a_root_that_is_not_a_folder_fails_cleanly(
    served_kmnist, capsys, tmp_path
) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    assert main(["datasets", "fetch", "kmnist", "--root", str(not_a_folder)]) == 1
    assert str(not_a_folder) in capsys.readouterr().err


def test_fetch_interrupted_exits_130(capsys, monkeypatch) -> None:
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(catalogue, "fetch_dataset", interrupted)
    assert main(["datasets", "fetch", "mnist"]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_fetch_unknown_dataset(capsys) -> None:
    assert main(["datasets", "fetch", "cifar-10"]) == 2
    assert "unknown dataset 'cifar-10'" in capsys.readouterr().err
