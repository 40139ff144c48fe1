"""Rigid motions of points in the plane."""

import math


def rotate(points: list[tuple[float, float]], angle_degrees: float) -> list[tuple[float, float]]:
    """The `points` rotated by `angle` radians counter-clockwise about the origin."""
    theta = math.radians(angle_degrees)
    c, s = math.cos(theta), math.sin(theta)
    return [(c * x - s * y, s * x + c * y) for x, y in points]


def translate(points: list[tuple[float, float]], dx: float, dy: float) -> list[tuple[float, float]]:
    """The `points` moved by (`dx`, `dy`)."""
    return [(x + dx, y + dy) for x, y in points]
