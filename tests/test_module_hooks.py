"""Module hooks: forward pre-hooks, forward hooks, full backward hooks and backward pre-hooks with
torch's signatures, calling order and removable handles; what the backward hooks see (and what
their replacements do) is compared with torch when it imports."""

from __future__ import annotations

import numpy as np
import pytest

import odyssey
from odyssey import nn


def rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def values(grads):
    """Copies of a gradient tuple's arrays (either library's tensors), None kept."""
    return [None if g is None else g.detach().numpy().copy() for g in grads]


def test_forward_pre_hook_replaces_the_arguments_and_its_handle_removes_it():
    layer = nn.Identity()
    x = odyssey.tensor([1.0, 2.0])
    seen = []

    def double(module, args):
        seen.append((module, args))
        return args[0] * 2  # a single value becomes the 1-tuple of arguments

    handle = layer.register_forward_pre_hook(double)
    np.testing.assert_array_equal(layer(x).data, [2.0, 4.0])
    assert seen == [(layer, (x,))]
    handle.remove()
    handle.remove()  # removing twice is harmless, as in torch
    np.testing.assert_array_equal(layer(x).data, [1.0, 2.0])
    assert len(seen) == 1


def test_forward_hook_sees_input_and_output_and_may_replace_the_output():
    layer = nn.Linear(3, 2)
    x = odyssey.tensor(rand(4, 3))
    seen = {}

    def record(module, args, output):
        seen["args"], seen["output"] = args, output

    def negate(module, args, output):
        return -output

    with layer.register_forward_hook(record), layer.register_forward_hook(negate):
        out = layer(x)
    assert seen["args"] == (x,)
    np.testing.assert_array_equal(out.data, -seen["output"].data)
    np.testing.assert_array_equal(layer(x).data, seen["output"].data)  # both removed by `with`


def test_hooks_run_in_registration_order_and_prepend_goes_first():
    layer = nn.Identity()
    order = []
    layer.register_forward_hook(lambda m, a, o: order.append("first"))
    layer.register_forward_hook(lambda m, a, o: order.append("second"))
    layer.register_forward_hook(lambda m, a, o: order.append("prepended"), prepend=True)
    layer.register_forward_pre_hook(lambda m, a: order.append("pre"))
    layer(odyssey.tensor([1.0]))
    assert order == ["pre", "prepended", "first", "second"]


def test_hooks_with_kwargs_see_and_replace_keyword_arguments():
    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    layer = Scale()
    x = odyssey.tensor([1.0, 2.0])
    seen = []
    layer.register_forward_pre_hook(
        lambda m, args, kwargs: (args, {"factor": 3.0}), with_kwargs=True
    )
    layer.register_forward_hook(
        lambda m, args, kwargs, out: seen.append(dict(kwargs)), with_kwargs=True
    )
    np.testing.assert_array_equal(layer(x, factor=5.0).data, [3.0, 6.0])
    assert seen == [{"factor": 3.0}]
    layer.register_forward_pre_hook(lambda m, args, kwargs: args, with_kwargs=True)
    with pytest.raises(RuntimeError, match=r"tuple of \(new_args, new_kwargs\)"):
        layer(x)


def test_always_call_hook_runs_when_forward_raises():
    class Broken(nn.Module):
        def forward(self, x):
            raise ValueError("broken forward")

    layer = Broken()
    calls = []
    layer.register_forward_hook(lambda m, a, o: calls.append(("always", o)), always_call=True)
    layer.register_forward_hook(lambda m, a, o: calls.append(("normal", o)))
    with pytest.raises(ValueError, match="broken forward"):
        layer(odyssey.tensor([1.0]))
    assert calls == [("always", None)]


def test_hooks_fire_on_sub_modules_inside_containers():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    shapes = []
    for module in model:
        module.register_forward_hook(lambda m, a, o: shapes.append((type(m).__name__, o.shape)))
    model(odyssey.tensor(rand(5, 3)))
    assert ("Linear", (5, 4)) in shapes
    assert ("Linear", (5, 2)) in shapes
    assert ("ReLU", (5, 4)) in shapes


def test_full_backward_hook_sees_the_gradients_of_input_and_output():
    layer = nn.Linear(3, 2)
    x = odyssey.tensor(rand(4, 3), requires_grad=True)
    upstream = rand(4, 2, seed=1)
    seen = []
    layer.register_full_backward_hook(lambda m, gi, go: seen.append((m, gi, go)))
    out = layer(x)
    assert out._node.name == "BackwardHookFunctionBackward"
    out.backward(upstream)
    [(module, grad_input, grad_output)] = seen
    assert module is layer
    assert len(grad_input) == 1
    assert len(grad_output) == 1
    np.testing.assert_array_equal(grad_output[0].data, upstream)
    np.testing.assert_allclose(grad_input[0].data, upstream @ layer.weight.data, rtol=1e-6)
    np.testing.assert_array_equal(x.grad.data, grad_input[0].data)
    np.testing.assert_allclose(layer.weight.grad.data, upstream.T @ x.data, rtol=1e-6)


def test_full_backward_hook_replacement_flows_to_the_input_only():
    layer = nn.Linear(3, 2)
    x = odyssey.tensor(rand(4, 3), requires_grad=True)
    layer.register_full_backward_hook(lambda m, gi, go: (gi[0] * 0 + 1,))
    layer(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.ones((4, 3)))
    np.testing.assert_allclose(layer.weight.grad.data, np.ones((4, 2)).T @ x.data, rtol=1e-6)


def test_backward_pre_hook_replaces_grad_output_for_the_module_and_its_inputs():
    layer = nn.Linear(3, 2)
    x = odyssey.tensor(rand(4, 3), requires_grad=True)
    seen = []
    layer.register_full_backward_pre_hook(lambda m, go: (go[0] * 2,))
    layer.register_full_backward_hook(lambda m, gi, go: seen.append(go[0].data.copy()))
    layer(x).sum().backward()
    np.testing.assert_array_equal(seen[0], np.full((4, 2), 2.0))
    np.testing.assert_allclose(layer.bias.grad.data, [8.0, 8.0])
    np.testing.assert_allclose(x.grad.data, np.full((4, 2), 2.0) @ layer.weight.data, rtol=1e-6)


def test_full_backward_hook_without_input_gradients_fires_at_the_outputs():
    layer = nn.Linear(3, 2)
    seen = []
    layer.register_full_backward_hook(lambda m, gi, go: seen.append((gi, go[0].shape)))
    layer(odyssey.tensor(rand(4, 3))).sum().backward()
    assert seen == [((None,), (4, 2))]
    layer.register_full_backward_hook(lambda m, gi, go: (odyssey.ones(4, 3),))
    with pytest.raises(RuntimeError, match="no input requires gradient"):
        layer(odyssey.tensor(rand(4, 3))).sum().backward()


def test_backward_hook_removed_by_its_handle_and_bad_replacements_are_named():
    layer = nn.Linear(3, 2)
    x = odyssey.tensor(rand(4, 3), requires_grad=True)
    calls = []
    handle = layer.register_full_backward_hook(lambda m, gi, go: calls.append(1))
    handle.remove()
    out = layer(x)
    assert out._node.name != "BackwardHookFunctionBackward"
    out.sum().backward()
    assert calls == []
    two = layer.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    with two, pytest.raises(RuntimeError, match="backward hook returned an invalid number"):
        layer(x).sum().backward()
    wrong = layer.register_full_backward_hook(lambda m, gi, go: (odyssey.ones(2, 2),))
    with (
        wrong,
        pytest.raises(RuntimeError, match=r"shape \(2, 2\) at position 0; expected \(4, 3\)"),
    ):
        layer(x).sum().backward()


def mix_in(lib):
    """Two tensor inputs and a number; the first input used twice, the second once."""

    class LibMix(lib.nn.Module):
        def forward(self, a, b, scale):
            return a * a * scale + b, a.sum()

    return LibMix()


def test_full_backward_hooks_match_torch_on_several_inputs_and_outputs():
    torch = pytest.importorskip("torch")
    a, b = rand(2, 3), rand(2, 3, seed=1)
    g0 = rand(2, 3, seed=2)
    results = {}
    for lib, make in [(odyssey, odyssey.tensor), (torch, torch.tensor)]:
        module = mix_in(lib)
        seen = {}

        def pre(m, grad_output, seen=seen):
            seen["pre"] = values(grad_output)

        def hook(m, grad_input, grad_output, seen=seen):
            seen["in"] = values(grad_input)
            seen["out"] = values(grad_output)
            return (grad_input[0] * 3, None, None)

        module.register_full_backward_pre_hook(pre)
        module.register_full_backward_hook(hook)
        ta, tb = make(a, requires_grad=True), make(b, requires_grad=True)
        y, s = module(ta, tb, 0.5)
        ((y * make(g0)).sum() + s * 2).backward()
        seen["a.grad"] = ta.grad.numpy()
        seen["b.grad"] = tb.grad
        results[lib.__name__] = seen
    ours, theirs = results["odyssey"], results["torch"]
    for key in ("pre", "in", "out"):
        assert len(ours[key]) == len(theirs[key]), key
        for mine, other in zip(ours[key], theirs[key], strict=True):
            assert (mine is None) == (other is None), key
            if mine is not None:
                np.testing.assert_allclose(mine, other, rtol=1e-6, err_msg=key)
    np.testing.assert_allclose(ours["a.grad"], theirs["a.grad"], rtol=1e-6)
    assert ours["b.grad"] is None
    assert theirs["b.grad"] is None


def test_full_backward_hook_on_a_model_matches_torch_per_layer():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    x = rand(3, 4)
    grads = {}
    for lib in (torch, odyssey):
        model = lib.nn.Sequential(lib.nn.Linear(4, 5), lib.nn.Tanh(), lib.nn.Linear(5, 2))
        if lib is torch:
            state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
        else:
            model.load_state_dict(state)
        seen = []
        for module in model:
            module.register_full_backward_hook(
                lambda m, gi, go, seen=seen: seen.append(
                    (type(m).__name__, *values((gi[0], go[0])))
                )
            )
        tx = lib.tensor(x, requires_grad=True)
        (model(tx) ** 2).sum().backward()
        grads[lib.__name__] = seen
    assert [s[0] for s in grads["odyssey"]] == ["Linear", "Tanh", "Linear"]
    for mine, other in zip(grads["odyssey"], grads["torch"], strict=True):
        assert mine[0] == other[0]
        np.testing.assert_allclose(mine[1], other[1], rtol=1e-5, atol=1e-6, err_msg=mine[0])
        np.testing.assert_allclose(mine[2], other[2], rtol=1e-5, atol=1e-6, err_msg=mine[0])


def test_leaf_gradients_are_not_shared_through_a_hook():
    class Twice(nn.Module):
        def forward(self, a, b):
            return a + b  # add hands the same gradient array to both inputs

    module = Twice()
    module.register_full_backward_hook(lambda m, gi, go: None)
    a = odyssey.tensor([1.0, 2.0], requires_grad=True)
    b = odyssey.tensor([3.0, 4.0], requires_grad=True)
    module(a, b).sum().backward()
    a.grad.data[0] = 10.0
    np.testing.assert_array_equal(b.grad.data, [1.0, 1.0])


def test_backward_hook_is_not_called_for_gradients_that_bypass_the_outputs():
    class Keep(nn.Module):
        def forward(self, x):
            self.kept = x  # the hooked input, used outside the module's output
            return x * 2

    module = Keep()
    calls = []
    module.register_full_backward_hook(lambda m, gi, go: calls.append(1))
    x = odyssey.tensor([1.0, 2.0], requires_grad=True)
    module(x)
    (module.kept * 3).sum().backward()
    assert calls == []
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


def test_backward_hooks_on_a_module_without_tensor_output_warn():
    class Describe(nn.Module):
        def forward(self, x):
            return {"sum": x.sum()}

    module = Describe()
    module.register_full_backward_hook(lambda m, gi, go: None)
    with pytest.warns(UserWarning, match="module output should be a Tensor"):
        module(odyssey.tensor([1.0], requires_grad=True))


def test_backward_hook_returning_a_non_tensor_is_named():
    layer = nn.Linear(2, 2)
    layer.register_full_backward_hook(lambda m, gi, go: (np.ones((1, 2)),))
    x = odyssey.tensor(np.ones((1, 2)), requires_grad=True)
    with pytest.raises(TypeError, match="backward hook returned a ndarray at position 0"):
        layer(x).sum().backward()


def test_an_always_call_hook_that_raises_after_forward_raised_warns():
    class Broken(nn.Module):
        def forward(self, x):
            raise ValueError("broken forward")

    def failing_hook(module, args, kwargs, output):
        raise RuntimeError("hook failed too")

    layer = Broken()
    layer.register_forward_hook(failing_hook, with_kwargs=True, always_call=True)
    with (
        pytest.warns(UserWarning, match="silenced as another error.*hook failed too"),
        pytest.raises(ValueError, match="broken forward"),
    ):
        layer(odyssey.tensor([1.0]))


def test_backward_hooks_record_nothing_under_no_grad():
    layer = nn.Linear(2, 2)
    calls = []
    layer.register_full_backward_hook(lambda m, gi, go: calls.append(1))
    x = odyssey.tensor(np.ones((1, 2)), requires_grad=True)
    with odyssey.no_grad():
        out = layer(x)
    assert not out.requires_grad
    assert calls == []


def test_a_hook_may_remove_itself_or_register_another_while_others_run() -> None:
    """The hooks run from a snapshot, as torch's: a one-shot hook removes itself mid-call."""
    linear = nn.Linear(2, 2)
    seen: list[str] = []

    def once(module, args, output):
        seen.append("once")
        handle.remove()

    def register(module, args):
        seen.append("pre")
        if len(seen) == 1:
            module.register_forward_pre_hook(lambda module, args: seen.append("late"))

    handle = linear.register_forward_hook(once)
    linear.register_forward_hook(lambda module, args, output: seen.append("always"))
    linear.register_forward_pre_hook(register)
    linear(odyssey.zeros(1, 2))
    linear(odyssey.zeros(1, 2))
    assert seen == ["pre", "once", "always", "pre", "late", "always"]
