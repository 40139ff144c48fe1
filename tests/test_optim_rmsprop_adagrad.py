"""optim.RMSprop and optim.Adagrad against torch.optim (foreach=False) over several steps with every
option combination and several parameter groups, state dicts, argument errors, thread counts.

Two comparisons with torch: with torch's `Tensor.sqrt` replaced by a correctly rounded one (NumPy's;
conftest's `correctly_rounded_torch_sqrt`), odyssey must be within 1 ulp of torch (it is bit for bit
on x86-64: same operations, same order, addcmul as a fused multiply-add); with torch as shipped,
whose CPU sqrt (MKL's vsSqrt) is an ulp low on about 0.5 % of inputs, the results differ by those
ulps carried through the steps, so that comparison allows 1e-6 relative to each array's largest
value (the momentum buffer's cancellations turn an ulp of one term into more ulps of a small sum).
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import numpy as np
import pytest
from optimizer_pair import OptimizerPair

import odyssey
from odyssey import Tensor, nn, optim

SHAPES = [(7, 3), (33,), (2, 3, 5, 5), (129,)]
STEPS = 5

RMSPROP_CASES = [
    {
        "lr": 0.01,
        "alpha": alpha,
        "eps": eps,
        "weight_decay": weight_decay,
        "momentum": momentum,
        "centered": centered,
        "maximize": maximize,
    }
    for alpha, eps, weight_decay, momentum, centered, maximize in itertools.product(
        [0.99, 0.3], [1e-8, 1e-3], [0.0, 0.1], [0.0, 0.9], [False, True], [False, True]
    )
]
ADAGRAD_CASES = [
    {
        "lr": 0.05,
        "lr_decay": lr_decay,
        "weight_decay": weight_decay,
        "initial_accumulator_value": initial,
        "eps": eps,
        "maximize": maximize,
    }
    for lr_decay, weight_decay, initial, eps, maximize in itertools.product(
        [0.0, 0.1], [0.0, 0.1], [0.0, 0.5], [1e-10, 1e-3], [False, True]
    )
]
CASES = [("RMSprop", c) for c in RMSPROP_CASES] + [("Adagrad", c) for c in ADAGRAD_CASES]
# Every ISA on a few cases that reach every branch of the kernels.
ISA_CASES = [
    ("RMSprop", RMSPROP_CASES[-1]),
    ("RMSprop", RMSPROP_CASES[0]),
    ("RMSprop", RMSPROP_CASES[27]),
    ("Adagrad", ADAGRAD_CASES[-1]),
    ("Adagrad", ADAGRAD_CASES[0]),
]
STATE_NAMES = {"RMSprop": ("square_avg", "grad_avg", "momentum_buffer"), "Adagrad": ("sum",)}


def groups(name: str, params: list[Any]) -> list[dict[str, Any]]:
    """Three groups: the constructor's options, another lr, another alpha or lr_decay."""
    other = {"alpha": 0.9} if name == "RMSprop" else {"lr_decay": 0.05}
    return [
        {"params": params[:2]},
        {"params": params[2:3], "lr": 0.03},
        {"params": params[3:], **other},
    ]


def problem(seed: int) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """Initial values and gradients whose scale changes from step to step."""
    rng = np.random.default_rng(seed)
    initial = [rng.normal(size=shape).astype(np.float32) for shape in SHAPES]
    grads = [
        [(rng.normal(size=shape) * rng.uniform(0.1, 3.0)).astype(np.float32) for shape in SHAPES]
        for _ in range(STEPS)
    ]
    return initial, grads


def make_param(values: np.ndarray) -> nn.Parameter:
    return nn.Parameter(np.array(values, dtype=np.float32))


def Pair(torch: Any, name: str, options: dict[str, Any], seed: int = 0) -> OptimizerPair:
    """odyssey's and torch's optimizer side by side on this suite's problem and groups."""
    return OptimizerPair(torch, name, options, *problem(seed), groups)


@pytest.mark.parametrize(("name", "options"), CASES)
def test_within_one_ulp_of_torch_every_option(
    correctly_rounded_torch_sqrt: Any, name: str, options: dict[str, Any]
) -> None:
    pair = Pair(correctly_rounded_torch_sqrt, name, options)
    for step in pair.steps():
        pair.check_within_one_ulp(step)


@pytest.mark.parametrize(("name", "options"), ISA_CASES)
def test_within_one_ulp_of_torch_on_every_isa(
    isa: str, correctly_rounded_torch_sqrt: Any, name: str, options: dict[str, Any]
) -> None:
    pair = Pair(correctly_rounded_torch_sqrt, name, options, seed=1)
    for step in pair.steps():
        pair.check_within_one_ulp(step)


@pytest.mark.parametrize(("name", "options"), CASES[::5])
def test_close_to_torch_as_shipped(name: str, options: dict[str, Any]) -> None:
    torch = pytest.importorskip("torch")
    pair = Pair(torch, name, options, seed=2)
    for step in pair.steps():
        for label, ours, theirs in pair.arrays():
            scale = float(np.abs(theirs).max())
            np.testing.assert_allclose(
                ours, theirs, rtol=1e-6, atol=1e-6 * scale, err_msg=f"step {step}, {label}"
            )


def float64_reference(
    name: str, options: dict[str, Any], initial: np.ndarray, grads: list[np.ndarray]
) -> np.ndarray:
    """The update written out in float64 from the papers' formulas, one parameter."""
    o = {"alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "centered": False} | options
    p = initial.astype(np.float64)
    square = np.full_like(p, o.get("initial_accumulator_value", 0.0))
    mean = np.zeros_like(p)
    buffer = np.zeros_like(p)
    for t, grad in enumerate(grads, start=1):
        g = grad.astype(np.float64) * (-1 if o.get("maximize") else 1) + o["weight_decay"] * p
        if name == "Adagrad":
            square += g * g
            p = p - o["lr"] / (1 + (t - 1) * o["lr_decay"]) * g / (np.sqrt(square) + o["eps"])
            continue
        square = o["alpha"] * square + (1 - o["alpha"]) * g * g
        mean = o["alpha"] * mean + (1 - o["alpha"]) * g
        variance = square - mean * mean if o["centered"] else square
        step = g / (np.sqrt(variance) + o["eps"])
        if o["momentum"]:
            buffer = o["momentum"] * buffer + step
            step = buffer
        p = p - o["lr"] * step
    return p


@pytest.mark.parametrize(("name", "options"), CASES[::3])
def test_matches_the_float64_formulas(name: str, options: dict[str, Any]) -> None:
    initial, grads = problem(3)
    params = [make_param(value) for value in initial]
    optimizer = getattr(optim, name)(params, **options)
    for step_grads in grads:
        for param, grad in zip(params, step_grads, strict=True):
            param.grad = Tensor(grad)
        optimizer.step()
    for index, param in enumerate(params):
        expected = float64_reference(name, options, initial[index], [g[index] for g in grads])
        np.testing.assert_allclose(param.data, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("name", "options"), CASES[::7])
def test_state_dict_has_torchs_layout(name: str, options: dict[str, Any]) -> None:
    torch = pytest.importorskip("torch")
    pair = Pair(torch, name, options, seed=4)
    for _ in pair.steps():
        pass
    ours, theirs = pair.optimizer.state_dict(), pair.torch_optimizer.state_dict()
    assert ours["state"].keys() == theirs["state"].keys()
    for index, entry in theirs["state"].items():
        assert ours["state"][index].keys() == entry.keys()
        assert ours["state"][index]["step"] == int(entry["step"])
    for group, torch_group in zip(ours["param_groups"], theirs["param_groups"], strict=True):
        assert group == {**torch_group, "foreach": None}


def test_adagrad_state_exists_from_construction_like_torch() -> None:
    torch = pytest.importorskip("torch")
    ours = optim.Adagrad([make_param(np.zeros(3))], initial_accumulator_value=0.25)
    theirs = torch.optim.Adagrad(
        [torch.zeros(3, requires_grad=True)], initial_accumulator_value=0.25
    )
    saved, torch_saved = ours.state_dict(), theirs.state_dict()
    assert saved["state"].keys() == torch_saved["state"].keys() == {0}
    assert saved["state"][0]["step"] == 0
    np.testing.assert_array_equal(saved["state"][0]["sum"], np.full(3, 0.25, np.float32))


@pytest.mark.parametrize(("name", "options"), CASES[1::6])
def test_loads_a_torch_state_dict_and_continues_like_torch(
    correctly_rounded_torch_sqrt: Any, name: str, options: dict[str, Any]
) -> None:
    torch = correctly_rounded_torch_sqrt
    pair = Pair(torch, name, options, seed=5)
    for step in pair.steps():
        if step == 2:
            # A fresh odyssey optimizer takes over from torch's state dict (tensors as arrays).
            pair.ours = [make_param(t.detach().numpy()) for t in pair.theirs]
            pair.optimizer = getattr(optim, name)(groups(name, pair.ours), lr=0.5)
            saved = pair.torch_optimizer.state_dict()
            state = {
                index: {k: v.numpy() if k != "step" else v for k, v in entry.items()}
                for index, entry in saved["state"].items()
            }
            pair.optimizer.load_state_dict({"state": state, "param_groups": saved["param_groups"]})
        if step >= 2:
            pair.check_within_one_ulp(step)


@pytest.mark.parametrize(("name", "options"), CASES[::4])
def test_state_dict_round_trip_continues_bitwise(name: str, options: dict[str, Any]) -> None:
    initial, grads = problem(6)
    params = [make_param(value) for value in initial]
    optimizer = getattr(optim, name)(groups(name, params), **options)

    def step(optimizer: optim.Optimizer, params: list[nn.Parameter], step_grads: list) -> None:
        for param, grad in zip(params, step_grads, strict=True):
            param.grad = Tensor(grad)
        optimizer.step()

    for step_grads in grads[:2]:
        step(optimizer, params, step_grads)
    saved = optimizer.state_dict()
    clones = [make_param(param.data.copy()) for param in params]
    fresh = getattr(optim, name)(groups(name, clones), lr=0.5)
    fresh.load_state_dict(saved)
    assert fresh.state_dict()["param_groups"] == saved["param_groups"]
    assert {i: set(e) for i, e in saved["state"].items()} == {
        i: {"step", *(n for n in STATE_NAMES[name] if n in e)} for i, e in saved["state"].items()
    }
    for step_grads in grads[2:]:
        step(optimizer, params, step_grads)
        step(fresh, clones, step_grads)
    for param, clone in zip(params, clones, strict=True):
        assert param.data.tobytes() == clone.data.tobytes()


@pytest.mark.parametrize(("name", "options"), [CASES[15], CASES[-1]])
def test_bytes_do_not_depend_on_the_thread_count(
    threads: None, name: str, options: dict[str, Any]
) -> None:
    rng = np.random.default_rng(7)
    initial = rng.normal(size=100003).astype(np.float32)
    grads = [rng.normal(size=100003).astype(np.float32) for _ in range(3)]
    results = []
    for count in (1, 2):
        odyssey.set_num_threads(count)
        param = make_param(initial)
        optimizer = getattr(optim, name)([param], **options)
        for grad in grads:
            param.grad = Tensor(grad)
            optimizer.step()
        state = optimizer.state[param]
        results.append(b"".join(v.tobytes() for k, v in sorted(state.items()) if k != "step"))
        results[-1] += param.data.tobytes()
    assert results[0] == results[1]


@pytest.mark.parametrize("name", ["RMSprop", "Adagrad"])
def test_parameters_without_a_gradient_are_left_alone(name: str) -> None:
    frozen, trained = make_param(np.ones(3)), make_param(np.ones(3))
    optimizer = getattr(optim, name)([frozen, trained], lr=0.1, weight_decay=0.1)
    trained.grad = Tensor(np.ones(3, np.float32))
    optimizer.step()
    np.testing.assert_array_equal(frozen.data, np.ones(3))
    assert not np.any(trained.data == 1)
    assert optimizer.state_dict()["state"][1]["step"] == 1
    # Adagrad, like torch, holds state for every parameter from the start; RMSprop on first use.
    assert (frozen in optimizer.state) == (name == "Adagrad")


def test_rmsprop_buffers_switched_on_later_start_at_zero() -> None:
    param = make_param(np.ones(4))
    optimizer = optim.RMSprop([param], lr=0.1)
    param.grad = Tensor(np.ones(4, np.float32))
    optimizer.step()
    assert set(optimizer.state[param]) == {"step", "square_avg"}
    optimizer.param_groups[0].update(momentum=0.5, centered=True)
    optimizer.step()
    assert set(optimizer.state[param]) == {"step", "square_avg", "momentum_buffer", "grad_avg"}
    assert optimizer.state[param]["step"] == 2


def test_adagrad_group_added_later_gets_its_own_initial_accumulator() -> None:
    a, b = make_param(np.ones(2)), make_param(np.ones(2))
    optimizer = optim.Adagrad([a], initial_accumulator_value=0.5)
    optimizer.add_param_group({"params": [b], "initial_accumulator_value": 2.0})
    for p in (a, b):
        p.grad = Tensor(np.ones(2, np.float32))
    optimizer.step()
    np.testing.assert_array_equal(optimizer.state[a]["sum"], np.full(2, 1.5, np.float32))
    np.testing.assert_array_equal(optimizer.state[b]["sum"], np.full(2, 3.0, np.float32))


def test_step_returns_the_closures_loss() -> None:
    param = make_param(np.ones(2))
    for optimizer in (optim.RMSprop([param]), optim.Adagrad([param])):
        assert optimizer.step(lambda: 3.5) == 3.5
        assert optimizer.step() is None


R, A = "RMSprop", "Adagrad"
NAN = float("nan")


@pytest.mark.parametrize(
    ("name", "options", "error", "message"),
    [
        (R, {"lr": -1}, ValueError, "RMSprop: Invalid learning rate: -1"),
        (R, {"eps": -1e-8}, ValueError, "RMSprop: Invalid epsilon value: -1e-08"),
        (R, {"momentum": -0.1}, ValueError, "RMSprop: Invalid momentum value: -0.1"),
        (R, {"weight_decay": -1}, ValueError, "RMSprop: Invalid weight_decay value: -1"),
        (R, {"alpha": -0.5}, ValueError, "RMSprop: Invalid alpha value: -0.5"),
        (R, {"alpha": NAN}, ValueError, "RMSprop: Invalid alpha value: nan"),
        (R, {"lr": "0.1"}, TypeError, "RMSprop: lr must be a real number, got str"),
        (R, {"momentum": None}, TypeError, "RMSprop: momentum must be a real number"),
        (R, {"capturable": True}, ValueError, "RMSprop: capturable=True is not supported"),
        (R, {"differentiable": True}, ValueError, "RMSprop: differentiable=True is not"),
        (A, {"lr": -1}, ValueError, "Adagrad: Invalid learning rate: -1"),
        (A, {"lr_decay": -0.1}, ValueError, "Adagrad: Invalid lr_decay value: -0.1"),
        (A, {"weight_decay": -1}, ValueError, "Adagrad: Invalid weight_decay value: -1"),
        (
            A,
            {"initial_accumulator_value": -1},
            ValueError,
            "Adagrad: Invalid initial_accumulator_value value: -1",
        ),
        (A, {"eps": -1}, ValueError, "Adagrad: Invalid epsilon value: -1"),
        (A, {"lr_decay": [0.1]}, TypeError, "Adagrad: lr_decay must be a real number, got list"),
        (
            A,
            {"fused": True, "foreach": True},
            RuntimeError,
            "`fused` and `foreach` cannot be `True` together.",
        ),
        (
            A,
            {"fused": True, "differentiable": True},
            RuntimeError,
            "`fused` does not support `differentiable`",
        ),
        (A, {"differentiable": True}, ValueError, "Adagrad: differentiable=True is not supported"),
    ],
)
def test_argument_errors(name: str, options: dict[str, Any], error: type, message: str) -> None:
    params = [make_param(np.zeros(2)), make_param(np.zeros(3))]
    with pytest.raises(error, match=re.escape(message)):
        getattr(optim, name)(params, **options)


@pytest.mark.parametrize("name", [R, A])
def test_group_and_params_errors(name: str) -> None:
    params = [make_param(np.zeros(2)), make_param(np.zeros(3))]
    option = "alpha" if name == R else "lr_decay"
    with pytest.raises(ValueError, match=f"{name}: Invalid {option} value: -1"):
        getattr(optim, name)([{"params": params[:1]}, {"params": params[1:], option: -1}])
    with pytest.raises(TypeError, match=f"{name}: params argument given to the optimizer should"):
        getattr(optim, name)(params[0])
    with pytest.raises(ValueError, match=f"{name}: optimizer got an empty parameter list"):
        getattr(optim, name)([])


@pytest.mark.parametrize(
    ("name", "options"),
    [("RMSprop", {}), ("Adagrad", {})],
)
def test_torch_raises_the_same_error_types(name: str, options: dict[str, Any]) -> None:
    torch = pytest.importorskip("torch")
    bad = {"lr": -1, "eps": -1, "weight_decay": -1}
    bad |= {"alpha": -1, "momentum": -1} if name == "RMSprop" else {"lr_decay": -1}
    if name == "Adagrad":
        bad["initial_accumulator_value"] = -1
    for key, value in bad.items():
        with pytest.raises(ValueError, match="Invalid") as torch_error:
            getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **{key: value})
        with pytest.raises(ValueError, match="Invalid") as our_error:
            getattr(optim, name)([make_param(np.zeros(2))], **{key: value})
        assert str(our_error.value) == f"{name}: {torch_error.value}"


def test_accepted_like_torch_and_ignored() -> None:
    param = make_param(np.zeros(2))
    assert optim.RMSprop([param], foreach=True).param_groups[0]["foreach"] is True
    assert optim.Adagrad([param], fused=True).param_groups[0]["fused"] is True


@pytest.mark.parametrize("name", ["RMSprop", "Adagrad"])
def test_a_bad_gradient_is_named(name: str) -> None:
    param = make_param(np.zeros(3))
    optimizer = getattr(optim, name)([param])
    param.grad = Tensor(np.zeros(3, np.float32))
    param.grad.data = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match=rf"{name}.step: parameter 0 of group 0: .* shape"):
        optimizer.step()


@pytest.mark.parametrize(("name", "options"), [("RMSprop", {"lr": 0.01}), ("Adagrad", {"lr": 0.5})])
def test_fits_a_linear_model_through_autograd(name: str, options: dict[str, Any]) -> None:
    rng = np.random.default_rng(8)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x @ np.array([[1.5], [-2.0], [0.5]], np.float32) + 0.25).astype(np.float32)
    model = nn.Linear(3, 1)
    optimizer = getattr(optim, name)(model.parameters(), **options)
    loss_fn = nn.MSELoss()
    first = None
    for _ in range(300):
        optimizer.zero_grad()
        loss = loss_fn(model(Tensor(x)), Tensor(y))
        loss.backward()
        optimizer.step()
        first = float(loss.data) if first is None else first
    assert float(loss.data) < 1e-2 * first


def test_a_momentum_too_small_for_float32_is_still_momentum(
    correctly_rounded_torch_sqrt: Any,
) -> None:
    # torch tests momentum > 0 on the Python float; 1e-50 rounds to 0 in float32 but still takes
    # the momentum branch (buf = g / avg, param += -lr * buf), whose rounding differs.
    pair = Pair(correctly_rounded_torch_sqrt, "RMSprop", {"lr": 0.01, "momentum": 1e-50}, seed=9)
    for step in pair.steps():
        pair.check_within_one_ulp(step)


@pytest.mark.parametrize("name", ["RMSprop", "Adagrad"])
def test_a_weight_decay_too_small_for_float32_still_decays(name: str) -> None:
    # torch tests weight_decay != 0 on the Python float and adds param * float32(1e-50) = param * 0:
    # an infinite parameter then makes a NaN gradient, where skipping the term would not.
    torch = pytest.importorskip("torch")
    values = np.array([np.inf, 1.0, -np.inf, 2.0], np.float32)
    grad = np.array([0.5, -0.25, 0.125, 1.0], np.float32)
    param = make_param(values.copy())
    param.grad = Tensor(grad.copy())
    getattr(optim, name)([param], lr=0.01, weight_decay=1e-50).step()
    theirs = torch.tensor(values.copy(), requires_grad=True)
    theirs.grad = torch.tensor(grad.copy())
    getattr(torch.optim, name)([theirs], lr=0.01, weight_decay=1e-50, foreach=False).step()
    expected = theirs.detach().numpy()
    assert np.isnan(expected).tolist() == [True, False, True, False]
    np.testing.assert_array_equal(param.data, expected)
