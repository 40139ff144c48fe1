"""The catalogue of IDX datasets: for each one its classes, split sizes, file names, where its
files are published and what they must hash to, and the directories a distribution installs it
in. Nothing here touches the disk or the network: `files` finds and fetches, `loading` reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from odyssey.data.download import RemoteFile

__all__ = [
    "DATASETS",
    "DEBIAN_FASHION_MNIST",
    "PACKAGE_SAMPLE",
    "SPLITS",
    "DatasetInfo",
    "dataset_info",
]

SPLITS = ("train", "test")
# The bundled sample sits in odyssey/data/, beside this package.
PACKAGE_SAMPLE = Path(__file__).resolve().parent.parent / "mnist_sample"
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


def _files(mirrors: Sequence[str], table: dict[str, tuple[int, str]]) -> tuple[RemoteFile, ...]:
    return tuple(
        RemoteFile(name, tuple(m + name for m in mirrors), size, sha256=sha256)
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
EMNIST_ZIP = RemoteFile(
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
    files: tuple[RemoteFile, ...] = ()
    archive: RemoteFile | None = None  # files are members gzip/<name>.gz of this zip
    # Directories searched before the cache when no root= is given (a distribution's package).
    system_dirs: tuple[Path, ...] = ()
    # EMNIST stores images transposed (column-major); they are turned upright when loaded.
    transposed: bool = False
    label_offset: int = 0  # subtracted from stored labels (EMNIST letters count from 1)

    @property
    def download_size(self) -> int:
        """Bytes to download: the archive's, or the sum of the files' (0 where unknown)."""
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


def dataset_info(name: str) -> DatasetInfo:
    """The catalogue entry of `name`, or an error listing the known names."""
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a str, got {type(name).__name__}")
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}") from None
