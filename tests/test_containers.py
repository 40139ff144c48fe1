"""ModuleList, ModuleDict and Identity behave as torch's (list and dict methods, registration,
names in state dicts); Module's traversal, add_module's rules and repr follow torch's."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import odyssey
from odyssey import nn


def layer_ids(container) -> list[int]:
    return [id(m) for m in container]


def test_module_list_is_a_registered_list():
    a, b, c = nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 3)
    layers = nn.ModuleList([a, b])
    layers.append(c)
    assert len(layers) == 3
    assert layers[0] is a
    assert layers[-1] is c
    assert layer_ids(layers) == [id(a), id(b), id(c)]
    assert list(layers.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    sliced = layers[1:]
    assert type(sliced) is nn.ModuleList
    assert layer_ids(sliced) == [id(b), id(c)]
    assert list(sliced.state_dict()) == ["1.weight", "1.bias"]  # renumbered from 0
    with pytest.raises(IndexError, match="index 3 is out of range"):
        layers[3]


def test_module_list_insert_delete_pop_renumber():
    a, b, c, d = (nn.Linear(1, 1) for _ in range(4))
    layers = nn.ModuleList([a, c])
    layers.insert(1, b)
    assert layer_ids(layers) == [id(a), id(b), id(c)]
    layers.insert(-1, d)  # before the last, as list.insert
    assert layer_ids(layers) == [id(a), id(b), id(d), id(c)]
    del layers[1]
    assert layer_ids(layers) == [id(a), id(d), id(c)]
    assert [name for name, _ in layers.named_children()] == ["0", "1", "2"]
    assert layers.pop(0) is a
    assert layers.pop() is c
    assert layer_ids(layers) == [id(d)]
    assert layers[0] is d
    assert list(layers.state_dict()) == ["0.weight", "0.bias"]
    layers.extend([a, b])
    del layers[::2]
    assert layer_ids(layers) == [id(a)]
    layers[0] = c
    assert layers[0] is c
    assert getattr(layers, "0") is c


def test_module_list_concatenation_and_bad_extend():
    a, b = nn.ReLU(), nn.Tanh()
    left = nn.ModuleList([a])
    combined = left + [b]  # noqa: RUF005 (ModuleList.__add__ is under test)
    assert layer_ids(combined) == [id(a), id(b)]
    assert len(left) == 1
    left += nn.ModuleList([b])
    assert layer_ids(left) == [id(a), id(b)]
    with pytest.raises(TypeError, match="iterable, but got ReLU"):
        left.extend(nn.ReLU())
    with pytest.raises(TypeError, match="int is not a Module subclass"):
        left.append(3)


def test_module_list_inside_a_model_trains_its_modules():
    class Stack(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleList(nn.Linear(3, 3) for _ in range(2))

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    model = Stack()
    assert [name for name, _ in model.named_parameters()] == [
        "layers.0.weight",
        "layers.0.bias",
        "layers.1.weight",
        "layers.1.bias",
    ]
    model(odyssey.tensor(np.ones((2, 3)))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_module_dict_is_a_registered_ordered_mapping():
    conv, act = nn.Linear(2, 2), nn.ReLU()
    choices = nn.ModuleDict({"conv": conv, "act": act})
    assert list(choices) == ["conv", "act"]
    assert list(choices.keys()) == ["conv", "act"]
    assert list(choices.values()) == [conv, act]
    assert list(choices.items()) == [("conv", conv), ("act", act)]
    assert "conv" in choices
    assert "pool" not in choices
    assert choices["conv"] is conv
    assert len(choices) == 2
    assert list(choices.state_dict()) == ["conv.weight", "conv.bias"]
    choices.update([("pool", nn.Identity()), ("act", nn.Tanh())])
    assert list(choices) == ["conv", "act", "pool"]
    assert type(choices["act"]).__name__ == "Tanh"
    choices.update(OrderedDict([("extra", nn.ReLU())]))
    assert choices.pop("conv") is conv
    assert list(choices) == ["act", "pool", "extra"]
    assert not hasattr(choices, "conv")
    del choices["act"]
    assert list(choices) == ["pool", "extra"]
    choices.clear()
    assert len(choices) == 0
    assert list(choices.state_dict()) == []


def test_module_dict_refuses_what_torch_refuses():
    choices = nn.ModuleDict()
    with pytest.raises(KeyError, match="attribute 'train' already exists"):
        choices["train"] = nn.ReLU()
    with pytest.raises(KeyError, match=r'contain "\.", got: a\.b'):
        choices["a.b"] = nn.ReLU()
    with pytest.raises(KeyError, match="empty string"):
        choices[""] = nn.ReLU()
    with pytest.raises(TypeError, match="module name should be a string, got int"):
        choices.add_module(1, nn.ReLU())
    with pytest.raises(ValueError, match="element #0 has length 3; 2 is required"):
        choices.update([("a", nn.ReLU(), 1)])
    with pytest.raises(TypeError, match="element #0 should be Iterable"):
        choices.update([3])
    with pytest.raises(TypeError, match="iterable of key/value pairs, but got int"):
        choices.update(3)


def test_identity_ignores_its_arguments_and_passes_gradients():
    layer = nn.Identity(54, unused="argument")
    x = odyssey.tensor([1.0, -2.0], requires_grad=True)
    y = layer(x)
    assert y is x
    assert list(layer.parameters()) == []
    assert repr(layer) == "Identity()"


def test_named_modules_memo_prefix_and_duplicates():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert [name for name, _ in model.named_modules()] == ["", "0", "1"]
    assert [name for name, _ in model.named_modules(remove_duplicate=False)] == ["", "0", "1", "2"]
    assert [name for name, _ in model.named_modules(prefix="net")] == ["net", "net.0", "net.1"]
    assert [name for name, _ in model.named_modules(memo={shared})] == ["", "1"]
    assert [name for name, _ in model.named_children()] == ["0", "1"]
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias"]
    assert [name for name, _ in model.named_parameters(remove_duplicate=False)] == [
        "0.weight",
        "0.bias",
        "2.weight",
        "2.bias",
    ]
    assert list(model.parameters(recurse=False)) == []
    bn = nn.BatchNorm1d(2)
    assert len(list(nn.Sequential(bn).buffers())) == 3
    assert list(nn.Sequential(bn).buffers(recurse=False)) == []
    assert [name for name, _ in bn.named_buffers(prefix="bn", recurse=False)] == [
        "bn.running_mean",
        "bn.running_var",
        "bn.num_batches_tracked",
    ]


def test_get_submodule_and_register_module():
    model = nn.Sequential(nn.Sequential(nn.Linear(2, 2)))
    assert model.get_submodule("") is model
    assert model.get_submodule("0.0") is model[0][0]
    with pytest.raises(AttributeError, match=r"Sequential\.0 has no sub-module `1`"):
        model.get_submodule("0.1")
    model.register_module("head", nn.Tanh())
    assert type(model.head).__name__ == "Tanh"


def test_requires_grad_freezes_every_parameter():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    assert model.requires_grad_(False) is model
    assert not any(p.requires_grad for p in model.parameters())
    model.requires_grad_()
    assert all(p.requires_grad for p in model.parameters())


class Block(nn.Module):
    """A module with settings on two lines and children, to check the nested layout."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
        self.none = None
        self.add_module("skipped", None)

    def extra_repr(self) -> str:
        return "width=4\ndepth=2"


def test_repr_nests_like_torch():
    model = nn.Sequential(
        OrderedDict(
            [
                ("block", Block()),
                ("heads", nn.ModuleList([nn.Linear(4, 2), nn.Linear(4, 2), nn.Flatten()])),
                ("by_name", nn.ModuleDict({"loss": nn.CrossEntropyLoss()})),
            ]
        )
    )
    assert repr(model) == (
        "Sequential(\n"
        "  (block): Block(\n"
        "    width=4\n"
        "    depth=2\n"
        "    (body): Sequential(\n"
        "      (0): Linear(in_features=4, out_features=4, bias=True)\n"
        "      (1): ReLU()\n"
        "    )\n"
        "    (skipped): None\n"
        "  )\n"
        "  (heads): ModuleList(\n"
        "    (0-1): 2 x Linear(in_features=4, out_features=2, bias=True)\n"
        "    (2): Flatten(start_dim=1, end_dim=-1)\n"
        "  )\n"
        "  (by_name): ModuleDict(\n"
        "    (loss): CrossEntropyLoss()\n"
        "  )\n"
        ")"
    )
    assert repr(nn.ModuleList()) == "ModuleList()"
    assert repr(nn.MSELoss(reduction="sum")) == "MSELoss()"


def test_repr_matches_torch():
    torch = pytest.importorskip("torch")

    def build(lib):
        n = lib.nn
        return n.Sequential(
            n.Linear(3, 4, bias=False),
            n.ModuleList([n.Sequential(n.ReLU(), n.Identity()) for _ in range(3)]),
            n.ModuleDict({"flat": n.Flatten(0, -1), "list": n.ModuleList()}),
            n.NLLLoss(),
            n.Softmax(dim=1),
        )

    assert repr(build(odyssey)) == repr(build(torch))


def _bits(array: np.ndarray) -> bytes:
    return np.ascontiguousarray(array).tobytes()


def _run(model: nn.Sequential, x: np.ndarray, unfused: bool) -> list[bytes]:
    """Output and every parameter's gradient of a sum of the output times fixed weights, through
    the Sequential's forward or (unfused) each module called in turn."""
    model.zero_grad()
    inputs = odyssey.tensor(x, requires_grad=True)
    out = inputs
    if unfused:
        for module in model:
            out = module(out)
    else:
        out = model(inputs)
    weights = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
    (out * odyssey.tensor(weights)).sum().backward()
    return [_bits(out.data), _bits(inputs.grad.data)] + [
        _bits(p.grad.data) for p in model.parameters()
    ]


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "ceil_mode", "pooled"),
    [(2, None, 0, False, 4), (3, 2, 1, True, 5)],
)
def test_sequential_runs_relu_then_max_pool_fused_with_the_same_bits(
    kernel, stride, padding, ceil_mode, pooled
):
    odyssey.manual_seed(0)
    pool = nn.MaxPool2d(kernel, stride, padding, ceil_mode=ceil_mode)
    model = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), pool, nn.Flatten(), nn.Linear(3 * pooled**2, 4)
    )
    x = np.random.default_rng(0).standard_normal((3, 2, 9, 9)).astype(np.float32)
    x[0, :, :4] = -0.0  # windows the ReLU turns into zeros only
    assert model[:3](odyssey.tensor(x)).grad_fn.name == "ReluMaxPool2DWithIndicesBackward0"
    assert _run(model, x, unfused=False) == _run(model, x, unfused=True)


def _zero_windows(shape: tuple[int, ...]) -> np.ndarray:
    """Values no larger than zero, -0.0 and +0.0 among them, with a few NaN and positive ones:
    windows that relu turns into zeros only, led by either zero or by a negative value."""
    rng = np.random.default_rng(3)
    choices = np.array([-0.0, 0.0, -1.0, -2.0, -np.inf, 0.5, np.nan], np.float32)
    weights = np.array([0.3, 0.25, 0.2, 0.1, 0.05, 0.05, 0.05])
    return rng.choice(choices, size=shape, p=weights).astype(np.float32)


@pytest.mark.parametrize(
    "pool", [(2,), (3, 2, 1, 1, False, True), (2, 2, 1), (3, 1)], ids=["2x2", "ceil", "pad", "k3"]
)
@pytest.mark.parametrize("shape", [(3, 4, 9, 11), (4, 8, 10)])
def test_sequential_relu_max_pool_keeps_the_sign_of_zero_bit_for_bit(pool, shape):
    model = nn.Sequential(nn.ReLU(), nn.MaxPool2d(*pool))
    x = _zero_windows(shape)
    x.reshape(-1)[0] = -0.0  # the first window led by -0.0
    if len(shape) == 4:  # an unbatched input's grad_fn is the squeeze after the fused op
        fused_op = model(odyssey.tensor(x, requires_grad=True)).grad_fn.name
        assert fused_op == "ReluMaxPool2DWithIndicesBackward0"
    fused, unfused = _run(model, x, unfused=False), _run(model, x, unfused=True)
    assert fused == unfused
    out = np.frombuffer(fused[0], np.float32)
    # The inputs do exercise both zeros.
    assert np.any((out == 0) & np.signbit(out))
    assert np.any((out == 0) & ~np.signbit(out))
    # Also F.relu_max_pool2d itself, against max_pool2d(relu(x)).
    args = nn.MaxPool2d(*pool)
    direct = nn.functional.relu_max_pool2d(
        odyssey.tensor(x), args.kernel_size, args.stride, args.padding, 1, args.ceil_mode
    )
    assert _bits(direct.data) == fused[0]


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (np.zeros((1, 2, 4, 4), np.int64), "relu"),
        (np.zeros((4, 4), np.float32), "max_pool2d"),
        (np.zeros((1, 1, 2, 4, 4), np.float32), "max_pool2d"),
    ],
)
def test_sequential_relu_max_pool_errors_name_the_modules_functions(x, message):
    model = nn.Sequential(nn.ReLU(), nn.MaxPool2d(2))
    with pytest.raises((TypeError, ValueError)) as fused:
        model(odyssey.tensor(x))
    with pytest.raises((TypeError, ValueError)) as unfused:
        model[1](model[0](odyssey.tensor(x)))
    assert str(fused.value) == str(unfused.value)
    assert str(fused.value).startswith(message + ":")


def test_sequential_fuses_only_an_unhooked_relu_and_plain_max_pool():
    x = odyssey.tensor(np.random.default_rng(0).standard_normal((2, 3, 6, 6)), requires_grad=True)
    fused = "ReluMaxPool2DWithIndicesBackward0"
    assert nn.Sequential(nn.ReLU(), nn.MaxPool2d(2))(x).grad_fn.name == fused
    # Anything that could observe the ReLU's output, or a pool that is not the plain one, runs
    # the modules one by one.
    hooked_relu = nn.ReLU()
    seen = []
    hooked_relu.register_forward_hook(lambda module, args, output: seen.append(output.shape))
    hooked_pool = nn.MaxPool2d(2)
    hooked_pool.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape))

    class MyPool(nn.MaxPool2d):
        pass

    for model in (
        nn.Sequential(hooked_relu, nn.MaxPool2d(2)),
        nn.Sequential(nn.ReLU(), hooked_pool),
        nn.Sequential(nn.ReLU(), nn.MaxPool2d(2, dilation=2)),
        nn.Sequential(nn.ReLU(), MyPool(2)),
        nn.Sequential(nn.ReLU(), nn.ReLU(), nn.MaxPool2d(2, return_indices=True)),
    ):
        out = model(x)
        out = out[0] if isinstance(out, tuple) else out
        assert out.grad_fn.name == "MaxPool2DWithIndicesBackward0"
    assert seen == [(2, 3, 6, 6), (2, 3, 6, 6)]
    # The ReLU that ends a Sequential, or precedes something else, runs alone.
    assert nn.Sequential(nn.MaxPool2d(2), nn.ReLU())(x).grad_fn.name == "ReluBackward0"


@pytest.mark.parametrize("shape", [(5, 7), (2, 3, 7), (1, 7)])
def test_sequential_runs_linear_then_relu_fused_with_the_same_bits(shape):
    odyssey.manual_seed(0)
    model = nn.Sequential(nn.Linear(7, 6), nn.ReLU(), nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 3))
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    x.reshape(-1, 7)[0] = -0.0  # a row whose outputs are the bias alone...
    model[0].bias.data[:2] = 0.0  # ...two of them exactly +-0, where the ReLU stops the gradient
    out = model[:2](odyssey.tensor(x))
    assert out.grad_fn.name == "ReluBackward0"
    assert out.grad_fn.parents[1] is model[0].weight  # one node for the pair
    assert _run(model, x, unfused=False) == _run(model, x, unfused=True)


def test_sequential_fuses_only_an_unhooked_linear_and_relu():
    x = odyssey.tensor(np.random.default_rng(0).standard_normal((2, 3)))
    hooked_linear = nn.Linear(3, 3)
    seen = []
    hooked_linear.register_forward_hook(lambda module, args, output: seen.append(output.shape))
    hooked_relu = nn.ReLU()
    hooked_relu.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape))
    own_forward = nn.Linear(3, 3)

    def forward(t):
        seen.append("own")
        return nn.functional.linear(t, own_forward.weight, own_forward.bias)

    own_forward.forward = forward  # type: ignore[method-assign]
    for model in (
        nn.Sequential(hooked_linear, nn.ReLU()),
        nn.Sequential(nn.Linear(3, 3), hooked_relu),
        nn.Sequential(own_forward, nn.ReLU()),
    ):
        out = model(x)
        # The ReLU ran as its own op, on the Linear's own output node.
        assert out.grad_fn.name == "ReluBackward0"
        assert out.grad_fn.parents[0].grad_fn.name == "AddmmBackward0"
    assert seen == [(2, 3), (2, 3), "own"]
    fused = nn.Sequential(nn.Linear(3, 3), nn.ReLU())(x)
    assert fused.grad_fn.parents[0] is x
