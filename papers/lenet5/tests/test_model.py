"""Fast tests of the faithful LeNet-5's building blocks and assembly (papers/lenet5/model.py).

The default `pytest` run collects these through tests/test_paper_lenet5.py (pyproject's testpaths
is tests/); the `gradcheck` fixture comes from tests/conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import odyssey
from odyssey import nn, optim
from odyssey.data import load_dataset
from odyssey.papers import load_model_module

M = load_model_module(Path(__file__).resolve().parents[1])

# Table I of the paper as printed: row i is S2 map i, column j is C3 map j, X = connected.
TABLE_I = """
X . . . X X X . . X X X X . X X
X X . . . X X X . . X X X X . X
X X X . . . X X X . . X . X X X
. X X X . . X X X X . . X . X X
. . X X X . . X X X X . X X . X
. . . X X X . . X X X X . X X X
"""


def table_i() -> np.ndarray:
    """(16, 6) bool: [j, i] is true when S2 map i feeds C3 map j."""
    rows = [line.split() for line in TABLE_I.strip().splitlines()]
    return np.array([[c == "X" for c in row] for row in rows]).T


def conv64(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """float64 NCHW cross-correlation, stride 1, no padding."""
    k = w.shape[-1]
    windows = sliding_window_view(x, (k, k), axis=(2, 3))
    out = np.einsum("nihwab,oiab->nohw", windows, w)
    return out if b is None else out + b.reshape(1, -1, 1, 1)


def use(module: nn.Module, **tensors: odyssey.Tensor) -> None:
    """Puts plain tensors where `module`'s parameters are, so that gradcheck's leaves are the
    ones the module's forward uses (bypassing parameter registration, for tests only)."""
    for name, value in tensors.items():
        object.__setattr__(module, name, value)


# -- parameters, shapes --------------------------------------------------------------------------


def test_trainable_parameter_counts_per_layer_and_total():
    model = M.LeNet5()
    counts = {
        name: sum(p.numel() for p in getattr(model, name).parameters())
        for name in ("c1", "s2", "c3", "s4", "c5", "f6", "output")
    }
    assert counts == {
        "c1": 156,
        "s2": 12,
        "c3": 1516,
        "s4": 32,
        "c5": 48120,
        "f6": 10164,
        "output": 0,
    }
    assert sum(p.numel() for p in model.parameters()) == 60000
    assert [name for name, _ in model.named_buffers()] == ["output.weight"]


def test_output_is_ten_penalties_per_image():
    odyssey.manual_seed(0)
    model = M.LeNet5()
    x = M.scale_input(np.random.default_rng(0).random((3, 28, 28)))
    assert x.shape == (3, 1, 32, 32)
    y = model(x)
    assert y.shape == (3, 10)
    assert np.all(y.detach().numpy() >= 0)  # squared distances


def test_squash_is_scaled_tanh(gradcheck):
    a = np.random.default_rng(1).uniform(-4, 4, (5, 7))
    gradcheck(M.Squash(), lambda a: 1.7159 * np.tanh(2 * a / 3), [a])
    np.testing.assert_allclose(
        M.Squash()(odyssey.tensor([1.0, -1.0])).numpy(), [1.0, -1.0], atol=1e-4
    )


# -- C3 ------------------------------------------------------------------------------------------


def test_c3_table_is_table_i():
    expected = table_i()
    layer = M.PartialConv2d()
    assert [tuple(np.flatnonzero(row)) for row in expected] == list(layer.table)
    assert [len(t) for t in layer.table] == [3] * 6 + [4] * 9 + [6]
    for j in range(6):  # three contiguous maps, cyclically
        assert set(layer.table[j]) == {j % 6, (j + 1) % 6, (j + 2) % 6}
    for j in range(6, 12):  # four contiguous maps, cyclically
        assert set(layer.table[j]) == {(j + d) % 6 for d in range(4)}
    odyssey.manual_seed(0)
    M.lecun_uniform_init_(layer)
    dense = layer.dense_weight().detach().numpy()
    assert np.all((np.abs(dense).sum(axis=(2, 3)) > 0) == expected)


def test_partial_conv_is_a_full_conv_with_the_missing_weights_zeroed(gradcheck):
    layer = M.PartialConv2d()
    connected = table_i()
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 6, 7, 7))
    w = rng.uniform(-0.3, 0.3, (60, 5, 5))
    b = rng.uniform(-0.3, 0.3, 16)

    def reference(x, w, b):
        dense = np.zeros((16, 6, 5, 5))
        dense[connected] = w  # boolean indexing walks (j, i) row-major: the packed order
        return conv64(x, dense, b)

    def function(x, w, b):
        use(layer, weight=w, bias=b)
        return layer(x)

    gradcheck(function, reference, [x, w, b])


def test_grouped_c3_equals_masked_c3():
    odyssey.manual_seed(0)
    layer = M.lecun_uniform_init_(M.PartialConv2d())
    x = odyssey.tensor(np.random.default_rng(3).standard_normal((3, 6, 14, 14)))
    np.testing.assert_allclose(
        layer._forward_grouped(x).detach().numpy(), layer(x).detach().numpy(), rtol=1e-5, atol=1e-5
    )


# -- S2/S4, RBF ----------------------------------------------------------------------------------


def test_subsampling_sums_each_cell_times_a_coefficient_plus_a_bias(gradcheck):
    layer = M.Subsampling(3)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 6, 4))
    coefficient = rng.uniform(-1, 1, 3)
    bias = rng.uniform(-1, 1, 3)

    def reference(x, coefficient, bias):
        sums = x.reshape(2, 3, 3, 2, 2, 2).sum(axis=(3, 5))
        return sums * coefficient.reshape(1, 3, 1, 1) + bias.reshape(1, 3, 1, 1)

    def function(x, coefficient, bias):
        use(layer, weight=coefficient, bias=bias)
        return layer(x)

    gradcheck(function, reference, [x, coefficient, bias])


def test_bitmaps_are_distinct_plus_minus_one_7x12_digits():
    bitmaps = M.digit_bitmaps()
    assert bitmaps.shape == (10, 84) == (10, 7 * 12)
    assert set(np.unique(bitmaps)) == {-1.0, 1.0}
    hamming = (bitmaps[:, None] != bitmaps[None]).sum(axis=2)
    assert hamming[~np.eye(10, dtype=bool)].min() >= 10  # every pair far apart
    # the squared distance between two bitmaps (4 x Hamming) is above the MAP loss's j
    assert 4 * hamming[~np.eye(10, dtype=bool)].min() > M.MAP_J
    rbf = M.EuclideanRBF()
    assert list(rbf.parameters()) == []
    np.testing.assert_array_equal(rbf.weight.numpy(), bitmaps)


def test_rbf_outputs_are_squared_distances_to_the_bitmaps(gradcheck):
    bitmaps = M.digit_bitmaps().astype(np.float64)
    x = np.random.default_rng(5).uniform(-1.7, 1.7, (3, 84))
    rbf = M.EuclideanRBF()
    gradcheck(rbf, lambda x: ((x[:, None, :] - bitmaps[None]) ** 2).sum(axis=2), [x])
    # each bitmap is at distance 0 from itself
    own = rbf(odyssey.tensor(M.digit_bitmaps())).numpy()
    np.testing.assert_allclose(np.diag(own), 0, atol=1e-3)
    # a loaded state dict's prototypes are the ones used
    other = -M.digit_bitmaps()
    rbf.load_state_dict({"weight": other})
    np.testing.assert_allclose(np.diag(rbf(odyssey.tensor(other)).numpy()), 0, atol=1e-3)


# -- the MAP loss --------------------------------------------------------------------------------


def map_reference(y: np.ndarray, labels: np.ndarray, j: float) -> np.ndarray:
    correct = y[np.arange(len(labels)), labels]
    return np.mean(correct + np.log(np.exp(-j) + np.exp(-y).sum(axis=1)))


def test_map_loss_against_float64_reference_and_finite_differences(gradcheck):
    rng = np.random.default_rng(6)
    labels = rng.integers(0, 10, 4)
    y = rng.uniform(0, 15, (4, 10))  # near j: both terms of the competition matter
    for j in (M.MAP_J, 3.0):
        gradcheck(
            lambda y, j=j: M.map_loss(y, labels, j=j),
            lambda y, j=j: map_reference(y, labels, j),
            [y],
            rtol=1e-4,
            atol=1e-4,
        )


def test_map_loss_is_finite_for_large_and_tiny_penalties():
    labels = np.array([0, 1])
    for scale in (1e-3, 1e3):
        y = odyssey.tensor(np.random.default_rng(7).uniform(0, 1, (2, 10)) * scale)
        loss = M.map_loss(y, labels)
        expected = map_reference(y.numpy().astype(np.float64), labels, M.MAP_J)
        assert np.isfinite(loss.item())
        np.testing.assert_allclose(loss.item(), expected, rtol=1e-5)


# -- initialisation and input --------------------------------------------------------------------


def test_initial_weights_are_within_2_4_over_fan_in():
    odyssey.manual_seed(0)
    model = M.LeNet5()
    for layer, fan_in in ((model.c1, 25), (model.s2, 4), (model.s4, 4), (model.c5, 400)):
        for p in (layer.weight, layer.bias):
            values = np.abs(p.detach().numpy())
            assert values.max() <= 2.4 / fan_in
            assert values.max() > 0.5 * 2.4 / fan_in  # drawn over the range, not all tiny
    assert np.abs(model.f6.weight.detach().numpy()).max() <= 2.4 / 120
    assert np.abs(model.f6.weight.detach().numpy()).max() > 0.9 * 2.4 / 120
    c3 = model.c3
    rows = np.split(np.abs(c3.weight.detach().numpy()), np.cumsum([len(t) for t in c3.table])[:-1])
    for o, inputs in enumerate(c3.table):
        bound = 2.4 / (25 * len(inputs))
        assert rows[o].max() <= bound
        assert rows[o].max() > 0.5 * bound
        assert abs(c3.bias.detach().numpy()[o]) <= bound


def test_scale_input_pads_by_two_with_background_and_ink_values():
    images = np.zeros((2, 28, 28), dtype=np.float32)
    images[1] = 1.0
    x = M.scale_input(images).numpy()
    assert x.shape == (2, 1, 32, 32)
    np.testing.assert_allclose(x[0], -0.1, atol=1e-6)
    np.testing.assert_allclose(x[1, 0, 2:30, 2:30], 1.175, atol=1e-6)
    border = np.ones((32, 32), dtype=bool)
    border[2:30, 2:30] = False
    np.testing.assert_allclose(x[1, 0][border], -0.1, atol=1e-6)
    # (N, 1, 28, 28) gives the same
    np.testing.assert_array_equal(M.scale_input(images[:, None]).numpy(), x)


# -- training ------------------------------------------------------------------------------------


def test_a_few_sgd_steps_on_mnist_sample_lower_the_map_loss():
    odyssey.manual_seed(0)
    data = load_dataset("mnist-sample", "train", download=False)
    x = M.scale_input(data.images[:64].astype(np.float32) / 255.0)
    labels = data.labels[:64]
    model = M.LeNet5()
    optimizer = optim.SGD(model.parameters(), lr=0.005)
    losses = []
    for _ in range(8):
        optimizer.zero_grad()
        loss = M.map_loss(model(x), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert np.all(np.isfinite(losses))
    assert losses[-1] < 0.75 * losses[0], losses
