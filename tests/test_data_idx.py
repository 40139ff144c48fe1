"""IDX files: round trips of every dtype, gzip and raw, and every kind of corrupt file."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from odyssey.data.idx import IdxError, decode_idx, encode_idx, read_idx, write_idx

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]
CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D,
         np.float64: 0x0E}  # fmt: skip


def sample_array(dtype: type, shape: tuple[int, ...]) -> np.ndarray:
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else np.finfo(dtype)
    values = np.random.default_rng(0).uniform(-1, 1, size=shape) * min(float(info.max), 1e6)
    if np.issubdtype(dtype, np.unsignedinteger):
        values = np.abs(values)
    return values.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip_every_dtype_gzip_and_raw(tmp_path, dtype, suffix) -> None:
    array = sample_array(dtype, (3, 5, 7))
    path = tmp_path / f"a-idx3{suffix}"
    write_idx(path, array)
    raw = path.read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == (suffix == ".gz")
    header = gzip.decompress(raw) if suffix else raw
    assert header[:4] == bytes([0, 0, CODES[dtype], 3])
    assert struct.unpack(">3I", header[4:16]) == (3, 5, 7)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype)
    assert back.dtype.isnative
    np.testing.assert_array_equal(back, array)


@settings(max_examples=30, deadline=None)
@given(
    shape=st.lists(st.integers(0, 6), min_size=1, max_size=4).map(tuple),
    dtype=st.sampled_from(DTYPES),
)
def test_round_trip_any_shape(shape, dtype) -> None:
    array = sample_array(dtype, shape)
    back = decode_idx(encode_idx(array))
    assert back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_compress_flag_overrides_the_name(tmp_path) -> None:
    path = tmp_path / "labels"
    write_idx(path, np.arange(10, dtype=np.uint8), compress=True)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    np.testing.assert_array_equal(read_idx(path), np.arange(10))


def test_gzip_output_is_reproducible(tmp_path) -> None:
    array = np.arange(100, dtype=np.uint8)
    write_idx(tmp_path / "a.gz", array)
    write_idx(tmp_path / "b.gz", array)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()


def test_encode_rejects_types_and_shapes_idx_cannot_hold() -> None:
    with pytest.raises(TypeError, match="uint16"):
        encode_idx(np.zeros(3, dtype=np.uint16))
    with pytest.raises(TypeError, match="bool"):
        encode_idx(np.zeros(3, dtype=bool))
    with pytest.raises(ValueError, match=r"shape \(\)"):
        encode_idx(np.zeros((), dtype=np.uint8))


GOOD = bytes([0, 0, 0x08, 2]) + struct.pack(">2I", 2, 3) + bytes(range(6))


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"\x00\x00", "truncated: 2 bytes, too short"),
        (b"\x01\x00" + GOOD[2:], "bad magic number 0x01000802"),
        (GOOD[:2] + b"\x07" + GOOD[3:], "unknown dtype code 0x07"),
        (GOOD[:3] + b"\x00" + GOOD[4:], "wrong dimensions: the header declares 0"),
        (
            GOOD[:3] + b"\x41" + struct.pack(">65I", *[1] * 65) + b"\x00",
            "the header declares 65 dimensions; NumPy holds 1 to 64",
        ),
        (GOOD[:3] + b"\x05" + GOOD[4:], "truncated: 18 bytes, the header of 5 dimensions needs 24"),
        (GOOD[:-1], r"truncated: 17 bytes, but dimensions \(2, 3\) of uint8 need 18"),
        (GOOD + b"\x00\x00", r"2 trailing bytes after the 18 that dimensions \(2, 3\)"),
        (
            GOOD[:3] + b"\x03" + struct.pack(">3I", 2**32 - 1, 2**32 - 1, 2**32 - 1),
            r"dimensions \(4294967295, 4294967295, 4294967295\) of uint8 need "
            + str((2**32 - 1) ** 3 + 16),
        ),
        (b"\x1f\x8b" + b"not gzip at all", "bad gzip data"),
        (gzip.compress(GOOD)[:-6], "bad gzip data"),
    ],
    ids=[
        "short",
        "magic",
        "dtype",
        "ndim",
        "too-many-dims",
        "header",
        "truncated",
        "trailing",
        "huge-dimensions",
        "gzip",
        "gzip-cut",
    ],
)
def test_corrupt_file_errors_name_the_file_and_the_problem(tmp_path, data, problem) -> None:
    path = tmp_path / "broken-idx2-ubyte"
    path.write_bytes(data)
    with pytest.raises(IdxError, match=problem) as caught:
        read_idx(path)
    assert str(path) in str(caught.value)


def test_corrupt_content_inside_gzip_is_reported_like_raw(tmp_path) -> None:
    path = tmp_path / "cut-idx2-ubyte.gz"
    path.write_bytes(gzip.compress(GOOD[:-2]))
    with pytest.raises(IdxError, match=f"{path}: truncated"):
        read_idx(path)


def test_idx_error_is_a_value_error() -> None:
    assert issubclass(IdxError, ValueError)


def test_read_idx_names_itself_for_a_path_of_the_wrong_type() -> None:
    with pytest.raises(TypeError, match=r"read_idx: path must be a str or os\.PathLike, got None"):
        read_idx(None)  # type: ignore[arg-type]


def test_64_dimensions_still_read(tmp_path) -> None:
    path = tmp_path / "deep-idx64-ubyte"
    path.write_bytes(GOOD[:3] + b"\x40" + struct.pack(">64I", *[1] * 64) + b"\x07")
    assert read_idx(path).shape == (1,) * 64
