"""``odyssey bench compare BASELINE NEW``: benchmark ratios against the committed baselines.

Prints one row per ratio (benchmark, metric, baseline, new, change, severity, row) as a rich table
on a terminal and as plain columns otherwise (``--markdown`` for a CI job summary, ``--json`` for
machines), then a one-line verdict. Which fields are compared, and how, is described in
``odyssey.tools.bench_compare``.

Exit status: 0 no ratio slower by the threshold or more; 1 a regression (a baseline ratio the new
run no longer measures counts as one); 2 a usage mistake, a file that is not a benchmark report
(one line naming the argument and what was expected), or a benchmark of which no row pairs with
the baseline's, so that nothing would be compared.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from odyssey.tools import bench_compare
from odyssey.tools.bench_compare import (
    Comparison,
    RatioChange,
    format_change,
    format_ratio,
)

HEADERS = ("benchmark", "metric", "baseline", "new", "change", "severity", "row")
NUMERIC_COLUMNS = frozenset({"baseline", "new", "change"})
SEVERITY_STYLES = {
    "severe": "bold red",
    "moderate": "red",
    "minor": "yellow",
    "faster": "green",
    bench_compare.BASELINE_ONLY: "dim",
    bench_compare.NEW_ONLY: "dim",
    bench_compare.NOT_MEASURED: "dim",
}


def _threshold(text: str) -> float:
    try:
        return bench_compare.parse_threshold(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def register(commands: argparse._SubParsersAction) -> None:
    """Adds ``bench`` and ``bench compare`` to the ``odyssey`` parser."""
    bench = commands.add_parser("bench", help="compare benchmark results with the baselines")
    actions = bench.add_subparsers(dest="action", metavar="ACTION", required=True)
    compare = actions.add_parser(
        "compare",
        help="compare the ratios of two benchmark runs; exit 1 on a regression",
        description="Compare the ratios (ours against NumPy, PyTorch or SciPy, measured side by "
        "side in one run) of NEW with BASELINE; exit 1 when one is slower by the threshold or "
        "more.",
    )
    compare.add_argument(
        "baseline", metavar="BASELINE", help="a benchmark JSON or a folder of them"
    )
    compare.add_argument("new", metavar="NEW", help="a benchmark JSON or a folder of them")
    compare.add_argument(
        "--threshold",
        type=_threshold,
        default=bench_compare.DEFAULT_THRESHOLD,
        help="the slowdown that fails, as 10%% or 0.1 (default 10%%)",
    )
    output = compare.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the comparison as JSON")
    output.add_argument(
        "--markdown", action="store_true", help="print the table and verdict as Markdown"
    )
    compare.add_argument(
        "--changed",
        action="store_true",
        help="list only the ratios whose severity is not ok (in the table; the verdict and "
        "--json cover every one)",
    )
    compare.set_defaults(run=run_compare, parser=compare)


def _usage_error(parser: argparse.ArgumentParser, message: str) -> int:
    """Prints the usage and ``PROG: error: message`` on stderr, as argparse does; returns 2."""
    parser.print_usage(sys.stderr)
    print(f"{parser.prog}: error: {message}", file=sys.stderr)
    return 2


def _cells(row: RatioChange) -> tuple[str, ...]:
    return (
        row.benchmark,
        row.metric,
        format_ratio(row.baseline),
        format_ratio(row.new),
        format_change(row.change),
        row.severity,
        row.row,
    )


def _print_plain(rows: Sequence[RatioChange]) -> None:
    lines = [HEADERS, *(_cells(row) for row in rows)]
    widths = [max(len(line[column]) for line in lines) for column in range(len(HEADERS))]
    for line in lines:
        cells = [
            cell.rjust(width) if header in NUMERIC_COLUMNS else cell.ljust(width)
            for cell, width, header in zip(line, widths, HEADERS, strict=True)
        ]
        print("  ".join(cells).rstrip())


def _print_rich(console: Console, rows: Sequence[RatioChange]) -> None:
    table = Table(show_edge=False)
    for header in HEADERS:
        table.add_column(header, justify="right" if header in NUMERIC_COLUMNS else "left")
    for row in rows:
        table.add_row(*_cells(row), style=SEVERITY_STYLES.get(row.severity))
    console.print(table)


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|")


def _print_markdown(comparison: Comparison, rows: Sequence[RatioChange]) -> None:
    print(f"**{_markdown_cell(comparison.verdict())}**\n")
    print("| " + " | ".join(HEADERS) + " |")
    print("| " + " | ".join("---:" if h in NUMERIC_COLUMNS else "---" for h in HEADERS) + " |")
    for row in rows:
        print("| " + " | ".join(_markdown_cell(cell) for cell in _cells(row)) + " |")


def run_compare(args: argparse.Namespace) -> int:
    """Loads both sides, prints the comparison and returns 1 on a regression, 0 otherwise."""
    reports = {}
    for argument, path in (("BASELINE", args.baseline), ("NEW", args.new)):
        try:
            reports[argument] = bench_compare.load_reports(path)
        except bench_compare.BenchmarkFileError as error:
            return _usage_error(args.parser, f"argument {argument}: {error}")
    try:
        comparison = bench_compare.compare_reports(
            reports["BASELINE"], reports["NEW"], args.threshold
        )
    except ValueError as error:
        return _usage_error(args.parser, str(error).removeprefix("compare: "))
    rows = [row for row in comparison.rows if row.severity != "ok" or not args.changed]
    if args.json:
        print(json.dumps(comparison.to_json(), indent=2))
    elif args.markdown:
        _print_markdown(comparison, rows)
    else:
        console = Console()
        if console.is_terminal and not console.is_dumb_terminal:
            _print_rich(console, rows)
            style = "bold red" if comparison.regressions else "bold green"
            console.print(comparison.verdict(), style=style, markup=False, highlight=False)
        else:
            _print_plain(rows)
            print(comparison.verdict())
    if comparison.unpaired:
        return 2
    return 1 if comparison.regressions else 0
