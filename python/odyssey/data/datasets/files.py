"""Where a catalogued dataset's files are: found on this machine (`local_files`: a root=
directory, the system directories, the cache) or downloaded, verified and unpacked into the cache
(`fetch_dataset`)."""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

from odyssey.data import download as _download
from odyssey.data.datasets.catalogue import SPLITS, DatasetInfo, dataset_info

__all__ = ["alternatives", "fetch_dataset", "local_files"]


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
    info = dataset_info(name)
    if split not in SPLITS:
        raise ValueError(f"{name}: split must be 'train' or 'test', got {split!r}")
    if root is not None:
        return _split_files(Path(root), info, split)
    for directory in (*info.system_dirs, _download.cache_dir() / info.name):
        found = _split_files(directory, info, split)
        if found is not None:
            return found
    return None


def alternatives(info: DatasetInfo) -> str:
    """What a user can do when a dataset is not here and cannot be downloaded."""
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
    info = dataset_info(name)
    if not info.files and info.archive is None:
        if root is None:
            return info.system_dirs[0]
        raise ValueError(f"{name} is bundled with the package; there is nothing to download")
    directory = Path(root) if root is not None else _download.cache_dir() / info.name
    advice = alternatives(info)

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
        archive = _download.fetch(info.archive, zip_dir, reporter(info.archive.name), advice)
        directory.mkdir(parents=True, exist_ok=True)
        _extract_members(archive, stems, directory)
        return directory
    for remote in info.files:
        found = _find(directory, remote.name.removesuffix(".gz"))
        if found is None or found == directory / remote.name:  # a copy there is verified first
            _download.fetch(remote, directory, reporter(remote.name), advice)
    return directory
