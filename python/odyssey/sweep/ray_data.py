"""Datasets the driver has and a Ray worker may not: the driver puts their files in Ray's
object store once (`ray.put`), and a worker whose node lacks one of them writes them into a
dataset cache of its trial's own for that trial.

A worker otherwise gets its data as any run does (odyssey.data.load_dataset): the bundled
datasets ship inside the package, the others from the node's dataset cache, downloaded when
missing — which a node without internet access, or a dataset that exists only on the driver
(copied into its cache by hand), cannot do. The files go as they lie in the driver's cache (IDX,
gzipped or not), so the worker reads the very arrays the driver would: the same bits.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from odyssey.sweep.spec import SweepSpec, Trial

__all__ = ["CACHE_VARIABLE", "datasets_of", "driver_files", "provided"]

CACHE_VARIABLE = "ODYSSEY_DATA"  # odyssey.data.download.cache_dir's override
SPLITS = ("train", "test")


def datasets_of(spec: SweepSpec) -> list[str]:
    """The datasets the sweep's configurations train on (`train.dataset` as each resolves)."""
    from odyssey import papers

    paper = papers.load_paper(papers.find_paper(spec.paper))
    names = set()
    for params in spec.configurations():
        sets = [*spec.sets, *Trial(0, 0, params, 0).sets]
        names.add(papers.resolve(paper, spec.variant, None, sets)["train"]["dataset"])
    return sorted(names)


def _bundled(path: Path) -> bool:
    import odyssey

    return Path(odyssey.__file__).resolve().parent in path.resolve().parents


def driver_files(names: list[str]) -> dict[str, dict[str, bytes]]:
    """For each dataset of `names` the driver has whole (both splits) and that is not bundled
    with the package: its files, by path relative to the cache (`<dataset>/<file>`)."""
    from odyssey.data.datasets.catalogue import dataset_info
    from odyssey.data.datasets.files import local_files

    shipped = {}
    for name in names:
        found = [local_files(name, split) for split in SPLITS]
        if any(pair is None for pair in found):
            continue  # the worker fetches it as any run would
        paths = [path for pair in found for path in pair]  # type: ignore[union-attr]
        if any(_bundled(path) for path in paths):
            continue  # every worker has it
        folder = dataset_info(name).name
        files = {}
        for path in paths:
            # EMNIST's files lie in a gzip/ folder of the dataset's directory.
            inner = f"gzip/{path.name}" if path.parent.name == "gzip" else path.name
            files[f"{folder}/{inner}"] = path.read_bytes()
        shipped[name] = files
    return shipped


def _missing_here(names: list[str]) -> list[str]:
    from odyssey.data.datasets.files import local_files

    return [n for n in names if any(local_files(n, split) is None for split in SPLITS)]


@contextlib.contextmanager
def provided(
    names: list[str], fetch: Callable[[], Mapping[str, Mapping[str, bytes]]], scratch: Path
) -> Iterator[list[str]]:
    """Inside the block, every dataset of `names` is found by `load_dataset` on this node:
    when one is missing here, `fetch()` (the driver's files, `driver_files`) is written into
    scratch/data, which becomes the dataset cache ($ODYSSEY_DATA) until the block ends.
    The node's own cache stays visible through links in it. Yields the datasets that were
    missing."""
    from odyssey.data import download

    missing = _missing_here(names) if names else []
    if not missing:
        yield []
        return
    files: Mapping[str, bytes] = {
        relative: data for dataset in fetch().values() for relative, data in dataset.items()
    }
    cache = scratch / "data"
    for relative, data in files.items():
        path = cache / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)  # the trial's scratch: no reader before the block
    own = download.cache_dir()
    for entry in sorted(own.iterdir()) if own.is_dir() else []:
        if not (cache / entry.name).exists():
            (cache / entry.name).symlink_to(entry.resolve(), target_is_directory=entry.is_dir())
    saved = os.environ.get(CACHE_VARIABLE)
    os.environ[CACHE_VARIABLE] = str(cache)
    try:
        yield missing
    finally:
        if saved is None:
            os.environ.pop(CACHE_VARIABLE, None)
        else:
            os.environ[CACHE_VARIABLE] = saved
