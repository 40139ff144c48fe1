"""The data pipeline: IDX files, catalogued datasets with verified downloads, and a deterministic
prefetching DataLoader."""

from odyssey.data.datasets import (
    DATASETS,
    ArrayDataset,
    Dataset,
    IdxDataset,
    Subset,
    fetch_dataset,
    load_dataset,
    random_split,
)
from odyssey.data.download import ChecksumError, DownloadError, cache_dir
from odyssey.data.idx import IdxError, read_idx, write_idx
from odyssey.data.keys import SampleKeys
from odyssey.data.loader import DataLoader

__all__ = [
    "DATASETS",
    "ArrayDataset",
    "ChecksumError",
    "DataLoader",
    "Dataset",
    "DownloadError",
    "IdxDataset",
    "IdxError",
    "SampleKeys",
    "Subset",
    "cache_dir",
    "fetch_dataset",
    "load_dataset",
    "random_split",
    "read_idx",
    "write_idx",
]
