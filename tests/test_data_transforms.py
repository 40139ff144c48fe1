"""Augmentations against NumPy/SciPy references, their draws against Philox, and their
determinism across ISAs, thread counts and batch splits."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import odyssey
from odyssey import _kernels
from odyssey.data import ArrayDataset, DataLoader
from odyssey.data.keys import SampleKeys
from odyssey.data.transforms import (
    Compose,
    ElasticDistortion,
    Normalize,
    Pad,
    RandomAffine,
    RandomCrop,
    RandomErasing,
)

SEED, EPOCH = 12345678901234, 3


def batch(n: int, c: int = 1, h: int = 28, w: int = 28, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, c, h, w), dtype=np.float32)


def keys_for(indices: list[int] | np.ndarray, seed: int = SEED, epoch: int = EPOCH) -> SampleKeys:
    return SampleKeys(seed, epoch, np.asarray(indices, dtype=np.int64))


def words(keys: SampleKeys, index: int, stream: int, block: int) -> tuple[int, ...]:
    """A sample's Philox block: key (seed low, seed high), counter (block, stream, index, epoch)."""
    key = (keys.seed & 0xFFFFFFFF, keys.seed >> 32)
    return _kernels.philox4x32(key, (block, stream, index, keys.epoch))


def unit(bits: int) -> float:
    return (bits >> 8) / 2.0**24


def bilinear_reference(
    images: np.ndarray, sx: np.ndarray, sy: np.ndarray, fill: float
) -> np.ndarray:
    """Bilinear sampling of every (N, C, H, W) image at its own (N, H, W) points, in float64;
    neighbours outside the image read `fill`."""
    n, c, h, w = images.shape
    x0, y0 = np.floor(sx), np.floor(sy)
    fx, fy = (sx - x0)[:, None], (sy - y0)[:, None]
    padded = np.full((n, c, h + 2, w + 2), fill, dtype=np.float64)
    padded[:, :, 1:-1, 1:-1] = images

    def at(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        yy = np.clip(yy, -1, h).astype(np.int64) + 1
        xx = np.clip(xx, -1, w).astype(np.int64) + 1
        batch_index = np.arange(n)[:, None, None]
        return np.stack([padded[batch_index, ch, yy, xx] for ch in range(c)], axis=1)

    top = at(y0, x0) * (1 - fx) + at(y0, x0 + 1) * fx
    bottom = at(y0 + 1, x0) * (1 - fx) + at(y0 + 1, x0 + 1) * fx
    return top * (1 - fy) + bottom * fy


def affine_reference(images: np.ndarray, inverse: np.ndarray, fill: float) -> np.ndarray:
    _, _, h, w = images.shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    m = inverse.astype(np.float64)
    sx = m[:, 0, 0, None, None] * x + m[:, 0, 1, None, None] * y + m[:, 0, 2, None, None]
    sy = m[:, 1, 0, None, None] * x + m[:, 1, 1, None, None] * y + m[:, 1, 2, None, None]
    return bilinear_reference(images, sx, sy, fill)


def random_maps(n: int, h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    maps = np.zeros((n, 2, 3), dtype=np.float32)
    linear = np.eye(2) + rng.uniform(-0.4, 0.4, (n, 2, 2))
    maps[:, :, :2] = linear
    maps[:, 0, 2] = rng.uniform(-0.3 * w, 0.3 * w, n)
    maps[:, 1, 2] = rng.uniform(-0.3 * h, 0.3 * h, n)
    return maps


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n=st.integers(1, 5),
    c=st.integers(1, 3),
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    seed=st.integers(0, 1000),
)
def test_affine_warp_matches_numpy(isa: str, n: int, c: int, h: int, w: int, seed: int) -> None:
    images = batch(n, c, h, w, seed)
    maps = random_maps(n, h, w, seed)
    got = _kernels.affine_warp(images, maps, fill=0.5)
    np.testing.assert_allclose(got, affine_reference(images, maps, 0.5), rtol=1e-5, atol=1e-5)


def test_affine_warp_agrees_with_scipy_grid_constant(isa: str) -> None:
    ndimage = pytest.importorskip("scipy.ndimage")
    images = batch(6, 1, 28, 28)
    maps = random_maps(6, 28, 28, 1)
    got = _kernels.affine_warp(images, maps, fill=0.0)
    for i in range(6):
        m = maps[i].astype(np.float64)
        # scipy works in (row, column): input (y, x) = matrix @ output (y, x) + offset.
        matrix = np.array([[m[1, 1], m[1, 0]], [m[0, 1], m[0, 0]]])
        offset = np.array([m[1, 2], m[0, 2]])
        want = ndimage.affine_transform(
            images[i, 0].astype(np.float64), matrix, offset, order=1, mode="grid-constant", cval=0.0
        )
        np.testing.assert_allclose(got[i, 0], want, atol=1e-5)


def affine_matrix_reference(
    keys: SampleKeys, index: int, stream: int, t: RandomAffine, h: int, w: int
) -> np.ndarray:
    """RandomAffine's documented map, rebuilt in float64 from the sample's Philox words."""
    first, second = words(keys, index, stream, 0), words(keys, index, stream, 1)

    def draw(bits: int, r: tuple[float, float]) -> float:
        return r[0] + (r[1] - r[0]) * unit(bits)

    angle = math.radians(draw(first[0], t.degrees))
    scale = draw(first[1], t.scale)
    squeeze = draw(first[2], t.squeeze)
    shx = math.tan(math.radians(draw(first[3], t.shear_x)))
    shy = math.tan(math.radians(draw(second[0], t.shear_y)))
    tx = draw(second[1], (-t.translate[0] * w, t.translate[0] * w))
    ty = draw(second[2], (-t.translate[1] * h, t.translate[1] * h))
    mirror = -1.0 if unit(second[3]) < t.hflip else 1.0
    rotation = np.array([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])
    shear = np.array([[1, shx], [0, 1]]) @ np.array([[1, 0], [shy, 1]])
    forward = rotation @ shear @ np.diag([scale * squeeze, scale / squeeze]) @ np.diag([mirror, 1])
    inverse = np.linalg.inv(forward)
    centre = np.array([(w - 1) / 2, (h - 1) / 2])
    offset = centre - inverse @ (centre + np.array([tx, ty]))
    return np.concatenate([inverse, offset[:, None]], axis=1)


def test_random_affine_matrices_follow_the_documented_draws() -> None:
    t = RandomAffine(20, translate=(0.1, 0.2), scale=(0.8, 1.2), shear=(-5, 5, -8, 8), squeeze=0.15)
    keys = keys_for([0, 1, 7, 4000, 2**32 - 1])
    got = t.matrices(keys, 28, 32)
    for i, index in enumerate(keys.indices):
        want = affine_matrix_reference(keys, int(index), t.stream, t, 28, 32)
        np.testing.assert_allclose(got[i], want, rtol=1e-5, atol=1e-4)


def test_random_affine_hflip_follows_the_documented_draws() -> None:
    t = RandomAffine(
        20, translate=(0.1, 0.2), scale=(0.8, 1.2), shear=(-5, 5, -8, 8), squeeze=0.15, hflip=0.3
    )
    keys = keys_for([*range(200), 4000, 2**32 - 1])
    got = t.matrices(keys, 28, 32)
    mirrored = 0
    for i, index in enumerate(keys.indices):
        want = affine_matrix_reference(keys, int(index), t.stream, t, 28, 32)
        np.testing.assert_allclose(got[i], want, rtol=1e-5, atol=1e-4)
        mirrored += np.linalg.det(want[:, :2]) < 0  # a mirror reverses the orientation
    assert 40 <= mirrored <= 80  # about 30 % of 202


def test_hflip_leaves_the_other_draws_as_they_were() -> None:
    # Maps drawn by the build before hflip existed (papers.AUGMENT_DEFAULTS, seed 7, epoch 3,
    # images 0, 1, 59999): runs made then are reproduced bit for bit.
    before = [
        [[1.1089645624160767, 0.04597709700465202, -1.8462755680084229],
         [0.0, 0.9838045239448547, 1.2018687725067139]],
        [[0.8738522529602051, 0.06849069148302078, 2.461319923400879],
         [0.0, 0.9537039995193481, 0.6295897364616394]],
        [[1.0860613584518433, -0.08994539082050323, -1.6424791812896729],
         [0.0, 1.10370671749115, -3.3774755001068115]],
    ]  # fmt: skip
    defaults = {"translate": (0.08, 0.08), "scale": (0.9, 1.1), "squeeze": 0.1, "shear": 10.0}
    keys = SampleKeys(7, 3, [0, 1, 59999])
    plain = RandomAffine(0, **defaults).matrices(keys, 28, 28)
    np.testing.assert_array_equal(plain, np.array(before, dtype=np.float32))
    # With flips, the samples left unmirrored keep their maps bit for bit, and a mirrored one
    # is its unmirrored map after x -> (W - 1) - x.
    keys = keys_for(np.arange(300))
    plain = RandomAffine(0, **defaults).matrices(keys, 28, 30)
    flipped = RandomAffine(0, **defaults, hflip=0.5).matrices(keys, 28, 30)
    mirrored = np.linalg.det(flipped[:, :, :2].astype(np.float64)) < 0
    assert 100 < mirrored.sum() < 200
    np.testing.assert_array_equal(flipped[~mirrored], plain[~mirrored])
    mirror = np.array([[-1.0, 0.0, 29.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    full = np.concatenate([plain, np.broadcast_to([[[0.0, 0.0, 1.0]]], (300, 1, 3))], axis=1)
    np.testing.assert_allclose(flipped[mirrored], (mirror @ full)[mirrored, :2], atol=1e-5)


def test_hflip_one_mirrors_every_image_exactly(isa: str) -> None:
    images = batch(6, 2, 11, 14)
    got = RandomAffine(0, hflip=1.0, fill=-3)(images, keys_for(range(6)))
    np.testing.assert_array_equal(got, images[..., ::-1])
    np.testing.assert_array_equal(RandomAffine(0, hflip=0.0)(images, keys_for(range(6))), images)


def test_random_affine_is_the_warp_of_its_matrices(isa: str) -> None:
    t = RandomAffine(
        15, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=10, squeeze=0.1, hflip=0.5, fill=-1
    )
    images = batch(40, 2, 20, 24)
    keys = keys_for(np.arange(100, 140))
    want = _kernels.affine_warp(images, t.matrices(keys, 20, 24), fill=-1.0)
    np.testing.assert_array_equal(t(images, keys), want)


def test_identity_affine_returns_the_images() -> None:
    images = batch(5, 3, 13, 17)
    np.testing.assert_array_equal(RandomAffine(0)(images, keys_for(range(5))), images)


def test_parameter_ranges() -> None:
    keys = keys_for(np.arange(500))
    rotation = RandomAffine((30, 30)).matrices(keys, 28, 28)
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    np.testing.assert_allclose(
        rotation[:, :, :2], np.broadcast_to([[c, -s], [s, c]], (500, 2, 2)), atol=1e-6
    )
    # A pure translation's inverse offsets lie within the translate range and use most of it.
    shifts = RandomAffine(0, translate=(0.1, 0.25)).matrices(keys, 28, 40)
    assert np.all(np.abs(shifts[:, 0, 2]) <= 0.1 * 40 + 1e-5)
    assert np.all(np.abs(shifts[:, 1, 2]) <= 0.25 * 28 + 1e-5)
    assert np.abs(shifts[:, 0, 2]).max() > 0.9 * 0.1 * 40
    # Scale s maps output to input through 1/s; squeeze scales x by q and y by 1/q.
    scale = RandomAffine(0, scale=(0.5, 2.0)).matrices(keys, 28, 28)
    assert np.all((scale[:, 0, 0] >= 0.5 - 1e-6) & (scale[:, 0, 0] <= 2.0 + 1e-6))
    np.testing.assert_allclose(scale[:, 0, 0], scale[:, 1, 1])
    squeeze = RandomAffine(0, squeeze=0.2).matrices(keys, 28, 28)
    np.testing.assert_allclose(squeeze[:, 0, 0] * squeeze[:, 1, 1], 1.0, rtol=1e-6)
    assert np.all((1 / squeeze[:, 0, 0] >= 0.8 - 1e-6) & (1 / squeeze[:, 0, 0] <= 1.2 + 1e-6))


RANDOM_TRANSFORMS = {
    "affine": RandomAffine(20, translate=(0.1, 0.1), scale=(0.85, 1.15), shear=8, squeeze=0.1),
    "affine_hflip": RandomAffine(0, translate=(0.05, 0.05), hflip=0.5),
    "elastic": ElasticDistortion(34, 4),
    "crop": RandomCrop(28, padding=3),
    "erasing": RandomErasing(p=0.7, value=(0.25,)),
}


@pytest.mark.parametrize("name", RANDOM_TRANSFORMS)
def test_deterministic_across_threads_and_batch_splits(isa: str, threads: None, name: str) -> None:
    t = RANDOM_TRANSFORMS[name]
    images = batch(64)
    indices = np.random.default_rng(1).permutation(1000)[:64]
    odyssey.set_num_threads(1)
    whole = t(images, keys_for(indices))
    odyssey.set_num_threads(2)
    np.testing.assert_array_equal(t(images, keys_for(indices)), whole)
    # The same index in other batches, at other positions: the same distortion.
    order = np.random.default_rng(2).permutation(64)
    first, second = order[:23], order[23:]
    part = t(np.ascontiguousarray(images[first]), keys_for(indices[first]))
    np.testing.assert_array_equal(part, whole[first])
    part = t(np.ascontiguousarray(images[second]), keys_for(indices[second]))
    np.testing.assert_array_equal(part, whole[second])


@pytest.mark.parametrize("name", RANDOM_TRANSFORMS)
def test_seed_epoch_and_stream_change_the_draws(name: str) -> None:
    t = RANDOM_TRANSFORMS[name]
    images = batch(32)
    base = t(images, keys_for(range(32)))
    assert not np.array_equal(base, t(images, keys_for(range(32), seed=SEED + 1)))
    assert not np.array_equal(base, t(images, keys_for(range(32), epoch=EPOCH + 1)))
    other = type(t).__new__(type(t))
    other.__dict__.update(t.__dict__, stream=t.stream + 100)
    assert not np.array_equal(base, other(images, keys_for(range(32))))


def test_same_results_on_every_isa() -> None:
    images = batch(16, 2, 19, 23)
    keys = keys_for(range(16))
    results = {}
    previous = odyssey.cpu_info()["isa_selected"]
    try:
        for name in odyssey.cpu_info()["isa_available"]:
            odyssey.set_isa(name)
            results[name] = [
                t(images, keys) for t in RANDOM_TRANSFORMS.values() if not isinstance(t, RandomCrop)
            ]
    finally:
        odyssey.set_isa(previous)
    for outputs in results.values():
        for got, want in zip(outputs, results["scalar"], strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def gaussian_reference(field: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian of std sigma over the last two axes, truncated at ceil(3 sigma) and
    normalised, zeros outside, in float64."""
    radius = math.ceil(3 * sigma)
    offsets = np.arange(-radius, radius + 1)
    taps = np.exp(-0.5 * (offsets / sigma) ** 2)
    taps /= taps.sum()
    for axis in (-1, -2):
        moved = np.moveaxis(field, axis, -1)
        padded = np.pad(moved, [(0, 0)] * (moved.ndim - 1) + [(radius, radius)])
        n = moved.shape[-1]
        moved = sum(t * padded[..., k : k + n] for k, t in enumerate(taps))
        field = np.moveaxis(moved, -1, axis)
    return field


def test_gaussian_reference_agrees_with_scipy() -> None:
    ndimage = pytest.importorskip("scipy.ndimage")
    field = np.random.default_rng(0).uniform(-1, 1, (2, 15, 11))
    radius = math.ceil(3 * 1.7)
    want = field
    for axis in (-1, -2):
        want = ndimage.gaussian_filter1d(
            want, 1.7, axis=axis, mode="constant", truncate=radius / 1.7
        )
    np.testing.assert_allclose(gaussian_reference(field, 1.7), want, atol=1e-12)


@pytest.mark.parametrize(("alpha", "sigma", "h", "w"), [(34.0, 4.0, 28, 28), (8.0, 1.3, 9, 21)])
def test_elastic_displacements_match_the_paper_recipe(
    isa: str, alpha: float, sigma: float, h: int, w: int
) -> None:
    t = ElasticDistortion(alpha, sigma)
    keys = keys_for([3, 99])
    got = t.displacements(keys, h, w)
    for i, index in enumerate(keys.indices):
        count = 2 * h * w
        bits = [
            b for block in range((count + 3) // 4) for b in words(keys, int(index), t.stream, block)
        ]
        uniform = np.array([2 * unit(b) - 1 for b in bits[:count]]).reshape(2, h, w)
        np.testing.assert_allclose(
            got[i], alpha * gaussian_reference(uniform, sigma), rtol=1e-4, atol=1e-4
        )


def test_elastic_distortion_is_the_warp_of_its_displacements(isa: str) -> None:
    t = ElasticDistortion(34, 4, fill=0.25)
    images = batch(12, 2, 28, 28)
    keys = keys_for(range(50, 62))
    displacements = t.displacements(keys, 28, 28)
    want = _kernels.displacement_warp(images, displacements, fill=0.25)
    np.testing.assert_array_equal(t(images, keys), want)
    y, x = np.mgrid[0:28, 0:28]
    reference = bilinear_reference(images, x + displacements[:, 0], y + displacements[:, 1], 0.25)
    np.testing.assert_allclose(want, reference, rtol=1e-5, atol=1e-5)


def test_random_crop_offsets_follow_the_draws() -> None:
    t = RandomCrop((20, 24), padding=(1, 2, 3, 4))
    images = batch(10, 2, 28, 28)
    keys = keys_for(range(10))
    got = t(images, keys)
    padded = np.pad(images, ((0, 0), (0, 0), (2, 4), (1, 3)))
    max_top, max_left = 28 + 6 - 20, 28 + 4 - 24
    for i in range(10):
        w0, w1, _, _ = words(keys, i, t.stream, 0)
        top, left = (w0 * (max_top + 1)) >> 32, (w1 * (max_left + 1)) >> 32
        np.testing.assert_array_equal(got[i], padded[i, :, top : top + 20, left : left + 24])


def test_pad_and_normalize_match_numpy() -> None:
    images = batch(3, 3, 7, 9)
    keys = keys_for(range(3))
    want = np.pad(images, ((0, 0), (0, 0), (2, 4), (1, 3)), constant_values=0.5)
    np.testing.assert_array_equal(Pad((1, 2, 3, 4), fill=0.5)(images, keys), want)
    np.testing.assert_array_equal(
        Pad((1, 2))(images, keys), np.pad(images, ((0, 0), (0, 0), (2, 2), (1, 1)))
    )
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    want = (images - np.float32(mean)[:, None, None]) / np.float32(std)[:, None, None]
    np.testing.assert_array_equal(Normalize(mean, std)(images, keys), want)


def test_normalize_returns_at_once_on_an_empty_batch_of_many_channels() -> None:
    # Expanding one mean to 2**40 channels would not fit in memory; an empty batch needs none.
    empty = np.empty((0, 2**40, 1, 1), np.float32)
    assert Normalize(0.5, 0.2)(empty, keys_for([])).shape == empty.shape


def erase_reference(
    image: np.ndarray, keys: SampleKeys, index: int, t: RandomErasing
) -> np.ndarray:
    """torchvision's RandomErasing with the sample's Philox words as its random numbers."""
    out = image.copy()
    if not unit(words(keys, index, t.stream, 0)[0]) < t.p:
        return out
    _, h, w = image.shape
    log_ratio = (math.log(t.ratio[0]), math.log(t.ratio[1]))
    for attempt in range(10):
        b = words(keys, index, t.stream, 1 + attempt)
        area = h * w * (t.scale[0] + (t.scale[1] - t.scale[0]) * unit(b[0]))
        aspect = math.exp(log_ratio[0] + (log_ratio[1] - log_ratio[0]) * unit(b[1]))
        eh, ew = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
        if not (eh < h and ew < w):
            continue
        top, left = (b[2] * (h - eh + 1)) >> 32, (b[3] * (w - ew + 1)) >> 32
        for c in range(image.shape[0]):
            out[c, top : top + eh, left : left + ew] = t.value[c % len(t.value)]
        return out
    return out


def test_random_erasing_matches_torchvision_algorithm() -> None:
    t = RandomErasing(p=0.6, scale=(0.05, 0.5), ratio=(0.2, 4.0), value=(1.0, 2.0))
    images = batch(40, 2, 12, 15)
    keys = keys_for(range(40))
    got = t(images, keys)
    for i in range(40):
        np.testing.assert_array_equal(got[i], erase_reference(images[i], keys, i, t))
    erased = np.any(got != images, axis=(1, 2, 3))
    assert 10 < erased.sum() < 35
    np.testing.assert_array_equal(RandomErasing(p=0)(images, keys), images)


def test_compose_applies_in_order_and_rejects_shared_streams() -> None:
    images = batch(4)
    keys = keys_for(range(4))
    pad, crop = Pad(2), RandomCrop(28)
    np.testing.assert_array_equal(Compose([pad, crop])(images, keys), crop(pad(images, keys), keys))
    with pytest.raises(ValueError, match="stream"):
        Compose([RandomAffine(10), RandomAffine(5)])
    with pytest.raises(ValueError, match="stream"):
        Compose([RandomAffine(10), Compose([RandomAffine(5)])])
    Compose([RandomAffine(10), RandomAffine(5, stream=7)])
    with pytest.raises(TypeError):
        Compose([3])


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: Normalize(0.5, -1.0), ValueError, "std"),
        (lambda: Normalize(0.5, 0.0), ValueError, "std"),
        (lambda: RandomAffine(-5), ValueError, "degrees"),
        (lambda: RandomAffine((10, 5)), ValueError, "degrees"),
        (lambda: RandomAffine("10"), ValueError, "degrees"),
        (lambda: RandomAffine(0, translate=(0.1, 1.5)), ValueError, "translate"),
        (lambda: RandomAffine(0, scale=(0.0, 1.0)), ValueError, "scale"),
        (lambda: RandomAffine(0, shear=(0, 90)), ValueError, "shear"),
        (lambda: RandomAffine(0, shear=(1, 2, 3)), ValueError, "shear"),
        (lambda: RandomAffine(0, squeeze=1.0), ValueError, "squeeze"),
        (lambda: RandomAffine(0, fill=float("nan")), ValueError, "fill"),
        (lambda: RandomAffine(0, hflip=1.5), ValueError, "RandomAffine: hflip"),
        (lambda: RandomAffine(0, hflip=-0.1), ValueError, "RandomAffine: hflip"),
        (lambda: RandomAffine(0, hflip="0.5"), TypeError, "RandomAffine: hflip"),
        (lambda: RandomAffine(0, stream=-1), ValueError, "stream"),
        (lambda: ElasticDistortion(34, 0), ValueError, "sigma"),
        (lambda: ElasticDistortion(-1, 4), ValueError, "alpha"),
        (lambda: RandomErasing(p=1.5), ValueError, "p"),
        (lambda: RandomErasing(scale=(0.5, 0.1)), ValueError, "scale"),
        (lambda: RandomErasing(ratio=(0.0, 1.0)), ValueError, "ratio"),
        (lambda: RandomCrop(0), ValueError, "size"),
        (lambda: Pad(-1), ValueError, "padding"),
        (lambda: Pad((1, 2, 3)), ValueError, "padding"),
    ],
)
def test_bad_arguments(make, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        make()


def test_bad_batches() -> None:
    t = RandomAffine(10)
    keys = keys_for(range(4))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        t(np.zeros((4, 28, 28), np.float32), keys)
    with pytest.raises(TypeError, match="float32"):
        t(np.zeros((4, 1, 28, 28), np.float64), keys)
    with pytest.raises(TypeError, match="ndarray"):
        t([[0.0]], keys)
    with pytest.raises(ValueError, match="C-contiguous"):
        t(np.zeros((4, 1, 28, 56), np.float32)[..., ::2], keys)
    with pytest.raises(ValueError, match="3 sample keys for a batch of 4"):
        t(batch(4), keys_for(range(3)))
    with pytest.raises(TypeError, match="SampleKeys"):
        t(batch(4), np.arange(4))
    with pytest.raises(ValueError, match="larger than the padded image"):
        RandomCrop(30, padding=0)(batch(4), keys)
    with pytest.raises(ValueError, match="3 channels"):
        Normalize((0.1, 0.2), (1.0, 1.0))(batch(4, 3), keys)
    with pytest.raises(ValueError, match=r"indices must be in \[0, 2\*\*32\)"):
        t(batch(1), keys_for([2**32]))


def test_kernels_reject_bad_input_without_crashing() -> None:
    images = batch(2)
    indices = np.arange(2, dtype=np.int64)
    with pytest.raises(ValueError, match=r"\(N, 2, 3\)"):
        _kernels.affine_warp(images, np.zeros((2, 3, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(N, 2, H, W\)"):
        _kernels.displacement_warp(images, np.zeros((2, 2, 28, 27), np.float32))
    with pytest.raises(TypeError, match="int64"):
        _kernels.elastic_distortion(images, 0, 0, indices.astype(np.int32), 0, alpha=1, sigma=1)
    with pytest.raises(ValueError, match="sigma"):
        _kernels.elastic_distortion(images, 0, 0, indices, 0, alpha=1, sigma=float("inf"))
    with pytest.raises(ValueError, match="seed"):
        _kernels.random_crop(images, -1, 0, indices, 0, 28, 28, padding=(0, 0, 0, 0))
    with pytest.raises(ValueError, match="value"):
        _kernels.random_erasing(
            images, 0, 0, indices, 0, p=1, scale=(0.1, 0.2), ratio=(1, 1), value=[]
        )
    # Degenerate parameters give fill, not a crash.
    out = _kernels.random_affine(
        images, 0, 0, indices, 0, degrees=(0, 0), translate=(0, 0), scale=(0, 0),
        squeeze=(1, 1), shear_x=(0, 0), shear_y=(0, 0), fill=7.0,
    )  # fmt: skip
    assert np.all(np.isfinite(out))
    empty = _kernels.random_affine(
        np.zeros((0, 1, 28, 28), np.float32), 0, 0, np.zeros(0, np.int64), 0, degrees=(0, 0),
        translate=(0, 0), scale=(1, 1), squeeze=(1, 1), shear_x=(0, 0), shear_y=(0, 0),
    )  # fmt: skip
    assert empty.shape == (0, 1, 28, 28)


def test_loader_batches_with_augmentation_are_deterministic(threads: None) -> None:
    rng = np.random.default_rng(3)
    dataset = ArrayDataset(rng.integers(0, 256, (100, 28, 28), dtype=np.uint8), np.arange(100))
    transform = Compose([RandomAffine(15, translate=(0.1, 0.1)), ElasticDistortion(8, 3)])

    def epoch(prefetch: int, n_threads: int) -> list[np.ndarray]:
        odyssey.set_num_threads(n_threads)
        loader = DataLoader(
            dataset, 16, shuffle=True, seed=5, transform=transform, prefetch=prefetch
        )
        return [images for images, _ in loader]

    first = epoch(0, 1)
    for got, want in zip(epoch(3, 2), first, strict=True):
        np.testing.assert_array_equal(got, want)
