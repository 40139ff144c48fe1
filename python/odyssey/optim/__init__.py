"""Optimizers with torch.optim's names, arguments, parameter groups and state dicts."""

from odyssey.optim.adam import Adam, AdamW
from odyssey.optim.optimizer import Optimizer
from odyssey.optim.sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer"]
