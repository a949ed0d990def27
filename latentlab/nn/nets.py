"""Encoder and decoder networks shared by the autoencoder family.

``encoder_net`` maps images (B, C, H, W) to a vector (B, out); ``decoder_net``
maps a vector (B, latent) to pixel logits (B, C, H, W). Two families:
``mlp`` (fully connected) and ``conv`` (two stride-2 convolutions down, two
transposed convolutions up, as in pytorch/examples' DCGAN and most VAE papers).

The pieces the other networks reuse: ``mlp`` (every fully connected stack without batch
norm, the shower models' included), ``down_sizes`` and ``up`` (the stride-2 geometry).
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn


ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "leaky_relu": nn.LeakyReLU}


def mlp(sizes: list[int], act: Callable[[], nn.Module] = nn.ReLU) -> nn.Sequential:
    """Linear layers of the given sizes with an activation between them (none after the last).

    ``act`` makes one activation module, e.g. ``nn.Tanh`` or ``lambda: nn.LeakyReLU(0.2)``.
    Linear layer i is module ``2 * i`` of the Sequential (the keys of saved weights)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


def down_sizes(h: int, w: int, steps: int = 2) -> list[tuple[int, int]]:
    """Spatial sizes after each Conv2d(k=4, s=2, p=1): floor(h/2) per step."""
    sizes = [(h, w)]
    for _ in range(steps):
        h, w = h // 2, w // 2
        sizes.append((h, w))
    return sizes


def up(cin: int, cout: int, small: tuple[int, int], big: tuple[int, int], bias: bool = True) -> nn.ConvTranspose2d:
    """ConvTranspose2d(k=4, s=2, p=1) from (h, w) = ``small`` to ``big``: it gives 2h + output_padding,
    so an odd target is padded by one (the inverse of ``down_sizes``)."""
    pad = (big[0] - 2 * small[0], big[1] - 2 * small[1])
    return nn.ConvTranspose2d(cin, cout, 4, 2, 1, output_padding=pad, bias=bias)


class ConvEncoder(nn.Module):
    """(B, C, H, W) -> (B, out): conv(ch) -> conv(2ch), each halving H and W, then a linear layer."""

    def __init__(self, shape: tuple[int, int, int], out: int, channels: int = 32, hidden: int = 256):
        super().__init__()
        c, h, w = shape
        if min(h, w) < 4:
            raise ValueError(f"the conv architecture needs images of at least 4x4, got {h}x{w}: resize them (--image-size 4 or more), or use --arch mlp")
        (h4, w4) = down_sizes(h, w)[-1]
        self.features = nn.Sequential(
            nn.Conv2d(c, channels, 4, 2, 1), nn.ReLU(),  # (B, ch, H/2, W/2)
            nn.Conv2d(channels, 2 * channels, 4, 2, 1), nn.ReLU(),  # (B, 2ch, H/4, W/4)
            nn.Flatten(),  # (B, 2ch * H/4 * W/4)
        )
        self.head = mlp([2 * channels * h4 * w4, hidden, out])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class ConvDecoder(nn.Module):
    """(B, latent) -> (B, C, H, W) logits, the mirror image of ConvEncoder."""

    def __init__(self, shape: tuple[int, int, int], latent: int, channels: int = 32, hidden: int = 256):
        super().__init__()
        c, h, w = shape
        sizes = down_sizes(h, w)  # [(H, W), (H/2, W/2), (H/4, W/4)]
        self.start = (2 * channels, *sizes[-1])
        self.head = nn.Sequential(mlp([latent, hidden, 2 * channels * sizes[-1][0] * sizes[-1][1]]), nn.ReLU())
        self.features = nn.Sequential(
            up(2 * channels, channels, sizes[2], sizes[1]), nn.ReLU(),  # (B, ch, H/2, W/2)
            up(channels, c, sizes[1], sizes[0]),  # (B, C, H, W) logits
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.head(z).view(-1, *self.start)  # (B, 2ch, H/4, W/4)
        return self.features(x)


class MLPEncoder(nn.Module):
    """(B, C, H, W) -> (B, out) through `layers` hidden layers of `hidden` units."""

    def __init__(self, shape: tuple[int, int, int], out: int, hidden: int = 512, layers: int = 1, act: str = "relu"):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), mlp([math.prod(shape)] + [hidden] * layers + [out], ACTIVATIONS[act]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MLPDecoder(nn.Module):
    """(B, latent) -> (B, C, H, W) logits through `layers` hidden layers of `hidden` units."""

    def __init__(self, shape: tuple[int, int, int], latent: int, hidden: int = 512, layers: int = 1, act: str = "relu"):
        super().__init__()
        self.shape = tuple(shape)
        self.net = mlp([latent] + [hidden] * layers + [math.prod(shape)], ACTIVATIONS[act])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, *self.shape)


def encoder_net(arch: str, shape: tuple[int, int, int], out: int, hidden: int, layers: int, channels: int,
                act: str = "relu") -> nn.Module:
    if arch == "mlp":
        return MLPEncoder(shape, out, hidden, layers, act)
    if arch == "conv":
        return ConvEncoder(shape, out, channels, hidden)
    raise ValueError(f"unknown arch {arch!r}")


def decoder_net(arch: str, shape: tuple[int, int, int], latent: int, hidden: int, layers: int, channels: int,
                act: str = "relu") -> nn.Module:
    if arch == "mlp":
        return MLPDecoder(shape, latent, hidden, layers, act)
    if arch == "conv":
        return ConvDecoder(shape, latent, channels, hidden)
    raise ValueError(f"unknown arch {arch!r}")
