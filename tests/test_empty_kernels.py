"""Every kernel returns at once on empty input, however large its other dimensions.

A fuzzer found `normalize` on an array of shape (2**40, 1, 1, 0) spending time in proportion to the
batch. Each binding is called here on zero-element arrays whose leading dimension is 2**40 (2**31-1
where it is a shape argument; the arrays hold nothing, so they cost no memory). A loop over that
dimension would not finish, so the calls run in a subprocess that must complete within a generous
bound.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

HUGE_AND_EMPTY = textwrap.dedent(
    """
    import numpy as np
    from odyssey import _kernels as K

    B = 2**40
    S = 2**31 - 1  # the largest size a shape argument takes
    def e(*shape):
        return np.empty(shape, np.float32)

    def same(result, *shape):
        assert result.shape == shape, (result.shape, shape)

    same(K.add(e(B, 0), e(B, 0)), B, 0)
    same(K.relu(e(B, 0)), B, 0)
    same(K.relu_backward(e(B, 0), e(B, 0)), B, 0)
    same(K.leaky_relu(e(B, 0), 0.1), B, 0)
    same(K.hardtanh(e(B, 0), 0.0, 6.0), B, 0)
    same(K.silu_backward(e(B, 0), e(B, 0)), B, 0)
    same(K.sigmoid(e(B, 0)), B, 0)
    same(K.tanh_backward(e(B, 0), e(B, 0)), B, 0)
    assert K.sum(e(B, 0)) == 0.0
    same(K.softmax(e(B, 0)), B, 0)
    same(K.log_softmax(e(B, 0)), B, 0)
    same(K.softmax_backward(e(B, 0), e(B, 0)), B, 0)
    same(K.log_softmax_backward(e(B, 0), e(B, 0)), B, 0)
    same(K.sgemm(e(B, 0), e(0, 0)), B, 0)
    same(K.sgemm(e(0, 0), e(0, B)), 0, B)
    same(K.conv2d_forward(e(B, 0, 1, 1), e(0, 0, 1, 1)), B, 0, 1, 1)
    same(K.conv2d_backward_data(e(S, 0, 1, 1), e(0, 0, 1, 1), (S, 0, 1, 1)), S, 0, 1, 1)
    dw, db = K.conv2d_backward_weight(e(B, 0, 1, 1), e(B, 0, 1, 1), (1, 1))
    same(dw, 0, 0, 1, 1)
    same(db, 0)
    y, argmax = K.max_pool2d_forward(e(B, 0, 1, 1), 1, 1)
    same(y, B, 0, 1, 1)
    same(K.max_pool2d_forward(e(B, 0, 1, 1), 1, 1, relu=True)[0], B, 0, 1, 1)
    same(K.max_pool2d_backward(e(0, S, 1, 1), np.empty((0, S, 1, 1), np.int32), (0, S, 1, 1), 1, 1),
         0, S, 1, 1)
    same(K.avg_pool2d_forward(e(B, 0, 1, 1), 1, 1), B, 0, 1, 1)
    same(K.avg_pool2d_backward(e(S, 0, 1, 1), (S, 0, 1, 1), 1, 1), S, 0, 1, 1)
    K.sgd_step(e(B, 0), e(B, 0), lr=0.1)
    K.adam_step(e(B, 0), e(B, 0), e(B, 0), e(B, 0), step=1, lr=0.1, beta1=0.9, beta2=0.9, eps=1e-8)
    K.rmsprop_step(e(B, 0), e(B, 0), e(B, 0), lr=0.1, alpha=0.9, eps=1e-8, centered=True,
                   grad_avg=e(B, 0), momentum=0.9, momentum_buffer=e(B, 0))
    K.adagrad_step(e(B, 0), e(B, 0), e(B, 0), step=1, lr=0.1)
    same(K.normalize(e(B, 1, 1, 0), [0.0], [1.0]), B, 1, 1, 0)
    same(K.pad(e(B, 0, 1, 1), 1, 1, 1, 1), B, 0, 3, 3)
    same(K.displacement_warp(e(B, 1, 0, 1), e(B, 2, 0, 1)), B, 1, 0, 1)
    print("done")
    """
)


def test_every_binding_returns_at_once_on_empty_input() -> None:
    result = subprocess.run(
        [sys.executable, "-c", HUGE_AND_EMPTY], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "done"
