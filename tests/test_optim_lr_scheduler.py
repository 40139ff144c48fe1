"""optim.lr_scheduler against torch.optim.lr_scheduler: lr and momentum sequences of every group,
get_last_lr/get_lr/last_epoch, JSON state dicts and resume, and the errors of bad arguments."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from odyssey import Tensor, nn, optim
from odyssey.optim import lr_scheduler as OL
from odyssey.optim.optimizer import Optimizer

torch = pytest.importorskip("torch")
TL = torch.optim.lr_scheduler

LRS = (0.1, 0.05, 0.0031)  # three groups with different initial lrs
STEPS = 60
RESUME_AT = 23
# The keys schedulers put on the optimizer's groups besides lr and momentum.
GROUP_KEYS = ("initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum")
OPTIONS = {"SGD": {"momentum": 0.9}, "Adam": {}, "AdamW": {}, "Plain": {}}
# A metric with a fall, plateaus and noise, so ReduceLROnPlateau reduces several times.
METRICS = [
    1.0 / (1 + i) if i < 8 else 0.11 + 0.01 * ((i * 7) % 5) - 0.02 * (i // 20) for i in range(STEPS)
]


class Plain(Optimizer):
    """An optimizer without momentum (torch's twin: Adagrad), for cycle_momentum's error."""

    def __init__(self, params: Any, lr: float = 0.01) -> None:
        super().__init__(params, {"lr": lr})

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        return None


def optimizers(kind: str = "SGD", lrs: tuple[float, ...] = LRS) -> tuple[Optimizer, Any]:
    """The same parameter groups (tiny parameters) for an odyssey and a torch optimizer."""
    ours = [{"params": [nn.Parameter(np.zeros(2, np.float32))], "lr": lr} for lr in lrs]
    theirs = [{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": lr} for lr in lrs]
    if kind == "Plain":
        return Plain(ours), torch.optim.Adagrad(theirs)
    options = OPTIONS[kind]
    return getattr(optim, kind)(ours, **options), getattr(torch.optim, kind)(theirs, **options)


def momenta(opt: Any) -> list[Any]:
    return [g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups]


def snapshot(opt: Any, sched: Any) -> dict[str, Any]:
    return {
        "lr": [g["lr"] for g in opt.param_groups],
        "momentum": momenta(opt),
        "group_keys": [{k: g[k] for k in GROUP_KEYS if k in g} for g in opt.param_groups],
        "last_lr": list(sched.get_last_lr()),
        "last_epoch": getattr(sched, "last_epoch", "absent"),
    }


def advance(opt: Any, sched: Any, index: int, drive: str) -> None:
    if isinstance(opt, Optimizer):
        opt.step()  # no gradients, so nothing moves; torch's (slow on first use) is skipped
    if drive == "metrics":
        sched.step(METRICS[index])
    elif drive == "metrics_max":
        sched.step(1.0 - METRICS[index])
    else:
        sched.step()


def run(
    opt: Any, sched: Any, drive: str = "step", start: int = 0, stop: int = STEPS
) -> list[dict[str, Any]]:
    rows = [snapshot(opt, sched)] if start == 0 else []
    for index in range(start, stop):
        advance(opt, sched, index, drive)
        rows.append(snapshot(opt, sched))
    return rows


def assert_close(ours: Any, theirs: Any, where: str) -> None:
    """Equal structure; numbers equal to 1e-12 relative."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), where
        assert ours.keys() == theirs.keys(), where
        for key in theirs:
            assert_close(ours[key], theirs[key], f"{where}.{key}")
    elif isinstance(theirs, (list, tuple)):
        assert isinstance(ours, (list, tuple)), where
        assert len(ours) == len(theirs), where
        for index, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            assert_close(a, b, f"{where}[{index}]")
    elif isinstance(theirs, (int, float)) and not isinstance(theirs, bool):
        assert isinstance(ours, (int, float)), f"{where}: {ours!r} vs {theirs!r}"
        assert math.isclose(ours, theirs, rel_tol=1e-12, abs_tol=1e-300) or (
            math.isnan(ours) and math.isnan(theirs)
        ), f"{where}: {ours!r} vs torch {theirs!r}"
    else:
        assert ours == theirs, f"{where}: {ours!r} vs torch {theirs!r}"


def assert_sequences(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> None:
    assert len(ours) == len(theirs)
    for step, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert_close(a, b, f"step {step}")


class Scale:
    """A callable object: its attributes are what state dicts keep of a user function."""

    def __init__(self, base: float) -> None:
        self.base = base

    def __call__(self, x: float) -> float:
        return self.base**x


def lambdas(L: Any, o: Any) -> Any:
    return L.LambdaLR(o, [lambda e: 1 / (e + 1), Scale(0.9), lambda e: e // 10 + 1])


def sequential(L: Any, o: Any) -> Any:
    warm = L.LinearLR(o, start_factor=0.1, total_iters=10)
    return L.SequentialLR(o, [warm, L.CosineAnnealingLR(o, T_max=40, eta_min=1e-4)], [10])


# (optimizer, factory(scheduler module, optimizer) -> scheduler, how it is stepped)
CONFIGS = {
    "StepLR": ("SGD", lambda L, o: L.StepLR(o, step_size=3), "step"),
    "StepLR-gamma": ("Adam", lambda L, o: L.StepLR(o, 7, gamma=0.5), "step"),
    "MultiStepLR": ("SGD", lambda L, o: L.MultiStepLR(o, [2, 5, 5, 11, 40], 0.3), "step"),
    "MultiStepLR-unsorted": ("SGD", lambda L, o: L.MultiStepLR(o, (30, 10)), "step"),
    "ConstantLR": ("SGD", lambda L, o: L.ConstantLR(o), "step"),
    "ConstantLR-args": ("SGD", lambda L, o: L.ConstantLR(o, factor=0.5, total_iters=10), "step"),
    "LinearLR": ("SGD", lambda L, o: L.LinearLR(o), "step"),
    "LinearLR-args": ("SGD", lambda L, o: L.LinearLR(o, 0.1, 0.9, total_iters=20), "step"),
    "LinearLR-decay": ("Adam", lambda L, o: L.LinearLR(o, 1.0, 0.0, total_iters=30), "step"),
    "ExponentialLR": ("SGD", lambda L, o: L.ExponentialLR(o, gamma=0.93), "step"),
    "ExponentialLR-up": ("SGD", lambda L, o: L.ExponentialLR(o, 1.05), "step"),
    "PolynomialLR": ("SGD", lambda L, o: L.PolynomialLR(o), "step"),
    "PolynomialLR-args": ("SGD", lambda L, o: L.PolynomialLR(o, 30, power=2.0), "step"),
    "PolynomialLR-sqrt": ("SGD", lambda L, o: L.PolynomialLR(o, 57, power=0.5), "step"),
    "CosineAnnealingLR": ("SGD", lambda L, o: L.CosineAnnealingLR(o, T_max=10), "step"),
    "CosineAnnealingLR-eta": ("SGD", lambda L, o: L.CosineAnnealingLR(o, 7, 1e-3), "step"),
    "CosineAnnealingLR-long": ("Adam", lambda L, o: L.CosineAnnealingLR(o, 60, 1e-4), "step"),
    "WarmRestarts": ("SGD", lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=5), "step"),
    "WarmRestarts-mult": (
        "SGD",
        lambda L, o: L.CosineAnnealingWarmRestarts(o, 3, T_mult=2, eta_min=1e-3),
        "step",
    ),
    "WarmRestarts-mult3": ("SGD", lambda L, o: L.CosineAnnealingWarmRestarts(o, 2, 3), "step"),
    "LambdaLR": ("SGD", lambda L, o: L.LambdaLR(o, lambda e: 0.95**e), "step"),
    "LambdaLR-list": ("SGD", lambdas, "step"),
    "MultiplicativeLR": ("SGD", lambda L, o: L.MultiplicativeLR(o, lambda e: 0.95), "step"),
    "MultiplicativeLR-list": (
        "Adam",
        lambda L, o: L.MultiplicativeLR(o, [lambda e: 0.9, Scale(1.0), lambda e: 1 + e / 100]),
        "step",
    ),
    "SequentialLR": (
        "SGD",
        lambda L, o: L.SequentialLR(
            o, [L.ConstantLR(o, factor=0.1, total_iters=5), L.ExponentialLR(o, 0.9)], [5]
        ),
        "step",
    ),
    "SequentialLR-warmup-cosine": ("SGD", sequential, "step"),
    "SequentialLR-three": (
        "SGD",
        lambda L, o: L.SequentialLR(
            o,
            [L.LinearLR(o, total_iters=4), L.StepLR(o, 5, 0.5), L.LambdaLR(o, lambda e: 0.97**e)],
            milestones=[4, 20],
        ),
        "step",
    ),
    "SequentialLR-multiplicative": (
        "SGD",
        lambda L, o: L.SequentialLR(
            o, [L.ExponentialLR(o, 0.8), L.MultiplicativeLR(o, lambda e: 0.98)], [12]
        ),
        "step",
    ),
    "ChainedScheduler": (
        "SGD",
        lambda L, o: L.ChainedScheduler(
            [L.ConstantLR(o, factor=0.1, total_iters=2), L.ExponentialLR(o, gamma=0.9)]
        ),
        "step",
    ),
    "ChainedScheduler-three": (
        "Adam",
        lambda L, o: L.ChainedScheduler(
            [L.LinearLR(o, total_iters=8), L.StepLR(o, 6), L.MultiStepLR(o, [10, 33], 0.5)],
            optimizer=o,
        ),
        "step",
    ),
    "ChainedScheduler-sequential": (
        "SGD",
        lambda L, o: L.ChainedScheduler([sequential(L, o), L.ExponentialLR(o, 0.99)]),
        "step",
    ),
    "CyclicLR": ("SGD", lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=5), "step"),
    "CyclicLR-adam": ("Adam", lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=5), "step"),
    "CyclicLR-triangular2": (
        "SGD",
        lambda L, o: L.CyclicLR(o, 0.001, 0.1, 4, 6, mode="triangular2"),
        "step",
    ),
    "CyclicLR-exp_range": (
        "AdamW",
        lambda L, o: L.CyclicLR(o, 0.001, 0.1, 3, mode="exp_range", gamma=0.97),
        "step",
    ),
    "CyclicLR-scale_fn-cycle": (
        "SGD",
        lambda L, o: L.CyclicLR(o, 0.01, 0.2, 4, 2, scale_fn=Scale(0.5)),
        "step",
    ),
    "CyclicLR-scale_fn-iterations": (
        "Adam",
        lambda L, o: L.CyclicLR(
            o, 0.01, 0.2, 7, scale_fn=lambda x: 1 / (1 + x), scale_mode="iterations"
        ),
        "step",
    ),
    "CyclicLR-lists": (
        "SGD",
        lambda L, o: L.CyclicLR(
            o,
            base_lr=[0.01, 0.02, 0.003],
            max_lr=(0.1, 0.3, 0.05),
            step_size_up=6,
            step_size_down=3,
            base_momentum=[0.7, 0.8, 0.85],
            max_momentum=0.95,
        ),
        "step",
    ),
    "CyclicLR-no-momentum": (
        "SGD",
        lambda L, o: L.CyclicLR(o, 0.01, 0.1, 5, cycle_momentum=False),
        "step",
    ),
    "CyclicLR-plain": (
        "Plain",
        lambda L, o: L.CyclicLR(o, 0.01, 0.1, 5, cycle_momentum=False),
        "step",
    ),
    "OneCycleLR": ("SGD", lambda L, o: L.OneCycleLR(o, max_lr=1.0, total_steps=STEPS), "step"),
    "OneCycleLR-adam": ("Adam", lambda L, o: L.OneCycleLR(o, 0.01, total_steps=STEPS), "step"),
    "OneCycleLR-linear-epochs": (
        "SGD",
        lambda L, o: L.OneCycleLR(
            o, [0.5, 0.2, 0.1], epochs=6, steps_per_epoch=10, anneal_strategy="linear"
        ),
        "step",
    ),
    "OneCycleLR-three_phase": (
        "AdamW",
        lambda L, o: L.OneCycleLR(o, 0.1, STEPS, three_phase=True, pct_start=0.25),
        "step",
    ),
    "OneCycleLR-args": (
        "SGD",
        lambda L, o: L.OneCycleLR(
            o,
            0.3,
            total_steps=STEPS + 5,
            pct_start=0.4,
            div_factor=10.0,
            final_div_factor=100,
            base_momentum=[0.8, 0.85, 0.7],
            max_momentum=(0.9, 0.99, 0.95),
        ),
        "step",
    ),
    "OneCycleLR-no-momentum": (
        "Adam",
        lambda L, o: L.OneCycleLR(o, 0.1, STEPS, cycle_momentum=False, three_phase=True),
        "step",
    ),
    "SequentialLR-milestone-0": (
        "SGD",
        lambda L, o: L.SequentialLR(o, [L.StepLR(o, 2), L.ExponentialLR(o, 0.9)], [0]),
        "step",
    ),
    "SequentialLR-warm-restarts": (
        "SGD",
        lambda L, o: L.SequentialLR(
            o, [L.LinearLR(o, total_iters=3), L.CosineAnnealingWarmRestarts(o, 4, 2)], [7]
        ),
        "step",
    ),
    "SequentialLR-cyclic": (
        "SGD",
        lambda L, o: L.SequentialLR(o, [L.ConstantLR(o, 0.5, 3), L.CyclicLR(o, 0.01, 0.1, 4)], [9]),
        "step",
    ),
    "ChainedScheduler-cyclic": (
        "Adam",
        lambda L, o: L.ChainedScheduler([L.CyclicLR(o, 0.01, 0.1, 4), L.ExponentialLR(o, 0.99)]),
        "step",
    ),
    "CyclicLR-sawtooth": ("SGD", lambda L, o: L.CyclicLR(o, 0.01, 0.1, 4, 0), "step"),
    "CyclicLR-float-sizes": (
        "SGD",
        lambda L, o: L.CyclicLR(o, 0.01, 0.1, 2.5, 3.5, mode="triangular2"),
        "step",
    ),
    "OneCycleLR-pct_start-0": (
        "SGD",
        lambda L, o: L.OneCycleLR(o, 0.1, total_steps=STEPS, pct_start=0.0),
        "step",
    ),
    "CosineAnnealingLR-float-T_max": ("SGD", lambda L, o: L.CosineAnnealingLR(o, 7.5), "step"),
    "ReduceLROnPlateau": ("SGD", lambda L, o: L.ReduceLROnPlateau(o, patience=3), "metrics"),
    "ReduceLROnPlateau-default": ("SGD", lambda L, o: L.ReduceLROnPlateau(o), "metrics"),
    "ReduceLROnPlateau-args": (
        "Adam",
        lambda L, o: L.ReduceLROnPlateau(
            o, factor=0.5, patience=2, cooldown=3, min_lr=[0.02, 0.0, 1e-3], threshold=0.05
        ),
        "metrics",
    ),
    "ReduceLROnPlateau-max-abs": (
        "SGD",
        lambda L, o: L.ReduceLROnPlateau(
            o, "max", 0.3, patience=1, threshold=0.004, threshold_mode="abs", min_lr=1e-3
        ),
        "metrics_max",
    ),
    "ReduceLROnPlateau-eps": (
        "SGD",
        lambda L, o: L.ReduceLROnPlateau(o, mode="min", factor=0.9, patience=0, eps=0.004),
        "metrics",
    ),
}


@pytest.fixture(autouse=True)
def _quiet() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's hints and deprecations
        yield


def build(name: str) -> tuple[Any, Any, Any, Any, str]:
    kind, factory, drive = CONFIGS[name]
    ours_opt, torch_opt = optimizers(kind)
    return ours_opt, factory(OL, ours_opt), torch_opt, factory(TL, torch_opt), drive


@pytest.mark.parametrize("name", CONFIGS)
def test_sequence_matches_torch(name: str) -> None:
    ours_opt, ours, torch_opt, theirs, drive = build(name)
    assert_sequences(run(ours_opt, ours, drive), run(torch_opt, theirs, drive))


@pytest.mark.parametrize("name", CONFIGS)
def test_no_warnings_in_normal_use(name: str) -> None:
    """Stepping and saving warn about nothing (torch's hints and deprecations are not copied)."""
    kind, factory, drive = CONFIGS[name]
    opt, _ = optimizers(kind)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched = factory(OL, opt)
        run(opt, sched, drive, stop=10)
        sched.load_state_dict(sched.state_dict())


@pytest.mark.parametrize("name", CONFIGS)
def test_state_dict_json_resume(name: str) -> None:
    """Stop after RESUME_AT steps, JSON round trip, resume in new objects: the same sequence."""
    kind, factory, drive = CONFIGS[name]
    ours_opt, ours, torch_opt, theirs, _ = build(name)
    whole = run(ours_opt, ours, drive)
    assert_sequences(whole, run(torch_opt, theirs, drive))

    first_opt, _ = optimizers(kind)
    first = factory(OL, first_opt)
    head = run(first_opt, first, drive, stop=RESUME_AT)
    state = first.state_dict()
    text = json.dumps(state)
    saved_opt = first_opt.state_dict()
    for _ in range(3):  # later steps do not change a state dict taken before them
        advance(first_opt, first, RESUME_AT, drive)
    assert json.dumps(state) == text

    second_opt, _ = optimizers(kind)
    second = factory(OL, second_opt)
    second_opt.load_state_dict(saved_opt)
    second.load_state_dict(json.loads(text))
    assert json.dumps(second.state_dict()) == text
    tail = run(second_opt, second, drive, start=RESUME_AT)
    assert head + tail == whole


@pytest.mark.parametrize("name", CONFIGS)
def test_state_dict_keys_are_torchs(name: str) -> None:
    def keys(state: dict[str, Any]) -> Any:
        return {k: [keys(s) for s in v] if k == "_schedulers" else None for k, v in state.items()}

    _, ours, _, theirs, _ = build(name)
    assert keys(ours.state_dict()) == keys(theirs.state_dict())
    state = ours.state_dict()
    assert json.loads(json.dumps(state)) == state


@pytest.mark.parametrize("name", CONFIGS)
def test_load_torchs_state_dict(name: str) -> None:
    """A torch scheduler's state (JSON round trip) resumes in an odyssey scheduler."""
    ours_opt, ours, torch_opt, theirs, drive = build(name)
    run(torch_opt, theirs, drive, stop=RESUME_AT)
    for mine, group in zip(ours_opt.param_groups, torch_opt.param_groups, strict=True):
        mine.update({k: group[k] for k in ("lr", "momentum", "betas", *GROUP_KEYS) if k in group})
    ours.load_state_dict(json.loads(json.dumps(theirs.state_dict())))
    assert_sequences(
        run(ours_opt, ours, drive, start=RESUME_AT), run(torch_opt, theirs, drive, RESUME_AT)
    )


GET_LR = [
    name
    for name in CONFIGS
    if not name.startswith(("ReduceLROnPlateau", "SequentialLR", "ChainedScheduler"))
]


@pytest.mark.parametrize("name", GET_LR)
def test_get_lr_outside_step_is_torchs_and_warns(name: str) -> None:
    ours_opt, ours, torch_opt, theirs, drive = build(name)
    run(ours_opt, ours, drive, stop=13)
    run(torch_opt, theirs, drive, stop=13)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = ours.get_lr()
    assert any("get_last_lr()" in str(w.message) for w in caught)
    assert_close(values, theirs.get_lr(), "get_lr")
    assert_close(momenta(ours_opt), momenta(torch_opt), "momentum after get_lr")
    assert_sequences(
        run(ours_opt, ours, drive, start=13, stop=30), run(torch_opt, theirs, drive, 13, 30)
    )


EPOCHS = [3, 0, 7, 7, 12, 1, 30, 5, 2, 61, 4, 10]
CLOSED_FORM = {
    "StepLR": lambda L, o: L.StepLR(o, 3, 0.5),
    "MultiStepLR": lambda L, o: L.MultiStepLR(o, [2, 5, 5, 11], 0.3),
    "ConstantLR": lambda L, o: L.ConstantLR(o, 0.25, 6),
    "LinearLR": lambda L, o: L.LinearLR(o, 0.2, 0.8, 9),
    "ExponentialLR": lambda L, o: L.ExponentialLR(o, 0.9),
    "PolynomialLR": lambda L, o: L.PolynomialLR(o, 11, 1.5),
    "CosineAnnealingLR": lambda L, o: L.CosineAnnealingLR(o, 9, 0.01),
    "LambdaLR": lambda L, o: L.LambdaLR(o, lambda e: 0.9**e),  # no closed form: get_lr
}


@pytest.mark.parametrize("name", CLOSED_FORM)
def test_step_epoch_uses_the_closed_form(name: str) -> None:
    rows = []
    for L, opt in zip((OL, TL), optimizers(), strict=True):
        sched = CLOSED_FORM[name](L, opt)
        trace = []
        for index, epoch in enumerate(EPOCHS):
            sched.step(epoch)
            trace.append(snapshot(opt, sched))
            if index % 3 == 2:  # mixed with plain steps
                sched.step()
                trace.append(snapshot(opt, sched))
        rows.append(trace)
    assert_sequences(*rows)


WARM_EPOCHS = {
    "fractional": [i * 0.37 for i in range(STEPS)],
    "batches": [epoch + batch / 7 for epoch in range(9) for batch in range(7)],
    "jumps": [0.5, 3, 2.25, 17.9, 4, 45.5, 1, 0, 9.99, 10, 21, 22.5],
}


@pytest.mark.parametrize("epochs", WARM_EPOCHS)
@pytest.mark.parametrize(("T_0", "T_mult", "eta_min"), [(5, 1, 0.0), (3, 2, 1e-3), (2, 3, 0.01)])
def test_warm_restarts_fractional_epochs(
    epochs: str, T_0: int, T_mult: int, eta_min: float
) -> None:
    rows = []
    for L, opt in zip((OL, TL), optimizers(), strict=True):
        sched = L.CosineAnnealingWarmRestarts(opt, T_0, T_mult, eta_min)
        trace = [snapshot(opt, sched)]
        for index, epoch in enumerate(WARM_EPOCHS[epochs]):
            sched.step(epoch)
            trace.append(snapshot(opt, sched) | {"T_cur": sched.T_cur, "T_i": sched.T_i})
            if index % 5 == 4:
                sched.step()
                trace.append(snapshot(opt, sched) | {"T_cur": sched.T_cur, "T_i": sched.T_i})
        rows.append(trace)
    assert_sequences(*rows)


def test_one_cycle_past_total_steps_is_a_value_error() -> None:
    for L, opt in zip((OL, TL), optimizers(), strict=True):
        sched = L.OneCycleLR(opt, 0.1, total_steps=10)
        for _ in range(10):
            sched.step()
        with pytest.raises(ValueError, match="Tried to step 11 times"):
            sched.step()


def test_last_epoch_needs_initial_lr_like_torch() -> None:
    for L, opt in zip((OL, TL), optimizers(), strict=True):
        with pytest.raises(KeyError, match="initial_lr"):
            L.StepLR(opt, 3, last_epoch=4)


LAST_EPOCH = {
    "StepLR": lambda L, o: L.StepLR(o, 4, 0.5, last_epoch=6),
    "MultiStepLR": lambda L, o: L.MultiStepLR(o, [3, 9, 14], last_epoch=5),
    "LinearLR": lambda L, o: L.LinearLR(o, 0.2, total_iters=12, last_epoch=3),
    "PolynomialLR": lambda L, o: L.PolynomialLR(o, 20, 2.0, last_epoch=4),
    "CosineAnnealingLR": lambda L, o: L.CosineAnnealingLR(o, 20, 0.01, last_epoch=6),
    "WarmRestarts": lambda L, o: L.CosineAnnealingWarmRestarts(o, 4, 2, last_epoch=5),
    "LambdaLR": lambda L, o: L.LambdaLR(o, lambda e: 0.9**e, last_epoch=3),
    "SequentialLR": lambda L, o: L.SequentialLR(
        o, [L.ExponentialLR(o, 0.9), L.StepLR(o, 3)], [8], last_epoch=2
    ),
    "CyclicLR": lambda L, o: L.CyclicLR(o, 0.1, 1.0, 4, mode="triangular2", last_epoch=9),
    "OneCycleLR": lambda L, o: L.OneCycleLR(o, 5.0, total_steps=40, last_epoch=11),
}


@pytest.mark.parametrize("name", LAST_EPOCH)
def test_last_epoch_resumes_from_the_groups_like_torch(name: str) -> None:
    """With last_epoch >= 0 a scheduler takes initial_lr (and OneCycleLR's other keys) from the
    groups, as when an optimizer's state was loaded first."""
    rows = []
    for L, opt in zip((OL, TL), optimizers(), strict=True):
        for group, lr in zip(opt.param_groups, (1.0, 2.0, 3.0), strict=True):
            group.update(initial_lr=lr, max_lr=4 * lr, min_lr=lr / 100)
            group.update(max_momentum=0.95, base_momentum=0.85)
        rows.append(run(opt, LAST_EPOCH[name](L, opt), stop=28))
    assert_sequences(*rows)


def test_constant_lr_with_factor_zero_returns_to_the_initial_lrs() -> None:
    """torch divides by the factor at total_iters (ZeroDivisionError); the closed form holds."""
    opt, _ = optimizers()
    sched = OL.ConstantLR(opt, factor=0.0, total_iters=4)
    rows = run(opt, sched, stop=8)
    assert [row["lr"] for row in rows] == [[0.0] * 3] * 4 + [list(LRS)] * 5


def test_reduce_lr_on_plateau_metrics() -> None:
    opt, _ = optimizers()
    sched = OL.ReduceLROnPlateau(opt, patience=0)
    sched.step(Tensor(np.array(2.0, np.float32)))
    sched.step(np.float64(3.0))
    assert sched.get_last_lr() == pytest.approx([lr * 0.1 for lr in LRS])
    assert sched.last_epoch == 2
    assert sched.best == 2.0
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau.step: metrics"):
        sched.step("abc")
    with pytest.raises(TypeError, match=r"ReduceLROnPlateau.step: metrics"):
        sched.step(None)


def test_custom_subclass_and_alias() -> None:
    class Halving(OL.LRScheduler):
        def get_lr(self) -> list[float]:
            return [base / 2**self.last_epoch for base in self.base_lrs]

    opt, _ = optimizers()
    sched = Halving(opt)
    sched.step()
    sched.step()
    assert sched.get_last_lr() == [lr / 4 for lr in LRS]
    assert issubclass(OL._LRScheduler, OL.LRScheduler)
    assert issubclass(OL.ZeroPeriodError, ValueError)
    assert issubclass(OL.ZeroPeriodError, ZeroDivisionError)


def test_load_state_dict_rejects_what_is_not_a_state() -> None:
    opt, _ = optimizers()
    sched = OL.StepLR(opt, 3)
    with pytest.raises(TypeError, match=r"StepLR.load_state_dict: state_dict must be a dict"):
        sched.load_state_dict([1, 2])
    with pytest.raises(ValueError, match=r"StepLR.load_state_dict: unexpected keys \['T_max'\]"):
        sched.load_state_dict({"T_max": 3})
    with pytest.raises(ValueError, match=r"base_lrs must be a list of 3"):
        sched.load_state_dict({"base_lrs": [0.1]})
    seq = OL.SequentialLR(opt, [OL.StepLR(opt, 2), OL.StepLR(opt, 3)], [4])
    with pytest.raises(ValueError, match=r"_schedulers must be a list of 2"):
        seq.load_state_dict({"_schedulers": []})
    multi = OL.MultiStepLR(opt, [3, 3, 8])
    multi.load_state_dict({"milestones": {"3": 2, "8": 1}})  # torch's Counter after JSON
    assert multi.milestones == {3: 2, 8: 1}


# ---------------------------------------------------------------------------------------------
# Errors: (optimizer, factory, steps taken after construction, words our message names).


def other_optimizer_scheduler(L: Any, o: Any) -> Any:
    other = type(o)([{"params": [p for g in o.param_groups for p in g["params"]][:1], "lr": 0.1}])
    return L.StepLR(other, 2)


ERRORS = {
    "StepLR-optimizer": ("SGD", lambda L, o: L.StepLR(None, 3), 0, ["StepLR", "optimizer"]),
    "StepLR-step_size-0": ("SGD", lambda L, o: L.StepLR(o, 0), 3, ["StepLR", "step_size"]),
    "StepLR-step_size-str": ("SGD", lambda L, o: L.StepLR(o, "a"), 3, ["StepLR", "step_size"]),
    "StepLR-gamma-str": ("SGD", lambda L, o: L.StepLR(o, 1, "a"), 3, ["StepLR", "gamma"]),
    "StepLR-last_epoch": ("SGD", lambda L, o: L.StepLR(o, 1, last_epoch=2), 0, ["initial_lr"]),
    "MultiStepLR-milestones": ("SGD", lambda L, o: L.MultiStepLR(o, 5), 0, ["milestones"]),
    "MultiStepLR-gamma": ("SGD", lambda L, o: L.MultiStepLR(o, [1], "a"), 3, ["gamma"]),
    "ConstantLR-factor-big": ("SGD", lambda L, o: L.ConstantLR(o, 2.0), 0, ["factor"]),
    "ConstantLR-factor-neg": ("SGD", lambda L, o: L.ConstantLR(o, -0.1), 0, ["factor"]),
    "ConstantLR-factor-str": ("SGD", lambda L, o: L.ConstantLR(o, "a"), 0, ["factor"]),
    "LinearLR-start-0": ("SGD", lambda L, o: L.LinearLR(o, 0.0), 0, ["start_factor"]),
    "LinearLR-start-big": ("SGD", lambda L, o: L.LinearLR(o, 1.5), 0, ["start_factor"]),
    "LinearLR-end-neg": ("SGD", lambda L, o: L.LinearLR(o, 0.5, -1), 0, ["end_factor"]),
    "LinearLR-end-str": ("SGD", lambda L, o: L.LinearLR(o, 0.5, "x"), 0, ["end_factor"]),
    "ExponentialLR-gamma": ("SGD", lambda L, o: L.ExponentialLR(o, "a"), 3, ["gamma"]),
    "PolynomialLR-power": ("SGD", lambda L, o: L.PolynomialLR(o, 5, "a"), 3, ["power"]),
    "PolynomialLR-total_iters": ("SGD", lambda L, o: L.PolynomialLR(o, "a"), 3, ["total_iters"]),
    "CosineAnnealingLR-T_max-0": ("SGD", lambda L, o: L.CosineAnnealingLR(o, 0), 3, ["T_max"]),
    "CosineAnnealingLR-T_max-str": ("SGD", lambda L, o: L.CosineAnnealingLR(o, "a"), 3, ["T_max"]),
    "CosineAnnealingLR-eta_min": (
        "SGD",
        lambda L, o: L.CosineAnnealingLR(o, 5, "a"),
        3,
        ["eta_min"],
    ),
    "WarmRestarts-T_0-0": ("SGD", lambda L, o: L.CosineAnnealingWarmRestarts(o, 0), 0, ["T_0"]),
    "WarmRestarts-T_0-float": (
        "SGD",
        lambda L, o: L.CosineAnnealingWarmRestarts(o, 2.5),
        0,
        ["T_0"],
    ),
    "WarmRestarts-T_0-str": ("SGD", lambda L, o: L.CosineAnnealingWarmRestarts(o, "a"), 0, ["T_0"]),
    "WarmRestarts-T_mult-0": (
        "SGD",
        lambda L, o: L.CosineAnnealingWarmRestarts(o, 2, 0),
        0,
        ["T_mult"],
    ),
    "WarmRestarts-T_mult-float": (
        "SGD",
        lambda L, o: L.CosineAnnealingWarmRestarts(o, 2, 1.5),
        0,
        ["T_mult"],
    ),
    "WarmRestarts-eta_min": (
        "SGD",
        lambda L, o: L.CosineAnnealingWarmRestarts(o, 2, 1, "a"),
        0,
        ["eta_min"],
    ),
    "WarmRestarts-negative-epoch": (
        "SGD",
        lambda L, o: L.CosineAnnealingWarmRestarts(o, 2).step(-1),
        0,
        ["epoch"],
    ),
    "LambdaLR-count": ("SGD", lambda L, o: L.LambdaLR(o, [lambda e: 1.0]), 0, ["lr_lambda"]),
    "LambdaLR-not-callable": ("SGD", lambda L, o: L.LambdaLR(o, 3), 0, ["lr_lambda"]),
    "MultiplicativeLR-count": (
        "SGD",
        lambda L, o: L.MultiplicativeLR(o, [lambda e: 1.0] * 2),
        0,
        ["lr_lambda"],
    ),
    "MultiplicativeLR-not-callable": (
        "SGD",
        lambda L, o: L.MultiplicativeLR(o, [3, 3, 3]),
        0,
        ["lr_lambda"],
    ),
    "SequentialLR-empty": ("SGD", lambda L, o: L.SequentialLR(o, [], []), 0, ["SequentialLR"]),
    "SequentialLR-none": ("SGD", lambda L, o: L.SequentialLR(o, None, []), 0, ["schedulers"]),
    "SequentialLR-milestones": (
        "SGD",
        lambda L, o: L.SequentialLR(o, [L.StepLR(o, 2), L.StepLR(o, 3)], [2, 4]),
        0,
        ["milestones"],
    ),
    "SequentialLR-plateau": (
        "SGD",
        lambda L, o: L.SequentialLR(o, [L.StepLR(o, 2), L.ReduceLROnPlateau(o)], [2]),
        0,
        ["ReduceLROnPlateau", "index 1"],
    ),
    "SequentialLR-optimizer": (
        "SGD",
        lambda L, o: L.SequentialLR(o, [L.StepLR(o, 2), other_optimizer_scheduler(L, o)], [2]),
        0,
        ["same optimizer", "index 1"],
    ),
    "SequentialLR-not-scheduler": (
        "SGD",
        lambda L, o: L.SequentialLR(o, [L.StepLR(o, 2), object()], [2]),
        0,
        ["index 1"],
    ),
    "ChainedScheduler-empty": ("SGD", lambda L, o: L.ChainedScheduler([]), 0, ["Chained"]),
    "ChainedScheduler-plateau": (
        "SGD",
        lambda L, o: L.ChainedScheduler([L.StepLR(o, 2), L.ReduceLROnPlateau(o)]),
        0,
        ["ReduceLROnPlateau"],
    ),
    "ChainedScheduler-optimizer": (
        "SGD",
        lambda L, o: L.ChainedScheduler([L.StepLR(o, 2), other_optimizer_scheduler(L, o)]),
        0,
        ["same optimizer"],
    ),
    "ChainedScheduler-not-scheduler": (
        "SGD",
        lambda L, o: L.ChainedScheduler([L.StepLR(o, 2), 3]),
        0,
        ["index 1"],
    ),
    "ReduceLROnPlateau-factor": (
        "SGD",
        lambda L, o: L.ReduceLROnPlateau(o, factor=1.0),
        0,
        ["Factor"],
    ),
    "ReduceLROnPlateau-factor-str": (
        "SGD",
        lambda L, o: L.ReduceLROnPlateau(o, factor="a"),
        0,
        ["factor"],
    ),
    "ReduceLROnPlateau-optimizer": ("SGD", lambda L, o: L.ReduceLROnPlateau(3), 0, ["optimizer"]),
    "ReduceLROnPlateau-mode": ("SGD", lambda L, o: L.ReduceLROnPlateau(o, "avg"), 0, ["mode"]),
    "ReduceLROnPlateau-mode-int": ("SGD", lambda L, o: L.ReduceLROnPlateau(o, 5), 0, ["mode"]),
    "ReduceLROnPlateau-threshold_mode": (
        "SGD",
        lambda L, o: L.ReduceLROnPlateau(o, threshold_mode="x"),
        0,
        ["threshold mode"],
    ),
    "ReduceLROnPlateau-min_lr": (
        "SGD",
        lambda L, o: L.ReduceLROnPlateau(o, min_lr=[0.0, 0.0]),
        0,
        ["min_lr"],
    ),
    "CyclicLR-optimizer": ("SGD", lambda L, o: L.CyclicLR(None, 0.1, 1.0), 0, ["optimizer"]),
    "CyclicLR-base_lr": ("SGD", lambda L, o: L.CyclicLR(o, [0.1, 0.2], 1.0), 0, ["base_lr"]),
    "CyclicLR-max_lr": ("SGD", lambda L, o: L.CyclicLR(o, 0.1, [1.0]), 0, ["max_lr"]),
    "CyclicLR-mode": ("SGD", lambda L, o: L.CyclicLR(o, 0.1, 1.0, mode="sine"), 0, ["mode"]),
    "CyclicLR-step_size_up-0": ("SGD", lambda L, o: L.CyclicLR(o, 0.1, 1, 0), 0, ["step_size_up"]),
    "CyclicLR-step_size_up-str": (
        "SGD",
        lambda L, o: L.CyclicLR(o, 0.1, 1, "a"),
        0,
        ["step_size_up"],
    ),
    "CyclicLR-step_size_down-none": (
        "SGD",
        lambda L, o: L.CyclicLR(o, 0.1, 1, 4, []),
        0,
        ["step_size_down"],
    ),
    "CyclicLR-scale_fn": ("SGD", lambda L, o: L.CyclicLR(o, 0.1, 1, scale_fn=3), 0, ["scale_fn"]),
    "CyclicLR-no-momentum": ("Plain", lambda L, o: L.CyclicLR(o, 0.1, 1), 0, ["momentum"]),
    "CyclicLR-base_momentum": (
        "SGD",
        lambda L, o: L.CyclicLR(o, 0.1, 1, base_momentum=[0.8]),
        0,
        ["base_momentum"],
    ),
    "OneCycleLR-no-length": ("SGD", lambda L, o: L.OneCycleLR(o, 1.0), 0, ["total_steps"]),
    "OneCycleLR-total_steps-0": ("SGD", lambda L, o: L.OneCycleLR(o, 1, 0), 0, ["total_steps"]),
    "OneCycleLR-total_steps-float": (
        "SGD",
        lambda L, o: L.OneCycleLR(o, 1, 2.5),
        0,
        ["total_steps"],
    ),
    "OneCycleLR-total_steps-str": ("SGD", lambda L, o: L.OneCycleLR(o, 1, "a"), 0, ["total_steps"]),
    "OneCycleLR-epochs": (
        "SGD",
        lambda L, o: L.OneCycleLR(o, 1, epochs=0, steps_per_epoch=3),
        0,
        ["epochs"],
    ),
    "OneCycleLR-steps_per_epoch": (
        "SGD",
        lambda L, o: L.OneCycleLR(o, 1, epochs=2, steps_per_epoch="a"),
        0,
        ["steps_per_epoch"],
    ),
    "OneCycleLR-pct_start-int": (
        "SGD",
        lambda L, o: L.OneCycleLR(o, 1, 10, pct_start=1),
        0,
        ["pct_start"],
    ),
    "OneCycleLR-pct_start-big": (
        "SGD",
        lambda L, o: L.OneCycleLR(o, 1, 10, pct_start=1.5),
        0,
        ["pct_start"],
    ),
    "OneCycleLR-pct_start-str": (
        "SGD",
        lambda L, o: L.OneCycleLR(o, 1, 10, pct_start="a"),
        0,
        ["pct_start"],
    ),
    "OneCycleLR-pct_start-none": (
        "SGD",
        lambda L, o: L.OneCycleLR(o, 1, 10, pct_start=None),
        0,
        ["pct_start"],
    ),
    "OneCycleLR-empty-warmup": (
        "SGD",
        lambda L, o: L.OneCycleLR(o, 1, 10, pct_start=0.1),
        0,
        ["pct_start"],
    ),
    "OneCycleLR-anneal_strategy": (
        "SGD",
        lambda L, o: L.OneCycleLR(o, 1, 10, anneal_strategy="cosine"),
        0,
        ["anneal_strategy"],
    ),
    "OneCycleLR-max_lr": ("SGD", lambda L, o: L.OneCycleLR(o, [1.0, 2.0], 10), 0, ["max_lr"]),
    "OneCycleLR-max_lr-str": ("SGD", lambda L, o: L.OneCycleLR(o, "a", 10), 0, ["max_lr"]),
    "OneCycleLR-div_factor": (
        "SGD",
        lambda L, o: L.OneCycleLR(o, 1, 10, div_factor=0),
        0,
        ["div_factor"],
    ),
    "OneCycleLR-no-momentum": ("Plain", lambda L, o: L.OneCycleLR(o, 1, 10), 0, ["momentum"]),
    "OneCycleLR-max_momentum": (
        "SGD",
        lambda L, o: L.OneCycleLR(o, 1, 10, max_momentum=(0.9, 0.9)),
        0,
        ["max_momentum"],
    ),
    "OneCycleLR-past-the-end": ("SGD", lambda L, o: L.OneCycleLR(o, 1, 2), 3, ["total steps"]),
}


def outcome(L: Any, kind: str, factory: Callable[..., Any], steps: int) -> BaseException | None:
    opt = optimizers(kind)[0 if L is OL else 1]
    try:
        sched = factory(L, opt)
        for _ in range(steps):
            sched.step()
    except Exception as error:  # the error is what is compared
        return error
    return None


@pytest.mark.parametrize("name", ERRORS)
def test_errors_have_torchs_type_and_name_the_argument(name: str) -> None:
    kind, factory, steps, words = ERRORS[name]
    theirs = outcome(TL, kind, factory, steps)
    ours = outcome(OL, kind, factory, steps)
    assert theirs is not None, "torch accepts this"
    assert isinstance(ours, type(theirs)), f"{type(ours)!r} ({ours}) vs torch {type(theirs)!r}"
    message = str(ours.args[0])
    owner = name.split("-")[0].replace("WarmRestarts", "CosineAnnealingWarmRestarts")
    assert owner in message
    for word in words:
        assert word in message


@pytest.mark.parametrize(
    "name",
    [
        name
        for name, (_, _, steps, _) in ERRORS.items()
        if steps == 0 and not name.startswith(("Sequential", "Chained", "WarmRestarts-negative"))
    ],
)
def test_a_rejected_scheduler_leaves_the_groups_alone(name: str) -> None:
    kind, factory, _, _ = ERRORS[name]
    opt, _ = optimizers(kind)
    before = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    assert outcome(OL, kind, lambda L, o: factory(L, opt), 0) is not None
    assert [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups] == before


# Arguments torch takes without a word (and then divides by zero, or runs a nonsense schedule).
STRICTER = {
    "StepLR-step_size-negative": (lambda L, o: L.StepLR(o, -2), ValueError),
    "StepLR-step_size-float": (lambda L, o: L.StepLR(o, 2.5), TypeError),
    "StepLR-last_epoch-str": (lambda L, o: L.StepLR(o, 2, last_epoch="a"), TypeError),
    "StepLR-last_epoch-low": (lambda L, o: L.StepLR(o, 2, last_epoch=-3), ValueError),
    "MultiStepLR-milestones-float": (lambda L, o: L.MultiStepLR(o, [1.5]), TypeError),
    "ConstantLR-total_iters": (lambda L, o: L.ConstantLR(o, 0.5, -1), ValueError),
    "CosineAnnealingLR-T_max-negative": (lambda L, o: L.CosineAnnealingLR(o, -3), ValueError),
    "ReduceLROnPlateau-patience": (lambda L, o: L.ReduceLROnPlateau(o, patience=-1), ValueError),
    "ReduceLROnPlateau-cooldown": (lambda L, o: L.ReduceLROnPlateau(o, cooldown="a"), TypeError),
    "ReduceLROnPlateau-factor-negative": (
        lambda L, o: L.ReduceLROnPlateau(o, factor=-0.5),
        ValueError,
    ),
    "CyclicLR-scale_mode": (
        lambda L, o: L.CyclicLR(o, 0.1, 1, scale_fn=abs, scale_mode="x"),
        ValueError,
    ),
    "CyclicLR-step_size_down-negative": (lambda L, o: L.CyclicLR(o, 0.1, 1, 4, -4), ValueError),
    "SequentialLR-milestones-order": (
        lambda L, o: L.SequentialLR(o, [L.StepLR(o, 2)] * 3, [5, 3]),
        ValueError,
    ),
    "OneCycleLR-final_div_factor": (
        lambda L, o: L.OneCycleLR(o, 1, 10, final_div_factor=-1),
        ValueError,
    ),
}


@pytest.mark.parametrize("name", STRICTER)
def test_errors_where_torch_has_none(name: str) -> None:
    factory, error = STRICTER[name]
    ours = outcome(OL, "SGD", factory, 3)
    assert type(ours) is error, ours
    assert name.split("-")[0] in str(ours)


# ---------------------------------------------------------------------------------------------
# Random arguments: the same sequence as torch, or the same error type.

FACTOR = st.floats(0.05, 1.0)
SMALL = st.floats(0.0, 0.01)
RANDOM: dict[str, dict[str, Any]] = {
    "StepLR": {"step_size": st.integers(1, 10), "gamma": st.floats(0.1, 1.5)},
    "MultiStepLR": {"milestones": st.lists(st.integers(0, 45), max_size=6), "gamma": FACTOR},
    "ConstantLR": {"factor": FACTOR, "total_iters": st.integers(0, 20)},
    "LinearLR": {
        "start_factor": FACTOR,
        "end_factor": st.floats(0.0, 1.0),
        "total_iters": st.integers(0, 40),
    },
    "ExponentialLR": {"gamma": st.floats(0.5, 1.1)},
    "PolynomialLR": {"total_iters": st.integers(0, 50), "power": st.floats(0.0, 3.0)},
    "CosineAnnealingLR": {"T_max": st.integers(1, 30), "eta_min": SMALL},
    "CosineAnnealingWarmRestarts": {
        "T_0": st.integers(1, 8),
        "T_mult": st.integers(1, 3),
        "eta_min": SMALL,
    },
    "CyclicLR": {
        "base_lr": st.floats(1e-4, 0.01),
        "max_lr": st.floats(0.01, 1.0),
        "step_size_up": st.integers(1, 9),
        "step_size_down": st.none() | st.integers(0, 9),
        "mode": st.sampled_from(["triangular", "triangular2", "exp_range"]),
        "gamma": st.floats(0.8, 1.0),
        "cycle_momentum": st.booleans(),
        "base_momentum": st.floats(0.5, 0.85),
        "max_momentum": st.floats(0.85, 0.99),
    },
    "OneCycleLR": {
        "max_lr": st.floats(1e-3, 1.0),
        "total_steps": st.integers(40, 90),
        "pct_start": st.floats(0.0, 1.0),
        "anneal_strategy": st.sampled_from(["cos", "linear"]),
        "cycle_momentum": st.booleans(),
        "div_factor": st.floats(1.0, 100.0),
        "final_div_factor": st.floats(1.0, 1e4),
        "three_phase": st.booleans(),
    },
    "ReduceLROnPlateau": {
        "mode": st.sampled_from(["min", "max"]),
        "factor": st.floats(0.0, 0.9),
        "patience": st.integers(0, 5),
        "threshold": st.floats(0.0, 0.1),
        "threshold_mode": st.sampled_from(["rel", "abs"]),
        "cooldown": st.integers(0, 3),
        "min_lr": SMALL,
        "eps": st.floats(0.0, 1e-3),
    },
}


def attempt(L: Any, opt: Any, name: str, arguments: dict[str, Any], drive: str) -> Any:
    """The run's rows, or the type of the error it raised."""
    try:
        return run(opt, getattr(L, name)(opt, **arguments), drive, stop=40)
    except Exception as error:  # the error is what is compared
        return type(error)


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_random_arguments_match_torch(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(RANDOM)), label="scheduler")
    arguments = {key: data.draw(value, label=key) for key, value in RANDOM[name].items()}
    kind = data.draw(st.sampled_from(["SGD", "Adam"]), label="optimizer")
    drive = "step"
    if name == "ReduceLROnPlateau":
        drive = data.draw(st.sampled_from(["metrics", "metrics_max"]), label="metric")
    ours_opt, torch_opt = optimizers(kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = attempt(TL, torch_opt, name, arguments, drive)
        ours = attempt(OL, ours_opt, name, arguments, drive)
    if isinstance(theirs, type):
        assert isinstance(ours, type), f"torch raised {theirs.__name__}"
        assert issubclass(ours, theirs)
    else:
        assert_sequences(ours, theirs)
