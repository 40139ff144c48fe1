"""A deterministic, prefetching DataLoader.

Batch k of epoch e is a pure function of (seed, e, k): the shuffle order is a Philox permutation
keyed by (seed, e), and a transform draws per-sample randomness from (seed, e, dataset index).
So batches are bitwise identical for any prefetch depth or thread count, and a run resumed from
`state_dict()` continues with exactly the batches it would have seen.
"""

from __future__ import annotations

import queue
import threading
import weakref
from collections.abc import Mapping
from typing import Any

import numpy as np

from odyssey import _checks as check
from odyssey import _kernels
from odyssey.data.datasets import Dataset
from odyssey.data.keys import SampleKeys, check_epoch
from odyssey.data.transforms import Transform
from odyssey.random import check_seed, fresh_seed

__all__ = ["DataLoader", "Transform"]


_POLL_SECONDS = 0.05


# What `state_dict()` holds: the position, then what a resumed loader must agree on.
_STATE_INTS = ("epoch", "batches", "seed")
_STATE_CONFIG = {"shuffle": bool, "batch_size": int, "drop_last": bool, "dataset_size": int}


def epoch_order(seed: int, epoch: int, length: int) -> np.ndarray:
    """The shuffle order of one epoch: a permutation depending on (seed, epoch) only."""
    generator = np.random.Generator(np.random.Philox(key=(int(seed), int(epoch))))
    return generator.permutation(length)


def _checked_labels(labels: Any, count: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (count,) or (labels.size and labels.dtype.kind not in "iu"):
        raise TypeError(
            f"DataLoader: the dataset gave labels of {labels.dtype} {labels.shape}, expected "
            f"{count} integers"
        )
    return labels.astype(np.int64, copy=False)


def _checked_batch(images: Any, count: int, source: str) -> np.ndarray:
    """The batch `source` gave, or an error naming it and what it returned."""
    expected = f"expected a float32 (N, C, H, W) batch of {count} images"
    if not isinstance(images, np.ndarray) or images.dtype != np.float32:
        got = (
            f"{images.dtype} {images.shape}"
            if isinstance(images, np.ndarray)
            else type(images).__name__
        )
        raise TypeError(f"DataLoader: {source} returned {got}; {expected}")
    if images.ndim != 4 or images.shape[0] != count:
        raise ValueError(f"DataLoader: {source} returned shape {images.shape}; {expected}")
    return images


class _Epoch:
    """Everything one epoch's batches are computed from; holds no reference to the loader or
    the iterator, so the worker thread never keeps them alive."""

    def __init__(
        self,
        dataset: Dataset,
        order: np.ndarray,
        batch_size: int,
        count: int,
        seed: int,
        epoch: int,
        transform: Transform | None,
    ) -> None:
        self.dataset = dataset
        self.order = order
        self.batch_size = batch_size
        self.count = count
        self.seed = seed
        self.epoch = epoch
        self.transform = transform

    def batch(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        indices = self.order[k * self.batch_size : (k + 1) * self.batch_size]
        gather = getattr(self.dataset, "get_float_batch", None)
        if gather is None:  # a duck-typed dataset
            images, labels = Dataset.get_float_batch(self.dataset, indices)  # type: ignore[arg-type]
        else:
            images, labels = gather(indices)
        labels = _checked_labels(labels, len(indices))
        images = _checked_batch(images, len(indices), f"the dataset {type(self.dataset).__name__}")
        if self.transform is not None:
            images = self.transform(images, SampleKeys(self.seed, self.epoch, indices))
            images = _checked_batch(images, len(indices), f"transform {self.transform!r}")
        return images, labels


def _put(slots: queue.Queue, item: tuple, stop: threading.Event) -> bool:
    """Puts `item` unless `stop` is set first; whether it was put."""
    while not stop.is_set():
        try:
            slots.put(item, timeout=_POLL_SECONDS)
            return True
        except queue.Full:
            continue
    return False


def _produce(
    plan: _Epoch, start: int, slots: queue.Queue, stop: threading.Event, controls: int
) -> None:
    """The prefetch thread: puts ("batch", value) in order, or ("error", error) where one fails.
    (The consumer knows the batch count, so no end marker is needed.) It runs under the
    floating-point controls of the thread that started the pass (`controls`: flush-to-zero, see
    odyssey.set_flush_denormal), so batches have the same bits with or without prefetching."""
    try:
        _kernels.set_float_controls(controls)
        for k in range(start, plan.count):
            if not _put(slots, ("batch", plan.batch(k)), stop):
                return
    except BaseException as error:  # re-raised in the consumer
        _put(slots, ("error", error), stop)


def _shut_down(stop: threading.Event, slots: queue.Queue, worker: threading.Thread) -> None:
    stop.set()
    while True:  # unblock a put() in progress
        try:
            slots.get_nowait()
        except queue.Empty:
            break
    if worker is not threading.current_thread():
        worker.join()


class _Progress:
    """Where one pass over an epoch stands: its epoch, the batches it has handed out and how many
    it has. The pass's iterator moves it; the loader that started the pass only reads it, so the
    loader knows where it stands without the iterator knowing the loader."""

    __slots__ = ("count", "epoch", "handed_out")

    def __init__(self, epoch: int, handed_out: int, count: int) -> None:
        self.epoch = epoch
        self.handed_out = handed_out
        self.count = count

    @property
    def finished(self) -> bool:
        return self.handed_out >= self.count


class _LoaderIterator:
    """One pass over the rest of an epoch, from batch `progress.handed_out`. Abandoning it
    (break, del, garbage collection) stops its prefetch thread; an error or `close()` ends it
    where it stood, with the batches not handed out still to come."""

    def __init__(self, plan: _Epoch, progress: _Progress, prefetch: int) -> None:
        self._plan = plan
        self._progress = progress
        self._closed = False
        self._worker: threading.Thread | None = None
        if prefetch > 0 and not progress.finished:
            self._slots: queue.Queue = queue.Queue(maxsize=prefetch)
            self._stop = threading.Event()
            self._worker = threading.Thread(
                target=_produce,
                args=(
                    plan,
                    progress.handed_out,
                    self._slots,
                    self._stop,
                    _kernels.float_controls(),
                ),
                name=f"odyssey-loader-epoch{plan.epoch}",
                daemon=True,
            )
            self._worker.start()
            self._finalizer = weakref.finalize(
                self, _shut_down, self._stop, self._slots, self._worker
            )

    def __iter__(self) -> _LoaderIterator:
        return self

    def __next__(self) -> tuple[np.ndarray, np.ndarray]:
        if self._closed or self._progress.finished:
            self.close()
            raise StopIteration
        if self._worker is None:
            try:
                value = self._plan.batch(self._progress.handed_out)
            except BaseException:
                self.close()
                raise
        else:
            item = self._slots.get()
            if item[0] == "error":
                self.close()
                raise item[1]
            value = item[1]
        self._progress.handed_out += 1
        return value

    def __len__(self) -> int:
        return 0 if self._closed else self._progress.count - self._progress.handed_out

    def close(self) -> None:
        """Stops the prefetch thread; the iterator yields nothing more."""
        self._closed = True
        if self._worker is not None:
            self._finalizer()


class DataLoader:
    """Batches of a map-style dataset: float32 images (N, C, H, W) in [0, 1] and int64 labels.

    Dataset images are (H, W) or channels first, (C, H, W); uint8 is scaled by 1/255, floating
    point is taken as it is (ArrayDataset(channels_last=True) accepts (N, H, W, C) arrays). A
    transform is called as `t(images, keys)` and must return a float32 NCHW batch of the same
    length, or the loader raises naming it.

    `prefetch` batches are prepared by a background thread while the caller trains (0: prepared
    on demand in the caller's thread). Each `iter(loader)` starts the next epoch (or the one set
    by `set_epoch`, or resumes the position restored by `load_state_dict`)."""

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        seed: int | None = None,
        drop_last: bool = False,
        transform: Transform | None = None,
        prefetch: int = 2,
    ) -> None:
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(
                "DataLoader: dataset must be map-style (len(dataset) and dataset[i]), got "
                f"{type(dataset).__name__}"
            )
        check.integer(batch_size, "DataLoader", "batch_size", 1)
        check.integer(prefetch, "DataLoader", "prefetch", 0)
        if seed is not None:
            check_seed(seed, "DataLoader")
        if transform is not None and not callable(transform):
            raise TypeError("DataLoader: transform must be callable t(images, keys)")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = fresh_seed() if seed is None else int(seed)
        self.drop_last = bool(drop_last)
        self.transform = transform
        self.prefetch = int(prefetch)
        # Where the next pass starts, (epoch, batch), until a pass starts; from then on (until
        # set_epoch or load_state_dict sets a new start) that pass's progress, which its iterator
        # moves, says where the loader stands.
        self._start = (0, 0)
        self._pass: _Progress | None = None

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _position(self) -> tuple[int, int]:
        """(epoch, batches of it handed out): the current pass's, or where the next one starts."""
        current = self._pass
        if current is None:
            return self._start
        if current.finished:
            return current.epoch + 1, 0
        return current.epoch, current.handed_out

    @property
    def epoch(self) -> int:
        """The epoch in progress, or the one the next iteration starts."""
        return self._position()[0]

    def set_epoch(self, epoch: int) -> None:
        """The next iteration runs epoch `epoch` from its first batch."""
        self._start = (check_epoch(epoch, "DataLoader.set_epoch"), 0)
        self._pass = None  # an iterator still alive no longer moves the position

    def __iter__(self) -> _LoaderIterator:
        if self._pass is None:
            epoch, start = self._start
        else:
            # The previous pass ended, or was abandoned mid-epoch: this one is the next epoch.
            epoch, start = self._pass.epoch + 1, 0
        length, count = len(self.dataset), len(self)
        if self.shuffle:
            order = epoch_order(self.seed, epoch, length)
        else:
            order = np.arange(length, dtype=np.int64)
        plan = _Epoch(self.dataset, order, self.batch_size, count, self.seed, epoch, self.transform)
        self._pass = _Progress(epoch, start, count)
        return _LoaderIterator(plan, self._pass, self.prefetch)

    def state_dict(self) -> dict[str, Any]:
        """Where the loader stands: the epoch, the batches of it already consumed, and what a
        resumed loader must agree on."""
        epoch, batches = self._position()
        return {
            "epoch": epoch,
            "batches": batches,
            "seed": self.seed,
            "shuffle": self.shuffle,
            "batch_size": self.batch_size,
            "drop_last": self.drop_last,
            "dataset_size": len(self.dataset),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resumes from `state`: the next batch yielded is the one that would have come next."""
        who = "DataLoader.load_state_dict"
        if not isinstance(state, Mapping):
            raise TypeError(f"{who}: expected a dict from state_dict(), got {type(state).__name__}")
        missing = [key for key in _STATE_INTS if key not in state]
        if missing:
            raise ValueError(f"{who}: the state lacks {', '.join(missing)}")
        unexpected = sorted(map(repr, set(state) - {*_STATE_INTS, *_STATE_CONFIG}))
        if unexpected:
            raise ValueError(f"{who}: unexpected keys in the state: {', '.join(unexpected)}")
        for key, kind in _STATE_CONFIG.items():
            if key not in state:
                continue
            value = state[key]
            # A bool is an int to isinstance, and NumPy scalars come from np.load'ed states.
            is_bool = isinstance(value, (bool, np.bool_))
            if not (is_bool if kind is bool else check.is_int(value)):
                raise TypeError(
                    f"{who}: {key} must be a {kind.__name__}, got {type(value).__name__}"
                )
            ours = len(self.dataset) if key == "dataset_size" else getattr(self, key)
            if value != ours:
                raise ValueError(
                    f"{who}: {key} is {ours} here but {value} in the state; the batches would "
                    "differ"
                )
        position = check.integer(state["batches"], who, "batches")
        if not 0 <= position < max(len(self), 1):
            raise ValueError(f"{who}: batches {position} out of range [0, {len(self)})")
        seed = check_seed(state["seed"], who)
        epoch = check_epoch(state["epoch"], who)
        self.seed = seed
        self._start = (epoch, int(position))
        self._pass = None  # an iterator still alive no longer moves the position
