"""The multi-tensor optimizer steps (sgd_step_many, adam_step_many) that SGD and Adam/AdamW take
for a group: byte for byte the per-parameter path (one sgd_step/adam_step call per parameter) over
several steps, odd sizes, 0-d parameters, parameters without gradients and several groups; on every
ISA and thread count; nothing updated when one parameter is refused."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import numpy as np
import pytest

import odyssey
from odyssey import _kernels, optim
from odyssey.optim.optimizer import Optimizer

SHAPES = [(6, 1, 5, 5), (6,), (), (37,), (1031,), (3, 17), (1,), (120, 400)]
STEPS = 4


def make_params(seed: int) -> list[odyssey.Tensor]:
    rng = np.random.default_rng(seed)
    return [
        odyssey.tensor(rng.normal(0, 1, shape).astype(np.float32), requires_grad=True)
        for shape in SHAPES
    ]


def set_grads(params: list[odyssey.Tensor], step: int) -> None:
    rng = np.random.default_rng(1000 + step)
    for index, param in enumerate(params):
        grad = rng.normal(0, 1, param.data.shape).astype(np.float32)
        # Parameter 3 has no gradient on odd steps: skipped, its state untouched.
        param.grad = None if index == 3 and step % 2 else odyssey.tensor(grad)


def per_parameter_step(opt: Optimizer) -> None:
    """The reference: one single-array kernel call (sgd_step, adam_step) per parameter, as the
    optimizers stepped before the multi-tensor kernels, maximize by a negated gradient."""
    for group in opt.param_groups:
        for param in group["params"]:
            if param.grad is None:
                continue
            grad = np.array(param.grad.data)
            if group["maximize"]:
                grad = np.negative(grad, out=np.empty_like(grad))  # stays an array when 0-d
            if isinstance(opt, optim.SGD):
                # Without momentum SGD keeps no state, not even an empty entry.
                momentum = group["momentum"] != 0
                buffer = opt.state[param].get("momentum_buffer") if momentum else None
                first = buffer is None
                if momentum and first:
                    buffer = np.empty_like(param.data)
                _kernels.sgd_step(
                    param.data,
                    grad,
                    buffer,
                    lr=group["lr"],
                    momentum=group["momentum"],
                    dampening=group["dampening"],
                    weight_decay=group["weight_decay"],
                    nesterov=group["nesterov"],
                    first_step=first,
                )
                if momentum:
                    opt.state[param]["momentum_buffer"] = buffer
                continue
            state = opt.state[param]
            if not state:
                state.update(step=0, exp_avg=np.zeros_like(param.data))
                state["exp_avg_sq"] = np.zeros_like(param.data)
            if group["amsgrad"]:
                state.setdefault("max_exp_avg_sq", np.zeros_like(param.data))
            state["step"] += 1
            _kernels.adam_step(
                param.data,
                grad,
                state["exp_avg"],
                state["exp_avg_sq"],
                step=state["step"],
                lr=group["lr"],
                beta1=group["betas"][0],
                beta2=group["betas"][1],
                eps=group["eps"],
                weight_decay=group["weight_decay"],
                decoupled_weight_decay=group["decoupled_weight_decay"],
                max_exp_avg_sq=state.get("max_exp_avg_sq"),
            )


def run(make: Any, reference: bool) -> tuple[list[bytes], dict[str, Any]]:
    params = make_params(7)
    groups = [{"params": params[:5]}, {"params": params[5:], "lr": 0.03}]
    opt = make(groups)
    for step in range(STEPS):
        set_grads(params, step)
        if reference:
            per_parameter_step(opt)
        else:
            opt.step()
    return [p.data.tobytes() for p in params], opt.state_dict()


SGD_OPTIONS = [
    {"momentum": m, "dampening": d, "weight_decay": wd, "nesterov": nesterov}
    for m, d, wd, nesterov in itertools.product([0.0, 0.9], [0.0, 0.3], [0.0, 0.01], [False, True])
    if not nesterov or (m > 0 and d == 0)
] + [{"momentum": 0.9, "maximize": True}]
ADAM_OPTIONS = [
    {"weight_decay": wd, "amsgrad": amsgrad, "betas": betas}
    for wd, amsgrad, betas in itertools.product(
        [0.0, 0.05], [False, True], [(0.9, 0.999), (0.3, 0.5)]
    )
] + [{"maximize": True, "amsgrad": True}]
MAKERS = [
    *(
        pytest.param(lambda g, o=o: optim.SGD(g, lr=0.1, **o), id=f"sgd-{i}")
        for i, o in enumerate(SGD_OPTIONS)
    ),
    *(
        pytest.param(lambda g, o=o: optim.Adam(g, lr=0.01, **o), id=f"adam-{i}")
        for i, o in enumerate(ADAM_OPTIONS)
    ),
    *(
        pytest.param(lambda g, o=o: optim.AdamW(g, lr=0.01, **o), id=f"adamw-{i}")
        for i, o in enumerate(ADAM_OPTIONS)
    ),
]


def assert_same_state(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got["param_groups"] == want["param_groups"]
    assert got["state"].keys() == want["state"].keys()
    for index, entry in want["state"].items():
        assert got["state"][index].keys() == entry.keys()
        for name, value in entry.items():
            if isinstance(value, np.ndarray):
                assert got["state"][index][name].tobytes() == value.tobytes(), (index, name)
            else:
                assert got["state"][index][name] == value, (index, name)


@pytest.mark.parametrize("make", MAKERS)
def test_group_step_has_the_bits_of_the_per_parameter_step(isa: str, make: Any) -> None:
    got, got_state = run(make, reference=False)
    want, want_state = run(make, reference=True)
    assert got == want
    assert_same_state(got_state, want_state)


def test_identical_for_every_thread_count(isa: str, threads: None) -> None:
    makers = (
        lambda g: optim.SGD(g, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
        lambda g: optim.AdamW(g, lr=0.01, amsgrad=True),
    )
    outcomes: list[set[tuple[bytes, ...]]] = [set() for _ in makers]
    for n in (1, 2, 3):
        odyssey.set_num_threads(n)
        for make, seen in zip(makers, outcomes, strict=True):
            params = [
                odyssey.tensor(np.linspace(-1, 1, size, dtype=np.float32), requires_grad=True)
                for size in (200_003, 17)
            ]
            opt = make(params)
            for step in range(3):
                set_grads(params, step)
                opt.step()
            seen.add(tuple(p.data.tobytes() for p in params))
    assert [len(seen) for seen in outcomes] == [1, 1]


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_a_refused_gradient_updates_nothing_and_names_the_parameter(name: str) -> None:
    params = make_params(3)[:3]
    before = [p.data.copy() for p in params]
    opt = optim.SGD(params, lr=0.1, momentum=0.9) if name == "SGD" else optim.Adam(params)
    set_grads(params, 0)
    params[2].grad = odyssey.from_numpy(params[2].data)  # the parameter's own array
    with pytest.raises(ValueError, match=f"{name}.step: parameter 2 of group 0: the gradient"):
        opt.step()
    for param, old in zip(params, before, strict=True):
        assert param.data.tobytes() == old.tobytes()


def test_state_dict_round_trip_continues_the_same_bits() -> None:
    def fresh() -> tuple[list[odyssey.Tensor], optim.SGD]:
        params = make_params(5)
        return params, optim.SGD(params, lr=0.1, momentum=0.9, dampening=0.1)

    params, opt = fresh()
    for step in range(STEPS):
        set_grads(params, step)
        opt.step()
    params2, opt2 = fresh()
    for step in range(2):
        set_grads(params2, step)
        opt2.step()
    saved = copy.deepcopy(opt2.state_dict())
    params3, opt3 = fresh()
    for p3, p2 in zip(params3, params2, strict=True):
        p3.data[...] = p2.data
    opt3.load_state_dict(saved)
    for step in range(2, STEPS):
        set_grads(params3, step)
        opt3.step()
    assert [p.data.tobytes() for p in params3] == [p.data.tobytes() for p in params]


def test_the_kernel_checks_every_array_before_updating_any() -> None:
    params = [np.ones(5, np.float32), np.ones(4, np.float32)]
    grads = [np.ones(5, np.float32), np.ones(3, np.float32)]
    with pytest.raises(ValueError, match=r"sgd_step_many: params\[1\]"):
        _kernels.sgd_step_many(params, grads, lr=0.5)
    assert params[0].tolist() == [1.0] * 5


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda p, g, z: _kernels.adam_step_many(p, g, z(), z(), steps=["x"], **ADAM), TypeError,
         r"adam_step_many: steps\[0\] must be an int, got str"),
        (lambda p, g, z: _kernels.adam_step_many(p, g, z(), z(), steps=[0], **ADAM), ValueError,
         r"adam_step_many: steps\[0\] must be >= 1, got 0"),
        (lambda p, g, z: _kernels.sgd_step_many(p, g, z(), lr=0.1, momentum=0.9,
                                                first_steps=[None]), TypeError,
         r"sgd_step_many: first_steps\[0\] must be a bool, got NoneType"),
    ],
)  # fmt: skip
def test_per_tensor_options_are_checked_by_name(call: Any, error: type, message: str) -> None:
    params, grads = [np.ones(3, np.float32)], [np.ones(3, np.float32)]
    with pytest.raises(error, match=message):
        call(params, grads, lambda: [np.zeros(3, np.float32)])
    assert params[0].tolist() == [1.0] * 3


ADAM = {"lr": 0.1, "beta1": 0.9, "beta2": 0.99, "eps": 1e-8, "weight_decay": 0.0,
        "decoupled_weight_decay": False}  # fmt: skip
