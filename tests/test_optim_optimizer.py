"""optim.Optimizer, the base every optimizer shares (through SGD and Adam): zero_grad, the
closure's loss, parameter groups and add_param_group, and load_state_dict's errors (nothing half
loaded)."""

from __future__ import annotations

import numpy as np
import pytest

from odyssey import Tensor, nn, optim


def make_param(values: np.ndarray) -> nn.Parameter:
    return nn.Parameter(np.array(values, dtype=np.float32))


def set_grad(param: Tensor, values: np.ndarray) -> None:
    param.grad = Tensor(np.array(values, dtype=np.float32))


def test_zero_grad() -> None:
    params = [make_param(np.ones(3)), make_param(np.ones(2))]
    optimizer = optim.SGD(params)
    set_grad(params[0], np.ones(3))
    grad = params[0].grad
    optimizer.zero_grad(set_to_none=False)
    assert params[0].grad is grad
    np.testing.assert_array_equal(grad.data, np.zeros(3))
    assert params[1].grad is None
    optimizer.zero_grad()
    assert params[0].grad is None


def test_step_returns_the_closures_loss() -> None:
    param = make_param(np.array([2.0]))
    optimizer = optim.SGD([param], lr=0.25)

    def closure() -> float:
        set_grad(param, 2 * param.data)  # d/dx x²
        return float(param.data[0] ** 2)

    assert optimizer.step(closure) == 4.0
    assert optimizer.step(closure) == 1.0
    optimizer.zero_grad()
    assert optimizer.step() is None
    np.testing.assert_array_equal(param.data, [0.5])


def test_param_groups_keep_their_own_options() -> None:
    a, b = make_param(np.zeros(2)), make_param(np.zeros(2))
    optimizer = optim.SGD([{"params": a}, {"params": [b], "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert [g["lr"] for g in optimizer.param_groups] == [0.1, 0.5]
    assert [g["momentum"] for g in optimizer.param_groups] == [0.0, 0.9]
    assert optimizer.param_groups[0]["params"] == [a]
    c = make_param(np.zeros(2))
    optimizer.add_param_group({"params": [c], "lr": 2.0})
    for p in (a, b, c):
        set_grad(p, np.ones(2))
    optimizer.param_groups[0]["lr"] = 1.0  # as a scheduler does between steps
    optimizer.step()
    np.testing.assert_array_equal([a.data[0], b.data[0], c.data[0]], [-1.0, -0.5, -2.0])
    assert "Parameter Group 2" in repr(optimizer)


def test_add_param_group_errors_leave_the_optimizer_unchanged() -> None:
    a, b = make_param(np.zeros(2)), make_param(np.zeros(2))
    optimizer = optim.Adam([a])
    with pytest.raises(ValueError, match="some parameters appear in more than one"):
        optimizer.add_param_group({"params": [b, a]})
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        optimizer.add_param_group({"params": [b], "lr": -1})
    with pytest.raises(TypeError, match="param_group must be a dict, got list"):
        optimizer.add_param_group([b])  # type: ignore[arg-type]
    assert len(optimizer.param_groups) == 1
    optimizer.add_param_group({"params": [b], "lr": 0.5})
    assert optimizer.param_groups[1]["betas"] == (0.9, 0.999)


def test_load_state_dict_errors() -> None:
    a, b, c = (make_param(np.zeros(n)) for n in (2, 3, 4))
    source = optim.SGD([{"params": [a, b]}, {"params": [c]}], momentum=0.9)
    for p in (a, b, c):
        set_grad(p, np.ones(p.data.shape))
    source.step()
    saved = source.state_dict()

    fewer = optim.SGD([a, b, c], momentum=0.9)
    with pytest.raises(ValueError, match="has 2 parameter groups but the optimizer has 1"):
        fewer.load_state_dict(saved)
    regrouped = optim.SGD([{"params": [a]}, {"params": [b, c]}], momentum=0.9)
    with pytest.raises(ValueError, match="parameter group 0 has 2 parameters but the optimizer"):
        regrouped.load_state_dict(saved)
    reshaped = optim.SGD([{"params": [a, c]}, {"params": [b]}], momentum=0.9)
    with pytest.raises(
        ValueError,
        match=r"state 'momentum_buffer' of parameter 1 has shape \(3,\) but the parameter "
        r"has shape \(4,\)",
    ):
        reshaped.load_state_dict(saved)
    target = optim.SGD([{"params": [a, b]}, {"params": [c]}], momentum=0.9)
    with pytest.raises(ValueError, match="state for parameter 7, which no group lists"):
        target.load_state_dict({**saved, "state": {7: {"momentum_buffer": np.zeros(2)}}})
    repeated = {**saved, "param_groups": [{**saved["param_groups"][0]}, {"params": [0]}]}
    with pytest.raises(ValueError, match="lists a parameter index in more than one place"):
        target.load_state_dict(repeated)
    bad_lr = {**saved, "param_groups": [{**saved["param_groups"][0], "lr": -1}, {"params": [2]}]}
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        target.load_state_dict(bad_lr)
    with pytest.raises(ValueError, match="state_dict must have 'state' and 'param_groups' keys"):
        target.load_state_dict({"state": {}})
    with pytest.raises(ValueError, match="every parameter group a dict with a 'params' list"):
        target.load_state_dict({"state": {}, "param_groups": [{"lr": 1}, {"params": [2]}]})
    with pytest.raises(ValueError, match="'state' must be a dict"):
        target.load_state_dict({"state": [], "param_groups": saved["param_groups"]})
    adam = optim.Adam([a])
    with pytest.raises(ValueError, match="parameter 0 has step -1"):
        adam.load_state_dict({"state": {0: {"step": -1}}, "param_groups": [{"params": [0]}]})
    assert target.state_dict()["state"] == {}  # nothing was half loaded
