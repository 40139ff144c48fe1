"""The stochastic diagonal Levenberg-Marquardt method of LeNet-5's Appendix C (LeCun, Bottou,
Bengio, Haffner 1998; also LeCun, Bottou, Orr, Müller, "Efficient BackProp", 1998, section 9).

Each parameter w_k takes its own step η_k = ε / (μ + h_kk), h_kk a running estimate of the
diagonal Gauss-Newton second derivative ∂²E/∂w_k², re-estimated (the mean over 500 samples) before
each pass; μ = 0.02 and ε follows `lr_for_pass`.

Derivation of the second-order backward (Gauss-Newton, diagonal):

* The loss (map_loss, equation 9) for one sample is E = y_D + log(e^{-j} + Σ_i e^{-y_i}), with
  y_i = Σ_j (x_j - w_ij)² the RBF outputs and x the squashed F6 outputs. The first term is a sum
  of squares of the residuals r_j = x_j - w_Dj: its Gauss-Newton second derivative with respect to
  x_j is exactly 2 (the paper's MSE criterion gives the same). The second term is convex in y (a
  log-sum-exp of -y); its Hessian in y is diag(p) - p pᵀ with p_i = e^{-y_i} / (e^{-j} + Σ e^{-y}),
  whose diagonal, p_i (1 - p_i) ≥ 0, is kept. Gauss-Newton drops the term ∂E/∂y · ∂²y/∂x²
  (the RBF's own curvature) and the diagonal approximation drops the cross terms, so through the
  RBF (whose prototypes are fixed, no parameter second derivatives):
      ∂²E/∂x_j² = 2 + Σ_i (∂y_i/∂x_j)² p_i (1 - p_i) = 2 + Σ_i 4 (x_j - w_ij)² p_i (1 - p_i).
* Through the squashing x = f(a): ∂²E/∂a² = f'(a)² ∂²E/∂x² (f'' · ∂E/∂x dropped).
* Through a weighted sum a_k = Σ_i w_ki x_i + b_k:
      ∂²E/∂x_i² = Σ_k w_ki² ∂²E/∂a_k²,   ∂²E/∂w_ki² = x_i² ∂²E/∂a_k²,   ∂²E/∂b_k² = ∂²E/∂a_k²,
  a shared weight (convolutions, C3's packed kernels, a subsampling map's coefficient shared by
  the four inputs of every cell) summing over all the connections it serves.

These weighted-sum rules are the first-order backward of the same layer evaluated with squared
weights on squared inputs: d/dW Σ_k c_k (Σ_i W_ki X_i) = Σ c_k X_i, d/dX_i = Σ_k W_ki c_k. So each
layer's rule is computed by odyssey's own autograd on the layer's functional form with w², x² and
the cotangent c = ∂²E/∂a² (tested against an explicit float64 NumPy implementation of the rules).

Measured (mnist-sample, LeNet5 at its ±2.4/F_i initialisation, h on 500 training images): the
signal shrinks through the layers (pre-activation std: C1 0.11, C3 0.05, C5 0.027, F6 0.012), so
the weights are small against the MAP loss's gradient (about 2 per F6 unit towards its ±1
target), and most h_kk are far below μ (medians: C1 2e-6, C3 4e-5, C5 4e-3, F6 weights 8e-4; F6
biases 2.6). A step is then close to SGD's at lr ε/μ: at the paper's ε = 5e-4 and μ = 0.02 one
sample moves C5's weights by 55 % of their norm and F6's by 12 % (a batch of 16: 32 % and 8 %).
The diagonal sees each weight alone, but a unit's 400 (C5) or 120 (F6) inputs move its sum
together, and C5 and F6 grow at once: F6's units saturate (f' ≈ 0) in the first pass and training
never recovers (test accuracy stays at chance), per sample as in batches of 16. Ramping ε
linearly from 0 over the first passes (train.SDLMPasses' warmup_samples) avoids that: with the
ramp the paper's own ε and μ train (batches of 16, distortions, 20 passes: 96.5 %), though ε
twice the paper's still diverged on one seed in three. paper.toml's recipe (μ = 0.1, ε five
times the paper's, a ramp over 8,000 samples) is the one that trained reliably here; see the README.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

import odyssey
import odyssey.nn.functional as F
from odyssey import nn
from odyssey.optim.optimizer import Optimizer, check_lr

__all__ = [
    "LAYERS",
    "SDLM",
    "diagonal_hessian",
    "lr_for_pass",
    "map_output_second_derivative",
    "prepare_pass",
    "squash_derivative",
]

# The trainable layers of LeNet5, in forward order; each is followed by the squashing function,
# the output of the last one feeds the Euclidean RBF layer `model.output`.
LAYERS = ("c1", "s2", "c3", "s4", "c5", "f6")

_A = 1.7159
_S = 2.0 / 3.0


def lr_for_pass(epoch: int) -> float:
    """The paper's global step ε for pass `epoch` (1-based): 0.0005 for passes 1-2, 0.0002 for
    3-5, 0.0001 for 6-8, 0.00005 for 9-12, 0.00001 after."""
    if epoch < 1:
        raise ValueError(f"lr_for_pass: passes count from 1, got {epoch}")
    for last, lr in ((2, 5e-4), (5, 2e-4), (8, 1e-4), (12, 5e-5)):
        if epoch <= last:
            return lr
    return 1e-5


def squash_derivative(a: np.ndarray) -> np.ndarray:
    """f'(a) for f(a) = A·tanh(S·a)."""
    t = np.tanh(_S * a)
    return _A * _S * (1.0 - t * t)


def map_output_second_derivative(
    features: np.ndarray, prototypes: np.ndarray, labels: np.ndarray, j: float
) -> np.ndarray:
    """∂²E/∂x_j² (Gauss-Newton, diagonal) of each sample's MAP loss with respect to the RBF's
    inputs x (N, F): 2 + Σ_i 4 (x_j - w_ij)² p_i (1 - p_i) (see the module docstring). `labels`
    is unused (the correct class's term contributes 2 whatever the class) but kept for clarity."""
    del labels
    x = np.asarray(features, np.float64)
    w = np.asarray(prototypes, np.float64)
    y = ((x[:, None, :] - w[None, :, :]) ** 2).sum(-1)  # (N, classes)
    shift = np.minimum(y.min(axis=1, keepdims=True), j)
    e = np.exp(shift - y)
    p = e / (np.exp(shift - j) + e.sum(axis=1, keepdims=True))
    curv = p * (1.0 - p)  # (N, classes)
    return 2.0 + np.einsum("ni,nij->nj", curv, 4.0 * (x[:, None, :] - w[None, :, :]) ** 2)


def _leaf(array: np.ndarray) -> odyssey.Tensor:
    return odyssey.tensor(np.ascontiguousarray(array, dtype=np.float32), requires_grad=True)


def _layer_rule(
    layer: nn.Module, x: np.ndarray, d2a: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(∂²E/∂x², {param name: ∂²E/∂param²}) of one weighted-sum layer, by autograd on its
    functional form with squared weights and squared inputs and the cotangent d2a."""
    X = _leaf(np.square(x))
    cot = odyssey.tensor(np.ascontiguousarray(d2a, dtype=np.float32))
    bias = _leaf(np.zeros(layer.bias.shape, np.float32))
    if isinstance(layer, nn.Conv2d):
        W = _leaf(np.square(layer.weight.detach().numpy()))
        out = F.conv2d(X, W, bias)
    elif isinstance(layer, nn.Linear):
        W = _leaf(np.square(layer.weight.detach().numpy()))
        out = F.linear(X, W, bias)
    elif type(layer).__name__ == "Subsampling":
        W = _leaf(np.square(layer.weight.detach().numpy()))
        shape = (1, layer.channels, 1, 1)
        out = F.avg_pool2d(X, 2) * (W * 4.0).reshape(shape) + bias.reshape(shape)
    elif type(layer).__name__ == "PartialConv2d":
        # dense(w)² = dense(w²): the dense weight only copies packed kernels or holds zeros.
        with odyssey.no_grad():
            dense = layer.dense_weight().numpy()
        W = _leaf(np.square(dense))
        out = F.conv2d(X, W, bias)
    else:
        raise TypeError(f"diagonal_hessian: no second-order rule for {type(layer).__name__}")
    (out * cot).sum().backward()
    assert X.grad is not None
    assert W.grad is not None
    assert bias.grad is not None
    d2w = W.grad.numpy()
    if type(layer).__name__ == "PartialConv2d":
        rows = [d2w[o, i] for o, inputs in enumerate(layer.table) for i in inputs]
        d2w = np.stack(rows)
    return X.grad.numpy(), {"weight": np.array(d2w), "bias": np.array(bias.grad.numpy())}


def _as_labels(targets: Any) -> np.ndarray:
    if isinstance(targets, odyssey.Tensor):
        targets = targets.detach().numpy()
    return np.asarray(targets).astype(np.int64).reshape(-1)


def diagonal_hessian(
    model: nn.Module, images: Any, targets: Any, j: float | None = None
) -> dict[str, np.ndarray]:
    """{parameter name: mean over the batch of ∂²E/∂w²} (diagonal Gauss-Newton, float32 arrays
    of the parameters' shapes), for a LeNet5-shaped model (the layers of `LAYERS`, each followed
    by the squashing function, then `model.output`) on `images` (N, C, H, W; passed through
    `model.prepare_input` when the model has one, as its forward does) with
    the MAP loss of class indices `targets` (j: map_loss's, MAP_J by default)."""
    if j is None:
        j = 10.0
    prepare = getattr(model, "prepare_input", None)
    x = images if isinstance(images, odyssey.Tensor) else odyssey.tensor(images)
    if prepare is not None:
        x = prepare(x)
    n = x.shape[0]
    inputs: list[np.ndarray] = []
    pre: list[np.ndarray] = []
    with odyssey.no_grad():
        h = x
        for name in LAYERS:
            layer = getattr(model, name)
            if isinstance(layer, nn.Linear) and h.ndim > 2:
                h = h.flatten(1)
            inputs.append(h.numpy().copy())
            a = layer(h)
            pre.append(np.asarray(a.numpy(), np.float64))
            h = F.lecun_tanh(a)
        features = h.numpy()
    prototypes = model.output.weight.detach().numpy()
    d2x = map_output_second_derivative(features, prototypes, _as_labels(targets), j)
    result: dict[str, np.ndarray] = {}
    for index in reversed(range(len(LAYERS))):
        name = LAYERS[index]
        d2a = squash_derivative(pre[index]) ** 2 * d2x.reshape(pre[index].shape)
        d2x, params = _layer_rule(getattr(model, name), inputs[index], d2a)
        for pname, value in params.items():
            result[f"{name}.{pname}"] = (value / n).astype(np.float32)
    return {name: result[name] for name, _ in model.named_parameters()}


class SDLM(Optimizer):
    """p ← p - lr / (mu + h) · grad, h the per-parameter diagonal second derivative given by
    `set_hessian` (`diagonal_hessian`'s dict by parameter name). `params` are the parameters, or
    (name, parameter) pairs as model.named_parameters() gives (PyTorch's optimizers take both);
    `lr` is ε (see `lr_for_pass` and `set_pass`). Before the first `set_hessian`, h = 0 (a step
    of lr/mu·grad)."""

    def __init__(self, params: Iterable[Any], lr: float = 5e-4, mu: float = 0.02) -> None:
        items = list(params)
        named = [isinstance(p, tuple) and len(p) == 2 for p in items]
        if any(named) and not all(named):
            raise TypeError("SDLM: params must be all parameters or all (name, parameter) pairs")
        self.names: list[str] | None = [n for n, _ in items] if items and all(named) else None
        if self.names is not None and len(set(self.names)) != len(self.names):
            raise ValueError("SDLM: parameter names must be unique")
        super().__init__([p for _, p in items] if self.names else items, {"lr": lr, "mu": mu})

    def check_group(self, group: dict[str, Any]) -> None:
        check_lr("SDLM", group["lr"])
        mu = group["mu"]
        if not (isinstance(mu, (int, float)) and mu > 0 and np.isfinite(mu)):
            raise ValueError(f"SDLM: Invalid mu: {mu}")

    def _params(self) -> list[odyssey.Tensor]:
        return [p for g in self.param_groups for p in g["params"]]

    def set_pass(self, epoch: int) -> float:
        """Sets every group's lr to the paper's ε for pass `epoch` (1-based); returns it."""
        lr = lr_for_pass(epoch)
        for group in self.param_groups:
            group["lr"] = lr
        return lr

    def set_hessian(
        self,
        hessian: dict[str, np.ndarray],
        named: Iterable[tuple[str, odyssey.Tensor]] | None = None,
    ) -> None:
        """Stores h for every parameter: `hessian` maps parameter names to arrays of the
        parameter's shape, finite and >= 0, every name required. The names are the pairs' the
        optimizer was built from, or `named` (model.named_parameters()) when it was built from
        bare parameters."""
        if named is not None:
            by_id = {id(p): name for name, p in named}
            missing = [i for i, p in enumerate(self._params()) if id(p) not in by_id]
            if missing:
                raise ValueError(
                    f"SDLM.set_hessian: parameter {missing[0]} of the optimizer is not in `named`"
                )
            names = [by_id[id(p)] for p in self._params()]
        elif self.names is not None:
            names = self.names
        else:
            raise ValueError(
                "SDLM.set_hessian: the optimizer was built from bare parameters; pass `named` "
                "(model.named_parameters()) to tell which h is whose"
            )
        for name, param in zip(names, self._params(), strict=True):
            if name not in hessian:
                raise KeyError(f"SDLM.set_hessian: no second derivative for {name!r}")
            h = np.array(hessian[name], dtype=np.float32, order="C", copy=True)
            if h.shape != param.data.shape:
                raise ValueError(
                    f"SDLM.set_hessian: {name!r} has shape {param.data.shape}, h {h.shape}"
                )
            if not (np.all(np.isfinite(h)) and np.all(h >= 0)):
                raise ValueError(f"SDLM.set_hessian: h of {name!r} must be finite and >= 0")
            self.state[param]["hessian"] = h

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = closure() if closure is not None else None
        for group_index, group in enumerate(self.param_groups):
            lr, mu = float(group["lr"]), float(group["mu"])
            for index, param in enumerate(group["params"]):
                if param.grad is None:
                    continue
                grad = self.checked_grad(param, group_index, index)
                h = self.state[param].get("hessian")
                scale = np.float32(lr) / (np.float32(mu) + (0.0 if h is None else h))
                param.data[...] -= (scale * grad).astype(np.float32)
        return loss


def prepare_pass(
    optimizer: SDLM,
    model: nn.Module,
    images: Any,
    targets: Any,
    epoch: int,
    samples: int = 500,
    seed: int | None = None,
) -> float:
    """Before pass `epoch` (1-based): re-estimates h on `samples` of `images` (as the model takes
    them) with their class indices `targets` (the first ones, or a random subset when `seed` is
    given), stores it in `optimizer` and sets its lr to the paper's ε for the pass; returns it."""
    labels = _as_labels(targets)
    x = images.detach().numpy() if isinstance(images, odyssey.Tensor) else np.asarray(images)
    count = min(samples, len(labels))
    if seed is None:
        chosen = np.arange(count)
    else:
        chosen = np.sort(np.random.default_rng(seed).choice(len(labels), count, replace=False))
    hessian = diagonal_hessian(model, odyssey.tensor(x[chosen]), labels[chosen])
    optimizer.set_hessian(hessian, None if optimizer.names else model.named_parameters())
    return optimizer.set_pass(epoch)
