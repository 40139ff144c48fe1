"""Training checkpoints: model, optimizer and the rest of a run's state in ONE safetensors file.

Tensors go in the safetensors body (the model's under ``model.<name>``, the optimizer's arrays
under ``optimizer.state.<index>.<name>``); everything else (optimizer groups and scalar state,
the Trainer's state: epoch, step, schedulers, metrics, RNG, callbacks, config) is JSON in the
``odyssey.checkpoint`` metadata entry. One file means one atomic rename keeps the weights and the
state that goes with them consistent, whatever moment a crash comes. No pickle is involved:
`to_json` encodes what JSON cannot hold exactly (arrays, NumPy scalars, tuples, non-str keys,
big ints, inf/nan) as tagged objects that `from_json` turns back into the same values.

``safetensors.torch.load_file`` reads a checkpoint too: strip ``model.`` from the names to get a
PyTorch state dict.
"""

from __future__ import annotations

import base64
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from odyssey._kernels import __version__
from odyssey.serialization import (
    CHECKPOINT_KEY,
    MODEL_PREFIX,
    CheckpointError,
    read_file,
    to_arrays,
    write_file,
)

FORMAT_VERSION = 1
OPTIMIZER_PREFIX = "optimizer.state."
TAG = "$type"  # marks an object that to_json built for a value JSON has no exact form for
_SAFE_INT = 2**53  # beyond this, many JSON readers round integers to doubles
_SHOWN = 5  # how many differing names an error lists


# -- exact JSON -----------------------------------------------------------------------------------


# Where a value sits, for an error message: "the value", or (where its container sits, a format
# of the key, the key). Kept unformatted: a checkpoint's state has hundreds of values and a
# message is needed only when one cannot be stored.
_Where = Any


def _describe(where: _Where) -> str:
    parts = []
    while not isinstance(where, str):
        where, form, key = where
        parts.append(form.format(key))
    return where + "".join(reversed(parts))


def _array_json(array: np.ndarray, kind: str, where: _Where) -> dict[str, Any]:
    if array.dtype.hasobject or array.dtype.fields is not None or array.dtype.kind in "OVMmUS":
        raise TypeError(
            f"to_json: {_describe(where)} is an array of dtype {array.dtype}, not numbers"
        )
    little = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    encoded = {
        TAG: kind,
        "dtype": little.dtype.str,
        "data": base64.b64encode(little.tobytes()).decode("ascii"),
    }
    if kind == "ndarray":
        encoded["shape"] = list(array.shape)
    return encoded


def _to_json(obj: Any, where: _Where) -> Any:
    kind = type(obj)
    # The exact plain types first (most of a state); subclasses take the general path below.
    if kind is str or kind is bool or obj is None:
        return obj
    if kind is dict:
        if TAG not in obj and all(type(key) is str for key in obj):
            return {key: _to_json(value, (where, "[{!r}]", key)) for key, value in obj.items()}
    elif kind is list:
        return [_to_json(item, (where, "[{}]", i)) for i, item in enumerate(obj)]
    elif (kind is float and math.isfinite(obj)) or (kind is int and -_SAFE_INT <= obj <= _SAFE_INT):
        return obj
    if isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, np.generic):  # before int and float: np.float64 subclasses float
        return _array_json(np.asarray(obj), "scalar", where)
    if isinstance(obj, int):
        value = int(obj)
        return value if -_SAFE_INT <= value <= _SAFE_INT else {TAG: "int", "value": str(value)}
    if isinstance(obj, float):
        value = float(obj)
        return value if math.isfinite(value) else {TAG: "float", "value": repr(value)}
    if isinstance(obj, np.ndarray):
        return _array_json(obj, "ndarray", where)
    if isinstance(obj, (list, tuple)):
        items = [_to_json(item, (where, "[{}]", i)) for i, item in enumerate(obj)]
        return {TAG: "tuple", "items": items} if isinstance(obj, tuple) else items
    if isinstance(obj, Mapping):
        if all(isinstance(key, str) for key in obj) and TAG not in obj:
            return {key: _to_json(value, (where, "[{!r}]", key)) for key, value in obj.items()}
        items = [
            [_to_json(key, (where, " key {!r}", key)), _to_json(value, (where, "[{!r}]", key))]
            for key, value in obj.items()
        ]
        return {TAG: "dict", "items": items}
    raise TypeError(
        f"to_json: {_describe(where)} is a {type(obj).__name__}, which a checkpoint cannot store "
        "(use dicts, lists, tuples, str, int, float, bool, None, NumPy arrays and scalars)"
    )


def to_json(obj: Any) -> Any:
    """A JSON-able structure (strict JSON: no NaN literals) from which `from_json` rebuilds `obj`
    exactly: arrays and NumPy scalars keep dtype, shape and bytes, tuples stay tuples, dict keys
    keep their type, big ints and inf/nan are exact."""
    return _to_json(obj, "the value")


def _from_array_json(obj: dict[str, Any]) -> np.ndarray:
    dtype = np.dtype(obj["dtype"])
    if dtype.hasobject:
        raise ValueError(f"from_json: object dtype {dtype} is not allowed")
    data = base64.b64decode(obj["data"].encode("ascii"), validate=True)
    flat = np.frombuffer(data, dtype=dtype).astype(dtype.newbyteorder("="))
    return flat.reshape([int(n) for n in obj["shape"]]) if obj[TAG] == "ndarray" else flat


def from_json(obj: Any) -> Any:
    """The value `to_json` encoded (ValueError when `obj` is not something it wrote)."""
    if obj is None or isinstance(obj, (bool, str, int, float)):
        return obj
    if isinstance(obj, list):
        return [from_json(item) for item in obj]
    if not isinstance(obj, dict):
        raise ValueError(f"from_json: unexpected {type(obj).__name__} {obj!r}")
    if TAG not in obj:
        return {key: from_json(value) for key, value in obj.items()}
    kind = obj[TAG]
    try:
        if kind == "int":
            return int(obj["value"])
        if kind == "float":
            if obj["value"] not in ("inf", "-inf", "nan"):
                raise ValueError(obj["value"])
            return float(obj["value"])
        if kind == "tuple":
            return tuple(from_json(item) for item in obj["items"])
        if kind == "dict":
            return {from_json(key): from_json(value) for key, value in obj["items"]}
        if kind == "ndarray":
            return _from_array_json(obj)
        if kind == "scalar":
            (value,) = _from_array_json(obj)
            return value
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"from_json: malformed {kind!r} entry {obj!r}: {error}") from None
    raise ValueError(f"from_json: unknown {TAG} {kind!r}")


# -- save -----------------------------------------------------------------------------------------


def _state_dict(who: str, what: str, obj: Any) -> Mapping[str, Any]:
    if what == "model" and isinstance(obj, Mapping):
        return obj  # a state dict itself
    state_dict = getattr(obj, "state_dict", None)
    if not callable(state_dict):
        raise TypeError(
            f"{who}: {what} must have a state_dict() method"
            + (" or be a mapping of names to arrays" if what == "model" else "")
            + f", got {type(obj).__name__}"
        )
    return state_dict()


def checkpoint_contents(
    model: Any, optimizer: Any = None, state: dict[str, Any] | None = None
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The arrays (copies taken now) and metadata of the checkpoint file of `model`'s (a Module or
    a state dict) and `optimizer`'s state dicts and the JSON-able `state`: what
    `serialization.write_file` writes (`save_checkpoint`, or a FileWriter job later)."""
    who = "save_checkpoint"
    if state is not None and not isinstance(state, dict):
        raise TypeError(f"{who}: state must be a dict or None, got {type(state).__name__}")
    model_arrays = to_arrays(f"{who}: model", _state_dict(who, "model", model))
    arrays = {MODEL_PREFIX + name: array for name, array in model_arrays.items()}
    header: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "odyssey_version": __version__,
        "optimizer": None,
        "model_keys": list(model_arrays),  # safetensors sorts names; this keeps their order
    }
    if optimizer is not None:
        saved = _state_dict(who, "optimizer", optimizer)
        scalars: dict[str, dict[str, Any]] = {}
        for index, entry in saved["state"].items():
            scalars[str(int(index))] = {}
            for name, value in entry.items():
                if isinstance(value, np.ndarray) and value.ndim > 0:
                    key = f"{OPTIMIZER_PREFIX}{int(index)}.{name}"
                    arrays.update(to_arrays(f"{who}: optimizer", {key: value}))
                else:
                    scalars[str(int(index))][name] = value
        header["optimizer"] = {
            "class": type(optimizer).__name__,
            "param_groups": saved["param_groups"],
            "state": scalars,
        }
    try:
        header = to_json(header)
        header["state"] = to_json({} if state is None else state)
    except TypeError as error:
        raise TypeError(f"{who}: {error}") from None
    text = json.dumps(header, allow_nan=False, separators=(",", ":"))
    return arrays, {CHECKPOINT_KEY: text}


def save_checkpoint(
    path: str | os.PathLike[str],
    model: Any,
    optimizer: Any = None,
    state: dict[str, Any] | None = None,
) -> Path:
    """Writes `model`'s (a Module or a state dict) and `optimizer`'s state dicts and the
    JSON-able `state` to one safetensors file, atomically; returns its path."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"save_checkpoint: path must be a str or os.PathLike, got {type(path).__name__}"
        )
    arrays, metadata = checkpoint_contents(model, optimizer, state)
    write_file(path, arrays, metadata)
    return Path(path)


# -- load -----------------------------------------------------------------------------------------


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")


@dataclass
class Checkpoint:
    """What `load_checkpoint` read: the model's arrays, the optimizer's state dict (or None),
    the Trainer's `state` and the odyssey version that wrote it."""

    path: Path
    model: dict[str, np.ndarray]
    optimizer: dict[str, Any] | None
    state: dict[str, Any]
    version: str
    optimizer_class: str | None = None
    format_version: int = FORMAT_VERSION

    def _error(self, what: str, who: str = "Checkpoint.restore") -> CheckpointError:
        return CheckpointError(f"{who}: {self.path}: {what}")

    def check_model(self, model: Any, who: str = "Checkpoint.restore") -> dict[str, np.ndarray]:
        """The model's state dict when the checkpoint's arrays fit it exactly, else an error
        listing the missing and unexpected names and the shape or dtype differences (`who`:
        what the message names as failing)."""
        own = {
            name: np.asarray(value)
            for name, value in _state_dict("Checkpoint.restore", "model", model).items()
        }
        missing = [name for name in own if name not in self.model]
        unexpected = [name for name in self.model if name not in own]
        problems = []
        if missing:
            problems.append(f"missing keys (in the model, not the checkpoint): {_names(missing)}")
        if unexpected:
            problems.append(
                f"unexpected keys (in the checkpoint, not the model): {_names(unexpected)}"
            )
        differ = [
            f"{name}: saved {tuple(self.model[name].shape)} {self.model[name].dtype} vs "
            f"expected {tuple(array.shape)} {array.dtype}"
            for name, array in own.items()
            if name in self.model
            and (self.model[name].shape != array.shape or self.model[name].dtype != array.dtype)
        ]
        if differ:
            problems.append(f"shapes or dtypes differ: {_names(differ)}")
        if problems:
            raise self._error("it was saved from another model: " + "; ".join(problems), who)
        return own

    def check_optimizer(self, optimizer: Any, who: str = "Checkpoint.restore") -> None:
        """An error unless the saved optimizer state fits `optimizer`: the same class, the same
        number of groups and of parameters in each, state arrays of the parameters' shapes
        (`who`: what the message names as failing)."""
        if self.optimizer is None:
            raise self._error("it holds no optimizer state, but an optimizer was given", who)
        name = type(optimizer).__name__
        if self.optimizer_class != name:
            raise self._error(
                f"it holds the state of a {self.optimizer_class} optimizer, not {name}",
                who,
            )
        groups = optimizer.param_groups
        saved_groups = self.optimizer["param_groups"]
        if len(saved_groups) != len(groups):
            raise self._error(
                f"its optimizer has {len(saved_groups)} parameter groups, this one {len(groups)}",
                who,
            )
        params = {}
        for number, (group, saved) in enumerate(zip(groups, saved_groups, strict=True)):
            if len(saved["params"]) != len(group["params"]):
                raise self._error(
                    f"optimizer parameter group {number} has {len(saved['params'])} parameters "
                    f"in the checkpoint, {len(group['params'])} here",
                    who,
                )
            params.update(zip((int(i) for i in saved["params"]), group["params"], strict=True))
        for index, entry in self.optimizer["state"].items():
            if index not in params:
                raise self._error(
                    f"optimizer state for parameter {index}, which no group lists", who
                )
            shape = tuple(np.shape(params[index].data))
            for key, value in entry.items():
                if isinstance(value, np.ndarray) and value.ndim > 0 and value.shape != shape:
                    raise self._error(
                        f"optimizer state {key!r} of parameter {index}: saved {value.shape} vs "
                        f"expected {shape}",
                        who,
                    )

    def restore(self, model: Any, optimizer: Any = None) -> None:
        """Loads the weights into `model` and the state into `optimizer` after checking that
        both fit (nothing is changed when they do not)."""
        own = self.check_model(model)
        if optimizer is not None:
            self.check_optimizer(optimizer)
        backup = {name: array.copy() for name, array in own.items()}
        try:
            model.load_state_dict(self.model)
            if optimizer is not None:
                optimizer.load_state_dict(self.optimizer)
        except (TypeError, ValueError) as error:
            model.load_state_dict(backup)  # e.g. an option the optimizer refuses: undo the model
            raise self._error(str(error)) from error


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Reads a checkpoint written by `save_checkpoint` (a clear error for anything else)."""
    who = "load_checkpoint"
    path, arrays, metadata = read_file(who, path)
    if CHECKPOINT_KEY not in metadata:
        raise CheckpointError(
            f"{who}: {path} holds weights only, not a training checkpoint (no "
            f"{CHECKPOINT_KEY!r} metadata); load it with odyssey.load"
        )
    try:
        header = json.loads(metadata[CHECKPOINT_KEY])
        version = int(header["format_version"])
    except (ValueError, TypeError, KeyError) as error:
        raise CheckpointError(
            f"{who}: {path}: its checkpoint metadata is corrupt: {error}"
        ) from None
    library = str(header.get("odyssey_version", "unknown"))
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{who}: {path} has checkpoint format {version}, written by odyssey {library}; this "
            f"odyssey ({__version__}) reads formats up to {FORMAT_VERSION}: upgrade odyssey"
        )
    try:
        state = from_json(header["state"])
        saved = from_json(header["optimizer"])
        model = {
            key[len(MODEL_PREFIX) :]: value
            for key, value in arrays.items()
            if key.startswith(MODEL_PREFIX)
        }
        order = header.get("model_keys")
        if isinstance(order, list) and sorted(order) == sorted(model):
            model = {key: model[key] for key in order}
        optimizer = None
        optimizer_class = None
        if saved is not None:
            optimizer_class = str(saved["class"])
            entries = {int(index): dict(entry) for index, entry in saved["state"].items()}
            for key, value in arrays.items():
                if key.startswith(OPTIMIZER_PREFIX):
                    index, name = key[len(OPTIMIZER_PREFIX) :].split(".", 1)
                    entries.setdefault(int(index), {})[name] = value
            optimizer = {"state": entries, "param_groups": list(saved["param_groups"])}
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise CheckpointError(
            f"{who}: {path}: its checkpoint metadata is corrupt: {error}"
        ) from None
    return Checkpoint(
        path=path,
        model=model,
        optimizer=optimizer,
        state=state,
        version=library,
        optimizer_class=optimizer_class,
        format_version=version,
    )
