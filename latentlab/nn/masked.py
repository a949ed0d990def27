"""Masked convolutions and the blocks of autoregressive image models (PixelCNN).

Pixels are ordered row by row, left to right, and within a pixel channel by channel (van den Oord
et al. 2016a, section 3.4). A masked convolution multiplies its kernel by a fixed 0/1 mask so that the
output at a pixel sees only what comes before it in that order:

    type A (first layer)   the taps above and to the left of the current pixel; at the current pixel,
                           only the channels of an earlier group (the pixel itself is what is predicted)
    type B (later layers)  the same, plus the current pixel's channels of the same group (a feature at a
                           pixel may use the features there, which depend only on earlier pixels)

Channel groups: with C image channels, channel k of any layer belongs to group k % C (image channel c is
group c, and the logit of channel c is output channel c). Group g at the current pixel sees the groups
< g (type A) or <= g (type B), so a grey image (C = 1) has one group: A excludes the pixel, B includes it.

A stack of k x k masked convolutions leaves a blind spot up and to the right of each pixel that never
enters its receptive field (van den Oord et al. 2016b, figure 1). The gated block removes it with two
stacks (ibid., section 2.2 and figure 2):

    vertical stack     (k//2 + 1) x k kernel over the rows above (type A) or the rows above and the
                       current row of vertical features, which depend on the rows above only (type B)
    horizontal stack   1 x (k//2 + 1) kernel over the current row up to the current pixel, plus the
                       vertical stack's features through a 1x1 convolution
    gate               y = tanh(W_f * x) * sigmoid(W_g * x)                          (ibid., eq. 2)
    residual           the horizontal output is added to its input (type B blocks)

The kernels of the two stacks are cut to the rows and columns they may see (no compute spent on taps a
mask would zero); the current pixel is placed under the right tap by asymmetric zero padding.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

KINDS = ("A", "B")


def centre_taps(out_channels: int, in_channels: int, kind: str, colors: int) -> torch.Tensor:
    """Which input channels an output channel sees at the current pixel: (out, in) of 0/1."""
    if kind not in KINDS:
        raise ValueError(f"mask type must be A or B, got {kind!r}")
    out_group = (torch.arange(out_channels) % colors)[:, None]  # (out, 1)
    in_group = (torch.arange(in_channels) % colors)[None, :]  # (1, in)
    return (in_group < out_group if kind == "A" else in_group <= out_group).float()


class MaskedConv2d(nn.Conv2d):
    """A convolution whose kernel is multiplied by a fixed ``mask`` (out, in, kh, kw) of 0/1, after zero
    padding ``pad`` = (left, right, top, bottom): output (B, out, H, W) for input (B, in, H, W)."""

    def __init__(self, in_channels: int, out_channels: int, mask: torch.Tensor, pad: tuple[int, int, int, int]):
        super().__init__(in_channels, out_channels, tuple(mask.shape[2:]), padding=0)
        self.register_buffer("mask", mask, persistent=False)  # rebuilt from the config: not saved with the weights
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, self.pad), self.weight * self.mask, self.bias)


def masked_conv(in_channels: int, out_channels: int, kernel: int, kind: str, colors: int = 1) -> MaskedConv2d:
    """The PixelCNN k x k masked convolution (type A or B), same-size output."""
    c = kernel // 2
    mask = torch.zeros(out_channels, in_channels, kernel, kernel)
    mask[:, :, :c, :] = 1  # the rows above
    mask[:, :, c, :c] = 1  # the current row, left of the pixel
    mask[:, :, c, c] = centre_taps(out_channels, in_channels, kind, colors)
    return MaskedConv2d(in_channels, out_channels, mask, (c, c, c, c))


def vertical_conv(in_channels: int, out_channels: int, kernel: int, kind: str) -> MaskedConv2d:
    """The vertical stack's (k//2 + 1) x k convolution: its last row is the current row (zeroed for type A)."""
    c = kernel // 2
    mask = torch.ones(out_channels, in_channels, c + 1, kernel)
    if kind == "A":
        mask[:, :, c] = 0  # the input is the image: the current row is not yet known
    return MaskedConv2d(in_channels, out_channels, mask, (c, c, c, 0))


def horizontal_conv(in_channels: int, out_channels: int, kernel: int, kind: str, colors: int = 1) -> MaskedConv2d:
    """The horizontal stack's 1 x (k//2 + 1) convolution: its last tap is the current pixel (masked by group)."""
    c = kernel // 2
    mask = torch.ones(out_channels, in_channels, 1, c + 1)
    mask[:, :, 0, c] = centre_taps(out_channels, in_channels, kind, colors)
    return MaskedConv2d(in_channels, out_channels, mask, (c, 0, 0, 0))


def gate(x: torch.Tensor) -> torch.Tensor:
    """tanh(first half) * sigmoid(second half) over channels: (B, 2F, H, W) -> (B, F, H, W)."""
    f, g = x.chunk(2, dim=1)
    return torch.tanh(f) * torch.sigmoid(g)


class GatedBlock(nn.Module):
    """One gated PixelCNN layer on the (vertical, horizontal) pair of feature maps, each (B, F, H, W).

    Type A reads the image (C channels) and has no residual; type B maps F -> F channels with a residual
    on the horizontal stack. ``out_channels`` must be a multiple of ``colors`` (the gate's two halves
    then pair channels of the same group)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, kind: str, colors: int = 1):
        super().__init__()
        if out_channels % colors:
            raise ValueError(f"channels ({out_channels}) must be a multiple of the image channels ({colors})")
        self.residual = kind == "B" and in_channels == out_channels
        self.vertical = vertical_conv(in_channels, 2 * out_channels, kernel, kind)
        self.horizontal = horizontal_conv(in_channels, 2 * out_channels, kernel, kind, colors)
        self.vertical_to_horizontal = nn.Conv2d(2 * out_channels, 2 * out_channels, 1)  # rows above only: no mask
        self.out = masked_conv(out_channels, out_channels, 1, "B", colors)

    def forward(self, v: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pre_v = self.vertical(v)  # (B, 2F, H, W)
        return gate(pre_v), self.horizontal_step(h, self.vertical_to_horizontal(pre_v))

    def horizontal_step(self, h: torch.Tensor, from_above: torch.Tensor) -> torch.Tensor:
        """The horizontal stack alone: its input h (B, F, H', W') and the vertical stack's contribution
        ``vertical_to_horizontal(pre_v)`` (B, 2F, H', W') -> (B, F, H', W'). It looks along rows only, so it
        runs on any band of rows (one row, when sampling) and any prefix of the columns."""
        out = self.out(gate(self.horizontal(h) + from_above))  # (B, F, H', W')
        return h + out if self.residual else out


class ResidualBlock(nn.Module):
    """The plain PixelCNN layer: h + conv_B(relu(h)), a k x k type B masked convolution, (B, F, H, W)."""

    def __init__(self, channels: int, kernel: int, colors: int = 1):
        super().__init__()
        if channels % colors:
            raise ValueError(f"channels ({channels}) must be a multiple of the image channels ({colors})")
        self.conv = masked_conv(channels, channels, kernel, "B", colors)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.conv(torch.relu(h))
