"""Fast tests of the paper {{ cookiecutter.slug }}.

Every variant builds and maps a batch of paper.toml's input shape to one logit per class,
SmallCNN has its parameter count, a few SGD steps lower the loss, and the targets name known
variants and datasets. In seconds and offline; from the repository's root:
`pytest papers/{{ cookiecutter.slug }}/tests`.
When model.py changes, change these tests with it: they describe the model the README describes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import odyssey
from odyssey.data import DATASETS, load_dataset
from odyssey.papers import (
    build_loss,
    build_model,
    build_optimizer,
    load_model_module,
    load_paper,
    resolve,
)

FOLDER = Path(__file__).resolve().parents[1]
PAPER = load_paper(FOLDER)
M = load_model_module(FOLDER)


@pytest.mark.parametrize("variant", PAPER.variant_names)
def test_every_variant_maps_a_batch_of_the_input_shape_to_class_logits(variant: str) -> None:
    config = resolve(PAPER, variant)
    odyssey.manual_seed(0)
    model = build_model(config)
    shape = config["train"]["input_shape"]
    x = np.random.default_rng(0).random((2, *shape), dtype=np.float32)
    logits = model(odyssey.tensor(x))
    assert logits.shape == (2, len(DATASETS[config["train"]["dataset"]].classes))
    assert np.all(np.isfinite(logits.detach().numpy()))


@pytest.mark.parametrize("classes", [10, 26, 47])
def test_small_cnn_parameters_layer_by_layer(classes: int) -> None:
    model = M.SmallCNN(num_classes=classes, width=8)
    counts = [parameter.numel() for parameter in model.parameters()]
    # conv 1 -> 8 (3x3), conv 8 -> 16 (3x3), linear 16x7x7 -> classes: weights and biases.
    assert counts == [8 * 1 * 3 * 3, 8, 16 * 8 * 3 * 3, 16, classes * 16 * 7 * 7, classes]
    assert sum(counts) == 1248 + 785 * classes
    assert sum(parameter.numel() for parameter in M.SmallCNN().parameters()) == 9098


def test_a_few_sgd_steps_on_one_batch_lower_the_loss() -> None:
    config = resolve(PAPER)
    odyssey.manual_seed(0)
    model = build_model(config)
    optimizer = build_optimizer(config, model.parameters())
    loss_function = build_loss(config)
    # mnist-sample is bundled, so this runs offline; every catalogued dataset is 28x28 greyscale.
    images, labels = load_dataset("mnist-sample", "train").get_float_batch(np.arange(64))
    x = odyssey.tensor(images)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = loss_function(model(x), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert np.all(np.isfinite(losses))
    assert losses[-1] < 0.5 * losses[0], losses


def test_targets_name_a_variant_a_catalogued_dataset_and_a_bar() -> None:
    assert PAPER.targets, "paper.toml has no [[targets]]"
    for target in PAPER.targets:
        assert target["variant"] in PAPER.variant_names
        assert target["dataset"] in DATASETS
        assert target["metric"] in ("test_accuracy", "test_loss")
        if target["metric"] == "test_accuracy":
            assert 0.0 < target["bar"] <= 1.0
            assert 0.0 < target.get("paper", target["bar"]) <= 1.0
        # The run the row is checked on resolves: its variant, dataset, epochs and sets.
        flags = {"dataset": target["dataset"], "epochs": target.get("epochs")}
        config = resolve(PAPER, target["variant"], flags, target.get("sets", []))
        assert config["train"]["dataset"] == target["dataset"]
