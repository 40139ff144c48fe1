"""The PyTorch twin of LeNet5Modern, trained with the same recipe on the same data as
``odyssey train lenet5 --variant modern``: what the README's "PyTorch twin" column and the
time-to-accuracy benchmark (benchmarks/bench_lenet_tta.py) compare against.

"Same recipe" means the resolved paper configuration (odyssey.papers.resolve): the datasets and
loaders come from ``papers.build_data`` (so the twin sees the very batches odyssey trains on, in
the same order, with the same augmentation when ``train.augment`` is on), each batch handed to
torch with ``torch.from_numpy``; ``train.optimizer`` and ``train.scheduler`` name classes of
``torch.optim`` and ``torch.optim.lr_scheduler`` with the same arguments, stepped at the same
interval; ``torch.manual_seed(seed)`` draws the twin's own initialisation (PyTorch's default, the
same distribution as odyssey's, not the same numbers); ``torch.set_num_threads`` gets the
configuration's threads (odyssey's default when unset).

As a script (PyTorch needed; run from the repository root with odyssey importable)::

    python papers/lenet5/twin.py --seed 0 [--augment] [--dataset D] [--epochs N] [--variant V]

prints the twin's test accuracy, its training time and the command's wall time.

torch is imported only when the twin is used, so that odyssey never needs it; without it the twin
raises ImportError with one line saying how to install it.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

# TorchLeNet5Modern is made on first access (the module's __getattr__), when torch is imported.
__all__ = [
    "TorchLeNet5Modern",  # noqa: F822
    "TwinError",
    "build_torch_optimizer",
    "build_torch_scheduler",
    "import_torch",
    "resolve_modern",
    "train_twin",
]

FOLDER = Path(__file__).resolve().parent
# The metrics the twin computes each epoch, by the names of odyssey's Classifier, for
# ReduceLROnPlateau's monitor.
_EPOCH_METRICS = ("train_loss", "train_accuracy", "train_loss_epoch", "train_accuracy_epoch")


class TwinError(ValueError):
    """A configuration the twin cannot follow (another model, loss or optimizer); one line."""


def import_torch() -> Any:
    """The torch module, or ImportError with one line saying what to install."""
    try:
        import torch
    except ImportError:
        raise ImportError(
            "papers/lenet5/twin.py needs PyTorch, which is not installed: pip install "
            "torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
        ) from None
    return torch


_classes: dict[str, type] = {}


def _twin_class() -> type:
    """TorchLeNet5Modern, defined on first use (torch is imported then, not at import time)."""
    if "TorchLeNet5Modern" in _classes:
        return _classes["TorchLeNet5Modern"]
    torch = import_torch()
    tnn = torch.nn

    class TorchLeNet5Modern(tnn.Module):
        """LeNet5Modern in PyTorch: the same layers under the same names (c1, c3, f5, f6, output,
        so that state dicts load across), ReLU and 2x2 max-pool, PyTorch's default init."""

        def __init__(self, num_classes: int = 10) -> None:
            super().__init__()
            self.c1 = tnn.Conv2d(1, 6, 5, padding=2)
            self.c3 = tnn.Conv2d(6, 16, 5)
            self.f5 = tnn.Linear(16 * 5 * 5, 120)
            self.f6 = tnn.Linear(120, 84)
            self.output = tnn.Linear(84, num_classes)

        def forward(self, x: Any) -> Any:
            x = torch.max_pool2d(torch.relu(self.c1(x)), 2)
            x = torch.max_pool2d(torch.relu(self.c3(x)), 2).flatten(1)
            x = torch.relu(self.f5(x))
            return self.output(torch.relu(self.f6(x)))

    TorchLeNet5Modern.__module__ = __name__
    _classes["TorchLeNet5Modern"] = TorchLeNet5Modern
    return TorchLeNet5Modern


def __getattr__(name: str) -> Any:
    # `twin.TorchLeNet5Modern` imports torch on first access (PEP 562), not at import.
    if name == "TorchLeNet5Modern":
        return _twin_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _check_config(config: Mapping[str, Any]) -> None:
    """TwinError when the configuration is not one the twin reproduces."""
    model = config["variant"]["model"]
    if model != "LeNet5Modern":
        raise TwinError(
            f"train_twin: variant.model must be 'LeNet5Modern' (the model with a PyTorch twin), "
            f"got {model!r}"
        )
    loss = config["train"].get("loss", "cross_entropy")
    if loss != "cross_entropy":
        raise TwinError(f"train_twin: train.loss must be 'cross_entropy', got {loss!r}")


def build_torch_optimizer(torch: Any, train: Mapping[str, Any], params: Any) -> Any:
    """torch.optim.<train.optimizer>(params, lr=train.lr, **train.optimizer_args)."""
    name = train.get("optimizer", "SGD")
    cls = getattr(torch.optim, name, None)
    if not isinstance(cls, type):
        raise TwinError(f"train_twin: train.optimizer {name!r} has no torch.optim twin")
    return cls(params, lr=train["lr"], **train.get("optimizer_args", {}))


def build_torch_scheduler(torch: Any, train: Mapping[str, Any], optimizer: Any, steps: int) -> Any:
    """torch.optim.lr_scheduler.<train.scheduler> with the same arguments, or None; OneCycleLR
    without a length is sized to the run as odyssey.papers.scheduler_factory sizes it."""
    name = train.get("scheduler", "none")
    if name == "none":
        return None
    cls = getattr(torch.optim.lr_scheduler, name, None)
    if not isinstance(cls, type):
        raise TwinError(
            f"train_twin: train.scheduler {name!r} has no torch.optim.lr_scheduler twin"
        )
    arguments = dict(train.get("scheduler_args", {}))
    if name == "OneCycleLR" and "total_steps" not in arguments:
        arguments.setdefault("epochs", train["epochs"])
        every_step = train.get("scheduler_interval", "epoch") == "step"
        arguments.setdefault("steps_per_epoch", steps if every_step else 1)
    return cls(optimizer, **arguments)


def _evaluate(torch: Any, model: Any, loader: Any) -> dict[str, float]:
    """Mean cross-entropy and accuracy over a loader (in evaluation mode, without gradients)."""
    model.eval()
    loss_sum, right, count = 0.0, 0, 0
    with torch.no_grad():
        for images, labels in loader:
            target = torch.from_numpy(np.ascontiguousarray(labels, dtype=np.int64))
            logits = model(torch.from_numpy(images))
            loss_sum += float(torch.nn.functional.cross_entropy(logits, target, reduction="sum"))
            right += int((logits.argmax(1) == target).sum())
            count += len(labels)
    model.train()
    return {"loss": loss_sum / count, "accuracy": right / count}


def train_twin(
    config: Mapping[str, Any],
    *,
    seed: int,
    eval_every: int | None = None,
    on_eval: Callable[[int, dict[str, Any]], bool | None] | None = None,
    on_batch: Callable[[int, int, np.ndarray, np.ndarray], None] | None = None,
    initial_state: Mapping[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Trains TorchLeNet5Modern with the recipe of the resolved paper configuration `config`
    (odyssey.papers.resolve of lenet5's modern variant) and tests it.

    `seed` is the run's seed, as `odyssey train --seed`: it replaces train.seed (shuffling,
    augmentation and the val split, through papers.build_data) and seeds torch's initialisation.
    Every `eval_every` epochs (and after the last) the test split is evaluated and `on_eval(epoch,
    result)` called with the result so far (epochs done, test_accuracy, test_loss, train_s); when
    it returns True, training stops there. `on_batch(epoch, step, images, labels)` sees each
    training batch as the loader gave it. Evaluation is not counted in `train_s`.
    `initial_state` (LeNet5Modern's state_dict, NumPy arrays) replaces torch's initialisation,
    so that both libraries can start from the very same weights.

    Returns {"test_accuracy", "test_loss", "epochs" (run), "train_s" (training only: data
    loading included, evaluation excluded), "wall_s" (the whole call), "train_images",
    "images_per_s", "history" (one row per evaluation), "dataset", "seed", "threads", "torch"}.
    """
    torch = import_torch()
    from odyssey import get_num_threads, papers

    started = time.perf_counter()
    _check_config(config)
    config = copy.deepcopy(dict(config))
    config["train"]["seed"] = int(seed)
    train = config["train"]
    threads = train.get("threads") or get_num_threads()
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        data = papers.build_data(config)
        torch.manual_seed(seed)
        arguments = dict(config["variant"].get("model_args", {}))
        arguments.setdefault("num_classes", data.num_classes)
        model = _twin_class()(**arguments)
        if initial_state is not None:
            model.load_state_dict(
                {name: torch.from_numpy(np.array(value)) for name, value in initial_state.items()}
            )
        optimizer = build_torch_optimizer(torch, train, model.parameters())
        steps = len(data.train_loader)
        scheduler = build_torch_scheduler(torch, train, optimizer, steps)
        interval = train.get("scheduler_interval", "epoch")
        plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
        loss_function = torch.nn.CrossEntropyLoss()
        history: list[dict[str, Any]] = []
        train_s, images_seen, epochs_run = 0.0, 0, 0
        result: dict[str, Any] = {}
        model.train()
        for epoch in range(train["epochs"]):
            clock = time.perf_counter()
            data.train_loader.set_epoch(epoch)  # as the Trainer does: epoch e's batches
            loss_sum = torch.zeros(())
            right = torch.zeros((), dtype=torch.int64)
            seen = 0
            for step, (images, labels) in enumerate(data.train_loader):
                if on_batch is not None:
                    on_batch(epoch, step, images, labels)
                x = torch.from_numpy(images)
                y = torch.from_numpy(np.ascontiguousarray(labels, dtype=np.int64))
                logits = model(x)
                loss = loss_function(logits, y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if scheduler is not None and interval == "step" and not plateau:
                    scheduler.step()
                # Kept as tensors: a float() per step would synchronise nothing on a CPU but
                # costs a Python round trip; summed once at the epoch's end.
                loss_sum += loss.detach() * len(labels)
                right += (logits.detach().argmax(1) == y).sum()
                seen += len(labels)
            epoch_metrics = {
                "train_loss": float(loss_sum) / seen,
                "train_accuracy": int(right) / seen,
            }
            epoch_metrics.update({f"{k}_epoch": v for k, v in list(epoch_metrics.items())})
            if scheduler is not None and interval == "epoch":
                if plateau:
                    monitor = train.get("scheduler_monitor", "val_loss")
                    if monitor not in _EPOCH_METRICS:
                        if data.val_loader is None:
                            raise TwinError(f"train_twin: {monitor} needs train.val_size > 0")
                        val = _evaluate(torch, model, data.val_loader)
                        epoch_metrics.update(val_loss=val["loss"], val_accuracy=val["accuracy"])
                    scheduler.step(epoch_metrics[monitor])
                else:
                    scheduler.step()
            train_s += time.perf_counter() - clock
            images_seen += seen
            epochs_run = epoch + 1
            last = epochs_run == train["epochs"]
            if last or (eval_every and epochs_run % eval_every == 0):
                test = _evaluate(torch, model, data.test_loader)
                result = {
                    "epoch": epochs_run,
                    "test_accuracy": test["accuracy"],
                    "test_loss": test["loss"],
                    "train_s": train_s,
                    **epoch_metrics,
                }
                history.append(result)
                if on_eval is not None and on_eval(epochs_run, dict(result)) is True:
                    break
    finally:
        torch.set_num_threads(previous_threads)
    return {
        "test_accuracy": result["test_accuracy"],
        "test_loss": result["test_loss"],
        "epochs": epochs_run,
        "train_s": train_s,
        "wall_s": time.perf_counter() - started,
        "train_images": images_seen,
        "images_per_s": images_seen / train_s if train_s else None,
        "history": history,
        "dataset": train["dataset"],
        "seed": int(seed),
        "threads": threads,
        "torch": torch.__version__,
    }


def resolve_modern(
    variant: str = "modern",
    *,
    dataset: str | None = None,
    epochs: int | None = None,
    augment: bool | None = None,
    sets: tuple[str, ...] = (),
) -> dict[str, Any]:
    """lenet5's configuration for `variant` as `odyssey train lenet5 --variant V [--dataset D]
    [--epochs N] [--augment] [--set K=V]...` resolves it."""
    from odyssey import papers

    paper = papers.load_paper(FOLDER)
    flags = {"dataset": dataset, "epochs": epochs}
    all_sets = (*sets, "train.augment=true") if augment else tuple(sets)
    return papers.resolve(paper, variant, flags, all_sets)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python papers/lenet5/twin.py",
        description="Train LeNet5Modern's PyTorch twin with the recipe of `odyssey train lenet5 "
        "--variant modern` and print its test accuracy and wall time.",
    )
    parser.add_argument("--seed", type=int, default=0, help="the run's seed (as odyssey train's)")
    parser.add_argument("--variant", default="modern", help="a variant of paper.toml")
    parser.add_argument("--dataset", help="train and test on this dataset instead")
    parser.add_argument("--epochs", type=int, help="number of epochs")
    parser.add_argument("--augment", action="store_true", help="the paper's distortions")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    # As `nox -s benchmark` sets it: PyTorch's idle OpenMP workers spin 300,000 times by default
    # before sleeping, holding the cores the DataLoader's prefetch thread needs (read when torch
    # is first imported, so only here, in the script, before that).
    os.environ.setdefault("GOMP_SPINCOUNT", "10000")
    from odyssey import papers

    try:
        import_torch()
        config = resolve_modern(
            args.variant,
            dataset=args.dataset,
            epochs=args.epochs,
            augment=args.augment or None,
            sets=tuple(args.sets),
        )
        result = train_twin(config, seed=args.seed)
    except (ImportError, papers.PaperError, TwinError) as error:
        print(f"twin.py: {error}", file=sys.stderr)
        return 2
    train = config["train"]
    print(
        f"PyTorch twin ({result['torch']}, {result['threads']} threads) of lenet5 "
        f"{config['variant']['name']}, seed {args.seed}, {result['dataset']}, "
        f"{result['epochs']} epochs, augment {bool(train.get('augment', False))}: "
        f"test accuracy {100 * result['test_accuracy']:.2f} %, test loss "
        f"{result['test_loss']:.4f}, training {result['train_s']:.1f} s "
        f"({result['images_per_s']:,.0f} images/s), wall time {time.perf_counter() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
