"""The data pipeline."""

from odyssey.data.transforms import (
    Compose,
    ElasticDistortion,
    Normalize,
    Pad,
    RandomAffine,
    RandomCrop,
    RandomErasing,
)

__all__ = [
    "Compose",
    "ElasticDistortion",
    "Normalize",
    "Pad",
    "RandomAffine",
    "RandomCrop",
    "RandomErasing",
]
