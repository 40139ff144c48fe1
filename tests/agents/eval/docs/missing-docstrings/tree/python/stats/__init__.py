"""Streaming statistics."""

from stats.core import Histogram, mean

__all__ = ["Histogram", "mean"]
