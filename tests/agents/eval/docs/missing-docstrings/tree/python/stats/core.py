"""Mean and histograms of numbers seen one at a time."""


def mean(values: list[float]) -> float:
    if not values:
        raise ValueError("mean: values must not be empty")
    return sum(values) / len(values)


class Histogram:
    """Counts of values in `bins` equal bins over [`low`, `high`)."""

    def __init__(self, bins: int, low: float, high: float) -> None:
        self.bins, self.low, self.high = bins, low, high
        self.counts = [0] * bins

    def add(self, value: float) -> None:
        if self.low <= value < self.high:
            width = (self.high - self.low) / self.bins
            self.counts[int((value - self.low) // width)] += 1
