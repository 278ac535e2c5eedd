"""The SimCLR network: an encoder f and a projection head g (provided).

``Model(feature_dim)`` is the canonical one: a ResNet-18 adapted to 32 x 32
images (a 3 x 3, stride-1 first convolution and no max pooling, so small images
are not shrunk away), whose 512 pooled features h = f(x) feed a two-layer MLP
head z = g(h). ``encoder="small"`` swaps in a three-layer convolutional encoder
(64 features), about 300 times cheaper, for CPU runs in fast mode.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models import resnet18


def resnet18_encoder():
    """ResNet-18 without its classifier, for 32 x 32 inputs: (N, 3, 32, 32) -> (N, 512, 1, 1)."""
    layers = []
    for name, module in resnet18().named_children():
        if name == "conv1":
            module = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        if not isinstance(module, (nn.Linear, nn.MaxPool2d)):
            layers.append(module)
    return nn.Sequential(*layers)


def small_encoder():
    """Three strided convolutions with batch norm: (N, 3, 32, 32) -> (N, 64, 1, 1)."""
    layers, channels = [], 3
    for width in (16, 32, 64):
        layers += [nn.Conv2d(channels, width, kernel_size=3, stride=2, padding=1, bias=False),
                   nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        channels = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1))


ENCODERS = {"resnet18": (resnet18_encoder, 512), "small": (small_encoder, 64)}


class Model(nn.Module):
    """SimCLR's network. ``forward(x)`` returns (h, z), both L2-normalized per row:
    h (N, feature_size) the encoder's features, z (N, feature_dim) the projection."""

    def __init__(self, feature_dim=128, encoder="resnet18"):
        super().__init__()
        if encoder not in ENCODERS:
            raise ValueError(f"Model: encoder is {encoder!r}; expected one of {sorted(ENCODERS)}")
        build, self.feature_size = ENCODERS[encoder]
        self.f = build()  # the encoder
        self.g = nn.Sequential(nn.Linear(self.feature_size, 512, bias=False), nn.BatchNorm1d(512),
                               nn.ReLU(inplace=True), nn.Linear(512, feature_dim, bias=True))  # projection head

    def forward(self, x):
        feature = torch.flatten(self.f(x), start_dim=1)
        out = self.g(feature)
        return F.normalize(feature, dim=-1), F.normalize(out, dim=-1)
