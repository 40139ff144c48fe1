"""Batched augmentations on float32 NCHW images, run by C++ kernels.

A transform is a callable ``t(images, keys) -> images``: ``images`` is a float32, C-contiguous
(N, C, H, W) batch and ``keys`` the batch's :class:`~odyssey.data.keys.SampleKeys`. A random
transform draws the parameters of image ``i`` from Philox4x32-10 keyed by (seed, epoch,
``keys.indices[i]``, its ``stream``), inside the kernel, so an image gets the same distortion
whatever batch it is in, whatever the thread count and whatever order the batches are made in.
Random transforms used together need different streams; each class has its own default.

Every option and argument is checked here, and errors name the transform (``RandomCrop: ...``);
the kernels check again only what keeps memory safe (shapes, channel counts, sizes).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from odyssey import _checks as check
from odyssey import _kernels
from odyssey.data.keys import SampleKeys

Batch = npt.NDArray[np.float32]
Transform = Callable[[Batch, SampleKeys], Batch]

__all__ = [
    "Compose",
    "ElasticDistortion",
    "Normalize",
    "Pad",
    "RandomAffine",
    "RandomCrop",
    "RandomErasing",
]


def _check_batch(images: Any, who: str) -> Batch:
    """The batch itself, or TypeError/ValueError saying what is wrong with it."""
    if not isinstance(images, np.ndarray):
        raise TypeError(f"{who}: expected a numpy.ndarray batch, got {type(images).__name__}")
    if images.dtype != np.float32:
        raise TypeError(f"{who}: expected float32 images, got {images.dtype} {images.shape}")
    if images.ndim != 4:
        raise ValueError(f"{who}: expected an (N, C, H, W) batch, got shape {images.shape}")
    if not (images.flags.c_contiguous and images.flags.aligned):
        raise ValueError(f"{who}: expected a C-contiguous, aligned batch; copy it with numpy.array")
    if images.shape[2] * images.shape[3] >= check.WINDOW_LIMIT:
        raise ValueError(
            f"{who}: images of {images.shape} are too large: height x width must stay below 2**31"
        )
    return images


def _check_keys(keys: Any, images: Batch, who: str) -> SampleKeys:
    """The batch's keys, one per image."""
    keys = _check_key_values(keys, who)
    if len(keys.indices) != len(images):
        raise ValueError(
            f"{who}: {len(keys.indices)} sample keys for a batch of {len(images)} images "
            f"{images.shape}"
        )
    return keys


def _check_key_values(keys: Any, who: str) -> SampleKeys:
    """The keys, which SampleKeys checked when it was made (every part in the range the Philox
    counter holds)."""
    if not isinstance(keys, SampleKeys):
        raise TypeError(f"{who}: keys must be a SampleKeys, got {type(keys).__name__}")
    return keys


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _finite_values(value: Any, who: str, name: str) -> tuple[float, ...]:
    """One finite number or a sequence of them, as a non-empty tuple."""
    if _is_number(value):
        return (check.finite(value, who, name),)
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{who}: {name} must be a number or a sequence of numbers, got {value!r}")
    if not value:
        raise ValueError(f"{who}: {name} needs at least one value")
    return tuple(check.finite(v, who, name) for v in value)


def _pair(value: Any, who: str, name: str) -> tuple[float, float]:
    """A (low, high) range from a 2-sequence of finite numbers with low <= high."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise ValueError(f"{who}: {name} must be a sequence (low, high), got {value!r}")
    low, high = (check.finite(v, who, name) for v in value)
    if low > high:
        raise ValueError(f"{who}: {name} must have low <= high, got {value!r}")
    return low, high


def _symmetric(value: Any, who: str, name: str) -> tuple[float, float]:
    """A number d >= 0 as (-d, d), or a (low, high) range."""
    if _is_number(value):
        d = check.finite(value, who, name)
        if d < 0:
            raise ValueError(f"{who}: {name} must be non-negative when a single number, got {d}")
        return -d, d
    return _pair(value, who, name)


def _padding(padding: Any, who: str) -> tuple[int, int, int, int]:
    """torchvision's padding: p for every side, (left/right, top/bottom) or (l, t, r, b)."""
    if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool):
        p = check.integer(padding, who, "padding", 0, check.WINDOW_LIMIT)
        return p, p, p, p
    if isinstance(padding, Sequence) and len(padding) in (2, 4):
        sides = [check.integer(p, who, "padding", 0, check.WINDOW_LIMIT) for p in padding]
        if len(sides) == 2:
            return sides[0], sides[1], sides[0], sides[1]
        return sides[0], sides[1], sides[2], sides[3]
    raise ValueError(f"{who}: padding must be an int or a sequence of 2 or 4 ints, got {padding!r}")


def _stream(stream: Any, default: int, who: str) -> int:
    if stream is None:
        return default
    if not 0 <= check.integer(stream, who, "stream") < 2**32:
        raise ValueError(f"{who}: stream must be in [0, 2**32), got {stream}")
    return int(stream)


def _per_channel(values: tuple[float, ...], channels: int, who: str, name: str) -> list[float]:
    if len(values) == 1:
        return list(values) * channels
    if len(values) != channels:
        raise ValueError(
            f"{who}: {name} has {len(values)} values but the images have {channels} channels"
        )
    return list(values)


def _draw_args(keys: SampleKeys, stream: int) -> tuple[int, int, np.ndarray, int]:
    return keys.seed, keys.epoch, keys.indices, stream


class Compose:
    """Applies transforms in order; their random streams must differ."""

    def __init__(self, transforms: Sequence[Transform]) -> None:
        self.transforms = list(transforms)
        seen: dict[int, str] = {}
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose: {t!r} is not callable")
            for stream in _streams_of(t):
                if stream in seen:
                    raise ValueError(
                        f"Compose: {type(t).__name__} and {seen[stream]} both draw from stream "
                        f"{stream}, so their distortions would be correlated; give one a stream="
                    )
                seen[stream] = type(t).__name__

    @property
    def streams(self) -> list[int]:
        """The random streams of the transforms it holds, nested Compose included, in order."""
        return [s for t in self.transforms for s in _streams_of(t)]

    def __call__(self, images: Batch, keys: SampleKeys) -> Batch:
        for t in self.transforms:
            images = t(images, keys)
        return images

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"


def _streams_of(transform: Any) -> list[int]:
    if isinstance(transform, Compose):
        return transform.streams
    stream = getattr(transform, "stream", None)
    return [stream] if isinstance(stream, int) else []


class Normalize:
    """(x - mean[c]) / std[c] per channel; a single value applies to every channel."""

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float]) -> None:
        self.mean = _finite_values(mean, "Normalize", "mean")
        self.std = _finite_values(std, "Normalize", "std")
        if any(s <= 0 for s in self.std):
            raise ValueError(f"Normalize: std must be positive, got {self.std}")

    def __call__(self, images: Batch, keys: SampleKeys) -> Batch:
        images = _check_batch(images, "Normalize")
        if images.size == 0:  # an empty batch may claim more channels than a list could hold
            return np.empty_like(images)
        channels = images.shape[1]
        mean = _per_channel(self.mean, channels, "Normalize", "mean")
        std = _per_channel(self.std, channels, "Normalize", "std")
        return _kernels.normalize(images, mean, std)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


class Pad:
    """Constant padding: an int for every side, (left/right, top/bottom) or (l, t, r, b)."""

    def __init__(self, padding: int | Sequence[int], fill: float = 0) -> None:
        self.padding = _padding(padding, "Pad")
        self.fill = check.finite(fill, "Pad", "fill")

    def __call__(self, images: Batch, keys: SampleKeys) -> Batch:
        images = _check_batch(images, "Pad")
        return _kernels.pad(images, *self.padding, fill=self.fill)

    def __repr__(self) -> str:
        return f"Pad(padding={self.padding}, fill={self.fill})"


class RandomCrop:
    """A size[0] x size[1] window at a per-sample uniform position in the (padded) image."""

    def __init__(
        self,
        size: int | Sequence[int],
        padding: int | Sequence[int] | None = None,
        fill: float = 0,
        stream: int | None = None,
    ) -> None:
        if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
            size = (size, size)
        if not isinstance(size, Sequence) or len(size) != 2:
            raise ValueError(f"RandomCrop: size must be an int or (height, width), got {size!r}")
        self.size = tuple(
            check.integer(s, "RandomCrop", "size", 0, check.WINDOW_LIMIT) for s in size
        )
        if 0 in self.size:
            raise ValueError(f"RandomCrop: size must be positive, got {self.size}")
        self.padding = _padding(0 if padding is None else padding, "RandomCrop")
        self.fill = check.finite(fill, "RandomCrop", "fill")
        self.stream = _stream(stream, 1, "RandomCrop")

    def __call__(self, images: Batch, keys: SampleKeys) -> Batch:
        images = _check_batch(images, "RandomCrop")
        keys = _check_keys(keys, images, "RandomCrop")
        left, top, right, bottom = self.padding
        padded = (images.shape[2] + top + bottom, images.shape[3] + left + right)
        if self.size[0] > padded[0] or self.size[1] > padded[1]:
            raise ValueError(
                f"RandomCrop: crop size {self.size} is larger than the padded image {padded} "
                f"(images {images.shape}, padding {self.padding})"
            )
        return _kernels.random_crop(
            images, *_draw_args(keys, self.stream), *self.size, padding=self.padding, fill=self.fill
        )

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding}, fill={self.fill})"


class RandomAffine:
    """Per-sample mirror, rotation, scale, squeeze, shear and translation about the image centre,
    sampled bilinearly with ``fill`` outside: the distortions LeCun et al. (1998) trained LeNet-5
    with, and the horizontal flip usual for natural images and clothes.

    degrees: d (uniform in [-d, d]) or (low, high); positive turns counter-clockwise on screen.
    translate: (a, b): shifts uniform in [-a W, a W] and [-b H, b H] pixels (not rounded).
    scale: (low, high). squeeze: q (s uniform in [1 - q, 1 + q]) or (low, high): x is scaled by
    s and y by 1 / s. shear: s (x shear in [-s, s] degrees), (low, high) for x, or
    (x low, x high, y low, y high). hflip: the probability in [0, 1] that a sample is mirrored
    (x about the centre) before the rest; the mirror is part of the same map, so no extra pass, and
    its draw leaves the others' unchanged.
    """

    def __init__(
        self,
        degrees: float | Sequence[float],
        translate: Sequence[float] | None = None,
        scale: Sequence[float] | None = None,
        shear: float | Sequence[float] | None = None,
        squeeze: float | Sequence[float] | None = None,
        hflip: float = 0.0,
        fill: float = 0,
        stream: int | None = None,
    ) -> None:
        who = "RandomAffine"
        self.degrees = _symmetric(degrees, who, "degrees")
        self.translate = (0.0, 0.0)
        if translate is not None:
            if (
                isinstance(translate, (str, bytes))
                or not isinstance(translate, Sequence)
                or len(translate) != 2
            ):
                raise ValueError(f"{who}: translate must be a sequence (a, b), got {translate!r}")
            self.translate = tuple(check.finite(t, who, "translate") for t in translate)
            if not all(0.0 <= t <= 1.0 for t in self.translate):
                raise ValueError(f"{who}: translate values must be in [0, 1], got {translate!r}")
        self.scale = (1.0, 1.0)
        if scale is not None:
            self.scale = _pair(scale, who, "scale")
            if self.scale[0] <= 0:
                raise ValueError(f"{who}: scale values must be positive, got {scale!r}")
        self.squeeze = (1.0, 1.0)
        if squeeze is not None:
            if _is_number(squeeze):
                q = check.finite(squeeze, who, "squeeze")
                if not 0.0 <= q < 1.0:
                    raise ValueError(
                        f"{who}: squeeze must be in [0, 1) when a single number, got {q}"
                    )
                self.squeeze = (1.0 - q, 1.0 + q)
            else:
                self.squeeze = _pair(squeeze, who, "squeeze")
                if self.squeeze[0] <= 0:
                    raise ValueError(f"{who}: squeeze values must be positive, got {squeeze!r}")
        self.shear_x = self.shear_y = (0.0, 0.0)
        if shear is not None:
            if _is_number(shear) or (isinstance(shear, Sequence) and len(shear) == 2):
                self.shear_x = _symmetric(shear, who, "shear")
            elif isinstance(shear, Sequence) and len(shear) == 4:
                self.shear_x = _pair(shear[:2], who, "shear")
                self.shear_y = _pair(shear[2:], who, "shear")
            else:
                raise ValueError(f"{who}: shear must be a number or 2 or 4 numbers, got {shear!r}")
            if not all(-90.0 < s < 90.0 for s in self.shear_x + self.shear_y):
                raise ValueError(f"{who}: shear angles must be in (-90, 90) degrees, got {shear!r}")
        self.hflip = check.probability(hflip, who, "hflip")
        self.fill = check.finite(fill, who, "fill")
        self.stream = _stream(stream, 2, who)

    def _ranges(self) -> dict[str, tuple[float, float]]:
        return {
            "degrees": self.degrees,
            "translate": self.translate,
            "scale": self.scale,
            "squeeze": self.squeeze,
            "shear_x": self.shear_x,
            "shear_y": self.shear_y,
        }

    def matrices(self, keys: SampleKeys, height: int, width: int) -> Batch:
        """The (N, 2, 3) inverse maps (output pixel -> input point) drawn for these keys."""
        keys = _check_key_values(keys, "RandomAffine.matrices")
        height = check.integer(height, "RandomAffine.matrices", "height", 0)
        width = check.integer(width, "RandomAffine.matrices", "width", 0)
        return _kernels.random_affine_matrices(
            *_draw_args(keys, self.stream), height, width, **self._ranges(), hflip=self.hflip
        )

    def __call__(self, images: Batch, keys: SampleKeys) -> Batch:
        images = _check_batch(images, "RandomAffine")
        keys = _check_keys(keys, images, "RandomAffine")
        return _kernels.random_affine(
            images,
            *_draw_args(keys, self.stream),
            **self._ranges(),
            hflip=self.hflip,
            fill=self.fill,
        )

    def __repr__(self) -> str:
        ranges = ", ".join(f"{k}={v}" for k, v in self._ranges().items())
        return f"RandomAffine({ranges}, hflip={self.hflip}, fill={self.fill})"


class ElasticDistortion:
    """Simard, Steinkraus and Platt (2003): displacement fields uniform in [-1, 1], smoothed by a
    Gaussian of std ``sigma`` (truncated at 3 sigma, zeros beyond the image), scaled by ``alpha``,
    then bilinear resampling with ``fill`` outside. The paper uses alpha 34, sigma 4 on MNIST."""

    def __init__(
        self, alpha: float, sigma: float, fill: float = 0, stream: int | None = None
    ) -> None:
        self.alpha = check.finite(alpha, "ElasticDistortion", "alpha")
        self.sigma = check.finite(sigma, "ElasticDistortion", "sigma")
        if self.alpha < 0:
            raise ValueError(f"ElasticDistortion: alpha must be non-negative, got {alpha}")
        if not 0 < self.sigma <= 1024:
            raise ValueError(f"ElasticDistortion: sigma must be in (0, 1024], got {sigma}")
        self.fill = check.finite(fill, "ElasticDistortion", "fill")
        self.stream = _stream(stream, 3, "ElasticDistortion")

    def displacements(self, keys: SampleKeys, height: int, width: int) -> Batch:
        """The (N, 2, H, W) fields (dx, dy) drawn for these keys."""
        keys = _check_key_values(keys, "ElasticDistortion.displacements")
        height = check.integer(height, "ElasticDistortion.displacements", "height", 0)
        width = check.integer(width, "ElasticDistortion.displacements", "width", 0)
        return _kernels.elastic_displacements(
            *_draw_args(keys, self.stream), height, width, alpha=self.alpha, sigma=self.sigma
        )

    def __call__(self, images: Batch, keys: SampleKeys) -> Batch:
        images = _check_batch(images, "ElasticDistortion")
        keys = _check_keys(keys, images, "ElasticDistortion")
        return _kernels.elastic_distortion(
            images,
            *_draw_args(keys, self.stream),
            alpha=self.alpha,
            sigma=self.sigma,
            fill=self.fill,
        )

    def __repr__(self) -> str:
        return f"ElasticDistortion(alpha={self.alpha}, sigma={self.sigma}, fill={self.fill})"


class RandomErasing:
    """torchvision's RandomErasing: with probability p, a box of area fraction in ``scale`` and
    aspect ratio log-uniform in ``ratio`` (10 tries to fit) is set to ``value`` (one number, or
    one per channel)."""

    def __init__(
        self,
        p: float = 0.5,
        scale: Sequence[float] = (0.02, 0.33),
        ratio: Sequence[float] = (0.3, 3.3),
        value: float | Sequence[float] = 0,
        stream: int | None = None,
    ) -> None:
        who = "RandomErasing"
        self.p = check.finite(p, who, "p")
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"{who}: p must be in [0, 1], got {p}")
        self.scale = _pair(scale, who, "scale")
        if self.scale[0] < 0.0 or self.scale[1] > 1.0:
            raise ValueError(f"{who}: scale must lie in [0, 1], got {scale!r}")
        self.ratio = _pair(ratio, who, "ratio")
        if self.ratio[0] <= 0:
            raise ValueError(f"{who}: ratio values must be positive, got {ratio!r}")
        self.value = _finite_values(value, who, "value")
        self.stream = _stream(stream, 4, who)

    def __call__(self, images: Batch, keys: SampleKeys) -> Batch:
        images = _check_batch(images, "RandomErasing")
        keys = _check_keys(keys, images, "RandomErasing")
        value = _per_channel(self.value, images.shape[1], "RandomErasing", "value")
        return _kernels.random_erasing(
            images,
            *_draw_args(keys, self.stream),
            p=self.p,
            scale=self.scale,
            ratio=self.ratio,
            value=value,
        )

    def __repr__(self) -> str:
        return (
            f"RandomErasing(p={self.p}, scale={self.scale}, ratio={self.ratio}, value={self.value})"
        )
