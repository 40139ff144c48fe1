"""The tiny paper's models, written with odyssey's public API only."""

from odyssey import nn


class TinyNet(nn.Module):
    """28x28 digits -> `hidden` ReLU units -> 10 classes."""

    def __init__(self, hidden: int = 32, num_classes: int = 10) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(28 * 28, hidden), nn.ReLU(), nn.Linear(hidden, num_classes)
        )

    def forward(self, x):
        return self.net(x)


class TinyConvNet(nn.Module):
    """One 5x5 convolution with 4 channels, ReLU and 4x4 max pooling (one fused layer), then a
    linear layer."""

    def __init__(self, channels: int = 4, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, channels, 5), nn.ReLUMaxPool2d(4), nn.Flatten())
        self.classifier = nn.Linear(channels * 6 * 6, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x))
