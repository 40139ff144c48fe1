"""Training callbacks with Lightning's hooks, names and arguments.

A callback is an object whose hooks the Trainer calls at fixed points of `fit`, `validate`,
`test` and `predict`. The order within one `fit` is Lightning's:

    setup("fit")
    on_fit_start
    on_train_start
    for each epoch:
        on_train_epoch_start
        for each batch:
            on_train_batch_start
            (training_step)
            on_before_zero_grad, (optimizer.zero_grad)
            on_before_backward, (loss.backward), on_after_backward
            on_before_optimizer_step
            (gradient clipping, optimizer.step, per-step scheduler step)
            on_train_batch_end
            (a metrics row every log_every_n_steps; mid-epoch validation when due)
        validation, when a validation loader is given:
            on_validation_start
            on_validation_epoch_start
            for each batch: on_validation_batch_start, on_validation_batch_end
            on_validation_epoch_end
            on_validation_end
        on_train_epoch_end
        (per-epoch scheduler step; the epoch's row, validation included, is logged)
    on_train_end
    on_fit_end
    teardown("fit")

`on_save_checkpoint` runs whenever the Trainer writes a checkpoint; `on_load_checkpoint` when
`fit(ckpt_path=...)` restores one (after setup and every load_state_dict, before on_fit_start);
`on_exception` when any hook or step raises (Ctrl-C included), before `teardown`.
`validate` calls setup("validate"), on_validation_start, on_validation_epoch_start, per batch
on_validation_batch_start and on_validation_batch_end, on_validation_epoch_end,
on_validation_end and teardown("validate"); `test` the same with on_test_*; `predict` calls
setup("predict"), on_predict_start, on_predict_batch_end per batch, on_predict_end, teardown.

Each callback's `state_dict()` is stored in the checkpoint under its `state_key` and handed back
to `load_state_dict` on resume, so that a resumed run behaves as one that never stopped. Since a
resume loads that state after setup("fit") (Lightning's order), the callbacks here start every fit
afresh in setup("fit") unless load_state_dict has already run for it, so a Trainer (or a
callback) used for a second fit carries nothing over from the first. The trainer's should_stop is
no part of the state: restored callbacks (EarlyStopping, Timer) decide again.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import re
import sys
import warnings
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from time import monotonic, perf_counter
from typing import Any

from odyssey import _checks as check
from odyssey.train.filewriter import writer_of

__all__ = [
    "Callback",
    "EarlyStopping",
    "LearningRateMonitor",
    "ModelCheckpoint",
    "TerminateOnNaN",
    "Throughput",
    "Timer",
]


class Callback:
    """Base class of the Trainer's callbacks: every hook is a no-op, override the ones you need."""

    @property
    def state_key(self) -> str:
        """The key of this callback's state in a checkpoint: the class name, plus the arguments
        that tell two instances of the class apart (see `_generate_state_key`)."""
        return type(self).__qualname__

    def _generate_state_key(self, **kwargs: Any) -> str:
        """`ClassName{'arg': value, ...}`, Lightning's form of a state key with arguments."""
        return f"{type(self).__qualname__}{kwargs!r}"

    # -- set up and tear down -------------------------------------------------------------------

    def setup(self, trainer: Any, module: Any, stage: str) -> None:
        """First hook of fit/validate/test/predict; stage: "fit", "validate", "test", "predict"."""

    def teardown(self, trainer: Any, module: Any, stage: str) -> None:
        """Last hook of fit/validate/test/predict, also after an exception (files close here)."""

    # -- fit --------------------------------------------------------------------------------------

    def on_fit_start(self, trainer: Any, module: Any) -> None:
        """Start of `Trainer.fit`, after setup and after a checkpoint given as ckpt_path is
        restored."""

    def on_fit_end(self, trainer: Any, module: Any) -> None:
        """End of `Trainer.fit`, after on_train_end, when training finished without an exception."""

    def on_train_start(self, trainer: Any, module: Any) -> None:
        """Start of the training loop, right before the first on_train_epoch_start."""

    def on_train_end(self, trainer: Any, module: Any) -> None:
        """End of the training loop: max_epochs/max_steps reached or should_stop set."""

    def on_train_epoch_start(self, trainer: Any, module: Any) -> None:
        """Start of each training epoch (trainer.current_epoch is the epoch about to run)."""

    def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
        """End of each training epoch, after its validation; callback_metrics hold the epoch's
        aggregates (train_loss_epoch, val_loss, ...). The place for per-epoch checkpoints."""

    def on_train_batch_start(self, trainer: Any, module: Any, batch: Any, batch_idx: int) -> None:
        """Before the forward pass of each training batch."""

    def on_before_zero_grad(self, trainer: Any, module: Any, optimizer: Any) -> None:
        """After training_step, before optimizer.zero_grad()."""

    def on_before_backward(self, trainer: Any, module: Any, loss: Any) -> None:
        """Before loss.backward(); loss is the training_step's loss Tensor."""

    def on_after_backward(self, trainer: Any, module: Any) -> None:
        """After loss.backward(): the parameters' .grad hold this batch's gradients."""

    def on_before_optimizer_step(self, trainer: Any, module: Any, optimizer: Any) -> None:
        """After backward, before gradient clipping and optimizer.step() (Lightning 2: the
        gradients seen here are not clipped yet)."""

    def on_train_batch_end(
        self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """After the optimizer step of each batch; trainer.global_step already counts it and
        outputs is what training_step returned (the loss, or its dict)."""

    # -- validation -------------------------------------------------------------------------------

    def on_validation_start(self, trainer: Any, module: Any) -> None:
        """Start of a validation run (within fit, or from trainer.validate)."""

    def on_validation_end(self, trainer: Any, module: Any) -> None:
        """End of a validation run, after on_validation_epoch_end."""

    def on_validation_epoch_start(self, trainer: Any, module: Any) -> None:
        """Start of the validation epoch, before its first batch."""

    def on_validation_epoch_end(self, trainer: Any, module: Any) -> None:
        """After the last validation batch; callback_metrics hold val_loss, val_accuracy, ..."""

    def on_validation_batch_start(
        self, trainer: Any, module: Any, batch: Any, batch_idx: int
    ) -> None:
        """Before validation_step on each validation batch."""

    def on_validation_batch_end(
        self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """After validation_step on each validation batch; outputs is what it returned."""

    # -- test and predict -------------------------------------------------------------------------

    def on_test_start(self, trainer: Any, module: Any) -> None:
        """Start of trainer.test."""

    def on_test_end(self, trainer: Any, module: Any) -> None:
        """End of trainer.test, after on_test_epoch_end."""

    def on_test_epoch_start(self, trainer: Any, module: Any) -> None:
        """Before the first test batch."""

    def on_test_epoch_end(self, trainer: Any, module: Any) -> None:
        """After the last test batch; callback_metrics hold test_loss, test_accuracy, ..."""

    def on_test_batch_start(self, trainer: Any, module: Any, batch: Any, batch_idx: int) -> None:
        """Before test_step on each test batch."""

    def on_test_batch_end(
        self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """After test_step on each test batch; outputs is what it returned."""

    def on_predict_start(self, trainer: Any, module: Any) -> None:
        """Start of trainer.predict."""

    def on_predict_end(self, trainer: Any, module: Any) -> None:
        """End of trainer.predict."""

    def on_predict_batch_end(
        self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """After predict_step on each batch; outputs is what it returned."""

    # -- checkpoints, errors ----------------------------------------------------------------------

    def on_save_checkpoint(self, trainer: Any, module: Any, checkpoint_state: dict) -> None:
        """While a checkpoint is assembled, before it is written: may add JSON-able entries to
        checkpoint_state (the callbacks' own state_dict() is stored by the Trainer)."""

    def on_load_checkpoint(self, trainer: Any, module: Any, checkpoint_state: dict) -> None:
        """When fit(ckpt_path=...) restores a checkpoint, after setup and the callbacks'
        load_state_dict, before on_fit_start: checkpoint_state is the checkpoint's state dict."""

    def on_exception(self, trainer: Any, module: Any, exception: BaseException) -> None:
        """When fit/validate/test/predict raises (KeyboardInterrupt included), before teardown."""

    # -- state ------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """This callback's state, JSON-able, stored in checkpoints under state_key."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores what state_dict() returned, after a JSON round trip (tuples become lists)."""


# -- helpers --------------------------------------------------------------------------------------


def _scalar(value: Any) -> float:
    """A logged value (Tensor, NumPy scalar or 0-d array, Python number) as a float."""
    item = getattr(value, "item", None)
    return float(item() if item is not None else value)


def _loss_of(outputs: Any) -> float | None:
    """The loss a training_step returned (a Tensor, a number or a dict with "loss"), or None."""
    if isinstance(outputs, Mapping):
        outputs = outputs.get("loss")
    if outputs is None:
        return None
    return _scalar(outputs)


def batch_size(batch: Any) -> int:
    """Samples in a batch: the first dimension of the batch, of its first element (tuple, list)
    or of its first value (dict), as the loaders of this library and of PyTorch produce them."""
    first = batch
    if isinstance(batch, (tuple, list)):  # the common case first: an ABC check costs more
        first = batch[0]
    elif isinstance(batch, Mapping):
        first = next(iter(batch.values()))
    shape = getattr(first, "shape", None)
    if shape is not None and len(shape) > 0:
        return int(shape[0])
    return len(first)


def _mode(value: Any, fn: str) -> str:
    if value not in ("min", "max"):
        raise ValueError(f"{fn}: mode must be 'min' or 'max', got {value!r}")
    return value


def _optional_str(value: Any, fn: str, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{fn}: {name} must be a str or None, got {type(value).__name__}")
    return value


def _fitting(trainer: Any) -> bool:
    """True while trainer.fit runs (hooks that save or stop do nothing in validate/test)."""
    return getattr(trainer, "state", "fitting") == "fitting"


def _say(message: str) -> None:
    """One line for the user; rich's live display (the progress bar) prints it above the bar."""
    print(message, file=sys.stderr, flush=True)


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


# -- ModelCheckpoint ------------------------------------------------------------------------------


class _FitState(Callback):
    """A callback whose state belongs to one fit: a fresh fit starts it anew
    (`_reset_fit_state`), a resumed one keeps what `load_state_dict` put there (it runs before
    `setup`, which then leaves the state alone, and sets `_state_loaded`)."""

    _state_loaded = False

    def _reset_fit_state(self) -> None:
        raise NotImplementedError

    def setup(self, trainer: Any, module: Any, stage: str) -> None:
        if stage == "fit" and not self._state_loaded:
            self._reset_fit_state()  # a fresh fit (a resume loads its state after setup)

    def teardown(self, trainer: Any, module: Any, stage: str) -> None:
        if stage == "fit":
            self._state_loaded = False


class ModelCheckpoint(_FitState):
    """Lightning's ModelCheckpoint: resumable checkpoints of the best k models by a monitored
    metric, and/or of the latest state as `last.safetensors`.

    Files hold what `trainer.save_checkpoint(path)` saves (atomic, full resumable state, taken
    when the checkpoint is due; during fit, the Trainer's FileWriter writes them to disk in the
    background, in order, and removes the files they replace after them) in
    `dirpath` (default `trainer.checkpoint_dir`), named from `filename`, a template such as
    `"{epoch}-{val_loss:.3f}"` formatted with epoch, step and the logged metrics (with
    `auto_insert_metric_name`, `epoch=3-val_loss=0.123.safetensors`; default `"{epoch}-{step}"`).
    A checkpoint is considered every `every_n_epochs` epochs, or every `every_n_train_steps`
    optimizer steps after the batch (the two are exclusive; without either, every epoch). The
    per-epoch check runs where Lightning runs it (`save_on_train_epoch_end`, None: decided from
    the trainer): at the end of the training epoch (after its validation) when fit validates
    once per epoch at its end or not at all, else at the end of each validation run
    (val_check_interval other than 1.0), so that a file ranked by a validation metric holds
    the weights that metric was measured on. `last` is saved with each of those checks and,
    beyond Lightning, also refreshed at every epoch end (it has no score). With
    `monitor=None`, `save_top_k=1` keeps only the latest checkpoint and `-1` keeps all; with a
    monitor, the best `save_top_k` by `mode` are kept (`-1`: all, `0`: none) and a file that
    drops out of the top k is deleted. A monitored metric that is missing is an error once
    validation has run in this fit, else a warning and no top-k save (a fit stopped before its
    first validation, as Lightning).

    Each fit that does not resume starts the bookkeeping afresh (best_k_models, best and last
    paths, ...); a resumed fit gets it back from the checkpoint (load_state_dict runs after
    setup, as in Lightning).
    """

    CHECKPOINT_JOIN_CHAR = "-"
    CHECKPOINT_EQUALS_CHAR = "="
    CHECKPOINT_NAME_LAST = "last"
    FILE_EXTENSION = ".safetensors"
    STARTING_VERSION = 1

    def __init__(
        self,
        dirpath: str | os.PathLike[str] | None = None,
        filename: str | None = None,
        monitor: str | None = None,
        verbose: bool = False,
        save_last: bool | None = None,
        save_top_k: int = 1,
        mode: str = "min",
        auto_insert_metric_name: bool = True,
        every_n_train_steps: int | None = None,
        every_n_epochs: int | None = None,
        save_on_train_epoch_end: bool | None = None,
        enable_version_counter: bool = True,
    ) -> None:
        fn = "ModelCheckpoint"
        if dirpath is not None and not isinstance(dirpath, (str, os.PathLike)):
            raise TypeError(f"{fn}: dirpath must be a path or None, got {type(dirpath).__name__}")
        self.filename = _optional_str(filename, fn, "filename")
        self.monitor = _optional_str(monitor, fn, "monitor")
        if save_last not in (None, True, False):
            raise ValueError(f"{fn}: save_last must be None, True or False, got {save_last!r}")
        self.save_top_k = check.integer(save_top_k, fn, "save_top_k", minimum=-1)
        self.mode = _mode(mode, fn)
        if monitor is None and self.save_top_k not in (-1, 0, 1):
            raise ValueError(
                f"{fn}(save_top_k={self.save_top_k}, monitor=None) is not a valid configuration:"
                " with no monitored quantity, save_top_k must be -1, 0 or 1"
            )
        steps = 0 if every_n_train_steps is None else every_n_train_steps
        epochs = 0 if every_n_epochs is None else every_n_epochs
        steps = check.integer(steps, fn, "every_n_train_steps", minimum=0)
        epochs = check.integer(epochs, fn, "every_n_epochs", minimum=0)
        if steps > 0 and epochs > 0:
            raise ValueError(
                f"{fn}: every_n_train_steps and every_n_epochs are mutually exclusive, got"
                f" {steps} and {epochs}"
            )
        if every_n_train_steps is None and every_n_epochs is None:
            epochs = 1  # Lightning's default: a checkpoint at the end of every epoch
        self._every_n_train_steps = steps
        self._every_n_epochs = epochs
        if save_on_train_epoch_end is not None and not isinstance(save_on_train_epoch_end, bool):
            raise ValueError(
                f"{fn}: save_on_train_epoch_end must be None, True or False, got"
                f" {save_on_train_epoch_end!r}"
            )
        self._save_on_train_epoch_end = save_on_train_epoch_end
        self.verbose = bool(verbose)
        self.save_last = save_last
        self.auto_insert_metric_name = bool(auto_insert_metric_name)
        self._enable_version_counter = bool(enable_version_counter)
        self.dirpath: str | None = None if dirpath is None else os.fspath(dirpath)
        self._user_dirpath = self.dirpath
        self._pending_state: dict[str, Any] | None = None
        self._state_loaded = False  # load_state_dict ran for the fit about to start or running
        self._reset_fit_state()

    def _reset_fit_state(self) -> None:
        """The bookkeeping of a fit that starts from scratch."""
        self._seen_validation = False
        self._last_global_step_saved = 0  # no checkpoint before the first step
        self.best_k_models: dict[str, float] = {}
        self.kth_best_model_path = ""
        self.kth_value = math.inf if self.mode == "min" else -math.inf
        self.best_model_path = ""
        self.best_model_score: float | None = None
        self.current_score: float | None = None
        self.last_model_path = ""

    @property
    def state_key(self) -> str:
        return self._generate_state_key(
            monitor=self.monitor,
            mode=self.mode,
            every_n_train_steps=self._every_n_train_steps,
            every_n_epochs=self._every_n_epochs,
        )

    @property
    def every_n_epochs(self) -> int:
        """Epochs between checkpoints (0: none at epoch ends but `last`)."""
        return self._every_n_epochs

    @property
    def every_n_train_steps(self) -> int:
        """Optimizer steps between checkpoints (0: none within an epoch)."""
        return self._every_n_train_steps

    # -- hooks ------------------------------------------------------------------------------------

    def setup(self, trainer: Any, module: Any, stage: str) -> None:
        super().setup(trainer, module, stage)
        if self._user_dirpath is None:
            directory = getattr(trainer, "checkpoint_dir", None)
            if directory is None:
                raise ValueError(
                    "ModelCheckpoint: no dirpath given and trainer.checkpoint_dir is None"
                )
            self.dirpath = os.fspath(directory)
        if self._pending_state is not None:
            state, self._pending_state = self._pending_state, None
            self.load_state_dict(state)

    def _should_save_on_train_epoch_end(self, trainer: Any) -> bool:
        """Lightning's rule: at the training epoch's end when fit validates once per epoch (at
        its end) or never, else at the end of each validation run."""
        if self._save_on_train_epoch_end is not None:
            return self._save_on_train_epoch_end
        if getattr(trainer, "check_val_every_n_epoch", 1) != 1:
            return False
        if not getattr(trainer, "num_val_batches", 0):
            return True  # no validation
        return getattr(trainer, "val_check_interval", 1.0) == 1.0

    def on_validation_end(self, trainer: Any, module: Any) -> None:
        if not _fitting(trainer):
            return
        self._seen_validation = True
        if self._skip(trainer) or self._should_save_on_train_epoch_end(trainer):
            return
        candidates = self._monitor_candidates(trainer)
        every = self._every_n_epochs
        if every >= 1 and (trainer.current_epoch + 1) % every == 0:
            self._save_topk_checkpoint(trainer, candidates)
        self._save_last_checkpoint(trainer, candidates)

    def on_train_batch_end(
        self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        every = self._every_n_train_steps
        if every < 1 or self._skip(trainer) or trainer.global_step % every != 0:
            return
        candidates = self._monitor_candidates(trainer)
        self._save_topk_checkpoint(trainer, candidates)
        self._save_last_checkpoint(trainer, candidates)

    def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
        if self._skip(trainer):
            return
        candidates = self._monitor_candidates(trainer)
        every = self._every_n_epochs
        if (
            every >= 1
            and (trainer.current_epoch + 1) % every == 0
            and self._should_save_on_train_epoch_end(trainer)
        ):
            self._save_topk_checkpoint(trainer, candidates)
        self._save_last_checkpoint(trainer, candidates)

    # -- state ------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "monitor": self.monitor,
            "best_model_score": self.best_model_score,
            "best_model_path": self.best_model_path,
            "current_score": self.current_score,
            "dirpath": self.dirpath,
            "best_k_models": dict(self.best_k_models),
            "kth_best_model_path": self.kth_best_model_path,
            "kth_value": self.kth_value,
            "last_model_path": self.last_model_path,
            "last_global_step_saved": self._last_global_step_saved,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores the bookkeeping when the checkpoint directory is the same one (as Lightning
        does; else only best_model_path, with a warning). Before setup resolved the directory,
        the state is kept and applied by setup."""
        self._state_loaded = True
        if self.dirpath is None:
            self._pending_state = dict(state)
            return
        saved_dir = state.get("dirpath")
        if saved_dir is not None and os.path.realpath(saved_dir) == os.path.realpath(self.dirpath):
            self.best_model_score = state.get("best_model_score")
            self.current_score = state.get("current_score")
            self.best_k_models = {str(k): float(v) for k, v in state["best_k_models"].items()}
            self.kth_best_model_path = state.get("kth_best_model_path", "")
            self.kth_value = float(state.get("kth_value", self.kth_value))
            self.last_model_path = state.get("last_model_path", "")
            self._last_global_step_saved = int(state.get("last_global_step_saved", 0))
        else:
            warnings.warn(
                f"ModelCheckpoint: the checkpoint directory changed from {saved_dir!r} to"
                f" {self.dirpath!r}, so best_k_models, best_model_score, kth_best_model_path,"
                " kth_value and last_model_path are not restored; only best_model_path is",
                stacklevel=2,
            )
        self.best_model_path = state.get("best_model_path", "")

    # -- names ------------------------------------------------------------------------------------

    def format_checkpoint_name(
        self, metrics: Mapping[str, Any], filename: str | None = None, ver: int | None = None
    ) -> str:
        """The checkpoint path for these metrics: the template filled in, `-v<ver>` when given,
        the extension, inside dirpath."""
        name = self._format_template(filename or self.filename, metrics)
        if ver is not None:
            name = self.CHECKPOINT_JOIN_CHAR.join((name, f"v{ver}"))
        name += self.FILE_EXTENSION
        return os.path.join(self.dirpath, name) if self.dirpath else name

    def _format_template(self, template: str | None, metrics: Mapping[str, Any]) -> str:
        """Lightning's filename templates: `{name}` or `{name:format}` per metric, prefixed with
        `name=` when auto_insert_metric_name; a metric not logged yet formats as 0."""
        if not template:
            template = "{epoch}" + self.CHECKPOINT_JOIN_CHAR + "{step}"
        values = dict(metrics)
        groups = sorted(set(re.findall(r"(\{.*?)[:}]", template)), key=len, reverse=True)
        for group in groups:
            name = group[1:]
            if self.auto_insert_metric_name:
                template = template.replace(group, name + self.CHECKPOINT_EQUALS_CHAR + "{" + name)
            template = template.replace(group, f"{{0[{name}]")  # names may contain dots
            values.setdefault(name, 0)
        return template.format(values)

    def _monitor_candidates(self, trainer: Any) -> dict[str, Any]:
        candidates = dict(trainer.callback_metrics)
        candidates["epoch"] = int(trainer.current_epoch)
        candidates["step"] = int(trainer.global_step)
        return candidates

    def _free_path(
        self, trainer: Any, candidates: dict[str, Any], filename: str | None, keep: str
    ) -> str:
        """The formatted path, with `-v1`, `-v2`, ... while a file of that name exists that is
        not `keep` (the file this save replaces); a file exists as it will once the trainer's
        background writes are done."""
        path = self.format_checkpoint_name(candidates, filename)
        if self._enable_version_counter:
            writer = writer_of(trainer)
            exists = os.path.exists if writer is None else writer.exists
            version = self.STARTING_VERSION
            while path != keep and exists(path):
                path = self.format_checkpoint_name(candidates, filename, ver=version)
                version += 1
        return path

    # -- saving -----------------------------------------------------------------------------------

    def _skip(self, trainer: Any) -> bool:
        return not _fitting(trainer) or self._last_global_step_saved == trainer.global_step

    def _save_topk_checkpoint(self, trainer: Any, candidates: dict[str, Any]) -> None:
        if self.save_top_k == 0:
            return
        if self.monitor is None:
            self._save_none_monitor_checkpoint(trainer, candidates)
            return
        if self.monitor not in candidates:
            available = ", ".join(sorted(candidates)) or "none"
            message = (
                f"ModelCheckpoint(monitor={self.monitor!r}) could not find the monitored metric"
                f" among the logged metrics: {available}. Did you log({self.monitor!r}, value)"
                " in the TrainModule?"
            )
            if self._seen_validation:  # validation ran and did not log it: a real mistake
                raise ValueError(message)
            # No validation yet in this fit (stopped before it, or it runs later): Lightning
            # warns and saves no top-k checkpoint.
            warnings.warn(message + " (skipping this checkpoint)", stacklevel=2)
            return
        current = _scalar(candidates[self.monitor])
        if math.isnan(current):  # NaN is never among the best
            current = math.inf if self.mode == "min" else -math.inf
        if self._improves_top_k(current):
            self._update_best_and_save(current, trainer, candidates)
        elif self.verbose:
            _say(
                f"Epoch {trainer.current_epoch}, global step {trainer.global_step}:"
                f" {self.monitor!r} was not in top {self.save_top_k}"
            )

    def _improves_top_k(self, current: float) -> bool:
        if self.save_top_k == -1 or len(self.best_k_models) < self.save_top_k:
            return True
        kth = self.best_k_models[self.kth_best_model_path]
        return current < kth if self.mode == "min" else current > kth

    def _update_best_and_save(
        self, current: float, trainer: Any, candidates: dict[str, Any]
    ) -> None:
        k = len(self.best_k_models) + 1 if self.save_top_k == -1 else self.save_top_k
        dropped = None
        if len(self.best_k_models) == k:
            dropped = self.kth_best_model_path
            self.best_k_models.pop(dropped)
        path = self._free_path(trainer, candidates, None, keep=dropped or "")
        self.current_score = current
        self.best_k_models[path] = current
        if len(self.best_k_models) == k:
            worst = max if self.mode == "min" else min
            self.kth_best_model_path = worst(self.best_k_models, key=self.best_k_models.__getitem__)
            self.kth_value = self.best_k_models[self.kth_best_model_path]
        best = min if self.mode == "min" else max
        self.best_model_path = best(self.best_k_models, key=self.best_k_models.__getitem__)
        self.best_model_score = self.best_k_models[self.best_model_path]
        if self.verbose:
            _say(
                f"Epoch {trainer.current_epoch}, global step {trainer.global_step}:"
                f" {self.monitor!r} reached {current:.5f} (best {self.best_model_score:.5f}),"
                f" saving model to {path!r} as top {k}"
            )
        self._save_checkpoint(trainer, path)
        if dropped is not None and dropped != path:
            self._remove_checkpoint(trainer, dropped)

    def _save_none_monitor_checkpoint(self, trainer: Any, candidates: dict[str, Any]) -> None:
        path = self._free_path(trainer, candidates, None, keep=self.best_model_path)
        previous, self.best_model_path = self.best_model_path, path
        if self.verbose:
            _say(
                f"Epoch {trainer.current_epoch}, global step {trainer.global_step}:"
                f" saving model to {path!r}"
            )
        self._save_checkpoint(trainer, path)
        if self.save_top_k == 1 and previous and previous != path:
            self._remove_checkpoint(trainer, previous)

    def _save_last_checkpoint(self, trainer: Any, candidates: dict[str, Any]) -> None:
        if not self.save_last:
            return
        path = self._free_path(
            trainer, candidates, self.CHECKPOINT_NAME_LAST, keep=self.last_model_path
        )
        previous, self.last_model_path = self.last_model_path, path
        self._save_checkpoint(trainer, path)
        if previous and previous != path:
            self._remove_checkpoint(trainer, previous)

    def _save_checkpoint(self, trainer: Any, path: str) -> None:
        # Recorded before the save so that the file's own state says it was taken at this step:
        # a run resumed from it skips a second save at the same step as the original run did.
        self._last_global_step_saved = trainer.global_step
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # The Trainer takes the state now and writes the file in the background (its fsync
        # overlaps the next steps); another trainer object saves the plain way.
        save = getattr(trainer, "_save_checkpoint_in_background", None)
        if save is None:
            trainer.save_checkpoint(path)
        else:
            save(path)

    def _remove_checkpoint(self, trainer: Any, path: str) -> None:
        """Deletes a checkpoint that left the top k, never the one the run resumed from and never
        a file outside dirpath."""
        resumed_from = getattr(trainer, "ckpt_path", None)
        if resumed_from is not None and os.path.realpath(resumed_from) == os.path.realpath(path):
            return
        if self.dirpath is None or os.path.dirname(os.path.realpath(path)) != os.path.realpath(
            self.dirpath
        ):
            return
        writer = writer_of(trainer)
        if writer is None:
            _remove(path)
        else:  # after the queued save of the checkpoint that replaces it
            writer.submit(path, False, functools.partial(_remove, path))


# -- EarlyStopping --------------------------------------------------------------------------------


class EarlyStopping(_FitState):
    """Lightning's EarlyStopping: sets trainer.should_stop when the monitored metric has not
    improved by more than min_delta for `patience` checks, is not finite (check_finite),
    passes stopping_threshold, or goes past divergence_threshold.

    It checks at the end of every training epoch (after its validation), or after each
    validation run when validation runs more or less often than once per epoch. The reason is
    kept in `stopping_reason` ("patience_exhausted", "non_finite_metric", ...) and
    `stopping_reason_message`, and printed when verbose.

    A resumed fit restores wait_count, best_score and patience (Lightning's state) but not the
    trainer's should_stop: the next check decides again, so a run whose patience was exhausted
    stops at its next check unless the metric improved. A fit that does not resume starts
    afresh (the constructor's patience, no best score).
    """

    def __init__(
        self,
        monitor: str,
        min_delta: float = 0.0,
        patience: int = 3,
        verbose: bool = False,
        mode: str = "min",
        strict: bool = True,
        check_finite: bool = True,
        stopping_threshold: float | None = None,
        divergence_threshold: float | None = None,
        check_on_train_epoch_end: bool | None = None,
    ) -> None:
        fn = "EarlyStopping"
        if not isinstance(monitor, str):
            raise TypeError(f"{fn}: monitor must be a str, got {type(monitor).__name__}")
        self.monitor = monitor
        self.mode = _mode(mode, fn)
        self.patience = check.integer(patience, fn, "patience", minimum=0)
        delta = check.finite(min_delta, fn, "min_delta")
        # Signed as Lightning does: current - min_delta must still beat the best score.
        self.min_delta = delta if mode == "max" else -delta
        self.verbose = bool(verbose)
        self.strict = bool(strict)
        self.check_finite = bool(check_finite)
        self.stopping_threshold = (
            None
            if stopping_threshold is None
            else check.real(stopping_threshold, fn, "stopping_threshold")
        )
        self.divergence_threshold = (
            None
            if divergence_threshold is None
            else check.real(divergence_threshold, fn, "divergence_threshold")
        )
        self._check_on_train_epoch_end_arg = check_on_train_epoch_end
        self._check_on_train_epoch_end = check_on_train_epoch_end
        self._patience_arg = self.patience
        self._state_loaded = False  # load_state_dict ran for the fit about to start or running
        self._reset_fit_state()

    def _reset_fit_state(self) -> None:
        """The state of a fit that starts from scratch."""
        self.patience = self._patience_arg
        self.wait_count = 0
        self.stopped_epoch = 0
        self.best_score = math.inf if self.mode == "min" else -math.inf
        self.stopping_reason = "not_stopped"
        self.stopping_reason_message: str | None = None

    @property
    def state_key(self) -> str:
        return self._generate_state_key(monitor=self.monitor, mode=self.mode)

    def _better(self, a: float, b: float) -> bool:
        return a < b if self.mode == "min" else a > b

    def setup(self, trainer: Any, module: Any, stage: str) -> None:
        super().setup(trainer, module, stage)
        self._check_on_train_epoch_end = self._check_on_train_epoch_end_arg
        if self._check_on_train_epoch_end is None:
            # Validation more or less often than once an epoch: check after each validation.
            self._check_on_train_epoch_end = (
                getattr(trainer, "val_check_interval", 1.0) == 1.0
                and getattr(trainer, "check_val_every_n_epoch", 1) == 1
            )

    def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
        if self._check_on_train_epoch_end is not False and _fitting(trainer):
            self._run_early_stopping_check(trainer)

    def on_validation_end(self, trainer: Any, module: Any) -> None:
        if self._check_on_train_epoch_end is False and _fitting(trainer):
            self._run_early_stopping_check(trainer)

    def state_dict(self) -> dict[str, Any]:
        return {
            "wait_count": self.wait_count,
            "stopped_epoch": self.stopped_epoch,
            "best_score": self.best_score,
            "patience": self.patience,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.wait_count = int(state["wait_count"])
        self.stopped_epoch = int(state["stopped_epoch"])
        self.best_score = float(state["best_score"])
        self.patience = int(state["patience"])
        self._state_loaded = True

    def _run_early_stopping_check(self, trainer: Any) -> None:
        metrics = trainer.callback_metrics
        if self.monitor not in metrics:
            if self.strict:
                available = ", ".join(f"`{name}`" for name in metrics) or "none"
                raise RuntimeError(
                    f"EarlyStopping: early stopping conditioned on metric `{self.monitor}`, which"
                    f" is not available. Pass in or modify your EarlyStopping callback to use any"
                    f" of the following: {available}"
                )
            if self.verbose:
                _say(f"EarlyStopping: metric `{self.monitor}` is not available; check skipped")
            return
        current = _scalar(metrics[self.monitor])
        should_stop, reason = self._evaluate_stopping_criteria(current)
        trainer.should_stop = bool(trainer.should_stop) or should_stop
        if should_stop:
            self.stopped_epoch = int(trainer.current_epoch)
        if reason is not None:
            self.stopping_reason_message = reason
            if self.verbose:
                _say(reason)

    def _evaluate_stopping_criteria(self, current: float) -> tuple[bool, str | None]:
        """(should_stop, message), updating best_score and wait_count, in Lightning's order."""
        symbol = "<" if self.mode == "min" else ">"
        if self.check_finite and not math.isfinite(current):
            self.stopping_reason = "non_finite_metric"
            return True, (
                f"Monitored metric {self.monitor} = {current} is not finite. Previous best value"
                f" was {self.best_score:.3f}. Signaling Trainer to stop."
            )
        if self.stopping_threshold is not None and self._better(current, self.stopping_threshold):
            self.stopping_reason = "stopping_threshold"
            return True, (
                f"Stopping threshold reached: {self.monitor} = {current} {symbol}"
                f" {self.stopping_threshold}. Signaling Trainer to stop."
            )
        if self.divergence_threshold is not None and self._better(
            -current, -self.divergence_threshold
        ):
            self.stopping_reason = "divergence_threshold"
            return True, (
                f"Divergence threshold reached: {self.monitor} = {current} {symbol}"
                f" {self.divergence_threshold}. Signaling Trainer to stop."
            )
        if self._better(current - self.min_delta, self.best_score):
            if math.isfinite(self.best_score):
                message = (
                    f"Metric {self.monitor} improved by {abs(self.best_score - current):.3f} >="
                    f" min_delta = {abs(self.min_delta)}. New best score: {current:.3f}"
                )
            else:
                message = f"Metric {self.monitor} improved. New best score: {current:.3f}"
            self.best_score = current
            self.wait_count = 0
            return False, message
        self.wait_count += 1
        if self.wait_count >= self.patience:
            self.stopping_reason = "patience_exhausted"
            return True, (
                f"Monitored metric {self.monitor} did not improve in the last {self.wait_count}"
                f" records. Best score: {self.best_score:.3f}. Signaling Trainer to stop."
            )
        return False, None


# -- LearningRateMonitor --------------------------------------------------------------------------


def _get(config: Any, key: str, default: Any = None) -> Any:
    """A field of a scheduler config, a dict (this Trainer) or an object (Lightning's)."""
    if isinstance(config, Mapping):
        return config.get(key, default)
    return getattr(config, key, default)


class LearningRateMonitor(Callback):
    """Lightning's LearningRateMonitor: logs each optimizer's learning rate (and momentum, weight
    decay) through the trainer's loggers and into trainer.callback_metrics.

    Keys: `lr-<OptimizerClass>` (`-1`, `-2` for further optimizers of the same class), with
    `/pg1`, `/pg2`, ... (or `/<group name>`) when the optimizer has several parameter groups;
    `<key>-momentum` (betas[0] for Adam-like optimizers) and `<key>-weight_decay`. With
    logging_interval=None, a scheduler stepped per step is logged every log_every_n_steps steps
    and one stepped per epoch at each epoch start; "step" or "epoch" logs every optimizer then.
    An optimizer without a scheduler is logged at every logging point.
    """

    def __init__(
        self,
        logging_interval: str | None = None,
        log_momentum: bool = False,
        log_weight_decay: bool = False,
    ) -> None:
        if logging_interval not in (None, "step", "epoch"):
            raise ValueError(
                "LearningRateMonitor: logging_interval must be 'step', 'epoch' or None, got"
                f" {logging_interval!r}"
            )
        self.logging_interval = logging_interval
        self.log_momentum = bool(log_momentum)
        self.log_weight_decay = bool(log_weight_decay)
        self._entries: list[tuple[str, Any, str | None]] = []  # (key, optimizer, interval)
        self.lrs: dict[str, list[float]] = {}

    def on_train_start(self, trainer: Any, module: Any) -> None:
        if not getattr(trainer, "loggers", None):
            raise ValueError(
                "LearningRateMonitor: the Trainer has no logger, so there is nowhere to log"
                " the learning rate"
            )
        optimizers = getattr(trainer, "optimizers", None)
        if optimizers is None:
            optimizers = [] if trainer.optimizer is None else [trainer.optimizer]
        configs = list(getattr(trainer, "lr_schedulers", None) or [])
        counts: dict[str, int] = {}
        self._entries = []
        for optimizer in optimizers:
            config = next(
                (
                    c
                    for c in configs
                    if getattr(_get(c, "scheduler"), "optimizer", None) is optimizer
                ),
                None,
            )
            name = _get(config, "name") if config is not None else None
            if name is None:
                cls = type(optimizer).__name__
                seen = counts.get(cls, 0)
                counts[cls] = seen + 1
                name = f"lr-{cls}" if seen == 0 else f"lr-{cls}-{seen}"
            interval = None if config is None else _get(config, "interval", "epoch")
            self._entries.append((name, optimizer, interval))
            if self.log_momentum and not all(
                "betas" in g or "momentum" in g for g in optimizer.param_groups
            ):
                warnings.warn(
                    "LearningRateMonitor: log_momentum=True, but some optimizers have no"
                    " momentum; 0 is logged for them",
                    stacklevel=2,
                )
        self.lrs = {}

    def on_train_batch_start(self, trainer: Any, module: Any, batch: Any, batch_idx: int) -> None:
        if self.logging_interval == "epoch":
            return
        every = max(int(getattr(trainer, "log_every_n_steps", 1) or 1), 1)
        if (trainer.global_step + 1) % every != 0 and not trainer.should_stop:
            return
        self._log(trainer, "step" if self.logging_interval is None else "any")

    def on_train_epoch_start(self, trainer: Any, module: Any) -> None:
        if self.logging_interval != "step":
            self._log(trainer, "epoch" if self.logging_interval is None else "any")

    def _log(self, trainer: Any, interval: str) -> None:
        stats = self._extract_stats(interval)
        if not stats:
            return
        trainer.callback_metrics.update(stats)
        row = {"epoch": int(trainer.current_epoch), **stats}
        for logger in trainer.loggers:
            logger.log_metrics(row, step=int(trainer.global_step))

    def _extract_stats(self, interval: str) -> dict[str, float]:
        stats: dict[str, float] = {}
        for name, optimizer, scheduled in self._entries:
            if scheduled is not None and interval not in (scheduled, "any"):
                continue
            groups = optimizer.param_groups
            for index, group in enumerate(groups):
                key = name
                if len(groups) > 1:
                    key = f"{name}/{group.get('name', f'pg{index + 1}')}"
                stats[key] = float(group["lr"])
                self.lrs.setdefault(key, []).append(stats[key])
                if self.log_momentum:
                    betas = group.get("betas")
                    momentum = betas[0] if betas is not None else group.get("momentum", 0.0)
                    stats[f"{key}-momentum"] = float(momentum)
                if self.log_weight_decay:
                    stats[f"{key}-weight_decay"] = float(group.get("weight_decay", 0.0))
        return stats


# -- TerminateOnNaN -------------------------------------------------------------------------------


class TerminateOnNaN(Callback):
    """Keras' TerminateOnNaN: after a batch whose training loss is NaN or infinite, sets
    trainer.should_stop (the Trainer stops after that batch) and prints why; the message stays
    in `reason` and the step in `stopped_step`."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.stopped_step: int | None = None

    def setup(self, trainer: Any, module: Any, stage: str) -> None:
        if stage == "fit":  # each fit says why it stopped, not why an earlier one did
            self.reason = None
            self.stopped_step = None

    def on_train_batch_end(
        self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = _loss_of(outputs)
        if loss is None or math.isfinite(loss):
            return
        trainer.should_stop = True
        self.stopped_step = int(trainer.global_step)
        self.reason = (
            f"TerminateOnNaN: the training loss is {loss} at epoch {trainer.current_epoch},"
            f" batch {batch_idx} (step {trainer.global_step}); stopping training"
        )
        _say(self.reason)


# -- Throughput -----------------------------------------------------------------------------------


class Throughput(_FitState):
    """Training images per second, per epoch and over the whole fit, excluding validation time.

    Images are counted from each batch's first dimension (or `batch_size_fn(batch)`). While an
    epoch runs, trainer.callback_metrics["train_img_per_s"] holds the epoch's rate so far (a
    float store per batch, nothing more), so the epoch's row logs the whole epoch's rate.
    `epoch_img_per_s` maps each finished epoch to its rate; `images`, `train_time_s` and
    `train_img_per_s` cover the whole fit (for summary.json), resumed runs included.
    """

    def __init__(self, batch_size_fn: Callable[[Any], int] | None = None) -> None:
        self.batch_size_fn = batch_size if batch_size_fn is None else batch_size_fn
        self._state_loaded = False  # load_state_dict ran for the fit about to start or running
        self._reset_fit_state()

    def _reset_fit_state(self) -> None:
        """The totals of a fit that starts from scratch."""
        self.images = 0
        self.train_time_s = 0.0
        self.epoch_img_per_s: dict[int, float] = {}
        self._epoch_images = 0
        self._epoch_time = 0.0
        self._started: float | None = None  # perf_counter() while the training clock runs
        self._running = False

    @property
    def train_img_per_s(self) -> float:
        """Images per second over all training so far (NaN before the first timed batch)."""
        seconds = self.train_time_s + self._current_epoch_time()
        images = self.images
        return images / seconds if seconds > 0 else math.nan

    def _current_epoch_time(self) -> float:
        if not self._running:
            return 0.0
        running = perf_counter() - self._started if self._started is not None else 0.0
        return self._epoch_time + running

    def on_train_start(self, trainer: Any, module: Any) -> None:
        # A run resumed mid-epoch continues that epoch without on_train_epoch_start.
        self.on_train_epoch_start(trainer, module)

    def on_train_epoch_start(self, trainer: Any, module: Any) -> None:
        self._epoch_images = 0
        self._epoch_time = 0.0
        self._running = True
        self._started = perf_counter()

    def on_train_batch_end(
        self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if not self._running:
            return
        count = self.batch_size_fn(batch)
        self._epoch_images += count
        self.images += count
        seconds = self._current_epoch_time()
        if seconds > 0:
            trainer.callback_metrics["train_img_per_s"] = self._epoch_images / seconds

    def on_validation_start(self, trainer: Any, module: Any) -> None:
        if self._running and self._started is not None:
            self._epoch_time += perf_counter() - self._started
            self._started = None

    def on_validation_end(self, trainer: Any, module: Any) -> None:
        if self._running and self._started is None:
            self._started = perf_counter()

    def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
        if not self._running:
            return
        seconds = self._current_epoch_time()
        self._running = False
        self._started = None
        self.train_time_s += seconds
        if self._epoch_images and seconds > 0:
            rate = self._epoch_images / seconds
            self.epoch_img_per_s[int(trainer.current_epoch)] = rate
            trainer.callback_metrics["train_img_per_s"] = rate

    def on_exception(self, trainer: Any, module: Any, exception: BaseException) -> None:
        if self._running:  # an interrupted epoch still counts towards the totals
            self.train_time_s += self._current_epoch_time()
            self._running = False
            self._started = None

    def state_dict(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "train_time_s": self.train_time_s + self._current_epoch_time(),
            "epoch_img_per_s": [[epoch, rate] for epoch, rate in self.epoch_img_per_s.items()],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.images = int(state["images"])
        self.train_time_s = float(state["train_time_s"])
        self.epoch_img_per_s = {int(e): float(r) for e, r in state["epoch_img_per_s"]}
        self._state_loaded = True


# -- Timer ----------------------------------------------------------------------------------------

_STAGES = ("train", "sanity_check", "validate", "test", "predict")


def _duration(value: Any) -> timedelta | None:
    fn = "Timer"
    if value is None or isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        fields = value.strip().split(":")
        if len(fields) != 4 or not all(f.isdigit() for f in fields):
            raise ValueError(
                f"{fn}: duration must be a 'DD:HH:MM:SS' string, a timedelta or a dict of"
                f" timedelta arguments, got {value!r}"
            )
        days, hours, minutes, seconds = (int(f) for f in fields)
        return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if isinstance(value, Mapping):
        try:
            return timedelta(**value)
        except TypeError as error:
            raise ValueError(
                f"{fn}: duration {dict(value)!r} is not timedelta's arguments: {error}"
            ) from None
    raise TypeError(
        f"{fn}: duration must be a 'DD:HH:MM:SS' string, a timedelta or a dict, got"
        f" {type(value).__name__}"
    )


class Timer(_FitState):
    """Lightning's Timer: stops training (trainer.should_stop) once `duration` of wall-clock
    training time has passed, checked after every step (interval="step") or epoch ("epoch").

    duration: "DD:HH:MM:SS", a timedelta or a dict of timedelta's arguments ({"hours": 2}); None
    only measures. time_elapsed(stage) gives the seconds spent in "train", "validate", "test" or
    "predict"; a resumed run counts the training time before the checkpoint.

    The trainer's should_stop is not part of a checkpoint: a resumed fit checks the restored
    elapsed time against this Timer's duration when it starts, so a run that ran out of time
    stops again at once, and one resumed with a longer duration goes on. A fit that does not
    resume starts its clock at zero.
    """

    def __init__(self, duration: Any = None, interval: str = "step", verbose: bool = True) -> None:
        budget = _duration(duration)
        self._duration = None if budget is None else budget.total_seconds()
        if interval not in ("step", "epoch"):
            raise ValueError(f"Timer: interval must be 'step' or 'epoch', got {interval!r}")
        self._interval = interval
        self._verbose = bool(verbose)
        self._state_loaded = False  # load_state_dict ran for the fit about to start or running
        self._reset_fit_state()

    def _reset_fit_state(self) -> None:
        """The clocks of a fit that starts from scratch."""
        self._start_time: dict[str, float | None] = dict.fromkeys(_STAGES)
        self._end_time: dict[str, float | None] = dict.fromkeys(_STAGES)
        self._offset = 0.0

    def _stage(self, stage: str) -> str:
        if stage not in _STAGES:
            raise ValueError(f"Timer: stage must be one of {', '.join(_STAGES)}, got {stage!r}")
        return stage

    def start_time(self, stage: str = "train") -> float | None:
        """The monotonic clock when the stage started (None before)."""
        return self._start_time[self._stage(stage)]

    def end_time(self, stage: str = "train") -> float | None:
        """The monotonic clock when the stage ended (None while it runs)."""
        return self._end_time[self._stage(stage)]

    def time_elapsed(self, stage: str = "train") -> float:
        """Seconds spent in the stage (for "train", including the time before a resume)."""
        start, end = self.start_time(stage), self.end_time(stage)
        offset = self._offset if stage == "train" else 0.0
        if start is None:
            return offset
        return (monotonic() if end is None else end) - start + offset

    def time_remaining(self, stage: str = "train") -> float | None:
        """Seconds left of the budget (None without a duration)."""
        if self._duration is None:
            return None
        return self._duration - self.time_elapsed(stage)

    def _begin(self, stage: str) -> None:
        self._start_time[stage] = monotonic()
        self._end_time[stage] = None

    def _finish(self, stage: str) -> None:
        self._end_time[stage] = monotonic()

    def on_train_start(self, trainer: Any, module: Any) -> None:
        self._begin("train")

    def on_train_end(self, trainer: Any, module: Any) -> None:
        self._finish("train")

    def on_validation_start(self, trainer: Any, module: Any) -> None:
        self._begin("validate")

    def on_validation_end(self, trainer: Any, module: Any) -> None:
        self._finish("validate")

    def on_test_start(self, trainer: Any, module: Any) -> None:
        self._begin("test")

    def on_test_end(self, trainer: Any, module: Any) -> None:
        self._finish("test")

    def on_predict_start(self, trainer: Any, module: Any) -> None:
        self._begin("predict")

    def on_predict_end(self, trainer: Any, module: Any) -> None:
        self._finish("predict")

    def on_fit_start(self, trainer: Any, module: Any) -> None:
        # A restored timer may already be out of time.
        if self._duration is not None:
            self._check_time_remaining(trainer)

    def on_train_batch_end(
        self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self._interval == "step" and self._duration is not None:
            self._check_time_remaining(trainer)

    def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
        if self._interval == "epoch" and self._duration is not None:
            self._check_time_remaining(trainer)

    def state_dict(self) -> dict[str, Any]:
        return {"time_elapsed": {stage: self.time_elapsed(stage) for stage in _STAGES}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._offset = float(state.get("time_elapsed", {}).get("train", 0.0))
        self._state_loaded = True

    def _check_time_remaining(self, trainer: Any) -> None:
        assert self._duration is not None
        if self.time_elapsed("train") < self._duration:
            return
        trainer.should_stop = True
        if self._verbose:
            elapsed = timedelta(seconds=int(self.time_elapsed("train")))
            _say(f"Timer: time limit reached, elapsed time is {elapsed}; stopping training")
