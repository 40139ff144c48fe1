"""LeNet-5 as in LeCun, Bottou, Bengio and Haffner, "Gradient-Based Learning Applied to Document
Recognition", Proc. IEEE 86(11), 1998: section II.B (the architecture), Table I (C3's
connections), section II.C (the MAP loss, equation 9) and Appendix A (squashing, initialisation).

Written with the public API only (odyssey, odyssey.nn, odyssey.nn.functional, odyssey.nn.init).
The network's output is 10 penalties (squared distances to the digits' bitmaps): the predicted
class is the one with the *smallest* output.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import odyssey
import odyssey.nn.functional as F
from odyssey import nn

__all__ = [
    "C3_TABLE",
    "DIGIT_BITMAPS",
    "MAP_J",
    "EuclideanRBF",
    "LeNet5",
    "LeNet5Modern",
    "PartialConv2d",
    "Squash",
    "Subsampling",
    "digit_bitmaps",
    "lecun_uniform_init_",
    "map_loss",
    "scale_input",
]


# -- the squashing function ---------------------------------------------------------------------


class Squash(nn.Module):
    """f(a) = A·tanh(S·a) with A = 1.7159 and S = 2/3 (Appendix A): f(±1) = ±1, and the second
    derivative is largest at ±1. F.lecun_tanh computes exactly this in one fused kernel (one pass
    forward, one backward, instead of three elementwise ops for 1.7159 * F.tanh(a * (2/3)))."""

    def forward(self, x: odyssey.Tensor) -> odyssey.Tensor:
        return F.lecun_tanh(x)


# -- S2 and S4: trainable subsampling ----------------------------------------------------------


class Subsampling(nn.Module):
    """S2/S4: each unit sums the four inputs of its 2x2 cell, multiplies the sum by its map's
    trainable coefficient and adds its map's trainable bias (2 parameters a map). The squashing
    function that follows is applied by the model."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.weight = nn.Parameter(np.ones(channels, dtype=np.float32))
        self.bias = nn.Parameter(np.zeros(channels, dtype=np.float32))

    def forward(self, x: odyssey.Tensor) -> odyssey.Tensor:
        shape = (1, self.channels, 1, 1)
        # 4·mean = the sum of the four inputs; the 4 is folded into the per-map coefficient.
        return F.avg_pool2d(x, 2) * (self.weight * 4.0).reshape(shape) + self.bias.reshape(shape)

    def extra_repr(self) -> str:
        return f"{self.channels}"


# -- C3: the partial connections of Table I ----------------------------------------------------

# Table I of the paper: column j lists the S2 maps that feed C3 map j (an X in row i, column j).
#
#   C3 map:    0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15
#   S2 map 0:  X  .  .  .  X  X  X  .  .  X  X  X  X  .  X  X
#   S2 map 1:  X  X  .  .  .  X  X  X  .  .  X  X  X  X  .  X
#   S2 map 2:  X  X  X  .  .  .  X  X  X  .  .  X  .  X  X  X
#   S2 map 3:  .  X  X  X  .  .  X  X  X  X  .  .  X  .  X  X
#   S2 map 4:  .  .  X  X  X  .  .  X  X  X  X  .  X  X  .  X
#   S2 map 5:  .  .  .  X  X  X  .  .  X  X  X  X  .  X  X  X
#
# Maps 0-5 see three contiguous S2 maps (cyclically), 6-11 four contiguous, 12-14 four
# non-contiguous, 15 all six: 6·3 + 6·4 + 3·4 + 6 = 60 connections of 25 weights, plus 16
# biases = 1,516 trainable parameters.
C3_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2),
    (1, 2, 3),
    (2, 3, 4),
    (3, 4, 5),
    (0, 4, 5),
    (0, 1, 5),
    (0, 1, 2, 3),
    (1, 2, 3, 4),
    (2, 3, 4, 5),
    (0, 3, 4, 5),
    (0, 1, 4, 5),
    (0, 1, 2, 5),
    (0, 1, 3, 4),
    (1, 2, 4, 5),
    (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


class PartialConv2d(nn.Module):
    """A 5x5 convolution where output map j sees only the input maps table[j].

    The trainable weight holds one kernel per connection, shape (connections, kh, kw), in the
    order of the table (map 0's inputs first, each map's inputs ascending); bias (out_channels,).

    Computation: the packed kernels are scattered into a dense (out, in, kh, kw) weight whose
    missing connections are zero, and one F.conv2d does the rest. The waste-free alternative (one
    F.conv2d per output map on its own input maps, the 16 results combined into one tensor,
    `_forward_grouped`) was measured slower on this machine (forward + backward, median of 20):
    batch 1: masked 0.22 ms, grouped 2.5 ms; batch 64: 1.2 ms against 33 ms; batch 256: 4.1 ms
    against 119 ms. Even the 16 per-map convolutions alone, before any gather or combination,
    take 4.1 ms at batch 64: small kernel calls cost far more than the 36 of 96 connections that
    the dense convolution computes in vain.
    """

    def __init__(
        self,
        table: tuple[tuple[int, ...], ...] = C3_TABLE,
        in_channels: int = 6,
        kernel_size: int = 5,
    ) -> None:
        super().__init__()
        self.table = tuple(tuple(sorted(inputs)) for inputs in table)
        self.in_channels = in_channels
        self.out_channels = len(self.table)
        self.kernel_size = kernel_size
        connections = sum(len(inputs) for inputs in self.table)
        k = kernel_size
        self.weight = nn.Parameter(np.zeros((connections, k, k), dtype=np.float32))
        self.bias = nn.Parameter(np.zeros(self.out_channels, dtype=np.float32))
        # gather[o * in + i]: the packed row of connection (o, i); missing ones point at row 0
        # and are zeroed by the mask.
        gather = np.zeros(self.out_channels * in_channels, dtype=np.int64)
        mask = np.zeros((self.out_channels * in_channels, 1, 1), dtype=np.float32)
        row = 0
        for o, inputs in enumerate(self.table):
            for i in inputs:
                gather[o * in_channels + i] = row
                mask[o * in_channels + i] = 1.0
                row += 1
        self._gather = gather
        self._mask = odyssey.tensor(mask)

    def fan_in(self, out_map: int) -> int:
        return len(self.table[out_map]) * self.kernel_size**2

    def dense_weight(self) -> odyssey.Tensor:
        """The (out, in, kh, kw) weight with zeros where Table I has no connection."""
        k = self.kernel_size
        dense = self.weight[self._gather] * self._mask
        return dense.reshape(self.out_channels, self.in_channels, k, k)

    def forward(self, x: odyssey.Tensor) -> odyssey.Tensor:
        return F.conv2d(x, self.dense_weight(), self.bias)

    def _forward_grouped(self, x: odyssey.Tensor) -> odyssey.Tensor:
        """The same result with no work on missing connections: one conv per output map, the
        maps placed into their channels by a broadcast product with one-hot columns."""
        k = self.kernel_size
        out = None
        row = 0
        for o, inputs in enumerate(self.table):
            n = len(inputs)
            w = self.weight[row : row + n].reshape(1, n, k, k)
            row += n
            y = F.conv2d(x[:, list(inputs)], w, self.bias[o : o + 1])
            onehot = np.zeros((1, self.out_channels, 1, 1), dtype=np.float32)
            onehot[0, o] = 1.0
            placed = y * odyssey.tensor(onehot)
            out = placed if out is None else out + placed
        assert out is not None
        return out

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"connections={self.weight.shape[0]}"
        )


# -- the output layer: Euclidean RBF units on 7x12 bitmaps of the digits -----------------------

# One 7-wide, 12-high bitmap per digit, '#' = +1 and '.' = -1 (84 = 7·12 values, F6's 84 units),
# drawn in the spirit of the paper's Figure 3: stylised digits on a 7x12 grid.
DIGIT_BITMAPS = """
..###.. ...#... ..###.. .#####. ....#.. ####### ..####. ####### ..###.. ..###..
.#...#. ..##... .#...#. #.....# ...##.. #...... .#..... ......# .#...#. .#...#.
#.....# .#.#... #.....# ......# ..#.#.. #...... #...... .....#. #.....# #.....#
#.....# ...#... ......# ......# ..#.#.. #...... #...... .....#. #.....# #.....#
#.....# ...#... .....#. .....#. .#..#.. ######. #.###.. ....#.. .#...#. #.....#
#.....# ...#... ....#.. ..###.. .#..#.. ......# ##...#. ....#.. ..###.. .#...##
#.....# ...#... ...#... .....#. #...#.. ......# #.....# ...#... .#...#. ..###.#
#.....# ...#... ..#.... ......# ####### ......# #.....# ...#... #.....# ......#
#.....# ...#... .#..... ......# ....#.. ......# #.....# ..#.... #.....# ......#
#.....# ...#... #...... ......# ....#.. ......# #.....# ..#.... #.....# ......#
.#...#. ...#... #...... #.....# ....#.. #.....# .#...#. ..#.... .#...#. .....#.
..###.. .#####. ####### .#####. ....#.. .#####. ..###.. ..#.... ..###.. .####..
"""


def digit_bitmaps(art: str = DIGIT_BITMAPS) -> np.ndarray:
    """(10, 84) float32 of ±1: row d is digit d's bitmap read row by row."""
    rows = [line.split() for line in art.strip().splitlines()]
    digits = np.array(
        [[[1.0 if c == "#" else -1.0 for c in row[d]] for row in rows] for d in range(10)],
        dtype=np.float32,
    )
    return digits.reshape(10, -1)


class EuclideanRBF(nn.Module):
    """y_i = Σ_j (x_j - w_ij)²: the squared distance of the input to each class's fixed ±1
    vector (a buffer, never trained). Computed as ‖x‖² - 2·x·w_i + ‖w_i‖², one GEMM."""

    def __init__(self, prototypes: np.ndarray | None = None) -> None:
        super().__init__()
        weight = digit_bitmaps() if prototypes is None else np.asarray(prototypes, np.float32)
        self.register_buffer("weight", odyssey.tensor(weight))

    def forward(self, x: odyssey.Tensor) -> odyssey.Tensor:
        w = self.weight  # read each call: a loaded state_dict may replace the buffer
        return (x * x).sum(1, keepdim=True) - F.linear(x, w) * 2.0 + (w * w).sum(1)


# -- the MAP loss (equation 9) -----------------------------------------------------------------

# j of equation (9). log(e^{-j} + Σ_i e^{-y_i}) ≈ -min(j, min_i y_i): a wrong class's penalty is
# pushed up only while it is below about j. The paper leaves j's value open; j = 10 is below the
# squared distance between any two of the bitmaps above (4 x their Hamming distance, at least 44)
# and well below the ~84 every penalty starts near (F6 ≈ 0 against ±1 targets), so the competitive
# term stays quiet while the net learns and only pushes apart classes that come close to a sample.
MAP_J = 10.0


def map_loss(outputs: odyssey.Tensor, targets: Any, j: float = MAP_J) -> odyssey.Tensor:
    """E = mean_p [ y_{D_p}(Z_p) + log(e^{-j} + Σ_i e^{-y_i(Z_p)}) ] for penalties `outputs`
    (N, classes) and class indices `targets` (N,). The log-sum-exp is shifted by its largest
    term (a constant for the gradient) so that large penalties neither overflow nor vanish."""
    labels = np.asarray(
        targets.detach().numpy() if isinstance(targets, odyssey.Tensor) else targets
    )
    labels = labels.astype(np.int64).reshape(-1)
    n = outputs.shape[0]
    correct = outputs[np.arange(n), labels]
    # shift m = min(j, min_i y_i) per sample: log(e^{-j} + Σ e^{-y}) = -m + log(e^{m-j} + Σ e^{m-y})
    shift = np.minimum(outputs.detach().numpy().min(axis=1), j).astype(np.float32)
    m = odyssey.tensor(shift.reshape(n, 1))
    rest = odyssey.tensor(np.exp(shift - j).astype(np.float32))
    competition = ((m - outputs).exp().sum(1) + rest).log() - m.reshape(n)
    return (correct + competition).mean()


# -- initialisation ------------------------------------------------------------------------------


def _uniform(param: odyssey.Tensor, bound: np.ndarray | float) -> None:
    """param ← U(-1, 1) · bound (bound broadcast against param's shape)."""
    nn.init.uniform_(param, -1.0, 1.0)
    with odyssey.no_grad():
        param.data[...] *= np.asarray(bound, dtype=np.float32)


def lecun_uniform_init_(module: nn.Module) -> nn.Module:
    """Weights uniform in ±2.4/F_i, F_i the fan-in of the unit the connection belongs to
    (Appendix A), for every Conv2d, Linear, Subsampling and PartialConv2d in `module`. The paper
    counts a bias as one more weight (a connection from a unit fixed at +1), so each bias is drawn
    from its unit's range too; F_i counts the unit's inputs without the bias (25 for C1, 4 for a
    subsampling unit, 75/100/150 for C3 by its map's column of Table I, 400 for C5, 120 for F6)."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            fan_in = layer.weight.shape[1] * layer.weight.shape[2] * layer.weight.shape[3]
            bounds: Any = 2.4 / fan_in
        elif isinstance(layer, nn.Linear):
            bounds = 2.4 / layer.weight.shape[1]
        elif isinstance(layer, Subsampling):
            bounds = 2.4 / 4
        elif isinstance(layer, PartialConv2d):
            per_map = np.array([2.4 / layer.fan_in(o) for o in range(layer.out_channels)])
            rows = np.concatenate([[per_map[o]] * len(t) for o, t in enumerate(layer.table)])
            _uniform(layer.weight, rows.reshape(-1, 1, 1))
            _uniform(layer.bias, per_map)
            continue
        else:
            continue
        _uniform(layer.weight, bounds)
        if layer.bias is not None:
            _uniform(layer.bias, bounds)
    return module


# -- the network -------------------------------------------------------------------------------


def scale_input(images: Any) -> odyssey.Tensor:
    """A batch of [0, 1] images (N, 28, 28) or (N, 1, 28, 28) as LeNet-5's input (N, 1, 32, 32):
    padded by 2 on each side, background (0) at -0.1 and ink (1) at 1.175, so that the input's
    mean is about 0 and its variance about 1 (section II.B)."""
    x = np.asarray(
        images.detach().numpy() if isinstance(images, odyssey.Tensor) else images, np.float32
    )
    if x.ndim == 3:
        x = x[:, None]
    x = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    return odyssey.tensor(x * np.float32(1.175 + 0.1) - np.float32(0.1))


class LeNet5(nn.Module):
    """The faithful LeNet-5: 32x32 (a 28x28 digit in [0, 1] is padded and scaled by
    `prepare_input`) → C1 6@28x28 → S2 6@14x14 → C3 16@10x10 (Table I) →
    S4 16@5x5 → C5 120 → F6 84 → 10 Euclidean RBF penalties, the squashing function after every
    layer but the output; 60,000 trainable parameters, initialised by `lecun_uniform_init_`."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5)
        self.s2 = Subsampling(6)
        self.c3 = PartialConv2d(C3_TABLE)
        self.s4 = Subsampling(16)
        self.c5 = nn.Conv2d(16, 120, 5)
        self.f6 = nn.Linear(120, 84)
        self.output = EuclideanRBF()
        self.squash = Squash()
        lecun_uniform_init_(self)

    def prepare_input(self, x: Any) -> odyssey.Tensor:
        """The paper's 32x32 input: (N, 1, 28, 28) or (N, 28, 28) digits in [0, 1], as odyssey's
        datasets give them, are padded and scaled by `scale_input`; (N, 1, 32, 32) is taken as
        already prepared."""
        shape = tuple(x.shape)
        if len(shape) == 4 and shape[1:] == (1, 32, 32):
            return x if isinstance(x, odyssey.Tensor) else odyssey.tensor(x)
        if len(shape) in (3, 4) and shape[-2:] == (28, 28) and (len(shape) == 3 or shape[1] == 1):
            return scale_input(x)
        raise ValueError(
            "LeNet5: input must be (N, 1, 28, 28) digits in [0, 1] or the prepared "
            f"(N, 1, 32, 32), got shape {shape}"
        )

    def class_scores(self, outputs: odyssey.Tensor) -> odyssey.Tensor:
        """Scores, higher for a likelier class, of the network's outputs (penalties, lower is
        better): their negation, so argmax of the scores is argmin of the penalties and their
        softmax is the posterior e^{-y_i} / Σ e^{-y} of the MAP criterion without its j term."""
        return -outputs

    def forward(self, x: Any) -> odyssey.Tensor:
        f = self.squash
        x = self.prepare_input(x)
        x = f(self.s2(f(self.c1(x))))
        x = f(self.s4(f(self.c3(x))))
        # C5's 5x5 kernels cover the whole 5x5 S4 map: the convolution is the matrix product of
        # the flattened map and the flattened kernels, which runs 10x faster (2.6 ms against
        # 0.27 ms forward and backward at batch 64, measured) and gives the same sums.
        c5 = self.c5
        x = f(F.linear(x.flatten(1), c5.weight.reshape(c5.out_channels, -1), c5.bias))
        return self.output(f(self.f6(x)))


class LeNet5Modern(nn.Module):
    """LeNet-5 as most people run it today, the layout of PyTorch's usual LeNet twin (d2l.ai's,
    among others): a 28x28 digit, padded by 2 in C1 (so C1 still sees 32x32) → C1 6@28x28 →
    2x2 max-pool → C3 16@10x10 (full connections) → 2x2 max-pool → F5 120 → F6 84 → 10 logits,
    ReLU after every layer but the output; trained with softmax cross-entropy (the Classifier's
    default loss). Initialisation is PyTorch's default, which odyssey's Conv2d and Linear use:
    kaiming_uniform_(a=sqrt(5)) weights and U(±1/sqrt(fan_in)) biases. 61,706 parameters."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5, padding=2)
        # ReLU then 2x2 max-pool as one layer, one kernel pass each way (no parameters: the
        # state_dict keys are those of the convolutions and linear layers only).
        self.s2 = nn.ReLUMaxPool2d(2)
        self.c3 = nn.Conv2d(6, 16, 5)
        self.s4 = nn.ReLUMaxPool2d(2)
        self.f5 = nn.Linear(16 * 5 * 5, 120)
        self.f6 = nn.Linear(120, 84)
        self.output = nn.Linear(84, num_classes)

    def forward(self, x: odyssey.Tensor) -> odyssey.Tensor:
        x = self.s2(self.c1(x))
        x = self.s4(self.c3(x)).flatten(1)
        x = F.relu(self.f5(x))
        return self.output(F.relu(self.f6(x)))
