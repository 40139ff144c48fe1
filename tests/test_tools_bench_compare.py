"""odyssey.tools.bench_compare and `odyssey bench compare`: ratios against the baselines."""

from __future__ import annotations

import json
import math
import re
import statistics
from pathlib import Path
from typing import Any

import pytest

from odyssey.cli import main
from odyssey.tools.bench_compare import (
    BenchmarkFileError,
    compare,
    is_measurement,
    is_ratio,
    load_reports,
    parse_threshold,
)

BASELINES = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def gemm_row(name: str, threads: int, ratio: float | None) -> dict[str, Any]:
    """A row as bench_gemm.py writes it: identity, absolute times and the ratio."""
    return {
        "name": name,
        "m": 64,
        "n": 64,
        "k": 64,
        "threads": threads,
        "odyssey_seconds": 1e-5,
        "numpy_seconds": None if ratio is None else 1e-5 * ratio,
        "peak_fraction": 0.7,
        "ratio": ratio,
    }


def write(path: Path, benchmark: str, rows: list[dict[str, Any]], **extra: Any) -> Path:
    """A report as benchmarks/harness.py's write_report writes it."""
    report = {"benchmark": benchmark, "machine": {"cpu_count": 2}, **extra, "results": rows}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report), encoding="utf-8")
    return path


def pair(tmp_path: Path, factor: float) -> tuple[Path, Path]:
    """A baseline of two ratios and a new run whose second ratio is `factor` times the baseline's
    (and whose absolute times all doubled: a slower machine, which must not matter)."""
    baseline = write(
        tmp_path / "base" / "gemm.json", "gemm", [gemm_row("a", 1, 1.5), gemm_row("a", 2, 2.0)]
    )
    rows = [gemm_row("a", 1, 1.5), gemm_row("a", 2, 2.0 * factor)]
    for row in rows:
        row["odyssey_seconds"] *= 2
        row["peak_fraction"] /= 2
    return baseline, write(tmp_path / "new" / "gemm.json", "gemm", rows)


def test_a_20_percent_slowdown_is_a_moderate_regression(tmp_path, capsys) -> None:
    baseline, new = pair(tmp_path, 0.8)
    comparison = compare(baseline, new)
    (regression,) = comparison.regressions
    assert regression.severity == "moderate"
    assert regression.row == "name=a, m=64, n=64, k=64, threads=2"
    assert regression.change == pytest.approx(-0.2)
    assert main(["bench", "compare", str(baseline), str(new)]) == 1
    out = capsys.readouterr().out
    assert "moderate" in out
    assert "-20.0 %" in out
    assert out.splitlines()[-1].startswith("REGRESSION: 1 of 2 ratios slower by 10 % or more")


def test_a_2_percent_slowdown_passes(tmp_path, capsys) -> None:
    baseline, new = pair(tmp_path, 0.98)
    comparison = compare(baseline, new)
    assert comparison.regressions == ()
    assert [row.severity for row in comparison.rows] == ["ok", "ok"]
    assert main(["bench", "compare", str(baseline), str(new)]) == 0
    out = capsys.readouterr().out
    assert "-2.0 %" in out
    assert out.splitlines()[-1] == "OK: none of 2 ratios slower by 10 % or more"


@pytest.mark.parametrize(
    ("factor", "severity", "regression"),
    [
        (1.0, "ok", False),
        (0.96, "ok", False),
        (0.95, "minor", False),
        (0.9, "moderate", True),  # exactly the threshold: a regression
        (0.75, "severe", True),
        (1.04, "ok", False),
        (1.05, "faster", False),
        (1.5, "faster", False),
    ],
)
def test_severity_bands(tmp_path, factor: float, severity: str, regression: bool) -> None:
    baseline, new = pair(tmp_path, factor)
    changed = compare(baseline, new).rows[1]
    assert (changed.severity, changed.regression) == (severity, regression)


def test_the_threshold_decides_what_fails(tmp_path, capsys) -> None:
    baseline, new = pair(tmp_path, 0.8)
    assert main(["bench", "compare", str(baseline), str(new), "--threshold", "25%"]) == 0
    assert "moderate" in capsys.readouterr().out  # still shown, no longer failing
    assert compare(baseline, new, threshold=0.25).regressions == ()
    baseline, new = pair(tmp_path, 0.93)
    assert main(["bench", "compare", str(baseline), str(new), "--threshold", "0.05"]) == 1
    assert main(["bench", "compare", str(baseline), str(new), "--threshold=0"]) == 1
    capsys.readouterr()


@pytest.mark.parametrize(
    ("text", "value"),
    [("10%", 0.10), ("0.1", 0.10), (" 7.5 % ", 0.075), ("0", 0.0), ("0%", 0.0), ("25 %", 0.25)],
)
def test_threshold_parsing(text: str, value: float) -> None:
    assert parse_threshold(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["10", "1", "100%", "-5%", "-0.1", "abc", "%", "", "nan", "inf"])
def test_a_bad_threshold_is_a_usage_error(tmp_path, capsys, text: str) -> None:
    with pytest.raises(ValueError, match="percentage below 100"):
        parse_threshold(text)
    baseline, new = pair(tmp_path, 1.0)
    with pytest.raises(SystemExit) as stop:
        main(["bench", "compare", str(baseline), str(new), f"--threshold={text}"])
    assert stop.value.code == 2
    assert "argument --threshold: expected a slowdown" in capsys.readouterr().err


def test_folder_against_folder(tmp_path) -> None:
    base, new = tmp_path / "base", tmp_path / "new"
    write(base / "gemm.json", "gemm", [gemm_row("a", 1, 1.5)])
    write(base / "conv.json", "conv", [{"shape": "c1", "pass": "fwd", "ratio": 4.0}])
    write(base / "optim.json", "optim", [{"optimizer": "sgd", "ratio": 2.0}])
    write(new / "gemm.json", "gemm", [gemm_row("a", 1, 1.5)])
    # Paired by the benchmark's name, not the file's.
    write(new / "renamed.json", "conv", [{"shape": "c1", "pass": "fwd", "ratio": 2.0}])
    write(new / "trainer.json", "trainer", [{"model": "m", "ratio": 0.9}])
    comparison = compare(base, new)
    assert [(row.benchmark, row.severity) for row in comparison.rows] == [
        ("conv", "severe"),
        ("gemm", "ok"),
    ]
    assert (comparison.baseline_only, comparison.new_only) == (("optim",), ("trainer",))
    assert "not compared: optim, trainer (one side)" in comparison.verdict()
    # A file against a folder compares that file's benchmark only.
    assert compare(base / "gemm.json", new).baseline_only == ()


def test_rows_on_one_side_are_reported_not_failed(tmp_path, capsys) -> None:
    baseline = write(
        tmp_path / "base.json",
        "gemm",
        [gemm_row("gone", 1, 1.5), gemm_row("kept", 1, 1.2), gemm_row("unmeasured", 1, None)],
    )
    new = write(
        tmp_path / "new.json",
        "gemm",
        [gemm_row("kept", 1, 1.2), gemm_row("added", 1, 0.5), gemm_row("unmeasured", 1, 1.1)],
    )
    comparison = compare(baseline, new)
    assert {row.row.split(",")[0]: row.severity for row in comparison.rows} == {
        "name=gone": "baseline only",
        "name=kept": "ok",
        "name=unmeasured": "not measured",
        "name=added": "new only",
    }
    assert comparison.regressions == ()
    assert main(["bench", "compare", str(baseline), str(new), "--changed"]) == 0
    out = capsys.readouterr().out
    for severity in ("baseline only", "new only", "not measured"):
        assert severity in out
    assert "name=kept" not in out  # --changed lists only what is not ok
    assert "1 baseline only; 1 new only; 1 not measured" in out.splitlines()[-1]


def test_a_ratio_the_new_run_no_longer_measures_is_a_regression(tmp_path, capsys) -> None:
    baseline = write(tmp_path / "base.json", "gemm", [gemm_row("a", 1, 1.5), gemm_row("b", 1, 2)])
    new = write(tmp_path / "new.json", "gemm", [gemm_row("a", 1, 1.5), gemm_row("b", 1, None)])
    comparison = compare(baseline, new)
    assert [row.severity for row in comparison.regressions] == ["lost"]
    assert main(["bench", "compare", str(baseline), str(new)]) == 1
    assert capsys.readouterr().out.splitlines()[-1].startswith("REGRESSION: 1 of 1 ratios")


def test_a_benchmark_of_which_nothing_pairs_is_not_a_pass(tmp_path, capsys) -> None:
    # The same shapes measured on a machine with another thread count: no row pairs.
    baseline = write(tmp_path / "base.json", "gemm", [gemm_row("a", 2, 1.5)])
    new = write(tmp_path / "new.json", "gemm", [gemm_row("a", 4, 0.5)])
    comparison = compare(baseline, new)
    assert comparison.unpaired == ("gemm",)
    assert comparison.regressions == ()
    assert main(["bench", "compare", str(baseline), str(new)]) == 2
    assert "NOTHING COMPARED in gemm" in capsys.readouterr().out


def test_measurements_never_decide_which_rows_pair(tmp_path) -> None:
    row = {
        "shape": "c1",
        "dims": [64, 1, 6],
        "pass": "fwd",
        "options": {"lr": 0.1},
        "torch_ms": 2.0,
        "odyssey_ms": 1.0,
        "algorithm": "direct",
        "rounds": [{"seed": 0, "ratio": 2.0}],
        "ours_reached": 5,
        "ratio": 2.0,
    }
    changed = {
        **row,
        "torch_ms": 9.0,
        "algorithm": "im2col",
        "rounds": [{"seed": 0, "ratio": 1.0}],
        "ours_reached": 3,
    }
    baseline = write(tmp_path / "base.json", "conv", [row])
    new = write(tmp_path / "new.json", "conv", [changed, {**row, "options": {"lr": 0.2}}])
    comparison = compare(baseline, new)
    assert [(row.row, row.severity) for row in comparison.rows] == [
        ('shape=c1, dims=[64, 1, 6], pass=fwd, options={"lr": 0.1}', "ok"),
        ('shape=c1, dims=[64, 1, 6], pass=fwd, options={"lr": 0.2}', "new only"),
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ratio", False),
        ("ratio_of_medians", False),
        ("vs_torch", False),
        ("threads", False),
        ("shape", False),
        ("max_epochs", False),
        ("seeds", False),
        ("odyssey_ms", True),
        ("numpy_seconds", True),
        ("images_per_second", True),
        ("ours_images_per_s", True),
        ("bare_ips", True),
        ("peak_fraction", True),
        ("fit_overhead_s", True),
        ("torch_epochs", True),
        ("algorithm", True),
    ],
)
def test_field_kinds(field: str, value: bool) -> None:
    assert is_measurement(field, [0, 1] if field == "seeds" else 1.0) is value
    assert is_ratio(field) is field.startswith(("ratio", "vs_"))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "expected a JSON benchmark report"),
        ("[1, 2]", "expected a JSON object with 'benchmark' and 'results', got list"),
        ('{"results": []}', "expected 'benchmark', the benchmark's name"),
        ('{"benchmark": "gemm"}', "expected 'results', a list of result rows"),
        ('{"benchmark": "gemm", "results": [3]}', r"results\[0\]: expected an object, got int"),
        (
            '{"benchmark": "gemm", "results": [{"op": "add", "ratio": "fast"}]}',
            r'results\[0\]\.ratio: expected a positive number or null \(a ratio\), got "fast"',
        ),
        (
            '{"benchmark": "gemm", "results": [{"op": "add", "vs_numpy": -1.0}]}',
            r"results\[0\]\.vs_numpy: expected a positive number",
        ),
        (
            '{"benchmark": "gemm", "results": [{"op": "add", "ratio": 1, "odyssey_s": 1},'
            ' {"op": "add", "ratio": 2, "odyssey_s": 2}]}',
            r"results\[0\] and results\[1\] have the same identity \(op=add\)",
        ),
    ],
)
def test_a_malformed_file_is_an_error_naming_it(tmp_path, capsys, content, expected) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text(content, encoding="utf-8")
    with pytest.raises(BenchmarkFileError, match=f"^{re.escape(str(broken))}: .*{expected}"):
        load_reports(broken)
    baseline, _ = pair(tmp_path, 1.0)
    assert main(["bench", "compare", str(baseline), str(broken)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: odyssey bench compare")
    assert f"odyssey bench compare: error: argument NEW: {broken}: " in err


def test_folders_that_cannot_be_compared(tmp_path, capsys) -> None:
    baseline, new = pair(tmp_path, 1.0)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BenchmarkFileError, match="expected a folder of benchmark"):
        load_reports(empty)
    with pytest.raises(BenchmarkFileError, match="no such file or folder"):
        load_reports(tmp_path / "absent")
    write(new.parent / "again.json", "gemm", [gemm_row("a", 1, 1.5)])
    with pytest.raises(
        BenchmarkFileError, match=r"gemm\.json: benchmark 'gemm' is also in .*again\.json"
    ):
        load_reports(new.parent)
    assert main(["bench", "compare", str(tmp_path / "absent"), str(new)]) == 2
    assert "argument BASELINE: " in capsys.readouterr().err
    other = write(tmp_path / "conv.json", "conv", [{"shape": "c1", "ratio": 1.0}])
    with pytest.raises(ValueError, match="no benchmark in common"):
        compare(baseline, other)
    assert main(["bench", "compare", str(baseline), str(other)]) == 2
    assert "error: BASELINE and NEW have no benchmark in common" in capsys.readouterr().err


def test_json_and_markdown_output(tmp_path, capsys) -> None:
    baseline, new = pair(tmp_path, 0.7)
    assert main(["bench", "compare", str(baseline), str(new), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["regressions"], report["compared"], report["threshold"]) == (1, 2, 0.1)
    assert report["rows"][1]["severity"] == "severe"
    assert report["rows"][1]["change"] == pytest.approx(-0.3)
    assert main(["bench", "compare", str(baseline), str(new), "--markdown"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("**REGRESSION: 1 of 2 ratios")
    assert lines[2] == "| benchmark | metric | baseline | new | change | severity | row |"
    assert lines[-1] == "| gemm | ratio | 2.000 | 1.400 | -30.0 % | severe | " + (
        "name=a, m=64, n=64, k=64, threads=2 |"
    )


def test_a_terminal_gets_a_rich_table(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich's own switch: treat stdout as a terminal
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "200")
    baseline, new = pair(tmp_path, 0.7)
    assert main(["bench", "compare", str(baseline), str(new)]) == 1
    out = capsys.readouterr().out
    assert "\x1b[" in out  # styled
    assert "━" in out  # drawn as a table
    assert "severe" in out
    assert "REGRESSION: 1 of 2 ratios" in out


def test_bench_without_an_action_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["bench"])
    assert stop.value.code == 2
    assert "ACTION" in capsys.readouterr().err


def test_the_committed_baselines_against_themselves(capsys) -> None:
    comparison = compare(BASELINES, BASELINES)
    assert comparison.regressions == ()
    assert {row.benchmark for row in comparison.rows} == {
        json.loads(path.read_text(encoding="utf-8"))["benchmark"]
        for path in BASELINES.glob("*.json")
    }
    assert all(row.change in (0.0, None) for row in comparison.rows)
    assert all(row.severity in ("ok", "not measured") for row in comparison.rows)
    assert main(["bench", "compare", str(BASELINES), str(BASELINES)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("OK: none of ")


def ratio_fields_outside_results(value: Any) -> list[str]:
    """Ratio-named fields anywhere in `value` (a report without its results)."""
    if isinstance(value, dict):
        return [field for field in value if is_ratio(field)] + [
            found for item in value.values() for found in ratio_fields_outside_results(item)
        ]
    if isinstance(value, list):
        return [found for item in value for found in ratio_fields_outside_results(item)]
    return []


# Which of each committed row's measurements its ratio is: (numerator, denominator), other's time
# over ours or our rate over the other's, so that higher is better for us everywhere.
ORIENTATION = {
    ("gemm", "ratio"): ("numpy_seconds", "odyssey_seconds"),
    ("kernels", "ratio"): ("numpy_seconds", "odyssey_seconds"),
    ("conv", "ratio"): ("torch_ms", "odyssey_ms"),
    ("lenet", "ratio"): ("torch_seconds", "odyssey_seconds"),
    ("optim", "ratio"): ("torch_us", "odyssey_us"),
    ("pointwise", "vs_numpy"): ("numpy_us", "odyssey_us"),
    ("pointwise", "vs_torch"): ("torch_us", "odyssey_us"),
    ("trainer", "ratio_of_medians"): ("trainer_ips", "bare_ips"),
    ("lenet_tta", "ratio_of_medians"): ("torch_seconds", "ours_seconds"),
    ("lenet_tta", "ratio"): ("ours_images_per_s", "torch_images_per_s"),  # the step row's
}


def test_every_committed_ratio_is_higher_is_better() -> None:
    checked = 0
    for path in sorted(BASELINES.glob("*.json")):
        report = json.loads(path.read_text(encoding="utf-8"))
        outside = ratio_fields_outside_results({**report, "results": None})
        assert outside == [], f"{path.name}: ratios outside results are not compared: {outside}"
        benchmark = report["benchmark"]
        for row in report["results"]:
            for field, value in row.items():
                fields = ORIENTATION.get((benchmark, field))
                if not is_ratio(field) or value is None or fields is None:
                    continue
                numerator, denominator = fields
                if numerator in row and denominator in row:
                    assert math.isclose(value, row[numerator] / row[denominator], rel_tol=1e-9)
                    checked += 1
        if benchmark == "trainer":  # ratio: the median of the rounds' bare / Trainer seconds
            for row in report["results"]:
                rounds = [r["bare"] / r["trainer"] for r in row["round_seconds"]]
                assert math.isclose(row["ratio"], statistics.median(rounds), rel_tol=1e-9)
                checked += 1
        if benchmark == "augment":  # vs_scipy: our images/s over SciPy's row of the same setting
            scipy = {
                (row["batch"], row["threads"]): row["images_per_second"]
                for row in report["results"]
                if row["what"].startswith("scipy")
            }
            for row in report["results"]:
                rate = scipy[row["batch"], row["threads"]]
                assert math.isclose(row["vs_scipy"], row["images_per_second"] / rate, rel_tol=1e-6)
                checked += 1
    assert checked > 150
