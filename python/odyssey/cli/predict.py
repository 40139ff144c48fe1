"""``odyssey predict RUN_DIR_OR_CHECKPOINT IMAGE...``: classify your own images (PNG, JPEG, any
image Pillow reads) with a trained run. Each image is made to look like an MNIST digit first
(odyssey.data.images.load_digit: greyscale, inverted when its background is light, scaled to fit
20x20 and centred by its centre of mass in 28x28), then one line per image gives the best class
and its softmax probability, ``path: 7 (98.1 %)``; ``--top K`` adds the next K-1, ``--json``
prints one JSON document instead.

Exit status: 0 done; 1 the weights could not be loaded or run; 2 a usage mistake (no such run,
no config.toml, an image that is missing, unreadable or blank), one line naming the file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from odyssey.cli.runs import WEIGHTS, RunError, load_model, open_run

PROG = "odyssey predict"


def register(commands: argparse._SubParsersAction) -> None:
    """Adds ``predict`` to the ``odyssey`` parser."""
    predict = commands.add_parser(
        "predict",
        help="classify your own images (PNG, JPEG) with a run's weights",
        description="Rebuild the model of a run from its config.toml, load its final weights "
        "(or the checkpoint given) and classify each image, made to look like an MNIST digit "
        "(greyscale, inverted when the background is light, fitted to 20x20 and centred by its "
        "centre of mass in 28x28). Prints `IMAGE: CLASS (PROBABILITY %)` per image.",
    )
    predict.add_argument(
        "target",
        metavar="RUN_DIR_OR_CHECKPOINT",
        help=f"a run directory (its {WEIGHTS} is used) or a .safetensors checkpoint",
    )
    predict.add_argument("images", metavar="IMAGE", nargs="+", help="images to classify")
    predict.add_argument(
        "--top", type=int, default=1, metavar="K", help="print the K best classes (default: 1)"
    )
    predict.add_argument(
        "--json", action="store_true", help="print one JSON document instead of lines"
    )
    predict.set_defaults(run=run)


def fail(message: str, status: int = 2) -> int:
    """Prints `odyssey predict: message` on stderr and returns `status`."""
    print(f"{PROG}: {message}", file=sys.stderr)
    return status


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (the largest logit subtracted first)."""
    shifted = np.asarray(logits, dtype=np.float64)
    shifted = shifted - shifted.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def class_names(config: dict[str, Any], count: int) -> list[str]:
    """The class names of the run's dataset, or the class indices when the dataset is unknown or
    has another number of classes than the model's outputs."""
    from odyssey.data.datasets import DATASETS

    info = DATASETS.get(config.get("train", {}).get("dataset", ""))
    if info is not None and len(info.classes) == count:
        return list(info.classes)
    return [str(index) for index in range(count)]


def run(args: argparse.Namespace) -> int:
    """Classifies the images and prints the results; see the module docstring for the status."""
    from odyssey.data.images import ImageError, load_digit

    if args.top < 1:
        return fail(f"--top must be >= 1, got {args.top}")
    try:
        found = open_run(Path(args.target), "predict")
    except RunError as error:
        return fail(str(error), error.status)
    digits = []
    for image in args.images:
        try:
            digits.append(load_digit(image))
        except ImageError as error:
            return fail(f"{error.path}: {error.problem}")
    try:
        model = load_model(found)
        probabilities = _classify(model, np.stack(digits)[:, None])
    except RunError as error:
        return fail(str(error), error.status)
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as error:  # a model failing
        return fail(f"{found.weights}: {error}", 1)
    names = class_names(found.config, probabilities.shape[1])
    top = min(args.top, len(names))
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :top]
    if args.json:
        document = {
            "run": str(found.directory),
            "weights": str(found.weights),
            "dataset": found.config["train"]["dataset"],
            "predictions": [
                {
                    "image": image,
                    "top": [
                        {
                            "class": names[index],
                            "index": int(index),
                            "probability": float(probabilities[row, index]),
                        }
                        for index in order[row]
                    ],
                }
                for row, image in enumerate(args.images)
            ],
        }
        print(json.dumps(document, indent=2))
        return 0
    for row, image in enumerate(args.images):
        best = ", ".join(
            f"{names[index]} ({100 * probabilities[row, index]:.1f} %)" for index in order[row]
        )
        print(f"{image}: {best}")
    return 0


def _classify(model: Any, images: np.ndarray) -> np.ndarray:
    """Softmax probabilities (N, classes) of the model's class scores for float32 (N, 1, 28, 28):
    its `class_scores(outputs)` when it defines one (LeNet-5's negated RBF penalties), else its
    outputs (logits)."""
    from odyssey import from_numpy, no_grad

    model.eval()
    with no_grad():
        outputs = model(from_numpy(np.ascontiguousarray(images, dtype=np.float32)))
        class_scores = getattr(model, "class_scores", None)
        if class_scores is not None:
            outputs = class_scores(outputs)
    logits = np.asarray(outputs.data)
    if logits.ndim != 2 or logits.shape[0] != images.shape[0]:
        raise ValueError(
            f"the model's output has shape {logits.shape}; predict needs (images, classes)"
        )
    return softmax(logits)
