"""Training checkpoints: exact JSON for the run state (Philox included), model and optimizer round
trips that resume bit for bit, every compatibility error, and a writer killed with SIGKILL at
random moments that never leaves a partial checkpoint behind."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors.numpy
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import odyssey
import odyssey.nn.functional as F
from odyssey import nn, optim
from odyssey.serialization import CHECKPOINT_KEY, CheckpointError
from odyssey.train.checkpoint import (
    FORMAT_VERSION,
    Checkpoint,
    from_json,
    load_checkpoint,
    save_checkpoint,
    to_json,
)


def same(a: Any, b: Any) -> bool:
    """Equal values of the same types, arrays compared by dtype, shape and bytes (NaN == NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, np.generic):
        return a.dtype == b.dtype and a.tobytes() == b.tobytes()
    if isinstance(a, float):
        return a == b or (a != a and b != b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return (
            list(a) == list(b)
            and all(same(a[k], b[k]) for k in a)
            and all(same(x, y) for x, y in zip(a, b, strict=True))
        )
    return a == b


def through_json(obj: Any) -> Any:
    text = json.dumps(to_json(obj), allow_nan=False)  # strict JSON
    return from_json(json.loads(text))


# -- exact JSON -----------------------------------------------------------------------------------

VALUES = [
    None,
    True,
    0,
    -7,
    2**53,
    2**53 + 1,
    2**64 - 1,
    -(2**100),
    0.1,
    -0.0,
    1e-310,
    float("inf"),
    float("-inf"),
    float("nan"),
    "text é",
    [1, [2.5, None], "x"],
    (1, (2, 3), []),
    (),
    {"a": 1, "b": {"c": (0.9, 0.999)}},
    {1: "one", 2: "two"},
    {(1, 2): "tuple key", None: 0, 2.5: "float key"},
    {"$type": "a user's key that looks like a tag", "items": []},
    np.arange(6, dtype=np.int64).reshape(2, 3),
    np.array([2**64 - 1, 0, 12631478326263854183], dtype=np.uint64),
    np.array([np.nan, -0.0, np.inf, 1e-45], dtype=np.float32),
    np.array(3.25),
    np.zeros((0, 5), dtype=np.float16),
    np.array([True, False]),
    np.array([1 + 2j], dtype=np.complex128),
    np.arange(3, dtype=">i4"),
    np.float32(0.1),
    np.float64(np.nan),
    np.uint64(2**64 - 1),
    np.int8(-3),
    np.bool_(True),
]


@pytest.mark.parametrize("value", VALUES, ids=[repr(v)[:40] for v in VALUES])
def test_to_json_round_trips_exactly(value: Any) -> None:
    restored = through_json(value)
    if isinstance(value, np.ndarray) and value.dtype.byteorder == ">":
        value = value.astype(value.dtype.newbyteorder("="))  # comes back in native order
    assert same(restored, value), (restored, value)


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    hnp.arrays(
        st.sampled_from(["float32", "float64", "int64", "uint64", "uint8", "bool"]),
        hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3),
    ),
    hnp.from_dtype(np.dtype("float32")).map(np.float32),
    hnp.from_dtype(np.dtype("uint64")).map(np.uint64),
)
KEYS = st.one_of(st.text(max_size=4), st.integers(), st.tuples(st.integers()), st.just("$type"))
NESTED = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(KEYS, inner, max_size=3),
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(NESTED)
def test_to_json_round_trips_any_nesting(value: Any) -> None:
    assert same(through_json(value), value)


def test_philox_state_round_trips_exactly() -> None:
    generator = np.random.Generator(np.random.Philox(2**63 + 12345))
    generator.random(7)
    generator.integers(0, 2**32, size=3, dtype=np.uint32)  # leaves a buffered half word
    generator.standard_normal(5)
    state = generator.bit_generator.state
    restored_state = through_json(state)
    assert same(restored_state, state)
    restored = np.random.Generator(np.random.Philox())
    restored.bit_generator.state = restored_state
    for draw in (
        lambda g: g.random(11),
        lambda g: g.integers(0, 2**32, size=5, dtype=np.uint32),
        lambda g: g.integers(0, 2**63, size=4),
        lambda g: g.standard_normal(9),
        lambda g: g.permutation(50),
    ):
        assert draw(restored).tobytes() == draw(generator).tobytes()


def test_to_json_is_plain_json_for_plain_values() -> None:
    plain = {"epoch": 3, "lr": [0.1, 0.01], "name": "run", "done": False, "best": None}
    assert to_json(plain) == plain


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ({"callback": print}, r"the value\['callback'\] is a builtin_function_or_method"),
        ({"a": [1, {2, 3}]}, r"the value\['a'\]\[1\] is a set"),
        ({"t": odyssey.zeros(2)}, r"the value\['t'\] is a Tensor"),
        ({"o": np.array([object()])}, r"the value\['o'\] is an array of dtype object"),
        ({"s": np.array(["x"])}, r"the value\['s'\] is an array of dtype <U1"),
    ],
)
def test_to_json_rejects_what_it_cannot_store(value: Any, where: str) -> None:
    with pytest.raises(TypeError, match="to_json: " + where):
        to_json(value)


@pytest.mark.parametrize(
    "obj",
    [
        {"$type": "nonsense"},
        {"$type": "int", "value": "12x"},
        {"$type": "float", "value": "1.5"},
        {"$type": "ndarray", "dtype": "|O", "shape": [1], "data": ""},
        {"$type": "ndarray", "dtype": "<f4", "shape": [3], "data": "AAAA"},
        {"$type": "tuple"},
        ("a tuple is not JSON",),
    ],
)
def test_from_json_rejects_what_to_json_never_writes(obj: Any) -> None:
    with pytest.raises(ValueError, match="from_json: "):
        from_json(obj)


# -- models, optimizers and their state -----------------------------------------------------------


def make_net(hidden: int = 8) -> nn.Module:
    return nn.Sequential(
        nn.Linear(6, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, 3)
    )


BATCHES = [
    (
        np.random.default_rng(i).normal(size=(5, 6)).astype(np.float32),
        np.random.default_rng(100 + i).normal(size=(5, 3)).astype(np.float32),
    )
    for i in range(6)
]


def train(model: nn.Module, optimizer: optim.Optimizer, batches: list) -> None:
    for inputs, targets in batches:
        optimizer.zero_grad()
        F.mse_loss(model(odyssey.tensor(inputs)), odyssey.tensor(targets)).backward()
        optimizer.step()


def grouped(model: nn.Module) -> list[dict[str, Any]]:
    params = list(model.parameters())
    return [{"params": params[:2]}, {"params": params[2:], "lr": 0.02}]


OPTIMIZERS = {
    "sgd_momentum": lambda p: optim.SGD(p, lr=0.05, momentum=0.9),
    "sgd_nesterov": lambda p: optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01),
    "adam_amsgrad": lambda p: optim.Adam(p, lr=0.01, amsgrad=True),
    "adamw_amsgrad": lambda p: optim.AdamW(p, lr=0.01, betas=(0.8, 0.95), amsgrad=True),
}


def assert_same_state(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for name in a:
        assert same(np.asarray(a[name]), np.asarray(b[name])), name


@pytest.mark.parametrize("groups", [False, True], ids=["one_group", "two_groups"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_resume_gives_the_same_bytes_as_no_interruption(
    tmp_path: Path, name: str, groups: bool
) -> None:
    make = OPTIMIZERS[name]
    odyssey.manual_seed(0)
    model = make_net()
    optimizer = make(grouped(model) if groups else model.parameters())
    train(model, optimizer, BATCHES[:3])
    path = save_checkpoint(tmp_path / "mid.safetensors", model, optimizer, {"step": 3})
    train(model, optimizer, BATCHES[3:])

    odyssey.manual_seed(99)  # other initial weights: everything must come from the file
    resumed = make_net()
    resumed_optimizer = make(grouped(resumed) if groups else resumed.parameters())
    checkpoint = load_checkpoint(path)
    assert checkpoint.state == {"step": 3}
    checkpoint.restore(resumed, resumed_optimizer)
    train(resumed, resumed_optimizer, BATCHES[3:])

    assert_same_state(resumed.state_dict(), model.state_dict())
    expected, got = optimizer.state_dict(), resumed_optimizer.state_dict()
    assert same(got["param_groups"], expected["param_groups"])
    assert list(got["state"]) == list(expected["state"])
    for index, entry in expected["state"].items():
        assert_same_state(got["state"][index], entry)


def test_checkpoint_round_trip_and_layout(tmp_path: Path) -> None:
    odyssey.manual_seed(0)
    model = make_net()
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    train(model, optimizer, BATCHES[:2])
    generator = np.random.Generator(np.random.Philox(7))
    generator.random(3)
    state = {
        "epoch": 1,
        "global_step": 2,
        "rng": generator.bit_generator.state,
        "loader": {"epoch": 1, "position": 40, "seed": 2**63 + 1},
        "schedulers": [{"last_epoch": 2, "best": float("inf"), "_last_lr": [0.01]}],
        "metrics": {"val_accuracy": {"correct": np.array(123, np.int64)}},
        "callbacks": {"EarlyStopping{'monitor': 'val_loss'}": {"wait_count": 0}},
        "config": {"train": {"lr": 0.01, "betas": (0.9, 0.999)}},
    }
    path = save_checkpoint(str(tmp_path / "c.safetensors"), model, optimizer, state)
    assert path == tmp_path / "c.safetensors"
    checkpoint = load_checkpoint(path)
    assert isinstance(checkpoint, Checkpoint)
    assert checkpoint.path == path
    assert checkpoint.version == odyssey.__version__
    assert checkpoint.format_version == FORMAT_VERSION
    assert checkpoint.optimizer_class == "Adam"
    assert same(checkpoint.state, state)
    assert_same_state(checkpoint.model, model.state_dict())
    assert list(checkpoint.model) == list(model.state_dict())  # in the model's order

    raw = safetensors.numpy.load_file(path)  # the documented tensor names
    assert {k for k in raw if k.startswith("model.")} == {f"model.{k}" for k in model.state_dict()}
    assert "optimizer.state.0.exp_avg" in raw
    assert "optimizer.state.3.exp_avg_sq" in raw
    assert sorted(raw) == sorted(k for k in raw if k.startswith(("model.", "optimizer.state.")))

    bare = load_checkpoint(save_checkpoint(tmp_path / "bare.safetensors", model))
    assert bare.optimizer is None
    assert bare.optimizer_class is None
    assert bare.state == {}


def test_restore_into_a_fresh_model_without_optimizer(tmp_path: Path) -> None:
    odyssey.manual_seed(0)
    model = make_net()
    path = save_checkpoint(tmp_path / "c.safetensors", model, optim.SGD(model.parameters(), lr=1))
    odyssey.manual_seed(1)
    fresh = make_net()
    load_checkpoint(path).restore(fresh)
    assert_same_state(fresh.state_dict(), model.state_dict())


# -- errors ---------------------------------------------------------------------------------------


def saved(tmp_path: Path, model: nn.Module | None = None, optimizer_name: str = "sgd_momentum"):
    odyssey.manual_seed(0)
    model = model or make_net()
    optimizer = OPTIMIZERS[optimizer_name](model.parameters())
    train(model, optimizer, BATCHES[:1])
    return save_checkpoint(tmp_path / "ckpt.safetensors", model, optimizer, {"epoch": 0})


def restore_error(path: Path, model: nn.Module, optimizer: Any = None) -> str:
    before = {k: v.copy() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path).restore(model, optimizer)
    message = str(info.value)
    assert str(path) in message
    assert message.startswith("Checkpoint.restore: ")
    assert_same_state(model.state_dict(), before)  # nothing loaded when something does not fit
    return message


def test_restore_into_another_model(tmp_path: Path) -> None:
    path = saved(tmp_path)
    other = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    message = restore_error(path, other)
    assert "another model" in message
    assert "missing keys (in the model, not the checkpoint): 2.weight, 2.bias" in message
    assert (
        "unexpected keys (in the checkpoint, not the model): 1.weight, 1.bias, 1.running_mean, "
        "1.running_var, 1.num_batches_tracked and 2 more" in message
    )


def test_the_checks_name_who_asked(tmp_path: Path) -> None:
    path = saved(tmp_path, optimizer_name="sgd_momentum")
    checkpoint = load_checkpoint(path)
    model = make_net(hidden=9)
    where = re.escape(f"Trainer.fit: ckpt_path: {path}: ")
    with pytest.raises(CheckpointError, match=f"^{where}it was saved from another model"):
        checkpoint.check_model(model, "Trainer.fit: ckpt_path")
    with pytest.raises(CheckpointError, match=f"^{where}it holds the state of a SGD"):
        checkpoint.check_optimizer(optim.Adam(make_net().parameters()), "Trainer.fit: ckpt_path")


def test_restore_lists_a_few_names_then_counts(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "c.safetensors", nn.Sequential(*[nn.Linear(2, 2)] * 1))
    wide = nn.Sequential(*[nn.Linear(2, 2) for _ in range(6)])
    message = restore_error(path, wide)
    assert "1.weight, 1.bias, 2.weight, 2.bias, 3.weight and 5 more" in message


def test_restore_with_other_shapes(tmp_path: Path) -> None:
    path = saved(tmp_path)
    message = restore_error(path, make_net(hidden=9))
    assert "0.weight: saved (8, 6) float32 vs expected (9, 6) float32" in message
    assert "0.bias: saved (8,) float32 vs expected (9,) float32" in message


def test_restore_with_another_optimizer(tmp_path: Path) -> None:
    path = saved(tmp_path, optimizer_name="sgd_momentum")
    model = make_net()
    message = restore_error(path, model, optim.Adam(model.parameters()))
    assert "it holds the state of a SGD optimizer, not Adam" in message


def test_restore_with_other_groups_or_parameters(tmp_path: Path) -> None:
    path = saved(tmp_path)
    model = make_net()
    message = restore_error(path, model, optim.SGD(grouped(model), lr=0.1, momentum=0.9))
    assert "its optimizer has 1 parameter groups, this one 2" in message
    params = list(model.parameters())
    message = restore_error(path, model, optim.SGD(params[:3], lr=0.1, momentum=0.9))
    assert "optimizer parameter group 0 has 6 parameters in the checkpoint, 3 here" in message


def test_restore_optimizer_state_of_other_shapes(tmp_path: Path) -> None:
    path = saved(tmp_path)
    model = make_net()
    other = make_net(hidden=9)
    message = restore_error(path, model, optim.SGD(other.parameters(), lr=0.1, momentum=0.9))
    assert "optimizer state 'momentum_buffer' of parameter 0: saved (8, 6) vs expected (9, 6)" in (
        message
    )


def test_restore_refused_by_the_optimizer_leaves_the_model_as_it_was(tmp_path: Path) -> None:
    odyssey.manual_seed(0)
    model = make_net()
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    optimizer.param_groups[0]["lr"] = -1.0  # a value SGD.load_state_dict refuses
    path = save_checkpoint(tmp_path / "c.safetensors", model, optimizer)
    odyssey.manual_seed(1)
    fresh = make_net()
    message = restore_error(path, fresh, optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9))
    assert "Invalid learning rate: -1.0" in message


def test_restore_an_optimizer_from_a_checkpoint_without_one(tmp_path: Path) -> None:
    model = make_net()
    path = save_checkpoint(tmp_path / "c.safetensors", model)
    message = restore_error(path, model, optim.SGD(model.parameters(), lr=0.1))
    assert "it holds no optimizer state, but an optimizer was given" in message


def test_load_checkpoint_of_a_plain_weights_file(tmp_path: Path) -> None:
    path = tmp_path / "weights.safetensors"
    odyssey.save(make_net().state_dict(), path)
    with pytest.raises(CheckpointError, match="holds weights only, not a training checkpoint") as e:
        load_checkpoint(path)
    assert str(path) in str(e.value)
    assert "odyssey.load" in str(e.value)


def write_raw(path: Path, header: str) -> Path:
    path.write_bytes(safetensors.numpy.save({"model.w": np.zeros(2)}, {CHECKPOINT_KEY: header}))
    return path


def test_load_checkpoint_from_a_newer_format(tmp_path: Path) -> None:
    header = {"format_version": FORMAT_VERSION + 1, "odyssey_version": "9.9.9", "state": {}}
    path = write_raw(tmp_path / "new.safetensors", json.dumps(header))
    with pytest.raises(CheckpointError, match=f"checkpoint format {FORMAT_VERSION + 1}") as info:
        load_checkpoint(path)
    assert "written by odyssey 9.9.9" in str(info.value)
    assert "upgrade odyssey" in str(info.value)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "header",
    [
        "{not json",
        "[]",
        json.dumps({"format_version": "one"}),
        json.dumps({"format_version": 1, "state": {}}),
        json.dumps({"format_version": 1, "state": {"$type": "what"}, "optimizer": None}),
        json.dumps({"format_version": 1, "state": {}, "optimizer": {"state": {}}}),
    ],
)
def test_load_checkpoint_with_corrupt_metadata(tmp_path: Path, header: str) -> None:
    path = write_raw(tmp_path / "bad.safetensors", header)
    with pytest.raises(CheckpointError, match="its checkpoint metadata is corrupt") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_load_checkpoint_of_truncated_and_missing_files(tmp_path: Path) -> None:
    path = saved(tmp_path)
    data = path.read_bytes()
    for size in (0, 5, 100, len(data) // 3, len(data) - 4):
        cut = tmp_path / f"cut{size}.safetensors"
        cut.write_bytes(data[:size])
        with pytest.raises(CheckpointError, match=r"load_checkpoint: .*not a readable") as info:
            load_checkpoint(cut)
        assert str(cut) in str(info.value)
    flipped = bytearray(data)
    flipped[-3] ^= 0x40
    path.write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match=r"load_checkpoint: .* is corrupt"):
        load_checkpoint(path)
    with pytest.raises(FileNotFoundError, match="load_checkpoint: no such file"):
        load_checkpoint(tmp_path / "absent.safetensors")


def test_save_checkpoint_rejects_bad_input(tmp_path: Path) -> None:
    model = make_net()
    path = tmp_path / "c.safetensors"
    with pytest.raises(TypeError, match=r"save_checkpoint: to_json: the value\['fn'\] is a"):
        save_checkpoint(path, model, state={"fn": lambda: 0})
    with pytest.raises(TypeError, match="save_checkpoint: state must be a dict"):
        save_checkpoint(path, model, state=[1, 2])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="save_checkpoint: model must have a state_dict"):
        save_checkpoint(path, object())
    with pytest.raises(TypeError, match="save_checkpoint: model: the value of 'w' must be"):
        save_checkpoint(path, {"w": 1})  # a state dict itself is fine, if it holds arrays
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


# -- killed mid-save ------------------------------------------------------------------------------

ROWS = 1024  # 1024 x 1024 float32: a 4 MB checkpoint


class Versioned:
    """A model whose every array says which save wrote it."""

    def __init__(self, version: int) -> None:
        self.version = version

    def state_dict(self) -> dict[str, np.ndarray]:
        return {
            "weight": np.full((ROWS, ROWS), self.version, dtype=np.float32),
            "steps": np.arange(100, dtype=np.int64) * self.version,
        }


def keep_saving(path: Path, first: int, report: int) -> None:
    """The child: saves versions first, first + 1, ... forever, reporting each completed one."""
    version = first
    while True:
        save_checkpoint(path, Versioned(version), state={"version": version})
        os.write(report, f"{version}\n".encode())
        version += 1


def version_on_disk(path: Path) -> int | None:
    if not path.exists():
        return None
    checkpoint = load_checkpoint(path)  # raises on any partial or corrupt file
    version = checkpoint.state["version"]
    expected = Versioned(version).state_dict()
    assert_same_state(checkpoint.model, expected)
    return version


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_kill_during_save_leaves_a_complete_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "last.safetensors"
    chooser = random.Random(1234)
    completed: int | None = None  # the newest version a save returned for
    temporaries_seen: set[str] = set()
    # At least 30 kills at random moments, and more until one has landed in the middle of a write:
    # where a save is slow to start (under ASan, building and hashing the 4 MB state can take
    # most of the 0.1 s window), 30 kills can all miss the write itself.
    for iteration in range(300):
        if iteration >= 30 and temporaries_seen:
            break
        first = iteration * 1_000_000
        read_end, write_end = os.pipe()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
            pid = os.fork()
        if pid == 0:  # the child never returns into pytest
            try:
                os.close(read_end)
                keep_saving(path, first, write_end)
            finally:
                os._exit(1)
        os.close(write_end)
        time.sleep(chooser.uniform(0.0, 0.1))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status), "the saving child died before it was killed"
        with os.fdopen(read_end) as reports:
            versions = [int(line) for line in reports.read().split()]
        if versions:
            assert versions == list(range(first, first + len(versions)))
            completed = versions[-1]
        on_disk = version_on_disk(path)
        # The last completed save, or the one after it if the kill came between its rename and
        # its report.
        in_flight = completed + 1 if versions else first
        assert on_disk in (completed, in_flight), (on_disk, completed, in_flight)
        if on_disk == in_flight:
            completed = on_disk
        leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name != path.name)
        assert len(leftovers) <= 1, leftovers  # only the killed writer's, never an accumulation
        temporaries_seen.update(leftovers)
    assert completed is not None
    assert temporaries_seen  # some kills did land in the middle of a write
    save_checkpoint(path, Versioned(7), state={"version": 7})  # cleans the dead writer's file
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    assert version_on_disk(path) == 7
