"""Resume is bitwise exact across processes, and Ctrl-C saves a resumable checkpoint.

A run of N steps (shuffling, RandomCrop augmentation, dropout, SGD with momentum, a StepLR
stepped every step, validation twice an epoch, a metrics row every 3 steps, metric objects held
as an attribute and in a dict logged as epoch values of training) is compared with
the same run checkpointed mid-epoch at N/2 and finished in a NEW process: the final weight files
must be byte-identical and the metrics rows equal (keys ending _s or _per_s, wall-clock
timings, excepted). The checkpoint is taken twice: by a callback from on_train_batch_end (the
run goes on), and by Ctrl-C (SIGINT; the process exits with 130). The same seed gives the same
weights with 1 and 2 threads.

This file is also the script the subprocesses run: `python test_resume.py MODE RUN_DIR ...`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import odyssey
from odyssey import metrics, nn, optim
from odyssey.data import DataLoader, RandomCrop, Subset, load_dataset
from odyssey.optim import lr_scheduler
from odyssey.train import Classifier, Trainer, callbacks
from odyssey.train import trainer as trainer_module
from odyssey.train.checkpoint import load_checkpoint

STEPS = 30  # 12 batches an epoch: the checkpoint at step 15 is in the middle of epoch 1
HALF = STEPS // 2
CHECKPOINT = "mid.safetensors"


CURVES: list[list[dict[str, Any]]] = []  # the rows each fit would draw in curves.png


@pytest.fixture(autouse=True)
def _no_curves(monkeypatch: pytest.MonkeyPatch) -> None:
    """curves.png costs matplotlib half a second a fit (the subprocesses draw it): the rows it
    would be drawn from are kept instead."""
    CURVES.clear()
    monkeypatch.setattr(trainer_module.plots, "plot_curves", lambda rows, path: CURVES.append(rows))


class Tracked(Classifier):
    """A Classifier that also logs metric objects of its own as training epoch values: one
    held as an attribute, one in a dict (both must resume with their state)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        object.__setattr__(self, "train_top2", metrics.TopKAccuracy(k=2))
        object.__setattr__(self, "tracked", {"accuracy": metrics.Accuracy()})

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        logits, loss, labels = self._forward_batch(batch)
        self.train_top2.update(logits, labels)
        self.tracked["accuracy"].update(logits, labels)
        self.log("train_top2", self.train_top2, on_step=False, on_epoch=True)
        self.log("train_metric_accuracy", self.tracked["accuracy"], on_step=False, on_epoch=True)
        self.log("train_loss", loss, on_step=True, on_epoch=True)
        return loss


def build() -> tuple[Classifier, DataLoader, DataLoader]:
    """The model, training and validation loaders; the same in every process."""
    data = load_dataset("mnist-sample", "train")
    train = DataLoader(
        Subset(data, range(384)),
        batch_size=32,
        shuffle=True,
        seed=7,
        transform=RandomCrop(28, padding=2),
    )
    val = DataLoader(Subset(data, range(384, 448)), batch_size=32)
    odyssey.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 5, stride=2), nn.ReLU(), nn.Flatten(), nn.Dropout(0.3),
        nn.Linear(4 * 12 * 12, 10),
    )  # fmt: skip
    module = Tracked(
        model,
        optimizer=lambda params: optim.SGD(params, lr=0.05, momentum=0.9),
        scheduler={
            "scheduler": lambda o: lr_scheduler.StepLR(o, step_size=4, gamma=0.8),
            "interval": "step",
        },
    )
    return module, train, val


class At(callbacks.Callback):
    """At step HALF, from on_train_batch_end: saves a checkpoint, or sends this process SIGINT
    (for "abort", `abort_while_writing` sends the second one)."""

    def __init__(self, action: str, path: Path | None = None) -> None:
        self.action = action
        self.path = path

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):  # type: ignore[no-untyped-def]
        if trainer.global_step != HALF:
            return
        if self.action == "save":
            trainer.save_checkpoint(self.path)
        elif self.action in ("interrupt", "abort"):
            os.kill(os.getpid(), signal.SIGINT)


def run(mode: str, run_dir: Path, ckpt: Path | None = None, threads: int | None = None) -> Trainer:
    module, train, val = build()
    action = {"full": "save", "resume": "none"}.get(mode, mode)
    trainer = Trainer(
        max_steps=STEPS,
        callbacks=[At(action, run_dir / CHECKPOINT)],
        val_check_interval=0.5,
        log_every_n_steps=3,
        default_root_dir=run_dir,
        seed=1,
        threads=threads,
        progress=False,
    )
    trainer.fit(module, train, val, ckpt_path=ckpt)
    return trainer


def subprocess_run(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run(
        [sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        check=False,
    )


def rows(run_dir: Path) -> list[dict[str, Any]]:
    """The metrics rows without wall-clock values."""
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [
        {k: v for k, v in json.loads(line).items() if not k.endswith(("_s", "_per_s"))}
        for line in lines
    ]


def test_resume_in_a_new_process_is_bitwise_exact(tmp_path: Path, threads: None) -> None:
    full = tmp_path / "full"
    run("full", full)
    assert (full / CHECKPOINT).is_file()
    expected_weights = (full / "weights.safetensors").read_bytes()
    expected_rows = rows(full)
    assert len(expected_rows) > 10
    assert any("val_accuracy" in row for row in expected_rows)
    assert sum("train_metric_accuracy" in row for row in expected_rows) == 3  # 2.5 epochs
    # The checkpoint holds row counts, not the rows (a long run's would outgrow safetensors'
    # 100 MB header): the resumed run reads them back from metrics.jsonl.
    state = load_checkpoint(full / CHECKPOINT).state
    assert "history" not in state["logging"]
    assert len(json.dumps(state["logging"])) < 2000

    # Resumed from the checkpoint taken in on_train_batch_end (the run went on after it); the
    # copy of the run directory has rows past the checkpoint that the loggers must drop.
    resumed = tmp_path / "resumed"
    shutil.copytree(full, resumed)
    (resumed / "weights.safetensors").unlink()
    done = subprocess_run("resume", str(resumed), str(resumed / CHECKPOINT))
    assert done.returncode == 0, done.stderr
    assert (resumed / "weights.safetensors").read_bytes() == expected_weights
    assert rows(resumed) == expected_rows

    # Ctrl-C at step HALF: a checkpoint at the next step boundary, status 130, then resumed.
    interrupted = tmp_path / "interrupted"
    stopped = subprocess_run("interrupt", str(interrupted))
    assert stopped.returncode == 130, stopped.stderr
    saved = interrupted / "checkpoints" / "interrupted.safetensors"
    assert saved.is_file()
    # How to resume, in the library's terms (`odyssey train` prints its own command line).
    assert f"ckpt_path={str(saved)!r}" in stopped.stderr
    assert not (interrupted / "weights.safetensors").exists()
    summary = json.loads((interrupted / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert summary["steps"] == HALF
    done = subprocess_run("resume", str(interrupted), str(saved))
    assert done.returncode == 0, done.stderr
    assert (interrupted / "weights.safetensors").read_bytes() == expected_weights
    assert rows(interrupted) == expected_rows
    assert not saved.exists()  # the run is complete: its Ctrl-C checkpoint is stale


class SaveIn(callbacks.Callback):
    """Saves a checkpoint from one hook, at one global step."""

    def __init__(self, hook: str, step: int, path: Path) -> None:
        self.hook, self.step, self.path = hook, step, path

    def _maybe(self, trainer: Any) -> None:
        if trainer.global_step == self.step and not self.path.exists():
            trainer.save_checkpoint(self.path)

    def on_validation_end(self, trainer, module):  # type: ignore[no-untyped-def]
        if self.hook == "on_validation_end":
            self._maybe(trainer)

    def on_train_epoch_end(self, trainer, module):  # type: ignore[no-untyped-def]
        if self.hook == "on_train_epoch_end":
            self._maybe(trainer)

    def on_train_epoch_start(self, trainer, module):  # type: ignore[no-untyped-def]
        if self.hook == "on_train_epoch_start":
            self._maybe(trainer)


@pytest.mark.parametrize(
    ("hook", "step"),
    [
        ("on_validation_end", 18),  # a mid-epoch validation: its row is written at once
        ("on_validation_end", 24),  # the epoch's last batch: its values join the epoch's row
        ("on_train_epoch_end", 24),  # before the epoch's row and epoch schedulers
        ("on_train_epoch_start", 12),  # an epoch begun, no batch yet
    ],
)
def test_resume_from_every_kind_of_save_point(tmp_path: Path, hook: str, step: int) -> None:
    def fit(run_dir: Path, ckpt: Path | None = None) -> None:
        module, train, val = build()
        trainer = Trainer(
            max_steps=STEPS,
            callbacks=[SaveIn(hook, step, run_dir / CHECKPOINT)],
            val_check_interval=0.5,
            log_every_n_steps=3,
            default_root_dir=run_dir,
            seed=1,
            progress=False,
            enable_checkpointing=False,  # the copied run directory would move its checkpoints
        )
        trainer.fit(module, train, val, ckpt_path=ckpt)

    fit(tmp_path / "full")
    shutil.copytree(tmp_path / "full", tmp_path / "resumed")
    fit(tmp_path / "resumed", tmp_path / "resumed" / CHECKPOINT)
    weights = [(tmp_path / d / "weights.safetensors").read_bytes() for d in ("full", "resumed")]
    assert weights[0] == weights[1]
    assert rows(tmp_path / "resumed") == rows(tmp_path / "full")
    # curves.png of the resumed run is drawn from every row, those before the checkpoint too.
    full_curves, resumed_curves = (
        [{k: v for k, v in row.items() if not k.endswith(("_s", "_per_s"))} for row in drawn]
        for drawn in CURVES
    )
    assert resumed_curves == full_curves == rows(tmp_path / "full")


def test_a_second_ctrl_c_while_saving_aborts_without_a_file(tmp_path: Path) -> None:
    aborted = subprocess_run("abort", str(tmp_path / "run"))
    assert aborted.returncode not in (0, 130)
    assert "KeyboardInterrupt" in aborted.stderr
    # Only the epoch-0 checkpoints ModelCheckpoint saved before: no interrupt file, no temporary.
    names = sorted(path.name for path in (tmp_path / "run" / "checkpoints").iterdir())
    assert names == ["epoch=0-step=12.safetensors", "last.safetensors"]


def test_same_seed_same_weights_with_one_and_two_threads(tmp_path: Path, threads: None) -> None:
    one = run("resume", tmp_path / "one", threads=1)
    two = run("resume", tmp_path / "two", threads=2)
    assert one.global_step == two.global_step == STEPS
    first = (tmp_path / "one" / "weights.safetensors").read_bytes()
    assert first == (tmp_path / "two" / "weights.safetensors").read_bytes()


def abort_while_writing() -> None:
    """Sends SIGINT again in the middle of writing the interrupt checkpoint: right after the
    data reaches the disk (fsync), before the rename that would put the file in place."""
    from odyssey.train import checkpoint

    write_file, fsync = checkpoint.write_file, os.fsync
    armed = []

    def writing(path, arrays, metadata):  # type: ignore[no-untyped-def]
        armed.append(Path(path).name == "interrupted.safetensors")
        write_file(path, arrays, metadata)

    def synced(fd: int) -> None:
        fsync(fd)
        if armed and armed[-1]:
            armed.clear()
            os.kill(os.getpid(), signal.SIGINT)

    checkpoint.write_file = writing
    os.fsync = synced


if __name__ == "__main__":
    trainer_module.plots.plot_curves = lambda rows, path: None  # as _no_curves does
    mode, directory, *rest = sys.argv[1:]
    if mode == "abort":
        abort_while_writing()
    run(mode, Path(directory), Path(rest[0]) if rest else None)
