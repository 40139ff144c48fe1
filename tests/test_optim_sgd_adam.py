"""optim.SGD (optim/sgd.py), optim.Adam and optim.AdamW (optim/adam.py) against torch.optim and a
float64 reference, state dicts, argument errors. (What the Optimizer base does for every one of
them: test_optim_optimizer.py; their fused kernels through the bindings: test_kernels_optimizer.py.)

Two comparisons with torch.optim (foreach=False) over several steps, every option combination and
several parameter groups: with torch's `Tensor.sqrt` replaced by a correctly rounded one
(conftest's `correctly_rounded_torch_sqrt`), every parameter and state tensor within 1 ulp (it is
bit for bit on x86-64: the kernels perform torch's single-tensor operations in its order, add with
alpha, lerp and addcmul as fused multiply-adds); with torch as shipped, whose CPU sqrt is an ulp
low on about 0.5 % of inputs (Adam's denominator), within 1e-6 of each array's largest value.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optimizer_pair import OptimizerPair

import odyssey
from odyssey import Tensor, nn, optim

SHAPES = [(7, 3), (33,), (2, 3, 5, 5)]


STEPS = 5


SGD_OPTIONS = [
    {"lr": 0.1},
    {"lr": 0.1, "momentum": 0.9},
    {"lr": 0.1, "momentum": 0.9, "dampening": 0.5},
    {"lr": 0.1, "momentum": 0.9, "nesterov": True},
    {"lr": 0.05, "weight_decay": 0.1},
    {"lr": 0.1, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.01},
    {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1, "maximize": True},
]


ADAM_OPTIONS = [
    {},
    {"lr": 0.01, "betas": (0.8, 0.99)},
    {"lr": 0.01, "weight_decay": 0.1},
    {"lr": 0.01, "amsgrad": True},
    {"lr": 0.01, "eps": 1e-3, "weight_decay": 0.05, "amsgrad": True, "maximize": True},
]


ADAMW_OPTIONS = [{}, {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}]


CASES = (
    [("SGD", options) for options in SGD_OPTIONS]
    + [("Adam", options) for options in ADAM_OPTIONS]
    + [("AdamW", options) for options in ADAMW_OPTIONS]
)


def make_param(values: np.ndarray) -> nn.Parameter:
    return nn.Parameter(np.array(values, dtype=np.float32))


def set_grad(param: Tensor, values: np.ndarray) -> None:
    param.grad = Tensor(np.array(values, dtype=np.float32))


def problem(
    seed: int = 0, shapes: list[tuple[int, ...]] = SHAPES
) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """Initial values and a sequence of gradients whose scale changes (so AMSGrad's max acts)."""
    rng = np.random.default_rng(seed)
    initial = [rng.normal(size=shape).astype(np.float32) for shape in shapes]
    grads = [
        [(rng.normal(size=shape) * rng.uniform(0.1, 3.0)).astype(np.float32) for shape in shapes]
        for _ in range(STEPS)
    ]
    return initial, grads


def two_groups(params: list[Any]) -> list[dict[str, Any]]:
    """The first parameters with the optimizer's defaults, the last with its own lr."""
    return [{"params": params[:-1]}, {"params": params[-1:], "lr": 0.03}]


def reference_steps(
    name: str, options: dict[str, Any], initial: list[np.ndarray], grads: list[list[np.ndarray]]
) -> list[np.ndarray]:
    """torch.optim's formulas in float64, parameter by parameter."""
    defaults = {
        "SGD": {"lr": 1e-3, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0},
        "Adam": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0},
        "AdamW": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2},
    }[name]
    results = []
    for index, value in enumerate(initial):
        o = {**defaults, **options, **({"lr": 0.03} if index == len(initial) - 1 else {})}
        p = value.astype(np.float64)
        buf = m = v = v_max = None
        for t, step_grads in enumerate(grads, start=1):
            g = step_grads[index].astype(np.float64) * (-1 if o.get("maximize") else 1)
            if name == "SGD":
                g = g + o["weight_decay"] * p
                if o["momentum"]:
                    buf = g if buf is None else o["momentum"] * buf + (1 - o["dampening"]) * g
                    g = g + o["momentum"] * buf if o.get("nesterov") else buf
                p = p - o["lr"] * g
                continue
            beta1, beta2 = o["betas"]
            if name == "AdamW":
                p = p * (1 - o["lr"] * o["weight_decay"])
            else:
                g = g + o["weight_decay"] * p
            m = (1 - beta1) * g if m is None else beta1 * m + (1 - beta1) * g
            v = (1 - beta2) * g * g if v is None else beta2 * v + (1 - beta2) * g * g
            v_max = v if v_max is None else np.maximum(v_max, v)
            second = v_max if o.get("amsgrad") else v
            denom = np.sqrt(second) / np.sqrt(1 - beta2**t) + o["eps"]
            p = p - o["lr"] / (1 - beta1**t) * m / denom
        results.append(p)
    return results


def run_ours(
    name: str, options: dict[str, Any], initial: list[np.ndarray], grads: list[list[np.ndarray]]
) -> tuple[list[nn.Parameter], optim.Optimizer]:
    params = [make_param(value) for value in initial]
    optimizer = getattr(optim, name)(two_groups(params), **options)
    for step_grads in grads:
        for param, grad in zip(params, step_grads, strict=True):
            set_grad(param, grad)
        optimizer.step()
    return params, optimizer


@pytest.mark.parametrize(("name", "options"), CASES)
def test_matches_the_float64_reference(isa: str, name: str, options: dict[str, Any]) -> None:
    initial, grads = problem()
    params, _ = run_ours(name, options, initial, grads)
    for param, expected in zip(params, reference_steps(name, options, initial, grads), strict=True):
        np.testing.assert_allclose(param.data, expected, rtol=1e-5, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    case=st.sampled_from(CASES),
    shapes=st.lists(st.lists(st.integers(1, 40), max_size=3).map(tuple), min_size=1, max_size=3),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_shapes_match_the_float64_reference(
    case: tuple[str, dict[str, Any]], shapes: list[tuple[int, ...]], seed: int
) -> None:
    name, options = case
    initial, grads = problem(seed, shapes)
    params, _ = run_ours(name, options, initial, grads)
    for param, expected in zip(params, reference_steps(name, options, initial, grads), strict=True):
        np.testing.assert_allclose(param.data, expected, rtol=1e-5, atol=1e-6)


SGD_EVERY_OPTION = [
    {
        "lr": 0.1,
        "momentum": momentum,
        "dampening": dampening,
        "weight_decay": weight_decay,
        "nesterov": nesterov,
        "maximize": maximize,
    }
    for momentum, dampening, weight_decay, nesterov, maximize in itertools.product(
        [0.0, 0.9], [0.0, 0.3], [0.0, 0.1], [False, True], [False, True]
    )
    if not nesterov or (momentum > 0 and dampening == 0)
]


ADAM_EVERY_OPTION = [
    {
        "lr": 0.01,
        "betas": betas,
        "eps": eps,
        "weight_decay": weight_decay,
        "amsgrad": amsgrad,
        "maximize": maximize,
        "decoupled_weight_decay": decoupled,
    }
    # beta1 0.9 lerps exp_avg from its start, 0.3 from its end.
    for betas, eps, weight_decay, amsgrad, maximize, decoupled in itertools.product(
        [(0.9, 0.999), (0.3, 0.5)], [1e-8, 1e-3], [0.0, 0.1], [False, True], [False, True],
        [False, True],
    )
]  # fmt: skip


ADAMW_EVERY_OPTION = [
    {k: v for k, v in options.items() if k != "decoupled_weight_decay"}
    for options in ADAM_EVERY_OPTION
    if options["decoupled_weight_decay"]
]


EVERY_OPTION = (
    [("SGD", options) for options in SGD_EVERY_OPTION]
    + [("Adam", options) for options in ADAM_EVERY_OPTION]
    + [("AdamW", options) for options in ADAMW_EVERY_OPTION]
)


def pick(cases: list[dict[str, Any]], **wanted: Any) -> dict[str, Any]:
    """The first case with the wanted options."""
    return next(c for c in cases if all(c[k] == v for k, v in wanted.items()))


# Every ISA on cases that reach every branch of the kernels.
ISA_CASES = [
    ("SGD", pick(SGD_EVERY_OPTION, momentum=0.9, nesterov=True, weight_decay=0.1, maximize=True)),
    ("SGD", pick(SGD_EVERY_OPTION, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", pick(SGD_EVERY_OPTION, momentum=0.0, weight_decay=0.1)),
    (
        "Adam",
        pick(
            ADAM_EVERY_OPTION,
            betas=(0.3, 0.5),
            eps=1e-3,
            weight_decay=0.1,
            amsgrad=True,
            maximize=True,
            decoupled_weight_decay=True,
        ),
    ),
    (
        "Adam",
        pick(ADAM_EVERY_OPTION, weight_decay=0.1, amsgrad=True, decoupled_weight_decay=False),
    ),
    ("AdamW", pick(ADAMW_EVERY_OPTION, betas=(0.9, 0.999), weight_decay=0.1)),
]


ULP_SHAPES = [(7, 3), (33,), (2, 3, 5, 5), (129,)]


def three_groups(name: str, params: list[Any]) -> list[dict[str, Any]]:
    """The constructor's options, another lr, and another momentum or betas."""
    other = {"momentum": 0.5} if name == "SGD" else {"betas": (0.8, 0.99)}
    return [
        {"params": params[:2]},
        {"params": params[2:3], "lr": 0.03},
        {"params": params[3:], **other},
    ]


def Pair(torch: Any, name: str, options: dict[str, Any], seed: int = 0) -> OptimizerPair:
    """odyssey's and torch's optimizer side by side on this suite's problem and groups."""
    return OptimizerPair(torch, name, options, *problem(seed, ULP_SHAPES), three_groups)


@pytest.mark.parametrize(("name", "options"), EVERY_OPTION)
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


@pytest.mark.parametrize(
    ("name", "options"),
    [
        # Too small for float32 (0 once rounded), but torch tests the Python float: the branches
        # are taken, with zero coefficients.
        ("SGD", {"lr": 0.1, "momentum": 1e-50, "nesterov": True, "weight_decay": 1e-50}),
        ("SGD", {"lr": 0.1, "momentum": 1e-50, "dampening": 0.5}),
        ("Adam", {"lr": 0.01, "weight_decay": 1e-50}),
        ("AdamW", {"lr": 0.01, "weight_decay": 1e-50}),
    ],
)
def test_options_too_small_for_float32_take_torchs_branches(
    correctly_rounded_torch_sqrt: Any, name: str, options: dict[str, Any]
) -> None:
    pair = Pair(correctly_rounded_torch_sqrt, name, options, seed=2)
    for step in pair.steps():
        pair.check_within_one_ulp(step)


@pytest.mark.parametrize(("name", "options"), EVERY_OPTION[::3])
def test_close_to_torch_as_shipped(name: str, options: dict[str, Any]) -> None:
    torch = pytest.importorskip("torch")
    pair = Pair(torch, name, options, seed=3)
    for step in pair.steps():
        for label, ours, theirs in pair.arrays():
            scale = float(np.abs(theirs).max())
            np.testing.assert_allclose(
                ours, theirs, rtol=1e-6, atol=1e-6 * scale, err_msg=f"step {step}, {label}"
            )


@pytest.mark.parametrize(("name", "options"), CASES)
def test_matches_torch_step_by_step(isa: str, name: str, options: dict[str, Any]) -> None:
    torch = pytest.importorskip("torch")
    initial, grads = problem(1)
    params = [make_param(value) for value in initial]
    theirs = [torch.tensor(value, requires_grad=True) for value in initial]
    optimizer = getattr(optim, name)(two_groups(params), **options)
    torch_optimizer = getattr(torch.optim, name)(two_groups(theirs), foreach=False, **options)
    for step_grads in grads:
        for param, their, grad in zip(params, theirs, step_grads, strict=True):
            set_grad(param, grad)
            their.grad = torch.tensor(grad)
        optimizer.step()
        torch_optimizer.step()
        for param, their in zip(params, theirs, strict=True):
            np.testing.assert_allclose(param.data, their.detach().numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(("name", "options"), CASES[1::2])
def test_state_dict_has_torchs_layout(name: str, options: dict[str, Any]) -> None:
    torch = pytest.importorskip("torch")
    initial, grads = problem(2)
    _, optimizer = run_ours(name, options, initial, grads)
    theirs = [torch.tensor(value, requires_grad=True) for value in initial]
    torch_optimizer = getattr(torch.optim, name)(two_groups(theirs), **options)
    for step_grads in grads:
        for their, grad in zip(theirs, step_grads, strict=True):
            their.grad = torch.tensor(grad)
        torch_optimizer.step()
    ours, expected = optimizer.state_dict(), torch_optimizer.state_dict()
    assert ours["state"].keys() == expected["state"].keys()
    for index, entry in expected["state"].items():
        assert ours["state"][index].keys() == entry.keys()
        for key, value in entry.items():
            if key == "step":
                assert ours["state"][index][key] == int(value)
            else:
                np.testing.assert_allclose(ours["state"][index][key], value, rtol=1e-5, atol=1e-7)
    for group, torch_group in zip(ours["param_groups"], expected["param_groups"], strict=True):
        assert group["params"] == torch_group["params"]
        for key, value in group.items():
            assert torch_group[key] == value, key


@pytest.mark.parametrize(("name", "options"), CASES[1::2])
def test_loads_a_torch_state_dict_and_continues_like_torch(
    name: str, options: dict[str, Any]
) -> None:
    torch = pytest.importorskip("torch")
    initial, grads = problem(3)
    theirs = [torch.tensor(value, requires_grad=True) for value in initial]
    torch_optimizer = getattr(torch.optim, name)(two_groups(theirs), **options)
    for step_index, step_grads in enumerate(grads):
        if step_index == 3:
            params = [make_param(their.detach().numpy()) for their in theirs]
            optimizer = getattr(optim, name)(two_groups(params), lr=0.5)
            saved = torch_optimizer.state_dict()
            optimizer.load_state_dict(
                {
                    "state": {
                        index: {key: np.asarray(value) for key, value in entry.items()}
                        for index, entry in saved["state"].items()
                    },
                    "param_groups": saved["param_groups"],
                }
            )
        for their, grad in zip(theirs, step_grads, strict=True):
            their.grad = torch.tensor(grad)
        torch_optimizer.step()
    for param, grad in zip(params, grads[3], strict=True):
        set_grad(param, grad)
    optimizer.step()
    for param, grad in zip(params, grads[4], strict=True):
        set_grad(param, grad)
    optimizer.step()
    for param, their in zip(params, theirs, strict=True):
        np.testing.assert_allclose(param.data, their.detach().numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(("name", "options"), CASES)
def test_state_dict_round_trip_continues_bitwise(name: str, options: dict[str, Any]) -> None:
    initial, grads = problem(4)
    params, optimizer = run_ours(name, options, initial, grads[:3])
    saved = optimizer.state_dict()
    clones = [make_param(param.data.copy()) for param in params]
    fresh = getattr(optim, name)(two_groups(clones), lr=0.5)
    fresh.load_state_dict(saved)
    assert fresh.state_dict()["param_groups"] == saved["param_groups"]
    snapshot = {i: {k: np.copy(v) for k, v in e.items()} for i, e in saved["state"].items()}
    for step_grads in grads[3:]:
        for param, clone, grad in zip(params, clones, step_grads, strict=True):
            set_grad(param, grad)
            set_grad(clone, grad)
        optimizer.step()
        fresh.step()
    for param, clone in zip(params, clones, strict=True):
        np.testing.assert_array_equal(param.data.view(np.uint32), clone.data.view(np.uint32))
    for index, entry in snapshot.items():  # the saved dict is a snapshot, not a view
        for key, value in entry.items():
            np.testing.assert_array_equal(saved["state"][index][key], value)


@pytest.mark.parametrize(("name", "options"), CASES[::3])
def test_bitwise_identical_for_any_thread_count(
    threads: None, name: str, options: dict[str, Any]
) -> None:
    rng = np.random.default_rng(5)
    initial = [rng.normal(size=100003).astype(np.float32)]
    grads = [[rng.normal(size=100003).astype(np.float32)] for _ in range(3)]
    results = []
    for count in (1, 2, 3):
        odyssey.set_num_threads(count)
        params = [make_param(value) for value in initial]
        optimizer = getattr(optim, name)(params, **options)
        for step_grads in grads:
            set_grad(params[0], step_grads[0])
            optimizer.step()
        results.append(params[0].data.view(np.uint32))
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_parameters_without_a_gradient_are_left_alone(name: str) -> None:
    frozen, trained = make_param(np.ones(3)), make_param(np.ones(3))
    optimizer = getattr(optim, name)([frozen, trained], lr=0.1, weight_decay=0.1)
    set_grad(trained, np.ones(3))
    optimizer.step()
    np.testing.assert_array_equal(frozen.data, np.ones(3))
    assert not np.any(trained.data == 1)
    assert frozen not in optimizer.state
    assert list(optimizer.state_dict()["state"]) == ([] if name == "SGD" else [1])


def test_momentum_buffer_is_state() -> None:
    param = make_param(np.zeros(4))
    optimizer = optim.SGD([param], lr=1.0, momentum=0.5)
    set_grad(param, np.ones(4))
    optimizer.step()
    optimizer.step()
    np.testing.assert_array_equal(optimizer.state[param]["momentum_buffer"], np.full(4, 1.5))
    np.testing.assert_array_equal(param.data, np.full(4, -2.5))


def test_adamw_is_adam_with_decoupled_weight_decay() -> None:
    param = make_param(np.zeros(1))
    optimizer = optim.AdamW([param])
    group = optimizer.param_groups[0]
    assert group["weight_decay"] == 1e-2
    assert group["decoupled_weight_decay"] is True
    assert isinstance(optimizer, optim.Adam)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda p: optim.SGD(p, lr=-1), ValueError, "Invalid learning rate: -1"),
        (lambda p: optim.SGD(p, lr=float("nan")), ValueError, "Invalid learning rate: nan"),
        (lambda p: optim.SGD(p, momentum=-0.1), ValueError, "Invalid momentum value: -0.1"),
        (lambda p: optim.SGD(p, weight_decay=-1), ValueError, "Invalid weight_decay value: -1"),
        (
            lambda p: optim.SGD(p, nesterov=True),
            ValueError,
            "Nesterov momentum requires a momentum and zero dampening",
        ),
        (
            lambda p: optim.SGD(p, momentum=0.9, dampening=0.1, nesterov=True),
            ValueError,
            "Nesterov momentum requires a momentum and zero dampening",
        ),
        (lambda p: optim.SGD(p, lr="0.1"), TypeError, "SGD: lr must be a real number, got str"),
        (lambda p: optim.Adam(p, lr=-1e-3), ValueError, "Invalid learning rate: -0.001"),
        (lambda p: optim.Adam(p, eps=-1), ValueError, "Invalid epsilon value: -1"),
        (
            lambda p: optim.Adam(p, betas=(1.0, 0.999)),
            ValueError,
            "Invalid beta parameter at index 0: 1.0",
        ),
        (
            lambda p: optim.AdamW(p, betas=(0.9, -0.1)),
            ValueError,
            "Invalid beta parameter at index 1: -0.1",
        ),
        (lambda p: optim.Adam(p, betas=0.9), TypeError, "Adam: betas must be a pair"),
        (lambda p: optim.AdamW(p, weight_decay=-1), ValueError, "Invalid weight_decay value: -1"),
        (lambda p: optim.SGD([]), ValueError, "optimizer got an empty parameter list"),
        (
            lambda p: optim.SGD(p[0]),
            TypeError,
            "params argument given to the optimizer should be an iterable of Tensors or dicts",
        ),
        (lambda p: optim.SGD(set(p)), TypeError, "organized in ordered collections"),
        (
            lambda p: optim.SGD([p[0], np.zeros(2)]),
            TypeError,
            "optimizer can only optimize Tensors, but one of the params is ndarray",
        ),
        (
            lambda p: optim.SGD([p[0] * 2]),
            ValueError,
            "can't optimize a non-leaf Tensor",
        ),
        (
            lambda p: optim.SGD([Tensor(np.zeros(2), dtype=np.float64)]),
            TypeError,
            "only optimize float32 Tensors, but one of the params has dtype float64",
        ),
        (
            lambda p: optim.SGD([p[0], p[0]]),
            ValueError,
            "a parameter appears more than once in the same parameter group",
        ),
        (
            lambda p: optim.SGD([{"params": p}, {"params": [p[0]]}]),
            ValueError,
            "some parameters appear in more than one parameter group",
        ),
        (
            lambda p: optim.SGD([{"params": p}, {"params": [], "lr": -2}]),
            ValueError,
            "Invalid learning rate: -2",
        ),
        (lambda p: optim.SGD([{"lr": 0.1}]), ValueError, "param_group has no 'params' entry"),
    ],
)
def test_argument_errors(
    make: Callable[[list[nn.Parameter]], Any], error: type, message: str
) -> None:
    params = [make_param(np.zeros(2)), make_param(np.zeros(3))]
    with pytest.raises(error, match=re.escape(message)):
        make(params)


@pytest.mark.parametrize(
    ("name", "options"),
    [("SGD", {"lr": 0.1, "momentum": 0.9}), ("Adam", {"lr": 0.05}), ("AdamW", {"lr": 0.05})],
)
def test_fits_a_linear_model_through_autograd(name: str, options: dict[str, Any]) -> None:
    odyssey.manual_seed(0)
    rng = np.random.default_rng(6)
    x = Tensor(rng.normal(size=(64, 5)))
    y = Tensor(x.data @ rng.normal(size=(5, 2)).astype(np.float32) + 0.5)
    model = nn.Linear(5, 2)
    optimizer = getattr(optim, name)(model.parameters(), **options)
    loss_function = nn.MSELoss()
    losses = []
    for _ in range(150):
        optimizer.zero_grad()
        loss = loss_function(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.item()))
    assert losses[-1] < 1e-3 * losses[0]


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3}),
        ("Adam", {"lr": 0.01, "amsgrad": True}),
        ("AdamW", {"lr": 0.01}),
    ],
)
def test_trains_a_small_convnet_like_torch(name: str, options: dict[str, Any]) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(144, 3)
    )
    ours = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 3))
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})
    optimizer = getattr(optim, name)(ours.parameters(), **options)
    torch_optimizer = getattr(torch.optim, name)(theirs.parameters(), **options)
    rng = np.random.default_rng(7)
    images = rng.normal(size=(8, 1, 8, 8)).astype(np.float32)
    labels = rng.integers(0, 3, 8)
    for _ in range(4):
        optimizer.zero_grad()
        torch_optimizer.zero_grad()
        loss = nn.CrossEntropyLoss()(ours(Tensor(images)), Tensor(labels))
        loss.backward()
        optimizer.step()
        torch_loss = torch.nn.CrossEntropyLoss()(theirs(torch.tensor(images)), torch.tensor(labels))
        torch_loss.backward()
        torch_optimizer.step()
        assert loss.item() == pytest.approx(torch_loss.item(), rel=1e-5)
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key], value.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_a_bad_gradient_is_named(name: str) -> None:
    a, b = make_param(np.zeros((2, 3))), make_param(np.zeros((2, 3)))
    optimizer = getattr(optim, name)([{"params": [a]}, {"params": [b]}], maximize=True)
    set_grad(a, np.ones((2, 3)))
    # The grad setter refuses these, as PyTorch does; the step still checks what .data became.
    b.grad = Tensor(np.ones((2, 3)))
    b.grad.data = np.ones((3, 2), np.float32)
    with pytest.raises(
        ValueError,
        match=rf"{name}\.step: parameter 0 of group 1: the parameter has shape \(2, 3\) but its "
        r"gradient has shape \(3, 2\)",
    ):
        optimizer.step()
    b.grad.data = np.ones((2, 3))
    with pytest.raises(TypeError, match=rf"{name}\.step: parameter 0 of group 1: .*float64"):
        optimizer.step()
    with pytest.raises(TypeError, match=r"Tensor\.grad: expected a Tensor or None, got ndarray"):
        b.grad = np.ones((2, 3), np.float32)
