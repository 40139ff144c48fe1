"""Layers, containers and losses with PyTorch's names, signatures and weight layouts."""

from odyssey.nn import functional, init, utils
from odyssey.nn.activation import LeakyReLU, LeCunTanh, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from odyssey.nn.batchnorm import BatchNorm1d, BatchNorm2d
from odyssey.nn.container import ModuleDict, ModuleList, Sequential
from odyssey.nn.conv import Conv2d
from odyssey.nn.linear import Identity, Linear
from odyssey.nn.loss import CrossEntropyLoss, MSELoss, NLLLoss
from odyssey.nn.module import Module
from odyssey.nn.parameter import Parameter
from odyssey.nn.pooling import AvgPool2d, MaxPool2d
from odyssey.nn.shape import Dropout, Flatten

__all__ = [
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "CrossEntropyLoss",
    "Dropout",
    "Flatten",
    "Identity",
    "LeCunTanh",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "ModuleDict",
    "ModuleList",
    "NLLLoss",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "functional",
    "init",
    "utils",
]
