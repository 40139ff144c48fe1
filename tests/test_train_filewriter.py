"""The Trainer's background file writes (odyssey.train.filewriter): jobs run in order, `exists`
answers as if the queued jobs had run, a failure cancels what follows and is raised in the
training thread; ModelCheckpoint's files come out the same when every write is still queued at
the next decision; a checkpoint holds the state of when it was due, however late it is written;
a failed background save fails the fit and keeps the checkpoint it would have replaced."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_train_callbacks import FakeTrainer, files, fit

import odyssey
from odyssey import nn, optim
from odyssey.data import ArrayDataset, DataLoader
from odyssey.train import Classifier, Trainer
from odyssey.train import checkpoint as ckpt
from odyssey.train.callbacks import Callback, ModelCheckpoint
from odyssey.train.checkpoint import load_checkpoint
from odyssey.train.filewriter import FileWriter


def gate(writer: FileWriter, tmp_path: Path) -> threading.Event:
    """Holds the writer's queue until the returned event is set."""
    release = threading.Event()
    writer.submit(tmp_path / "gate", False, release.wait)
    return release


# -- FileWriter -----------------------------------------------------------------------------------


def test_jobs_run_in_order_and_exists_sees_the_queued_ones(tmp_path: Path) -> None:
    writer = FileWriter()
    old, new = tmp_path / "old", tmp_path / "new"
    old.write_text("x")
    release = gate(writer, tmp_path)
    done: list[str] = []
    writer.submit(new, True, lambda: (new.write_text("y"), done.append("write")))
    writer.submit(old, False, lambda: (old.unlink(), done.append("remove")))
    # Nothing has run yet; exists() already answers as after the queue.
    assert old.exists()
    assert not new.exists()
    assert writer.exists(new)
    assert not writer.exists(old)
    assert not writer.exists(tmp_path / "other")
    release.set()
    writer.wait()
    assert done == ["write", "remove"]
    assert new.exists()
    assert not old.exists()
    assert writer.exists(new)
    assert not writer.exists(old)
    writer.close()
    writer.submit(old, True, lambda: old.write_text("z"))  # a closed writer starts again
    writer.wait()
    writer.close()
    assert old.read_text() == "z"


def test_a_failed_job_cancels_the_rest_and_is_raised_once(tmp_path: Path) -> None:
    writer = FileWriter()
    kept = tmp_path / "kept"
    kept.write_text("x")
    release = gate(writer, tmp_path)

    def fail() -> None:
        raise OSError("disk full")

    writer.submit(tmp_path / "new", True, fail)
    writer.submit(kept, False, kept.unlink)  # must not run after the failed save
    release.set()
    with pytest.raises(OSError, match="disk full"):
        writer.wait()
    assert kept.exists()
    assert writer.exists(kept)
    assert not writer.exists(tmp_path / "new")
    writer.wait()  # raised once
    writer.close()


def test_a_failure_is_raised_at_the_next_submit(tmp_path: Path) -> None:
    writer = FileWriter()

    def fail() -> None:
        raise OSError("read-only file system")

    writer.submit(tmp_path / "a", True, fail)
    writer.close()  # runs the queue; keeps the failure
    ran: list[int] = []
    with pytest.raises(OSError, match="read-only"):
        writer.submit(tmp_path / "b", True, lambda: ran.append(1))
    writer.wait()
    assert ran == []


# -- ModelCheckpoint with its writes held back ----------------------------------------------------


class HeldTrainer(FakeTrainer):
    """FakeTrainer whose checkpoint writes and removals go through a FileWriter held until the
    end of fit, so that every decision is taken with all earlier writes still queued."""

    def __init__(self, tmp_path: Path, callbacks: Any) -> None:
        super().__init__(tmp_path, callbacks)
        self._file_writer = FileWriter()
        self.release = gate(self._file_writer, tmp_path)

    def _save_checkpoint_in_background(self, path: str) -> None:
        state = {c.state_key: c.state_dict() for c in self.callbacks}
        text = json.dumps({"step": self.global_step, "callbacks": state})
        self._file_writer.submit(path, True, lambda: Path(path).write_text(text))
        self.saved.append(Path(path).name)

    def finish(self) -> None:
        self.release.set()
        self._file_writer.wait()
        self._file_writer.close()


def test_top_k_files_are_the_same_with_every_write_still_queued(tmp_path: Path) -> None:
    scores = [0.5, 0.3, 0.4, 0.2, 0.6]
    checkpoint = ModelCheckpoint(
        monitor="val_loss", save_top_k=2, filename="{epoch}-{val_loss:.2f}", save_last=True
    )
    trainer = HeldTrainer(tmp_path, [checkpoint])
    fit(trainer, len(scores), metrics=lambda e: {"val_loss": scores[e]})
    assert files(tmp_path / "checkpoints") == set()
    trainer.finish()
    assert files(tmp_path / "checkpoints") == {
        "epoch=1-val_loss=0.30.safetensors",
        "epoch=3-val_loss=0.20.safetensors",
        "last.safetensors",
    }
    last = json.loads((tmp_path / "checkpoints" / "last.safetensors").read_text())
    assert last["step"] == 20


def test_versioned_names_see_the_queued_files(tmp_path: Path) -> None:
    # Every epoch formats the same name: each save must see the earlier saves' queued files.
    runs = {}
    for name, make in (("plain", FakeTrainer), ("held", HeldTrainer)):
        directory = tmp_path / name / "checkpoints"
        directory.mkdir(parents=True)
        (directory / "last.safetensors").write_text("someone else's")
        checkpoint = ModelCheckpoint(
            monitor="val_loss", filename="same", save_top_k=-1, save_last=True
        )
        trainer = make(tmp_path / name, [checkpoint])
        fit(trainer, 3, metrics=lambda e: {"val_loss": 1.0 - e / 10})
        if isinstance(trainer, HeldTrainer):
            trainer.finish()
        assert (directory / "last.safetensors").read_text() == "someone else's"
        runs[name] = {
            path.name: json.loads(path.read_text())["step"]
            for path in directory.iterdir()
            if path.name != "last.safetensors"
        }
    assert (
        runs["held"]
        == runs["plain"]
        == {
            "same.safetensors": 4,
            "same-v1.safetensors": 8,
            "same-v2.safetensors": 12,
            "last-v1.safetensors": 12,
        }
    )


# -- through the Trainer --------------------------------------------------------------------------


def classifier() -> Classifier:
    odyssey.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    return Classifier(model, optimizer=lambda params: optim.SGD(params, lr=0.1))


def loader() -> DataLoader:
    rng = np.random.default_rng(0)
    images = rng.standard_normal((24, 1, 4, 4)).astype(np.float32)
    labels = rng.integers(0, 3, 24).astype(np.int64)
    return DataLoader(ArrayDataset(images, labels), batch_size=8, shuffle=True, seed=0)


class EpochWeights(Callback):
    """The weights at each epoch's end (before ModelCheckpoint, which runs last); lets the
    queued writes go once the second epoch is over."""

    def __init__(self, release: threading.Event) -> None:
        self.release = release
        self.weights: list[dict[str, np.ndarray]] = []

    def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
        self.weights.append({k: np.array(v) for k, v in module.state_dict().items()})
        if trainer.current_epoch == 1:
            self.release.set()


def test_a_checkpoint_holds_the_state_of_when_it_was_due(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    write_file = ckpt.write_file

    def held(path: Any, arrays: Any, metadata: Any) -> None:
        release.wait()  # written only after the next epoch has changed the weights
        write_file(path, arrays, metadata)

    monkeypatch.setattr(ckpt, "write_file", held)
    monkeypatch.setattr("odyssey.train.trainer.plots.plot_curves", lambda rows, path: None)
    recorder = EpochWeights(release)
    saver = ModelCheckpoint(save_top_k=-1, save_last=True)
    trainer = Trainer(
        max_epochs=2, callbacks=[recorder, saver], default_root_dir=tmp_path, progress=False
    )
    trainer.fit(classifier(), loader())
    directory = tmp_path / "checkpoints"
    assert files(directory) == {
        "epoch=0-step=3.safetensors",
        "epoch=1-step=6.safetensors",
        "last.safetensors",
    }
    for epoch, name in enumerate(["epoch=0-step=3", "epoch=1-step=6"]):
        saved = load_checkpoint(directory / f"{name}.safetensors")
        assert saved.state["trainer"]["global_step"] == 3 * (epoch + 1)
        for key, value in recorder.weights[epoch].items():
            assert saved.model[key].tobytes() == value.tobytes()
    assert load_checkpoint(directory / "last.safetensors").state["trainer"]["global_step"] == 6


def test_a_failed_background_save_fails_the_fit_and_keeps_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_file = ckpt.write_file

    def failing(path: Any, arrays: Any, metadata: Any) -> None:
        if Path(path).name == "epoch=1-step=6.safetensors":
            raise OSError("No space left on device")
        write_file(path, arrays, metadata)

    monkeypatch.setattr(ckpt, "write_file", failing)
    trainer = Trainer(max_epochs=3, default_root_dir=tmp_path, progress=False)
    with pytest.raises(OSError, match="No space left"):
        trainer.fit(classifier(), loader())
    # The removal of epoch 0's file and epoch 1's last were queued after the failed save.
    directory = tmp_path / "checkpoints"
    assert files(directory) == {"epoch=0-step=3.safetensors", "last.safetensors"}
    assert load_checkpoint(directory / "last.safetensors").state["trainer"]["global_step"] == 3
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "failed"


def test_a_held_queue_starts_its_jobs_on_release(tmp_path: Path) -> None:
    writer = FileWriter()
    ran: list[str] = []
    writer.hold()
    writer.submit(tmp_path / "a", True, lambda: ran.append("a"))
    writer.submit(tmp_path / "b", False, lambda: ran.append("b"))
    assert len(writer._jobs) == 2  # held: the worker took none of them
    assert writer.exists(tmp_path / "a")
    assert not writer.exists(tmp_path / "b")
    writer.release()
    writer.wait()
    assert ran == ["a", "b"]
    writer.hold()
    writer.submit(tmp_path / "c", True, lambda: ran.append("c"))
    writer.wait()  # waiting releases a held queue
    writer.hold()
    writer.submit(tmp_path / "d", True, lambda: ran.append("d"))
    writer.close()  # and so does closing
    assert ran == ["a", "b", "c", "d"]


class BestAtTrainEnd(Callback):
    """What a Lightning user does in on_train_end: load the best and the last checkpoint."""

    def __init__(self, saver: ModelCheckpoint) -> None:
        self.saver = saver
        self.loaded: list[int] = []

    def on_train_end(self, trainer: Any, module: Any) -> None:
        for path in (self.saver.best_model_path, self.saver.last_model_path):
            self.loaded.append(load_checkpoint(path).state["trainer"]["global_step"])


def test_the_checkpoints_are_on_disk_by_on_train_end(tmp_path: Path) -> None:
    saver = ModelCheckpoint(monitor="train_loss", save_top_k=1, save_last=True)
    reader = BestAtTrainEnd(saver)
    trainer = Trainer(
        max_epochs=3, callbacks=[saver, reader], default_root_dir=tmp_path, progress=False
    )
    trainer.fit(classifier(), loader())
    assert len(reader.loaded) == 2
    assert reader.loaded[1] == 9  # last.safetensors of the last epoch, not an older one


def test_a_failed_background_csv_write_is_redone_and_does_not_hide_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from odyssey.train import loggers

    write_text = loggers.write_text_atomic
    calls = {"background": 0}

    def failing_once(path: Any, text: str) -> None:
        if threading.current_thread().name == "odyssey-file-writer" and not calls["background"]:
            calls["background"] += 1
            raise OSError("disk hiccup")
        write_text(path, text)

    class Boom(Callback):
        def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
            if trainer.current_epoch == 1:
                raise RuntimeError("the user's own error")

    monkeypatch.setattr(loggers, "write_text_atomic", failing_once)
    trainer = Trainer(max_epochs=3, callbacks=[Boom()], default_root_dir=tmp_path, progress=False)
    with pytest.raises(RuntimeError, match="the user's own error"):
        trainer.fit(classifier(), loader())
    assert calls["background"] == 1
    rows = loggers.read_csv(tmp_path / "metrics.csv")
    # Epoch 0's row, whose background write failed, was written again on the exception.
    assert [row["step"] for row in rows] == ["3"]
