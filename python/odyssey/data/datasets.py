"""Map-style datasets and the catalogue of IDX datasets: where each one's files come from, how they
are checked, and where they are found on this machine.

A dataset gives `len(ds)`, `ds[i] -> (image, label)`, `ds.get_batch(indices) -> (uint8 images
(N, H, W), int64 labels (N,))` (one fancy index per batch instead of a Python loop over samples)
and what the DataLoader calls, `ds.get_float_batch(indices)`: the same batch as float32 NCHW in
[0, 1].
"""

from __future__ import annotations

import itertools
import os
import shutil
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from odyssey import _kernels
from odyssey.data import download as _download
from odyssey.data.idx import read_idx
from odyssey.random import check_seed

__all__ = [
    "DATASETS",
    "ArrayDataset",
    "Dataset",
    "DatasetInfo",
    "IdxDataset",
    "Subset",
    "fetch_dataset",
    "load_dataset",
    "local_files",
    "random_split",
]


def to_float_nchw(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W) or (N, C, H, W) to float32 NCHW in [0, 1], as torchvision's ToTensor
    (a division by 255, not a multiplication by its rounded reciprocal); floating-point images
    are taken as they are, in float32. Channels come first: see ArrayDataset(channels_last=True)
    for (N, H, W, C) arrays."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4:
        raise ValueError(
            f"DataLoader: images must be (N, H, W) or (N, C, H, W), got {images.shape}"
        )
    if images.dtype == np.uint8:
        # One pass: each byte is widened to float32 and divided in float32, as astype then /.
        return np.divide(images, np.float32(255), dtype=np.float32)
    if images.dtype.kind != "f":
        raise TypeError(
            f"DataLoader: images must be uint8 (scaled to [0, 1]) or floating point, got "
            f"{images.dtype} {images.shape}"
        )
    return np.ascontiguousarray(images, dtype=np.float32)


class Dataset:
    """A map-style dataset: `len(ds)` samples, `ds[i] -> (image, label)`.

    Subclasses that can gather many samples at once override `get_batch`; the default stacks
    samples one by one."""

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        raise NotImplementedError

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Images stacked along a new first axis and int64 labels of the samples `indices`."""
        samples = [self[int(i)] for i in indices]
        images = np.stack([np.asarray(image) for image, _ in samples])
        labels = np.array([int(label) for _, label in samples], dtype=np.int64)
        return images, labels

    def get_float_batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """What the DataLoader yields for `indices`: float32 (N, C, H, W) images (uint8 scaled to
        [0, 1]) and int64 labels."""
        gather = getattr(self, "get_batch", None)  # absent from a duck-typed dataset
        images, labels = gather(indices) if gather is not None else Dataset.get_batch(self, indices)
        return to_float_nchw(images), labels


def _as_indices(indices: np.ndarray | Sequence[int], length: int, who: str) -> np.ndarray:
    indices = np.asarray(indices)
    if indices.ndim != 1 or (indices.size and indices.dtype.kind not in "iu"):
        raise TypeError(
            f"{who}: indices must be a 1-D integer array, got {indices.dtype} of shape "
            f"{indices.shape}"
        )
    indices = indices.astype(np.int64, copy=False)
    if indices.size:
        low, high = indices.min(), indices.max()
        if low < -length or high >= length:
            raise IndexError(f"{who}: index out of range for a dataset of {length} samples")
        if low < 0:
            indices = np.where(indices < 0, indices + length, indices)
    return indices


class ArrayDataset(Dataset):
    """Images and labels held in two arrays with the same first dimension.

    Images are (N, H, W) or channels first, (N, C, H, W), as the DataLoader and the transforms
    expect; `channels_last=True` takes an (N, H, W, C) array (as images are usually stored) and
    moves its channels first once, here, rather than per batch."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        classes: Sequence[str] | None = None,
        channels_last: bool = False,
    ) -> None:
        images = np.asarray(images)
        labels = np.asarray(labels)
        if channels_last:
            if images.ndim != 4:
                raise ValueError(
                    f"ArrayDataset: channels_last images must be (N, H, W, C), got {images.shape}"
                )
            images = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
        if images.ndim not in (3, 4):
            raise ValueError(
                f"ArrayDataset: images must be (N, H, W) or (N, C, H, W) (or (N, H, W, C) with "
                f"channels_last=True), got shape {images.shape}"
            )
        if images.dtype != np.uint8 and images.dtype.kind != "f":
            raise TypeError(
                f"ArrayDataset: images must be uint8 (scaled to [0, 1]) or floating point, got "
                f"{images.dtype}"
            )
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise TypeError(
                f"ArrayDataset: labels must be a 1-D integer array, got {labels.dtype} of shape "
                f"{labels.shape}"
            )
        if images.shape[0] != labels.shape[0]:
            raise ValueError(
                f"ArrayDataset: images and labels differ in length (images {images.shape}, "
                f"labels {labels.shape})"
            )
        self.images = images
        self.labels = labels.astype(np.int64, copy=False)
        self.classes = list(classes) if classes is not None else []

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return self.images[index], int(self.labels[index])

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices = _as_indices(indices, len(self), type(self).__name__)
        return self.images[indices], self.labels[indices]

    def get_float_batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        images = self.images
        if images.dtype != np.uint8 or images.ndim not in (3, 4) or not images.flags.c_contiguous:
            return super().get_float_batch(indices)
        # Gathered and scaled in one pass by a C++ kernel: NumPy's fancy index then division took
        # a fifth of the loader's time with RandomAffine; one pass is 1.2-1.4x faster than those
        # two, the loader 4-6 %.
        indices = _as_indices(indices, len(self), type(self).__name__)
        batch = _kernels.gather_unit_floats(images, indices)
        return (batch[:, None] if batch.ndim == 3 else batch), self.labels[indices]


class IdxDataset(ArrayDataset):
    """A split of a catalogued dataset, as returned by `load_dataset`."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        classes: Sequence[str],
        name: str,
        split: str,
        source: Path,
    ) -> None:
        super().__init__(images, labels, classes)
        self.name = name
        self.split = split
        self.source = source  # the directory the files were read from

    def __repr__(self) -> str:
        shape = "x".join(str(n) for n in self.images.shape[1:])
        return (
            f"IdxDataset({self.name!r}, split={self.split!r}, {len(self)} images of {shape}, "
            f"{len(self.classes)} classes, from {self.source})"
        )


class Subset(Dataset):
    """The samples `indices` of `dataset`, in that order."""

    def __init__(self, dataset: Dataset, indices: np.ndarray | Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = _as_indices(indices, len(dataset), "Subset")

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return self.dataset[int(self.indices[index])]

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices = _as_indices(indices, len(self), "Subset")
        return self.dataset.get_batch(self.indices[indices])

    def get_float_batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices = self.indices[_as_indices(indices, len(self), "Subset")]
        gather = getattr(self.dataset, "get_float_batch", None)
        if gather is None:  # a duck-typed dataset underneath
            return Dataset.get_float_batch(self.dataset, indices)  # type: ignore[arg-type]
        return gather(indices)


def random_split(
    dataset: Dataset, lengths: Sequence[int] | Sequence[float], seed: int
) -> list[Subset]:
    """Splits `dataset` into non-overlapping subsets of the given lengths (or fractions summing to
    1, as PyTorch: floors, then one more sample to the first subsets until all are used). The
    permutation is a pure function of `seed`."""
    if not hasattr(dataset, "__len__"):
        raise TypeError(f"random_split: dataset must have a length, got {type(dataset).__name__}")
    total = len(dataset)
    if not isinstance(lengths, Sequence):
        raise TypeError(f"random_split: lengths must be a sequence, got {type(lengths).__name__}")
    lengths = list(lengths)
    if lengths and all(isinstance(n, float) for n in lengths):
        # Written so that a NaN fraction fails too.
        if not (all(f >= 0 for f in lengths) and abs(sum(lengths) - 1.0) <= 1e-9):
            raise ValueError(f"random_split: fractions must be >= 0 and sum to 1, got {lengths}")
        counts = [int(np.floor(total * f)) for f in lengths]
        for i in range(total - sum(counts)):
            counts[i % len(counts)] += 1
    else:
        if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in lengths):
            raise TypeError(
                f"random_split: lengths must be all ints or all float fractions, got {lengths}"
            )
        counts = [int(n) for n in lengths]
        if any(n < 0 for n in counts) or sum(counts) != total:
            raise ValueError(
                f"random_split: lengths {counts} must be >= 0 and sum to the dataset's {total}"
            )
    seed = check_seed(seed, "random_split")
    order = np.random.Generator(np.random.Philox(key=seed)).permutation(total)
    bounds = np.cumsum([0, *counts])
    return [Subset(dataset, order[a:b]) for a, b in itertools.pairwise(bounds)]


# ---------------------------------------------------------------------------------------------
# The catalogue.

SPLITS = ("train", "test")
PACKAGE_SAMPLE = Path(__file__).resolve().parent / "mnist_sample"
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

# Standard IDX names of the MNIST family, per split: (images, labels).
MNIST_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
FASHION_MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)
KMNIST_MIRRORS = (
    "https://codh.rois.ac.jp/kmnist/dataset/kmnist/",
    "http://codh.rois.ac.jp/kmnist/dataset/kmnist/",
)


def _files(
    mirrors: Sequence[str], table: dict[str, tuple[int, str]]
) -> tuple[_download.RemoteFile, ...]:
    return tuple(
        _download.RemoteFile(name, tuple(m + name for m in mirrors), size, sha256=sha256)
        for name, (size, sha256) in table.items()
    )


# MNIST: SHA-256 and sizes as recorded, identically, by independent projects that verify these
# files (torch.rb's MNIST, Guild AI's mnist package, tensorflow-haskell's input data); torchvision
# checks the same files by MD5 (f68b3c2d..., d53e105e..., 9fb629c4..., ec29112d...).
MNIST_FILES = _files(
    MNIST_MIRRORS,
    {
        "train-images-idx3-ubyte.gz": (
            9912422,
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        ),
        "train-labels-idx1-ubyte.gz": (
            28881,
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        ),
        "t10k-images-idx3-ubyte.gz": (
            1648877,
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        ),
        "t10k-labels-idx1-ubyte.gz": (
            4542,
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        ),
    },
)
# Fashion-MNIST: SHA-256 from torchvision's prototype dataset definitions; sizes as served, and
# Zalando's README gives the MD5s (8d4fb7e6..., 25c81989..., bef4ecab..., bb300cfd...). Debian's
# dataset-fashion-mnist recompressed the files (other bytes, same IDX content), so its copies are
# read as a local directory, not checked against these digests.
FASHION_FILES = _files(
    FASHION_MIRRORS,
    {
        "train-images-idx3-ubyte.gz": (
            26421880,
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        ),
        "train-labels-idx1-ubyte.gz": (
            29515,
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        ),
        "t10k-images-idx3-ubyte.gz": (
            4422102,
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        ),
        "t10k-labels-idx1-ubyte.gz": (
            5148,
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        ),
    },
)
# KMNIST: SHA-256 from torchvision's prototype dataset definitions, sizes as served by CODH
# (recorded by projects that verify them).
KMNIST_FILES = _files(
    KMNIST_MIRRORS,
    {
        "train-images-idx3-ubyte.gz": (
            18165135,
            "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
        ),
        "train-labels-idx1-ubyte.gz": (
            29497,
            "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",
        ),
        "t10k-images-idx3-ubyte.gz": (
            3041136,
            "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",
        ),
        "t10k-labels-idx1-ubyte.gz": (
            5120,
            "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c",
        ),
    },
)
# EMNIST ships as one zip of IDX .gz files. NIST publishes no digest; torchvision records this
# MD5 for the file at this URL, and projects that track the download give its size.
EMNIST_ZIP = _download.RemoteFile(
    "gzip.zip",
    ("https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip",),
    size=561753746,
    md5="58c8d27c78d21e728a6bc7b3cc06412e",
)

DIGITS = [str(d) for d in range(10)]
LETTERS = [chr(c) for c in range(ord("a"), ord("z") + 1)]


@dataclass(frozen=True)
class DatasetInfo:
    """One catalogued dataset: classes, split sizes and where its files come from."""

    name: str
    classes: tuple[str, ...]
    sizes: dict[str, int]
    description: str
    # File stem (without .gz) of each split's images and labels.
    names: dict[str, tuple[str, str]] = field(default_factory=lambda: dict(MNIST_NAMES))
    files: tuple[_download.RemoteFile, ...] = ()
    archive: _download.RemoteFile | None = None  # files are members gzip/<name>.gz of this zip
    # Directories searched before the cache when no root= is given (a distribution's package).
    system_dirs: tuple[Path, ...] = ()
    # EMNIST stores images transposed (column-major); they are turned upright when loaded.
    transposed: bool = False
    label_offset: int = 0  # subtracted from stored labels (EMNIST letters count from 1)

    @property
    def download_size(self) -> int:
        if self.archive is not None:
            return self.archive.size or 0
        return sum(f.size or 0 for f in self.files)


def _emnist(variant: str, classes: Sequence[str], train: int, test: int, offset: int = 0):
    return DatasetInfo(
        name=f"emnist-{variant}",
        classes=tuple(classes),
        sizes={"train": train, "test": test},
        description=f"EMNIST {variant} (Cohen et al. 2017), 28x28 handwritten characters",
        names={
            split: (
                f"emnist-{variant}-{split}-images-idx3-ubyte",
                f"emnist-{variant}-{split}-labels-idx1-ubyte",
            )
            for split in SPLITS
        },
        archive=EMNIST_ZIP,
        transposed=True,
        label_offset=offset,
    )


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            "mnist",
            tuple(DIGITS),
            {"train": 60000, "test": 10000},
            "MNIST handwritten digits (LeCun, Cortes, Burges), 28x28",
            files=MNIST_FILES,
        ),
        DatasetInfo(
            "fashion-mnist",
            (
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ),
            {"train": 60000, "test": 10000},
            "Fashion-MNIST (Xiao, Rasul, Vollgraf 2017), Zalando article images, 28x28",
            files=FASHION_FILES,
            system_dirs=(DEBIAN_FASHION_MNIST,),
        ),
        DatasetInfo(
            "kmnist",
            ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
            {"train": 60000, "test": 10000},
            "Kuzushiji-MNIST (Clanuwat et al. 2018), cursive Japanese, 28x28",
            files=KMNIST_FILES,
        ),
        _emnist(
            "balanced",
            [*DIGITS, *(chr(c) for c in range(ord("A"), ord("Z") + 1)), *"abdefghnqrt"],
            112800,
            18800,
        ),
        _emnist("digits", DIGITS, 240000, 40000),
        # Stored labels are 1..26 (upper and lower case merged); shifted to 0..25.
        _emnist("letters", LETTERS, 124800, 20800, offset=1),
        DatasetInfo(
            "mnist-sample",
            tuple(DIGITS),
            {"train": 4000, "test": 1000},
            "5,000 real MNIST digits bundled with the package (works offline)",
            system_dirs=(PACKAGE_SAMPLE,),
        ),
    )
}


def _info(name: str) -> DatasetInfo:
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a str, got {type(name).__name__}")
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}") from None


def _find(directory: Path, stem: str) -> Path | None:
    """The file `stem` or `stem`.gz in `directory` (or its gzip/ folder, as EMNIST unpacks)."""
    for folder in (directory, directory / "gzip"):
        for candidate in (folder / f"{stem}.gz", folder / stem):
            if candidate.is_file():
                return candidate
    return None


def _split_files(directory: Path, info: DatasetInfo, split: str) -> tuple[Path, Path] | None:
    images, labels = (_find(directory, stem) for stem in info.names[split])
    if images is None or labels is None:
        return None
    return images, labels


def local_files(
    name: str, split: str, root: str | os.PathLike[str] | None = None
) -> tuple[Path, Path] | None:
    """The (images, labels) files of a split on this machine, or None. Looked for in `root` when
    given, else in the dataset's system directories, then in the cache."""
    info = _info(name)
    if split not in SPLITS:
        raise ValueError(f"{name}: split must be 'train' or 'test', got {split!r}")
    if root is not None:
        return _split_files(Path(root), info, split)
    for directory in (*info.system_dirs, _download.cache_dir() / info.name):
        found = _split_files(directory, info, split)
        if found is not None:
            return found
    return None


def _alternatives(info: DatasetInfo) -> str:
    return (
        "Alternatives: load_dataset('mnist-sample') works offline (5,000 real MNIST digits "
        "shipped with the package); root=DIR reads any directory holding the standard IDX files "
        f"of {info.name} (gz or raw); on Debian/Ubuntu, `apt-get install dataset-fashion-mnist` "
        "installs Fashion-MNIST, which load_dataset('fashion-mnist') finds without configuration; "
        f"or copy the files into {_download.cache_dir() / info.name} ($ODYSSEY_DATA moves it)."
    )


def _extract_members(archive: Path, stems: Sequence[str], directory: Path) -> None:
    """Extracts gzip/<stem>.gz members of a verified zip, each through a temporary file renamed
    into place, so an interrupted extraction leaves nothing half-written."""
    with zipfile.ZipFile(archive) as bundle:
        members = {Path(m).name: m for m in bundle.namelist()}
        for stem in stems:
            target = directory / f"{stem}.gz"
            if target.is_file():
                continue
            member = members.get(f"{stem}.gz")
            if member is None:
                raise FileNotFoundError(f"{archive}: no member {stem}.gz")
            with bundle.open(member) as source, _download.atomic_file(target) as sink:
                shutil.copyfileobj(source, sink)


def fetch_dataset(
    name: str,
    root: str | os.PathLike[str] | None = None,
    progress: Callable[[str, int, int | None], None] | None = None,
) -> Path:
    """Downloads and verifies every file of `name` into `root` (default: the cache) and returns
    the directory. Published files already there are kept if their digests match (others, such as
    raw IDX files in a root= directory, are taken as they are). `progress(file, received, total)`
    is called as bytes arrive."""
    info = _info(name)
    if not info.files and info.archive is None:
        if root is None:
            return info.system_dirs[0]
        raise ValueError(f"{name} is bundled with the package; there is nothing to download")
    directory = Path(root) if root is not None else _download.cache_dir() / info.name
    alternatives = _alternatives(info)

    def reporter(file: str) -> _download.Progress | None:
        if progress is None:
            return None
        return lambda received, total: progress(file, received, total)

    if info.archive is not None:
        stems = [stem for split in SPLITS for stem in info.names[split]]
        if all(_find(directory, stem) is not None for stem in stems):
            return directory
        # The zip is shared by every EMNIST variant: kept once, in the cache.
        zip_dir = _download.cache_dir() / "emnist"
        archive = _download.fetch(info.archive, zip_dir, reporter(info.archive.name), alternatives)
        directory.mkdir(parents=True, exist_ok=True)
        _extract_members(archive, stems, directory)
        return directory
    for remote in info.files:
        found = _find(directory, remote.name.removesuffix(".gz"))
        if found is None or found == directory / remote.name:  # a copy there is verified first
            _download.fetch(remote, directory, reporter(remote.name), alternatives)
    return directory


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
    info = _info(name)
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
                f"{name} ({split}) is not in {where} and download=False.\n{_alternatives(info)}"
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
