"""Classification metrics over a batch of logits."""

import numpy as np


def accuracy(logits: np.ndarray, target: np.ndarray) -> float:
    """The fraction of rows whose largest logit is the target."""
    return float(np.mean(np.argmax(logits, axis=1) == target))
