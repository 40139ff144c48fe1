"""`odyssey predict` on the tiny test paper: one epoch trained, then test digits of mnist-sample
saved as photos would be (64x64, black ink on white) are classified."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_run import run

from odyssey.data import load_dataset

Image = pytest.importorskip("PIL.Image")

TINY = Path(__file__).parent / "data" / "papers" / "tiny"
LINE = re.compile(r"^(?P<image>.+): (?P<best>\d) \((?P<percent>\d{1,3}\.\d) %\)$")
COUNT = 12


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """The run directory of one epoch of the tiny paper."""
    pytest.importorskip("odyssey.train.trainer")
    out = tmp_path_factory.mktemp("predict") / "run"
    status, _, stderr = run("train", str(TINY), "--epochs", "1", "--out", str(out), "--no-progress")
    assert status == 0, stderr
    return out


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> tuple[list[str], list[int]]:
    """The first COUNT test digits of mnist-sample as 64x64 PNGs, black on white: (paths,
    labels)."""
    folder = tmp_path_factory.mktemp("photos")
    data = load_dataset("mnist-sample", "test")
    paths = []
    for index in range(COUNT):
        photo = Image.fromarray(255 - data.images[index]).resize((64, 64), Image.Resampling.BICUBIC)
        path = folder / f"digit-{index}.png"
        photo.save(path)
        paths.append(str(path))
    return paths, [int(label) for label in data.labels[:COUNT]]


def test_predict_prints_one_line_per_image_and_most_are_right(trained, photos) -> None:
    paths, labels = photos
    status, stdout, stderr = run("predict", str(trained), *paths)
    assert status == 0, stderr
    assert stderr == ""
    lines = stdout.splitlines()
    assert len(lines) == COUNT
    predicted = []
    for line, path in zip(lines, paths, strict=True):
        match = LINE.match(line)
        assert match, line
        assert match["image"] == path
        assert 10.0 <= float(match["percent"]) <= 100.0  # the best of 10 classes
        predicted.append(int(match["best"]))
    right = sum(p == label for p, label in zip(predicted, labels, strict=True))
    assert right >= COUNT * 3 // 4, (predicted, labels)


def test_top_k_gives_the_k_best_classes_in_order(trained, photos) -> None:
    paths, _ = photos
    status, stdout, _ = run("predict", str(trained), *paths[:3], "--top", "3")
    assert status == 0
    _, best_only, _ = run("predict", str(trained), *paths[:3])
    for line, first in zip(stdout.splitlines(), best_only.splitlines(), strict=True):
        image, _, rest = line.rpartition(": ")
        entries = re.findall(r"(\d) \((\d{1,3}\.\d) %\)", rest)
        assert len(entries) == 3
        assert rest == ", ".join(f"{name} ({percent} %)" for name, percent in entries)
        assert len({name for name, _ in entries}) == 3
        percents = [float(percent) for _, percent in entries]
        assert percents == sorted(percents, reverse=True)
        assert sum(percents) <= 100.2
        assert first == f"{image}: {entries[0][0]} ({entries[0][1]} %)"
    status, stdout, _ = run("predict", str(trained), paths[0], "--top", "50")
    assert status == 0
    assert stdout.count(" %)") == 10  # no more than the classes


def test_json_output(trained, photos) -> None:
    paths, _ = photos
    status, stdout, stderr = run("predict", str(trained), *paths[:4], "--json", "--top", "2")
    assert status == 0, stderr
    document = json.loads(stdout)
    assert document["run"] == str(trained)
    assert document["weights"] == str(trained / "weights.safetensors")
    assert document["dataset"] == "mnist-sample"
    assert [entry["image"] for entry in document["predictions"]] == paths[:4]
    _, lines, _ = run("predict", str(trained), *paths[:4])
    for entry, line in zip(document["predictions"], lines.splitlines(), strict=True):
        top = entry["top"]
        assert len(top) == 2
        assert top[0]["probability"] >= top[1]["probability"]
        assert all(item["class"] == str(item["index"]) for item in top)
        assert line == f"{entry['image']}: {top[0]['class']} ({100 * top[0]['probability']:.1f} %)"


def test_predict_with_a_checkpoint(trained, photos) -> None:
    paths, _ = photos
    checkpoint = sorted((trained / "checkpoints").glob("*.safetensors"))[0]
    status, stdout, stderr = run("predict", str(checkpoint), paths[0])
    assert status == 0, stderr
    assert LINE.match(stdout.strip())


def test_a_white_digit_on_black_gives_the_same_answer(trained, photos, tmp_path) -> None:
    paths, _ = photos
    negative = tmp_path / "negative.png"
    Image.fromarray(255 - np.asarray(Image.open(paths[0]))).save(negative)
    _, photo, _ = run("predict", str(trained), paths[0])
    _, direct, _ = run("predict", str(trained), str(negative))
    assert photo.split(": ")[1] == direct.split(": ")[1]


# --- errors: one line naming the file, status 2 (1 for weights that do not fit) ---------------


def one_line_error(argv: list[str], status: int = 2) -> str:
    code, stdout, stderr = run(*argv)
    assert code == status, stderr
    assert stdout == ""
    assert stderr.count("\n") == 1
    return stderr.rstrip("\n")


def test_bad_runs(trained, photos, tmp_path) -> None:
    image = photos[0][0]
    missing = tmp_path / "nowhere"
    assert one_line_error(["predict", str(missing), image]) == (
        f"odyssey predict: no run directory or checkpoint at {missing}"
    )
    assert one_line_error(["predict", str(tmp_path), image]) == (
        f"odyssey predict: no config.toml in {tmp_path}; predict needs the run's configuration"
    )
    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    (copy / "weights.safetensors").unlink()
    assert one_line_error(["predict", str(copy), image]).startswith(
        f"odyssey predict: no weights.safetensors in {copy}"
    )


def test_weights_of_another_model_exit_1(trained, photos, tmp_path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    config = (copy / "config.toml").read_text().replace("hidden = 32", "hidden = 16")
    (copy / "config.toml").write_text(config)
    message = one_line_error(["predict", str(copy), photos[0][0]], status=1)
    assert message.startswith(f"odyssey predict: {copy / 'weights.safetensors'} does not fit")


def test_bad_images(trained, photos, tmp_path) -> None:
    good = photos[0][0]
    missing = tmp_path / "missing.png"
    assert one_line_error(["predict", str(trained), good, str(missing)]) == (
        f"odyssey predict: {missing}: no such file"
    )
    text = tmp_path / "notes.jpg"
    text.write_text("a shopping list")
    assert one_line_error(["predict", str(trained), str(text)]).startswith(
        f"odyssey predict: {text}: not an image Pillow can read"
    )
    blank = tmp_path / "blank.png"
    Image.new("L", (40, 40), 255).save(blank)
    assert one_line_error(["predict", str(trained), str(blank)]).startswith(
        f"odyssey predict: {blank}: no ink"
    )


def test_usage_errors(trained, photos) -> None:
    assert one_line_error(["predict", str(trained), photos[0][0], "--top", "0"]) == (
        "odyssey predict: --top must be >= 1, got 0"
    )
    status, stdout, stderr = run("predict", str(trained))  # no image: argparse
    assert status == 2
    assert stdout == ""
    assert "IMAGE" in stderr


def test_a_model_failing_on_the_images_exits_1(trained, photos, tmp_path) -> None:
    paper = tmp_path / "broken"
    shutil.copytree(TINY, paper)
    model = paper / "model.py"
    model.write_text(
        model.read_text().replace(
            "        return self.net(x)",
            "        raise RuntimeError('the model is broken')",
            1,
        )
    )
    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    config = (copy / "config.toml").read_text().replace(str(TINY.resolve()), str(paper))
    (copy / "config.toml").write_text(config)
    message = one_line_error(["predict", str(copy), photos[0][0]], status=1)
    assert message == f"odyssey predict: {copy / 'weights.safetensors'}: the model is broken"
