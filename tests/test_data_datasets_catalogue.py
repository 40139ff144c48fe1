"""odyssey.data.datasets.catalogue: the catalogued names, sizes and published files, and the
mnist-sample bundled inside the package with its checksums."""

from __future__ import annotations

from pathlib import Path

import odyssey.data as data
from odyssey.data.datasets import DATASETS, PACKAGE_SAMPLE
from odyssey.data.download import file_digest

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
