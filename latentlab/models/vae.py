"""Variational autoencoder (Kingma and Welling 2014), with a KL weight beta (Higgins et al. 2017).

encode:          q(z|x) = N(mu(x), diag(exp(logvar(x))))
reparameterize:  z = mu + exp(logvar / 2) * eps,  eps ~ N(0, I)
decode:          p(x|z) Bernoulli (BCE) or Gaussian (MSE) with means sigmoid(decoder(z))
loss:            -ELBO_beta = E_q[-log p(x|z)] + beta * KL(q(z|x) || N(0, I)),
                 KL = -1/2 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j))   (Kingma and Welling, appendix B)
Terms are summed over pixels / latents and averaged over the batch: nats per image.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from latentlab.config import check_choices, setting
from latentlab.errors import ConfigError
from latentlab.models import register
from latentlab.models.base import GenerativeModel
from latentlab.models.likelihoods import LIKELIHOODS, reconstruction_nll
from latentlab.models.nets import ACTIVATIONS, decoder_net, encoder_net

ARCHS = ("mlp", "conv")


@dataclass
class VAEConfig:
    arch: str = setting("mlp", "encoder/decoder family", ARCHS)
    latent_dim: int = setting(16, "size of the latent vector z")
    hidden: int = setting(512, "units per hidden layer (MLP) / of the dense layer (conv)")
    layers: int = setting(1, "hidden layers of the MLP encoder and decoder")
    channels: int = setting(32, "channels of the first conv layer (the second has twice as many)")
    activation: str = setting("relu", "activation of the MLP hidden layers", tuple(ACTIVATIONS))
    likelihood: str = setting("bernoulli", "p(x|z): bernoulli (BCE) or gaussian (MSE)", LIKELIHOODS)
    sigma: float = setting(0.1, "standard deviation of the gaussian likelihood")
    beta: float = setting(1.0, "weight of the KL term (beta-VAE; the lecture notes' C)")

    def validate(self) -> None:
        check_choices(self)
        if self.latent_dim < 1 or self.hidden < 1 or self.layers < 1 or self.channels < 1:
            raise ConfigError("latent_dim, hidden, layers and channels must all be at least 1")
        if self.beta < 0:
            raise ConfigError(f"beta must be >= 0, got {self.beta}")
        if not self.sigma > 0:
            raise ConfigError(f"sigma must be positive, got {self.sigma}")


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per row, summed over latent dimensions: (B,)."""
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)


@register
class VAE(GenerativeModel):
    name = "vae"
    Config = VAEConfig
    can_sample = True
    can_encode = True

    def __init__(self, cfg: VAEConfig, shape: tuple[int, int, int], num_classes: int | None = None):
        super().__init__(cfg, shape, num_classes)
        net = dict(hidden=cfg.hidden, layers=cfg.layers, channels=cfg.channels, act=cfg.activation)
        self.encoder = encoder_net(cfg.arch, shape, 2 * cfg.latent_dim, **net)  # -> (B, 2 * latent): mu, logvar
        self.decoder = decoder_net(cfg.arch, shape, cfg.latent_dim, **net)  # -> (B, C, H, W) logits

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=1)  # (B, latent) each
        return mu, logvar

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Mean image of p(x|z) in [0, 1]: (B, C, H, W)."""
        return torch.sigmoid(self.decoder(z))

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, group: str = "model") -> dict[str, torch.Tensor]:
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar)
        rec = reconstruction_nll(self.decoder(z), x, self.cfg.likelihood, self.cfg.sigma).mean()
        kl = kl_to_standard_normal(mu, logvar).mean()
        return {"loss": rec + self.cfg.beta * kl, "rec": rec, "kl": kl, "neg_elbo": rec + kl}

    def latent(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x)[0]

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x)[0])

    def sample(self, n: int, y: torch.Tensor | int | None = None) -> torch.Tensor:
        self.check_labels(y, n)
        z = torch.randn(n, self.cfg.latent_dim, device=self.device)  # prior N(0, I)
        return self.decode(z)
