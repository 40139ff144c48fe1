"""A ResNet-18 and a VGG-11 for 32x32 images built from odyssey.nn: they train (the loss falls on a
fixed batch) and, from torch's weights, give torch's loss, gradients and SGD step (when torch
imports).

The same code builds each model in either library (`lib` is odyssey or torch), so the two are the
same architecture by construction and their state dicts have the same names.

- ResNet-18 (He et al. 2016) as usually adapted to CIFAR: a 3x3 conv of 64 channels as the stem
  (no 7x7 stride-2 conv, no max pool), four stages of two BasicBlocks (64, 128, 256, 512
  channels; stages 2-4 start with stride 2 and a 1x1 stride-2 conv + BatchNorm shortcut), then
  AdaptiveAvgPool2d((1, 1)) over the final 4x4 map and a linear classifier.
- VGG-11 (Simonyan and Zisserman 2015, configuration A) without BatchNorm, as in the paper: eight
  3x3 convs with ReLU and five 2x2 max pools take 32x32 to 1x1x512, then one linear classifier
  (the CIFAR adaptation of the paper's three 4096-wide layers for 224x224 inputs).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import odyssey

VGG11_CONFIG = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]


def resnet18(lib: Any, num_classes: int = 10) -> Any:
    nn = lib.nn

    class BasicBlock(nn.Module):
        def __init__(self, in_planes: int, planes: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = None
            if stride != 1 or in_planes != planes:
                self.downsample = nn.Sequential(
                    nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                    nn.BatchNorm2d(planes),
                )

        def forward(self, x: Any) -> Any:
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            shortcut = x if self.downsample is None else self.downsample(x)
            return self.relu(out + shortcut)

    class ResNet18(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU()
            widths = [(64, 64, 1), (64, 128, 2), (128, 256, 2), (256, 512, 2)]
            for index, (in_planes, planes, stride) in enumerate(widths, 1):
                layer = nn.Sequential(
                    BasicBlock(in_planes, planes, stride), BasicBlock(planes, planes, 1)
                )
                setattr(self, f"layer{index}", layer)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.flatten = nn.Flatten()
            self.fc = nn.Linear(512, num_classes)

        def forward(self, x: Any) -> Any:
            x = self.relu(self.bn1(self.conv1(x)))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(self.flatten(self.avgpool(x)))

    return ResNet18()


def vgg11(lib: Any, num_classes: int = 10) -> Any:
    nn = lib.nn

    class VGG11(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers: list[Any] = []
            channels = 3
            for item in VGG11_CONFIG:
                if item == "M":
                    layers.append(nn.MaxPool2d(2))
                else:
                    layers += [nn.Conv2d(channels, item, 3, padding=1), nn.ReLU()]
                    channels = item
            self.features = nn.Sequential(*layers)
            self.flatten = nn.Flatten()
            self.classifier = nn.Linear(512, num_classes)

        def forward(self, x: Any) -> Any:
            return self.classifier(self.flatten(self.features(x)))

    return VGG11()


MODELS = {"resnet18": resnet18, "vgg11": vgg11}


def batch(size: int = 2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((size, 3, 32, 32)).astype(np.float32)
    return images, rng.integers(0, 10, size)


@pytest.fixture
def torch_one_thread() -> Iterator[Any]:
    """torch (skipped when missing) on one thread: its results here do not depend on the thread
    count, and its spinning OpenMP workers cost seconds on a busy shared machine."""
    torch = pytest.importorskip("torch")
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(previous)


def test_resnet18_has_resnets_structure_and_parameter_count():
    model = resnet18(odyssey)
    # torchvision's resnet18 has 11,689,512 parameters; the CIFAR stem's 3x3 conv instead of the
    # 7x7 one saves 64*3*(49-9) = 7,680 and the 10-way head instead of the 1000-way one 503,370.
    assert sum(p.numel() for p in model.parameters()) == 11_173_962
    names = [name for name, _ in model.named_modules()]
    assert "layer2.0.downsample.0" in names
    assert "layer1.0.downsample" not in names
    assert sum(type(m).__name__ == "BasicBlock" for m in model.modules()) == 8
    assert sum(type(m).__name__ == "BatchNorm2d" for m in model.modules()) == 20


def test_vgg11_has_eight_convs_and_five_pools():
    model = vgg11(odyssey)
    kinds = [type(m).__name__ for m in model.features]
    assert kinds.count("Conv2d") == 8
    assert kinds.count("MaxPool2d") == 5
    # The paper's 11 weight layers are 8 convs and 3 linear; the 32x32 variant keeps one linear.
    assert sum(p.numel() for p in model.parameters()) == 9_225_610


@pytest.mark.parametrize(("name", "steps"), [("resnet18", 2), ("vgg11", 3)])
def test_model_loss_falls_on_a_fixed_batch(name, steps):
    """A few SGD steps on one batch of two images lower the loss at every step (VGG-11 without
    BatchNorm learns more slowly than the ResNet, hence its extra step)."""
    odyssey.manual_seed(0)
    model = MODELS[name](odyssey)
    images, labels = batch()
    x, y = odyssey.tensor(images), odyssey.tensor(labels)
    optimizer = odyssey.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = odyssey.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with odyssey.no_grad():
        losses.append(odyssey.nn.functional.cross_entropy(model(x), y).item())
    assert all(np.isfinite(losses)), losses
    assert all(after < before for before, after in itertools.pairwise(losses)), losses
    assert losses[-1] < 0.97 * losses[0], losses


def record_module_gradients(model: Any) -> dict[str, list[list[np.ndarray | None]]]:
    """Registers a full backward hook on every sub-module; the dict it returns fills with module
    name -> one list per call of copies of its grad_input and grad_output. (Calls are grouped by
    module because the two engines may run independent branches, such as a block's body and its
    shortcut, in either order.)"""
    seen: dict[str, list[list[np.ndarray | None]]] = {}
    for module_name, module in model.named_modules():
        if module is model:
            continue

        def hook(module: Any, grad_input: Any, grad_output: Any, module_name: str = module_name):
            grads = [*grad_input, *grad_output]
            seen.setdefault(module_name, []).append(
                [None if g is None else g.detach().numpy().copy() for g in grads]
            )

        module.register_full_backward_hook(hook)
    return seen


def assert_close_to_scale(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    """fp32 sums in different orders through 11 or 18 layers: an entry may be off by 1e-4 of the
    array's largest one (measured: below 1e-5), plus 1e-3 of its own size."""
    scale = float(np.abs(expected).max())
    np.testing.assert_allclose(actual, expected, rtol=1e-3, atol=1e-4 * scale, err_msg=what)


@pytest.mark.parametrize("name", MODELS)
def test_model_matches_torch_on_one_sgd_step(name, torch_one_thread):
    """From torch's initial weights: the same loss, every parameter's gradient, the gradients
    every sub-module receives and passes on (seen by full backward hooks), and after one SGD step
    (momentum, weight decay) the same weights and BatchNorm running statistics."""
    torch = torch_one_thread
    torch.manual_seed(0)
    theirs = MODELS[name](torch)
    ours = MODELS[name](odyssey)
    assert repr(ours) == repr(theirs)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    images, labels = batch(seed=1)
    t_opt = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    o_opt = odyssey.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    t_seen = record_module_gradients(theirs)
    o_seen = record_module_gradients(ours)

    t_loss = torch.nn.functional.cross_entropy(theirs(torch.tensor(images)), torch.tensor(labels))
    o_loss = odyssey.nn.functional.cross_entropy(
        ours(odyssey.tensor(images)), odyssey.tensor(labels)
    )
    np.testing.assert_allclose(o_loss.item(), t_loss.item(), rtol=1e-5)
    with warnings.catch_warnings():  # torch's note that the stem's hook fires at its outputs
        warnings.simplefilter("ignore", UserWarning)
        t_loss.backward()
    o_loss.backward()
    their_params = dict(theirs.named_parameters())
    for param_name, param in ours.named_parameters():
        assert_close_to_scale(param.grad.data, their_params[param_name].grad.numpy(), param_name)
    assert sorted(o_seen) == sorted(t_seen)
    for module_name, their_calls in t_seen.items():
        assert len(o_seen[module_name]) == len(their_calls), module_name
        for mine, other in zip(o_seen[module_name], their_calls, strict=True):
            assert [g is None for g in mine] == [g is None for g in other], module_name
            for g, expected in zip(mine, other, strict=True):
                if g is not None:
                    assert_close_to_scale(g, expected, module_name)
    t_opt.step()
    o_opt.step()
    their_state = theirs.state_dict()
    for key, value in ours.state_dict().items():
        expected = their_state[key].numpy()
        np.testing.assert_allclose(value, expected, rtol=1e-4, atol=1e-5, err_msg=key)
