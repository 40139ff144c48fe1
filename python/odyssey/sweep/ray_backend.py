"""The Ray backend (the optional extra ``ray``): each trial a Ray task asking for `threads` CPUs,
run on whichever node Ray picks, its run directory shipped back to the driver's sweep directory.

`connect`: an instance this process already started (`ray.init(...)` before the sweep) is used
as it is; `--address auto` joins the cluster running on this machine (`ray start --head`),
`ray://HOST:PORT` a remote one through Ray Client; with no address Ray starts an instance of
its own here. A trial's task runs `odyssey train` in the worker itself (odyssey.sweep.trial), so
a worker that dies mid-trial (killed, out of memory, its node lost) is a task failure Ray
retries, up to `max_retries` times; an exception inside `odyssey train` is that trial's own
failure, recorded, never retried. Datasets reach a worker as they reach any run — the bundled
ones ship inside the package, the others through `odyssey train`'s own dataset cache (a node
that lacks a file downloads it and checks its SHA-256) — except those the driver has: their
files are put in Ray's object store once, and a node that lacks them uses those
(odyssey.sweep.ray_data). What comes back of a run is what the driver keeps (`shipped`): the
epoch checkpoints stay behind.

The trial's result is bit for bit a local run's with the same seed: the same command, and the
kernels' results do not depend on the thread count, the process or the machine's addresses.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from odyssey._atomic import write_bytes_atomic
from odyssey.sweep import ray_data, signals
from odyssey.sweep import trial as trial_module
from odyssey.sweep.spec import SweepError, SweepSpec, Trial
from odyssey.train import rundir

__all__ = ["clear_dead_scratch", "connect", "require_ray", "run_ray", "shipped", "trial_task"]

INSTALL = "pip install 'ml-odyssey[ray]'"


def require_ray() -> Any:
    """The `ray` module, or an ImportError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ImportError(
            f"--backend ray needs Ray, which is not installed: {INSTALL} (or pip install "
            "'ray[default]')"
        ) from None
    return ray


# How long a cluster's head has to accept a connection before --address is refused.
CONNECT_TIMEOUT_S = 10.0


def _reachable(address: str | None) -> None:
    """SweepError unless HOST:PORT (or ray://HOST:PORT) accepts a connection: Ray, pointed at an
    address nothing listens on, ends the whole process after its own timeouts instead of
    raising (ray 2.60), which would leave the sweep without its one-line error."""
    if address is None or address in ("auto", "local"):
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        raise SweepError(f"--address {address}: expected HOST:PORT, ray://HOST:PORT or auto")
    try:
        socket.create_connection((host.strip("[]"), int(port)), CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise SweepError(f"--address: cannot connect to Ray at {address}: {error}") from None


def connect(address: str | None) -> tuple[int, int]:
    """Joins (or starts) the Ray instance: (the CPUs it has, the CPUs of its largest node)."""
    ray = require_ray()
    if address is not None and ray.is_initialized():
        # ray.init(address=...) is not called again: joining another cluster needs a fresh
        # process, and running on the one already joined would not be what was asked.
        raise SweepError(
            f"--address {address}: this process has already joined a Ray instance; "
            "run without --address to use it, or in a new process to join another"
        )
    if not ray.is_initialized():
        _reachable(address)
        try:
            # Only INFO and above of Ray's own logging; the sweep prints its own progress.
            ray.init(address=address, logging_level="WARNING", log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            where = address or "a new local instance"
            raise SweepError(f"--address: cannot connect to Ray at {where}: {error}") from None
    total = int(ray.cluster_resources().get("CPU", 0)) or 1
    nodes = [node.get("Resources", {}).get("CPU", 0) for node in ray.nodes() if node.get("Alive")]
    return total, int(max(nodes, default=total)) or 1


# A trial's scratch directory on a worker's node: odyssey-trial-<host>-<pid>-<random>.
SCRATCH_PREFIX = "odyssey-trial-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def clear_dead_scratch(root: Path, host: str) -> list[Path]:
    """Removes the scratch directories under `root` that trials of this host left when their
    worker died mid-trial (killed, out of memory: its `finally` never ran), known by their
    process being gone; returns them. The host in the name keeps a container sharing /tmp
    with another pid namespace from judging the other's processes."""
    removed = []
    for path in root.glob(f"{SCRATCH_PREFIX}{glob.escape(host)}-*-*"):
        pid = path.name[len(SCRATCH_PREFIX) + len(host) + 1 :].split("-", 1)[0]
        if path.is_dir() and pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def shipped(relative: str) -> bool:
    """Whether a run file goes back to the driver: all of them but the temporary files of an
    interrupted write and the epoch checkpoints, which the run's last checkpoint
    (checkpoints/last.safetensors, what resumes it) and final weights make redundant: a
    large model's run need not cross the network in every copy it keeps of itself."""
    name = Path(relative).name
    if name.endswith(".tmp"):
        return False
    return not (relative.startswith("checkpoints/") and name != "last.safetensors")


def trial_task(
    spec: SweepSpec,
    trial: Trial,
    threads: int,
    datasets: list[str] | None = None,
    driver_data: list[Any] | None = None,
) -> dict[str, Any]:
    """A Ray task's body: runs `trial` in this worker into a temporary directory and returns its
    exit status, the run files the driver keeps (relative path -> bytes; see `shipped`), the
    host and the time. The scratch directories of trials whose worker died here are removed
    first. `datasets` are those the trial trains on; `driver_data`, `[reference]` to the
    driver's copies of them (a list, so that Ray hands the reference over unfetched), is
    fetched only when this node lacks one of them (odyssey.sweep.ray_data)."""
    started = time.perf_counter()
    host = socket.gethostname()
    root = Path(tempfile.gettempdir())
    clear_dead_scratch(root, host)
    scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{host}-{os.getpid()}-", dir=root))
    try:
        out = scratch / trial.name

        def fetch() -> Any:
            import ray

            return ray.get(driver_data[0]) if driver_data else {}

        with ray_data.provided(datasets or [], fetch, scratch):
            returncode = trial_module.run_here(spec, trial, threads, out)
        files = {}
        for path in sorted(out.rglob("*")):
            relative = path.relative_to(out).as_posix()
            if path.is_file() and shipped(relative):
                files[relative] = path.read_bytes()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "returncode": returncode,
        "files": files,
        "host": host,
        "wall_s": time.perf_counter() - started,
    }


def _unpack(result: dict[str, Any], out: Path) -> None:
    """Writes a task's run files into the driver's trial directory (emptied first), each
    atomically, with summary.json's run_dir pointing here."""
    trial_module.clear_run(out)
    for relative, data in result["files"].items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, data)
    if (out / rundir.SUMMARY).is_file():
        rundir.update_summary(out / rundir.SUMMARY, {"run_dir": str(out)})


def run_ray(
    spec: SweepSpec,
    trials: Sequence[Trial],
    directory: Callable[[Trial], Path],
    parallel: int,
    threads: int,
    on_start: Callable[[Trial], None],
    on_done: Callable[[Trial, dict[str, Any]], None],
    max_retries: int = 2,
) -> None:
    """Runs `trials` as Ray tasks (each asking Ray for `threads` CPUs), at most `parallel`
    submitted at a time, each result unpacked into `directory(trial)` and reported through
    `on_done` in this thread. On Ctrl-C the tasks in flight are cancelled and reported as
    interrupted, and the KeyboardInterrupt goes on to the caller."""
    from odyssey.sweep.local import interrupted

    ray = require_ray()
    task = ray.remote(trial_task).options(
        num_cpus=threads, max_retries=max_retries, retry_exceptions=False
    )
    queue = list(trials)
    running: dict[Any, tuple[Trial, float]] = {}
    datasets = ray_data.datasets_of(spec)
    # Put in the object store once for every trial; fetched by a worker that lacks them.
    shipped = ray_data.driver_files(datasets)
    driver_data = [ray.put(shipped)] if shipped else None
    try:
        while queue or running:
            while queue and len(running) < parallel:
                trial = queue.pop(0)
                reference = task.remote(spec, trial, threads, datasets, driver_data)
                running[reference] = (trial, time.perf_counter())
                on_start(trial)
            ready, _ = ray.wait(list(running), num_returns=1)
            for reference in ready:
                trial, started = running.pop(reference)
                out = directory(trial)
                try:
                    result = ray.get(reference)
                except ray.exceptions.RayError as error:
                    trial_module.clear_run(out)
                    record = trial_module.judge(
                        trial, out, None, spec.metric, time.perf_counter() - started
                    )
                    # Where it ran is unknown (not the driver's host); threads as asked.
                    record.update(
                        status="failed",
                        error=failure(ray, error, max_retries),
                        host=None,
                        threads=threads,
                    )
                    on_done(trial, record)
                    continue
                _unpack(result, out)
                on_done(
                    trial,
                    trial_module.judge(
                        trial,
                        out,
                        result["returncode"],
                        spec.metric,
                        result["wall_s"],
                        result["host"],
                        threads,
                    ),
                )
    except KeyboardInterrupt:
        with signals.ignored():  # a second Ctrl-C must not leave tasks running
            for reference, (trial, started) in running.items():
                # A local instance shares the terminal's process group: Ctrl-C may be ending
                # it already, and a cancel it cannot take must not hide the records.
                with contextlib.suppress(Exception):
                    ray.cancel(reference, force=True)
                on_done(trial, interrupted(time.perf_counter() - started, "ray", threads))
        raise


def failure(ray: Any, error: Exception, max_retries: int) -> str:
    """The failed trial's error from Ray's exception, saying what Ray did about it: a worker or
    node that died is retried (`max_retries` times, then this), an exception raised by the
    task itself or a cancellation is not, and the memory monitor's kill has its own retries."""
    text = str(error).strip()
    message = text.splitlines()[0] if text else ""
    name = type(error).__name__
    exceptions = ray.exceptions
    if isinstance(error, exceptions.TaskCancelledError):
        return f"Ray: the task was cancelled ({name})"
    if isinstance(error, exceptions.OutOfMemoryError):
        return f"Ray: the node ran out of memory and Ray killed the worker ({name}): {message}"
    if isinstance(error, exceptions.RayTaskError):
        return f"Ray: the trial's task raised (not retried): {message}"
    died = (
        exceptions.WorkerCrashedError,
        exceptions.NodeDiedError,
        exceptions.LocalRayletDiedError,
    )
    if isinstance(error, died):
        retries = f"{max_retries} retr{'y' if max_retries == 1 else 'ies'}"
        return f"Ray: {name} after {retries}: {message}"
    return f"Ray: {name}: {message}"
