"""Benchmark results against the committed baselines: which ratios got slower, and by how much.

A benchmark report (``benchmarks/harness.py``'s ``write_report``) is a JSON object with the
``benchmark`` name, the ``machine``, context (versions, shapes, profiles) and ``results``: a list
of rows. A row's fields are of three kinds, told apart by name alone:

- ratios, the only values compared: ``ratio``, ``ratio_*`` and ``vs_*`` (a positive number, or
  null when that run could not measure it). Each is measured side by side in one run, so the
  machine's speed cancels out, and every benchmark orients it the same way, higher is better
  for us: the other library's time over ours (``vs_numpy``: NumPy's time over ours), our
  throughput over theirs, or for ``trainer`` the Trainer's throughput over a bare loop's;
- measurements, never compared, because they depend on the machine and its load: a field named
  with a unit (``*_ms``, ``*_us``, ``*_s``, ``*_seconds``, ``*_per_s``, ``*_per_second``, ``*_ips``,
  ``*_gflops``, ``*_gbps``, ``*_fraction``) or after a contender (``odyssey_*``, ``ours_*``,
  ``torch_*``, ``numpy_*``, ``scipy_*``: its time, rate, epochs, rounds that reached a bar),
  ``algorithm`` (what the kernel dispatcher chose) and any list of records (per-round details);
- identity, every other field (shape, pass, op, isa, threads, batch, options, ...): together the
  row's key, which pairs a baseline row with the new run's.

Only ``results`` rows are compared; the rest of a report is context. A ratio's change is
new / baseline - 1: -20 % means ours now runs at 0.8x its former speed relative to the other side.
A slowdown of 5 % or more is minor, of 10 % moderate, of 25 % severe; a gain of 5 % or more is
"faster". A ratio slower by the threshold or more is a regression. A row or ratio on one side
only is listed ("baseline only", "new only", "not measured") but is not a regression; a benchmark
on one side only (a subset run such as ``nox -s benchmark -- gemm``) is named and not compared.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "BenchmarkFileError",
    "Comparison",
    "RatioChange",
    "Report",
    "Row",
    "compare",
    "compare_reports",
    "is_measurement",
    "is_ratio",
    "load_reports",
    "parse_threshold",
]

DEFAULT_THRESHOLD = 0.10
# (slowdown at least, severity), worst first; FASTER is the gain shown as an improvement.
SLOWDOWN_SEVERITIES = ((0.25, "severe"), (0.10, "moderate"), (0.05, "minor"))
FASTER = 0.05
# Ratios are printed with three decimals; a change computed from them (1.0 -> 0.9) lands a few ulp
# off its round value, which must not move it out of its band.
TOLERANCE = 1e-9

UNIT_SUFFIXES = (
    "_ms",
    "_us",
    "_s",
    "_seconds",
    "_per_s",
    "_per_second",
    "_ips",
    "_gflops",
    "_gbps",
    "_fraction",
)
CONTENDER_PREFIXES = ("odyssey_", "ours_", "torch_", "numpy_", "scipy_")
OUTCOME_FIELDS = frozenset({"algorithm"})

BASELINE_ONLY = "baseline only"
NEW_ONLY = "new only"
NOT_MEASURED = "not measured"
# A ratio the baseline measured that the new run did not: lost, counted as a regression.
LOST = "lost"
UNCOMPARED = (BASELINE_ONLY, NEW_ONLY, NOT_MEASURED, LOST)


class BenchmarkFileError(ValueError):
    """A file or folder that holds no comparable benchmark report; the message names the path and
    what was expected."""


def is_ratio(field: str) -> bool:
    """True for a compared ratio's field name: ``ratio``, ``ratio_*`` or ``vs_*``."""
    return field == "ratio" or field.startswith(("ratio_", "vs_"))


def is_measurement(field: str, value: Any) -> bool:
    """True for a field that is neither a ratio nor part of the row's identity: a time, a rate, a
    contender's outcome or a list of per-round records."""
    is_record_list = isinstance(value, list) and any(isinstance(item, dict) for item in value)
    return (
        field.endswith(UNIT_SUFFIXES)
        or field.startswith(CONTENDER_PREFIXES)
        or field in OUTCOME_FIELDS
        or is_record_list
    )


@dataclass(frozen=True)
class Row:
    """One result row: its identity shown as ``field=value, ...`` and its ratios by field name."""

    label: str
    ratios: dict[str, float | None]


@dataclass(frozen=True)
class Report:
    """One benchmark's report: the file it came from and its rows by canonical identity."""

    path: Path
    benchmark: str
    rows: dict[str, Row]


@dataclass(frozen=True)
class RatioChange:
    """One ratio of one row, baseline against new; `change` is new / baseline - 1 (None when a
    side lacks it), `severity` one of severe, moderate, minor, ok, faster, baseline only, new
    only, not measured."""

    benchmark: str
    row: str
    metric: str
    baseline: float | None
    new: float | None
    change: float | None
    severity: str
    regression: bool


@dataclass(frozen=True)
class Comparison:
    """Every ratio of the benchmarks both sides ran, and the benchmarks only one side has."""

    threshold: float
    rows: tuple[RatioChange, ...]
    baseline_only: tuple[str, ...]
    new_only: tuple[str, ...]

    @property
    def regressions(self) -> tuple[RatioChange, ...]:
        """The ratios slower than the baseline by the threshold or more."""
        return tuple(row for row in self.rows if row.regression)

    @property
    def compared(self) -> tuple[RatioChange, ...]:
        """The ratios measured on both sides."""
        return tuple(row for row in self.rows if row.change is not None)

    @property
    def unpaired(self) -> tuple[str, ...]:
        """The benchmarks both sides ran of which not one ratio could be compared (their rows
        differ in every key: another machine's thread count or ISA, a renamed shape): a
        comparison that would pass by comparing nothing."""
        benchmarks = dict.fromkeys(row.benchmark for row in self.rows)
        compared = {row.benchmark for row in self.compared}
        return tuple(name for name in benchmarks if name not in compared)

    def count(self, severity: str) -> int:
        """How many ratios have this severity."""
        return sum(row.severity == severity for row in self.rows)

    def verdict(self) -> str:
        """One line: regression or not, against what threshold, and what else to know."""
        threshold = format_percent(self.threshold)
        regressions = self.regressions
        if self.unpaired:
            head = (
                f"NOTHING COMPARED in {', '.join(self.unpaired)}: no row pairs with the baseline's "
                "(another thread count or ISA?)"
            )
        elif regressions:
            worst = min(regressions, key=lambda row: -1.0 if row.change is None else row.change)
            head = (
                f"REGRESSION: {len(regressions)} of {len(self.compared)} ratios slower by "
                f"{threshold} or more; worst {worst.benchmark} {worst.metric} "
                f"{format_change(worst.change)} ({worst.row})"
            )
        else:
            head = f"OK: none of {len(self.compared)} ratios slower by {threshold} or more"
        notes = [
            f"{count} {severity}"
            for severity in ("faster", "minor", "moderate", "severe", *UNCOMPARED)
            if (count := self.count(severity))
        ]
        if self.baseline_only or self.new_only:
            notes.append(
                "not compared: " + ", ".join([*self.baseline_only, *self.new_only]) + " (one side)"
            )
        return head + (f" ({'; '.join(notes)})" if notes else "")

    def to_json(self) -> dict[str, Any]:
        """The comparison as plain data, for machines (``odyssey bench compare --json``)."""
        return {
            "threshold": self.threshold,
            "verdict": self.verdict(),
            "regressions": len(self.regressions),
            "unpaired_benchmarks": list(self.unpaired),
            "compared": len(self.compared),
            "baseline_only_benchmarks": list(self.baseline_only),
            "new_only_benchmarks": list(self.new_only),
            "rows": [asdict(row) for row in self.rows],
        }


def format_percent(fraction: float) -> str:
    """0.1 as ``10 %``, 0.075 as ``7.5 %``."""
    return f"{100 * fraction:g} %"


def format_change(change: float | None) -> str:
    """A signed percentage with one decimal (``-20.0 %``), or an em dash for no change known."""
    return "—" if change is None else f"{100 * change:+.1f} %"


def format_ratio(ratio: float | None) -> str:
    """A ratio with three decimals, or an em dash where a side lacks it."""
    return "—" if ratio is None else f"{ratio:.3f}"


def parse_threshold(text: str) -> float:
    """A threshold written as a percentage (``10%``) or a fraction (``0.1``), as a fraction in
    [0, 1); ValueError saying what was expected otherwise."""
    written = text.strip()
    percent = written.endswith("%")
    number = written.removesuffix("%").strip()
    try:
        value = float(number) / (100 if percent else 1)
    except ValueError:
        value = math.nan
    if not 0 <= value < 1:  # NaN fails too
        raise ValueError(
            f"expected a slowdown as a percentage below 100 (10%) or a fraction below 1 (0.1), "
            f"got {text!r}"
        )
    return value


def _identity_label(identity: dict[str, Any]) -> str:
    return ", ".join(
        f"{field}={value if isinstance(value, str) else json.dumps(value)}"
        for field, value in identity.items()
    )


def _read_ratio(path: Path, index: int, field: str, value: Any) -> float | None:
    if value is None:
        return None
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not is_number or not math.isfinite(value) or value <= 0:
        raise BenchmarkFileError(
            f"{path}: results[{index}].{field}: expected a positive number or null (a ratio), "
            f"got {json.dumps(value)}"
        )
    return float(value)


def read_report(path: Path) -> Report:
    """The report in one JSON file; BenchmarkFileError naming the file and what was expected."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise BenchmarkFileError(f"{path}: cannot be read ({error.strerror or error})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BenchmarkFileError(f"{path}: expected a JSON benchmark report: {error}") from None
    if not isinstance(data, dict):
        raise BenchmarkFileError(
            f"{path}: expected a JSON object with 'benchmark' and 'results', "
            f"got {type(data).__name__}"
        )
    benchmark = data.get("benchmark")
    if not isinstance(benchmark, str) or not benchmark:
        raise BenchmarkFileError(f"{path}: expected 'benchmark', the benchmark's name (a string)")
    results = data.get("results")
    if not isinstance(results, list):
        raise BenchmarkFileError(f"{path}: expected 'results', a list of result rows (objects)")
    rows: dict[str, Row] = {}
    first_index: dict[str, int] = {}
    for index, entry in enumerate(results):
        if not isinstance(entry, dict):
            raise BenchmarkFileError(
                f"{path}: results[{index}]: expected an object, got {type(entry).__name__}"
            )
        identity = {
            field: value
            for field, value in entry.items()
            if not is_ratio(field) and not is_measurement(field, value)
        }
        ratios = {
            field: _read_ratio(path, index, field, value)
            for field, value in entry.items()
            if is_ratio(field)
        }
        if not ratios:
            continue  # a row that records only measurements has nothing to compare
        key = json.dumps(identity, sort_keys=True)
        if key in rows:
            raise BenchmarkFileError(
                f"{path}: results[{first_index[key]}] and results[{index}] have the same identity "
                f"({_identity_label(identity)}); expected each row to differ in a non-measurement "
                "field"
            )
        rows[key] = Row(_identity_label(identity), ratios)
        first_index[key] = index
    return Report(path, benchmark, rows)


def load_reports(path: str | os.PathLike[str]) -> dict[str, Report]:
    """The reports of a JSON file or of a folder's ``*.json``, by benchmark name;
    BenchmarkFileError when the path is missing, a folder holds none, or a file is malformed."""
    location = Path(path)
    if location.is_dir():
        files = sorted(location.glob("*.json"))
        if not files:
            raise BenchmarkFileError(
                f"{location}: expected a folder of benchmark *.json, found none"
            )
    elif location.is_file():
        files = [location]
    else:
        raise BenchmarkFileError(f"{location}: no such file or folder")
    reports: dict[str, Report] = {}
    for file in files:
        report = read_report(file)
        if report.benchmark in reports:
            raise BenchmarkFileError(
                f"{file}: benchmark {report.benchmark!r} is also in "
                f"{reports[report.benchmark].path}; expected one report per benchmark"
            )
        reports[report.benchmark] = report
    return reports


def _severity(change: float, threshold: float) -> tuple[str, bool]:
    slowdown = -change
    regression = slowdown > TOLERANCE and slowdown >= threshold - TOLERANCE
    for bound, severity in SLOWDOWN_SEVERITIES:
        if slowdown >= bound - TOLERANCE:
            return severity, regression
    return ("faster" if change >= FASTER - TOLERANCE else "ok"), regression


def _ratio_change(
    benchmark: str,
    row: str,
    metric: str,
    baseline: float | None,
    new: float | None,
    threshold: float,
) -> RatioChange:
    if baseline is not None and new is None:
        return RatioChange(benchmark, row, metric, baseline, new, None, LOST, True)
    if baseline is None or new is None:
        return RatioChange(benchmark, row, metric, baseline, new, None, NOT_MEASURED, False)
    change = new / baseline - 1
    severity, regression = _severity(change, threshold)
    return RatioChange(benchmark, row, metric, baseline, new, change, severity, regression)


def _compare_report(old: Report, new: Report, threshold: float) -> list[RatioChange]:
    changes: list[RatioChange] = []
    for key, row in old.rows.items():
        other = new.rows.get(key)
        for metric, value in row.ratios.items():
            if other is None or metric not in other.ratios:
                changes.append(
                    RatioChange(
                        old.benchmark, row.label, metric, value, None, None, BASELINE_ONLY, False
                    )
                )
            else:
                changes.append(
                    _ratio_change(
                        old.benchmark, row.label, metric, value, other.ratios[metric], threshold
                    )
                )
    for key, row in new.rows.items():
        known = old.rows.get(key)
        for metric, value in row.ratios.items():
            if known is None or metric not in known.ratios:
                changes.append(
                    RatioChange(
                        new.benchmark, row.label, metric, None, value, None, NEW_ONLY, False
                    )
                )
    return changes


def compare_reports(
    baseline: Mapping[str, Report], new: Mapping[str, Report], threshold: float = DEFAULT_THRESHOLD
) -> Comparison:
    """The ratios of the benchmarks in both `baseline` and `new` (from `load_reports`), compared;
    ValueError for a threshold outside [0, 1) or no benchmark in common."""
    if not 0 <= threshold < 1:
        raise ValueError(f"compare: threshold must be a fraction in [0, 1), got {threshold!r}")
    common = sorted(baseline.keys() & new.keys())
    if not common:
        raise ValueError(
            "compare: BASELINE and NEW have no benchmark in common (baseline: "
            f"{', '.join(sorted(baseline)) or 'none'}; new: {', '.join(sorted(new)) or 'none'})"
        )
    rows = [
        change
        for benchmark in common
        for change in _compare_report(baseline[benchmark], new[benchmark], threshold)
    ]
    return Comparison(
        threshold=threshold,
        rows=tuple(rows),
        baseline_only=tuple(sorted(baseline.keys() - new.keys())),
        new_only=tuple(sorted(new.keys() - baseline.keys())),
    )


def compare(
    baseline: str | os.PathLike[str],
    new: str | os.PathLike[str],
    threshold: float = DEFAULT_THRESHOLD,
) -> Comparison:
    """The baseline results (a JSON file or a folder of ``*.json``) against new ones, ratio by
    ratio; `regressions` are the ratios slower by `threshold` (a fraction: 0.10 is 10 %) or more."""
    return compare_reports(load_reports(baseline), load_reports(new), threshold)
