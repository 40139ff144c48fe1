"""The paper's models, written with odyssey's public API only; paper.toml's variants name them.

SmallCNN is the starting point `odyssey new` writes: small enough to train in seconds, good enough
to clear the generated targets. Replace it (and the variants' `model`) with the paper's model.
"""

from __future__ import annotations

import odyssey
from odyssey import nn


class SmallCNN(nn.Module):
    """A 28x28 greyscale image -> conv 3x3 (`width` maps, padded), ReLU, 2x2 max-pool -> conv 3x3
    (2 x `width` maps, padded), ReLU, 2x2 max-pool -> linear -> `num_classes` logits, trained with
    softmax cross-entropy. 1,248 + 785 x num_classes parameters at width 8 (9,098 for 10 classes).
    """

    def __init__(self, num_classes: int = 10, width: int = 8) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.classifier = nn.Linear(2 * width * 7 * 7, num_classes)

    def forward(self, x: odyssey.Tensor) -> odyssey.Tensor:
        return self.classifier(self.features(x))
