"""``odyssey datasets`` (the catalogue and where each dataset is on this machine) and
``odyssey datasets fetch NAME`` (download and verify, with a rich progress bar on stderr)."""

from __future__ import annotations

import argparse
import sys
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


def register(commands: argparse._SubParsersAction) -> None:
    """Adds ``datasets`` and ``datasets fetch`` to the ``odyssey`` parser."""
    datasets = commands.add_parser(
        "datasets", help="list the datasets, their sizes and where they are available"
    )
    datasets.set_defaults(run=run_list)
    actions = datasets.add_subparsers(dest="action", metavar="ACTION")
    fetch = actions.add_parser("fetch", help="download and verify a dataset")
    fetch.add_argument("name", help="a dataset name from `odyssey datasets`")
    fetch.add_argument("--root", help="download into this directory instead of the cache")
    fetch.set_defaults(run=run_fetch)


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size else "bundled"


def run_list(args: argparse.Namespace) -> int:
    """One row per catalogued dataset: sizes and where it is available on this machine."""
    from odyssey.data.datasets import DATASETS, local_files

    rows = [("name", "train", "test", "download", "available locally")]
    for name, info in DATASETS.items():
        found = [local_files(name, split) for split in ("train", "test")]
        if all(found):
            where = f"yes: {found[0][0].parent}"  # type: ignore[index]
        elif any(found):
            where = "partly: " + ", ".join(
                f"{split} in {pair[0].parent}"
                for split, pair in zip(("train", "test"), found, strict=True)
                if pair is not None
            )
        else:
            where = "no"
        rows.append(
            (
                name,
                f"{info.sizes['train']:,}",
                f"{info.sizes['test']:,}",
                _megabytes(info.download_size),
                where,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        numbers = [cell.rjust(width) for cell, width in zip(row[1:4], widths[1:], strict=True)]
        print("  ".join([row[0].ljust(widths[0]), *numbers, row[4]]))
    return 0


class DownloadProgress:
    """The ``progress(file, received, total)`` callback of ``fetch_dataset`` as a rich progress
    display: file name, bar, bytes, speed and time left (elapsed once done).

    On a terminal the bars move in place. Elsewhere (a log file, a pipe, CI) a moving display
    would be noise, so each file gets one line, printed when it completes (or, for a file cut
    short by an error or Ctrl-C, when the display closes)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console if console is not None else Console(file=sys.stderr)
        self.live = self.console.is_terminal and not self.console.is_dumb_terminal
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(elapsed_when_finished=True),
            console=self.console,
            transient=not self.live,
        )
        self.tasks: dict[str, TaskID] = {}
        self.reported: set[TaskID] = set()

    def __enter__(self) -> DownloadProgress:
        if self.live:  # elsewhere the tasks are only kept, and printed by _report
            self.progress.start()
        return self

    def __call__(self, file: str, received: int, total: int | None) -> None:
        task = self.tasks.get(file)
        if task is None:
            task = self.tasks[file] = self.progress.add_task(file, total=total)
            self.reported.discard(task)
        self.progress.update(task, completed=received, total=total)
        if total is not None and received >= total:
            self._report(task)

    def _report(self, task: TaskID) -> None:
        """Prints the line of a finished (or abandoned) file when the display does not move."""
        if self.live or task in self.reported:
            return
        self.reported.add(task)
        line = [t for t in self.progress.tasks if t.id == task]
        elapsed = line[0].elapsed
        if line[0].finished_speed is None and elapsed:  # the file's mean speed, not a guess
            line[0].finished_speed = line[0].completed / elapsed
        self.console.print(self.progress.make_tasks_table(line))

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for task in self.tasks.values():
            self._report(task)
        if self.live:
            self.progress.stop()


def ensure_dataset(name: str) -> None:
    """Fetches `name` with the progress display unless both its splits are already on this
    machine, so a command that trains on it shows a download instead of stalling silently."""
    from odyssey.data.datasets import fetch_dataset, local_files

    if all(local_files(name, split) is not None for split in ("train", "test")):
        return
    with DownloadProgress() as progress:
        fetch_dataset(name, progress=progress)


def run_fetch(args: argparse.Namespace) -> int:
    """Downloads and verifies one dataset; exit status 0, 1 when it could not, 2 unknown name,
    130 interrupted."""
    from odyssey.data.datasets import DATASETS, fetch_dataset, load_dataset

    if args.name not in DATASETS:
        print(
            f"odyssey datasets fetch: unknown dataset {args.name!r}; known: {', '.join(DATASETS)}",
            file=sys.stderr,
        )
        return 2
    try:
        with DownloadProgress() as progress:
            directory = fetch_dataset(args.name, args.root, progress=progress)
        sizes = []
        for split in ("train", "test"):
            # odyssey's own load_dataset, not Hugging Face's (bandit B615 goes by the name).
            dataset = load_dataset(args.name, split, root=directory, download=False)  # nosec B615
            sizes.append(f"{len(dataset):,} {split}")
    except (OSError, ValueError) as error:  # DownloadError, IdxError, a root that is no folder
        print(f"odyssey datasets fetch: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("odyssey datasets fetch: interrupted; nothing half-written is kept", file=sys.stderr)
        return 130
    print(f"{args.name}: verified, {' + '.join(sizes)} images in {directory}")
    return 0
