"""Denoising diffusion probabilistic model (Ho, Jain and Abbeel 2020), sampled with the full ancestral
chain or with the deterministic DDIM schedule (Song, Meng and Ermon 2021).

Images x in [0, 1] are scaled to x_0 = 2x - 1 in [-1, 1] inside the model (Ho et al., section 3.3).

forward process  q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I),  t = 1..T,
                 beta_t linear from beta_1 = 1e-4 to beta_T = 0.02, T = 1000          (Ho et al., section 4)
closed form      q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I),  alpha_t = 1 - beta_t,
                 abar_t = prod_{s<=t} alpha_s                                           (ibid., eq. 4)
loss (eq. 14)    L_simple = E_{t, x_0, eps} || eps - eps_theta(sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, t) ||^2,
                 t ~ U{1..T}, eps ~ N(0, I); averaged over pixels and the batch (the squared error per pixel)
network          eps_theta: a small U-Net with a sinusoidal time embedding (``latentlab.nn.unet``)
ancestral        x_T ~ N(0, I);  x_{t-1} = (x_t - beta_t / sqrt(1 - abar_t) eps_theta(x_t, t)) / sqrt(alpha_t) + sigma_t z,
sampler "ddpm"   z ~ N(0, I), sigma_t^2 = beta_t, no noise at t = 1                   (ibid., Algorithm 2)
DDIM (eta = 0)   on a sub-sequence tau_1 < ... < tau_S of the steps, deterministic given x_T:
sampler "ddim"   x0_hat = (x_t - sqrt(1 - abar_t) eps_theta(x_t, t)) / sqrt(abar_t),
                 x_{t'} = sqrt(abar_{t'}) x0_hat + sqrt(1 - abar_{t'}) eps_theta(x_t, t)   (Song et al., eq. 12)
                 the previous step t' of the sub-sequence; abar = 1 after the last step (x_0 = x0_hat)

``sample(n, steps=S)`` runs either sampler on S evenly spaced steps (``steps=None``: the config's sampler,
the full chain of T steps for "ddpm", ``sample_steps`` for "ddim"). The ancestral chain on a sub-sequence
uses the betas of the sub-sequence, beta'_t = 1 - abar_t / abar_{t'} (Nichol and Dhariwal 2021, section 4),
and is Algorithm 2 when S = T. With ``clip`` the predicted x0_hat is clipped to [-1, 1] at every step and
the step is written through it (as Ho et al.'s code does): the ancestral mean becomes the posterior mean
of q(x_{t-1} | x_t, x0_hat) (Ho et al., eq. 7), equal to Algorithm 2's when nothing is clipped, and DDIM's
eps is recomputed from the clipped x0_hat. Samples are clamped to [0, 1].

The defaults are sized for a CPU: a U-Net of 16 channels over 2 levels (about 92k parameters; 28x28
images go 28 -> 14 -> 7), whose 64 DDIM samples of 50 steps take seconds; the full chain takes T = 1000
network passes. Adam runs at 1e-3 rather than Ho et al.'s 2e-4 (see ``train_defaults``). Left out of their
recipe: dropout, attention layers, gradient clipping, and by default the exponential moving average of the
weights (the training setting ``ema``; on MNIST it helps after a few thousand steps and hurts before).
The loss is not a likelihood: compare DDPM with the other models by their samples (Frechet distance,
precision/recall), not by the loss.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from latentlab.config import check_choices, setting
from latentlab.errors import ConfigError
from latentlab.models.base import GenerativeModel, Sampler
from latentlab.nn.unet import UNet

SAMPLERS = ("ddim", "ddpm")


@dataclass
class DDPMConfig:
    channels: int = setting(16, "channels of the U-Net at full resolution (doubled at each down-sampling)")
    levels: int = setting(2, "down-samplings of the U-Net (images are padded to a multiple of 2**levels)")
    timesteps: int = setting(1000, "T: steps of the noising process")
    beta_start: float = setting(1e-4, "beta_1: noise variance of the first step (linear schedule)")
    beta_end: float = setting(0.02, "beta_T: noise variance of the last step (linear schedule)")
    sampler: str = setting("ddim", "default sampler: ddim (deterministic, sample_steps steps; Song et al. 2021) "
                                   "or ddpm (the full ancestral chain of T steps; Ho et al. Algorithm 2)", SAMPLERS)
    sample_steps: int = setting(50, "denoising steps of the ddim sampler (at most timesteps)")
    clip: bool = setting(True, "clip the predicted x_0 to [-1, 1] at every sampling step (as Ho et al.'s code does)")

    def validate(self) -> None:
        check_choices(self)
        if self.channels < 1 or self.levels < 1:
            raise ConfigError(f"channels and levels must be at least 1, got {self.channels} and {self.levels}")
        if self.timesteps < 1:
            raise ConfigError(f"timesteps must be at least 1, got {self.timesteps}")
        if not 0 < self.beta_start <= self.beta_end < 1:
            raise ConfigError(f"the noise schedule needs 0 < beta_start <= beta_end < 1, got {self.beta_start} and {self.beta_end}")
        if not 1 <= self.sample_steps <= self.timesteps:
            raise ConfigError(f"sample_steps must be in 1..timesteps ({self.timesteps}), got {self.sample_steps}")


class DDPM(GenerativeModel, Sampler):
    """Denoising diffusion (Ho et al. 2020) with a small U-Net; DDIM (Song et al. 2021) or ancestral sampling."""

    name = "ddpm"
    Config = DDPMConfig
    # Adam at 1e-3, not Ho et al.'s 2e-4 (appendix B): in the few thousand steps of a CPU budget the small U-Net
    # gets there 2-2.4x sooner (bench/ddpm.py on MNIST: FD 82 against 194 after 30 CPU-minutes, 211 against 437
    # after 5)
    train_defaults = {"lr": 1e-3}

    def __init__(self, cfg: DDPMConfig, shape: tuple[int, int, int], num_classes: int | None = None):
        super().__init__(cfg, shape, num_classes)
        self.net = UNet(shape[0], cfg.channels, cfg.levels)  # eps_theta: (B, C, H, W), (B,) -> (B, C, H, W)
        betas = torch.linspace(cfg.beta_start, cfg.beta_end, cfg.timesteps, dtype=torch.float64)  # (T,): beta_1..beta_T
        # schedules follow from the config: buffers, but not saved with the weights
        self.register_buffer("betas", betas.float(), persistent=False)
        self.register_buffer("alpha_bars", torch.cumprod(1 - betas, 0).float(), persistent=False)  # (T,): abar_1..abar_T

    # --- the maths (index i = t - 1: betas[i] is beta_t) ------------------------------------
    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, a draw of q(x_t | x_0) (eq. 4): t (B,) indices 0..T-1."""
        abar = self.alpha_bars[t].view(-1, 1, 1, 1)  # (B, 1, 1, 1)
        return abar.sqrt() * x0 + (1 - abar).sqrt() * eps

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, group: str = "model") -> dict[str, torch.Tensor]:
        x0 = 2 * x - 1  # (B, C, H, W) in [-1, 1]
        t = torch.randint(0, self.cfg.timesteps, (len(x),), device=x.device)  # the training loop seeds the global RNG
        eps = torch.randn_like(x0)
        mse = F.mse_loss(self.net(self.q_sample(x0, t, eps), t).float(), eps)  # eq. 14, per pixel
        return {"loss": mse}

    def step_indices(self, steps: int) -> list[int]:
        """``steps`` evenly spaced step indices from T - 1 down to 0 (all of them when steps = T)."""
        return torch.linspace(self.cfg.timesteps - 1, 0, steps, dtype=torch.float64).round().long().tolist()

    def denoise_step(self, x: torch.Tensor, t: int, t_prev: int | None, ancestral: bool,
                     generator: torch.Generator | None = None) -> torch.Tensor:
        """x_t -> x_{t'} for step indices t > t' (``t_prev`` None: to x_0 itself), ancestral or DDIM: (n, C, H, W)."""
        abar = self.alpha_bars[t]
        abar_prev = self.alpha_bars[t_prev] if t_prev is not None else abar.new_ones(())
        eps = self.net(x, torch.full((len(x),), t, device=x.device)).float()  # eps_theta(x_t, t)
        x0 = (x - (1 - abar).sqrt() * eps) / abar.sqrt()  # x0_hat
        if self.cfg.clip:
            x0 = x0.clamp(-1, 1)
            eps = (x - abar.sqrt() * x0) / (1 - abar).sqrt()  # the eps that the clipped x0_hat implies
        if not ancestral:  # DDIM, eta = 0 (Song et al., eq. 12)
            return abar_prev.sqrt() * x0 + (1 - abar_prev).sqrt() * eps
        beta = 1 - abar / abar_prev  # beta_t of the (sub-)sequence; = betas[t] when t' = t - 1
        # posterior mean of q(x_{t'} | x_t, x0_hat) (Ho et al., eq. 7) = Algorithm 2's mean when nothing is clipped
        mean = (abar_prev.sqrt() * beta * x0 + (1 - beta).sqrt() * (1 - abar_prev) * x) / (1 - abar)
        if t_prev is None:
            return mean  # the last step adds no noise
        z = torch.randn(x.shape, generator=generator, device=x.device)
        return mean + beta.sqrt() * z  # sigma_t^2 = beta_t

    # --- what users call ------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, y: torch.Tensor | int | None = None, generator: torch.Generator | None = None,
               steps: int | None = None) -> torch.Tensor:
        """n images (n, C, H, W) in [0, 1] from x_T ~ N(0, I). ``steps``: denoising steps of the config's
        sampler (None: T for "ddpm", ``sample_steps`` for "ddim"); every draw from ``generator``."""
        self.check_labels(y, n)
        ancestral = self.cfg.sampler == "ddpm"
        steps = steps if steps is not None else self.cfg.timesteps if ancestral else self.cfg.sample_steps
        if not 1 <= steps <= self.cfg.timesteps:
            raise ConfigError(f"steps must be in 1..{self.cfg.timesteps} (the model's timesteps), got {steps}")
        x = torch.randn(n, *self.shape, generator=generator, device=self.device)  # x_T
        ts = self.step_indices(steps)
        for t, t_prev in zip(ts, ts[1:] + [None]):
            x = self.denoise_step(x, t, t_prev, ancestral, generator)
        return ((x + 1) / 2).clamp(0, 1)
