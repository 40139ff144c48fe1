"""Read and write IDX files (the MNIST family's format), gzip-compressed or raw.

An IDX file is a big-endian header -- two zero bytes, a dtype code, the number of dimensions, then
one uint32 per dimension -- followed by the items in C order. Reading checks every part of that
and names the file and the problem when something is off, so a truncated download never turns
into silently shorter data.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

__all__ = ["IdxError", "decode_idx", "encode_idx", "read_idx", "write_idx"]

# Type codes of the format (LeCun's MNIST page): the values are big-endian in the file.
DTYPE_BY_CODE: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
CODE_BY_KIND: dict[tuple[str, int], int] = {
    (dtype.kind, dtype.itemsize): code for code, dtype in DTYPE_BY_CODE.items()
}
GZIP_MAGIC = b"\x1f\x8b"
# NumPy's limit on dimensions (NPY_MAXDIMS since NumPy 2.0); the format allows 255.
MAX_DIMS = 64


class IdxError(ValueError):
    """A file is not a well-formed IDX file; the message names the file and the problem."""


def decode_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """The array held by the uncompressed IDX bytes `data`, in native byte order."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"decode_idx: data must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < 4:
        raise IdxError(f"{source}: truncated: {len(data)} bytes, too short for an IDX header")
    if data[0] != 0 or data[1] != 0:
        raise IdxError(
            f"{source}: bad magic number 0x{data[:4].hex()}: an IDX file starts with two zero bytes"
        )
    code, ndim = data[2], data[3]
    if code not in DTYPE_BY_CODE:
        known = ", ".join(f"0x{c:02X}" for c in DTYPE_BY_CODE)
        raise IdxError(f"{source}: unknown dtype code 0x{code:02X} (known: {known})")
    if not 1 <= ndim <= MAX_DIMS:
        raise IdxError(
            f"{source}: wrong dimensions: the header declares {ndim} dimensions; NumPy holds 1 to "
            f"{MAX_DIMS}"
        )
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise IdxError(
            f"{source}: truncated: {len(data)} bytes, the header of {ndim} dimensions needs "
            f"{header_size}"
        )
    shape = tuple(int(n) for n in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = DTYPE_BY_CODE[code]
    expected = header_size + math.prod(shape) * dtype.itemsize  # exact: a header may lie
    if len(data) < expected:
        raise IdxError(
            f"{source}: truncated: {len(data)} bytes, but dimensions {shape} of {dtype.name} "
            f"need {expected}"
        )
    if len(data) > expected:
        raise IdxError(
            f"{source}: {len(data) - expected} trailing bytes after the {expected} that "
            f"dimensions {shape} of {dtype.name} need"
        )
    items = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return items.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Reads an IDX file; gzip is recognised by its magic bytes, whatever the file's name."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"read_idx: path must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise IdxError(f"{path}: bad gzip data: {error}") from error
    return decode_idx(raw, str(path))


def encode_idx(array: np.ndarray) -> bytes:
    """The uncompressed IDX bytes of `array` (uint8, int8, int16, int32, float32 or float64)."""
    array = np.asarray(array)
    code = CODE_BY_KIND.get((array.dtype.kind, array.dtype.itemsize))
    if code is None:
        raise TypeError(
            "encode_idx: IDX holds uint8, int8, int16, int32, float32 or float64, "
            f"not {array.dtype}"
        )
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"encode_idx: IDX holds 1 to 255 dimensions, got shape {array.shape}")
    if any(n >= 2**32 for n in array.shape):
        raise ValueError(f"encode_idx: a dimension exceeds 2**32 - 1 in shape {array.shape}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=DTYPE_BY_CODE[code]).tobytes()


def write_idx(
    path: str | os.PathLike[str], array: np.ndarray, compress: bool | None = None
) -> None:
    """Writes `array` as an IDX file, gzip-compressed when `compress` is true (default: when the
    name ends in .gz)."""
    path = Path(path)
    data = encode_idx(array)
    if compress is None:
        compress = path.suffix == ".gz"
    if compress:
        # mtime=0: the same array always gives the same bytes, hence the same checksum.
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
