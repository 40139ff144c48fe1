"""The metric loggers: metrics.jsonl and metrics.csv contents, their resume (the files of a run
resumed from a checkpoint equal those of a run that never stopped), TensorBoard event files and
the message when tensorboardX is missing. Driven by a stand-in trainer with the documented
attributes."""

from __future__ import annotations

import json
import math
import struct
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import odyssey
from odyssey.train.loggers import (
    CSVLogger,
    JSONLLogger,
    Logger,
    TensorBoardLogger,
    read_csv,
    read_jsonl,
)


def trainer_for(run_dir: Path, **overrides: Any) -> SimpleNamespace:
    attributes = {"run_dir": run_dir, "current_epoch": 0, "global_step": 0, "state": "fitting"}
    attributes.update(overrides)
    return SimpleNamespace(**attributes)


def start(logger: Logger, trainer: SimpleNamespace) -> None:
    logger.setup(trainer, None, "fit")
    logger.on_fit_start(trainer, None)


ROWS = [
    (0, {"train_loss": 2.25, "lr": 0.1}),
    (1, {"train_loss": 1.5, "lr": 0.1}),
    (2, {"train_loss_epoch": 1.75, "val_loss": 1.25, "val_accuracy": 0.5}),
    (3, {"train_loss": 1.0, "lr": 0.05, "train_img_per_s": 1234.5}),
    (4, {"train_loss_epoch": 0.875, "val_loss": 0.75, "val_accuracy": 0.75, "lr-SGD": 0.05}),
    (5, {"train_loss": 0.5, "lr": 0.025}),
]


def log_rows(logger: Logger, trainer: SimpleNamespace, rows: list) -> None:
    """Logs (step, metrics) rows, two steps an epoch, saving the CSV at each epoch end."""
    for step, metrics in rows:
        trainer.current_epoch = step // 2
        trainer.global_step = step
        logger.log_metrics(metrics, step)
        if "val_loss" in metrics:
            logger.on_train_epoch_end(trainer, None)


# -- JSONL ----------------------------------------------------------------------------------------


def test_jsonl_rows_are_appended_and_flushed(tmp_path: Path) -> None:
    logger = JSONLLogger()
    trainer = trainer_for(tmp_path)
    start(logger, trainer)
    assert (tmp_path / "metrics.jsonl").read_text() == ""
    logger.log_metrics({"train_loss": np.float32(0.5), "acc": odyssey.tensor(0.25)}, 7)
    logger.log_metrics({"epoch": 3, "val_loss": math.nan, "count": np.int64(4), "ok": True}, 8)
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert lines == [
        '{"epoch": 0, "step": 7, "train_loss": 0.5, "acc": 0.25}',
        '{"epoch": 3, "step": 8, "val_loss": NaN, "count": 4, "ok": true}',
    ]
    rows = read_jsonl(tmp_path / "metrics.jsonl")
    assert rows[0] == {"epoch": 0, "step": 7, "train_loss": 0.5, "acc": 0.25}
    assert math.isnan(rows[1]["val_loss"])
    assert logger.rows[0] == rows[0]
    assert logger.name == "jsonl"
    assert logger.save_dir == tmp_path


def test_jsonl_new_fit_starts_a_new_file(tmp_path: Path) -> None:
    (tmp_path / "metrics.jsonl").write_text('{"step": 1}\n')
    logger = JSONLLogger(save_dir=tmp_path)
    start(logger, trainer_for(tmp_path / "elsewhere"))
    assert (tmp_path / "metrics.jsonl").read_text() == ""


def test_jsonl_outside_fit_continues_the_file(tmp_path: Path) -> None:
    (tmp_path / "metrics.jsonl").write_text('{"epoch": 0, "step": 1, "train_loss": 1.0}\n')
    logger = JSONLLogger()
    trainer = trainer_for(tmp_path, state="testing")
    logger.setup(trainer, None, "test")
    logger.log_metrics({"test_loss": 0.5}, 10)
    assert [row["step"] for row in read_jsonl(tmp_path / "metrics.jsonl")] == [1, 10]


def test_read_jsonl_skips_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1}\n{"step": 2}\n{"ste')
    assert read_jsonl(path) == [{"step": 1}, {"step": 2}]
    path.write_text('{"step": 1}\n{"ste\n{"step": 3}\n')
    with pytest.raises(ValueError, match="line 2 is not JSON"):
        read_jsonl(path)


# -- CSV ------------------------------------------------------------------------------------------


def test_csv_columns_are_the_union_of_keys(tmp_path: Path) -> None:
    logger = CSVLogger()
    trainer = trainer_for(tmp_path)
    start(logger, trainer)
    log_rows(logger, trainer, ROWS[:3])
    text = (tmp_path / "metrics.csv").read_text()
    assert text.splitlines() == [
        "epoch,step,train_loss,lr,train_loss_epoch,val_loss,val_accuracy",
        "0,0,2.25,0.1,,,",
        "0,1,1.5,0.1,,,",
        "1,2,,,1.75,1.25,0.5",
    ]
    # A row logged after the epoch end is on disk after the next save point only.
    log_rows(logger, trainer, ROWS[3:4])
    assert (tmp_path / "metrics.csv").read_text() == text
    logger.on_save_checkpoint(trainer, None, {})
    header = (tmp_path / "metrics.csv").read_text().splitlines()[0]
    assert header.endswith(",val_accuracy,train_img_per_s")
    log_rows(logger, trainer, ROWS[4:])
    logger.finalize("success")
    rows = read_csv(tmp_path / "metrics.csv")
    assert len(rows) == 6
    assert rows[4] == {
        "epoch": "2",
        "step": "4",
        "train_loss_epoch": "0.875",
        "val_loss": "0.75",
        "val_accuracy": "0.75",
        "lr-SGD": "0.05",
    }
    assert logger.columns[-1] == "lr-SGD"


def test_csv_floats_round_trip_exactly(tmp_path: Path) -> None:
    logger = CSVLogger()
    start(logger, trainer_for(tmp_path))
    values = [0.1 + 0.2, 1 / 3, 1e-300, math.inf, float(np.float32(0.7))]
    for step, value in enumerate(values):
        logger.log_metrics({"x": value}, step)
    logger.finalize("success")
    assert [float(row["x"]) for row in read_csv(tmp_path / "metrics.csv")] == values


# -- resume: the files equal an uninterrupted run's -----------------------------------------------


@pytest.mark.parametrize("logger_class", [JSONLLogger, CSVLogger])
@pytest.mark.parametrize("checkpoint_after", [0, 2, 3, 5])
def test_resumed_files_equal_an_uninterrupted_run(
    tmp_path: Path, logger_class: type, checkpoint_after: int
) -> None:
    whole_dir, resumed_dir = tmp_path / "whole", tmp_path / "resumed"
    whole = logger_class()
    trainer = trainer_for(whole_dir)
    start(whole, trainer)
    log_rows(whole, trainer, ROWS)
    whole.finalize("success")

    # The interrupted run: a checkpoint after `checkpoint_after` rows, then two more rows logged
    # (and saved) before the process died.
    first = logger_class()
    trainer = trainer_for(resumed_dir)
    start(first, trainer)
    log_rows(first, trainer, ROWS[:checkpoint_after])
    first.on_save_checkpoint(trainer, None, {})
    state = json.loads(json.dumps(first.state_dict()))
    log_rows(first, trainer, ROWS[checkpoint_after : checkpoint_after + 2])
    first.on_save_checkpoint(trainer, None, {})
    assert state["rows"] == checkpoint_after

    second = logger_class()
    trainer = trainer_for(resumed_dir)
    second.setup(trainer, None, "fit")
    second.load_state_dict(state)
    second.on_fit_start(trainer, None)
    log_rows(second, trainer, ROWS[checkpoint_after:])
    second.finalize("success")
    name = logger_class.filename
    assert (resumed_dir / name).read_bytes() == (whole_dir / name).read_bytes()


@pytest.mark.parametrize("logger_class", [JSONLLogger, CSVLogger])
def test_resume_into_another_directory_carries_the_rows(tmp_path: Path, logger_class: type) -> None:
    first = logger_class()
    trainer = trainer_for(tmp_path / "a")
    start(first, trainer)
    log_rows(first, trainer, ROWS[:4])
    first.on_save_checkpoint(trainer, None, {})
    state = first.state_dict()
    second = logger_class()
    trainer = trainer_for(tmp_path / "b")
    second.setup(trainer, None, "fit")
    second.load_state_dict(state)
    second.on_fit_start(trainer, None)
    second.finalize("success")
    name = logger_class.filename
    assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "a" / name).read_bytes()


def test_resume_warns_when_rows_are_missing(tmp_path: Path) -> None:
    logger = JSONLLogger()
    trainer = trainer_for(tmp_path)
    logger.setup(trainer, None, "fit")
    logger.load_state_dict({"rows": 3, "last_step": 9, "path": str(tmp_path / "gone.jsonl")})
    with pytest.warns(UserWarning, match="had written 3 rows"):
        logger.on_fit_start(trainer, None)
    assert logger.rows == []


@pytest.mark.parametrize("logger_class", [JSONLLogger, CSVLogger])
def test_a_second_fresh_fit_starts_the_file_again(tmp_path: Path, logger_class: type) -> None:
    # The same logger (a Trainer fitted twice) in the same directory: no rows of the first fit.
    logger = logger_class()
    trainer = trainer_for(tmp_path)
    start(logger, trainer)
    log_rows(logger, trainer, ROWS[:3])
    logger.teardown(trainer, None, "fit")
    logger.finalize("success")
    start(logger, trainer)
    log_rows(logger, trainer, ROWS[3:])
    logger.teardown(trainer, None, "fit")
    logger.finalize("success")
    read = read_jsonl if logger_class is JSONLLogger else read_csv
    assert [int(row["step"]) for row in read(tmp_path / logger_class.filename)] == [3, 4, 5]
    assert [row["step"] for row in logger.rows] == [3, 4, 5]


@pytest.mark.parametrize("logger_class", [JSONLLogger, CSVLogger])
def test_a_fresh_fit_after_a_resumed_one_does_not_cut_to_the_old_row_count(
    tmp_path: Path, logger_class: type
) -> None:
    logger = logger_class()
    trainer = trainer_for(tmp_path / "a")
    logger.setup(trainer, None, "fit")
    logger.load_state_dict({"rows": 0, "last_step": None, "path": None})  # a resume
    logger.on_fit_start(trainer, None)
    log_rows(logger, trainer, ROWS[:2])
    logger.teardown(trainer, None, "fit")
    logger.finalize("success")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / logger_class.filename).write_text("")
    other = trainer_for(tmp_path / "b")
    start(logger, other)  # a fresh fit elsewhere: nothing of the resume's state applies
    log_rows(logger, other, ROWS[:1])
    logger.finalize("success")
    read = read_jsonl if logger_class is JSONLLogger else read_csv
    assert [int(row["step"]) for row in read(tmp_path / "b" / logger_class.filename)] == [0]
    assert [row["step"] for row in logger.rows] == [0]


# -- errors ---------------------------------------------------------------------------------------


def test_log_metrics_errors(tmp_path: Path) -> None:
    logger = JSONLLogger()
    start(logger, trainer_for(tmp_path))
    with pytest.raises(TypeError, match=r"JSONLLogger.log_metrics: metrics must be a mapping"):
        logger.log_metrics([("loss", 1.0)], 1)
    with pytest.raises(TypeError, match=r"JSONLLogger.log_metrics: step must be an int"):
        logger.log_metrics({"loss": 1.0}, 1.5)
    with pytest.raises(ValueError, match=r"JSONLLogger.log_metrics: step must be >= 0"):
        logger.log_metrics({"loss": 1.0}, -1)
    with pytest.raises(TypeError, match=r"metric 'loss' must be a number, got list"):
        logger.log_metrics({"loss": [1.0]}, 1)
    with pytest.raises(TypeError, match="CSVLogger: save_dir must be a path"):
        CSVLogger(save_dir=3)
    orphan = CSVLogger()
    with pytest.raises(RuntimeError, match="no save_dir given"):
        orphan.log_metrics({"loss": 1.0}, 1)


# -- TensorBoard ----------------------------------------------------------------------------------


def events(log_dir: Path) -> list[Any]:
    """The Event records of the event files (TFRecord framing: length, CRC, data, CRC)."""
    from tensorboardX.proto import event_pb2

    found = []
    for path in sorted(log_dir.glob("events.out.tfevents.*")):
        data = path.read_bytes()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack_from("<Q", data, offset)
            found.append(event_pb2.Event.FromString(data[offset + 12 : offset + 12 + length]))
            offset += 12 + length + 4
    return found


def scalars(log_dir: Path) -> list[tuple[str, int, float]]:
    """(tag, step, value) of every scalar in the event files."""
    return [
        (value.tag, event.step, value.simple_value)
        for event in events(log_dir)
        for value in event.summary.value
        if value.HasField("simple_value")
    ]


def test_tensorboard_writes_event_files(tmp_path: Path) -> None:
    pytest.importorskip("tensorboardX")
    logger = TensorBoardLogger()
    trainer = trainer_for(tmp_path)
    start(logger, trainer)
    logger.log_hyperparams({"train": {"lr": 0.1}})
    logger.log_metrics({"train_loss": 0.5, "note": "text is skipped"}, 3)
    logger.log_metrics({"epoch": 1, "val_accuracy": np.float32(0.75)}, 4)
    logger.teardown(trainer, None, "fit")
    logger.finalize("success")
    assert logger.log_dir == tmp_path / "tensorboard"
    assert sorted(scalars(tmp_path / "tensorboard")) == [
        ("epoch", 3, 0.0),
        ("epoch", 4, 1.0),
        ("train_loss", 3, 0.5),
        ("val_accuracy", 4, 0.75),
    ]
    assert logger.state_dict() == {"last_step": 4}


def test_tensorboard_resume_purges_later_events(tmp_path: Path) -> None:
    pytest.importorskip("tensorboardX")
    from tensorboardX.proto import event_pb2

    logger = TensorBoardLogger()
    logger.load_state_dict({"last_step": 4})
    start(logger, trainer_for(tmp_path))
    logger.log_metrics({"train_loss": 0.25}, 6)
    logger.finalize("success")
    restarts = [
        (event.step, event.session_log.status)
        for event in events(tmp_path / "tensorboard")
        if event.HasField("session_log")
    ]
    # TensorBoard drops the earlier run's events from step 5 on.
    assert restarts == [(5, event_pb2.SessionLog.START)]


def test_tensorboard_fresh_fit_after_a_resumed_one_purges_nothing(tmp_path: Path) -> None:
    pytest.importorskip("tensorboardX")
    logger = TensorBoardLogger()
    logger.setup(trainer_for(tmp_path / "a"), None, "fit")
    logger.load_state_dict({"last_step": 4})
    logger.on_fit_start(trainer_for(tmp_path / "a"), None)
    logger.log_metrics({"train_loss": 0.25}, 6)
    logger.teardown(trainer_for(tmp_path / "a"), None, "fit")
    logger.finalize("success")
    start(logger, trainer_for(tmp_path / "b"))  # the same logger, a fresh fit
    logger.log_metrics({"train_loss": 0.5}, 1)
    logger.finalize("success")
    assert not [e for e in events(tmp_path / "b" / "tensorboard") if e.HasField("session_log")]
    assert logger.state_dict() == {"last_step": 1}


def test_tensorboard_missing_module_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError) as error:
        TensorBoardLogger()
    assert str(error.value) == (
        "TensorBoardLogger needs tensorboardX: pip install 'ml-odyssey[tensorboard]'"
    )
