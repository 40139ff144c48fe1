"""Tests of papers/lenet5/sdlm.py: the stochastic diagonal Levenberg-Marquardt method (LeNet-5,
Appendix C). The second-order backward is checked against an explicit float64 NumPy
implementation of the same per-layer Gauss-Newton rules on a tiny LeNet-shaped network (one layer
of each type: convolution, subsampling, Table-I-style partial convolution, linear, RBF)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import odyssey
from odyssey import nn, optim
from odyssey.data import load_dataset
from odyssey.papers import load_model_module

_FOLDER = Path(__file__).resolve().parents[1] / "papers" / "lenet5"
M = load_model_module(_FOLDER)
_spec = importlib.util.spec_from_file_location("_odyssey_paper_lenet5_sdlm", _FOLDER / "sdlm.py")
assert _spec is not None
assert _spec.loader is not None
S = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(S)

A, SLOPE = 1.7159, 2.0 / 3.0


class TinyNet(nn.Module):
    """LeNet5's layer sequence at toy sizes: 1@12x12 → c1 2@10x10 → s2 2@5x5 → c3 3@4x4 (partial,
    maps {0}, {0,1}, {1}) → s4 3@2x2 → c5 4@1x1 → f6 5 → RBF on 3 prototypes."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 2, 3)
        self.s2 = M.Subsampling(2)
        self.c3 = M.PartialConv2d(((0,), (0, 1), (1,)), in_channels=2, kernel_size=2)
        self.s4 = M.Subsampling(3)
        self.c5 = nn.Conv2d(3, 4, 2)
        self.f6 = nn.Linear(4, 5)
        rng = np.random.default_rng(seed)
        self.output = M.EuclideanRBF(np.where(rng.random((3, 5)) < 0.5, -1.0, 1.0))
        # Weights large enough that the squashing derivatives vary (not all near f'(0)).
        with odyssey.no_grad():
            for _, p in self.named_parameters():
                p.data[...] = rng.normal(0.0, 0.8, p.data.shape).astype(np.float32)

    def forward(self, x: odyssey.Tensor) -> odyssey.Tensor:
        f = odyssey.nn.functional.lecun_tanh
        x = f(self.s2(f(self.c1(x))))
        x = f(self.s4(f(self.c3(x))))
        x = f(self.c5(x)).flatten(1)
        return self.output(f(self.f6(x)))


# -- an explicit float64 reference of the per-layer rules ---------------------------------------


def _p64(t: odyssey.Tensor) -> np.ndarray:
    return t.detach().numpy().astype(np.float64)


def _fprime(a: np.ndarray) -> np.ndarray:
    return A * SLOPE / np.cosh(SLOPE * a) ** 2


def _conv_fwd(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    k = w.shape[-1]
    win = sliding_window_view(x, (k, k), axis=(2, 3))
    return np.einsum("nihwab,oiab->nohw", win, w) + b.reshape(1, -1, 1, 1)


def _conv_rules(x, w, d2a):
    """Explicit loops over kernel offsets: ∂²/∂w[o,i,a,b] = Σ x²[.., i, h+a, w+b] d2a[.., o, h, w],
    ∂²/∂x[i, h+a, w+b] += Σ_o w²[o,i,a,b] d2a[o, h, w]."""
    _, _, hh, ww = d2a.shape
    k = w.shape[-1]
    d2w = np.zeros_like(w)
    d2x = np.zeros_like(x)
    for a in range(k):
        for b in range(k):
            xs = x[:, :, a : a + hh, b : b + ww] ** 2
            d2w[:, :, a, b] = np.einsum("nihw,nohw->oi", xs, d2a)
            d2x[:, :, a : a + hh, b : b + ww] += np.einsum("oi,nohw->nihw", w[:, :, a, b] ** 2, d2a)
    return d2x, d2w, d2a.sum(axis=(0, 2, 3))


def _sub_fwd(x, c, b):
    n, ch, h, w = x.shape
    s = x.reshape(n, ch, h // 2, 2, w // 2, 2).sum(axis=(3, 5))
    return s * c.reshape(1, -1, 1, 1) + b.reshape(1, -1, 1, 1)


def _sub_rules(x, c, d2a):
    n, ch, h, w = x.shape
    sq = (x**2).reshape(n, ch, h // 2, 2, w // 2, 2).sum(axis=(3, 5))
    d2c = (sq * d2a).sum(axis=(0, 2, 3))
    d2x = np.repeat(np.repeat(d2a * (c**2).reshape(1, -1, 1, 1), 2, axis=2), 2, axis=3)
    return d2x, d2c, d2a.sum(axis=(0, 2, 3))


def _partial_fwd(x, packed, b, table):
    n, _, h, w = x.shape
    k = packed.shape[-1]
    out = np.zeros((n, len(table), h - k + 1, w - k + 1))
    row = 0
    for o, inputs in enumerate(table):
        for i in inputs:
            out[:, o] += _conv_fwd(x[:, i : i + 1], packed[row][None, None], np.zeros(1))[:, 0]
            row += 1
    return out + b.reshape(1, -1, 1, 1)


def _partial_rules(x, packed, d2a, table):
    d2x = np.zeros_like(x)
    d2w = np.zeros_like(packed)
    row = 0
    for o, inputs in enumerate(table):
        for i in inputs:
            gx, gw, _ = _conv_rules(x[:, i : i + 1], packed[row][None, None], d2a[:, o : o + 1])
            d2x[:, i : i + 1] += gx
            d2w[row] = gw[0, 0]
            row += 1
    return d2x, d2w, d2a.sum(axis=(0, 2, 3))


def reference_hessian(net: TinyNet, x: np.ndarray, j: float) -> dict[str, np.ndarray]:
    """The per-layer Gauss-Newton diagonal rules, float64, written out layer by layer."""
    sq = lambda a: A * np.tanh(SLOPE * a)  # noqa: E731
    p = {name: _p64(t) for name, t in net.named_parameters()}
    table = net.c3.table
    x0 = x.astype(np.float64)
    a1 = _conv_fwd(x0, p["c1.weight"], p["c1.bias"])
    x1 = sq(a1)
    a2 = _sub_fwd(x1, p["s2.weight"], p["s2.bias"])
    x2 = sq(a2)
    a3 = _partial_fwd(x2, p["c3.weight"], p["c3.bias"], table)
    x3 = sq(a3)
    a4 = _sub_fwd(x3, p["s4.weight"], p["s4.bias"])
    x4 = sq(a4)
    a5 = _conv_fwd(x4, p["c5.weight"], p["c5.bias"])
    x5 = sq(a5).reshape(len(x0), -1)
    a6 = x5 @ p["f6.weight"].T + p["f6.bias"]
    x6 = sq(a6)
    # RBF + MAP loss: ∂²E/∂x_j² = 2 + Σ_i (2 (x_j - w_ij))² p_i (1 - p_i), loops over i.
    protos = _p64(net.output.weight)
    y = np.array([[np.sum((xs - w) ** 2) for w in protos] for xs in x6])
    d2x6 = np.full_like(x6, 2.0)
    for n in range(len(x6)):
        denom = np.exp(-j) + np.exp(-y[n]).sum()
        for i, w in enumerate(protos):
            pi = np.exp(-y[n, i]) / denom
            d2x6[n] += (2.0 * (x6[n] - w)) ** 2 * pi * (1.0 - pi)
    out: dict[str, np.ndarray] = {}
    d2a6 = _fprime(a6) ** 2 * d2x6
    out["f6.weight"] = np.einsum("nk,ni->ki", d2a6, x5**2)
    out["f6.bias"] = d2a6.sum(0)
    d2x5 = (d2a6 @ p["f6.weight"] ** 2).reshape(a5.shape)
    d2a5 = _fprime(a5) ** 2 * d2x5
    d2x4, out["c5.weight"], out["c5.bias"] = _conv_rules(x4, p["c5.weight"], d2a5)
    d2a4 = _fprime(a4) ** 2 * d2x4
    d2x3, out["s4.weight"], out["s4.bias"] = _sub_rules(x3, p["s4.weight"], d2a4)
    d2a3 = _fprime(a3) ** 2 * d2x3
    d2x2, out["c3.weight"], out["c3.bias"] = _partial_rules(x2, p["c3.weight"], d2a3, table)
    d2a2 = _fprime(a2) ** 2 * d2x2
    d2x1, out["s2.weight"], out["s2.bias"] = _sub_rules(x1, p["s2.weight"], d2a2)
    d2a1 = _fprime(a1) ** 2 * d2x1
    _, out["c1.weight"], out["c1.bias"] = _conv_rules(x0, p["c1.weight"], d2a1)
    return {k: v / len(x0) for k, v in out.items()}


# -- checks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_second_order_backward_matches_float64_reference(seed):
    net = TinyNet(seed)
    x = np.random.default_rng(100 + seed).normal(0.0, 1.0, (4, 1, 12, 12)).astype(np.float32)
    j = 3.0  # small, so that the competitive term's p_i (1 - p_i) is not negligible
    got = S.diagonal_hessian(net, odyssey.tensor(x), [0, 1, 2, 0], j=j)
    want = reference_hessian(net, x, j)
    assert list(got) == [name for name, _ in net.named_parameters()]
    for name, value in got.items():
        assert value.dtype == np.float32
        assert value.shape == want[name].shape
        np.testing.assert_allclose(value, want[name], rtol=1e-5, atol=1e-12, err_msg=name)
    # The competitive term does contribute (the test would not see a wrong p_i otherwise).
    protos = net.output.weight.detach().numpy()
    feats = np.zeros((1, 5))
    assert S.map_output_second_derivative(feats, protos, [0], j).max() > 2.0 + 1e-3


def test_map_output_second_derivative_is_the_diagonal_gauss_newton_of_the_lse_term():
    """The competitive term's Hessian in y, by finite differences of its gradient, has diagonal
    p_i (1 - p_i); mapped through the RBF's Jacobian diagonal plus the 2 of the squares term."""
    rng = np.random.default_rng(5)
    protos = np.where(rng.random((4, 6)) < 0.5, -1.0, 1.0)
    x = rng.normal(0.0, 0.7, (1, 6))
    j = 4.0
    y = ((x - protos) ** 2).sum(-1)

    def lse(v):
        return np.log(np.exp(-j) + np.exp(-v).sum())

    eps = 1e-4
    diag = np.array(
        [(lse(y + eps * e) - 2 * lse(y) + lse(y - eps * e)) / eps**2 for e in np.eye(len(y))]
    )
    jac = 2.0 * (x - protos)  # (classes, features): ∂y_i/∂x_j
    want = 2.0 + (jac**2 * diag[:, None]).sum(0)
    got = S.map_output_second_derivative(x, protos, [0], j)[0]
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_hessian_of_lenet5_is_nonnegative_finite_and_shaped():
    odyssey.manual_seed(0)
    model = M.LeNet5()
    data = load_dataset("mnist-sample", "train")
    x = M.scale_input(data.images[:32].astype(np.float32) / 255.0)
    h = S.diagonal_hessian(model, x, data.labels[:32])
    assert list(h) == [name for name, _ in model.named_parameters()]
    for name, param in model.named_parameters():
        assert h[name].shape == param.shape, name
        assert np.all(np.isfinite(h[name])), name
        assert np.all(h[name] >= 0), name
    assert sum(v.size for v in h.values()) == 60000
    # a bias of F6 sees ∂²E/∂x² ≥ 2 and f'(a)² > 0: strictly positive
    assert np.all(h["f6.bias"] > 0)
    # C3's packed kernels: every connection is used, so every entry is positive
    assert np.all(h["c3.weight"] > 0)


def test_lr_for_pass_follows_the_paper():
    got = [S.lr_for_pass(e) for e in range(1, 21)]
    want = [5e-4] * 2 + [2e-4] * 3 + [1e-4] * 3 + [5e-5] * 4 + [1e-5] * 8
    assert got == want
    with pytest.raises(ValueError, match="passes count from 1"):
        S.lr_for_pass(0)


def test_step_is_lr_over_mu_plus_h_times_grad():
    w = nn.Parameter(np.array([1.0, 2.0, 3.0], dtype=np.float32))
    b = nn.Parameter(np.array([0.5], dtype=np.float32))
    opt = S.SDLM([("w", w), ("b", b)], lr=0.1, mu=0.02)
    assert isinstance(opt, optim.Optimizer)
    opt.set_hessian({"w": np.array([0.0, 1.0, 3.0]), "b": np.array([0.48])})
    ((w * w).sum() + b.sum() * 2.0).backward()
    opt.step()
    np.testing.assert_allclose(
        w.detach().numpy(), [1 - 0.1 / 0.02 * 2, 2 - 0.1 / 1.02 * 4, 3 - 0.1 / 3.02 * 6], rtol=1e-6
    )
    np.testing.assert_allclose(b.detach().numpy(), [0.5 - 0.1 / 0.5 * 2], rtol=1e-6)
    assert opt.set_pass(3) == 2e-4
    assert opt.param_groups[0]["lr"] == 2e-4
    with pytest.raises(ValueError, match="finite and >= 0"):
        opt.set_hessian({"w": np.array([-1.0, 0, 0]), "b": np.zeros(1)})
    with pytest.raises(KeyError):
        opt.set_hessian({"w": np.zeros(3)})
    with pytest.raises(ValueError, match="Invalid mu"):
        S.SDLM([("w", w)], mu=0.0)


def test_state_dict_round_trips_through_json():
    w = nn.Parameter(np.ones((2, 2), dtype=np.float32))
    opt = S.SDLM([("w", w)], lr=1e-3)
    opt.set_hessian({"w": np.array([[0.1, 0.2], [0.3, 0.4]])})
    sd = opt.state_dict()
    text = json.dumps(
        {
            "state": {
                str(k): {n: v.tolist() for n, v in e.items()} for k, e in sd["state"].items()
            },
            "param_groups": sd["param_groups"],
        }
    )
    w2 = nn.Parameter(np.ones((2, 2), dtype=np.float32))
    opt2 = S.SDLM([("w", w2)], lr=5e-4)
    opt2.load_state_dict(json.loads(text))
    np.testing.assert_array_equal(opt2.state[w2]["hessian"], opt.state[w]["hessian"])
    assert opt2.param_groups[0]["lr"] == 1e-3
    assert opt2.param_groups[0]["mu"] == 0.02


def _train(kind: str, steps: int, eps: float, batch: int = 16) -> tuple[float, float]:
    """(MAP loss on 500 training samples before, after `steps` minibatch steps): SDLM with
    ε = eps, μ = 0.02 and h estimated on those 500 samples, or SGD at lr = eps / μ."""
    odyssey.manual_seed(0)
    model = M.LeNet5()
    data = load_dataset("mnist-sample", "train")
    images = data.images[:500].astype(np.float32) / 255.0
    labels = data.labels[:500]
    x_all = M.scale_input(images)
    mu = 0.02
    if kind == "sdlm":
        opt: optim.Optimizer = S.SDLM(model.named_parameters(), lr=eps, mu=mu)
        opt.set_hessian(S.diagonal_hessian(model, x_all, labels))
    else:
        opt = optim.SGD(model.parameters(), lr=eps / mu)

    def loss_on_all() -> float:
        with odyssey.no_grad():
            return float(M.map_loss(model(x_all), labels).item())

    before = loss_on_all()
    for s in range(steps):
        idx = np.arange(s * batch, (s + 1) * batch) % 500
        opt.zero_grad()
        M.map_loss(model(M.scale_input(images[idx])), labels[idx]).backward()
        opt.step()
    return before, loss_on_all()


def test_sdlm_steps_lower_the_map_loss():
    """At ε = 1e-4 (the paper's passes 6-8), 30 steps of 16 samples. Most h_kk are far below
    μ = 0.02 at initialisation (median h: C1 2e-6 ... C5 4e-3; F6's bias 2.6), so SDLM is close
    to SGD at lr ε/μ here; only the F6 and C5 biases get markedly smaller steps."""
    before, sdlm = _train("sdlm", 30, 1e-4)
    before_sgd, sgd = _train("sgd", 30, 1e-4)
    assert before == before_sgd
    print(f"MAP loss on 500 samples: start {before:.3f}, SDLM {sdlm:.3f}, SGD(eps/mu) {sgd:.3f}")
    assert sdlm < 0.75 * before


def test_prepare_pass_sets_h_from_500_samples_and_the_pass_lr():
    odyssey.manual_seed(0)
    model = M.LeNet5()
    data = load_dataset("mnist-sample", "train")
    x = M.scale_input(data.images[:600].astype(np.float32) / 255.0)
    opt = S.SDLM(model.named_parameters())
    assert S.prepare_pass(opt, model, x, data.labels[:600], 4) == 2e-4
    assert opt.param_groups[0]["lr"] == 2e-4
    want = S.diagonal_hessian(model, x[:500], data.labels[:500])
    for name, param in model.named_parameters():
        np.testing.assert_array_equal(opt.state[param]["hessian"], want[name])
    S.prepare_pass(opt, model, x, data.labels[:600], 13, samples=50, seed=1)
    assert opt.param_groups[0]["lr"] == 1e-5
