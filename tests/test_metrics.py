"""metrics: against scikit-learn, streaming equals one batch, ties, empty metrics, exact sums over
10**7 values, state dicts through a JSON round trip, and named errors."""

from __future__ import annotations

import itertools
import json
import math
import os
import re
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import odyssey
from odyssey import metrics
from odyssey.metrics import (
    Accuracy,
    ConfusionMatrix,
    MeanLoss,
    PrecisionRecallF1,
    TopKAccuracy,
    accuracy,
    confusion_matrix,
    precision_recall_f1,
    top_k_accuracy,
)

sk = pytest.importorskip("sklearn.metrics")

# scikit-learn's note that a batch of one class gives a 1 x 1 matrix unless labels are passed.
pytestmark = pytest.mark.filterwarnings("ignore:A single label was found:UserWarning")

ZERO_DIVISIONS = [0.0, 1.0, math.nan]
AVERAGES = ["macro", "micro", "weighted"]


@st.composite
def batches(draw: Any, min_classes: int = 1, min_rows: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Float64 logits without ties and targets drawn from a random subset of the classes, so some
    classes are absent from the target (and, often, from the predictions)."""
    classes = draw(st.integers(min_classes, 8))
    rows = draw(st.integers(min_rows, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    present = rng.choice(classes, size=rng.integers(1, classes + 1), replace=False)
    target = rng.choice(present, size=rows)
    logits = rng.normal(size=(rows, classes))
    # Lean the logits towards the target so that the scores are not all near chance.
    logits[np.arange(rows), target] += rng.uniform(0.0, 2.0)
    return logits, target


def splits(rows: int, seed: int) -> list[slice]:
    """The rows cut into consecutive batches at random points, empty batches included."""
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.integers(0, rows + 1, size=3))
    edges = [0, *cuts.tolist(), rows]
    return [slice(a, b) for a, b in itertools.pairwise(edges)]


def assert_same(actual: Any, expected: Any) -> None:
    """Bitwise equal floats and arrays, NaN equal to NaN."""
    np.testing.assert_array_equal(np.asarray(actual), np.asarray(expected))


# -- against scikit-learn ------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(batches())
def test_accuracy_and_confusion_matrix_match_sklearn(batch: tuple[np.ndarray, np.ndarray]) -> None:
    logits, target = batch
    classes = logits.shape[1]
    predicted = logits.argmax(axis=1)
    labels = np.arange(classes)
    assert accuracy(logits, target) == sk.accuracy_score(target, predicted)
    assert accuracy(predicted, target) == sk.accuracy_score(target, predicted)
    assert_same(
        confusion_matrix(logits, target), sk.confusion_matrix(target, predicted, labels=labels)
    )
    for normalize in ("true", "pred", "all"):
        np.testing.assert_allclose(
            confusion_matrix(logits, target, normalize=normalize),
            sk.confusion_matrix(target, predicted, labels=labels, normalize=normalize),
            rtol=1e-15,
        )


@settings(max_examples=60, deadline=None)
@given(batches(min_classes=3), st.data())
def test_top_k_accuracy_matches_sklearn(batch: tuple[np.ndarray, np.ndarray], data: Any) -> None:
    logits, target = batch
    classes = logits.shape[1]
    k = data.draw(st.integers(1, classes - 1))
    expected = sk.top_k_accuracy_score(target, logits, k=k, labels=np.arange(classes))
    assert top_k_accuracy(logits, target, k=k) == expected
    assert top_k_accuracy(logits, target, k=classes) == 1.0


@settings(max_examples=60, deadline=None)
@given(batches(), st.sampled_from(ZERO_DIVISIONS))
def test_precision_recall_f1_match_sklearn(
    batch: tuple[np.ndarray, np.ndarray], zero_division: float
) -> None:
    logits, target = batch
    classes = logits.shape[1]
    predicted = logits.argmax(axis=1)
    ours = precision_recall_f1(logits, target, average=None, zero_division=zero_division)
    theirs = sk.precision_recall_fscore_support(
        target, predicted, labels=np.arange(classes), average=None, zero_division=zero_division
    )
    for a, b in zip(ours, theirs, strict=True):  # per class: the same divisions, bitwise
        assert_same(a, b)
    for average in AVERAGES:
        ours = precision_recall_f1(logits, target, average=average, zero_division=zero_division)
        # scikit-learn averages over the classes it infers: those in the target or predictions.
        theirs = sk.precision_recall_fscore_support(
            target, predicted, average=average, zero_division=zero_division
        )
        np.testing.assert_allclose(ours[:3], theirs[:3], rtol=1e-14, equal_nan=True)
        assert_same(ours.support, np.bincount(target, minlength=classes))


def test_precision_recall_f1_zero_division_cases() -> None:
    # Class 0: predicted, never true; class 1: true, never predicted; class 2: absent from both.
    preds = np.array([0, 0, 3, 3])
    target = np.array([1, 3, 3, 1])
    result = precision_recall_f1(preds, target, num_classes=4, average=None)
    assert_same(result.precision, [0.0, 0.0, 0.0, 0.5])
    assert_same(result.recall, [0.0, 0.0, 0.0, 0.5])
    assert_same(result.f1, [0.0, 0.0, 0.0, 0.5])
    assert_same(result.support, [0, 2, 0, 2])
    ones = precision_recall_f1(preds, target, num_classes=4, average=None, zero_division=1.0)
    assert_same(ones.precision, [0.0, 1.0, 1.0, 0.5])
    assert_same(ones.recall, [1.0, 0.0, 1.0, 0.5])
    assert_same(ones.f1, [0.0, 0.0, 1.0, 0.5])
    nans = precision_recall_f1(preds, target, num_classes=4, average=None, zero_division=math.nan)
    assert_same(nans.precision, [0.0, math.nan, math.nan, 0.5])
    # The macro average leaves out class 2 (in neither target nor predictions), and NaNs.
    macro = precision_recall_f1(preds, target, num_classes=4, zero_division=math.nan)
    assert macro.precision == 0.25  # (0 + 0.5) / 2: class 1's NaN left out
    assert macro.recall == 0.25
    assert macro.f1 == pytest.approx(0.5 / 3)


# -- streaming equals one batch ------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(batches(min_classes=2), st.integers(0, 2**32 - 1))
def test_streaming_equals_one_batch(batch: tuple[np.ndarray, np.ndarray], seed: int) -> None:
    logits, target = batch
    classes = logits.shape[1]
    streams = {
        "accuracy": Accuracy(),
        "top2": TopKAccuracy(k=2),
        "confmat": ConfusionMatrix(classes),
        "prf": PrecisionRecallF1(classes, average=None),
        "inferred": ConfusionMatrix(),
        "inferred_prf": PrecisionRecallF1(average="weighted"),
    }
    predicted = logits.argmax(axis=1)
    for part in splits(len(target), seed):
        for name, metric in streams.items():
            # The inferred ones see labels, so their matrices grow as larger labels arrive.
            preds = predicted[part] if name.startswith("inferred") else logits[part]
            metric.update(preds, target[part])
    assert streams["accuracy"].compute() == accuracy(logits, target)
    assert streams["top2"].compute() == top_k_accuracy(logits, target, k=2)
    assert_same(streams["confmat"].compute(), confusion_matrix(logits, target))
    for a, b in zip(
        streams["prf"].compute(), precision_recall_f1(logits, target, average=None), strict=True
    ):
        assert_same(a, b)
    inferred = int(max(predicted.max(), target.max())) + 1
    assert_same(
        streams["inferred"].compute(), confusion_matrix(predicted, target, num_classes=inferred)
    )
    expected = precision_recall_f1(predicted, target, num_classes=inferred, average="weighted")
    for a, b in zip(streams["inferred_prf"].compute(), expected, strict=True):
        assert_same(a, b)
    stats = streams["inferred_prf"].state_dict()
    assert_same(stats["tp"] + stats["fp"] + stats["tn"] + stats["fn"], [len(target)] * inferred)


def test_call_returns_the_batch_value_and_accumulates() -> None:
    metric = Accuracy()
    assert metric(np.array([1, 1]), np.array([1, 0])) == 0.5
    assert metric.forward(np.array([2]), np.array([2])) == 1.0
    assert metric.compute() == pytest.approx(2 / 3)
    loss = MeanLoss()
    assert loss(np.array([1.0, 3.0])) == 2.0
    assert loss(5.0, weight=2) == 5.0
    assert loss.compute() == 14.0 / 4


def test_inputs_tensor_ndarray_dtypes_and_views() -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(30, 5))
    target = rng.integers(0, 5, size=30)
    expected = confusion_matrix(logits, target)
    for preds in (logits.astype(np.float32), logits.astype(np.float16), odyssey.tensor(logits)):
        assert_same(confusion_matrix(preds, target), expected)
    for labels in (target.astype(np.int32), target.astype(np.uint8), odyssey.tensor(target)):
        assert_same(confusion_matrix(logits, labels), expected)
    wide = np.repeat(logits, 2, axis=1)[:, ::2]  # a strided view
    assert_same(confusion_matrix(wide, target[::-1][::-1]), expected)
    assert_same(confusion_matrix(logits.argmax(1).astype(np.int16), target), expected)


# -- ties: the lowest index wins ----------------------------------------------------------------


def test_argmax_ties_go_to_the_lowest_index() -> None:
    logits = np.array([[1.0, 1.0, 0.0], [0.0, 2.0, 2.0], [-0.0, 0.0, -1.0]])
    assert accuracy(logits, np.array([0, 1, 0])) == 1.0  # -0.0 == 0.0: a tie too
    assert accuracy(logits, np.array([1, 2, 1])) == 0.0


def test_top_k_ties_go_to_the_lowest_index() -> None:
    scores = np.array([[0.0, 1.0, 1.0, 1.0]] * 4)
    hits = [top_k_accuracy(scores[:1], np.array([t]), k=2) for t in range(4)]
    assert hits == [0.0, 1.0, 1.0, 0.0]  # classes 1 and 2 rank first; 3 is tied but later
    metric = TopKAccuracy(k=3)
    metric.update(scores, np.arange(4))
    assert metric.compute() == 0.75


def test_argmax_ties_as_torch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    logits = rng.integers(0, 2, size=(200, 6)).astype(np.float32)  # nearly every row ties
    target = rng.integers(0, 6, size=200)
    predicted = torch.argmax(torch.from_numpy(logits), dim=1).numpy()
    assert_same(confusion_matrix(logits, target), confusion_matrix(predicted, target, 6))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(3, 7))
def test_ties_against_sklearn_reversed(seed: int, classes: int) -> None:
    """scikit-learn ranks tied classes highest index first: reversing the class order turns its
    rule into ours. With few distinct scores, most rows tie."""
    rng = np.random.default_rng(seed)
    logits = rng.integers(0, 3, size=(25, classes)).astype(np.float64)
    target = rng.integers(0, classes, size=25)
    for k in range(1, classes):
        theirs = sk.top_k_accuracy_score(
            classes - 1 - target, logits[:, ::-1], k=k, labels=np.arange(classes)
        )
        assert top_k_accuracy(logits, target, k=k) == theirs
    assert top_k_accuracy(logits, target, k=1) == accuracy(logits, target)


# -- nothing seen --------------------------------------------------------------------------------


def test_compute_before_any_update() -> None:
    assert math.isnan(Accuracy().compute())
    assert math.isnan(TopKAccuracy().compute())
    assert math.isnan(MeanLoss().compute())
    result = PrecisionRecallF1(3, average=None).compute()
    assert result.precision.shape == (3,)
    assert np.isnan(result.precision).all()
    assert_same(result.support, [0, 0, 0])
    assert all(math.isnan(v) for v in PrecisionRecallF1(3).compute()[:3])
    assert_same(ConfusionMatrix(3).compute(), np.zeros((3, 3), np.int64))
    assert ConfusionMatrix().compute().shape == (0, 0)
    assert_same(ConfusionMatrix(2, normalize="true").compute(), np.zeros((2, 2)))


def test_empty_batches() -> None:
    logits = np.zeros((0, 4), np.float32)
    target = np.zeros(0, np.int64)
    assert math.isnan(accuracy(logits, target))
    assert math.isnan(top_k_accuracy(logits, target, k=2))
    assert_same(confusion_matrix(logits, target), np.zeros((4, 4), np.int64))
    assert confusion_matrix(target, target).shape == (0, 0)
    assert math.isnan(precision_recall_f1(logits, target).f1)
    metric = Accuracy()
    metric.update(logits, target)
    metric.update(np.array([1]), np.array([1]))
    assert metric.compute() == 1.0


def test_reset() -> None:
    metric = ConfusionMatrix()
    metric.update(np.array([0, 4]), np.array([1, 4]))
    metric.reset()
    assert metric.compute().shape == (0, 0)
    loss = MeanLoss()
    loss.update(math.nan)
    loss.reset()
    loss.update(2.0)
    assert loss.compute() == 2.0


# -- exact over 10**7 samples --------------------------------------------------------------------


def test_mean_loss_exact_over_ten_million_values() -> None:
    """10**7 values in batches of 10**5 (plus per-batch weights): the mean is the exact mean,
    rounded once. The batches mix magnitudes so that any float accumulation drifts."""
    rng = np.random.default_rng(0)
    choices = np.array([0.1, 0.7, 1e-3, 12345.678, 1e16, -1e16, 2.0**-60])
    choices32 = choices.astype(np.float32)
    counts = np.zeros(len(choices), np.int64)
    metric, weighted = MeanLoss(), MeanLoss()
    naive = 0.0
    exact_weighted = Fraction(0)
    for batch in range(100):
        index = rng.integers(0, len(choices), size=100_000)
        values = choices[index]
        batch_counts = np.bincount(index, minlength=len(choices))
        counts += batch_counts
        metric.update(values)
        weighted.update(odyssey.tensor(values), weight=batch + 1)  # float32
        exact_weighted += (batch + 1) * sum(
            int(c) * Fraction(float(v)) for c, v in zip(batch_counts, choices32, strict=True)
        )
        naive += float(values.sum())
    exact_sum = sum(int(c) * Fraction(v) for c, v in zip(counts, choices, strict=True))
    expected = float(exact_sum / 10**7)
    assert metric.compute() == expected
    assert naive / 10**7 != expected  # the test would not tell exact from float sums otherwise
    assert weighted.compute() == float(exact_weighted / (100_000 * sum(range(1, 101))))


def test_mean_loss_of_a_repeated_value_is_that_value() -> None:
    metric = MeanLoss()
    for _ in range(100):
        metric.update(np.full(100_000, 0.1), weight=3)
    assert metric.compute() == 0.1
    assert sum([0.1] * 1000) != 100.0  # what a float sum gives


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=20),
    st.data(),
)
def test_mean_loss_weighted_is_exact(values: list[float], data: Any) -> None:
    weights = data.draw(
        st.lists(
            st.floats(0.0, 1e300, allow_subnormal=True),
            min_size=len(values),
            max_size=len(values),
        )
    )
    total = sum(map(Fraction, weights))
    metric = MeanLoss()
    metric.update(np.array(values), weight=np.array(weights))
    if total == 0:
        assert math.isnan(metric.compute())
        return
    exact = sum(Fraction(v) * Fraction(w) for v, w in zip(values, weights, strict=True)) / total
    try:
        expected = float(exact)
    except OverflowError:
        expected = math.copysign(math.inf, exact)
    assert metric.compute() == expected
    # One value at a time with a scalar weight: the same state.
    stepwise = MeanLoss()
    for v, w in zip(values, weights, strict=True):
        stepwise.update(v, weight=w)
    assert stepwise.compute() == expected
    assert_state_equal(stepwise.state_dict(), metric.state_dict())


def test_mean_loss_non_finite_values() -> None:
    def mean(*updates: tuple[Any, Any]) -> float:
        metric = MeanLoss()
        for value, weight in updates:
            metric.update(value, weight=weight)
        return metric.compute()

    assert math.isnan(mean((1.0, 1), (math.nan, 1)))
    assert mean((1.0, 1), (np.array([math.inf, 2.0]), 1)) == math.inf
    assert mean((-math.inf, 1), (1.0, 1)) == -math.inf
    assert math.isnan(mean((math.inf, 1), (np.array([-math.inf]), 1)))
    assert math.isnan(mean((math.inf, 0), (1.0, 1)))  # inf * 0 is NaN, as in IEEE arithmetic
    assert math.isnan(mean((np.array([math.inf, 1.0]), np.array([0.0, 1.0]))))
    assert math.isnan(mean((5.0, 0)))  # no weight: 0 / 0
    assert mean((1e308, 1), (1e308, 1e-10)) == 1e308
    assert mean((1e308, 1e-300)) == 1e308


def test_accuracy_counts_beyond_float_precision() -> None:
    metric = Accuracy()
    metric.load_state_dict({"correct": np.array(2**53 + 1), "total": np.array(2**53 + 3)})
    assert metric.compute() == float(Fraction(2**53 + 1, 2**53 + 3))
    metric.update(np.array([1]), np.array([1]))
    assert metric.state_dict()["correct"] == 2**53 + 2


# -- state dicts ----------------------------------------------------------------------------------


def tagged_json_round_trip(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What a checkpoint does: arrays tagged with dtype and shape, through JSON text."""
    text = json.dumps(
        {
            k: {"dtype": str(v.dtype), "shape": list(v.shape), "data": v.tolist()}
            for k, v in state.items()
        }
    )
    return {
        k: np.array(v["data"], dtype=v["dtype"]).reshape(v["shape"])
        for k, v in json.loads(text).items()
    }


def assert_state_equal(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype == np.int64
        assert_same(a[key], b[key])


def make_metrics() -> list[Any]:
    return [
        Accuracy(),
        TopKAccuracy(k=2),
        ConfusionMatrix(4),
        ConfusionMatrix(),
        PrecisionRecallF1(4, average=None),
        PrecisionRecallF1(),
        MeanLoss(),
    ]


def feed(metric: Any, rng: np.random.Generator) -> None:
    if isinstance(metric, MeanLoss):
        metric.update(rng.normal(size=7) * 10.0 ** rng.integers(-300, 300), weight=3)
        metric.update(-1e-300, weight=0.25)
        return
    logits = rng.normal(size=(9, 4))
    target = rng.integers(0, 4, size=9)
    if isinstance(metric, (ConfusionMatrix, PrecisionRecallF1)) and metric.num_classes is None:
        rows = rng.integers(0, 3)  # sometimes empty; the matrices grow with the labels
        metric.update(logits.argmax(1)[:rows], target[:rows])
        metric.update(np.array([0, 2]), np.array([1, 2]))
    metric.update(logits, target)


@pytest.mark.parametrize("index", range(len(make_metrics())))
def test_state_dict_round_trip_resumes_exactly(index: int) -> None:
    rng = np.random.default_rng(index)
    first, uninterrupted = make_metrics()[index], make_metrics()[index]
    seeds = rng.integers(0, 2**32, size=4)
    for seed in seeds[:2]:
        feed(first, np.random.default_rng(seed))
        feed(uninterrupted, np.random.default_rng(seed))
    state = first.state_dict()
    assert all(isinstance(v, np.ndarray) and v.dtype == np.int64 for v in state.values())
    resumed = make_metrics()[index]
    resumed.load_state_dict(tagged_json_round_trip(state))
    assert_state_equal(resumed.state_dict(), state)
    for seed in seeds[2:]:
        feed(resumed, np.random.default_rng(seed))
        feed(uninterrupted, np.random.default_rng(seed))
    assert_state_equal(resumed.state_dict(), uninterrupted.state_dict())
    a, b = resumed.compute(), uninterrupted.compute()
    for x, y in zip(
        a if isinstance(a, tuple) else [a], b if isinstance(b, tuple) else [b], strict=True
    ):
        assert_same(x, y)


def test_state_dict_is_a_copy_and_takes_ints() -> None:
    metric = Accuracy()
    metric.update(np.array([0, 1]), np.array([0, 0]))
    state = metric.state_dict()
    state["correct"][...] = 2
    assert metric.compute() == 0.5
    metric.load_state_dict({"correct": 3, "total": 4})
    assert metric.compute() == 0.75
    assert sorted(metric.state_dict()) == ["correct", "total"]
    assert sorted(ConfusionMatrix(2).state_dict()) == ["confmat"]
    assert sorted(PrecisionRecallF1(2).state_dict()) == ["fn", "fp", "tn", "tp"]


STATE_ERRORS = [
    (Accuracy, {"correct": np.array(1)}, RuntimeError, "Missing key(s) in state_dict: ['total']"),
    (
        Accuracy,
        {"correct": 1, "total": 2, "x": 0},
        RuntimeError,
        "Unexpected key(s) in state_dict: ['x']",
    ),
    (
        Accuracy,
        {"correct": 1.0, "total": 2},
        TypeError,
        "state['correct'] must be an integer array",
    ),
    (
        Accuracy,
        {"correct": 3, "total": 2},
        ValueError,
        "state['correct'] (3) exceeds state['total']",
    ),
    (Accuracy, {"correct": -1, "total": 2}, ValueError, "state['correct'] holds a negative count"),
    (Accuracy, {"correct": [1], "total": 2}, RuntimeError, "size mismatch for correct"),
    (
        lambda: ConfusionMatrix(3),
        {"confmat": np.zeros((2, 2), np.int64)},
        RuntimeError,
        "size mismatch for confmat",
    ),
    (
        ConfusionMatrix,
        {"confmat": np.zeros((2, 3), np.int64)},
        RuntimeError,
        "expected a square matrix",
    ),
    (
        lambda: PrecisionRecallF1(2),
        {"tp": [1, 0], "fp": [0, 0], "tn": [0, 0], "fn": [0, 0]},
        ValueError,
        "the counts disagree",
    ),
    (MeanLoss, {"sum_limbs": [1]}, RuntimeError, "Missing key(s)"),
    (
        MeanLoss,
        {**MeanLoss().state_dict(), "sum_limbs": np.array([2**40])},
        ValueError,
        "state['sum_limbs'] holds a limb outside 32 bits",
    ),
    (
        MeanLoss,
        {**MeanLoss().state_dict(), "weight_limbs": np.array([-1])},
        ValueError,
        "negative total weight",
    ),
    (Accuracy, [1, 2], TypeError, "state must be a mapping"),
    (
        MeanLoss,
        {**MeanLoss().state_dict(), "sum_exponent": np.array(2**62)},
        ValueError,
        "state['sum_exponent'] is 4611686018427387904, beyond +-8192",
    ),
    (
        MeanLoss,
        {**MeanLoss().state_dict(), "weight_limbs": np.ones(1000, np.int64)},
        ValueError,
        "state['weight_limbs'] has 1000 limbs, more than the 256",
    ),
]


@pytest.mark.parametrize(("make", "state", "error", "message"), STATE_ERRORS)
def test_load_state_dict_errors(make: Any, state: Any, error: type, message: str) -> None:
    metric = make()
    name = type(metric).__name__
    with pytest.raises(error, match=f"^{re.escape(name)}.load_state_dict: .*{re.escape(message)}"):
        metric.load_state_dict(state)


# -- errors name the public function and the argument -------------------------------------------

X = np.zeros((5, 4), np.float32)
Y = np.zeros(5, np.int64)

ERRORS = [
    (
        lambda: accuracy([[0.0]], Y),
        TypeError,
        "accuracy: preds must be an odyssey.Tensor or a numpy.ndarray, not list",
    ),
    (
        lambda: accuracy(np.zeros((5, 4, 1)), Y),
        ValueError,
        "accuracy: preds must be (N, C) floating-point logits or (N,) integer class labels, "
        "got float64 of shape (5, 4, 1)",
    ),
    (lambda: accuracy(np.zeros(5), Y), ValueError, "accuracy: preds must be (N, C)"),
    (lambda: accuracy(np.zeros(5, bool), Y), TypeError, "accuracy: preds must be (N, C)"),
    (
        lambda: accuracy(X, Y.astype(np.float32)),
        TypeError,
        "accuracy: target must hold integer class labels, got float32",
    ),
    (
        lambda: accuracy(X, Y[:4]),
        ValueError,
        "accuracy: target must have shape (5,), one label per row of preds, got (4,)",
    ),
    (
        lambda: accuracy(X, np.array([0, 1, -1, 0, 0])),
        ValueError,
        "accuracy: target holds -1 at position 2; class labels must be >= 0",
    ),
    (
        lambda: accuracy(X, np.array([0, 1, 4, 0, 0])),
        ValueError,
        "accuracy: target holds 4 at position 2; class labels must be in [0, 4) for 4 classes "
        "(preds has 4 columns)",
    ),
    (
        lambda: accuracy(np.array([0, 7]), np.array([0, 1]), num_classes=5),
        ValueError,
        "accuracy: preds holds 7 at position 1; class labels must be in [0, 5) for 5 classes "
        "(num_classes=5)",
    ),
    (
        lambda: accuracy(np.array([-2, 0]), np.array([0, 1])),
        ValueError,
        "accuracy: preds holds -2 at position 0",
    ),
    (
        lambda: accuracy(np.array([2**63], np.uint64), np.array([0])),
        ValueError,
        "accuracy: preds holds 9223372036854775808, beyond int64",
    ),
    (
        lambda: accuracy(X, Y, num_classes=3),
        ValueError,
        "accuracy: preds has 4 classes (logits of shape (5, 4)) but num_classes is 3",
    ),
    (
        lambda: accuracy(X, Y, num_classes=0),
        ValueError,
        "accuracy: num_classes must be >= 1, got 0",
    ),
    (lambda: accuracy(X, Y, num_classes=2.0), TypeError, "accuracy: num_classes must be an int"),
    (
        lambda: accuracy(np.zeros((2, 0)), np.zeros(2, np.int64)),
        ValueError,
        "accuracy: preds has no classes",
    ),
    (
        lambda: accuracy(np.array([[0.0, 1.0], [np.nan, 0.0]]), np.array([0, 1])),
        ValueError,
        "accuracy: preds holds NaN in row 1",
    ),
    (
        lambda: accuracy(np.array([[0.0, 1.0], [0.0, np.nan]]), np.array([0, 1])),
        ValueError,
        "accuracy: preds holds NaN in row 1",
    ),
    (
        lambda: top_k_accuracy(X[:, :3], Y, k=5),
        ValueError,
        "top_k_accuracy: k=5 is larger than the number of classes, 3",
    ),
    (lambda: top_k_accuracy(X, Y, k=0), ValueError, "top_k_accuracy: k must be >= 1, got 0"),
    (lambda: top_k_accuracy(X, Y, k=True), TypeError, "top_k_accuracy: k must be an int"),
    (
        lambda: top_k_accuracy(Y, Y, k=1),
        TypeError,
        "top_k_accuracy: preds must be (N, C) floating-point logits",
    ),
    (
        lambda: top_k_accuracy(np.array([[0.0, np.nan]]), np.array([0]), k=1),
        ValueError,
        "top_k_accuracy: preds holds NaN in row 0",
    ),
    (
        lambda: confusion_matrix(X, Y, normalize="rows"),
        ValueError,
        "confusion_matrix: normalize must be one of",
    ),
    (
        lambda: confusion_matrix(np.array([2**40]), np.array([0])),
        MemoryError,
        "confusion_matrix: a 1099511627777 x 1099511627777 confusion matrix",
    ),
    (
        lambda: precision_recall_f1(X, Y, average="samples"),
        ValueError,
        "precision_recall_f1: average must be one of",
    ),
    (
        lambda: precision_recall_f1(X, Y, zero_division=0.5),
        ValueError,
        "precision_recall_f1: zero_division must be 0.0, 1.0 or nan",
    ),
    (
        lambda: precision_recall_f1(X, Y, zero_division="warn"),
        TypeError,
        "precision_recall_f1: zero_division must be a real number",
    ),
    (lambda: Accuracy(num_classes=-1), ValueError, "Accuracy: num_classes must be >= 1"),
    (
        lambda: Accuracy().update(X, Y[:2]),
        ValueError,
        "Accuracy.update: target must have shape (5,)",
    ),
    (lambda: Accuracy(3).update(X, Y), ValueError, "Accuracy.update: preds has 4 classes"),
    (
        lambda: Accuracy()(X, "y"),
        TypeError,
        "Accuracy: target must be an odyssey.Tensor or a numpy.ndarray, not str",
    ),
    (
        lambda: TopKAccuracy(k=5, num_classes=3),
        ValueError,
        "TopKAccuracy: k=5 is larger than num_classes=3",
    ),
    (lambda: TopKAccuracy(k=0), ValueError, "TopKAccuracy: k must be >= 1"),
    (
        lambda: TopKAccuracy().update(X, Y),
        ValueError,
        "TopKAccuracy.update: k=5 is larger than the number of classes, 4",
    ),
    (
        lambda: TopKAccuracy(k=1).update(Y, Y),
        TypeError,
        "TopKAccuracy.update: preds must be (N, C) floating-point logits",
    ),
    (lambda: ConfusionMatrix(0), ValueError, "ConfusionMatrix: num_classes must be >= 1"),
    (
        lambda: ConfusionMatrix(2, normalize=True),
        TypeError,
        "ConfusionMatrix: normalize must be a str or None, got bool",
    ),
    (
        lambda: ConfusionMatrix(2, normalize="rows"),
        ValueError,
        "ConfusionMatrix: normalize must be one of ('true', 'pred', 'all', None), got 'rows'",
    ),
    (
        lambda: PrecisionRecallF1(average=np.array(["macro", "micro"])),
        TypeError,
        "PrecisionRecallF1: average must be a str or None, got ndarray",
    ),
    (
        lambda: accuracy(np.array([0, 7]), np.array([0, 9]), num_classes=8),
        ValueError,
        "accuracy: target holds 9 at position 1; class labels must be in [0, 8) for 8 classes "
        "(num_classes=8)",
    ),
    (
        lambda: ConfusionMatrix(3).update(X, Y),
        ValueError,
        "ConfusionMatrix.update: preds has 4 classes",
    ),
    (
        lambda: ConfusionMatrix(2).update(np.array([0, 2]), np.array([0, 1])),
        ValueError,
        "ConfusionMatrix.update: preds holds 2 at position 1; class labels must be in [0, 2)",
    ),
    (
        lambda: ConfusionMatrix(2**40),
        MemoryError,
        "ConfusionMatrix: num_classes=1099511627776 needs",
    ),
    (
        lambda: PrecisionRecallF1(average="binary"),
        ValueError,
        "PrecisionRecallF1: average must be one of",
    ),
    (
        lambda: PrecisionRecallF1(zero_division=2),
        ValueError,
        "PrecisionRecallF1: zero_division must be",
    ),
    (
        lambda: PrecisionRecallF1(2).update(X, Y),
        ValueError,
        "PrecisionRecallF1.update: preds has 4 classes",
    ),
    (
        lambda: MeanLoss().update("0.5"),
        TypeError,
        "MeanLoss.update: value must be a real number, an odyssey.Tensor or a numpy.ndarray, "
        "not str",
    ),
    (
        lambda: MeanLoss().update(np.array([True])),
        TypeError,
        "MeanLoss.update: value must hold real numbers, got bool",
    ),
    (
        lambda: MeanLoss().update(np.array([2**60])),
        ValueError,
        "MeanLoss.update: value holds integers beyond 2**53",
    ),
    (
        lambda: MeanLoss().update(1.0, weight=-1),
        ValueError,
        "MeanLoss.update: weight must be >= 0, got -1",
    ),
    (
        lambda: MeanLoss().update(1.0, weight=math.inf),
        ValueError,
        "MeanLoss.update: weight must be finite",
    ),
    (
        lambda: MeanLoss().update(1.0, weight=True),
        TypeError,
        "MeanLoss.update: weight must be a real number",
    ),
    (
        lambda: MeanLoss().update(np.ones(3), weight=np.ones(2)),
        ValueError,
        "MeanLoss.update: weight of shape (2,) does not broadcast to value's shape (3,)",
    ),
    (
        lambda: MeanLoss().update(np.ones(2), weight=np.array([1.0, -1.0])),
        ValueError,
        "MeanLoss.update: weight must be finite and >= 0 everywhere",
    ),
    (lambda: MeanLoss()(1.0, weight=None), TypeError, "MeanLoss: weight must be a real number"),
]


@pytest.mark.parametrize(("call", "error", "message"), ERRORS)
def test_errors_name_the_function_and_argument(call: Any, error: type, message: str) -> None:
    with pytest.raises(error, match="^" + re.escape(message)):
        call()


def test_public_names() -> None:
    assert set(metrics.__all__) >= {
        "Accuracy",
        "TopKAccuracy",
        "ConfusionMatrix",
        "PrecisionRecallF1",
        "MeanLoss",
        "accuracy",
        "top_k_accuracy",
        "confusion_matrix",
        "precision_recall_f1",
    }
    assert repr(PrecisionRecallF1(3, average=None)) == (
        "PrecisionRecallF1(num_classes=3, average=None, zero_division=0.0)"
    )


def test_average_none_spelled_as_torchmetrics_does() -> None:
    preds, target = np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2])
    for a, b in zip(
        precision_recall_f1(preds, target, average="none"),
        precision_recall_f1(preds, target, average=None),
        strict=True,
    ):
        assert_same(a, b)


# -- hostile inputs: an ordinary exception naming the public function, or an answer ----------

HOSTILE_DTYPES = ["float64", "float32", "float16", "int64", "int32", "uint64", "uint8", "bool"]
HOSTILE_DTYPES += ["complex64", "object"]


@st.composite
def hostile_arrays(draw: Any) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from([None, 3, 1.5, "x", [1, 2], (0,)]))
    dtype = draw(st.sampled_from(HOSTILE_DTYPES))
    shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
    fill = draw(st.sampled_from(["small", "big", "negative", "nan", "inf"]))
    rng = np.random.default_rng(draw(st.integers(0, 1000)))
    values = {
        "small": rng.integers(0, 4, size=shape),
        "big": np.full(shape, 2**62),
        "negative": -rng.integers(1, 4, size=shape),
        "nan": np.full(shape, np.nan),
        "inf": np.full(shape, -np.inf),
    }[fill]
    with np.errstate(all="ignore"):
        try:
            data = np.asarray(values).astype(dtype)
        except (OverflowError, ValueError):
            data = np.zeros(shape, dtype)
    if draw(st.booleans()) and data.ndim:
        data = data[::-1]
    wrap = draw(st.integers(0, 3)) == 0 and data.dtype.kind in "fiub"
    return odyssey.Tensor(data) if wrap else data


HOSTILE_CALLS = {
    "accuracy": lambda p, t, o: accuracy(p, t, num_classes=o),
    "top_k_accuracy": lambda p, t, o: top_k_accuracy(p, t, k=o if o is not None else 1),
    "confusion_matrix": lambda p, t, o: confusion_matrix(p, t, num_classes=o),
    "precision_recall_f1": lambda p, t, o: precision_recall_f1(p, t, num_classes=o),
    "Accuracy.update": lambda p, t, o: Accuracy(o).update(p, t),
    "TopKAccuracy.update": lambda p, t, o: TopKAccuracy(k=1, num_classes=o).update(p, t),
    "ConfusionMatrix.update": lambda p, t, o: ConfusionMatrix(o).update(p, t),
    "PrecisionRecallF1.update": lambda p, t, o: PrecisionRecallF1(o, average=None).update(p, t),
    "MeanLoss.update": lambda p, t, o: MeanLoss().update(p, t if o is None else p),
}


@settings(max_examples=int(os.environ.get("ODYSSEY_FUZZ_EXAMPLES", "300")), deadline=None)
@given(
    st.sampled_from(sorted(HOSTILE_CALLS)),
    hostile_arrays(),
    hostile_arrays(),
    st.sampled_from([None, 1, 3, 4, 2**40]),
)
def test_hostile_inputs_raise_named_errors(name: str, preds: Any, target: Any, option: Any) -> None:
    try:
        with np.errstate(all="raise"):  # a NumPy warning would mean an unchecked value got through
            HOSTILE_CALLS[name](preds, target, option)
    except (TypeError, ValueError, RuntimeError, MemoryError) as error:
        message = str(error)
    else:
        return
    assert message.startswith((name, name.split(".")[0])), message
