"""Means of sequences of floats."""


def mean(values: list[float]) -> float:
    """The mean of `values` (at least one)."""
    if not values:
        raise ValueError("mean: values must hold at least one number")
    return sum(values) / len(values)
