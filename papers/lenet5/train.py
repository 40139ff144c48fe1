"""What the faithful LeNet-5's recipe needs beyond the generic Trainer, named by paper.toml: the
MAP loss of equation (9) (`map_loss`, from model.py), the stochastic diagonal Levenberg-Marquardt
optimizer of Appendix C (`SDLM`, from sdlm.py), and `SDLMPasses`, the callback that runs the
paper's passes: before each pass it re-estimates the diagonal Hessian on 500 training samples
and sets the pass's global step ε.

ε follows the paper's schedule (0.0005 for passes 1-2, 0.0002 for 3-5, 0.0001 for 6-8, 0.00005
for 9-12, 0.00001 after), scaled so that its first value is the run's lr (train.lr): lr = 0.0005
is the paper's schedule itself. `warmup_passes` ramps ε linearly from 0 over the first passes'
steps, which the paper does not do: from the ±2.4/F_i initialisation the first steps are large
against the tiny weights (C5's moved by half their norm in one step, measured), and without the
ramp the first pass can saturate F6 for good (see the README).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from odyssey.data.datasets import Dataset
from odyssey.train.callbacks import Callback

from .model import map_loss
from .sdlm import SDLM, lr_for_pass, prepare_pass

__all__ = ["SDLM", "SDLMPasses", "map_loss"]


def _float_batch(dataset: Any, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Samples `indices` of `dataset` as the DataLoader yields them."""
    gather = getattr(dataset, "get_float_batch", None)
    return gather(indices) if gather is not None else Dataset.get_float_batch(dataset, indices)


class SDLMPasses(Callback):
    """Runs SDLM's passes: at the start of each epoch (a pass), h is re-estimated on `samples`
    training samples drawn by the run's seed and the epoch; before each step the optimizer's lr
    is the pass's ε (the paper's schedule scaled to start at the optimizer's lr), ramped over the
    first `warmup_passes` passes. A run resumed mid-pass keeps the checkpointed h."""

    def __init__(self, samples: int = 500, warmup_passes: float = 0.0) -> None:
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
            raise ValueError(f"SDLMPasses: samples must be an int >= 1, got {samples!r}")
        if isinstance(warmup_passes, bool) or not (
            isinstance(warmup_passes, (int, float)) and 0 <= warmup_passes < float("inf")
        ):
            raise ValueError(f"SDLMPasses: warmup_passes must be >= 0, got {warmup_passes!r}")
        self.samples = samples
        self.warmup_passes = float(warmup_passes)

    @staticmethod
    def _optimizer(trainer: Any) -> SDLM:
        optimizer = trainer.optimizer
        if not isinstance(optimizer, SDLM):
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
        epoch = trainer.current_epoch + 1
        prepare_pass(optimizer, module.model, images, labels, epoch, samples=count)

    def on_train_batch_start(self, trainer: Any, module: Any, batch: Any, batch_idx: int) -> None:
        optimizer = self._optimizer(trainer)
        first = float(optimizer.defaults["lr"])
        lr = first * lr_for_pass(trainer.current_epoch + 1) / lr_for_pass(1)
        if self.warmup_passes > 0:
            ramp = self.warmup_passes * trainer.num_training_batches
            lr *= min(1.0, (trainer.global_step + 1) / ramp)
        for group in optimizer.param_groups:
            group["lr"] = lr
