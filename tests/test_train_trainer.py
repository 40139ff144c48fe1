"""The Trainer: Lightning's hook order, stopping, validation cadence, gradient clipping,
schedulers, logging cadence, the run directory and summary.json, validate/test/predict, named
errors for wrong arguments, and resuming: every part of a checkpoint checked before any is
loaded, a used run directory refused, checkpoints only between steps, Ctrl-C to the last step."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import odyssey
import odyssey.metrics
import odyssey.nn.functional as F
import odyssey.train
from odyssey import nn, optim
from odyssey.data import ArrayDataset, DataLoader
from odyssey.optim import lr_scheduler
from odyssey.papers import tomllib
from odyssey.serialization import CheckpointError
from odyssey.tensor import is_grad_enabled
from odyssey.train import Classifier, Trainer, TrainModule, callbacks, checkpoint, loggers, rundir
from odyssey.train import trainer as trainer_module


@pytest.fixture(autouse=True)
def _no_curves(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Drawing curves.png takes matplotlib half a second: only the run-directory test does."""
    if request.node.name != "test_classifier_run_directory_and_summary":
        monkeypatch.setattr(trainer_module.plots, "plot_curves", lambda rows, path: None)


# -- small data and modules ----------------------------------------------------------------------


def arrays(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.random((count, 1, 6, 6), dtype=np.float32)
    labels = (images.mean(axis=(1, 2, 3)) > 0.5).astype(np.int64) + 2 * (images[:, 0, 0, 0] > 0.5)
    return images, labels


def loader(count: int = 32, batch_size: int = 8, seed: int = 0, shuffle: bool = False) -> Any:
    images, labels = arrays(count, seed)
    return DataLoader(
        ArrayDataset(images, labels), batch_size=batch_size, shuffle=shuffle, seed=1, prefetch=0
    )


def tiny_model() -> nn.Module:
    odyssey.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(36, 8), nn.ReLU(), nn.Linear(8, 4))


HOOKS = [
    "setup",
    "teardown",
    "on_fit_start",
    "on_fit_end",
    "on_train_start",
    "on_train_end",
    "on_train_epoch_start",
    "on_train_epoch_end",
    "on_train_batch_start",
    "on_train_batch_end",
    "on_before_zero_grad",
    "on_before_backward",
    "on_after_backward",
    "on_before_optimizer_step",
    "on_validation_start",
    "on_validation_end",
    "on_validation_epoch_start",
    "on_validation_epoch_end",
    "on_validation_batch_start",
    "on_validation_batch_end",
    "on_test_start",
    "on_test_end",
    "on_test_epoch_start",
    "on_test_epoch_end",
    "on_test_batch_start",
    "on_test_batch_end",
    "on_predict_start",
    "on_predict_end",
    "on_save_checkpoint",
    "on_load_checkpoint",
    "on_exception",
]


def _record(hook: str) -> Any:
    def record(self: Any, trainer: Any, module: Any, *args: Any) -> None:
        self.events.append(hook)

    return record


def recorder(events: list[str]) -> callbacks.Callback:
    """A callback whose class overrides every hook (the Trainer calls only overridden ones) and
    appends each hook's name to `events`."""
    klass = type("Recorder", (callbacks.Callback,), {hook: _record(hook) for hook in HOOKS})
    callback = klass()
    callback.events = events
    return callback


class RecordingSGD(optim.SGD):
    """SGD that records its zero_grad and step calls."""

    def __init__(self, params: Any, events: list[str], **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        self.events = events

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.events.append("optimizer.zero_grad")
        super().zero_grad(set_to_none)

    def step(self, closure: Any = None) -> Any:
        self.events.append("optimizer.step")
        return super().step(closure)


class Plain(TrainModule):
    """Cross-entropy on the tiny model; records its steps; logs loss per step and epoch."""

    def __init__(self, events: list[str] | None = None, lr: float = 0.1, scheduler: Any = None):
        super().__init__()
        self.model = tiny_model()
        self.events = [] if events is None else events
        self.lr = lr
        self.scheduler = scheduler
        self.validation_steps: list[int] = []

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        self.events.append("training_step")
        images, labels = batch
        loss = F.cross_entropy(self(odyssey.from_numpy(images)), odyssey.from_numpy(labels))
        self.log("train_loss", loss, on_epoch=True)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        images, labels = batch
        loss = F.cross_entropy(self(odyssey.from_numpy(images)), odyssey.from_numpy(labels))
        self.log("val_loss", loss)

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self.validation_step(batch, batch_idx)

    def configure_optimizers(self) -> Any:
        optimizer = RecordingSGD(self.parameters(), self.events, lr=self.lr)
        if self.scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": self.scheduler(optimizer)}


def quiet(tmp_path: Path, **kwargs: Any) -> Trainer:
    """A Trainer writing into tmp_path/run (run2, run3, ... once that exists), without progress
    bar or checkpoints unless asked."""
    kwargs.setdefault("progress", False)
    kwargs.setdefault("enable_checkpointing", False)
    run, number = tmp_path / "run", 1
    while run.exists():
        number += 1
        run = tmp_path / f"run{number}"
    return Trainer(default_root_dir=run, **kwargs)


# -- the order of things -------------------------------------------------------------------------

# Lightning's documented order (LightningModule "Hooks" pseudocode, automatic optimization):
# zero_grad before backward, on_before_optimizer_step before gradient clipping and the step.
LIGHTNING_STEP = [
    "on_train_batch_start",
    "training_step",
    "on_before_zero_grad",
    "optimizer.zero_grad",
    "on_before_backward",
    "on_after_backward",
    "on_before_optimizer_step",
    "optimizer.step",
    "on_train_batch_end",
]
LIGHTNING_VALIDATION = [
    "on_validation_start",
    "on_validation_epoch_start",
    "on_validation_batch_start",
    "on_validation_batch_end",
    "on_validation_batch_start",
    "on_validation_batch_end",
    "on_validation_epoch_end",
    "on_validation_end",
]


def test_hooks_run_in_lightnings_order(tmp_path: Path) -> None:
    events: list[str] = []
    module = Plain(events)
    trainer = quiet(tmp_path, max_epochs=1, callbacks=[recorder(events)])
    trainer.fit(module, loader(16), loader(16))
    expected = [
        "setup",
        "on_fit_start",
        "on_train_start",
        "on_train_epoch_start",
        *LIGHTNING_STEP,
        *LIGHTNING_STEP,
        *LIGHTNING_VALIDATION,
        "on_train_epoch_end",
        "on_train_end",
        "on_fit_end",
        "teardown",
    ]
    assert events == expected


def test_test_and_predict_hooks_and_modes(tmp_path: Path) -> None:
    events: list[str] = []
    module = Plain()
    trainer = quiet(tmp_path, callbacks=[recorder(events)])
    results = trainer.test(module, loader(16))
    assert events == [
        "setup",
        "on_test_start",
        "on_test_epoch_start",
        *["on_test_batch_start", "on_test_batch_end"] * 2,
        "on_test_epoch_end",
        "on_test_end",
        "teardown",
    ]
    assert list(results[0]) == ["val_loss"]
    assert np.isfinite(results[0]["val_loss"])
    assert module.training  # back in train mode
    events.clear()
    module.eval()
    predictions = trainer.predict(module, loader(16))
    assert events == ["setup", "on_predict_start", "on_predict_end", "teardown"]
    assert [p.shape for p in predictions] == [(8, 4), (8, 4)]
    assert not module.training  # left as it was


def test_validate_returns_lightnings_list_of_dicts_without_grad(tmp_path: Path) -> None:
    module = Plain()
    grads: list[bool] = []

    class Probe(Plain):
        def validation_step(self, batch: Any, batch_idx: int) -> None:
            grads.append(is_grad_enabled())
            assert not self.training
            super().validation_step(batch, batch_idx)

    module = Probe()
    results = quiet(tmp_path).validate(module, loader(16))
    assert grads == [False, False]
    images, labels = arrays(16)
    with odyssey.no_grad():
        expected = F.cross_entropy(module(odyssey.tensor(images)), odyssey.tensor(labels)).item()
    assert results == [{"val_loss": pytest.approx(expected, rel=1e-6)}]
    assert module.training


# -- stopping and validation cadence -------------------------------------------------------------


@pytest.mark.parametrize(
    ("max_epochs", "max_steps", "steps", "epochs"),
    [(2, None, 8, 2), (None, 5, 5, 2), (3, 6, 6, 2), (0, None, 0, 0), (None, 0, 0, 0)],
)
def test_max_epochs_and_max_steps(
    tmp_path: Path, max_epochs: int | None, max_steps: int | None, steps: int, epochs: int
) -> None:
    module = Plain()
    trainer = quiet(tmp_path, max_epochs=max_epochs, max_steps=max_steps)
    trainer.fit(module, loader(32))  # 4 batches an epoch
    assert module.events.count("training_step") == steps
    assert trainer.global_step == steps
    assert trainer.current_epoch == epochs


def test_should_stop_ends_after_the_batch(tmp_path: Path) -> None:
    class StopAt(callbacks.Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):  # type: ignore[no-untyped-def]
            if trainer.global_step == 3:
                trainer.should_stop = True

    module = Plain()
    trainer = quiet(tmp_path, max_epochs=5, callbacks=[StopAt()])
    trainer.fit(module, loader(32))
    assert trainer.global_step == 3
    assert trainer.current_epoch == 1


@pytest.mark.parametrize(
    ("interval", "expected"),
    [(1.0, [4, 8]), (0.5, [2, 4, 6, 8]), (0.3, [1, 2, 3, 4, 5, 6, 7, 8]), (3, [3, 6])],
)
def test_validation_interval(tmp_path: Path, interval: float, expected: list[int]) -> None:
    seen: list[int] = []

    class When(callbacks.Callback):
        def on_validation_start(self, trainer, module):  # type: ignore[no-untyped-def]
            seen.append(trainer.global_step)

    trainer = quiet(tmp_path, max_epochs=2, val_check_interval=interval, callbacks=[When()])
    trainer.fit(Plain(), loader(32), loader(8))  # 4 training batches an epoch
    assert seen == expected


def test_a_training_step_returning_none_skips_the_optimizer_step(tmp_path: Path) -> None:
    class Skipping(Plain):
        def training_step(self, batch: Any, batch_idx: int) -> Any:
            loss = super().training_step(batch, batch_idx)
            return None if batch_idx % 2 else loss

    rows = Rows()
    module = Skipping()
    trainer = quiet(tmp_path, max_epochs=2, log_every_n_steps=1, callbacks=[rows])
    trainer.fit(module, loader(32))  # 4 batches an epoch, 2 of them skipped
    assert module.events.count("optimizer.step") == 4
    assert trainer.global_step == 4
    assert [step for step, _ in rows.rows] == [1, 2, 2, 3, 4, 4]  # no row repeats a step


def test_stage_flags_during_fit_and_validation(tmp_path: Path) -> None:
    seen: list[tuple[str | None, bool, bool]] = []

    class Probe(callbacks.Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):  # type: ignore[no-untyped-def]
            seen.append((trainer.state, trainer.training, trainer.validating))

        def on_validation_batch_end(self, trainer, module, outputs, batch, batch_idx):  # type: ignore[no-untyped-def]
            seen.append((trainer.state, trainer.training, trainer.validating))

    trainer = quiet(tmp_path, max_epochs=1, callbacks=[Probe()])
    trainer.fit(Plain(), loader(8), loader(8))
    assert seen == [("fitting", True, False), ("fitting", False, True)]
    trainer.validate(Plain(), loader(8))
    assert seen[-1] == ("validating", False, True)
    assert trainer.state is None


def test_an_empty_training_loader_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="train_loader yields no batches"):
        quiet(tmp_path).fit(Plain(), [])


# -- gradient clipping ---------------------------------------------------------------------------


def weight_change(tmp_path: Path, **clip: Any) -> np.ndarray:
    module = Plain(lr=1.0)
    before = np.concatenate([p.data.ravel().copy() for p in module.parameters()])
    quiet(tmp_path, max_steps=1, **clip).fit(module, loader(8))
    after = np.concatenate([p.data.ravel() for p in module.parameters()])
    return before - after  # lr 1, no momentum: the (clipped) gradient


def test_gradient_clipping_by_norm_and_by_value(tmp_path: Path) -> None:
    free = weight_change(tmp_path)
    assert np.linalg.norm(free) > 0.05
    by_norm = weight_change(tmp_path, gradient_clip_val=0.01)
    np.testing.assert_allclose(np.linalg.norm(by_norm), 0.01, rtol=1e-3)
    np.testing.assert_allclose(
        by_norm / np.linalg.norm(by_norm), free / np.linalg.norm(free), atol=1e-5
    )
    by_value = weight_change(tmp_path, gradient_clip_val=0.001, gradient_clip_algorithm="value")
    assert np.abs(by_value).max() <= 0.001 + 1e-7
    np.testing.assert_allclose(by_value, np.clip(free, -0.001, 0.001), atol=1e-6)
    unclipped = weight_change(tmp_path, gradient_clip_val=100.0)
    np.testing.assert_array_equal(unclipped, free)


# -- schedulers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("interval", "frequency", "expected"),
    [("step", 1, 0.5**8), ("epoch", 1, 0.5**2), ("step", 3, 0.5**2)],
)
def test_scheduler_interval_and_frequency(
    tmp_path: Path, interval: str, frequency: int, expected: float
) -> None:
    def schedule(optimizer: Any) -> dict[str, Any]:
        scheduler = lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
        return {"scheduler": scheduler, "interval": interval, "frequency": frequency}

    module = Plain(lr=1.0, scheduler=schedule)
    trainer = quiet(tmp_path, max_epochs=2)
    trainer.fit(module, loader(32))  # 8 steps
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(expected, rel=1e-12)


def test_plateau_scheduler_reads_the_monitored_metric(tmp_path: Path) -> None:
    class Flat(Plain):
        def validation_step(self, batch: Any, batch_idx: int) -> None:
            self.log("val_loss", 1.0)

    def schedule(optimizer: Any) -> dict[str, Any]:
        plateau = lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0)
        return {"scheduler": plateau, "monitor": "val_loss"}

    module = Flat(lr=1.0, scheduler=schedule)
    trainer = quiet(tmp_path, max_epochs=3)
    trainer.fit(module, loader(16), loader(8))
    # Epoch 1 sets the best value; epochs 2 and 3 do not improve on it (patience 0).
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.25)

    missing = Flat(lr=1.0, scheduler=lambda o: {**schedule(o), "monitor": "val_acc"})
    with pytest.raises(RuntimeError, match="val_acc"):
        quiet(tmp_path, max_epochs=1).fit(missing, loader(16), loader(8))


def test_plateau_scheduler_needs_a_monitor(tmp_path: Path) -> None:
    module = Plain(scheduler=lambda o: lr_scheduler.ReduceLROnPlateau(o))
    with pytest.raises(ValueError, match="monitor"):
        quiet(tmp_path, max_epochs=1).fit(module, loader(16))


# -- logging -------------------------------------------------------------------------------------


class Rows(loggers.Logger):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[int, dict[str, float]]] = []

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.rows.append((step, dict(metrics)))


def test_rows_every_n_steps_and_values_converted_only_then(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversions: list[str] = []
    real = trainer_module._scalar

    def counting(name: str, value: Any) -> float:
        conversions.append(name)
        return real(name, value)

    monkeypatch.setattr(trainer_module, "_scalar", counting)
    rows = Rows()
    trainer = quiet(tmp_path, max_epochs=1, log_every_n_steps=4, callbacks=[rows])
    trainer.fit(Plain(), loader(96))  # 12 steps, train_loss logged at each
    steps = [step for step, row in rows.rows]
    assert steps == [4, 8, 12, 12]  # three step rows, then the epoch row
    assert [sorted(row) for _, row in rows.rows[:3]] == [["epoch", "lr", "step", "train_loss"]] * 3
    assert "train_loss_epoch" in rows.rows[-1][1]
    assert "train_loss" not in rows.rows[-1][1]
    # At most one conversion of the step value per row written (+1: the epoch end reads it).
    assert conversions.count("train_loss") <= 4
    assert trainer.callback_metrics["train_loss"] == rows.rows[-1][1]["train_loss_epoch"]


def test_a_row_s_lr_is_the_one_in_effect_from_its_step_on(tmp_path: Path) -> None:
    # Step rows hold the lr after that step's scheduler step, epoch rows the lr after the epoch's:
    # both the lr the following steps use, so a plot draws it as steps from each row on.
    def schedule(optimizer: Any) -> dict[str, Any]:
        return {"scheduler": lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)}

    rows = Rows()
    trainer = quiet(tmp_path, max_epochs=2, log_every_n_steps=2, callbacks=[rows])
    trainer.fit(Plain(lr=1.0, scheduler=schedule), loader(32))  # 4 steps an epoch
    assert [(step, row["lr"]) for step, row in rows.rows] == [
        (2, 1.0), (4, 1.0), (4, 0.5), (6, 0.5), (8, 0.5), (8, 0.25)
    ]  # fmt: skip


def test_epoch_values_are_means_weighted_by_batch_size(tmp_path: Path) -> None:
    class Constant(Plain):
        def training_step(self, batch: Any, batch_idx: int) -> Any:
            self.log("size", float(len(batch[1])), on_step=False, on_epoch=True)
            return super().training_step(batch, batch_idx)

    rows = Rows()
    trainer = quiet(tmp_path, max_epochs=1, callbacks=[rows])
    trainer.fit(Constant(), loader(20, batch_size=8))  # batches of 8, 8, 4
    assert rows.rows[-1][1]["size"] == pytest.approx((8 * 8 + 8 * 8 + 4 * 4) / 20)


# -- the run directory ---------------------------------------------------------------------------


def classifier() -> Classifier:
    return Classifier(
        tiny_model(),
        optimizer=lambda params: optim.SGD(params, lr=0.1, momentum=0.9),
        scheduler=lambda o: lr_scheduler.StepLR(o, step_size=1, gamma=0.5),
        class_names=["a", "b", "c", "d"],
    )


def test_classifier_run_directory_and_summary(tmp_path: Path) -> None:
    module = classifier()
    run_info = {"paper": "tiny", "variant": "relu", "model": "TinyNet", "dataset": "synthetic"}
    trainer = Trainer(
        max_epochs=2,
        default_root_dir=tmp_path / "run",
        progress=False,
        seed=3,
        log_every_n_steps=2,
        config={"train": {"lr": 0.1, "note": None}, "paper": {"title": "Tiny"}},
        run_info=run_info,
    )
    trainer.fit(module, loader(32, shuffle=True), loader(16, seed=1))
    results = trainer.test(module, loader(16, seed=2))
    run = tmp_path / "run"
    for name in [
        "config.toml",
        "metrics.jsonl",
        "metrics.csv",
        "curves.png",
        "confusion.png",
        "summary.json",
        "weights.safetensors",
    ]:
        assert (run / name).is_file(), name
    assert list((run / "checkpoints").glob("*.safetensors"))
    summary = json.loads((run / "summary.json").read_text())
    for key, value in run_info.items():
        assert summary[key] == value
    assert (summary["epochs"], summary["steps"], summary["seed"]) == (2, 8, 3)
    assert summary["threads"] == odyssey.get_num_threads()
    assert summary["isa"] == odyssey.cpu_info()["isa_selected"]
    assert summary["test_accuracy"] == results[0]["test_accuracy"]
    assert summary["test_loss"] == results[0]["test_loss"]
    assert 0.0 <= summary["best_val_accuracy"] <= 1.0
    assert summary["wall_s"] > 0
    assert summary["train_img_per_s"] > 0
    assert summary["odyssey_version"] == odyssey.__version__
    assert "git_commit" in summary
    weights = (run / "weights.safetensors").read_bytes()
    assert summary["weights_sha256"] == hashlib.sha256(weights).hexdigest()
    loaded = odyssey.load(run / "weights.safetensors")
    assert sorted(loaded) == sorted(module.model.state_dict())
    for name, array in module.model.state_dict().items():
        np.testing.assert_array_equal(loaded[name], array)
    text = (run / "config.toml").read_text()
    assert "lr = 0.1" in text
    assert "note" not in text
    assert 'title = "Tiny"' in text
    assert set(results[0]) == {"test_loss", "test_accuracy"}
    assert int(module.confusion_matrix.compute().sum()) == 16


def test_run_directory_naming(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    first = Trainer(max_steps=1, progress=False, enable_checkpointing=False)
    first.fit(Plain(), loader(8))
    second = Trainer(max_steps=1, progress=False, enable_checkpointing=False, name="mine")
    second.fit(Plain(), loader(8))
    third = Trainer(max_steps=1, progress=False, enable_checkpointing=False, name="mine")
    third.fit(Plain(), loader(8))
    assert first.run_dir.parent == Path("runs/Plain")
    assert second.run_dir.parent == third.run_dir.parent == Path("runs/mine")
    assert second.run_dir != third.run_dir  # a suffix when the timestamp is taken
    assert (third.run_dir / "summary.json").is_file()


def test_resuming_from_a_runs_checkpoint_continues_in_that_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first = Trainer(max_epochs=1, progress=False)
    first.fit(Plain(), loader(16))
    last = first.run_dir / "checkpoints" / "last.safetensors"
    second = Trainer(max_epochs=2, progress=False)
    second.fit(Plain(), loader(16), ckpt_path=last)
    assert second.run_dir.resolve() == first.run_dir.resolve()
    assert (second.current_epoch, second.global_step) == (2, 4)
    summary = json.loads((first.run_dir / "summary.json").read_text())
    assert summary["steps"] == 4
    # The wall time is the sum of both sessions: the checkpoint carried the first one's.
    saved = checkpoint.load_checkpoint(last).state["run"]["timing"]["wall_s"]
    assert 0 < saved < summary["wall_s"]


def test_git_commit_is_none_outside_a_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert rundir.git_commit() is None
    monkeypatch.setenv("PATH", "")
    assert rundir.git_commit() is None


# -- errors and exceptions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "kind", "argument"),
    [
        ({"max_epochs": -1}, ValueError, "max_epochs"),
        ({"max_steps": -2}, ValueError, "max_steps"),
        ({"max_epochs": 1.5}, TypeError, "max_epochs"),
        ({"gradient_clip_algorithm": "l1"}, ValueError, "gradient_clip_algorithm"),
        ({"gradient_clip_val": -1.0}, ValueError, "gradient_clip_val"),
        ({"val_check_interval": 1.5}, ValueError, "val_check_interval"),
        ({"val_check_interval": 0.0}, ValueError, "val_check_interval"),
        ({"val_check_interval": 0}, ValueError, "val_check_interval"),
        ({"val_check_interval": "1"}, TypeError, "val_check_interval"),
        ({"log_every_n_steps": 0}, ValueError, "log_every_n_steps"),
        ({"callbacks": [object()]}, TypeError, "callbacks"),
        ({"callbacks": "ModelCheckpoint"}, TypeError, "callbacks"),
        ({"threads": 0}, ValueError, "threads"),
        ({"seed": -1}, ValueError, "seed"),
        ({"config": [1]}, TypeError, "config"),
    ],
)
def test_wrong_arguments_name_trainer_and_the_argument(
    kwargs: dict[str, Any], kind: type, argument: str
) -> None:
    with pytest.raises(kind, match=f"Trainer.*{argument}"):
        Trainer(**kwargs)


def test_modules_missing_steps_are_type_errors(tmp_path: Path) -> None:
    class NoStep(TrainModule):
        def __init__(self) -> None:
            super().__init__()
            self.model = tiny_model()

        def configure_optimizers(self) -> Any:
            return optim.SGD(self.parameters(), lr=0.1)

    with pytest.raises(TypeError, match=r"Trainer.fit: NoStep does not define training_step"):
        quiet(tmp_path).fit(NoStep(), loader(8))

    class NoValidation(NoStep):
        def training_step(self, batch: Any, batch_idx: int) -> Any:
            return None

    with pytest.raises(TypeError, match="validation_step"):
        quiet(tmp_path).fit(NoValidation(), loader(8), loader(8))
    with pytest.raises(TypeError, match=r"Trainer.test: NoValidation does not define test_step"):
        quiet(tmp_path).test(NoValidation(), loader(8))
    with pytest.raises(TypeError, match=r"Trainer.fit: module must be a TrainModule"):
        quiet(tmp_path).fit(object(), loader(8))
    with pytest.raises(TypeError, match="train_loader"):
        quiet(tmp_path).fit(Plain(), 3)

    class BadLoss(Plain):
        def training_step(self, batch: Any, batch_idx: int) -> Any:
            return 1.0

    with pytest.raises(TypeError, match="training_step must return the loss Tensor"):
        quiet(tmp_path, max_steps=1).fit(BadLoss(), loader(8))


def test_other_errors_run_on_exception_and_teardown_then_propagate(tmp_path: Path) -> None:
    events: list[str] = []

    class Boom(Plain):
        def training_step(self, batch: Any, batch_idx: int) -> Any:
            if batch_idx == 1:
                raise ArithmeticError("boom")
            return super().training_step(batch, batch_idx)

    trainer = quiet(tmp_path, max_epochs=1, callbacks=[recorder(events)])
    with pytest.raises(ArithmeticError, match="boom"):
        trainer.fit(Boom(), loader(16))
    assert events[-2:] == ["on_exception", "teardown"]
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "failed"
    assert trainer.state is None


def test_a_checkpoint_of_another_model_is_a_checkpoint_error(tmp_path: Path) -> None:
    trainer = quiet(tmp_path, max_steps=2)
    trainer.fit(Plain(), loader(16))
    path = trainer.save_checkpoint(tmp_path / "plain.safetensors")

    class Wider(Plain):
        def __init__(self) -> None:
            super().__init__()
            self.model = nn.Sequential(nn.Flatten(), nn.Linear(36, 16), nn.ReLU(), nn.Linear(16, 4))

    with pytest.raises(CheckpointError, match=r"Trainer.fit: ckpt_path: .*plain.safetensors"):
        quiet(tmp_path, max_steps=4).fit(Wider(), loader(16), ckpt_path=path)
    trainer.save_checkpoint(tmp_path / "weights.safetensors", weights_only=True)
    with pytest.raises(CheckpointError, match=r"weights.safetensors"):
        quiet(tmp_path, max_steps=4).fit(
            Plain(), loader(16), ckpt_path=tmp_path / "weights.safetensors"
        )


def test_classifier_arguments() -> None:
    with pytest.raises(TypeError, match="Classifier: model"):
        Classifier(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Classifier: optimizer"):
        Classifier(tiny_model(), optimizer=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Classifier: num_classes"):
        Classifier(tiny_model(), num_classes=0)
    with pytest.raises(ValueError, match="class_names"):
        Classifier(tiny_model(), num_classes=3, class_names=["a", "b"])
    module = Classifier(tiny_model())
    assert list(module.state_dict()) == list(module.model.state_dict())  # plain names
    assert isinstance(module.configure_optimizers(), optim.Adam)


# -- evaluation hooks see the pass's values -------------------------------------------------------


def test_epoch_end_hooks_of_validation_and_test_see_the_pass_s_values(tmp_path: Path) -> None:
    seen: list[tuple[str, float]] = []

    class Peek(callbacks.Callback):
        def on_validation_epoch_end(self, trainer, module):  # type: ignore[no-untyped-def]
            seen.append(("validation_epoch_end", trainer.callback_metrics["val_loss"]))

        def on_validation_end(self, trainer, module):  # type: ignore[no-untyped-def]
            seen.append(("validation_end", trainer.callback_metrics["val_loss"]))

        def on_test_epoch_end(self, trainer, module):  # type: ignore[no-untyped-def]
            seen.append(("test_epoch_end", trainer.callback_metrics["val_loss"]))

    class Counting(Plain):
        """Also counts validation samples with a metric object, logged by on_*_epoch_end after
        reading it itself there (it must not be reset before)."""

        def __init__(self) -> None:
            super().__init__()
            object.__setattr__(self, "seen", odyssey.metrics.Accuracy())

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            images, labels = batch
            self.seen.update(self(odyssey.from_numpy(images)), labels)
            super().validation_step(batch, batch_idx)

        def on_validation_epoch_end(self) -> None:
            self.log("val_samples", float(self.seen.state_dict()["total"]))
            self.log("val_seen_accuracy", self.seen)

        def on_test_epoch_end(self) -> None:
            self.on_validation_epoch_end()

    rows = Rows()
    module = Counting()
    trainer = quiet(tmp_path, max_epochs=2, callbacks=[Peek(), rows])
    trainer.fit(module, loader(16), loader(16, seed=1))
    epoch_rows = [row for _, row in rows.rows]
    # Each validation's value, in its own epoch_end hook, not the previous one's.
    assert (
        [value for hook, value in seen if hook == "validation_epoch_end"]
        == [value for hook, value in seen if hook == "validation_end"]
        == [row["val_loss"] for row in epoch_rows]
    )
    assert [row["val_samples"] for row in epoch_rows] == [16.0, 16.0]  # reset after each pass
    assert all(0.0 <= row["val_seen_accuracy"] <= 1.0 for row in epoch_rows)
    seen.clear()
    results = trainer.test(module, loader(8, seed=2))
    assert seen == [("test_epoch_end", results[0]["val_loss"])]
    assert results[0]["val_samples"] == 8.0  # what on_test_epoch_end logged joins the results
    assert set(results[0]) == {"val_loss", "val_samples", "val_seen_accuracy"}


# -- resuming: every part checked first, nothing touched when it does not fit -------------------


def finished_run(tmp_path: Path, **kwargs: Any) -> tuple[Path, Trainer]:
    """A Classifier run of 2 epochs of 4 steps, tested, with a checkpoint every 2 steps."""
    kwargs.setdefault("max_epochs", 2)
    trainer = Trainer(
        default_root_dir=tmp_path / "done",
        progress=False,
        seed=0,
        callbacks=[callbacks.ModelCheckpoint(every_n_train_steps=2, save_top_k=-1)],
        **kwargs,
    )
    module = classifier()
    trainer.fit(module, loader(32, shuffle=True), loader(8, seed=1))
    trainer.test(module, loader(8, seed=2))
    return tmp_path / "done", trainer


def snapshot(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


def weights_of(module: Any) -> dict[str, bytes]:
    return {name: array.tobytes() for name, array in module.state_dict().items()}


def test_a_checkpoint_that_does_not_fit_changes_nothing(tmp_path: Path) -> None:
    run, _ = finished_run(tmp_path)
    before = snapshot(run)
    assert json.loads(before["summary.json"])["test_accuracy"] is not None
    mid = run / "checkpoints" / "epoch=0-step=2.safetensors"

    def attempt(module: Any, train: Any, match: str) -> None:
        weights = weights_of(module)
        trainer = Trainer(max_epochs=3, default_root_dir=run, progress=False)
        with pytest.raises(CheckpointError, match=match) as caught:
            trainer.fit(module, train, loader(8, seed=1), ckpt_path=mid)
        assert str(mid) in str(caught.value)
        assert weights_of(module) == weights  # nothing loaded
        assert snapshot(run) == before  # the finished run is as it was: summary, metrics, ...

    # Another model (another variant of a paper).
    odyssey.manual_seed(0)
    wider = Classifier(nn.Sequential(nn.Flatten(), nn.Linear(36, 16), nn.ReLU(), nn.Linear(16, 4)))
    attempt(wider, loader(32, shuffle=True), "saved from another model")
    # Another batch size: the loader's order would differ.
    attempt(classifier(), loader(32, batch_size=4, shuffle=True), "batch_size is 4 here but 8")
    # Another LR scheduler (the checkpoint's is StepLR).
    other = Classifier(
        tiny_model(),
        optimizer=lambda params: optim.SGD(params, lr=0.1, momentum=0.9),
        scheduler=lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9),
    )
    attempt(other, loader(32, shuffle=True), "LR scheduler 0 is ExponentialLR here but StepLR")

    # A part that fails only while loading (here a callback's state): what was loaded is undone.
    class Fussy(callbacks.Callback):
        def state_dict(self) -> dict[str, Any]:
            return {"x": 1}

        def load_state_dict(self, state: dict[str, Any]) -> None:
            raise ValueError("Fussy cannot take this state")

    def fussy(max_epochs: int) -> Trainer:
        return Trainer(
            max_epochs=max_epochs, default_root_dir=run, progress=False, seed=0, callbacks=[Fussy()]
        )

    module = classifier()
    weights = weights_of(module)
    fussy(3).fit(classifier(), loader(32, shuffle=True), ckpt_path=mid)  # saves Fussy's state
    after_fussy = snapshot(run)
    with pytest.raises(CheckpointError, match="Fussy cannot take this state"):
        fussy(4).fit(
            module, loader(32, shuffle=True), ckpt_path=run / "checkpoints" / "last.safetensors"
        )
    assert weights_of(module) == weights
    assert snapshot(run) == after_fussy


def test_a_logged_metric_the_module_does_not_hold_is_named_on_resume(tmp_path: Path) -> None:
    outside = odyssey.metrics.Accuracy()  # held by no attribute: its state cannot be saved

    class Elsewhere(Plain):
        def training_step(self, batch: Any, batch_idx: int) -> Any:
            outside.update(self(odyssey.from_numpy(batch[0])), batch[1])
            self.log("outside_accuracy", outside, on_step=False, on_epoch=True)
            return super().training_step(batch, batch_idx)

    saver = type(
        "Saver",
        (callbacks.Callback,),
        {"on_train_batch_end": lambda self, t, m, *a: t.save_checkpoint(tmp_path / "at.st")},
    )()
    quiet(tmp_path, max_steps=1, callbacks=[saver]).fit(Elsewhere(), loader(16))
    with pytest.warns(UserWarning, match="the metric object logged as 'outside_accuracy' is not"):
        quiet(tmp_path, max_steps=2).fit(Elsewhere(), loader(16), ckpt_path=tmp_path / "at.st")


def test_a_stopped_run_can_be_continued(tmp_path: Path) -> None:
    stopper = callbacks.EarlyStopping(monitor="val_loss", stopping_threshold=100.0)
    trainer = Trainer(max_epochs=4, default_root_dir=tmp_path / "run", progress=False, seed=0)
    trainer.callbacks.append(stopper)
    trainer.fit(classifier(), loader(32), loader(8, seed=1))
    assert (trainer.current_epoch, stopper.stopping_reason) == (1, "stopping_threshold")
    resumed = Trainer(max_epochs=4, default_root_dir=tmp_path / "run", progress=False, seed=0)
    resumed.fit(classifier(), loader(32), loader(8, seed=1), ckpt_path=trainer.last_checkpoint_path)
    assert (resumed.current_epoch, resumed.global_step) == (4, 16)


def test_a_fresh_fit_refuses_a_directory_holding_a_run(tmp_path: Path) -> None:
    run, _ = finished_run(tmp_path)
    before = snapshot(run)
    with pytest.raises(trainer_module.RunDirectoryError) as caught:
        Trainer(max_epochs=1, default_root_dir=run, progress=False).fit(classifier(), loader(32))
    message = str(caught.value)
    assert isinstance(caught.value, ValueError)
    for words in ("Trainer.fit", str(run), "ckpt_path", "default_root_dir", "summary.json"):
        assert words in message
    assert snapshot(run) == before
    assert trainer_module.RunDirectoryError is odyssey.train.RunDirectoryError


def test_resuming_a_tested_run_forgets_its_test_metrics(tmp_path: Path) -> None:
    run, trainer = finished_run(tmp_path)
    seen: list[dict[str, Any]] = []

    class Read(callbacks.Callback):
        def on_train_start(self, trainer, module):  # type: ignore[no-untyped-def]
            seen.append(json.loads((run / "summary.json").read_text()))

    resumed = Trainer(max_epochs=3, default_root_dir=run, progress=False, seed=0)
    resumed.callbacks.append(Read())
    resumed.fit(classifier(), loader(32, shuffle=True), ckpt_path=trainer.last_checkpoint_path)
    assert "test_accuracy" not in seen[0]  # already gone when training starts
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["epochs"], summary["status"]) == (3, "success")
    assert summary["test_accuracy"] is None  # it described other weights
    assert summary["test_loss"] is None


def test_a_trainer_fit_twice_starts_each_fit_with_new_default_callbacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    trainer = Trainer(max_epochs=1, progress=False, name="twice")
    mine = Rows()
    trainer.callbacks.append(mine)
    trainer.fit(Plain(), loader(16))
    first_run, first_callbacks = trainer.run_dir, list(trainer.callbacks)
    trainer.fit(Plain(), loader(16))
    assert trainer.run_dir != first_run
    assert mine in trainer.callbacks  # the user's own callbacks stay
    assert not any(c in first_callbacks for c in trainer.callbacks if c is not mine)
    assert len(trainer.callbacks) == len(first_callbacks)
    for run in (first_run, trainer.run_dir):
        assert len(loggers.read_csv(run / "metrics.csv")) == 1  # one epoch row each
        assert len(loggers.read_jsonl(run / "metrics.jsonl")) == 1
        names = sorted(p.name for p in (run / "checkpoints").iterdir())
        assert names == ["epoch=0-step=2.safetensors", "last.safetensors"]


def test_resuming_with_another_configuration_warns_and_records_the_run_s_values(
    tmp_path: Path,
) -> None:
    def fit(config: dict[str, Any], ckpt: Path | None = None) -> Trainer:
        trainer = Trainer(
            max_epochs=config["train"]["epochs"],
            default_root_dir=tmp_path / "run",
            progress=False,
            seed=0,
            config=config,
        )
        lr = config["train"]["lr"]
        module = Plain(lr=lr)
        trainer.fit(module, loader(16), ckpt_path=ckpt)
        return trainer

    first = fit({"train": {"lr": 0.1, "epochs": 1}})
    last = first.run_dir / "checkpoints" / "last.safetensors"
    with pytest.warns(UserWarning, match="differs from the run's") as caught:
        second = fit({"train": {"lr": 0.5, "epochs": 2}}, last)
    (message,) = [str(w.message) for w in caught]
    assert "train.lr (0.1 in the checkpoint, 0.5 now)" in message
    assert "train.epochs (1 in the checkpoint, 2 now)" in message
    assert "learning rate" in message
    assert second.optimizer.param_groups[0]["lr"] == 0.1  # the checkpoint's state won
    config = tomllib.loads((tmp_path / "run" / "config.toml").read_text())
    assert config["train"] == {"lr": 0.5, "epochs": 2}
    assert config["resumed"]["checkpoint"] == str(last)
    assert config["resumed"]["run_values"] == {"train.lr": 0.1, "train.epochs": 1}
    # Its checkpoints keep the configuration the run started with: resumed again, it still
    # differs (the learning rate is still the run's).
    with pytest.warns(UserWarning, match=r"train.lr \(0.1 in the checkpoint, 0.5 now\)"):
        fit({"train": {"lr": 0.5, "epochs": 3}}, last)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit({"train": {"lr": 0.1, "epochs": 1}}, last)  # the same: no warning
    assert "resumed" not in tomllib.loads((tmp_path / "run" / "config.toml").read_text())


# -- checkpoints are taken between steps ----------------------------------------------------------


@pytest.mark.parametrize(
    ("hook", "advice"),
    [
        ("on_train_batch_start", "on_train_batch_end"),
        ("on_after_backward", "on_train_batch_end"),
        ("on_validation_batch_end", "on_validation_end"),
        ("on_validation_epoch_end", "on_validation_end"),
    ],
)
def test_save_checkpoint_inside_a_step_is_refused(tmp_path: Path, hook: str, advice: str) -> None:
    def save(self: Any, trainer: Any, module: Any, *args: Any) -> None:
        trainer.save_checkpoint(tmp_path / "weights.safetensors", weights_only=True)  # fine
        trainer.save_checkpoint(tmp_path / "inside.safetensors")

    saver = type("Saver", (callbacks.Callback,), {hook: save})()
    trainer = quiet(tmp_path, max_steps=2, callbacks=[saver])
    with pytest.raises(RuntimeError, match=f"Trainer.save_checkpoint: .*{advice}"):
        trainer.fit(Plain(), loader(16), loader(8))
    assert (tmp_path / "weights.safetensors").is_file()
    assert not (tmp_path / "inside.safetensors").exists()


# -- Ctrl-C ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("hook", ["on_train_batch_end", "on_validation_end"])
def test_ctrl_c_in_the_last_step_or_validation_still_saves_and_exits_130(
    tmp_path: Path, hook: str
) -> None:
    def interrupt(self: Any, trainer: Any, module: Any, *args: Any) -> None:
        if trainer.global_step == 4:  # the last step, and the validation after it
            os.kill(os.getpid(), signal.SIGINT)

    sender = type("Sender", (callbacks.Callback,), {hook: interrupt})()
    trainer = quiet(tmp_path, max_epochs=2, callbacks=[sender])
    with pytest.raises(SystemExit) as caught:
        trainer.fit(Plain(), loader(16), loader(8))
    assert caught.value.code == 130
    assert trainer.interrupted
    assert (trainer.run_dir / "checkpoints" / "interrupted.safetensors").is_file()
    summary = json.loads((trainer.run_dir / "summary.json").read_text())
    assert (summary["status"], summary["steps"]) == ("interrupted", 4)


# -- summary.json names the repository of the model's code -----------------------------------------


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_commit_is_the_one_of_the_model_s_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository = tmp_path / "paper"
    repository.mkdir()
    (repository / "paper_model.py").write_text(
        "from odyssey import nn\n\n\nclass PaperNet(nn.Sequential):\n    pass\n"
    )
    environment = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    for name, value in {**environment, "GIT_COMMITTER_EMAIL": "t@t"}.items():
        monkeypatch.setenv(name, value)
    for command in (["init", "-q"], ["add", "."], ["commit", "-qm", "paper"]):
        subprocess.run(["git", *command], cwd=repository, check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repository, capture_output=True, text=True, check=True
    ).stdout.strip()
    monkeypatch.syspath_prepend(str(repository))
    monkeypatch.chdir(tmp_path)  # not a repository
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    from paper_model import PaperNet  # type: ignore[import-not-found]

    odyssey.manual_seed(0)
    module = Classifier(PaperNet(nn.Flatten(), nn.Linear(36, 4)))
    quiet(tmp_path, max_steps=1).fit(module, loader(8))
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["git_commit"] == head
    assert Path(summary["git_repository"]).resolve() == repository.resolve()


def test_classifier_names_a_batch_that_is_not_a_pair(tmp_path: Path) -> None:
    images, labels = arrays(4)
    with pytest.raises(TypeError, match=r"Classifier: a batch must be an \(images, labels\) pair, "
                       r"got a dict with keys \['x', 'y'\]"):  # fmt: skip
        quiet(tmp_path, max_steps=1).fit(Classifier(tiny_model()), [{"x": images, "y": labels}])
