"""Every [[targets]] row of papers/lenet5/paper.toml is a runnable recipe: its variant, dataset,
distortions and overrides resolve, and a tiny run of it (a few Trainer steps on the target's
data, where that data is on this machine) trains — the loss on a fixed batch of training images
falls — and reports the metric the target names. Whether the bar is met is for full runs
(`odyssey validate lenet5 --run`, the tooling issue)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import odyssey
from odyssey import papers
from odyssey.data import DataLoader, Subset
from odyssey.data.datasets import local_files
from odyssey.train import Classifier, Trainer

LENET5 = Path(__file__).resolve().parents[1] / "papers" / "lenet5"
PAPER = papers.load_paper(LENET5)
TARGETS = PAPER.targets
STEPS = 60
MARGIN = 0.9  # the tiny run's loss on the fixed batch falls by at least 10 %


def target_config(target: dict) -> dict:
    """The run configuration a target names: its variant on its dataset, with its distortions,
    epochs and --set overrides."""
    sets = [f"train.augment={'true' if target.get('augment', False) else 'false'}"]
    sets += list(target.get("sets", []))
    flags = {"dataset": target["dataset"], "epochs": target.get("epochs")}
    return papers.resolve(PAPER, target["variant"], flags, sets)


def _id(target: dict) -> str:
    return f"{target['variant']}-{target['dataset']}" + ("-aug" if target.get("augment") else "")


def test_the_issue_rows_are_all_there():
    rows = {(t["variant"], t["dataset"], bool(t.get("augment"))) for t in TARGETS}
    assert rows >= {
        ("faithful", "mnist", False),
        ("faithful", "mnist", True),
        ("faithful", "mnist-sample", True),
        ("modern", "mnist-sample", True),
        ("modern", "fashion-mnist", False),
        ("modern", "fashion-mnist", True),
    }
    for target in TARGETS:
        assert target["metric"] == "test_accuracy"
        assert 0.0 < target["bar"] <= 1.0


@pytest.mark.parametrize("target", TARGETS, ids=[_id(t) for t in TARGETS])
def test_a_tiny_run_of_each_target_trains_and_reports_its_metric(target, tmp_path):
    config = target_config(target)
    train = config["train"]
    assert train["augment"] is bool(target.get("augment", False))
    if not all(local_files(train["dataset"], split) for split in ("train", "test")):
        pytest.skip(f"{train['dataset']} is not on this machine (odyssey datasets fetch)")
    odyssey.manual_seed(train["seed"])
    model = papers.build_model(config)
    data = papers.build_data(config)
    # A tiny run: the first STEPS batches of the target's own loader (distortions included),
    # tested on 256 test images.
    loader = data.train_loader
    test = DataLoader(Subset(data.test, list(range(256))), batch_size=64)
    module = Classifier(
        model,
        loss=papers.build_loss(config),
        optimizer=papers.optimizer_factory(config),
        num_classes=data.num_classes,
    )
    loss = papers.build_loss(config)
    images, labels = data.train.get_float_batch(np.arange(256))

    def fixed_batch_loss() -> float:
        with odyssey.no_grad():
            return float(loss(model(odyssey.tensor(images)), odyssey.tensor(labels)).item())

    before = fixed_batch_loss()
    callbacks = papers.build_callbacks(config)
    trainer = Trainer(
        max_steps=STEPS,
        callbacks=callbacks,
        default_root_dir=tmp_path,
        seed=train["seed"],
        progress=False,
        enable_checkpointing=False,
    )
    trainer.fit(module, loader)
    assert trainer.global_step == STEPS
    after = fixed_batch_loss()
    assert after < MARGIN * before
    (results,) = trainer.test(module, test)
    assert 0.0 <= results[target["metric"]] <= 1.0
