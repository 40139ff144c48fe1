"""The data pipeline: IDX files, catalogued datasets with verified downloads, a deterministic
prefetching DataLoader, and batched C++ augmentations."""

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
from odyssey.data.transforms import (
    Compose,
    ElasticDistortion,
    Normalize,
    Pad,
    RandomAffine,
    RandomCrop,
    RandomErasing,
)

__all__ = [
    "DATASETS",
    "ArrayDataset",
    "ChecksumError",
    "Compose",
    "DataLoader",
    "Dataset",
    "DownloadError",
    "ElasticDistortion",
    "IdxDataset",
    "IdxError",
    "Normalize",
    "Pad",
    "RandomAffine",
    "RandomCrop",
    "RandomErasing",
    "SampleKeys",
    "Subset",
    "cache_dir",
    "fetch_dataset",
    "load_dataset",
    "random_split",
    "read_idx",
    "write_idx",
]
