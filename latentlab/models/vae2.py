"""VAE / IWAE with two stochastic layers: Burda et al. (2015), section 5, the second architecture.

Generative model (top-down), p(z2) p(z1|z2) p(x|z1):

    z2 ~ N(0, I)                                           (latent_dim2 = 50)
    z1 | z2 ~ N(m(z2), diag(exp(v(z2))))                   z2 -> 50-50 (tanh) -> (m, v), latent_dim = 100
    x | z1 ~ Bernoulli(sigmoid(f(z1)))                     z1 -> 100-100 (tanh) -> 784 logits

Inference network (bottom-up), q(z1|x) q(z2|z1):

    z1 | x ~ N(mu1(x), diag(exp(logvar1(x))))              x -> 100-100 (tanh) -> (mu1, logvar1)
    z2 | z1 ~ N(mu2(z1), diag(exp(logvar2(z1))))           z1 -> 50-50 (tanh) -> (mu2, logvar2), at the *sampled* z1

Importance weight of one joint draw (z1, z2) ~ q(z1|x) q(z2|z1), both reparameterized:

    log w = log p(x|z1) + [log p(z1|z2) + log p(z2) - log q(z1|x) - log q(z2|z1)]
          = log_px + log_ratio

Objectives (Burda et al., eqs. 3 and 8), k draws per image:

    elbo:  -1/k sum_i log w_i            (k = 1: the VAE's ELBO; k > 1: Burda's "VAE, k samples")
    iwae:  -log (1/k) sum_i w_i           (the importance-weighted bound L_k, rising to log p(x) with k)

Units as the VAE's: nats per image, summed over pixels and latents, averaged over the batch. The
KL here is the sampled one, -log_ratio (p(z1|z2) is not N(0, I): no closed form for the whole of it).
``warmup`` ramps the weight of log_ratio from 0 to 1 over that many training steps (Sonderby et al.
2016; a step counter kept in the model, as the VAE's). Logged terms: rec = -log p(x|z1), kl, neg_elbo,
and for the iwae objective neg_iwae. ``output_bias`` data starts the decoder's last bias at the logit of
the mean training pixel (as the VAE's).

Likelihood: two latent layers do not fit the one-Gaussian-posterior ``LikelihoodModel`` that the
importance sampler of ``latentlab.evaluation.likelihood`` is written against, so the model has its own
estimate ``log_likelihood(x, k, generator)`` = logsumexp_i log w_i - log k, drawn ``chunk`` at a time.
Burda et al. report 85.33 (VAE, k = 50) and 82.90 (IWAE, k = 50) nats on this architecture (k = 5000).

Codes: ``latent(x)`` is the mean of q(z1|x) (``latent_dim`` values) and ``decode(z1)`` the mean image of
p(x|z1), so reconstruct(x) = decode(latent(x)); the mean of the top layer, q(z2|z1) at that z1, is
``latent_top(x)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from latentlab.config import check_choices, setting
from latentlab.errors import ConfigError, LatentlabError
from latentlab.models.base import Encoder, GenerativeModel, ImportanceSampled, Sampler
from latentlab.models.vae import OUTPUT_BIAS
from latentlab.nn.likelihoods import log_bernoulli, log_normal, mean_pixel, sample_chunk
from latentlab.nn.nets import ACTIVATIONS, mlp

OBJECTIVES = ("elbo", "iwae")


@dataclass
class TwoLayerVAEConfig:
    latent_dim: int = setting(100, "size of the lower stochastic layer z1 (the code latent() returns)")
    latent_dim2: int = setting(50, "size of the top stochastic layer z2, whose prior is N(0, I)")
    hidden: int = setting(100, "units of each deterministic layer between x and z1 (both directions)")
    hidden2: int = setting(50, "units of each deterministic layer between z1 and z2 (both directions)")
    layers: int = setting(2, "deterministic layers between two stochastic layers (Burda et al.: 2)")
    activation: str = setting("tanh", "activation of the deterministic layers", tuple(ACTIVATIONS))
    objective: str = setting("elbo", "elbo (mean of k single-draw bounds) or iwae (importance-weighted bound)", OBJECTIVES)
    k: int = setting(1, "draws of (z1, z2) per image (Burda et al.: 1, 5 or 50)")
    warmup: int = setting(0, "KL warm-up: the weight of log p(z) - log q(z|x) rises linearly from 0 over this many "
                             "training steps (0 = off)")
    output_bias: str = setting("zero", "start of p(x|z1)'s output bias: zero (the layer's own initialisation) or data "
                                       "(the logit of the mean training pixel, as the VAE's)", OUTPUT_BIAS)

    def validate(self) -> None:
        check_choices(self)
        if min(self.latent_dim, self.latent_dim2, self.hidden, self.hidden2, self.layers) < 1:
            raise ConfigError("latent_dim, latent_dim2, hidden, hidden2 and layers must all be at least 1")
        if self.k < 1:
            raise ConfigError(f"k (draws per image) must be at least 1, got {self.k}")
        if self.warmup < 0:
            raise ConfigError(f"warmup must be >= 0 steps (0 = off), got {self.warmup}")


class TwoLayerVAE(GenerativeModel, Sampler, Encoder, ImportanceSampled):
    """VAE/IWAE with two stochastic layers, x -> z1 (100) -> z2 (50) (Burda et al. 2015, section 5)."""

    name = "vae2"
    Config = TwoLayerVAEConfig

    def __init__(self, cfg: TwoLayerVAEConfig, shape: tuple[int, int, int], num_classes: int | None = None):
        super().__init__(cfg, shape, num_classes)
        d, j1, j2 = math.prod(shape), cfg.latent_dim, cfg.latent_dim2
        h1, h2 = [cfg.hidden] * cfg.layers, [cfg.hidden2] * cfg.layers
        act = ACTIVATIONS[cfg.activation]
        self.q1 = nn.Sequential(nn.Flatten(), mlp([d, *h1, 2 * j1], act))  # x -> (mu1, logvar1), (B, 2 J1)
        self.q2 = mlp([j1, *h2, 2 * j2], act)  # z1 -> (mu2, logvar2), (..., 2 J2)
        self.p1 = mlp([j2, *h2, 2 * j1], act)  # z2 -> (m, v) of p(z1|z2), (..., 2 J1)
        self.px = mlp([j1, *h1, d], act)  # z1 -> pixel logits, (..., D)
        if cfg.warmup:
            self.register_buffer("step", torch.zeros((), dtype=torch.long))  # training steps taken, for the warm-up

    @torch.no_grad()
    def fit_start(self, x_train: torch.Tensor) -> None:
        """``output_bias`` data: the last bias of p(x|z1) := logit of the mean training pixel, so that the
        untrained decoder already outputs the average image."""
        if self.cfg.output_bias == "data":
            self.px[-1].bias.copy_(torch.logit(mean_pixel(x_train)).flatten())  # (D,)

    # --- the maths ------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu1, logvar1) of q(z1|x), each (B, J1), with autograd."""
        mu, logvar = self.q1(x).chunk(2, dim=-1)
        return mu, logvar

    def encode_top(self, z1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu2, logvar2) of q(z2|z1): (..., J1) -> (..., J2) each."""
        mu, logvar = self.q2(z1).chunk(2, dim=-1)
        return mu, logvar

    def prior1(self, z2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, logvar) of p(z1|z2): (..., J2) -> (..., J1) each."""
        mean, logvar = self.p1(z2).chunk(2, dim=-1)
        return mean, logvar

    def decoder_logits(self, z1: torch.Tensor) -> torch.Tensor:
        """Pixel logits of p(x|z1): (B, J1) -> (B, C, H, W)."""
        return self.px(z1).view(-1, *self.shape)

    def log_weight_terms(self, x: torch.Tensor, k: int, generator: torch.Generator | None = None,
                         q1: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """k joint draws (z1, z2) ~ q(z1|x) q(z2|z1) per image (reparameterized, differentiable; ``generator``
        else the global RNG); returns (log p(x|z1), log p(z1|z2) + log p(z2) - log q(z1|x) - log q(z2|z1)),
        each (k, B). ``q1``: the (mu1, logvar1) of this batch, when already known."""
        mu1, logvar1 = q1 if q1 is not None else self.encode(x)  # (B, J1) each
        eps1 = torch.randn(k, *mu1.shape, generator=generator, device=mu1.device, dtype=mu1.dtype)  # (k, B, J1)
        z1 = mu1 + torch.exp(0.5 * logvar1) * eps1
        log_q1 = log_normal(eps1) - 0.5 * logvar1.sum(-1)  # log N(z1; mu1, sigma1^2), (k, B)
        mu2, logvar2 = self.encode_top(z1)  # (k, B, J2) each
        eps2 = torch.randn(mu2.shape, generator=generator, device=mu2.device, dtype=mu2.dtype)  # (k, B, J2)
        z2 = mu2 + torch.exp(0.5 * logvar2) * eps2
        log_q2 = log_normal(eps2) - 0.5 * logvar2.sum(-1)  # (k, B)
        m, v = self.prior1(z2)  # (k, B, J1) each
        log_p1 = log_normal(z1, m, v)  # log p(z1|z2), (k, B)
        log_p2 = log_normal(z2)  # log N(z2; 0, I), (k, B)
        log_px = log_bernoulli(self.px(z1), x)  # (k, B)
        return log_px, log_p1 + log_p2 - log_q1 - log_q2

    def kl_weight(self) -> float:
        """Weight of log_ratio: ramped from 0 during the warm-up (training only), else 1."""
        if not self.cfg.warmup or not self.training:
            return 1.0
        return min(1.0, float(self.step) / self.cfg.warmup)

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, group: str = "model") -> dict[str, torch.Tensor]:
        if self.cfg.warmup and self.training and torch.is_grad_enabled():
            self.step += 1
        beta = self.kl_weight()
        log_px, log_ratio = self.log_weight_terms(x, self.cfg.k)  # (k, B) each
        rec, kl = -log_px.mean(), -log_ratio.mean()
        terms = {"rec": rec.detach(), "kl": kl.detach(), "neg_elbo": (rec + kl).detach()}
        if self.cfg.objective == "iwae":
            log_k = math.log(self.cfg.k)
            bound = torch.logsumexp(log_px + beta * log_ratio, dim=0) - log_k  # (B,)
            terms["neg_iwae"] = -(torch.logsumexp(log_px + log_ratio, dim=0) - log_k).mean().detach()
            return {"loss": -bound.mean(), **terms}
        return {"loss": rec + beta * kl, **terms}

    @torch.no_grad()
    def log_likelihood(self, x: torch.Tensor, k: int = 5000, generator: torch.Generator | None = None,
                       chunk: int | None = None) -> torch.Tensor:
        """Importance-sampled log p(x) per image, (B,) nats: logsumexp_i log w_i - log k over k joint draws,
        ``chunk`` at a time (default about 2,000 decoded images per chunk) with a running log-sum-exp."""
        if k < 1:
            raise LatentlabError(f"k (importance samples per image) must be at least 1, got {k}")
        chunk = chunk or sample_chunk(k, len(x))
        q1 = self.encode(x)
        total = None  # (B,)
        for start in range(0, k, chunk):
            log_px, log_ratio = self.log_weight_terms(x, min(chunk, k - start), generator, q1)
            part = torch.logsumexp(log_px + log_ratio, dim=0)
            total = part if total is None else torch.logaddexp(total, part)
        return total - math.log(k)

    # --- what users call ------------------------------------------------------------------
    @torch.no_grad()
    def decode(self, z1: torch.Tensor, y: torch.Tensor | int | None = None) -> torch.Tensor:
        """Mean image of p(x|z1) in [0, 1]: (B, J1) -> (B, C, H, W)."""
        self.check_labels(y, len(z1))
        return torch.sigmoid(self.decoder_logits(z1))

    @torch.no_grad()
    def latent(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The mean of q(z1|x): (B, J1)."""
        self.check_labels(y, len(x))
        return self.encode(x)[0]

    @torch.no_grad()
    def latent_top(self, x: torch.Tensor) -> torch.Tensor:
        """The mean of q(z2|z1) at z1 = the mean of q(z1|x): (B, J2)."""
        return self.encode_top(self.encode(x)[0])[0]

    @torch.no_grad()
    def sample(self, n: int, y: torch.Tensor | int | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """z2 ~ N(0, I), z1 ~ p(z1|z2), the mean image of p(x|z1): (n, C, H, W)."""
        self.check_labels(y, n)
        z2 = torch.randn(n, self.cfg.latent_dim2, generator=generator, device=self.device)  # (n, J2)
        m, v = self.prior1(z2)  # (n, J1) each
        z1 = m + torch.exp(0.5 * v) * torch.randn(m.shape, generator=generator, device=self.device)
        return self.decode(z1)
