"""Optimizers with torch.optim's names, arguments, parameter groups and state dicts."""

from odyssey.optim.adagrad import Adagrad
from odyssey.optim.adam import Adam, AdamW
from odyssey.optim.optimizer import Optimizer
from odyssey.optim.rmsprop import RMSprop
from odyssey.optim.sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop"]
