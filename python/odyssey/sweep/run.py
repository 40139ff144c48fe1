"""Running a sweep into its directory: the stored definition (a resumed command must match it),
which trials are already finished (a complete summary.json in their run directory), the plan of
threads x parallel trials, the backend that runs the rest, and sweep.json/sweep.csv rewritten
after every trial so that an interrupted sweep leaves a true record.

The directory::

    sweep.json  sweep.csv  metric.png  curves.png
    trials/c000-s0/   an `odyssey train` run (config.toml, metrics, summary.json, ...) + train.log
    trials/c000-s1/ ...
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from odyssey.sweep import lock, report, signals
from odyssey.sweep import trial as trial_module
from odyssey.sweep.spec import (
    SweepError,
    SweepSpec,
    Trial,
    differing_keys,
    format_value,
    metrics_of,
)
from odyssey.train import rundir

__all__ = ["INTERRUPTED", "Outcome", "Sweep", "available_cores", "plan"]

INTERRUPTED = 130  # a shell's status for SIGINT
TRIALS = "trials"


def available_cores() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def plan(cores: int, trials: int, parallel: int | None, threads: int | None) -> tuple[int, int]:
    """(trials in parallel, threads per trial) with parallel x threads ≤ `cores`: what is not
    given is chosen to fill the cores — by default one trial per core (independent trials
    scale better than threads inside one small model's step), never more than there are
    trials to run."""
    for name, value in (("--parallel", parallel), ("--threads", threads)):
        if value is not None and value < 1:
            raise SweepError(f"{name} must be >= 1, got {value}")
    if parallel is not None and threads is not None:
        if parallel * threads > cores:
            raise SweepError(
                f"--parallel {parallel} x --threads {threads} = {parallel * threads} exceeds the "
                f"{cores} core(s) here; lower one of them"
            )
        return parallel, threads
    if threads is not None:
        if threads > cores:
            raise SweepError(f"--threads {threads} exceeds the {cores} core(s) here")
        return max(1, min(cores // threads, trials)), threads
    if parallel is not None:
        if parallel > cores:
            raise SweepError(f"--parallel {parallel} exceeds the {cores} core(s) here")
        return parallel, max(1, cores // parallel)
    chosen = max(1, min(cores, trials))
    return chosen, max(1, cores // chosen)


@dataclass
class Outcome:
    """How a sweep ended: its exit status (0 every trial finished, 1 some failed, 130
    interrupted) and the counts."""

    status: int
    finished: int
    failed: int
    interrupted: int
    total: int


class Sweep:
    """A sweep's directory and records: `prepare()` checks and stores the definition and finds
    the finished trials, `run(...)` runs the others on a backend and writes the report."""

    def __init__(
        self,
        spec: SweepSpec,
        out: Path,
        say: Callable[[str], None] = print,
        announce: bool = True,
    ) -> None:
        self.spec = spec
        self.announce = announce  # the plan and the resumed count; each trial's line always
        self.out = Path(out)
        self.say = say
        self.trials = spec.expand()
        self.records: dict[str, dict[str, Any]] = {}
        self.keys = [key for key, _ in spec.grid] + [d.key for d in spec.random]
        self.created = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        self.runtime: dict[str, Any] = {}
        self._interrupted = False

    # -- the directory --------------------------------------------------------------------

    def run_dir(self, trial: Trial) -> Path:
        """Where `trial`'s run goes."""
        return self.out / TRIALS / trial.name

    def prepare(self) -> list[Trial]:
        """Checks the directory (a new one, or this very sweep's) and returns the trials still to
        run: those without a complete summary.json. Nothing is written yet."""
        path = self.out / report.JSON
        previous: dict[str, Any] = {}
        self._check_directory()
        if path.is_file():
            previous = _read_json(path)
            self._check_same(previous.get("definition"))
            self.created = previous.get("created", self.created)
        stored = {r.get("name"): r for r in previous.get("trials", []) if isinstance(r, dict)}
        todo = []
        for trial in self.trials:
            record = self._base(trial)
            summary_path = self.run_dir(trial) / rundir.SUMMARY
            summary = rundir.read_summary(summary_path) if summary_path.is_file() else {}
            if trial_module.is_complete(summary, trial, self.spec.metric):
                old = stored.get(trial.name, {})
                record.update(
                    status="finished",
                    metrics=metrics_of(summary),
                    wall_s=old.get("wall_s", summary.get("wall_s")),
                    host=old.get("host"),
                    threads=summary.get("threads"),
                )
            else:
                todo.append(trial)
            self.records[trial.name] = record
        return todo

    def _check_directory(self) -> None:
        """SweepError unless --out is new, empty (but for a lock) or a sweep directory."""
        if self.out.exists() and not self.out.is_dir():
            raise SweepError(f"--out {self.out} is a file; a sweep directory must be a folder")
        if (
            self.out.is_dir()
            and not (self.out / report.JSON).is_file()
            and any(entry.name != lock.LOCK for entry in self.out.iterdir())
        ):
            raise SweepError(
                f"--out {self.out} is not empty and holds no {report.JSON}: not a sweep "
                "directory; choose a new or empty --out"
            )

    def _check_same(self, stored: Any) -> None:
        """SweepError when the directory holds a sweep of another definition."""
        mine = self.spec.definition()
        if not isinstance(stored, Mapping):
            raise SweepError(f"--out {self.out}: {report.JSON} holds no sweep definition")
        differ = differing_keys(stored, mine)
        if differ:
            shown = "; ".join(f"{k}: {stored.get(k)!r} there, {mine[k]!r} now" for k in differ)
            raise SweepError(
                f"--out {self.out} holds another sweep ({shown}); resume it with its own "
                "command, or choose another --out"
            )

    def _base(self, trial: Trial) -> dict[str, Any]:
        return {
            "trial": trial.index,
            "name": trial.name,
            "config": trial.config,
            "params": dict(trial.params),
            "seed": trial.seed,
            "run": f"{TRIALS}/{trial.name}",
            "status": "pending",
            "error": None,
            "metrics": {},
            "wall_s": None,
            "host": None,
            "threads": None,
        }

    def describe(self, config: int) -> str:
        """A configuration's parameters as `key=value, ...` (or "default" with none)."""
        params = next(t.params for t in self.trials if t.config == config)
        return ", ".join(f"{k}={format_value(v)}" for k, v in params.items()) or "default"

    def write(self) -> None:
        """sweep.json and sweep.csv as the records stand now (the directory made if need be)."""
        self.out.mkdir(parents=True, exist_ok=True)
        records = [self.records[t.name] for t in self.trials if t.name in self.records]
        summary = report.summarise(records, self.spec.metric)
        best = report.best_configuration(summary, self.spec.mode)
        counts = {s: sum(r["status"] == s for r in records) for s in _STATUSES}
        document = {
            "definition": self.spec.definition(),
            "created": self.created,
            "updated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            **self.runtime,
            "counts": counts,
            "trials": records,
            "configurations": summary,
            "best": best,
        }
        report.write_json(self.out / report.JSON, document)
        report.write_csv(self.out / report.CSV, records, self.keys)

    def plots(self) -> list[Path]:
        """metric.png and curves.png from the records and the runs' logs (those drawn)."""
        records = [self.records[t.name] for t in self.trials]
        title = f"{self.spec.slug} / {self.spec.variant}: {self.spec.metric}"
        made = []
        metric_png = self.out / report.METRIC_PLOT
        if report.plot_metric(metric_png, records, self.keys, self.spec.metric, title):
            made.append(metric_png)
        curves = self.out / report.CURVES_PLOT
        if report.plot_curves(
            curves,
            records,
            lambda record: self.out / record["run"],
            self.describe,
            f"{self.spec.slug} / {self.spec.variant}: training loss",
        ):
            made.append(curves)
        return made

    # -- running --------------------------------------------------------------------------

    def run(
        self,
        backend: str = "local",
        parallel: int | None = None,
        threads: int | None = None,
        address: str | None = None,
        max_retries: int = 2,
    ) -> Outcome:
        """Runs the trials not yet finished and writes the report, holding the directory's lock
        (SweepError when another sweep runs in it); Ctrl-C, SIGTERM or SIGHUP ends the running
        trials (recorded as interrupted) and returns status 130."""
        self._check_directory()  # before the lock makes the directory
        if backend == "ray":  # no directory made for a sweep that cannot run
            from odyssey.sweep.ray_backend import require_ray

            require_ray()
        with lock.held(self.out), signals.stop_as_interrupt():
            todo = self.prepare()
            done = len(self.trials) - len(todo)
            if done and self.announce:
                self.say(
                    f"{done} of {len(self.trials)} trial(s) already finished; running the rest"
                )
            if todo:
                try:
                    self._run(todo, backend, parallel, threads, address, max_retries)
                except KeyboardInterrupt:
                    with signals.ignored():
                        self._record_interrupt()
            return self._finish()

    def _record_interrupt(self) -> None:
        for record in self.records.values():
            if record["status"] == "running":  # a backend reports its own; in case
                record.update(status="interrupted", error="interrupted (Ctrl-C or a stop signal)")
        self.write()
        self.say(
            "interrupted: the running trials were stopped; the same command resumes "
            "the sweep (finished trials are kept)"
        )
        self._interrupted = True

    def _run(
        self,
        todo: list[Trial],
        backend: str,
        parallel: int | None,
        threads: int | None,
        address: str | None,
        max_retries: int,
    ) -> None:
        counter = {"done": len(self.trials) - len(todo)}

        def on_start(trial: Trial) -> None:
            self.records[trial.name].update(status="running", error=None, metrics={})
            self.write()

        def on_done(trial: Trial, record: dict[str, Any]) -> None:
            self.records[trial.name].update(record)
            counter["done"] += 1
            self.write()
            self.say(self._line(trial, counter["done"]))

        if backend == "ray":
            from odyssey.sweep import ray_backend

            cores, largest = ray_backend.connect(address)
            if threads is not None and threads > largest:
                raise SweepError(
                    f"--threads {threads}: no node of the Ray cluster has that many CPUs (the "
                    f"largest has {largest}); a trial runs on one node"
                )
            parallel, threads = plan(cores, len(todo), parallel, threads)
            # A trial's CPUs must fit on one node, or Ray would never schedule it.
            threads = min(threads, largest)
            self._announce(todo, backend, parallel, threads, cores)
            ray_backend.run_ray(
                self.spec, todo, self.run_dir, parallel, threads, on_start, on_done, max_retries
            )
            return
        from odyssey.sweep.local import run_local

        cores = available_cores()
        parallel, threads = plan(cores, len(todo), parallel, threads)
        self._announce(todo, backend, parallel, threads, cores)
        run_local(self.spec, todo, self.run_dir, parallel, threads, on_start, on_done)

    def _announce(
        self, todo: list[Trial], backend: str, parallel: int, threads: int, cores: int
    ) -> None:
        self.runtime = {"backend": backend, "parallel": parallel, "threads": threads}
        self.write()
        if not self.announce:
            return
        self.say(
            f"{len(todo)} trial(s) on {backend} ({cores} core(s)): {parallel} at a time x "
            f"{threads} thread(s); sweep in {self.out}"
        )

    def _line(self, trial: Trial, done: int) -> str:
        from odyssey.tools.validate import format_value as shown

        record = self.records[trial.name]
        head = f"[{done}/{len(self.trials)}] {trial.name} {self.describe(trial.config)}"
        head += f" seed {trial.seed}"
        if record["status"] == "finished":
            value = shown(self.spec.metric, record["metrics"].get(self.spec.metric))
            return f"{head}: {self.spec.metric} {value} ({record['wall_s']:.1f} s)"
        return f"{head}: {record['status']}: {record['error']}"

    def _finish(self) -> Outcome:
        records = [self.records[t.name] for t in self.trials]
        self.write()
        try:
            self.plots()
        except Exception as error:  # a plot never hides the results
            self.say(f"plots not drawn: {type(error).__name__}: {error}")
        counts = {s: sum(r["status"] == s for r in records) for s in _STATUSES}
        interrupted = counts["interrupted"] + counts["running"] + counts["pending"]
        failed = counts["failed"]
        status = INTERRUPTED if self._interrupted else (1 if failed or interrupted else 0)
        return Outcome(status, counts["finished"], failed, interrupted, len(records))


_STATUSES = ("pending", "running", "finished", "failed", "interrupted")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SweepError(f"{path}: not a readable sweep record ({error})") from None
    if not isinstance(document, dict):
        raise SweepError(f"{path}: not a sweep record (expected a JSON object)")
    return document
