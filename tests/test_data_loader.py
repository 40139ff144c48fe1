"""DataLoader: every sample once per epoch, deterministic batches whatever the prefetch depth or
thread count, exact mid-epoch resume, worker errors and abandoned iterators."""

from __future__ import annotations

import gc
import itertools
import platform
import threading
import weakref

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import odyssey
from odyssey import _kernels
from odyssey.data import ArrayDataset, DataLoader, Dataset, SampleKeys, Subset
from odyssey.data.transforms import Normalize

N = 103  # not a multiple of any batch size used


@pytest.fixture(scope="module")
def dataset() -> ArrayDataset:
    rng = np.random.default_rng(11)
    images = rng.integers(0, 256, size=(N, 5, 6), dtype=np.uint8)
    return ArrayDataset(images, np.arange(N) % 10)


def keyed_noise(images: np.ndarray, keys: SampleKeys) -> np.ndarray:
    """A test transform whose draw for each image depends on (seed, epoch, index) only."""
    noise = np.stack(
        [
            np.random.default_rng([keys.seed, keys.epoch, int(i)]).random(
                images.shape[1:], dtype=np.float32
            )
            for i in keys.indices
        ]
    )
    return images + noise


def collect(loader, batches: int | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    return list(itertools.islice(loader, batches))


def loader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("odyssey-loader")]


def assert_same_batches(a, b) -> None:
    assert len(a) == len(b)
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        assert xa.tobytes() == xb.tobytes()
        np.testing.assert_array_equal(ya, yb)


@pytest.mark.parametrize("prefetch", [0, 2])
def test_batches_are_float_nchw_in_unit_range_in_order_without_shuffle(dataset, prefetch) -> None:
    batches = collect(DataLoader(dataset, batch_size=10, prefetch=prefetch))
    assert len(batches) == 11
    images = np.concatenate([x for x, _ in batches])
    labels = np.concatenate([y for _, y in batches])
    assert images.dtype == np.float32
    assert images.shape == (N, 1, 5, 6)
    assert labels.dtype == np.int64
    expected = dataset.images.astype(np.float32) / np.float32(255)
    assert images[:, 0].tobytes() == expected.tobytes()
    np.testing.assert_array_equal(labels, dataset.labels)
    assert batches[-1][0].shape[0] == 3


def test_every_sample_once_per_epoch_and_epochs_differ(dataset) -> None:
    loader = DataLoader(dataset, batch_size=8, shuffle=True, seed=4)
    orders = []
    for _ in range(3):
        labels_seen = []
        for images, _ in loader:
            labels_seen.append(images[:, 0, 0, :].copy())
        orders.append(np.concatenate(labels_seen))
    for order in orders:
        # Rows are the first pixel rows: sorting them recovers the dataset's rows.
        expected = dataset.images[:, 0, :].astype(np.float32) / np.float32(255)
        assert sorted(map(bytes, order)) == sorted(map(bytes, expected))
    assert orders[0].tobytes() != orders[1].tobytes()
    assert loader.epoch == 3


@settings(max_examples=40, deadline=None)
@given(
    size=st.integers(0, 40),
    batch_size=st.integers(1, 12),
    shuffle=st.booleans(),
    drop_last=st.booleans(),
    prefetch=st.sampled_from([0, 1, 2]),
)
def test_any_size_every_sample_at_most_once_and_len_matches(
    size, batch_size, shuffle, drop_last, prefetch
) -> None:
    images = np.arange(size, dtype=np.uint8).reshape(size, 1, 1)
    dataset = ArrayDataset(images, np.arange(size))
    loader = DataLoader(dataset, batch_size, shuffle, 7, drop_last, prefetch=prefetch)
    batches = collect(loader)
    assert len(batches) == len(loader)
    labels = np.concatenate([y for _, y in batches]) if batches else np.zeros(0, np.int64)
    assert len(set(labels.tolist())) == len(labels)
    expected = size - size % batch_size if drop_last else size
    assert len(labels) == expected
    for x, y in batches:
        np.testing.assert_array_equal(x[:, 0, 0, 0] * np.float32(255), y.astype(np.float32))
    if not shuffle:
        assert labels.tolist() == list(range(expected))
    assert loader.state_dict()["epoch"] == 1


def test_shuffle_order_is_a_function_of_seed_and_epoch(dataset) -> None:
    seen = []

    def record(images: np.ndarray, keys: SampleKeys) -> np.ndarray:
        seen.append((keys.seed, keys.epoch, keys.indices.copy()))
        return images

    loader = DataLoader(dataset, batch_size=50, shuffle=True, seed=9, transform=record)
    collect(loader)
    loader.set_epoch(0)
    collect(loader)
    assert [s[:2] for s in seen] == [(9, 0)] * 3 + [(9, 0)] * 3
    first = np.concatenate([s[2] for s in seen[:3]])
    again = np.concatenate([s[2] for s in seen[3:]])
    np.testing.assert_array_equal(first, again)
    assert sorted(first.tolist()) == list(range(N))
    generator = np.random.Generator(np.random.Philox(key=(9, 0)))
    np.testing.assert_array_equal(first, generator.permutation(N))


def test_len_and_drop_last(dataset) -> None:
    assert len(DataLoader(dataset, batch_size=10)) == 11
    assert len(DataLoader(dataset, batch_size=10, drop_last=True)) == 10
    batches = collect(DataLoader(dataset, batch_size=10, drop_last=True, shuffle=True, seed=0))
    assert len(batches) == 10
    assert all(x.shape[0] == 10 for x, _ in batches)
    assert len(DataLoader(dataset, batch_size=200, drop_last=True)) == 0
    assert collect(DataLoader(dataset, batch_size=200, drop_last=True)) == []


def test_identical_batches_for_any_prefetch_depth_and_thread_count(dataset, threads) -> None:
    runs = []
    for prefetch in (0, 1, 3):
        for count in (1, 2):
            odyssey.set_num_threads(count)
            loader = DataLoader(
                dataset, 16, shuffle=True, seed=21, prefetch=prefetch, transform=keyed_noise
            )
            runs.append(collect(loader) + collect(loader))
    for run in runs[1:]:
        assert_same_batches(runs[0], run)


def test_augmentation_of_a_sample_does_not_depend_on_the_batch_split(dataset) -> None:
    def by_index(batch_size: int) -> dict[int, bytes]:
        out = {}
        indices = []

        def remember(images: np.ndarray, keys: SampleKeys) -> np.ndarray:
            indices.append(keys.indices.copy())
            return keyed_noise(images, keys)

        loader = DataLoader(dataset, batch_size, shuffle=True, seed=3, transform=remember)
        for (images, _), idx in zip(collect(loader), indices, strict=True):
            out.update({int(i): image.tobytes() for i, image in zip(idx, images, strict=True)})
        return out

    assert by_index(7) == by_index(32)


@pytest.mark.parametrize("prefetch", [0, 2])
@pytest.mark.parametrize("consumed", [0, 1, 5, 6])
def test_resume_mid_epoch_gives_the_same_remaining_batches(dataset, prefetch, consumed) -> None:
    def make() -> DataLoader:
        return DataLoader(
            dataset, batch_size=16, shuffle=True, seed=5, transform=keyed_noise, prefetch=prefetch
        )

    reference = make()
    epoch0 = collect(reference)
    epoch1 = collect(reference)

    first = make()
    collect(first)  # epoch 0
    iterator = iter(first)  # epoch 1
    for _ in range(consumed):
        next(iterator)
    state = first.state_dict()
    del iterator
    assert state["epoch"] == 1
    assert state["batches"] == consumed

    resumed = make()
    resumed.load_state_dict(state)
    assert_same_batches(collect(resumed), epoch1[consumed:])
    # The next pass is epoch 2, the same as an uninterrupted run's.
    reference_epoch2 = collect(reference)
    assert_same_batches(collect(resumed), reference_epoch2)
    assert len(epoch0) == 7


@pytest.mark.parametrize(("shuffle", "drop_last"), [(False, False), (False, True), (True, True)])
def test_resume_mid_epoch_with_or_without_shuffle_and_drop_last(
    dataset, shuffle, drop_last
) -> None:
    def make() -> DataLoader:
        return DataLoader(
            dataset, batch_size=10, shuffle=shuffle, seed=3, drop_last=drop_last, prefetch=1
        )

    epoch0 = collect(make())
    assert len(epoch0) == (10 if drop_last else 11)
    first = make()
    collect(first, batches=4)
    state = first.state_dict()
    assert (state["epoch"], state["batches"]) == (0, 4)
    resumed = make()
    resumed.load_state_dict(state)
    assert resumed.state_dict() == state  # a checkpoint taken before iterating keeps the position
    assert_same_batches(collect(resumed), epoch0[4:])
    if not shuffle:
        seen = np.concatenate([y for _, y in epoch0])
        np.testing.assert_array_equal(seen, (np.arange(len(seen)) % 10))


def test_a_stale_iterator_does_not_move_a_restored_position(dataset) -> None:
    loader = DataLoader(dataset, batch_size=16, shuffle=True, seed=2, prefetch=0)
    state = loader.state_dict()
    stale = iter(loader)
    loader.load_state_dict({**state, "batches": 3})
    next(stale)
    assert loader.state_dict()["batches"] == 3
    reference = collect(DataLoader(dataset, batch_size=16, shuffle=True, seed=2))
    assert_same_batches(collect(loader), reference[3:])


def test_state_after_a_whole_epoch_points_at_the_next(dataset) -> None:
    loader = DataLoader(dataset, batch_size=16, shuffle=True, seed=1)
    assert loader.state_dict()["epoch"] == 0
    collect(loader)
    state = loader.state_dict()
    assert (state["epoch"], state["batches"], state["seed"]) == (1, 0, 1)
    other = DataLoader(dataset, batch_size=16, shuffle=True, seed=99)
    other.load_state_dict(state)
    assert_same_batches(collect(other), collect(loader))


def test_an_abandoned_pass_is_followed_by_the_next_epoch(dataset) -> None:
    loader = DataLoader(dataset, batch_size=16, shuffle=True, seed=1)
    collect(loader, batches=2)
    assert loader.state_dict()["batches"] == 2
    collect(loader)
    assert loader.epoch == 2


def test_a_pass_ended_by_close_keeps_its_position(dataset) -> None:
    loader = DataLoader(dataset, batch_size=16, shuffle=True, seed=6)
    iterator = iter(loader)
    for _ in range(3):
        next(iterator)
    assert len(iterator) == 4
    iterator.close()
    assert len(iterator) == 0
    with pytest.raises(StopIteration):
        next(iterator)
    state = loader.state_dict()
    assert (state["epoch"], state["batches"]) == (0, 3)
    collect(loader)
    assert loader.epoch == 2  # closed mid-epoch: the next pass was epoch 1


@pytest.mark.parametrize("prefetch", [0, 2])
def test_a_pass_ended_by_an_error_resumes_at_the_batch_that_failed(dataset, prefetch) -> None:
    failing = [True]

    def fail_once_on_third(images: np.ndarray, keys: SampleKeys) -> np.ndarray:
        if 32 in keys.indices and failing:
            failing.clear()
            raise Broken("bad sample 32")
        return images

    def make() -> DataLoader:
        return DataLoader(dataset, batch_size=16, transform=fail_once_on_third, prefetch=prefetch)

    loader = make()
    iterator = iter(loader)
    handed_out = [next(iterator), next(iterator)]
    with pytest.raises(Broken):
        next(iterator)
    assert len(iterator) == 0
    state = loader.state_dict()
    assert (state["epoch"], state["batches"]) == (0, 2)
    resumed = make()
    resumed.load_state_dict(state)
    assert_same_batches(handed_out + collect(resumed), collect(DataLoader(dataset, 16)))


def test_only_the_latest_iterator_moves_the_position(dataset) -> None:
    reference = DataLoader(dataset, batch_size=16, shuffle=True, seed=8)
    epoch0, epoch1 = collect(reference), collect(reference)
    loader = DataLoader(dataset, batch_size=16, shuffle=True, seed=8, prefetch=1)
    older = iter(loader)
    first = next(older)
    newer = iter(loader)  # the older pass is abandoned: this one is epoch 1
    assert (loader.epoch, loader.state_dict()["batches"]) == (1, 0)
    assert_same_batches([first, *older], epoch0)
    assert (loader.epoch, loader.state_dict()["batches"]) == (1, 0)
    assert_same_batches([next(newer), next(newer)], epoch1[:2])
    assert (loader.epoch, loader.state_dict()["batches"]) == (1, 2)
    assert_same_batches(list(newer), epoch1[2:])
    assert (loader.epoch, loader.state_dict()["batches"]) == (2, 0)


def test_an_empty_pass_ends_its_epoch_at_once() -> None:
    empty = ArrayDataset(np.zeros((3, 2, 2), np.uint8), np.zeros(3, np.int64))
    loader = DataLoader(empty, batch_size=4, drop_last=True)
    iterator = iter(loader)
    assert (loader.epoch, loader.state_dict()["batches"]) == (1, 0)
    assert list(iterator) == []
    assert list(loader) == []
    assert loader.epoch == 2


def test_an_iterator_does_not_keep_its_loader_alive(dataset) -> None:
    reference = collect(DataLoader(dataset, batch_size=16, seed=1, transform=keyed_noise))
    loader = DataLoader(dataset, batch_size=16, seed=1, transform=keyed_noise, prefetch=2)
    iterator = iter(loader)
    first = next(iterator)
    gone = weakref.ref(loader)
    del loader
    gc.collect()
    assert gone() is None
    assert_same_batches([first, *iterator], reference)
    assert loader_threads() == []


OPERATIONS = st.lists(
    st.one_of(
        st.just(("iter",)),
        st.tuples(st.just("next"), st.integers(0, 3)),
        st.tuples(st.just("close"), st.integers(0, 3)),
        st.tuples(st.just("drop"), st.integers(0, 3)),
        st.tuples(st.just("set_epoch"), st.integers(0, 3)),
        st.tuples(st.just("restore"), st.integers(0, 3), st.integers(0, 6)),
    ),
    max_size=30,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=OPERATIONS, prefetch=st.sampled_from([0, 1]))
def test_any_interleaving_gives_batch_k_of_epoch_e_and_states_where_it_stands(
    dataset, operations, prefetch
) -> None:
    """Iterators made, advanced, closed and dropped in any order, set_epoch and load_state_dict
    between them: each batch is batch k of epoch e of an uninterrupted run, where the rules say
    (a pass starts where set_epoch/load_state_dict put the loader, else the epoch after the last
    pass; only the latest pass moves the position), and state_dict() says the same."""
    runs: dict[int, list] = {}

    def expected(epoch: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        if epoch not in runs:
            reference = DataLoader(dataset, batch_size=16, shuffle=True, seed=4, prefetch=0)
            reference.set_epoch(epoch)
            runs[epoch] = collect(reference)
        return runs[epoch][k]

    loader = DataLoader(dataset, batch_size=16, shuffle=True, seed=4, prefetch=prefetch)
    count = len(loader)
    start, latest = (0, 0), None  # the model: where the next pass starts; the latest pass
    iterators: list[tuple[object, list[int]]] = []  # each with its [epoch, batches handed out]
    for operation in operations:
        name, *args = operation
        if name == "iter":
            where = start if latest is None else (latest[0] + 1, 0)
            latest = list(where)
            iterators.append((iter(loader), latest))
        elif name == "set_epoch":
            loader.set_epoch(args[0])
            start, latest = (args[0], 0), None
        elif name == "restore":
            state = {**loader.state_dict(), "epoch": args[0], "batches": args[1]}
            loader.load_state_dict(state)
            start, latest = (args[0], args[1]), None
        elif iterators:
            index = args[0] % len(iterators)
            iterator, position = iterators[index]
            if name == "next":
                if position[1] < count and len(iterator) > 0:
                    assert_same_batches([next(iterator)], [expected(*position)])
                    position[1] += 1
                else:
                    with pytest.raises(StopIteration):
                        next(iterator)
            elif name == "close":
                iterator.close()
                assert len(iterator) == 0
            else:
                del iterators[index]
        if latest is None:
            where = start
        else:
            where = (latest[0] + 1, 0) if latest[1] >= count else tuple(latest)
        state = loader.state_dict()
        assert (state["epoch"], state["batches"]) == where
        assert loader.epoch == where[0]
    for iterator, _ in iterators:
        iterator.close()


def test_load_state_dict_refuses_a_different_configuration(dataset) -> None:
    state = DataLoader(dataset, batch_size=16, shuffle=True, seed=1).state_dict()
    with pytest.raises(ValueError, match="batch_size is 8 here but 16"):
        DataLoader(dataset, batch_size=8, shuffle=True).load_state_dict(state)
    with pytest.raises(ValueError, match="dataset_size is 10 here but 103"):
        DataLoader(Subset(dataset, range(10)), batch_size=16, shuffle=True).load_state_dict(state)
    with pytest.raises(ValueError, match="the state lacks batches, seed"):
        DataLoader(dataset).load_state_dict({"epoch": 1})
    with pytest.raises(ValueError, match="batches 7 out of range"):
        DataLoader(dataset, batch_size=16, shuffle=True).load_state_dict({**state, "batches": 7})


def test_seed_none_draws_from_manual_seed(dataset) -> None:
    odyssey.manual_seed(123)
    a = DataLoader(dataset, batch_size=16, shuffle=True)
    odyssey.manual_seed(123)
    b = DataLoader(dataset, batch_size=16, shuffle=True)
    assert a.seed == b.seed
    assert_same_batches(collect(a), collect(b))


class Broken(Exception):
    pass


@pytest.mark.parametrize("prefetch", [0, 2])
def test_an_error_in_the_worker_is_raised_in_the_consumer(dataset, prefetch) -> None:
    def fail_on_third(images: np.ndarray, keys: SampleKeys) -> np.ndarray:
        if 32 in keys.indices:
            raise Broken("bad sample 32")
        return images

    loader = DataLoader(dataset, batch_size=16, transform=fail_on_third, prefetch=prefetch)
    iterator = iter(loader)
    assert len([next(iterator), next(iterator)]) == 2
    with pytest.raises(Broken, match="bad sample 32"):
        next(iterator)
    with pytest.raises(StopIteration):
        next(iterator)
    del iterator
    gc.collect()
    assert loader_threads() == []


def test_abandoned_iterators_stop_their_threads(dataset) -> None:
    slow = DataLoader(dataset, batch_size=4, prefetch=2, transform=keyed_noise)
    for _ in slow:
        break
    assert loader_threads() == []
    iterator = iter(slow)
    next(iterator)
    assert len(loader_threads()) == 1
    del iterator
    assert loader_threads() == []
    # A cycle keeps an iterator alive until the garbage collector runs.
    holder: dict = {}
    holder["self"] = holder
    holder["iterator"] = iter(slow)
    next(holder["iterator"])
    del holder
    gc.collect()
    assert loader_threads() == []
    iterator = iter(slow)
    iterator.close()
    assert loader_threads() == []
    with pytest.raises(StopIteration):
        next(iterator)


class PlainDataset(Dataset):
    """A dataset with only __len__ and __getitem__: the loader stacks samples itself."""

    def __len__(self) -> int:
        return 5

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return np.full((2, 2), index, dtype=np.uint8), index


def test_datasets_without_a_batch_path_are_stacked() -> None:
    batches = collect(DataLoader(PlainDataset(), batch_size=2))
    assert [y.tolist() for _, y in batches] == [[0, 1], [2, 3], [4]]
    assert batches[2][0].shape == (1, 1, 2, 2)
    assert batches[2][0][0, 0, 0, 0] == np.float32(4) / np.float32(255)


class DuckDataset:
    """Not a Dataset subclass: any object with __len__ and __getitem__ will do."""

    def __len__(self) -> int:
        return 3

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return np.full((1, 2), 10 * index, dtype=np.uint8), 2 - index


def test_duck_typed_datasets_work() -> None:
    ((images, labels),) = collect(DataLoader(DuckDataset(), batch_size=3))  # type: ignore[arg-type]
    assert labels.tolist() == [2, 1, 0]
    assert (images[:, 0, 0, 0] * np.float32(255)).tolist() == [0, 10, 20]


def test_argument_checks(dataset) -> None:
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        DataLoader(dataset, batch_size=0)
    with pytest.raises(TypeError, match="batch_size must be an int"):
        DataLoader(dataset, batch_size=2.5)
    with pytest.raises(ValueError, match="DataLoader: prefetch must be >= 0, got -1"):
        DataLoader(dataset, prefetch=-1)
    with pytest.raises(TypeError, match="transform must be callable"):
        DataLoader(dataset, transform="flip")
    with pytest.raises(ValueError, match="seed must be in"):
        DataLoader(dataset, seed=-1)
    with pytest.raises(TypeError, match="seed must be an int"):
        DataLoader(dataset, seed=1.5)
    state = DataLoader(dataset, batch_size=16).state_dict()
    with pytest.raises(ValueError, match="seed must be in"):
        DataLoader(dataset, batch_size=16).load_state_dict({**state, "seed": -1})
    with pytest.raises(ValueError, match=r"load_state_dict: epoch must be in \[0, 2\*\*32\)"):
        DataLoader(dataset, batch_size=16).load_state_dict({**state, "epoch": -1})


@pytest.mark.parametrize(
    ("transform", "error", "message"),
    [
        (lambda x, k: x.tolist(), TypeError, r"returned list; expected a float32 \(N, C, H, W\)"),
        (lambda x, k: x.astype(np.float64), TypeError, r"returned float64 \(4, 1, 5, 6\)"),
        (lambda x, k: x[:, 0], ValueError, r"returned shape \(4, 5, 6\)"),
        (lambda x, k: x[:2], ValueError, r"returned shape \(2, 1, 5, 6\).* batch of 4 images"),
    ],
)
def test_a_transform_returning_a_wrong_batch_is_named(dataset, transform, error, message) -> None:
    for prefetch in (0, 1):
        loader = DataLoader(dataset, batch_size=4, transform=transform, prefetch=prefetch)
        with pytest.raises(error, match=message):
            next(iter(loader))


def test_images_must_be_uint8_or_floating_point() -> None:
    labels = np.arange(3)
    floats = np.linspace(-1, 2, 3 * 4).reshape(3, 1, 2, 2)
    ((images, _),) = collect(DataLoader(ArrayDataset(floats, labels), batch_size=3))
    np.testing.assert_array_equal(images, floats.astype(np.float32))  # taken as they are
    with pytest.raises(
        TypeError, match=r"uint8 \(scaled to \[0, 1\]\) or floating point, got int16"
    ):
        next(iter(DataLoader(ArrayDataset(np.zeros((3, 2, 2), np.int16), labels), batch_size=3)))


def test_channels_last_arrays_are_batched_channels_first() -> None:
    hwc = np.random.default_rng(0).integers(0, 256, size=(5, 4, 3, 2), dtype=np.uint8)
    dataset = ArrayDataset(hwc, np.arange(5), channels_last=True)
    ((images, _),) = collect(DataLoader(dataset, batch_size=5))
    assert images.shape == (5, 2, 4, 3)
    np.testing.assert_array_equal(images * np.float32(255), hwc.transpose(0, 3, 1, 2))
    with pytest.raises(ValueError, match=r"must be \(N, H, W, C\), got \(5, 4, 3\)"):
        ArrayDataset(hwc[..., 0], np.arange(5), channels_last=True)


def numpy_unit_floats(images: np.ndarray, indices: np.ndarray) -> np.ndarray:
    return np.divide(images[indices], np.float32(255), dtype=np.float32)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    shape=st.tuples(st.integers(1, 40), st.integers(1, 3), st.integers(1, 33), st.integers(1, 33)),
    batch=st.integers(0, 70),
    seed=st.integers(0, 2**32 - 1),
)
def test_gather_unit_floats_is_numpy_index_then_division(isa, threads, shape, batch, seed) -> None:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=shape, dtype=np.uint8)
    indices = rng.integers(0, shape[0], size=batch)
    want = numpy_unit_floats(images, indices)
    for count in (1, 2, 3):
        odyssey.set_num_threads(count)
        got = _kernels.gather_unit_floats(images, indices)
        assert got.dtype == np.float32
        assert got.shape == want.shape
        assert got.tobytes() == want.tobytes()
    every_byte = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    got = _kernels.gather_unit_floats(every_byte, np.zeros(1, dtype=np.int64))
    assert got.tobytes() == numpy_unit_floats(every_byte, [0]).tobytes()


def test_gather_unit_floats_checks_its_arguments() -> None:
    images = np.zeros((4, 2, 2), np.uint8)
    good = np.array([0, 3])
    with pytest.raises(TypeError, match=r"images: expected dtype uint8, got float32"):
        _kernels.gather_unit_floats(images.astype(np.float32), good)
    with pytest.raises(TypeError, match=r"indices: expected dtype int64, got int32"):
        _kernels.gather_unit_floats(images, good.astype(np.int32))
    with pytest.raises(
        IndexError, match=r"index 4 at position 1 is out of range for images \(4, 2, 2\)"
    ):
        _kernels.gather_unit_floats(images, np.array([0, 4]))
    with pytest.raises(IndexError, match="index -1 at position 0"):
        _kernels.gather_unit_floats(images, np.array([-1]))
    with pytest.raises(ValueError, match="images: expected a C-contiguous array"):
        _kernels.gather_unit_floats(images[:, :, ::2], good)
    with pytest.raises(ValueError, match=r"images must have a sample axis, got shape \(\)"):
        _kernels.gather_unit_floats(np.zeros((), np.uint8), good)
    with pytest.raises(ValueError, match=r"indices must be 1-D, got shape \(1, 2\)"):
        _kernels.gather_unit_floats(images, good[None])
    with pytest.raises(IndexError, match="out of range for images \\(0, 2, 2\\)"):
        _kernels.gather_unit_floats(images[:0], good)
    assert _kernels.gather_unit_floats(images, good[:0]).shape == (0, 2, 2)


def test_every_dataset_path_gives_the_same_float_batches() -> None:
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, size=(20, 3, 5, 4), dtype=np.uint8)
    labels = np.arange(20)
    indices = np.array([19, -1, 0, 7, -20])
    want = numpy_unit_floats(images, indices)
    contiguous = ArrayDataset(images, labels)
    strided = ArrayDataset(np.asfortranarray(images), labels)  # the NumPy path
    for dataset in (contiguous, strided):
        got, got_labels = dataset.get_float_batch(indices)
        assert got.tobytes() == want.tobytes()
        assert got_labels.tolist() == [19, 19, 0, 7, 0]
    planes = ArrayDataset(images[:, 0], labels)
    assert planes.get_float_batch(indices)[0].tobytes() == want[:, :1].tobytes()
    subset = Subset(contiguous, [4, 9, 19])
    got, got_labels = subset.get_float_batch(np.array([2, 0]))
    assert got.tobytes() == numpy_unit_floats(images, [19, 4]).tobytes()
    assert got_labels.tolist() == [19, 4]
    duck_subset = Subset(DuckDataset(), [2, 0])  # type: ignore[arg-type]
    assert duck_subset.get_float_batch(np.array([0]))[1].tolist() == [0]


@pytest.mark.parametrize(
    ("state", "error", "message"),
    [
        (None, TypeError, "expected a dict from state_dict\\(\\), got NoneType"),
        ({"epoch": 0, "batches": 0, "seed": 1, "typo": 3}, ValueError, "unexpected keys.*'typo'"),
        ({"epoch": 0, "batches": 0.5, "seed": 1}, TypeError, "batches must be an int, got float"),
        ({"epoch": "1", "batches": 0, "seed": 1}, TypeError, "epoch must be an int, got str"),
        ({"epoch": 2**64, "batches": 0, "seed": 1}, ValueError, r"epoch must be in \[0, 2\*\*32\)"),
        ({"epoch": 0, "batches": 0, "seed": 1, "shuffle": 1}, TypeError, "shuffle must be a bool"),
        ({"epoch": 0, "batches": 0, "seed": 1, "batch_size": True}, TypeError, "batch_size must"),
    ],
)
def test_load_state_dict_validates_the_state(dataset, state, error, message) -> None:
    loader = DataLoader(dataset, batch_size=16)
    with pytest.raises(error, match=f"DataLoader.load_state_dict: {message}"):
        loader.load_state_dict(state)
    assert loader.state_dict()["epoch"] == 0  # a refused state changes nothing


@pytest.mark.parametrize(
    ("epoch", "error", "message"),
    [
        (2**64, ValueError, r"epoch must be in \[0, 2\*\*32\), got 18446744073709551616"),
        (2**32, ValueError, r"epoch must be in \[0, 2\*\*32\)"),
        (-1, ValueError, r"epoch must be in \[0, 2\*\*32\)"),
        (1.5, TypeError, "epoch must be an int, got float"),
        (True, TypeError, "epoch must be an int, got bool"),
    ],
)
def test_set_epoch_is_range_checked_where_it_is_set(dataset, epoch, error, message) -> None:
    with pytest.raises(error, match=f"DataLoader.set_epoch: {message}"):
        DataLoader(dataset).set_epoch(epoch)


def test_the_last_epoch_the_augmentations_can_key_runs(dataset) -> None:
    loader = DataLoader(dataset, batch_size=64, prefetch=0, shuffle=True, seed=3)
    loader.set_epoch(2**32 - 1)
    assert len(list(loader)) == 2


def test_a_dataset_must_be_map_style() -> None:
    with pytest.raises(TypeError, match=r"DataLoader: dataset must be map-style .* got NoneType"):
        DataLoader(None)  # type: ignore[arg-type]


def test_sample_keys_check_seed_and_epoch() -> None:
    with pytest.raises(ValueError, match=r"SampleKeys: epoch must be in \[0, 2\*\*32\)"):
        SampleKeys(1, 2**32, np.arange(2))
    with pytest.raises(TypeError, match="SampleKeys: seed must be an int, got float"):
        SampleKeys(1.0, 0, np.arange(2))  # type: ignore[arg-type]


@pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64", "aarch64", "arm64"),
    reason="x86-64 and AArch64 have a flush-to-zero mode",
)
def test_the_prefetch_thread_follows_the_callers_flush_to_zero(dataset) -> None:
    """Batches made on the prefetch thread run under the mode of the thread that started the
    pass, so flushing subnormals gives the same bits with or without prefetching."""
    tiny = Normalize(0.0, 1e37)  # unit floats / 1e37: many results are subnormal

    def run(prefetch: int) -> list[tuple[np.ndarray, np.ndarray]]:
        return collect(DataLoader(dataset, 16, seed=5, prefetch=prefetch, transform=tiny))

    plain = run(0)
    assert any(((x != 0) & (np.abs(x) < np.finfo(np.float32).tiny)).any() for x, _ in plain)
    odyssey.set_flush_denormal(True)
    try:
        flushed = [run(0), run(2)]
    finally:
        odyssey.set_flush_denormal(False)
    assert_same_batches(flushed[0], flushed[1])
    assert all(((x == 0) | (np.abs(x) >= np.finfo(np.float32).tiny)).all() for x, _ in flushed[1])
