"""papers/lenet5's LeNet5Modern: its shape and parameters, PyTorch's default initialisation, and
20 SGD-momentum steps against its PyTorch twin (skipped without torch; CI installs torch 2.13 CPU).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import odyssey
import odyssey.nn.functional as F
from odyssey import optim
from odyssey.data import load_dataset
from odyssey.papers import load_model_module

FOLDER = Path(__file__).resolve().parents[1] / "papers" / "lenet5"
M = load_model_module(FOLDER)


def _twin_module():
    """papers/lenet5/twin.py (it imports torch when its twin class is first asked for)."""
    spec = importlib.util.spec_from_file_location(
        "_odyssey_paper_lenet5_modern_twin", FOLDER / "twin.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


STEPS, BATCH, LR, MOMENTUM = 20, 32, 0.05, 0.9


def _batches() -> list[tuple[np.ndarray, np.ndarray]]:
    """STEPS batches of mnist-sample's first training images: float32 (N, 1, 28, 28) in [0, 1]."""
    data = load_dataset("mnist-sample", "train")
    images, labels = data.get_batch(np.arange(STEPS * BATCH))
    images = (np.asarray(images, dtype=np.float32) / 255.0).reshape(-1, 1, 28, 28)
    labels = np.asarray(labels, dtype=np.int64)
    return [
        (images[i * BATCH : (i + 1) * BATCH], labels[i * BATCH : (i + 1) * BATCH])
        for i in range(STEPS)
    ]


def test_modern_shapes_and_parameter_count() -> None:
    odyssey.manual_seed(0)
    model = M.LeNet5Modern()
    out = model(odyssey.tensor(np.zeros((3, 1, 28, 28), np.float32)))
    assert out.shape == (3, 10)
    # C1 156, C3 2,416, F5 48,120, F6 10,164, output 850.
    assert sum(p.detach().numpy().size for p in model.parameters()) == 61_706


def test_modern_uses_pytorchs_default_initialisation() -> None:
    """Weights and biases of every layer lie in ±1/sqrt(fan_in) (kaiming_uniform_(a=sqrt(5))) and
    fill that range (a uniform draw, not a narrower one)."""
    odyssey.manual_seed(0)
    state = M.LeNet5Modern().state_dict()
    fan_in = {"c1": 25, "c3": 150, "f5": 400, "f6": 120, "output": 84}
    for layer, fan in fan_in.items():
        bound = 1 / np.sqrt(fan)
        for kind in ("weight", "bias"):
            values = state[f"{layer}.{kind}"]
            assert np.abs(values).max() <= bound * (1 + 1e-6), (layer, kind)
        weight = state[f"{layer}.weight"]
        assert np.abs(weight).max() > 0.9 * bound, layer


def test_modern_matches_its_pytorch_twin_over_20_sgd_momentum_steps() -> None:
    torch = pytest.importorskip("torch")
    tnn = torch.nn

    torch.set_num_threads(1)
    odyssey.manual_seed(0)
    ours = M.LeNet5Modern()
    twin = _twin_module().TorchLeNet5Modern()  # the usual PyTorch LeNet, LeNet5Modern's names
    start = ours.state_dict()
    twin.load_state_dict({name: torch.from_numpy(np.array(v)) for name, v in start.items()})
    ours_opt = optim.SGD(ours.parameters(), lr=LR, momentum=MOMENTUM)
    twin_opt = torch.optim.SGD(twin.parameters(), lr=LR, momentum=MOMENTUM)
    losses = []
    for images, labels in _batches():
        ours_opt.zero_grad()
        loss = F.cross_entropy(ours(odyssey.tensor(images)), odyssey.tensor(labels))
        loss.backward()
        ours_opt.step()
        twin_opt.zero_grad()
        twin_loss = tnn.functional.cross_entropy(
            twin(torch.from_numpy(images)), torch.from_numpy(labels)
        )
        twin_loss.backward()
        twin_opt.step()
        losses.append((float(loss.item()), float(twin_loss.item())))
    for step, (a, b) in enumerate(losses):
        assert abs(a - b) <= 1e-4 * abs(b), (step, a, b)
    assert losses[-1][1] < losses[0][1]  # the steps did train
    final = ours.state_dict()
    for name, value in twin.state_dict().items():
        expected = value.detach().numpy()
        # Relative to the tensor's norm: an element near 0 has no meaningful relative error.
        error = np.linalg.norm(final[name] - expected) / np.linalg.norm(expected)
        assert error <= 1e-4, (name, error)
        assert not np.array_equal(expected, start[name]), name  # every tensor was updated
