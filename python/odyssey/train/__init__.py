"""Training: a Trainer with Lightning's loop and hooks, the TrainModule protocol, a ready
Classifier, callbacks, loggers and resumable checkpoints (DESIGN §10)."""

from odyssey.train import callbacks, checkpoint, loggers
from odyssey.train.module import Classifier, TrainModule
from odyssey.train.rundir import RunDirectoryError
from odyssey.train.trainer import Trainer

__all__ = [
    "Classifier",
    "RunDirectoryError",
    "TrainModule",
    "Trainer",
    "callbacks",
    "checkpoint",
    "loggers",
]
