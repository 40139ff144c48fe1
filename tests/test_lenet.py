"""LeNet-5 (ReLU, max-pool) built from odyssey.nn: it matches PyTorch step for step from the same
weights, and its loss falls on a batch it is fit to."""

from __future__ import annotations

import numpy as np
import pytest

import odyssey
import odyssey.nn.functional as F
from odyssey import _kernels, nn


def lenet5() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )  # fmt: skip


def batch(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images of 10 classes: a random prototype per class plus noise."""
    rng = np.random.default_rng(seed)
    prototypes = rng.standard_normal((10, 1, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, n)
    noise = rng.standard_normal((n, 1, 28, 28), dtype=np.float32)
    return prototypes[labels] + noise, labels


def sgd_steps(model: nn.Module, images: np.ndarray, labels: np.ndarray, steps: int) -> list[float]:
    params = list(model.parameters())
    buffers = [np.zeros_like(p.data) for p in params]
    x, y = odyssey.tensor(images), odyssey.tensor(labels)
    losses = []
    for step in range(steps):
        model.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        for p, buffer in zip(params, buffers, strict=True):
            _kernels.sgd_step(p.data, p.grad.data, buffer, lr=0.02, momentum=0.9,
                              first_step=step == 0)  # fmt: skip
        losses.append(loss.item())
    return losses


def test_lenet5_shapes_and_parameter_count():
    model = lenet5()
    assert model(odyssey.tensor(batch(3)[0])).shape == (3, 10)
    assert sum(p.numel() for p in model.parameters()) == 61706


def test_lenet5_loss_falls_on_a_batch_it_is_fit_to():
    odyssey.manual_seed(0)
    images, labels = batch(32)
    losses = sgd_steps(lenet5(), images, labels, steps=40)
    assert losses[-1] < 0.5 * losses[0]


def test_lenet5_is_bitwise_reproducible_across_thread_counts(threads):
    images, labels = batch(16, seed=2)
    results = []
    for n in (1, 2):
        odyssey.set_num_threads(n)
        odyssey.manual_seed(3)
        model = lenet5()
        sgd_steps(model, images, labels, steps=2)
        results.append(model.state_dict())
    for name, value in results[0].items():
        np.testing.assert_array_equal(value, results[1][name], err_msg=name)


def test_lenet5_steps_match_pytorch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tnn = torch.nn
    theirs = tnn.Sequential(
        tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
        tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(), tnn.Linear(84, 10),
    )  # fmt: skip
    ours = lenet5()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    images, labels = batch(8, seed=1)
    our_losses = sgd_steps(ours, images, labels, steps=3)
    optimizer = torch.optim.SGD(theirs.parameters(), lr=0.02, momentum=0.9)
    their_losses = []
    for _ in range(3):
        optimizer.zero_grad()
        loss = tnn.functional.cross_entropy(theirs(torch.from_numpy(images)),
                                            torch.from_numpy(labels))  # fmt: skip
        loss.backward()
        optimizer.step()
        their_losses.append(loss.item())
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-4)
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(
            ours.state_dict()[name], value.numpy(), rtol=1e-3, atol=1e-5, err_msg=name
        )
