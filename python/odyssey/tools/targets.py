"""Running a paper's [[targets]] (``odyssey validate PAPER --run``): each row whose data is on this
machine is trained once per seed by ``odyssey train`` (the Trainer; the same command a user runs,
in a child process so that one run cannot disturb the next), its metric read from the run's
summary.json, and the mean ± std over seeds checked against the row's bar. A full run records the
result as ``results/<target>.json`` in the paper folder (atomically); a quick run (one seed)
records nothing, since a README quotes the full runs.
"""

from __future__ import annotations

import datetime
import json
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odyssey import papers
from odyssey._atomic import write_text_atomic
from odyssey.tools.validate import RESULTS_DIR, config_digest, format_measure, format_value, meets

__all__ = ["TargetRun", "data_at_hand", "record", "run_target", "train_command"]


@dataclass
class TargetRun:
    """What became of one target: met, missed, skipped (its data is absent) or failed (a run did
    not finish), with the value of each seed."""

    target: dict[str, Any]
    id: str
    status: str
    seeds: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    reason: str = ""
    summaries: list[dict[str, Any]] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def mean(self) -> float:
        """The mean of the values over the seeds."""
        return statistics.fmean(self.values)

    @property
    def std(self) -> float:
        """The sample standard deviation over seeds (0 for one seed)."""
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0

    @property
    def measure(self) -> str:
        """The mean ± std formatted as the README's table shows it (``—`` with no value)."""
        return format_measure(self.target["metric"], self.mean, self.std) if self.values else "—"


def data_at_hand(dataset: str) -> bool:
    """Both splits of `dataset` are on this machine (bundled, system-installed or cached)."""
    from odyssey.data.datasets import local_files

    return all(local_files(dataset, split) is not None for split in ("train", "test"))


def train_command(
    paper: papers.Paper, target: Mapping[str, Any], seed: int, out: Path
) -> list[str]:
    """The `odyssey train` command of one seed of `target`: its variant, dataset, epochs,
    distortions and `--set`s, writing its run to `out`."""
    command = [sys.executable, "-m", "odyssey", "train", str(paper.path)]
    command += ["--variant", target["variant"], "--dataset", target["dataset"]]
    if "epochs" in target:
        command += ["--epochs", str(target["epochs"])]
    command += ["--augment" if target.get("augment") else "--no-augment"]
    for assignment in target.get("sets", []):
        command += ["--set", assignment]
    return [*command, "--seed", str(seed), "--out", str(out), "--no-progress"]


def run_target(
    paper: papers.Paper,
    target: Mapping[str, Any],
    seeds: Sequence[int],
    runs: Path,
    say: Callable[[str], None] = print,
) -> TargetRun:
    """Trains `target` once per seed under `runs`/<target id>/seed-<S> and checks its bar."""
    name = papers.target_id(target)
    outcome = TargetRun(dict(target), name, "skipped")
    if not data_at_hand(target["dataset"]):
        outcome.reason = (
            f"no {target['dataset']} here: `odyssey datasets fetch {target['dataset']}`"
        )
        return outcome
    started = time.perf_counter()
    for seed in seeds:
        out = runs / name / f"seed-{seed}"
        out.parent.mkdir(parents=True, exist_ok=True)
        log = out.parent / f"seed-{seed}.log"
        seed_started = time.perf_counter()
        with log.open("w", encoding="utf-8") as sink:
            # This Python's `-m odyssey train` with the paper's own target; no shell.
            status = subprocess.run(  # nosec B603
                train_command(paper, target, seed, out), stdout=sink, stderr=subprocess.STDOUT
            ).returncode
        summary = _summary(out)
        value = summary.get(target["metric"])
        if status != 0 or value is None:
            outcome.status = "failed"
            outcome.reason = f"seed {seed}: `odyssey train` exited {status}; its output is in {log}"
            return outcome
        ran = (summary.get("seed"), summary.get("dataset"))
        if ran != (seed, target["dataset"]):
            outcome.status = "failed"
            outcome.reason = (
                f"seed {seed}: the run trained seed {ran[0]} on {ran[1]}, not seed {seed} on "
                f"{target['dataset']} ({out / 'config.toml'})"
            )
            return outcome
        outcome.seeds.append(seed)
        outcome.values.append(float(value))
        outcome.summaries.append(summary)
        say(
            f"  {name} seed {seed}: {target['metric']} {format_value(target['metric'], value)}"
            f" ({time.perf_counter() - seed_started:.0f} s)"
        )
    outcome.wall_s = time.perf_counter() - started
    outcome.status = "met" if meets(target["metric"], outcome.mean, target["bar"]) else "missed"
    return outcome


def _summary(run: Path) -> dict[str, Any]:
    try:
        summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return summary if isinstance(summary, dict) else {}


def record(paper: papers.Paper, outcome: TargetRun) -> Path:
    """Writes `outcome` as the paper's results/<target id>.json: the target's definition, the
    seeds and values, mean ± std, and where and when they were measured."""
    import odyssey

    target = outcome.target
    info = odyssey.cpu_info()
    first = outcome.summaries[0] if outcome.summaries else {}
    result = {
        "paper": paper.slug,
        "target": outcome.id,
        "variant": target["variant"],
        "dataset": target["dataset"],
        "metric": target["metric"],
        "augment": target.get("augment", False),
        "epochs": target.get("epochs"),
        "sets": list(target.get("sets", [])),
        "bar": target["bar"],
        "paper_value": target.get("paper"),
        "config_sha256": config_digest(paper, target),
        "seeds": outcome.seeds,
        "values": outcome.values,
        "mean": outcome.mean,
        "std": outcome.std,
        "measure": outcome.measure,
        "met": outcome.status == "met",
        "commit": first.get("git_commit"),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "cpu": info["cpu"],
            "arch": info["arch"],
            "platform": platform.platform(),
            "python": platform.python_version(),
            "odyssey": info["version"],
        },
        "isa": info["isa_selected"],
        "threads": first.get("threads"),
        "wall_s": round(outcome.wall_s, 1),
        "train_s": [round(s.get("wall_s", 0.0), 2) for s in outcome.summaries],
    }
    path = paper.path / RESULTS_DIR / f"{outcome.id}.json"
    path.parent.mkdir(exist_ok=True)
    write_text_atomic(path, json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return path
