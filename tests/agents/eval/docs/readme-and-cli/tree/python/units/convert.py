"""Lengths between metres, centimetres, inches and feet."""

METRES = {"m": 1.0, "cm": 0.01, "in": 0.0254, "ft": 0.3048}


def convert(value: float, source: str, target: str) -> float:
    """`value` in unit `source` expressed in unit `target` (one of m, cm, in, ft)."""
    return value * METRES[source] / METRES[target]
