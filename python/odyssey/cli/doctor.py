"""``odyssey doctor``: what this installation is, where its data and runs are, and whether its
kernels compute what they should on this CPU (the self-test of ``odyssey.tools.selftest``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(commands: argparse._SubParsersAction) -> None:
    """Adds ``doctor`` to the ``odyssey`` parser."""
    doctor = commands.add_parser(
        "doctor",
        help="check the installation: version, ISAs, threads, build, data and run folders, and a "
        "self-test of every kernel family on every ISA",
        description="Prints the installation report, then checks every kernel family on every ISA "
        "this CPU runs against the scalar reference and at 1 and N threads. Exit status 1 when a "
        "check fails.",
    )
    doctor.add_argument(
        "--json",
        action="store_true",
        help="print the report as one JSON object (self_test is null with --no-self-test)",
    )
    doctor.add_argument(
        "--no-self-test", action="store_true", help="skip the kernel self-test (under a second)"
    )
    doctor.set_defaults(run=run)


def paths() -> dict[str, Any]:
    """Where the data cache is, which catalogued datasets this machine holds (and where), and
    where new run directories go; found as the data loaders and the Trainer find them."""
    from odyssey.data.datasets import DATASETS, PACKAGE_SAMPLE, SPLITS, local_files
    from odyssey.data.download import cache_dir
    from odyssey.train import rundir

    cache = cache_dir()
    datasets: dict[str, dict[str, Any] | None] = {}
    for name in DATASETS:
        found = {split: local_files(name, split) for split in SPLITS}
        present = [files[0].parent for files in found.values() if files is not None]
        if not present:
            datasets[name] = None
            continue
        directory = present[0]
        if directory.is_relative_to(cache):
            source = "cache"
        elif directory.is_relative_to(PACKAGE_SAMPLE):
            source = "bundled"
        else:
            source = "system"
        splits = [split for split, files in found.items() if files is not None]
        datasets[name] = {"directory": str(directory), "source": source, "splits": splits}
    # The Trainer's default: make_run_dir's root, under the current directory.
    runs = str(Path(rundir.RUNS_ROOT).resolve())
    return {"data_cache": str(cache), "datasets": datasets, "runs": runs}


def _print_rows(rows: list[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def _dataset_rows(found: dict[str, Any]) -> list[tuple[str, str]]:
    """One row per dataset present ("datasets" on the first), then one naming the absent ones."""
    lines = []
    for name, where in found["datasets"].items():
        if where is not None:
            splits = "" if len(where["splits"]) == 2 else f", {' and '.join(where['splits'])} only"
            lines.append(f"{name}: {where['directory']} ({where['source']}{splits})")
    absent = [name for name, where in found["datasets"].items() if where is None]
    if absent:
        lines.append(f"not here: {', '.join(absent)} (odyssey datasets fetch NAME)")
    return [("datasets" if i == 0 else "", line) for i, line in enumerate(lines)]


def _print_self_test(report: Any) -> None:
    """A family x ISA table (pass, or FAIL with the largest error), the thread column, then one
    line per failure."""
    print(
        f"\nself-test: {len(report.families)} kernel families on each ISA against "
        f"{report.isas[0]}, and at {report.threads[0]} and {report.threads[1]} threads "
        f"({report.seconds:.1f} s)"
    )
    threads = f"{report.threads[0]} = {report.threads[1]} threads"
    header = ["family", *report.isas, threads]
    table = [header]
    for family in report.families:
        row = [family.name]
        for isa, result in family.isas.items():
            if result.error is not None:
                row.append(f"FAIL {result.max_error:.1e}")
            else:
                row.append("ref" if isa == report.isas[0] else "pass")
        unsteady = [isa for isa, result in family.isas.items() if result.thread_error is not None]
        row.append(f"FAIL ({', '.join(unsteady)})" if unsteady else "pass")
        table.append(row)
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    failures = report.failures()
    for line in failures:
        print(f"FAIL {line}")
    print("self-test passed" if not failures else f"self-test FAILED: {len(failures)} checks")


def run(args: argparse.Namespace) -> int:
    """Prints the report (and, unless --no-self-test, the self-test); 1 when a check fails."""
    import odyssey
    from odyssey.tools import selftest

    info = odyssey.cpu_info()
    found = paths()
    report = None if args.no_self_test else selftest.run_self_test()
    if args.json:
        self_test = None if report is None else report.to_json()
        print(json.dumps({**info, "self_test": self_test, "paths": found}, indent=2))
    else:
        _print_rows(
            [
                ("ML Odyssey", info["version"]),
                ("Python", sys.version.split()[0]),
                ("CPU", f"{info['cpu'] or 'unknown model'} ({info['arch']})"),
                ("ISA compiled", ", ".join(info["isa_compiled"])),
                ("ISA available", ", ".join(info["isa_available"])),
                ("ISA selected", info["isa_selected"]),
                ("threads", str(info["threads"])),
                ("compiler", info["compiler"]),
                ("build type", info["build_type"]),
                ("data cache", f"{found['data_cache']} ($ODYSSEY_DATA moves it)"),
                *_dataset_rows(found),
                ("runs", f"{found['runs']}/<name>/<time> (from the current directory)"),
            ]
        )
        if report is not None:
            _print_self_test(report)
    return 0 if report is None or report.passed else 1
