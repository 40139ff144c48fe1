"""``odyssey evaluate RUN_DIR_OR_CHECKPOINT``: rebuild a run's model from its config.toml, load
saved weights, evaluate them on a dataset split with the Trainer, print the metrics and write the
confusion matrix plot into the run directory. The metrics go to stdout; the progress (a rich
bar on a terminal, its one-line result otherwise) to stderr, unless ``--no-progress``.

Exit status: 0 done; 1 the weights or data could not be read or evaluated; 2 a usage mistake
(no such run, no config.toml, an unknown dataset).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from rich.console import Console

from odyssey.cli.datasets import ensure_dataset
from odyssey.cli.runs import WEIGHTS, Run, RunError, load_model, open_run

PROG = "odyssey evaluate"


def register(commands: argparse._SubParsersAction) -> None:
    """Adds ``evaluate`` to the ``odyssey`` parser."""
    evaluate = commands.add_parser(
        "evaluate",
        help="evaluate a run's weights (or a checkpoint) and plot its confusion matrix",
        description="Rebuild the model of a run from its config.toml, load its final weights "
        "(or the checkpoint given), evaluate it and write confusion-<dataset>.png in the run.",
    )
    evaluate.add_argument(
        "target",
        metavar="RUN_DIR_OR_CHECKPOINT",
        help=f"a run directory (its {WEIGHTS} is evaluated) or a .safetensors checkpoint",
    )
    evaluate.add_argument("--dataset", help="evaluate on this dataset (default: the run's)")
    evaluate.add_argument(
        "--split", choices=("test", "train"), default="test", help="which split (default: test)"
    )
    evaluate.add_argument("--batch-size", type=int, help="images per batch (default: the run's)")
    evaluate.add_argument(
        "--no-progress", action="store_true", help="no progress bar (it is drawn on stderr)"
    )
    evaluate.set_defaults(run=run)


def fail(message: str, status: int = 2) -> int:
    """Prints `odyssey evaluate: message` on stderr and returns `status`."""
    print(f"{PROG}: {message}", file=sys.stderr)
    return status


def progress_console() -> Console:
    """Where evaluate's progress goes: stderr (a bar on a terminal, a line in a log)."""
    return Console(stderr=True)


def run(args: argparse.Namespace) -> int:
    """Evaluates and prints the metrics; see the module docstring for the exit status."""
    from odyssey import papers
    from odyssey.data.datasets import DATASETS

    try:
        found = open_run(Path(args.target), "evaluate")
    except RunError as error:
        return fail(str(error), error.status)
    config = found.config
    dataset = args.dataset or config["train"]["dataset"]
    if dataset not in DATASETS:
        return fail(f"--dataset: unknown {dataset!r}; choices: {', '.join(DATASETS)}")
    if args.batch_size is not None and args.batch_size < 1:
        return fail(f"--batch-size must be >= 1, got {args.batch_size}")
    try:
        ensure_dataset(dataset)
        return _evaluate(args, found, dataset)
    except RunError as error:
        return fail(str(error), error.status)
    except papers.PaperError as error:
        return fail(str(error))
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    except (OSError, ValueError, KeyError) as error:  # CheckpointError is a ValueError
        return fail(str(error), 1)


def _evaluate(args: argparse.Namespace, found: Run, dataset: str) -> int:
    """Loads the weights into the rebuilt model, runs Trainer.test, prints and plots."""
    from odyssey import papers
    from odyssey.data import DataLoader, load_dataset
    from odyssey.train import Classifier, Trainer
    from odyssey.train.plots import plot_confusion
    from odyssey.train.progress import ProgressBar

    config, run_dir, weights = found.config, found.directory, found.weights
    model = load_model(found)
    data = load_dataset(dataset, args.split)
    loader = DataLoader(data, batch_size=args.batch_size or config["train"]["batch_size"])
    classes = list(data.classes)
    try:
        loss = papers.build_loss(config)
    except papers.PaperError as error:
        return fail(str(error))
    module = Classifier(model, loss=loss, num_classes=len(classes), class_names=classes)
    # The Trainer adds its progress bar in fit only: evaluate's is added here, on stderr so that
    # stdout holds the metrics alone.
    callbacks = [] if args.no_progress else [ProgressBar(console=progress_console())]
    with tempfile.TemporaryDirectory() as scratch:  # whatever test() writes is not the run's
        trainer = Trainer(
            default_root_dir=scratch,
            callbacks=callbacks,
            progress=False,
            enable_checkpointing=False,
        )
        results = trainer.test(module, loader)
    metrics = results[0] if results else {}
    suffix = dataset if args.split == "test" else f"{dataset}-{args.split}"
    plot = run_dir / f"confusion-{suffix}.png"
    plot_confusion(module.confusion_matrix.compute(), classes, plot)
    print(f"{weights} on {dataset} ({args.split}, {len(data):,} images)")
    width = max((len(name) for name in metrics), default=0)
    for name, value in metrics.items():
        print(f"  {name:<{width}}  {value:.4f}")
    print(f"  {'confusion':<{width}}  {plot}")
    return 0
