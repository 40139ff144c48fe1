"""The user's own images, read with Pillow and made to look like MNIST digits.

MNIST's digits (LeCun, Cortes and Burges) were size-normalised to fit a 20x20 box keeping their
aspect ratio, anti-aliased to grey levels, then centred in a 28x28 field by their centre of mass.
`load_digit` does the same to a PNG, JPEG or any image Pillow reads:

1. EXIF orientation applied (a phone's photo), transparency flattened onto a background that
   contrasts with the ink, then greyscale in [0, 1], shrunk to 1024 pixels a side at most;
2. inverted when the background is light (MNIST is white ink on black): the background is the
   median of the image's border;
3. the background level subtracted and the contrast stretched so that the ink peaks at 1
   (a photo's paper is grey, not black), faint noise below 10 % cleared;
4. the ink's bounding box cropped and scaled so its longer side is 20 pixels (Pillow's
   antialiasing bilinear filter);
5. pasted into 28x28 so that its centre of mass lands on pixel (14, 14) (0-based row and
   column), shifted by whole pixels as MNIST was. That is MNIST's own convention, measured
   rather than assumed: the 1,000 test digits bundled as mnist-sample have their mean centre of
   mass at (14.00, 14.01), with the spread (0.29 px) of rounding to whole pixels, not at the
   geometric centre 13.5 of a 28-pixel side.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["BOX", "CENTRE", "SIZE", "ImageError", "load_digit", "mnist_style"]

SIZE = 28  # MNIST's side
BOX = 20  # the box a digit's bounding box is scaled to fit
CENTRE = 14.0  # where the centre of mass goes (row and column, 0-based); see the docstring
NOISE = 0.1  # after stretching, ink fainter than this is taken for background
MIN_CONTRAST = 0.1  # an image whose ink and background differ less than this is blank
LARGEST = 1024  # larger images are shrunk to this side first (far more than 20x20 needs)

# Pillow's modes that load_digit reads: bilevel, greyscale, palette, colour, with or without
# alpha, 16- and 32-bit greyscale, float.
MODES = (
    "1",
    "L",
    "LA",
    "La",
    "P",
    "PA",
    "RGB",
    "RGBA",
    "RGBa",
    "RGBX",
    "CMYK",
    "YCbCr",
    "I",
    "I;16",
    "I;16L",
    "I;16B",
    "I;16N",
    "F",
)


class ImageError(ValueError):
    """An image `load_digit` cannot use: `path` and `problem` (what is wrong) are kept apart so
    that a command can print them after its own name."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"load_digit: {self.path}: {problem}")


def load_digit(path: str | os.PathLike[str]) -> np.ndarray:
    """The image at `path` as an MNIST digit: float32 (28, 28) in [0, 1], white ink on black,
    scaled to fit 20x20 and centred by its centre of mass (see the module docstring).

    Raises ImageError for a missing file, a file that is not an image, an unsupported mode, or an
    image without ink (one colour)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise ImageError(path, "no such file")
    if path.is_dir():
        raise ImageError(path, "is a directory, not an image")
    try:
        with Image.open(path) as opened:
            opened.load()
            image = ImageOps.exif_transpose(opened)
    except UnidentifiedImageError:
        raise ImageError(path, "not an image Pillow can read (PNG, JPEG, ...)") from None
    except Image.DecompressionBombError as error:
        raise ImageError(path, f"too large to read safely: {error}") from None
    except (OSError, SyntaxError, ValueError) as error:  # truncated or corrupt files
        raise ImageError(path, f"cannot read the image: {error}") from None
    if image.mode not in MODES:
        raise ImageError(
            path, f"unsupported image mode {image.mode!r}; use greyscale, RGB or RGBA (PNG, JPEG)"
        )
    try:
        return mnist_style(_grey(image))
    except ValueError as error:
        raise ImageError(path, str(error)) from None


def _grey(image) -> np.ndarray:
    """A Pillow image as float greyscale in [0, 1], its transparency flattened onto a background
    of the opposite shade to its visible pixels, shrunk to at most LARGEST pixels a side."""
    mode = image.mode
    if mode in ("I", "F") or mode.startswith("I;16"):
        # 16-bit, 32-bit and float greyscale: the range is guessed from the largest value (an
        # 8-bit image saved as 16-bit keeps 0..255).
        values = np.asarray(_shrunk(image.convert("F")), dtype=np.float64)
        top = float(values.max()) if values.size else 0.0
        scale = 1.0 if top <= 1.0 else 255.0 if top <= 255.0 else 65535.0
        return np.clip(values / scale, 0.0, 1.0)
    if mode in ("LA", "La", "PA", "RGBa") or (mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        image = _shrunk(image)
        rgba = np.asarray(image, dtype=np.float64) / 255.0
        alpha = rgba[..., 3]
        grey = np.asarray(image.convert("RGB").convert("L"), dtype=np.float64) / 255.0
        if alpha.min() < 1.0:
            weight = alpha.sum()
            # What is drawn is dark on a transparent canvas (flattened onto white) or light
            # (onto black); a fully transparent image has nothing drawn: blank either way.
            drawn = (grey * alpha).sum() / weight if weight > 0 else 0.0
            backdrop = 1.0 if drawn < 0.5 else 0.0
            grey = grey * alpha + backdrop * (1.0 - alpha)
        return grey
    return np.asarray(_shrunk(image.convert("L")), dtype=np.float64) / 255.0


def _shrunk(image):
    """`image` (L, RGBA or F) with its longer side at most LARGEST pixels, averaged by area: a
    phone's 12-megapixel photo becomes a 1024-pixel one before any float copy of it is made."""
    from PIL import Image

    if max(image.size) > LARGEST:
        image = image.copy()
        image.thumbnail((LARGEST, LARGEST), Image.Resampling.BOX)
    return image


def mnist_style(grey: np.ndarray) -> np.ndarray:
    """Greyscale values in [0, 1] (H, W), ink of either shade, as an MNIST digit: float32
    (28, 28) in [0, 1] (steps 2-5 of the module docstring). ValueError for a blank image."""
    from PIL import Image

    grey = np.asarray(grey, dtype=np.float64)
    if grey.ndim != 2 or grey.size == 0:
        raise ValueError(f"expected a non-empty greyscale image (H, W), got shape {grey.shape}")
    border = np.concatenate([grey[0], grey[-1], grey[1:-1, 0], grey[1:-1, -1]])
    background = float(np.median(border))
    if background > 0.5:  # dark ink on light paper
        grey, background = 1.0 - grey, 1.0 - background
    peak = float(grey.max())
    if peak - background < MIN_CONTRAST:
        raise ValueError(
            "no ink: the image is blank (one shade); a digit is needed, dark on light or light "
            "on dark"
        )
    ink = np.clip((grey - background) / (peak - background), 0.0, 1.0)
    ink[ink < NOISE] = 0.0
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    height, width = ink.shape
    scale = BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))  # Pillow's (w, h)
    resized = Image.fromarray(ink.astype(np.float32)).resize(size, Image.Resampling.BILINEAR)
    digit = np.clip(np.asarray(resized, dtype=np.float64), 0.0, 1.0)
    top = digit.max()
    if top <= 0.0:  # cannot happen for ink that survived the threshold; kept as a guard
        raise ValueError("no ink left after scaling to 20x20")
    digit /= top
    mass = digit.sum()
    rows_at, cols_at = np.indices(digit.shape)
    centre_row = float((digit * rows_at).sum() / mass)
    centre_col = float((digit * cols_at).sum() / mass)
    top_row = round(CENTRE - centre_row)
    left_col = round(CENTRE - centre_col)
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    # Pasted with clipping: a digit whose centre of mass is far off its box's centre can cross
    # the 28x28 edge, as in MNIST.
    r0, c0 = max(top_row, 0), max(left_col, 0)
    r1 = min(top_row + digit.shape[0], SIZE)
    c1 = min(left_col + digit.shape[1], SIZE)
    out[r0:r1, c0:c1] = digit[r0 - top_row : r1 - top_row, c0 - left_col : c1 - left_col]
    return out
