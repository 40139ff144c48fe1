"""What the faithful LeNet-5's recipe needs beyond the generic Trainer, named by paper.toml: the
MAP loss of equation (9) (`map_loss`, from model.py), the stochastic diagonal Levenberg-Marquardt
optimizer of Appendix C (`SDLM`, from sdlm.py), and `SDLMPasses`, the callback that runs the
paper's passes: before each pass over the data it re-estimates the diagonal Hessian on 500
training samples, and before each step it sets the global step ε.

ε follows the paper's schedule (0.0005 for passes 1-2, 0.0002 for 3-5, 0.0001 for 6-8, 0.00005
for 9-12, 0.00001 after), scaled so that its first value is the run's lr (train.lr): lr = 0.0005
is the paper's schedule itself. The schedule counts the paper's passes, 60,000 samples each (its
training set): on full MNIST a pass of the schedule is an epoch, as in the paper; on the 4,000
digits of mnist-sample, 20 epochs are 80,000 samples, 1.3 of the paper's passes, and ε stays near
its first value instead of falling 50-fold while the network has seen a fifteenth of what the
paper's had. `warmup_samples` ramps ε linearly from 0 over the first samples, which the paper
does not do: from the ±2.4/F_i initialisation the first steps are large against the tiny weights
(C5's moved by half their norm in one step, measured), and without the ramp the first pass can
saturate F6 for good (see sdlm.py and the README).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from odyssey.data.datasets import Dataset
from odyssey.train.callbacks import Callback

from .model import map_loss
from .sdlm import SDLM, diagonal_hessian, lr_for_pass

__all__ = ["SDLM", "SDLMPasses", "map_loss"]


def _float_batch(dataset: Any, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Samples `indices` of `dataset` as the DataLoader yields them."""
    gather = getattr(dataset, "get_float_batch", None)
    return gather(indices) if gather is not None else Dataset.get_float_batch(dataset, indices)


class SDLMPasses(Callback):
    """Runs SDLM the paper's way: at the start of each epoch h is re-estimated on `samples`
    training samples drawn by the run's seed and the epoch; before each step the optimizer's lr is
    the paper's ε for the samples seen so far (`pass_samples` a pass of the schedule; the paper's
    schedule scaled to start at the optimizer's lr), ramped linearly over the first
    `warmup_samples`. A run resumed mid-epoch keeps the checkpointed h; the lr is a function of
    the step, so it resumes as it was."""

    def __init__(
        self, samples: int = 500, pass_samples: int = 60_000, warmup_samples: int = 0
    ) -> None:
        for name, value, least in (
            ("samples", samples, 1),
            ("pass_samples", pass_samples, 1),
            ("warmup_samples", warmup_samples, 0),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"SDLMPasses: {name} must be an int >= {least}, got {value!r}")
        self.samples = samples
        self.pass_samples = pass_samples
        self.warmup_samples = warmup_samples

    @classmethod
    def check_config(cls, train: Any) -> None:
        """What papers.py checks before a run: the run's optimizer is SDLM."""
        if train.get("optimizer") != "SDLM":
            raise ValueError(
                f'SDLMPasses needs train.optimizer = "SDLM", got {train.get("optimizer")!r}'
            )

    @staticmethod
    def _optimizer(trainer: Any) -> SDLM:
        optimizer = trainer.optimizer
        # Duck-typed: a second import of sdlm.py (under another module name) is still SDLM.
        if not callable(getattr(optimizer, "set_hessian", None)):
            raise TypeError(
                f"SDLMPasses: the run's optimizer must be SDLM, got {type(optimizer).__name__} "
                '(set train.optimizer = "SDLM")'
            )
        return optimizer

    def on_train_epoch_start(self, trainer: Any, module: Any) -> None:
        optimizer = self._optimizer(trainer)
        dataset = trainer.train_dataloader.dataset
        rng = np.random.default_rng([trainer.seed or 0, trainer.current_epoch])
        count = min(self.samples, len(dataset))
        chosen = np.sort(rng.choice(len(dataset), count, replace=False))
        # The images as the loader gives them (float32 in [0, 1]), without augmentation.
        images, labels = _float_batch(dataset, chosen)
        optimizer.set_hessian(
            diagonal_hessian(module.model, images, labels), module.model.named_parameters()
        )

    def on_train_batch_start(self, trainer: Any, module: Any, batch: Any, batch_idx: int) -> None:
        optimizer = self._optimizer(trainer)
        # Samples seen before this step: full batches (a short last batch counts as full, so the
        # count depends on the step alone).
        seen = trainer.global_step * trainer.train_dataloader.batch_size
        first = float(optimizer.defaults["lr"])
        lr = first * lr_for_pass(1 + seen // self.pass_samples) / lr_for_pass(1)
        if self.warmup_samples > 0:
            lr *= min(1.0, (seen + trainer.train_dataloader.batch_size) / self.warmup_samples)
        for group in optimizer.param_groups:
            group["lr"] = lr
