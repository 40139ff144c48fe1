"""Layers, containers and losses with PyTorch's names, signatures and weight layouts."""

from odyssey.nn import functional, init, utils
from odyssey.nn.activation import LeakyReLU, LeCunTanh, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from odyssey.nn.batchnorm import BatchNorm1d, BatchNorm2d
from odyssey.nn.container import Sequential
from odyssey.nn.conv import Conv2d
from odyssey.nn.linear import Linear
from odyssey.nn.loss import CrossEntropyLoss, MSELoss, NLLLoss
from odyssey.nn.module import Module
from odyssey.nn.parameter import Parameter
from odyssey.nn.pooling import (
    AdaptiveAvgPool2d,
    AdaptiveMaxPool2d,
    AvgPool2d,
    LocalResponseNorm,
    MaxPool2d,
    ReLUMaxPool2d,
)
from odyssey.nn.shape import Dropout, Flatten

__all__ = [
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "CrossEntropyLoss",
    "Dropout",
    "Flatten",
    "LeCunTanh",
    "LeakyReLU",
    "Linear",
    "LocalResponseNorm",
    "LogSoftmax",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "NLLLoss",
    "Parameter",
    "ReLU",
    "ReLUMaxPool2d",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "functional",
    "init",
    "utils",
]
