"""A small U-Net for the noise prediction eps_theta(x_t, t) of a diffusion model (Ho et al. 2020, appendix B,
after PixelCNN++'s backbone and Ronneberger et al. 2015), cut down to a CPU's size.

time embedding   sinusoidal, as the Transformer's positions (Vaswani et al. 2017, section 3.5):
                 e(t)_2i = sin(t / 10000^(2i/d)),  e(t)_2i+1 = cos(t / 10000^(2i/d)),  then an MLP (d -> 4d -> 4d)
residual block   GroupNorm, SiLU, 3x3 conv, + a linear map of the time embedding, GroupNorm, SiLU, 3x3 conv,
                 + the input (through a 1x1 conv when the channel count changes)
levels           one residual block per resolution on the way down (its output kept as a skip), 2x2 average
                 pooling between resolutions, one block at the bottom, then nearest-neighbour 2x upsampling,
                 concatenation with the skip and one block per resolution on the way up; channels double per level
output           GroupNorm, SiLU, 3x3 conv to the image channels, initialised to zero (the net starts at eps = 0)

No attention layers and no dropout (the images are small). Images whose sides are not multiples of
2**levels (28 with 3 levels, say) are zero-padded around and cropped back, so any size works.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of (possibly fractional) time steps: (B,) -> (B, dim), sines then cosines."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000) * torch.arange(half, device=t.device, dtype=torch.float32) / half)  # (half,)
    angles = t.float()[:, None] * freqs[None]  # (B, half)
    emb = torch.cat([angles.sin(), angles.cos()], dim=1)
    return F.pad(emb, (0, dim % 2))  # an odd dim gets a zero column


def norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(8, channels), channels)  # up to 8 groups, any channel count


class ResBlock(nn.Module):
    """(B, in, H, W) and a time embedding (B, E) -> (B, out, H, W)."""

    def __init__(self, in_channels: int, out_channels: int, emb_dim: int):
        super().__init__()
        self.conv1 = nn.Sequential(norm(in_channels), nn.SiLU(), nn.Conv2d(in_channels, out_channels, 3, padding=1))
        self.time = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, out_channels))
        self.conv2 = nn.Sequential(norm(out_channels), nn.SiLU(), nn.Conv2d(out_channels, out_channels, 3, padding=1))
        self.skip = nn.Identity() if in_channels == out_channels else nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(x) + self.time(emb)[:, :, None, None]  # (B, out, H, W)
        return self.skip(x) + self.conv2(h)


class UNet(nn.Module):
    """eps_theta(x_t, t): images (B, C, H, W) and time steps (B,) -> (B, C, H, W).

    ``channels`` at the full resolution, doubled at each of the ``levels`` down-samplings."""

    def __init__(self, image_channels: int, channels: int = 32, levels: int = 2):
        super().__init__()
        self.channels, self.levels = channels, levels
        emb = 4 * channels
        self.time_mlp = nn.Sequential(nn.Linear(channels, emb), nn.SiLU(), nn.Linear(emb, emb))
        widths = [channels * 2**level for level in range(levels)]  # per resolution, finest first
        self.stem = nn.Conv2d(image_channels, channels, 3, padding=1)
        self.down = nn.ModuleList(ResBlock(a, b, emb) for a, b in zip([channels] + widths[:-1], widths))
        self.middle = ResBlock(widths[-1], widths[-1], emb)
        # coarsest first; each takes the features from below (the middle's, then the previous block's) and the skip
        self.up = nn.ModuleList(ResBlock(widths[min(level + 1, levels - 1)] + widths[level], widths[level], emb)
                                for level in reversed(range(levels)))
        self.out = nn.Sequential(norm(channels), nn.SiLU(), nn.Conv2d(channels, image_channels, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        m = 2**self.levels
        ph, pw = -height % m, -width % m
        x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))  # (B, C, H', W'), sides multiples of 2**levels
        emb = self.time_mlp(timestep_embedding(t, self.channels))  # (B, 4 * channels)
        h = self.stem(x)  # (B, channels, H', W')
        skips = []
        for block in self.down:
            h = block(h, emb)  # (B, width, H' / 2**level, W' / 2**level)
            skips.append(h)
            h = F.avg_pool2d(h, 2)
        h = self.middle(h, emb)  # (B, widths[-1], H' / 2**levels, W' / 2**levels)
        for block in self.up:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = block(torch.cat([h, skips.pop()], dim=1), emb)  # (B, width of this level, ...)
        h = self.out(h)  # (B, C, H', W')
        return h[..., ph // 2:ph // 2 + height, pw // 2:pw // 2 + width]
