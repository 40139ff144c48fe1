"""BatchNorm1d and BatchNorm2d with running statistics, as in PyTorch (state dict names too)."""

from __future__ import annotations

import numpy as np

from odyssey import _checks as check
from odyssey.nn import functional as F
from odyssey.nn.module import Module
from odyssey.nn.parameter import Parameter
from odyssey.tensor import Tensor


class _BatchNorm(Module):
    """PyTorch's BatchNorm: a learned per-channel scale (weight) and shift (bias, unless
    bias=False) when affine, running statistics when track_running_stats."""

    _input_ndims: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.num_features = check.size(num_features, name, "num_features")
        self.eps = check.real(eps, name, "eps")
        self.momentum = None if momentum is None else check.real(momentum, name, "momentum")
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=np.float32))
            if bias:
                self.bias = Parameter(np.zeros(num_features, dtype=np.float32))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=np.float32)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype=np.float32)))
            self.register_buffer("num_batches_tracked", Tensor(np.zeros((), dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def forward(self, x: Tensor) -> Tensor:
        data = check.tensor(x, type(self).__name__, "input")
        if data.ndim not in self._input_ndims:
            dims = " or ".join(map(str, self._input_ndims))
            raise ValueError(
                f"{type(self).__name__}: expected input of {dims} dims, got shape {data.shape}"
            )
        # PyTorch's rules: a training step counts itself; momentum None is a cumulative moving
        # average (1 / batches seen); batch statistics whenever training or nothing is tracked,
        # and the running ones updated only while training with tracking on.
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.data += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.data)
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        use_buffers = not self.training or self.track_running_stats
        return F.batch_norm(
            x,
            self.running_mean if use_buffers else None,
            self.running_var if use_buffers else None,
            self.weight,
            self.bias,
            use_batch_stats,
            factor,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Normalises (N, C) or (N, C, L) input per channel."""

    _input_ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Normalises (N, C, H, W) input per channel."""

    _input_ndims = (4,)
