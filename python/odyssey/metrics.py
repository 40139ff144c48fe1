"""Classification metrics, streaming and exact: accuracy, top-k accuracy, the confusion matrix,
precision/recall/F1 (per class, macro, micro, weighted) and the mean loss.

Each metric is an object with torchmetrics' methods -- ``update(preds, target)`` per batch,
``compute()`` at the end, ``reset()``, ``state_dict()`` / ``load_state_dict()`` -- and the one-batch
functions ``accuracy``, ``top_k_accuracy``, ``confusion_matrix`` and ``precision_recall_f1`` give
the same numbers for a single batch.

Inputs are an ``odyssey.Tensor`` or a NumPy array: ``preds`` either floating-point logits (or
probabilities) of shape (N, C), or predicted class labels of shape (N,) of an integer dtype;
``target`` integer class labels of shape (N,). Arguments are ``(preds, target)`` in that order, as
in torchmetrics (scikit-learn puts ``y_true`` first).

Rules the numbers follow:

- Exact. The state is integer counts (int64), so nothing drifts however many samples are seen;
  ``MeanLoss`` keeps the exact sum of its values (every float64 is an integer times a power of
  two; the sum is kept as one big integer and a power of two), and ``compute()`` rounds once.
- Ties. The predicted class of a row of logits is its first maximum -- the lowest index wins, as
  in ``torch.argmax`` and ``np.argmax``. Top-k uses the same order: the target is within the top k
  when fewer than k classes rank above it, where class j ranks above the target t when its logit
  is larger, or equal with j < t. (scikit-learn's ``top_k_accuracy_score`` breaks ties the other
  way, towards the highest index.) Top-1 accuracy therefore always equals ``Accuracy``.
- NaN logits raise ValueError: no class can be predicted from them, and neither counting the row
  as wrong nor taking the first NaN as the maximum (torch's argmax) would be an honest answer.
- Nothing seen. ``compute()`` before any sample gives NaN (the confusion matrix: zeros). A metric
  of no samples is undefined; NaN says so, cannot be mistaken for a score (torchmetrics warns and
  gives 0), and flows on to ``EarlyStopping(check_finite=True)`` instead of raising at the end of
  an empty validation epoch.
- Zero division in precision/recall/F1 (a class never predicted, or never in the target) follows
  scikit-learn's rule: the undefined value becomes ``zero_division`` -- 0.0 by default, which gives
  scikit-learn's default (``zero_division="warn"``) numbers, without its warning -- or 1.0, or NaN
  (NaN values are left out of the averages, as in scikit-learn). F1 is ``2 tp / (2 tp + fp + fn)``.
  Macro and weighted averages are over the classes that occur in the target or the predictions
  (scikit-learn's average when it infers the labels); a class absent from both is undefined in
  every sense and only shows, as ``zero_division``, in the per-class results.
- ``num_classes``: checked where given (logits must have that many columns, labels must be below
  it); inferred where not: the logits' C, or one more than the largest label seen (so a streaming
  metric's per-class arrays grow as larger labels arrive).

``state_dict()`` is a plain dict of int64 NumPy arrays (torchmetrics' states by name), made to be
stored as JSON or safetensors and given back to ``load_state_dict``, which also takes ints and
integer arrays and checks shapes and counts: Accuracy and TopKAccuracy ``correct``, ``total``
(0-d); ConfusionMatrix ``confmat`` (C, C); PrecisionRecallF1 ``tp``, ``fp``, ``tn``, ``fn`` (C,);
MeanLoss the exact sums as 32-bit limbs and a power of two (``sum_limbs``, ``sum_exponent``,
``weight_limbs``, ``weight_exponent``) and ``nan_count``, ``posinf_count``, ``neginf_count``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from odyssey import _checks as check
from odyssey.tensor import Tensor

__all__ = [
    "Accuracy",
    "ConfusionMatrix",
    "MeanLoss",
    "PrecisionRecallF1",
    "PrecisionRecallF1Result",
    "TopKAccuracy",
    "accuracy",
    "confusion_matrix",
    "precision_recall_f1",
    "top_k_accuracy",
]

I64 = np.dtype(np.int64)
_I64_MAX = np.iinfo(np.int64).max
# What preds and target may be: an odyssey.Tensor or a NumPy array.
TensorOrArray = Tensor | np.ndarray
_AVERAGES = ("micro", "macro", "weighted", None)
_NORMALIZE = ("true", "pred", "all", None)
# MeanLoss takes integer values as float64 only where that is exact.
_EXACT_INT = 2**53
# labels * classes + predicted indexes the flattened matrix in int64.
_MAX_MATRIX_SIDE = 2**31


class PrecisionRecallF1Result(NamedTuple):
    """Precision, recall and F1 (floats when averaged, float64 arrays per class when
    ``average=None``) and the support: how many samples of each class the target held (int64)."""

    precision: Any
    recall: Any
    f1: Any
    support: np.ndarray


# -- inputs ---------------------------------------------------------------------------------------


def _array(value: Any, fn: str, name: str) -> np.ndarray:
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, np.ndarray):
        return value
    raise TypeError(
        f"{fn}: {name} must be an odyssey.Tensor or a numpy.ndarray, not {type(value).__name__}"
    )


def _num_classes(value: Any, fn: str) -> int | None:
    """None, or an int of at least 1."""
    if value is None:
        return None
    return check.size(check.integer(value, fn, "num_classes", 1), fn, "num_classes")


def _is_labels(data: np.ndarray) -> bool:
    return data.dtype.kind in "iu"


def _check_labels(labels: np.ndarray, fn: str, name: str, classes: int | None, why: str) -> None:
    """ValueError naming the first label below 0 or (when `classes` is known) at least `classes`;
    compared in the array's own dtype, so uint64 labels beyond int64 are caught before a cast."""
    if labels.size == 0:
        return
    if classes is None and labels.dtype == np.uint64 and int(labels.max()) > _I64_MAX:
        raise ValueError(f"{fn}: {name} holds {labels.max()}, beyond int64")
    bad = labels < 0 if classes is None else (labels < 0) | (labels >= classes)
    if not bad.any():
        return
    position = int(np.argmax(bad))
    value = labels[position]
    if value < 0:
        raise ValueError(
            f"{fn}: {name} holds {value} at position {position}; class labels must be >= 0"
        )
    raise ValueError(
        f"{fn}: {name} holds {value} at position {position}; class labels must be in "
        f"[0, {classes}) for {classes} classes ({why})"
    )


def _logits(preds: Any, fn: str, num_classes: int | None) -> np.ndarray:
    """The (N, C) floating array of `preds`, checked against num_classes."""
    data = _array(preds, fn, "preds")
    if data.dtype.kind != "f":
        raise TypeError(
            f"{fn}: preds must be (N, C) floating-point logits (top-k needs scores, not labels), "
            f"got {data.dtype} of shape {data.shape}"
        )
    if data.ndim != 2:
        raise ValueError(f"{fn}: preds must be (N, C) logits, got shape {data.shape}")
    _check_columns(data, fn, num_classes)
    return data


def _check_columns(data: np.ndarray, fn: str, num_classes: int | None) -> None:
    rows, columns = data.shape
    if columns == 0 and rows > 0:
        raise ValueError(f"{fn}: preds has no classes: logits of shape {data.shape}")
    if num_classes is not None and columns != num_classes:
        raise ValueError(
            f"{fn}: preds has {columns} classes (logits of shape {data.shape}) but num_classes "
            f"is {num_classes}"
        )


def _first_nan_row(data: np.ndarray, rows: np.ndarray, fn: str) -> None:
    """ValueError naming the first row whose logits hold a NaN, given a per-row NaN mask."""
    if rows.any():
        row = int(np.argmax(rows))
        raise ValueError(
            f"{fn}: preds holds NaN in row {row}; no class can be predicted from NaN logits"
        )


def _batch(
    preds: Any, target: Any, fn: str, num_classes: int | None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Predicted and target labels (int64, (N,)) and the number of classes the batch shows: the
    logits' C, else num_classes, else one more than the largest label (0 when empty)."""
    data = _array(preds, fn, "preds")
    if data.dtype.kind == "f" and data.ndim == 2:
        _check_columns(data, fn, num_classes)
        rows = data.shape[0]
        if data.size:
            predicted = np.argmax(data, axis=1)  # the first maximum, or the first NaN
            _first_nan_row(data, np.isnan(data[np.arange(rows), predicted]), fn)
        else:
            predicted = np.zeros(rows, I64)
        classes: int | None = data.shape[1]
        why = f"preds has {data.shape[1]} columns"
    elif _is_labels(data) and data.ndim == 1:
        rows = data.shape[0]
        classes = num_classes
        why = f"num_classes={num_classes}"
        _check_labels(data, fn, "preds", classes, why)
        predicted = data
    else:
        error = ValueError if data.dtype.kind in "fiu" else TypeError
        raise error(
            f"{fn}: preds must be (N, C) floating-point logits or (N,) integer class labels, "
            f"got {data.dtype} of shape {data.shape}"
        )
    labels = _target(target, rows, fn, classes, why)
    predicted = predicted.astype(I64, copy=False)
    if classes is None:
        top = max(int(predicted.max()), int(labels.max())) + 1 if rows else 0
        classes = top
    return predicted, labels, classes


def _target(target: Any, rows: int, fn: str, classes: int | None, why: str) -> np.ndarray:
    labels = _array(target, fn, "target")
    if not _is_labels(labels):
        raise TypeError(f"{fn}: target must hold integer class labels, got {labels.dtype}")
    if labels.shape != (rows,):
        raise ValueError(
            f"{fn}: target must have shape ({rows},), one label per row of preds, got "
            f"{labels.shape}"
        )
    _check_labels(labels, fn, "target", classes, why)
    return labels.astype(I64, copy=False)


def _top_k_hits(preds: Any, target: Any, k: int, fn: str, num_classes: int | None) -> np.ndarray:
    """Per row, whether the target is among the k highest logits (ties: the lower index first)."""
    data = _logits(preds, fn, num_classes)
    rows, columns = data.shape
    labels = _target(target, rows, fn, columns, f"preds has {columns} columns")
    if k > columns:
        raise ValueError(
            f"{fn}: k={k} is larger than the number of classes, {columns} (preds of shape "
            f"{data.shape})"
        )
    if rows == 0:
        return np.zeros(0, bool)
    _first_nan_row(data, np.isnan(data).any(axis=1), fn)
    score = data[np.arange(rows), labels][:, None]
    above = (data > score).sum(axis=1)
    tied_before = ((data == score) & (np.arange(columns) < labels[:, None])).sum(axis=1)
    return above + tied_before < k


# -- the computations, from counts ----------------------------------------------------------------


def _ratio(numerator: int, denominator: int) -> float:
    """numerator / denominator rounded once (Python's int division), NaN when nothing was seen."""
    return numerator / denominator if denominator else math.nan


def _bincount(values: np.ndarray, size: int, fn: str, what: str) -> np.ndarray:
    """How often each of 0 .. size - 1 occurs in `values` (all in range), as int64."""
    try:
        return np.bincount(values, minlength=size).astype(I64, copy=False)
    except (MemoryError, ValueError):
        raise MemoryError(f"{fn}: {what} is more than this machine can hold") from None


def _confusion(predicted: np.ndarray, labels: np.ndarray, classes: int, fn: str) -> np.ndarray:
    """Rows are the true classes, columns the predicted ones (scikit-learn's and torchmetrics')."""
    what = f"a {classes} x {classes} confusion matrix"
    if classes > _MAX_MATRIX_SIDE:
        raise MemoryError(f"{fn}: {what} is more than this machine can hold")
    flat = _bincount(labels * classes + predicted, classes * classes, fn, what)
    return flat.reshape(classes, classes)


def _normalized(confmat: np.ndarray, normalize: str | None) -> np.ndarray:
    """The matrix divided by its row sums ("true"), column sums ("pred") or total ("all"); a
    row or column of zeros stays zero, as in scikit-learn and torchmetrics."""
    if normalize is None:
        return confmat.copy()
    if normalize == "true":
        totals = confmat.sum(axis=1, keepdims=True)
    elif normalize == "pred":
        totals = confmat.sum(axis=0, keepdims=True)
    else:
        totals = confmat.sum(keepdims=True)
    totals = np.broadcast_to(totals, confmat.shape)
    result = np.zeros(confmat.shape, np.float64)
    np.divide(confmat, totals, out=result, where=totals != 0)
    return result


def _stat_scores(
    predicted: np.ndarray, labels: np.ndarray, classes: int, fn: str
) -> dict[str, np.ndarray]:
    """Per class true positives, false positives, true negatives and false negatives."""
    what = f"counts for {classes} classes"
    tp = _bincount(labels[predicted == labels], classes, fn, what)
    fp = _bincount(predicted, classes, fn, what) - tp
    fn_ = _bincount(labels, classes, fn, what) - tp
    tn = labels.shape[0] - tp - fp - fn_
    return {"tp": tp, "fp": fp, "tn": tn, "fn": fn_}


def _divide(numerator: np.ndarray, denominator: np.ndarray, zero_division: float) -> np.ndarray:
    result = np.full(numerator.shape, zero_division, np.float64)
    np.divide(numerator, denominator, out=result, where=denominator != 0)
    return result


def _mean(values: np.ndarray, weights: np.ndarray | None) -> float:
    """scikit-learn's average of per-class values: NaN values left out, a weighted average whose
    weights are all zero taken unweighted; NaN when nothing is left. Sums are rounded once."""
    keep = ~np.isnan(values)
    values = values[keep]
    if values.size == 0:
        return math.nan
    if weights is not None:
        weights = weights[keep]
        total = int(weights.sum())
        if total:
            return math.fsum(values * weights) / total
    return math.fsum(values) / values.size


def _precision_recall_f1(
    tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, average: str | None, zero_division: float
) -> PrecisionRecallF1Result:
    support = tp + fn
    if int(support.sum()) == 0:
        undefined: Any = np.full(tp.shape, np.nan) if average is None else math.nan
        return PrecisionRecallF1Result(undefined, undefined, undefined, support)
    if average == "micro":
        # Every sample is predicted once and true once: summed over the classes, tp + fp and
        # tp + fn are both the number of samples, and all three are the accuracy.
        micro = int(tp.sum()) / int(support.sum())
        return PrecisionRecallF1Result(micro, micro, micro, support)
    predicted = tp + fp
    precision = _divide(tp, predicted, zero_division)
    recall = _divide(tp, support, zero_division)
    f1 = _divide(2 * tp, predicted + support, zero_division)
    if average is None:
        return PrecisionRecallF1Result(precision, recall, f1, support)
    present = (tp + fp + fn) > 0
    weights = support[present] if average == "weighted" else None
    return PrecisionRecallF1Result(
        _mean(precision[present], weights),
        _mean(recall[present], weights),
        _mean(f1[present], weights),
        support,
    )


def _check_average(average: Any, fn: str) -> str | None:
    if average is None:
        return None
    if not isinstance(average, str):
        raise TypeError(f"{fn}: average must be a str or None, got {type(average).__name__}")
    if average == "none":  # torchmetrics spells None this way too
        return None
    if average not in _AVERAGES:
        raise ValueError(f"{fn}: average must be one of {_AVERAGES}, got {average!r}")
    return average


def _check_zero_division(zero_division: Any, fn: str) -> float:
    value = check.real(zero_division, fn, "zero_division")
    if not (value in (0.0, 1.0) or math.isnan(value)):
        raise ValueError(f"{fn}: zero_division must be 0.0, 1.0 or nan, got {zero_division!r}")
    return value


def _check_normalize(normalize: Any, fn: str) -> str | None:
    if normalize is None:
        return None
    if not isinstance(normalize, str):
        raise TypeError(f"{fn}: normalize must be a str or None, got {type(normalize).__name__}")
    if normalize not in _NORMALIZE:
        raise ValueError(f"{fn}: normalize must be one of {_NORMALIZE}, got {normalize!r}")
    return normalize


def _check_k(k: Any, fn: str, num_classes: int | None) -> int:
    k = check.integer(k, fn, "k", 1)
    if num_classes is not None and k > num_classes:
        raise ValueError(f"{fn}: k={k} is larger than num_classes={num_classes}")
    return k


# -- the one-batch functions ----------------------------------------------------------------------


def accuracy(preds: TensorOrArray, target: TensorOrArray, num_classes: int | None = None) -> float:
    """The fraction of rows whose predicted class (first maximum of the logits) is the target."""
    fn = "accuracy"
    predicted, labels, _ = _batch(preds, target, fn, _num_classes(num_classes, fn))
    return _ratio(int(np.count_nonzero(predicted == labels)), labels.shape[0])


def top_k_accuracy(
    preds: TensorOrArray, target: TensorOrArray, k: int = 5, num_classes: int | None = None
) -> float:
    """The fraction of rows whose target is among the k highest logits (ties: lower index first)."""
    fn = "top_k_accuracy"
    classes = _num_classes(num_classes, fn)
    hits = _top_k_hits(preds, target, _check_k(k, fn, classes), fn, classes)
    return _ratio(int(np.count_nonzero(hits)), hits.shape[0])


def confusion_matrix(
    preds: TensorOrArray,
    target: TensorOrArray,
    num_classes: int | None = None,
    normalize: str | None = None,
) -> np.ndarray:
    """The (C, C) confusion matrix, true classes down the rows and predicted along the columns:
    int64 counts, or float64 fractions with normalize "true" (rows), "pred" (columns) or "all"."""
    fn = "confusion_matrix"
    normalize = _check_normalize(normalize, fn)
    predicted, labels, classes = _batch(preds, target, fn, _num_classes(num_classes, fn))
    return _normalized(_confusion(predicted, labels, classes, fn), normalize)


def precision_recall_f1(
    preds: TensorOrArray,
    target: TensorOrArray,
    num_classes: int | None = None,
    average: str | None = "macro",
    zero_division: float = 0.0,
) -> PrecisionRecallF1Result:
    """Precision, recall, F1 and support per class (average=None) or averaged "macro", "micro"
    or "weighted" (by support), as scikit-learn's precision_recall_fscore_support computes them."""
    fn = "precision_recall_f1"
    average = _check_average(average, fn)
    zero_division = _check_zero_division(zero_division, fn)
    predicted, labels, classes = _batch(preds, target, fn, _num_classes(num_classes, fn))
    stats = _stat_scores(predicted, labels, classes, fn)
    return _precision_recall_f1(stats["tp"], stats["fp"], stats["fn"], average, zero_division)


# -- the streaming metrics ------------------------------------------------------------------------


def _state_array(state: Mapping[str, Any], key: str, fn: str) -> np.ndarray:
    """state[key] as a fresh int64 array: an int, or an integer array (as a JSON round trip
    of a checkpoint gives it back)."""
    value = state[key]
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{fn}: state[{key!r}] must be an integer array, got a bool")
    data = np.asarray(value.data if isinstance(value, Tensor) else value)
    if data.dtype.kind not in "iu":
        raise TypeError(f"{fn}: state[{key!r}] must be an integer array, got {data.dtype}")
    if data.dtype.kind == "u" and data.size and int(data.max()) > _I64_MAX:
        raise ValueError(f"{fn}: state[{key!r}] holds values beyond int64")
    return np.array(data, dtype=I64)


def _counts(state: dict[str, np.ndarray], fn: str) -> None:
    for key, value in state.items():
        if value.size and int(value.min()) < 0:
            raise ValueError(f"{fn}: state[{key!r}] holds a negative count, {int(value.min())}")


def _check_shape(value: np.ndarray, shape: tuple[int, ...], key: str, fn: str) -> None:
    if value.shape != shape:
        raise RuntimeError(
            f"{fn}: size mismatch for {key}: the state has shape {value.shape}, this metric "
            f"expects {shape}"
        )


class _Metric:
    """The streaming protocol: a dict of int64 state arrays merged batch by batch."""

    _keys: tuple[str, ...] = ()
    _state: dict[str, np.ndarray]

    def __init__(self) -> None:
        self.reset()

    @property
    def _name(self) -> str:
        return type(self).__name__

    def _empty(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _batch_state(self, preds: Any, target: Any, fn: str) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _merge(self, batch: dict[str, np.ndarray]) -> None:
        for key in self._keys:
            self._state[key] = self._state[key] + batch[key]

    def _result(self, state: dict[str, np.ndarray]) -> Any:
        raise NotImplementedError

    def _check_state(self, state: dict[str, np.ndarray], fn: str) -> dict[str, np.ndarray]:
        """Shapes and counts of a loaded state; returns the state to adopt."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget every sample seen: back to the state of a new metric."""
        self._state = self._empty()

    def update(self, preds: TensorOrArray, target: TensorOrArray) -> None:
        """Add one batch: (N, C) logits or (N,) predicted labels, and (N,) target labels."""
        self._merge(self._batch_state(preds, target, f"{self._name}.update"))

    def __call__(self, preds: TensorOrArray, target: TensorOrArray) -> Any:
        """Add one batch and return the metric of that batch alone (torchmetrics' forward)."""
        batch = self._batch_state(preds, target, self._name)
        self._merge(batch)
        return self._result(batch)

    forward = __call__

    def compute(self) -> Any:
        """The metric over every sample since the last reset."""
        return self._result(self._state)

    def state_dict(self) -> dict[str, np.ndarray]:
        """The metric's state by name (torchmetrics' shape): int64 arrays, copies."""
        return {key: np.array(value, I64) for key, value in self._state.items()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what state_dict() gave (arrays or ints, e.g. after a JSON round trip)."""
        fn = f"{self._name}.load_state_dict"
        if not isinstance(state, Mapping):
            raise TypeError(f"{fn}: state must be a mapping, not {type(state).__name__}")
        missing = [key for key in self._keys if key not in state]
        unexpected = [key for key in state if key not in self._keys]
        if missing or unexpected:
            raise RuntimeError(
                f"{fn}: Missing key(s) in state_dict: {missing}. "
                f"Unexpected key(s) in state_dict: {unexpected}."
            )
        loaded = {key: _state_array(state, key, fn) for key in self._keys}
        self._state = self._check_state(loaded, fn)


class _Counter(_Metric):
    """A fraction of rows counted as correct: the state is ``correct`` and ``total``."""

    _keys = ("correct", "total")

    def _empty(self) -> dict[str, np.ndarray]:
        return {"correct": np.zeros((), I64), "total": np.zeros((), I64)}

    def _result(self, state: dict[str, np.ndarray]) -> float:
        return _ratio(int(state["correct"]), int(state["total"]))

    def _check_state(self, state: dict[str, np.ndarray], fn: str) -> dict[str, np.ndarray]:
        for key in self._keys:
            _check_shape(state[key], (), key, fn)
        _counts(state, fn)
        if state["correct"] > state["total"]:
            raise ValueError(
                f"{fn}: state['correct'] ({int(state['correct'])}) exceeds state['total'] "
                f"({int(state['total'])})"
            )
        return state


class Accuracy(_Counter):
    """The fraction of rows whose predicted class is the target (micro accuracy: torchmetrics'
    ``Accuracy(task="multiclass", average="micro")``, scikit-learn's ``accuracy_score``)."""

    def __init__(self, num_classes: int | None = None) -> None:
        self.num_classes = _num_classes(num_classes, "Accuracy")
        super().__init__()

    def __repr__(self) -> str:
        return f"Accuracy(num_classes={self.num_classes})"

    def _batch_state(self, preds: Any, target: Any, fn: str) -> dict[str, np.ndarray]:
        predicted, labels, _ = _batch(preds, target, fn, self.num_classes)
        correct = np.count_nonzero(predicted == labels)
        return {"correct": np.array(correct, I64), "total": np.array(labels.shape[0], I64)}


class TopKAccuracy(_Counter):
    """The fraction of rows whose target is among the k highest logits; ties rank the lower
    class index first, so k=1 is Accuracy. k larger than the number of classes is an error."""

    def __init__(self, k: int = 5, num_classes: int | None = None) -> None:
        self.num_classes = _num_classes(num_classes, "TopKAccuracy")
        self.k = _check_k(k, "TopKAccuracy", self.num_classes)
        super().__init__()

    def __repr__(self) -> str:
        return f"TopKAccuracy(k={self.k}, num_classes={self.num_classes})"

    def _batch_state(self, preds: Any, target: Any, fn: str) -> dict[str, np.ndarray]:
        hits = _top_k_hits(preds, target, self.k, fn, self.num_classes)
        correct = np.count_nonzero(hits)
        return {"correct": np.array(correct, I64), "total": np.array(hits.shape[0], I64)}


def _grown(value: np.ndarray, classes: int, fill: int = 0) -> np.ndarray:
    """A per-class array (or square matrix) padded to `classes` classes."""
    if value.shape[0] >= classes:
        return value
    pad = classes - value.shape[0]
    widths = [(0, pad)] * value.ndim
    return np.pad(value, widths, constant_values=fill)


def _zeros(shape: tuple[int, ...], fn: str, classes: int) -> np.ndarray:
    """A zero int64 state array, or a MemoryError naming num_classes when it cannot be had."""
    try:
        return np.zeros(shape, I64)
    except (ValueError, MemoryError):
        raise MemoryError(
            f"{fn}: num_classes={classes} needs int64 arrays of shape {shape}, more than this "
            "machine can hold"
        ) from None


class _PerClass(_Metric):
    """A metric with per-class state, of num_classes classes or as many as the data showed."""

    num_classes: int | None

    def _classes(self) -> int:
        return self.num_classes if self.num_classes is not None else 0

    def _size(self, state: dict[str, np.ndarray]) -> int:
        return state[self._keys[0]].shape[0]


class ConfusionMatrix(_PerClass):
    """The (C, C) confusion matrix over every sample: true classes down the rows, predicted
    along the columns (int64 counts, or float64 fractions with ``normalize``)."""

    _keys = ("confmat",)

    def __init__(self, num_classes: int | None = None, normalize: str | None = None) -> None:
        self.num_classes = _num_classes(num_classes, "ConfusionMatrix")
        self.normalize = _check_normalize(normalize, "ConfusionMatrix")
        super().__init__()

    def __repr__(self) -> str:
        return f"ConfusionMatrix(num_classes={self.num_classes}, normalize={self.normalize!r})"

    def _empty(self) -> dict[str, np.ndarray]:
        classes = self._classes()
        return {"confmat": _zeros((classes, classes), "ConfusionMatrix", classes)}

    def _batch_state(self, preds: Any, target: Any, fn: str) -> dict[str, np.ndarray]:
        predicted, labels, classes = _batch(preds, target, fn, self.num_classes)
        classes = max(classes, self._size(self._state))
        return {"confmat": _confusion(predicted, labels, classes, fn)}

    def _merge(self, batch: dict[str, np.ndarray]) -> None:
        classes = self._size(batch)
        self._state = {"confmat": _grown(self._state["confmat"], classes) + batch["confmat"]}

    def _result(self, state: dict[str, np.ndarray]) -> np.ndarray:
        return _normalized(state["confmat"], self.normalize)

    def _check_state(self, state: dict[str, np.ndarray], fn: str) -> dict[str, np.ndarray]:
        confmat = state["confmat"]
        if self.num_classes is not None:
            _check_shape(confmat, (self.num_classes, self.num_classes), "confmat", fn)
        elif confmat.ndim != 2 or confmat.shape[0] != confmat.shape[1]:
            raise RuntimeError(
                f"{fn}: size mismatch for confmat: expected a square matrix, got shape "
                f"{confmat.shape}"
            )
        _counts(state, fn)
        return state


class PrecisionRecallF1(_PerClass):
    """Precision, recall and F1 over every sample, per class (``average=None``) or averaged
    ``"macro"``, ``"micro"`` or ``"weighted"``; compute() gives a PrecisionRecallF1Result."""

    _keys = ("tp", "fp", "tn", "fn")

    def __init__(
        self,
        num_classes: int | None = None,
        average: str | None = "macro",
        zero_division: float = 0.0,
    ) -> None:
        fn = "PrecisionRecallF1"
        self.num_classes = _num_classes(num_classes, fn)
        self.average = _check_average(average, fn)
        self.zero_division = _check_zero_division(zero_division, fn)
        super().__init__()

    def __repr__(self) -> str:
        return (
            f"PrecisionRecallF1(num_classes={self.num_classes}, average={self.average!r}, "
            f"zero_division={self.zero_division})"
        )

    def _empty(self) -> dict[str, np.ndarray]:
        classes = self._classes()
        return {key: _zeros((classes,), "PrecisionRecallF1", classes) for key in self._keys}

    def _batch_state(self, preds: Any, target: Any, fn: str) -> dict[str, np.ndarray]:
        predicted, labels, classes = _batch(preds, target, fn, self.num_classes)
        return _stat_scores(predicted, labels, max(classes, self._size(self._state)), fn)

    def _merge(self, batch: dict[str, np.ndarray]) -> None:
        classes = self._size(batch)
        seen = int(self._state["tp"].sum() + self._state["fn"].sum())
        merged = {}
        for key in self._keys:
            # A class first seen now was a true negative for every earlier sample.
            grown = _grown(self._state[key], classes, seen if key == "tn" else 0)
            merged[key] = grown + batch[key]
        self._state = merged

    def _result(self, state: dict[str, np.ndarray]) -> PrecisionRecallF1Result:
        return _precision_recall_f1(
            state["tp"], state["fp"], state["fn"], self.average, self.zero_division
        )

    def _check_state(self, state: dict[str, np.ndarray], fn: str) -> dict[str, np.ndarray]:
        shape = (self.num_classes,) if self.num_classes is not None else state["tp"].shape
        if len(shape) != 1:
            raise RuntimeError(f"{fn}: size mismatch for tp: expected 1-D, got shape {shape}")
        for key in self._keys:
            _check_shape(state[key], shape, key, fn)
        _counts(state, fn)
        tp, fp, tn, fn_ = (state[key] for key in self._keys)
        samples = int(tp.sum() + fn_.sum())
        if int(tp.sum() + fp.sum()) != samples or np.any(tp + fp + tn + fn_ != samples):
            raise ValueError(
                f"{fn}: the counts disagree: every class's tp + fp + tn + fn, the sum of tp + fp "
                f"and the sum of tp + fn must all be the number of samples ({samples})"
            )
        return state


# -- MeanLoss: an exact weighted sum --------------------------------------------------------------

_LIMB_BITS = 32
_LIMB_MASK = (1 << _LIMB_BITS) - 1
_SPLIT = 31  # bincount sums halves below 2**31 over chunks of 2**21: below 2**52, exact in float64
_CHUNK = 1 << 21
# Bounds on a loaded MeanLoss state: a float64 product is below 2**2048 and at least 2**-2148,
# and up to 2**63 of them add fewer than 64 bits.
_MAX_EXPONENT = 1 << 13
_MAX_LIMBS = 256


def _float_parts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer mantissas (|m| < 2**53) and exponents with value == m * 2**e, exactly."""
    fraction, exponent = np.frexp(values)
    return np.ldexp(fraction, 53).astype(I64), exponent.astype(I64) - 53


def _exact_sum(mantissa: np.ndarray, exponent: np.ndarray) -> tuple[int, int]:
    """sum(mantissa * 2**exponent) exactly, as (n, e) meaning n * 2**e; |mantissa| < 2**62.

    Terms are grouped by exponent with bincount: each mantissa is split into a high part
    (|h| < 2**31) and a low part (0 <= l < 2**31), so every partial sum of a chunk is an integer
    below 2**52 and float64 holds it exactly. The groups are then added as Python integers."""
    if mantissa.size == 0:
        return 0, 0
    lowest = int(exponent.min())
    index = exponent - lowest
    high = mantissa >> _SPLIT
    low = mantissa & ((1 << _SPLIT) - 1)
    total = 0
    for start in range(0, mantissa.size, _CHUNK):
        part = slice(start, start + _CHUNK)
        highs = np.bincount(index[part], weights=high[part])
        lows = np.bincount(index[part], weights=low[part])
        for shift in np.flatnonzero((highs != 0) | (lows != 0)).tolist():
            total += ((int(highs[shift]) << _SPLIT) + int(lows[shift])) << shift
    return _normal(total, lowest)


def _normal(n: int, e: int) -> tuple[int, int]:
    """(n, e) with the trailing zero bits of n moved into e, so equal values look the same."""
    if n == 0:
        return 0, 0
    zeros = (n & -n).bit_length() - 1
    return n >> zeros, e + zeros


def _add(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    if a[0] == 0:
        return b
    if b[0] == 0:
        return a
    e = min(a[1], b[1])
    return _normal((a[0] << (a[1] - e)) + (b[0] << (b[1] - e)), e)


def _scalar_parts(value: float) -> tuple[int, int]:
    """A finite float as (n, e), exactly."""
    numerator, denominator = float(value).as_integer_ratio()
    return _normal(numerator, -(denominator.bit_length() - 1))


def _products_sum(values: np.ndarray, weights: np.ndarray) -> tuple[int, int]:
    """sum(values * weights) exactly, for finite float64 arrays of one shape: each mantissa is
    split at bit 27, so the four partial products stay below 2**54."""
    mv, ev = _float_parts(values)
    mw, ew = _float_parts(weights)
    e = ev + ew
    cut = (1 << 27) - 1
    vh, vl, wh, wl = mv >> 27, mv & cut, mw >> 27, mw & cut
    mantissa = np.concatenate([vh * wh, vh * wl, vl * wh, vl * wl])
    exponent = np.concatenate([e + 54, e + 27, e + 27, e])
    return _exact_sum(mantissa, exponent)


def _to_limbs(n: int) -> np.ndarray:
    """n as 32-bit limbs, least significant first; the last limb carries the sign."""
    limbs = []
    while not -(1 << 31) <= n < (1 << 31):
        limbs.append(n & _LIMB_MASK)
        n >>= _LIMB_BITS
    limbs.append(n)
    return np.array(limbs, I64)


def _from_limbs(limbs: np.ndarray, key: str, fn: str) -> int:
    if limbs.ndim != 1 or limbs.size == 0:
        raise RuntimeError(f"{fn}: size mismatch for {key}: expected 1-D limbs, got {limbs.shape}")
    values = limbs.tolist()
    if any(not 0 <= v <= _LIMB_MASK for v in values[:-1]) or not (
        -(1 << 31) <= values[-1] < (1 << 31)
    ):
        raise ValueError(f"{fn}: state[{key!r}] holds a limb outside 32 bits")
    return sum(v << (_LIMB_BITS * i) for i, v in enumerate(values))


def _float_values(value: Any, fn: str, name: str) -> np.ndarray:
    """A number, Tensor or array as float64, exactly (integers only up to 2**53)."""
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        data = np.asarray(value)
    elif isinstance(value, (Tensor, np.ndarray)):
        data = value.data if isinstance(value, Tensor) else value
    else:
        raise TypeError(
            f"{fn}: {name} must be a real number, an odyssey.Tensor or a numpy.ndarray, not "
            f"{type(value).__name__}"
        )
    if data.dtype.kind == "f":
        return data.astype(np.float64, copy=False)
    if data.dtype.kind in "iu":
        if data.size and (int(data.max()) > _EXACT_INT or int(data.min()) < -_EXACT_INT):
            raise ValueError(f"{fn}: {name} holds integers beyond 2**53, not exact as float64")
        return data.astype(np.float64)
    raise TypeError(f"{fn}: {name} must hold real numbers, got {data.dtype}")


def _scalar_state(value: float, weight: float) -> dict[str, Any]:
    """A MeanLoss batch state of one value with its weight."""
    weight_sum = _scalar_parts(weight)
    if math.isfinite(value):
        n, e = _scalar_parts(value)
        weighted = _normal(n * weight_sum[0], e + weight_sum[1])
        return {"sum": weighted, "weight": weight_sum, "nonfinite": [0, 0, 0]}
    if math.isnan(value) or weight == 0:  # inf * 0 is NaN
        nonfinite = [1, 0, 0]
    else:
        nonfinite = [0, 1, 0] if value > 0 else [0, 0, 1]
    return {"sum": (0, 0), "weight": weight_sum, "nonfinite": nonfinite}


class MeanLoss(_Metric):
    """The weighted mean of every value passed to update(value, weight=1), over all elements of
    each value (a loss, or per-sample losses), computed from the exact sum of value * weight and
    the exact sum of the weights, rounded once. Pass the batch size as weight to average a mean
    loss per sample. A NaN value makes the mean NaN, so a diverged run shows (torchmetrics'
    MeanMetric drops NaNs with a warning instead); +inf and -inf give inf, -inf or, together, NaN.
    Weights are finite and >= 0."""

    _keys = (
        "sum_limbs",
        "sum_exponent",
        "weight_limbs",
        "weight_exponent",
        "nan_count",
        "posinf_count",
        "neginf_count",
    )

    def __repr__(self) -> str:
        return "MeanLoss()"

    def _empty(self) -> dict[str, Any]:
        # The state proper: the exact sums as (n, e) meaning n * 2**e, and the counts of values
        # that were NaN, +inf and -inf; state_dict() spells it as int64 arrays.
        return {"sum": (0, 0), "weight": (0, 0), "nonfinite": [0, 0, 0]}

    def update(self, value: Any, weight: Any = 1) -> None:  # type: ignore[override]
        """Add every element of `value` with `weight` (a number, or an array of value's shape)."""
        self._merge(self._batch_state(value, weight, "MeanLoss.update"))

    def __call__(self, value: Any, weight: Any = 1) -> float:  # type: ignore[override]
        """Add a value and return the mean of that value alone (torchmetrics' forward)."""
        batch = self._batch_state(value, weight, "MeanLoss")
        self._merge(batch)
        return self._result(batch)

    forward = __call__

    def _batch_state(self, value: Any, weight: Any, fn: str) -> dict[str, Any]:
        values = _float_values(value, fn, "value")
        if isinstance(weight, numbers.Real) and not isinstance(weight, (bool, np.bool_)):
            w = check.finite(weight, fn, "weight")
            if w < 0:
                raise ValueError(f"{fn}: weight must be >= 0, got {weight!r}")
            weights: np.ndarray | None = None
        else:
            array = _float_values(weight, fn, "weight")
            try:
                weights = np.broadcast_to(array, values.shape)
            except ValueError:
                raise ValueError(
                    f"{fn}: weight of shape {array.shape} does not broadcast to value's shape "
                    f"{values.shape}"
                ) from None
            if not np.isfinite(weights).all() or (weights < 0).any():
                raise ValueError(f"{fn}: weight must be finite and >= 0 everywhere")
        if weights is None and values.size == 1:
            return _scalar_state(values.item(), w)  # one loss per step: no array work
        finite = np.isfinite(values)
        if finite.all():
            kept = values.ravel()
            nonfinite = [0, 0, 0]
        else:
            # Each non-finite value times its weight, as IEEE arithmetic has it (inf * 0 is NaN).
            bad_weights = np.full(values.shape, w) if weights is None else weights
            positive = bad_weights[~finite] > 0
            bad = values[~finite]
            nonfinite = [
                int(np.count_nonzero(np.isnan(bad) | ~positive)),
                int(np.count_nonzero((bad == np.inf) & positive)),
                int(np.count_nonzero((bad == -np.inf) & positive)),
            ]
            kept = values[finite]
        if weights is None:
            total = _exact_sum(*_float_parts(kept))
            wn, we = _scalar_parts(w)
            weighted = _normal(total[0] * wn, total[1] + we)
            weight_sum = _normal(wn * values.size, we)
        else:
            flat = np.ascontiguousarray(weights).ravel() if finite.all() else weights[finite]
            weighted = _products_sum(kept, flat)
            weight_sum = _exact_sum(*_float_parts(np.ascontiguousarray(weights).ravel()))
        return {"sum": weighted, "weight": weight_sum, "nonfinite": nonfinite}

    def _merge(self, batch: dict[str, Any]) -> None:
        self._state = {
            "sum": _add(self._state["sum"], batch["sum"]),
            "weight": _add(self._state["weight"], batch["weight"]),
            "nonfinite": [
                a + b for a, b in zip(self._state["nonfinite"], batch["nonfinite"], strict=True)
            ],
        }

    def _result(self, state: dict[str, Any]) -> float:
        nan, posinf, neginf = state["nonfinite"]
        if nan or (posinf and neginf):
            return math.nan
        if posinf:
            return math.inf
        if neginf:
            return -math.inf
        (n, e), (wn, we) = state["sum"], state["weight"]
        if wn == 0:
            return math.nan
        shift = e - we
        numerator, denominator = (n << shift, wn) if shift >= 0 else (n, wn << -shift)
        try:
            return numerator / denominator  # Python rounds an int division once, correctly
        except OverflowError:
            return math.inf if numerator > 0 else -math.inf

    def state_dict(self) -> dict[str, np.ndarray]:
        """The exact sums as int64 32-bit limbs and a power of two, and the non-finite counts."""
        return {
            "sum_limbs": _to_limbs(self._state["sum"][0]),
            "sum_exponent": np.array(self._state["sum"][1], I64),
            "weight_limbs": _to_limbs(self._state["weight"][0]),
            "weight_exponent": np.array(self._state["weight"][1], I64),
            "nan_count": np.array(self._state["nonfinite"][0], I64),
            "posinf_count": np.array(self._state["nonfinite"][1], I64),
            "neginf_count": np.array(self._state["nonfinite"][2], I64),
        }

    def _check_state(self, state: dict[str, np.ndarray], fn: str) -> dict[str, Any]:
        for key in ("sum_exponent", "weight_exponent", "nan_count", "posinf_count", "neginf_count"):
            _check_shape(state[key], (), key, fn)
        _counts({k: state[k] for k in ("nan_count", "posinf_count", "neginf_count")}, fn)
        for key in ("sum", "weight"):
            # Sums of float64 products never need more (a corrupt state could ask for anything).
            if abs(int(state[f"{key}_exponent"])) > _MAX_EXPONENT:
                raise ValueError(
                    f"{fn}: state['{key}_exponent'] is {int(state[f'{key}_exponent'])}, beyond "
                    f"+-{_MAX_EXPONENT}: not a sum of floats"
                )
            if state[f"{key}_limbs"].size > _MAX_LIMBS:
                raise ValueError(
                    f"{fn}: state['{key}_limbs'] has {state[f'{key}_limbs'].size} limbs, more than "
                    f"the {_MAX_LIMBS} a sum of floats needs"
                )
        weight = _from_limbs(state["weight_limbs"], "weight_limbs", fn)
        if weight < 0:
            raise ValueError(f"{fn}: state['weight_limbs'] holds a negative total weight")
        total = _from_limbs(state["sum_limbs"], "sum_limbs", fn)
        return {
            "sum": _normal(total, int(state["sum_exponent"])),
            "weight": _normal(weight, int(state["weight_exponent"])),
            "nonfinite": [int(state[k]) for k in ("nan_count", "posinf_count", "neginf_count")],
        }
