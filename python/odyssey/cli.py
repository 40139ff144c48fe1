"""The ``odyssey`` command."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TextIO


def _doctor(args: argparse.Namespace) -> int:
    """Print what this installation is and what it runs on."""
    import odyssey

    info = odyssey.cpu_info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    rows = [
        ("ML Odyssey", info["version"]),
        ("Python", sys.version.split()[0]),
        ("CPU", f"{info['cpu'] or 'unknown model'} ({info['arch']})"),
        ("ISA compiled", ", ".join(info["isa_compiled"])),
        ("ISA available", ", ".join(info["isa_available"])),
        ("ISA selected", info["isa_selected"]),
        ("threads", str(info["threads"])),
        ("compiler", info["compiler"]),
        ("build type", info["build_type"]),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size else "bundled"


def _datasets_list(args: argparse.Namespace) -> int:
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


class _ProgressBar:
    """A plain-text progress bar on stderr, one line per file."""

    WIDTH = 30

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.file = ""

    def __call__(self, file: str, received: int, total: int | None) -> None:
        if file != self.file:
            if self.file:
                self.stream.write("\n")
            self.file = file
        if total:
            filled = min(self.WIDTH, received * self.WIDTH // total)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            self.stream.write(f"\r{file} [{bar}] {received / 1e6:.1f}/{total / 1e6:.1f} MB")
        else:
            self.stream.write(f"\r{file} {received / 1e6:.1f} MB")
        self.stream.flush()

    def finish(self) -> None:
        if self.file:
            self.stream.write("\n")
            self.stream.flush()


def _datasets_fetch(args: argparse.Namespace) -> int:
    """Downloads and verifies one dataset."""
    from odyssey.data.datasets import DATASETS, fetch_dataset, load_dataset

    if args.name not in DATASETS:
        print(
            f"odyssey datasets fetch: unknown dataset {args.name!r}; known: {', '.join(DATASETS)}",
            file=sys.stderr,
        )
        return 2
    bar = _ProgressBar(sys.stderr)
    try:
        directory = fetch_dataset(args.name, args.root, progress=bar)
        bar.finish()
        sizes = []
        for split in ("train", "test"):
            dataset = load_dataset(args.name, split, root=directory, download=False)
            sizes.append(f"{len(dataset):,} {split}")
    except (OSError, ValueError) as error:  # DownloadError, IdxError, a root that is no folder
        bar.finish()
        print(f"odyssey datasets fetch: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        bar.finish()
        print("odyssey datasets fetch: interrupted; nothing half-written is kept", file=sys.stderr)
        return 130
    print(f"{args.name}: verified, {' + '.join(sizes)} images in {directory}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="odyssey", description="ML Odyssey: reproduce classic deep-learning papers."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    doctor = commands.add_parser(
        "doctor", help="show version, detected and selected ISA, threads and build"
    )
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    doctor.set_defaults(run=_doctor)
    datasets = commands.add_parser(
        "datasets", help="list the datasets, their sizes and where they are available"
    )
    datasets.set_defaults(run=_datasets_list)
    datasets_commands = datasets.add_subparsers(dest="action", metavar="ACTION")
    fetch = datasets_commands.add_parser("fetch", help="download and verify a dataset")
    fetch.add_argument("name", help="a dataset name from `odyssey datasets`")
    fetch.add_argument("--root", help="download into this directory instead of the cache")
    fetch.set_defaults(run=_datasets_fetch)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return args.run(args)
