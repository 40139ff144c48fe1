"""The optimizer kernels (cpp/src/optimizer): fused SGD, Adam/AdamW, RMSprop and Adagrad steps
through the bindings, against torch.optim over several steps with every option (SGD and Adam
within 1 ulp, given torch a correctly rounded sqrt), against a float64 NumPy transcription, every
ISA the scalar reference's bits, thread-count determinism and every argument check. (The optim
classes that call them: test_optim_*.py.)"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

import numpy as np
import pytest

import odyssey
from odyssey import _kernels

N = 1031  # odd, several vectors plus a tail on every ISA
STEPS = 5


def gradients(n: int, steps: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(0.0, 1.0, n).astype(np.float32) for _ in range(steps)]


def initial_param(n: int = N) -> np.ndarray:
    return np.random.default_rng(99).normal(0.0, 1.0, n).astype(np.float32)


SGD_CASES = [
    {"momentum": m, "dampening": d, "weight_decay": wd, "nesterov": nesterov}
    for m, d, wd, nesterov in itertools.product([0.0, 0.9], [0.0, 0.5], [0.0, 0.01], [False, True])
    if not nesterov or (m > 0 and d == 0)
]

ADAM_CASES = [
    {"weight_decay": wd, "decoupled": decoupled, "amsgrad": amsgrad, "betas": betas}
    for wd, decoupled, amsgrad, betas in itertools.product(
        [0.0, 0.05], [False, True], [False, True], [(0.9, 0.999), (0.3, 0.5)]
    )
]


def run_sgd(case: dict, grads: list[np.ndarray], lr: float = 0.05) -> np.ndarray:
    param = initial_param(grads[0].size)
    buffer = np.zeros_like(param) if case["momentum"] else None
    for step, grad in enumerate(grads):
        _kernels.sgd_step(param, grad, buffer, lr=lr, first_step=step == 0, **case)
    return param


def run_adam(case: dict, grads: list[np.ndarray], lr: float = 0.01) -> np.ndarray:
    param = initial_param(grads[0].size)
    exp_avg, exp_avg_sq = np.zeros_like(param), np.zeros_like(param)
    max_exp_avg_sq = np.zeros_like(param) if case["amsgrad"] else None
    beta1, beta2 = case["betas"]
    for step, grad in enumerate(grads, start=1):
        _kernels.adam_step(
            param,
            grad,
            exp_avg,
            exp_avg_sq,
            step=step,
            lr=lr,
            beta1=beta1,
            beta2=beta2,
            eps=1e-8,
            weight_decay=case["weight_decay"],
            decoupled_weight_decay=case["decoupled"],
            max_exp_avg_sq=max_exp_avg_sq,
        )
    return param


@pytest.mark.parametrize("case", SGD_CASES, ids=str)
def test_sgd_matches_torch(isa: str, correctly_rounded_torch_sqrt: Any, case: dict) -> None:
    torch = correctly_rounded_torch_sqrt
    grads = gradients(N, STEPS, 1)
    weight = torch.nn.Parameter(torch.from_numpy(initial_param()))
    optimizer = torch.optim.SGD([weight], lr=0.05, foreach=False, **case)
    for grad in grads:
        weight.grad = torch.from_numpy(grad)
        optimizer.step()
    np.testing.assert_array_max_ulp(run_sgd(case, grads), weight.detach().numpy(), maxulp=1)


@pytest.mark.parametrize("case", ADAM_CASES, ids=str)
def test_adam_matches_torch(isa: str, correctly_rounded_torch_sqrt: Any, case: dict) -> None:
    torch = correctly_rounded_torch_sqrt
    grads = gradients(N, STEPS, 2)
    weight = torch.nn.Parameter(torch.from_numpy(initial_param()))
    kind = torch.optim.AdamW if case["decoupled"] else torch.optim.Adam
    optimizer = kind(
        [weight],
        lr=0.01,
        betas=case["betas"],
        eps=1e-8,
        weight_decay=case["weight_decay"],
        amsgrad=case["amsgrad"],
        foreach=False,
    )
    for grad in grads:
        weight.grad = torch.from_numpy(grad)
        optimizer.step()
    np.testing.assert_array_max_ulp(run_adam(case, grads), weight.detach().numpy(), maxulp=1)


def test_adam_matches_float64_formula(isa: str) -> None:
    """The update in float64 from the paper's formula, independent of PyTorch."""
    grads = gradients(N, STEPS, 3)
    case = {"weight_decay": 0.05, "decoupled": True, "amsgrad": True, "betas": (0.9, 0.99)}
    param = initial_param().astype(np.float64)
    m, v, v_max = np.zeros_like(param), np.zeros_like(param), np.zeros_like(param)
    lr, (beta1, beta2), eps = 0.01, case["betas"], 1e-8
    for step, grad in enumerate(grads, start=1):
        param *= 1 - lr * case["weight_decay"]
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad.astype(np.float64) ** 2
        v_max = np.maximum(v_max, v)
        denom = np.sqrt(v_max) / np.sqrt(1 - beta2**step) + eps
        param -= lr / (1 - beta1**step) * m / denom
    np.testing.assert_allclose(run_adam(case, grads), param, rtol=1e-5, atol=1e-6)


def test_sgd_matches_float64_formula(isa: str) -> None:
    grads = gradients(N, STEPS, 4)
    param = initial_param().astype(np.float64)
    buffer = np.zeros_like(param)
    lr, momentum, wd = 0.05, 0.9, 0.01
    for step, grad in enumerate(grads):
        g = grad + wd * param
        buffer = g if step == 0 else momentum * buffer + g
        param -= lr * (g + momentum * buffer)
    case = {"momentum": momentum, "dampening": 0.0, "weight_decay": wd, "nesterov": True}
    np.testing.assert_allclose(run_sgd(case, grads), param, rtol=1e-5, atol=1e-6)


def test_every_isa_matches_the_scalar_reference() -> None:
    grads = gradients(N, STEPS, 5)
    previous = odyssey.cpu_info()["isa_selected"]
    results = {}
    try:
        for name in odyssey.cpu_info()["isa_available"]:
            odyssey.set_isa(name)
            results[name] = [run_sgd(c, grads) for c in SGD_CASES] + [
                run_adam(c, grads) for c in ADAM_CASES
            ]
    finally:
        odyssey.set_isa(previous)
    reference = results.pop("scalar")
    for outputs in results.values():
        for got, want in zip(outputs, reference, strict=True):
            np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


def test_identical_for_every_thread_count(isa: str, threads: None) -> None:
    grads = gradients(200003, 2, 6)
    outputs = []
    for n in (1, 2, 5):
        odyssey.set_num_threads(n)
        outputs.append(
            run_adam(ADAM_CASES[-1], grads).tobytes() + run_sgd(SGD_CASES[-1], grads).tobytes()
        )
    assert len(set(outputs)) == 1


def test_momentum_buffer_is_the_gradient_on_the_first_step() -> None:
    param = np.ones(5, np.float32)
    grad = np.arange(5, dtype=np.float32)
    buffer = np.full(5, 123.0, np.float32)
    _kernels.sgd_step(param, grad, buffer, lr=0.1, momentum=0.9, weight_decay=0.5)
    np.testing.assert_array_equal(buffer, grad + np.float32(0.5))
    _kernels.sgd_step(param, grad, buffer, lr=0.0, momentum=0.9, first_step=False)
    np.testing.assert_allclose(buffer, 0.9 * (grad + 0.5) + grad, rtol=1e-6)


def test_zero_weight_decay_keeps_infinite_params_apart_from_the_update() -> None:
    param = np.array([np.inf, 1.0], np.float32)
    _kernels.sgd_step(param, np.zeros(2, np.float32), lr=0.1)
    np.testing.assert_array_equal(param, [np.inf, 1.0])


class TestBadInput:
    @staticmethod
    def arrays(n: int = 4) -> list[np.ndarray]:
        return [np.zeros(n, np.float32) for _ in range(4)]

    def adam(self, **overrides: object) -> None:
        p, g, m, v = self.arrays()
        kwargs = {"step": 1, "lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
        kwargs.update(overrides)
        _kernels.adam_step(p, g, m, v, **kwargs)

    def test_options_are_the_optimizers_to_check(self) -> None:
        # The kernel applies the formula to any option (odyssey.optim refuses bad ones); it insists
        # only on what memory depends on: a momentum buffer whenever momentum is used.
        p, g, _, _ = self.arrays()
        g[:] = 1.0
        _kernels.sgd_step(p, g, lr=-0.5)
        np.testing.assert_array_equal(p, np.full(4, 0.5, np.float32))
        with pytest.raises(ValueError, match=r"momentum 0\.9.* needs a momentum_buffer .*\(4,\)"):
            _kernels.sgd_step(p, g, lr=0.1, momentum=0.9)
        with pytest.raises(TypeError):
            _kernels.sgd_step(p, g)  # lr is required

    def test_shapes_dtypes_and_layout(self) -> None:
        p, g, m, v = self.arrays()
        with pytest.raises(ValueError, match=r"param has shape \(4,\) but grad has shape \(5,\)"):
            _kernels.sgd_step(p, np.zeros(5, np.float32), lr=0.1)
        with pytest.raises(
            ValueError, match=r"param has shape \(4,\) but momentum_buffer has shape \(2, 2\)"
        ):
            _kernels.sgd_step(p, g, np.zeros((2, 2), np.float32), lr=0.1, momentum=0.9)
        with pytest.raises(ValueError, match=r"param has shape \(4,\) but exp_avg_sq has shape"):
            _kernels.adam_step(
                p, g, m, np.zeros(3, np.float32), step=1, lr=1e-3, beta1=0.9, beta2=0.9, eps=0.0
            )
        with pytest.raises(ValueError, match=r"param has shape \(4,\) but max_exp_avg_sq"):
            self.adam(max_exp_avg_sq=np.zeros(1, np.float32))
        with pytest.raises(TypeError, match=r"grad: expected dtype float32, got float64"):
            _kernels.sgd_step(p, np.zeros(4), lr=0.1)
        with pytest.raises(TypeError, match=r"exp_avg: expected dtype float32"):
            _kernels.adam_step(p, g, np.zeros(4), v, step=1, lr=1e-3, beta1=0.9, beta2=0.9, eps=0.0)
        with pytest.raises(ValueError, match="C-contiguous"):
            _kernels.sgd_step(np.zeros(8, np.float32)[::2], g, lr=0.1)

    def test_read_only_and_shared_state(self) -> None:
        p, g, m, v = self.arrays()
        p.flags.writeable = False
        with pytest.raises(ValueError, match=r"sgd_step: param \(4,\) is read-only"):
            _kernels.sgd_step(p, g, lr=0.1)
        p = np.zeros(4, np.float32)
        m.flags.writeable = False
        with pytest.raises(ValueError, match=r"adam_step: exp_avg \(4,\) is read-only"):
            _kernels.adam_step(p, g, m, v, step=1, lr=1e-3, beta1=0.9, beta2=0.9, eps=0.0)
        g.flags.writeable = False  # grad is only read
        _kernels.sgd_step(p, g, lr=0.1)
        with pytest.raises(ValueError, match=r"param \(4,\) shares memory with grad \(4,\)"):
            _kernels.sgd_step(p, p, lr=0.1)
        m = np.zeros(4, np.float32)
        with pytest.raises(ValueError, match=r"exp_avg \(4,\) shares memory with exp_avg_sq"):
            _kernels.adam_step(p, g, m, m, step=1, lr=1e-3, beta1=0.9, beta2=0.9, eps=0.0)
        with pytest.raises(ValueError, match=r"momentum_buffer"):
            _kernels.sgd_step(p, g, p, lr=0.1, momentum=0.9)


class TestRmspropAdagradKernels:
    """rmsprop_step and adagrad_step: every ISA against the scalar reference, bit for bit, and the
    checks that keep memory safe."""

    RMSPROP_CASES: ClassVar[list[dict]] = [
        {"alpha": alpha, "weight_decay": wd, "momentum": m, "centered": centered}
        for alpha, wd, m, centered in itertools.product(
            [0.99, 0.3], [0.0, 0.05], [0.0, 0.9], [False, True]
        )
    ]
    ADAGRAD_CASES: ClassVar[list[dict]] = [
        {"lr_decay": lr_decay, "weight_decay": wd}
        for lr_decay, wd in itertools.product([0.0, 0.1], [0.0, 0.05])
    ]

    @staticmethod
    def run_rmsprop(case: dict, grads: list[np.ndarray]) -> bytes:
        param = initial_param(grads[0].size)
        square_avg, grad_avg, buffer = (np.zeros_like(param) for _ in range(3))
        for grad in grads:
            _kernels.rmsprop_step(
                param,
                grad,
                square_avg,
                lr=0.01,
                eps=1e-8,
                grad_avg=grad_avg if case["centered"] else None,
                momentum_buffer=buffer if case["momentum"] else None,
                **case,
            )
        return b"".join(a.tobytes() for a in (param, square_avg, grad_avg, buffer))

    @staticmethod
    def run_adagrad(case: dict, grads: list[np.ndarray]) -> bytes:
        param = initial_param(grads[0].size)
        total = np.full_like(param, 0.1)
        for step, grad in enumerate(grads, start=1):
            _kernels.adagrad_step(param, grad, total, step=step, lr=0.05, **case)
        return param.tobytes() + total.tobytes()

    def outputs(self, grads: list[np.ndarray]) -> list[bytes]:
        return [self.run_rmsprop(c, grads) for c in self.RMSPROP_CASES] + [
            self.run_adagrad(c, grads) for c in self.ADAGRAD_CASES
        ]

    def test_every_isa_gives_the_scalar_references_bits(self) -> None:
        grads = gradients(N, STEPS, 7)
        previous = odyssey.cpu_info()["isa_selected"]
        results = {}
        try:
            for name in odyssey.cpu_info()["isa_available"]:
                odyssey.set_isa(name)
                results[name] = self.outputs(grads)
        finally:
            odyssey.set_isa(previous)
        reference = results.pop("scalar")
        for name, outputs in results.items():
            assert outputs == reference, name

    def test_identical_for_every_thread_count(self, isa: str, threads: None) -> None:
        grads = gradients(100003, 2, 8)
        outputs = []
        for n in (1, 2, 5):
            odyssey.set_num_threads(n)
            outputs.append(
                self.run_rmsprop(self.RMSPROP_CASES[-1], grads)
                + self.run_adagrad(self.ADAGRAD_CASES[-1], grads)
            )
        assert len(set(outputs)) == 1

    def test_adagrad_learning_rate_decays_with_the_step(self) -> None:
        # One element, g = 1: sum = 1 + 1, param -= lr / (1 + (step - 1) lr_decay) / sqrt(2).
        param, total = np.zeros(1, np.float32), np.ones(1, np.float32)
        grad = np.ones(1, np.float32)
        _kernels.adagrad_step(param, grad, total, step=3, lr=0.3, lr_decay=0.25, eps=0.0)
        clr = np.float32(-(0.3 / 1.5))
        np.testing.assert_array_equal(param, [clr / np.sqrt(np.float32(2))])
        np.testing.assert_array_equal(total, [2.0])

    def test_empty_arrays(self) -> None:
        e = np.zeros(0, np.float32)
        _kernels.rmsprop_step(e, e.copy(), e.copy(), lr=0.1, alpha=0.9, eps=1e-8)
        _kernels.adagrad_step(e, e.copy(), e.copy(), step=1, lr=0.1)

    def test_buffers_the_options_need(self) -> None:
        p, g, s, b = (np.zeros(4, np.float32) for _ in range(4))
        common = {"lr": 0.1, "alpha": 0.9, "eps": 1e-8}
        with pytest.raises(ValueError, match=r"rmsprop_step: centered needs a grad_avg .*\(4,\)"):
            _kernels.rmsprop_step(p, g, s, centered=True, **common)
        with pytest.raises(ValueError, match=r"momentum 0\.5.* needs a momentum_buffer .*\(4,\)"):
            _kernels.rmsprop_step(p, g, s, momentum=0.5, **common)
        with pytest.raises(ValueError, match=r"adagrad_step: step counts from 1, got 0"):
            _kernels.adagrad_step(p, g, s, step=0, lr=0.1)
        # Unused buffers are not looked at.
        _kernels.rmsprop_step(p, g, s, grad_avg=np.zeros(1), momentum_buffer=b, **common)

    def test_shapes_dtypes_read_only_and_overlap(self) -> None:
        p, g, s = (np.zeros(4, np.float32) for _ in range(3))
        common = {"lr": 0.1, "alpha": 0.9, "eps": 1e-8}
        with pytest.raises(ValueError, match=r"param has shape \(4,\) but square_avg has shape"):
            _kernels.rmsprop_step(p, g, np.zeros(5, np.float32), **common)
        with pytest.raises(ValueError, match=r"param has shape \(4,\) but grad_avg has shape"):
            _kernels.rmsprop_step(
                p, g, s, centered=True, grad_avg=np.zeros(3, np.float32), **common
            )
        with pytest.raises(TypeError, match=r"momentum_buffer: expected dtype float32"):
            _kernels.rmsprop_step(p, g, s, momentum=0.9, momentum_buffer=np.zeros(4), **common)
        with pytest.raises(ValueError, match=r"param has shape \(4,\) but sum has shape"):
            _kernels.adagrad_step(p, g, np.zeros(2, np.float32), step=1, lr=0.1)
        with pytest.raises(ValueError, match=r"square_avg \(4,\) shares memory with grad_avg"):
            _kernels.rmsprop_step(p, g, s, centered=True, grad_avg=s, **common)
        with pytest.raises(ValueError, match=r"momentum_buffer \(4,\) shares memory with grad"):
            _kernels.rmsprop_step(p, g, s, momentum=0.9, momentum_buffer=g, **common)
        with pytest.raises(ValueError, match=r"adagrad_step: param \(4,\) shares memory with sum"):
            _kernels.adagrad_step(p, g, p, step=1, lr=0.1)
        s.flags.writeable = False
        with pytest.raises(ValueError, match=r"adagrad_step: sum \(4,\) is read-only"):
            _kernels.adagrad_step(p, g, s, step=1, lr=0.1)
        with pytest.raises(ValueError, match=r"rmsprop_step: square_avg \(4,\) is read-only"):
            _kernels.rmsprop_step(p, g, s, **common)
