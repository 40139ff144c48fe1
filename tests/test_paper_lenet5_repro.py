"""`odyssey train lenet5` is reproducible (issue 10), for every variant of papers/lenet5/paper.toml,
at a small scale (mnist-sample, two epochs): with `--seed 0`, `--threads 1` and `--threads 2` give
the same test accuracy and the same weight bytes; and a run interrupted by a real Ctrl-C in the
middle of its first epoch, then resumed with the command it prints, ends exactly as the
uninterrupted run (weights, metrics rows, test accuracy).

Each run is its own `python -m odyssey` process, so the claims hold across processes, as a user
meets them."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import odyssey
from odyssey import papers

REPOSITORY = Path(__file__).resolve().parents[1]
PAPER = REPOSITORY / "papers" / "lenet5"
VARIANTS = papers.load_paper(PAPER).variant_names
EPOCHS = 2
# The Ctrl-C comes in this training step of the first epoch (mnist-sample has 3,500 training
# images once 500 are held out for validation: 55 steps of 64 for modern, 219 of 16 for
# faithful).
INTERRUPT_AT = 20
INTERRUPT_VARIABLE = "ODYSSEY_TEST_INTERRUPT_AT_STEP"
# Wrapped around the variant's model class in a copy of the paper: a real SIGINT, sent to the
# process itself as a training step begins, when INTERRUPT_VARIABLE names that step.
INTERRUPTING_FORWARD = """

# Added by tests/test_paper_lenet5_repro.py.
import os as _os
import signal as _signal

_calls = [0]
_forward = {model}.forward


def _interrupting_forward(self, *args, **kwargs):
    if self.training:
        _calls[0] += 1
        if _calls[0] == int(_os.environ.get("{variable}", "0")):
            _os.kill(_os.getpid(), _signal.SIGINT)
    return _forward(self, *args, **kwargs)


{model}.forward = _interrupting_forward
"""


STARTED: list[subprocess.Popen[str]] = []


def start(*argv: str, interrupt_at: int = 0) -> subprocess.Popen[str]:
    """`python -m odyssey ARGV` started in a new process, from the repository, with the tests'
    sys.path as its PYTHONPATH (the library wherever it is: installed or a source tree); a real
    Ctrl-C in training step `interrupt_at` of a paper copy with INTERRUPTING_FORWARD."""
    path = [os.path.abspath(entry) for entry in sys.path if entry]
    env = {name: value for name, value in os.environ.items() if name != INTERRUPT_VARIABLE}
    env.update(PYTHONPATH=os.pathsep.join(path), **{INTERRUPT_VARIABLE: str(interrupt_at)})
    process = subprocess.Popen(
        [sys.executable, "-m", "odyssey", *argv],
        cwd=REPOSITORY,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    STARTED.append(process)
    return process


def finish(process: subprocess.Popen[str], status: int = 0) -> str:
    """Waits for `process`, checks its exit status, and returns its stderr."""
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == status, stderr
    return stderr


def train_argv(paper: str, variant: str, threads: int, out: Path) -> list[str]:
    return [
        "train", paper, "--variant", variant, "--dataset", "mnist-sample",
        "--epochs", str(EPOCHS), "--seed", "0", "--threads", str(threads),
        "--set", "train.val_size=500", "--out", str(out), "--no-progress",
    ]  # fmt: skip


def weight_bytes(run_dir: Path) -> dict[str, tuple[str, tuple[int, ...], bytes]]:
    """Each tensor of the run's weights.safetensors: dtype, shape and bytes (the tensors, not the
    file, whose metadata may differ)."""
    weights = odyssey.load(run_dir / "weights.safetensors")
    return {
        name: (a.dtype.str, a.shape, np.ascontiguousarray(a).tobytes())
        for name, a in weights.items()
    }


def metric_rows(run_dir: Path) -> list[dict]:
    """metrics.jsonl's rows without their timings (images/s, seconds), which no run repeats."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if not k.endswith(("_s", "time"))} for row in rows]


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


@pytest.fixture(scope="module", params=VARIANTS)
def runs(request, tmp_path_factory) -> dict[str, Path]:
    """One variant trained four ways: `lenet5` with --threads 1 and with --threads 2; a copy of
    the paper interrupted by Ctrl-C in step INTERRUPT_AT, and that run resumed."""
    try:
        return train_four_ways(request.param, tmp_path_factory.mktemp(f"repro-{request.param}"))
    finally:  # a failed check leaves no training running behind it
        for process in STARTED:
            if process.poll() is None:
                process.kill()
                process.communicate()
        STARTED.clear()


def train_four_ways(variant: str, root: Path) -> dict[str, Path]:
    """The run directories, by name, of `variant` trained four ways into `root` (see `runs`)."""
    # The copy differs from papers/lenet5 only by the interrupting forward of the variant's model.
    copy = shutil.copytree(PAPER, root / "lenet5", ignore=shutil.ignore_patterns("tests"))
    model = papers.load_paper(copy).variant(variant)["model"]
    with (copy / "model.py").open("a") as file:
        file.write(INTERRUPTING_FORWARD.format(model=model, variable=INTERRUPT_VARIABLE))
    found = {name: root / name for name in ("threads1", "threads2", "resumed")}
    # Two processes at a time (one thread each, then three threads in all): the bits of a run do
    # not depend on what else the machine runs, and the test takes half the time.
    one = start(*train_argv("lenet5", variant, 1, found["threads1"]))
    argv = train_argv(str(copy), variant, 1, found["resumed"])
    stderr = finish(start(*argv, interrupt_at=INTERRUPT_AT), status=130)
    last = stderr.splitlines()[-1]
    assert last.startswith("odyssey train: interrupted; resume with: "), stderr
    command = shlex.split(last.split("resume with: ", 1)[1])
    out = found["resumed"]
    assert Path(command[command.index("--resume") + 1]) == (
        out / "checkpoints" / "interrupted.safetensors"
    )
    # It stopped mid-epoch: INTERRUPT_AT steps in, not at an epoch's end, and without weights.
    assert summary(out)["status"] == "interrupted"
    assert summary(out)["steps"] == INTERRUPT_AT
    assert not (out / "weights.safetensors").exists()
    resumed = start(*command[1:], "--no-progress")
    finish(one)
    two = start(*train_argv("lenet5", variant, 2, found["threads2"]))
    finish(resumed)
    finish(two)
    return found


def test_one_and_two_threads_give_the_same_accuracy_and_weight_bytes(runs) -> None:
    one, two = runs["threads1"], runs["threads2"]
    assert summary(one)["threads"] == 1
    assert summary(two)["threads"] == 2
    assert summary(one)["test_accuracy"] == summary(two)["test_accuracy"]
    assert summary(one)["test_loss"] == summary(two)["test_loss"]
    assert weight_bytes(one) == weight_bytes(two)
    assert metric_rows(one) == metric_rows(two)


def test_interrupted_and_resumed_ends_as_the_uninterrupted_run(runs) -> None:
    uninterrupted, resumed = runs["threads1"], runs["resumed"]
    assert summary(resumed)["status"] == "success"
    assert summary(resumed)["steps"] == summary(uninterrupted)["steps"]
    assert summary(resumed)["test_accuracy"] == summary(uninterrupted)["test_accuracy"]
    assert summary(resumed)["test_loss"] == summary(uninterrupted)["test_loss"]
    assert weight_bytes(resumed) == weight_bytes(uninterrupted)
    assert metric_rows(resumed) == metric_rows(uninterrupted)
