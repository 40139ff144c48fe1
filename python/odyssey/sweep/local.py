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
then ends its workers itself; a worker also watches its parent and ends itself when the sweep's
process is gone however it went (killed, crashed), so that no trial outlives its sweep.

A forkserver's child inherits the forkserver's environment, not the sweep's (numpy, which the
preload imports, sized its BLAS thread pool from it when it loaded, and $ODYSSEY_DATA or any
other variable set since would be missed): the forkserver is therefore restarted when a sweep
runs in another environment than the one it was started in.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from odyssey.sweep import signals
from odyssey.sweep import trial as trial_module
from odyssey.sweep.spec import SweepSpec, Trial

__all__ = ["run_local"]

# How long a worker has to exit after SIGTERM on Ctrl-C before it is killed.
GRACE_S = 5.0


# A worker's exit status when it ends itself because the sweep's process is gone.
ORPHANED = 125


def watch_parent() -> None:
    """Ends this process (at once, status ORPHANED) when its multiprocessing parent ends: a
    daemon thread waits on the parent's sentinel, which a forkserver's or a spawned child has
    too, and which is ready only once the parent is gone."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        os._exit(ORPHANED)

    threading.Thread(target=watch, name="odyssey-parent-watch", daemon=True).start()


def _worker(spec: SweepSpec, trial: Trial, threads: int, out: str) -> None:
    """A worker process's body: detached from the terminal's Ctrl-C, ended with the sweep's
    process, runs one trial and exits with `odyssey train`'s status."""
    if hasattr(os, "setsid"):
        os.setsid()
    watch_parent()
    raise SystemExit(trial_module.run_here(spec, trial, threads, Path(out)))


# Imported once by the forkserver, so that a worker starts with them loaded.
PRELOAD = ["odyssey.sweep.trial", "odyssey.cli", "odyssey.papers", "odyssey.train"]


# The environment the running forkserver was started with (None: not started by us).
_forkserver_environment: dict[str, str] | None = None


def _context(threads: int) -> multiprocessing.context.BaseContext:
    """The context whose workers start in this process's environment as it is now, with every
    thread pool sized to `threads`: on Linux the forkserver with odyssey preloaded — stopped
    first if it was started in another environment (another thread count, $ODYSSEY_DATA set
    since), so that the next start begins one in this one — else spawn (macOS's system
    libraries are not safe to use in a forked child, which is why Python spawns there too)."""
    global _forkserver_environment
    if not sys.platform.startswith("linux"):
        return multiprocessing.get_context("spawn")
    from multiprocessing import forkserver

    server = forkserver._forkserver
    with trial_module.thread_environment(threads):
        wanted = dict(os.environ)
    if _forkserver_environment != wanted and server._forkserver_pid is not None:
        if not hasattr(server, "_stop"):  # no way to restart it: spawn each worker instead
            return multiprocessing.get_context("spawn")
        # Only between sweeps: stopping it ends no worker (each has its own process).
        server._stop()
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    _forkserver_environment = wanted
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
    context = _context(threads)
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
                # A worker started is a worker registered, to be ended on Ctrl-C.
                with signals.deferred(), trial_module.thread_environment(threads):
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
        with signals.ignored():  # a second Ctrl-C must not leave workers running
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
    """The record of a trial stopped by Ctrl-C, SIGTERM or SIGHUP (rerun on resume)."""
    return {
        "status": "interrupted",
        "error": "interrupted (Ctrl-C or a stop signal); rerun when the sweep is resumed",
        "metrics": {},
        "wall_s": round(wall_s, 3),
        "host": host,
        "threads": threads,
    }
