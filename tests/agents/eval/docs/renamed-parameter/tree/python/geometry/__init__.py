"""Plane geometry on lists of (x, y) points."""

from geometry.ops import rotate, translate

__all__ = ["rotate", "translate"]
