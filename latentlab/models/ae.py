"""Autoencoder: x -> encode -> z -> decode -> x_hat, trained on reconstruction alone.

loss: -log p(x|x_hat) summed over pixels (BCE for `bernoulli`, squared error for `mse`).
A plain autoencoder has no prior, so sampling decodes draws from a Gaussian
fitted to the training latents (``fit_end``), or from N(0, I) with ``prior="standard"``
to show the lecture notes' point that an AE's latent space is not a generative model.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from latentlab.config import check_choices, setting
from latentlab.errors import ConfigError
from latentlab.models import register
from latentlab.models.base import GenerativeModel
from latentlab.models.likelihoods import bernoulli_nll, squared_error
from latentlab.models.nets import ACTIVATIONS, decoder_net, encoder_net

AE_LOSSES = ("bce", "mse")


@dataclass
class AEConfig:
    arch: str = setting("mlp", "encoder/decoder family", ("mlp", "conv"))
    latent_dim: int = setting(16, "size of the code z")
    hidden: int = setting(512, "units per hidden layer (MLP) / of the dense layer (conv)")
    layers: int = setting(1, "hidden layers of the MLP encoder and decoder")
    channels: int = setting(32, "channels of the first conv layer (the second has twice as many)")
    activation: str = setting("relu", "activation of the MLP hidden layers", tuple(ACTIVATIONS))
    recon: str = setting("bce", "reconstruction loss: bce (sum over pixels) or mse (sum of squared errors)", AE_LOSSES)

    def validate(self) -> None:
        check_choices(self)
        if self.latent_dim < 1 or self.hidden < 1 or self.layers < 1 or self.channels < 1:
            raise ConfigError("latent_dim, hidden, layers and channels must all be at least 1")


@register
class AE(GenerativeModel):
    name = "ae"
    Config = AEConfig
    can_sample = True
    can_encode = True

    def __init__(self, cfg: AEConfig, shape: tuple[int, int, int], num_classes: int | None = None):
        super().__init__(cfg, shape, num_classes)
        net = dict(hidden=cfg.hidden, layers=cfg.layers, channels=cfg.channels, act=cfg.activation)
        self.encoder = encoder_net(cfg.arch, shape, cfg.latent_dim, **net)  # -> (B, latent)
        self.decoder = decoder_net(cfg.arch, shape, cfg.latent_dim, **net)  # -> (B, C, H, W) logits
        # Gaussian fitted to the training codes (fit_end): mean and Cholesky factor of the covariance.
        self.register_buffer("latent_mean", torch.zeros(cfg.latent_dim))
        self.register_buffer("latent_chol", torch.eye(cfg.latent_dim))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z))

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, group: str = "model") -> dict[str, torch.Tensor]:
        logits = self.decoder(self.encoder(x))
        bce, sq = bernoulli_nll(logits, x).mean(), squared_error(logits, x).mean()
        return {"loss": bce if self.cfg.recon == "bce" else sq, "bce": bce, "sse": sq}

    def latent(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    @torch.no_grad()
    def fit_end(self, x_train: torch.Tensor) -> None:
        codes = torch.cat([self.encode(b.to(self.device)) for b in x_train.split(1024)]).double()  # (N, latent)
        cov = torch.cov(codes.T).reshape(codes.shape[1], codes.shape[1])
        cov += 1e-6 * torch.eye(len(cov), dtype=cov.dtype, device=cov.device)
        self.latent_mean.copy_(codes.mean(0))
        self.latent_chol.copy_(torch.linalg.cholesky(cov))

    def sample(self, n: int, y: torch.Tensor | int | None = None, prior: str = "fitted") -> torch.Tensor:
        """Decode latent draws: ``fitted`` Gaussian of the training codes, or the ``standard`` N(0, I)."""
        self.check_labels(y, n)
        eps = torch.randn(n, self.cfg.latent_dim, device=self.device)
        if prior == "standard":
            return self.decode(eps)
        if prior != "fitted":
            raise ValueError(f"prior must be 'fitted' or 'standard', got {prior!r}")
        return self.decode(self.latent_mean + eps @ self.latent_chol.T)
