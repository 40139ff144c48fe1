"""Metric loggers: metrics.jsonl, metrics.csv and TensorBoard event files of a run.

Loggers are callbacks. The Trainer calls `log_metrics(metrics, step)` for each row (every
`log_every_n_steps` steps, and once per epoch with the epoch's aggregates), `log_hyperparams`
once with the resolved configuration and `finalize(status)` at the end. A row is
`{"epoch": ..., "step": ..., <metric>: <value>, ...}`; wall-clock values appear only in keys
ending `_s` or `_per_s`.

Resume: a file logger's state (stored in each checkpoint) is the number of rows it had written
when the checkpoint was taken; a run resumed from that checkpoint keeps exactly those rows of the
file and appends after them, so its files equal those of a run that never stopped. A fit that
does not resume starts its files empty, also when the same logger served an earlier fit (the
Trainer restores a checkpoint's state after setup, as Lightning does, so setup("fit") tells the
two apart by whether load_state_dict has run).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import numbers
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from odyssey import _checks as check
from odyssey._atomic import write_text_atomic
from odyssey.train.callbacks import Callback
from odyssey.train.filewriter import writer_of

__all__ = ["CSVLogger", "JSONLLogger", "Logger", "TensorBoardLogger", "read_csv", "read_jsonl"]


def _plain(value: Any, who: str, key: str) -> Any:
    """A metric value as a JSON/CSV-friendly Python value: int, float, bool, str or None."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    item = getattr(value, "item", None)  # Tensor, NumPy 0-d array
    if item is not None:
        return _plain(item(), who, key)
    raise TypeError(f"{who}: metric {key!r} must be a number, got {type(value).__name__}")


class Logger(Callback):
    """Base class of the loggers: a callback that also receives the rows of metrics.

    save_dir: the directory the logger writes into; None means the Trainer's run directory
    (known from setup on).
    """

    def __init__(self, save_dir: str | os.PathLike[str] | None = None) -> None:
        if save_dir is not None and not isinstance(save_dir, (str, os.PathLike)):
            raise TypeError(
                f"{type(self).__name__}: save_dir must be a path or None, got"
                f" {type(save_dir).__name__}"
            )
        self._save_dir = None if save_dir is None else Path(save_dir)
        self._trainer: Any = None

    @property
    def name(self) -> str:
        """A short name of the logger ("csv", "jsonl", "tensorboard")."""
        return type(self).__name__

    @property
    def save_dir(self) -> Path | None:
        """Where this logger writes (the run directory unless given)."""
        if self._save_dir is None and self._trainer is not None:
            run_dir = getattr(self._trainer, "run_dir", None)
            if run_dir is not None:
                return Path(run_dir)
        return self._save_dir

    def setup(self, trainer: Any, module: Any, stage: str) -> None:
        self._trainer = trainer

    def log_metrics(self, metrics: Mapping[str, Any], step: int) -> None:
        """Records one row: the metrics at this global step."""
        raise NotImplementedError(f"{type(self).__name__} does not implement log_metrics")

    def log_hyperparams(self, config: Mapping[str, Any]) -> None:
        """Records the run's configuration (the run directory's config.toml already holds it)."""

    def finalize(self, status: str) -> None:
        """Flushes and closes; status is "success", "failed" or "interrupted"."""

    def _row(self, metrics: Mapping[str, Any], step: int) -> dict[str, Any]:
        """`{"epoch", "step", metrics...}` with plain values; epoch from the trainer if absent."""
        who = f"{type(self).__name__}.log_metrics"
        if not isinstance(metrics, Mapping):
            raise TypeError(f"{who}: metrics must be a mapping, got {type(metrics).__name__}")
        step = check.integer(step, who, "step", minimum=0)
        row: dict[str, Any] = {}
        epoch = metrics.get("epoch")
        if epoch is None and self._trainer is not None:
            epoch = getattr(self._trainer, "current_epoch", None)
        if epoch is not None:
            row["epoch"] = _plain(epoch, who, "epoch")
        row["step"] = step
        for key, value in metrics.items():
            if not isinstance(key, str):
                raise TypeError(f"{who}: metric names must be str, got {type(key).__name__}")
            if key not in ("epoch", "step"):
                row[key] = _plain(value, who, key)
        return row


class _RowFileLogger(Logger):
    """A logger writing the rows to one file in save_dir, resumable by row count."""

    filename = ""

    def __init__(self, save_dir: str | os.PathLike[str] | None = None) -> None:
        super().__init__(save_dir)
        self.rows: list[dict[str, Any]] = []
        self._ready = False
        self._resume: dict[str, Any] | None = None
        self._state_loaded = False  # load_state_dict ran for the fit about to start or running

    @property
    def path(self) -> Path | None:
        """The file written (None until the run directory is known)."""
        directory = self.save_dir
        return None if directory is None else directory / self.filename

    def state_dict(self) -> dict[str, Any]:
        last = self.rows[-1]["step"] if self.rows else None
        path = self.path
        return {
            "rows": len(self.rows),
            "last_step": last,
            "path": None if path is None else str(path),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Keeps the checkpoint's row count; the file is cut to it before the next row."""
        self._resume = dict(state)
        self._ready = False
        self._state_loaded = True

    def setup(self, trainer: Any, module: Any, stage: str) -> None:
        super().setup(trainer, module, stage)
        if stage == "fit":
            # The file is (re)opened at on_fit_start: cut back to the checkpoint's rows when
            # this fit resumes, else started empty (not continued from an earlier fit).
            self._ready = False
            if not self._state_loaded:
                self._resume = None
                self.rows = []

    def teardown(self, trainer: Any, module: Any, stage: str) -> None:
        if stage == "fit":
            self._state_loaded = False

    def on_fit_start(self, trainer: Any, module: Any) -> None:
        self._trainer = trainer
        self._prepare(fresh=True)

    def _prepare(self, fresh: bool = False) -> Path:
        """The file, ready for the next row: cut back to the checkpoint's rows in a resumed run,
        started empty when fit starts, else (validate/test without fit) continued as it is."""
        path = self.path
        if path is None:
            raise RuntimeError(
                f"{type(self).__name__}: no save_dir given and no trainer.run_dir known yet"
            )
        if self._ready:
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        if self._resume is None and fresh:
            self.rows = []
            self._start(path)
        elif self._resume is None:
            self.rows = self._read(path) if path.exists() else []
            self._rewrite(path)
        else:
            state, self._resume = self._resume, None
            wanted = int(state["rows"])
            source = path
            saved = state.get("path")
            if not path.exists() and saved is not None and Path(saved).exists():
                source = Path(saved)  # resumed into another directory: carry the rows over
            rows = self._read(source) if source.exists() else []
            if len(rows) < wanted:
                warnings.warn(
                    f"{type(self).__name__}: the checkpoint had written {wanted} rows to"
                    f" {source}, but only {len(rows)} are there; continuing after them",
                    stacklevel=2,
                )
            self.rows = rows[:wanted]
            self._rewrite(path)
        self._ready = True
        return path

    def _start(self, path: Path) -> None:
        raise NotImplementedError

    def _read(self, path: Path) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _rewrite(self, path: Path) -> None:
        raise NotImplementedError


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The rows of a metrics.jsonl file (a last line torn by a crash mid-write is skipped)."""
    rows = []
    with open(path, encoding="utf-8") as file:
        lines = file.read().split("\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):  # the unterminated last line of an interrupted append
                break
            raise ValueError(
                f"read_jsonl: {path}: line {number} is not JSON: {line[:80]!r}"
            ) from None
    return rows


class JSONLLogger(_RowFileLogger):
    """metrics.jsonl in the run directory: one JSON object per row, appended and flushed as it is
    logged, so the file is always current (NaN and infinities are written as JSON5's NaN and
    Infinity, which Python's json reads back)."""

    filename = "metrics.jsonl"

    @property
    def name(self) -> str:
        return "jsonl"

    def log_metrics(self, metrics: Mapping[str, Any], step: int) -> None:
        row = self._row(metrics, step)
        path = self._prepare()
        line = json.dumps(row) + "\n"
        with open(path, "a", encoding="utf-8") as file:
            file.write(line)
        self.rows.append(row)

    def _start(self, path: Path) -> None:
        write_text_atomic(path, "")

    def _read(self, path: Path) -> list[dict[str, Any]]:
        return read_jsonl(path)

    def _rewrite(self, path: Path) -> None:
        write_text_atomic(path, "".join(json.dumps(row) + "\n" for row in self.rows))


def read_csv(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """The rows of a metrics.csv file as strings, without the empty cells."""
    with open(path, encoding="utf-8", newline="") as file:
        return [{k: v for k, v in row.items() if v != ""} for row in csv.DictReader(file)]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


class CSVLogger(_RowFileLogger):
    """metrics.csv in the run directory: one row per logged step and per epoch, columns the union
    of all keys in the order they first appeared (a cell is empty where a row lacks the key).

    Since a new column changes the header, the rows are kept in memory and the whole file is
    rewritten atomically (only if rows came since the last write) at each epoch's start and end,
    before each checkpoint (so a checkpoint's rows are on disk), at the end of training, after
    validate/test, on an exception and at finalize: the file is complete at those points and
    never half-written. During fit, the rewrites at an epoch's start and end and before a
    checkpoint go through the trainer's background FileWriter (queued before the checkpoint
    that follows them); the others are done before the hook returns. metrics.jsonl is the live,
    per-row record.
    """

    filename = "metrics.csv"

    def __init__(self, save_dir: str | os.PathLike[str] | None = None) -> None:
        super().__init__(save_dir)
        self.columns: list[str] = []
        self._dirty = False  # rows logged since the file was last written or queued
        self._queued = False  # the last write was queued in the background (it may yet fail)

    @property
    def name(self) -> str:
        return "csv"

    def log_metrics(self, metrics: Mapping[str, Any], step: int) -> None:
        row = self._row(metrics, step)
        self._prepare()
        self.rows.append(row)
        self._add_columns(row)
        self._dirty = True

    def _add_columns(self, row: Mapping[str, Any]) -> None:
        known = set(self.columns)
        for key, value in row.items():
            if key not in known and value is not None and value != "":
                self.columns.append(key)
                known.add(key)

    def save(self) -> None:
        """Writes metrics.csv now (atomically) if rows were logged since the last write, or its
        last write was queued in the background (which may yet fail), after every queued one."""
        self._save(raise_failure=True)

    def _save(self, raise_failure: bool) -> None:
        if (self._dirty or self._queued) and self.path is not None:
            self._rewrite(self.path, raise_failure)
        else:
            writer = writer_of(self._trainer)
            if writer is not None:
                writer.wait(raise_failure)

    def _save_in_background(self) -> None:
        """`save`, by the trainer's FileWriter while it fits (else now)."""
        writer = writer_of(self._trainer)
        if writer is None:
            self.save()
        elif self._dirty and self.path is not None:
            path = self.path
            writer.submit(path, True, functools.partial(write_text_atomic, path, self._text()))
            self._dirty = False
            self._queued = True

    def on_train_epoch_start(self, trainer: Any, module: Any) -> None:
        self._save_in_background()  # the previous epoch's row, logged after its epoch end

    def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
        self._save_in_background()

    def on_train_end(self, trainer: Any, module: Any) -> None:
        self.save()

    def on_save_checkpoint(self, trainer: Any, module: Any, checkpoint_state: dict) -> None:
        # Queued before the checkpoint itself; a checkpoint saved at once waits for it.
        self._save_in_background()

    def on_validation_end(self, trainer: Any, module: Any) -> None:
        if getattr(trainer, "state", None) == "validating":
            self.save()

    def on_test_end(self, trainer: Any, module: Any) -> None:
        self.save()

    def on_exception(self, trainer: Any, module: Any, exception: BaseException) -> None:
        # The rows on disk, without letting a failed background write replace `exception`.
        self._save(raise_failure=False)

    def finalize(self, status: str) -> None:
        self.save()

    def _start(self, path: Path) -> None:
        self.columns = []
        self._rewrite(path)

    def _read(self, path: Path) -> list[dict[str, Any]]:
        return read_csv(path)

    def _text(self) -> str:
        """The whole file: the header (the columns, recomputed from the rows) and the rows."""
        self.columns = []
        for row in self.rows:
            self._add_columns(row)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if self.columns:
            writer.writerow(self.columns)
        for row in self.rows:
            writer.writerow([_cell(row.get(column)) for column in self.columns])
        return buffer.getvalue()

    def _rewrite(self, path: Path, raise_failure: bool = True) -> None:
        text = self._text()
        writer = writer_of(self._trainer)
        if writer is not None:
            writer.wait(raise_failure)  # an older rewrite still queued must not land after this
        write_text_atomic(path, text)
        self._dirty = self._queued = False


class TensorBoardLogger(Logger):
    """TensorBoard event files under `<run dir>/tensorboard` through tensorboardX (an optional
    extra): each numeric metric of a row becomes a scalar at the row's step, the configuration
    a text entry. A resumed run purges the events after the checkpoint's step."""

    def __init__(
        self, save_dir: str | os.PathLike[str] | None = None, sub_dir: str = "tensorboard"
    ) -> None:
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise ImportError(
                "TensorBoardLogger needs tensorboardX: pip install 'ml-odyssey[tensorboard]'"
            ) from None
        super().__init__(save_dir)
        if not isinstance(sub_dir, str):
            raise TypeError(
                f"TensorBoardLogger: sub_dir must be a str, got {type(sub_dir).__name__}"
            )
        self._writer_class = SummaryWriter
        self.sub_dir = sub_dir
        self._writer: Any = None
        self._last_step: int | None = None
        self._purge_step: int | None = None
        self._state_loaded = False

    @property
    def name(self) -> str:
        return "tensorboard"

    @property
    def log_dir(self) -> Path | None:
        """The directory of the event files."""
        directory = self.save_dir
        return None if directory is None else directory / self.sub_dir

    @property
    def experiment(self) -> Any:
        """The tensorboardX SummaryWriter (created on first use)."""
        if self._writer is None:
            log_dir = self.log_dir
            if log_dir is None:
                raise RuntimeError(
                    "TensorBoardLogger: no save_dir given and no trainer.run_dir known yet"
                )
            log_dir.mkdir(parents=True, exist_ok=True)
            self._writer = self._writer_class(logdir=str(log_dir), purge_step=self._purge_step)
        return self._writer

    def log_metrics(self, metrics: Mapping[str, Any], step: int) -> None:
        row = self._row(metrics, step)
        writer = self.experiment
        for key, value in row.items():
            if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool):
                writer.add_scalar(key, float(value), global_step=row["step"])
        self._last_step = row["step"]

    def log_hyperparams(self, config: Mapping[str, Any]) -> None:
        text = json.dumps(config, indent=2, sort_keys=True, default=str)
        self.experiment.add_text("config", "```\n" + text + "\n```")

    def state_dict(self) -> dict[str, Any]:
        return {"last_step": self._last_step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        last = state.get("last_step")
        self._last_step = last
        # Events logged after the checkpoint by the interrupted run are hidden by TensorBoard.
        self._purge_step = None if last is None else int(last) + 1
        self._state_loaded = True

    def setup(self, trainer: Any, module: Any, stage: str) -> None:
        super().setup(trainer, module, stage)
        if stage == "fit" and not self._state_loaded:
            # A fresh fit: no purge of events and no last step from an earlier fit's restore.
            self._last_step = None
            self._purge_step = None

    def teardown(self, trainer: Any, module: Any, stage: str) -> None:
        if stage == "fit":
            self._state_loaded = False
        if self._writer is not None:
            self._writer.flush()

    def finalize(self, status: str) -> None:
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
            self._writer = None
