"""The training progress display: a rich progress bar on a terminal, plain lines in a log.

On a terminal (rich's detection: a TTY, FORCE_COLOR, Jupyter) the bar shows the epoch, the batch
out of the epoch's batches, the loss, images/s, elapsed time and ETA, with a second bar during
validation and testing. Otherwise (a pipe, a file, CI) it prints about ten plain lines an epoch,
`epoch 2/10 step 300/938 loss 0.1234 acc 0.9700 1234 img/s eta 0:01:02`, so a log stays readable.
Both print one summary line per epoch with its metrics.

It is cheap on the hot path: per batch it counts the batch's images and compares a clock; the
loss is read and the display redrawn only at a redraw, at most four times a second.
"""

from __future__ import annotations

import math
from datetime import timedelta
from time import perf_counter
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from odyssey import _checks as check
from odyssey.train.callbacks import Callback, _loss_of, batch_size

__all__ = ["ProgressBar"]

_REDRAW_S = 0.25  # at most four redraws a second
_PLAIN_LINES_PER_EPOCH = 10


def _number(value: float) -> str:
    """A metric for people: four decimals, or three significant digits when large or tiny."""
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) >= 1000 or abs(value) < 1e-3):
        return f"{value:.3g}"
    return f"{value:.4f}"


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds))) if math.isfinite(seconds) else "?"


def _shown_metrics(metrics: dict[str, Any]) -> list[tuple[str, float]]:
    """The metrics an epoch line shows: no timings, no per-step duplicates, `x_epoch` as `x`."""
    shown: dict[str, float] = {}
    for key, value in metrics.items():
        if key in ("epoch", "step") or key.endswith(("_s", "_step")) or "momentum" in key:
            continue
        try:
            number = float(value.item() if hasattr(value, "item") else value)
        except (TypeError, ValueError):
            continue
        name = key[: -len("_epoch")] if key.endswith("_epoch") else key
        if key.endswith("_epoch") or name not in shown:
            shown[name] = number
    return sorted(shown.items(), key=lambda item: (not item[0].startswith("train"), item[0]))


class ProgressBar(Callback):
    """Progress of fit/validate/test/predict: rich on a terminal, plain lines otherwise.

    refresh_rate: the rich bar is redrawn at most every this many batches (and at most four
    times a second); plain lines come about every tenth of an epoch whatever it is; 0 disables
    the display. console: the rich Console to draw on (default: one on stdout).
    """

    def __init__(self, refresh_rate: int = 1, console: Console | None = None) -> None:
        self.refresh_rate = check.integer(refresh_rate, "ProgressBar", "refresh_rate", minimum=0)
        if console is not None and not isinstance(console, Console):
            raise TypeError(
                f"ProgressBar: console must be a rich Console or None, got {type(console).__name__}"
            )
        self._console = console
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._eval_task: TaskID | None = None
        self._rich = False
        self._total: int | None = None
        self._next_eval_draw = 0.0
        self._reset_epoch()

    @property
    def console(self) -> Console:
        """The console drawn on."""
        if self._console is None:
            self._console = Console()
        return self._console

    @property
    def is_enabled(self) -> bool:
        """False with refresh_rate=0."""
        return self.refresh_rate > 0

    @property
    def uses_rich(self) -> bool:
        """True when drawing a rich bar (a terminal), False for plain lines."""
        return self._rich

    def _reset_epoch(self) -> None:
        self._epoch_started = self._epoch_wall_start = perf_counter()
        self._validation_started: float | None = None
        self._last_outputs: Any = None
        self._images = 0
        self._batches = 0
        self._next_draw = 0.0
        self._since_draw = 0
        self._last_batch_idx = -1

    # -- output -----------------------------------------------------------------------------------

    def _line(self, text: str) -> None:
        """One plain line (above the bar when it is shown)."""
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            file = self.console.file
            file.write(text + "\n")
            file.flush()

    def _start(self) -> None:
        if not self._rich or self._progress is not None:
            return
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=self.console,
            auto_refresh=False,  # redrawn by the hooks: no thread taking the GIL
        )
        self._progress.start()

    def _stop(self) -> None:
        progress, self._progress = self._progress, None
        self._task = self._eval_task = None
        if progress is not None:
            progress.stop()

    def _epoch_label(self, trainer: Any) -> str:
        epochs = getattr(trainer, "max_epochs", None)
        epoch = int(trainer.current_epoch) + 1
        return f"epoch {epoch}/{epochs}" if epochs else f"epoch {epoch}"

    # -- hooks ------------------------------------------------------------------------------------

    def setup(self, trainer: Any, module: Any, stage: str) -> None:
        console = self.console
        self._rich = self.is_enabled and console.is_terminal and not console.is_dumb_terminal

    def on_train_start(self, trainer: Any, module: Any) -> None:
        if self.is_enabled:
            self._start()
            # A run resumed mid-epoch continues that epoch without on_train_epoch_start.
            self.on_train_epoch_start(trainer, module)

    def on_train_epoch_start(self, trainer: Any, module: Any) -> None:
        if not self.is_enabled:
            return
        self._reset_epoch()
        if self._progress is not None:
            if self._task is not None:
                self._progress.remove_task(self._task)
            total = getattr(trainer, "num_training_batches", None)
            self._total = int(total) if total and math.isfinite(total) else None
            self._task = self._progress.add_task(
                self._epoch_label(trainer),
                total=self._total,
                info="",
            )
            self._progress.refresh()

    def on_train_batch_end(
        self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if not self.is_enabled:
            return
        self._images += batch_size(batch)
        self._batches += 1
        self._last_batch_idx = batch_idx
        self._last_outputs = outputs
        if self._rich:
            self._since_draw += 1
            if self._since_draw < self.refresh_rate:
                return
            now = perf_counter()
            if now < self._next_draw:
                return
            self._next_draw = now + _REDRAW_S
            self._since_draw = 0
            self._draw_rich(trainer, outputs, batch_idx, now)
        else:
            total = getattr(trainer, "num_training_batches", None)
            if total and math.isfinite(total):
                every = max(1, math.ceil(total / _PLAIN_LINES_PER_EPOCH))
                due = (batch_idx + 1) % every == 0 and batch_idx + 1 < total
            else:
                every = max(1, int(getattr(trainer, "log_every_n_steps", 50) or 50))
                due = (batch_idx + 1) % every == 0
            if due:
                self._line(self._plain_step_line(trainer, outputs, batch_idx, perf_counter()))

    def _rates(self, now: float) -> tuple[float, float]:
        """(images/s, batches/s) of this epoch's training so far (validation time excluded)."""
        elapsed = now - self._epoch_started
        if elapsed <= 0:
            return math.nan, math.nan
        return self._images / elapsed, self._batches / elapsed

    def _draw_rich(self, trainer: Any, outputs: Any, batch_idx: int, now: float) -> None:
        if self._progress is None or self._task is None:
            return
        images_per_s, _ = self._rates(now)
        info = []
        loss = _loss_of(outputs)
        if loss is not None:
            info.append(f"loss {_number(loss)}")
        accuracy = trainer.callback_metrics.get("train_accuracy")
        if accuracy is not None:
            info.append(f"acc {_number(float(accuracy))}")
        if math.isfinite(images_per_s):
            info.append(f"{images_per_s:,.0f} img/s")
        self._progress.update(self._task, completed=batch_idx + 1, info="  ".join(info))
        self._progress.refresh()

    def _plain_step_line(self, trainer: Any, outputs: Any, batch_idx: int, now: float) -> str:
        parts = [self._epoch_label(trainer)]
        total = getattr(trainer, "num_training_batches", None)
        has_total = bool(total) and math.isfinite(total)
        parts.append(f"step {batch_idx + 1}/{total}" if has_total else f"step {batch_idx + 1}")
        loss = _loss_of(outputs)
        if loss is not None:
            parts.append(f"loss {_number(loss)}")
        accuracy = trainer.callback_metrics.get("train_accuracy")
        if accuracy is not None:
            parts.append(f"acc {_number(float(accuracy))}")
        images_per_s, batches_per_s = self._rates(now)
        if math.isfinite(images_per_s):
            parts.append(f"{images_per_s:.0f} img/s")
        if has_total and batches_per_s > 0:
            parts.append(f"eta {_clock((total - batch_idx - 1) / batches_per_s)}")
        return " ".join(parts)

    def _catch_up(self, trainer: Any) -> None:
        """Shows the epoch's last batch on the bar (redraws may have skipped it)."""
        if self._last_batch_idx >= 0:
            self._draw_rich(trainer, self._last_outputs, self._last_batch_idx, perf_counter())

    def on_validation_start(self, trainer: Any, module: Any) -> None:
        if getattr(trainer, "state", "fitting") == "fitting":
            self._catch_up(trainer)
            self._validation_started = perf_counter()

    def on_validation_end(self, trainer: Any, module: Any) -> None:
        if self._validation_started is not None:  # the training clock skips validation
            self._epoch_started += perf_counter() - self._validation_started
            self._validation_started = None
        if getattr(trainer, "state", None) == "validating" and self.is_enabled:
            self._summary(trainer, "validate", "val_")
            self._stop()

    def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
        if not self.is_enabled:
            return
        now = perf_counter()
        self._catch_up(trainer)
        metrics = trainer.callback_metrics
        parts = [self._epoch_label(trainer)]
        parts += [f"{name} {_number(value)}" for name, value in _shown_metrics(metrics)]
        images_per_s = metrics.get("train_img_per_s")  # Throughput's, when it runs
        if images_per_s is None:
            images_per_s, _ = self._rates(now)
        if math.isfinite(images_per_s):
            parts.append(f"{images_per_s:.0f} img/s")
        parts.append(f"{now - self._epoch_wall_start:.1f} s")
        self._line("  ".join(parts))
        if self._progress is not None and self._task is not None:
            self._progress.remove_task(self._task)
            self._task = None
            self._progress.refresh()

    def on_train_end(self, trainer: Any, module: Any) -> None:
        self._stop()

    # -- validation, test, predict ----------------------------------------------------------------

    def _eval_start(self, trainer: Any, label: str, total_attr: str) -> None:
        if not self.is_enabled or not self._rich:
            return
        self._start()
        assert self._progress is not None
        total = getattr(trainer, total_attr, None)
        self._eval_task = self._progress.add_task(
            label, total=total if total and math.isfinite(total) else None, info=""
        )
        self._next_eval_draw = 0.0
        self._progress.refresh()

    def _eval_batch(self, batch_idx: int) -> None:
        if self._progress is None or self._eval_task is None:
            return
        now = perf_counter()
        if now < self._next_eval_draw:
            return
        self._next_eval_draw = now + _REDRAW_S
        self._progress.update(self._eval_task, completed=batch_idx + 1)
        self._progress.refresh()

    def _eval_end(self) -> None:
        if self._progress is not None and self._eval_task is not None:
            self._progress.remove_task(self._eval_task)
            self._eval_task = None
            self._progress.refresh()

    def on_validation_epoch_start(self, trainer: Any, module: Any) -> None:
        self._eval_start(trainer, "validate", "num_val_batches")

    def on_validation_batch_end(
        self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self._eval_task is not None:
            self._eval_batch(batch_idx)

    def on_validation_epoch_end(self, trainer: Any, module: Any) -> None:
        self._eval_end()

    def on_test_epoch_start(self, trainer: Any, module: Any) -> None:
        self._eval_start(trainer, "test", "num_test_batches")

    def on_test_batch_end(
        self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self._eval_task is not None:
            self._eval_batch(batch_idx)

    def on_test_epoch_end(self, trainer: Any, module: Any) -> None:
        self._eval_end()

    def on_test_end(self, trainer: Any, module: Any) -> None:
        if self.is_enabled:
            self._summary(trainer, "test", "test_")
            self._stop()

    def on_predict_start(self, trainer: Any, module: Any) -> None:
        self._eval_start(trainer, "predict", "num_predict_batches")

    def on_predict_end(self, trainer: Any, module: Any) -> None:
        self._eval_end()
        self._stop()

    def _summary(self, trainer: Any, label: str, prefix: str) -> None:
        shown = [
            f"{name} {_number(value)}"
            for name, value in _shown_metrics(trainer.callback_metrics)
            if name.startswith(prefix)
        ]
        if shown:
            self._line("  ".join([label, *shown]))

    # -- the end ----------------------------------------------------------------------------------

    def on_exception(self, trainer: Any, module: Any, exception: BaseException) -> None:
        self._stop()  # restores the cursor; the Trainer reports the exception

    def teardown(self, trainer: Any, module: Any, stage: str) -> None:
        self._stop()
