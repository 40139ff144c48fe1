"""`load_dataset`: one split of a catalogued dataset read from its IDX files (fetched first when
missing), checked against the catalogue and turned upright, as an `IdxDataset`."""

from __future__ import annotations

import os

import numpy as np

from odyssey.data import download as _download
from odyssey.data.datasets.catalogue import dataset_info
from odyssey.data.datasets.files import alternatives, fetch_dataset, local_files
from odyssey.data.datasets.map_style import IdxDataset
from odyssey.data.idx import read_idx

__all__ = ["load_dataset"]


def load_dataset(
    name: str,
    split: str = "train",
    root: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> IdxDataset:
    """One split of a catalogued dataset (see `DATASETS`): uint8 images (N, H, W), int64 labels.

    Files are looked for in `root` when given (any directory of the standard IDX files, gz or
    raw), else in the system directories (the bundled sample; Debian's dataset-fashion-mnist),
    then in the cache; missing files are downloaded and verified when `download` is true."""
    info = dataset_info(name)
    found = local_files(name, split, root)
    if found is None:
        where = root if root is not None else _download.cache_dir() / info.name
        if not info.files and info.archive is None:
            raise FileNotFoundError(
                f"{name} ({split}) is not in {where}; {name} is bundled with the package: load "
                "it without root="
            )
        if not download:
            raise FileNotFoundError(
                f"{name} ({split}) is not in {where} and download=False.\n{alternatives(info)}"
            )
        fetch_dataset(name, root)
        found = local_files(name, split, root)
        assert found is not None
    images_path, labels_path = found
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"{images_path}: expected uint8 images of shape (N, H, W), got {images.dtype} "
            f"{images.shape}"
        )
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(
            f"{labels_path}: expected {images.shape[0]} labels (one per image of "
            f"{images_path.name}), got shape {labels.shape}"
        )
    if info.transposed:
        images = np.ascontiguousarray(images.transpose(0, 2, 1))
    labels = labels.astype(np.int64) - info.label_offset
    if labels.size and (labels.min() < 0 or labels.max() >= len(info.classes)):
        raise ValueError(
            f"{labels_path}: labels span [{labels.min()}, {labels.max()}] but {name} has "
            f"{len(info.classes)} classes"
        )
    return IdxDataset(images, labels, info.classes, name, split, images_path.parent)
