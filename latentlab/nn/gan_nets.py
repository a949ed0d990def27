"""Generator and discriminator networks shared by the GAN family.

Two families, chosen with ``arch``:

``mlp``   fully connected; batch norm and ReLU in the generator, LeakyReLU(0.2) in the discriminator.
``conv``  the DCGAN design rules (Radford, Metz and Chintala 2016, section 3, as in the
          lecture notes): strided convolutions down in the discriminator, transposed
          convolutions up in the generator, batch normalisation in both networks except
          the discriminator's input layer and the generator's output layer, ReLU in the
          generator, LeakyReLU in the discriminator, and no hidden fully connected layer:
          the generator starts with a transposed convolution from 1x1 to (H/4, W/4) and
          every discriminator head is a convolution whose kernel covers all of (H/4, W/4).

The generator maps a vector (B, in_dim) to images (B, C, H, W) in [0, 1] (it ends in a
sigmoid, as the data are in [0, 1]; sigmoid(2a) = (tanh(a) + 1) / 2, DCGAN's tanh rescaled).
The discriminator first centres its input to [-1, 1], the range DCGAN's networks see. The discriminator maps images, and optionally
one-hot labels (B, K) for a conditional GAN, to a dict of named heads (B, out) of
unnormalised scores (logits), all sharing one body: "adv" (real/fake) and e.g. an
auxiliary classifier (AC-GAN) or the InfoGAN Q network.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from latentlab.nn.nets import down_sizes, up

ARCHS = ("mlp", "conv")


def _check_conv_size(shape: tuple[int, int, int]) -> None:
    if min(shape[1:]) < 4:
        raise ValueError(f"the conv architecture needs images of at least 4x4, got {shape[1]}x{shape[2]}: resize them (--image-size 4 or more), or train a model with MLP networks on them (gan, or the mlp arch of cgan, acgan, infogan, wgan-gp)")


class MLPGenerator(nn.Module):
    """(B, in_dim) -> (B, C, H, W) in [0, 1] through `layers` linear -> batch norm -> ReLU layers of `hidden` units."""

    def __init__(self, in_dim: int, shape: tuple[int, int, int], hidden: int = 256, layers: int = 2):
        super().__init__()
        self.shape = tuple(shape)
        sizes = [in_dim] + [hidden] * layers
        blocks: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            blocks += [nn.Linear(a, b, bias=False), nn.BatchNorm1d(b), nn.ReLU()]
        self.net = nn.Sequential(*blocks, nn.Linear(sizes[-1], math.prod(shape)), nn.Sigmoid())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, *self.shape)  # (B, C, H, W)


class ConvGenerator(nn.Module):
    """(B, in_dim) -> (B, C, H, W) in [0, 1]: the DCGAN generator for small images.

    in_dim as (B, in_dim, 1, 1) -> convT -> (B, 2ch, H/4, W/4) -> convT -> (B, ch, H/2, W/2) -> convT -> (B, C, H, W)
    """

    def __init__(self, in_dim: int, shape: tuple[int, int, int], channels: int = 32):
        super().__init__()
        _check_conv_size(shape)
        c = shape[0]
        sizes = down_sizes(shape[1], shape[2])  # [(H, W), (H/2, W/2), (H/4, W/4)]
        self.net = nn.Sequential(
            nn.ConvTranspose2d(in_dim, 2 * channels, sizes[2], 1, 0, bias=False),  # (B, 2ch, H/4, W/4)
            nn.BatchNorm2d(2 * channels), nn.ReLU(),
            up(2 * channels, channels, sizes[2], sizes[1], bias=False),  # (B, ch, H/2, W/2)
            nn.BatchNorm2d(channels), nn.ReLU(),
            up(channels, c, sizes[1], sizes[0], bias=False),  # (B, C, H, W)
            nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z[:, :, None, None])


class MLPBody(nn.Module):
    """(B, C, H, W) [+ (B, K) labels] -> (B, hidden) through LeakyReLU layers."""

    def __init__(self, shape: tuple[int, int, int], cond_dim: int = 0, hidden: int = 256, layers: int = 2):
        super().__init__()
        sizes = [math.prod(shape) + cond_dim] + [hidden] * layers
        blocks: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            blocks += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*blocks)
        self.out_channels, self.out_size = hidden, None

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        h = x.flatten(1) * 2 - 1  # (B, C*H*W), centred to [-1, 1] as DCGAN's tanh-scaled data
        if cond is not None:
            h = torch.cat([h, cond], 1)  # (B, C*H*W + K)
        return self.net(h)  # (B, hidden)


class ConvBody(nn.Module):
    """(B, C, H, W) [+ labels as K constant planes] -> (B, 2ch, H/4, W/4) through two strided convolutions."""

    def __init__(self, shape: tuple[int, int, int], cond_dim: int = 0, channels: int = 32, batchnorm: bool = True):
        super().__init__()
        _check_conv_size(shape)
        self.net = nn.Sequential(
            nn.Conv2d(shape[0] + cond_dim, channels, 4, 2, 1), nn.LeakyReLU(0.2),  # (B, ch, H/2, W/2); no BN on the input layer
            nn.Conv2d(channels, 2 * channels, 4, 2, 1, bias=not batchnorm),  # (B, 2ch, H/4, W/4)
            nn.BatchNorm2d(2 * channels) if batchnorm else nn.Identity(), nn.LeakyReLU(0.2),
        )
        self.out_channels, self.out_size = 2 * channels, down_sizes(shape[1], shape[2])[-1]

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        x = x * 2 - 1  # centred to [-1, 1] as DCGAN's tanh-scaled data
        if cond is not None:
            x = torch.cat([x, cond[:, :, None, None].expand(-1, -1, *x.shape[2:])], 1)  # (B, C + K, H, W)
        return self.net(x)


class Discriminator(nn.Module):
    """Images (and one-hot labels) -> {head name: (B, out) logits}, every head on one shared body."""

    def __init__(self, arch: str, shape: tuple[int, int, int], heads: dict[str, int], cond_dim: int = 0,
                 hidden: int = 256, layers: int = 2, channels: int = 32, batchnorm: bool = True):
        super().__init__()
        if arch == "mlp":
            self.body = MLPBody(shape, cond_dim, hidden, layers)
            self.heads = nn.ModuleDict({k: nn.Linear(hidden, n) for k, n in heads.items()})
        elif arch == "conv":
            self.body = ConvBody(shape, cond_dim, channels, batchnorm)
            # a convolution over the whole (H/4, W/4) map: (B, 2ch, H/4, W/4) -> (B, n, 1, 1) -> (B, n)
            self.heads = nn.ModuleDict({k: nn.Sequential(nn.Conv2d(self.body.out_channels, n, self.body.out_size), nn.Flatten())
                                        for k, n in heads.items()})
        else:
            raise ValueError(f"unknown arch {arch!r}")

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        h = self.body(x, cond)
        return {k: head(h) for k, head in self.heads.items()}


def generator_net(arch: str, in_dim: int, shape: tuple[int, int, int], hidden: int = 256, layers: int = 2,
                  channels: int = 32) -> nn.Module:
    if arch == "mlp":
        return MLPGenerator(in_dim, shape, hidden, layers)
    if arch == "conv":
        return ConvGenerator(in_dim, shape, channels)
    raise ValueError(f"unknown arch {arch!r}")
