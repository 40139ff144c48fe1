"""`odyssey validate --run --seeds N` through the sweep machinery: the seeds run as a sweep (in
parallel here, or on Ray), the record holds each seed's value and the mean ± std, the printed
table shows both, and `--complete` checks the per-seed values a README quotes."""

from __future__ import annotations

import json

import pytest
from cli_run import run
from test_validate import ONE_EPOCH, valid_paper, with_targets

from odyssey import sweep as sweep_package
from odyssey.sweep.run import INTERRUPTED, Outcome
from odyssey.tools import validate


def test_seeds_run_as_a_sweep_and_the_readme_quotes_each_seed(tmp_path) -> None:
    folder = valid_paper(tmp_path / "tiny")
    with_targets(folder, [{**ONE_EPOCH, "name": "quick", "bar": 0.5}])
    runs = tmp_path / "runs"
    status, out, err = run(
        "validate", str(folder), "--run", "--seeds", "2", "--parallel", "2", "--out", str(runs)
    )
    assert status == 0, out + err
    result = validate.read_result(folder / "results" / "quick.json")
    assert result["seeds"] == [0, 1]
    # Each seed is a trial of a sweep in the target's directory, its value the trial's.
    (sweep,) = runs.glob("*/tiny/quick/sweep.json")
    trials = json.loads(sweep.read_text())["trials"]
    assert [t["metrics"]["test_accuracy"] for t in trials] == result["values"]
    assert json.loads(sweep.read_text())["parallel"] == 2
    per_seed = validate.format_per_seed("test_accuracy", result["values"])
    assert per_seed in out  # the printed table's per-seed column
    measure = result["measure"]
    readme = (folder / "README.md").read_text()
    row = "| `quick` | mnist-sample | {} |"
    one_decimal = " / ".join(f"{100 * v:.1f}" for v in result["values"])
    for cell in (f"**{measure}** ({per_seed})", f"{measure} ({one_decimal})", measure):
        (folder / "README.md").write_text(readme.replace(row.format("—"), row.format(cell)))
        status, out, _ = run("validate", str(folder), "--complete")
        assert status == 0, (cell, out)
    wrong = " / ".join(f"{100 * v + 0.1:.1f}" for v in result["values"])
    fewer = f"{100 * result['values'][0]:.1f} / {100 * result['values'][0]:.1f} / 1.0"
    for cell in (f"{measure} ({wrong})", f"{measure} ({fewer})"):
        (folder / "README.md").write_text(readme.replace(row.format("—"), row.format(cell)))
        status, out, _ = run("validate", str(folder), "--complete")
        assert status == 2, cell
        assert "the README's per-seed values" in out
        assert f"are not the recorded {per_seed}" in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--backend", "ray"], "--backend, --address, --parallel and --threads go with --run"),
        (["--parallel", "2"], "go with --run"),
        (["--run", "--address", "auto"], "--address goes with --backend ray"),
        (["--run", "--parallel", "4096", "--threads", "4096"], "exceeds the"),
    ],
)
def test_sweep_options_of_validate_are_checked(tmp_path, argv, expected) -> None:
    folder = valid_paper(tmp_path / "tiny")
    with_targets(folder, [{**ONE_EPOCH, "name": "quick", "bar": 0.5}])
    out = ["--out", str(tmp_path / "runs")] if "--run" in argv else []
    status, _, err = run("validate", str(folder), *argv, *out)
    assert status == 2
    assert expected in err
    assert not (folder / "results").exists()


def test_an_interrupted_sweep_stops_validate_with_status_130(tmp_path, monkeypatch) -> None:
    """Ctrl-C (or SIGTERM) ends the sweep of the target running, which records its trials as
    interrupted and returns 130: validate stops there (no later target runs, nothing is
    recorded) and exits 130 too."""
    folder = valid_paper(tmp_path / "tiny")
    with_targets(
        folder,
        [{**ONE_EPOCH, "name": "first", "bar": 0.5}, {**ONE_EPOCH, "name": "second", "bar": 0.5}],
    )
    swept = []

    def interrupted_run(self, *args, **kwargs) -> Outcome:
        swept.append(self.out.name)
        for trial in self.trials:
            self.records[trial.name] = {
                **self._base(trial), "status": "interrupted", "error": "interrupted (Ctrl-C)"
            }  # fmt: skip
        return Outcome(INTERRUPTED, 0, 0, len(self.trials), len(self.trials))

    monkeypatch.setattr(sweep_package.Sweep, "run", interrupted_run)
    status, _, err = run(
        "validate", str(folder), "--run", "--seeds", "2", "--out", str(tmp_path / "runs")
    )
    assert status == INTERRUPTED, err
    assert swept == ["first"]
    assert "interrupted during tiny target first" in err
    assert not (folder / "results").exists()
