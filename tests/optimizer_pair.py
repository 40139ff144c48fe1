"""OptimizerPair: the same problem stepped by an odyssey optimizer and its torch twin, for the
suites that hold odyssey's optimizers to torch's bits (tests/test_optim*.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

import odyssey
from odyssey import nn, optim


class OptimizerPair:
    """The same problem stepped by an odyssey optimizer and by its torch twin (foreach=False).

    `initial` holds the parameters' starting values, `grads` one list of gradients per step, and
    `groups(name, params)` the parameter groups both optimizers are built with.
    """

    def __init__(
        self,
        torch: Any,
        name: str,
        options: dict[str, Any],
        initial: Sequence[np.ndarray],
        grads: Sequence[Sequence[np.ndarray]],
        groups: Callable[[str, list[Any]], list[dict[str, Any]]],
    ) -> None:
        self.torch, self.grads = torch, grads
        self.ours = [nn.Parameter(np.array(value, dtype=np.float32)) for value in initial]
        self.theirs = [torch.tensor(value, requires_grad=True) for value in initial]
        self.optimizer = getattr(optim, name)(groups(name, self.ours), **options)
        self.torch_optimizer = getattr(torch.optim, name)(
            groups(name, self.theirs), foreach=False, **options
        )

    def steps(self) -> Iterator[int]:
        """Steps both with the same gradients; yields the step's number after each."""
        for step, step_grads in enumerate(self.grads):
            for mine, theirs, grad in zip(self.ours, self.theirs, step_grads, strict=True):
                mine.grad = odyssey.Tensor(np.array(grad, dtype=np.float32))
                theirs.grad = self.torch.tensor(grad)
            self.optimizer.step()
            self.torch_optimizer.step()
            yield step

    def arrays(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """(label, ours, torch's) for every parameter and every state tensor."""
        for index, (mine, theirs) in enumerate(zip(self.ours, self.theirs, strict=True)):
            yield f"param {index}", mine.data, theirs.detach().numpy()
            state = self.optimizer.state.get(mine, {})
            torch_state = self.torch_optimizer.state[theirs]
            assert state.keys() == torch_state.keys()
            if "step" in state:
                assert state["step"] == int(torch_state["step"])
            for key in state.keys() - {"step"}:
                yield f"{key} {index}", state[key], torch_state[key].numpy()

    def check_within_one_ulp(self, step: int) -> None:
        for label, ours, theirs in self.arrays():
            try:
                np.testing.assert_array_max_ulp(ours, theirs, maxulp=1)
            except AssertionError as error:
                raise AssertionError(f"step {step}, {label}: {error}") from None
