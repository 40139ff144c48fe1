"""The Trainer: Lightning's loop, hooks and checkpoints, without its weight.

One training step, in Lightning's documented order::

    on_train_batch_start -> training_step -> on_before_zero_grad -> optimizer.zero_grad
    -> on_before_backward -> loss.backward -> on_after_backward -> on_before_optimizer_step
    -> gradient clipping -> optimizer.step -> (step-interval schedulers) -> on_train_batch_end
    -> (a metrics row every log_every_n_steps) -> (validation when due)

and around it ``setup -> on_fit_start -> on_train_start -> [on_train_epoch_start -> steps ->
on_train_epoch_end -> (epoch-interval schedulers)]* -> on_train_end -> on_fit_end -> teardown``.

A checkpoint holds everything the loop depends on (weights, optimizer, schedulers, the data
loader's position, the dropout generator, metric, callback and logger states, the epoch's
partial sums and where in the step it was taken), so `fit(ckpt_path=...)` in a new process
continues bit for bit as if the run had never stopped. A checkpoint is taken between steps:
`save_checkpoint` refuses inside a training step or a validation pass. Resuming checks every
part of the checkpoint against the fit before it loads any (a CheckpointError naming the file
and what differs, with nothing changed), and warns when the configuration differs from the
run's. A fresh fit refuses a directory that already holds a run (RunDirectoryError).

During fit, ModelCheckpoint's files and metrics.csv's epoch rewrites are written by a background
FileWriter (train/filewriter.py): their contents are taken when they are due, the disk sees them
in the same order, and their fsyncs overlap the next steps; `save_checkpoint` itself returns
with its file complete, and fit returns (or raises) only once every queued write is done.

Ctrl-C: the first SIGINT during fit lets the current step finish, saves a resumable checkpoint
(`checkpoints/interrupted.safetensors`, atomically), prints where it is and how to resume, runs
`on_exception` and teardown, and raises ``SystemExit(130)`` (a shell's status for SIGINT), so
scripts and `odyssey train` exit with 130 without any code of their own; `trainer.interrupted` is
True. A second Ctrl-C aborts at once with KeyboardInterrupt (an unfinished save leaves no file:
writes are atomic). Once a run completes, its interrupted.safetensors is removed.
"""

from __future__ import annotations

import copy
import functools
import inspect
import math
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

import odyssey
import odyssey.random as ody_random
from odyssey.nn.utils import clip_grad_norm_, clip_grad_value_
from odyssey.optim.optimizer import Optimizer
from odyssey.serialization import CheckpointError
from odyssey.tensor import Tensor, no_grad
from odyssey.train import callbacks as cb
from odyssey.train import checkpoint as ckpt
from odyssey.train import loggers as lg
from odyssey.train import plots, rundir
from odyssey.train.filewriter import FileWriter
from odyssey.train.module import TrainModule
from odyssey.train.progress import ProgressBar

__all__ = ["RunDirectoryError", "Trainer"]

RunDirectoryError = rundir.RunDirectoryError
_STATE_FORMAT = 2  # 2: partial sums instead of every batch value, no history, no should_stop
INTERRUPTED_STATUS = 130  # what a shell reports for a process ended by SIGINT
_INTERRUPTED = "interrupted.safetensors"  # the Ctrl-C checkpoint, in checkpoints/

# Where a step stands; saved with a checkpoint so that a resumed run does exactly what is left.
_EPOCH_START = 0  # next: a new epoch (on_train_epoch_start)
_ROW = 1  # the batch's optimizer step is done; next: its metrics row (if due)
_VALIDATION = 2  # next: validation (if due)
_PLATEAU = 3  # validation done; next: step-interval ReduceLROnPlateau (if due)
_NEXT_BATCH = 4  # the batch is complete; next: the next batch, or the epoch's end
_EPOCH_END = 5  # on_train_epoch_end is running; next: the epoch schedulers and epoch row

# Who logs: a training batch, an evaluation batch, or a hook outside any batch.
_TRAIN, _EVAL = "train", "eval"


class _Interrupted(Exception):
    """Raised at a step boundary after Ctrl-C, once the checkpoint is saved."""


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _scalar(name: str, value: Any) -> float:
    """A logged value as a float; this is the one place values are converted."""
    if isinstance(value, float):
        return value
    array = np.asarray(value)
    if array.size != 1:
        raise ValueError(
            f"log: {name} must be a single number, got an array of shape {array.shape}"
        )
    return float(array.reshape(()))


def _batch_size(batch: Any) -> int:
    """How many samples a batch holds: the length of its first array."""
    while isinstance(batch, (tuple, list)) and batch:
        batch = batch[0]
    if type(batch) is np.ndarray and batch.ndim:  # the common case, before an ABC check
        return batch.shape[0]
    if isinstance(batch, Mapping) and batch:
        return _batch_size(next(iter(batch.values())))
    if isinstance(batch, Tensor):
        batch = batch.data
    shape = getattr(batch, "shape", None)
    if shape:
        return int(shape[0])
    try:
        return len(batch)
    except TypeError:
        return 1


def _is_metric(value: Any) -> bool:
    return all(hasattr(value, name) for name in ("update", "compute", "reset"))


def _source_dir(module: Any) -> Path | None:
    """The directory of the file that defines the module's class, or of its `model`'s when the
    module is odyssey's own (Classifier); None when both are odyssey's or have no file."""
    package = Path(odyssey.__file__).resolve().parent
    for candidate in (module, getattr(module, "model", None)):
        if candidate is None:
            continue
        try:
            source = Path(inspect.getfile(type(candidate))).resolve()
        except (TypeError, OSError):
            continue
        if not source.is_relative_to(package):
            return source.parent
    return None


def _is_plateau(scheduler: Any) -> bool:
    return _is_plateau_class(type(scheduler))


@functools.cache
def _is_plateau_class(scheduler_class: type) -> bool:
    # Asked for every scheduler at every step: the walk of the MRO is done once per class.
    return any(klass.__name__ == "ReduceLROnPlateau" for klass in scheduler_class.__mro__)


# Values log() takes as they are without asking whether they are metric objects (exact types:
# no subclass of these can carry update/compute/reset).
_PLAIN_VALUE_TYPES = frozenset({np.ndarray, np.float64, np.float32, float, int})


_METRIC_DEPTH = 3  # how deep in dicts and lists of the module's attributes metrics are found
# What holds no metric: skipped at once (a module may keep long lists of numbers).
_NOT_METRICS = (str, bytes, int, float, type(None), np.generic, np.ndarray, Tensor)


def _module_metrics(module: Any) -> dict[str, Any]:
    """The module's metric objects (odyssey.metrics) for checkpoints, by where they are held: an
    attribute (`acc`), or an entry of a dict or list attribute (`metrics['val']['acc']`)."""
    found: dict[str, Any] = {}
    seen: set[int] = set()

    def visit(path: str, value: Any, depth: int) -> None:
        if isinstance(value, (odyssey.nn.Module, Optimizer)) or id(value) in seen:
            return
        if _is_metric(value) and hasattr(value, "state_dict") and hasattr(value, "load_state_dict"):
            seen.add(id(value))
            found[path] = value
            return
        if depth >= _METRIC_DEPTH:
            return
        if isinstance(value, Mapping):
            items: Iterable[tuple[Any, Any]] = value.items()
        elif isinstance(value, (list, tuple)):
            items = enumerate(value)
        else:
            return
        for key, item in items:
            if not isinstance(item, _NOT_METRICS):
                visit(f"{path}[{key!r}]", item, depth + 1)

    for name, value in sorted(vars(module).items()):
        if name not in ("_modules", "_parameters", "_buffers", "_trainer"):
            visit(name, value, 0)
    return found


class _Aggregator:
    """Epoch values of one stage: batch-size weighted means, and metric objects."""

    def __init__(self) -> None:
        self.sums: dict[str, list[tuple[Any, int]]] = {}
        # (total, weight) of the batches before a checkpoint; the same additions in the same
        # order as the uninterrupted run, so a resumed mean is bitwise the same.
        self.partial: dict[str, tuple[float, float]] = {}
        self.metrics: dict[str, Any] = {}
        self.both: set[str] = set()  # "<name>_epoch" keys of metrics also logged per step

    def _total(self, key: str, entries: list[tuple[Any, int]]) -> tuple[float, float]:
        total, weight = self.partial.get(key, (0.0, 0.0))
        for value, size in entries:
            total += _scalar(key, value) * size
            weight += size
        return total, weight

    def compute(self, reset: bool = True) -> dict[str, float]:
        """The epoch values; `reset` resets the metric objects after computing them."""
        values = {}
        for key, entries in self.sums.items():
            total, weight = self._total(key, entries)
            values[key] = total / weight if weight else math.nan
        for key, metric in self.metrics.items():
            values[key] = _scalar(key, metric.compute())
        if reset:
            self.reset_metrics()
        return values

    def reset_metrics(self) -> None:
        for metric in self.metrics.values():
            metric.reset()

    def state_dict(self, paths: Mapping[int, str]) -> dict[str, Any]:
        """The partial sums, and where the module holds each metric object (`paths`: by id;
        None for one it does not hold, whose state cannot be saved). The values so far are
        folded into the partial sums (the same additions, in the same order), so that saving
        often costs no more than saving once."""
        for key, entries in self.sums.items():
            if entries:
                self.partial[key] = self._total(key, entries)
                entries.clear()
        return {
            "sums": {key: list(self.partial[key]) for key in self.sums},
            "metrics": {key: paths.get(id(metric)) for key, metric in self.metrics.items()},
            "both": sorted(self.both),
        }

    def load_state_dict(self, state: Mapping[str, Any], metrics: Mapping[str, Any]) -> None:
        """The partial sums back, and the module's metric objects (`metrics`, by path, their
        state already restored) as the ones logged under their keys."""
        self.partial = {key: (float(t), float(w)) for key, (t, w) in state["sums"].items()}
        self.sums = {key: [] for key in self.partial}  # the keys in the order they were logged
        self.metrics = {
            key: metrics[path] for key, path in state["metrics"].items() if path in metrics
        }
        self.both = set(state["both"])


class _Metrics(MutableMapping):
    """trainer.callback_metrics: the latest value of every metric. Values are stored as logged
    (arrays) and converted to a float only when read, so that logging every step and callbacks
    writing a float every step cost no conversion."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    def __getitem__(self, key: str) -> float:
        value = self._values[key]
        if type(value) is not float:
            value = self._values[key] = _scalar(key, value)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        self._values[key] = value

    def __delitem__(self, key: str) -> None:
        del self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return repr(dict(self))


def _flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested configuration as {"table.key": value}."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = list(value) if isinstance(value, tuple) else value
    return flat


class _SchedulerConfig(dict):
    """Lightning's scheduler dict: scheduler, interval, frequency, monitor, strict, name."""


def _scheduler_configs(scheduler: Any) -> list[_SchedulerConfig]:
    entries = scheduler if isinstance(scheduler, (list, tuple)) else [scheduler]
    configs = []
    for entry in entries:
        config = dict(entry) if isinstance(entry, Mapping) else {"scheduler": entry}
        unknown = set(config) - {"scheduler", "interval", "frequency", "monitor", "strict", "name"}
        if unknown or "scheduler" not in config:
            raise ValueError(
                "configure_optimizers: a scheduler dict has the keys scheduler, interval, "
                f"frequency, monitor, strict and name; got {sorted(config)}"
            )
        if not hasattr(config["scheduler"], "step"):
            raise TypeError(
                "configure_optimizers: lr_scheduler must be a scheduler (with step()), got "
                f"{type(config['scheduler']).__name__}"
            )
        config.setdefault("interval", "epoch")
        config.setdefault("frequency", 1)
        config.setdefault("monitor", None)
        config.setdefault("strict", True)
        config.setdefault("name", None)
        if config["interval"] not in ("epoch", "step"):
            raise ValueError(
                f'configure_optimizers: interval must be "epoch" or "step", got '
                f"{config['interval']!r}"
            )
        if not _is_int(config["frequency"]) or config["frequency"] < 1:
            raise ValueError(
                "configure_optimizers: frequency must be a positive int, got "
                f"{config['frequency']!r}"
            )
        if _is_plateau(config["scheduler"]) and config["monitor"] is None:
            raise ValueError(
                "configure_optimizers: a ReduceLROnPlateau scheduler needs a monitor, e.g. "
                '{"scheduler": s, "monitor": "val_loss"}'
            )
        configs.append(_SchedulerConfig(config))
    return configs


class Trainer:
    """Runs fit / validate / test / predict on a TrainModule, with callbacks, loggers,
    checkpoints and a run directory (see the module's docstring for the order of things).

    max_epochs / max_steps: stop after either (both None: 1000 epochs, as Lightning).
    val_check_interval: a float in (0, 1] validates after that fraction of each epoch, an int
    every that many training batches (counted across epochs). log_every_n_steps: how often a
    metrics row is written (and the only time step values are converted to numbers).
    seed: `odyssey.manual_seed(seed)` when fit starts (data loaders keep their own seeds).
    threads: `odyssey.set_num_threads(threads)`. config / run_info: the resolved configuration
    written to config.toml, and the paper, variant, model and dataset named in summary.json."""

    def __init__(
        self,
        max_epochs: int | None = None,
        max_steps: int | None = None,
        callbacks: Sequence[cb.Callback] | cb.Callback | None = None,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str = "norm",
        val_check_interval: float | int = 1.0,
        log_every_n_steps: int = 50,
        default_root_dir: str | Path | None = None,
        name: str | None = None,
        seed: int | None = None,
        threads: int | None = None,
        progress: bool = True,
        enable_checkpointing: bool = True,
        config: Mapping[str, Any] | None = None,
        run_info: Mapping[str, Any] | None = None,
    ) -> None:
        def bad(argument: str, expected: str, value: Any) -> ValueError:
            return ValueError(f"Trainer: {argument} must be {expected}, got {value!r}")

        for argument, value in (("max_epochs", max_epochs), ("max_steps", max_steps)):
            if value is not None and not _is_int(value):
                raise TypeError(f"Trainer: {argument} must be an int or None, got {value!r}")
            if value is not None and value < 0:
                raise bad(argument, "a non-negative int or None", value)
        if callbacks is None:
            callbacks = []
        elif isinstance(callbacks, cb.Callback):
            callbacks = [callbacks]
        elif not isinstance(callbacks, Iterable) or isinstance(callbacks, (str, bytes)):
            raise TypeError(
                f"Trainer: callbacks must be a list of Callback, got {type(callbacks).__name__}"
            )
        callbacks = list(callbacks)
        for index, callback in enumerate(callbacks):
            if not isinstance(callback, cb.Callback):
                raise TypeError(
                    f"Trainer: callbacks[{index}] must be a Callback instance, got "
                    f"{type(callback).__name__}"
                )
        if gradient_clip_val is not None and not (
            _is_real(gradient_clip_val) and gradient_clip_val >= 0
        ):
            raise bad("gradient_clip_val", "a non-negative number or None", gradient_clip_val)
        if gradient_clip_algorithm not in ("norm", "value"):
            raise bad("gradient_clip_algorithm", '"norm" or "value"', gradient_clip_algorithm)
        if _is_int(val_check_interval):
            if val_check_interval < 1:
                raise bad(
                    "val_check_interval", "an int >= 1 or a float in (0, 1]", val_check_interval
                )
        elif isinstance(val_check_interval, (float, np.floating)):
            if not 0.0 < val_check_interval <= 1.0:
                raise bad(
                    "val_check_interval", "a float in (0, 1] or an int >= 1", val_check_interval
                )
        else:
            raise TypeError(
                "Trainer: val_check_interval must be a float in (0, 1] or an int >= 1, got "
                f"{val_check_interval!r}"
            )
        if not _is_int(log_every_n_steps) or log_every_n_steps < 1:
            raise bad("log_every_n_steps", "a positive int", log_every_n_steps)
        if name is not None and (not isinstance(name, str) or not name or "/" in name):
            raise bad("name", "a non-empty string without '/'", name)
        if seed is not None:
            ody_random.check_seed(seed, "Trainer")
        if threads is not None and (not _is_int(threads) or threads < 1):
            raise bad("threads", "a positive int or None", threads)
        if config is not None and not isinstance(config, Mapping):
            raise TypeError(f"Trainer: config must be a dict, got {type(config).__name__}")
        if run_info is not None and not isinstance(run_info, Mapping):
            raise TypeError(f"Trainer: run_info must be a dict, got {type(run_info).__name__}")
        if default_root_dir is not None and not isinstance(default_root_dir, (str, Path)):
            raise TypeError(
                f"Trainer: default_root_dir must be a path, got {type(default_root_dir).__name__}"
            )
        if max_epochs is None and max_steps is None:
            max_epochs = 1000
        self.max_epochs = None if max_epochs is None else int(max_epochs)
        self.max_steps = None if max_steps is None else int(max_steps)
        self.callbacks: list[cb.Callback] = callbacks
        self.gradient_clip_val = None if gradient_clip_val is None else float(gradient_clip_val)
        self.gradient_clip_algorithm = gradient_clip_algorithm
        self.val_check_interval = val_check_interval
        self.log_every_n_steps = int(log_every_n_steps)
        self.default_root_dir = None if default_root_dir is None else Path(default_root_dir)
        self.name = name
        self.seed = None if seed is None else int(seed)
        self.threads = None if threads is None else int(threads)
        self.progress = bool(progress)
        self.enable_checkpointing = bool(enable_checkpointing)
        self.config = dict(config) if config is not None else None
        self.run_info = dict(run_info) if run_info is not None else {}

        self.current_epoch = 0
        self.global_step = 0
        self.batch_idx = 0
        self.num_training_batches = 0
        self.num_val_batches = 0
        self.num_test_batches = 0
        self.num_predict_batches = 0
        self.should_stop = False
        self.interrupted = False
        self.state: str | None = None
        self.optimizer: Optimizer | None = None
        self.lr_schedulers: list[_SchedulerConfig] = []
        self.run_dir: Path | None = None
        self.logged_metrics: dict[str, float] = {}
        self.last_checkpoint_path: Path | None = None
        self.ckpt_path: Path | None = None

        self._module: Any = None
        self._stage: str | None = None  # "train", "validation", "test", "predict"
        self._train_loader: Any = None
        self._val_loader: Any = None
        self._hook_cache: dict[str, tuple[list[Callable[..., Any]], Callable[..., Any] | None]] = {}
        self._log_context: str | None = None
        self._batch: Any = None
        self._step_values: dict[str, Any] = {}
        self._latest = _Metrics()
        self._logged_names: set[str] = set()  # what log() and the epoch means put in _latest
        self._prog_bar: set[str] = set()
        self._agg = _Aggregator()
        self._train_agg = self._agg
        self._pending_row: dict[str, float] = {}
        self._phase = _EPOCH_START
        self._epoch_batches = 0
        self._total_batches = 0  # training batches across epochs (an int val_check_interval)
        self._stepped = False  # whether the latest batch took an optimizer step
        self._best_val_accuracy: float | None = None
        self._session_started = time.perf_counter()  # when this process's fit started
        self._timing = {"wall_s": 0.0, "train_s": 0.0, "train_images": 0}
        self._interrupt_requested = False
        self._aborting = False
        self._params: list[Tensor] = []
        self._default_callbacks: list[cb.Callback] = []  # what the latest fit added
        self._run_started = False  # whether this fit has written to its run directory
        self._inside: str | None = None  # "step" or a stage: no checkpoint can be taken there
        self._run_config: dict[str, Any] | None = None  # as the run started; saved in checkpoints
        # During fit: writes the epoch-end checkpoints and CSV rewrites in the background.
        self._file_writer: FileWriter | None = None

    # -- what callbacks and loggers read ------------------------------------------------------

    @property
    def checkpoint_dir(self) -> Path | None:
        """`run_dir/checkpoints`, where ModelCheckpoint and Ctrl-C save."""
        return None if self.run_dir is None else self.run_dir / "checkpoints"

    @property
    def loggers(self) -> list[lg.Logger]:
        """The callbacks that are loggers, in order."""
        return [callback for callback in self.callbacks if isinstance(callback, lg.Logger)]

    @property
    def logger(self) -> lg.Logger | None:
        """The first logger (Lightning's trainer.logger)."""
        loggers = self.loggers
        return loggers[0] if loggers else None

    @property
    def lightning_module(self) -> Any:
        """The module being run (Lightning's name for it)."""
        return self._module

    @property
    def callback_metrics(self) -> MutableMapping[str, float]:
        """The latest value of every logged metric, as floats (each converted when read);
        callbacks may add their own (Throughput's train_img_per_s): those join the epoch rows."""
        return self._latest

    @property
    def training(self) -> bool:
        """True while fit runs training batches (not its validation)."""
        return self.state == "fitting" and self._stage == "train"

    @property
    def validating(self) -> bool:
        """True during validation, in fit or in validate()."""
        return self._stage == "validation"

    @property
    def testing(self) -> bool:
        """True during test()."""
        return self._stage == "test"

    @property
    def predicting(self) -> bool:
        """True during predict()."""
        return self._stage == "predict"

    @property
    def train_dataloader(self) -> Any:
        """The loader the latest fit trains on (None before any fit), as in Lightning."""
        return self._train_loader

    @property
    def optimizers(self) -> list[Optimizer]:
        """[the optimizer] (Lightning's list form)."""
        return [] if self.optimizer is None else [self.optimizer]

    @property
    def progress_bar_metrics(self) -> dict[str, float]:
        """The latest values of the metrics logged with prog_bar=True."""
        metrics = self.callback_metrics
        return {k: metrics[k] for k in self._prog_bar if k in metrics}

    @property
    def checkpoint_callback(self) -> cb.ModelCheckpoint | None:
        """The first ModelCheckpoint, if any."""
        for callback in self.callbacks:
            if isinstance(callback, cb.ModelCheckpoint):
                return callback
        return None

    @property
    def lr(self) -> float:
        """The learning rate of the optimizer's first parameter group."""
        return float(self.optimizer.param_groups[0]["lr"]) if self.optimizer is not None else 0.0

    # -- logging ------------------------------------------------------------------------------

    def _log(
        self,
        name: str,
        value: Any,
        on_step: bool | None,
        on_epoch: bool | None,
        prog_bar: bool,
        batch_size: int | None,
    ) -> None:
        """TrainModule.log's work (see there)."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"log: name must be a non-empty str, got {name!r}")
        if isinstance(value, Tensor):
            value = value.data
        metric = type(value) not in _PLAIN_VALUE_TYPES and _is_metric(value)
        if not metric and not isinstance(value, (np.ndarray, np.generic)) and not _is_real(value):
            raise TypeError(
                f"log: {name} must be a Tensor, an array, a number or a metric, got "
                f"{type(value).__name__}"
            )
        if prog_bar:
            self._prog_bar.add(name)
        self._logged_names.add(name)
        context = self._log_context
        if context is None:  # a hook outside any batch: the value goes straight to the epoch row
            value = _scalar(name, value.compute() if metric else value)
            self._latest[name] = value
            if self.state == "fitting":
                self._pending_row[name] = value
            return
        training = context == _TRAIN
        on_step = training if on_step is None else bool(on_step)
        on_epoch = (not training) if on_epoch is None else bool(on_epoch)
        if metric and on_step:
            raise ValueError(f"log: the metric object {name} is logged per epoch (on_step=False)")
        if on_step:
            self._latest[name] = value
            if training:
                self._step_values[name] = value
        if on_epoch:
            key = f"{name}_epoch" if on_step else name
            aggregator = self._agg
            if on_step:
                aggregator.both.add(key)
                self._logged_names.add(key)
            if metric:
                aggregator.metrics[key] = value
            else:
                size = _batch_size(self._batch) if batch_size is None else batch_size
                aggregator.sums.setdefault(key, []).append((value, size))

    def _epoch_values(self, aggregator: _Aggregator, reset: bool = True) -> dict[str, float]:
        """An aggregator's epoch values, also made the latest values (a metric logged both per
        step and per epoch reads as its epoch mean once the epoch is over, as in Lightning)."""
        values = aggregator.compute(reset)
        self._publish(values, aggregator.both)
        return values

    def _publish(self, values: Mapping[str, float], both: Iterable[str]) -> None:
        """Epoch values made the latest values (callback_metrics)."""
        self._latest.update(values)
        self._logged_names.update(values)
        for key in both:
            if key in values:
                self._latest[key[: -len("_epoch")]] = values[key]

    def _write_row(self, row: dict[str, Any]) -> None:
        self.logged_metrics = row
        step = int(row["step"])
        for logger in self.loggers:
            logger.log_metrics(row, step)

    # -- hooks --------------------------------------------------------------------------------

    def _hooks(self, name: str) -> tuple[list[Callable[..., Any]], Callable[..., Any] | None]:
        """The callbacks' and the module's overrides of hook `name` (no-ops are skipped, so an
        unused hook costs nothing per step)."""
        entry = self._hook_cache.get(name)
        if entry is None:
            overrides = []
            for callback in self.callbacks:
                function = getattr(type(callback), name, None)
                if function is not None and function is not getattr(cb.Callback, name, None):
                    overrides.append(getattr(callback, name))
            module_hook = None
            module = self._module
            function = getattr(type(module), name, None)
            if function is not None and function is not getattr(TrainModule, name, None):
                module_hook = getattr(module, name)
            entry = (overrides, module_hook)
            self._hook_cache[name] = entry
        return entry

    def _call(self, name: str, *args: Any) -> None:
        """Runs hook `name` on every callback (with trainer and module first), then the module."""
        entry = self._hook_cache.get(name)  # a step calls six hooks: no call to _hooks
        callbacks, module_hook = self._hooks(name) if entry is None else entry
        if callbacks:
            module = self._module
            for hook in callbacks:
                hook(self, module, *args)
        if module_hook is not None:
            module_hook(*args)

    def _call_epoch_end(self) -> None:
        """on_train_epoch_end: callbacks, the module, then the monitoring callbacks
        (ModelCheckpoint, EarlyStopping) so that they see what the module logged (Lightning)."""
        callbacks, module_hook = self._hooks("on_train_epoch_end")
        monitoring = (cb.ModelCheckpoint, cb.EarlyStopping)
        for hook in callbacks:
            if not isinstance(hook.__self__, monitoring):
                hook(self, self._module)
        if module_hook is not None:
            module_hook()
        for hook in callbacks:
            if isinstance(hook.__self__, monitoring):
                hook(self, self._module)

    # -- setting up ---------------------------------------------------------------------------

    def _check_module(self, module: Any, method: str, needs: Sequence[str]) -> None:
        where = f"Trainer.{method}"
        for attribute in ("parameters", "state_dict", "load_state_dict", "train", "eval"):
            if not callable(getattr(module, attribute, None)):
                raise TypeError(
                    f"{where}: module must be a TrainModule (with {attribute}()), got "
                    f"{type(module).__name__}"
                )
        for step in needs:
            function = getattr(type(module), step, None)
            if not callable(function) or function is getattr(TrainModule, step, None):
                raise TypeError(f"{where}: {type(module).__name__} does not define {step}")

    def _check_loader(self, loader: Any, method: str, argument: str) -> None:
        if not isinstance(loader, Iterable):
            raise TypeError(
                f"Trainer.{method}: {argument} must be an iterable of batches (a DataLoader), "
                f"got {type(loader).__name__}"
            )

    def _attach(self, module: Any, stage: str) -> None:
        self._module = module
        object.__setattr__(module, "_trainer", self)
        self._hook_cache = {}
        self.state = stage
        if self.threads is not None:
            odyssey.set_num_threads(self.threads)

    def _detach(self) -> None:
        self._log_context = None
        self._batch = None
        self._inside = None
        if self._module is not None:
            object.__setattr__(self._module, "_trainer", None)

    def _add_default_callbacks(self) -> None:
        """ModelCheckpoint(save_last=True), CSVLogger, JSONLLogger, ProgressBar and Throughput,
        each unless one of its class is there already; checkpoint callbacks run last. Each fit
        gets new ones: those of an earlier fit (and their state) are dropped first."""
        added = {id(callback) for callback in self._default_callbacks}
        self.callbacks[:] = [c for c in self.callbacks if id(c) not in added]
        self._default_callbacks = []
        present = {type(callback) for callback in self.callbacks}
        defaults: list[tuple[type, Callable[[], cb.Callback], bool]] = [
            (
                cb.ModelCheckpoint,
                lambda: cb.ModelCheckpoint(save_last=True),
                self.enable_checkpointing,
            ),
            (lg.CSVLogger, lg.CSVLogger, True),
            (lg.JSONLLogger, lg.JSONLLogger, True),
            (ProgressBar, ProgressBar, self.progress),
            (cb.Throughput, cb.Throughput, True),
        ]
        for klass, make, wanted in defaults:
            if wanted and not any(issubclass(p, klass) for p in present):
                self._default_callbacks.append(make())
        self.callbacks.extend(self._default_callbacks)
        checkpoints = [c for c in self.callbacks if isinstance(c, cb.ModelCheckpoint)]
        others = [c for c in self.callbacks if not isinstance(c, cb.ModelCheckpoint)]
        self.callbacks[:] = others + checkpoints
        self._hook_cache = {}

    def _configure_optimizers(self, module: Any) -> None:
        result = module.configure_optimizers()
        scheduler: Any = None
        if isinstance(result, (tuple, list)) and len(result) == 2:
            optimizers, scheduler = result
            optimizers = list(optimizers) if isinstance(optimizers, (list, tuple)) else [optimizers]
            if len(optimizers) != 1:
                raise ValueError(
                    f"configure_optimizers: the Trainer runs one optimizer, got {len(optimizers)}"
                )
            optimizer = optimizers[0]
            if isinstance(scheduler, (list, tuple)) and not scheduler:
                scheduler = None
        elif isinstance(result, Mapping):
            if "optimizer" not in result:
                raise ValueError('configure_optimizers: the dict needs an "optimizer" entry')
            optimizer = result["optimizer"]
            scheduler = result.get("lr_scheduler")
        else:
            optimizer = result
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                "configure_optimizers must return an odyssey Optimizer or a dict with one, got "
                f"{type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        self.lr_schedulers = [] if scheduler is None else _scheduler_configs(scheduler)

    def _new_run_dir(self, module: Any, ckpt_path: str | Path | None) -> Path:
        """The fit's run directory: default_root_dir (created once the run starts), the run of
        a checkpoint in `<run>/checkpoints/`, or a new `runs/<name>/<time>`."""
        if self.default_root_dir is None:
            if ckpt_path is not None:
                parent = Path(ckpt_path).resolve().parent
                if parent.name == "checkpoints" and (parent.parent / rundir.CONFIG).exists():
                    return parent.parent
            return rundir.make_run_dir(None, self.name or type(module).__name__)
        if ckpt_path is None:
            # A new run in an old run's directory would mix the two (metrics, checkpoints,
            # summary): refused before anything is written.
            found = rundir.run_files(self.default_root_dir)
            if found:
                shown = ", ".join(found[:4]) + (f" and {len(found) - 4} more" if found[4:] else "")
                raise RunDirectoryError(
                    f"Trainer.fit: default_root_dir {self.default_root_dir} already holds a run "
                    f"({shown}); to continue it, pass ckpt_path= one of its checkpoints; for a "
                    "new run, give another default_root_dir"
                )
        return self.default_root_dir

    def _resolved_config(self) -> dict[str, Any]:
        if self.config is not None:
            return self.config
        return {
            "trainer": {
                "max_epochs": self.max_epochs,
                "max_steps": self.max_steps,
                "gradient_clip_val": self.gradient_clip_val,
                "gradient_clip_algorithm": self.gradient_clip_algorithm,
                "val_check_interval": self.val_check_interval,
                "log_every_n_steps": self.log_every_n_steps,
                "seed": self.seed,
                "threads": self.threads,
            },
            "run_info": self.run_info,
        }

    # -- fit ----------------------------------------------------------------------------------

    def fit(
        self,
        module: Any,
        train_loader: Iterable[Any],
        val_loader: Iterable[Any] | None = None,
        ckpt_path: str | Path | None = None,
    ) -> None:
        """Trains `module` on `train_loader`, validating on `val_loader` every
        val_check_interval; `ckpt_path` resumes from a checkpoint exactly where it was taken.
        Ctrl-C saves `checkpoints/interrupted.safetensors` and raises SystemExit(130).
        Without ckpt_path, a default_root_dir that already holds a run is a RunDirectoryError;
        a checkpoint that does not fit is a CheckpointError that leaves its run as it was."""
        needs = ["training_step", "configure_optimizers"]
        if val_loader is not None:
            needs.append("validation_step")
        self._check_module(module, "fit", needs)
        self._check_loader(train_loader, "fit", "train_loader")
        if val_loader is not None:
            self._check_loader(val_loader, "fit", "val_loader")
        if not hasattr(train_loader, "__len__"):
            raise TypeError("Trainer.fit: train_loader must have a length (len(loader) batches)")
        if len(train_loader) == 0:  # type: ignore[arg-type]
            raise ValueError("Trainer.fit: train_loader yields no batches")
        if ckpt_path is not None and not isinstance(ckpt_path, (str, Path)):
            raise TypeError(
                f"Trainer.fit: ckpt_path must be a path, got {type(ckpt_path).__name__}"
            )
        run_dir = self._new_run_dir(module, ckpt_path)
        started = self._session_started = time.perf_counter()
        self._reset_fit_state()
        self.run_dir = run_dir
        self._train_loader, self._val_loader = train_loader, val_loader
        self.num_training_batches = len(train_loader)  # type: ignore[arg-type]
        self.num_val_batches = len(val_loader) if hasattr(val_loader, "__len__") else 0  # type: ignore[arg-type]
        if self.seed is not None:
            odyssey.manual_seed(self.seed)
        self._attach(module, "fitting")
        status = "failed"
        self._file_writer = FileWriter()
        try:
            self._add_default_callbacks()
            with self._sigint_guard():
                self._fit(module, ckpt_path, started)
                self._file_writer.wait()  # a failed background write fails the fit
            status = "success"
        except _Interrupted:
            status = "interrupted"
            self._call_on_exception(KeyboardInterrupt())
        except BaseException as error:
            if not self._aborting:
                self._call_on_exception(error)
            raise
        finally:
            # What is queued is written (after a failure too: those saves were asked for before
            # it) before the run's last files; a failure of it is kept by the writer, unraised.
            writer, self._file_writer = self._file_writer, None
            writer.close()
            if not self._aborting:
                self._timing["wall_s"] += time.perf_counter() - started
                self._finish(module, status)
            self._detach()
            self.state = self._stage = None
        if status == "interrupted":
            raise SystemExit(INTERRUPTED_STATUS)

    def _reset_fit_state(self) -> None:
        self.current_epoch = 0
        self.global_step = 0
        self.batch_idx = 0
        self.should_stop = False
        self.interrupted = False
        self.logged_metrics = {}
        self._latest, self._step_values, self._pending_row = _Metrics(), {}, {}
        self._logged_names = set()
        self.ckpt_path = None
        self.last_checkpoint_path = None
        self._agg = self._train_agg = _Aggregator()
        self._phase = _EPOCH_START
        self._epoch_batches = 0
        self._total_batches = 0
        self._stepped = False
        self._best_val_accuracy = None
        self._timing = {"wall_s": 0.0, "train_s": 0.0, "train_images": 0}
        self._interrupt_requested = False
        self._aborting = False
        self._run_started = False
        self._inside = None
        self._run_config = None

    def _fit(self, module: Any, ckpt_path: str | Path | None, started: float) -> None:
        self._call("setup", "fit")
        module.train()
        self._configure_optimizers(module)
        self._params = list(module.parameters())
        config = self._run_config = self._resolved_config()
        resuming = ckpt_path is not None
        if resuming:
            self.ckpt_path = Path(ckpt_path)
            config = self._restore(module, self.ckpt_path, config)
        # Only now, the checkpoint (if any) restored, is the run directory written to.
        self._run_started = True
        self.run_dir.mkdir(parents=True, exist_ok=True)
        rundir.write_config(self.run_dir / rundir.CONFIG, config)
        rundir.forget_test_metrics(self.run_dir / rundir.SUMMARY)  # they described other weights
        for logger in self.loggers:
            logger.log_hyperparams(config)
        self._call("on_fit_start")
        self._call("on_train_start")
        self._stage = "train"
        self._train_loop(module, resuming)
        self._stage = None
        self._check_interrupt()  # a Ctrl-C during the last step or validation
        # The checkpoints are on disk before on_train_end, where a callback may load the best.
        self._file_writer.wait()
        self._call("on_train_end")
        self._call("on_fit_end")
        self._check_interrupt()

    def _training_done(self) -> bool:
        return (
            self.should_stop
            or (self.max_epochs is not None and self.current_epoch >= self.max_epochs)
            or (self.max_steps is not None and self.global_step >= self.max_steps)
        )

    def _stop_in_epoch(self) -> bool:
        return self.should_stop or (
            self.max_steps is not None and self.global_step >= self.max_steps
        )

    def _train_loop(self, module: Any, resuming: bool) -> None:
        loader = self._train_loader
        count = self.num_training_batches
        # A resumed run first finishes what the checkpointed batch or epoch had left to do.
        pending = resuming and self._phase != _EPOCH_START
        while pending or not self._training_done():
            self._check_interrupt()
            if not pending:
                self._start_epoch()
            elif self._phase in (_ROW, _VALIDATION, _PLATEAU):
                self._finish_batch(self._phase)
                self._check_interrupt()
            if not (pending and self._phase == _EPOCH_END):
                if self._epoch_batches < count and not self._stop_in_epoch():
                    self._run_batches(module, loader)
                self._end_epoch(from_hooks=True)
            else:
                self._end_epoch(from_hooks=False)
            pending = False

    def _start_epoch(self) -> None:
        self._agg = self._train_agg = _Aggregator()
        self._epoch_batches = 0
        self._phase = _NEXT_BATCH
        set_epoch = getattr(self._train_loader, "set_epoch", None)
        if set_epoch is not None:
            set_epoch(self.current_epoch)
        self._call("on_train_epoch_start")

    def _run_batches(self, module: Any, loader: Iterable[Any]) -> None:
        iterator = iter(loader)
        writer = self._file_writer
        try:
            train_seconds = 0.0
            start = time.perf_counter()
            for batch in iterator:
                if writer is not None:
                    writer.release()  # the epoch end's writes, while this step computes
                self._train_step(module, batch)
                train_seconds += time.perf_counter() - start
                self._finish_batch(_ROW)
                start = time.perf_counter()
                if self._stop_in_epoch() or self._epoch_batches >= self.num_training_batches:
                    break
                self._timing["train_s"] += train_seconds
                train_seconds = 0.0
                self._check_interrupt()
            self._timing["train_s"] += train_seconds
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    def _train_step(self, module: Any, batch: Any) -> None:
        """One optimization step, hooks in Lightning's order."""
        index = self._epoch_batches
        self.batch_idx = index
        self._batch = batch
        self._step_values.clear()
        self._log_context = _TRAIN
        self._inside = "step"  # no checkpoint until the step is done
        self._call("on_train_batch_start", batch, index)
        outputs = module.training_step(batch, index)
        if isinstance(outputs, Tensor):  # the common case, before an ABC check
            loss = outputs
        else:
            loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        optimizer = self.optimizer
        if loss is not None:
            if not isinstance(loss, Tensor):
                raise TypeError(
                    f"{type(module).__name__}.training_step must return the loss Tensor or a dict "
                    f"with it under 'loss', got {type(loss).__name__}"
                )
            self._call("on_before_zero_grad", optimizer)
            optimizer.zero_grad()
            self._call("on_before_backward", loss)
            loss.backward()
            self._call("on_after_backward")
            self._call("on_before_optimizer_step", optimizer)
            if self.gradient_clip_val:
                if self.gradient_clip_algorithm == "norm":
                    clip_grad_norm_(self._params, self.gradient_clip_val)
                else:
                    clip_grad_value_(self._params, self.gradient_clip_val)
            optimizer.step()
            self.global_step += 1
            for config in self.lr_schedulers:
                if (
                    config["interval"] == "step"
                    and self.global_step % config["frequency"] == 0
                    and not _is_plateau(config["scheduler"])
                ):
                    config["scheduler"].step()
        # A training_step returning None skips the batch's optimizer step (Lightning): no step
        # is counted, no scheduler steps and no row is written for it.
        self._stepped = loss is not None
        self._epoch_batches += 1
        self._total_batches += 1
        self._timing["train_images"] += _batch_size(batch)
        self._phase = _ROW
        self._inside = None
        self._call("on_train_batch_end", outputs, batch, index)
        self._log_context = None
        self._batch = None

    def _val_due(self) -> bool:
        if self._val_loader is None:
            return False
        interval = self.val_check_interval
        if _is_int(interval):
            return self._total_batches % int(interval) == 0
        every = max(1, int(self.num_training_batches * float(interval)))
        return self._epoch_batches % every == 0

    def _finish_batch(self, phase: int) -> None:
        """What follows a step: its metrics row, validation, plateau schedulers."""
        if phase <= _ROW:
            if self._stepped and self.global_step % self.log_every_n_steps == 0:
                row: dict[str, Any] = {"epoch": self.current_epoch, "step": self.global_step}
                for name, value in self._step_values.items():
                    row[name] = _scalar(name, value)
                row["lr"] = self.lr
                self._write_row(row)
            self._phase = _VALIDATION
        if phase <= _VALIDATION:
            if self._val_due():
                self._phase = _VALIDATION
                self._fit_validation()
            self._phase = _PLATEAU
        if phase <= _PLATEAU:
            for config in self.lr_schedulers:
                if (
                    config["interval"] == "step"
                    and self._stepped
                    and self.global_step % config["frequency"] == 0
                    and _is_plateau(config["scheduler"])
                ):
                    self._step_plateau(config)
            self._phase = _NEXT_BATCH

    def _step_plateau(self, config: _SchedulerConfig) -> None:
        monitor = config["monitor"]
        metrics = self.callback_metrics
        if monitor not in metrics:
            if config["strict"]:
                raise RuntimeError(
                    f"Trainer: ReduceLROnPlateau conditioned on metric {monitor!r} which is not "
                    f"available; available metrics are {sorted(metrics)}. Set the scheduler "
                    'dict\'s "monitor" to one of them'
                )
            return
        config["scheduler"].step(metrics[monitor])

    def _fit_validation(self) -> None:
        """Validation inside fit: its epoch values become a row (or join the epoch's row)."""

        def publish(values: dict[str, float]) -> None:
            if self._epoch_batches >= self.num_training_batches:
                self._pending_row.update(values)
            elif values:
                self._write_row({"epoch": self.current_epoch, "step": self.global_step, **values})
            accuracy = values.get("val_accuracy")
            if accuracy is not None and not math.isnan(accuracy):
                best = self._best_val_accuracy
                self._best_val_accuracy = accuracy if best is None else max(best, accuracy)
            # A checkpoint taken from on_validation_end resumes after this validation.
            self._phase = _PLATEAU

        self._evaluate(self._module, self._val_loader, "validation", publish)

    def _end_epoch(self, from_hooks: bool) -> None:
        if self._file_writer is not None:
            self._file_writer.hold()  # released by the next step (or the end of fit)
        if from_hooks:
            self._pending_row.update(self._epoch_values(self._train_agg))
            self._phase = _EPOCH_END
            self._call_epoch_end()
        row = {"epoch": self.current_epoch, "step": self.global_step, **self._pending_row}
        for key in self._latest:  # what callbacks put in callback_metrics (train_img_per_s)
            if key not in self._logged_names and key not in row:
                row[key] = self._latest[key]
        self._pending_row = {}
        for config in self.lr_schedulers:
            if (
                config["interval"] == "epoch"
                and (self.current_epoch + 1) % config["frequency"] == 0
            ):
                if _is_plateau(config["scheduler"]):
                    self._step_plateau(config)
                else:
                    config["scheduler"].step()
        # As in a step row, the lr from this row on: after the epoch's scheduler step.
        row["lr"] = self.lr
        self._write_row(row)
        self.current_epoch += 1
        self._epoch_batches = 0
        self._phase = _EPOCH_START

    # -- the end of a fit ---------------------------------------------------------------------

    def _finish(self, module: Any, status: str) -> None:
        """Loggers finalized, the final weights, summary.json and curves.png written, teardown
        called: after any fit that wrote to its run directory, even one that failed. (One that
        failed before, e.g. on a checkpoint that does not fit, leaves the directory as it
        was: a finished run's summary is not turned into a failed one.)"""
        try:
            for logger in self.loggers:
                logger.finalize(status)
            if status == "success" and self._run_started:
                sha = rundir.write_weights(self.run_dir / rundir.WEIGHTS, module.state_dict())
                self._write_fit_summary(module, status, sha)
                # A Ctrl-C checkpoint is for resuming; once the run is complete, it is stale.
                (self.checkpoint_dir / _INTERRUPTED).unlink(missing_ok=True)
                # metrics.jsonl's rows, those before a resume included (checkpoints hold none).
                jsonl = next((x for x in self.loggers if isinstance(x, lg.JSONLLogger)), None)
                if jsonl is not None and jsonl.rows:
                    plots.plot_curves(jsonl.rows, self.run_dir / "curves.png")
            elif self._run_started:
                self._write_fit_summary(module, status, None)
        except Exception:
            if status == "success":
                raise
            # After a failure, the failure is what the user needs to see, not a follow-up one.
        finally:
            self._call("teardown", "fit")

    def _write_fit_summary(self, module: Any, status: str, sha: str | None) -> None:
        info = self.run_info
        model = getattr(module, "model", module)
        train_s = self._timing["train_s"]
        summary = rundir.read_summary(self.run_dir / rundir.SUMMARY)
        commit, repository = rundir.git_repository(_source_dir(module))
        summary.update(
            {
                "status": status,
                "paper": info.get("paper"),
                "variant": info.get("variant"),
                "model": info.get("model", type(model).__name__),
                "dataset": info.get("dataset"),
                "epochs": self.current_epoch,
                "steps": self.global_step,
                # The Trainer's seed, else the one odyssey.manual_seed last received.
                "seed": self.seed if self.seed is not None else odyssey.initial_seed(),
                "threads": odyssey.get_num_threads(),
                "isa": odyssey.cpu_info()["isa_selected"],
                "test_accuracy": summary.get("test_accuracy"),
                "test_loss": summary.get("test_loss"),
                "best_val_accuracy": self._best_val_accuracy,
                "wall_s": self._timing["wall_s"],
                "train_img_per_s": self._timing["train_images"] / train_s if train_s else None,
                "odyssey_version": odyssey.__version__,
                # The repository of the model's source (else of the current directory).
                "git_commit": commit,
                "git_repository": repository,
                "weights": rundir.WEIGHTS if sha is not None else None,
                "weights_sha256": sha,
                "run_dir": str(self.run_dir),
            }
        )
        rundir.write_summary(self.run_dir / rundir.SUMMARY, summary)

    def _call_on_exception(self, error: BaseException) -> None:
        callbacks, module_hook = self._hooks("on_exception")
        for hook in callbacks:
            hook(self, self._module, error)
        if module_hook is not None:
            module_hook(error)

    # -- Ctrl-C -------------------------------------------------------------------------------

    @contextmanager
    def _sigint_guard(self) -> Iterator[None]:
        """During fit, the first SIGINT asks for a checkpoint at the next step boundary; a
        second one raises KeyboardInterrupt at once. (Only the main thread can catch signals;
        elsewhere Ctrl-C is an ordinary KeyboardInterrupt.)"""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: Any) -> None:
            if self._interrupt_requested:
                self._aborting = True
                signal.signal(signal.SIGINT, signal.default_int_handler)
                raise KeyboardInterrupt
            self._interrupt_requested = True
            print(
                "\nodyssey: interrupted; finishing this step to save a checkpoint "
                "(Ctrl-C again aborts without saving)",
                file=sys.stderr,
                flush=True,
            )

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _check_interrupt(self) -> None:
        if not self._interrupt_requested:
            return
        path = self.checkpoint_dir / _INTERRUPTED
        self.save_checkpoint(path)
        self.interrupted = True
        where = (
            f"the end of epoch {self.current_epoch}"
            if self._phase == _EPOCH_START
            else f"epoch {self.current_epoch + 1}, batch {self._epoch_batches}/"
            f"{self.num_training_batches}"
        )
        print(
            f"odyssey: stopped at step {self.global_step} ({where}); saved a resumable "
            f"checkpoint to {path}; resume with Trainer(...).fit(..., ckpt_path={str(path)!r})",
            file=sys.stderr,
            flush=True,
        )
        raise _Interrupted

    # -- checkpoints --------------------------------------------------------------------------

    def _checkpoint_state(self) -> dict[str, Any]:
        loader = self._train_loader
        metrics = _module_metrics(self._module)
        paths = {id(metric): path for path, metric in metrics.items()}
        schedulers = [config["scheduler"] for config in self.lr_schedulers]
        return {
            "trainer": {
                "format": _STATE_FORMAT,
                "epoch": self.current_epoch,
                "global_step": self.global_step,
                "epoch_batches": self._epoch_batches,
                "total_batches": self._total_batches,
                "stepped": self._stepped,
                "phase": self._phase,
                "seed": self.seed,
            },
            "loader": loader.state_dict() if hasattr(loader, "state_dict") else None,
            "schedulers": [scheduler.state_dict() for scheduler in schedulers],
            "scheduler_classes": [type(scheduler).__name__ for scheduler in schedulers],
            "metrics": {path: metric.state_dict() for path, metric in metrics.items()},
            "rng": ody_random.generator().bit_generator.state,
            "callbacks": {callback.state_key: callback.state_dict() for callback in self.callbacks},
            # The rows themselves are in metrics.jsonl, which the loggers cut back to their
            # count on resume: a checkpoint stays small however long the run.
            "logging": {
                "latest": dict(self._latest),
                "logged_names": sorted(self._logged_names),
                "step_values": {k: _scalar(k, v) for k, v in self._step_values.items()},
                "train": self._train_agg.state_dict(paths),
                "pending_row": dict(self._pending_row),
                "logged_metrics": dict(self.logged_metrics),
                "prog_bar": sorted(self._prog_bar),
            },
            "run": {
                "best_val_accuracy": self._best_val_accuracy,
                # This session's time so far counts too: a resumed run's wall_s is the sum of
                # its sessions, not only the last one's.
                "timing": {
                    **self._timing,
                    "wall_s": self._timing["wall_s"] + time.perf_counter() - self._session_started,
                },
            },
            "config": self._run_config if self._run_config is not None else self._resolved_config(),
        }

    def save_checkpoint(self, filepath: str | Path, weights_only: bool = False) -> Path:
        """Saves the full resumable state to one safetensors file, atomically (mid-epoch too,
        between steps: inside a training step or before a validation pass's metrics are in, a
        RuntimeError). Callbacks' and the module's on_save_checkpoint may add entries to the
        state first. weights_only: the module's weights alone, a plain file odyssey.load reads,
        at any time. The file is complete when this returns."""
        return self._save_checkpoint(filepath, weights_only, background=False)

    def _save_checkpoint_in_background(self, filepath: str | Path) -> Path:
        """ModelCheckpoint's save: `save_checkpoint` with the state taken now and the file
        written by the fit's FileWriter (at once outside fit)."""
        return self._save_checkpoint(filepath, False, background=True)

    def _save_checkpoint(self, filepath: str | Path, weights_only: bool, background: bool) -> Path:
        if self._module is None or self.optimizer is None:
            raise RuntimeError("Trainer.save_checkpoint: nothing to save before fit has started")
        if self._inside == "step" and not weights_only:
            raise RuntimeError(
                "Trainer.save_checkpoint: called inside a training step (from "
                "on_train_batch_start to the optimizer step), where a checkpoint cannot resume "
                "exactly; save from on_train_batch_end or another hook between steps"
            )
        if self._inside is not None and not weights_only:
            raise RuntimeError(
                f"Trainer.save_checkpoint: called during the {self._inside} pass, before its "
                f"metrics are computed, where a checkpoint cannot resume exactly; save from "
                f"on_{self._inside}_end or a hook between training steps"
            )
        writer = self._file_writer
        if weights_only:
            path = Path(filepath)
            path.parent.mkdir(parents=True, exist_ok=True)
            if writer is not None:
                writer.wait()  # no queued write to this path may land after this one
            odyssey.save(self._module.state_dict(), path)
            return path
        state = self._checkpoint_state()
        for hook in self._hooks("on_save_checkpoint")[0]:
            hook(self, self._module, state)
        module_hook = self._hooks("on_save_checkpoint")[1]
        if module_hook is not None:
            module_hook(state)
        path = Path(filepath)
        path.parent.mkdir(parents=True, exist_ok=True)
        if background and writer is not None:
            arrays, metadata = ckpt.checkpoint_contents(self._module, self.optimizer, state)
            writer.submit(path, True, functools.partial(ckpt.write_file, path, arrays, metadata))
            saved = path
        else:
            if writer is not None:
                writer.wait()  # the CSV rewrite queued by on_save_checkpoint, and older saves
            saved = ckpt.save_checkpoint(path, self._module, self.optimizer, state)
        self.last_checkpoint_path = Path(saved) if saved is not None else path
        return self.last_checkpoint_path

    def _check_checkpoint(self, module: Any, checkpoint: ckpt.Checkpoint) -> dict[str, Any]:
        """Raises a CheckpointError naming the file and what differs unless every part of the
        checkpoint fits this fit (nothing is loaded here); returns the module's metrics."""
        path, state = checkpoint.path, checkpoint.state

        def error(what: str) -> CheckpointError:
            return CheckpointError(f"Trainer.fit: ckpt_path: {path}: {what}")

        trainer_state = state.get("trainer") if isinstance(state, Mapping) else None
        if not isinstance(trainer_state, Mapping) or "phase" not in trainer_state:
            raise error(
                "not a Trainer checkpoint (no loop state); load plain weights with odyssey.load "
                "and module.load_state_dict"
            )
        if trainer_state.get("format") != _STATE_FORMAT:
            raise error(
                f"Trainer state format {trainer_state.get('format')!r}, this version reads "
                f"{_STATE_FORMAT}"
            )
        checkpoint.check_model(module, "Trainer.fit: ckpt_path")
        checkpoint.check_optimizer(self.optimizer, "Trainer.fit: ckpt_path")
        schedulers = [config["scheduler"] for config in self.lr_schedulers]
        saved_schedulers = state["schedulers"]
        if len(saved_schedulers) != len(schedulers):
            raise error(
                f"it has {len(saved_schedulers)} LR scheduler(s), the module configures "
                f"{len(schedulers)}"
            )
        classes = state["scheduler_classes"]
        for index, (scheduler, saved, name) in enumerate(
            zip(schedulers, saved_schedulers, classes, strict=True)
        ):
            here = type(scheduler).__name__
            if here != name:
                raise error(f"LR scheduler {index} is {here} here but {name} in the checkpoint")
            unknown = sorted(set(saved) - set(scheduler.state_dict()))
            if unknown:
                raise error(f"LR scheduler {index} ({here}) has no {', '.join(unknown)}")
        loader_state = state.get("loader")
        loader = self._train_loader
        if loader_state is not None and hasattr(loader, "state_dict"):
            ours = loader.state_dict()
            for key, value in loader_state.items():
                if key not in ("epoch", "batches") and key in ours and ours[key] != value:
                    raise error(
                        f"the training loader's {key} is {ours[key]!r} here but {value!r} in the "
                        "checkpoint: the batches would differ"
                    )
        metrics = _module_metrics(module)
        for name, saved in state["metrics"].items():
            if name in metrics:
                trial = copy.deepcopy(metrics[name])
                try:
                    trial.load_state_dict(saved)
                except Exception as failure:
                    raise error(
                        f"the metric {name} ({type(trial).__name__}) does not take its saved "
                        f"state: {failure}"
                    ) from None
        for key, where in state["logging"]["train"]["metrics"].items():
            if where not in metrics:
                warnings.warn(
                    f"Trainer.fit: ckpt_path: {path}: the metric object logged as {key!r} is not "
                    "held by the module (as an attribute, or in a dict or list attribute), so "
                    "its state was not saved: its value for this epoch counts only the batches "
                    "after the checkpoint",
                    stacklevel=5,
                )
        return metrics

    def _restore(self, module: Any, path: Path, config: dict[str, Any]) -> dict[str, Any]:
        """Everything `_checkpoint_state` saved, put back (after setup and configure_optimizers,
        before on_fit_start, as in Lightning). Every part is checked first, and what was loaded
        is undone if loading fails, so a checkpoint that does not fit changes nothing. Returns
        the configuration to record in config.toml."""
        checkpoint = ckpt.load_checkpoint(path)
        state = checkpoint.state
        try:
            metrics = self._check_checkpoint(module, checkpoint)
        except (KeyError, TypeError) as missing:
            raise CheckpointError(
                f"Trainer.fit: ckpt_path: {path}: its Trainer state is incomplete ({missing!r})"
            ) from None
        written = self._compare_config(path, state.get("config"), config)
        trainer_state = state["trainer"]
        schedulers = [entry["scheduler"] for entry in self.lr_schedulers]
        optimizer = self.optimizer
        backup = (
            {name: np.array(value) for name, value in module.state_dict().items()},
            copy.deepcopy(optimizer.state_dict()),
            [scheduler.state_dict() for scheduler in schedulers],
            {name: metric.state_dict() for name, metric in metrics.items()},
            ody_random.generator().bit_generator.state,
        )
        try:
            checkpoint.restore(module, optimizer)
            for scheduler, scheduler_state in zip(schedulers, state["schedulers"], strict=True):
                scheduler.load_state_dict(scheduler_state)
            for name, metric_state in state["metrics"].items():
                if name in metrics:
                    metrics[name].load_state_dict(metric_state)
            ody_random.generator().bit_generator.state = state["rng"]
            callback_states = state.get("callbacks", {})
            for callback in self.callbacks:
                saved = callback_states.get(callback.state_key)
                if saved is not None:
                    callback.load_state_dict(saved)
            loader_state = state.get("loader")
            loader = self._train_loader
            if (
                loader_state is not None
                and hasattr(loader, "load_state_dict")
                and int(trainer_state["phase"]) != _EPOCH_START
                and int(trainer_state["epoch_batches"]) < self.num_training_batches
            ):
                loader.load_state_dict(loader_state)
        except Exception as failure:
            weights, optimizer_state, scheduler_states, metric_states, rng = backup
            module.load_state_dict(weights)
            optimizer.load_state_dict(optimizer_state)
            for scheduler, scheduler_state in zip(schedulers, scheduler_states, strict=True):
                scheduler.load_state_dict(scheduler_state)
            for name, metric_state in metric_states.items():
                metrics[name].load_state_dict(metric_state)
            ody_random.generator().bit_generator.state = rng
            if isinstance(failure, CheckpointError):
                raise
            raise CheckpointError(f"Trainer.fit: ckpt_path: {path}: {failure}") from failure
        for hook in self._hooks("on_load_checkpoint")[0]:
            hook(self, module, state)
        module_hook = self._hooks("on_load_checkpoint")[1]
        if module_hook is not None:
            module_hook(state)

        # should_stop is not restored: the restored callbacks decide again (Lightning).
        self.current_epoch = int(trainer_state["epoch"])
        self.global_step = int(trainer_state["global_step"])
        self._epoch_batches = int(trainer_state["epoch_batches"])
        self._total_batches = int(trainer_state["total_batches"])
        self._stepped = bool(trainer_state["stepped"])
        self._phase = int(trainer_state["phase"])
        self.batch_idx = max(self._epoch_batches - 1, 0)
        logging = state["logging"]
        self._latest = _Metrics()
        self._latest.update(logging["latest"])
        self._logged_names = set(logging["logged_names"])
        self._step_values = dict(logging["step_values"])
        self._train_agg = self._agg = _Aggregator()
        self._train_agg.load_state_dict(logging["train"], metrics)
        self._pending_row = dict(logging["pending_row"])
        self.logged_metrics = dict(logging["logged_metrics"])
        self._prog_bar = set(logging["prog_bar"])
        run = state["run"]
        self._best_val_accuracy = run["best_val_accuracy"]
        self._timing.update(run["timing"])
        if state.get("config") is not None:
            self._run_config = dict(state["config"])  # later checkpoints keep the run's own
        return written

    def _compare_config(
        self, path: Path, saved: Mapping[str, Any] | None, config: dict[str, Any]
    ) -> dict[str, Any]:
        """The configuration to record for a resumed fit: `config` as given, with a [resumed]
        table listing the checkpoint's values of the keys that differ (and a warning naming
        them), since the checkpoint's state, not the new value, decides what it holds."""
        if saved is None:
            return config
        old, new = _flatten(saved), _flatten(config)
        differ = [key for key in sorted(old.keys() | new.keys()) if old.get(key) != new.get(key)]
        if self.config is None:  # the Trainer's own settings: all but the seed apply as given
            differ = [k for k in differ if not k.startswith("trainer.") or k == "trainer.seed"]
        if not differ:
            return config
        unset = "(not set)"
        shown = ", ".join(
            f"{key} ({old.get(key, unset)!r} in the checkpoint, {new.get(key, unset)!r} now)"
            for key in differ
        )
        warnings.warn(
            f"Trainer.fit: resuming from {path} with a configuration that differs from the "
            f"run's in {shown}. The checkpoint's weights, optimizer, LR scheduler, data order and "
            "random state are restored, so what they hold (the learning rate, optimizer and "
            "scheduler settings, the seed) keeps the checkpoint's values; config.toml lists the "
            "run's values under [resumed]",
            stacklevel=5,
        )
        return {
            **config,
            "resumed": {
                "checkpoint": str(path),
                "note": (
                    "the keys below were given other values than the run's configuration (saved "
                    "in the checkpoint) had; what the restored weights, optimizer, LR scheduler, "
                    "data order and random state hold (the learning rate, optimizer and "
                    "scheduler settings, the seed) keeps the run's values listed here"
                ),
                "run_values": {k: unset if old.get(k) is None else old[k] for k in differ},
            },
        }

    # -- validate, test, predict --------------------------------------------------------------

    def _evaluate(
        self,
        module: Any,
        loader: Iterable[Any],
        stage: str,
        publish: Callable[[dict[str, float]], None] | None = None,
    ) -> dict[str, float]:
        """One no-grad pass in eval mode (train mode restored after), hooks in Lightning's
        order: on_<stage>_start, on_<stage>_epoch_start, per batch on_<stage>_batch_start /
        <stage>_step / on_<stage>_batch_end, then the epoch values are computed and published,
        on_<stage>_epoch_end (what it logs joins them), then on_<stage>_end."""
        step = getattr(module, f"{stage}_step" if stage != "validation" else "validation_step")
        was_training = module.training
        saved = self._agg, self._log_context, self._batch, self._stage
        self._agg, self._stage = _Aggregator(), stage
        count = len(loader) if hasattr(loader, "__len__") else 0  # type: ignore[arg-type]
        if stage == "test":
            self.num_test_batches = count
        elif stage == "validation":
            self.num_val_batches = count
        set_epoch = getattr(loader, "set_epoch", None)
        if set_epoch is not None:
            set_epoch(0)  # every evaluation sees the same batches
        module.eval()
        inside = self._inside
        self._inside = stage  # no checkpoint until the pass's values are in
        try:
            self._call(f"on_{stage}_start")
            self._call(f"on_{stage}_epoch_start")
            with no_grad():
                for index, batch in enumerate(loader):
                    self._batch = batch
                    self._log_context = _EVAL
                    self._call(f"on_{stage}_batch_start", batch, index)
                    outputs = step(batch, index)
                    self._call(f"on_{stage}_batch_end", outputs, batch, index)
                    self._log_context = None
            self._batch = None
            # As in Lightning, on_<stage>_epoch_end already sees the pass's values in
            # callback_metrics (metric objects are reset only after it), and what it logs joins
            # them.
            steps = self._agg
            values = self._epoch_values(steps, reset=False)
            self._agg, self._log_context = _Aggregator(), _EVAL
            self._call(f"on_{stage}_epoch_end")
            hook, self._agg, self._log_context = self._agg, steps, None
            logged = hook.compute()
            steps.reset_metrics()
            if logged:
                values.update(logged)
                self._publish(logged, hook.both)
            self._inside = inside
            if publish is not None:
                publish(values)
            self._call(f"on_{stage}_end")
        finally:
            self._agg, self._log_context, self._batch, self._stage = saved
            self._inside = inside
            module.train(was_training)
        return values

    def _run_eval(self, module: Any, loader: Any, method: str, stage: str) -> dict[str, float]:
        self._check_module(module, method, [f"{stage}_step"])
        self._check_loader(loader, method, "loader")
        self._attach(module, {"validation": "validating", "test": "testing"}[stage])
        self._latest, self._logged_names = _Metrics(), set()
        try:
            self._call("setup", method)
            return self._evaluate(module, loader, stage)
        except BaseException as error:
            self._call_on_exception(error)
            raise
        finally:
            try:
                self._call("teardown", method)
            finally:
                self._detach()
                self.state = None

    def validate(self, module: Any, loader: Iterable[Any]) -> list[dict[str, float]]:
        """One validation pass: [{metric: value}] of what validation_step logged."""
        return [self._run_eval(module, loader, "validate", "validation")]

    def test(self, module: Any, loader: Iterable[Any]) -> list[dict[str, float]]:
        """One test pass: [{metric: value}]. In a run directory, test metrics join summary.json
        and the module's confusion matrix (if any) is drawn to confusion.png."""
        values = self._run_eval(module, loader, "test", "test")
        if self.run_dir is None and self.default_root_dir is not None:
            self.run_dir = rundir.make_run_dir(self.default_root_dir, "")
        if self.run_dir is not None:
            fields: dict[str, Any] = {"test_accuracy": None, "test_loss": None, **values}
            rundir.update_summary(self.run_dir / rundir.SUMMARY, fields)
            matrix = getattr(module, "confusion_matrix", None)
            if matrix is not None:
                counts = np.asarray(matrix.compute())
                names = getattr(module, "class_names", None) or [
                    str(i) for i in range(counts.shape[0])
                ]
                plots.plot_confusion(counts, names, self.run_dir / "confusion.png")
        return [values]

    def predict(self, module: Any, loader: Iterable[Any]) -> list[Any]:
        """predict_step's output for every batch, in order (no grad, eval mode)."""
        self._check_module(module, "predict", [])
        if not callable(getattr(module, "predict_step", None)):
            raise TypeError(
                f"Trainer.predict: {type(module).__name__} does not define predict_step"
            )
        self._check_loader(loader, "predict", "loader")
        self._attach(module, "predicting")
        self._stage = "predict"
        self.num_predict_batches = len(loader) if hasattr(loader, "__len__") else 0  # type: ignore[arg-type]
        was_training = module.training
        outputs = []
        try:
            self._call("setup", "predict")
            module.eval()
            self._call("on_predict_start")
            with no_grad():
                for index, batch in enumerate(loader):
                    self._batch = batch
                    output = module.predict_step(batch, index)
                    self._call("on_predict_batch_end", output, batch, index)
                    outputs.append(output)
            self._call("on_predict_end")
        except BaseException as error:
            self._call_on_exception(error)
            raise
        finally:
            module.train(was_training)
            try:
                self._call("teardown", "predict")
            finally:
                self._detach()
                self.state = self._stage = None
        return outputs
