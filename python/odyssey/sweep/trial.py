"""One trial: the `odyssey train` command it is, the process that runs it, and what its run
directory says of it afterwards (finished, or failed and why).

A trial is the `odyssey train` command itself (odyssey.cli.main with the arguments a user would
type), so its run directory and summary.json are an ordinary run's. It runs in a process of its
own — a spawned worker of the local backend, or a Ray worker — whose kernel thread count is set
before any kernel runs, so that `threads` x trials in parallel never oversubscribes a machine,
and whose death (a kill, the OOM killer) ends that trial only.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import socket
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from odyssey.sweep.spec import SweepSpec, Trial, metrics_of
from odyssey.train import rundir

__all__ = [
    "LOG",
    "clear_run",
    "is_complete",
    "judge",
    "paper_here",
    "run_here",
    "thread_environment",
    "train_argv",
]

LOG = "train.log"  # the trial's output, beside its run files


def train_argv(spec: SweepSpec, trial: Trial, threads: int, out: Path, paper: str) -> list[str]:
    """The `odyssey train` arguments of `trial`, writing its run to `out`: the sweep's variant
    and fixed `--set`s, then the trial's, its seed and threads."""
    argv = ["train", paper, "--variant", spec.variant]
    for assignment in [*spec.sets, *trial.sets]:
        argv += ["--set", assignment]
    argv += ["--seed", str(trial.seed), "--threads", str(threads)]
    return [*argv, "--out", str(out), "--no-progress"]


THREAD_VARIABLES = (
    "ODYSSEY_NUM_THREADS",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
)


@contextlib.contextmanager
def thread_environment(threads: int) -> Iterator[None]:
    """Every thread pool a trial may start (odyssey's kernels, OpenMP, numpy's BLAS) sized to
    `threads` in the environment, restored afterwards. A spawned process (or a forkserver being
    started) inherits the environment as it is when it starts, before it imports anything; a
    forkserver's child inherits the forkserver's instead, which is why the local backend
    restarts its forkserver for another thread count (odyssey.sweep.local)."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def clear_run(out: Path) -> None:
    """Empties a trial's directory so that a rerun starts fresh (a failed or interrupted run's
    files would make `odyssey train --out` refuse it, and must not mix with the new run's)."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)


def paper_here(spec: SweepSpec) -> str:
    """The paper as this machine finds it: the driver's folder when it exists here (a laptop,
    a shared file system), else its slug (a cluster node with the paper installed)."""
    return spec.paper if (Path(spec.paper) / "paper.toml").is_file() else spec.slug


def run_here(spec: SweepSpec, trial: Trial, threads: int, out: Path) -> int:
    """Runs `trial` in this process as `odyssey train` does, its output into out/train.log, and
    returns the command's exit status. The thread count is set before any kernel runs; an
    exception the command does not handle itself is logged and is status 1."""
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    import odyssey
    from odyssey.cli import main

    odyssey.set_num_threads(threads)
    out.mkdir(parents=True, exist_ok=True)
    with (
        open(out / LOG, "w", encoding="utf-8") as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        try:
            return main(train_argv(spec, trial, threads, out, paper_here(spec)))
        except SystemExit as exit_:
            return exit_.code if isinstance(exit_.code, int) else 1
        except Exception:
            traceback.print_exc()
            return 1


def is_complete(summary: Mapping[str, Any], trial: Trial, metric: str) -> bool:
    """A finished run's summary.json: the fit succeeded, the test ran, the trial's seed, the
    metric a finite number, and the final weights written."""
    value = summary.get(metric)
    return (
        summary.get("status") == "success"
        and summary.get("seed") == trial.seed
        and _finite(value)
        and _finite(summary.get("test_loss"))
        and bool(summary.get("weights_sha256"))
    )


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _last_error_line(log: Path) -> str:
    """The last line `odyssey train` printed about its failure (else the log's last line)."""
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
    except OSError:
        return ""
    lines = [line for line in lines if line]
    for line in reversed(lines):
        if line.startswith("odyssey train:"):
            return line
    return lines[-1] if lines else ""


def judge(
    trial: Trial,
    out: Path,
    returncode: int | None,
    metric: str,
    wall_s: float,
    host: str | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """The trial's record from its exit status and run directory: finished (a complete
    summary.json), or failed with the reason (an exception, a non-finite loss, a killed
    process), for sweep.json."""
    summary = rundir.read_summary(out / rundir.SUMMARY) if (out / rundir.SUMMARY).is_file() else {}
    record: dict[str, Any] = {
        "status": "failed",
        "error": None,
        "metrics": metrics_of(summary),
        "wall_s": round(wall_s, 3),
        "host": host or socket.gethostname(),
        "threads": summary.get("threads", threads),
    }
    if returncode is not None and returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else ""
        record["error"] = f"the trial's process was killed by signal {-returncode} {name}".strip()
    elif returncode:
        said = _last_error_line(out / LOG)
        record["error"] = f"odyssey train exited {returncode}" + (f": {said}" if said else "")
    elif not summary:
        record["error"] = "odyssey train wrote no summary.json"
    elif not (_finite(summary.get("test_loss")) and _finite(summary.get(metric))):
        record["error"] = (
            f"non-finite result: {metric} = {summary.get(metric)}, test_loss = "
            f"{summary.get('test_loss')} (the loss diverged: NaN or infinity)"
        )
    elif not is_complete(summary, trial, metric):
        record["error"] = (
            f"incomplete summary.json (status {summary.get('status')!r}, seed "
            f"{summary.get('seed')}, weights {summary.get('weights_sha256')!r})"
        )
    else:
        record["status"] = "finished"
    return record
