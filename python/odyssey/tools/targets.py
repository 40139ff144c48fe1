"""Running a paper's [[targets]] (``odyssey validate PAPER --run``): each row whose data is on this
machine is trained once per seed as a sweep (odyssey.sweep: each seed one ``odyssey train`` run in
a process of its own, seeds in parallel on this machine or as Ray tasks on a cluster), its metric
read from the run's summary.json, and the mean ± std over seeds checked against the row's bar. A
full run records the result as ``results/<target>.json`` in the paper folder (atomically), the
value of each seed beside the mean ± std; a quick run (one seed) records nothing, since a README
quotes the full runs.
"""

from __future__ import annotations

import datetime
import json
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odyssey import papers
from odyssey._atomic import write_text_atomic
from odyssey.tools.validate import RESULTS_DIR, config_digest, format_measure, meets

__all__ = ["TargetRun", "data_at_hand", "record", "run_target", "target_sets"]


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


def target_sets(target: Mapping[str, Any]) -> list[str]:
    """The `--set`s of `odyssey train` that make a run of `target`: its dataset, epochs and
    distortions, then the row's own `sets`."""
    sets = [f"train.dataset={target['dataset']}"]
    if "epochs" in target:
        sets.append(f"train.epochs={target['epochs']}")
    sets.append(f"train.augment={'true' if target.get('augment') else 'false'}")
    return [*sets, *target.get("sets", [])]


def run_target(
    paper: papers.Paper,
    target: Mapping[str, Any],
    seeds: Sequence[int],
    runs: Path,
    say: Callable[[str], None] = print,
    backend: str = "local",
    parallel: int | None = None,
    threads: int | None = None,
    address: str | None = None,
) -> TargetRun:
    """Trains `target` once per seed as a sweep (odyssey.sweep: on this machine or a Ray
    cluster, seeds in parallel) in `runs`/<target id> — the same directory resumes it — and
    checks its bar. KeyboardInterrupt when the sweep was interrupted (Ctrl-C, SIGTERM), after
    it has stopped and recorded its trials: the same command resumes it."""
    from odyssey.sweep import Sweep, build_spec
    from odyssey.sweep.run import INTERRUPTED

    name = papers.target_id(target)
    outcome = TargetRun(dict(target), name, "skipped")
    if backend == "local" and not data_at_hand(target["dataset"]):
        outcome.reason = (
            f"no {target['dataset']} here: `odyssey datasets fetch {target['dataset']}`"
        )
        return outcome
    spec, _ = build_spec(
        str(paper.path),
        target["variant"],
        ",".join(map(str, seeds)),
        [],
        [],
        None,
        target["metric"],
        None,
        target_sets(target),
    )
    sweep = Sweep(spec, runs / name, say=lambda line: say(f"  {name} {line}"), announce=False)
    started = time.perf_counter()
    result = sweep.run(backend, parallel, threads, address)
    outcome.wall_s = time.perf_counter() - started
    if result.status == INTERRUPTED:
        # The sweep stopped its trials and recorded them; the user meant every target to stop.
        raise KeyboardInterrupt
    for trial in sweep.trials:
        record = sweep.records[trial.name]
        run_dir = sweep.run_dir(trial)
        if record["status"] != "finished":
            outcome.status = "failed"
            outcome.reason = (
                f"seed {trial.seed}: {record['status']}: {record['error']} (log: "
                f"{run_dir / 'train.log'})"
            )
            return outcome
        summary = _summary(run_dir)
        if summary.get("dataset") != target["dataset"]:
            outcome.status = "failed"
            outcome.reason = (
                f"seed {trial.seed}: the run trained on {summary.get('dataset')}, not "
                f"{target['dataset']} ({run_dir / 'config.toml'})"
            )
            return outcome
        outcome.seeds.append(trial.seed)
        outcome.values.append(float(summary[target["metric"]]))
        outcome.summaries.append(summary)
    if result.status:
        outcome.status = "failed"
        outcome.reason = "interrupted"
        return outcome
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
