"""PixelCNN (van den Oord, Kalchbrenner and Kavukcuoglu 2016a; gated: van den Oord et al. 2016b):
an autoregressive model with an exact likelihood.

factorization    p(x) = prod_i p(x_i | x_<i),  pixels i in raster order (rows top to bottom, left to
                 right; channels in order within a pixel)                          (2016a, eq. 1)
conditionals     p(x_i = 1 | x_<i) = sigmoid(l_i(x)): all D logits from one pass of masked convolutions
                 (a type A layer, then type B layers; ``latentlab.nn.masked``), so that l_i sees x_<i only
loss             -log p(x) = sum_i BCE(l_i, x_i) = -sum_i [x_i log p_i + (1 - x_i) log(1 - p_i)],
                 summed over pixels and averaged over the batch: nats per image, exact (no bound)
sampling         x_1, ..., x_D drawn one after another, each from p(x_i | x_<i): D passes of the network,
                 batched over the n images (a pass reads only the rows within the receptive field; the
                 gated net computes its vertical stack once per row and per pixel only the current row)

Two architectures (``arch``):
    plain   the original PixelCNN: a 7x7 type A convolution, residual blocks of k x k type B convolutions,
            two 1x1 type B layers and a sigmoid per pixel (2016a, table 1). Its receptive field has a blind spot
            up and to the right of each pixel.
    gated   gated blocks with a vertical and a horizontal stack (2016b, section 2.2): no blind spot, and
            gates tanh * sigmoid in place of ReLUs. The default.

Data. The pixels are Bernoulli: train on binary images (``--binarize dynamic`` resamples every batch,
the setting for the NLL figure; ``static`` thresholds once). On grey levels in [0, 1] the same loss
uses the grey values as Bernoulli targets (as the VAE's bernoulli likelihood does): it trains, but the
figure is then a cross-entropy, not the log-likelihood of a distribution over grey images, and samples
are binary.

The figure. ``log_prob(x)`` is the exact log p(x) per image (B,), in nats, and the loss is its negative
mean: on binarized MNIST it is directly comparable with the VAE's importance-sampled test NLL
(``latentlab eval --nll``) on the same binarized test images, except that the VAE's figure is an
estimate that approaches -log p(x) from above as k grows, and this one is exact. The anchor is
van den Oord et al.'s 81.30 nats (2016a, table 4), from a plain PixelCNN far larger than
this one. These defaults are sized for a CPU instead: gated, 16 channels, 5
blocks, about 30k parameters, one MNIST epoch in a few minutes on a few cores (about 5 on one busy
core); expect a gap to the anchor that shrinks with ``channels``, ``layers`` and epochs. What a CPU
budget reaches is measured in BENCHMARKS.md.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from latentlab.config import check_choices, setting
from latentlab.errors import ConfigError
from latentlab.models.base import ExactLikelihood, GenerativeModel, Sampler
from latentlab.nn.masked import GatedBlock, ResidualBlock, gate, masked_conv

ARCHS = ("gated", "plain")


@dataclass
class PixelCNNConfig:
    arch: str = setting("gated", "gated: gated blocks with vertical and horizontal stacks, no blind spot "
                                 "(van den Oord et al. 2016b); plain: the original residual masked convolutions (2016a)", ARCHS)
    channels: int = setting(16, "feature channels of every layer (a multiple of the image channels)")
    layers: int = setting(5, "type B blocks after the first (type A) layer")
    kernel: int = setting(3, "kernel size of the type B blocks (odd, at least 3)")
    first_kernel: int = setting(7, "kernel size of the first, type A, layer (odd, at least 3)")

    def validate(self) -> None:
        check_choices(self)
        if self.channels < 1 or self.layers < 1:
            raise ConfigError(f"channels and layers must be at least 1, got {self.channels} and {self.layers}")
        for name in ("kernel", "first_kernel"):
            k = getattr(self, name)
            if k < 3 or k % 2 == 0:
                raise ConfigError(f"{name} must be odd and at least 3 (the current pixel sits at the centre), got {k}")


class PixelCNN(GenerativeModel, Sampler, ExactLikelihood):
    """Autoregressive Bernoulli pixels from masked convolutions (van den Oord et al. 2016a, b)."""

    name = "pixelcnn"
    Config = PixelCNNConfig

    def __init__(self, cfg: PixelCNNConfig, shape: tuple[int, int, int], num_classes: int | None = None):
        super().__init__(cfg, shape, num_classes)
        colors = shape[0]
        if cfg.channels % colors:
            raise ValueError(f"channels ({cfg.channels}) must be a multiple of the image channels ({colors}): "
                             f"each channel group predicts one colour")
        f = cfg.channels
        if cfg.arch == "gated":
            self.blocks = nn.ModuleList([GatedBlock(colors, f, cfg.first_kernel, "A", colors)] +
                                        [GatedBlock(f, f, cfg.kernel, "B", colors) for _ in range(cfg.layers)])
        else:
            self.first = masked_conv(colors, f, cfg.first_kernel, "A", colors)
            self.blocks = nn.ModuleList([ResidualBlock(f, cfg.kernel, colors) for _ in range(cfg.layers)])
        self.head = nn.Sequential(nn.ReLU(), masked_conv(f, f, 1, "B", colors), nn.ReLU(),
                                  masked_conv(f, colors, 1, "B", colors))  # -> (B, C, H, W) logits
        # rows above a pixel that reach its logit: the first layer's k // 2, then k // 2 per block
        self.reach = cfg.first_kernel // 2 + cfg.layers * (cfg.kernel // 2)

    # --- the maths ------------------------------------------------------------------------
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """l_i(x_<i) for every pixel: (B, C, H, W) -> (B, C, H, W); logit i never sees pixels >= i."""
        if self.cfg.arch == "gated":
            v = h = x
            for block in self.blocks:
                v, h = block(v, h)  # (B, F, H, W) each
        else:
            h = self.first(x)  # (B, F, H, W)
            for block in self.blocks:
                h = block(h)
        return self.head(h)

    def row_logits(self, x: torch.Tensor, row: int) -> torch.Tensor:
        """The logits of one row, ``logits(x)[:, :, row]``, from the rows that reach it only: (B, C, W).

        Rows below ``row`` cannot reach it (causality) and rows more than ``reach`` above cannot either,
        so the pass over this window is exact, and sampling pays for about reach + 1 rows per pixel."""
        top = max(0, row - self.reach)
        return self.logits(x[:, :, top:row + 1])[:, :, -1]

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x) in nats per image: (B, C, H, W) -> (B,). Grey-level x are Bernoulli targets (see above)."""
        return -F.binary_cross_entropy_with_logits(self.logits(x).float(), x.float(), reduction="none").flatten(1).sum(1)

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, group: str = "model") -> dict[str, torch.Tensor]:
        nll = -self.log_prob(x).mean()  # nats per image
        return {"loss": nll, "bits_per_dim": (nll / (x[0].numel() * math.log(2))).detach()}

    # --- what users call ------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, y: torch.Tensor | int | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """n binary images (n, C, H, W), pixel after pixel in raster order, batched over the images."""
        self.check_labels(y, n)
        c, height, width = self.shape
        x = torch.zeros(n, c, height, width, device=self.device)
        for i in range(height):
            pixel_logits = self.row_conditionals(x, i)
            for j in range(width):
                for k in range(c):
                    p = torch.sigmoid(pixel_logits(j)[:, k].float())  # (n,) p(x_ijk = 1 | x_<ijk)
                    u = torch.rand(n, generator=generator, device=self.device)
                    x[:, k, i, j] = (u < p).float()
        return x

    def row_conditionals(self, x: torch.Tensor, i: int) -> Callable[[int], torch.Tensor]:
        """For row i of the images being drawn: j -> the logits (n, C) of pixel (i, j), read from ``x``
        as it stands (filled up to that pixel). What the whole row shares is computed once: for the
        gated net, the vertical stack (it sees the rows above only), so each pixel runs the horizontal
        stack on the current row up to the pixel."""
        if self.cfg.arch == "plain":
            return lambda j: self.row_logits(x, i)[:, :, j]
        v = x[:, :, max(0, i - self.reach):i + 1]  # the rows that reach row i
        from_above = []  # per block: the vertical stack's contribution to row i, (n, 2F, 1, W)
        for block in self.blocks:
            pre_v = block.vertical(v)  # (n, 2F, rows, W)
            from_above.append(block.vertical_to_horizontal(pre_v[:, :, -1:]))
            v = gate(pre_v)

        def pixel_logits(j: int) -> torch.Tensor:
            h = x[:, :, i:i + 1, :j + 1]  # (n, C, 1, j + 1): the row up to the pixel
            for block, above in zip(self.blocks, from_above):
                h = block.horizontal_step(h, above[..., :j + 1])
            return self.head(h)[:, :, 0, j]  # (n, C)
        return pixel_logits
