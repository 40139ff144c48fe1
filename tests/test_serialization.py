"""Atomic writes, odyssey.save / odyssey.load (safetensors through its NumPy API), their errors,
and weights moving between odyssey and PyTorch in both directions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy

import odyssey
from odyssey import nn
from odyssey._atomic import (
    atomic_write,
    remove_stale_temporaries,
    write_bytes_atomic,
    write_text_atomic,
)
from odyssey.serialization import CheckpointError, load_metadata
from odyssey.train.checkpoint import save_checkpoint


def temporaries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


# -- atomic writes --------------------------------------------------------------------------------


def test_atomic_write_creates_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    write_bytes_atomic(target, b"one")
    assert target.read_bytes() == b"one"
    with atomic_write(target) as file:
        file.write(b"two")
        assert target.read_bytes() == b"one"  # nothing visible before the block ends
    assert target.read_bytes() == b"two"
    write_text_atomic(target, "héllo\n")
    assert target.read_text(encoding="utf-8") == "héllo\n"
    with atomic_write(target, "w") as file:
        file.write("text")
    assert target.read_text() == "text"
    assert temporaries(tmp_path) == []


def write_then_fail(target: Path, error: BaseException) -> None:
    with atomic_write(target) as file:
        file.write(b"new, half written")
        file.flush()
        raise error


@pytest.mark.parametrize("error", [ValueError("boom"), KeyboardInterrupt()])
def test_atomic_write_exception_keeps_old_file(tmp_path: Path, error: BaseException) -> None:
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    with pytest.raises(type(error)):
        write_then_fail(target, error)
    assert target.read_bytes() == b"old"
    assert temporaries(tmp_path) == []
    fresh = tmp_path / "absent.bin"
    with pytest.raises(type(error)):
        write_then_fail(fresh, error)
    assert not fresh.exists()
    assert temporaries(tmp_path) == []


def test_atomic_write_in_the_current_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_bytes_atomic("here.bin", b"data")
    write_text_atomic(Path("here.txt"), "text")
    assert (tmp_path / "here.bin").read_bytes() == b"data"
    assert (tmp_path / "here.txt").read_text() == "text"
    assert temporaries(tmp_path) == []


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_atomic_write_permissions(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    write_bytes_atomic(tmp_path / "new", b"")
    assert (tmp_path / "new").stat().st_mode == plain.stat().st_mode  # the umask, as open()
    private = tmp_path / "private"
    private.write_bytes(b"old")
    private.chmod(0o600)
    write_bytes_atomic(private, b"new")
    assert private.stat().st_mode & 0o777 == 0o600  # an existing file keeps its permissions


@pytest.mark.skipif(os.name == "nt", reason="symlinks")
def test_atomic_write_through_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real.bin"
    real.write_bytes(b"old")
    link = tmp_path / "link.bin"
    link.symlink_to(real)
    write_bytes_atomic(link, b"new")
    assert link.is_symlink()
    assert real.read_bytes() == b"new"


def test_atomic_write_into_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(
        FileNotFoundError, match=r"atomic_write: cannot write .*: no such directory"
    ):
        write_bytes_atomic(tmp_path / "absent" / "f.bin", b"x")
    with pytest.raises(FileNotFoundError, match="no such directory"):
        odyssey.save({"a": np.zeros(1)}, tmp_path / "absent" / "w.safetensors")


def test_atomic_write_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="atomic_write: mode"), atomic_write(tmp_path / "f", "ab"):
        pass
    with pytest.raises(TypeError, match="atomic_write: path"), atomic_write(3):  # type: ignore[arg-type]
        pass
    with pytest.raises(TypeError, match="write_text_atomic: text"):
        write_text_atomic(tmp_path / "f", b"bytes")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", ""])
    process.wait()
    return process.pid


def test_remove_stale_temporaries(tmp_path: Path) -> None:
    target = tmp_path / "last.safetensors"
    stale = tmp_path / f".last.safetensors.{dead_pid()}.0123abcd.tmp"
    mine = tmp_path / f".last.safetensors.{os.getpid()}.0123abcd.tmp"  # a write in progress
    other = tmp_path / f".best.safetensors.{dead_pid()}.0123abcd.tmp"  # another file's
    unrelated = tmp_path / ".last.safetensors.notes.tmp"
    for path in (stale, mine, other, unrelated):
        path.write_bytes(b"x")
    assert remove_stale_temporaries(target) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (mine, other, unrelated)
    )
    odyssey.save({"a": np.zeros(2)}, tmp_path / "best.safetensors")  # saving cleans its own
    assert not other.exists()


# -- save and load --------------------------------------------------------------------------------

DTYPES = [
    "float32",
    "float64",
    "float16",
    "int64",
    "int32",
    "int8",
    "uint8",
    "uint64",
    "bool",
    "complex64",
]


def sample(dtype: str, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, size=int(np.prod(shape)) * np.dtype(dtype).itemsize, dtype=np.uint8)
    array = raw.view(dtype).reshape(shape) if dtype != "bool" else (raw % 2).astype(bool)
    return array.reshape(shape)


def assert_same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype
    assert a.shape == b.shape
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_is_bytewise(tmp_path: Path, dtype: str) -> None:
    arrays = {
        "matrix": sample(dtype, (3, 5), 1),
        "scalar": sample(dtype, (), 2),
        "empty": sample(dtype, (0, 4), 3),
        "vector": sample(dtype, (7,), 4),
    }
    path = tmp_path / "w.safetensors"
    assert odyssey.save(arrays, path) is None
    loaded = odyssey.load(path)
    assert set(loaded) == set(arrays)
    for name, array in arrays.items():
        assert_same(loaded[name], array)
        assert loaded[name].flags.writeable
        assert loaded[name].flags.c_contiguous
    assert_same(safetensors.numpy.load_file(path)["matrix"], arrays["matrix"])


def test_nan_payloads_and_signed_zeros_survive(tmp_path: Path) -> None:
    special = np.array([np.nan, -0.0, np.inf, -np.inf, 1e-45], dtype=np.float32)
    special = np.concatenate([special, np.array([0x7FC12345], dtype=np.uint32).view(np.float32)])
    odyssey.save({"x": special}, tmp_path / "s.safetensors")
    assert_same(odyssey.load(tmp_path / "s.safetensors")["x"], special)


def test_save_takes_tensors_views_and_other_byte_orders(tmp_path: Path) -> None:
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    values = {
        "tensor": odyssey.tensor(base),
        "parameter": nn.Parameter(base + 1),
        "transposed": base.T,
        "strided": base[::2, ::3],
        "big_endian": base.astype(">f4"),
    }
    path = tmp_path / "v.safetensors"
    odyssey.save(values, path)
    base[...] = -1  # the file holds copies taken at save time
    loaded = odyssey.load(path)
    expected = np.arange(24, dtype=np.float32).reshape(4, 6)
    assert_same(loaded["tensor"], expected)
    assert_same(loaded["parameter"], expected + 1)
    assert_same(loaded["transposed"], np.ascontiguousarray(expected.T))
    assert_same(loaded["strided"], np.ascontiguousarray(expected[::2, ::3]))
    assert_same(loaded["big_endian"], expected)


def test_module_state_dict_round_trip(tmp_path: Path) -> None:
    odyssey.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    model(odyssey.randn(8, 5))  # moves the batch-norm buffers
    path = tmp_path / "m.safetensors"
    odyssey.save(model.state_dict(), path)
    odyssey.manual_seed(1)
    twin = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    twin.load_state_dict(odyssey.load(path))
    for name, array in model.state_dict().items():
        assert_same(twin.state_dict()[name], array)


def test_metadata_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    odyssey.save({"a": np.ones(2)}, path, metadata={"arch": "lenet5", "note": "é ✓"})
    assert load_metadata(path) == {"arch": "lenet5", "note": "é ✓"}
    odyssey.save({"a": np.ones(2)}, path)
    assert load_metadata(path) == {}


@pytest.mark.parametrize(
    ("state_dict", "metadata", "error", "message"),
    [
        ([("a", np.zeros(1))], None, TypeError, "odyssey.save: state_dict must be a mapping"),
        ({3: np.zeros(1)}, None, TypeError, "odyssey.save: state_dict keys must be str, got 3"),
        ({"w": [1.0, 2.0]}, None, TypeError, "odyssey.save: the value of 'w' must be a NumPy"),
        ({"w": 1.5}, None, TypeError, "odyssey.save: the value of 'w' must be a NumPy"),
        ({"o": np.array([None])}, None, TypeError, "odyssey.save: the value of 'o' has dtype obj"),
        ({"c": np.zeros(2, complex)}, None, TypeError, "value of 'c' has dtype complex128"),
        ({"s": np.array(["x"])}, None, TypeError, "value of 's' has dtype <U1"),
        ({"__metadata__": np.zeros(1)}, None, ValueError, "'__metadata__' is reserved"),
        ({"a": np.zeros(1)}, {"k": 1}, TypeError, "odyssey.save: metadata must map str to str"),
        ({"a": np.zeros(1)}, [("k", "v")], TypeError, "odyssey.save: metadata must be a mapping"),
        ({"a": np.zeros(1)}, {"odyssey.x": "v"}, ValueError, "'odyssey.' are reserved"),
    ],
)
def test_save_rejects_bad_input(tmp_path, state_dict, metadata, error, message) -> None:
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"previous")
    with pytest.raises(error, match=message.replace("(", r"\(").replace(".", r"\.")):
        odyssey.save(state_dict, path, metadata=metadata)
    assert path.read_bytes() == b"previous"
    assert temporaries(tmp_path) == []


def test_load_missing_file_and_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(FileNotFoundError, match=r"odyssey\.load: no such file") as info:
        odyssey.load(missing)
    assert str(missing) in str(info.value)
    with pytest.raises(IsADirectoryError, match=r"odyssey\.load: expected a \.safetensors file"):
        odyssey.load(tmp_path)
    with pytest.raises(TypeError, match=r"odyssey\.load: path must be"):
        odyssey.load(None)  # type: ignore[arg-type]


def test_load_truncated_files(tmp_path: Path) -> None:
    good = tmp_path / "good.safetensors"
    odyssey.save({"a": np.arange(100, dtype=np.float32), "b": np.ones((3, 3))}, good)
    data = good.read_bytes()
    for size in sorted({0, 1, 7, 8, 9, 40, len(data) // 2, len(data) - 1}):
        cut = tmp_path / f"cut{size}.safetensors"
        cut.write_bytes(data[:size])
        with pytest.raises(
            CheckpointError, match=r"odyssey\.load: .*not a readable safetensors"
        ) as e:
            odyssey.load(cut)
        assert str(cut) in str(e.value)


@pytest.mark.parametrize(
    "content",
    [
        b"PK\x03\x04 a zip file, as torch.save writes",
        b"\x80\x04\x95 a pickle",
        (20).to_bytes(8, "little") + b"{not json at all!!!}",
        (2).to_bytes(8, "little") + b"[]",
        b"\xff" * 64,
    ],
)
def test_load_rejects_what_is_not_safetensors(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="not a readable safetensors file") as info:
        odyssey.load(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_load_explains_torch_save_files(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    torch.save({"w": torch.zeros(2)}, str(path))
    with pytest.raises(CheckpointError, match=r"looks like a torch\.save or pickle file") as info:
        odyssey.load(path)
    assert "safetensors.torch.save_file" in str(info.value)


def test_load_detects_a_flipped_byte(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    odyssey.save({"a": np.arange(64, dtype=np.float32)}, path)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0x01  # inside the tensor data: the header still parses
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="is corrupt: its tensors do not match") as info:
        odyssey.load(path)
    assert str(path) in str(info.value)


def test_load_returns_the_model_part_of_a_checkpoint(tmp_path: Path) -> None:
    odyssey.manual_seed(0)
    model = nn.Linear(3, 2)
    optimizer = odyssey.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(odyssey.randn(4, 3)).sum().backward()
    optimizer.step()
    path = save_checkpoint(tmp_path / "c.safetensors", model, optimizer, {"epoch": 1})
    loaded = odyssey.load(path)
    assert sorted(loaded) == ["bias", "weight"]
    for name, array in model.state_dict().items():
        assert_same(loaded[name], array)


def test_files_from_plain_safetensors_load(tmp_path: Path) -> None:
    path = tmp_path / "plain.safetensors"
    safetensors.numpy.save_file({"w": np.eye(3, dtype=np.float32)}, path, metadata={"k": "v"})
    assert_same(odyssey.load(path)["w"], np.eye(3, dtype=np.float32))
    assert load_metadata(path) == {"k": "v"}


# -- PyTorch interop ------------------------------------------------------------------------------


def odyssey_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 3 * 3, 5),
    )


def torch_net(torch):
    torch_nn = torch.nn
    return torch_nn.Sequential(
        torch_nn.Conv2d(2, 4, 3, padding=1),
        torch_nn.BatchNorm2d(4),
        torch_nn.ReLU(),
        torch_nn.MaxPool2d(2),
        torch_nn.Flatten(),
        torch_nn.Linear(4 * 3 * 3, 5),
    )


def trained_torch_net(torch):
    torch.manual_seed(0)
    net = torch_net(torch)
    with torch.no_grad():
        net[1].running_mean.uniform_(-1, 1)
        net[1].running_var.uniform_(0.5, 2)
        net[1].weight.uniform_(0.5, 1.5)
        net[1].bias.uniform_(-0.5, 0.5)
        net[1].num_batches_tracked.fill_(7)
    return net.eval()


IMAGES = np.random.default_rng(5).normal(size=(3, 2, 6, 6)).astype(np.float32)


def test_torch_weights_load_into_the_odyssey_twin(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    net = trained_torch_net(torch)
    path = tmp_path / "torch.safetensors"
    save_file(net.state_dict(), str(path))
    model = odyssey_net().eval()
    model.load_state_dict(odyssey.load(path))
    assert int(model.state_dict()["1.num_batches_tracked"]) == 7
    expected = net(torch.from_numpy(IMAGES)).detach().numpy()
    np.testing.assert_allclose(
        model(odyssey.tensor(IMAGES)).detach().numpy(), expected, rtol=1e-5, atol=1e-6
    )


def test_odyssey_weights_load_into_the_torch_twin(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    source = trained_torch_net(torch)
    model = odyssey_net().eval()
    model.load_state_dict({k: v.numpy() for k, v in source.state_dict().items()})
    odyssey.save(model.state_dict(), tmp_path / "w.safetensors")
    save_checkpoint(tmp_path / "c.safetensors", model, state={"epoch": 3})
    expected = model(odyssey.tensor(IMAGES)).detach().numpy()

    weights = load_file(str(tmp_path / "w.safetensors"))
    checkpoint = load_file(str(tmp_path / "c.safetensors"))
    from_checkpoint = {k.removeprefix("model."): v for k, v in checkpoint.items()}
    for state_dict in (weights, from_checkpoint):
        torch.manual_seed(1)
        twin = torch_net(torch).eval()
        twin.load_state_dict(state_dict, strict=True)
        assert int(twin[1].num_batches_tracked) == 7
        got = twin(torch.from_numpy(IMAGES)).detach().numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
