"""Tensor and the reverse-mode autograd engine.

A Tensor wraps a C-contiguous NumPy array (`Tensor.data`, float32 by default, int64 for labels) that
the kernels take without copying. An op on tensors that require gradients records a `Node`: the
backward function (a closure over what the op saved) and the input tensors. `backward()` walks the
nodes in reverse topological order without recursion, accumulates into the leaves' `.grad`, and
then releases the graph, as PyTorch does. Each node carries PyTorch's name for its op, shown as the
result's `grad_fn` (`<AddBackward0>`), and each backward computes only the gradients of the inputs
that require one. `Tensor.dtype` is a dtype object with PyTorch's name (`odyssey.float32`) that
compares equal to the NumPy dtype of `data`.
"""

from __future__ import annotations

import functools
import math
import numbers
import operator
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, TypeVar

import numpy as np

from odyssey import _dtypes, _kernels
from odyssey.random import generator

__all__ = [
    "Tensor",
    "arange",
    "cat",
    "chunk",
    "clamp",
    "clip",
    "from_numpy",
    "full",
    "full_like",
    "gather",
    "is_grad_enabled",
    "maximum",
    "minimum",
    "no_grad",
    "ones",
    "ones_like",
    "randn",
    "split",
    "stack",
    "tensor",
    "where",
    "zeros",
    "zeros_like",
]

_F32 = np.dtype(np.float32)
_I64 = np.dtype(np.int64)
_DEFAULT_DTYPES = (_F32, _I64, np.dtype(np.bool_))
# The type of a kernel result's base: the buffer cache's capsule (types.CapsuleType, Python 3.13+).
_KERNEL_BUFFER = type(_kernels.relu(np.zeros(1, _F32)).base)

_grad_enabled = True


def is_grad_enabled() -> bool:
    """False inside `no_grad()`: ops then record nothing."""
    return _grad_enabled


_Function = TypeVar("_Function", bound=Callable[..., Any])


class no_grad:
    """Context manager and decorator: ops inside record no graph (evaluation, optimizer steps)."""

    __slots__ = ("_previous",)

    def __new__(cls, function: Any = None) -> Any:
        """`@no_grad` without parentheses decorates `function` directly, as in PyTorch."""
        instance = super().__new__(cls)
        return instance if function is None else instance(function)

    def __enter__(self) -> None:
        global _grad_enabled
        self._previous = _grad_enabled
        _grad_enabled = False

    def __exit__(self, *exc_info: object) -> None:
        global _grad_enabled
        _grad_enabled = self._previous

    def __call__(self, function: _Function) -> _Function:
        @functools.wraps(function)
        def without_grad(*args: Any, **kwargs: Any) -> Any:
            with no_grad():
                return function(*args, **kwargs)

        return without_grad  # type: ignore[return-value]


class Node:
    """One recorded op: `backward(grad_out)` returns one gradient (or None) per parent.

    `name` is PyTorch's name for the op's backward (`ConvolutionBackward0`), shown as `grad_fn`.
    """

    __slots__ = ("backward", "name", "parents")

    def __init__(
        self,
        backward: Callable[[np.ndarray], Sequence[np.ndarray | None]],
        parents: tuple[Tensor | None, ...],
        name: str,
    ) -> None:
        self.backward: Callable[[np.ndarray], Sequence[np.ndarray | None]] | None = backward
        self.parents: tuple[Tensor | None, ...] = parents
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name} object at {id(self):#x}>"


def _from_op(
    data: np.ndarray,
    parents: tuple[Tensor | None, ...],
    backward: Callable[[np.ndarray], Sequence[np.ndarray | None]],
    name: str,
) -> Tensor:
    """The result of an op: attached to the graph when gradients are on and an input needs one.

    `name` is PyTorch's grad_fn name for the op (`AddBackward0`, `ConvolutionBackward0`, ...).
    """
    out = Tensor.__new__(Tensor)
    out.data = data
    out._grad = None
    out.requires_grad = False
    out._node = None
    if _grad_enabled:
        for parent in parents:
            if parent is not None and parent.requires_grad:
                out.requires_grad = True
                out._node = Node(backward, parents, name)
                break
    return out


def _wrap(data: np.ndarray) -> Tensor:
    """A tensor outside the graph around an array the caller hands over."""
    out = Tensor.__new__(Tensor)
    out.data = data
    out._grad = None
    out.requires_grad = False
    out._node = None
    return out


def _dtype_arg(dtype: Any, op: str) -> np.dtype:
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{op}: dtype {dtype!r} is not a NumPy dtype") from None


def _as_array(data: Any, dtype: Any) -> np.ndarray:
    """An owned C-contiguous array: float32 by default, int64 for integer data, or `dtype`."""
    if isinstance(data, Tensor):
        data = data.data
    dtype = None if dtype is None else _dtype_arg(dtype, "tensor")
    if dtype is not None and dtype.kind not in "fiub":
        raise TypeError(
            f"tensor: dtype {dtype} is not supported; a tensor holds floating-point, integer or "
            "bool values"
        )
    try:
        if dtype is not None:
            return np.array(data, dtype=dtype, order="C")
        array = np.asarray(data)
    except (TypeError, ValueError, OverflowError) as error:  # ragged lists, None as a number, ...
        raise _named(error, "tensor: cannot make a tensor of this data") from None
    if array.dtype.kind in "iu":
        return np.array(array, dtype=_I64, order="C")
    if array.dtype.kind == "b":
        return np.array(array, order="C")
    if array.dtype.kind not in "f":
        raise TypeError(f"tensor: cannot make a tensor from data of dtype {array.dtype}")
    return np.array(array, dtype=_F32, order="C")


def _contiguous(data: Any, dtype: Any = None) -> np.ndarray:
    """A C-contiguous array of `data`, copied only if needed; unlike np.ascontiguousarray, a 0-d
    result stays 0-d (t[0], t.argmax(0) and gradients of 0-d tensors keep PyTorch's shape ())."""
    return np.asarray(data, dtype=dtype, order="C")


def _unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sums a broadcast gradient back to an input's shape."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, size in enumerate(shape) if size == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def _is_int(value: Any) -> bool:
    """An int or NumPy integer, but not a bool (a bool in place of a dim is a misplaced flag)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _normalize_dim(dim: Any, ndim: int, op: str, name: str = "dim") -> int:
    """`dim` as an index in [0, ndim) (a 0-d tensor accepts 0 and -1, as in PyTorch)."""
    if type(dim) is int:  # the usual case, without the isinstance checks below
        size = ndim if ndim > 1 else 1
        if -size <= dim < size:
            return dim % size
    if not _is_int(dim):
        raise TypeError(f"{op}: {name} must be an int, got {type(dim).__name__}")
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"{op}: {name} {dim} is out of range for a tensor of {ndim} dimensions")
    return int(dim) % max(ndim, 1)


def _dims(dim: Any, ndim: int, op: str) -> tuple[int, ...] | None:
    """None, one dim or a sequence of distinct dims, as sorted indices in [0, ndim)."""
    if dim is None:
        return None
    if _is_int(dim):
        dim = (dim,)
    elif not isinstance(dim, (tuple, list)):
        raise TypeError(
            f"{op}: dim must be an int, a tuple of ints or None, got {type(dim).__name__}"
        )
    axes = [_normalize_dim(d, ndim, op) for d in dim]
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op}: dim {tuple(dim)} names a dimension more than once")
    # As in PyTorch, an empty list reduces every dim; a 0-d tensor's dim 0 or -1 is all of it.
    return tuple(sorted(axes)) if axes and ndim else None


def _shape_arg(shape: tuple[Any, ...], op: str, what: str = "sizes") -> tuple[int, ...]:
    """reshape(2, 3) and reshape((2, 3)) alike; every size (or dim, `what`) an int."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for size in shape:
        if not _is_int(size):
            raise TypeError(f"{op}: {what} must be ints, got {type(size).__name__} in {shape!r}")
    return tuple(int(s) for s in shape)


class Tensor:
    """An n-dimensional array that records the ops applied to it for reverse-mode autograd."""

    __slots__ = ("__weakref__", "_grad", "_node", "data", "requires_grad")
    # NumPy operators hand over to the Tensor's reflected ones (ndarray + Tensor -> Tensor).
    __array_ufunc__ = None

    data: np.ndarray
    requires_grad: bool
    _node: Node | None

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data = _as_array(data, dtype)
        self._grad: Tensor | None = None
        self._node = None
        self.requires_grad = False
        if requires_grad:
            _check_can_require_grad(self.data, "tensor")
            self.requires_grad = True

    # -- attributes ---------------------------------------------------------------------------

    @property
    def grad(self) -> Tensor | None:
        """The gradient `backward()` accumulated: a Tensor of this shape and dtype, or None."""
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        # Checked here, as PyTorch does, rather than at the optimizer step that would trip on it.
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"Tensor.grad: expected a Tensor or None, got {type(value).__name__}"
                )
            if value.data.shape != self.data.shape:
                raise ValueError(
                    f"Tensor.grad: expected shape {self.data.shape}, got {value.data.shape}"
                )
            if value.data.dtype != self.data.dtype:
                raise TypeError(
                    f"Tensor.grad: expected dtype {self.data.dtype}, got {value.data.dtype}"
                )
        self._grad = value

    @property
    def shape(self) -> tuple[int, ...]:
        """The sizes of the dims, as a tuple."""
        return self.data.shape

    @property
    def dtype(self) -> _dtypes.dtype:
        """The element type (`odyssey.float32`, ...), equal to the NumPy dtype of `data`."""
        return _dtypes.of_array(self.data)

    @property
    def grad_fn(self) -> Node | None:
        """The op that made this tensor (printed `<AddBackward0 object at ...>`), or None for a
        leaf and for results computed without gradients."""
        return self._node

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return self.data.ndim

    @property
    def is_leaf(self) -> bool:
        """True for a tensor made by the user rather than by an operation on tracked tensors."""
        return self._node is None

    @property
    def T(self) -> Tensor:
        """The transpose of a 2-D tensor."""
        if self.data.ndim != 2:
            raise ValueError(f"Tensor.T: expected a 2-D tensor, got shape {self.shape}")
        return self._permuted((1, 0), "PermuteBackward0")

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        """The shape, or the size of dim `dim`."""
        if dim is None:
            return self.data.shape
        axis = _normalize_dim(dim, self.data.ndim, "Tensor.size")
        if not self.data.ndim:
            raise IndexError(f"Tensor.size: dim {dim} of a 0-d tensor, which has no dims")
        return self.data.shape[axis]

    def dim(self) -> int:
        """The number of dimensions, as ``ndim``."""
        return self.data.ndim

    def numel(self) -> int:
        """The number of elements."""
        return int(self.data.size)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype not in _DEFAULT_DTYPES:  # PyTorch names only the others
            extra += f", dtype={self.dtype}"
        if self._node is not None:
            extra += f", grad_fn=<{self._node.name}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # Defining __eq__ would drop hashing; optimizers key their state by tensor identity.
    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(f"bool() of a tensor with {self.data.size} elements is ambiguous")
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    # -- conversions --------------------------------------------------------------------------

    def numpy(self) -> np.ndarray:
        """The values as an ndarray (shared, not copied); refuses a tensor that needs grad."""
        if self.requires_grad:
            raise RuntimeError(
                "Tensor.numpy: the tensor requires grad; call tensor.detach().numpy() instead"
            )
        return self.data

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if dtype is not None and np.dtype(dtype) != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def item(self) -> float | int | bool:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"Tensor.item: the tensor has {self.data.size} elements, not one")
        return self.data.reshape(()).item()

    def tolist(self) -> Any:
        """The values as nested Python lists (a number for a 0-d tensor)."""
        return self.data.tolist()

    def detach(self) -> Tensor:
        """The same values outside the graph (shares the array)."""
        return _wrap(self.data)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Turns gradient tracking on or off for a leaf tensor, in place; returns it."""
        if requires_grad:
            _check_can_require_grad(self.data, "Tensor.requires_grad_")
        if not requires_grad and self._node is not None:
            raise RuntimeError(
                "Tensor.requires_grad_: cannot turn off gradients of a non-leaf tensor"
            )
        self.requires_grad = bool(requires_grad)
        return self

    def float(self) -> Tensor:
        """A float32 copy outside the graph (or self when already float32)."""
        return self if self.data.dtype == _F32 else _wrap(self.data.astype(_F32))

    def long(self) -> Tensor:
        """An int64 copy outside the graph (or self when already int64)."""
        return self if self.data.dtype == _I64 else _wrap(self.data.astype(_I64))

    # -- autograd -----------------------------------------------------------------------------

    def backward(
        self, gradient: Tensor | np.ndarray | None = None, retain_graph: bool = False
    ) -> None:
        """Accumulates d(self)/d(leaf) * gradient into every leaf's `.grad` that requires it."""
        if not self.requires_grad:
            raise RuntimeError("Tensor.backward: the tensor does not require grad and has no graph")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    "Tensor.backward: a gradient is needed for a non-scalar output of shape "
                    f"{self.shape}"
                )
            grad = np.empty(self.data.shape, dtype=self.data.dtype)
            grad.fill(1)  # np.ones without its Python wrapper
        else:
            try:
                grad = _contiguous(
                    gradient.data if isinstance(gradient, Tensor) else gradient,
                    dtype=self.data.dtype,
                )
            except (TypeError, ValueError) as error:
                raise TypeError(
                    f"Tensor.backward: gradient must be a Tensor or array of numbers ({error})"
                ) from None
            if grad.shape != self.data.shape:
                raise ValueError(
                    f"Tensor.backward: gradient of shape {grad.shape} for an output of shape "
                    f"{self.shape}"
                )
        root = self._node
        if root is None:
            _accumulate(self, grad, owned=False)
            return
        grads: dict[Node, np.ndarray] = {root: grad}
        pop = grads.pop
        get = grads.get
        for node in _reverse_topological(root):
            grad_out = pop(node, None)
            if grad_out is None:
                continue
            backward = node.backward
            if backward is None:
                raise RuntimeError(
                    "Tensor.backward: trying to backward through the graph a second time (its "
                    "saved values were released by the first backward; pass retain_graph=True to "
                    "keep them)"
                )
            parents = node.parents
            if not retain_graph:
                node.backward = None
                node.parents = ()
            for parent, grad_in in zip(parents, backward(grad_out), strict=True):
                if grad_in is None or parent is None or not parent.requires_grad:
                    continue
                dtype = parent.data.dtype
                # `is` first: the builtin dtypes are singletons, and != costs a NumPy call.
                if grad_in.dtype is not dtype and grad_in.dtype != dtype:
                    grad_in = grad_in.astype(dtype)  # a float64 operand's doing
                parent_node = parent._node
                if parent_node is None:
                    # Gradients passed straight through (the identical array or a view of it)
                    # may also flow elsewhere, so a leaf gets a copy of those. A kernel's result
                    # owns its buffer, held by the buffer cache's capsule as its base.
                    base = grad_in.base
                    owned = grad_in is not grad_out and (
                        base is None or type(base) is _KERNEL_BUFFER
                    )
                    _accumulate(parent, grad_in, owned=owned)
                else:
                    previous = get(parent_node)
                    grads[parent_node] = grad_in if previous is None else previous + grad_in

    # -- arithmetic with broadcasting ---------------------------------------------------------
    # Each backward computes only the gradients of the operands that require one: a constant
    # operand (a batch of inputs, a mask) costs its op's forward only.

    def __add__(self, other: Any) -> Tensor:
        b = other if isinstance(other, Tensor) else None
        b_data = other.data if b is not None else other
        a_shape = self.data.shape

        def backward(g: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
            grad_a = _unbroadcast(g, a_shape) if self.requires_grad else None
            grad_b = _unbroadcast(g, b.data.shape) if b is not None and b.requires_grad else None
            return grad_a, grad_b

        out = _arith("add", operator.add, self.data, b_data)
        return _from_op(out, (self, b), backward, "AddBackward0")

    __radd__ = __add__

    def __sub__(self, other: Any) -> Tensor:
        b = other if isinstance(other, Tensor) else None
        b_data = other.data if b is not None else other
        a_shape = self.data.shape

        def backward(g: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
            grad_a = _unbroadcast(g, a_shape) if self.requires_grad else None
            grad_b = -_unbroadcast(g, b.data.shape) if b is not None and b.requires_grad else None
            return grad_a, grad_b

        out = _arith("sub", operator.sub, self.data, b_data)
        return _from_op(out, (self, b), backward, "SubBackward0")

    def __rsub__(self, other: Any) -> Tensor:
        a_shape = self.data.shape
        out = _arith("sub", operator.sub, other, self.data)
        return _from_op(out, (self,), lambda g: (-_unbroadcast(g, a_shape),), "RsubBackward1")

    def __mul__(self, other: Any) -> Tensor:
        b = other if isinstance(other, Tensor) else None
        a_data = self.data
        b_data = other.data if b is not None else other

        def backward(g: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
            grad_a = _unbroadcast(g * b_data, a_data.shape) if self.requires_grad else None
            grad_b = None
            if b is not None and b.requires_grad:
                grad_b = _unbroadcast(g * a_data, b_data.shape)
            return grad_a, grad_b

        out = _arith("mul", operator.mul, a_data, b_data)
        return _from_op(out, (self, b), backward, "MulBackward0")

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Tensor:
        b = other if isinstance(other, Tensor) else None
        a_data = self.data
        b_data = other.data if b is not None else other
        out = _arith("div", operator.truediv, a_data, b_data)

        def backward(g: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
            grad_a = _unbroadcast(g / b_data, a_data.shape) if self.requires_grad else None
            grad_b = None
            if b is not None and b.requires_grad:
                grad_b = _unbroadcast(-g * out / b_data, b_data.shape)
            return grad_a, grad_b

        return _from_op(out, (self, b), backward, "DivBackward0")

    def __rtruediv__(self, other: Any) -> Tensor:
        a_data = self.data
        out = _arith("div", operator.truediv, other, a_data)

        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            return (_unbroadcast(-g * out / a_data, a_data.shape),)

        # PyTorch computes number / tensor as number * reciprocal(tensor), hence its name.
        return _from_op(out, (self,), backward, "MulBackward0")

    def __neg__(self) -> Tensor:
        return _from_op(-self.data, (self,), lambda g: (-g,), "NegBackward0")

    def __pow__(self, exponent: Any) -> Tensor:
        return self.pow(exponent)

    def pow(self, exponent: Any) -> Tensor:
        """self ** exponent, the exponent a number or a tensor (broadcast)."""
        if not isinstance(exponent, (Tensor, np.ndarray, numbers.Real)):
            raise TypeError(
                f"Tensor.pow: exponent must be a number or a Tensor, got {type(exponent).__name__}"
            )
        a_data = self.data
        e = exponent if isinstance(exponent, Tensor) else None
        e_data = exponent.data if e is not None else exponent
        with np.errstate(divide="ignore", invalid="ignore"):
            out = _arith("pow", operator.pow, a_data, e_data)

        def backward(g: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
            grad_a = grad_e = None
            with np.errstate(divide="ignore", invalid="ignore"):
                if self.requires_grad:
                    grad_a = _unbroadcast(g * e_data * a_data ** (e_data - 1), a_data.shape)
                if e is not None and e.requires_grad:
                    grad_e = _unbroadcast(g * out * np.log(a_data), e_data.shape)
            return grad_a, grad_e

        return _from_op(out, (self, e), backward, "PowBackward0" if e is None else "PowBackward1")

    def __rpow__(self, base: Any) -> Tensor:
        """base ** self for a number (or array) base."""
        if not isinstance(base, (np.ndarray, numbers.Real)):
            return NotImplemented
        e_data = self.data
        with np.errstate(divide="ignore", invalid="ignore"):
            out = _arith("pow", operator.pow, base, e_data)

        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            with np.errstate(divide="ignore", invalid="ignore"):
                return (_unbroadcast(g * out * np.log(base), e_data.shape),)

        return _from_op(out, (self,), backward, "PowBackward2")

    def exp(self) -> Tensor:
        """Elementwise e**x."""
        out = np.exp(self.data)
        return _from_op(out, (self,), lambda g: (g * out,), "ExpBackward0")

    def log(self) -> Tensor:
        """Elementwise natural logarithm."""
        x = self.data
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.log(x)
        return _from_op(out, (self,), lambda g: (g / x,), "LogBackward0")

    def sqrt(self) -> Tensor:
        """Elementwise square root."""
        with np.errstate(invalid="ignore"):
            out = np.sqrt(self.data)
        return _from_op(out, (self,), lambda g: (g / (2 * out),), "SqrtBackward0")

    def abs(self) -> Tensor:
        """Elementwise absolute value (the gradient at 0 is 0)."""
        x = self.data
        return _from_op(np.abs(x), (self,), lambda g: (g * np.sign(x),), "AbsBackward0")

    # -- clamping and elementwise selection ---------------------------------------------------

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:
        """min(max(self, min), max): each value limited to [min, max] (either may be None; a min
        above max gives max, as in PyTorch). min and max are numbers or tensors (broadcast)."""
        if min is None and max is None:
            raise ValueError("Tensor.clamp: at least one of min and max must not be None")
        bounds = (min, max)
        for name, bound in zip(("min", "max"), bounds, strict=True):
            if bound is not None and not isinstance(bound, (Tensor, numbers.Real)):
                raise TypeError(
                    f"Tensor.clamp: {name} must be a number, a Tensor or None, got "
                    f"{type(bound).__name__}"
                )
        x = self.data
        low, high = (b.data if isinstance(b, Tensor) else b for b in bounds)
        out = x if low is None else _arith("clamp", np.maximum, x, low)
        if high is not None:
            out = _arith("clamp", np.minimum, out, high)
        if out is x:
            out = x.copy()
        low_t, high_t = (b if isinstance(b, Tensor) else None for b in bounds)

        def backward(g: np.ndarray) -> tuple[np.ndarray | None, ...]:
            # PyTorch's subgradients (FunctionsManual.cpp, clamp_backward and _min_max): the
            # input's where low <= x <= high; a bound's where x is beyond it, and with both
            # bounds, where min < max (min's) or max < min (max's: a crossed pair gives max).
            zero = np.zeros((), g.dtype)
            grad_x = grad_low = grad_high = None
            if self.requires_grad:
                inside = (
                    x <= high if low is None else x >= low if high is None
                    else (x >= low) & (x <= high)
                )  # fmt: skip
                grad_x = _unbroadcast(np.where(inside, g, zero), x.shape)
            if low_t is not None and low_t.requires_grad:
                below = x < low if high is None else (x < low) & (low < high)
                grad_low = _unbroadcast(np.where(below, g, zero), low_t.data.shape)
            if high_t is not None and high_t.requires_grad:
                above = x > high if low is None else (x > high) | (high < low)
                grad_high = _unbroadcast(np.where(above, g, zero), high_t.data.shape)
            return grad_x, grad_low, grad_high

        name = "ClampBackward1" if low_t is None and high_t is None else "ClampBackward0"
        return _from_op(out, (self, low_t, high_t), backward, name)

    clip = clamp

    def where(self, condition: Any, other: Any) -> Tensor:
        """`odyssey.where(condition, self, other)`."""
        return where(condition, self, other)

    def maximum(self, other: Tensor) -> Tensor:
        """The elementwise maximum with `other` (broadcast); NaN wins, ties share the gradient."""
        return _extremum(self, other, np.maximum, operator.lt, "maximum", "MaximumBackward0")

    def minimum(self, other: Tensor) -> Tensor:
        """The elementwise minimum with `other` (broadcast); NaN wins, ties share the gradient."""
        return _extremum(self, other, np.minimum, operator.gt, "minimum", "MinimumBackward0")

    # -- matrix product -----------------------------------------------------------------------

    def __matmul__(self, other: Tensor) -> Tensor:
        return self.matmul(other)

    def matmul(self, other: Tensor) -> Tensor:
        """2-D matrix product on the sgemm kernel."""
        if not isinstance(other, Tensor):
            raise TypeError(f"Tensor.matmul: expected a Tensor, got {type(other).__name__}")
        a, b = self.data, other.data
        if a.ndim != 2 or b.ndim != 2:
            raise ValueError(
                f"Tensor.matmul: expected 2-D tensors, got shapes {a.shape} and {b.shape}"
            )
        if a.shape[1] != b.shape[0]:
            raise ValueError(f"Tensor.matmul: shapes {a.shape} and {b.shape} cannot be multiplied")
        if a.dtype != np.float32 or b.dtype != np.float32:
            raise TypeError(f"Tensor.matmul: expected float32 tensors, got {a.dtype} and {b.dtype}")

        def backward(g: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
            grad_a = _kernels.sgemm(g, b, trans_b=True) if self.requires_grad else None
            grad_b = _kernels.sgemm(a, g, trans_a=True) if other.requires_grad else None
            return grad_a, grad_b

        return _from_op(_kernels.sgemm(a, b), (self, other), backward, "MmBackward0")

    # -- reductions ---------------------------------------------------------------------------

    def sum(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """The sum over ``dim`` (one or several), or over everything when None."""
        x_shape = self.data.shape
        axes = _dims(dim, self.data.ndim, "Tensor.sum")
        out = np.asarray(self.data.sum(axis=axes, keepdims=keepdim))

        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            if axes is not None and not keepdim:
                g = np.expand_dims(g, axes)
            return (_contiguous(np.broadcast_to(g, x_shape)),)

        return _from_op(out, (self,), backward, "SumBackward0" if dim is None else "SumBackward1")

    def mean(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """The mean over `dim` (all dims by default); NaN over an empty set, as in PyTorch."""
        x_shape = self.data.shape
        axes = _dims(dim, self.data.ndim, "Tensor.mean")
        count = self.data.size if axes is None else math.prod(x_shape[a] for a in axes)
        scale = np.float32(1.0 / count) if count else np.float32(np.nan)
        # The sum times 1 / count in float32: the values of sum(dim) * (1 / count), bit for bit.
        out = _arith(
            "mean", operator.mul, np.asarray(self.data.sum(axis=axes, keepdims=keepdim)), scale
        )

        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            g = g * scale
            if axes is not None and not keepdim:
                g = np.expand_dims(g, axes)
            return (_contiguous(np.broadcast_to(g, x_shape)),)

        return _from_op(out, (self,), backward, "MeanBackward0" if dim is None else "MeanBackward1")

    def max(self, dim: int | None = None, keepdim: bool = False) -> Tensor | MaxResult:
        """The maximum (gradient shared among ties), or (values, indices) along `dim`."""
        x = self.data
        if x.ndim == 0 and dim is not None:
            _normalize_dim(dim, 0, "Tensor.max")
            return self.reshape(1).max(0, keepdim=False)
        if dim is None:
            _check_not_empty(x, "Tensor.max", RuntimeError)
            out = np.asarray(x.max())
            ties = x == out

            def backward_all(g: np.ndarray) -> tuple[np.ndarray]:
                return ((ties * (g / ties.sum())).astype(x.dtype),)

            return _from_op(out, (self,), backward_all, "MaxBackward1")
        axis = _reduction_axis(x, dim, "Tensor.max")
        indices = np.expand_dims(x.argmax(axis=axis), axis)
        # take_along_axis and put_along_axis build an index as long as each dim: an empty tensor
        # of shape (3, 0, 2**31) must not cost 2**31 of them.
        if x.size:
            values = np.take_along_axis(x, indices, axis=axis)
        else:
            values = np.empty(indices.shape, x.dtype)

        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            grad = np.zeros_like(x)
            if x.size:
                g = g if keepdim else np.expand_dims(g, axis)
                np.put_along_axis(grad, indices, g, axis=axis)
            return (grad,)

        if not keepdim:
            values = values.squeeze(axis)
        result = _from_op(_contiguous(values), (self,), backward, "MaxBackward0")
        index_data = indices if keepdim else indices.squeeze(axis)
        return MaxResult(result, _wrap(_contiguous(index_data, dtype=_I64)))

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        """Index of the largest value over ``dim``, or of the flattened tensor when None (int64)."""
        x = self.data
        if x.ndim == 0 and dim is not None:
            _normalize_dim(dim, 0, "Tensor.argmax")
            return self.reshape(1).argmax(0)
        if dim is None:
            _check_not_empty(x, "Tensor.argmax", IndexError)
            return _wrap(np.asarray(x.argmax(), dtype=_I64))
        axis = _reduction_axis(x, dim, "Tensor.argmax")
        out = x.argmax(axis=axis)
        if keepdim:
            out = np.expand_dims(out, axis)
        return _wrap(_contiguous(out, dtype=_I64))

    # -- shape --------------------------------------------------------------------------------

    def reshape(self, *shape: Any) -> Tensor:
        """The same elements in a new shape; one dim may be -1. ``view`` is the same."""
        return self._reshaped(_shape_arg(shape, "Tensor.reshape"))

    def _reshaped(self, new_shape: tuple[int, ...], name: str = "ViewBackward0") -> Tensor:
        """reshape to a tuple of ints (flatten, squeeze and unsqueeze build theirs from the
        shape, so they skip reshape's argument parsing), recorded under PyTorch's `name`."""
        x_shape = self.data.shape
        try:
            out = self.data.reshape(new_shape)
        except ValueError:
            raise ValueError(
                f"Tensor.reshape: shape {new_shape} is invalid for a tensor of shape {x_shape}"
            ) from None
        return _from_op(out, (self,), lambda g: (g.reshape(x_shape),), name)

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """The dims from ``start_dim`` to ``end_dim`` merged into one."""
        shape = self.data.shape
        if not shape:
            return self.reshape(1)
        start = _normalize_dim(start_dim, len(shape), "Tensor.flatten", "start_dim")
        end = _normalize_dim(end_dim, len(shape), "Tensor.flatten", "end_dim")
        if start > end:
            raise ValueError(f"Tensor.flatten: start_dim {start_dim} comes after end_dim {end_dim}")
        middle = math.prod(shape[start : end + 1])
        return self._reshaped((*shape[:start], middle, *shape[end + 1 :]))

    def unsqueeze(self, dim: int) -> Tensor:
        """A new axis of size 1 at `dim` (counted in the result, as in PyTorch)."""
        dim = _normalize_dim(dim, self.data.ndim + 1, "Tensor.unsqueeze")
        shape = self.data.shape
        return self._reshaped((*shape[:dim], 1, *shape[dim:]), "UnsqueezeBackward0")

    def squeeze(self, dim: int | None = None) -> Tensor:
        """Drops axes of size 1: all of them, or `dim` if it has size 1."""
        shape = self.data.shape
        if dim is None:
            return self._reshaped(tuple(size for size in shape if size != 1), "SqueezeBackward0")
        axis = _normalize_dim(dim, self.data.ndim, "Tensor.squeeze")
        if shape and shape[axis] == 1:
            shape = shape[:axis] + shape[axis + 1 :]
        return self._reshaped(shape, "SqueezeBackward1")

    def expand(self, *sizes: Any) -> Tensor:
        """The tensor repeated along its size-1 dims (and new leading ones) to `sizes`; -1 keeps
        a dim's size. The gradient sums over the repeats."""
        target = _shape_arg(sizes, "Tensor.expand")
        x_shape = self.data.shape
        lead = len(target) - len(x_shape)
        if lead < 0:
            raise ValueError(
                f"Tensor.expand: {len(target)} sizes {target} for a tensor of {len(x_shape)} dims "
                f"{x_shape}; at least as many sizes as dims are needed"
            )
        shape = []
        for i, size in enumerate(target):
            if i < lead:
                if size < 0:
                    raise ValueError(
                        f"Tensor.expand: size {size} is not allowed for the new leading dim {i} "
                        f"(sizes {target})"
                    )
            elif size == -1:
                size = x_shape[i - lead]
            elif x_shape[i - lead] != 1 and size != x_shape[i - lead]:
                raise ValueError(
                    f"Tensor.expand: size {size} at dim {i} must match the existing size "
                    f"{x_shape[i - lead]} of the tensor of shape {x_shape} (sizes {target})"
                )
            shape.append(size)
        out = _contiguous(np.broadcast_to(self.data, tuple(shape)))
        return _from_op(out, (self,), lambda g: (_unbroadcast(g, x_shape),), "ExpandBackward0")

    def expand_as(self, other: Tensor) -> Tensor:
        """self.expand(other.shape)."""
        if not isinstance(other, Tensor):
            raise TypeError(f"Tensor.expand_as: other must be a Tensor, got {type(other).__name__}")
        return self.expand(other.data.shape)

    def clone(self) -> Tensor:
        """A copy of the values that stays in the graph (gradients flow back unchanged)."""
        return _from_op(self.data.copy(), (self,), lambda g: (g,), "CloneBackward0")

    def permute(self, *dims: Any) -> Tensor:
        """The dims reordered as ``dims`` (a view of the same data)."""
        order = _shape_arg(dims, "Tensor.permute", "dims")
        ndim = self.data.ndim
        if sorted(d % max(ndim, 1) for d in order) != list(range(ndim)) or len(order) != ndim:
            raise ValueError(
                f"Tensor.permute: {order} is not a permutation of the dims of {self.shape}"
            )
        return self._permuted(tuple(d % ndim for d in order), "PermuteBackward0")

    def _permuted(self, order: tuple[int, ...], name: str) -> Tensor:
        """The dims in `order` (a checked permutation), recorded under PyTorch's `name`."""
        inverse = tuple(int(i) for i in np.argsort(order))
        out = _contiguous(self.data.transpose(order))
        return _from_op(out, (self,), lambda g: (_contiguous(g.transpose(inverse)),), name)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        """The tensor with dims ``dim0`` and ``dim1`` swapped."""
        ndim = self.data.ndim
        a = _normalize_dim(dim0, ndim, "Tensor.transpose", "dim0")
        b = _normalize_dim(dim1, ndim, "Tensor.transpose", "dim1")
        order = list(range(ndim))
        if ndim:  # a 0-d tensor accepts dims 0 and -1, which name nothing to swap
            order[a], order[b] = order[b], order[a]
        return self._permuted(tuple(order), "TransposeBackward0")

    def t(self) -> Tensor:
        """The transpose of a 2-D tensor; a 0-d or 1-D tensor as it is (PyTorch's t())."""
        ndim = self.data.ndim
        if ndim > 2:
            raise ValueError(
                f"Tensor.t: expects a tensor of at most 2 dims, got shape {self.data.shape}"
            )
        return self._permuted(tuple(range(ndim))[::-1], "TBackward0")

    def split(self, split_size: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
        """`odyssey.split(self, split_size, dim)`: pieces of split_size, or of the listed sizes."""
        return split(self, split_size, dim)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        """`odyssey.chunk(self, chunks, dim)`."""
        return chunk(self, chunks, dim)

    def gather(self, dim: int, index: Tensor) -> Tensor:
        """`odyssey.gather(self, dim, index)`."""
        return gather(self, dim, index)

    def __getitem__(self, index: Any) -> Tensor:
        """Basic and integer-array indexing; repeated indices accumulate their gradients."""
        if isinstance(index, Tensor):
            index = index.data
        elif isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        x = self.data
        try:
            out = _contiguous(x[index])
        except (IndexError, TypeError, ValueError, OverflowError) as error:
            raise _named(error, "Tensor.__getitem__") from None
        parts = index if isinstance(index, tuple) else (index,)
        advanced = any(isinstance(i, (np.ndarray, list)) for i in parts)

        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            grad = np.zeros_like(x)
            if advanced:
                np.add.at(grad, index, g)
            else:
                grad[index] = g
            return (grad,)

        # PyTorch's name for the first step of the indexing it records.
        if advanced:
            name = "IndexBackward0"
        elif parts and _is_int(parts[0]):
            name = "SelectBackward0"
        elif parts and parts[0] is None:
            name = "UnsqueezeBackward0"
        elif parts and parts[0] is Ellipsis and len(parts) == 1:
            name = "AliasBackward0"
        else:
            name = "SliceBackward0"
        return _from_op(out, (self,), backward, name)

    # -- dtype --------------------------------------------------------------------------------

    def to(self, *args: Any, dtype: Any = None, copy: bool = False) -> Tensor:
        """The tensor with `dtype` (a dtype, or another tensor's), in the graph when both dtypes
        are floating-point; self when nothing changes and `copy` is False. A device argument
        may only be "cpu", the one device there is."""
        for arg in args:
            if isinstance(arg, Tensor):
                dtype = arg.dtype
            elif isinstance(arg, str) and arg != "cpu":
                raise ValueError(f"Tensor.to: device {arg!r} is not available; only 'cpu' is")
            elif not isinstance(arg, str):
                dtype = arg
        target = self.data.dtype if dtype is None else _dtype_arg(dtype, "Tensor.to")
        if target == self.data.dtype and not copy:
            return self
        if target.kind not in "fiub":
            raise TypeError(f"Tensor.to: dtype {target} is not supported")
        out = self.data.astype(target)
        if target.kind != "f":  # integers and bools have no gradient
            return _wrap(out)
        return _from_op(out, (self,), lambda g: (g,), "ToCopyBackward0")

    # -- comparisons (no gradient) ------------------------------------------------------------

    def __lt__(self, other: Any) -> Tensor:
        return _wrap(np.asarray(self.data < _value(other)))

    def __le__(self, other: Any) -> Tensor:
        return _wrap(np.asarray(self.data <= _value(other)))

    def __gt__(self, other: Any) -> Tensor:
        return _wrap(np.asarray(self.data > _value(other)))

    def __ge__(self, other: Any) -> Tensor:
        return _wrap(np.asarray(self.data >= _value(other)))

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _wrap(np.asarray(self.data == _value(other)))

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _wrap(np.asarray(self.data != _value(other)))


class MaxResult(NamedTuple):
    """`Tensor.max(dim)`: the maxima (differentiable) and their int64 indices."""

    values: Tensor
    indices: Tensor


def _check_not_empty(x: np.ndarray, op: str, error: type[Exception]) -> None:
    """No maximum of nothing: `error` is the type PyTorch raises for `op`."""
    if x.size == 0:
        raise error(
            f"{op}: the tensor of shape {x.shape} is empty; reduce along a dim of nonzero size"
        )


def _reduction_axis(x: np.ndarray, dim: Any, op: str) -> int:
    """The axis `dim` names, which must not be empty (there is no maximum of nothing)."""
    axis = _normalize_dim(dim, x.ndim, op)
    if x.ndim and x.shape[axis] == 0:
        raise IndexError(f"{op}: dim {dim} of the tensor of shape {x.shape} has size 0")
    return axis


def _value(other: Any) -> Any:
    return other.data if isinstance(other, Tensor) else other


def _named(error: Exception, prefix: str) -> Exception:
    """NumPy's error under `prefix`, as a plain TypeError, IndexError, OverflowError or ValueError:
    NumPy's own subclasses of these take other constructor arguments."""
    kinds = (TypeError, IndexError, OverflowError, ValueError)
    kind = next(k for k in kinds if isinstance(error, k))
    return kind(f"{prefix}: {error}")


def _arith(name: str, op: Callable[[Any, Any], Any], a: Any, b: Any) -> np.ndarray:
    """op(a, b) through _arith_result, with NumPy's refusals (shapes that do not broadcast,
    operands of no numeric type) named as the Tensor operation the user called."""
    try:
        out = op(a, b)
    except (TypeError, ValueError, OverflowError) as error:
        raise _named(error, f"Tensor.{name}") from None
    return _arith_result(out)


def _arith_result(out: Any) -> np.ndarray:
    """A 0-d NumPy result comes back as a scalar: keep it an array; float64 operands (a NumPy
    array of doubles) do not turn the float32 library's results into doubles."""
    out = out if isinstance(out, np.ndarray) else np.asarray(out)
    return out.astype(_F32) if out.dtype == np.float64 else out


def _accumulate(leaf: Tensor, grad: np.ndarray, owned: bool) -> None:
    """Adds grad into leaf.grad; the first gradient is kept as is when nothing else holds it."""
    accumulated = leaf._grad
    if accumulated is None:
        data = grad if owned and grad.flags.c_contiguous else np.array(grad, order="C")
        dtype = leaf.data.dtype
        if data.dtype is not dtype:
            data = data.astype(dtype, copy=False)
        leaf._grad = _wrap(data)
    else:
        accumulated.data += grad


def _reverse_topological(root: Node) -> list[Node]:
    """Nodes reachable from root, each before the nodes it depends on (iterative DFS)."""
    order: list[Node] = []
    visited: set[Node] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        if finished:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        for parent in node.parents:
            if parent is not None and parent._node is not None and parent._node not in visited:
                stack.append((parent._node, False))
    order.reverse()
    return order


# -- functions of tensors ---------------------------------------------------------------------


def _extremum(
    a: Tensor,
    b: Any,
    pick: Callable[..., np.ndarray],
    loses: Callable[..., Any],
    fn: str,
    name: str,
) -> Tensor:
    """maximum or minimum: `pick` the values; each input's gradient is g where it won, g / 2 at
    a tie and 0 where `loses(its value, the other's)` (PyTorch's rule; NaN wins)."""
    if not isinstance(b, Tensor):
        raise TypeError(f"{fn}: other must be a Tensor, got {type(b).__name__}")
    a_data, b_data = a.data, b.data
    out = _arith(fn, pick, a_data, b_data)

    def backward(g: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        shared = np.where(a_data == b_data, g / 2, g)
        zero = np.zeros((), g.dtype)
        grad_a = grad_b = None
        if a.requires_grad:
            grad_a = _unbroadcast(np.where(loses(a_data, b_data), zero, shared), a_data.shape)
        if b.requires_grad:
            grad_b = _unbroadcast(np.where(loses(b_data, a_data), zero, shared), b_data.shape)
        return grad_a, grad_b

    return _from_op(out, (a, b), backward, name)


def maximum(input: Tensor, other: Tensor) -> Tensor:
    """The elementwise maximum of two tensors (broadcast); NaN wins, ties share the gradient."""
    _check_tensor(input, "maximum", "input")
    return input.maximum(other)


def minimum(input: Tensor, other: Tensor) -> Tensor:
    """The elementwise minimum of two tensors (broadcast); NaN wins, ties share the gradient."""
    _check_tensor(input, "minimum", "input")
    return input.minimum(other)


def clamp(input: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """`input.clamp(min, max)`: each value limited to [min, max]."""
    _check_tensor(input, "clamp", "input")
    return input.clamp(min, max)


clip = clamp


def where(condition: Any, input: Any, other: Any) -> Tensor:
    """input where condition holds, other elsewhere (all three broadcast); input and other are
    tensors or numbers, condition a bool tensor. Each gradient flows where its value was taken."""
    cond = condition.data if isinstance(condition, Tensor) else condition
    if not isinstance(cond, np.ndarray) or cond.dtype != np.bool_:
        got = cond.dtype if isinstance(cond, np.ndarray) else type(cond).__name__
        raise TypeError(f"where: condition must be a bool tensor, got {got}")
    a = input if isinstance(input, Tensor) else None
    b = other if isinstance(other, Tensor) else None
    a_data = input.data if a is not None else input
    b_data = other.data if b is not None else other
    try:
        out = _arith_result(np.where(cond, a_data, b_data))
    except (TypeError, ValueError) as error:
        raise _named(error, "where") from None

    def backward(g: np.ndarray) -> tuple[None, np.ndarray | None, np.ndarray | None]:
        zero = np.zeros((), g.dtype)
        grad_a = grad_b = None
        if a is not None and a.requires_grad:
            grad_a = _unbroadcast(np.where(cond, g, zero), a.data.shape)
        if b is not None and b.requires_grad:
            grad_b = _unbroadcast(np.where(cond, zero, g), b.data.shape)
        return None, grad_a, grad_b

    parents = (condition if isinstance(condition, Tensor) else None, a, b)
    return _from_op(out, parents, backward, "WhereBackward0")


def _check_tensor(value: Any, fn: str, name: str) -> None:
    if not isinstance(value, Tensor):
        raise TypeError(f"{fn}: {name} must be a Tensor, got {type(value).__name__}")


def _tensor_list(tensors: Any, fn: str) -> list[Tensor]:
    """A non-empty list or tuple of tensors."""
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(
            f"{fn}: tensors must be a list or tuple of Tensors, got {type(tensors).__name__}"
        )
    if not tensors:
        raise ValueError(f"{fn}: expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{fn}: tensors[{i}] must be a Tensor, got {type(t).__name__}")
    return list(tensors)


def _promoted(arrays: Sequence[np.ndarray]) -> np.dtype:
    """PyTorch's type promotion of tensors: floating point over integers over bool, then the
    widest (float32 with int64 is float32, as in PyTorch, not NumPy's float64)."""
    dtypes = [a.dtype for a in arrays]
    floats = [d for d in dtypes if d.kind == "f"]
    return np.result_type(*(floats or dtypes))


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """The tensors joined along `dim`; their other dims must match. A 1-D empty tensor is
    skipped, as PyTorch does. Each input's gradient is its slice of the output's."""
    tensors = _tensor_list(tensors, "cat")
    arrays = [t.data for t in tensors]
    joined = [i for i, a in enumerate(arrays) if a.shape != (0,)] or [0]
    first = arrays[joined[0]]
    if first.ndim == 0:
        raise ValueError("cat: zero-dimensional tensors cannot be concatenated")
    axis = _normalize_dim(dim, first.ndim, "cat")
    for i in joined:
        shape = arrays[i].shape
        if len(shape) != first.ndim or any(
            d != axis and size != first.shape[d] for d, size in enumerate(shape)
        ):
            raise ValueError(
                f"cat: tensors must match in every dim but {axis}: tensors[{joined[0]}] has shape "
                f"{first.shape}, tensors[{i}] has shape {shape}"
            )
    dtype = _promoted(arrays)
    out = np.concatenate([arrays[i] for i in joined], axis=axis, dtype=dtype)
    bounds = np.cumsum([0] + [arrays[i].shape[axis] for i in joined])

    def backward(g: np.ndarray) -> list[np.ndarray | None]:
        grads: list[np.ndarray | None] = [None] * len(tensors)
        for i, start, stop in zip(joined, bounds[:-1], bounds[1:], strict=True):
            if tensors[i].requires_grad:
                grads[i] = _contiguous(g[(slice(None),) * axis + (slice(start, stop),)])
        return grads

    return _from_op(out, tuple(tensors), backward, "CatBackward0")


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """The tensors, all of one shape, joined along a new dim `dim`."""
    tensors = _tensor_list(tensors, "stack")
    arrays = [t.data for t in tensors]
    shape = arrays[0].shape
    for i, a in enumerate(arrays):
        if a.shape != shape:
            raise ValueError(
                f"stack: tensors must have one shape: tensors[0] has shape {shape}, tensors[{i}] "
                f"has shape {a.shape}"
            )
    axis = _normalize_dim(dim, len(shape) + 1, "stack")
    out = np.stack(arrays, axis=axis, dtype=_promoted(arrays))

    def backward(g: np.ndarray) -> list[np.ndarray | None]:
        lead = (slice(None),) * axis
        return [
            _contiguous(g[(*lead, i)]) if t.requires_grad else None for i, t in enumerate(tensors)
        ]

    return _from_op(out, tuple(tensors), backward, "StackBackward0")


def _pieces(input: Tensor, sizes: list[int], axis: int, name: str) -> tuple[Tensor, ...]:
    """input cut along `axis` into pieces of `sizes` (summing to its size there)."""
    x = input.data
    lead = (slice(None),) * axis
    pieces = []
    start = 0
    for size in sizes:
        region = (*lead, slice(start, start + size))

        def backward(g: np.ndarray, region: tuple[slice, ...] = region) -> tuple[np.ndarray]:
            grad = np.zeros_like(x)
            grad[region] = g
            return (grad,)

        pieces.append(_from_op(_contiguous(x[region]), (input,), backward, name))
        start += size
    return tuple(pieces)


def split(
    tensor: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0
) -> tuple[Tensor, ...]:
    """Pieces of `tensor` along `dim`: of split_size_or_sections each (the last one smaller if
    the size does not divide), or of the listed sizes, which must add up to the dim's size."""
    _check_tensor(tensor, "split", "tensor")
    x = tensor.data
    if x.ndim == 0:
        raise ValueError("split: a 0-d tensor has no dim to split")
    axis = _normalize_dim(dim, x.ndim, "split")
    length = x.shape[axis]
    if _is_int(split_size_or_sections):
        size = int(split_size_or_sections)
        if size < 0 or (size == 0 and length != 0):
            raise ValueError(
                f"split: split_size must be > 0 (0 only for a dim of size 0), got {size} for dim "
                f"{axis} of size {length}"
            )
        sizes = [min(size, length - start) for start in range(0, length, size)] if size else [0]
        return _pieces(tensor, sizes, axis, "SplitBackward0")
    if not isinstance(split_size_or_sections, (list, tuple)) or not all(
        _is_int(s) and s >= 0 for s in split_size_or_sections
    ):
        raise TypeError(
            f"split: split_size_or_sections must be an int or a list of ints >= 0, got "
            f"{split_size_or_sections!r}"
        )
    sizes = [int(s) for s in split_size_or_sections]
    if sum(sizes) != length:
        raise ValueError(
            f"split: sizes {sizes} must add up to {length}, the size of dim {axis} of the tensor "
            f"of shape {x.shape}"
        )
    return _pieces(tensor, sizes, axis, "SplitWithSizesBackward0")


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """`input` split along `dim` into pieces of ceil(size / chunks) (fewer pieces than `chunks`
    when the size runs out first, as in PyTorch)."""
    _check_tensor(input, "chunk", "input")
    if not _is_int(chunks) or chunks < 1:
        raise ValueError(f"chunk: chunks must be an int >= 1, got {chunks!r}")
    x = input.data
    if x.ndim == 0:
        raise ValueError("chunk: a 0-d tensor has no dim to split")
    axis = _normalize_dim(dim, x.ndim, "chunk")
    length = x.shape[axis]
    if length == 0:
        return _pieces(input, [0] * int(chunks), axis, "SplitBackward0")
    return split(input, -(-length // int(chunks)), axis)


def gather(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """`out[i][j][k] = input[index[i][j][k]][j][k]` for dim 0 (and so on): values picked along
    `dim` by an int64 `index` of input's ndim, no larger than input in the other dims. Repeated
    indices accumulate their gradients."""
    _check_tensor(input, "gather", "input")
    _check_tensor(index, "gather", "index")
    x, idx = input.data, index.data
    if idx.dtype.kind not in "iu":
        raise TypeError(f"gather: index must be an int64 tensor, got {idx.dtype}")
    if idx.ndim != x.ndim:
        raise ValueError(
            f"gather: index of shape {idx.shape} must have as many dims as input {x.shape}"
        )
    axis = _normalize_dim(dim, x.ndim, "gather")
    x_nd = x.reshape(x.shape or (1,))  # a 0-d tensor as one of 1 value
    idx_nd = idx.reshape(idx.shape or (1,))
    for d, (size, limit) in enumerate(zip(idx_nd.shape, x_nd.shape, strict=True)):
        if d != axis and size > limit:
            raise ValueError(
                f"gather: index of shape {idx.shape} is larger than input {x.shape} in dim {d}"
            )
    if idx.size and (idx.min() < 0 or idx.max() >= x_nd.shape[axis]):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise IndexError(
            f"gather: index {bad} is out of bounds for dim {axis} of size {x_nd.shape[axis]}"
        )
    window = tuple(slice(None) if d == axis else slice(0, s) for d, s in enumerate(idx_nd.shape))
    out = np.take_along_axis(x_nd[window], idx_nd, axis=axis).reshape(idx.shape)

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        grad = np.zeros_like(x_nd)
        positions = [
            np.arange(s).reshape([-1 if i == d else 1 for i in range(idx_nd.ndim)])
            for d, s in enumerate(idx_nd.shape)
        ]
        positions[axis] = idx_nd
        np.add.at(grad, tuple(positions), g.reshape(idx_nd.shape))
        return (grad.reshape(x.shape),)

    return _from_op(_contiguous(out), (input,), backward, "GatherBackward0")


# -- factories --------------------------------------------------------------------------------


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A tensor holding a copy of `data`: float32 by default, int64 for integer data."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing `array` (float32, int64 or bool, C-contiguous) without copying it."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected an ndarray, got {type(array).__name__}")
    if array.dtype not in (_F32, _I64, np.dtype(np.bool_)):
        raise TypeError(
            f"from_numpy: the array of shape {array.shape} is {array.dtype}; float32, int64 or "
            "bool is shared as is (odyssey.tensor converts other dtypes with a copy)"
        )
    if not array.flags.c_contiguous:
        raise ValueError(
            f"from_numpy: the array of shape {array.shape} with strides {array.strides} is not "
            "C-contiguous (odyssey.tensor copies it into a contiguous one)"
        )
    return _wrap(array)


def _check_can_require_grad(data: np.ndarray, op: str) -> None:
    """TypeError naming `op` unless `data` is floating-point: only such tensors take gradients."""
    if data.dtype.kind != "f":
        raise TypeError(
            f"{op}: only floating-point tensors can require gradients, not {data.dtype}"
        )


def _factory(
    fill: Callable[[tuple[int, ...], np.dtype], np.ndarray],
    shape: tuple[Any, ...],
    dtype: Any,
    requires_grad: bool,
    op: str,
) -> Tensor:
    sizes = _shape_arg(shape, op)
    if any(size < 0 for size in sizes):
        raise ValueError(f"{op}: sizes must be >= 0, got {sizes}")
    dtype = _dtype_arg(dtype if dtype is not None else _F32, op)
    try:
        out = _wrap(fill(sizes, dtype))
    except ValueError as error:  # more bytes than an address space holds
        raise ValueError(f"{op}: cannot make a tensor of shape {sizes}: {error}") from None
    if requires_grad:
        _check_can_require_grad(out.data, op)
        out.requires_grad = True
    return out


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: float32 unless `dtype` says otherwise."""
    return _factory(np.zeros, shape, dtype, requires_grad, "zeros")


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones: float32 unless `dtype` says otherwise."""
    return _factory(np.ones, shape, dtype, requires_grad, "ones")


def randn(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal draws from the generator that `odyssey.manual_seed` seeds."""
    return _factory(
        lambda s, d: generator().standard_normal(s, dtype=np.float32).astype(d, copy=False),
        shape,
        dtype,
        requires_grad,
        "randn",
    )


def zeros_like(other: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape (and, unless ``dtype`` is given, the dtype) of ``other``."""
    return zeros(
        other.shape, dtype=dtype if dtype is not None else other.dtype, requires_grad=requires_grad
    )


def ones_like(other: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with the shape (and, unless ``dtype`` is given, the dtype) of ``other``."""
    return ones(
        other.shape, dtype=dtype if dtype is not None else other.dtype, requires_grad=requires_grad
    )


def full(size: Any, fill_value: Any, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of `size` filled with `fill_value`; its dtype by default follows the value's:
    bool, int64 for an integer, float32 for a real number (as in PyTorch)."""
    return _full(size, fill_value, dtype, requires_grad, "full")


def _full(size: Any, fill_value: Any, dtype: Any, requires_grad: bool, op: str) -> Tensor:
    """full and full_like, their errors naming `op`."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if not isinstance(fill_value, (numbers.Real, np.bool_)):
        raise TypeError(f"{op}: fill_value must be a number, got {type(fill_value).__name__}")
    if dtype is None:
        if isinstance(fill_value, (bool, np.bool_)):
            dtype = np.bool_
        elif _is_int(fill_value):
            dtype = _I64
    sizes = size if isinstance(size, (tuple, list)) else (size,)
    try:
        return _factory(
            lambda s, d: np.full(s, fill_value, dtype=d), (tuple(sizes),), dtype, requires_grad, op
        )
    except OverflowError:
        target = _dtype_arg(dtype if dtype is not None else _F32, op)
        raise OverflowError(f"{op}: fill_value {fill_value} does not fit dtype {target}") from None


def full_like(
    input: Tensor, fill_value: Any, *, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """A tensor of input's shape (and dtype, unless `dtype` says otherwise) of `fill_value`."""
    _check_tensor(input, "full_like", "input")
    dtype = dtype if dtype is not None else input.data.dtype
    return _full(input.data.shape, fill_value, dtype, requires_grad, "full_like")


def arange(
    start: Any,
    end: Any = None,
    step: Any = 1,
    *,
    dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """start, start + step, ... up to end (exclusive); arange(end) starts at 0. int64 when every
    argument is an integer, float32 otherwise; each value is computed as start + i * step in
    double precision, as PyTorch does, then rounded to the dtype."""
    if end is None:
        start, end = 0, start
    for name, value in (("start", start), ("end", end), ("step", step)):
        if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
            raise TypeError(f"arange: {name} must be a number, got {type(value).__name__}")
        if not math.isfinite(value):
            raise ValueError(f"arange: {name} must be finite, got {value}")
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise ValueError(
            f"arange: the step {step} points away from end {end} (start {start}): the signs of "
            "step and end - start must agree"
        )
    integral = all(_is_int(v) for v in (start, end, step))
    if dtype is None:
        dtype = _I64 if integral else _F32
    count = -((start - end) // step) if integral else math.ceil((end - start) / step)

    def fill(sizes: tuple[int, ...], d: np.dtype) -> np.ndarray:
        if integral and d.kind in "iu":
            return np.arange(start, end, step, dtype=d)
        return (float(start) + np.arange(count, dtype=np.float64) * float(step)).astype(d)

    return _factory(fill, (count,), dtype, requires_grad, "arange")
