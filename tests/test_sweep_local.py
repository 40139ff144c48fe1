"""`odyssey sweep` on the local backend, end to end on the tests' tiny paper (one epoch of
mnist-sample a trial): each trial is an `odyssey train` run, the records and summary say what the
runs say, the same command resumes, another command into the same directory is refused, a
failing trial (an exception, a NaN loss, a killed worker) is recorded and does not stop the
others, and Ctrl-C ends the workers and records them as interrupted."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_run import run
from sweep_worker_probe import report_blas_threads
from test_papers import TINY

from odyssey.sweep import trial as trial_module
from odyssey.train import rundir

ONE_EPOCH = ["--set", "train.epochs=1"]
GRID = [str(TINY), "--seeds", "0-1", "--grid", "train.lr=0.05,0.1", *ONE_EPOCH]


def _sweep(out: Path) -> dict:
    return json.loads((out / "sweep.json").read_text())


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> tuple[Path, int, str]:
    out = tmp_path_factory.mktemp("sweep") / "lr"
    status, stdout, err = run(
        "sweep", *GRID, "--parallel", "2", "--threads", "1", "--out", str(out)
    )
    return out, status, stdout + err


def test_each_trial_is_an_odyssey_train_run_and_the_records_say_what_they_hold(
    swept, tmp_path
) -> None:
    out, status, said = swept
    assert status == 0, said
    document = _sweep(out)
    trials = document["trials"]
    assert [(t["params"]["train.lr"], t["seed"]) for t in trials] == [
        (0.05, 0), (0.05, 1), (0.1, 0), (0.1, 1),
    ]  # fmt: skip
    assert {t["status"] for t in trials} == {"finished"}
    assert document["definition"]["grid"] == {"train.lr": ["0.05", "0.1"]}
    assert (document["parallel"], document["threads"]) == (2, 1)
    for record in trials:
        summary = json.loads((out / record["run"] / "summary.json").read_text())
        assert summary["seed"] == record["seed"]
        assert summary["threads"] == 1
        assert record["metrics"]["test_accuracy"] == summary["test_accuracy"]
        assert record["metrics"]["weights_sha256"] == summary["weights_sha256"]
        config = (out / record["run"] / "config.toml").read_text()
        assert f"lr = {record['params']['train.lr']}" in config
        assert record["host"]
        assert record["wall_s"] > 0
    # The same bits as `odyssey train` run by hand with the trial's settings.
    by_hand = tmp_path / "by-hand"
    status, _, err = run(
        "train", str(TINY), "--set", "train.lr=0.1", "--seed", "1", *ONE_EPOCH,
        "--threads", "2", "--out", str(by_hand), "--no-progress",
    )  # fmt: skip
    assert status == 0, err
    mine = json.loads((by_hand / "summary.json").read_text())
    assert trials[3]["metrics"]["weights_sha256"] == mine["weights_sha256"]
    assert trials[3]["metrics"]["test_loss"] == mine["test_loss"]
    # The summary per configuration: the mean, std, min and max of its seeds; the best by mode.
    for entry in document["configurations"]:
        values = [t["metrics"]["test_accuracy"] for t in trials if t["config"] == entry["config"]]
        assert entry["values"] == values
        assert entry["mean"] == statistics.fmean(values)
        assert entry["std"] == statistics.stdev(values)
        assert (entry["min"], entry["max"]) == (min(values), max(values))
    best = max(document["configurations"], key=lambda entry: entry["mean"])
    assert document["best"]["config"] == best["config"]
    assert "best (max test_accuracy)" in said
    with open(out / "sweep.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [(r["train.lr"], r["seed"], r["status"]) for r in rows] == [
        ("0.05", "0", "finished"), ("0.05", "1", "finished"),
        ("0.1", "0", "finished"), ("0.1", "1", "finished"),
    ]  # fmt: skip
    assert float(rows[0]["test_accuracy"]) == trials[0]["metrics"]["test_accuracy"]
    for plot in ("metric.png", "curves.png"):
        assert (out / plot).read_bytes().startswith(b"\x89PNG")


def test_the_same_command_resumes_and_another_is_refused(swept) -> None:
    out, status, _ = swept
    assert status == 0
    before = _sweep(out)
    # Finished trials are kept as they are; one whose summary is incomplete runs again.
    summary = out / "trials" / "c001-s0" / "summary.json"
    kept = (out / "trials" / "c000-s0" / "weights.safetensors").stat().st_mtime_ns
    incomplete = json.loads(summary.read_text())
    incomplete.pop("test_accuracy")
    summary.write_text(json.dumps(incomplete))
    status, stdout, err = run("sweep", *GRID, "--parallel", "1", "--out", str(out))
    assert status == 0, err
    assert "3 of 4 trial(s) already finished" in stdout
    assert "[4/4] c001-s0" in stdout
    assert (out / "trials" / "c000-s0" / "weights.safetensors").stat().st_mtime_ns == kept
    after = _sweep(out)
    kept_keys = ("test_accuracy", "test_loss", "weights_sha256")
    assert [[t["metrics"][k] for k in kept_keys] for t in after["trials"]] == [
        [t["metrics"][k] for k in kept_keys] for t in before["trials"]
    ]
    # Nothing left: the report is rewritten, nothing runs. The values are compared as values.
    status, stdout, _ = run("sweep", *GRID, "--out", str(out))
    assert status == 0
    assert "4 of 4 trial(s) already finished" in stdout
    written_otherwise = [*GRID[:-3], "train.lr=5e-2,0.10", "--set", "train.epochs = 1"]
    status, stdout, err = run("sweep", *written_otherwise, "--out", str(out))
    assert status == 0, err
    assert "4 of 4 trial(s) already finished" in stdout
    # Another definition into the same directory is refused, naming what differs.
    status, _, err = run(
        "sweep", *GRID[:-4], "--grid", "train.lr=0.2", *ONE_EPOCH, "--out", str(out)
    )
    assert status == 2
    assert "holds another sweep" in err
    assert "grid" in err
    status, _, err = run("sweep", str(TINY), "--out", str(out / "trials"))
    assert status == 2
    assert "not a sweep directory" in err


FATED = '''

import os
import signal


class Fated(TinyNet):
    """TinyNet that fails as told: an exception, a NaN output ("diverge"), or its process killed."""

    def __init__(self, fate: str = "ok") -> None:
        super().__init__()
        if fate == "raise":
            raise RuntimeError("a planted failure")
        if fate == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        self.fate = fate

    def forward(self, x):
        out = super().forward(x)
        return out * float("nan") if self.fate == "diverge" else out
'''


def fated_paper(folder: Path) -> Path:
    shutil.copytree(TINY, folder)
    with open(folder / "model.py", "a") as model:
        model.write(FATED)
    toml = (folder / "paper.toml").read_text()
    (folder / "paper.toml").write_text(
        toml.replace(
            'model = "TinyNet"\nmodel_args = { hidden = 32 }', 'model = "Fated"\nmodel_args = {}'
        )
    )
    return folder


def test_a_failing_trial_is_recorded_and_the_others_run(tmp_path) -> None:
    paper = fated_paper(tmp_path / "fated")
    out = tmp_path / "sweep"
    argv = ["sweep", str(paper), "--grid", "variant.model_args.fate=raise,kill,diverge,ok"]
    status, stdout, err = run(*argv, *ONE_EPOCH, "--parallel", "2", "--out", str(out))
    assert status == 1, stdout + err
    records = {t["params"]["variant.model_args.fate"]: t for t in _sweep(out)["trials"]}
    assert records["ok"]["status"] == "finished"
    assert records["raise"]["status"] == "failed"
    assert "odyssey train exited" in records["raise"]["error"]
    assert "a planted failure" in records["raise"]["error"]
    assert records["kill"]["status"] == "failed"
    assert "killed by signal 9 SIGKILL" in records["kill"]["error"]
    assert records["diverge"]["status"] == "failed"
    assert "non-finite" in records["diverge"]["error"]
    assert "1 of 4 trial(s) finished, 3 failed" in stdout
    # A rerun retries the failed ones only (and they fail again, the same way).
    status, stdout, _ = run(*argv, *ONE_EPOCH, "--out", str(out))
    assert status == 1
    assert "1 of 4 trial(s) already finished" in stdout


def descendants(pid: int) -> set[int]:
    """The processes below `pid` (from /proc: its children, theirs, ...)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _start_sweep(out: Path, seeds: str) -> subprocess.Popen:
    """`odyssey sweep` of long trials (one worker per seed) in a process of its own, returned
    once every trial has started training (its metrics.jsonl exists)."""
    command = [
        sys.executable, "-m", "odyssey", "sweep", str(TINY), "--seeds", seeds,
        "--set", "train.epochs=2000", "--threads", "1", "--out", str(out),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    sweep = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    names = [f"c000-s{seed}" for seed in range(int(seeds.split("-")[-1]) + 1)]
    deadline = time.monotonic() + 60
    try:
        while not all((out / "trials" / name / "metrics.jsonl").exists() for name in names):
            assert time.monotonic() < deadline, "the trials did not start"
            assert sweep.poll() is None, sweep.stdout.read().decode()
            time.sleep(0.1)
    except BaseException:
        sweep.kill()
        raise
    return sweep


def _all_end(pids: set[int]) -> None:
    """Waits (up to 30 s) for every process of `pids` to end (a zombie has ended, whoever
    reaps it)."""
    deadline = time.monotonic() + 30
    while running := {pid for pid in pids if _alive(pid)}:
        assert time.monotonic() < deadline, f"still running: {running}"
        time.sleep(0.1)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_ends_the_workers_and_records_them_as_interrupted(tmp_path, stop) -> None:
    """Ctrl-C, and SIGTERM (kill, a batch scheduler) the same way."""
    out = tmp_path / "sweep"
    sweep = _start_sweep(out, "0-1")
    try:
        workers = descendants(sweep.pid)
        assert len(workers) >= 2  # the two trials' workers (and the forkserver)
        sweep.send_signal(stop)
        said = sweep.communicate(timeout=60)[0].decode()
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert sweep.returncode == 130, said
    assert "the same command resumes" in said
    records = _sweep(out)["trials"]
    assert [r["status"] for r in records] == ["interrupted", "interrupted"]
    # No worker is left running (the forkserver and multiprocessing's resource tracker end
    # once they see the sweep gone).
    _all_end(workers)
    assert not (out / "trials" / "c000-s0" / rundir.SUMMARY).is_file() or (
        json.loads((out / "trials" / "c000-s0" / rundir.SUMMARY).read_text())["status"] != "success"
    )


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_the_workers_end_with_the_sweep_however_it_dies(tmp_path) -> None:
    """A sweep killed outright (SIGKILL: no handler runs) leaves no trial training: each worker
    watches its parent and ends itself."""
    out = tmp_path / "sweep"
    sweep = _start_sweep(out, "0")
    try:
        workers = descendants(sweep.pid)
        sweep.kill()
        sweep.wait(timeout=60)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    _all_end(workers)
    # The trial is left "running" in sweep.json: a resume reruns it (and nothing races it).
    assert [r["status"] for r in _sweep(out)["trials"]] == ["running"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the forkserver is Linux's")
def test_the_workers_thread_pools_follow_each_sweeps_threads() -> None:
    """A forkserver's child inherits the forkserver's environment, in which the preloaded numpy
    sized its BLAS pool: sweeps with other thread counts in one process get their own."""
    import multiprocessing

    from odyssey.sweep import local

    seen = []
    for threads in (1, 2, 1):
        context = local._context(threads)
        receive, send = multiprocessing.Pipe(duplex=False)
        process = context.Process(target=report_blas_threads, args=(send,))
        with trial_module.thread_environment(threads):
            process.start()
        send.close()  # the worker holds the only writer: its end is an EOF, never a hang
        try:
            seen.append(receive.recv())
        except EOFError:
            process.join(timeout=60)
            pytest.fail(f"the worker ended without a report (exit code {process.exitcode})")
        process.join(timeout=60)
    assert [variable for variable, _ in seen] == ["1", "2", "1"]
    for threads, (_, pools) in zip((1, 2, 1), seen, strict=True):
        assert all(size == threads for size in pools), seen


def test_a_second_sweep_in_the_same_directory_is_refused_until_the_first_ends(
    swept, tmp_path
) -> None:
    """The directory's lock: held by a running sweep (here a process holding it), another run
    into it is refused with a one-line error; once its holder is gone (killed: no clean-up),
    the next run takes it over."""
    out, status, _ = swept
    assert status == 0
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(out)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        status, _, err = run("sweep", *GRID, "--out", str(out))
        assert status == 2
        assert err.count("\n") == 1
        assert f"another sweep is running in it (pid {holder.pid} on" in err
    finally:
        holder.kill()
        holder.wait()
    status, stdout, err = run("sweep", *GRID, "--out", str(out))
    assert status == 0, err
    assert "4 of 4 trial(s) already finished" in stdout


HOLD_LOCK = """
import sys, time
from pathlib import Path
from odyssey.sweep import lock
with lock.held(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(600)
"""
