"""papers/lenet5/twin.py: the PyTorch twin trains with the recipe of `odyssey train lenet5
--variant modern` on the very batches odyssey's Trainer trains on (skipped without torch, unless
ODYSSEY_TEST_TORCH=1 says torch must be there, as in CI)."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import odyssey
from odyssey import papers

_FOLDER = Path(__file__).resolve().parents[1] / "papers" / "lenet5"
_spec = importlib.util.spec_from_file_location("_odyssey_paper_lenet5_twin", _FOLDER / "twin.py")
assert _spec is not None
assert _spec.loader is not None
T = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(T)


def _torch() -> Any:
    if os.environ.get("ODYSSEY_TEST_TORCH") == "1":
        return importlib.import_module("torch")
    return pytest.importorskip("torch")


def _digest(images: np.ndarray, labels: np.ndarray) -> str:
    """One batch's identity: its images' and labels' bytes, dtypes and shapes."""
    hasher = hashlib.sha256()
    for array in (images, np.asarray(labels)):
        hasher.update(f"{array.dtype}{array.shape}".encode())
        hasher.update(np.ascontiguousarray(array).tobytes())
    return hasher.hexdigest()


def _config(augment: bool) -> dict[str, Any]:
    """lenet5 modern for one epoch of mnist-sample on one thread (the test stays a few seconds
    and does not compete with itself for the cores), with Adam at a constant lr 0.002: the
    recipe's SGD is made for many epochs (one epoch of SGD at lr 0.05, momentum 0.9, ended
    anywhere between 16 % and 75 % test accuracy by the seed, seeds 0-4), where one epoch of
    Adam's ends at 85-87 % (70-80 % with the distortions)."""
    sets = ("train.threads=1", "train.optimizer=Adam", "train.lr=0.002", "train.scheduler=none")
    try:
        return T.resolve_modern(dataset="mnist-sample", epochs=1, augment=augment, sets=sets)
    except papers.PaperError as error:
        if augment and "train.augment" in str(error):
            pytest.skip("this odyssey.papers has no train.augment key yet")
        raise


def _odyssey_batches(config: dict[str, Any], epoch: int) -> list[str]:
    """The digests of epoch `epoch`'s training batches as `odyssey train` gets them: the train
    loader of papers.build_data, set to that epoch as the Trainer sets it."""
    loader = papers.build_data(config).train_loader
    loader.set_epoch(epoch)
    return [_digest(images, labels) for images, labels in loader]


@pytest.mark.parametrize("augment", [False, True], ids=["plain", "augment"])
def test_twin_trains_on_the_batches_odyssey_trains_on(
    augment: bool,
) -> None:
    _torch()
    config = _config(augment)
    seed = 3
    twin_batches: list[tuple[int, int, str]] = []
    result = T.train_twin(
        config,
        seed=seed,
        on_batch=lambda epoch, step, x, y: twin_batches.append((epoch, step, _digest(x, y))),
    )
    # The seed is the run's: shuffling and augmentation follow it, as in `odyssey train --seed`.
    ours = _odyssey_batches({**config, "train": {**config["train"], "seed": seed}}, 0)
    assert ours != _odyssey_batches(config, 0)  # (the recipe's own seed shuffles otherwise)
    assert [(e, s) for e, s, _ in twin_batches] == [(0, s) for s in range(len(ours))]
    assert [d for *_, d in twin_batches] == ours
    assert len(ours) == -(-4000 // config["train"]["batch_size"])  # mnist-sample: 4,000 images
    assert result["epochs"] == 1
    assert result["dataset"] == "mnist-sample"
    assert result["train_images"] == 4000
    assert result["threads"] == 1
    assert result["test_accuracy"] > 0.5  # chance is 0.1: one epoch did train
    assert result["history"][-1]["test_accuracy"] == result["test_accuracy"]


def test_twin_follows_the_seed_and_stops_when_told(threads: None) -> None:
    """Same seed, same run (data order and torch's init); on_eval returning True stops it."""
    _torch()
    config = T.resolve_modern(dataset="mnist-sample", epochs=3, sets=("train.threads=1",))
    config["train"]["lr"] = 0.02
    # A 400-image slice keeps this quick: papers.build_data reads the dataset; its train split is
    # replaced by its first 400 images through val_size (the held-out part is not used).
    config["train"]["val_size"] = 3600
    calls: list[int] = []

    def stop_after_two(epoch: int, result: dict[str, Any]) -> bool:
        calls.append(epoch)
        return epoch == 2

    first = T.train_twin(config, seed=1, eval_every=1, on_eval=stop_after_two)
    assert calls == [1, 2]
    assert first["epochs"] == 2
    assert [row["epoch"] for row in first["history"]] == [1, 2]
    again = T.train_twin(config, seed=1, eval_every=1, on_eval=stop_after_two)
    assert again["test_loss"] == first["test_loss"]
    other = T.train_twin(config, seed=2, eval_every=1, on_eval=stop_after_two)
    assert other["test_loss"] != first["test_loss"]


def test_twin_refuses_a_model_it_does_not_twin() -> None:
    _torch()
    config = T.resolve_modern(dataset="mnist-sample", epochs=1)
    config["variant"]["model"] = "LeNet5"
    with pytest.raises(T.TwinError, match=r"variant\.model must be 'LeNet5Modern'"):
        T.train_twin(config, seed=0)


def test_twin_state_dict_loads_into_lenet5_modern() -> None:
    """Same layer names and shapes as LeNet5Modern, so weights move across."""
    torch = _torch()
    torch.manual_seed(0)
    twin = T.TorchLeNet5Modern()
    model = papers.build_model(T.resolve_modern(dataset="mnist-sample"))
    model.load_state_dict({name: value.numpy() for name, value in twin.state_dict().items()})
    x = np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32)
    ours = model(odyssey.tensor(x)).detach().numpy()
    theirs = twin(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
