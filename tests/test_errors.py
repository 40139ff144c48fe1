"""The error walk: wrong dtypes, shapes and options through the public API.

Every message starts with the public function the user called (``relu:``, ``Conv2d:``,
``SGD.step:``) and names the argument; none is pybind11's raw "incompatible function arguments"
dump. Behind that layer, direct ``_kernels`` calls keep their own checks, which name the binding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import odyssey
import odyssey.nn.functional as F
from odyssey import _kernels, nn, optim
from odyssey.data.keys import SampleKeys
from odyssey.data.transforms import (
    Compose,
    ElasticDistortion,
    Normalize,
    Pad,
    RandomAffine,
    RandomCrop,
    RandomErasing,
)
from odyssey.nn import init


def t(*shape: int, dtype: Any = np.float32) -> odyssey.Tensor:
    return odyssey.tensor(np.zeros(shape), dtype=dtype)


def param_with_grad(grad: Any) -> nn.Parameter:
    p = nn.Parameter(np.zeros((2, 3), np.float32))
    p.grad = grad
    return p


def step(optimizer: type, data: np.ndarray | None, **options: Any) -> None:
    """A step over a gradient whose array was replaced after the grad setter checked it (None:
    by the parameter's own array)."""
    p = param_with_grad(t(2, 3))
    p.grad.data = p.data if data is None else data
    optimizer([p], **options).step()


IMAGES = np.zeros((2, 1, 8, 8), np.float32)
KEYS = SampleKeys(0, 0, np.arange(2))
# The same batch one byte into a buffer: float32 values that are not 4-byte aligned.
MISALIGNED = np.frombuffer(np.zeros(IMAGES.nbytes + 1, np.uint8)[1:].data, np.float32).reshape(
    IMAGES.shape
)
X = t(2, 3)
LABELS = odyssey.tensor([0, 1])

CASES: list[tuple[str, Callable[[], Any], type[Exception]]] = [
    # nn.functional
    ("relu", lambda: F.relu(t(2, 3, dtype=np.int64)), TypeError),
    ("relu", lambda: F.relu(np.zeros(3, np.float32)), TypeError),
    ("leaky_relu", lambda: F.leaky_relu(X, "0.1"), TypeError),
    ("sigmoid", lambda: F.sigmoid(t(2, dtype=np.float64)), TypeError),
    ("tanh", lambda: F.tanh([1.0]), TypeError),
    ("lecun_tanh", lambda: F.lecun_tanh(t(2, dtype=np.int64)), TypeError),
    ("softmax", lambda: F.softmax(X, 2), IndexError),
    ("softmax", lambda: F.softmax(X, 1.5), TypeError),
    ("log_softmax", lambda: F.log_softmax(t(2, 3, dtype=np.int64), 1), TypeError),
    ("linear", lambda: F.linear(X, t(4, 5)), ValueError),
    ("linear", lambda: F.linear(X, t(4, 3, 1)), ValueError),
    ("linear", lambda: F.linear(X, t(4, 3), t(5)), ValueError),
    ("linear", lambda: F.linear(t(2, 3, dtype=np.int64), t(4, 3)), TypeError),
    ("linear", lambda: F.linear(X, [[1.0]]), TypeError),
    ("conv2d", lambda: F.conv2d(t(2, 3, 8, 8), t(4, 1, 3, 3)), ValueError),
    ("conv2d", lambda: F.conv2d(t(3, 8, 8), t(4, 3, 3, 3)), ValueError),
    ("conv2d", lambda: F.conv2d(t(2, 3, 8, 8), t(4, 3, 3)), ValueError),
    ("conv2d", lambda: F.conv2d(t(2, 3, 8, 8), t(4, 3, 9, 9)), ValueError),
    ("conv2d", lambda: F.conv2d(t(2, 3, 8, 8), t(4, 3, 3, 3), t(3)), ValueError),
    ("conv2d", lambda: F.conv2d(t(2, 3, 8, 8), t(4, 3, 3, 3), stride=0), ValueError),
    ("conv2d", lambda: F.conv2d(t(2, 3, 8, 8), t(4, 3, 3, 3), stride="1"), TypeError),
    ("conv2d", lambda: F.conv2d(t(2, 3, 8, 8), t(4, 3, 3, 3), stride=(1, 1.5)), TypeError),
    ("conv2d", lambda: F.conv2d(t(2, 3, 8, 8), t(4, 3, 3, 3), padding=-1), ValueError),
    ("conv2d", lambda: F.conv2d(t(2, 3, 8, 8), t(4, 3, 3, 3), padding="full"), ValueError),
    ("conv2d", lambda: F.conv2d(t(2, 3, 8, 8), t(4, 3, 3, 3), groups=2), ValueError),
    ("conv2d", lambda: F.conv2d(t(2, 3, 8, 8), t(4, 3, 3, 3), dilation=0), ValueError),
    ("conv2d", lambda: F.conv2d(t(2, 3, 8, 8), t(4, 3, 3, 3, dtype=np.float64)), TypeError),
    ("conv2d", lambda: F.conv2d(None, t(4, 3, 3, 3)), TypeError),
    ("max_pool2d", lambda: F.max_pool2d(t(2, 3, 8, 8), 9), ValueError),
    ("max_pool2d", lambda: F.max_pool2d(t(2, 3, 8, 8), 0), ValueError),
    ("max_pool2d", lambda: F.max_pool2d(t(2, 3, 8, 8), 2, stride=0), ValueError),
    ("max_pool2d", lambda: F.max_pool2d(t(8, 8), 2), ValueError),
    ("max_pool2d", lambda: F.max_pool2d(t(2, 3, 8, 8, dtype=np.int64), 2), TypeError),
    ("avg_pool2d", lambda: F.avg_pool2d(t(2, 3, 8, 8), (2, 9)), ValueError),
    ("avg_pool2d", lambda: F.avg_pool2d(t(2, 3, 8, 8), None), TypeError),
    ("cross_entropy", lambda: F.cross_entropy(X, odyssey.tensor([0, 3])), ValueError),
    ("cross_entropy", lambda: F.cross_entropy(X, odyssey.tensor([0, -1]), "none"), ValueError),
    ("cross_entropy", lambda: F.cross_entropy(X, odyssey.tensor([0, 5]), "sum"), ValueError),
    ("cross_entropy", lambda: F.cross_entropy(X, odyssey.tensor([0.0, 1.0])), TypeError),
    ("cross_entropy", lambda: F.cross_entropy(X, odyssey.tensor([0, 1, 2])), ValueError),
    ("cross_entropy", lambda: F.cross_entropy(X, [0, 1]), TypeError),
    ("cross_entropy", lambda: F.cross_entropy(X, LABELS, reduction="avg"), ValueError),
    ("cross_entropy", lambda: F.cross_entropy(t(2, 3, 1), LABELS), ValueError),
    ("cross_entropy", lambda: F.cross_entropy(np.zeros((2, 3)), LABELS), TypeError),
    ("nll_loss", lambda: F.nll_loss(X, odyssey.tensor([0, 3])), ValueError),
    ("nll_loss", lambda: F.nll_loss(X, odyssey.tensor([[0], [1]])), ValueError),
    ("mse_loss", lambda: F.mse_loss(X, t(3)), ValueError),
    ("mse_loss", lambda: F.mse_loss(X, X, reduction="avg"), ValueError),
    ("mse_loss", lambda: F.mse_loss(t(2, dtype=np.int64), t(2)), TypeError),
    ("mse_loss", lambda: F.mse_loss(X, "zeros"), TypeError),
    ("dropout", lambda: F.dropout(X, 1.5), ValueError),
    ("dropout", lambda: F.dropout(X, "0.5"), TypeError),
    ("batch_norm", lambda: F.batch_norm(t(3), None, None, training=True), ValueError),
    ("batch_norm", lambda: F.batch_norm(X, t(4), t(3)), ValueError),
    ("batch_norm", lambda: F.batch_norm(X, None, None, momentum="0.1"), TypeError),
    ("flatten", lambda: F.flatten(np.zeros(3)), TypeError),
    # layers: constructor options name the layer, forward inputs the function it runs
    ("Linear", lambda: nn.Linear(-1, 2), ValueError),
    ("Linear", lambda: nn.Linear(2.5, 2), TypeError),
    ("Linear", lambda: nn.Linear(2**70, 2), ValueError),
    ("Conv2d", lambda: nn.Conv2d(1, 6, 2**40), ValueError),
    ("linear", lambda: nn.Linear(5, 2)(t(2, 6)), ValueError),
    ("Conv2d", lambda: nn.Conv2d(1, 6, 0), ValueError),
    ("Conv2d", lambda: nn.Conv2d(1, 6, 5, stride=0), ValueError),
    ("Conv2d", lambda: nn.Conv2d(1, 6, (5, 5, 5)), TypeError),
    ("Conv2d", lambda: nn.Conv2d(1, 6, 5, padding=-1), ValueError),
    ("Conv2d", lambda: nn.Conv2d("1", 6, 5), TypeError),
    ("conv2d", lambda: nn.Conv2d(1, 6, 5)(t(2, 3, 28, 28)), ValueError),
    ("MaxPool2d", lambda: nn.MaxPool2d(0), ValueError),
    ("AvgPool2d", lambda: nn.AvgPool2d("2"), TypeError),
    ("max_pool2d", lambda: nn.MaxPool2d(9)(t(1, 1, 8, 8)), ValueError),
    ("Dropout", lambda: nn.Dropout(1.5), ValueError),
    ("LeakyReLU", lambda: nn.LeakyReLU("0.1"), TypeError),
    ("Softmax", lambda: nn.Softmax(1.5), TypeError),
    ("LogSoftmax", lambda: nn.LogSoftmax("1"), TypeError),
    ("Flatten", lambda: nn.Flatten("1"), TypeError),
    ("CrossEntropyLoss", lambda: nn.CrossEntropyLoss(reduction="avg"), ValueError),
    ("NLLLoss", lambda: nn.NLLLoss(reduction=None), TypeError),
    ("MSELoss", lambda: nn.MSELoss(reduction="avg"), ValueError),
    ("MSELoss", lambda: nn.MSELoss(reduction=np.zeros(2)), TypeError),
    ("BatchNorm2d", lambda: nn.BatchNorm2d(-1), ValueError),
    ("BatchNorm2d", lambda: nn.BatchNorm2d(3, eps="1e-5"), TypeError),
    ("BatchNorm1d", lambda: nn.BatchNorm1d(3)(t(2, 3, 4, 4)), ValueError),
    ("BatchNorm2d", lambda: nn.BatchNorm2d(3)(np.zeros((2, 3, 4, 4))), TypeError),
    ("relu", lambda: nn.ReLU()(t(2, dtype=np.int64)), TypeError),
    ("Sequential", lambda: nn.Sequential(nn.ReLU(), np.zeros(2)), TypeError),
    ("Linear", lambda: setattr(nn.Linear(2, 2), "weight", np.zeros((2, 2))), TypeError),
    ("Linear.load_state_dict", lambda: nn.Linear(2, 2).load_state_dict(None), TypeError),
    ("Linear.load_state_dict", lambda: nn.Linear(2, 2).load_state_dict({}), ValueError),
    # nn.init
    ("uniform_", lambda: init.uniform_([1.0]), TypeError),
    ("uniform_", lambda: init.uniform_(t(2), 1, 0), ValueError),
    ("uniform_", lambda: init.uniform_(t(2), "0", 1), TypeError),
    ("normal_", lambda: init.normal_(t(2), std=-1), ValueError),
    ("constant_", lambda: init.constant_(t(2, dtype=np.int64), 1.0), TypeError),
    ("xavier_uniform_", lambda: init.xavier_uniform_(t(5)), ValueError),
    ("kaiming_normal_", lambda: init.kaiming_normal_(t(2, 2), mode="fan_avg"), ValueError),
    ("calculate_gain", lambda: init.calculate_gain("gelu"), ValueError),
    ("kaiming_uniform_", lambda: init.kaiming_uniform_(t(2, 2), nonlinearity=None), TypeError),
    ("xavier_normal_", lambda: init.xavier_normal_(t(2, 2), gain=-1), ValueError),
    ("trunc_normal_", lambda: init.trunc_normal_(t(2), a=1, b=0), ValueError),
    # optim
    ("SGD", lambda: optim.SGD([]), ValueError),
    ("SGD", lambda: optim.SGD(nn.Parameter(np.zeros(2))), TypeError),
    ("SGD", lambda: optim.SGD(3), TypeError),
    ("SGD", lambda: optim.SGD([np.zeros(2)]), TypeError),
    ("SGD", lambda: optim.SGD([t(2, dtype=np.float64)]), TypeError),
    ("SGD", lambda: optim.SGD([nn.Parameter(np.zeros(2))], lr=-1), ValueError),
    ("SGD", lambda: optim.SGD([nn.Parameter(np.zeros(2))], lr="0.1"), TypeError),
    ("SGD", lambda: optim.SGD([nn.Parameter(np.zeros(2))], momentum=-1), ValueError),
    ("SGD", lambda: optim.SGD([nn.Parameter(np.zeros(2))], nesterov=True), ValueError),
    ("SGD", lambda: optim.SGD([nn.Parameter(np.zeros(2))], dampening=float("nan")), ValueError),
    ("Adam", lambda: optim.Adam([nn.Parameter(np.zeros(2))], betas=(1.0, 0.9)), ValueError),
    ("Adam", lambda: optim.Adam([nn.Parameter(np.zeros(2))], eps=-1), ValueError),
    ("AdamW", lambda: optim.AdamW([nn.Parameter(np.zeros(2))], lr=-1), ValueError),
    ("SGD", lambda: optim.SGD([nn.Parameter(np.zeros(2))]).add_param_group([]), TypeError),
    (
        "SGD.load_state_dict",
        lambda: optim.SGD([nn.Parameter(np.zeros(2))]).load_state_dict(None),
        TypeError,
    ),
    (
        "SGD.load_state_dict",
        lambda: optim.SGD([nn.Parameter(np.zeros(2))]).load_state_dict({}),
        ValueError,
    ),
    ("SGD.step", lambda: step(optim.SGD, data=None), ValueError),  # the parameter's own array
    ("Tensor.add", lambda: X + t(4), ValueError),
    ("Tensor.add", lambda: X + "a", TypeError),
    ("Tensor.mul", lambda: X * t(3, 2), ValueError),
    ("Tensor.div", lambda: X / t(5), ValueError),
    ("Tensor.pow", lambda: t(2, dtype=np.uint8) ** -1, OverflowError),
    ("Tensor.pow", lambda: X ** b"2", TypeError),
    ("Tensor.matmul", lambda: t(2, 2, dtype=np.int64) @ t(2, 2, dtype=np.int64), TypeError),
    ("Tensor.permute", lambda: X.permute(0.5, 1), TypeError),
    ("Flatten", lambda: nn.Flatten(1.5), TypeError),
    ("flatten", lambda: nn.Flatten()(np.zeros(3)), TypeError),
    ("max_pool2d", lambda: F.max_pool2d(odyssey.zeros(1, 1, 2**16, 2**15), 2), ValueError),
    ("Tensor.grad", lambda: param_with_grad(np.ones((2, 3), np.float32)), TypeError),
    ("Tensor.grad", lambda: param_with_grad(t(3, 2)), ValueError),
    (
        "SGD.step",
        lambda: step(optim.SGD, data=np.ones((3, 2), np.float32), momentum=0.9),
        ValueError,
    ),
    ("Adam.step", lambda: step(optim.Adam, data=np.ones((2, 3))), TypeError),
    ("AdamW.step", lambda: step(optim.AdamW, data=np.ones((2, 3), np.int64)), TypeError),
    # data.transforms
    ("Normalize", lambda: Normalize((), ()), ValueError),
    ("Normalize", lambda: Normalize(0.5, 0.0), ValueError),
    ("Normalize", lambda: Normalize("0.5", 1.0), TypeError),
    ("Normalize", lambda: Normalize(None, 1.0), TypeError),
    ("RandomErasing", lambda: RandomErasing(value=True), TypeError),
    ("Normalize", lambda: Normalize(0.5, 1.0)(IMAGES.astype(np.int64), KEYS), TypeError),
    ("Normalize", lambda: Normalize((0.1, 0.2), (1.0, 1.0))(IMAGES, KEYS), ValueError),
    ("Pad", lambda: Pad(-1), ValueError),
    ("Pad", lambda: Pad(1.5), ValueError),
    ("Pad", lambda: Pad(1)(IMAGES[0], KEYS), ValueError),
    ("RandomCrop", lambda: RandomCrop(0), ValueError),
    ("RandomCrop", lambda: RandomCrop(9)(IMAGES, KEYS), ValueError),
    ("RandomCrop", lambda: RandomCrop(5, stream=-1), ValueError),
    ("RandomCrop", lambda: RandomCrop(5)(IMAGES, None), TypeError),
    ("SampleKeys", lambda: SampleKeys(-1, 0, np.arange(2)), ValueError),
    ("SampleKeys", lambda: SampleKeys(0, 2**32, np.arange(2)), ValueError),
    ("SampleKeys", lambda: SampleKeys(0, 0, np.array([0, 2**32])), ValueError),
    ("RandomAffine", lambda: RandomAffine("10"), ValueError),
    ("RandomAffine", lambda: RandomAffine(10)(IMAGES, SampleKeys(0, 0, [0])), ValueError),
    ("Pad", lambda: Pad(2**31), ValueError),
    ("RandomCrop", lambda: RandomCrop(2**31), ValueError),
    ("Normalize", lambda: Normalize([0.5], [0.2])(MISALIGNED, KEYS), ValueError),
    ("ElasticDistortion", lambda: ElasticDistortion(float("nan"), 4), ValueError),
    ("ElasticDistortion", lambda: ElasticDistortion(34, 0), ValueError),
    ("RandomAffine.matrices", lambda: RandomAffine(10).matrices(KEYS, -1, 8), ValueError),
    ("RandomAffine.matrices", lambda: RandomAffine(10).matrices(KEYS, 8, 8.0), TypeError),
    (
        "ElasticDistortion.displacements",
        lambda: ElasticDistortion(34, 4).displacements(None, 8, 8),
        TypeError,
    ),
    ("RandomErasing", lambda: RandomErasing(p=2), ValueError),
    ("RandomErasing", lambda: RandomErasing(value=(0, 0))(IMAGES, KEYS), ValueError),
    ("Compose", lambda: Compose([1]), TypeError),
]


@pytest.mark.parametrize(
    ("name", "call", "error"), CASES, ids=[f"{i}-{case[0]}" for i, case in enumerate(CASES)]
)
def test_errors_name_the_public_function(
    name: str, call: Callable[[], Any], error: type[Exception]
) -> None:
    with pytest.raises(error) as raised:
        call()
    message = str(raised.value)
    assert message.startswith(f"{name}: "), message
    assert "incompatible function arguments" not in message


def test_the_example_of_the_policy_reads_as_written() -> None:
    with pytest.raises(TypeError) as raised:
        F.relu(t(2, 3, dtype=np.int64))
    assert str(raised.value).startswith("relu: input must be float32, got int64")


F64 = np.zeros((2, 3))
F32 = np.zeros((2, 3), np.float32)
IMAGES64 = np.zeros((1, 1, 4, 4))

BINDING_CASES: list[tuple[str, Callable[[], Any], type[Exception]]] = [
    ("add", lambda: _kernels.add(F32, F64), TypeError),
    ("relu", lambda: _kernels.relu(F32[:, ::2]), ValueError),
    ("sum", lambda: _kernels.sum([1.0]), TypeError),
    ("tanh_backward", lambda: _kernels.tanh_backward(F32, F32.T.copy()), ValueError),
    ("softmax", lambda: _kernels.softmax(F32[0]), ValueError),
    ("softmax_cross_entropy", lambda: _kernels.softmax_cross_entropy(F32, np.zeros(3)), TypeError),
    ("sgemm", lambda: _kernels.sgemm(F32, F32), ValueError),
    ("sgemm", lambda: _kernels.sgemm(F32, F32.T.copy(), out=F32), ValueError),
    ("conv2d_forward", lambda: _kernels.conv2d_forward(IMAGES64, IMAGES64), TypeError),
    ("conv2d_backward_data", lambda: _kernels.conv2d_backward_data(F32, F32, (1,)), ValueError),
    ("max_pool2d_forward", lambda: _kernels.max_pool2d_forward(F32, 2, 2), ValueError),
    (
        "max_pool2d_backward",
        lambda: _kernels.max_pool2d_backward(F32, F32, (1, 1, 2, 3), 1, 1),
        ValueError,
    ),
    (
        "avg_pool2d_backward",
        lambda: _kernels.avg_pool2d_backward(F32, (1, 1, 4, 4), 2, 2),
        ValueError,
    ),
    ("sgd_step", lambda: _kernels.sgd_step(F32, F32, lr=0.1, momentum=0.9), ValueError),
    (
        "adam_step",
        lambda: _kernels.adam_step(
            F32, F32, F32, F64, step=1, lr=0.1, beta1=0.9, beta2=0.9, eps=0.0
        ),
        TypeError,
    ),
    (
        "sgd_step_many",
        lambda: _kernels.sgd_step_many([F32], [F32, F32], lr=0.1),
        ValueError,
    ),
    (
        "sgd_step_many",
        lambda: _kernels.sgd_step_many([F32.copy()], [F32], [F32], lr=0.1, momentum=0.9),
        TypeError,  # first_steps missing
    ),
    (
        "adam_step_many",
        lambda: _kernels.adam_step_many(
            [F32], [F32], [F32], [F64], steps=[1], lr=0.1, beta1=0.9, beta2=0.9, eps=0.0
        ),
        TypeError,
    ),
    ("normalize", lambda: _kernels.normalize(F32, [0.0], [1.0]), ValueError),
    ("gather_unit_floats", lambda: _kernels.gather_unit_floats(F32, np.arange(2)), TypeError),
]


@pytest.mark.parametrize(
    ("name", "call", "error"),
    BINDING_CASES,
    ids=[f"{i}-{case[0]}" for i, case in enumerate(BINDING_CASES)],
)
def test_binding_errors_name_the_binding(
    name: str, call: Callable[[], Any], error: type[Exception]
) -> None:
    """The safety net behind the public API: direct _kernels calls name the binding."""
    with pytest.raises(error) as raised:
        call()
    assert str(raised.value).startswith(f"{name}: "), str(raised.value)
