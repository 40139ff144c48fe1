"""`odyssey sweep --backend ray` on a Ray instance of this machine (`ray.init(num_cpus=2)`): the
same sweep gives the same bits per trial as the local backend, the runs come back to the
driver's sweep directory, a worker that dies mid-trial is retried (and a trial whose retries run
out is recorded as failed), and without Ray installed the command says so in one line."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from cli_run import run
from test_papers import TINY

from odyssey.sweep import ray_backend

SWEEP = [str(TINY), "--seeds", "0-1", "--set", "train.epochs=1", "--threads", "1"]


def test_without_ray_the_command_says_how_to_install_it(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    status, _, err = run("sweep", *SWEEP, "--backend", "ray", "--out", str(tmp_path / "s"))
    assert status == 2
    assert err.count("\n") == 1
    assert "needs Ray, which is not installed: pip install 'ml-odyssey[ray]'" in err
    assert not (tmp_path / "s").exists()


def test_an_address_nothing_listens_on_is_refused_in_one_line(tmp_path) -> None:
    ray = pytest.importorskip("ray")
    if ray.is_initialized():  # --address is then refused for that reason (the test below)
        pytest.skip("this process has already joined a Ray instance")
    with socket.socket() as probe:  # a port of this machine that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}"):
        status, _, err = run(
            "sweep", *SWEEP, "--backend", "ray", "--address", address, "--out", str(tmp_path / "s")
        )
        assert status == 2, err
        assert err.count("\n") == 1
        assert f"--address: cannot connect to Ray at {address}: " in err
        assert not (tmp_path / "s").exists()
    status, _, err = run("sweep", *SWEEP, "--backend", "ray", "--address", "nowhere", "--out",
                         str(tmp_path / "s"))  # fmt: skip
    assert status == 2
    assert "expected HOST:PORT, ray://HOST:PORT or auto" in err


@pytest.fixture(scope="module")
def ray_instance():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    yield ray
    ray.shutdown()


def _trials(out: Path) -> list[dict]:
    return json.loads((out / "sweep.json").read_text())["trials"]


def test_the_same_sweep_gives_the_same_bits_on_both_backends(ray_instance, tmp_path) -> None:
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    status, said, err = run("sweep", *SWEEP, "--parallel", "2", "--out", str(local))
    assert status == 0, said + err
    status, said, err = run("sweep", *SWEEP, "--backend", "ray", "--out", str(on_ray))
    assert status == 0, said + err
    assert "on ray (2 core(s)): 2 at a time x 1 thread(s)" in said
    for mine, theirs in zip(_trials(local), _trials(on_ray), strict=True):
        assert theirs["status"] == "finished"
        for key in ("test_accuracy", "test_loss", "best_val_accuracy", "weights_sha256", "steps"):
            assert theirs["metrics"][key] == mine["metrics"][key], key
        # The run came back whole to the driver's directory, its summary pointing there.
        run_dir = on_ray / theirs["run"]
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["run_dir"] == str(run_dir)
        weights = (run_dir / "weights.safetensors").read_bytes()
        assert weights == (local / mine["run"] / "weights.safetensors").read_bytes()
        for name in ("config.toml", "metrics.jsonl", "curves.png", "train.log"):
            assert (run_dir / name).is_file(), name
        # The last checkpoint resumes the run; the epoch checkpoints a local run also keeps
        # stay behind (a large model's run is not shipped in every copy it keeps).
        assert (run_dir / "checkpoints" / "last.safetensors").is_file()
        assert list((local / mine["run"] / "checkpoints").glob("epoch=*"))
        assert not list((run_dir / "checkpoints").glob("epoch=*"))
    assert (on_ray / "metric.png").is_file()


DIES_ONCE = '''

import os
import signal
from pathlib import Path


class DiesOnce(TinyNet):
    """TinyNet whose first construction kills its own process (the Ray worker running the
    trial): `marker` records that it happened, so a retry builds it normally; `always` kills
    every time."""

    def __init__(self, marker: str = "", always: bool = False) -> None:
        super().__init__()
        if always or (marker and not Path(marker).exists()):
            Path(marker).touch()
            os.kill(os.getpid(), signal.SIGKILL)
'''


def test_a_worker_that_dies_mid_trial_is_retried_a_bounded_number_of_times(
    ray_instance, tmp_path
) -> None:
    paper = tmp_path / "dies"
    shutil.copytree(TINY, paper)
    with open(paper / "model.py", "a") as model:
        model.write(DIES_ONCE)
    toml = (paper / "paper.toml").read_text()
    marker = tmp_path / "died"
    (paper / "paper.toml").write_text(
        toml.replace(
            'model = "TinyNet"\nmodel_args = { hidden = 32 }',
            f'model = "DiesOnce"\nmodel_args = {{ marker = "{marker}" }}',
        )
    )
    argv = [str(paper), "--set", "train.epochs=1", "--backend", "ray"]
    scratch = set(Path(tempfile.gettempdir()).glob("odyssey-trial-*"))
    status, said, err = run("sweep", *argv, "--out", str(tmp_path / "retried"))
    assert status == 0, said + err
    assert marker.exists()  # it did die once
    assert _trials(tmp_path / "retried")[0]["status"] == "finished"
    # The killed attempt's scratch directory was removed by the retry on this node: what is new
    # in the temporary folder belongs to a live process (another run's trial, if any).
    new = set(Path(tempfile.gettempdir()).glob("odyssey-trial-*")) - scratch
    owners = [int(path.name.split("-")[-2]) for path in new]
    assert all(ray_backend._pid_alive(pid) for pid in owners), new
    # A worker that dies every time: recorded as failed once the retries run out.
    always = [*argv, "--set", "variant.model_args.always=true", "--max-retries", "1"]
    status, said, err = run("sweep", *always, "--out", str(tmp_path / "dead"))
    assert status == 1, said + err
    record = _trials(tmp_path / "dead")[0]
    assert record["status"] == "failed"
    assert record["error"].startswith("Ray: WorkerCrashedError after 1 retry: ")
    assert record["host"] is None  # not the driver's: where it died is unknown


def test_validate_runs_a_targets_seeds_on_ray_with_the_local_bits(ray_instance, tmp_path) -> None:
    from test_validate import ONE_EPOCH, valid_paper, with_targets

    from odyssey.tools import validate

    recorded = []
    for backend in ("local", "ray"):
        folder = valid_paper(tmp_path / backend)
        with_targets(folder, [{**ONE_EPOCH, "name": "quick", "bar": 0.5}])
        argv = [
            "--run",
            "--seeds",
            "2",
            "--backend",
            backend,
            "--out",
            str(tmp_path / f"runs-{backend}"),
        ]
        status, out, err = run("validate", str(folder), *argv)
        assert status == 0, out + err
        recorded.append(validate.read_result(folder / "results" / "quick.json"))
    assert recorded[0]["values"] == recorded[1]["values"]
    assert recorded[0]["seeds"] == recorded[1]["seeds"] == [0, 1]


def test_an_address_while_ray_is_already_joined_is_refused(ray_instance, tmp_path) -> None:
    status, _, err = run(
        "sweep", *SWEEP, "--backend", "ray", "--address", "auto", "--out", str(tmp_path / "s")
    )
    assert status == 2
    assert "--address auto: this process has already joined a Ray instance" in err


def test_the_scratch_of_a_dead_trial_is_removed_and_a_live_ones_kept(tmp_path) -> None:
    from odyssey.sweep.ray_backend import SCRATCH_PREFIX, clear_dead_scratch

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    host = socket.gethostname()
    dead = tmp_path / f"{SCRATCH_PREFIX}{host}-{ended.stdout.strip()}-abc"
    live = tmp_path / f"{SCRATCH_PREFIX}{host}-{os.getpid()}-def"
    elsewhere = tmp_path / f"{SCRATCH_PREFIX}another-host-{ended.stdout.strip()}-ghi"
    for path in (dead, live, elsewhere):
        (path / "c000-s0").mkdir(parents=True)
    assert clear_dead_scratch(tmp_path, host) == [dead]
    assert not dead.exists()
    assert live.is_dir()
    assert elsewhere.is_dir()


def test_what_a_ray_failure_says_depends_on_what_ray_did() -> None:
    ray = pytest.importorskip("ray")
    from odyssey.sweep.ray_backend import failure

    crashed = failure(ray, ray.exceptions.WorkerCrashedError(), 2)
    assert crashed.startswith("Ray: WorkerCrashedError after 2 retries: ")
    assert failure(ray, ray.exceptions.TaskCancelledError(), 2) == (
        "Ray: the task was cancelled (TaskCancelledError)"
    )
    raised = failure(ray, ray.exceptions.RayTaskError("trial_task", "tb", ValueError("x")), 2)
    assert raised.startswith("Ray: the trial's task raised (not retried): ")
    assert "retries" not in raised


def test_a_dataset_only_the_driver_has_reaches_the_workers(
    ray_instance, tmp_path, monkeypatch
) -> None:
    """kmnist in the driver's dataset cache only (here: the bundled sample's files under its
    name, in an $ODYSSEY_DATA the Ray workers, started before it was set, do not see): the
    trials train on those very files, the same bits as on the driver, and download nothing."""
    from odyssey.data.datasets.files import local_files

    cache = tmp_path / "driver-cache"
    (cache / "kmnist").mkdir(parents=True)
    for split in ("train", "test"):
        for path in local_files("mnist-sample", split):
            shutil.copy(path, cache / "kmnist" / path.name)
    monkeypatch.setenv("ODYSSEY_DATA", str(cache))
    argv = [str(TINY), "--seeds", "0", "--set", "train.epochs=1", "--threads", "1"]
    argv += ["--set", 'train.dataset="kmnist"']
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    status, said, err = run("sweep", *argv, "--out", str(local))
    assert status == 0, said + err
    status, said, err = run("sweep", *argv, "--backend", "ray", "--out", str(on_ray))
    assert status == 0, said + err
    (mine,), (theirs,) = _trials(local), _trials(on_ray)
    assert theirs["status"] == "finished"
    assert theirs["metrics"]["weights_sha256"] == mine["metrics"]["weights_sha256"]
    summary = json.loads((on_ray / theirs["run"] / "summary.json").read_text())
    assert summary["dataset"] == "kmnist"
