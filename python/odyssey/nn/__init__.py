"""Layers, containers and losses with PyTorch's names, signatures and weight layouts."""

from odyssey.nn import functional, init, utils
from odyssey.nn.activation import (
    GELU,
    Hardtanh,
    LeakyReLU,
    LeCunTanh,
    LogSoftmax,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from odyssey.nn.batchnorm import BatchNorm1d, BatchNorm2d
from odyssey.nn.container import ModuleDict, ModuleList, Sequential
from odyssey.nn.conv import Conv2d
from odyssey.nn.linear import Identity, Linear
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
from odyssey.nn.shape import Dropout, Dropout2d, Flatten

__all__ = [
    "GELU",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "CrossEntropyLoss",
    "Dropout",
    "Dropout2d",
    "Flatten",
    "Hardtanh",
    "Identity",
    "LeCunTanh",
    "LeakyReLU",
    "Linear",
    "LocalResponseNorm",
    "LogSoftmax",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "ModuleDict",
    "ModuleList",
    "NLLLoss",
    "Parameter",
    "ReLU",
    "ReLU6",
    "ReLUMaxPool2d",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
    "functional",
    "init",
    "utils",
]
