"""Module hooks: removable handles and the graph nodes behind full backward hooks (torch's
`torch.utils.hooks.RemovableHandle` and `BackwardHook`).

A full backward hook sees the gradients of all of a module's tensor inputs at once, after each one
is complete, and the gradients of its outputs. torch gets this from one autograd node with several
outputs; odyssey's nodes have one output each, so `BackwardHook` builds the same thing from two
kinds of single-output nodes:

    x_1 ... x_n -> gather -> slot_1 ... slot_n -> forward() -> o_1 ... o_k -> gather -> slot_1 ...

A slot is the identity on its tensor's values (sharing the array); its backward files the gradient
it receives in the gather's table and passes a 0-d zero token on to the gather. The gather
depends on every slot, so the engine runs it only after every slot has received its whole
gradient; its backward reads the table, calls the hooks and hands each tensor its gradient.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from odyssey.tensor import Tensor, _from_op, _wrap, is_grad_enabled

if TYPE_CHECKING:
    from odyssey.nn.module import Module

_NODE_NAME = "BackwardHookFunctionBackward"  # torch's grad_fn name for these identities
_TOKEN = np.zeros((), dtype=np.float32)


class RemovableHandle:
    """What `register_*_hook` returns: `remove()` (or leaving a `with` block) unregisters the hook.

    It holds its hook tables weakly, as torch's does, so a handle never keeps a module alive.
    """

    next_id: int = 0

    def __init__(self, hooks_dict: dict[int, Any], *, extra_dicts: tuple[dict[int, Any], ...] = ()):
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.extra_dict_refs = tuple(weakref.ref(d) for d in extra_dicts)
        self.id = RemovableHandle.next_id
        RemovableHandle.next_id += 1

    def remove(self) -> None:
        for ref in (self.hooks_dict_ref, *self.extra_dict_refs):
            table = ref()
            if table is not None:
                table.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()


def _tensor_indices(args: tuple[Any, ...]) -> list[int]:
    """Positions of the arguments (top level only, as torch) that need a gradient."""
    if not is_grad_enabled():
        return []
    return [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]


def _as_grads(
    values: Any, expected: tuple[np.ndarray | None, ...], what: str
) -> tuple[np.ndarray | None, ...]:
    """The arrays of the gradient tuple a hook returned, checked against the ones it was given."""
    if isinstance(values, Tensor):
        values = (values,)
    if not isinstance(values, (tuple, list)) or len(values) != len(expected):
        count = len(values) if isinstance(values, (tuple, list)) else type(values).__name__
        raise RuntimeError(
            f"{what} returned an invalid number of gradients: got {count}, expected {len(expected)}"
        )
    grads: list[np.ndarray | None] = []
    for index, (value, old) in enumerate(zip(values, expected, strict=True)):
        if value is None:
            grads.append(None)
            continue
        if not isinstance(value, Tensor):
            raise TypeError(
                f"{what} returned a {type(value).__name__} at position {index}; expected a Tensor "
                "or None"
            )
        if old is not None and value.data.shape != old.shape:
            raise RuntimeError(
                f"{what} returned a gradient of shape {value.data.shape} at position {index}; "
                f"expected {old.shape}"
            )
        grads.append(np.asarray(value.data, order="C"))  # the engine casts to the input's dtype
    return tuple(grads)


def _wrapped(grads: tuple[np.ndarray | None, ...]) -> tuple[Tensor | None, ...]:
    """The gradients as Tensors for a hook (a 0-d gradient may arrive as a NumPy scalar)."""
    return tuple(None if g is None else _wrap(np.asarray(g)) for g in grads)


class _Gather:
    """The slots of a group of tensors and the node that sees all their gradients at once."""

    def __init__(
        self,
        values: tuple[Any, ...],
        indices: list[int],
        on_gradients: Callable[[list[np.ndarray | None]], list[np.ndarray | None]],
    ) -> None:
        self.slots: list[np.ndarray | None] = [None] * len(indices)

        def gathered_backward(_token: np.ndarray) -> list[np.ndarray | None]:
            grads, self.slots = self.slots, [None] * len(indices)
            # Views: the engine then copies before storing one as a leaf's .grad, since the same
            # array may also have gone to another slot or be held by a hook's caller.
            return [None if g is None else np.asarray(g).view() for g in on_gradients(grads)]

        hub = _from_op(_TOKEN, tuple(values[i] for i in indices), gathered_backward, _NODE_NAME)
        out = list(values)
        for slot, index in enumerate(indices):
            out[index] = _from_op(values[index].data, (hub,), self._filer(slot), _NODE_NAME)
        self.values = tuple(out)

    def _filer(self, slot: int) -> Callable[[np.ndarray], tuple[np.ndarray]]:
        def file_gradient(grad: np.ndarray) -> tuple[np.ndarray]:
            self.slots[slot] = grad
            return (_TOKEN,)

        return file_gradient


class BackwardHook:
    """One module call's full backward hooks and backward pre-hooks (torch's semantics).

    The pre-hooks get `(module, grad_output)` when the outputs' gradients are complete and may
    return a replacement `grad_output`; the hooks get `(module, grad_input, grad_output)` when the
    inputs' gradients are complete (a tuple entry per positional argument, None for those that
    are not tensors needing a gradient) and may return a replacement `grad_input`. When no input
    needs a gradient, the hooks run at the outputs with every `grad_input` None.
    """

    def __init__(
        self,
        module: Module,
        hooks: list[Callable[..., Any]],
        pre_hooks: list[Callable[..., Any]],
    ) -> None:
        self.module = module
        self.hooks = hooks
        self.pre_hooks = pre_hooks
        self.n_inputs = 0
        self.input_indices: list[int] = []
        self.grad_outputs: tuple[Tensor | None, ...] | None = None

    def setup_input_hook(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        self.n_inputs = len(args)
        self.input_indices = _tensor_indices(args)
        if not self.input_indices:
            return args
        return _Gather(args, self.input_indices, self._input_gradients).values

    def setup_output_hook(self, result: Any) -> Any:
        single = not isinstance(result, tuple)
        if single and not isinstance(result, Tensor):
            warnings.warn(
                "For backward hooks to be called, module output should be a Tensor or a tuple of "
                f"Tensors but received {type(result)}",
                stacklevel=3,
            )
            return result
        outputs = (result,) if single else result
        indices = _tensor_indices(outputs)
        if not indices:
            return result

        def output_gradients(grads: list[np.ndarray | None]) -> list[np.ndarray | None]:
            return self._output_gradients(len(outputs), indices, grads)

        wrapped = _Gather(outputs, indices, output_gradients).values
        return wrapped[0] if single else wrapped

    def _output_gradients(
        self, n_outputs: int, indices: list[int], grads: list[np.ndarray | None]
    ) -> list[np.ndarray | None]:
        packed = _pack(n_outputs, indices, grads)
        for hook in self.pre_hooks:
            result = hook(self.module, _wrapped(packed))
            if result is not None:
                packed = _as_grads(result, packed, "backward pre-hook")
        self.grad_outputs = _wrapped(packed)
        if not self.input_indices:
            no_inputs = (None,) * self.n_inputs
            for hook in self.hooks:
                result = hook(self.module, no_inputs, self.grad_outputs)
                if result is not None and not (
                    isinstance(result, tuple) and all(r is None for r in result)
                ):
                    raise RuntimeError(
                        "Backward hook for Modules where no input requires gradient should always "
                        "return None or None for all gradients."
                    )
            self.grad_outputs = None
        return [packed[i] for i in indices]

    def _input_gradients(self, grads: list[np.ndarray | None]) -> list[np.ndarray | None]:
        if self.grad_outputs is None:  # the gradient reached the inputs around the outputs
            return grads
        packed = _pack(self.n_inputs, self.input_indices, grads)
        for hook in self.hooks:
            result = hook(self.module, _wrapped(packed), self.grad_outputs)
            if result is not None:
                packed = _as_grads(result, packed, "backward hook")
        self.grad_outputs = None
        return [packed[i] for i in self.input_indices]


def _pack(
    size: int, indices: list[int], grads: list[np.ndarray | None]
) -> tuple[np.ndarray | None, ...]:
    """A gradient per position (None where there is no tensor needing one)."""
    packed: list[np.ndarray | None] = [None] * size
    for index, grad in zip(indices, grads, strict=True):
        packed[index] = grad
    return tuple(packed)
