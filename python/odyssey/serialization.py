"""`odyssey.save` / `odyssey.load`: weights as safetensors files, the format the field shares.

A file written here loads in PyTorch with ``safetensors.torch.load_file`` and a PyTorch state
dict saved with ``safetensors.torch.save_file`` loads here: safetensors holds only named arrays
and a str -> str metadata header, never pickled code. Files are written atomically, and
odyssey's own files carry a SHA-256 of their tensors in the metadata so that a flipped byte is
an error rather than silently wrong weights.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import safetensors.numpy

from odyssey._atomic import remove_stale_temporaries, write_bytes_atomic
from odyssey.tensor import Tensor

# Metadata keys that odyssey writes; `odyssey.save` refuses them in a user's metadata.
DIGEST_KEY = "odyssey.sha256"
CHECKPOINT_KEY = "odyssey.checkpoint"
RESERVED_PREFIX = "odyssey."
MODEL_PREFIX = "model."

# The NumPy dtypes safetensors stores.
_DTYPES = frozenset(
    np.dtype(name)
    for name in (
        "bool",
        "int8",
        "uint8",
        "int16",
        "uint16",
        "int32",
        "uint32",
        "int64",
        "uint64",
        "float16",
        "float32",
        "float64",
        "complex64",
    )
)


class CheckpointError(ValueError):
    """A weights or checkpoint file that is truncated, corrupt or does not fit what it is loaded
    into; the message names the file and what is wrong."""


def _as_array(who: str, key: Any, value: Any) -> np.ndarray:
    if not isinstance(key, str):
        raise TypeError(f"{who}: state_dict keys must be str, got {key!r} ({type(key).__name__})")
    if key == "__metadata__":
        raise ValueError(f"{who}: the key '__metadata__' is reserved by the safetensors format")
    array = value.data if isinstance(value, Tensor) else value
    if not isinstance(array, np.ndarray):
        raise TypeError(
            f"{who}: the value of {key!r} must be a NumPy array or an odyssey Tensor, got "
            f"{type(value).__name__}"
        )
    native = array.dtype.newbyteorder("=")
    if native not in _DTYPES:
        supported = ", ".join(sorted(str(dtype) for dtype in _DTYPES))
        raise TypeError(
            f"{who}: the value of {key!r} has dtype {array.dtype}, which safetensors cannot "
            f"store (supported: {supported})"
        )
    # safetensors reads the raw buffer: a C-contiguous copy in native byte order (snapshot).
    return np.array(array, dtype=native, order="C", copy=True)


def to_arrays(who: str, state_dict: Any) -> dict[str, np.ndarray]:
    """Checked, contiguous copies of a mapping of names to arrays or Tensors."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            f"{who}: state_dict must be a mapping of str to arrays or Tensors, got "
            f"{type(state_dict).__name__}"
        )
    return {key: _as_array(who, key, value) for key, value in state_dict.items()}


def digest(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 of the names, dtypes, shapes and bytes of `arrays`, independent of their order."""
    sha = hashlib.sha256()
    for key in sorted(arrays):
        array = np.ascontiguousarray(arrays[key])
        header = f"{key}\0{array.dtype.newbyteorder('<').str}\0{array.shape}\0"
        sha.update(header.encode())
        sha.update(array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes())
    return sha.hexdigest()


def write_file(path: str | os.PathLike[str], arrays: dict[str, np.ndarray], metadata: dict) -> None:
    """Writes `arrays` and `metadata` (plus the digest) as one safetensors file, atomically."""
    data = safetensors.numpy.save(arrays, metadata={**metadata, DIGEST_KEY: digest(arrays)})
    remove_stale_temporaries(path)
    write_bytes_atomic(path, data)


def save(
    state_dict: Mapping[str, np.ndarray | Tensor],
    path: str | os.PathLike[str],
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Saves named arrays (a `Module.state_dict()`) as a safetensors file, atomically.

    `metadata` is free text (str -> str) stored in the file's header.
    """
    who = "odyssey.save"
    arrays = to_arrays(who, state_dict)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{who}: path must be a str or os.PathLike, got {type(path).__name__}")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, Mapping):
        raise TypeError(f"{who}: metadata must be a mapping of str to str or None")
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(
                f"{who}: metadata must map str to str, got {key!r}: {value!r} "
                f"({type(key).__name__}: {type(value).__name__})"
            )
        if key.startswith(RESERVED_PREFIX):
            raise ValueError(f"{who}: metadata keys starting with 'odyssey.' are reserved: {key!r}")
    write_file(path, arrays, dict(metadata))


def _missing(who: str, path: Path) -> FileNotFoundError:
    return FileNotFoundError(2, f"{who}: no such file", str(path))


def open_file(who: str, path: str | os.PathLike[str]) -> tuple[Path, Any]:
    """The checked path and an open `safe_open` handle; clear errors for what is not a
    safetensors file."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{who}: path must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    if not path.exists():
        raise _missing(who, path)
    if path.is_dir():
        raise IsADirectoryError(
            21, f"{who}: expected a .safetensors file, got a directory", str(path)
        )
    try:
        handle = safetensors.safe_open(path, framework="numpy")
    except FileNotFoundError:
        raise _missing(who, path) from None
    except Exception as error:  # SafetensorError and what the header parser raises
        with open(path, "rb") as file:
            start = file.read(2)
        hint = "truncated or corrupt?"
        if start in (b"PK", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"):
            hint = (
                "it looks like a torch.save or pickle file, which odyssey never loads (pickle "
                "can run code): save the state dict with safetensors.torch.save_file instead"
            )
        raise CheckpointError(
            f"{who}: {path} is not a readable safetensors file ({hint}): {error}"
        ) from None
    return path, handle


def read_file(
    who: str, path: str | os.PathLike[str]
) -> tuple[Path, dict[str, np.ndarray], dict[str, str]]:
    """(path, arrays, metadata) of a safetensors file, the digest checked when it has one."""
    path, handle = open_file(who, path)
    try:
        with handle as file:
            metadata = dict(file.metadata() or {})
            arrays = {key: file.get_tensor(key) for key in file.keys()}  # noqa: SIM118
    except Exception as error:
        raise CheckpointError(f"{who}: {path}: cannot read its tensors: {error}") from None
    expected = metadata.get(DIGEST_KEY)
    if expected is not None and digest(arrays) != expected:
        raise CheckpointError(
            f"{who}: {path} is corrupt: its tensors do not match the SHA-256 recorded when it "
            "was saved"
        )
    return path, arrays, metadata


def load(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Named arrays of a safetensors weights file, or the model part of a Trainer checkpoint.

    Works on files written by `odyssey.save`, `save_checkpoint` and PyTorch's
    ``safetensors.torch.save_file``; the arrays are writable copies.
    """
    who = "odyssey.load"
    path, arrays, metadata = read_file(who, path)
    if CHECKPOINT_KEY in metadata:
        return {
            key[len(MODEL_PREFIX) :]: value
            for key, value in arrays.items()
            if key.startswith(MODEL_PREFIX)
        }
    return arrays


def load_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The str -> str metadata of a safetensors file, without odyssey's own entries."""
    path, handle = open_file("odyssey.serialization.load_metadata", path)
    with handle as file:
        metadata = dict(file.metadata() or {})
    return {k: v for k, v in metadata.items() if not k.startswith(RESERVED_PREFIX)}
