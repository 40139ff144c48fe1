"""The local backend: the trials on this machine, at most `parallel` at a time, each in a worker
process of its own with `threads` kernel threads.

One fresh process per trial (not a long-lived pool) is what makes a failure local: a trial that
is killed or crashes the interpreter ends its own process, which is reported as that trial's
failure, where a pool would be broken for every trial queued behind it. The workers come from a
"forkserver" that has imported odyssey's training modules once (but run no kernel, so it holds
no kernel threads to lose in a fork): a worker starts without the 0.9 s a new interpreter
takes to import them (python -X importtime). Elsewhere than on Linux each worker is spawned
from a clean interpreter.
Each worker leaves the terminal's process group so that Ctrl-C reaches the sweep alone, which
then ends its workers itself.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import sys
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from odyssey.sweep import trial as trial_module
from odyssey.sweep.spec import SweepSpec, Trial

__all__ = ["run_local"]

# How long a worker has to exit after SIGTERM on Ctrl-C before it is killed.
GRACE_S = 5.0


def _worker(spec: SweepSpec, trial: Trial, threads: int, out: str) -> None:
    """A worker process's body: detached from the terminal's Ctrl-C, runs one trial, exits with
    `odyssey train`'s status."""
    if hasattr(os, "setsid"):
        os.setsid()
    raise SystemExit(trial_module.run_here(spec, trial, threads, Path(out)))


# Imported once by the forkserver, so that a worker starts with them loaded.
PRELOAD = ["odyssey.sweep.trial", "odyssey.cli", "odyssey.papers", "odyssey.train"]


def _context() -> multiprocessing.context.BaseContext:
    """The forkserver context with odyssey preloaded on Linux, else spawn (macOS's system
    libraries are not safe to use in a forked child, which is why Python spawns there too)."""
    if not sys.platform.startswith("linux"):
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def run_local(
    spec: SweepSpec,
    trials: Sequence[Trial],
    directory: Callable[[Trial], Path],
    parallel: int,
    threads: int,
    on_start: Callable[[Trial], None],
    on_done: Callable[[Trial, dict[str, Any]], None],
) -> None:
    """Runs `trials` (each into `directory(trial)`, emptied first), `parallel` at a time, calling
    `on_start` and `on_done(trial, record)` in this thread as each starts and ends. On Ctrl-C the
    running workers are terminated, each reported with status "interrupted", and the
    KeyboardInterrupt goes on to the caller."""
    context = _context()
    queue = list(trials)
    running: dict[Any, tuple[Trial, float]] = {}
    host = socket.gethostname()
    try:
        while queue or running:
            while queue and len(running) < parallel:
                trial = queue.pop(0)
                out = directory(trial)
                trial_module.clear_run(out)
                process = context.Process(
                    target=_worker, args=(spec, trial, threads, str(out)), name=trial.name
                )
                with trial_module.thread_environment(threads):
                    process.start()
                running[process] = (trial, time.perf_counter())
                on_start(trial)
            wait([process.sentinel for process in running])
            for process in [p for p in running if not p.is_alive()]:
                process.join()
                trial, started = running.pop(process)
                record = trial_module.judge(
                    trial,
                    directory(trial),
                    process.exitcode,
                    spec.metric,
                    time.perf_counter() - started,
                    host,
                    threads,
                )
                process.close()
                on_done(trial, record)
    except KeyboardInterrupt:
        for process in running:
            process.terminate()
        deadline = time.monotonic() + GRACE_S
        for process in running:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        for trial, started in running.values():
            on_done(trial, interrupted(time.perf_counter() - started, host, threads))
        raise


def interrupted(wall_s: float, host: str, threads: int) -> dict[str, Any]:
    """The record of a trial stopped by Ctrl-C (rerun when the sweep is resumed)."""
    return {
        "status": "interrupted",
        "error": "interrupted (Ctrl-C); rerun when the sweep is resumed",
        "metrics": {},
        "wall_s": round(wall_s, 3),
        "host": host,
        "threads": threads,
    }
