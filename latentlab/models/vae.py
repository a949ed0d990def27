"""Variational autoencoder (Kingma and Welling 2014): beta-VAE, IWAE objective, KL warm-up.

KL weight beta: Higgins et al. 2017; importance-weighted bound (IWAE): Burda et al. 2015;
KL warm-up: Sonderby et al. 2016.

encode:          q(z|x) = N(mu(x), diag(exp(logvar(x))))
reparameterize:  z = mu + exp(logvar / 2) * eps,  eps ~ N(0, I)
decode:          p(x|z) Bernoulli (BCE) or Gaussian (MSE) with means sigmoid(decoder(z))
loss (elbo):     -ELBO_beta = E_q[-log p(x|z)] + beta * KL(q(z|x) || N(0, I)),
                 KL = -1/2 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j))   (Kingma and Welling, appendix B)
loss (iwae):     -L_k = -E[log (1/k) sum_i w_i],  w_i = p(x|z_i) p(z_i) / q(z_i|x),  z_i ~ q(z|x)
                 (Burda et al., eq. 8; k = 1 is the ELBO with a sampled KL, and L_k rises to log p(x) with k)
                 (with beta != 1 or during the warm-up, log w_i = log p(x|z_i) + beta (log p(z_i) - log q(z_i|x)))
Terms are summed over pixels / latents and averaged over the batch: nats per image. The KL, the
reparameterization and the importance weights are written once in ``latentlab.nn`` (losses, likelihoods).

beta trades reconstructions against samples: beta < 1 lets q(z|x) stray from the prior, giving
sharper reconstructions but a latent that the prior covers badly (worse samples); beta > 1 pulls
q(z|x) to the prior (smoother latent, better-covered samples, blurrier reconstructions). Only
beta = 1 makes the loss a bound on -log p(x). ``warmup`` ramps beta linearly from 0 over the first
training steps (a step counter kept in the model, so --resume continues the ramp), which keeps
latent units from collapsing to the prior early in training. ``output_bias`` data starts the
decoder's output bias at the logits of the training pixels' means (Burda et al. 2015).

Tabular data (rows of D standardised features, the (1, 1, D) layout of ``latentlab.data.tabular``):
only ``arch`` mlp applies, and p(x|z) is Gaussian with mean decoder(z) itself (no sigmoid: features
are not in [0, 1]): log p(x|z) = log N(x; decoder(z), sigma^2 I), sigma in standardised units.
``likelihood`` is set to "gaussian" (and recorded so) whatever was given: a Bernoulli does not
describe standardised features.

The whole family (the conditional VAE in ``cvae.py`` included) shares ``VariationalModel``: the
objectives, and the LikelihoodModel pieces ``posterior(x, y)`` and ``log_px_given_z(x, z, y)``
that the importance-sampled test likelihood (``latentlab.evaluation.likelihood``) and the IWAE
objective are written once against. ``VAE`` and ``CVAE`` only build their networks and say which
interfaces they implement (unconditional or conditional sampling and encoding).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from latentlab.config import check_choices, setting
from latentlab.errors import ConfigError
from latentlab.data.tabular import is_tabular
from latentlab.models.base import Encoder, GenerativeModel, LikelihoodModel, Sampler
from latentlab.nn.likelihoods import (LIKELIHOODS, log_bernoulli, log_normal, log_weight_terms, mean_pixel,
                                      reconstruction_nll)
from latentlab.nn.losses import gaussian_kl, reparameterize
from latentlab.nn.nets import ACTIVATIONS, decoder_net, encoder_net

ARCHS = ("mlp", "conv")
OBJECTIVES = ("elbo", "iwae")
OUTPUT_BIAS = ("zero", "data")


@dataclass
class VAEConfig:
    arch: str = setting("mlp", "encoder/decoder family", ARCHS)
    latent_dim: int = setting(16, "size of the latent vector z")
    hidden: int = setting(512, "units per hidden layer (MLP) / of the dense layer (conv)")
    layers: int = setting(2, "hidden layers of the MLP encoder and decoder")  # 2: FD 85 after 15 CPU-min on MNIST, 1: 141
    channels: int = setting(32, "channels of the first conv layer (the second has twice as many)")
    activation: str = setting("relu", "activation of the MLP hidden layers", tuple(ACTIVATIONS))
    likelihood: str = setting("bernoulli", "p(x|z): bernoulli (BCE) or gaussian (MSE); tabular (N, D) data always "
                              "uses gaussian", LIKELIHOODS)
    sigma: float = setting(0.1, "standard deviation of the gaussian likelihood (tabular data: in standardised units)")
    beta: float = setting(1.0, "weight of the KL term (beta-VAE; the lecture notes' C): < 1 sharper "
                               "reconstructions, > 1 samples closer to the prior; 1 = the true bound")
    objective: str = setting("elbo", "elbo (Kingma and Welling) or iwae (importance-weighted bound, Burda et al.)", OBJECTIVES)
    k: int = setting(1, "importance samples per image of the iwae objective")
    warmup: int = setting(0, "KL warm-up: beta rises linearly from 0 over this many training steps (0 = off)")
    output_bias: str = setting("zero", "start of the decoder's output bias: zero (the layer's own initialisation) or data "
                                       "(the logits of the training pixels' means, as Burda et al. 2015 initialise it; "
                                       "Bernoulli images only)", OUTPUT_BIAS)

    def validate(self) -> None:
        check_choices(self)
        if self.latent_dim < 1 or self.hidden < 1 or self.layers < 1 or self.channels < 1:
            raise ConfigError("latent_dim, hidden, layers and channels must all be at least 1")
        if self.beta < 0:
            raise ConfigError(f"beta must be >= 0, got {self.beta}")
        if not self.sigma > 0:
            raise ConfigError(f"sigma must be positive, got {self.sigma}")
        if self.k < 1:
            raise ConfigError(f"k (importance samples) must be at least 1, got {self.k}")
        if self.objective == "elbo" and self.k != 1:
            raise ConfigError(f"k = {self.k} is the sample count of the iwae objective: add --objective iwae, or drop --k")
        if self.warmup < 0:
            raise ConfigError(f"warmup must be >= 0 steps (0 = off), got {self.warmup}")


class VariationalModel(GenerativeModel, LikelihoodModel):
    """The VAE family: q(z|x[, y]) from ``encoder``, p(x|z[, y]) from ``decoder``, prior N(0, I).
    Subclasses build the two networks (``build_nets``) and, for a conditional model, feed the
    labels to them (``encoder_input``, ``decoder_input``)."""

    def __init__(self, cfg: VAEConfig, shape: tuple[int, int, int], num_classes: int | None = None):
        super().__init__(cfg, shape, num_classes)
        self.tabular = is_tabular(shape)  # rows of standardised features: Gaussian p(x|z) with an identity mean
        if self.tabular:
            if cfg.arch != "mlp":
                raise ValueError(f"tabular data (rows of {shape[-1]} features) has no image for --arch {cfg.arch} to "
                                 f"convolve: use --arch mlp")
            cfg.likelihood = "gaussian"  # a Bernoulli does not describe standardised features (config.json records it)
        self.build_nets(cfg, shape)
        if cfg.warmup:
            self.register_buffer("step", torch.zeros((), dtype=torch.long))  # training steps taken, for the warm-up

    def build_nets(self, cfg: VAEConfig, shape: tuple[int, int, int]) -> None:
        raise NotImplementedError

    @torch.no_grad()
    def fit_start(self, x_train: torch.Tensor) -> None:
        """``output_bias`` data: the decoder's last bias := logit of the mean training pixel, so that the
        untrained decoder already outputs the average image (per pixel for an MLP, per channel for a conv)."""
        if self.cfg.output_bias != "data" or self.tabular or self.cfg.likelihood != "bernoulli":
            return
        mean = mean_pixel(x_train)  # (C, H, W)
        bias = [m.bias for m in self.decoder.modules() if getattr(m, "bias", None) is not None][-1]
        if bias.numel() == mean.numel():  # MLP: one bias per pixel
            bias.copy_(torch.logit(mean).reshape(bias.shape))
        elif bias.numel() == mean.shape[0]:  # conv: one bias per channel
            bias.copy_(torch.logit(mean.mean((1, 2))))

    def encoder_input(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """What the encoder sees of an image (and its label, for a conditional model)."""
        return x

    def decoder_input(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """What the decoder sees of a code (and its label, for a conditional model)."""
        return z

    # --- the maths ------------------------------------------------------------------------
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of q(z|x[, y]), each (B, latent): the encoder's output, with autograd."""
        mu, logvar = self.encoder(self.encoder_input(x, y)).chunk(2, dim=1)  # (B, latent) each
        return mu, logvar

    def posterior(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encode(x, y)

    def decoder_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Pixel logits of p(x|z[, y]): (B, latent) -> (B, C, H, W)."""
        return self.decoder(self.decoder_input(z, y))

    def log_px_given_z(self, x: torch.Tensor, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x|z) summed over pixels for S draws per image: x (B, C, H, W), z (S, B, D) -> (S, B)."""
        s, b = z.shape[:2]
        logits = self.decoder_logits(z.flatten(0, 1), None if y is None else y.repeat(s))  # (S*B, C, H, W)
        if self.tabular:  # log N(x; mean, sigma^2 I), the mean being the decoder's output itself
            mean = logits.reshape(s, b, -1)  # (S, B, D)
            logvar = torch.full_like(mean, 2 * math.log(self.cfg.sigma))
            return log_normal(x.reshape(1, b, -1), mean, logvar)  # (S, B)
        if self.cfg.likelihood == "bernoulli":  # the estimator's inner loop: no copy of x per draw
            return log_bernoulli(logits.reshape(s, b, -1), x)
        xs = x.expand(s, *x.shape).flatten(0, 1)  # (S*B, C, H, W), image b repeated for each draw
        return -reconstruction_nll(logits, xs, self.cfg.likelihood, self.cfg.sigma).view(s, b)

    def kl_weight(self) -> float:
        """beta, ramped from 0 during the warm-up (training only; evaluation uses the full beta)."""
        if not self.cfg.warmup or not self.training:
            return self.cfg.beta
        return self.cfg.beta * min(1.0, float(self.step) / self.cfg.warmup)

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, group: str = "model") -> dict[str, torch.Tensor]:
        if self.cfg.warmup and self.training and torch.is_grad_enabled():
            self.step += 1
        beta = self.kl_weight()
        mu, logvar = self.posterior(x, y)
        kl = gaussian_kl(mu, logvar).mean()
        if self.cfg.objective == "iwae":
            log_px, log_ratio = log_weight_terms(self, x, y, self.cfg.k, (mu, logvar))  # (k, B) each
            log_k = math.log(self.cfg.k)
            bound = torch.logsumexp(log_px + beta * log_ratio, dim=0) - log_k  # L_k per image, (B,)
            neg_iwae = -(torch.logsumexp(log_px + log_ratio, dim=0) - log_k).mean()
            rec = -log_px.mean()
            return {"loss": -bound.mean(), "neg_iwae": neg_iwae.detach(), "rec": rec.detach(), "kl": kl.detach(),
                    "neg_elbo": (rec + kl).detach()}
        z = reparameterize(mu, logvar)
        rec = -self.log_px_given_z(x, z.unsqueeze(0), y).mean()
        return {"loss": rec + beta * kl, "rec": rec, "kl": kl, "neg_elbo": rec + kl}

    # --- what users call (labels only for a conditional model) -----------------------------
    @torch.no_grad()
    def decode(self, z: torch.Tensor, y: torch.Tensor | int | None = None) -> torch.Tensor:
        """Mean image of p(x|z[, y]) in [0, 1]: (B, latent) -> (B, C, H, W) (tabular data: the mean row, standardised)."""
        out = self.decoder_logits(z, self.check_labels(y, len(z)))
        return out if self.tabular else torch.sigmoid(out)

    @torch.no_grad()
    def latent(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The posterior mean: (B, latent)."""
        return self.encode(x, self.check_labels(y, len(x)))[0]

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        y = self.check_labels(y, len(x))
        return self.decode(self.encode(x, y)[0], y)

    @torch.no_grad()
    def sample(self, n: int, y: torch.Tensor | int | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        y = self.check_labels(y, n)
        z = torch.randn(n, self.cfg.latent_dim, generator=generator, device=self.device)  # prior N(0, I)
        return self.decode(z, y)


class VAE(VariationalModel, Sampler, Encoder):
    name = "vae"
    Config = VAEConfig
    train_defaults = {"epochs": 50}  # about 6 minutes on one core for MNIST (bench/time_to_quality.py: 44 epochs in 5)

    def build_nets(self, cfg: VAEConfig, shape: tuple[int, int, int]) -> None:
        net = dict(hidden=cfg.hidden, layers=cfg.layers, channels=cfg.channels, act=cfg.activation)
        self.encoder = encoder_net(cfg.arch, shape, 2 * cfg.latent_dim, **net)  # -> (B, 2 * latent): mu, logvar
        self.decoder = decoder_net(cfg.arch, shape, cfg.latent_dim, **net)  # -> (B, C, H, W) logits
