"""Map-style datasets and the catalogue of IDX datasets, one module per job:

- `map_style`: the dataset classes (`Dataset`, `ArrayDataset`, `IdxDataset`, `Subset`) and
  `random_split`;
- `catalogue`: `DATASETS`, what each dataset is and where its files are published;
- `files`: where a dataset's files are on this machine (`local_files`) and their verified
  download (`fetch_dataset`);
- `loading`: `load_dataset`, a split read and checked as an `IdxDataset`.

Every name is importable from here, as before the split (`odyssey.data.datasets.DATASETS`).
"""

from odyssey.data.datasets.catalogue import (
    DATASETS,
    DEBIAN_FASHION_MNIST,
    PACKAGE_SAMPLE,
    SPLITS,
    DatasetInfo,
    dataset_info,
)
from odyssey.data.datasets.files import fetch_dataset, local_files
from odyssey.data.datasets.loading import load_dataset
from odyssey.data.datasets.map_style import (
    ArrayDataset,
    Dataset,
    IdxDataset,
    Subset,
    random_split,
    to_float_nchw,
)

__all__ = [
    "DATASETS",
    "DEBIAN_FASHION_MNIST",
    "PACKAGE_SAMPLE",
    "SPLITS",
    "ArrayDataset",
    "Dataset",
    "DatasetInfo",
    "IdxDataset",
    "Subset",
    "dataset_info",
    "fetch_dataset",
    "load_dataset",
    "local_files",
    "random_split",
    "to_float_nchw",
]
