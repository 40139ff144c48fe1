"""odyssey.data.images: the user's own images made to look like MNIST digits (hand-made images)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from odyssey.data import load_dataset
from odyssey.data.images import BOX, CENTRE, SIZE, ImageError, load_digit

Image = pytest.importorskip("PIL.Image")


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    rows, cols = np.indices(image.shape)
    mass = image.sum()
    return float((image * rows).sum() / mass), float((image * cols).sum() / mass)


def bounding_box(image: np.ndarray, level: float = 0.0) -> tuple[int, int]:
    """(height, width) of the pixels above `level`."""
    rows = np.flatnonzero((image > level).any(axis=1))
    cols = np.flatnonzero((image > level).any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def seven(height: int = 90, width: int = 60, light: bool = True) -> np.ndarray:
    """A '7' off-centre on a height x width uint8 canvas: dark on light when `light`."""
    canvas = np.zeros((height, width), dtype=np.uint8)
    canvas[10:16, 8:40] = 255  # the bar
    for row in range(16, 70):  # the slanted stroke
        col = 40 - (row - 16) // 3
        canvas[row, col - 3 : col + 3] = 255
    return 255 - canvas if light else canvas


def save(array: np.ndarray, path: Path, mode: str | None = None, **options) -> Path:
    image = Image.fromarray(array)
    if mode is not None:
        image = image.convert(mode)
    image.save(path, **options)
    return path


def check_mnist_like(digit: np.ndarray) -> None:
    assert digit.dtype == np.float32
    assert digit.shape == (SIZE, SIZE)
    assert digit.min() >= 0.0
    assert digit.max() == pytest.approx(1.0)
    row, col = centre_of_mass(digit)
    assert abs(row - CENTRE) <= 0.5
    assert abs(col - CENTRE) <= 0.5
    height, width = bounding_box(digit)
    assert max(height, width) <= BOX


def test_the_centre_is_where_mnist_puts_the_centre_of_mass() -> None:
    # Measured, not assumed: MNIST's digits have their centre of mass at pixel (14, 14), shifted
    # by whole pixels (the spread of rounding), not at the geometric centre 13.5.
    images = load_dataset("mnist-sample", "test").images.astype(np.float64)
    centres = np.array([centre_of_mass(image) for image in images])
    assert np.abs(centres.mean(axis=0) - CENTRE).max() < 0.05
    spread = centres.std(axis=0)
    assert spread.min() > 0.25
    assert spread.max() < 0.33
    assert CENTRE == 14.0


def test_a_light_background_is_inverted(tmp_path) -> None:
    digit = load_digit(save(seven(light=True), tmp_path / "light.png"))
    check_mnist_like(digit)
    assert digit[0, 0] == 0.0  # the background is black, the ink white
    assert digit.mean() < 0.3


def test_a_dark_background_is_kept(tmp_path) -> None:
    light = load_digit(save(seven(light=True), tmp_path / "light.png"))
    dark = load_digit(save(seven(light=False), tmp_path / "dark.png"))
    check_mnist_like(dark)
    np.testing.assert_allclose(dark, light, atol=1e-6)  # the same digit either way


def test_the_bounding_box_fits_20x20_keeping_the_aspect_ratio(tmp_path) -> None:
    tall = np.zeros((200, 300), dtype=np.uint8)
    tall[20:180, 100:180] = 255  # 160 x 80: 2:1
    digit = load_digit(save(tall, tmp_path / "tall.png"))
    check_mnist_like(digit)
    assert bounding_box(digit, 0.5) == (20, 10)
    wide = np.zeros((100, 100), dtype=np.uint8)
    wide[40:50, 10:90] = 255  # 10 x 80: the longer side is the width
    height, width = bounding_box(load_digit(save(wide, tmp_path / "wide.png")), 0.5)
    assert (height, width) in ((2, 20), (3, 20))


def test_a_large_photo_is_shrunk_first_to_the_same_digit(tmp_path) -> None:
    small = load_digit(save(seven(light=True), tmp_path / "small.png"))
    large = np.asarray(
        Image.fromarray(seven(light=True)).resize((1800, 2700), Image.Resampling.BILINEAR)
    )
    digit = load_digit(save(large, tmp_path / "large.jpg", quality=90))
    check_mnist_like(digit)
    assert np.abs(digit - small).mean() < 0.03


def test_a_small_digit_is_scaled_up(tmp_path) -> None:
    small = np.zeros((12, 12), dtype=np.uint8)
    small[3:9, 5:8] = 200
    digit = load_digit(save(small, tmp_path / "small.png"))
    check_mnist_like(digit)
    assert bounding_box(digit, 0.5)[0] == 20


def test_a_grey_background_is_subtracted(tmp_path) -> None:
    photo = seven(light=True).astype(np.float64) * 0.6 + 60  # grey paper, grey ink
    rng = np.random.default_rng(0)
    photo += rng.normal(0, 3, photo.shape)  # a little sensor noise
    digit = load_digit(save(np.clip(photo, 0, 255).astype(np.uint8), tmp_path / "grey.png"))
    check_mnist_like(digit)
    clean = load_digit(save(seven(light=False), tmp_path / "clean.png"))
    assert np.abs(digit - clean).mean() < 0.05


def test_a_16_bit_image(tmp_path) -> None:
    reference = load_digit(save(seven(), tmp_path / "l.png"))
    deep = save(seven().astype(np.uint16) * 257, tmp_path / "deep.png")
    assert Image.open(deep).mode.startswith("I")
    np.testing.assert_allclose(load_digit(deep), reference, atol=1e-3)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "1", "LA", "I;16", "I", "F", "CMYK"])
def test_modes_give_the_same_digit(tmp_path, mode) -> None:
    reference = load_digit(save(seven(), tmp_path / "l.png"))
    fmt = {"CMYK": "jpeg", "F": "tiff", "I": "tiff"}.get(mode, "png")
    digit = load_digit(save(seven(), tmp_path / f"digit.{fmt}", mode=mode))
    check_mnist_like(digit)
    tolerance = 0.02 if fmt == "jpeg" else 1e-3
    assert np.abs(digit - reference).mean() < tolerance


def test_a_jpeg_photo_in_colour(tmp_path) -> None:
    grey = seven(light=True)
    rgb = np.stack([grey, grey * 0.9, grey * 0.8], axis=-1).astype(np.uint8)  # warm paper
    digit = load_digit(save(rgb, tmp_path / "photo.jpg", quality=85))
    check_mnist_like(digit)
    reference = load_digit(save(seven(light=False), tmp_path / "ref.png"))
    assert np.abs(digit - reference).mean() < 0.03


def test_ink_drawn_on_a_transparent_canvas(tmp_path) -> None:
    # A drawing program's export: black strokes, alpha 255, on pixels (0, 0, 0, 0).
    ink = seven(light=False)
    rgba = np.zeros((*ink.shape, 4), dtype=np.uint8)
    rgba[..., 3] = ink
    digit = load_digit(save(rgba, tmp_path / "black-on-transparent.png"))
    check_mnist_like(digit)
    reference = load_digit(save(ink, tmp_path / "ref.png"))
    assert np.abs(digit - reference).mean() < 1e-3
    rgba[..., :3] = 255  # white strokes on transparent: flattened onto black
    white = load_digit(save(rgba, tmp_path / "white-on-transparent.png"))
    assert np.abs(white - reference).mean() < 1e-3


def test_a_palette_image_with_a_transparent_colour(tmp_path) -> None:
    image = Image.fromarray(seven(light=False)).convert("P")
    image.info["transparency"] = 0
    path = tmp_path / "palette.png"
    image.save(path, transparency=0)
    digit = load_digit(path)
    check_mnist_like(digit)


def test_mnist_digits_survive_a_round_trip(tmp_path) -> None:
    # A test digit upscaled and inverted (as a photo) comes back close to itself.
    data = load_dataset("mnist-sample", "test")
    for index in range(10):
        photo = Image.fromarray(255 - data.images[index]).resize((64, 64), Image.Resampling.BICUBIC)
        digit = load_digit(save(np.asarray(photo), tmp_path / f"{index}.png"))
        check_mnist_like(digit)
        # Up to a pixel's shift: MNIST rounded its own centre of mass, computed on its scan.
        reference = data.images[index] / 255.0
        error = min(
            np.abs(np.roll(digit, (down, right), axis=(0, 1)) - reference).mean()
            for down in (-1, 0, 1)
            for right in (-1, 0, 1)
        )
        assert error < 0.05


# --- errors -----------------------------------------------------------------------------------


def test_a_missing_file(tmp_path) -> None:
    path = tmp_path / "nowhere.png"
    with pytest.raises(ImageError, match=r"^load_digit: .*nowhere\.png: no such file$") as caught:
        load_digit(path)
    assert caught.value.path == path
    assert caught.value.problem == "no such file"


def test_a_directory(tmp_path) -> None:
    with pytest.raises(ImageError, match="is a directory"):
        load_digit(tmp_path)


def test_a_file_that_is_not_an_image(tmp_path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("not a picture")
    with pytest.raises(ImageError, match=r"notes\.png: not an image Pillow can read"):
        load_digit(path)


def test_a_truncated_image(tmp_path) -> None:
    path = save(seven(), tmp_path / "cut.png")
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ImageError, match=r"cut\.png: cannot read the image"):
        load_digit(path)


@pytest.mark.parametrize("shade", [0, 128, 255])
def test_a_blank_image_has_no_ink(tmp_path, shade) -> None:
    path = save(np.full((30, 30), shade, dtype=np.uint8), tmp_path / "blank.png")
    with pytest.raises(ImageError, match=r"blank\.png: no ink: the image is blank"):
        load_digit(path)


def test_a_fully_transparent_image_has_no_ink(tmp_path) -> None:
    path = save(np.zeros((30, 30, 4), dtype=np.uint8), tmp_path / "clear.png")
    with pytest.raises(ImageError, match="no ink"):
        load_digit(path)


def test_an_unsupported_mode(tmp_path) -> None:
    path = tmp_path / "lab.tiff"
    Image.new("LAB", (30, 30)).save(path)
    with pytest.raises(ImageError, match=r"lab\.tiff: unsupported image mode 'LAB'"):
        load_digit(path)
