"""Callbacks driven by a stand-in trainer: ModelCheckpoint's top-k files, EarlyStopping's rules,
LearningRateMonitor's keys, TerminateOnNaN, Throughput and Timer on a fake clock, ProgressBar's
plain and rich output. The stand-in has the attributes the Trainer documents (INTERFACES.md) and
calls the hooks in the Trainer's order, so these tests do not depend on the Trainer itself.
The last section runs the callbacks through the real Trainer on small synthetic data: when
checkpoints are taken, resume, and a Trainer fitted twice."""

from __future__ import annotations

import io
import json
import math
import re
import warnings
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from rich.console import Console

import odyssey
from odyssey import nn, optim
from odyssey.data import ArrayDataset, DataLoader
from odyssey.train import Classifier, Trainer
from odyssey.train import callbacks as cb
from odyssey.train import trainer as trainer_module
from odyssey.train.callbacks import (
    Callback,
    EarlyStopping,
    LearningRateMonitor,
    ModelCheckpoint,
    TerminateOnNaN,
    Throughput,
    Timer,
)
from odyssey.train.checkpoint import load_checkpoint
from odyssey.train.loggers import read_csv, read_jsonl
from odyssey.train.progress import ProgressBar

BATCH = (np.zeros((8, 1, 4, 4), np.float32), np.zeros(8, np.int64))


class FakeTrainer(SimpleNamespace):
    """The attributes callbacks read; save_checkpoint writes the callbacks' state as JSON (so a
    test can read what a checkpoint file would hold)."""

    def __init__(self, tmp_path: Path, callbacks: Sequence[Callback] = (), **overrides: Any):
        super().__init__(
            current_epoch=0,
            global_step=0,
            batch_idx=0,
            max_epochs=None,
            max_steps=None,
            num_training_batches=4,
            callback_metrics={},
            logged_metrics={},
            should_stop=False,
            optimizer=None,
            lr_schedulers=[],
            run_dir=tmp_path,
            checkpoint_dir=tmp_path / "checkpoints",
            loggers=[],
            log_every_n_steps=2,
            state="fitting",
            interrupted=False,
            callbacks=list(callbacks),
            saved=[],
        )
        self.__dict__.update(overrides)

    def save_checkpoint(self, path: str | Path) -> None:
        state = {c.state_key: c.state_dict() for c in self.callbacks}
        Path(path).write_text(json.dumps({"step": self.global_step, "callbacks": state}))
        self.saved.append(Path(path).name)

    def call(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(self, None, *args)


def fit(
    trainer: FakeTrainer,
    epochs: int,
    metrics: Callable[[int], dict[str, float]] | None = None,
    batches: int | None = None,
    loss: Callable[[int], Any] = lambda step: 0.5,
    start_epoch: int = 0,
) -> None:
    """Calls the hooks of `fit` in the Trainer's order; metrics(epoch) are the epoch's
    validation results."""
    batches = trainer.num_training_batches if batches is None else batches
    trainer.call("setup", "fit")
    trainer.call("on_fit_start")
    trainer.call("on_train_start")
    for epoch in range(start_epoch, epochs):
        trainer.current_epoch = epoch
        trainer.call("on_train_epoch_start")
        for index in range(batches):
            trainer.call("on_train_batch_start", BATCH, index)
            trainer.global_step += 1
            trainer.call("on_train_batch_end", loss(trainer.global_step), BATCH, index)
            if trainer.should_stop:
                break
        if metrics is not None:
            trainer.call("on_validation_start")
            trainer.call("on_validation_epoch_start")
            trainer.callback_metrics.update(metrics(epoch))
            trainer.call("on_validation_epoch_end")
            trainer.call("on_validation_end")
        trainer.call("on_train_epoch_end")
        if trainer.should_stop:
            break
    trainer.call("on_train_end")
    trainer.call("on_fit_end")
    trainer.call("teardown", "fit")


def files(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()} if directory.exists() else set()


# -- Callback -------------------------------------------------------------------------------------


def test_callback_base_hooks_are_no_ops_and_state_is_empty(tmp_path: Path) -> None:
    callback = Callback()
    trainer = FakeTrainer(tmp_path, [callback])
    fit(trainer, 2, metrics=lambda e: {"val_loss": 1.0})
    for hook in (
        "on_test_start",
        "on_test_epoch_start",
        "on_test_epoch_end",
        "on_test_end",
        "on_predict_start",
        "on_predict_end",
    ):
        getattr(callback, hook)(trainer, None)
    callback.on_save_checkpoint(trainer, None, {})
    callback.on_load_checkpoint(trainer, None, {})
    callback.on_exception(trainer, None, RuntimeError("x"))
    callback.on_before_optimizer_step(trainer, None, None)
    assert callback.state_dict() == {}
    assert callback.state_key == "Callback"
    assert trainer.should_stop is False


# -- ModelCheckpoint ------------------------------------------------------------------------------


def test_model_checkpoint_keeps_the_best_k_and_deletes_the_rest(tmp_path: Path) -> None:
    scores = [0.5, 0.3, 0.4, 0.2, 0.6]
    checkpoint = ModelCheckpoint(
        monitor="val_loss", save_top_k=2, filename="{epoch}-{val_loss:.2f}"
    )
    trainer = FakeTrainer(tmp_path, [checkpoint])
    fit(trainer, len(scores), metrics=lambda e: {"val_loss": scores[e]})
    directory = tmp_path / "checkpoints"
    assert files(directory) == {
        "epoch=1-val_loss=0.30.safetensors",
        "epoch=3-val_loss=0.20.safetensors",
    }
    assert Path(checkpoint.best_model_path).name == "epoch=3-val_loss=0.20.safetensors"
    assert checkpoint.best_model_score == 0.2
    assert checkpoint.kth_value == 0.3
    assert sorted(checkpoint.best_k_models.values()) == [0.2, 0.3]
    # Epoch 4 (0.6) did not enter the top 2, so it was never written.
    assert trainer.saved == [
        "epoch=0-val_loss=0.50.safetensors",
        "epoch=1-val_loss=0.30.safetensors",
        "epoch=2-val_loss=0.40.safetensors",
        "epoch=3-val_loss=0.20.safetensors",
    ]
    # The file's own state already lists it among the best (a resume from it knows it).
    best = json.loads(Path(checkpoint.best_model_path).read_text())
    assert checkpoint.best_model_path in best["callbacks"][checkpoint.state_key]["best_k_models"]


def test_model_checkpoint_mode_max_and_save_all(tmp_path: Path) -> None:
    scores = [0.8, 0.9, 0.85]
    checkpoint = ModelCheckpoint(monitor="val_accuracy", mode="max", save_top_k=-1)
    trainer = FakeTrainer(tmp_path, [checkpoint])
    fit(trainer, 3, metrics=lambda e: {"val_accuracy": scores[e]})
    assert files(tmp_path / "checkpoints") == {
        "epoch=0-step=4.safetensors",
        "epoch=1-step=8.safetensors",
        "epoch=2-step=12.safetensors",
    }
    assert Path(checkpoint.best_model_path).name == "epoch=1-step=8.safetensors"
    assert checkpoint.best_model_score == 0.9


def test_model_checkpoint_nan_is_never_the_best(tmp_path: Path) -> None:
    scores = [0.5, math.nan, 0.7]
    checkpoint = ModelCheckpoint(monitor="val_loss", save_top_k=1)
    trainer = FakeTrainer(tmp_path, [checkpoint])
    fit(trainer, 3, metrics=lambda e: {"val_loss": scores[e]})
    assert Path(checkpoint.best_model_path).name == "epoch=0-step=4.safetensors"
    assert files(tmp_path / "checkpoints") == {"epoch=0-step=4.safetensors"}


def test_model_checkpoint_last_and_latest_without_monitor(tmp_path: Path) -> None:
    checkpoint = ModelCheckpoint(save_last=True)
    trainer = FakeTrainer(tmp_path, [checkpoint])
    fit(trainer, 3)
    assert files(tmp_path / "checkpoints") == {"epoch=2-step=12.safetensors", "last.safetensors"}
    assert json.loads((tmp_path / "checkpoints" / "last.safetensors").read_text())["step"] == 12
    assert checkpoint.last_model_path.endswith("last.safetensors")
    assert Path(checkpoint.best_model_path).name == "epoch=2-step=12.safetensors"


def test_model_checkpoint_every_n_epochs_still_refreshes_last(tmp_path: Path) -> None:
    checkpoint = ModelCheckpoint(
        dirpath=tmp_path / "c", save_top_k=-1, every_n_epochs=2, save_last=True
    )
    trainer = FakeTrainer(tmp_path, [checkpoint])
    fit(trainer, 5)
    assert files(tmp_path / "c") == {
        "epoch=1-step=8.safetensors",
        "epoch=3-step=16.safetensors",
        "last.safetensors",
    }
    assert trainer.saved.count("last.safetensors") == 5


def test_model_checkpoint_every_n_train_steps(tmp_path: Path) -> None:
    checkpoint = ModelCheckpoint(save_top_k=-1, every_n_train_steps=3, save_last=True)
    trainer = FakeTrainer(tmp_path, [checkpoint])
    fit(trainer, 2)
    assert files(tmp_path / "checkpoints") == {
        "epoch=0-step=3.safetensors",
        "epoch=1-step=6.safetensors",
        "last.safetensors",
    }
    # last at steps 3, 4 (epoch end), 6 and 8 (epoch end); never twice at one step.
    assert trainer.saved.count("last.safetensors") == 4


def test_model_checkpoint_skips_a_second_save_at_the_same_step(tmp_path: Path) -> None:
    checkpoint = ModelCheckpoint(save_top_k=-1, every_n_train_steps=4, save_last=True)
    trainer = FakeTrainer(tmp_path, [checkpoint])
    fit(trainer, 1)
    assert trainer.saved == ["epoch=0-step=4.safetensors", "last.safetensors"]


def test_model_checkpoint_does_nothing_outside_fit(tmp_path: Path) -> None:
    checkpoint = ModelCheckpoint(save_last=True)
    trainer = FakeTrainer(tmp_path, [checkpoint], state="validating")
    fit(trainer, 1)
    assert trainer.saved == []


def test_model_checkpoint_names_the_missing_metric(tmp_path: Path) -> None:
    checkpoint = ModelCheckpoint(monitor="val_acc")
    trainer = FakeTrainer(tmp_path, [checkpoint])
    with pytest.raises(ValueError, match=r"ModelCheckpoint\(monitor='val_acc'\).*val_accuracy"):
        fit(trainer, 1, metrics=lambda e: {"val_accuracy": 0.9})


def test_model_checkpoint_warns_when_a_step_save_comes_before_validation(tmp_path: Path) -> None:
    checkpoint = ModelCheckpoint(monitor="val_loss", every_n_train_steps=2)
    trainer = FakeTrainer(tmp_path, [checkpoint])
    trainer.call("setup", "fit")
    trainer.global_step = 2
    with pytest.warns(UserWarning, match="val_loss"):
        trainer.call("on_train_batch_end", None, BATCH, 1)
    assert trainer.saved == []


def test_model_checkpoint_filename_templates(tmp_path: Path) -> None:
    checkpoint = ModelCheckpoint(dirpath=tmp_path, filename="{epoch:02d}-{val.loss:.3f}")
    metrics = {"epoch": 3, "step": 10, "val.loss": 0.12345}
    assert (
        Path(checkpoint.format_checkpoint_name(metrics)).name
        == "epoch=03-val.loss=0.123.safetensors"
    )
    plain = ModelCheckpoint(
        dirpath=tmp_path, filename="model-{epoch}", auto_insert_metric_name=False
    )
    assert Path(plain.format_checkpoint_name(metrics, ver=2)).name == "model-3-v2.safetensors"
    missing = ModelCheckpoint(dirpath=tmp_path, filename="{epoch}-{nothing}")
    assert Path(missing.format_checkpoint_name(metrics)).name == "epoch=3-nothing=0.safetensors"


def test_model_checkpoint_versions_a_name_already_taken(tmp_path: Path) -> None:
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    (directory / "last.safetensors").write_text("someone else's")
    checkpoint = ModelCheckpoint(save_last=True, save_top_k=0)
    trainer = FakeTrainer(tmp_path, [checkpoint])
    fit(trainer, 2)
    assert (directory / "last.safetensors").read_text() == "someone else's"
    assert files(directory) == {"last.safetensors", "last-v1.safetensors"}


def test_model_checkpoint_state_round_trip_continues_the_bookkeeping(tmp_path: Path) -> None:
    scores = [0.5, 0.3, 0.4, 0.2, 0.6, 0.1]

    def run(resume_after: int | None) -> tuple[set[str], dict[str, Any]]:
        root = tmp_path / str(resume_after)
        first = ModelCheckpoint(monitor="val_loss", save_top_k=2, save_last=True)
        trainer = FakeTrainer(root, [first])
        if resume_after is None:
            fit(trainer, len(scores), metrics=lambda e: {"val_loss": scores[e]})
            return files(root / "checkpoints"), first.state_dict()
        fit(trainer, resume_after, metrics=lambda e: {"val_loss": scores[e]})
        saved = json.loads((root / "checkpoints" / "last.safetensors").read_text())
        state = json.loads(json.dumps(saved["callbacks"][first.state_key]))
        second = ModelCheckpoint(monitor="val_loss", save_top_k=2, save_last=True)
        resumed = FakeTrainer(root, [second], global_step=saved["step"])
        second.load_state_dict(state)  # before setup: applied once the directory is known
        fit(
            resumed,
            len(scores),
            metrics=lambda e: {"val_loss": scores[e]},
            start_epoch=resume_after,
        )
        return files(root / "checkpoints"), second.state_dict()

    whole_files, whole_state = run(None)
    resumed_files, resumed_state = run(3)
    assert (
        resumed_files
        == whole_files
        == {"epoch=3-step=16.safetensors", "epoch=5-step=24.safetensors", "last.safetensors"}
    )

    def relative(state: dict[str, Any], root: str) -> Any:
        return json.loads(json.dumps(state).replace(str(tmp_path / root), "ROOT"))

    assert relative(resumed_state, "3") == relative(whole_state, "None")


def test_model_checkpoint_other_directory_restores_only_best_path(tmp_path: Path) -> None:
    first = ModelCheckpoint(dirpath=tmp_path / "a", monitor="val_loss")
    fit(FakeTrainer(tmp_path, [first]), 1, metrics=lambda e: {"val_loss": 0.5})
    second = ModelCheckpoint(dirpath=tmp_path / "b", monitor="val_loss")
    with pytest.warns(UserWarning, match="directory changed"):
        second.load_state_dict(first.state_dict())
    assert second.best_model_path == first.best_model_path
    assert second.best_k_models == {}


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"save_top_k": -2}, ValueError, "save_top_k must be >= -1"),
        ({"save_top_k": 1.5}, TypeError, "save_top_k must be an int"),
        ({"mode": "avg"}, ValueError, "mode must be 'min' or 'max'"),
        ({"save_top_k": 3}, ValueError, r"save_top_k=3, monitor=None\) is not a valid"),
        ({"every_n_epochs": 2, "every_n_train_steps": 5}, ValueError, "mutually exclusive"),
        ({"every_n_train_steps": -1}, ValueError, "every_n_train_steps must be >= 0"),
        ({"monitor": 3}, TypeError, "monitor must be a str"),
        ({"save_last": "yes"}, ValueError, "save_last must be"),
    ],
)
def test_model_checkpoint_argument_errors(kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=f"ModelCheckpoint.*{message}"):
        ModelCheckpoint(**kwargs)


def test_model_checkpoint_state_key_tells_instances_apart() -> None:
    a = ModelCheckpoint(monitor="val_loss")
    b = ModelCheckpoint(monitor="val_accuracy", mode="max")
    assert a.state_key != b.state_key
    assert a.state_key.startswith("ModelCheckpoint{")


# -- EarlyStopping --------------------------------------------------------------------------------


def early_stop(values: Sequence[float], **kwargs: Any) -> tuple[EarlyStopping, int | None]:
    """Feeds one value per epoch; returns the callback and the epoch it stopped at."""
    stopper = EarlyStopping("val_loss", **kwargs)
    trainer = FakeTrainer(Path("."), [stopper])
    stopper.setup(trainer, None, "fit")
    for epoch, value in enumerate(values):
        trainer.current_epoch = epoch
        trainer.callback_metrics["val_loss"] = value
        stopper.on_validation_end(trainer, None)
        stopper.on_train_epoch_end(trainer, None)
        if trainer.should_stop:
            return stopper, epoch
    return stopper, None


def test_early_stopping_patience() -> None:
    stopper, epoch = early_stop([1.0, 0.9, 0.95, 0.92, 0.91, 0.5], patience=3)
    assert epoch == 4
    assert stopper.stopped_epoch == 4
    assert stopper.best_score == 0.9
    assert stopper.wait_count == 3
    assert stopper.stopping_reason == "patience_exhausted"
    assert "did not improve in the last 3 records" in stopper.stopping_reason_message


def test_early_stopping_patience_zero_stops_at_the_first_non_improvement() -> None:
    assert early_stop([1.0, 0.9, 0.9], patience=0)[1] == 2
    assert early_stop([1.0, 1.0], patience=1)[1] == 1


def test_early_stopping_min_delta() -> None:
    # 0.95 and 0.91 are within 0.1 of the best (1.0); 0.85 is not.
    stopper, epoch = early_stop([1.0, 0.95, 0.91, 0.85, 0.8, 0.79], patience=2, min_delta=0.1)
    assert epoch == 2
    stopper, epoch = early_stop([1.0, 0.95, 0.85, 0.8, 0.79, 0.78], patience=2, min_delta=0.1)
    assert stopper.best_score == 0.85
    assert epoch == 4


def test_early_stopping_mode_max() -> None:
    stopper, epoch = early_stop([0.5, 0.6, 0.7, 0.65, 0.69], patience=2, mode="max")
    assert epoch == 4
    assert stopper.best_score == 0.7


def test_early_stopping_non_finite() -> None:
    stopper, epoch = early_stop([1.0, math.nan, 0.5], patience=5)
    assert epoch == 1
    assert stopper.stopping_reason == "non_finite_metric"
    assert "is not finite" in stopper.stopping_reason_message
    stopper, epoch = early_stop([1.0, math.inf, 0.5], patience=5, check_finite=False)
    assert epoch is None
    assert stopper.best_score == 0.5


def test_early_stopping_thresholds() -> None:
    stopper, epoch = early_stop([1.0, 0.5, 0.09, 0.05], stopping_threshold=0.1)
    assert (epoch, stopper.stopping_reason) == (2, "stopping_threshold")
    stopper, epoch = early_stop([1.0, 0.5, 7.0], divergence_threshold=5.0)
    assert (epoch, stopper.stopping_reason) == (2, "divergence_threshold")
    stopper, epoch = early_stop([0.5, 0.8, 0.95], mode="max", stopping_threshold=0.9)
    assert epoch == 2


def test_early_stopping_state_round_trip() -> None:
    values = [1.0, 0.9, 0.95, 0.96, 0.97, 0.98]
    _, whole = early_stop(values, patience=3)
    first, _ = early_stop(values[:3], patience=3)
    second = EarlyStopping("val_loss", patience=3)
    second.load_state_dict(json.loads(json.dumps(first.state_dict())))
    trainer = FakeTrainer(Path("."), [second])
    second.setup(trainer, None, "fit")
    stopped = None
    for epoch, value in enumerate(values[3:], start=3):
        trainer.current_epoch = epoch
        trainer.callback_metrics["val_loss"] = value
        second.on_train_epoch_end(trainer, None)
        if trainer.should_stop:
            stopped = epoch
            break
    assert stopped == whole == 4
    assert second.state_dict() == {
        "wait_count": 3,
        "stopped_epoch": 4,
        "best_score": 0.9,
        "patience": 3,
    }


def test_early_stopping_missing_metric() -> None:
    stopper = EarlyStopping("val_acc")
    trainer = FakeTrainer(Path("."), [stopper], callback_metrics={"val_accuracy": 0.5})
    stopper.setup(trainer, None, "fit")
    with pytest.raises(RuntimeError, match=r"`val_acc`.*`val_accuracy`"):
        stopper.on_train_epoch_end(trainer, None)
    lenient = EarlyStopping("val_acc", strict=False)
    lenient.setup(trainer, None, "fit")
    lenient.on_train_epoch_end(trainer, None)
    assert trainer.should_stop is False


def test_early_stopping_checks_after_validation_when_it_runs_mid_epoch() -> None:
    stopper = EarlyStopping("val_loss", patience=0)
    trainer = FakeTrainer(Path("."), [stopper], val_check_interval=0.5)
    stopper.setup(trainer, None, "fit")
    trainer.callback_metrics["val_loss"] = 1.0
    stopper.on_validation_end(trainer, None)
    stopper.on_validation_end(trainer, None)
    assert trainer.should_stop is True


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"monitor": None}, TypeError, "monitor must be a str"),
        ({"monitor": "x", "mode": "up"}, ValueError, "mode must be 'min' or 'max'"),
        ({"monitor": "x", "patience": -1}, ValueError, "patience must be >= 0"),
        ({"monitor": "x", "min_delta": math.nan}, ValueError, "min_delta"),
    ],
)
def test_early_stopping_argument_errors(kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=f"EarlyStopping: {message}"):
        EarlyStopping(**kwargs)


# -- LearningRateMonitor --------------------------------------------------------------------------


class RowCollector(Callback):
    def __init__(self) -> None:
        self.rows: list[tuple[int, dict[str, float]]] = []

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.rows.append((step, dict(metrics)))


def sgd(lr: float = 0.1, groups: int = 1, **kwargs: Any) -> optim.SGD:
    layers = [nn.Linear(2, 2) for _ in range(groups)]
    params = [{"params": list(layer.parameters())} for layer in layers]
    return optim.SGD(params, lr=lr, **kwargs)


def test_learning_rate_monitor_epoch_scheduler(tmp_path: Path) -> None:
    optimizer = sgd(0.1, momentum=0.9)
    scheduler = SimpleNamespace(optimizer=optimizer)
    logger = RowCollector()
    monitor = LearningRateMonitor(log_momentum=True)
    trainer = FakeTrainer(
        tmp_path,
        [monitor],
        optimizer=optimizer,
        loggers=[logger],
        lr_schedulers=[{"scheduler": scheduler, "interval": "epoch", "frequency": 1}],
    )

    fit(trainer, 2)
    assert logger.rows == [
        (0, {"epoch": 0, "lr-SGD": 0.1, "lr-SGD-momentum": 0.9}),
        (4, {"epoch": 1, "lr-SGD": 0.1, "lr-SGD-momentum": 0.9}),
    ]
    assert trainer.callback_metrics["lr-SGD"] == 0.1
    assert monitor.lrs == {"lr-SGD": [0.1, 0.1]}


def test_learning_rate_monitor_step_scheduler_logs_every_n_steps(tmp_path: Path) -> None:
    optimizer = sgd(0.05, groups=2)
    logger = RowCollector()
    monitor = LearningRateMonitor()
    trainer = FakeTrainer(
        tmp_path,
        [monitor],
        optimizer=optimizer,
        loggers=[logger],
        log_every_n_steps=2,
        lr_schedulers=[{"scheduler": SimpleNamespace(optimizer=optimizer), "interval": "step"}],
    )
    fit(trainer, 1)
    # on_train_batch_start at global steps 1 and 3 ((step + 1) % 2 == 0); not at epoch start.
    assert [step for step, _ in logger.rows] == [1, 3]
    assert logger.rows[0][1] == {"epoch": 0, "lr-SGD/pg1": 0.05, "lr-SGD/pg2": 0.05}


def test_learning_rate_monitor_names_and_intervals(tmp_path: Path) -> None:
    first, second = sgd(0.1), sgd(0.2)
    adam = optim.Adam(nn.Linear(2, 2).parameters(), lr=1e-3, betas=(0.8, 0.99))
    logger = RowCollector()
    monitor = LearningRateMonitor(
        logging_interval="epoch", log_momentum=True, log_weight_decay=True
    )
    trainer = FakeTrainer(tmp_path, [monitor], loggers=[logger], optimizers=[first, second, adam])
    fit(trainer, 1)
    assert logger.rows == [
        (
            0,
            {
                "epoch": 0,
                "lr-SGD": 0.1,
                "lr-SGD-momentum": 0.0,
                "lr-SGD-weight_decay": 0.0,
                "lr-SGD-1": 0.2,
                "lr-SGD-1-momentum": 0.0,
                "lr-SGD-1-weight_decay": 0.0,
                "lr-Adam": 1e-3,
                "lr-Adam-momentum": 0.8,
                "lr-Adam-weight_decay": 0.0,
            },
        )
    ]


def test_learning_rate_monitor_needs_a_logger(tmp_path: Path) -> None:
    trainer = FakeTrainer(tmp_path, [LearningRateMonitor()], optimizer=sgd())
    with pytest.raises(ValueError, match="LearningRateMonitor: the Trainer has no logger"):
        fit(trainer, 1)
    with pytest.raises(ValueError, match="logging_interval must be 'step', 'epoch' or None"):
        LearningRateMonitor(logging_interval="batch")


# -- TerminateOnNaN -------------------------------------------------------------------------------


def test_terminate_on_nan_stops_and_says_why(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    callback = TerminateOnNaN()
    trainer = FakeTrainer(tmp_path, [callback])
    fit(trainer, 3, loss=lambda step: odyssey.tensor(math.nan if step == 6 else 0.5))
    assert trainer.should_stop is True
    assert trainer.global_step == 6
    assert callback.stopped_step == 6
    assert "the training loss is nan at epoch 1, batch 1 (step 6)" in capsys.readouterr().err


@pytest.mark.parametrize("loss", [0.5, np.float32(0.25), {"loss": 1.0}, None])
def test_terminate_on_nan_lets_finite_losses_through(tmp_path: Path, loss: Any) -> None:
    trainer = FakeTrainer(tmp_path, [TerminateOnNaN()])
    fit(trainer, 2, loss=lambda step: loss)
    assert trainer.should_stop is False


def test_terminate_on_nan_infinite_loss(tmp_path: Path) -> None:
    trainer = FakeTrainer(tmp_path, [TerminateOnNaN()])
    fit(trainer, 2, loss=lambda step: {"loss": math.inf})
    assert trainer.global_step == 1


# -- Throughput and Timer on a fake clock ---------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_throughput_excludes_validation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(cb, "perf_counter", clock)
    throughput = Throughput()
    trainer = FakeTrainer(tmp_path, [throughput])
    throughput.on_train_epoch_start(trainer, None)
    for index in range(4):
        clock.now += 1.0
        throughput.on_train_batch_end(trainer, None, None, BATCH, index)
    assert trainer.callback_metrics["train_img_per_s"] == 8.0
    throughput.on_validation_start(trainer, None)
    clock.now += 100.0  # validation: not training time
    throughput.on_validation_end(trainer, None)
    clock.now += 0.5
    throughput.on_train_epoch_end(trainer, None)
    assert throughput.epoch_img_per_s == {0: 32 / 4.5}
    assert trainer.callback_metrics["train_img_per_s"] == 32 / 4.5
    # A second epoch with a dict batch of 16 samples, 2 s.
    trainer.current_epoch = 1
    throughput.on_train_epoch_start(trainer, None)
    clock.now += 2.0
    throughput.on_train_batch_end(trainer, None, None, {"image": np.zeros((16, 3)), "y": 0}, 0)
    throughput.on_train_epoch_end(trainer, None)
    assert throughput.epoch_img_per_s[1] == 8.0
    assert throughput.images == 48
    assert throughput.train_time_s == 6.5
    assert throughput.train_img_per_s == 48 / 6.5
    restored = Throughput()
    restored.load_state_dict(json.loads(json.dumps(throughput.state_dict())))
    assert (restored.images, restored.train_time_s, restored.epoch_img_per_s) == (
        48,
        6.5,
        throughput.epoch_img_per_s,
    )


def test_throughput_counts_an_epoch_resumed_midway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(cb, "perf_counter", clock)
    throughput = Throughput()
    trainer = FakeTrainer(tmp_path, [throughput], current_epoch=3)
    throughput.on_train_start(trainer, None)  # no on_train_epoch_start: the epoch goes on
    for index in (2, 3):
        clock.now += 1.0
        throughput.on_train_batch_end(trainer, None, None, BATCH, index)
    throughput.on_train_epoch_end(trainer, None)
    assert throughput.epoch_img_per_s == {3: 8.0}


def test_throughput_batch_sizes() -> None:
    assert cb.batch_size((odyssey.tensor(np.zeros((5, 2), np.float32)), None)) == 5
    assert cb.batch_size([np.zeros((3, 1)), np.zeros(3)]) == 3
    assert cb.batch_size(np.zeros((7, 2))) == 7
    assert cb.batch_size({"x": [1, 2]}) == 2
    assert Throughput(batch_size_fn=lambda batch: 10).batch_size_fn(BATCH) == 10


def test_timer_stops_after_its_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(cb, "monotonic", clock)
    timer = Timer("00:00:00:10", verbose=False)
    trainer = FakeTrainer(tmp_path, [timer], num_training_batches=100)
    timer.on_fit_start(trainer, None)
    timer.on_train_start(trainer, None)
    steps = 0
    while not trainer.should_stop:
        clock.now += 3.0
        steps += 1
        timer.on_train_batch_end(trainer, None, None, BATCH, steps)
    assert steps == 4  # 12 s >= 10 s
    assert timer.time_elapsed("train") == 12.0
    assert timer.time_remaining() == -2.0
    timer.on_train_end(trainer, None)
    clock.now += 5.0
    assert timer.time_elapsed() == 12.0  # ended
    assert timer.time_elapsed("test") == 0.0


def test_timer_epoch_interval_and_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(cb, "monotonic", clock)
    timer = Timer({"seconds": 10}, interval="epoch", verbose=False)
    trainer = FakeTrainer(tmp_path, [timer])
    timer.on_train_start(trainer, None)
    clock.now += 6.0
    timer.on_train_batch_end(trainer, None, None, BATCH, 0)
    assert not trainer.should_stop  # epoch interval: not checked per step
    state = json.loads(json.dumps(timer.state_dict()))
    assert state["time_elapsed"]["train"] == 6.0
    resumed = Timer(timedelta(seconds=10), interval="epoch", verbose=False)
    resumed.load_state_dict(state)
    trainer = FakeTrainer(tmp_path, [resumed])
    resumed.on_fit_start(trainer, None)
    resumed.on_train_start(trainer, None)
    clock.now += 3.0
    resumed.on_train_epoch_end(trainer, None)
    assert not trainer.should_stop
    clock.now += 1.0
    resumed.on_train_epoch_end(trainer, None)
    assert trainer.should_stop
    # A restored timer already out of time stops at once.
    spent = Timer("00:00:00:05", verbose=False)
    spent.load_state_dict(state)
    trainer = FakeTrainer(tmp_path, [spent])
    spent.on_fit_start(trainer, None)
    assert trainer.should_stop


def test_timer_validation_and_test_stages(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(cb, "monotonic", clock)
    timer = Timer()
    trainer = FakeTrainer(Path("."), [timer])
    timer.on_validation_start(trainer, None)
    clock.now += 2.5
    timer.on_validation_end(trainer, None)
    timer.on_test_start(trainer, None)
    clock.now += 1.0
    assert (timer.time_elapsed("validate"), timer.time_elapsed("test")) == (2.5, 1.0)
    assert timer.time_remaining() is None
    with pytest.raises(ValueError, match="Timer: stage must be one of"):
        timer.time_elapsed("training")


@pytest.mark.parametrize(
    ("duration", "error"),
    [
        ("10:00", ValueError),
        ("00:01:xx:00", ValueError),
        ({"weeks": 1, "bad": 2}, ValueError),
        (10, TypeError),
    ],
)
def test_timer_duration_errors(duration: Any, error: type) -> None:
    with pytest.raises(error, match="Timer: duration"):
        Timer(duration)
    assert Timer("01:02:03:04")._duration == timedelta(1, 2 * 3600 + 3 * 60 + 4).total_seconds()
    with pytest.raises(ValueError, match="Timer: interval must be 'step' or 'epoch'"):
        Timer(interval="batch")


# -- ProgressBar ----------------------------------------------------------------------------------


def progress_run(bar: ProgressBar, tmp_path: Path, epochs: int = 2, batches: int = 20) -> None:
    trainer = FakeTrainer(tmp_path, [bar], max_epochs=epochs, num_training_batches=batches)
    trainer.callback_metrics["train_accuracy"] = 0.875
    fit(
        trainer,
        epochs,
        metrics=lambda e: {
            "val_loss": 0.25,
            "val_accuracy": 0.9,
            "train_loss_epoch": 0.5,
            "train_loss": 0.75,
            "train_img_per_s": 123.0,
        },
        loss=lambda step: odyssey.tensor(1.0 / step),
    )


def test_progress_bar_plain_lines_when_not_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bar = ProgressBar()
    progress_run(bar, tmp_path)
    assert not bar.uses_rich
    lines = capsys.readouterr().out.splitlines()
    step_lines = [line for line in lines if " step " in line]
    assert len(step_lines) == 2 * 9  # every 2 batches but the last, of 20
    assert re.fullmatch(
        r"epoch 1/2 step 2/20 loss 0\.5000 acc 0\.8750 \d+ img/s eta \d+:\d\d:\d\d", step_lines[0]
    )
    assert step_lines[9].startswith("epoch 2/2 step 2/20 loss 0.0455 ")
    summaries = [line for line in lines if " step " not in line]
    assert len(summaries) == 2
    assert summaries[0].startswith(
        "epoch 1/2  train_accuracy 0.8750  train_loss 0.5000  val_accuracy 0.9000"
        "  val_loss 0.2500  "
    )
    assert "train_img_per_s" not in summaries[0]
    assert "  123 img/s  " in summaries[0]  # Throughput's rate, when it runs


def test_progress_bar_resumed_mid_epoch(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bar = ProgressBar()
    trainer = FakeTrainer(tmp_path, [bar], max_epochs=2, num_training_batches=20)
    trainer.call("setup", "fit")
    trainer.call("on_train_start")  # the checkpoint was taken after batch 10 of epoch 1
    for index in range(10, 20):
        trainer.call("on_train_batch_end", 0.5, BATCH, index)
    trainer.call("on_train_epoch_end")
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" loss")[0] for line in lines[:-1]] == [
        "epoch 1/2 step 12/20", "epoch 1/2 step 14/20", "epoch 1/2 step 16/20",
        "epoch 1/2 step 18/20",
    ]  # fmt: skip
    assert lines[-1].startswith("epoch 1/2  ")


def test_progress_bar_rich_on_a_terminal(tmp_path: Path) -> None:
    output = io.StringIO()
    bar = ProgressBar(console=Console(file=output, force_terminal=True, width=120))
    progress_run(bar, tmp_path)
    assert bar.uses_rich
    text = output.getvalue()
    assert "epoch 1/2" in text
    assert "epoch 2/2  train_accuracy 0.8750  train_loss 0.5000" in text
    assert text.endswith("\x1b[?25h")  # the cursor is shown again


def test_progress_bar_finishes_cleanly_on_an_exception(tmp_path: Path) -> None:
    output = io.StringIO()
    bar = ProgressBar(console=Console(file=output, force_terminal=True, width=100))
    trainer = FakeTrainer(tmp_path, [bar], max_epochs=3)
    trainer.call("setup", "fit")
    trainer.call("on_train_start")
    trainer.call("on_train_epoch_start")
    trainer.call("on_train_batch_end", 0.5, BATCH, 0)
    trainer.call("on_exception", KeyboardInterrupt())
    trainer.call("teardown", "fit")
    assert output.getvalue().endswith("\x1b[?25h")


def test_progress_bar_test_stage_and_disabled(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bar = ProgressBar()
    trainer = FakeTrainer(tmp_path, [bar], state="testing")
    trainer.callback_metrics.update(test_loss=0.125, test_accuracy=0.96875, val_loss=1.0)
    trainer.call("setup", "test")
    trainer.call("on_test_start")
    trainer.call("on_test_epoch_start")
    trainer.call("on_test_batch_end", None, BATCH, 0)
    trainer.call("on_test_epoch_end")
    trainer.call("on_test_end")
    assert capsys.readouterr().out == "test  test_accuracy 0.9688  test_loss 0.1250\n"
    silent = ProgressBar(refresh_rate=0)
    progress_run(silent, tmp_path)
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="ProgressBar: refresh_rate must be >= 0"):
        ProgressBar(refresh_rate=-1)


# -- fresh fits and resumes (stand-in trainer) ----------------------------------------------------


def test_model_checkpoint_missing_monitor_before_any_validation_warns(tmp_path: Path) -> None:
    # A fit stopped (max_steps, TerminateOnNaN) before its first validation: Lightning warns
    # and saves no top-k file, but last is still written.
    checkpoint = ModelCheckpoint(monitor="val_loss", save_last=True)
    trainer = FakeTrainer(tmp_path, [checkpoint], num_val_batches=2)
    with pytest.warns(UserWarning, match=r"monitor='val_loss'.*skipping this checkpoint"):
        fit(trainer, 1)
    assert trainer.saved == ["last.safetensors"]
    assert checkpoint.best_k_models == {}


def test_model_checkpoint_saves_top_k_after_each_validation_when_not_once_an_epoch(
    tmp_path: Path,
) -> None:
    checkpoint = ModelCheckpoint(monitor="val_loss", save_top_k=-1, filename="{step}")
    trainer = FakeTrainer(tmp_path, [checkpoint], val_check_interval=2, num_val_batches=1)
    trainer.call("setup", "fit")
    scores = {2: 0.5, 4: 0.4}
    for step in (1, 2, 3, 4):
        trainer.global_step = step
        trainer.call("on_train_batch_end", 0.5, BATCH, step - 1)
        if step in scores:
            trainer.callback_metrics["val_loss"] = scores[step]
            trainer.call("on_validation_end")
    trainer.global_step = 5
    trainer.call("on_train_batch_end", 0.5, BATCH, 4)
    trainer.call("on_train_epoch_end")  # step 5: no validation since step 4, no top-k file
    assert trainer.saved == ["step=2.safetensors", "step=4.safetensors"]
    assert {Path(p).name: v for p, v in checkpoint.best_k_models.items()} == {
        "step=2.safetensors": 0.5,
        "step=4.safetensors": 0.4,
    }
    # save_on_train_epoch_end=True keeps the epoch-end rule whatever the trainer does.
    forced = ModelCheckpoint(monitor="val_loss", save_on_train_epoch_end=True)
    trainer = FakeTrainer(tmp_path / "f", [forced], val_check_interval=2, num_val_batches=1)
    fit(trainer, 1, metrics=lambda e: {"val_loss": 0.3})
    assert trainer.saved == ["epoch=0-step=4.safetensors"]
    with pytest.raises(ValueError, match="save_on_train_epoch_end must be None, True or False"):
        ModelCheckpoint(save_on_train_epoch_end=1)


def test_a_fresh_fit_starts_the_callbacks_afresh(tmp_path: Path) -> None:
    checkpoint = ModelCheckpoint(monitor="val_loss", save_top_k=1)
    stopper = EarlyStopping("val_loss", patience=1)
    throughput = Throughput()
    trainer = FakeTrainer(tmp_path / "a", [stopper, throughput, checkpoint])
    fit(trainer, 3, metrics=lambda e: {"val_loss": [0.1, 0.2, 0.3][e]})
    assert trainer.should_stop
    assert stopper.wait_count == 1
    # The same callbacks in a second, fresh fit (another run directory).
    second = FakeTrainer(tmp_path / "b", [stopper, throughput, checkpoint])
    fit(second, 2, metrics=lambda e: {"val_loss": [0.9, 0.8][e]})
    assert not second.should_stop  # 0.9 is not compared with the first fit's 0.1
    assert stopper.best_score == 0.8
    assert stopper.wait_count == 0
    assert Path(checkpoint.best_model_path).parent == tmp_path / "b" / "checkpoints"
    assert set(checkpoint.best_k_models) == {checkpoint.best_model_path}
    assert files(tmp_path / "b" / "checkpoints") == {"epoch=1-step=8.safetensors"}
    assert files(tmp_path / "a" / "checkpoints") == {"epoch=0-step=4.safetensors"}
    assert throughput.images == 2 * 4 * 8


def test_a_fresh_fit_restarts_the_timer_and_a_resume_continues_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(cb, "monotonic", clock)
    timer = Timer({"seconds": 10}, verbose=False)
    trainer = FakeTrainer(tmp_path, [timer])
    timer.setup(trainer, None, "fit")
    timer.on_fit_start(trainer, None)
    timer.on_train_start(trainer, None)
    clock.now += 12.0
    timer.on_train_batch_end(trainer, None, None, BATCH, 0)
    timer.on_train_end(trainer, None)
    timer.teardown(trainer, None, "fit")
    assert trainer.should_stop
    state = json.loads(json.dumps(timer.state_dict()))
    # The same timer, a fresh fit: its clock starts at zero.
    trainer = FakeTrainer(tmp_path, [timer])
    timer.setup(trainer, None, "fit")
    timer.on_fit_start(trainer, None)
    assert not trainer.should_stop
    assert timer.time_elapsed("train") == 0.0
    timer.teardown(trainer, None, "fit")
    # Restored after setup (the Trainer's order): the 12 s spent count again.
    trainer = FakeTrainer(tmp_path, [timer])
    timer.setup(trainer, None, "fit")
    timer.load_state_dict(state)
    timer.on_fit_start(trainer, None)
    assert trainer.should_stop


# -- through the real Trainer ---------------------------------------------------------------------


@pytest.fixture
def no_curves(monkeypatch: pytest.MonkeyPatch) -> None:
    """curves.png costs matplotlib half a second a fit and is no part of these tests."""
    monkeypatch.setattr(trainer_module.plots, "plot_curves", lambda rows, path: None)


def synthetic(count: int, seed: int = 0) -> DataLoader:
    """count 4x4 images in 4 classes, batches of 4, shuffled reproducibly."""
    rng = np.random.default_rng(seed)
    images = rng.random((count, 1, 4, 4), dtype=np.float32)
    labels = (images[:, 0, 0, 0] > 0.5) + 2 * (images.mean(axis=(1, 2, 3)) > 0.5)
    dataset = ArrayDataset(images, labels.astype(np.int64))
    return DataLoader(dataset, batch_size=4, shuffle=True, seed=1, prefetch=0)


class Scripted(Classifier):
    """A small Classifier; `scores[epoch]` is logged as "score" by validation, and the training
    loss is NaN at global step `nan_at`."""

    def __init__(self, scores: Sequence[float] = (), nan_at: int | None = None) -> None:
        odyssey.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 4))
        super().__init__(model, optimizer=lambda p: optim.SGD(p, lr=0.2, momentum=0.9))
        object.__setattr__(self, "scores", list(scores))
        object.__setattr__(self, "nan_at", nan_at)

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        loss = super().training_step(batch, batch_idx)
        if self.trainer.global_step + 1 == self.nan_at:
            return loss * float("nan")
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        super().validation_step(batch, batch_idx)
        if self.scores:
            self.log("score", self.scores[self.trainer.current_epoch])


class ForgetShouldStop(Callback):
    """Clears trainer.should_stop when a fit starts, as a Trainer that does not checkpoint it
    does (Lightning): the restored callbacks must decide again. Goes first in the list."""

    def on_fit_start(self, trainer: Any, module: Any) -> None:
        trainer.should_stop = False


class Tick(Callback):
    """Advances the fake clock by one second per training batch."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):  # type: ignore[no-untyped-def]
        self.clock.now += 1.0


def metric_rows(run_dir: Path) -> list[dict[str, Any]]:
    """metrics.jsonl without wall-clock values."""
    return [
        {k: v for k, v in row.items() if not k.endswith(("_s", "_per_s"))}
        for row in read_jsonl(run_dir / "metrics.jsonl")
    ]


@pytest.mark.parametrize(
    ("arguments", "nan_at", "warns"),
    [
        ({"max_steps": 3}, None, True),  # max_steps in the middle of the first epoch
        ({"max_epochs": 2}, 3, True),  # TerminateOnNaN in the middle of the first epoch
        # Validation every 8 batches of 5-batch epochs (after the fit's end): top-k files are
        # considered after validation only, so there is nothing to warn about.
        ({"max_epochs": 1, "val_check_interval": 8}, None, False),
    ],
)
def test_trainer_stopped_before_validation_with_a_monitor_finishes(
    tmp_path: Path, no_curves: None, arguments: dict, nan_at: int | None, warns: bool
) -> None:
    checkpoint = ModelCheckpoint(monitor="val_loss", save_last=True)
    trainer = Trainer(
        default_root_dir=tmp_path,
        callbacks=[TerminateOnNaN(), checkpoint],
        progress=False,
        seed=0,
        **arguments,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(Scripted(nan_at=nan_at), synthetic(20), synthetic(8, seed=1))
    missing = [w for w in caught if "could not find the monitored metric" in str(w.message)]
    assert bool(missing) == warns
    assert (tmp_path / "weights.safetensors").exists()
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "success"
    assert files(tmp_path / "checkpoints") == {"last.safetensors"}


def test_trainer_top_k_files_hold_the_weights_their_score_was_measured_on(
    tmp_path: Path, no_curves: None
) -> None:
    # Validation every 3 batches of 10-batch epochs: top-k files are taken right after each
    # validation (Lightning), so each file's weights give its score back.
    checkpoint = ModelCheckpoint(
        monitor="val_loss", save_top_k=-1, filename="{step}", save_last=True
    )
    val = synthetic(8, seed=1)
    trainer = Trainer(
        max_epochs=2,
        val_check_interval=3,
        default_root_dir=tmp_path / "full",
        callbacks=[checkpoint],
        progress=False,
        seed=0,
        log_every_n_steps=2,
    )
    trainer.fit(Scripted(), synthetic(40), val)
    saved = {Path(path).name: score for path, score in checkpoint.best_k_models.items()}
    assert sorted(saved) == sorted(f"step={s}.safetensors" for s in (3, 6, 9, 12, 15, 18))
    rows = read_jsonl(tmp_path / "full" / "metrics.jsonl")
    measured = {row["step"]: row["val_loss"] for row in rows if "val_loss" in row}
    for name, score in saved.items():
        assert score == measured[int(name[5:-12])]
        module = Scripted()
        load_checkpoint(tmp_path / "full" / "checkpoints" / name).restore(module)
        again = Trainer(progress=False, default_root_dir=tmp_path / "v").validate(module, val)
        assert again[0]["val_loss"] == pytest.approx(score, rel=1e-6, abs=0)

    # A run resumed from one of them (taken at a mid-epoch validation) ends as the full run.
    resumed = Trainer(
        max_epochs=2,
        val_check_interval=3,
        default_root_dir=tmp_path / "resumed",
        callbacks=[ModelCheckpoint(monitor="val_loss", save_top_k=-1, filename="{step}")],
        progress=False,
        seed=0,
        log_every_n_steps=2,
    )
    with pytest.warns(UserWarning, match="checkpoint directory changed"):
        resumed.fit(
            Scripted(),
            synthetic(40),
            val,
            ckpt_path=tmp_path / "full" / "checkpoints" / "step=6.safetensors",
        )
    weights = [(tmp_path / d / "weights.safetensors").read_bytes() for d in ("full", "resumed")]
    assert weights[0] == weights[1]
    assert metric_rows(tmp_path / "resumed") == metric_rows(tmp_path / "full")


def test_trainer_fitted_twice_writes_each_run_once(
    tmp_path: Path, no_curves: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    checkpoint = ModelCheckpoint(monitor="val_loss", save_top_k=1, save_last=True)
    trainer = Trainer(max_epochs=2, callbacks=[checkpoint], progress=False, seed=0, name="x")
    trainer.fit(Scripted(), synthetic(20), synthetic(8, seed=1))
    first = trainer.run_dir
    trainer.fit(Scripted(), synthetic(20), synthetic(8, seed=1))
    second = trainer.run_dir
    assert first != second
    for run_dir in (first, second):
        jsonl = read_jsonl(run_dir / "metrics.jsonl")
        assert [row["step"] for row in jsonl] == [5, 10]
        assert [row["step"] for row in read_csv(run_dir / "metrics.csv")] == ["5", "10"]
        assert files(run_dir / "checkpoints") == {"epoch=1-step=10.safetensors", "last.safetensors"}
    assert Path(checkpoint.best_model_path).parent == second / "checkpoints"
    assert Path(checkpoint.last_model_path).parent == second / "checkpoints"
    assert set(checkpoint.best_k_models) == {checkpoint.best_model_path}


def test_trainer_resumed_early_stopping_decides_again(tmp_path: Path, no_curves: None) -> None:
    # Patience 2 runs out at the end of epoch 2; last.safetensors holds wait_count 2.
    scores = [1.0, 1.1, 1.2, 1.3, 0.5, 0.6, 0.7, 0.8]
    trainer = Trainer(
        max_epochs=8,
        default_root_dir=tmp_path / "a",
        callbacks=[EarlyStopping("score", patience=2)],
        progress=False,
        seed=0,
    )
    trainer.fit(Scripted(scores), synthetic(8), synthetic(4, seed=1))
    assert trainer.current_epoch == 3
    last = tmp_path / "a" / "checkpoints" / "last.safetensors"

    def resume(root: str, patience: int) -> tuple[Trainer, EarlyStopping]:
        stopper = EarlyStopping("score", patience=patience)
        resumed = Trainer(
            max_epochs=8,
            default_root_dir=tmp_path / root,
            callbacks=[ForgetShouldStop(), stopper],
            progress=False,
            seed=0,
        )
        with pytest.warns(UserWarning, match="checkpoint directory changed"):
            resumed.fit(Scripted(scores), synthetic(8), synthetic(4, seed=1), ckpt_path=last)
        return resumed, stopper

    # Still no better at the next check (epoch 3): it stops again there.
    resumed, stopper = resume("b", 2)
    assert resumed.current_epoch == 4
    assert stopper.wait_count == 3
    assert stopper.stopping_reason == "patience_exhausted"
    # The restored patience is the checkpoint's (Lightning's state), whatever the new argument.
    resumed, stopper = resume("c", 5)
    assert resumed.current_epoch == 4
    assert stopper.patience == 2


def test_trainer_resumed_timer_decides_again(
    tmp_path: Path, no_curves: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(cb, "monotonic", clock)
    trainer = Trainer(
        max_epochs=5,
        default_root_dir=tmp_path / "a",
        callbacks=[Tick(clock), Timer({"seconds": 5}, verbose=False)],
        progress=False,
        seed=0,
    )
    trainer.fit(Scripted(), synthetic(16), synthetic(4, seed=1))
    assert trainer.global_step == 5  # 5 s after 5 batches of 1 s
    last = tmp_path / "a" / "checkpoints" / "last.safetensors"

    def resume(root: str, seconds: int) -> Trainer:
        resumed = Trainer(
            max_epochs=5,
            default_root_dir=tmp_path / root,
            callbacks=[ForgetShouldStop(), Tick(clock), Timer({"seconds": seconds}, verbose=False)],
            progress=False,
            seed=0,
        )
        with pytest.warns(UserWarning, match="checkpoint directory changed"):
            resumed.fit(Scripted(), synthetic(16), synthetic(4, seed=1), ckpt_path=last)
        return resumed

    assert resume("b", 5).global_step == 5  # out of time already: no further step
    assert resume("c", 8).global_step == 8  # a longer budget: 3 more seconds of training
