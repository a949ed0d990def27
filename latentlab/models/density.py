"""Explicit densities in pixel space, the lecture's baselines (000): a full-covariance Gaussian and a
Gaussian kernel density estimate ("place many Gaussians on data points, call the sum a PDF").

gaussian   p(x) = N(x; mu, S),  S = Sigma + reg I,  the maximum-likelihood fit
           mu = 1/N sum_n x_n,  Sigma = 1/N sum_n (x_n - mu)(x_n - mu)^T
           (reg, a ridge on the diagonal, makes S invertible: MNIST's border pixels never vary; with the
           default 1e-3, a standard deviation of 0.03 grey levels, Fashion-MNIST's validation log p(x) is
           779 nats, and smaller ridges add little: 817 nats at 1e-5)
           log p(x) = -1/2 [D log 2 pi + log det S + (x - mu)^T S^-1 (x - mu)], computed with the Cholesky
           factor S = L L^T: log det S = 2 sum_i log L_ii, (x - mu)^T S^-1 (x - mu) = ||L^-1 (x - mu)||^2
           sampling: x = mu + L eps, eps ~ N(0, I)   (the lecture's "Monte Carlo sampling from a fitted Gaussian")
kde        p(x) = 1/N sum_n N(x; x_n, h^2 I)   (Rosenblatt 1956; Parzen 1962)
           log p(x) = logsumexp_n(-||x - x_n||^2 / (2 h^2)) - log N - D/2 log(2 pi h^2)
           sampling: pick a centre x_n uniformly, add h eps
           the bandwidth h is the candidate with the highest mean log p(x) on held-out images
           (likelihood cross-validation; Goodfellow et al. 2014 score GANs with such a Parzen window)

Units: ``log_prob(x)`` is the log density of the continuous grey levels x in [0, 1]^D, in nats per
image (D = C*H*W pixels), computed in float64. A density can exceed 1, so log p(x) is often
positive; it is not comparable with a VAE's NLL of binarized images (the probability of discrete
pixels). Both fits are easy and exact in a few dimensions; in 784 the Gaussian's samples are
noisy textures and the kernel density's are training images plus noise, and a higher held-out
log p(x) need not mean better samples (Theis et al. 2016, "A note on the evaluation of generative
models"): the lecture's point that explicit densities are poor in pixel space.

Training: both are fitted in closed form, not by gradient descent. They have no optimiser groups
(the loop takes no optimiser steps), ``fit_end(x_train)`` (the loop calls it after every epoch with
the training images) does the fit, and one epoch is the default (``train_defaults``). Validation and
test terms are "loss" = -log p(x) averaged over the images (the KDE adds its "bandwidth"). Before the
first fit both models are N(0, I) (the KDE as one kernel at the origin with h = 1). Samples are clamped to [0, 1].

The KDE's held-out images: ``fit_end`` sees only the training split, so it holds out a fraction
``holdout`` of the training images (at most 2,000) to choose h, and keeps at most ``max_points`` of the
others as the kernels' centres; both drawn with a torch.Generator seeded 0 (``holdout_split``), so a
fit is repeatable. The centres are buffers saved with the run (``max_points`` x D floats).

(Fitting in the latent space of a trained AE/VAE: a model does not read run folders, so the codes
are given as tabular data, rows of (1, 1, latent); samples are then codes, not clamped, to decode
with the AE/VAE. ``bench/density.py`` does this.)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from latentlab.config import setting
from latentlab.data.tabular import is_tabular
from latentlab.errors import ConfigError, LatentlabError
from latentlab.models.base import ExactLikelihood, GenerativeModel, Sampler
from latentlab.nn.likelihoods import LOG_2PI, log_gaussian_kernel_mean

HOLDOUT_MAX = 2_000  # held-out images the KDE's bandwidth is chosen on, at most
CHUNK = 4_096  # images or centres per block of the pairwise distances (bounds the memory: CHUNK x batch)


class DensityModel(GenerativeModel, Sampler, ExactLikelihood):
    """Shared by the closed-form densities: no optimiser groups, the fit in ``fit_end``, "loss" = -log p(x)."""

    train_defaults = {"epochs": 1}  # the fit is the same every epoch
    continuous = True  # log_prob is a density of grey levels, not a probability of binary pixels

    @property
    def dim(self) -> int:
        """D = C*H*W, the dimension of the density."""
        return math.prod(self.shape)

    @property
    def device(self) -> torch.device:
        return next(self.buffers()).device  # no parameters to ask

    def optimizer_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        return {}

    def schedule(self) -> list[str]:
        return []

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, group: str = "") -> dict[str, torch.Tensor]:
        """-log p(x) averaged over the batch (nats per image; nothing to differentiate)."""
        return {"loss": -self.log_prob(x).mean()}

    def evaluate(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        return self.loss(x, y)

    def flat(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, D) float64 on the model's device."""
        return x.reshape(len(x), -1).to(self.device, torch.float64)

    def images(self, x: torch.Tensor) -> torch.Tensor:
        """(n, D) -> (n, C, H, W) float32, images clamped to [0, 1]; rows of tabular data (latent codes,
        standardised features) are left as they are."""
        x = x.float().view(len(x), *self.shape)
        return x if is_tabular(self.shape) else x.clamp(0, 1)


# --- the Gaussian ----------------------------------------------------------------------------
@dataclass
class GaussianConfig:
    reg: float = setting(1e-3, "ridge added to the covariance's diagonal (a variance, in grey levels squared): "
                              "makes it invertible where pixels never vary; larger = smoother")

    def validate(self) -> None:
        if not self.reg > 0:
            raise ConfigError(f"reg must be positive (pixels that never vary have variance 0), got {self.reg}")


class Gaussian(DensityModel):
    """Full-covariance Gaussian in pixel space, maximum likelihood with a ridge (lecture 000's baseline)."""

    name = "gaussian"
    Config = GaussianConfig

    def __init__(self, cfg: GaussianConfig, shape: tuple[int, int, int], num_classes: int | None = None):
        super().__init__(cfg, shape, num_classes)
        # mean and Cholesky factor of S = Sigma + reg I, in float64 (log det of a 784-dim S loses digits in float32)
        self.register_buffer("mean", torch.zeros(self.dim, dtype=torch.float64))  # (D,)
        self.register_buffer("chol", torch.eye(self.dim, dtype=torch.float64))  # (D, D), lower triangular

    @torch.no_grad()
    def fit_end(self, x_train: torch.Tensor) -> None:
        """Maximum likelihood: mean and 1/N covariance of every training image, in blocks of CHUNK images."""
        blocks = x_train.split(CHUNK)  # (<= CHUNK, C, H, W) each
        n = len(x_train)
        mean = sum(self.flat(b).sum(0) for b in blocks) / n  # (D,)
        cov = torch.zeros(self.dim, self.dim, dtype=torch.float64, device=self.device)  # (D, D)
        for b in blocks:
            d = self.flat(b) - mean  # (<= CHUNK, D)
            cov += d.T @ d
        cov = cov / n + self.cfg.reg * torch.eye(self.dim, dtype=cov.dtype, device=cov.device)
        chol, info = torch.linalg.cholesky_ex(cov)
        if info.item():
            raise LatentlabError(f"the covariance + reg I is not positive definite in float64: raise --reg (now {self.cfg.reg})")
        self.mean.copy_(mean)
        self.chol.copy_(chol)

    @torch.no_grad()
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        diff = self.flat(x) - self.mean  # (B, D)
        v = torch.linalg.solve_triangular(self.chol, diff.T, upper=False)  # (D, B): L^-1 (x - mu)
        log_det = 2 * self.chol.diagonal().log().sum()
        return (-0.5 * (self.dim * LOG_2PI + log_det + v.pow(2).sum(0))).float()  # (B,)

    @torch.no_grad()
    def sample(self, n: int, y: torch.Tensor | int | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        self.check_labels(y, n)
        eps = torch.randn(n, self.dim, generator=generator, device=self.device, dtype=torch.float64)  # (n, D)
        return self.images(self.mean + eps @ self.chol.T)


# --- the kernel density -----------------------------------------------------------------------
def parse_bandwidths(text: str) -> list[float]:
    """"0.05,0.1" -> [0.05, 0.1]; ConfigError unless every value is a positive number."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"bandwidths must be comma-separated numbers, e.g. 0.05,0.1,0.2; got {text!r}") from None
    if not values or not all(v > 0 and math.isfinite(v) for v in values):
        raise ConfigError(f"bandwidths must be one or more positive numbers, e.g. 0.05,0.1,0.2; got {text!r}")
    return values


@dataclass
class KDEConfig:
    bandwidths: str = setting("0.02,0.05,0.1,0.15,0.2,0.3,0.5,1", "candidate bandwidths h (the kernels' standard "
                              "deviation, in grey levels), comma-separated: the best on held-out images is kept")
    max_points: int = setting(10_000, "at most this many training images become kernel centres "
                                      "(the cost of log p(x) and the saved weights grow with it)")
    holdout: float = setting(0.1, "fraction of the training images held out to choose the bandwidth (at most 2,000 images)")

    def validate(self) -> None:
        parse_bandwidths(self.bandwidths)
        if self.max_points < 1:
            raise ConfigError(f"max_points must be at least 1, got {self.max_points}")
        if not 0 < self.holdout < 1:
            raise ConfigError(f"holdout must be in (0, 1), the fraction of training images that choose the bandwidth; got {self.holdout}")


class KDE(DensityModel):
    """Gaussian kernel density in pixel space, bandwidth chosen on held-out images (lecture 000's baseline)."""

    name = "kde"
    Config = KDEConfig

    def __init__(self, cfg: KDEConfig, shape: tuple[int, int, int], num_classes: int | None = None):
        super().__init__(cfg, shape, num_classes)
        candidates = torch.tensor(parse_bandwidths(cfg.bandwidths), dtype=torch.float64)
        self.register_buffer("points", torch.zeros(1, self.dim))  # (N, D) kernel centres; N is set by fit_end
        self.register_buffer("bandwidth", torch.ones((), dtype=torch.float64))  # the chosen h
        self.register_buffer("candidates", candidates, persistent=False)  # (K,), from the config
        # mean log p(x) of the held-out images for each candidate (NaN before the first fit)
        self.register_buffer("holdout_log_prob", torch.full_like(candidates, math.nan))  # (K,)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        saved = state_dict.get(prefix + "points")
        if saved is not None:  # a fitted KDE keeps as many centres as it had images: take the saved size
            self.points = self.points.new_empty(saved.shape)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def holdout_split(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Indices into n training images: (held out to choose h, kernel centres), from a Generator seeded 0."""
        held = min(HOLDOUT_MAX, max(1, round(self.cfg.holdout * n)))
        if n - held < 1:
            raise LatentlabError(f"the KDE needs at least 2 training images (one held out to choose the bandwidth), got {n}")
        order = torch.randperm(n, generator=torch.Generator().manual_seed(0))
        return order[:held], order[held:][: self.cfg.max_points]

    @torch.no_grad()
    def log_kernel_mean(self, x: torch.Tensor, bandwidths: torch.Tensor) -> torch.Tensor:
        """log (1/N) sum_n N(x; x_n, h^2 I) for each bandwidth h: x (B, C, H, W), bandwidths (K,) -> (B, K)."""
        return log_gaussian_kernel_mean(self.flat(x), self.points, bandwidths, CHUNK)  # float64

    @torch.no_grad()
    def fit_end(self, x_train: torch.Tensor) -> None:
        """Keep the centres, then choose h by the mean log p(x) of the held-out images."""
        held, kept = self.holdout_split(len(x_train))
        self.points = x_train[kept].reshape(len(kept), -1).to(self.device, torch.float32)  # (N, D)
        scores = torch.cat([self.log_kernel_mean(b, self.candidates) for b in x_train[held].split(CHUNK)]).mean(0)  # (K,)
        self.holdout_log_prob.copy_(scores)
        self.bandwidth.copy_(self.candidates[scores.argmax()])

    @torch.no_grad()
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_kernel_mean(x, self.bandwidth.reshape(1))[:, 0].float()  # (B,)

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, group: str = "") -> dict[str, torch.Tensor]:
        return {**super().loss(x, y, group), "bandwidth": self.bandwidth}

    @torch.no_grad()
    def sample(self, n: int, y: torch.Tensor | int | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        self.check_labels(y, n)
        idx = torch.randint(len(self.points), (n,), generator=generator, device=self.device)  # (n,) centres
        eps = torch.randn(n, self.dim, generator=generator, device=self.device)  # (n, D)
        return self.images(self.points[idx] + self.bandwidth.float() * eps)
