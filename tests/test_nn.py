"""nn modules: registration, names, state dicts, modes; outputs and gradients equal PyTorch's for
the same weights (when torch imports)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import odyssey
from odyssey import nn


def rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


class TwoLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU())
        self.head = nn.Linear(2 * 4 * 4, 3)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


def test_parameters_and_names_follow_pytorch():
    model = TwoLayer()
    names = [name for name, _ in model.named_parameters()]
    assert names == [
        "features.0.weight",
        "features.0.bias",
        "features.1.weight",
        "features.1.bias",
        "head.weight",
        "head.bias",
    ]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in model.parameters())
    assert list(model.state_dict()) == [
        "features.0.weight",
        "features.0.bias",
        "features.1.weight",
        "features.1.bias",
        "features.1.running_mean",
        "features.1.running_var",
        "features.1.num_batches_tracked",
        "head.weight",
        "head.bias",
    ]
    assert [type(m).__name__ for m in model.children()] == ["Sequential", "Linear"]
    assert len(list(model.modules())) == 6
    assert "(head): Linear(in_features=32, out_features=3, bias=True)" in repr(model)


def test_train_eval_and_zero_grad():
    model = TwoLayer()
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model(odyssey.tensor(rand(2, 1, 6, 6))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_state_dict_round_trip():
    odyssey.manual_seed(0)
    a = TwoLayer()
    a(odyssey.tensor(rand(4, 1, 6, 6)))  # moves the running statistics
    odyssey.manual_seed(1)
    b = TwoLayer()
    state = {k: v.copy() for k, v in a.state_dict().items()}
    result = b.load_state_dict(state)
    assert result.missing_keys == []
    assert result.unexpected_keys == []
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        np.testing.assert_array_equal(x, y, err_msg=name)
    x = odyssey.tensor(rand(2, 1, 6, 6, seed=5))
    a.eval(), b.eval()
    np.testing.assert_array_equal(a(x).data, b(x).data)


def test_load_state_dict_reports_every_problem():
    model = TwoLayer()
    state = dict(model.state_dict())
    del state["head.bias"]
    state["head.extra"] = np.zeros(1)
    state["features.0.weight"] = np.zeros((2, 1, 5, 5), dtype=np.float32)
    with pytest.raises(ValueError, match=r"missing keys: head\.bias") as error:
        model.load_state_dict(state)
    message = str(error.value)
    assert "unexpected keys: head.extra" in message
    assert "features.0.weight: checkpoint shape (2, 1, 5, 5), model shape (2, 1, 3, 3)" in message
    state["features.0.weight"] = np.zeros((2, 1, 3, 3), dtype=np.float32)
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["head.bias"]
    assert result.unexpected_keys == ["head.extra"]
    assert not model.features[0].weight.data.any()


def test_default_initialisation_is_pytorchs_and_follows_the_seed():
    odyssey.manual_seed(7)
    a = nn.Linear(400, 120)
    odyssey.manual_seed(7)
    b = nn.Linear(400, 120)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    bound = 1 / np.sqrt(400)
    assert np.abs(a.weight.data).max() <= bound
    assert np.abs(a.weight.data).max() > 0.9 * bound
    assert np.abs(a.bias.data).max() <= bound
    conv = nn.Conv2d(6, 16, 5)
    assert np.abs(conv.weight.data).max() <= 1 / np.sqrt(150)
    assert nn.Linear(3, 2, bias=False).bias is None


def test_assigning_a_non_parameter_to_a_parameter_name_fails():
    layer = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="parameter 'weight'"):
        layer.weight = np.zeros((2, 2))
    layer.bias = None
    assert [name for name, _ in layer.named_parameters()] == ["weight"]


def test_sequential_indexing():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(model) == 3
    assert isinstance(model[0], nn.Linear)
    assert isinstance(model[-1], nn.Linear)
    assert len(model[1:]) == 2
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"]
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(nn.ReLU(), np.zeros(2))


def test_module_bad_input_names_the_shapes():
    with pytest.raises(ValueError, match=r"3 channels but weight expects 1"):
        nn.Conv2d(1, 6, 5)(odyssey.tensor(np.zeros((2, 3, 28, 28))))
    with pytest.raises(ValueError, match=r"expected input of 4 dims, got shape \(2, 3\)"):
        nn.BatchNorm2d(3)(odyssey.tensor(np.zeros((2, 3))))
    with pytest.raises(ValueError, match=r"running_mean has shape \(4,\)"):
        nn.BatchNorm1d(4)(odyssey.tensor(np.zeros((2, 3))))
    with pytest.raises(ValueError, match="reduction must be"):
        nn.MSELoss(reduction="avg")


# -- parity with PyTorch --------------------------------------------------------------------


def torch_pair(ours: nn.Module, theirs):
    """Loads torch's weights into ours (through state_dict().numpy(), the documented route)."""
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def compare(ours, theirs, x, torch, rtol=1e-4, atol=1e-5):
    """Same outputs, input gradients and parameter gradients for x."""
    ox = odyssey.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    o_out, t_out = ours(ox), theirs(tx)
    weights = rand(*o_out.shape, seed=9)
    o_loss = (o_out * odyssey.tensor(weights)).sum()
    t_loss = (t_out * torch.tensor(weights)).sum()
    np.testing.assert_allclose(o_out.data, t_out.detach().numpy(), rtol=rtol, atol=atol)
    np.testing.assert_allclose(o_loss.data, t_loss.detach().numpy(), rtol=rtol, atol=atol)
    o_loss.backward()
    t_loss.backward()
    np.testing.assert_allclose(ox.grad.data, tx.grad.numpy(), rtol=rtol, atol=atol)
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(
            p.grad.data, theirs_params[name].grad.numpy(), rtol=rtol, atol=atol, err_msg=name
        )


LAYERS = [
    ("Linear(7, 5)", (4, 7)),
    ("Conv2d(3, 4, 3, stride=2, padding=1)", (2, 3, 9, 9)),
    ("Conv2d(1, 6, 5, padding=2)", (2, 1, 12, 12)),
    ("MaxPool2d(2)", (2, 3, 8, 8)),
    ("MaxPool2d(3, stride=2)", (2, 3, 9, 9)),
    ("AvgPool2d(2)", (2, 3, 8, 8)),
    ("ReLU()", (3, 5)),
    ("LeakyReLU(0.1)", (3, 5)),
    ("Tanh()", (3, 5)),
    ("Sigmoid()", (3, 5)),
    ("Flatten()", (2, 3, 4)),
    ("Softmax(dim=1)", (3, 5)),
    ("LogSoftmax(dim=1)", (3, 5)),
    ("BatchNorm1d(5)", (6, 5)),
    ("BatchNorm2d(3)", (4, 3, 5, 5)),
]


@pytest.mark.parametrize(("layer", "shape"), LAYERS)
def test_layer_matches_pytorch(isa, layer, shape):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ours, theirs = torch_pair(eval(f"nn.{layer}"), eval(f"torch.nn.{layer}"))
    compare(ours, theirs, rand(*shape), torch)
    for name, buffer in theirs.named_buffers():
        np.testing.assert_allclose(
            ours.state_dict()[name], buffer.numpy(), rtol=1e-5, atol=1e-6, err_msg=name
        )


def test_batch_norm_eval_matches_pytorch():
    torch = pytest.importorskip("torch")
    ours, theirs = nn.BatchNorm2d(3, momentum=None), torch.nn.BatchNorm2d(3, momentum=None)
    for seed in range(3):
        x = rand(4, 3, 2, 2, seed=seed)
        ours(odyssey.tensor(x))
        theirs(torch.tensor(x))
    assert int(ours.num_batches_tracked.data) == 3
    ours.eval(), theirs.eval()
    for name, buffer in theirs.named_buffers():
        np.testing.assert_allclose(ours.state_dict()[name], buffer.numpy(), rtol=1e-5, atol=1e-6)
    compare(ours, theirs, rand(2, 3, 2, 2, seed=5), torch)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_match_pytorch(reduction):
    torch = pytest.importorskip("torch")
    logits = rand(6, 4)
    labels = np.array([3, 0, 1, 1, 2, 0])
    weights = rand(6, seed=3)
    for ours, theirs, x in [
        (nn.CrossEntropyLoss(reduction), torch.nn.CrossEntropyLoss(reduction=reduction), logits),
        (nn.NLLLoss(reduction), torch.nn.NLLLoss(reduction=reduction), logits),
    ]:
        ox, tx = odyssey.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        o, t = ours(ox, odyssey.tensor(labels)), theirs(tx, torch.tensor(labels))
        np.testing.assert_allclose(o.data, t.detach().numpy(), rtol=1e-5, atol=1e-6)
        scale = weights if reduction == "none" else np.float32(1.5)
        (o * odyssey.tensor(scale)).sum().backward()
        (t * torch.tensor(scale)).sum().backward()
        np.testing.assert_allclose(ox.grad.data, tx.grad.numpy(), rtol=1e-5, atol=1e-6)
    target = rand(6, 4, seed=4)
    ox, tx = odyssey.tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    o = nn.MSELoss(reduction)(ox, odyssey.tensor(target))
    t = torch.nn.MSELoss(reduction=reduction)(tx, torch.tensor(target))
    np.testing.assert_allclose(o.data, t.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_dropout_module_is_identity_in_eval():
    layer = nn.Dropout(0.5)
    x = odyssey.tensor(np.ones((10, 10)))
    assert (layer(x).data == 0).any()
    layer.eval()
    np.testing.assert_array_equal(layer(x).data, x.data)


def test_sequential_relu_then_max_pool_gives_the_same_bits_as_written():
    x = rand(4, 3, 8, 8)
    ours = odyssey.tensor(x, requires_grad=True)
    y = nn.Sequential(nn.ReLU(), nn.MaxPool2d(2))(ours)
    reference = odyssey.tensor(x, requires_grad=True)
    expected = odyssey.nn.functional.max_pool2d(odyssey.nn.functional.relu(reference), 2)
    np.testing.assert_array_equal(y.data, expected.data)
    g = rand(*y.shape, seed=1)
    y.backward(g)
    expected.backward(g)
    np.testing.assert_array_equal(ours.grad.data, reference.grad.data)


def test_sequential_replanned_after_assignment():
    model = nn.Sequential(OrderedDict([("act", nn.ReLU()), ("pool", nn.MaxPool2d(2))]))
    model.act = nn.Tanh()
    x = odyssey.tensor(rand(1, 1, 2, 2))
    np.testing.assert_allclose(model(x).data, np.tanh(x.data).max().reshape(1, 1, 1, 1))


def test_non_float_input_names_the_dtype_and_shape():
    with pytest.raises(TypeError, match=r"float32.*\(2, 3\)"):
        nn.Linear(3, 2)(odyssey.tensor([[1, 2, 3], [4, 5, 6]]))
    with pytest.raises(TypeError, match=r"float32.*\(1, 1, 5, 5\)"):
        nn.Conv2d(1, 2, 3)(odyssey.tensor(np.zeros((1, 1, 5, 5), dtype=np.int64)))
    with pytest.raises(ValueError, match=r"6 features but weight expects 5 \(input \(2, 6\)"):
        nn.Linear(5, 2)(odyssey.tensor(np.zeros((2, 6))))


class ResidualBlock:
    """conv-bn-relu-conv-bn plus the input, then relu; the same code builds it in both libraries."""

    def __init__(self, lib, channels: int) -> None:
        self.lib = lib
        self.body = lib.nn.Sequential(
            lib.nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            lib.nn.BatchNorm2d(channels),
            lib.nn.ReLU(),
            lib.nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            lib.nn.BatchNorm2d(channels),
        )
        self.head = lib.nn.Linear(channels, 3)

    def __call__(self, x):
        h = self.lib.nn.functional.relu(self.body(x) + x)
        return self.head(h.mean((2, 3)))


def test_residual_block_matches_pytorch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs, ours = ResidualBlock(torch, 4), ResidualBlock(odyssey, 4)
    for our_part, their_part in [(ours.body, theirs.body), (ours.head, theirs.head)]:
        our_part.load_state_dict({k: v.numpy() for k, v in their_part.state_dict().items()})
    x = rand(2, 4, 6, 6)
    labels = np.array([0, 2])
    ox, tx = odyssey.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    o_loss = odyssey.nn.functional.cross_entropy(ours(ox), odyssey.tensor(labels))
    t_loss = torch.nn.functional.cross_entropy(theirs(tx), torch.tensor(labels))
    np.testing.assert_allclose(o_loss.item(), t_loss.item(), rtol=1e-5)
    o_loss.backward()
    t_loss.backward()
    np.testing.assert_allclose(ox.grad.data, tx.grad.numpy(), rtol=1e-3, atol=1e-5)
    their_params = dict(theirs.body.named_parameters())
    for name, p in ours.body.named_parameters():
        np.testing.assert_allclose(
            p.grad.data, their_params[name].grad.numpy(), rtol=1e-3, atol=1e-5, err_msg=name
        )


def test_apply_visits_every_module_children_first():
    model = TwoLayer()
    seen = []
    model.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Conv2d", "BatchNorm2d", "ReLU", "Sequential", "Linear", "TwoLayer"]

    def zero_linear(module):
        if isinstance(module, nn.Linear):
            odyssey.nn.init.zeros_(module.weight)

    model.apply(zero_linear)
    assert not model.head.weight.data.any()
