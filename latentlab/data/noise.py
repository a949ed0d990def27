"""Corruptions for denoising autoencoders (Vincent et al. 2008), and how much a model removes.

A spec names a corruption and its level, ``KIND:LEVEL``:

    gaussian:SIGMA   x + SIGMA * eps, eps ~ N(0, I), clipped to [0, 1]     0 < SIGMA <= 1
    mask:P           each pixel set to 0 with probability P                0 < P < 1
    saltpepper:P     each pixel replaced with probability P, by 0 or 1     0 < P < 1
                     (salt or pepper equally likely)

Mask and salt-and-pepper act on whole pixels (every channel alike). A denoising
autoencoder sees ``corrupt(x)`` and is trained to give back the clean ``x``.
Quality is measured as MSE and PSNR = 10 log10(1 / MSE) on [0, 1] pixels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from latentlab.errors import ConfigError

NOISE_KINDS = {"gaussian": "SIGMA in (0, 1]", "mask": "P in (0, 1)", "saltpepper": "P in (0, 1)"}
EXAMPLES = "gaussian:0.4, mask:0.3 or saltpepper:0.1"


@dataclass(frozen=True)
class Noise:
    kind: str  # gaussian | mask | saltpepper
    level: float  # sigma, or the fraction of pixels hit

    def __str__(self) -> str:
        return f"{self.kind}:{self.level:g}"

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """A corrupted copy of x (B, C, H, W) in [0, 1]; fresh noise on every call."""
        if self.kind == "gaussian":
            eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            return (x + self.level * eps).clamp(0, 1)
        u = torch.rand((x.shape[0], 1, *x.shape[2:]), generator=generator, device=x.device, dtype=x.dtype)  # one draw per pixel
        hit = u < self.level  # (B, 1, H, W)
        if self.kind == "mask":
            return x.masked_fill(hit, 0.0)
        salt = (u < self.level / 2).to(x.dtype)  # half of the hit pixels turn white, half black
        return torch.where(hit, salt, x)


def parse_noise(spec: str) -> Noise | None:
    """``"gaussian:0.4"`` -> Noise("gaussian", 0.4); ``""`` -> None. Bad specs raise ConfigError."""
    spec = (spec or "").strip()
    if not spec:
        return None
    kind, sep, level_text = spec.partition(":")
    kind = kind.strip().lower()
    if kind not in NOISE_KINDS:
        raise ConfigError(f"noise {spec!r}: unknown kind {kind!r}; write KIND:LEVEL with KIND one of "
                          f"{', '.join(NOISE_KINDS)}, e.g. {EXAMPLES}")
    try:
        level = float(level_text)
    except ValueError:
        raise ConfigError(f"noise {spec!r}: the level after ':' must be a number ({kind}: {NOISE_KINDS[kind]}), "
                          f"e.g. {EXAMPLES}") from None
    ok = 0 < level <= 1 if kind == "gaussian" else 0 < level < 1
    if not ok or not math.isfinite(level):
        raise ConfigError(f"noise {spec!r}: level {level_text.strip()} is out of range; {kind} takes {NOISE_KINDS[kind]} "
                          f"(pixels are in [0, 1])")
    return Noise(kind, level)


def corrupt(x: torch.Tensor, noise: Noise | str, seed: int = 0) -> torch.Tensor:
    """Reproducible corruption of x: the same seed gives the same noise (drawn on the CPU)."""
    noise = parse_noise(noise) if isinstance(noise, str) else noise
    gen = torch.Generator().manual_seed(seed)
    return noise(x.cpu(), gen).to(x.device)


def psnr(mse: float) -> float:
    """Peak signal-to-noise ratio in dB of pixels in [0, 1]: 10 log10(1 / MSE)."""
    return math.inf if mse <= 0 else 10 * math.log10(1.0 / mse)


@torch.no_grad()
def denoising_scores(model, x: torch.Tensor, noise: Noise | str, seed: int = 0, batch_size: int = 500) -> dict:
    """MSE and PSNR of the corrupted images and of the model's reconstructions of them, against the clean x.

    MSE is averaged over every pixel of every image; PSNR is computed from that mean. Outputs are
    clipped to [0, 1] first (a no-op except for the linear AE, whose output has no sigmoid).
    """
    noise = parse_noise(noise) if isinstance(noise, str) else noise
    gen = torch.Generator().manual_seed(seed)
    sq_in = sq_out = 0.0
    for xb in x.split(batch_size):
        noisy = noise(xb.cpu(), gen)
        out = model.reconstruct(noisy.to(model.device)).cpu().clamp(0, 1)
        sq_in += (noisy - xb.cpu()).pow(2).sum().item()
        sq_out += (out - xb.cpu()).pow(2).sum().item()
    n = x.numel()
    return {"noise": str(noise), "images": len(x), "mse_corrupted": sq_in / n, "psnr_corrupted": psnr(sq_in / n),
            "mse_output": sq_out / n, "psnr_output": psnr(sq_out / n)}
